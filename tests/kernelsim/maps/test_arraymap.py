"""kernelsim/maps/arraymap.py: ARRAY, PERCPU_ARRAY, global data."""

import errno
import struct

import pytest

from kernelsim.errors import BpfError
from kernelsim.maps.map import bpf_map_copy_value, bpf_map_update_value
from kernelsim.uapi import ENOTSUPP, BpfMapFlags as F, BpfMapType as T

from tests.kernelsim.maps.mapkit import build_map

k4 = lambda i: struct.pack("<I", i)  # noqa: E731


def err(fn, *a):
    with pytest.raises(BpfError) as e:
        fn(*a)
    return e.value.errno


@pytest.mark.parametrize("mt, args, e", [
    (T.BPF_MAP_TYPE_ARRAY, (8, 4, 1, 0), errno.EINVAL),
    (T.BPF_MAP_TYPE_ARRAY, (4, 0, 1, 0), errno.EINVAL),
    (T.BPF_MAP_TYPE_ARRAY, (4, 4, 0, 0), errno.EINVAL),
    (T.BPF_MAP_TYPE_ARRAY, (4, 4, 1, F.BPF_F_PRESERVE_ELEMS), errno.EINVAL),
    (T.BPF_MAP_TYPE_PERCPU_ARRAY, (4, 4, 1, F.BPF_F_MMAPABLE), errno.EINVAL),
    (T.BPF_MAP_TYPE_PERCPU_ARRAY, (4, 40000, 1, 0), errno.E2BIG),
    (T.BPF_MAP_TYPE_ARRAY, (4, 4, 1, 1 << 20), errno.EINVAL),
])
def test_alloc_check(kernel, mt, args, e):
    assert err(build_map, kernel, mt, *args) == e


def test_array_semantics(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 6, 3)
    up = m.ops.map_update_elem
    assert err(up, m, k4(3), bytes(6), 0) == errno.E2BIG
    assert err(up, m, k4(0), bytes(6), 1) == errno.EEXIST
    assert err(up, m, k4(0), bytes(6), 3) == errno.EINVAL
    up(m, k4(1), b"abcdef", 2)
    assert bpf_map_copy_value(m, k4(1), 0) == b"abcdef"
    assert m.ops.map_lookup_elem(m, k4(3)) == 0
    assert m.ops.map_lookup_elem(m, k4(2)) - m.ops.map_lookup_elem(m, k4(1)) == 8
    assert err(m.ops.map_delete_elem, m, k4(1)) == errno.EINVAL
    assert m.ops.map_get_next_key(m, None) == k4(0)
    assert m.ops.map_get_next_key(m, k4(9)) == k4(0)
    assert m.ops.map_get_next_key(m, k4(1)) == k4(2)
    assert err(m.ops.map_get_next_key, m, k4(2)) == errno.ENOENT


def test_percpu_array(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2)
    bpf_map_update_value(m, k4(1), k4(5) + bytes(4) + k4(6) + bytes(4), 0)
    kernel.current_cpu = 1
    assert kernel.mem.read(m.ops.map_lookup_elem(m, k4(1)), 4) == k4(6)
    assert err(bpf_map_update_value, m, k4(1), bytes(16), 1) == errno.EEXIST
    assert err(bpf_map_update_value, m, k4(1), bytes(16), 4) == errno.EINVAL


def test_global_data(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 16, 1, F.BPF_F_MMAPABLE)
    addr = m.ops.map_direct_value_addr(m, 8)
    assert m.ops.map_direct_value_meta(m, addr + 5) == 5
    assert err(m.ops.map_direct_value_addr, m, 16) == errno.EINVAL
    view = m.ops.map_mmap(m, True)
    view[0:4] = b"data"
    assert kernel.mem.read(addr, 4) == b"data"
    assert m.ops.map_mmap(m, False).readonly
    m2 = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 16, 2)
    assert err(m2.ops.map_direct_value_addr, m2, 0) == ENOTSUPP
    assert err(m2.ops.map_mmap, m2, True) == errno.EINVAL


def test_mmap_writers_block_freeze(make_map):
    from kernelsim.maps.map import bpf_map_mmap
    m = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 8, 1, F.BPF_F_MMAPABLE)
    mm = bpf_map_mmap(m, True)
    mm.view[0:2] = b"hi"
    assert m.writecnt == 1
    mm.close()
    assert m.writecnt == 0
    m.frozen = True
    assert err(bpf_map_mmap, m, True) == errno.EPERM
    assert bpf_map_mmap(m, False).view.readonly
