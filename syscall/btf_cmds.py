"""BTF_LOAD and BTF_GET_FD_BY_ID (kernel/bpf/syscall.c bpf_btf_load, bpf_btf_get_fd_by_id;
kernel/bpf/btf.c btf_parse, btf_new_fd, btf_get_fd_by_id).

BTF_LOAD needs CAP_BPF (EPERM). The blob (at most 16 MiB: E2BIG) is copied from user memory
(EFAULT) and validated by the btf library's ``btf_check`` (its BtfError errno is the result); the
log follows the PROG_LOAD log rules (btf_log_buf / btf_log_size / btf_log_level: EINVAL for bad
combinations, ENOSPC when truncated, which also replaces a success). The kernel's own BTF is
registered first so that, as on Linux, vmlinux BTF holds the first BTF ID.
"""

from __future__ import annotations

import errno

from btf import BtfError, btf_check
from kernelsim.bpf_btf import BpfBtf
from kernelsim.errors import BpfError
from kernelsim.uapi import BpfMapFlags

from . import uaccess
from .common import SysCtx, bpf_token_capable, bpf_token_get_from_fd, btf_new_fd
from .vlog import vlog_close, vlog_open, vlog_write_text

BTF_MAX_SIZE = 16 * 1024 * 1024


def bpf_btf_load(ctx: SysCtx) -> int:
    """BPF_BTF_LOAD -> a new BTF fd."""
    a = ctx.attr
    if a.btf_flags & ~int(BpfMapFlags.BPF_F_TOKEN_FD):
        raise BpfError(errno.EINVAL, "btf_flags may only hold BPF_F_TOKEN_FD")
    if a.btf_flags & BpfMapFlags.BPF_F_TOKEN_FD:
        bpf_token_get_from_fd(ctx, a.btf_token_fd)
    if not bpf_token_capable(ctx, "CAP_BPF"):
        raise BpfError(errno.EPERM, "BTF_LOAD needs CAP_BPF")
    if a.btf_size > BTF_MAX_SIZE:
        raise BpfError(errno.E2BIG, "btf_size above BTF_MAX_SIZE")
    log = vlog_open(a.btf_log_level, a.btf_log_buf, a.btf_log_size)
    err = None
    parsed = None
    data = b""
    try:
        data = uaccess.copy_from_user(a.btf, a.btf_size)
        try:
            parsed, text = btf_check(data, log_level=a.btf_log_level)
            vlog_write_text(log, text)
        except BtfError as e:
            vlog_write_text(log, e.log)
            raise BpfError(e.errno, e.message) from e
        except (ValueError, IndexError, KeyError, OverflowError) as e:   # robustness net
            raise BpfError(errno.EINVAL, f"malformed BTF: {e}") from e
    except BpfError as e:
        err = e
    vlog_close(ctx, log, "btf_log_true_size")        # ENOSPC/EFAULT replace the result
    if err is not None:
        raise err
    obj = BpfBtf(ctx.kernel, parsed, data)
    obj.alloc_id()
    ctx.log_fields["btf_id"] = obj.id
    return btf_new_fd(ctx, obj)


def bpf_btf_get_fd_by_id(ctx: SysCtx) -> int:
    """A new fd for BTF ``btf_id``. EINVAL: open_flags beyond BPF_F_TOKEN_FD; EPERM: no
    CAP_SYS_ADMIN; ENOENT."""
    a = ctx.attr
    if a.open_flags & ~int(BpfMapFlags.BPF_F_TOKEN_FD):
        raise BpfError(errno.EINVAL, "open_flags may only hold BPF_F_TOKEN_FD")
    if a.open_flags & BpfMapFlags.BPF_F_TOKEN_FD:
        bpf_token_get_from_fd(ctx, a.fd_by_id_token_fd)
    if not bpf_token_capable(ctx, "CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "BTF_GET_FD_BY_ID needs CAP_SYS_ADMIN")
    obj = ctx.kernel.idr["btf"].find(a.btf_id) if a.btf_id else None
    if obj is None or obj.refcnt <= 0:
        raise BpfError(errno.ENOENT, f"no BTF with ID {a.btf_id}")
    return btf_new_fd(ctx, obj.get())
