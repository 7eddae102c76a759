"""The bpf(2) calls the object loader makes, built the way libbpf's tools/lib/bpf/bpf.c builds
them (bpf_btf_load, bpf_map_create, bpf_map_update_elem, bpf_map_freeze, bpf_prog_load with
sys_bpf_prog_load's EAGAIN retries, bpf_prog_bind_map, bpf_obj_pin/get, bpf_raw_tracepoint_open,
bpf_link_create, bpf_obj_get_info_by_fd ...).

Each function fills a zeroed ``union bpf_attr`` (syscall/abi.py), sizes it to ``offsetofend`` of
the last field libbpf's wrapper covers (so the kernel's CHECK_ATTR sees what it sees from
libbpf), points its pointer fields at ctypes buffers of this process and calls ``task.bpf``.
They return what the syscall returns (an fd, 0, or -errno) and never raise: the loader turns a
failure into a BpfObjectError naming the object, map or program. The buffers live until the call
returns (the kernel copies everything it keeps).

A ``task`` is anything with ``bpf(cmd, attr, size) -> int`` and ``close(fd)``: the facade's Task,
or tests' recording and real-kernel stand-ins.
"""

from __future__ import annotations

import ctypes
import errno

from kernelsim.uapi import BpfCmd

from .. import abi

PROG_LOAD_ATTEMPTS = 5
_ATTR = "union bpf_attr"
_SIZES = {
    BpfCmd.BPF_MAP_CREATE: abi.offsetofend(_ATTR, "excl_prog_hash_size"),
    BpfCmd.BPF_MAP_LOOKUP_ELEM: abi.offsetofend(_ATTR, "flags"),
    BpfCmd.BPF_MAP_UPDATE_ELEM: abi.offsetofend(_ATTR, "flags"),
    BpfCmd.BPF_MAP_DELETE_ELEM: abi.offsetofend(_ATTR, "flags"),
    BpfCmd.BPF_MAP_GET_NEXT_KEY: abi.offsetofend(_ATTR, "next_key"),
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM: abi.offsetofend(_ATTR, "flags"),
    BpfCmd.BPF_MAP_FREEZE: abi.offsetofend(_ATTR, "map_fd"),
    BpfCmd.BPF_PROG_LOAD: abi.offsetofend(_ATTR, "keyring_id"),
    BpfCmd.BPF_BTF_LOAD: abi.offsetofend(_ATTR, "btf_token_fd"),
    BpfCmd.BPF_OBJ_PIN: abi.offsetofend(_ATTR, "path_fd"),
    BpfCmd.BPF_OBJ_GET: abi.offsetofend(_ATTR, "path_fd"),
    BpfCmd.BPF_RAW_TRACEPOINT_OPEN: abi.offsetofend(_ATTR, "raw_tracepoint.cookie"),
    BpfCmd.BPF_LINK_CREATE: abi.offsetofend(_ATTR, "link_create.uprobe_multi.pid"),
    BpfCmd.BPF_LINK_DETACH: abi.offsetofend(_ATTR, "link_detach.link_fd"),
    BpfCmd.BPF_OBJ_GET_INFO_BY_FD: abi.offsetofend(_ATTR, "info.info"),
    BpfCmd.BPF_PROG_BIND_MAP: abi.offsetofend(_ATTR, "prog_bind_map.flags"),
    BpfCmd.BPF_PROG_TEST_RUN: abi.offsetofend(_ATTR, "test.batch_size"),
}


class Buf:
    """A ctypes buffer and its address (kept alive by whoever holds the Buf)."""

    def __init__(self, data_or_size):
        if isinstance(data_or_size, int):
            self.buf = ctypes.create_string_buffer(max(data_or_size, 1))
            self.size = data_or_size
        else:
            data = bytes(data_or_size)
            self.buf = ctypes.create_string_buffer(data, max(len(data), 1))
            self.size = len(data)
        self.addr = ctypes.addressof(self.buf)

    @property
    def raw(self) -> bytes:
        return self.buf.raw[: self.size]


def sys_bpf(task, cmd: int, attr) -> int:
    """One bpf() call with libbpf's attr size for ``cmd``."""
    size = _SIZES.get(cmd, abi.BPF_ATTR_SIZE)
    ret = task.bpf(int(cmd), abi.ffi.buffer(attr, size), size)
    return int(ret)


