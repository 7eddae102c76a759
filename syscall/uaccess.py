"""copy_from_user / copy_to_user on real addresses of this Python process, safely.

Pointer fields of a ``union bpf_attr`` (``insns``, ``key``, ``log_buf`` ...) hold addresses of
buffers in this process (ctypes arrays, bytearrays, cffi buffers). The simulated kernel reads and
writes them here, as the real one reads and writes the caller's memory: a bad address (NULL,
unmapped, a kernel address, PROT_NONE, or read-only memory for a write) gives
``BpfError(EFAULT)``, never a crash.

How: ``process_vm_readv`` / ``process_vm_writev`` on our own pid (they check the target pages like
the kernel's uaccess does and report a fault instead of raising SIGSEGV). A short transfer means the
next byte faulted: the bytes before it are transferred (as the kernel's copy routines do) and the
call raises EFAULT. If those syscalls are unavailable (ENOSYS, or EPERM under a seccomp policy or
a Yama setting), the fallback is ``/proc/self/mem`` with pread/pwrite; because that file bypasses
page protections (FOLL_FORCE), the fallback first checks /proc/self/maps and only touches pages that
are readable (reads) or writable (writes), stopping with EFAULT at the first one that is not.

``addr_of(buffer)`` turns a Python buffer into the address to put into an attr field. Keeping the
buffer alive (and not resizing a bytearray) while the address is in use is the caller's problem:
the address of a freed buffer is just another address, valid or not.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import threading

from kernelsim.errors import BpfError

PAGE_SIZE = mmap.PAGESIZE
_CHUNK = 1 << 20                     # one transfer at most; bounds the memory a bad size can cost
_ADDR_MAX = (1 << 64) - 1

_libc = ctypes.CDLL(None, use_errno=True)


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_pvm_read = _libc.process_vm_readv
_pvm_write = _libc.process_vm_writev
for _f in (_pvm_read, _pvm_write):
    _f.restype = ctypes.c_ssize_t
    _f.argtypes = [ctypes.c_int, ctypes.POINTER(_IoVec), ctypes.c_ulong, ctypes.POINTER(_IoVec),
                   ctypes.c_ulong, ctypes.c_ulong]

_lock = threading.Lock()
_backend: str | None = None          # "pvm" or "procmem", chosen on first use
_mem_fd: int | None = None


def backend() -> str:
    """The mechanism in use: "pvm" (process_vm_readv/writev) or "procmem" (/proc/self/mem)."""
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend = "pvm" if _pvm_works() else "procmem"
    return _backend


def set_backend(name: str | None) -> None:
    """Force a backend ("pvm", "procmem"), or None to probe again. For tests."""
    global _backend
    if name not in (None, "pvm", "procmem"):
        raise ValueError(name)
    _backend = name


def _pvm_works() -> bool:
    src = ctypes.create_string_buffer(b"probe", 5)
    dst = ctypes.create_string_buffer(5)
    n = _pvm_transfer(_pvm_read, ctypes.addressof(dst), ctypes.addressof(src), 5)
    return n == 5 and dst.raw == b"probe"


def _pvm_transfer(fn, local: int, remote: int, size: int) -> int:
    """One process_vm_* call; returns bytes moved, or -errno."""
    liov = _IoVec(local, size)
    riov = _IoVec(remote, size)
    n = fn(os.getpid(), ctypes.byref(liov), 1, ctypes.byref(riov), 1, 0)
    return n if n >= 0 else -ctypes.get_errno()


# --- /proc/self/mem fallback ----------------------------------------------------------------

def _mem() -> int:
    global _mem_fd
    if _mem_fd is None:
        _mem_fd = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
    return _mem_fd


def _accessible_prefix(addr: int, size: int, perm: str) -> int:
    """How many bytes from addr are in mappings with ``perm`` ('r' or 'w'), per /proc/self/maps."""
    idx = 0 if perm == "r" else 1
    end = addr + size
    pos = addr
    with open("/proc/self/maps") as f:
        ranges = []
        for line in f:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            ranges.append((lo, hi, perms[idx] == perm))
    for lo, hi, ok in sorted(ranges):
        if hi <= pos:
            continue
        if lo > pos or not ok:
            break
        pos = hi
        if pos >= end:
            break
    return max(0, min(pos, end) - addr)


def _procmem_read(addr: int, size: int) -> tuple[bytes, bool]:
    n = _accessible_prefix(addr, size, "r")
    out = bytearray()
    while len(out) < n:
        try:
            chunk = os.pread(_mem(), min(n - len(out), _CHUNK), addr + len(out))
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out), len(out) == size


def _procmem_write(addr: int, data: bytes) -> bool:
    n = _accessible_prefix(addr, len(data), "w")
    done = 0
    while done < n:
        try:
            k = os.pwrite(_mem(), data[done:n], addr + done)
        except OSError:
            break
        if k <= 0:
            break
        done += k
    return done == len(data)


# --- the interface ---------------------------------------------------------------------------

def _check_args(addr: int, size: int) -> None:
    if not isinstance(addr, int) or not isinstance(size, int):
        raise BpfError(errno.EFAULT, "address and size must be integers")
    if size < 0:
        raise BpfError(errno.EFAULT, f"negative size {size}")
    if addr < 0 or addr > _ADDR_MAX or addr + size - 1 > _ADDR_MAX:
        raise BpfError(errno.EFAULT, f"bad user address {addr:#x}")


def _read(addr: int, size: int) -> tuple[bytes, bool]:
    """(the readable prefix, whether all of it was readable)."""
    if backend() == "procmem":
        return _procmem_read(addr, size)
    out = bytearray()
    while len(out) < size:
        want = min(size - len(out), _CHUNK)
        buf = ctypes.create_string_buffer(want)
        n = _pvm_transfer(_pvm_read, ctypes.addressof(buf), addr + len(out), want)
        if n <= 0:
            return bytes(out), False
        out += buf.raw[:n]
        if n < want:
            return bytes(out), False
    return bytes(out), True


def copy_from_user(addr: int, size: int) -> bytes:
    """``size`` bytes at user address ``addr``; BpfError(EFAULT) if any of them is unreadable."""
    _check_args(addr, size)
    if size == 0:
        return b""
    data, ok = _read(addr, size)
    if not ok:
        raise BpfError(errno.EFAULT, f"cannot read {size} bytes at {addr:#x} "
                                     f"(faulted after {len(data)})")
    return data


def copy_from_user_partial(addr: int, size: int) -> bytes:
    """The readable prefix of [addr, addr+size) (no exception): what the kernel copied before
    faulting. For callers that must report how far they got."""
    _check_args(addr, size)
    return _read(addr, size)[0] if size else b""


def copy_to_user(addr: int, data) -> None:
    """Write ``data`` at user address ``addr``. BpfError(EFAULT) if any byte is not writable
    (the bytes before the fault are written, as the kernel's copy_to_user leaves them)."""
    data = bytes(data)
    _check_args(addr, len(data))
    if not data:
        return
    if backend() == "procmem":
        if not _procmem_write(addr, data):
            raise BpfError(errno.EFAULT, f"cannot write {len(data)} bytes at {addr:#x}")
        return
    done = 0
    while done < len(data):
        part = data[done:done + _CHUNK]
        src = ctypes.create_string_buffer(part, len(part))
        n = _pvm_transfer(_pvm_write, ctypes.addressof(src), addr + done, len(part))
        if n <= 0:
            break
        done += n
        if n < len(part):
            break
    if done != len(data):
        raise BpfError(errno.EFAULT, f"cannot write {len(data)} bytes at {addr:#x} "
                                     f"(faulted after {done})")


def clear_user(addr: int, size: int) -> None:
    """Zero ``size`` bytes at ``addr`` (BpfError(EFAULT) as copy_to_user)."""
    _check_args(addr, size)
    pos = 0
    while pos < size:
        n = min(size - pos, _CHUNK)
        copy_to_user(addr + pos, bytes(n))
        pos += n


def strncpy_from_user(addr: int, max_len: int) -> bytes:
    """The kernel's strncpy_from_user: the bytes at ``addr`` up to (not including) the first NUL,
    reading at most ``max_len`` bytes. If no NUL is found in ``max_len`` bytes, all ``max_len`` are
    returned (``len(result) == max_len`` tells the caller the string was too long, as the kernel's
    return value ``count`` does). BpfError(EFAULT) if a byte before the NUL is unreadable; bytes
    after the NUL are never touched (the read goes page by page)."""
    _check_args(addr, 0)
    if max_len <= 0:
        return b""
    out = bytearray()
    pos = addr
    while len(out) < max_len:
        if pos > _ADDR_MAX:
            raise BpfError(errno.EFAULT, f"string at {addr:#x} runs off the address space")
        want = min(max_len - len(out), PAGE_SIZE - (pos % PAGE_SIZE))
        chunk, ok = _read(pos, want)
        nul = chunk.find(b"\0")
        if nul >= 0:
            return bytes(out + chunk[:nul])
        out += chunk
        if not ok:
            raise BpfError(errno.EFAULT, f"unterminated string at {addr:#x} "
                                         f"(faulted after {len(out)} bytes)")
        pos += want
    return bytes(out)


def strnlen_user(addr: int, max_len: int) -> int:
    """The kernel's strnlen_user: length including the NUL, 0 on a fault, > max_len if none."""
    try:
        s = strncpy_from_user(addr, max_len)
    except BpfError:
        return 0
    return len(s) + 1 if len(s) < max_len else max_len + 1


def addr_of(buffer) -> int:
    """The address of a Python buffer's first byte, for a pointer field of an attr.

    Accepts a ctypes instance (array, structure), a bytearray or writable memoryview, bytes (read
    only: the kernel must not write there), a cffi pointer or array cdata, a cffi buffer
    (``ffi.buffer``/``ffi.from_buffer``), or an int (returned as is). The caller keeps the buffer
    alive and unmoved while the address is used."""
    if isinstance(buffer, int):
        return buffer
    if isinstance(buffer, ctypes._SimpleCData) or isinstance(
            buffer, (ctypes.Array, ctypes.Structure, ctypes.Union)):
        return ctypes.addressof(buffer)
    from .abi import ffi    # local: uaccess itself needs no cdefs
    if isinstance(buffer, ffi.CData):
        return int(ffi.cast("uintptr_t", buffer))
    if isinstance(buffer, ffi.buffer):
        return int(ffi.cast("uintptr_t", ffi.from_buffer(buffer)))
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        return int(ffi.cast("uintptr_t", ffi.from_buffer(buffer)))
    raise TypeError(f"cannot take the address of {type(buffer).__name__}")


def user_buffer(data_or_size) -> tuple[ctypes.Array, int]:
    """A new ctypes char buffer (from bytes, or zeroed of a size) and its address.
    Keep the buffer alive while the address is used."""
    if isinstance(data_or_size, int):
        buf = ctypes.create_string_buffer(data_or_size)
    else:
        data = bytes(data_or_size)
        buf = ctypes.create_string_buffer(data, len(data))
    return buf, ctypes.addressof(buf)


__all__ = ["copy_from_user", "copy_from_user_partial", "copy_to_user", "clear_user",
           "strncpy_from_user", "strnlen_user", "addr_of", "user_buffer", "backend",
           "set_backend", "PAGE_SIZE"]
