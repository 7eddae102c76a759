"""Perf buffers: PERF_EVENT_ARRAY entries are BPF_OUTPUT perf events per CPU, bpf_perf_event_output
writes PERF_RECORD_SAMPLE records into their mmap rings, lost records are reported; consumed by
kernelsim/tracing/perf_buffer.py's PerfBuffer and by the object loader's (a C program compiled
by clang, loaded and attached the way libbpf does)."""

import errno
import struct
from pathlib import Path

import pytest

from kernelsim import Kernel
from kernelsim.tracing.perf_buffer import PerfBuffer, PerfBufferError
from syscall.object import find_clang
from tests.kernelsim.tracing.tp_support import PERF_EVENT_ARRAY, RAW_TP, store_stack

PROG = Path(__file__).parent / "progs" / "perf_output.bpf.c"

# bpf_perf_event_output(ctx, &pm, BPF_F_CURRENT_CPU, &ctx[0] (the nonce), {size}); map[0] = ret
OUTPUT = ("r6 = *(u64 *)(r1 +0)\n*(u64 *)(r10 -8) = r6\n*(u64 *)(r10 -16) = 0x7777\n"
          "r4 = r10\nr4 += -16\nr2 = map_fd({pm})\nr3 = 0xffffffff ll\nr5 = {size}\n"
          "call bpf_perf_event_output\n*(u64 *)(r10 -24) = r0\n"
          + store_stack("{m}", 24, key_off=28) + "r0 = 0\nexit\n")


def setup(T, size=16, page_cnt=1):
    pm = T.map(PERF_EVENT_ARRAY, 4, 4, T.kernel.ncpus)
    m = T.array(1)
    p = T.load(RAW_TP, OUTPUT.format(pm=pm, m=m, size=size))
    assert T.raw_tp("bpf_trigger_tp", p) >= 0
    got, lost = [], []
    pb = PerfBuffer(T.task, pm, lambda cpu, data, n: got.append((cpu, data, n)),
                    lambda cpu, n: lost.append((cpu, n)), page_cnt=page_cnt)
    return pm, m, pb, got, lost


def test_samples_per_cpu_padded_size(T):
    pm, m, pb, got, lost = setup(T, size=13)
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    T.kernel.tracepoint("bpf_trigger_tp", 2, cpu=1)
    assert T.u64(m) == 0
    assert pb.poll() == 2
    assert [(cpu, n) for cpu, _, n in got] == [(0, 20), (1, 20)]     # 4 + 13 rounded to 24
    assert got[1][1][:16] == struct.pack("<QQ", 0x7777, 2) and got[1][1][13:] == bytes(7)
    assert pb.poll() == 0 and lost == []


def test_lost_records(T):
    pm, m, pb, got, lost = setup(T, size=16, page_cnt=1)
    for i in range(200):                                   # 32-byte records: 127 fit in 4 KiB
        T.kernel.tracepoint("bpf_trigger_tp", i)
    assert T.u64(m) == (-errno.ENOSPC) & (2**64 - 1)
    pb.poll()
    assert len(got) == 127 and lost == []
    T.kernel.tracepoint("bpf_trigger_tp", 500)
    pb.poll()
    assert lost == [(0, 73)] and struct.unpack_from("<Q", got[-1][1], 8)[0] == 500
    assert pb.lost == 73 and pb.samples == 128


def test_close_removes_entries(T):
    pm, m, pb, got, lost = setup(T)
    pb.close()
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert T.u64(m) == (-errno.ENOENT) & (2**64 - 1)
    with pytest.raises(PerfBufferError):
        PerfBuffer(T.task, pm, None, page_cnt=3)
    with pytest.raises(PerfBufferError):
        PerfBuffer(T.task, m, None)


def test_output_errnos(T):
    """E2BIG index past max_entries; EOPNOTSUPP an explicit index of another CPU's event."""
    pm = T.map(PERF_EVENT_ARRAY, 4, 4, 2)
    m = T.array(1)
    pb = PerfBuffer(T.task, pm, None)
    for index, err in ((1, errno.EOPNOTSUPP), (5, errno.E2BIG)):
        text = OUTPUT.format(pm=pm, m=m, size=8).replace("r3 = 0xffffffff ll", f"r3 = {index}")
        p = T.load(RAW_TP, text)
        lfd = T.raw_tp("bpf_trigger_tp", p)
        T.kernel.tracepoint("bpf_trigger_tp", 1)
        assert T.u64(m) == (-err) & (2**64 - 1)
        T.task.close(lfd)
    pb.close()


@pytest.mark.skipif(find_clang() is None, reason="clang not found")
def test_object_loader_perf_buffer_with_a_c_program():
    k = Kernel(ncpus=2)
    t = k.spawn(comm="app", cpu=0)
    obj = t.load_object(PROG)
    assert obj.maps["events"].max_entries == k.ncpus       # no max_entries: one per possible CPU
    obj.attach()
    got = []
    pb = obj.perf_buffer("events", lambda cpu, data: got.append((cpu, data)))
    assert k.call("bpf_fentry_test1", 41) == 42
    assert k.call("bpf_fentry_test1", 7, cpu=1) == 8
    pb.poll()
    evs = sorted((cpu, struct.unpack_from("<IIQ", d)) for cpu, d in got)
    assert evs == [(0, (t.pid, 0, 41)), (1, (0, 1, 7))]     # CPU 1 runs the idle task
