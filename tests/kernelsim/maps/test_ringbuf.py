"""kernelsim/maps/ringbuf.py: records, positions, the consumer."""

import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.maps.ringbuf import (BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_NO_WAKEUP,
                                    BPF_RB_PROD_POS, BPF_RB_RING_SIZE, BPF_RINGBUF_BUSY_BIT,
                                    ringbuf_consume, ringbuf_drain)
from kernelsim.uapi import ENOTSUPP, BpfMapType as T
from tests.kernelsim.maps.mapkit import build_map


@pytest.mark.parametrize("args", [(0, 0, 4095), (0, 0, 12288), (4, 0, 4096), (0, 4, 4096)])
def test_sizes(kernel, args):
    with pytest.raises(BpfError) as e:
        build_map(kernel, T.BPF_MAP_TYPE_RINGBUF, *args)
    assert e.value.errno == errno.EINVAL


def test_reserve_submit_discard_consume(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    ops = m.ops
    a = ops.ringbuf_reserve(m, 5, 0)
    hdr = kernel.mem.read(a - 8, 8)
    assert int.from_bytes(hdr[:4], "little") == 5 | BPF_RINGBUF_BUSY_BIT
    assert int.from_bytes(hdr[4:], "little") == 3                    # pg_off: after 3 meta pages
    assert kernel.mem.region_of(a).owner is m
    kernel.mem.write(a, b"hello")
    b = ops.ringbuf_reserve(m, 3, 0)
    assert ringbuf_drain(m) == []                                    # the first is still busy
    ops.ringbuf_submit(m, a, 0)
    ops.ringbuf_discard(m, b, 0)
    ops.ringbuf_output(m, b"xyz", BPF_RB_NO_WAKEUP)
    assert ops.ringbuf_query(m, BPF_RB_AVAIL_DATA) == 16 + 16 + 16
    assert ringbuf_drain(m) == [b"hello", b"xyz"]
    assert ops.ringbuf_query(m, BPF_RB_CONS_POS) == ops.ringbuf_query(m, BPF_RB_PROD_POS) == 48
    assert ops.ringbuf_query(m, BPF_RB_RING_SIZE) == 4096
    assert ops.ringbuf_reserve(m, 8, 1) == 0                         # flags must be 0
    with pytest.raises(BpfError) as e:
        ops.ringbuf_output(m, b"x", 8)
    assert e.value.errno == errno.EINVAL


def test_full_and_wraparound(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    ops = m.ops
    assert ops.ringbuf_reserve(m, 4096, 0) == 0
    for _ in range(4):
        ops.ringbuf_output(m, b"a" * 1000, 0)
    with pytest.raises(BpfError) as e:
        ops.ringbuf_output(m, b"b" * 1000, 0)
    assert e.value.errno == errno.EAGAIN
    got = []
    assert ringbuf_consume(m, got.append) == 4
    ops.ringbuf_output(m, bytes(range(256)) * 4, 0)                  # wraps past the end
    assert ringbuf_drain(m) == [bytes(range(256)) * 4]


def test_wakeups(make_map):
    m = make_map(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    calls = []
    m.data.wakeup.append(calls.append)
    m.ops.ringbuf_output(m, b"1", 0)               # the consumer is waiting at this record
    m.ops.ringbuf_output(m, b"2", 0)               # not the consumer's position: no wakeup
    m.ops.ringbuf_output(m, b"3", 2)               # BPF_RB_FORCE_WAKEUP
    assert m.data.wakeups == 2 and len(calls) == 2


def test_syscall_side_is_enotsupp(make_map):
    m = make_map(T.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096)
    for fn, args in ((m.ops.map_copy_value, (None, 0)), (m.ops.map_delete_elem, (None,)),
                     (m.ops.map_get_next_key, (None,))):
        with pytest.raises(BpfError) as e:
            fn(m, *args)
        assert e.value.errno == ENOTSUPP
