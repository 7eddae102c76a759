"""Helpers about tasks and perf counters (helpers/trace.py): task_pt_regs, get_task_stack,
find_vma, perf_event_read(_value), perf_prog_read_value, read_branch_records. Each is loaded
in a program and run; Linux 6.18 gives the same verdicts, complaints and (where the result does
not depend on the machine) the same PROG_TEST_RUN results (realkernel)."""

import struct

import pytest

from kernelsim.bpf_run import BpfTraceRunCtx, bpf_prog_run64
from kernelsim.helpers import trace as t
from kernelsim.uapi import BpfCmd as C
from syscall.abi import ffi
from syscall.perf_abi import new_perf_event_attr
from tests.kernelsim.helpers.progkit import (KPROBE, PERF_EVENT, RAW_TP, SOCKET_FILTER, k4, load,
                                             mk, prog_test_run, sim_prog)
from tests.realkernel import realkernel_available
from tests.syscall.diffharness import SimBackend, assert_same, run_both, run_sim

U32 = 0xFFFFFFFF

PT_REGS_IP = """
    call bpf_get_current_task_btf
    r1 = r0
    call bpf_task_pt_regs
    r0 = *(u64 *)(r0 +128)
    exit
"""

PT_REGS_SCALAR = """
    r1 = 0
    call bpf_task_pt_regs
    r0 = 0
    exit
"""

PT_REGS_WRITE = PT_REGS_IP.replace("r0 = *(u64 *)(r0 +128)", "r1 = 0\n    *(u64 *)(r0 +128) = r1")

TASK_STACK = """
    call bpf_get_current_task_btf
    r1 = r0
    r2 = r10
    r2 += -64
    r3 = 64
    r4 = {flags}
    call bpf_get_task_stack
    exit
"""

TASK_STACK_UNINIT_SIZE = TASK_STACK.replace("r3 = 64", "r3 = 72")

FIND_VMA = """
    r6 = *(u64 *)(r1 +0)
    r1 = 0
    *(u64 *)(r10 -8) = r1
    call bpf_get_current_task_btf
    r1 = r0
    r2 = r6
    r3 = func(cb)
    r4 = r10
    r4 += -8
    r5 = {flags}
    call bpf_find_vma
    if r0 != 0 goto out
    r0 = *(u64 *)(r10 -8)
out:
    exit
cb:
    r4 = *(u64 *)(r2 +{vm_start})
    *(u64 *)(r3 +0) = r4
    r0 = 0
    exit
"""

FIND_VMA_BAD_CB = FIND_VMA.replace("    r0 = 0\n    exit\n", "    r0 = 7\n    exit\n")

PERF_READ = """
    r1 = map_fd({{0}})
    r2 = {flags}
    call bpf_perf_event_read
    exit
"""

PERF_READ_VALUE = """
    r1 = map_fd({{0}})
    r2 = {flags}
    r3 = r10
    r3 += -24
    r4 = {size}
    call bpf_perf_event_read_value
    if r0 != 0 goto out
    r0 = *(u64 *)(r10 -24)
out:
    exit
"""

PERF_READ_WRONG_MAP = PERF_READ

PROG_READ_VALUE = """
    r2 = r10
    r2 += -24
    r3 = {size}
    call bpf_perf_prog_read_value
    exit
"""

BRANCH_RECORDS = """
    r2 = r10
    r2 += -48
    r3 = 48
    r4 = {flags}
    call bpf_read_branch_records
    exit
"""


def dummy_event(b) -> int:
    """A counting software event (PERF_COUNT_SW_DUMMY) on the calling task, any CPU."""
    data = bytes(ffi.buffer(new_perf_event_attr(type=1, config=9)))
    if b.sim:
        fd = b.task.perf_event_open(bytearray(data), 0, -1, -1, 0)
    else:
        from tests.kernelsim.tracing.realperf import real_perf_event_open
        fd, err = real_perf_event_open(data, 0, -1, -1, 0)
        assert fd >= 0, err
    b.fds.append(fd)                          # closed with the scenario's other fds
    return fd


def scen_task_helpers(b):
    """Verdicts for every program; results of the runs that do not depend on the machine."""
    load(b, RAW_TP, PT_REGS_IP)
    load(b, KPROBE, PT_REGS_IP)
    load(b, RAW_TP, PT_REGS_SCALAR)
    load(b, RAW_TP, PT_REGS_WRITE)
    load(b, RAW_TP, PT_REGS_IP, license=b"MIT")
    load(b, SOCKET_FILTER, PT_REGS_IP)
    load(b, RAW_TP, TASK_STACK.format(flags=0))
    load(b, RAW_TP, TASK_STACK_UNINIT_SIZE.format(flags=0))
    fd = load(b, RAW_TP, TASK_STACK.format(flags=1 << 12))
    prog_test_run(b, fd)                                      # bad flags: -EINVAL
    for flags in (0, 1):
        fd = load(b, RAW_TP, FIND_VMA.format(flags=flags, vm_start=0))
        prog_test_run(b, fd, struct.pack("<Q", 0))            # ENOENT / EINVAL
    load(b, RAW_TP, FIND_VMA_BAD_CB.format(flags=0, vm_start=0))
    load(b, RAW_TP, FIND_VMA.format(flags=0, vm_start=4096))   # past the struct


