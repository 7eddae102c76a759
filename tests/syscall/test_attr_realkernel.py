"""syscall/attr.py's entry rules and last-field table against the running Linux 6.18 bpf().

For every command: a "base" attr the kernel accepts past CHECK_ATTR (it succeeds or fails with
something other than EINVAL), the same attr with the command's last field set to a non-zero value
the handler accepts ("inside": still not EINVAL), and the base attr with one non-zero byte just past
the last field ("past": EINVAL). Where "inside" reaches the last byte of the field, this pins the
end offset exactly; where only a low byte can hold a valid value (flags), the field boundaries of
the layout do the rest (listed in NOT_EXACT). syscall.attr must predict the same for each probe.
"""

from __future__ import annotations

import ctypes
import errno
import struct

import pytest

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfCmd
from syscall import abi, attr as A
from tests.realkernel import (CAP_BPF, close_kept_fds, errname, real_bpf, real_bpf_as,
                              real_bpf_at, real_bpf_obj_fds, realkernel_marks)

pytestmark = realkernel_marks

BAD_FD = 0xFFFFFFFF                 # -1
BAD_PTR = 0xFFFF_FFFF_FFFF_0000     # a kernel-half address: EFAULT on access
AT_FDCWD = (-100) & 0xFFFFFFFF
BPF_F_PATH_FD = 1 << 14
BPF_F_TOKEN_FD = 1 << 16
BPF_F_LOCK = 4
BPF_F_RDONLY = 1 << 3
BPF_EXIST = 2
BPF_TCX_INGRESS = 46


@pytest.fixture(scope="module")
def objs():
    """A 4-entry array map, a hash map and a socket-filter program (fds kept for the module)."""
    keep = {}
    a = abi.new_attr()
    a.map_type, a.key_size, a.value_size, a.max_entries = 2, 4, 8, 4
    keep["array"], err, _ = real_bpf(0, abi.to_bytes(a), keep_fd=True)
    a.map_type = 1
    keep["hash"], err2, _ = real_bpf(0, abi.to_bytes(a), keep_fd=True)
    insns = (ctypes.c_uint64 * 2)(0xb7, 0x95)          # r0 = 0; exit
    lic = ctypes.create_string_buffer(b"GPL")
    keep["insns"], keep["license"] = insns, lic
    keep["prog_attr"] = _prog_attr(insns, lic)
    keep["prog"], err3, _ = real_bpf(5, abi.to_bytes(keep["prog_attr"]), keep_fd=True)
    assert min(keep["array"], keep["hash"], keep["prog"]) >= 0, (err, err2, err3)
    keep["key"] = ctypes.create_string_buffer(4)
    keep["value"] = ctypes.create_string_buffer(64)
    yield keep
    close_kept_fds()


def _prog_attr(insns, lic):
    a = abi.new_attr()
    a.prog_type = 1
    a.insn_cnt = 2
    a.insns = ctypes.addressof(insns)
    a.license = ctypes.addressof(lic)
    return a


def _elem(o, map_key="array", flags=0, map_fd=None):
    a = abi.new_attr()
    a.map_fd = o[map_key] if map_fd is None else map_fd
    a.key = ctypes.addressof(o["key"])
    a.value = ctypes.addressof(o["value"])
    a.flags = flags
    return a


def _set(field, value):
    def mutate(a):
        obj, name = a, field
        while "." in name:
            head, name = name.split(".", 1)
            obj = getattr(obj, head)
        setattr(obj, name, value)
    return mutate


def _seq(*muts):
    def mutate(a):
        for m in muts:
            m(a)
    return mutate


def _base(**fields):
    def build(o):
        a = abi.new_attr()
        for k, v in fields.items():
            _set(k, v)(a)
        return a
    return build


