"""The perf event object (kernelsim/tracing/perf_event.py): the attr layout against the uapi cdef,
the mmap ring (CIRC_SPACE, lost records, wrap-around), sample layouts per sample_type, BPF
output refusals, the ioctls, mmap sizes."""

import errno
import struct

import pytest

from kernelsim import Kernel
from kernelsim.errors import BpfError
from kernelsim.tracing import perf_event as pe
from kernelsim.tracing.perf_buffer import read_ring
from kernelsim.uapi import (PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_ID,
                            PERF_EVENT_IOC_PAUSE_OUTPUT, PERF_EVENT_IOC_PERIOD,
                            PERF_EVENT_IOC_RESET, PERF_EVENT_IOC_SET_FILTER)
from syscall import perf_abi


def test_attr_layout_matches_the_uapi_cdef():
    ffi = perf_abi.ffi
    offsets = {n: ffi.offsetof("struct perf_event_attr", n) for n in
               ("type", "size", "config", "sample_period", "sample_type", "read_format",
                "wakeup_events", "bp_type", "config1", "config2", "branch_sample_type",
                "sample_regs_user", "sample_stack_user", "clockid", "sample_regs_intr",
                "aux_watermark", "sample_max_stack", "aux_sample_size", "sig_data", "config3")}
    assert pe.ATTR_LAYOUT.size == ffi.sizeof("struct perf_event_attr") == pe.PERF_ATTR_SIZE
    a = perf_abi.new_perf_event_attr(type=2, config=372, sample_type=0x400, sample_period=1,
                                     config1=0x1234, config2=5, clockid=-1, sample_max_stack=9,
                                     config3=7)
    a.disabled = a.exclude_kernel = a.sigtrap = a.remove_on_exec = 1
    a.precise_ip = 2
    d = pe.PerfEventAttr.from_bytes(bytes(ffi.buffer(a)))
    assert (d.type, d.config, d.sample_type, d.kprobe_func, d.probe_offset, d.clockid,
            d.sample_max_stack, d.config3) == (2, 372, 0x400, 0x1234, 5, -1, 9, 7)
    assert (d.disabled, d.exclude_kernel, d.sigtrap, d.remove_on_exec, d.precise_ip, d.inherit) == \
        (1, 1, 1, 1, 2, 0)
    assert d.to_bytes() == bytes(ffi.buffer(a))
    assert offsets["config1"] == 56 and offsets["config3"] == 128


@pytest.fixture
def k():
    return Kernel(ncpus=2)


def bpf_output_event(k, cpu=0, **kw):
    attr = pe.PerfEventAttr(type=1, config=10, sample_type=1 << 10, sample_period=1, **kw)
    return pe.perf_event_alloc(k, attr, cpu)


def test_ring_fill_lost_and_wrap(k):
    ev = bpf_output_event(k)
    rb = pe.perf_mmap(ev, 1)
    assert struct.unpack_from("<QQ", rb.buf, pe.MMAP_DATA_OFFSET) == (4096, 4096)
    for i in range(200):                           # 24-byte records: 170 fit (CIRC_SPACE = 4095)
        try:
            ev.bpf_output(0, struct.pack("<Q", i) + b"abcd")
        except BpfError as e:
            assert e.errno == errno.ENOSPC
    assert rb.head == 170 * 24 and rb.lost == 30 and ev.lost_samples == 30
    recs = read_ring(memoryview(rb.buf), 4096)
    assert len(recs) == 170 and all(t == 9 for t, _ in recs)
    assert struct.unpack_from("<IQ", recs[5][1], 8) == (12, 5)
    ev.bpf_output(0, b"\x01" * 12)                  # the lost record goes first
    (t1, lost), (t2, rec) = read_ring(memoryview(rb.buf), 4096)
    assert t1 == 2 and struct.unpack_from("<QQ", lost, 8) == (ev.id, 30) and t2 == 9
    for _ in range(300):                           # the reader keeps up: the ring wraps
        ev.bpf_output(0, b"\x02" * 20)
        (t, r), = read_ring(memoryview(rb.buf), 4096)
        assert t == 9 and r[12:32] == b"\x02" * 20
    assert rb.head > 4096 * 2