def scen_perf_read(b):
    arr = mk(b, 4, 4, 4, 2)
    ev = dummy_event(b)
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=arr, key=b.buf(k4(0)), value=b.buf(k4(ev))))
    for flags in (0, 1, 5, "4294967296 ll"):
        prog_test_run(b, load(b, RAW_TP, PERF_READ.format(flags=flags), [arr]))
    for flags, size in ((0, 24), (1, 24), (0, 16)):
        prog_test_run(b, load(b, RAW_TP, PERF_READ_VALUE.format(flags=flags, size=size), [arr]))
    load(b, KPROBE, PERF_READ.format(flags=0), [arr])
    load(b, RAW_TP, PERF_READ.format(flags=0), [mk(b, 2, 4, 4, 2)])
    load(b, PERF_EVENT, PROG_READ_VALUE.format(size=24))
    load(b, PERF_EVENT, PROG_READ_VALUE.format(size=24), license=b"MIT")
    load(b, RAW_TP, PROG_READ_VALUE.format(size=24))
    load(b, PERF_EVENT, BRANCH_RECORDS.format(flags=0))
    load(b, KPROBE, BRANCH_RECORDS.format(flags=0))


EXPECTED_TASK = ["fd", "fd", "EACCES", "R1 type=scalar expected=ptr_, trusted_ptr_, rcu_ptr_",
                 "EACCES", "only read is supported", "EINVAL",
                 "cannot call GPL-restricted function from non-GPL compatible program",
                 "fd", "fd", "EINVAL", "invalid write to stack R2 off=-64 size=72",
                 "fd", (-22) & U32, "fd", (-2) & U32, "fd", (-22) & U32, "EINVAL",
                 "At callback return the register R0 has smin=7 smax=7 should have been in [0, 1]",
                 "EACCES", "access beyond struct vm_area_struct at off 4096 size 8"]


def test_task_helpers_verdicts():
    """Linux 6.18.44's answers for scen_task_helpers (test_same_as_linux re-checks them)."""
    assert run_sim(scen_task_helpers) == EXPECTED_TASK


def _load_sim(text, ptype=RAW_TP, fds=()):
    b = SimBackend()
    fd = load(b, ptype, text, fds)
    assert fd >= 0, b.last_log
    return b, sim_prog(b, fd)


def test_task_pt_regs_reads_the_tasks_registers():
    b, prog = _load_sim(PT_REGS_IP)
    regs = t.task_pt_regs_addr(b.kernel, b.task)
    b.kernel.mem.write(regs + 128, struct.pack("<Q", 0x401234))       # x86-64 pt_regs.ip
    assert bpf_prog_run64(prog, 0, BpfTraceRunCtx(b.kernel, prog, task=b.task)) == 0x401234
    other = b.task.fork()
    assert t.task_pt_regs_addr(b.kernel, other) != regs
    assert bpf_prog_run64(prog, 0, BpfTraceRunCtx(b.kernel, prog, task=other)) == 0


def test_get_task_stack_of_the_current_task():
    b, prog = _load_sim(TASK_STACK.format(flags=0))
    ips = [0xffffffff81000100, 0xffffffff81000200, 0xffffffff81000300]
    run = BpfTraceRunCtx(b.kernel, prog, task=b.task, kstack=ips)
    assert bpf_prog_run64(prog, 0, run) == 24
    got = t.bpf_get_task_stack(run, t.bpf_get_current_task(run), b.kernel.mem.alloc(64, "buf").start,
                               64, 1)                                # skip one frame
    assert got == 16
    other = b.task.fork()
    assert t.bpf_get_task_stack(BpfTraceRunCtx(b.kernel, prog, task=b.task, kstack=ips),
                                t.task_struct_addr(b.kernel, other),
                                b.kernel.mem.alloc(64, "buf").start, 64, 0) == 0


def test_find_vma_calls_back_with_the_mapping():
    b, prog = _load_sim(FIND_VMA.format(flags=0, vm_start=0))
    region = b.task.mm.alloc(8192, "heap", kind="user")
    ctx = b.kernel.mem.alloc(8, "ctx", data=struct.pack("<Q", region.start + 100))
    run = BpfTraceRunCtx(b.kernel, prog, task=b.task)
    assert bpf_prog_run64(prog, ctx.start, run) == region.start          # vm_start via callback
    b.kernel.mem.write(ctx.start, struct.pack("<Q", 0x10))                # unmapped
    assert bpf_prog_run64(prog, ctx.start, run) == (-2) & ((1 << 64) - 1)


