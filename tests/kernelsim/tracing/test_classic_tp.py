"""Classic tracepoint programs: perf_event_open(PERF_TYPE_TRACEPOINT, id) + SET_BPF / perf links,
the record as ctx (trace_entry header hidden, fields at their format offsets, __data_loc words),
the syscalls: events, the attach rules (EEXIST, E2BIG at 64, EACCES, EINVAL) and samples."""

import errno
import struct

import pytest

from kernelsim.isa.asm import assemble
from kernelsim.tracing.tracepoints import BPF_TRACE_MAX_PROGS
from kernelsim.uapi import PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_SET_BPF
from syscall.perf_abi import new_perf_event_attr
from tests.kernelsim.tracing.realperf import (real_close, real_ioctl, real_perf_event_open,
                                              real_prog_load, tracefs)
from tests.kernelsim.tracing.tp_support import KPROBE, TRACEPOINT, Tracer, count_prog, store_loads
from tests.realkernel import requires_realkernel


def test_sched_switch_record(T):
    m = T.array(8)
    p = T.load(TRACEPOINT, store_loads(m, [("u32", 24), ("u32", 28), ("u64", 32), ("u64", 40),
                                            ("u32", 56), ("u32", 60)], ret=1))
    efd = T.tp_event("sched/sched_switch", cpu=1)
    assert T.set_bpf(efd, p) == 0 and T.enable(efd) == 0
    other = T.kernel.spawn(comm="worker")
    T.kernel.switch_to(other, 1)
    T.kernel.current_cpu = 0
    vals = [T.u64(m, i) for i in range(6)]
    assert vals[0] == 0 and vals[1] == T.kernel.kobjects.init_task.prio and vals[2] == 0  # swapper, "R"
    assert struct.pack("<Q", vals[3]) == b"worker\0\0"
    assert vals[4:] == [other.pid, 120]
    # back on CPU 1: worker is preempted -> prev_state TASK_REPORT_MAX (0x100, "R+")
    T.kernel.switch_to(None, 1)
    T.kernel.current_cpu = 0
    assert T.u64(m, 0) == other.pid and T.u64(m, 2) == 0x100 and T.u64(m, 4) == 0


def test_hidden_header_and_record_bounds(T):
    fd, log = T.load(TRACEPOINT, "r0 = *(u32 *)(r1 +4)\nr0 = 0\nexit", expect_fail=True)
    assert fd == -errno.EACCES and "invalid bpf_context access off=4 size=4" in log
    wide = T.load(TRACEPOINT, "r0 = *(u32 *)(r1 +36)\nr0 = 0\nexit")   # sched_wakeup ends at 36
    efd = T.tp_event("sched/sched_wakeup")
    assert T.set_bpf(efd, wide) == -errno.EACCES
    ok = T.load(TRACEPOINT, "r0 = *(u32 *)(r1 +32)\nr0 = 0\nexit")
    assert T.set_bpf(efd, ok) == 0


def test_data_loc_and_fork_hook(T):
    m = T.array(4)
    p = T.load(TRACEPOINT, store_loads(m, [("u32", 8), ("u32", 12), ("u32", 16), ("u32", 20)], ret=1))
    efd = T.tp_event("sched/sched_process_fork")
    assert T.attach_perf(p, efd) >= 0
    child = T.task.fork()
    loc_parent, ppid, loc_child, cpid = (T.u64(m, i) for i in range(4))
    assert (ppid, cpid) == (T.task.pid, child.pid)
    n = len("tracer") + 1
    assert loc_parent == (n << 16) | 24 and loc_child == (n << 16) | (24 + n)


