"""syscall/dispatch.py: attr normalisation, the entry rules, write-back, current task, logging,
close and dup."""

import ctypes
import errno

import pytest
import structlog
from structlog.testing import capture_logs

from kernelsim.uapi import BpfCmd as C, BpfMapType as T
from syscall import abi, dispatch
from syscall import libbpf as L
from tests.syscall.simkit import attr, machine


@pytest.fixture
def task():
    return machine().spawn("t")


def map_attr():
    return attr(map_type=T.BPF_MAP_TYPE_ARRAY, key_size=4, value_size=4, max_entries=1)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "cdata", "ffibuf", "ctypes", "addr"])
def test_attr_kinds(task, kind):
    a = map_attr()
    raw = bytes(abi.ffi.buffer(a))
    keep = ctypes.create_string_buffer(raw, len(raw))
    obj = {"bytes": raw, "bytearray": bytearray(raw), "memoryview": memoryview(bytearray(raw)),
           "cdata": a, "ffibuf": abi.ffi.buffer(a), "ctypes": keep, "addr": ctypes.addressof(keep)}[kind]
    size = len(raw) if kind in ("ctypes", "addr") else None
    assert task.bpf(C.BPF_MAP_CREATE, obj, size) >= 3


def test_entry_rules(task):
    raw = bytes(abi.ffi.buffer(map_attr()))
    assert task.bpf(C.BPF_MAP_CREATE, raw, 4097) == -errno.E2BIG
    assert task.bpf(C.BPF_MAP_CREATE, raw + b"\1", 169) == -errno.E2BIG
    assert task.bpf(C.BPF_MAP_CREATE, raw + bytes(10), 178) >= 0
    assert task.bpf(C.BPF_MAP_CREATE, raw, 200) == -errno.EFAULT         # size beyond the buffer
    assert task.bpf(38, raw) == -errno.EINVAL
    assert task.bpf(1 << 16, raw) == -errno.EINVAL                      # BPF_COMMON_ATTRS bits
    assert task.bpf(-1, raw) == -errno.EINVAL
    assert task.bpf(C.BPF_MAP_CREATE, raw[:12]) == -errno.EINVAL        # short: max_entries 0
    bad = bytearray(raw)
    bad[160] = 1                                                        # past map create's last field
    assert task.bpf(C.BPF_MAP_CREATE, bad) == -errno.EINVAL
    assert task.bpf(C.BPF_MAP_CREATE, object()) == -errno.EFAULT


def test_write_back_only_into_writable_attrs(task):
    fd = L.map_create(task, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    a = attr(start_id=0)
    ro = bytes(abi.ffi.buffer(a))
    assert task.bpf(C.BPF_MAP_GET_NEXT_ID, ro) == 0                     # nothing written, no error
    rw = bytearray(ro)
    assert task.bpf(C.BPF_MAP_GET_NEXT_ID, rw) == 0
    assert int.from_bytes(rw[4:8], "little") == 1
    short = bytearray(ro[:4])                                           # next_id is outside the buffer
    assert task.bpf(C.BPF_MAP_GET_NEXT_ID, short) == 0 and len(short) == 4
    task.close(fd)


def test_current_task_during_the_call(task, monkeypatch):
    seen = []
    other = task.kernel.spawn("other")
    task.kernel.switch_to(other)
    monkeypatch.setitem(dispatch.BPF_CMDS, C.BPF_PROG_STREAM_READ_BY_FD,
                        lambda ctx: seen.append(ctx.kernel.current()) or 0)
    assert task.bpf(C.BPF_PROG_STREAM_READ_BY_FD, bytes(168)) == 0
    assert seen == [task] and task.kernel.current() is other


def test_one_structlog_event_per_call(task):
    with capture_logs() as logs:
        fd = task.bpf(C.BPF_MAP_CREATE, map_attr())
        task.bpf(C.BPF_MAP_CREATE, bytes(8))
    assert [e["event"] for e in logs] == ["bpf", "bpf"]
    assert logs[0]["cmd"] == "BPF_MAP_CREATE" and logs[0]["result"] == fd and logs[0]["map_type"] == 2
    assert logs[0]["pid"] == task.pid and logs[0]["comm"] == "t" and logs[0]["map_id"] == 1
    assert logs[1]["errno"] == "EINVAL" and logs[1]["result"] == -errno.EINVAL
    assert structlog.is_configured()


def test_close_dup_fork_exit(task):
    fd = L.map_create(task, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    m = task.files.get(fd).obj
    d = task.dup(fd)
    assert d == fd + 1 and task.close(fd) == 0 and task.close(fd) == -errno.EBADF
    child = task.fork()
    assert child.files.get(d).obj is m and m.usercnt == 1 and m.refcnt == 1
    task.close(d)
    assert m.id and task.kernel.idr["map"].find(m.id) is m
    child.exit()
    assert m.refcnt == 0 and task.kernel.idr["map"].find(1) is None
    assert task.dup(99) == -errno.EBADF


def test_internal_errors_become_efault(task, monkeypatch):
    monkeypatch.setitem(dispatch.BPF_CMDS, C.BPF_PROG_STREAM_READ_BY_FD, lambda ctx: 1 // 0)
    assert task.bpf(C.BPF_PROG_STREAM_READ_BY_FD, bytes(168)) == -errno.EFAULT
    monkeypatch.setattr(dispatch, "RAISE_INTERNAL_ERRORS", True)
    with pytest.raises(ZeroDivisionError):
        task.bpf(C.BPF_PROG_STREAM_READ_BY_FD, bytes(168))


def test_sysctl_1_blocks_creation_only(task):
    k = machine(sysctl=0)
    root = k.spawn("root")
    user = k.spawn("user", uid=1000, caps=())
    fd = L.map_create(root, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.obj_pin(root, fd, "/sys/fs/bpf/a")
    k.bpffs.lookup("/sys/fs/bpf/a").mode |= 0o066
    k.sysctl["kernel.unprivileged_bpf_disabled"] = 1
    with pytest.raises(Exception):
        k.sysctl["kernel.unprivileged_bpf_disabled"] = 0                # locked
    with pytest.raises(OSError) as e:
        L.map_create(user, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    assert e.value.errno == errno.EPERM
    ufd = L.obj_get(user, "/sys/fs/bpf/a")                              # existing objects still usable
    L.map_update_elem(user, ufd, bytes(4), b"abcd")
    assert L.map_lookup_elem(root, fd, bytes(4), 4) == b"abcd"
