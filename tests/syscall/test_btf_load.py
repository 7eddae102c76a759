"""syscall/btf_cmds.py: BTF_LOAD through the btf library, logs, permissions; maps with BTF."""

import errno

import pytest

from btf import BtfBuilder
from kernelsim.uapi import BpfMapType as T
from syscall import libbpf as L
from tests.syscall.simkit import machine


def blob(spin=False):
    b = BtfBuilder()
    i32 = b.add_int("int", 4, 1)
    u32 = b.add_int("unsigned int", 4, 0)
    st = b.add_struct("val", 8)
    b.add_field("a", i32, 0)
    b.add_field("b", u32, 32)
    if spin:
        sl = b.add_struct("bpf_spin_lock", 4)
        b.add_field("val", u32, 0)
        lk = b.add_struct("locked", 8)
        b.add_field("lock", sl, 0)
        b.add_field("x", u32, 32)
    return b.to_bytes()


def test_load_log_and_errors():
    t = machine().spawn("t")
    fd, log = L.btf_load(t, blob(), log_level=1)
    assert fd >= 3 and "magic: 0xeb9f" in log
    with pytest.raises(OSError) as e:
        L.btf_load(t, b"\0" * 24, log_level=1)
    assert e.value.errno == errno.EINVAL and "Invalid magic" in e.value.log
    with pytest.raises(OSError) as e:
        L.btf_load(t, blob(), log_level=1, log_size=16)
    assert e.value.errno == errno.ENOSPC
    user = machine().spawn("u", uid=1000, caps=())
    with pytest.raises(OSError) as e:
        L.btf_load(user, blob())
    assert e.value.errno == errno.EPERM


def test_maps_with_btf():
    t = machine().spawn("t")
    bfd, _ = L.btf_load(t, blob(spin=True))
    o = L.MapCreateOpts(btf_fd=bfd, btf_key_type_id=1, btf_value_type_id=3)
    fd = L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", 4, 8, 1, o)
    i = L.obj_get_info_by_fd(t, fd, "map")
    assert i["btf_id"] == 2 and (i["btf_key_type_id"], i["btf_value_type_id"]) == (1, 3)
    for ks, vs, kid, vid in ((4, 4, 1, 3), (4, 8, 0, 3), (4, 8, 1, 99)):
        with pytest.raises(OSError) as e:
            L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", ks, vs, 1,
                         L.MapCreateOpts(btf_fd=bfd, btf_key_type_id=kid, btf_value_type_id=vid))
        assert e.value.errno == errno.EINVAL
    lfd = L.map_create(t, T.BPF_MAP_TYPE_HASH, "l", 4, 8, 1,
                       L.MapCreateOpts(btf_fd=bfd, btf_key_type_id=1, btf_value_type_id=5))
    assert t.files.get(lfd).obj.record == {"spin_lock": 0}
    L.map_update_elem(t, lfd, bytes(4), bytes(8), 4)                  # BPF_F_LOCK accepted
    with pytest.raises(OSError) as e:
        L.map_freeze(t, lfd)
    assert e.value.errno == 524
    kfd = L.btf_get_fd_by_id(t, 1)
    with pytest.raises(OSError) as e:
        L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", 4, 4, 1,
                     L.MapCreateOpts(btf_fd=kfd, btf_key_type_id=1, btf_value_type_id=1))
    assert e.value.errno == errno.EACCES
