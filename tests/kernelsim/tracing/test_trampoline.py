"""The trampoline manager (kernelsim/tracing/trampoline.py, kernel/bpf/trampoline.c) with real BPF
programs: order, fmod_ret, regeneration, limits, EBUSY, detach, recursion, stats, cookies, the
ctx helpers, the architectures."""

import random

import pytest

from btf import btf_from_c
from kernelsim import Kernel
from kernelsim.bpf_run import bpf_stats_key_dec, bpf_stats_key_inc
from kernelsim.errors import BpfError
from kernelsim.tracing.trampoline import (bpf_trampoline_compute_key, bpf_trampoline_get,
                                          bpf_trampoline_lookup, bpf_trampoline_put, trampoline_table)
from trampoline import BPF_TRAMP_F_CALL_ORIG, BPF_TRAMP_F_IP_ARG, BPF_TRAMP_F_RESTORE_REGS, \
    BPF_TRAMP_F_SKIP_FRAME

from tracing_progs import (FENTRY, FEXIT, FMOD_RET, ArrayMap, attach, counter, ctx_dump, load,
                           seq_prog, store_slot)

E2BIG, EBUSY, ENOTSUPP = 7, 16, 524


def test_order_newest_first_per_kind(env):
    k, t, m = env
    fn = k.functions["bpf_modify_return_test"]
    order = []
    fn.set_body(lambda kk, a, b: order.append(("orig", m[0])) or 0)
    links = []
    for i, eat in enumerate([FENTRY, FEXIT, FMOD_RET, FENTRY, FEXIT, FMOD_RET, FENTRY]):
        links.append(attach(k, load(k, t, seq_prog(m.fd, 1 + i), "bpf_modify_return_test", eat)))
    b = k.kobjects.alloc_bytes((2).to_bytes(4, "little"))
    assert k.call("bpf_modify_return_test", 1, b) == 0
    tickets = {i: m[1 + i] for i in range(7)}        # 1-based run position of each link
    # fentry newest first (6, 3, 0), fmod_ret newest first (5, 2), the original, fexit (4, 1)
    run = sorted(tickets, key=tickets.get)
    assert run == [6, 3, 0, 5, 2, 4, 1]
    assert order == [("orig", 5)]                     # the original ran after the five tickets
    for l in links:
        l.put()


def test_fmod_ret_override_skips_original_and_rest(env):
    k, t, m = env
    f1 = attach(k, load(k, t, counter(m.fd, 1, ret=0), "bpf_modify_return_test", FMOD_RET))
    f2 = attach(k, load(k, t, counter(m.fd, 2, ret=0), "bpf_modify_return_test", FMOD_RET))
    b = k.kobjects.alloc_bytes((2).to_bytes(4, "little"))
    assert k.call("bpf_modify_return_test", 1, b) == 4    # both return 0: the original runs
    assert k.mem.load(b, 4) == 3 and (m[1], m[2]) == (1, 1)
    # a newer fmod_ret returning -22 runs first and skips the others and the original
    f3 = attach(k, load(k, t, counter(m.fd, 3, ret=-22), "bpf_modify_return_test", FMOD_RET))
    x = attach(k, load(k, t, ctx_dump(m.fd, 3, base=10), "bpf_modify_return_test", FEXIT))
    k.mem.store(b, 4, 2)
    assert k.call("bpf_modify_return_test", 1, b) == -22
    assert k.mem.load(b, 4) == 2                            # original skipped
    assert (m[1], m[2], m[3]) == (1, 1, 1)                  # f1, f2 skipped
    assert m[10] == 1 and m[11] == b                         # fexit saw the arguments...
    assert m[12] & 0xFFFFFFFF == (-22) & 0xFFFFFFFF         # ...and the override as the return value
    for l in (f1, f2, f3, x):
        l.put()


def test_regeneration_on_every_attach_and_detach(env):
    k, t, m = env
    fn = k.functions["eth_type_trans"]
    progs = [load(k, t, counter(m.fd, i), "eth_type_trans", FENTRY if i % 2 else FEXIT) for i in range(4)]
    links = []
    tr = None
    for i, p in enumerate(progs):
        links.append(attach(k, p))
        tr = fn.trampoline
        assert tr.nr_images == i + 1
        assert fn.direct is not None and fn.direct_addr == tr.cur_image.image_addr
    addrs = set()
    for j, l in enumerate(links[:3]):
        addrs.add(tr.cur_image.image_addr)
        l.put()
        assert tr.nr_images == 5 + j                       # a fresh image per detach (6.18)
    assert len(addrs) == 3
    links[3].put()                                          # the last: unregister, no new image
    assert tr.nr_images == 7 and tr.cur_image is None
    assert fn.direct is None and fn.entry_text().endswith(bytes.fromhex("0f1f440000"))
    assert fn.trampoline is None                            # no reference left: freed


