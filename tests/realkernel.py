"""The oracle harness: call the machine's real bpf(2) from tests, to compare kernelsim with Linux.

    from tests.realkernel import real_bpf, real_bpf_as, requires_realkernel

    @pytest.mark.realkernel
    @requires_realkernel
    def test_something():
        ret, err, after = real_bpf(BPF_MAP_CREATE, attr_bytes)

* ``real_bpf(cmd, attr, size=None, keep_fd=False) -> (ret, errno, attr_after)``: one bpf() call via
  ``syscall(321, ...)`` (x86-64) on a private copy of ``attr`` (bytes, bytearray, memoryview, or a
  cffi ``union bpf_attr *``); ``attr_after`` is that copy after the call (the kernel writes results
  into it). ``size`` defaults to ``len(attr)``; the copy is zero-padded to ``size`` so a large size
  never reads past our buffer. A new fd returned by an fd-returning command is closed at once
  unless ``keep_fd`` (then it is tracked; ``close_kept_fds()`` closes them all).
* ``realkernel_available()``: probes once (a BPF_MAP_CREATE of a 1-entry array); False on EPERM,
  ENOSYS, any other failure, a non-x86-64 machine, or when ``KERNELSIM_NO_REALKERNEL=1``.
* ``requires_realkernel``: a skipif mark; combine it with ``@pytest.mark.realkernel`` (declared in
  pyproject.toml), or set ``pytestmark = realkernel_marks`` in a module.
* ``real_bpf_as(uid, gid, caps, cmd, attr, size=None, with_attr=False) -> (ret, errno)``: the call
  made by a forked child that first drops to ``uid``/``gid`` (no supplementary groups) and exactly
  the capabilities ``caps`` (numbers, e.g. ``{CAP_BPF}``) in its effective and permitted sets; the
  result comes back through a pipe (with ``with_attr`` also the attr after the call). Fds given to
  the child die with it. Pointer fields in ``attr`` stay valid in the child (fork copies memory).
* ``unprivileged_bpf_disabled(value)``: a context manager that sets kernel.unprivileged_bpf_disabled
  and restores it. It refuses 1, which locks the sysctl until reboot. The machine's value is 2.
* ``real_bpf_obj_fds()``: this process's open fds that are BPF objects, as ``{fd: kind}``;
  ``close_kept_fds()``; ``real_fds_closed()``: a context manager asserting a block leaks none.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as _errno
import fcntl
import os
import platform
import struct
import tempfile

import pytest

SYS_bpf = 321            # x86-64
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39

# commands that return a new fd (PROG_STREAM_READ_BY_FD returns a byte count, not an fd)
FD_RETURNING = frozenset({0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 32, 33, 36})

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4

_kept: set[int] = set()
_available: bool | None = None


def _attr_bytes(attr) -> bytes:
    if attr is None:
        return b""
    if isinstance(attr, (bytes, bytearray, memoryview)):
        return bytes(attr)
    try:   # a cffi pointer to a struct/union
        from syscall.abi import ffi
        return bytes(ffi.buffer(attr))
    except TypeError as e:
        raise TypeError(f"attr must be bytes-like or a cffi struct pointer, "
                        f"not {type(attr).__name__}") from e


def _raw_call(cmd: int, buf, size: int) -> tuple[int, int]:
    ret = _libc.syscall(ctypes.c_long(SYS_bpf), ctypes.c_int(cmd), buf, ctypes.c_uint(size))
    return (ret, ctypes.get_errno() if ret < 0 else 0)


def real_bpf(cmd: int, attr=b"", size: int | None = None, keep_fd: bool = False
             ) -> tuple[int, int, bytes]:
    """One real bpf(cmd, attr, size). Returns (ret, errno, attr_after); errno is 0 on success."""
    data = _attr_bytes(attr)
    if size is None:
        size = len(data)
    n = max(len(data), size, 1)
    buf = ctypes.create_string_buffer(data.ljust(n, b"\0"), n)
    ret, err = _raw_call(int(cmd), buf, size)
    if ret >= 0 and int(cmd) in FD_RETURNING:
        if keep_fd:
            _kept.add(ret)
        else:
            os.close(ret)
    return ret, err, buf.raw[:len(data)]


def real_bpf_at(cmd: int, addr: int, size: int) -> tuple[int, int]:
    """bpf(cmd, (void *)addr, size) with a raw address (for EFAULT probes). Closes any fd."""
    ret = _libc.syscall(ctypes.c_long(SYS_bpf), ctypes.c_int(cmd), ctypes.c_void_p(addr),
                        ctypes.c_uint(size))
    err = ctypes.get_errno() if ret < 0 else 0
    if ret >= 0 and int(cmd) in FD_RETURNING:
        os.close(ret)
    return ret, err


def close_kept_fds() -> None:
    """Close every fd that ``real_bpf(..., keep_fd=True)`` returned and that is still open."""
    while _kept:
        fd = _kept.pop()
        with contextlib.suppress(OSError):
            os.close(fd)


def forget_fd(fd: int) -> None:
    """Stop tracking a kept fd (the caller closed it or handed it on)."""
    _kept.discard(fd)


def real_bpf_obj_fds() -> dict[int, str]:
    """This process's fds that are BPF objects: {fd: "bpf-map" | "bpf-prog" | "bpf_link" | ...}."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("anon_inode:") and ("bpf" in target or target.endswith(":btf")):
            out[int(name)] = target.split(":", 1)[1].strip("[]")
    return out