def _name16(name: str) -> bytes:
    """libbpf_strlcpy into a 16-byte name field (15 characters and a NUL)."""
    return name.encode()[:15]


def btf_load(task, data: bytes, log_size: int = 0, log_level: int = 0):
    """bpf_btf_load: (fd or -errno, log text)."""
    attr = abi.new_attr()
    blob = Buf(data)
    attr.btf = blob.addr
    attr.btf_size = len(data)
    log = None
    if log_level:
        log = Buf(log_size)
        attr.btf_log_buf = log.addr
        attr.btf_log_size = log_size
        attr.btf_log_level = log_level
    ret = sys_bpf(task, BpfCmd.BPF_BTF_LOAD, attr)
    return ret, (_cstr(log.raw) if log else "")


def map_create(task, map_type: int, name: str, key_size: int, value_size: int, max_entries: int,
               *, map_flags: int = 0, numa_node: int = 0, map_extra: int = 0, btf_fd: int = 0,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0, inner_map_fd: int = 0,
               map_ifindex: int = 0) -> int:
    """bpf_map_create."""
    attr = abi.new_attr()
    attr.map_type = map_type
    attr.map_name = _name16(name)
    attr.key_size = key_size
    attr.value_size = value_size
    attr.max_entries = max_entries
    attr.btf_fd = btf_fd
    attr.btf_key_type_id = btf_key_type_id
    attr.btf_value_type_id = btf_value_type_id
    attr.inner_map_fd = inner_map_fd
    attr.map_flags = map_flags
    attr.map_extra = map_extra
    attr.numa_node = numa_node
    attr.map_ifindex = map_ifindex
    return sys_bpf(task, BpfCmd.BPF_MAP_CREATE, attr)


