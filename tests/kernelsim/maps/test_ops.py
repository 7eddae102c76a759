"""kernelsim/maps/ops.py and map.py: the contract the helpers and the verifier code against."""

import dataclasses

import pytest

from kernelsim.maps import BPF_MAP_TYPES, BpfMapOps, bpf_map_value_size
from kernelsim.maps.map import MAP_OBJ_SIZE, bpf_map_copy_value, bpf_map_update_value
from kernelsim.uapi import BpfMapType as T


def test_ops_is_frozen_and_slotted():
    ops = BpfMapOps()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ops.map_lookup_elem = len
    assert all(getattr(ops, f.name) is None for f in dataclasses.fields(ops))


def test_registry_is_one_dict_of_ops():
    assert all(isinstance(o, BpfMapOps) for o in BPF_MAP_TYPES.values())
    assert T.BPF_MAP_TYPE_HASH in BPF_MAP_TYPES and T.BPF_MAP_TYPE_RINGBUF in BPF_MAP_TYPES


def test_map_addr_is_a_region_owned_by_the_map(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    region = kernel.mem.region_of(m.addr)
    assert region.owner is m and region.size == MAP_OBJ_SIZE and not region.writable


def test_values_live_in_kernel_memory(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 8, 4)
    m.ops.map_update_elem(m, b"\1\0\0\0", b"abcdefgh", 0)
    addr = m.ops.map_lookup_elem(m, b"\1\0\0\0")
    assert kernel.mem.read(addr, 8) == b"abcdefgh"
    kernel.mem.store(addr, 4, 0x11223344)          # a program store
    assert bpf_map_copy_value(m, b"\1\0\0\0", 0)[:4] == bytes.fromhex("44332211")
    assert kernel.mem.region_of(addr).owner is m
    assert m.ops.map_lookup_elem(m, b"\2\0\0\0") == 0


def test_value_size_rules(make_map):
    assert bpf_map_value_size(make_map(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 5, 1)) == 16
    assert bpf_map_value_size(make_map(T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1)) == 4
    assert bpf_map_value_size(make_map(T.BPF_MAP_TYPE_HASH, 4, 5, 1)) == 5


def test_free_unmaps_everything(kernel, make_map):
    m = make_map(T.BPF_MAP_TYPE_HASH, 4, 8, 4)
    m.ops.map_update_elem(m, bytes(4), bytes(8), 0)
    addr, maddr = m.ops.map_lookup_elem(m, bytes(4)), m.addr
    m.put()
    assert kernel.mem.region_of(addr) is None and kernel.mem.region_of(maddr) is None


def test_update_value_generic_path(make_map):
    m = make_map(T.BPF_MAP_TYPE_ARRAY, 4, 4, 2)
    bpf_map_update_value(m, b"\1\0\0\0", b"wxyz", 0)
    assert bpf_map_copy_value(m, b"\1\0\0\0", 0) == b"wxyz"
