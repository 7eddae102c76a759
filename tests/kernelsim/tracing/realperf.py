"""The perf side of the oracle harness: perf_event_open(2) and ioctl(2) on the machine's real
kernel, tracefs, and a small program loader, for the realkernel tests of tracepoints and raw
tracepoints (tests/realkernel.py does bpf(2)).

* ``tracefs()``: the mounted tracefs directory (mounting it at /sys/kernel/tracing if needed), or
  None.
* ``real_perf_event_open(attr, pid=-1, cpu=0, group_fd=-1, flags=0) -> (fd, errno)``; ``attr`` is
  a cffi ``struct perf_event_attr *`` (syscall/perf_abi.py) or bytes.
* ``real_ioctl(fd, request, arg) -> (ret, errno)``.
* ``real_prog_load(prog_type, insns, expected_attach_type=0, attach_btf_id=0, license="GPL")
  -> (fd, errno)``; ``real_map_create(map_type, key_size, value_size, max_entries) -> fd``.
* ``real_raw_tp_open(name, prog_fd, cookie=0)``, ``real_link_create(prog_fd, target_fd,
  attach_type, flags=0, perf_cookie=0)`` -> (fd, errno); ``real_btf_id(name, kind)`` in the
  running kernel's BTF; ``real_close(fd)``.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import subprocess

from kernelsim.isa.insn import encode_insns
from syscall.abi import ffi
from syscall.perf_abi import ffi as perf_ffi
from tests.realkernel import forget_fd, real_bpf, realkernel_available

SYS_perf_event_open = 298     # x86-64
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ioctl.restype = ctypes.c_int
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]

_TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def tracefs() -> pathlib.Path | None:
    for d in _TRACEFS:
        if os.path.exists(os.path.join(d, "available_events")):
            return pathlib.Path(d)
    if not realkernel_available():
        return None
    try:
        os.makedirs(_TRACEFS[0], exist_ok=True)
        subprocess.run(["mount", "-t", "tracefs", "nodev", _TRACEFS[0]], check=True,
                       capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return pathlib.Path(_TRACEFS[0]) if os.path.exists(_TRACEFS[0] + "/available_events") else None


def _buf(attr) -> bytes:
    if isinstance(attr, (bytes, bytearray, memoryview)):
        return bytes(attr)
    return bytes(perf_ffi.buffer(attr))


def real_perf_event_open(attr, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                         flags: int = 0, with_attr: bool = False):
    """(fd, errno), or (fd, errno, attr bytes after the call) with ``with_attr``. A new fd is
    the caller's to close."""
    data = _buf(attr)
    buf = ctypes.create_string_buffer(data, max(len(data), 1))
    ret = _libc.syscall(ctypes.c_long(SYS_perf_event_open), buf, ctypes.c_int(pid), ctypes.c_int(cpu),
                        ctypes.c_int(group_fd), ctypes.c_ulong(flags))
    err = ctypes.get_errno() if ret < 0 else 0
    return (ret, err, buf.raw[:len(data)]) if with_attr else (ret, err)


def real_ioctl(fd: int, request: int, arg: int = 0) -> tuple[int, int]:
    ret = _libc.ioctl(fd, request, arg)
    return (ret, ctypes.get_errno() if ret < 0 else 0)


def real_close(fd: int) -> None:
    if fd >= 0:
        forget_fd(fd)
        os.close(fd)


def real_prog_load(prog_type: int, insns, expected_attach_type: int = 0, attach_btf_id: int = 0,
                   license: str = "GPL") -> tuple[int, int]:
    code = encode_insns(insns) if not isinstance(insns, (bytes, bytearray)) else bytes(insns)
    ibuf = ffi.new("char[]", code)
    lic = ffi.new("char[]", license.encode())
    attr = ffi.new("union bpf_attr *")
    attr.prog_type = prog_type
    attr.insns = int(ffi.cast("uintptr_t", ibuf))
    attr.insn_cnt = len(code) // 8
    attr.license = int(ffi.cast("uintptr_t", lic))
    attr.expected_attach_type = expected_attach_type
    attr.attach_btf_id = attach_btf_id
    ret, err, _ = real_bpf(5, attr, keep_fd=True)
    return ret, err


def real_raw_tp_open(name: str | None, prog_fd: int, cookie: int = 0) -> tuple[int, int]:
    attr = ffi.new("union bpf_attr *")
    buf = ffi.new("char[]", name.encode()) if name is not None else None
    attr.raw_tracepoint.name = int(ffi.cast("uintptr_t", buf)) if buf is not None else 0
    attr.raw_tracepoint.prog_fd = prog_fd
    attr.raw_tracepoint.cookie = cookie
    ret, err, _ = real_bpf(17, attr, keep_fd=True)
    return ret, err


def real_link_create(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0,
                     perf_cookie: int = 0) -> tuple[int, int]:
    attr = ffi.new("union bpf_attr *")
    attr.link_create.prog_fd = prog_fd
    attr.link_create.target_fd = target_fd
    attr.link_create.attach_type = attach_type
    attr.link_create.flags = flags
    if attach_type == 41:
        attr.link_create.perf_event.bpf_cookie = perf_cookie
    ret, err, _ = real_bpf(28, attr, keep_fd=True)
    return ret, err


def real_btf_id(name: str, kind) -> int:
    """The id of ``name`` in the running kernel's BTF."""
    global _REAL_BTF
    if _REAL_BTF is None:
        from btf import btf_parse
        _REAL_BTF = btf_parse(open("/sys/kernel/btf/vmlinux", "rb").read())
    return _REAL_BTF.find_by_name_kind(name, kind)


_REAL_BTF = None
