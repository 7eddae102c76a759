"""kernelsim/maps/hashtab.py: HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH."""

import errno
import struct

import pytest

from kernelsim.cred import Cred
from kernelsim.errors import BpfError
from kernelsim.maps.map import bpf_map_copy_value, bpf_map_update_value
from kernelsim.uapi import ENOTSUPP, BpfMapFlags as F, BpfMapType as T

from tests.kernelsim.maps.mapkit import build_map

k4 = lambda i: struct.pack("<I", i)  # noqa: E731


def errno_of(fn, *a):
    with pytest.raises(BpfError) as e:
        fn(*a)
    return e.value.errno


@pytest.mark.parametrize("args, err", [
    ((4, 0, 1, 0), errno.EINVAL), ((0, 4, 1, 0), errno.EINVAL), ((4, 4, 0, 0), errno.EINVAL),
    ((4, 4, 1, 1 << 20), errno.EINVAL), ((4, 4, 1, F.BPF_F_NO_COMMON_LRU), errno.EINVAL),
    ((4, 4, 1, F.BPF_F_RDONLY_PROG | F.BPF_F_WRONLY_PROG), errno.EINVAL),
    ((2048, (1 << 22) - 2048 - 48, 1, 0), errno.E2BIG),
])
def test_alloc_check(kernel, args, err):
    assert errno_of(build_map, kernel, T.BPF_MAP_TYPE_HASH, *args) == err


def test_lru_rules(kernel):
    assert errno_of(build_map, kernel, T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 1, F.BPF_F_NO_PREALLOC) == ENOTSUPP
    assert errno_of(build_map, kernel, T.BPF_MAP_TYPE_PERCPU_HASH, 4, 40000, 1) == errno.E2BIG
    nobody = Cred.make(1000)
    assert errno_of(build_map, kernel, T.BPF_MAP_TYPE_HASH, 4, 4, 1, F.BPF_F_ZERO_SEED, 0, nobody) == errno.EPERM
    m = build_map(kernel, T.BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 4, 3, F.BPF_F_NO_COMMON_LRU)
    assert m.max_entries == 4            # rounded to a multiple of the 2 CPUs


def test_update_flags_and_full(make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 4, 2)
    up = m.ops.map_update_elem
    up(m, k4(1), k4(10), 0)
    assert errno_of(up, m, k4(1), k4(0), 1) == errno.EEXIST
    assert errno_of(up, m, k4(2), k4(0), 2) == errno.ENOENT
    assert errno_of(up, m, k4(1), k4(0), 3) == errno.EINVAL
    assert errno_of(up, m, k4(1), k4(0), 4) == errno.EINVAL      # F_LOCK without a spin lock
    up(m, k4(2), k4(20), 0)
    assert errno_of(up, m, k4(3), k4(0), 0) == errno.E2BIG
    up(m, k4(2), k4(21), 0)                                      # replacing when full is fine
    assert bpf_map_copy_value(m, k4(2), 0) == k4(21)
    assert errno_of(m.ops.map_delete_elem, m, k4(9)) == errno.ENOENT


def test_replaced_value_moves_and_old_pointer_stays_readable(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 4, 4)
    m.ops.map_update_elem(m, k4(1), k4(10), 0)
    old = m.ops.map_lookup_elem(m, k4(1))
    m.ops.map_update_elem(m, k4(1), k4(11), 0)
    new = m.ops.map_lookup_elem(m, k4(1))
    assert new != old and kernel.mem.read(old, 4) == k4(10) and kernel.mem.read(new, 4) == k4(11)


def test_get_next_key_bucket_order_zero_seed(make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 4, 8, F.BPF_F_ZERO_SEED)
    for i in range(6):
        m.ops.map_update_elem(m, k4(i * 7), k4(i), 0)
    keys, key = [], None
    while True:
        try:
            key = m.ops.map_get_next_key(m, key)
        except BpfError as e:
            assert e.errno == errno.ENOENT
            break
        keys.append(struct.unpack("<I", key)[0])
    # the order Linux 6.18 gives for these keys (tests/syscall/test_maps_realkernel.py)
    assert sorted(keys) == [0, 7, 14, 21, 28, 35] and len(keys) == 6
    assert m.ops.map_get_next_key(m, k4(12345)) == k4(keys[0])      # missing key -> first


def test_percpu_program_and_syscall_views(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4)
    kernel.current_cpu = 1
    m.ops.map_update_elem(m, k4(1), k4(7), 0)                    # program side: CPU 1 only
    assert bpf_map_copy_value(m, k4(1), 0) == bytes(8) + k4(7) + bytes(4)
    bpf_map_update_value(m, k4(1), k4(1) + bytes(4) + k4(2) + bytes(4), 0)
    kernel.current_cpu = 0
    assert kernel.mem.read(m.ops.map_lookup_elem(m, k4(1)), 4) == k4(1)
    assert kernel.mem.read(m.ops.map_lookup_percpu_elem(m, k4(1), 1), 4) == k4(2)
    assert m.ops.map_lookup_percpu_elem(m, k4(1), 5) == 0
    assert errno_of(m.ops.map_update_elem, m, k4(1), k4(0), 4) == errno.EINVAL


def test_lru_evicts_least_recently_used(make_map):
    m = make_map(T.BPF_MAP_TYPE_LRU_HASH, 4, 4, 3)
    for i in range(3):
        m.ops.map_update_elem(m, k4(i), k4(i), 0)
    m.ops.map_lookup_elem(m, k4(0))                              # a program use of key 0
    m.ops.map_update_elem(m, k4(3), k4(3), 0)                    # evicts key 1
    assert m.ops.map_lookup_elem(m, k4(1)) == 0
    assert all(m.ops.map_lookup_elem(m, k4(i)) for i in (0, 2, 3))


def test_lookup_and_delete_and_for_each(make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 4, 4)
    for i in range(3):
        m.ops.map_update_elem(m, k4(i), k4(i + 100), 0)
    assert m.ops.map_lookup_and_delete_elem(m, k4(1), 0) == k4(101)
    assert errno_of(m.ops.map_lookup_and_delete_elem, m, k4(1), 0) == errno.ENOENT
    seen = []
    assert m.ops.map_for_each_callback(m, lambda k, v: seen.append(k) or 0) == 2
    assert m.ops.map_for_each_callback(m, lambda k, v: 1) == 1
