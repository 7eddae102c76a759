"""kernelsim/maps/queue_stack_maps.py."""

import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfMapType as T


def err(fn, *a):
    with pytest.raises(BpfError) as e:
        fn(*a)
    return e.value.errno


def test_queue_fifo_and_overwrite(make_map):
    q = make_map(T.BPF_MAP_TYPE_QUEUE, 0, 1, 2)
    push = q.ops.map_push_elem
    push(q, b"a", 0)
    push(q, b"b", 0)
    assert err(push, q, b"c", 0) == errno.E2BIG
    push(q, b"c", 2)                                   # BPF_EXIST drops the oldest
    assert err(push, q, b"d", 1) == errno.EINVAL
    assert q.ops.map_peek_elem(q) == b"b"
    assert [q.ops.map_pop_elem(q), q.ops.map_pop_elem(q)] == [b"b", b"c"]
    assert err(q.ops.map_pop_elem, q) == errno.ENOENT


def test_stack_lifo(make_map):
    s = make_map(T.BPF_MAP_TYPE_STACK, 0, 1, 3)
    for c in b"xyz":
        s.ops.map_push_elem(s, bytes([c]), 0)
    assert s.ops.map_pop_elem(s) == b"z" and s.ops.map_peek_elem(s) == b"y"
    assert err(s.ops.map_update_elem, s, None, b"q", 0) == errno.EINVAL
    assert err(s.ops.map_get_next_key, s, None) == errno.EINVAL


def test_alloc_check(kernel):
    from tests.kernelsim.maps.mapkit import build_map
    assert err(build_map, kernel, T.BPF_MAP_TYPE_QUEUE, 4, 4, 1) == errno.EINVAL
    assert err(build_map, kernel, T.BPF_MAP_TYPE_QUEUE, 0, (1 << 22) + 1, 1) == errno.E2BIG
