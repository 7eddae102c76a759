"""OBJ_PIN and OBJ_GET: pinning BPF objects in bpffs (kernel/bpf/syscall.c bpf_obj_pin,
bpf_obj_get; kernel/bpf/inode.c bpf_obj_pin_user, bpf_obj_get_user, bpf_fd_probe_obj). The tree
and its permission rules are kernelsim/bpffs.py.

Paths are user strings (getname: EFAULT on a bad pointer, ENOENT when empty, ENAMETOOLONG at
PATH_MAX). With BPF_F_PATH_FD a relative path is resolved from ``path_fd``, which must be a
directory fd (``bpffs_open_dir`` makes one: tasks have no open(2) here); otherwise from the
root, the task's working directory.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_objects import FMODE_READ, File
from kernelsim.bpffs import MAY_READ, MAY_WRITE, PATH_MAX, Inode
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.maps import BpfMap
from kernelsim.uapi import BpfMapFlags

from . import uaccess
from .common import (AT_FDCWD, O_RDONLY, O_RDWR, O_WRONLY, SysCtx, bpf_get_file_flag,
                     bpf_link_new_fd, bpf_map_new_fd, bpf_prog_new_fd, fdget)

F = BpfMapFlags
ACC_MODE = {O_RDONLY: MAY_READ, O_WRONLY: MAY_WRITE, O_RDWR: MAY_READ | MAY_WRITE}


def getname(addr: int) -> str:
    """fs/namei.c getname: EFAULT, ENOENT (empty), ENAMETOOLONG."""
    name = uaccess.strncpy_from_user(addr, PATH_MAX)
    if len(name) >= PATH_MAX:
        raise BpfError(errno.ENAMETOOLONG, "path too long")
    if not name:
        raise BpfError(errno.ENOENT, "empty path")
    return name.decode("utf-8", "surrogateescape")


def _start(ctx: SysCtx, path_fd: int, path: str):
    """The directory a relative path starts from. EBADF, ENOTDIR."""
    if path.startswith("/") or path_fd == AT_FDCWD:
        return None
    file = fdget(ctx, path_fd)
    inode = file.obj
    if not isinstance(inode, Inode) or not inode.is_dir:
        raise BpfError(errno.ENOTDIR, f"fd {path_fd} is not a directory")
    return inode


def _path_fd(ctx: SysCtx) -> int:
    a = ctx.attr
    if not a.file_flags & F.BPF_F_PATH_FD and a.path_fd:
        raise BpfError(errno.EINVAL, "path_fd without BPF_F_PATH_FD")
    return a.path_fd if a.file_flags & F.BPF_F_PATH_FD else AT_FDCWD


def _umask(ctx: SysCtx) -> int:
    return getattr(ctx.task, "umask", 0o022)


def bpf_fd_probe_obj(ctx: SysCtx, fd: int):
    """A user reference on the map, program or link behind ``fd``; EINVAL for anything else
    (a closed fd included: the three probes just fail)."""
    try:
        file = fdget(ctx, fd)
    except BpfError:
        raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF map, program or link") from None
    obj = file.obj
    if isinstance(obj, (BpfMap, BpfProg)) or getattr(obj, "kind", None) == "link":
        return obj.get_uref()
    raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF map, program or link")


def bpf_obj_pin(ctx: SysCtx) -> int:
    """BPF_OBJ_PIN. EINVAL: file_flags beyond BPF_F_PATH_FD, path_fd without it, an fd that is no
    map/prog/link; then the bpffs create rules (ENOENT, EEXIST, EPERM, EACCES ...)."""
    a = ctx.attr
    if a.file_flags & ~int(F.BPF_F_PATH_FD):
        raise BpfError(errno.EINVAL, "file_flags may only hold BPF_F_PATH_FD")
    path_fd = _path_fd(ctx)
    obj = bpf_fd_probe_obj(ctx, a.bpf_fd)
    try:
        path = getname(a.pathname)
        ctx.kernel.bpffs.pin(path, obj, ctx.cred, _umask(ctx), _start(ctx, path_fd, path))
    except BaseException:
        obj.put_uref()
        raise
    return 0


def bpf_obj_get(ctx: SysCtx) -> int:
    """BPF_OBJ_GET -> a new fd of the pinned object. EINVAL: bpf_fd != 0, unknown file_flags,
    RDONLY with WRONLY, path_fd without BPF_F_PATH_FD, a link opened read- or write-only; the
    bpffs lookup errors (ENOENT, EACCES, EPERM ...)."""
    a = ctx.attr
    if a.bpf_fd != 0 or a.file_flags & ~int(F.BPF_F_RDONLY | F.BPF_F_WRONLY | F.BPF_F_PATH_FD):
        raise BpfError(errno.EINVAL, "bad bpf_fd or file_flags")
    path_fd = _path_fd(ctx)
    f_flags = bpf_get_file_flag(a.file_flags)
    path = getname(a.pathname)
    obj = ctx.kernel.bpffs.get(path, ACC_MODE[f_flags], ctx.cred, _start(ctx, path_fd, path))
    if isinstance(obj, BpfProg):
        return bpf_prog_new_fd(ctx, obj.get())
    if isinstance(obj, BpfMap):
        return bpf_map_new_fd(ctx, obj.get_uref(), f_flags)
    if getattr(obj, "kind", None) == "link":
        if f_flags != O_RDWR:
            raise BpfError(errno.EINVAL, "links are opened read-write")
        return bpf_link_new_fd(ctx, obj.get())
    raise BpfError(errno.ENOENT, "unknown pinned object")


def bpffs_open_dir(task, path: str) -> int:
    """An O_PATH-like directory fd for BPF_F_PATH_FD (invented: the simulated tasks have no
    open(2)). Raises BpfError (ENOENT, ENOTDIR, EACCES)."""
    inode = task.kernel.bpffs.lookup(path, task.cred)
    if not inode.is_dir:
        raise BpfError(errno.ENOTDIR, f"{path} is not a directory")
    return task.files.install(File(inode, FMODE_READ, f"dir:{path}"))
