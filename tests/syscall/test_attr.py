"""syscall/attr.py: the bpf() entry rules (no real kernel needed)."""

from __future__ import annotations

import ctypes
import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfCmd
from syscall import abi, attr as A


def _err(fn, *args):
    with pytest.raises(BpfError) as e:
        fn(*args)
    return e.value.errno


# the 6.18 table as byte offsets (offsetofend of each command's last field)
EXPECTED_END = {
    "BPF_MAP_CREATE": 92, "BPF_MAP_LOOKUP_ELEM": 32, "BPF_MAP_UPDATE_ELEM": 32,
    "BPF_MAP_DELETE_ELEM": 16, "BPF_MAP_GET_NEXT_KEY": 24, "BPF_PROG_LOAD": 168,
    "BPF_OBJ_PIN": 20, "BPF_OBJ_GET": 20, "BPF_PROG_ATTACH": 32, "BPF_PROG_DETACH": 32,
    "BPF_PROG_TEST_RUN": 76, "BPF_PROG_GET_NEXT_ID": 8, "BPF_MAP_GET_NEXT_ID": 8,
    "BPF_PROG_GET_FD_BY_ID": 4, "BPF_MAP_GET_FD_BY_ID": 12, "BPF_OBJ_GET_INFO_BY_FD": 16,
    "BPF_PROG_QUERY": 64, "BPF_RAW_TRACEPOINT_OPEN": 24, "BPF_BTF_LOAD": 40,
    "BPF_BTF_GET_FD_BY_ID": 16, "BPF_TASK_FD_QUERY": 48, "BPF_MAP_LOOKUP_AND_DELETE_ELEM": 32,
    "BPF_MAP_FREEZE": 4, "BPF_BTF_GET_NEXT_ID": 8, "BPF_MAP_LOOKUP_BATCH": 56,
    "BPF_MAP_LOOKUP_AND_DELETE_BATCH": 56, "BPF_MAP_UPDATE_BATCH": 56, "BPF_MAP_DELETE_BATCH": 56,
    "BPF_LINK_CREATE": 60, "BPF_LINK_UPDATE": 16, "BPF_LINK_GET_FD_BY_ID": 4,
    "BPF_LINK_GET_NEXT_ID": 8, "BPF_ENABLE_STATS": 4, "BPF_ITER_CREATE": 8,
    "BPF_LINK_DETACH": 4, "BPF_PROG_BIND_MAP": 12, "BPF_TOKEN_CREATE": 8,
    "BPF_PROG_STREAM_READ_BY_FD": 20,
}


def test_table_covers_every_command():
    assert set(A.LAST_FIELD) == set(BpfCmd)
    assert {c.name: e for c, e in A.LAST_FIELD_END.items()} == EXPECTED_END


def test_last_field_names_are_fields():
    for cmd, name in A.LAST_FIELD.items():
        f = abi.field("union bpf_attr", name)
        assert A.LAST_FIELD_END[cmd] == f.offset + f.size


def test_unknown_command():
    assert _err(A.last_field_end, 38) == errno.EINVAL
    assert _err(A.check_attr, 1000, bytes(168)) == errno.EINVAL
    assert _err(A.sys_bpf_entry, -1, b"", 0) == errno.EINVAL


def test_page_size_limit():
    assert _err(A.copy_attr, bytes(4097), 4097) == errno.E2BIG
    assert abi.to_bytes(A.copy_attr(bytes(4096), 4096)) == bytes(168)
    # size is an unsigned int: -1 is 4 GiB
    assert _err(A.copy_attr, b"", -1) == errno.E2BIG


def test_tail_past_the_union():
    raw = bytearray(300)
    raw[168] = 1
    assert _err(A.copy_attr, bytes(raw), 300) == errno.E2BIG
    assert A.copy_attr(bytes(raw), 168) is not None     # size stops before the dirty byte
    raw[168] = 0
    raw[299] = 5
    assert _err(A.copy_attr, bytes(raw), 300) == errno.E2BIG
    assert A.copy_attr(bytes(raw), 299) is not None
    # the tail beyond the user's memory: EFAULT
    assert _err(A.copy_attr, bytes(170), 200) == errno.EFAULT


