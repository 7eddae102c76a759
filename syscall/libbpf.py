"""libbpf-style wrappers over bpf(2) (tools/lib/bpf/bpf.c): one function per command, in two
forms over one attr builder each.

* ``bpf_<command>`` (``bpf_map_create``, ``bpf_prog_load`` ...) is libbpf's low-level call: it
  returns what the syscall returns (an fd, 0, or -errno) and never raises; calls that hand data
  back return a tuple led by that result (``bpf_map_lookup_elem -> (ret, value)``,
  ``bpf_prog_load -> (ret, log, log_true_size)``). ``bpf_prog_load`` retries EAGAIN as
  sys_bpf_prog_load does. The object loader (syscall/object) uses these: libbpf's retries and
  messages need the raw -errno.
* The plain names (``map_create``, ``prog_load`` ...) raise ``OSError(errno, message)`` instead
  of returning -errno: what tests and tools call.

Each wrapper takes a ``task``: anything with ``.bpf(cmd, attr, size) -> int`` (a kernelsim
``Task``, or a real-kernel adapter of the tests; ``attr`` is a cffi ``union bpf_attr *`` the
kernel writes results into), builds a ``union bpf_attr``, fills only what it needs and passes
libbpf's ``size = offsetofend(union bpf_attr, <field>)`` for the command, from one table
(``LIBBPF_ATTR_LAST_FIELD``: ``map_create``: ``excl_prog_hash_size``, ``prog_load``:
``keyring_id``, ``btf_load``: ``btf_token_fd``, ``link_create``: the whole ``link_create``).
Options are small dataclasses with defaults
(libbpf's ``*_opts``). Keys and values are ``bytes``; buffers handed to the kernel are ctypes
buffers kept alive for the call.

Errors carry extras where the kernel reports something on failure too: batch wrappers set
``exc.count``; ``prog_load`` / ``btf_load`` set ``exc.log`` (the verifier log text).
"""

from __future__ import annotations

import ctypes
import errno as _errno
from dataclasses import dataclass, field

from kernelsim.uapi import BpfCmd as C

from . import abi

ffi = abi.ffi


def _end(dotted: str) -> int:
    return abi.offsetofend("union bpf_attr", dotted)


# The attr size libbpf's bpf.c passes per command: offsetofend(union bpf_attr, <field>), the
# field being the last one its wrapper can fill (libbpf 1.7's bpf.c, 6.18's header). The kernel's
# CHECK_ATTR then sees the same tail as from libbpf. A union member names its whole struct.
LIBBPF_ATTR_LAST_FIELD = {
    C.BPF_MAP_CREATE: "excl_prog_hash_size",
    C.BPF_MAP_LOOKUP_ELEM: "flags",
    C.BPF_MAP_UPDATE_ELEM: "flags",
    C.BPF_MAP_DELETE_ELEM: "flags",
    C.BPF_MAP_GET_NEXT_KEY: "next_key",
    C.BPF_PROG_LOAD: "keyring_id",
    C.BPF_OBJ_PIN: "path_fd",
    C.BPF_OBJ_GET: "path_fd",
    C.BPF_PROG_TEST_RUN: "test",
    C.BPF_PROG_GET_NEXT_ID: "open_flags",
    C.BPF_MAP_GET_NEXT_ID: "open_flags",
    C.BPF_PROG_GET_FD_BY_ID: "open_flags",
    C.BPF_MAP_GET_FD_BY_ID: "open_flags",
    C.BPF_OBJ_GET_INFO_BY_FD: "info",
    C.BPF_RAW_TRACEPOINT_OPEN: "raw_tracepoint",
    C.BPF_BTF_LOAD: "btf_token_fd",
    C.BPF_BTF_GET_FD_BY_ID: "fd_by_id_token_fd",
    C.BPF_MAP_LOOKUP_AND_DELETE_ELEM: "flags",
    C.BPF_MAP_FREEZE: "map_fd",
    C.BPF_BTF_GET_NEXT_ID: "open_flags",
    C.BPF_MAP_LOOKUP_BATCH: "batch",
    C.BPF_MAP_LOOKUP_AND_DELETE_BATCH: "batch",
    C.BPF_MAP_UPDATE_BATCH: "batch",
    C.BPF_MAP_DELETE_BATCH: "batch",
    C.BPF_LINK_CREATE: "link_create",
    C.BPF_LINK_UPDATE: "link_update",
    C.BPF_LINK_GET_FD_BY_ID: "open_flags",
    C.BPF_LINK_GET_NEXT_ID: "open_flags",
    C.BPF_ENABLE_STATS: "enable_stats",
    C.BPF_LINK_DETACH: "link_detach",
    C.BPF_PROG_BIND_MAP: "prog_bind_map",
}


