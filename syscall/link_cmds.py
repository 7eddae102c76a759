"""Link commands: LINK_CREATE, RAW_TRACEPOINT_OPEN, LINK_UPDATE, LINK_DETACH, LINK_GET_FD_BY_ID,
ITER_CREATE (kernel/bpf/syscall.c link_create, bpf_raw_tracepoint_open, link_update,
link_detach, bpf_link_get_fd_by_id, bpf_iter_create; the link object is kernelsim/bpf_link.py).

Hooks. The generic parts are here; the attachments themselves belong to the tracing code, which
plugs them into two dicts (the kernel's switch statements), keyed by program type:

* ``LINK_CREATE_TYPES[prog_type] = fn(ctx, prog) -> fd`` — called after CHECK_ATTR, the prog fd
  lookup (a reference in ``prog``, which the hook owns on success and the caller drops on
  failure) and ``bpf_prog_attach_check_attach_type``; ``ctx.attr.link_create`` holds the rest.
* ``RAW_TP_OPEN_TYPES[prog_type] = fn(ctx, prog, tp_name: str | None) -> fd`` — ``tp_name`` is
  the copied ``raw_tracepoint.name`` (None for a NULL pointer; a fault is EFAULT before the call)
  for RAW_TRACEPOINT programs; TRACING/EXT/LSM hooks get the raw pointer's truth as None/"" and
  must refuse a name (EINVAL), as bpf_raw_tp_link_attach does.

A hook returns an fd; ``install_link(ctx, link)`` turns a link object that already has its ID
into one (or use bpf_link_prime/settle). Types without an entry: EINVAL. The defaults (built on
first use, consulted when the dicts have no entry for the type) wire kernelsim/tracing:
fentry/fexit/fmod_ret, raw_tp and tp_btf here, and syscall/perf.py's ``perf_link_create`` for
KPROBE (BPF_PERF_EVENT, kprobe_multi), TRACEPOINT and PERF_EVENT programs.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_link import link_op
from kernelsim.errors import BpfError
from kernelsim.uapi import BpfAttachType as AT, BpfLinkUpdateFlags, BpfProgType as PT

from . import uaccess
from .common import SysCtx, bpf_link_get_from_fd, bpf_link_new_fd, bpf_prog_get

LINK_CREATE_TYPES: dict = {}
RAW_TP_OPEN_TYPES: dict = {}
_DEFAULT_LINK_CREATE: dict = {}
_DEFAULT_RAW_TP_OPEN: dict = {}

# attach_type_to_prog_type (syscall.c)
_ATTACH_PROG_TYPE = {
    AT.BPF_CGROUP_INET_INGRESS: PT.BPF_PROG_TYPE_CGROUP_SKB, AT.BPF_CGROUP_INET_EGRESS: PT.BPF_PROG_TYPE_CGROUP_SKB,
    AT.BPF_CGROUP_INET_SOCK_CREATE: PT.BPF_PROG_TYPE_CGROUP_SOCK,
    AT.BPF_CGROUP_INET_SOCK_RELEASE: PT.BPF_PROG_TYPE_CGROUP_SOCK,
    AT.BPF_CGROUP_INET4_POST_BIND: PT.BPF_PROG_TYPE_CGROUP_SOCK,
    AT.BPF_CGROUP_INET6_POST_BIND: PT.BPF_PROG_TYPE_CGROUP_SOCK,
    AT.BPF_CGROUP_SOCK_OPS: PT.BPF_PROG_TYPE_SOCK_OPS, AT.BPF_CGROUP_DEVICE: PT.BPF_PROG_TYPE_CGROUP_DEVICE,
    AT.BPF_SK_MSG_VERDICT: PT.BPF_PROG_TYPE_SK_MSG,
    AT.BPF_SK_SKB_STREAM_PARSER: PT.BPF_PROG_TYPE_SK_SKB, AT.BPF_SK_SKB_STREAM_VERDICT: PT.BPF_PROG_TYPE_SK_SKB,
    AT.BPF_SK_SKB_VERDICT: PT.BPF_PROG_TYPE_SK_SKB, AT.BPF_LIRC_MODE2: PT.BPF_PROG_TYPE_LIRC_MODE2,
    AT.BPF_FLOW_DISSECTOR: PT.BPF_PROG_TYPE_FLOW_DISSECTOR, AT.BPF_CGROUP_SYSCTL: PT.BPF_PROG_TYPE_CGROUP_SYSCTL,
    AT.BPF_CGROUP_GETSOCKOPT: PT.BPF_PROG_TYPE_CGROUP_SOCKOPT,
    AT.BPF_CGROUP_SETSOCKOPT: PT.BPF_PROG_TYPE_CGROUP_SOCKOPT,
    AT.BPF_TRACE_ITER: PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP: PT.BPF_PROG_TYPE_TRACING,
    AT.BPF_TRACE_FENTRY: PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FEXIT: PT.BPF_PROG_TYPE_TRACING,
    AT.BPF_MODIFY_RETURN: PT.BPF_PROG_TYPE_TRACING, AT.BPF_LSM_MAC: PT.BPF_PROG_TYPE_LSM,
    AT.BPF_SK_LOOKUP: PT.BPF_PROG_TYPE_SK_LOOKUP, AT.BPF_XDP: PT.BPF_PROG_TYPE_XDP,
    AT.BPF_LSM_CGROUP: PT.BPF_PROG_TYPE_LSM,
    AT.BPF_TCX_INGRESS: PT.BPF_PROG_TYPE_SCHED_CLS, AT.BPF_TCX_EGRESS: PT.BPF_PROG_TYPE_SCHED_CLS,
    AT.BPF_NETKIT_PRIMARY: PT.BPF_PROG_TYPE_SCHED_CLS, AT.BPF_NETKIT_PEER: PT.BPF_PROG_TYPE_SCHED_CLS,
}
for _a in (AT.BPF_CGROUP_INET4_BIND, AT.BPF_CGROUP_INET6_BIND, AT.BPF_CGROUP_INET4_CONNECT,
           AT.BPF_CGROUP_INET6_CONNECT, AT.BPF_CGROUP_UNIX_CONNECT, AT.BPF_CGROUP_INET4_GETPEERNAME,
           AT.BPF_CGROUP_INET6_GETPEERNAME, AT.BPF_CGROUP_UNIX_GETPEERNAME,
           AT.BPF_CGROUP_INET4_GETSOCKNAME, AT.BPF_CGROUP_INET6_GETSOCKNAME,
           AT.BPF_CGROUP_UNIX_GETSOCKNAME, AT.BPF_CGROUP_UDP4_SENDMSG, AT.BPF_CGROUP_UDP6_SENDMSG,
           AT.BPF_CGROUP_UNIX_SENDMSG, AT.BPF_CGROUP_UDP4_RECVMSG, AT.BPF_CGROUP_UDP6_RECVMSG,
           AT.BPF_CGROUP_UNIX_RECVMSG):
    _ATTACH_PROG_TYPE[_a] = PT.BPF_PROG_TYPE_CGROUP_SOCK_ADDR

_KPROBE_LINK_TYPES = (AT.BPF_PERF_EVENT, AT.BPF_TRACE_KPROBE_MULTI, AT.BPF_TRACE_KPROBE_SESSION,
                      AT.BPF_TRACE_UPROBE_MULTI, AT.BPF_TRACE_UPROBE_SESSION)


def attach_type_to_prog_type(attach_type: int) -> int:
    return _ATTACH_PROG_TYPE.get(attach_type, PT.BPF_PROG_TYPE_UNSPEC)


def bpf_prog_attach_check_attach_type(ctx: SysCtx, prog, attach_type: int) -> None:
    """EINVAL when the attach type does not fit the program (EPERM: CGROUP_SKB without
    CAP_NET_ADMIN)."""
    t = prog.type
    if t in (PT.BPF_PROG_TYPE_CGROUP_SOCK, PT.BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
             PT.BPF_PROG_TYPE_CGROUP_SOCKOPT, PT.BPF_PROG_TYPE_SK_LOOKUP):
        ok = attach_type == prog.expected_attach_type
    elif t == PT.BPF_PROG_TYPE_CGROUP_SKB:
        cred = getattr(prog.aux, "cred", None) or ctx.cred
        if not (cred.capable("CAP_NET_ADMIN") or cred.capable("CAP_SYS_ADMIN")):
            raise BpfError(errno.EPERM, "attaching cgroup_skb needs CAP_NET_ADMIN")
        ok = attach_type_to_prog_type(attach_type) == t
    elif t == PT.BPF_PROG_TYPE_EXT:
        ok = True
    elif t == PT.BPF_PROG_TYPE_NETFILTER:
        ok = attach_type == AT.BPF_NETFILTER
    elif t in (PT.BPF_PROG_TYPE_PERF_EVENT, PT.BPF_PROG_TYPE_TRACEPOINT):
        ok = attach_type == AT.BPF_PERF_EVENT
    elif t == PT.BPF_PROG_TYPE_KPROBE:
        eat = prog.expected_attach_type
        ok = attach_type in _KPROBE_LINK_TYPES and not (
            eat in _KPROBE_LINK_TYPES[1:] and attach_type != eat)
    elif t == PT.BPF_PROG_TYPE_SCHED_CLS:
        ok = attach_type in (AT.BPF_TCX_INGRESS, AT.BPF_TCX_EGRESS, AT.BPF_NETKIT_PRIMARY,
                             AT.BPF_NETKIT_PEER)
    else:
        ptype = attach_type_to_prog_type(attach_type)
        ok = ptype != PT.BPF_PROG_TYPE_UNSPEC and ptype == t
    if not ok:
        raise BpfError(errno.EINVAL, f"attach type {attach_type} does not fit program type {int(t)}")


def install_link(ctx: SysCtx, link) -> int:
    """An fd for a link that already has its ID (its reference moves to the fd)."""
    return bpf_link_new_fd(ctx, link)


def _default_hooks() -> None:
    """Build the default tables from kernelsim/tracing's attachments (once)."""
    if _DEFAULT_LINK_CREATE:
        return
    try:
        from kernelsim.tracing import links as tl, raw_tp as rt
        from .perf import perf_link_create
    except ImportError:                   # pragma: no cover
        return

    def tracing_link_create(ctx, prog):
        lc = ctx.attr.link_create
        if lc.attach_type != prog.expected_attach_type:
            raise BpfError(errno.EINVAL, "attach_type != expected_attach_type")
        if prog.expected_attach_type == AT.BPF_TRACE_RAW_TP:
            return install_link(ctx, rt.link_create_raw_tp(ctx.kernel, prog, lc.attach_type,
                                                           lc.tracing.cookie))
        if prog.expected_attach_type in tl.TRAMPOLINE_ATTACH_TYPES:
            return tl.link_create_tracing(ctx.kernel, prog, lc.attach_type, lc.target_fd,
                                          lc.target_btf_id, lc.tracing.cookie, ctx.files)
        raise BpfError(errno.EINVAL, "attach type not simulated")

    def raw_tp_open(ctx, prog, tp_name):
        if prog.type == PT.BPF_PROG_TYPE_TRACING:
            if tp_name is not None:
                raise BpfError(errno.EINVAL, "name must be 0 for tracing programs")
            if prog.expected_attach_type != AT.BPF_TRACE_RAW_TP:
                return tl.bpf_tracing_prog_attach(ctx.kernel, prog, 0, 0, ctx.attr.raw_tracepoint.cookie,
                                                  ctx.files)
        link = rt.bpf_raw_tp_link_attach(ctx.kernel, prog, tp_name, ctx.attr.raw_tracepoint.cookie)
        return install_link(ctx, link)

    for t in (PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_RAW_TRACEPOINT,
              PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE):
        _DEFAULT_RAW_TP_OPEN[t] = raw_tp_open
    for t in (PT.BPF_PROG_TYPE_KPROBE, PT.BPF_PROG_TYPE_TRACEPOINT, PT.BPF_PROG_TYPE_PERF_EVENT):
        _DEFAULT_LINK_CREATE[t] = perf_link_create
    _DEFAULT_LINK_CREATE[PT.BPF_PROG_TYPE_TRACING] = tracing_link_create


