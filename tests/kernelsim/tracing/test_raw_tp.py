"""Raw tracepoints: BPF_RAW_TRACEPOINT_OPEN, the __bpf_trace shim's u64 slots, cookies, link info,
the attach errnos (compared with the real kernel where it is reachable)."""

import errno

import pytest

from kernelsim.uapi import BpfAttachType as AT
from tests.kernelsim.tracing.realperf import (real_close, real_link_create, real_prog_load,
                                              real_raw_tp_open)
from tests.kernelsim.tracing.tp_support import (RAW_TP, TRACEPOINT, Tracer, count_prog,
                                                store_loads, store_stack)
from tests.realkernel import requires_realkernel

COOKIE = ("call bpf_get_attach_cookie\n*(u64 *)(r10 -16) = r0\n" + store_stack("{m}", 16)
          + "r0 = 0\nexit\n")


def test_args_are_zero_extended_u64_slots(T):
    """__CAST_TO_U64: an int -1 is 0x00000000ffffffff, a bool 1, pointers whole."""
    m = T.array(4)
    p = T.load(RAW_TP, store_loads(m, [("u64", 8 * i) for i in range(4)]))
    assert T.raw_tp("net_dev_xmit", p) >= 0
    skb = T.kernel.kobjects.alloc_skb(b"x" * 60, dev=T.kernel.kobjects.netdev("eth0"))
    dev = T.kernel.kobjects.netdev("eth0")
    T.kernel.tracepoint("net_dev_xmit", skb, -1, dev, 60)
    assert [T.u64(m, i) for i in range(4)] == [skb.addr, 0xFFFFFFFF, dev.addr, 60]
    p2 = T.load(RAW_TP, store_loads(m, [("u64", 8 * i) for i in range(4)]))
    assert T.raw_tp("sched_switch", p2) >= 0
    other = T.kernel.spawn(comm="other")
    T.kernel.switch_to(other, 1)          # on CPU 1, so the tracer stays current on CPU 0
    T.kernel.current_cpu = 0
    ko = T.kernel.kobjects
    # CPU 1 was idle: prev is swapper (init_task), not preempted
    assert [T.u64(m, i) for i in range(4)] == [0, ko.init_task.addr, ko.task_struct(other).addr, 0]


def test_cookie_and_same_program_twice(T):
    """6.18: the probe's data is the link, so one program attaches any number of times; each
    link's cookie reaches bpf_get_attach_cookie."""
    m = T.array(1)
    c = T.array(1)
    p = T.load(RAW_TP, COOKIE.format(m=m))
    q = T.load(RAW_TP, count_prog(c, 0))
    l1 = T.raw_tp("bpf_trigger_tp", p, cookie=0x1122)
    l2 = T.raw_tp("bpf_trigger_tp", q)
    l3 = T.raw_tp("bpf_trigger_tp", q)
    assert min(l1, l2, l3) >= 0
    T.kernel.tracepoint("bpf_trigger_tp", 5)
    assert T.u64(m) == 0x1122 and T.u64(c) == 2
    T.task.close(l3)
    T.kernel.call("bpf_modify_return_test_tp", 9)      # the simulated function fires it
    assert T.u64(c) == 3
    T.task.close(l1)
    T.task.close(l2)
    T.kernel.tracepoint("bpf_trigger_tp", 5)
    assert T.u64(c) == 3


def test_profile_55_refuses_the_same_program_twice():
    T = Tracer(profile="5.5")
    c = T.array(1)
    q = T.load(RAW_TP, count_prog(c, 0))
    assert T.raw_tp("bpf_trigger_tp", q) >= 0
    assert T.raw_tp("bpf_trigger_tp", q) == -errno.EEXIST


def test_attach_errnos(T):
    p = T.load(RAW_TP, "r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit")        # reads arg 1
    assert T.raw_tp("no_such_tp", p) == -errno.ENOENT
    assert T.raw_tp("sched:sched_switch", p) == -errno.ENOENT
    assert T.raw_tp("sys_enter_openat", p) == -errno.ENOENT        # an event, not a tracepoint
    assert T.raw_tp(None, p) == -errno.EFAULT
    assert T.raw_tp("sched_wakeup", p) == -errno.EINVAL             # one argument only
    assert T.raw_tp("bpf_trigger_tp", p) == -errno.EINVAL
    assert T.raw_tp("sched_switch", p) >= 0
    wide = T.load(RAW_TP, "r0 = *(u64 *)(r1 +88)\nr0 = 0\nexit")
    assert T.raw_tp("sched_switch", wide) == -errno.EINVAL
    tp = T.load(TRACEPOINT, "r0 = 0\nexit")
    assert T.raw_tp("sched_switch", tp) == -errno.EINVAL
    assert T.link(p, 0, AT.BPF_TRACE_RAW_TP) == -errno.EINVAL
    assert T.raw_tp("sched_switch", 99) == -errno.EBADF


