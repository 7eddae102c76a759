"""The real bpf() syscall, for the verifier's agreement tests (tests marked ``realkernel``).

A small ctypes wrapper: PROG_LOAD with a pre-filled log buffer (so tests can compare the exact
bytes the kernel leaves in it), MAP_CREATE, close, and loading as an unprivileged identity in a
forked child (uid/gid 65534, no capabilities). ``available()`` says whether bpf() works here.
Nothing of kernelsim is imported: this is the oracle side.
"""

import ctypes
import os
import pickle
import struct

SYS_bpf = 321
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_OBJ_GET_INFO_BY_FD = 0, 5, 15
PROG_LOAD_ATTR_SIZE = 152
MAP_CREATE_ATTR_SIZE = 72

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: ctypes.Array) -> tuple[int, int]:
    ret = _libc.syscall(ctypes.c_long(SYS_bpf), ctypes.c_long(cmd), attr, ctypes.c_uint(len(attr)))
    return (ret, 0) if ret >= 0 else (-1, ctypes.get_errno())


_AVAILABLE = None


def available() -> bool:
    """True when a trivial socket filter loads (root with a working bpf())."""
    global _AVAILABLE
    if _AVAILABLE is None:
        try:
            r = prog_load(1, bytes.fromhex("b700000000000000" "9500000000000000"))
            _AVAILABLE = r["fd"] >= 0          # prog_load already closed the fd
        except Exception:
            _AVAILABLE = False
    return _AVAILABLE


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               map_flags: int = 0, name: str = "") -> int:
    """Returns an fd, or raises OSError(errno)."""
    attr = ctypes.create_string_buffer(MAP_CREATE_ATTR_SIZE)
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, map_flags)
    nm = name.encode()[:15]
    attr[28:28 + len(nm)] = nm
    fd, err = _bpf(BPF_MAP_CREATE, attr)
    if fd < 0:
        raise OSError(err, os.strerror(err))
    return fd


def prog_load(prog_type: int, insns: bytes, license: str = "GPL", log_level: int = 0,
              log_size: int = 0, log_prefill: bytes | None = None, expected_attach_type: int = 0,
              prog_flags: int = 0, fd_array: list | None = None, attach_btf_id: int = 0,
              has_log_buf: bool | None = None, keep_fd: bool = False,
              fd_array_cnt: int = 0) -> dict:
    """Load a program; returns {fd, errno, log (the whole buffer's bytes), log_true_size}.
    The fd is closed unless ``keep_fd``."""
    attr = ctypes.create_string_buffer(PROG_LOAD_ATTR_SIZE)
    ibuf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    if has_log_buf is None:
        has_log_buf = log_size > 0
    lbuf = None
    if has_log_buf:
        fill = log_prefill if log_prefill is not None else b"\0" * log_size
        lbuf = ctypes.create_string_buffer(fill, max(log_size, len(fill), 1))
    fda = None
    if fd_array is not None:
        fda = (ctypes.c_int * max(1, len(fd_array)))(*fd_array)
    struct.pack_into("<IIQQIIQ", attr, 0, prog_type, len(insns) // 8, ctypes.addressof(ibuf),
                     ctypes.addressof(lic), log_level, log_size,
                     ctypes.addressof(lbuf) if lbuf is not None else 0)
    struct.pack_into("<I", attr, 44, prog_flags)
    struct.pack_into("<I", attr, 68, expected_attach_type)
    struct.pack_into("<I", attr, 108, attach_btf_id)
    if fda is not None:
        struct.pack_into("<Q", attr, 120, ctypes.addressof(fda))
    struct.pack_into("<I", attr, 148, fd_array_cnt)
    fd, err = _bpf(BPF_PROG_LOAD, attr)
    out = {"fd": fd, "errno": err,
           "log": bytes(lbuf.raw[:log_size]) if lbuf is not None else b"",
           "log_true_size": struct.unpack_from("<I", attr, 140)[0]}
    if fd >= 0 and not keep_fd:
        os.close(fd)
        out["fd"] = 0
    return out