def _hook(table: dict, defaults: dict, prog_type: int):
    """The registered hook for ``prog_type``, else the default one (None: not simulated)."""
    _default_hooks()
    return table.get(prog_type) or defaults.get(prog_type)


def link_create(ctx: SysCtx) -> int:
    """BPF_LINK_CREATE -> a link fd. EBADF/EINVAL: prog_fd; EINVAL: the attach type does not fit
    or the type is not simulated; then the hook's errors."""
    lc = ctx.attr.link_create
    if lc.attach_type == AT.BPF_STRUCT_OPS:
        raise BpfError(errno.EINVAL, "struct_ops links are not simulated")
    prog = bpf_prog_get(ctx, lc.prog_fd)
    try:
        bpf_prog_attach_check_attach_type(ctx, prog, lc.attach_type)
        fn = _hook(LINK_CREATE_TYPES, _DEFAULT_LINK_CREATE, prog.type)
        if fn is None:
            raise BpfError(errno.EINVAL, f"LINK_CREATE for program type {int(prog.type)} is not simulated")
        return fn(ctx, prog)
    except BaseException:
        prog.put()
        raise


def bpf_raw_tracepoint_open(ctx: SysCtx) -> int:
    """BPF_RAW_TRACEPOINT_OPEN -> a link fd. EBADF/EINVAL: prog_fd; EFAULT: the name; EINVAL: a
    program type that cannot attach there; then the hook's (ENOENT: no such tracepoint)."""
    rt = ctx.attr.raw_tracepoint
    prog = bpf_prog_get(ctx, rt.prog_fd)
    try:
        fn = _hook(RAW_TP_OPEN_TYPES, _DEFAULT_RAW_TP_OPEN, prog.type)
        if fn is None:
            raise BpfError(errno.EINVAL, "program type cannot attach to a raw tracepoint")
        if prog.type in (PT.BPF_PROG_TYPE_RAW_TRACEPOINT, PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE):
            name = uaccess.strncpy_from_user(rt.name, 127).decode("latin-1")
        else:
            name = None if not rt.name else ""
        return fn(ctx, prog, name)
    except BaseException:
        prog.put()
        raise


