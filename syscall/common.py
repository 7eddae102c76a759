"""What every bpf() command handler shares (kernel/bpf/syscall.c helpers): the per-call context
with the attr and its write-back, fd -> object lookups with the kernel's errnos, new fds,
bpf_obj_name_cpy, bpf_get_file_flag, user-memory access for the core's batch functions.

Handlers take one ``SysCtx`` and return an int (>= 0) or raise ``BpfError``; only
``syscall/dispatch.py`` turns the error into -errno.
"""

from __future__ import annotations

import errno
import functools

from kernelsim.bpf_btf import BpfBtf
from kernelsim.bpf_objects import FMODE_READ, FMODE_RDWR, FMODE_WRITE, File
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.maps import BpfMap, MapFile
from kernelsim.uapi import BpfMapFlags

from . import abi, uaccess

O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
AT_FDCWD = -100
U32_MAX = 0xFFFFFFFF


@functools.lru_cache(maxsize=None)
def attr_field(dotted: str) -> abi.Field:
    return abi.field("union bpf_attr", dotted)


class SysCtx:
    """One bpf() call: the calling task, the kernel copy of the attr (a cffi ``union bpf_attr *``)
    and the fields the kernel writes back (``put_user``), applied to the caller's buffer by the
    dispatcher even when the command fails (the kernel's put_user happens when it happens)."""

    def __init__(self, task, cmd, attr, size: int):
        self.task = task
        self.kernel = task.kernel
        self.cred = task.cred
        self.files = task.files
        self.cmd = cmd
        self.attr = attr
        self.size = size                  # the size the caller passed (uattr_size)
        self.writes: dict[str, int] = {}  # dotted field -> value, in order
        self.log_fields: dict = {}        # extra decoded fields for the structlog event

    def get(self, dotted: str) -> int:
        obj = self.attr
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj

    def raw(self, dotted: str) -> bytes:
        f = attr_field(dotted)
        return bytes(abi.ffi.buffer(self.attr))[f.offset:f.offset + f.size]

    def put_user(self, dotted: str, value: int) -> None:
        """put_user(value, &uattr->dotted): into the kernel copy now, the caller's at the end."""
        parts = dotted.split(".")
        obj = self.attr
        for part in parts[:-1]:
            obj = getattr(obj, part)
        setattr(obj, parts[-1], value)
        self.writes[dotted] = value


class UserMem:
    """kernelsim.maps.map.UserAccess over syscall/uaccess (real addresses of this process)."""

    @staticmethod
    def copy_from_user(addr: int, size: int) -> bytes:
        return uaccess.copy_from_user(addr, size)

    @staticmethod
    def copy_to_user(addr: int, data: bytes) -> None:
        uaccess.copy_to_user(addr, data)


USER = UserMem()


# -- fds -> objects ------------------------------------------------------------------------------


class _Tty:
    """What fds 0, 1 and 2 are when a task has not replaced them: a terminal, not a BPF object."""

    kind = "tty"


STDIO = File(_Tty(), name="/dev/pts/0")


def fdget(ctx: SysCtx, fd: int) -> File:
    """EBADF: not an open fd. fds 0-2 are the task's stdio (a non-BPF file, so commands expecting
    a BPF object answer EINVAL for them, as on Linux)."""
    fd = _fd(fd)
    if fd in (0, 1, 2) and fd not in ctx.files.fds:
        return STDIO
    return ctx.files.get(fd)


def _fd(fd: int) -> int:
    fd = int(fd) & U32_MAX
    return fd - (1 << 32) if fd & 0x80000000 else fd


def bpf_map_get(ctx: SysCtx, fd: int) -> tuple[BpfMap, File]:
    """__bpf_map_get: EBADF for a closed fd, EINVAL for a non-map fd. No reference taken (the
    File keeps the map alive for the call)."""
    file = fdget(ctx, fd)
    if not isinstance(file.obj, BpfMap):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a map")
    return file.obj, file


def bpf_prog_get(ctx: SysCtx, fd: int) -> BpfProg:
    """bpf_prog_get: a reference on the program behind ``fd``. EBADF, EINVAL."""
    file = fdget(ctx, fd)
    if not isinstance(file.obj, BpfProg):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a program")
    return file.obj.get()


def bpf_link_get_from_fd(ctx: SysCtx, fd: int):
    """A reference on the link behind ``fd``. EBADF, EINVAL."""
    file = fdget(ctx, fd)
    if getattr(file.obj, "kind", None) != "link":
        raise BpfError(errno.EINVAL, f"fd {fd} is not a link")
    return file.obj.get()


