"""Tracing links and the attach-target checks (kernelsim/tracing/links.py, attach_target.py;
kernel/bpf/syscall.c bpf_tracing_prog_attach, link_create, bpf_raw_tp_link_attach; verifier.c
bpf_check_attach_target, check_attach_btf_id)."""

import pytest

from btf import btf_from_c
from kernelsim import Kernel
from kernelsim.bpf_btf import vmlinux_btf_object
from kernelsim.bpf_link import LinkFile, link_op
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.tracing.links import link_create_tracing, raw_tp_open_tracing
from kernelsim.uapi import BpfAttachType as AT, BpfLinkType, BpfProgType as PT

from tracing_progs import FENTRY, FEXIT, FMOD_RET, attach, counter, load

EINVAL, ENOENT, EBUSY = 22, 2, 16
R0 = "r0 = 0\nexit\n"


def test_link_create_returns_an_fd_and_close_detaches(env):
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    p.get()                                                  # bpf_prog_get(prog_fd)
    fd = link_create_tracing(k, p, AT.BPF_TRACE_FENTRY, 0, 0, 0x77, t.files)
    file = t.files.fds[fd]
    assert isinstance(file, LinkFile)
    link = file.obj
    assert link.type == BpfLinkType.BPF_LINK_TYPE_TRACING and link.id >= 1
    assert k.idr["link"].find(link.id) is link
    assert p.refcnt == 2                                     # the loader's and the link's
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 1
    t.files.close(fd)                                        # the last reference
    assert k.idr["link"].find(link.id) is None and p.refcnt == 1
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 1 and k.functions["bpf_fentry_test1"].direct is None


def test_target_obj_id_is_1_after_a_user_btf(env):
    from btf import BtfBuilder
    from syscall import libbpf as L
    k, t, m = env
    b = BtfBuilder()
    b.add_int("int", 4, 1)
    bfd, _ = L.btf_load(t, b.to_bytes())                     # a user BTF before vmlinux is used
    assert L.obj_get_info_by_fd(t, bfd, "btf")["id"] == 2
    link = attach(k, load(k, t, R0, "vfs_read", FEXIT))
    assert link_op(link, "fill_link_info")(None)["tracing.target_obj_id"] == 1


def test_link_info_and_fdinfo(env):
    k, t, m = env
    p = load(k, t, R0, "vfs_read", FEXIT)
    link = attach(k, p, cookie=0xC00C1E)
    fn = k.functions["vfs_read"]
    info = link_op(link, "fill_link_info")(None)
    assert info == {"tracing.attach_type": int(AT.BPF_TRACE_FEXIT),
                    "tracing.target_obj_id": vmlinux_btf_object(k).id,
                    "tracing.target_btf_id": fn.btf_id, "tracing.cookie": 0xC00C1E}
    assert vmlinux_btf_object(k).id == 1                     # vmlinux BTF is object 1
    assert link.show_fdinfo() == f"attach_type:\t25\ntarget_obj_id:\t1\ntarget_btf_id:\t{fn.btf_id}\n"
    assert link.trampoline.key == (1 << 32) | 0x80000000 | fn.btf_id
    # no detach op (LINK_DETACH -> EOPNOTSUPP), no update_prog (LINK_UPDATE -> EINVAL)
    assert link_op(link, "detach") is None and link_op(link, "update_prog") is None
    link.put()


@pytest.mark.parametrize("attach_type,target_fd,target_btf_id", [
    (AT.BPF_TRACE_FEXIT, 0, 0),          # attach_type != expected_attach_type
    (AT.BPF_TRACE_FENTRY, 0, 5),         # target_btf_id without target_fd
    (AT.BPF_TRACE_FENTRY, 3, 0),         # target_fd without target_btf_id
    (AT.BPF_TRACE_FENTRY, 3, 5),         # a new target: only for EXT programs
])
def test_link_create_einval(env, attach_type, target_fd, target_btf_id):
    k, t, m = env
    p = load(k, t, R0, "bpf_fentry_test1", FENTRY)
    p.get()
    with pytest.raises(BpfError) as e:
        link_create_tracing(k, p, attach_type, target_fd, target_btf_id, 0, t.files)
    assert e.value.errno == EINVAL
    assert p.refcnt == 2 and len(k.idr["link"]) == 0         # the caller still owns its reference
    p.put()


def test_reattach_after_the_first_link_died_and_ids(env):
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    l1 = attach(k, p)
    with pytest.raises(BpfError) as e:
        attach(k, p)                                         # alive: EBUSY from the trampoline
    assert e.value.errno == EBUSY
    l1.put()
    l2 = attach(k, p)
    assert l2.id == l1.id + 2                                # the failed attach used (and freed) an ID
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 1
    l2.put()