def test_flags(env):
    k, t, m = env
    fn = k.functions["bpf_fentry_test2"]
    e = attach(k, load(k, t, counter(m.fd, 0), "bpf_fentry_test2", FENTRY))
    assert fn.trampoline.flags == BPF_TRAMP_F_RESTORE_REGS
    x = attach(k, load(k, t, counter(m.fd, 1), "bpf_fentry_test2", FEXIT))
    assert fn.trampoline.flags == BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME
    ip = attach(k, load(k, t, "call bpf_get_func_ip\nr0 = 0\nexit\n", "bpf_fentry_test2", FENTRY))
    assert fn.trampoline.flags & BPF_TRAMP_F_IP_ARG
    ip.put()
    assert not fn.trampoline.flags & BPF_TRAMP_F_IP_ARG
    e.put()
    x.put()


def test_38_links_then_e2big(env):
    k, t, m = env
    fn = k.functions["bpf_modify_return_test"]
    links = []
    for i in range(38):
        eat = (FENTRY, FEXIT, FMOD_RET)[i % 3]
        links.append(attach(k, load(k, t, counter(m.fd, i), "bpf_modify_return_test", eat)))
    tr = fn.trampoline
    assert sum(tr.progs_cnt) == 38 and tr.nr_images == 38
    extra = load(k, t, counter(m.fd, 40), "bpf_modify_return_test", FENTRY)
    with pytest.raises(BpfError) as e:
        attach(k, extra)
    assert e.value.errno == E2BIG
    assert tr.nr_images == 38 and sum(tr.progs_cnt) == 38  # nothing changed
    b = k.kobjects.alloc_bytes((2).to_bytes(4, "little"))
    assert k.call("bpf_modify_return_test", 1, b) == 4
    assert m.values(38) == [1] * 38
    links.pop().put()
    links.append(attach(k, extra))                           # room again
    for l in links:
        l.put()


def test_same_program_twice_is_ebusy(env):
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    l1 = attach(k, p)
    with pytest.raises(BpfError) as e:
        attach(k, p)
    assert e.value.errno == EBUSY
    assert k.call("bpf_fentry_test1", 1) == 2 and m[0] == 1  # still attached once
    l1.put()
    l2 = attach(k, p)                                         # re-attach after the link died
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 2
    l2.put()


def test_detach_in_random_order(env):
    k, t, m = env
    rnd = random.Random(7)
    links = {}
    for i in range(12):
        eat = FENTRY if i % 2 else FEXIT
        links[i] = attach(k, load(k, t, counter(m.fd, i), "tcp_sendmsg", eat))
    sk = k.kobjects.tcp_sock("10.0.0.1", 1234, "10.0.0.2", 80)
    live = set(links)
    expect = [0] * 12
    order = list(links)
    rnd.shuffle(order)
    for victim in order:
        assert k.call("tcp_sendmsg", sk, 0, 100) == 100
        for i in live:
            expect[i] += 1
        assert m.values(12) == expect
        links[victim].put()
        live.discard(victim)
    assert k.call("tcp_sendmsg", sk, 0, 100) == 100
    assert m.values(12) == expect and k.functions["tcp_sendmsg"].direct is None


def test_recursion_misses(env):
    """A program that re-enters its own attach point (through a helper's kernel call, modelled by
    wrapping the program's entry) is skipped on the nested run and counted."""
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    inner = p.bpf_func

    def bpf_func(ctx, run):
        r0 = inner(ctx, run)
        k.call("bpf_fentry_test1", 5)       # e.g. a helper calling the traced function
        return r0
    p.bpf_func = bpf_func
    link = attach(k, p)
    assert k.call("bpf_fentry_test1", 1) == 2
    assert m[0] == 1 and p.stats.misses == 1
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 2 and p.stats.misses == 2
    link.put()


