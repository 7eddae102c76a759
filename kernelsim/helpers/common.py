"""What every helper module shares: register arithmetic, memory access that returns -errno, the
map behind a CONST_PTR_TO_MAP register, and the current task (include/linux/filter.h BPF_CALL_x,
mm/maccess.c copy_*_nofault).

Helpers are called by the interpreter as ``func(run, r1, r2, r3, r4, r5) -> int`` with u64
register values; they return a Python int that the interpreter stores into R0 modulo 2**64, so a
helper returns ``-errno`` as the kernel's do (``-EFAULT`` becomes 0xfffffffffffffff2 in R0).
Helpers never raise out of a program: a ``MemoryFault`` or a map op's ``BpfError`` becomes the
errno the kernel function would have returned.

Address spaces (memory.py): kernel memory is ``run.mem``; a task's user memory is ``task.mm``,
below ``TASK_SIZE``. ``copy_from_kernel_nofault`` refuses user addresses with -ERANGE on x86 (its
``copy_from_kernel_nofault_allowed``); other architectures try the access and get -EFAULT.
"""

import errno

from ..errors import BpfError
from ..memory import PAGE_SHIFT, TASK_SIZE, MemoryFault

U32_MASK = 0xFFFFFFFF
U64_MASK = (1 << 64) - 1


def s32(v: int) -> int:
    v &= U32_MASK
    return v - (1 << 32) if v & 0x80000000 else v


def s64(v: int) -> int:
    v &= U64_MASK
    return v - (1 << 64) if v >> 63 else v


def errno_of(exc: Exception) -> int:
    """-errno for an exception raised under a helper: BpfError keeps its errno, a fault is EFAULT."""
    if isinstance(exc, BpfError):
        return -exc.errno
    return -errno.EFAULT


# -- the current task ------------------------------------------------------------------------


def current_task(run):
    """The task the program runs in (``current``); None means the CPU's idle task (swapper/N)."""
    return run.task


def task_comm(run, task) -> str:
    return task.comm if task is not None else f"swapper/{run.cpu}"


# -- memory ------------------------------------------------------------------------------------


def kernel_read_allowed(run, addr: int) -> bool:
    """copy_from_kernel_nofault_allowed: x86 refuses user addresses and the guard hole."""
    if run.kernel.arch in ("x86_64", "i386"):
        return addr >= TASK_SIZE + 4096
    return True


def copy_from_kernel_nofault(run, addr: int, size: int) -> bytes | int:
    """Bytes, or -ERANGE / -EFAULT (mm/maccess.c)."""
    if size == 0:
        return b""
    if not kernel_read_allowed(run, addr):
        return -errno.ERANGE
    try:
        return run.mem.read(addr, size)
    except MemoryFault:
        return -errno.EFAULT


def user_mm(run):
    task = run.task
    return task.mm if task is not None else None


def access_ok(addr: int, size: int) -> bool:
    return addr + size <= TASK_SIZE and addr < TASK_SIZE


def copy_from_user_nofault(run, addr: int, size: int) -> bytes | int:
    """Bytes, or -EFAULT (no access_ok, no user memory there, or a kernel thread)."""
    if size == 0:
        return b""
    mm = user_mm(run)
    if mm is None or not access_ok(addr, size):
        return -errno.EFAULT
    try:
        return mm.read(addr, size)
    except MemoryFault:
        return -errno.EFAULT


def copy_to_user_nofault(run, addr: int, data: bytes) -> int:
    if not data:
        return 0
    mm = user_mm(run)
    if mm is None or not access_ok(addr, len(data)):
        return -errno.EFAULT
    try:
        mm.write(addr, data)
    except MemoryFault:
        return -errno.EFAULT
    return 0


