"""kernelsim/maps/stackmap.py."""

import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfMapType as T
from tests.kernelsim.maps.mapkit import build_map


def test_stackid(make_map):
    m = make_map(T.BPF_MAP_TYPE_STACK_TRACE, 4, 24, 4)
    ips = [0xffffffff81000010, 0xffffffff81000020, 0xffffffff81000030]
    sid = m.ops.map_get_stackid(m, ips, 0)
    assert m.ops.map_get_stackid(m, ips, 0) == sid
    assert m.ops.map_copy_value(m, sid.to_bytes(4, "little"), 0)[:8] == ips[0].to_bytes(8, "little")
    other = m.ops.map_get_stackid(m, ips, 1 | (1 << 10))             # skip 1, BPF_F_REUSE_STACKID
    assert m.ops.map_copy_value(m, other.to_bytes(4, "little"), 0)[:8] == ips[1].to_bytes(8, "little")
    with pytest.raises(BpfError) as e:
        m.ops.map_get_stackid(m, ips, 3)
    assert e.value.errno == errno.EFAULT
    with pytest.raises(BpfError) as e:
        m.ops.map_get_stackid(m, ips, 1 << 12)
    assert e.value.errno == errno.EINVAL
    assert m.ops.map_get_next_key(m, None) == min(m.data.buckets).to_bytes(4, "little")
    m.ops.map_delete_elem(m, sid.to_bytes(4, "little"))
    with pytest.raises(BpfError) as e:
        m.ops.map_delete_elem(m, (1 << 10).to_bytes(4, "little"))
    assert e.value.errno == errno.E2BIG


@pytest.mark.parametrize("vs", [4, 12, 8 * 128])
def test_value_size(kernel, vs):
    with pytest.raises(BpfError) as e:
        build_map(kernel, T.BPF_MAP_TYPE_STACK_TRACE, 4, vs, 1)
    assert e.value.errno == errno.EINVAL