def test_nested_programs_in_nested_calls(env):
    """vfs_open -> security_file_open: fentry programs on both run, each in its own ctx frame."""
    k, t, m = env
    a = attach(k, load(k, t, ctx_dump(m.fd, 2, base=0), "vfs_open", FENTRY))
    b = attach(k, load(k, t, ctx_dump(m.fd, 1, base=5), "security_file_open", FEXIT))
    how = k.kobjects.new("struct open_how")
    k.kobjects.lookup("/tmp/f", create=True)
    fd = k.call("do_sys_openat2", -100, "/tmp/f", how)
    assert fd >= 3
    kfile = t.files.fds[fd].obj
    assert m[1] == kfile.addr and m[0] == kfile.addr_of("f_path") and m[5] == kfile.addr
    a.put()
    b.put()


def test_stats_only_while_enabled(env):
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    link = attach(k, p)
    k.call("bpf_fentry_test1", 1)
    assert (p.stats.cnt, p.stats.nsecs) == (0, 0)
    k.sysctl["kernel.bpf_stats_enabled"] = 1
    k.call("bpf_fentry_test1", 1)
    k.call("bpf_fentry_test1", 1)
    assert p.stats.cnt == 2
    assert p.stats.nsecs == 2 * 10 * k.clock.insn_cost_ns       # 10 instructions per run
    k.sysctl["kernel.bpf_stats_enabled"] = 0
    k.call("bpf_fentry_test1", 1)
    assert p.stats.cnt == 2
    bpf_stats_key_inc(k)                                          # BPF_ENABLE_STATS fd
    k.call("bpf_fentry_test1", 1)
    bpf_stats_key_dec(k)
    k.call("bpf_fentry_test1", 1)
    assert p.stats.cnt == 3 and m[0] == 6
    link.put()


def test_cookies(env):
    k, t, m = env
    text = lambda slot: "call bpf_get_attach_cookie\nr7 = r0\n" + store_slot(m.fd, slot, "r7") + "r0 = 0\nexit\n"
    l1 = attach(k, load(k, t, text(1), "bpf_fentry_test1", FENTRY), cookie=0x1111)
    l2 = attach(k, load(k, t, text(2), "bpf_fentry_test1", FEXIT), cookie=0xDEADBEEFCAFE)
    k.call("bpf_fentry_test1", 1)
    assert (m[1], m[2]) == (0x1111, 0xDEADBEEFCAFE)
    l1.put()
    l2.put()


def test_func_ip_arg_ret_helpers(env):
    k, t, m = env
    text = """
    r6 = r1
    call bpf_get_func_arg_cnt
    r7 = r0
    """ + store_slot(m.fd, 1, "r7") + """
    r1 = r6
    r2 = 1
    r3 = r10
    r3 += -16
    call bpf_get_func_arg
    r7 = *(u64 *)(r10 -16)
    """ + store_slot(m.fd, 2, "r7") + """
    r1 = r6
    r2 = 2
    r3 = r10
    r3 += -16
    call bpf_get_func_arg
    r7 = r0
    """ + store_slot(m.fd, 3, "r7") + """
    r1 = r6
    r2 = r10
    r2 += -16
    call bpf_get_func_ret
    r7 = *(u64 *)(r10 -16)
    """ + store_slot(m.fd, 4, "r7") + """
    r1 = r6
    call bpf_get_func_ip
    r7 = r0
    """ + store_slot(m.fd, 5, "r7") + "r0 = 0\nexit\n"
    p = load(k, t, text, "bpf_fentry_test2", FEXIT)
    assert p.aux.call_get_func_ip
    link = attach(k, p)
    assert k.call("bpf_fentry_test2", 2, 40) == 42
    fn = k.functions["bpf_fentry_test2"]
    assert m.values(6)[1:] == [2, 40, (-22) & ((1 << 64) - 1), 42, fn.addr]
    link.put()


def test_last_detach_and_trampoline_lifetime(env):
    k, t, m = env
    fn = k.functions["bpf_fentry_test1"]
    key = bpf_trampoline_compute_key(None, 1, fn.btf_id)
    tr = bpf_trampoline_get(k, key, fn)                      # e.g. held by a loaded program
    link = attach(k, load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY))
    assert fn.trampoline is tr and tr.refcnt == 2
    link.put()
    assert fn.direct is None and bpf_trampoline_lookup(k, key) is tr   # still referenced
    assert k.call("bpf_fentry_test1", 1) == 2 and m[0] == 0
    bpf_trampoline_put(tr)
    assert bpf_trampoline_lookup(k, key) is None


