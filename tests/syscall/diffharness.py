"""Differential harness: run one scenario against the real bpf() and against kernelsim, compare.

A scenario is a function ``scenario(b)`` of a backend ``b`` (``RealBackend`` or ``SimBackend``):
it builds attrs with ``b.attr(...)``, calls ``b.call(cmd, attr, size=None)`` and records what it
wants compared with ``b.rec(value)``. ``call`` records its own result, normalised: a new fd is
"fd" (fd numbers differ between the two machines), an error is its errno name. IDs are global on
the real machine, so scenarios record relations ("next > start"), never raw IDs.

``run_both(scenario, uid=0, gid=0, caps=None)`` runs the scenario on both sides (the real one in a
forked child with that identity when it is not root) and returns both logs; ``assert_same`` fails
with a readable diff. ``STATS`` counts compared entries and agreements (docs/syscall.md quotes the
totals from ``python -m tests.syscall.diffharness``).

The backends are also "tasks" for syscall/libbpf.py: anything with ``.bpf(cmd, attr, size)``.
"""

from __future__ import annotations

import ctypes
import errno
import os

from kernelsim import Kernel
from kernelsim.uapi import BpfCmd
from syscall import abi
from syscall.uaccess import addr_of

from tests import realkernel as rk

FD_CMDS = rk.FD_RETURNING
STATS = {"cases": 0, "agree": 0}
CAP_NUMBERS = {"CAP_BPF": rk.CAP_BPF, "CAP_PERFMON": rk.CAP_PERFMON, "CAP_SYS_ADMIN": rk.CAP_SYS_ADMIN,
               "CAP_NET_ADMIN": rk.CAP_NET_ADMIN, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def ename(err: int) -> str:
    return "ENOTSUPP" if err == 524 else errno.errorcode.get(err, str(err))


class Backend:
    """What both sides share: attr building and the result log."""

    sim = False

    def __init__(self):
        self.log: list = []
        self.fds: list[int] = []
        self.keep: list = []          # buffers whose addresses are in use

    def attr(self, **fields):
        a = abi.new_attr()
        for dotted, value in fields.items():
            parts = dotted.replace("__", ".").split(".")
            obj = a
            for p in parts[:-1]:
                obj = getattr(obj, p)
            if isinstance(value, (bytes, bytearray)) and parts[-1] in ("map_name", "prog_name"):
                setattr(obj, parts[-1], bytes(value))
            else:
                setattr(obj, parts[-1], value)
        return a

    def buf(self, data: bytes | int, size: int | None = None) -> int:
        """A C buffer holding ``data`` (or ``data`` zero bytes); its address."""
        if isinstance(data, int):
            b = ctypes.create_string_buffer(data or 1)
        else:
            data = bytes(data)
            n = max(size or 0, len(data), 1)
            b = ctypes.create_string_buffer(n)
            b.raw = data.ljust(n, b"\0")
        self.keep.append(b)
        return ctypes.addressof(b)

    def read(self, addr: int, size: int) -> bytes:
        return ctypes.string_at(addr, size)

    def rec(self, value) -> None:
        self.log.append(value)

    def call(self, cmd, attr, size=None, record=True) -> int:
        ret = self.raw(int(cmd), attr, size)
        if ret >= 0 and int(cmd) in FD_CMDS:
            self.fds.append(ret)
        if record:
            self.rec("fd" if ret >= 0 and int(cmd) in FD_CMDS else (ret if ret >= 0 else ename(-ret)))
        return ret

    def bpf(self, cmd, attr=b"", size=None) -> int:
        """The task protocol of syscall/libbpf.py (no recording)."""
        return self.raw(int(cmd), attr, size)

    def close_all(self) -> None:
        for fd in self.fds:
            self.close(fd)
        self.fds = []


class SimBackend(Backend):
    sim = True

    def __init__(self, uid=0, gid=0, caps=None, kernel=None, sysctl=0):
        super().__init__()
        self.kernel = kernel or Kernel(ncpus=_possible_cpus(), seed=1)
        if sysctl is not None:
            self.kernel.sysctl["kernel.unprivileged_bpf_disabled"] = sysctl
        self.task = self.kernel.spawn("diff", uid=uid, gid=gid, caps=caps)

    def raw(self, cmd, attr, size):
        if not isinstance(attr, (bytes, bytearray, memoryview)):
            attr = abi.ffi.buffer(attr)
        return self.task.bpf(cmd, attr, size)

    def close(self, fd):
        self.task.close(fd)


# MAP_CREATE attrs whose allocation could exhaust the machine's memory are refused before they
# reach the real kernel (a 2^31-entry per-CPU array OOM-kills processes): the guard allows them
# only for the hash types with BPF_F_NO_PREALLOC, which fail before allocating (E2BIG).
REAL_MAP_BYTES_LIMIT = 64 << 20


def _guard_map_create(attr_bytes: bytes) -> None:
    import struct
    if len(attr_bytes) < 20:
        return
    mt, ks, vs, me, fl = struct.unpack_from("<IIIII", attr_bytes)
    if fl & 1 and mt in (1, 5, 9, 10):
        return
    cost = me * (max(vs, 8) + ks + 64) * _possible_cpus()
    if cost > REAL_MAP_BYTES_LIMIT:
        raise AssertionError(f"refusing a real MAP_CREATE of ~{cost >> 20} MiB (type {mt}, "
                             f"{me} entries): it could exhaust the machine's memory")


class RealBackend(Backend):
    def raw(self, cmd, attr, size):
        if cmd == 0:
            _guard_map_create(bytes(attr) if isinstance(attr, (bytes, bytearray, memoryview))
                              else bytes(abi.ffi.buffer(attr)))
        if isinstance(attr, (bytes, bytearray, memoryview)):
            data = bytes(attr)
            n = max(len(data), size or 0, 1)
            b = ctypes.create_string_buffer(data.ljust(n, b"\0"), n)
            if isinstance(attr, bytearray):
                attr_view = attr
            else:
                attr_view = None
            addr = ctypes.addressof(b)
            if size is None:
                size = len(data)
        else:
            b = abi.ffi.buffer(attr)
            addr = addr_of(attr)
            attr_view = None
            if size is None:
                size = abi.BPF_ATTR_SIZE
        ret = _libc.syscall(ctypes.c_long(321), ctypes.c_int(cmd), ctypes.c_void_p(addr), ctypes.c_uint(size))
        err = ctypes.get_errno() if ret < 0 else 0
        if attr_view is not None:
            attr_view[:] = ctypes.string_at(addr, len(attr_view))
        return ret if ret >= 0 else -err

    def close(self, fd):
        try:
            os.close(fd)
        except OSError:
            pass


def _possible_cpus() -> int:
    try:
        text = open("/sys/devices/system/cpu/possible").read().strip()
    except OSError:
        return os.cpu_count() or 1
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def _caps_numbers(caps):
    return {CAP_NUMBERS[c] for c in caps}


def ensure_stdio() -> None:
    """The scenarios use fds 0-2 as "a file that is not a BPF object" (as kernelsim's tasks see
    them). If an earlier test closed one of them, or left a BPF fd in its place, put /dev/null
    there so the real side answers as it would in a normal process."""
    for fd in (0, 1, 2):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = None
        if target is None or target.startswith("anon_inode:"):
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def run_real(scenario, uid=0, gid=0, caps=None):
    ensure_stdio()

    def go():
        b = RealBackend()
        try:
            scenario(b)
        finally:
            b.close_all()
        return b.log
    if uid == 0 and caps is None:
        return go()
    return rk.run_as(uid, gid, _caps_numbers(caps or ()), go)


def run_sim(scenario, uid=0, gid=0, caps=None, sysctl=0):
    b = SimBackend(uid, gid, caps, sysctl=sysctl)
    try:
        scenario(b)
    finally:
        b.close_all()
    return b.log


def run_both(scenario, uid=0, gid=0, caps=None, sysctl=0):
    """(real log, sim log). ``sysctl``: kernel.unprivileged_bpf_disabled for both (0 or 2)."""
    if uid != 0 or caps is not None:
        with rk.unprivileged_bpf_disabled(sysctl):
            real = run_real(scenario, uid, gid, caps)
    else:
        real = run_real(scenario, uid, gid, caps)
    sim = run_sim(scenario, uid, gid, caps, sysctl)
    return real, sim


def compare(real: list, sim: list) -> list[tuple]:
    """The differing entries: (index, real, sim)."""
    out = []
    for i in range(max(len(real), len(sim))):
        r = real[i] if i < len(real) else "<missing>"
        s = sim[i] if i < len(sim) else "<missing>"
        STATS["cases"] += 1
        if r == s:
            STATS["agree"] += 1
        else:
            out.append((i, r, s))
    return out


def assert_same(real: list, sim: list, what: str = "") -> None:
    diff = compare(real, sim)
    assert not diff, f"{what}: real vs kernelsim differ at " + "; ".join(
        f"[{i}] real={r!r} sim={s!r}" for i, r, s in diff[:10])
