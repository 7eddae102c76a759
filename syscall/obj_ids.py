"""Object IDs: PROG/MAP/LINK/BTF_GET_NEXT_ID and PROG/MAP_GET_FD_BY_ID (kernel/bpf/syscall.c
bpf_obj_get_next_id, bpf_prog_get_fd_by_id, bpf_map_get_fd_by_id). The link and BTF
GET_FD_BY_ID are in link_cmds.py and btf_cmds.py.

IDs are global per kind (kernelsim/idr.py). Both commands need CAP_SYS_ADMIN itself (CAP_BPF is
not enough), checked after the attribute checks: EINVAL first, then EPERM.
"""

from __future__ import annotations

import errno

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfCmd, BpfMapFlags

from .common import SysCtx, bpf_get_file_flag, bpf_map_new_fd, bpf_prog_new_fd

INT_MAX = 0x7FFFFFFF
NEXT_ID_KIND = {
    BpfCmd.BPF_PROG_GET_NEXT_ID: "prog",
    BpfCmd.BPF_MAP_GET_NEXT_ID: "map",
    BpfCmd.BPF_LINK_GET_NEXT_ID: "link",
    BpfCmd.BPF_BTF_GET_NEXT_ID: "btf",
}


def bpf_obj_get_next_id(ctx: SysCtx) -> int:
    """The four *_GET_NEXT_ID: the smallest ID strictly above start_id, written to next_id.
    EINVAL: start_id >= INT_MAX; EPERM: no CAP_SYS_ADMIN; ENOENT: none."""
    start = ctx.attr.start_id
    if start >= INT_MAX:
        raise BpfError(errno.EINVAL, "start_id >= INT_MAX")
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "GET_NEXT_ID needs CAP_SYS_ADMIN")
    kind = NEXT_ID_KIND[ctx.cmd]
    next_id = ctx.kernel.idr[kind].get_next_id(start)
    if next_id is None:
        raise BpfError(errno.ENOENT, f"no {kind} ID above {start}")
    ctx.put_user("next_id", next_id)
    return 0


def _find(ctx: SysCtx, kind: str, id_: int):
    obj = ctx.kernel.idr[kind].find(id_) if id_ else None
    if obj is None or obj.refcnt <= 0:
        raise BpfError(errno.ENOENT, f"no {kind} with ID {id_}")
    return obj


def bpf_prog_get_fd_by_id(ctx: SysCtx) -> int:
    """A new fd for program ``prog_id``. EPERM: no CAP_SYS_ADMIN; ENOENT."""
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "GET_FD_BY_ID needs CAP_SYS_ADMIN")
    prog = _find(ctx, "prog", ctx.attr.prog_id).get()
    return bpf_prog_new_fd(ctx, prog)


def bpf_map_get_fd_by_id(ctx: SysCtx) -> int:
    """A new fd for map ``map_id`` with open_flags' access mode. EINVAL: open_flags beyond
    RDONLY/WRONLY, or both; EPERM: no CAP_SYS_ADMIN; ENOENT."""
    flags = ctx.attr.open_flags
    if flags & ~int(BpfMapFlags.BPF_F_RDONLY | BpfMapFlags.BPF_F_WRONLY):
        raise BpfError(errno.EINVAL, "open_flags may only hold BPF_F_RDONLY/BPF_F_WRONLY")
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "GET_FD_BY_ID needs CAP_SYS_ADMIN")
    f_flags = bpf_get_file_flag(flags)
    map = _find(ctx, "map", ctx.attr.map_id).get_uref()
    return bpf_map_new_fd(ctx, map, f_flags)