def test_attach_rules(T):
    c = T.array(1)
    p = T.load(TRACEPOINT, count_prog(c, ret=1))
    q = T.load(TRACEPOINT, count_prog(c, ret=1))
    e1 = T.tp_event("sched/sched_wakeup")
    e2 = T.tp_event("sched/sched_wakeup")
    assert T.set_bpf(e1, p) == 0
    assert T.set_bpf(e1, q) == -errno.EEXIST                 # the event has a program
    assert T.set_bpf(e2, p) == -errno.EEXIST                 # p is in the event's prog array
    assert T.set_bpf(e2, q) == 0
    kp = T.load(KPROBE, "r0 = 0\nexit")
    e3 = T.tp_event("sched/sched_wakeup")
    assert T.set_bpf(e3, kp) == -errno.EINVAL
    assert T.set_bpf(e3, 999) == -errno.EBADF
    assert T.set_bpf(e3, c) == -errno.EINVAL                 # a map fd
    assert T.attach_perf(kp, e3) == -errno.EINVAL
    assert T.link(p, e3, 41, flags=1) == -errno.EINVAL
    assert T.link(T.load(TRACEPOINT, count_prog(c, ret=1)), c, 41) == -errno.EBADF
    T.task.fork()                                            # sched_wakeup_new, not sched_wakeup
    assert T.u64(c) == 0
    T.kernel.tracepoint("sched_wakeup", T.task)
    assert T.u64(c) == 2


def test_sixty_four_programs_per_tracepoint(T):
    c = T.array(1)
    text = count_prog(c, ret=1)
    for i in range(BPF_TRACE_MAX_PROGS):
        assert T.set_bpf(T.tp_event("bpf_test_run/bpf_trigger_tp"), T.load(TRACEPOINT, text)) == 0
    last = T.tp_event("bpf_test_run/bpf_trigger_tp")
    p = T.load(TRACEPOINT, text)
    assert T.set_bpf(last, p) == -errno.E2BIG
    assert T.attach_perf(p, last) == -errno.E2BIG
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert T.u64(c) == BPF_TRACE_MAX_PROGS


def test_runs_while_disabled_samples_only_when_enabled(T):
    """The probe is registered at open: the program runs before ENABLE (as on Linux); samples
    need the event enabled; a program returning 0 filters the sample out."""
    c = T.array(1)
    p = T.load(TRACEPOINT, count_prog(c, ret=1))
    attr = new_perf_event_attr(type=2, config=int(T.kernel.tracefs.read(
        "events/bpf_test_run/bpf_trigger_tp/id")), sample_type=1 << 10, sample_period=1,
        wakeup_events=1, disabled=1)
    efd = T.perf_open(attr)
    assert efd >= 0 and T.set_bpf(efd, p) == 0
    mem = T.task.mmap(efd, 2 * 4096)
    T.kernel.tracepoint("bpf_trigger_tp", 7)
    event = T.task.files.get(efd).event
    assert T.u64(c) == 1 and event.count == 0
    T.enable(efd)
    T.kernel.tracepoint("bpf_trigger_tp", 7)
    assert T.u64(c) == 2 and event.count == 1
    from kernelsim.tracing.perf_buffer import read_ring
    recs = read_ring(mem, 4096)
    assert len(recs) == 1 and recs[0][0] == 9
    raw = recs[0][1]
    size = struct.unpack_from("<I", raw, 8)[0]
    assert size == 12 and struct.unpack_from("<i", raw, 12 + 8)[0] == 7  # nonce after the regs ptr
    assert T.task.ioctl(efd, PERF_EVENT_IOC_DISABLE) == 0
    T.kernel.tracepoint("bpf_trigger_tp", 7)
    assert T.u64(c) == 3 and event.count == 1
    f = T.load(TRACEPOINT, count_prog(c))
    g = T.tp_event("bpf_test_run/bpf_trigger_tp")
    T.set_bpf(g, f)
    T.enable(efd)
    T.kernel.tracepoint("bpf_trigger_tp", 7)             # f returns 0: no sample (AND of the array)
    assert event.count == 1


def test_samples_without_programs_keep_the_header(T):
    attr = new_perf_event_attr(type=2, config=372, sample_type=(1 << 10) | (1 << 1) | (1 << 7),
                               sample_period=1)
    efd = T.perf_open(attr, cpu=1)
    mem = T.task.mmap(efd, 2 * 4096)
    other = T.kernel.spawn(comm="w")
    T.kernel.switch_to(other, 1)
    T.kernel.current_cpu = 0
    from kernelsim.tracing.perf_buffer import read_ring
    (rtype, rec), = read_ring(mem, 4096)
    pid, tid, cpu, _res, size = struct.unpack_from("<IIIII", rec, 8)
    raw = rec[28:28 + size]
    assert (pid, cpu, size) == (0, 1, 68)                 # the idle task; 64-byte record + pad
    assert struct.unpack_from("<HBBi", raw, 0) == (372, 0, 0, 0)
    assert struct.unpack_from("<i", raw, 56)[0] == other.pid