# cmd -> (base attr builder, "inside" mutation of the last field or None)
PROBES = {
    BpfCmd.BPF_MAP_CREATE: (
        lambda o: _base(map_type=2, key_size=4, value_size=4, max_entries=1)(o),
        _seq(_set("excl_prog_hash", BAD_PTR), _set("excl_prog_hash_size", 32))),   # EFAULT
    BpfCmd.BPF_MAP_LOOKUP_ELEM: (lambda o: _elem(o),
                                 _seq(_set("flags", BPF_F_LOCK), _set("map_fd", BAD_FD))),
    BpfCmd.BPF_MAP_UPDATE_ELEM: (lambda o: _elem(o), _set("flags", BPF_EXIST)),
    BpfCmd.BPF_MAP_DELETE_ELEM: (lambda o: _base(map_fd=o["hash"],
                                                 key=ctypes.addressof(o["key"]))(o),
                                 _set("key", BAD_PTR)),
    BpfCmd.BPF_MAP_GET_NEXT_KEY: (lambda o: _elem(o), _set("next_key", BAD_PTR)),
    BpfCmd.BPF_PROG_LOAD: (lambda o: _prog_attr(o["insns"], o["license"]),
                           _set("keyring_id", -0x12345678)),
    BpfCmd.BPF_OBJ_PIN: (lambda o: _base(bpf_fd=o["array"], file_flags=BPF_F_PATH_FD,
                                         path_fd=0x7FFFFFFF)(o), _set("path_fd", -1)),
    BpfCmd.BPF_OBJ_GET: (_base(file_flags=BPF_F_PATH_FD, path_fd=0x7FFFFFFF),
                         _set("path_fd", -1)),
    BpfCmd.BPF_PROG_ATTACH: (_base(attach_type=BPF_TCX_INGRESS, attach_bpf_fd=BAD_FD),
                             _set("expected_revision", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_PROG_DETACH: (_base(), _set("expected_revision", 0xFF00000000000000)),
    BpfCmd.BPF_PROG_TEST_RUN: (_base(**{"test.prog_fd": BAD_FD}),
                               _set("test.batch_size", 0xFFFFFFFF)),
    BpfCmd.BPF_PROG_GET_NEXT_ID: (_base(), _set("next_id", 0xFFFFFFFF)),
    BpfCmd.BPF_MAP_GET_NEXT_ID: (_base(), _set("next_id", 0xFFFFFFFF)),
    BpfCmd.BPF_PROG_GET_FD_BY_ID: (_base(), _set("prog_id", 0xFFFFFFF0)),
    BpfCmd.BPF_MAP_GET_FD_BY_ID: (_base(), _set("open_flags", BPF_F_RDONLY)),
    BpfCmd.BPF_OBJ_GET_INFO_BY_FD: (lambda o: _base(**{"info.bpf_fd": o["array"],
                                                       "info.info_len": 8})(o),
                                    _set("info.info", BAD_PTR)),
    BpfCmd.BPF_PROG_QUERY: (_base(), _set("query.revision", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_RAW_TRACEPOINT_OPEN: (_base(**{"raw_tracepoint.prog_fd": BAD_FD}),
                                     _set("raw_tracepoint.cookie", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_BTF_LOAD: (_base(btf_flags=BPF_F_TOKEN_FD, btf_token_fd=0x7FFFFFFF),
                          _set("btf_token_fd", -1)),
    BpfCmd.BPF_BTF_GET_FD_BY_ID: (_base(open_flags=BPF_F_TOKEN_FD, fd_by_id_token_fd=0x7FFFFFFF),
                                  _set("fd_by_id_token_fd", -1)),
    BpfCmd.BPF_TASK_FD_QUERY: (_base(), _set("task_fd_query.probe_addr", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM: (
        lambda o: _elem(o, "hash"), _seq(_set("flags", BPF_F_LOCK), _set("map_fd", BAD_FD))),
    BpfCmd.BPF_MAP_FREEZE: (_base(map_fd=BAD_FD), _set("map_fd", BAD_FD)),
    BpfCmd.BPF_BTF_GET_NEXT_ID: (_base(), _set("next_id", 0xFFFFFFFF)),
    BpfCmd.BPF_MAP_LOOKUP_BATCH: (_base(**{"batch.map_fd": BAD_FD}),
                                  _set("batch.flags", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH: (_base(**{"batch.map_fd": BAD_FD}),
                                             _set("batch.flags", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_MAP_UPDATE_BATCH: (_base(**{"batch.map_fd": BAD_FD}),
                                  _set("batch.flags", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_MAP_DELETE_BATCH: (_base(**{"batch.map_fd": BAD_FD}),
                                  _set("batch.flags", 0xFFFFFFFFFFFFFFFF)),
    BpfCmd.BPF_LINK_CREATE: (_base(**{"link_create.prog_fd": BAD_FD}),
                             _set("link_create.uprobe_multi.pid", 0xFFFFFFFF)),
    BpfCmd.BPF_LINK_UPDATE: (_base(**{"link_update.link_fd": BAD_FD}),
                             _set("link_update.old_prog_fd", 0xFFFFFFFF)),
    BpfCmd.BPF_LINK_GET_FD_BY_ID: (_base(), _set("link_id", 0xFFFFFFF0)),
    BpfCmd.BPF_LINK_GET_NEXT_ID: (_base(), _set("next_id", 0xFFFFFFFF)),
    BpfCmd.BPF_ENABLE_STATS: (_base(), None),             # see test_enable_stats_last_field
    BpfCmd.BPF_ITER_CREATE: (_base(**{"iter_create.link_fd": BAD_FD}), None),   # flags must be 0
    BpfCmd.BPF_LINK_DETACH: (_base(**{"link_detach.link_fd": BAD_FD}),
                             _set("link_detach.link_fd", BAD_FD)),
    BpfCmd.BPF_PROG_BIND_MAP: (_base(**{"prog_bind_map.prog_fd": BAD_FD}), None),  # flags 0 only
    BpfCmd.BPF_TOKEN_CREATE: (_base(**{"token_create.bpffs_fd": BAD_FD}),
                              _set("token_create.bpffs_fd", BAD_FD)),
    BpfCmd.BPF_PROG_STREAM_READ_BY_FD: (_base(**{"prog_stream_read.prog_fd": BAD_FD}),
                                        _set("prog_stream_read.prog_fd", BAD_FD)),
}

# last fields where a valid non-zero value only reaches a low byte (flags-like fields)
NOT_EXACT = {BpfCmd.BPF_MAP_CREATE, BpfCmd.BPF_MAP_LOOKUP_ELEM, BpfCmd.BPF_MAP_UPDATE_ELEM,
             BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, BpfCmd.BPF_MAP_GET_FD_BY_ID,
             BpfCmd.BPF_ENABLE_STATS, BpfCmd.BPF_ITER_CREATE, BpfCmd.BPF_PROG_BIND_MAP}


def test_every_command_has_a_probe():
    assert set(PROBES) == set(BpfCmd) == set(A.LAST_FIELD)


def _sim(cmd, data: bytes) -> int:
    """What syscall.attr predicts: 0 (passes the entry) or the errno it raises."""
    try:
        A.sys_bpf_entry(cmd, data, len(data))
        return 0
    except BpfError as e:
        return e.errno


@pytest.mark.parametrize("cmd", list(BpfCmd), ids=lambda c: c.name)
def test_last_field(objs, cmd):
    build, inside = PROBES[cmd]
    end = A.LAST_FIELD_END[cmd]
    base = abi.to_bytes(build(objs))
    ret, err, _ = real_bpf(cmd, base)
    assert err != errno.EINVAL, f"base attr rejected with EINVAL ({cmd.name})"
    assert _sim(cmd, base) == 0
    if inside is not None:
        a = abi.attr_from_bytes(base)
        inside(a)
        data = abi.to_bytes(a)
        assert any(data[A.last_field_end(cmd) - abi.field("union bpf_attr",
                                                          A.LAST_FIELD[cmd]).size:end])
        ret, err, _ = real_bpf(cmd, data)
        assert err != errno.EINVAL, f"inside: {errname(err)}"
        assert _sim(cmd, data) == 0
        if cmd not in NOT_EXACT:
            assert data[end - 1] != 0, "the inside probe should reach the field's last byte"
    if end < A.BPF_ATTR_SIZE:
        past = bytearray(base)
        past[end] = 0x01
        ret, err, _ = real_bpf(cmd, past)
        assert err == errno.EINVAL, f"past the last field: {errname(err)}"
        assert _sim(cmd, bytes(past)) == errno.EINVAL
        # and at the last byte of the union, still EINVAL, not E2BIG
        past = bytearray(base)
        past[A.BPF_ATTR_SIZE - 1] = 0x80
        assert real_bpf(cmd, past)[1] == errno.EINVAL
        assert _sim(cmd, bytes(past)) == errno.EINVAL
    else:
        assert cmd == BpfCmd.BPF_PROG_LOAD   # the only command that reads up to the union's end
    assert real_bpf_obj_fds().keys() >= {objs["array"], objs["hash"], objs["prog"]}


def test_enable_stats_last_field():
    """enable_stats.type accepts no non-zero value, but CHECK_ATTR runs before the capability
    check: as an unprivileged caller a non-zero type gives EPERM, a byte past it EINVAL."""
    inside = struct.pack("<I", 0xFFFFFFFF).ljust(168, b"\0")
    past = bytearray(168)
    past[4] = 1
    stats = BpfCmd.BPF_ENABLE_STATS
    assert real_bpf_as(65534, 65534, [CAP_BPF], stats, inside) == (-1, errno.EPERM)
    assert real_bpf_as(65534, 65534, [CAP_BPF], stats, past) == (-1, errno.EINVAL)


def test_union_size_is_168():
    """A non-zero byte at 168 of a bigger attr: E2BIG; at 167 the union still holds it."""
    for cmd in (BpfCmd.BPF_MAP_CREATE, BpfCmd.BPF_BTF_GET_NEXT_ID, BpfCmd.BPF_PROG_LOAD):
        big = bytearray(176)
        big[168] = 1
        assert real_bpf(cmd, big)[1] == errno.E2BIG
        assert _sim(cmd, bytes(big)) == errno.E2BIG
    for cmd in (BpfCmd.BPF_MAP_CREATE, BpfCmd.BPF_BTF_GET_NEXT_ID):   # PROG_LOAD: E2BIG insn_cnt
        big = bytearray(176)
        big[167] = 1
        assert real_bpf(cmd, big)[1] != errno.E2BIG
        assert _sim(cmd, bytes(big)) != errno.E2BIG
    assert A.BPF_ATTR_SIZE == abi.attr_size() == 168


def test_size_rules():
    create = struct.pack("<IIII", 2, 4, 4, 1)
    # a whole page with a zero tail is fine, one byte more is E2BIG whatever it holds
    assert real_bpf(0, create.ljust(4096, b"\0"))[1] == 0
    assert real_bpf(0, create.ljust(4097, b"\0"))[1] == errno.E2BIG
    assert _sim(0, create.ljust(4096, b"\0")) == 0
    assert _sim(0, create.ljust(4097, b"\0")) == errno.E2BIG
    # short attrs are zero-extended: size 0 is legal
    assert real_bpf(BpfCmd.BPF_BTF_GET_NEXT_ID, b"", 0)[1] == 0
    assert _sim(BpfCmd.BPF_BTF_GET_NEXT_ID, b"") == 0
    # a 16-byte MAP_CREATE
    assert real_bpf(0, create)[1] == 0


def test_unknown_commands():
    for cmd in (38, 39, 100, 1 << 16, 0x7FFFFFFF, -1):
        assert real_bpf(cmd, bytes(168))[1] == errno.EINVAL
        assert _sim(cmd, bytes(168)) == errno.EINVAL
    # the tail rule comes before the dispatch
    big = bytearray(200)
    big[190] = 1
    assert real_bpf(38, big)[1] == errno.E2BIG
    assert _sim(38, bytes(big)) == errno.E2BIG


def test_faults():
    """A bad attr address: EFAULT; with size 0 nothing is read (FREEZE then sees map_fd 0, stdin:
    EINVAL). GET_NEXT_ID with size 0 at NULL faults writing next_id back."""
    assert real_bpf_at(BpfCmd.BPF_MAP_CREATE, 0, 16) == (-1, errno.EFAULT)
    assert real_bpf_at(BpfCmd.BPF_MAP_FREEZE, 0, 0) == (-1, errno.EINVAL)
    assert real_bpf_at(BpfCmd.BPF_BTF_GET_NEXT_ID, 0, 0) == (-1, errno.EFAULT)
    with pytest.raises(BpfError) as e:
        A.copy_attr_from_user(0, 16)
    assert e.value.errno == errno.EFAULT
    assert abi.to_bytes(A.copy_attr_from_user(0, 0)) == bytes(168)


# --- the harness itself (tests/realkernel.py) -------------------------------------------------

def test_real_bpf_as_drops_capabilities(objs):
    from tests.realkernel import CAP_PERFMON, current_caps, run_as
    eff, prm = run_as(65534, 65534, [CAP_BPF], current_caps)
    assert eff == prm == 1 << CAP_BPF
    assert run_as(65534, 65534, [], lambda: __import__("os").getresuid()) == (65534,) * 3
    tp = _prog_attr(objs["insns"], objs["license"])
    tp.prog_type = 5                                    # TRACEPOINT: needs CAP_BPF and CAP_PERFMON
    data = abi.to_bytes(tp)
    assert real_bpf_as(65534, 65534, [CAP_BPF], 5, data) == (-1, errno.EPERM)
    ret, err = real_bpf_as(65534, 65534, [CAP_BPF, CAP_PERFMON], 5, data)
    assert (ret >= 0, err) == (True, 0)
    # unprivileged_bpf_disabled = 2: no CAP_BPF, no map
    from tests.realkernel import unprivileged_bpf_disabled
    create = struct.pack("<IIII", 2, 4, 4, 1)
    with unprivileged_bpf_disabled(2):
        assert real_bpf_as(65534, 65534, [], 0, create) == (-1, errno.EPERM)
    ret, err, after = real_bpf_as(0, 0, [CAP_BPF], 0, create, with_attr=True)
    assert err == 0 and after == create


def test_real_bpf_writes_back_and_keeps_fds():
    from tests.realkernel import real_fds_closed
    with real_fds_closed():
        create = struct.pack("<IIII", 2, 4, 4, 1)
        fd, err, _ = real_bpf(0, create, keep_fd=True)
        assert fd >= 0 and real_bpf_obj_fds().get(fd) == "bpf-map"
        info = ctypes.create_string_buffer(104)
        a = abi.new_attr()
        a.info.bpf_fd, a.info.info_len, a.info.info = fd, 104, ctypes.addressof(info)
        ret, err, after = real_bpf(BpfCmd.BPF_OBJ_GET_INFO_BY_FD, abi.to_bytes(a))
        assert (ret, err) == (0, 0)
        m = abi.new_struct("struct bpf_map_info", info.raw)
        assert (m.type, m.key_size, m.value_size, m.max_entries) == (2, 4, 4, 1)
        assert abi.attr_from_bytes(after).info.info_len == 104   # written back (6.18 size)
    assert fd not in real_bpf_obj_fds()


def test_unprivileged_sysctl_set_and_restored():
    from tests.realkernel import read_sysctl, unprivileged_bpf_disabled
    path = "/proc/sys/kernel/unprivileged_bpf_disabled"
    before = read_sysctl(path)
    create = struct.pack("<IIII", 2, 4, 4, 1)
    with unprivileged_bpf_disabled(0):
        ret, err = real_bpf_as(65534, 65534, [], 0, create)
        assert (ret >= 0, err) == (True, 0)
    assert read_sysctl(path) == before
    with pytest.raises(ValueError):
        with unprivileged_bpf_disabled(1):
            pass


def test_info_struct_sizes_match_the_kernel(objs):
    """OBJ_GET_INFO_BY_FD with a page-sized zeroed buffer: the kernel writes back its own size."""
    def info_len(fd):
        buf = ctypes.create_string_buffer(4096)
        a = abi.new_attr()
        a.info.bpf_fd, a.info.info_len, a.info.info = fd, 4096, ctypes.addressof(buf)
        ret, err, after = real_bpf(BpfCmd.BPF_OBJ_GET_INFO_BY_FD, abi.to_bytes(a))
        assert (ret, err) == (0, 0)
        return abi.attr_from_bytes(after).info.info_len
    assert info_len(objs["array"]) == abi.ffi.sizeof("struct bpf_map_info") == 104
    assert info_len(objs["prog"]) == abi.ffi.sizeof("struct bpf_prog_info") == 232
    a = abi.new_attr()
    a.btf_id = 1                                            # vmlinux BTF
    fd, err, _ = real_bpf(BpfCmd.BPF_BTF_GET_FD_BY_ID, abi.to_bytes(a), keep_fd=True)
    if fd < 0:
        pytest.skip(f"no vmlinux BTF: {errname(err)}")
    try:
        assert info_len(fd) == abi.ffi.sizeof("struct bpf_btf_info") == 32
    finally:
        import os
        os.close(fd)
        from tests.realkernel import forget_fd
        forget_fd(fd)