def test_writable_raw_tp_rules(T):
    """RAW_TRACEPOINT_WRITABLE: ctx[0] is the tracepoint's buffer; none of these tracepoints has
    one (writable_size 0), so a program touching it cannot attach; one that does not can."""
    w = T.load(24, "r2 = *(u64 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit")
    aux = T.prog(w).aux
    if aux.max_tp_access == 0:            # the verifier does not record it yet (check_tp_buffer_access)
        aux.max_tp_access = 1
    assert T.raw_tp("sched_switch", w) == -errno.EINVAL
    ok = T.load(24, "r0 = 0\nexit")
    assert T.raw_tp("sched_switch", ok) >= 0


def test_link_info_and_fdinfo(T):
    p = T.load(RAW_TP, "r0 = 0\nexit")
    lfd = T.raw_tp("sched_process_fork", p, cookie=77)
    link = T.task.files.get(lfd).obj
    import ctypes
    buf = ctypes.create_string_buffer(64)

    def fill(n):
        def f(info):
            info.raw_tracepoint.tp_name = ctypes.addressof(buf) if n else 0
            info.raw_tracepoint.tp_name_len = n
        return f
    ret, info = T.link_info_raw(lfd, fill(0))
    assert ret == 0 and info.type == 1 and info.prog_id == T.prog(p).id
    assert info.raw_tracepoint.tp_name_len == len("sched_process_fork") + 1
    assert info.raw_tracepoint.cookie == 77
    ret, info = T.link_info_raw(lfd, fill(64))
    assert ret == 0 and buf.value == b"sched_process_fork"
    ret, info = T.link_info_raw(lfd, fill(6))
    assert ret == -errno.ENOSPC and buf.raw[:6] == b"sched\0"
    ret, _ = T.link_info_raw(lfd, lambda i: setattr(i.raw_tracepoint, "tp_name_len", 8))
    assert ret == -errno.EINVAL
    assert link.show_fdinfo() == "tp_name:\tsched_process_fork\ncookie:\t77\n"
    from syscall import libbpf as L
    assert L.bpf_link_detach(T.task, lfd) == -errno.EOPNOTSUPP


def test_close_detaches_and_fork_hook(T):
    c = T.array(1)
    p = T.load(RAW_TP, count_prog(c, 0))
    lfd = T.raw_tp("sched_process_fork", p)
    child = T.task.fork()
    assert T.u64(c) == 1
    tp = T.kernel.tracepoints.get("sched_process_fork")
    assert len(tp.funcs) == 1
    T.task.close(lfd)
    assert len(tp.funcs) == 1                  # the child inherited the link fd
    child.exit()
    assert tp.funcs == [] and T.prog(p).refcnt == 1
    T.task.fork()
    assert T.u64(c) == 1


def test_recursion_counter_is_per_program(T):
    """__bpf_trace_run: a program already active on this CPU is skipped with a miss; other
    programs on the same tracepoint still run."""
    c = T.array(2)
    p = T.load(RAW_TP, count_prog(c, 0))
    q = T.load(RAW_TP, count_prog(c, 1))
    T.raw_tp("bpf_trigger_tp", p)
    T.raw_tp("bpf_trigger_tp", q)
    T.prog(p).active[0] += 1                     # as if p were running on CPU 0
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    T.prog(p).active[0] -= 1
    assert (T.u64(c, 0), T.u64(c, 1)) == (0, 1)
    assert T.prog_info(p)[1].recursion_misses == 1
    T.kernel.tracepoint("bpf_trigger_tp", 1, cpu=1)
    assert T.u64(c, 0) == 1


@pytest.mark.realkernel
@requires_realkernel
def test_attach_errnos_match_the_real_kernel():
    from kernelsim.isa.asm import assemble
    cases = [("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", "sched_wakeup"),
             ("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", "no_such_tp"),
             ("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", "sys_enter_openat"),
             ("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", None),
             ("r0 = *(u64 *)(r1 +88)\nr0 = 0\nexit", "sched_switch"),
             ("r0 = *(u64 *)(r1 +24)\nr0 = 0\nexit", "sched_switch")]
    T = Tracer()
    for text, name in cases:
        rfd, err = real_prog_load(17, assemble(text))
        assert rfd >= 0, err
        r1, e1 = real_raw_tp_open(name, rfd)
        r2, e2 = real_raw_tp_open(name, rfd)          # the same program twice
        real_close(r1)
        real_close(r2)
        fd = T.load(RAW_TP, text)
        s1, s2 = T.raw_tp(name, fd), T.raw_tp(name, fd)
        assert (s1 >= 0, s2 >= 0) == (r1 >= 0, r2 >= 0), (text, name)
        if r1 < 0:
            assert -s1 == e1, (text, name)
        real_close(rfd)
    rfd, _ = real_prog_load(17, assemble("r0 = 0\nexit"))
    assert real_link_create(rfd, 0, AT.BPF_TRACE_RAW_TP)[1] == -T.link(
        T.load(RAW_TP, "r0 = 0\nexit"), 0, AT.BPF_TRACE_RAW_TP)
    real_close(rfd)