def test_syscall_events_and_perf_link_info(T):
    m = T.array(4)
    p = T.load(TRACEPOINT, store_loads(m, [("u32", 8), ("u64", 16), ("u64", 24), ("u64", 32)], ret=1))
    e = T.tp_event("syscalls/sys_enter_openat")
    lfd = T.attach_perf(p, e, cookie=0x55)
    assert lfd >= 0
    x = T.load(TRACEPOINT, store_loads(T.array(1), [("u64", 16)], ret=1))
    T.attach_perf(x, T.tp_event("syscalls/sys_exit_openat"))
    ret = T.kernel.syscall(T.task, "openat", -100, "/tmp/new", 0o100, 0o644)
    nr, dfd, fname, flags = (T.u64(m, i) for i in range(4))
    assert (nr, dfd, flags) == (257, (-100) & (2**64 - 1), 0o100)
    assert T.task.mm.read_cstr(fname, 64) == b"/tmp/new"
    assert ret >= 3
    import ctypes
    buf = ctypes.create_string_buffer(32)

    def fill(info):
        info.perf_event.tracepoint.tp_name = ctypes.addressof(buf)
        info.perf_event.tracepoint.name_len = 32
    r, info = T.link_info_raw(lfd, fill)
    assert r == 0 and info.type == 7 and info.perf_event.type == 5
    assert buf.value == b"sys_enter_openat" and info.perf_event.tracepoint.cookie == 0x55
    T.task.close(lfd)
    assert T.kernel.tracepoints.event("syscalls/sys_enter_openat").prog_array == []


@pytest.mark.realkernel
@requires_realkernel
def test_errnos_match_the_real_kernel():
    root = tracefs()
    if root is None:
        pytest.skip("no tracefs")
    T = Tracer()
    tid = int((root / "events/sched/sched_wakeup/id").read_text())
    assert tid == int(T.kernel.tracefs.read("events/sched/sched_wakeup/id"))
    ok = assemble("r0 = *(u32 *)(r1 +32)\nr0 = 0\nexit")
    wide = assemble("r0 = *(u32 *)(r1 +36)\nr0 = 0\nexit")
    r_ok, _ = real_prog_load(5, ok)
    r_ok2, _ = real_prog_load(5, ok)
    r_wide, _ = real_prog_load(5, wide)
    r_kp, _ = real_prog_load(2, assemble("r0 = 0\nexit"))
    attr = new_perf_event_attr(type=2, config=tid)
    r_e1, err = real_perf_event_open(attr, -1, 0, -1, 8)
    r_e2, _ = real_perf_event_open(attr, -1, 0, -1, 8)
    assert r_e1 >= 0, err
    s_ok, s_ok2, s_wide = (T.load(TRACEPOINT, t) for t in (ok, ok, wide))
    s_kp = T.load(KPROBE, "r0 = 0\nexit")
    s_e1, s_e2 = T.tp_event("sched/sched_wakeup"), T.tp_event("sched/sched_wakeup")
    real = [real_ioctl(ev, PERF_EVENT_IOC_SET_BPF, p)[1] for ev, p in
            ((r_e1, r_wide), (r_e1, r_kp), (r_e1, r_ok), (r_e1, r_ok2), (r_e2, r_ok))]
    sim = [-T.set_bpf(s_e1, s_wide), -T.set_bpf(s_e1, s_kp), -T.set_bpf(s_e1, s_ok),
           -T.set_bpf(s_e1, s_ok2), -T.set_bpf(s_e2, s_ok)]
    assert sim == real == [errno.EACCES, errno.EINVAL, 0, errno.EEXIST, errno.EEXIST]
    bad = new_perf_event_attr(type=2, config=999999)
    assert -T.perf_open(bad) == real_perf_event_open(bad, -1, 0, -1, 8)[1] == errno.EINVAL
    for fd in (r_ok, r_ok2, r_wide, r_kp, r_e1, r_e2):
        real_close(fd)