def test_perf_event_read_in_kernelsim():
    """Linux 6.18.44's answers for scen_perf_read: the dummy event counts 0; an empty slot is
    ENOENT, an index past the end E2BIG, unknown flags or a wrong size EINVAL."""
    assert run_sim(scen_perf_read) == [
        "fd", 0, "fd", 0, "fd", (-2) & U32, "fd", (-7) & U32, "fd", (-22) & U32,
        "fd", 0, "fd", (-2) & U32, "fd", (-22) & U32, "fd",
        "fd", "EINVAL", "cannot pass map_type 2 into func bpf_perf_event_read#22",
        "fd", "EINVAL", "cannot call GPL-restricted function from non-GPL compatible program",
        "EINVAL", "program of this type cannot use helper bpf_perf_prog_read_value#56",
        "fd", "EINVAL", "program of this type cannot use helper bpf_read_branch_records#119"]


def test_perf_prog_read_value_and_branch_records():
    b, prog = _load_sim(PROG_READ_VALUE.format(size=24), PERF_EVENT)
    fd = dummy_event(b)
    ev = b.task.files.get(fd).obj
    ev = getattr(ev, "event", ev)                                      # PerfFile -> PerfEvent
    ev.count = 5
    run = BpfTraceRunCtx(b.kernel, prog, task=b.task)
    assert bpf_prog_run64(prog, 0, run) == (-22) & ((1 << 64) - 1)        # no event: EINVAL
    run.perf_event = ev
    assert bpf_prog_run64(prog, 0, run) == 0
    buf = b.kernel.mem.alloc(48, "buf").start
    assert t.bpf_perf_prog_read_value(run, 0, buf, 24) == 0
    assert struct.unpack("<QQQ", b.kernel.mem.read(buf, 24))[0] == 5
    assert t.bpf_read_branch_records(run, 0, buf, 48, 0) == -2              # no branch stack
    run.branch_records = [(1, 2, 0), (3, 4, 0)]
    assert t.bpf_read_branch_records(run, 0, 0, 0, 1) == 48
    assert t.bpf_read_branch_records(run, 0, buf, 24, 0) == 24
    assert t.bpf_read_branch_records(run, 0, buf, 20, 0) == -22
    assert t.bpf_read_branch_records(run, 0, buf, 48, 2) == -22


@pytest.mark.realkernel
@pytest.mark.skipif(not realkernel_available(), reason="no usable bpf()")
@pytest.mark.parametrize("scenario", [scen_task_helpers, scen_perf_read], ids=lambda s: s.__name__)
def test_same_as_linux(scenario):
    real, sim = run_both(scenario)
    assert_same(real, sim, scenario.__name__)


def _output_map(kernel):
    """A perf event array stand-in on the map protocol whose output slot records samples."""
    from kernelsim.maps.map import BpfMap, MapCreateAttr
    from kernelsim.maps.ops import BpfMapOps
    from kernelsim.uapi import BpfMapType

    def output(m, flags, data):
        m.data.append((flags, bytes(data)))

    m = BpfMap(kernel, MapCreateAttr(map_type=BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size=4,
                                     value_size=4, max_entries=4), BpfMapOps(map_perf_event_output=output))
    m.data = []
    return m


def test_skb_and_xdp_output_of_btf_pointers():
    b = SimBackend()
    k = b.kernel
    run = BpfTraceRunCtx(k, None, task=b.task)
    pm = _output_map(k)
    meta = k.mem.alloc(8, "meta", data=b"META").start
    skb = k.kobjects.alloc_skb(b"packet-bytes").addr
    assert t.bpf_skb_output(run, skb, pm.addr, (6 << 32) | 0xFFFFFFFF, meta, 4) == 0
    assert pm.data[-1] == (0xFFFFFFFF, b"METApacket")
    assert t.bpf_skb_output(run, skb, pm.addr, 13 << 32, meta, 4) == -14      # past skb->len
    assert t.bpf_skb_output(run, skb, pm.addr, 1 << 60, meta, 4) == -22       # unknown flags
    assert t.bpf_skb_output(run, skb, pm.addr, 0, meta, 4) == 0 and pm.data[-1] == (0, b"META")
    data = k.kobjects.alloc_bytes(b"\0" * 256 + b"xdp-frame", size=4096)
    xdp = k.kobjects.new("struct xdp_buff", data_hard_start=data, data=data + 256,
                         data_end=data + 265, frame_sz=4096)
    assert t.bpf_xdp_get_buff_len(run, xdp.addr) == 9
    assert t.bpf_xdp_output(run, xdp.addr, pm.addr, (3 << 32) | 1, 0, 0) == 0
    assert pm.data[-1] == (1, b"xdp")
    assert t.bpf_xdp_output(run, xdp.addr, pm.addr, 10 << 32, 0, 0) == -14
    assert t.bpf_xdp_get_buff_len(run, 0x10) == 0