def map_update_elem(task, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> int:
    attr = abi.new_attr()
    k = Buf(key) if key is not None else None
    v = Buf(value)
    attr.map_fd = fd
    attr.key = k.addr if k else 0
    attr.value = v.addr
    attr.flags = flags
    return sys_bpf(task, BpfCmd.BPF_MAP_UPDATE_ELEM, attr)


def map_lookup_elem(task, fd: int, key: bytes | None, value_size: int, flags: int = 0):
    """(0 or -errno, value bytes)."""
    attr = abi.new_attr()
    k = Buf(key) if key is not None else None
    v = Buf(value_size)
    attr.map_fd = fd
    attr.key = k.addr if k else 0
    attr.value = v.addr
    attr.flags = flags
    ret = sys_bpf(task, BpfCmd.BPF_MAP_LOOKUP_ELEM, attr)
    return ret, v.raw


def map_lookup_elem_value(task, fd: int, value: bytes):
    """BPF_MAP_LOOKUP_ELEM with a NULL key and ``value`` as input (bloom filters)."""
    attr = abi.new_attr()
    v = Buf(value)
    attr.map_fd = fd
    attr.value = v.addr
    ret = sys_bpf(task, BpfCmd.BPF_MAP_LOOKUP_ELEM, attr)
    return ret, v.raw


def map_lookup_and_delete_elem(task, fd: int, key: bytes | None, value_size: int, flags: int = 0):
    attr = abi.new_attr()
    k = Buf(key) if key is not None else None
    v = Buf(value_size)
    attr.map_fd = fd
    attr.key = k.addr if k else 0
    attr.value = v.addr
    attr.flags = flags
    ret = sys_bpf(task, BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, attr)
    return ret, v.raw


def map_delete_elem(task, fd: int, key: bytes, flags: int = 0) -> int:
    attr = abi.new_attr()
    k = Buf(key)
    attr.map_fd = fd
    attr.key = k.addr
    attr.flags = flags
    return sys_bpf(task, BpfCmd.BPF_MAP_DELETE_ELEM, attr)


def map_get_next_key(task, fd: int, key: bytes | None, key_size: int):
    """(0 or -errno, next key bytes)."""
    attr = abi.new_attr()
    k = Buf(key) if key is not None else None
    n = Buf(key_size)
    attr.map_fd = fd
    attr.key = k.addr if k else 0
    attr.next_key = n.addr
    ret = sys_bpf(task, BpfCmd.BPF_MAP_GET_NEXT_KEY, attr)
    return ret, n.raw


def map_freeze(task, fd: int) -> int:
    attr = abi.new_attr()
    attr.map_fd = fd
    return sys_bpf(task, BpfCmd.BPF_MAP_FREEZE, attr)


def prog_load(task, prog_type: int, name: str, license: str, insns: bytes, *,
              expected_attach_type: int = 0, prog_btf_fd: int = 0, prog_flags: int = 0,
              kern_version: int = 0, attach_btf_id: int = 0, attach_btf_obj_fd: int = 0,
              attach_prog_fd: int = 0, func_info: bytes = b"", func_info_rec_size: int = 0,
              func_info_cnt: int = 0, line_info: bytes = b"", line_info_rec_size: int = 0,
              line_info_cnt: int = 0, log_level: int = 0, log_size: int = 0,
              fd_array: bytes | None = None):
    """bpf_prog_load (one attempt series, retrying EAGAIN as sys_bpf_prog_load does):
    (fd or -errno, log text, log_true_size)."""
    attr = abi.new_attr()
    code = Buf(insns)
    lic = Buf(license.encode() + b"\0")
    finfo = Buf(func_info) if func_info else None
    linfo = Buf(line_info) if line_info else None
    fds = Buf(fd_array) if fd_array else None
    log = Buf(log_size) if log_level else None
    attr.prog_type = prog_type
    attr.expected_attach_type = expected_attach_type
    attr.prog_btf_fd = prog_btf_fd
    attr.prog_flags = prog_flags
    attr.kern_version = kern_version
    attr.prog_name = _name16(name)
    attr.license = lic.addr
    attr.insns = code.addr
    attr.insn_cnt = len(insns) // 8
    attr.attach_btf_id = attach_btf_id
    if attach_prog_fd:
        attr.attach_prog_fd = attach_prog_fd
    else:
        attr.attach_btf_obj_fd = attach_btf_obj_fd
    if finfo:
        attr.func_info_rec_size = func_info_rec_size
        attr.func_info = finfo.addr
        attr.func_info_cnt = func_info_cnt
    if linfo:
        attr.line_info_rec_size = line_info_rec_size
        attr.line_info = linfo.addr
        attr.line_info_cnt = line_info_cnt
    if fds:
        attr.fd_array = fds.addr
    if log:
        attr.log_buf = log.addr
        attr.log_size = log_size
        attr.log_level = log_level
    for _ in range(PROG_LOAD_ATTEMPTS):
        ret = sys_bpf(task, BpfCmd.BPF_PROG_LOAD, attr)
        if ret != -errno.EAGAIN:
            break
    return ret, (_cstr(log.raw) if log else ""), int(attr.log_true_size)


def prog_bind_map(task, prog_fd: int, map_fd: int) -> int:
    attr = abi.new_attr()
    attr.prog_bind_map.prog_fd = prog_fd
    attr.prog_bind_map.map_fd = map_fd
    return sys_bpf(task, BpfCmd.BPF_PROG_BIND_MAP, attr)


def obj_pin(task, fd: int, path: str) -> int:
    attr = abi.new_attr()
    p = Buf(path.encode() + b"\0")
    attr.pathname = p.addr
    attr.bpf_fd = fd
    return sys_bpf(task, BpfCmd.BPF_OBJ_PIN, attr)


def obj_get(task, path: str, file_flags: int = 0) -> int:
    attr = abi.new_attr()
    p = Buf(path.encode() + b"\0")
    attr.pathname = p.addr
    attr.file_flags = file_flags
    return sys_bpf(task, BpfCmd.BPF_OBJ_GET, attr)


def raw_tracepoint_open(task, name: str | None, prog_fd: int, cookie: int = 0) -> int:
    attr = abi.new_attr()
    n = Buf(name.encode() + b"\0") if name else None
    attr.raw_tracepoint.name = n.addr if n else 0
    attr.raw_tracepoint.prog_fd = prog_fd
    attr.raw_tracepoint.cookie = cookie
    return sys_bpf(task, BpfCmd.BPF_RAW_TRACEPOINT_OPEN, attr)


def link_create(task, prog_fd: int, target_fd: int, attach_type: int, *, flags: int = 0,
                target_btf_id: int = 0, cookie: int = 0, perf_cookie: int = 0,
                kprobe_syms: list[str] | None = None, kprobe_addrs: list[int] | None = None,
                kprobe_cookies: list[int] | None = None, kprobe_flags: int = 0) -> int:
    """bpf_link_create for the tracing, perf_event and kprobe_multi forms."""
    from kernelsim.uapi import BpfAttachType as A
    attr = abi.new_attr()
    keep = []
    attr.link_create.prog_fd = prog_fd
    attr.link_create.target_fd = target_fd
    attr.link_create.attach_type = attach_type
    attr.link_create.flags = flags
    if attach_type in (A.BPF_TRACE_FENTRY, A.BPF_TRACE_FEXIT, A.BPF_MODIFY_RETURN,
                       A.BPF_LSM_MAC, A.BPF_TRACE_RAW_TP):
        attr.link_create.tracing.target_btf_id = target_btf_id
        attr.link_create.tracing.cookie = cookie
    elif attach_type == A.BPF_PERF_EVENT:
        attr.link_create.perf_event.bpf_cookie = perf_cookie
    elif attach_type in (A.BPF_TRACE_KPROBE_MULTI, A.BPF_TRACE_KPROBE_SESSION):
        cnt = len(kprobe_syms or kprobe_addrs or [])
        attr.link_create.kprobe_multi.flags = kprobe_flags
        attr.link_create.kprobe_multi.cnt = cnt
        if kprobe_syms:
            strs = [ctypes.create_string_buffer(s.encode()) for s in kprobe_syms]
            arr = (ctypes.c_uint64 * cnt)(*[ctypes.addressof(s) for s in strs])
            keep += [strs, arr]
            attr.link_create.kprobe_multi.syms = ctypes.addressof(arr)
        if kprobe_addrs:
            arr = (ctypes.c_uint64 * cnt)(*kprobe_addrs)
            keep.append(arr)
            attr.link_create.kprobe_multi.addrs = ctypes.addressof(arr)
        if kprobe_cookies:
            arr = (ctypes.c_uint64 * cnt)(*kprobe_cookies)
            keep.append(arr)
            attr.link_create.kprobe_multi.cookies = ctypes.addressof(arr)
    else:
        attr.link_create.target_btf_id = target_btf_id
    ret = sys_bpf(task, BpfCmd.BPF_LINK_CREATE, attr)
    del keep
    return ret


def link_detach(task, link_fd: int) -> int:
    attr = abi.new_attr()
    attr.link_detach.link_fd = link_fd
    return sys_bpf(task, BpfCmd.BPF_LINK_DETACH, attr)


def obj_get_info_by_fd(task, fd: int, ctype: str):
    """(0 or -errno, the info struct as a cffi cdata)."""
    info = abi.new_struct(ctype)
    size = abi.ffi.sizeof(ctype)
    attr = abi.new_attr()
    attr.info.bpf_fd = fd
    attr.info.info_len = size
    attr.info.info = int(abi.ffi.cast("uintptr_t", info))
    ret = sys_bpf(task, BpfCmd.BPF_OBJ_GET_INFO_BY_FD, attr)
    return ret, info


def prog_test_run(task, prog_fd: int, *, data_in: bytes = b"", data_size_out: int = 0,
                  ctx_in: bytes = b"", ctx_size_out: int = 0, repeat: int = 0, flags: int = 0,
                  cpu: int = 0):
    """(0 or -errno, retval, data_out, ctx_out, duration)."""
    attr = abi.new_attr()
    din = Buf(data_in) if data_in else None
    cin = Buf(ctx_in) if ctx_in else None
    dout = Buf(data_size_out) if data_size_out else None
    cout = Buf(ctx_size_out) if ctx_size_out else None
    attr.test.prog_fd = prog_fd
    if din:
        attr.test.data_in, attr.test.data_size_in = din.addr, len(data_in)
    if dout:
        attr.test.data_out, attr.test.data_size_out = dout.addr, data_size_out
    if cin:
        attr.test.ctx_in, attr.test.ctx_size_in = cin.addr, len(ctx_in)
    if cout:
        attr.test.ctx_out, attr.test.ctx_size_out = cout.addr, ctx_size_out
    attr.test.repeat = repeat
    attr.test.flags = flags
    attr.test.cpu = cpu
    ret = sys_bpf(task, BpfCmd.BPF_PROG_TEST_RUN, attr)
    return (ret, int(attr.test.retval), dout.raw[: attr.test.data_size_out] if dout else b"",
            cout.raw[: attr.test.ctx_size_out] if cout else b"", int(attr.test.duration))


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