def btf_get_by_fd(ctx: SysCtx, fd: int) -> BpfBtf:
    """A reference on the BTF object behind ``fd``. EBADF, EINVAL."""
    file = fdget(ctx, fd)
    if not isinstance(file.obj, BpfBtf):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a BTF object")
    return file.obj.get()


def map_get_sys_perms(map: BpfMap, file: File) -> int:
    """The fd's access mode, without write once the map is frozen."""
    mode = file.f_mode
    if map.frozen:
        mode &= ~FMODE_WRITE
    return mode


# -- new fds -------------------------------------------------------------------------------------


def bpf_get_file_flag(flags: int) -> int:
    """O_RDONLY / O_WRONLY / O_RDWR from BPF_F_RDONLY / BPF_F_WRONLY. EINVAL for both."""
    if flags & BpfMapFlags.BPF_F_RDONLY and flags & BpfMapFlags.BPF_F_WRONLY:
        raise BpfError(errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together")
    if flags & BpfMapFlags.BPF_F_RDONLY:
        return O_RDONLY
    if flags & BpfMapFlags.BPF_F_WRONLY:
        return O_WRONLY
    return O_RDWR


FMODES = {O_RDONLY: FMODE_READ, O_WRONLY: FMODE_WRITE, O_RDWR: FMODE_RDWR}


def install_fd(ctx: SysCtx, file: File) -> int:
    """anon_inode_getfd. On EMFILE the File never held anything: the caller drops its reference."""
    return ctx.files.install(file)


def bpf_map_new_fd(ctx: SysCtx, map: BpfMap, f_flags: int) -> int:
    """A map fd holding the caller's uref (dropped again on failure)."""
    try:
        return install_fd(ctx, MapFile(map, FMODES[f_flags]))
    except BpfError:
        map.put_uref()
        raise


def bpf_prog_new_fd(ctx: SysCtx, prog) -> int:
    try:
        return install_fd(ctx, File(prog, FMODE_RDWR, "anon_inode:bpf-prog"))
    except BpfError:
        prog.put()
        raise


def bpf_link_new_fd(ctx: SysCtx, link) -> int:
    from kernelsim.bpf_link import LinkFile
    try:
        return install_fd(ctx, LinkFile(link))
    except BpfError:
        link.put()
        raise


def btf_new_fd(ctx: SysCtx, btf: BpfBtf) -> int:
    try:
        return install_fd(ctx, File(btf, FMODE_RDWR, "anon_inode:btf"))
    except BpfError:
        btf.put()
        raise


# -- names ---------------------------------------------------------------------------------------

# lib/ctype.c: isalnum() is true for ASCII letters and digits and for the ISO-8859-1 letters
# 0xC0-0xD6, 0xD8-0xF6, 0xF8-0xFF (the kernel's ctype table is Latin-1).
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") | (
    frozenset(range(0xC0, 0x100)) - {0xD7, 0xF7})
_NAME_OK = _ALNUM | frozenset(b"_.")


def bpf_obj_name_cpy(src: bytes, size: int = 16) -> str:
    """Map and program names: only isalnum, '_' and '.' before the first NUL, and a NUL within
    ``size`` bytes. EINVAL otherwise. The name is returned decoded as Latin-1."""
    out = bytearray()
    for b in src[:size]:
        if b == 0:
            return out.decode("latin-1")
        if b not in _NAME_OK:
            raise BpfError(errno.EINVAL, f"invalid character {b:#x} in object name")
        out.append(b)
    raise BpfError(errno.EINVAL, "object name is not NUL-terminated")


def copy_key(ukey: int, key_size: int) -> bytes | None:
    """___bpf_copy_key: key_size bytes from user memory; a zero key_size needs a NULL pointer
    (EINVAL otherwise) and gives None. EFAULT."""
    if key_size:
        return uaccess.copy_from_user(ukey, key_size)
    if ukey:
        raise BpfError(errno.EINVAL, "key pointer for a keyless map")
    return None


def capable(ctx: SysCtx, cap: str) -> bool:
    return ctx.cred.capable(cap)


def bpf_token_capable(ctx: SysCtx, cap: str) -> bool:
    """Without a token: capable(cap), CAP_SYS_ADMIN standing in for any other capability."""
    return ctx.cred.capable(cap) or (cap != "CAP_SYS_ADMIN" and ctx.cred.capable("CAP_SYS_ADMIN"))


def bpf_token_get_from_fd(ctx: SysCtx, fd: int):
    """There are no BPF tokens here (TOKEN_CREATE is EOPNOTSUPP in the initial namespace), so a
    token fd is always wrong: EBADF for a closed fd, EINVAL for any other file."""
    fdget(ctx, fd)
    raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF token")