def libbpf_attr_size(cmd: int) -> int:
    """The ``size`` argument libbpf's wrapper for ``cmd`` passes to bpf()."""
    return _end(LIBBPF_ATTR_LAST_FIELD[cmd])


class _Bufs:
    """ctypes buffers kept alive while their addresses sit in an attr."""

    def __init__(self):
        self.keep = []

    def __call__(self, data: bytes | int | None) -> int:
        if data is None:
            return 0
        if isinstance(data, int):
            b = ctypes.create_string_buffer(max(data, 1))
        else:
            data = bytes(data)
            b = ctypes.create_string_buffer(max(len(data), 1))
            b.raw = data.ljust(max(len(data), 1), b"\0")
        self.keep.append(b)
        return ctypes.addressof(b)


def _read(addr: int, size: int) -> bytes:
    return ctypes.string_at(addr, size) if size else b""


def _set(attr, **fields) -> None:
    for dotted, value in fields.items():
        parts = dotted.split("__")
        obj = attr
        for p in parts[:-1]:
            obj = getattr(obj, p)
        setattr(obj, parts[-1], value)


def _call(task, cmd, attr) -> int:
    """One bpf() with libbpf's size for the command: the result as the syscall returns it."""
    return int(task.bpf(cmd, attr, libbpf_attr_size(cmd)))


def _check(ret: int, what: str) -> int:
    if ret < 0:
        raise OSError(-ret, f"{what}: {_errname(-ret)}")
    return ret


def _sys(task, cmd, attr, what: str) -> int:
    return _check(_call(task, cmd, attr), what)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _errname(err: int) -> str:
    return "ENOTSUPP" if err == 524 else (_errno.errorcode.get(err, str(err)))


def libbpf_num_possible_cpus(task=None) -> int:
    """The kernel's possible CPUs (per-CPU value buffers and default perf event arrays are sized
    by it): the task's simulated machine's, else /sys/devices/system/cpu/possible's."""
    n = getattr(getattr(task, "kernel", None), "ncpus", None)
    if n:
        return int(n)
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
        n = 0
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            n += int(hi or lo) - int(lo) + 1
        return n
    except (OSError, ValueError):
        import os
        return os.cpu_count() or 1


# -- maps ----------------------------------------------------------------------------------------


@dataclass
class MapCreateOpts:
    """struct bpf_map_create_opts."""

    map_flags: int = 0
    numa_node: int = 0
    btf_fd: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    inner_map_fd: int = 0
    map_extra: int = 0
    map_ifindex: int = 0
    value_type_btf_obj_fd: int = 0
    token_fd: int = 0
    excl_prog_hash: bytes | None = None     # 6.18: the SHA-256 of the only program allowed to use it


def bpf_map_create(task, map_type: int, name: str | bytes | None, key_size: int, value_size: int,
                   max_entries: int, opts: MapCreateOpts | None = None) -> int:
    """BPF_MAP_CREATE -> the new map fd or -errno."""
    o = opts or MapCreateOpts()
    a = abi.new_attr()
    bufs = _Bufs()
    a.map_type, a.key_size, a.value_size, a.max_entries = map_type, key_size, value_size, max_entries
    a.map_flags, a.numa_node, a.inner_map_fd, a.map_ifindex = o.map_flags, o.numa_node, o.inner_map_fd, o.map_ifindex
    a.btf_fd, a.btf_key_type_id, a.btf_value_type_id = o.btf_fd, o.btf_key_type_id, o.btf_value_type_id
    a.btf_vmlinux_value_type_id, a.map_extra = o.btf_vmlinux_value_type_id, o.map_extra
    a.value_type_btf_obj_fd, a.map_token_fd = o.value_type_btf_obj_fd, o.token_fd
    if name:
        a.map_name = (name.encode() if isinstance(name, str) else bytes(name))[:15]
    if o.excl_prog_hash is not None:
        a.excl_prog_hash = bufs(o.excl_prog_hash)
        a.excl_prog_hash_size = len(o.excl_prog_hash)
    return _call(task, C.BPF_MAP_CREATE, a)


def map_create(task, map_type: int, name: str | bytes | None, key_size: int, value_size: int,
               max_entries: int, opts: MapCreateOpts | None = None) -> int:
    """BPF_MAP_CREATE -> the new map fd."""
    return _check(bpf_map_create(task, map_type, name, key_size, value_size, max_entries, opts),
                  "map_create")