def test_sample_layout_by_sample_type(k):
    st = (pe.PERF_SAMPLE_IDENTIFIER | 1 | 2 | 4 | 0x40 | 0x80 | 0x100 | 0x20 | 0x400)
    attr = pe.PerfEventAttr(type=1, config=10, sample_type=st, sample_period=3)
    ev = pe.perf_event_alloc(k, attr, 1)
    task = k.spawn(comm="t", cpu=1)
    rec = ev.sample_record(b"xyz", 0x1234, task, 1, chain=[0xA, 0xB])
    hdr = struct.unpack_from("<IHH", rec)
    assert hdr[0] == 9 and hdr[2] == len(rec)
    body = struct.unpack_from("<QQIIQQIIQQQQI", rec, 8)
    assert body == (ev.id, 0x1234, task.pid, task.pid, k.clock.ns, ev.id, 1, 0, 3, 2, 0xA, 0xB, 4)
    assert rec[-4:] == b"xyz\0"


def test_bpf_output_refusals(k):
    ev = bpf_output_event(k, cpu=0)
    with pytest.raises(BpfError) as e:
        ev.bpf_output(1, b"x")                     # another CPU
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(BpfError) as e:
        ev.bpf_output(0, b"x")                     # not mapped
    assert e.value.errno == errno.ENOSPC
    pe.perf_ioctl(ev, PERF_EVENT_IOC_DISABLE)
    assert ev.oncpu == -1 and ev.is_bpf_output
    with pytest.raises(BpfError) as e:
        ev.bpf_output(0, b"x")
    assert e.value.errno == errno.EOPNOTSUPP
    sw = pe.perf_event_alloc(k, pe.PerfEventAttr(type=1, config=9), 0)
    with pytest.raises(BpfError) as e:
        sw.bpf_output(0, b"x")
    assert e.value.errno == errno.EINVAL
    inh = pe.perf_event_alloc(k, pe.PerfEventAttr(type=1, config=10, inherit=1), 0)
    with pytest.raises(BpfError) as e:
        inh.read_local()
    assert e.value.errno == errno.EOPNOTSUPP
    task = k.spawn(comm="t", cpu=1)
    tev = pe.perf_event_alloc(k, pe.PerfEventAttr(type=1, config=10), -1, task=task)
    assert tev.oncpu == 1


def test_ioctls_and_mmap_sizes(k):
    ev = bpf_output_event(k)
    assert pe.perf_ioctl(ev, PERF_EVENT_IOC_ID) == ev.id
    ev.count = 5
    pe.perf_ioctl(ev, PERF_EVENT_IOC_RESET)
    assert ev.count == 0
    pe.perf_ioctl(ev, PERF_EVENT_IOC_PERIOD, 10)
    assert ev.attr.sample_period == 10
    for bad in (0, 1 << 63):
        with pytest.raises(BpfError):
            pe.perf_ioctl(ev, PERF_EVENT_IOC_PERIOD, bad)
    for cmd, err in ((PERF_EVENT_IOC_SET_FILTER, errno.EINVAL), (0x2499, errno.ENOTTY),
                     (PERF_EVENT_IOC_PAUSE_OUTPUT, errno.EINVAL)):
        with pytest.raises(BpfError) as e:
            pe.perf_ioctl(ev, cmd, 1)
        assert e.value.errno == err
    with pytest.raises(BpfError):
        pe.perf_mmap(ev, 3)
    rb = pe.perf_mmap(ev, 2)
    assert pe.perf_mmap(ev, 2) is rb and rb.mmap_count == 2
    with pytest.raises(BpfError):
        pe.perf_mmap(ev, 4)
    pe.perf_ioctl(ev, PERF_EVENT_IOC_PAUSE_OUTPUT, 1)
    with pytest.raises(BpfError):
        ev.bpf_output(0, b"x")
    assert rb.lost == 1
    pe.perf_ioctl(ev, PERF_EVENT_IOC_PAUSE_OUTPUT, 0)
    pe.perf_ioctl(ev, PERF_EVENT_IOC_ENABLE)
    ev.bpf_output(0, b"x")
    types = [t for t, _ in read_ring(memoryview(rb.buf), 8192)]
    assert types == [2, 9]
    with pytest.raises(BpfError) as e:
        pe.perf_event_alloc(k, pe.PerfEventAttr(type=0), 0)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(BpfError) as e:
        pe.perf_event_alloc(k, pe.PerfEventAttr(type=1, config=99), 0)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(BpfError) as e:
        pe.perf_event_alloc(k, pe.PerfEventAttr(type=1), 2)
    assert e.value.errno == errno.EINVAL