def test_short_attr_is_zero_filled():
    a = A.copy_attr(b"\x02\x00\x00\x00\x04\x00\x00\x00\xff", 8)
    assert a.map_type == 2 and a.key_size == 4 and a.value_size == 0
    assert abi.to_bytes(A.copy_attr(b"", 0)) == bytes(168)
    assert _err(A.copy_attr, b"\x01\x02", 8) == errno.EFAULT


def test_check_attr_per_command():
    for cmd, end in A.LAST_FIELD_END.items():
        clean = bytearray(168)
        if end > 0:
            clean[end - 1] = 0xFF
        assert A.check_attr(cmd, bytes(clean)) is True
        assert not A.CHECK_ATTR(cmd, bytes(clean))
        if end < 168:
            dirty = bytearray(clean)
            dirty[end] = 1
            assert A.CHECK_ATTR(cmd, bytes(dirty))
            assert _err(A.check_attr, cmd, bytes(dirty)) == errno.EINVAL
            dirty = bytearray(clean)
            dirty[167] = 1
            assert _err(A.check_attr, cmd, abi.attr_from_bytes(dirty)) == errno.EINVAL


def test_check_attr_takes_cdata():
    a = abi.new_attr()
    a.map_fd = 3
    a.flags = 2
    assert A.check_attr(BpfCmd.BPF_MAP_UPDATE_ELEM, a)
    a.batch.count = 1    # offset 32: just past the elem commands' flags
    assert _err(A.check_attr, BpfCmd.BPF_MAP_UPDATE_ELEM, a) == errno.EINVAL
    assert A.check_attr(BpfCmd.BPF_MAP_LOOKUP_BATCH, a)


def test_entry_order():
    # tail (E2BIG) before the unknown command (EINVAL)
    raw = bytearray(200)
    raw[180] = 1
    assert _err(A.sys_bpf_entry, 99, bytes(raw), 200) == errno.E2BIG
    # CHECK_ATTR after copy
    raw = bytearray(168)
    raw[4] = 1
    assert _err(A.sys_bpf_entry, BpfCmd.BPF_MAP_FREEZE, bytes(raw), 168) == errno.EINVAL
    cmd, a = A.sys_bpf_entry(BpfCmd.BPF_MAP_FREEZE, bytes(raw), 4)   # short: byte 4 not copied
    assert cmd is BpfCmd.BPF_MAP_FREEZE and abi.to_bytes(a) == bytes(168)


def test_uarg_tail_zero_for_info_structs():
    A.bpf_check_uarg_tail_zero(bytes(232 + 8), 232, 240)
    assert _err(A.bpf_check_uarg_tail_zero, bytes(232) + b"\x01", 232, 233) == errno.E2BIG
    assert _err(A.bpf_check_uarg_tail_zero, bytes(5000), 232, 4097) == errno.E2BIG
    A.bpf_check_uarg_tail_zero(b"\x01" * 10, 232, 10)     # shorter than the kernel's: fine


def test_copy_attr_from_user():
    buf = ctypes.create_string_buffer(256)
    buf[0] = b"\x02"
    a = A.copy_attr_from_user(ctypes.addressof(buf), 256)
    assert a.map_type == 2
    buf[200] = b"\x01"
    assert _err(A.copy_attr_from_user, ctypes.addressof(buf), 256) == errno.E2BIG
    assert _err(A.copy_attr_from_user, 0, 8) == errno.EFAULT
    assert _err(A.copy_attr_from_user, 16, 300) == errno.EFAULT   # the tail read faults first
    cmd, a = A.sys_bpf_entry(BpfCmd.BPF_MAP_CREATE, ctypes.addressof(buf), 100)
    assert a.map_type == 2