def test_raw_tracepoint_open_routing(env):
    k, t, m = env
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    with pytest.raises(BpfError) as e:
        raw_tp_open_tracing(k, p, 0x1000, 0, t.files)        # name must be 0
    assert e.value.errno == EINVAL
    p.get()
    fd = raw_tp_open_tracing(k, p, 0, 0, t.files)
    assert t.files.fds[fd].obj.type == BpfLinkType.BPF_LINK_TYPE_TRACING
    k.call("bpf_fentry_test1", 1)
    assert m[0] == 1
    tp = BpfProg(k, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP)
    assert raw_tp_open_tracing(k, tp, 0, 0, t.files) is None        # tp_btf: the tracepoint code's
    kp = BpfProg(k, PT.BPF_PROG_TYPE_KPROBE)
    assert raw_tp_open_tracing(k, kp, 0, 0, t.files) is None
    t.files.close(fd)


def test_non_trampoline_programs_are_einval(env):
    k, t, m = env
    from kernelsim.tracing.links import tracing_link_attach
    for prog in (BpfProg(k, PT.BPF_PROG_TYPE_EXT, 0), BpfProg(k, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER)):
        with pytest.raises(BpfError) as e:
            tracing_link_attach(k, prog)
        assert e.value.errno == EINVAL


@pytest.mark.parametrize("func,eat,sleepable,errno_,msg", [
    ("eth_type_trans", FMOD_RET, False, EINVAL, "eth_type_trans() is not modifiable"),
    ("do_exit", FEXIT, False, EINVAL, "Attaching fexit/fmod_ret to __noreturn function 'do_exit' is rejected."),
    ("migrate_disable", FENTRY, False, EINVAL,
     "Attaching tracing programs to function 'migrate_disable' is rejected."),
    ("vfs_read", FENTRY, True, EINVAL, "vfs_read is not sleepable"),
    ("bpf_modify_return_test", FENTRY, True, EINVAL, "bpf_modify_return_test is not sleepable"),
])
def test_attach_target_refusals(env, func, eat, sleepable, errno_, msg):
    k, t, m = env
    with pytest.raises(BpfError) as e:
        load(k, t, R0, func, eat, sleepable=sleepable)
    assert e.value.errno == errno_ and e.value.message == msg


@pytest.mark.parametrize("func,eat,sleepable", [
    ("bpf_modify_return_test", FMOD_RET, False), ("security_file_open", FMOD_RET, False),
    ("__x64_sys_openat", FMOD_RET, False), ("bpf_fentry_test1", FENTRY, True),
    ("__x64_sys_openat", FEXIT, True), ("do_exit", FENTRY, False),
])
def test_attach_target_accepted(env, func, eat, sleepable):
    k, t, m = env
    p = load(k, t, R0, func, eat, sleepable=sleepable)
    assert p.aux.attach_func_name == func and p.aux.fmodel == k.functions[func].model
    attach(k, p).put()


def test_attach_btf_id_checks(env):
    from kernelsim.tracing.attach_target import bpf_check_attach_target
    k, t, m = env
    p = BpfProg(k, PT.BPF_PROG_TYPE_TRACING, FENTRY)
    p.aux.attach_btf = k.btf
    cases = [(0, "Tracing programs must provide btf_id"),
             (k.btf.find_by_name_kind("sk_buff", 4), "is not a function"),
             (10 ** 6, "is invalid")]
    for btf_id, text in cases:
        with pytest.raises(BpfError) as e:
            bpf_check_attach_target(k, p, None, btf_id)
        assert e.value.errno == EINVAL and text in e.value.message


def test_distill_refusal_at_load():
    b = btf_from_c("int wide(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j,"
                   " int k, int l, int m);")
    k = Kernel(btf=b)
    t = k.spawn()
    with pytest.raises(BpfError) as e:
        load(k, t, R0, "wide", FENTRY)
    assert e.value.errno == EINVAL and e.value.message == "The function wide has 13 arguments. Too many."
    assert k.call("wide", *range(13)) == 0                   # still callable


# -- through bpf(2): PROG_LOAD, LINK_CREATE, RAW_TRACEPOINT_OPEN, LINK_DETACH/UPDATE, info, stats

def _syscall():
    from syscall import abi, libbpf as L
    return abi, L