def link_update(ctx: SysCtx) -> int:
    """BPF_LINK_UPDATE. EINVAL: flags beyond BPF_F_REPLACE, old_prog_fd without it, a link type
    without update_prog; EBADF/EINVAL for the fds; the type's own errors (EPERM: old program
    mismatch)."""
    lu = ctx.attr.link_update
    if lu.flags & ~int(BpfLinkUpdateFlags.BPF_F_REPLACE):
        raise BpfError(errno.EINVAL, "link_update flags may only hold BPF_F_REPLACE")
    link = bpf_link_get_from_fd(ctx, lu.link_fd)
    try:
        update_map = link_op(link, "update_map")
        if update_map is not None:
            raise BpfError(errno.EINVAL, "map links are not simulated")
        new_prog = bpf_prog_get(ctx, lu.new_prog_fd)
        old_prog = None
        ok = False
        try:
            if lu.flags & BpfLinkUpdateFlags.BPF_F_REPLACE:
                old_prog = bpf_prog_get(ctx, lu.old_prog_fd)
            elif lu.old_prog_fd:
                raise BpfError(errno.EINVAL, "old_prog_fd without BPF_F_REPLACE")
            update = link_op(link, "update_prog")
            if update is None:
                raise BpfError(errno.EINVAL, "this link type cannot be updated")
            update(new_prog, old_prog)
            ok = True
        finally:
            if old_prog is not None:
                old_prog.put()
            if not ok:
                new_prog.put()
    finally:
        link.put()
    return 0


