"""kernelsim/maps/bloom_filter.py."""

import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfMapFlags as F, BpfMapType as T
from tests.kernelsim.maps.mapkit import build_map


def test_membership(make_map):
    m = make_map(T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 100, F.BPF_F_ZERO_SEED, 3)
    assert m.data.nr_hash_funcs == 3 and m.data.bitset_mask == 511
    for i in range(10):
        m.ops.map_push_elem(m, i.to_bytes(4, "little"), 0)
    for i in range(10):
        m.ops.map_peek_elem(m, i.to_bytes(4, "little"))
    absent = 0
    for i in range(1000, 1100):
        try:
            m.ops.map_peek_elem(m, i.to_bytes(4, "little"))
        except BpfError as e:
            assert e.errno == errno.ENOENT
            absent += 1
    assert absent > 80
    with pytest.raises(BpfError) as e:
        m.ops.map_push_elem(m, bytes(4), 1)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(BpfError) as e:
        m.ops.map_pop_elem(m)
    assert e.value.errno == errno.EOPNOTSUPP


@pytest.mark.parametrize("args", [(4, 4, 1, 0, 0), (0, 0, 1, 0, 0), (0, 4, 0, 0, 0), (0, 4, 1, 0, 16)])
def test_bad_attrs(kernel, args):
    ks, vs, me, fl, extra = args
    with pytest.raises(BpfError) as e:
        build_map(kernel, T.BPF_MAP_TYPE_BLOOM_FILTER, ks, vs, me, fl, extra)
    assert e.value.errno == errno.EINVAL


def test_seeded_deterministically():
    from kernelsim import Kernel
    a = build_map(Kernel(seed=3), T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 10)
    b = build_map(Kernel(seed=3), T.BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 10)
    assert a.data.hash_seed == b.data.hash_seed