def prog_load_unpriv(*args, **kwargs) -> dict:
    """prog_load in a forked child that dropped to uid/gid 65534 with no capabilities.
    Map fds created before the call are inherited by the child. With ``keep_fd`` the child
    passes the program's fd back (SCM_RIGHTS), so that root can read its bpf_prog_info."""
    import socket
    keep = kwargs.get("keep_fd", False)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            parent.close()
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            res = prog_load(*args, **kwargs)
            fds = [res["fd"]] if keep and res["fd"] > 0 else []
            socket.send_fds(child, [pickle.dumps(res)], fds)
        finally:
            os._exit(0)
    child.close()
    data = b""
    fds = []
    while True:
        chunk, got, _, _ = socket.recv_fds(parent, 1 << 20, 1)
        fds += got
        if not chunk:
            break
        data += chunk
    parent.close()
    os.waitpid(pid, 0)
    res = pickle.loads(data)
    if fds:
        res["fd"] = fds[0]
    return res


UNPRIV_SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled"


class unprivileged_bpf_enabled:
    """Context manager: kernel.unprivileged_bpf_disabled = 0 for the block, then back to 2.
    Never writes 1 (that value locks until reboot)."""

    def __enter__(self):
        with open(UNPRIV_SYSCTL) as f:
            self.old = int(f.read().strip())
        if self.old == 1:
            raise RuntimeError("unprivileged BPF is locked off (1); cannot enable it")
        if self.old != 0:
            with open(UNPRIV_SYSCTL, "w") as f:
                f.write("0")
        return self

    def __exit__(self, *exc):
        if self.old != 0:
            with open(UNPRIV_SYSCTL, "w") as f:
                f.write("2")
        return False


def map_freeze(fd: int) -> None:
    """BPF_MAP_FREEZE (cmd 22)."""
    attr = ctypes.create_string_buffer(8)
    struct.pack_into("<I", attr, 0, fd)
    ret, err = _bpf(22, attr)
    if ret < 0:
        raise OSError(err, os.strerror(err))


def map_id(fd: int) -> int:
    """The id of the map behind ``fd`` (bpf_map_info.id)."""
    info = ctypes.create_string_buffer(88)
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<IIQ", attr, 0, fd, 88, ctypes.addressof(info))
    ret, err = _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    if ret < 0:
        raise OSError(err, os.strerror(err))
    return struct.unpack_from("<I", info, 4)[0]


def prog_info(fd: int) -> dict:
    """OBJ_GET_INFO_BY_FD of a program: {tag (bytes), xlated (bytes), map_ids (list),
    verified_insns}; the arrays are fetched with a second call sized by the first."""
    def get(xlen: int = 0, nmaps: int = 0):
        info = ctypes.create_string_buffer(PROG_INFO_SIZE)
        xbuf = ctypes.create_string_buffer(max(xlen, 1))
        mbuf = ctypes.create_string_buffer(max(4 * nmaps, 4))
        struct.pack_into("<I", info, 20, xlen)
        struct.pack_into("<Q", info, 32, ctypes.addressof(xbuf) if xlen else 0)
        struct.pack_into("<I", info, 52, nmaps)
        struct.pack_into("<Q", info, 56, ctypes.addressof(mbuf) if nmaps else 0)
        attr = ctypes.create_string_buffer(16)
        struct.pack_into("<IIQ", attr, 0, fd, PROG_INFO_SIZE, ctypes.addressof(info))
        ret, err = _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        if ret < 0:
            raise OSError(err, os.strerror(err))
        return info, xbuf, mbuf
    info, _, _ = get()
    xlen, nmaps = struct.unpack_from("<I", info, 20)[0], struct.unpack_from("<I", info, 52)[0]
    info, xbuf, mbuf = get(xlen, nmaps)
    return {"id": struct.unpack_from("<I", info, 4)[0], "tag": bytes(info.raw[8:16]), "xlated": bytes(xbuf.raw[:xlen]),
            "map_ids": list(struct.unpack_from(f"<{nmaps}I", mbuf, 0)) if nmaps else [],
            "verified_insns": struct.unpack_from("<I", info, 216)[0]}


PROG_INFO_SIZE = 232          # sizeof(struct bpf_prog_info), 6.18