def _strncpy(space, addr: int, count: int) -> bytes | int:
    """The string at ``addr`` in ``space`` as strncpy_from_*_nofault leaves it in dst: at most
    count - 1 bytes then NUL. Returns the bytes with their NUL, or -EFAULT if the string runs into
    unmapped memory before its NUL (or before count - 1 bytes)."""
    out = bytearray()
    while len(out) < count - 1:
        region = space.region_of(addr + len(out))
        if region is None:
            return -errno.EFAULT
        off = addr + len(out) - region.start
        chunk = region.buf[off:off + (count - 1 - len(out))]
        nul = chunk.find(0)
        if nul >= 0:
            out += chunk[:nul]
            return bytes(out) + b"\0"
        out += chunk
    return bytes(out) + b"\0"


def strncpy_from_kernel_nofault(run, addr: int, count: int) -> bytes | int:
    """mm/maccess.c: the copied bytes including the NUL (truncated: count bytes, last one NUL),
    or -ERANGE / -EFAULT."""
    if count <= 0:
        return b""
    if not kernel_read_allowed(run, addr):
        return -errno.ERANGE
    return _strncpy(run.mem, addr, count)


def strncpy_from_user_nofault(run, addr: int, count: int) -> bytes | int:
    if count <= 0:
        return b""
    mm = user_mm(run)
    if mm is None or addr >= TASK_SIZE:
        return -errno.EFAULT
    return _strncpy(mm, addr, count)


def write_kernel(run, addr: int, data: bytes) -> int:
    """Store into program-visible kernel memory (a verified ARG_PTR_TO_UNINIT_MEM buffer): 0 or
    -EFAULT (only an unverified run can fault here)."""
    try:
        run.mem.write(addr, data)
    except MemoryFault:
        return -errno.EFAULT
    return 0


def read_kernel(run, addr: int, size: int) -> bytes | None:
    """Read a verified ARG_PTR_TO_MEM buffer; None if it faults (unverified runs only)."""
    try:
        return run.mem.read(addr, size)
    except MemoryFault:
        return None


def writable(run, addr: int, size: int) -> bool:
    """Whether ``size`` bytes at ``addr`` can be stored (checked before building big buffers)."""
    try:
        run.mem.check(addr, max(size, 1), write=True)
    except MemoryFault:
        return False
    return True


def write_padded(run, addr: int, data: bytes, size: int) -> int:
    """``data`` then zeroes up to ``size`` bytes: 0 or -EFAULT."""
    if not writable(run, addr, size):
        return -errno.EFAULT
    return write_kernel(run, addr, data[:size] + bytes(size - min(len(data), size)))


def zero_fill(run, addr: int, size: int) -> None:
    """memset(dst, 0, size) on the error path of the probe-read helpers (a bad dst is ignored)."""
    if size and writable(run, addr, size):
        write_kernel(run, addr, bytes(size))


# -- maps --------------------------------------------------------------------------------------


def map_of(run, addr: int):
    """The BpfMap whose object a CONST_PTR_TO_MAP register points at, or None."""
    region = run.mem.pages.get(addr >> PAGE_SHIFT)    # region_of, for the start address only
    if region is None or region.start != addr or not region.buf:
        return None
    owner = region.owner
    return owner if getattr(owner, "ops", None) is not None and hasattr(owner, "key_size") else None



def btf_member(btf, struct, path: str, depth: int = 0):
    """(byte offset, type id) of a member of a struct or union (an id, or a struct name), found
    through anonymous members (vm_area_struct's vm_start sits in an anonymous union); ``path``
    may name nested members with dots ("__sk_common.skc_family"). None when absent."""
    try:
        sid = btf.find_by_name_kind(struct, 4) if isinstance(struct, str) else struct
        off = 0
        for name in path.split("."):
            got = _member(btf, sid, name, 0)
            if got is None:
                return None
            off, sid = off + got[0], btf.skip_modifiers(got[1])
        return off, sid
    except Exception:  # noqa: BLE001 - a BTF without the struct
        return None


def _member(btf, sid: int, name: str, depth: int):
    if depth > 8:
        return None
    for m in btf.members(sid):
        if m.name == name:
            return m.bit_offset // 8, m.type
        if not m.name:
            mt = btf.skip_modifiers(m.type)
            if btf.kind_of(mt) in (4, 5):
                inner = _member(btf, mt, name, depth + 1)
                if inner is not None:
                    return m.bit_offset // 8 + inner[0], inner[1]
    return None