def _elem(task, cmd, fd, key, value, flags, out_size=None) -> tuple[int, bytes | None]:
    """An element command: (ret, the value buffer after the call when ``out_size`` is given; it
    starts as ``value``, which a bloom filter's lookup reads)."""
    a = abi.new_attr()
    bufs = _Bufs()
    a.map_fd = fd
    a.key = bufs(key)
    if out_size is None:
        vaddr = bufs(value)
    else:
        vaddr = bufs(bytes(value).ljust(out_size, b"\0") if value is not None else out_size)
    a.value = vaddr
    a.flags = flags
    ret = _call(task, cmd, a)
    return ret, (_read(vaddr, out_size) if out_size is not None else None)


def bpf_map_update_elem(task, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> int:
    return _elem(task, C.BPF_MAP_UPDATE_ELEM, fd, key, value, flags)[0]


def bpf_map_lookup_elem(task, fd: int, key: bytes | None, value_size: int, flags: int = 0,
                        value: bytes | None = None) -> tuple[int, bytes]:
    """(0 or -errno, the value buffer). ``value``: what the buffer holds before the call (a
    bloom filter's lookup, with a NULL key, reads the value to test from it)."""
    return _elem(task, C.BPF_MAP_LOOKUP_ELEM, fd, key, value, flags, value_size)


def bpf_map_lookup_and_delete_elem(task, fd: int, key: bytes | None, value_size: int,
                                   flags: int = 0) -> tuple[int, bytes]:
    return _elem(task, C.BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, None, flags, value_size)


def bpf_map_delete_elem(task, fd: int, key: bytes | None, flags: int = 0) -> int:
    return _elem(task, C.BPF_MAP_DELETE_ELEM, fd, key, None, flags)[0]


def bpf_map_get_next_key(task, fd: int, key: bytes | None, key_size: int) -> tuple[int, bytes]:
    """(0 or -errno, the key after ``key``; None: the first)."""
    a = abi.new_attr()
    bufs = _Bufs()
    a.map_fd, a.key = fd, bufs(key)
    out = bufs(key_size)
    a.next_key = out
    ret = _call(task, C.BPF_MAP_GET_NEXT_KEY, a)
    return ret, _read(out, key_size)


def bpf_map_freeze(task, fd: int) -> int:
    a = abi.new_attr()
    a.map_fd = fd
    return _call(task, C.BPF_MAP_FREEZE, a)


def map_update_elem(task, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
    _check(bpf_map_update_elem(task, fd, key, value, flags), "map_update_elem")


def map_lookup_elem(task, fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes:
    """The value (``value_size`` bytes: per-CPU maps need round_up(vs, 8) * possible CPUs)."""
    ret, value = bpf_map_lookup_elem(task, fd, key, value_size, flags)
    _check(ret, "map_lookup_elem")
    return value


def map_lookup_and_delete_elem(task, fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes:
    ret, value = bpf_map_lookup_and_delete_elem(task, fd, key, value_size, flags)
    _check(ret, "map_lookup_and_delete_elem")
    return value


def map_delete_elem(task, fd: int, key: bytes | None, flags: int = 0) -> None:
    _check(bpf_map_delete_elem(task, fd, key, flags), "map_delete_elem")


def map_get_next_key(task, fd: int, key: bytes | None, key_size: int) -> bytes:
    """The key after ``key`` (None: the first). OSError(ENOENT) after the last."""
    ret, nxt = bpf_map_get_next_key(task, fd, key, key_size)
    _check(ret, "map_get_next_key")
    return nxt


def map_keys(task, fd: int, key_size: int) -> list[bytes]:
    """Every key, by GET_NEXT_KEY (a convenience, like bpftool's map dump walk)."""
    out, key = [], None
    while True:
        try:
            key = map_get_next_key(task, fd, key, key_size)
        except OSError as e:
            if e.errno == _errno.ENOENT:
                return out
            raise
        out.append(key)


def map_freeze(task, fd: int) -> None:
    _check(bpf_map_freeze(task, fd), "map_freeze")


@dataclass
class BatchOpts:
    """struct bpf_map_batch_opts."""

    elem_flags: int = 0
    flags: int = 0


@dataclass
class BatchResult:
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    out_batch: bytes = b""         # the cursor to pass as in_batch next time
    count: int = 0
    done: bool = False             # the kernel said ENOENT: the end of the map was reached


def _batch(task, cmd, fd, count, key_size, value_size, in_batch, keys, values, opts, what,
           cursor_size=8):
    o = opts or BatchOpts()
    a = abi.new_attr()
    bufs = _Bufs()
    kaddr = bufs(b"".join(keys)) if keys is not None else bufs(key_size * count)
    vaddr = bufs(b"".join(values)) if values is not None else bufs(value_size * count)
    a.batch.map_fd, a.batch.count = fd, count
    a.batch.keys, a.batch.values = kaddr, vaddr
    a.batch.in_batch = bufs(in_batch)
    out = bufs(cursor_size)
    a.batch.out_batch = out
    a.batch.elem_flags, a.batch.flags = o.elem_flags, o.flags
    ret = _call(task, cmd, a)
    n = a.batch.count
    res = BatchResult(count=n)
    if cmd in (C.BPF_MAP_LOOKUP_BATCH, C.BPF_MAP_LOOKUP_AND_DELETE_BATCH):
        res.keys = [_read(kaddr + i * key_size, key_size) for i in range(n)]
        res.values = [_read(vaddr + i * value_size, value_size) for i in range(n)]
        res.out_batch = _read(out, cursor_size)
    if ret < 0:
        if ret == -_errno.ENOENT and cmd in (C.BPF_MAP_LOOKUP_BATCH, C.BPF_MAP_LOOKUP_AND_DELETE_BATCH):
            res.done = True
            return res
        exc = OSError(-ret, f"{what}: {_errname(-ret)}")
        exc.count = n
        raise exc
    return res


def map_lookup_batch(task, fd: int, in_batch: bytes | None, count: int, key_size: int,
                     value_size: int, opts: BatchOpts | None = None) -> BatchResult:
    """Up to ``count`` elements after the cursor ``in_batch`` (None: from the start). The cursor
    is opaque: 4 bytes (a bucket) for hash maps, a key for arrays; ``res.out_batch`` has 8 bytes,
    pass back as many as the map type uses (``res.out_batch[:key_size]`` for arrays)."""
    return _batch(task, C.BPF_MAP_LOOKUP_BATCH, fd, count, key_size, value_size, in_batch, None,
                  None, opts, "map_lookup_batch", max(8, key_size))


def map_lookup_and_delete_batch(task, fd: int, in_batch: bytes | None, count: int, key_size: int,
                                value_size: int, opts: BatchOpts | None = None) -> BatchResult:
    return _batch(task, C.BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, count, key_size, value_size,
                  in_batch, None, None, opts, "map_lookup_and_delete_batch", max(8, key_size))


def map_update_batch(task, fd: int, keys: list[bytes], values: list[bytes],
                     opts: BatchOpts | None = None) -> int:
    """The number of elements written (OSError with ``.count`` on a failure)."""
    ks = len(keys[0]) if keys else 0
    vs = len(values[0]) if values else 0
    return _batch(task, C.BPF_MAP_UPDATE_BATCH, fd, len(keys), ks, vs, None, keys, values, opts,
                  "map_update_batch").count


def map_delete_batch(task, fd: int, keys: list[bytes], opts: BatchOpts | None = None) -> int:
    ks = len(keys[0]) if keys else 0
    return _batch(task, C.BPF_MAP_DELETE_BATCH, fd, len(keys), ks, 0, None, keys, None, opts,
                  "map_delete_batch").count


# -- programs ------------------------------------------------------------------------------------


@dataclass
class ProgLoadOpts:
    """struct bpf_prog_load_opts (the fields kernelsim uses)."""

    expected_attach_type: int = 0
    prog_flags: int = 0
    kern_version: int = 0
    prog_ifindex: int = 0
    prog_btf_fd: int = 0
    func_info: bytes = b""
    func_info_rec_size: int = 8
    line_info: bytes = b""
    line_info_rec_size: int = 16
    attach_btf_id: int = 0
    attach_prog_fd: int = 0
    attach_btf_obj_fd: int = 0
    fd_array: list[int] | None = None
    fd_array_cnt: int = 0
    log_level: int = 0
    log_size: int = 0              # 0 with log_level: 64 KiB
    token_fd: int = 0


def _insn_bytes(insns) -> bytes:
    if isinstance(insns, (bytes, bytearray, memoryview)):
        return bytes(insns)
    return b"".join(i.encode() for i in insns)


PROG_LOAD_ATTEMPTS = 5        # sys_bpf_prog_load: EAGAIN is retried up to this many times


def bpf_prog_load(task, prog_type: int, insns, license: str = "GPL", name: str = "",
                  opts: ProgLoadOpts | None = None) -> tuple[int, str, int]:
    """BPF_PROG_LOAD -> (fd or -errno, verifier log, log_true_size)."""
    o = opts or ProgLoadOpts()
    a = abi.new_attr()
    bufs = _Bufs()
    code = _insn_bytes(insns)
    a.prog_type, a.insn_cnt, a.insns = prog_type, len(code) // 8, bufs(code)
    a.license = bufs(license.encode() + b"\0")
    if name:
        a.prog_name = name.encode()[:15]
    a.expected_attach_type, a.prog_flags, a.kern_version = o.expected_attach_type, o.prog_flags, o.kern_version
    a.prog_ifindex, a.prog_btf_fd = o.prog_ifindex, o.prog_btf_fd
    if o.func_info:
        a.func_info, a.func_info_rec_size = bufs(o.func_info), o.func_info_rec_size
        a.func_info_cnt = len(o.func_info) // o.func_info_rec_size
    if o.line_info:
        a.line_info, a.line_info_rec_size = bufs(o.line_info), o.line_info_rec_size
        a.line_info_cnt = len(o.line_info) // o.line_info_rec_size
    a.attach_btf_id = o.attach_btf_id
    a.attach_prog_fd = o.attach_prog_fd or o.attach_btf_obj_fd
    if o.fd_array is not None:
        a.fd_array = bufs(b"".join(int(fd).to_bytes(4, "little", signed=True) for fd in o.fd_array))
        a.fd_array_cnt = o.fd_array_cnt
    a.prog_token_fd = o.token_fd
    log_size = o.log_size or (65536 if o.log_level else 0)
    logbuf = bufs(log_size) if o.log_level else 0
    a.log_level, a.log_size, a.log_buf = o.log_level, log_size if o.log_level else 0, logbuf
    for _ in range(PROG_LOAD_ATTEMPTS):
        ret = _call(task, C.BPF_PROG_LOAD, a)
        if ret != -_errno.EAGAIN:
            break
    log = _cstr(_read(logbuf, log_size)) if logbuf else ""
    return ret, log, int(a.log_true_size)


def prog_load(task, prog_type: int, insns, license: str = "GPL", name: str = "",
              opts: ProgLoadOpts | None = None) -> tuple[int, str]:
    """BPF_PROG_LOAD -> (fd, verifier log). On failure OSError with ``exc.log``."""
    ret, log, true_size = bpf_prog_load(task, prog_type, insns, license, name, opts)
    if ret < 0:
        exc = OSError(-ret, f"prog_load: {_errname(-ret)}")
        exc.log = log
        exc.log_true_size = true_size
        raise exc
    return ret, log


def bpf_prog_bind_map(task, prog_fd: int, map_fd: int, flags: int = 0) -> int:
    a = abi.new_attr()
    a.prog_bind_map.prog_fd, a.prog_bind_map.map_fd, a.prog_bind_map.flags = prog_fd, map_fd, flags
    return _call(task, C.BPF_PROG_BIND_MAP, a)


def prog_bind_map(task, prog_fd: int, map_fd: int, flags: int = 0) -> None:
    _check(bpf_prog_bind_map(task, prog_fd, map_fd, flags), "prog_bind_map")


@dataclass
class TestRunOpts:
    """struct bpf_test_run_opts."""

    __test__ = False
    data_in: bytes = b""
    data_size_out: int = 0
    ctx_in: bytes = b""
    ctx_size_out: int = 0
    repeat: int = 0
    flags: int = 0
    cpu: int = 0
    batch_size: int = 0


@dataclass
class TestRunOut:
    __test__ = False
    retval: int = 0
    duration: int = 0
    data_out: bytes = b""
    ctx_out: bytes = b""


def bpf_prog_test_run(task, prog_fd: int, opts: TestRunOpts | None = None) -> tuple[int, TestRunOut]:
    """(0 or -errno, what the kernel wrote back)."""
    o = opts or TestRunOpts()
    a = abi.new_attr()
    bufs = _Bufs()
    t = a.test
    t.prog_fd = prog_fd
    if o.data_in:
        t.data_in, t.data_size_in = bufs(o.data_in), len(o.data_in)
    dout = bufs(o.data_size_out) if o.data_size_out else 0
    t.data_out, t.data_size_out = dout, o.data_size_out
    if o.ctx_in:
        t.ctx_in, t.ctx_size_in = bufs(o.ctx_in), len(o.ctx_in)
    cout = bufs(o.ctx_size_out) if o.ctx_size_out else 0
    t.ctx_out, t.ctx_size_out = cout, o.ctx_size_out
    t.repeat, t.flags, t.cpu, t.batch_size = o.repeat, o.flags, o.cpu, o.batch_size
    ret = _call(task, C.BPF_PROG_TEST_RUN, a)
    return ret, TestRunOut(t.retval, t.duration, _read(dout, min(t.data_size_out, o.data_size_out)),
                           _read(cout, min(t.ctx_size_out, o.ctx_size_out)))


def prog_test_run(task, prog_fd: int, opts: TestRunOpts | None = None) -> TestRunOut:
    ret, out = bpf_prog_test_run(task, prog_fd, opts)
    _check(ret, "prog_test_run")
    return out


# -- pinning, IDs --------------------------------------------------------------------------------


def _pin_cmd(task, cmd, fd: int, path: str, file_flags: int, path_fd: int) -> int:
    a = abi.new_attr()
    bufs = _Bufs()
    a.pathname, a.bpf_fd, a.file_flags, a.path_fd = bufs(path.encode() + b"\0"), fd, file_flags, path_fd
    return _call(task, cmd, a)


def bpf_obj_pin(task, fd: int, path: str, file_flags: int = 0, path_fd: int = 0) -> int:
    return _pin_cmd(task, C.BPF_OBJ_PIN, fd, path, file_flags, path_fd)


def bpf_obj_get(task, path: str, file_flags: int = 0, path_fd: int = 0) -> int:
    return _pin_cmd(task, C.BPF_OBJ_GET, 0, path, file_flags, path_fd)


def obj_pin(task, fd: int, path: str, file_flags: int = 0, path_fd: int = 0) -> None:
    _check(bpf_obj_pin(task, fd, path, file_flags, path_fd), "obj_pin")


def obj_get(task, path: str, file_flags: int = 0, path_fd: int = 0) -> int:
    return _check(bpf_obj_get(task, path, file_flags, path_fd), "obj_get")


def _next_id(task, cmd, start_id: int, what: str) -> int:
    a = abi.new_attr()
    a.start_id = start_id
    _sys(task, cmd, a, what)
    return a.next_id


def prog_get_next_id(task, start_id: int) -> int:
    return _next_id(task, C.BPF_PROG_GET_NEXT_ID, start_id, "prog_get_next_id")


def map_get_next_id(task, start_id: int) -> int:
    return _next_id(task, C.BPF_MAP_GET_NEXT_ID, start_id, "map_get_next_id")


def link_get_next_id(task, start_id: int) -> int:
    return _next_id(task, C.BPF_LINK_GET_NEXT_ID, start_id, "link_get_next_id")


def btf_get_next_id(task, start_id: int) -> int:
    return _next_id(task, C.BPF_BTF_GET_NEXT_ID, start_id, "btf_get_next_id")


def _get_fd_by_id(task, cmd, id_: int, open_flags: int, what: str) -> int:
    """The four GET_FD_BY_ID commands: ``prog_id``, ``map_id``, ``link_id`` and ``btf_id`` are
    one field of the attr (a union), so one builder serves them all."""
    a = abi.new_attr()
    a.prog_id, a.open_flags = id_, open_flags
    return _sys(task, cmd, a, what)


def prog_get_fd_by_id(task, id_: int, open_flags: int = 0) -> int:
    return _get_fd_by_id(task, C.BPF_PROG_GET_FD_BY_ID, id_, open_flags, "prog_get_fd_by_id")


def map_get_fd_by_id(task, id_: int, open_flags: int = 0) -> int:
    return _get_fd_by_id(task, C.BPF_MAP_GET_FD_BY_ID, id_, open_flags, "map_get_fd_by_id")


def link_get_fd_by_id(task, id_: int, open_flags: int = 0) -> int:
    return _get_fd_by_id(task, C.BPF_LINK_GET_FD_BY_ID, id_, open_flags, "link_get_fd_by_id")


def btf_get_fd_by_id(task, id_: int, open_flags: int = 0) -> int:
    return _get_fd_by_id(task, C.BPF_BTF_GET_FD_BY_ID, id_, open_flags, "btf_get_fd_by_id")


# -- info ----------------------------------------------------------------------------------------

INFO_STRUCTS = {"prog": "struct bpf_prog_info", "map": "struct bpf_map_info",
                "btf": "struct bpf_btf_info", "link": "struct bpf_link_info"}


def _decode(ctype: str, cdata) -> dict:
    out = {}
    raw = bytes(ffi.buffer(cdata))
    for f in abi.walk_fields(ctype):
        if f.bitsize >= 0:
            word = int.from_bytes(raw[f.offset:f.offset + f.size], "little")
            out[f.name] = (word >> f.bitshift) & ((1 << f.bitsize) - 1)
        elif f.ctype.startswith("char["):
            out[f.name] = raw[f.offset:f.offset + f.size].split(b"\0")[0].decode("latin-1")
        elif "[" in f.ctype:
            out[f.name] = raw[f.offset:f.offset + f.size]
        else:
            out[f.name] = int.from_bytes(raw[f.offset:f.offset + f.size], "little",
                                         signed=f.ctype.startswith("int"))
    return out


def _obj_info(task, fd: int, kind: str, info_len: int | None, inputs: dict, info=None):
    ctype = INFO_STRUCTS[kind]
    if info is None:
        info = ffi.new(f"{ctype} *")
    _set(info, **inputs)
    a = abi.new_attr()
    a.info.bpf_fd = fd
    a.info.info_len = ffi.sizeof(ctype) if info_len is None else info_len
    a.info.info = int(ffi.cast("uintptr_t", info))
    ret = _call(task, C.BPF_OBJ_GET_INFO_BY_FD, a)
    return ret, info, a.info.info_len


def bpf_obj_get_info_by_fd(task, fd: int, kind: str, info_len: int | None = None, *, info=None,
                           **inputs):
    """(0 or -errno, the info struct of ``kind`` as a cffi cdata: ``info.id``, ``info.tag``).
    ``info``: a prepared ``struct bpf_*_info *`` whose input fields are already set."""
    ret, info, _ = _obj_info(task, fd, kind, info_len, inputs, info)
    return ret, info


def obj_get_info_by_fd(task, fd: int, kind: str, info_len: int | None = None, **inputs) -> dict:
    """The info struct of ``kind`` ("prog", "map", "btf", "link") decoded into a dict (plus
    ``info_len``: what the kernel wrote back). ``inputs`` pre-set input fields (counts and
    pointers), e.g. ``nr_map_ids=4, map_ids=addr`` (``__`` for a nested field); see
    prog_get_info for the arrays done for you."""
    ret, info, out_len = _obj_info(task, fd, kind, info_len, inputs)
    _check(ret, "obj_get_info_by_fd")
    out = _decode(INFO_STRUCTS[kind], info)
    out["info_len"] = out_len
    return out


def prog_get_info(task, fd: int) -> dict:
    """bpf_prog_info with the arrays fetched: ``map_ids`` (list), ``xlated`` (bytes), ``tag``."""
    first = obj_get_info_by_fd(task, fd, "prog")
    bufs = _Bufs()
    ids = bufs(4 * max(first["nr_map_ids"], 1))
    xl = bufs(max(first["xlated_prog_len"], 1))
    info = obj_get_info_by_fd(task, fd, "prog", nr_map_ids=first["nr_map_ids"], map_ids=ids,
                              xlated_prog_len=first["xlated_prog_len"], xlated_prog_insns=xl)
    info["map_ids"] = [int.from_bytes(_read(ids + 4 * i, 4), "little") for i in range(first["nr_map_ids"])]
    info["xlated"] = _read(xl, first["xlated_prog_len"])
    return info


# -- BTF, stats, links ---------------------------------------------------------------------------


def bpf_btf_load(task, data: bytes, log_level: int = 0, log_size: int = 0) -> tuple[int, str]:
    """BPF_BTF_LOAD -> (fd or -errno, log)."""
    a = abi.new_attr()
    bufs = _Bufs()
    a.btf, a.btf_size = bufs(data), len(data)
    log_size = log_size or (65536 if log_level else 0)
    logbuf = bufs(log_size) if log_level else 0
    a.btf_log_buf, a.btf_log_size, a.btf_log_level = logbuf, log_size if log_level else 0, log_level
    ret = _call(task, C.BPF_BTF_LOAD, a)
    return ret, (_cstr(_read(logbuf, log_size)) if logbuf else "")


def btf_load(task, data: bytes, log_level: int = 0, log_size: int = 0) -> tuple[int, str]:
    """BPF_BTF_LOAD -> (fd, log). On failure OSError with ``exc.log``."""
    ret, log = bpf_btf_load(task, data, log_level, log_size)
    if ret < 0:
        exc = OSError(-ret, f"btf_load: {_errname(-ret)}")
        exc.log = log
        raise exc
    return ret, log


def enable_stats(task, type_: int = 0) -> int:
    """BPF_ENABLE_STATS -> the stats fd (stats stay on while it is open)."""
    a = abi.new_attr()
    a.enable_stats.type = type_
    return _sys(task, C.BPF_ENABLE_STATS, a, "enable_stats")


@dataclass
class LinkCreateOpts:
    """struct bpf_link_create_opts (the tracing-relevant part). ``cookie`` goes where the attach
    type keeps it: ``perf_event.bpf_cookie`` for BPF_PERF_EVENT, ``tracing.cookie`` otherwise;
    the ``kprobe_multi_*`` fields are for BPF_TRACE_KPROBE_MULTI / _SESSION (``cnt`` is the
    length of ``syms`` or ``addrs``)."""

    flags: int = 0
    target_btf_id: int = 0
    cookie: int = 0
    kprobe_multi_flags: int = 0
    kprobe_multi_syms: list[str] | None = None
    kprobe_multi_addrs: list[int] | None = None
    kprobe_multi_cookies: list[int] | None = None


def _u64_array(bufs: _Bufs, values) -> int:
    return bufs(b"".join(int(v).to_bytes(8, "little") for v in values)) if values else 0


def bpf_link_create(task, prog_fd: int, target_fd: int, attach_type: int,
                    opts: LinkCreateOpts | None = None) -> int:
    """BPF_LINK_CREATE -> the link fd or -errno."""
    from kernelsim.uapi import BpfAttachType as A
    o = opts or LinkCreateOpts()
    a = abi.new_attr()
    bufs = _Bufs()
    lc = a.link_create
    lc.prog_fd, lc.target_fd, lc.attach_type, lc.flags = prog_fd, target_fd, attach_type, o.flags
    if attach_type == A.BPF_PERF_EVENT:
        lc.perf_event.bpf_cookie = o.cookie
    elif attach_type in (A.BPF_TRACE_KPROBE_MULTI, A.BPF_TRACE_KPROBE_SESSION):
        km = lc.kprobe_multi
        km.flags = o.kprobe_multi_flags
        km.cnt = len(o.kprobe_multi_syms or o.kprobe_multi_addrs or [])
        if o.kprobe_multi_syms:
            km.syms = _u64_array(bufs, [bufs(s.encode() + b"\0") for s in o.kprobe_multi_syms])
        km.addrs = _u64_array(bufs, o.kprobe_multi_addrs)
        km.cookies = _u64_array(bufs, o.kprobe_multi_cookies)
    else:
        lc.tracing.target_btf_id, lc.tracing.cookie = o.target_btf_id, o.cookie
    return _call(task, C.BPF_LINK_CREATE, a)


def link_create(task, prog_fd: int, target_fd: int, attach_type: int,
                opts: LinkCreateOpts | None = None) -> int:
    return _check(bpf_link_create(task, prog_fd, target_fd, attach_type, opts), "link_create")


def link_update(task, link_fd: int, new_prog_fd: int, old_prog_fd: int = 0, flags: int = 0) -> None:
    a = abi.new_attr()
    lu = a.link_update
    lu.link_fd, lu.new_prog_fd, lu.flags, lu.old_prog_fd = link_fd, new_prog_fd, flags, old_prog_fd
    _sys(task, C.BPF_LINK_UPDATE, a, "link_update")


def bpf_link_detach(task, link_fd: int) -> int:
    a = abi.new_attr()
    a.link_detach.link_fd = link_fd
    return _call(task, C.BPF_LINK_DETACH, a)


def link_detach(task, link_fd: int) -> None:
    _check(bpf_link_detach(task, link_fd), "link_detach")


def bpf_raw_tracepoint_open(task, name: str | None, prog_fd: int, cookie: int = 0) -> int:
    """BPF_RAW_TRACEPOINT_OPEN -> the link fd or -errno (``name`` None: a NULL pointer)."""
    a = abi.new_attr()
    bufs = _Bufs()
    rt = a.raw_tracepoint
    rt.name = bufs(name.encode() + b"\0") if name is not None else 0
    rt.prog_fd, rt.cookie = prog_fd, cookie
    return _call(task, C.BPF_RAW_TRACEPOINT_OPEN, a)


def raw_tracepoint_open(task, name: str | None, prog_fd: int, cookie: int = 0) -> int:
    return _check(bpf_raw_tracepoint_open(task, name, prog_fd, cookie), "raw_tracepoint_open")


__all__ = [
    "MapCreateOpts", "BatchOpts", "BatchResult", "ProgLoadOpts", "TestRunOpts", "TestRunOut",
    "LinkCreateOpts", "map_create", "map_update_elem", "map_lookup_elem", "map_delete_elem",
    "map_get_next_key", "map_keys", "map_lookup_and_delete_elem", "map_freeze",
    "map_lookup_batch", "map_lookup_and_delete_batch", "map_update_batch", "map_delete_batch",
    "prog_load", "prog_bind_map", "prog_test_run", "obj_pin", "obj_get", "prog_get_next_id",
    "map_get_next_id", "link_get_next_id", "btf_get_next_id", "prog_get_fd_by_id",
    "map_get_fd_by_id", "link_get_fd_by_id", "btf_get_fd_by_id", "obj_get_info_by_fd",
    "prog_get_info", "btf_load", "enable_stats", "link_create", "link_update", "link_detach",
    "raw_tracepoint_open", "libbpf_num_possible_cpus",
    # the raw forms (-errno, never raising)
    "bpf_map_create", "bpf_map_update_elem", "bpf_map_lookup_elem", "bpf_map_delete_elem",
    "bpf_map_get_next_key", "bpf_map_lookup_and_delete_elem", "bpf_map_freeze", "bpf_prog_load",
    "bpf_prog_bind_map", "bpf_prog_test_run", "bpf_obj_pin", "bpf_obj_get",
    "bpf_obj_get_info_by_fd", "bpf_btf_load", "bpf_link_create", "bpf_link_detach",
    "bpf_raw_tracepoint_open",
]