def _load(L, k, t, text, func, eat, **kw):
    from kernelsim.isa.asm import assemble
    from kernelsim.isa.insn import encode_insns
    opts = L.ProgLoadOpts(expected_attach_type=eat, attach_btf_id=k.functions[func].btf_id, **kw)
    return L.bpf_prog_load(t, PT.BPF_PROG_TYPE_TRACING, encode_insns(assemble(text)), "GPL", "p",
                           opts)


def _test_run(L, t, fd):
    ret, out = L.bpf_prog_test_run(t, fd)
    return ret, out.retval


def test_syscall_attach_info_and_close():
    abi, L = _syscall()
    k = Kernel()
    t = k.spawn(comm="loader")
    pfd, _, _ = _load(L, k, t, R0, "bpf_fentry_test1", AT.BPF_TRACE_FENTRY)
    assert pfd >= 3
    lfd = L.bpf_link_create(t, pfd, 0, AT.BPF_TRACE_FENTRY, L.LinkCreateOpts(cookie=5))
    assert lfd > pfd and k.functions["bpf_fentry_test1"].direct is not None
    ret, info = L.bpf_obj_get_info_by_fd(t, lfd, "link")
    fid = k.functions["bpf_fentry_test1"].btf_id
    assert ret == 0 and info.type == BpfLinkType.BPF_LINK_TYPE_TRACING
    assert (info.tracing.attach_type, info.tracing.target_obj_id, info.tracing.target_btf_id,
            info.tracing.cookie) == (AT.BPF_TRACE_FENTRY, 1, fid, 5)
    assert L.bpf_link_detach(t, lfd) == -95                          # EOPNOTSUPP
    attr = abi.new_attr()
    attr.link_update.link_fd = lfd
    attr.link_update.new_prog_fd = pfd
    assert t.bpf(29, attr) == -EINVAL                      # BPF_LINK_UPDATE
    assert L.bpf_link_create(t, pfd, 0, AT.BPF_TRACE_FEXIT) == -EINVAL    # attach_type mismatch
    assert L.bpf_link_create(t, pfd, 0, AT.BPF_TRACE_FENTRY) == -EBUSY
    assert L.bpf_raw_tracepoint_open(t, "sched_switch", pfd) == -EINVAL   # name must be 0
    assert L.bpf_raw_tracepoint_open(t, None, pfd) == -EBUSY
    assert t.close(lfd) == 0 and k.functions["bpf_fentry_test1"].direct is None
    lfd2 = L.bpf_raw_tracepoint_open(t, None, pfd)                   # re-attach, the other way
    assert lfd2 >= 3 and k.functions["bpf_fentry_test1"].direct is not None
    t.exit()                                                      # the process ends: detached
    assert k.functions["bpf_fentry_test1"].direct is None


def test_syscall_load_refusal_log_and_test_run():
    abi, L = _syscall()
    k = Kernel()
    t = k.spawn()
    bad, log, _ = _load(L, k, t, "r0 = 5\nexit\n", "eth_type_trans", AT.BPF_MODIFY_RETURN,
                        log_level=1, log_size=4096)
    assert bad == -EINVAL and log == "eth_type_trans() is not modifiable\n"
    mfd, _, _ = _load(L, k, t, "r0 = 5\nexit\n", "bpf_modify_return_test", AT.BPF_MODIFY_RETURN)
    assert _test_run(L, t, mfd) == (0, 0x20021)
    lfd = L.bpf_link_create(t, mfd, 0, AT.BPF_MODIFY_RETURN)
    assert lfd >= 3
    assert _test_run(L, t, mfd) == (0, 0x10022)
    assert L.bpf_prog_test_run(t, mfd, L.TestRunOpts(flags=1))[0] == -EINVAL


def test_syscall_stats_fd_and_prog_info():
    abi, L = _syscall()
    k = Kernel()
    t = k.spawn()
    pfd, _, _ = _load(L, k, t, "r1 = 1\nr0 = 0\nexit\n", "bpf_fentry_test1", AT.BPF_TRACE_FEXIT)
    lfd = L.bpf_link_create(t, pfd, 0, AT.BPF_TRACE_FEXIT)
    k.call("bpf_fentry_test1", 1)
    attr = abi.new_attr()
    attr.enable_stats.type = 0
    sfd = t.bpf(32, attr)                                 # BPF_ENABLE_STATS
    assert sfd >= 3
    k.call("bpf_fentry_test1", 1)
    k.call("bpf_fentry_test1", 1)
    t.close(sfd)
    k.call("bpf_fentry_test1", 1)
    ret, info = L.bpf_obj_get_info_by_fd(t, pfd, "prog")
    assert ret == 0 and (info.run_cnt, info.run_time_ns, info.recursion_misses) == (2, 6, 0)
    t.close(lfd)