def test_ctx_frames_come_from_the_kernel_stack(env):
    k, t, m = env
    link = attach(k, load(k, t, ctx_dump(m.fd, 1), "bpf_fentry_test1", FENTRY))
    rt = trampoline_table(k).runtime
    k.call("bpf_fentry_test1", 0)                            # warm: the stacks exist now
    before = len(k.mem.regions())
    for i in range(20):
        k.call("bpf_fentry_test1", i)
    assert len(k.mem.regions()) == before                   # no allocation per call
    assert rt.live == [] and rt.stacks[0].kind == "stack"
    link.put()


def test_enotsupp_from_the_architecture_leaves_nothing_behind():
    b = btf_from_c("""
        struct s16 { long a; long b; };
        int on_stack(long a, long b, long c, long d, long e, struct s16 x);
    """)
    k = Kernel(btf=b)
    t = k.spawn()
    p = load(k, t, "r0 = 0\nexit\n", "on_stack", FENTRY)
    with pytest.raises(BpfError) as e:
        attach(k, p)
    assert e.value.errno == ENOTSUPP
    fn = k.functions["on_stack"]
    assert fn.direct is None and fn.trampoline is None


ARCHES = ("x86_64", "arm64", "i386", "riscv64", "s390x")


def _ctx_values(arch):
    k = Kernel(arch=arch)
    t = k.spawn()
    m = ArrayMap(k, t)
    links = [attach(k, load(k, t, ctx_dump(m.fd, 6), "bpf_fentry_test6", FENTRY)),
             attach(k, load(k, t, ctx_dump(m.fd, 7, base=8), "bpf_fentry_test6", FEXIT))]
    ret = k.call("bpf_fentry_test6", 16, 17, -18, -19, 20, (1 << 64) - 21)
    for link in links:
        link.put()
    return ret, m.values(6), m.values(15)[8:]


def test_same_ctx_values_on_every_architecture():
    base = _ctx_values("x86_64")
    assert base[0] == 16 + 17 - 18 - 19 + 20 - 21
    assert base[1] == [16, 17, 0xFFEE, 0xFFFFFFED, 20, (1 << 64) - 21]
    for arch in ARCHES[1:]:
        ret, fentry, fexit = _ctx_values(arch)
        assert ret == base[0], arch
        if arch in ("arm64", "i386"):
            assert fentry == base[1] and fexit == base[2], arch
        else:
            # riscv64 and s390x extend narrow ints in registers by type: the low bits agree
            sizes = (8, 8, 2, 4, 8, 8)
            for got, want, size in zip(fentry, base[1], sizes):
                assert got & ((1 << 8 * size) - 1) == want, arch
            assert fexit[:6] == fentry and fexit[6] & 0xFFFFFFFF == base[2][6] & 0xFFFFFFFF


def test_stack_of_a_program_in_a_nested_call(env):
    """bpf_get_stack from fentry/security_file_open: the traced function (after its patched call),
    then vfs_open, do_filp_open, do_sys_openat2 (kstack.py frames pushed by kernel.call)."""
    k, t, m = env
    text = """
    r2 = r10
    r2 += -64
    r3 = 64
    r4 = 0
    call bpf_get_stack
    """
    for i in range(4):
        text += f"r7 = *(u64 *)(r10 -{64 - 8 * i})\n" + store_slot(m.fd, i, "r7")
    p = load(k, t, text + "r0 = 0\nexit\n", "security_file_open", FENTRY)
    assert p.aux.call_get_stack
    link = attach(k, p)
    k.kobjects.lookup("/tmp/s", create=True)
    assert k.call("do_sys_openat2", -100, "/tmp/s", k.kobjects.new("struct open_how")) >= 3
    fc = k.functions
    names = [fc.lookup_addr(a) for a in m.values(4)]
    assert names[0] == ("security_file_open", 9)
    assert [n for n, _ in names[1:]] == ["vfs_open", "do_filp_open", "do_sys_openat2"]
    link.put()


def test_a_program_stopped_at_run_time_leaves_no_state(env):
    from kernelsim.errors import BpfRuntimeError
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    good = p.bpf_func

    def broken(ctx, run):
        raise BpfRuntimeError("stopped")
    p.bpf_func = broken
    link = attach(k, p)
    with pytest.raises(BpfRuntimeError):
        k.call("bpf_fentry_test1", 1)
    assert p.active == [0] * k.ncpus and trampoline_table(k).runtime.live == []
    p.bpf_func = good
    assert k.call("bpf_fentry_test1", 1) == 2 and m[0] == 1 and p.stats.misses == 0
    link.put()