@contextlib.contextmanager
def real_fds_closed():
    """Assert that the block leaves no new BPF fd open (fds kept inside it are closed on the way
    out; fds kept before it are left alone)."""
    before = set(real_bpf_obj_fds())
    kept_before = set(_kept)
    try:
        yield
    finally:
        for fd in set(_kept) - kept_before:
            _kept.discard(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
    leaked = {fd: k for fd, k in real_bpf_obj_fds().items() if fd not in before}
    for fd in leaked:
        with contextlib.suppress(OSError):
            os.close(fd)
    assert not leaked, f"bpf fds leaked: {leaked}"


def realkernel_available() -> bool:
    """Can this process call the real bpf()? Probed once: a BPF_MAP_CREATE of a tiny array."""
    global _available
    if _available is None:
        _available = _probe()
    return _available


def _probe() -> bool:
    if os.environ.get("KERNELSIM_NO_REALKERNEL") == "1":
        return False
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return False
    attr = struct.pack("<IIII", 2, 4, 4, 1)      # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
    try:
        ret, err, _ = real_bpf(0, attr)
    except Exception:   # noqa: BLE001  (no libc, seccomp kill is not catchable anyway)
        return False
    return ret >= 0


requires_realkernel = pytest.mark.skipif(not realkernel_available(),
                                         reason="the real bpf() is not permitted here")
realkernel_marks = [pytest.mark.realkernel, requires_realkernel]

# --- running as another identity -------------------------------------------------------------

_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _drop_to(uid: int, gid: int, caps) -> None:
    """In the child: become uid/gid with exactly ``caps`` effective and permitted."""
    mask = 0
    for c in caps:
        mask |= 1 << int(c)
    _check(_libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        word = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = word
        data[i].permitted = word
        data[i].inheritable = 0
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def current_caps() -> tuple[int, int]:
    """(effective, permitted) capability masks of the calling thread."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data), "capget")
    eff = data[0].effective | data[1].effective << 32
    prm = data[0].permitted | data[1].permitted << 32
    return eff, prm


def run_as(uid: int, gid: int, caps, fn):
    """Run ``fn()`` in a forked child with the given identity; return what it returns (a
    picklable value). An exception in the child is re-raised here as RuntimeError."""
    import pickle
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:   # child
        status = 0
        try:
            os.close(rfd)
            try:
                _drop_to(uid, gid, caps)
                payload = ("ok", fn())
            except BaseException as e:  # noqa: BLE001
                payload = ("err", f"{type(e).__name__}: {e}")
            blob = pickle.dumps(payload)
            view = memoryview(blob)
            while view:
                view = view[os.write(wfd, view):]
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the child died without reporting")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "err":
        raise RuntimeError(f"in the child: {value}")
    return value


def real_bpf_as(uid: int, gid: int, caps, cmd: int, attr=b"", size: int | None = None,
                with_attr: bool = False):
    """real_bpf() run as uid/gid with exactly ``caps``. Returns (ret, errno), or
    (ret, errno, attr_after) with ``with_attr``."""
    data = _attr_bytes(attr)

    def call():
        ret, err, after = real_bpf(cmd, data, size)
        return (ret, err, after) if with_attr else (ret, err)
    return run_as(uid, gid, caps, call)


# --- sysctl ----------------------------------------------------------------------------------

_UNPRIV = "/proc/sys/kernel/unprivileged_bpf_disabled"
_SYSCTL_LOCK = os.path.join(tempfile.gettempdir(), "kernelsim-realkernel-sysctl.lock")


def read_sysctl(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@contextlib.contextmanager
def unprivileged_bpf_disabled(value: int):
    """Set kernel.unprivileged_bpf_disabled to 0 or 2 for the block, then restore it. 1 is refused:
    it cannot be undone until reboot. Skips the test if the sysctl cannot be written."""
    if value not in (0, 2):
        raise ValueError("only 0 or 2: 1 locks the sysctl until reboot")
    # the sysctl is machine-wide: two test runs on one machine take turns (an exclusive lock
    # on a file for the whole block), or one would see the other's setting
    with open(_SYSCTL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = read_sysctl(_UNPRIV)
        if old == "1":
            pytest.skip("kernel.unprivileged_bpf_disabled is locked at 1")
        try:
            with open(_UNPRIV, "w") as f:
                f.write(str(value))
        except OSError as e:
            pytest.skip(f"cannot write {_UNPRIV}: {e}")
        try:
            yield
        finally:
            with open(_UNPRIV, "w") as f:
                f.write(old)


def errname(err: int) -> str:
    """"EINVAL" for 22 (and "ENOTSUPP" for 524), for readable assertion messages."""
    return "ENOTSUPP" if err == 524 else _errno.errorcode.get(err, str(err))