def link_detach(ctx: SysCtx) -> int:
    """BPF_LINK_DETACH. EBADF/EINVAL: link_fd; EOPNOTSUPP: the link type has no detach."""
    link = bpf_link_get_from_fd(ctx, ctx.attr.link_detach.link_fd)
    try:
        detach = link_op(link, "detach")
        if detach is None:
            raise BpfError(errno.EOPNOTSUPP, "this link type cannot be detached")
        detach()
    finally:
        link.put()
    return 0


def bpf_link_get_fd_by_id(ctx: SysCtx) -> int:
    """BPF_LINK_GET_FD_BY_ID. EPERM: no CAP_SYS_ADMIN; ENOENT: no such link (or id 0); EAGAIN:
    the ID is reserved by a link still being attached."""
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "GET_FD_BY_ID needs CAP_SYS_ADMIN")
    id_ = ctx.attr.link_id
    link = ctx.kernel.idr["link"].find(id_) if id_ else None
    if link is None or link.refcnt <= 0:
        raise BpfError(errno.ENOENT, f"no link with ID {id_}")
    if not link.id:
        raise BpfError(errno.EAGAIN, "link is not settled yet")
    return bpf_link_new_fd(ctx, link.get())


def bpf_iter_create(ctx: SysCtx) -> int:
    """BPF_ITER_CREATE. EINVAL: flags; EBADF/EINVAL: link_fd; EINVAL: not an iterator link
    (iterators are not simulated, so every link is one of those)."""
    ic = ctx.attr.iter_create
    if ic.flags:
        raise BpfError(errno.EINVAL, "iter_create flags must be 0")
    link = bpf_link_get_from_fd(ctx, ic.link_fd)
    link.put()
    raise BpfError(errno.EINVAL, "not an iterator link")
