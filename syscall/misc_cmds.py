"""The remaining commands: PROG_TEST_RUN (the generic part and the per-type hook), ENABLE_STATS,
PROG_BIND_MAP, TOKEN_CREATE, TASK_FD_QUERY, PROG_QUERY / PROG_ATTACH / PROG_DETACH and
PROG_STREAM_READ_BY_FD (kernel/bpf/syscall.c bpf_prog_test_run, bpf_enable_stats,
bpf_prog_bind_map, token_create + kernel/bpf/token.c bpf_token_create, bpf_task_fd_query,
bpf_prog_query, bpf_prog_attach, bpf_prog_detach, prog_stream_read).

Not simulated, but refused with the kernel's errnos up to the point where the missing
subsystem would be consulted: cgroup / sockmap / netns / lirc / tcx attachment (PROG_ATTACH,
PROG_DETACH, PROG_QUERY: EINVAL, or EBADF for a target fd that is not open), BPF tokens
(TOKEN_CREATE is EOPNOTSUPP for callers in the initial user namespace, which all tasks are).

Hooks: PROG_TEST_RUN calls the program type's ``prog.test_run`` slot (kernelsim/prog_types.py;
ENOTSUPP when absent). TASK_FD_QUERY asks the file's object for ``task_fd_query()`` ->
``(prog_id, fd_type, name, probe_offset, probe_addr)`` (raw-tp links answer from ``link.tp``);
objects without one are ENOTSUPP.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_objects import FMODE_RDWR, File
from kernelsim.bpffs import Inode
from kernelsim.errors import BpfError
from kernelsim.uapi import ENOTSUPP, BpfAttachType as AT, BpfProgType as PT

from . import uaccess
from .common import USER, SysCtx, bpf_map_get, bpf_prog_get, fdget, install_fd
from .link_cmds import attach_type_to_prog_type, bpf_prog_attach_check_attach_type

BPF_F_QUERY_EFFECTIVE = 1 << 0
BPF_F_ALLOW_OVERRIDE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE = 1 << 0, 1 << 1, 1 << 2
BPF_F_BEFORE, BPF_F_AFTER, BPF_F_ID, BPF_F_PREORDER, BPF_F_LINK = 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 13
ATTACH_MASK_BASE = BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI | BPF_F_REPLACE | BPF_F_PREORDER
ATTACH_MASK_MPROG = BPF_F_REPLACE | BPF_F_BEFORE | BPF_F_AFTER | BPF_F_ID | BPF_F_LINK
CGROUP_PROG_TYPES = frozenset({PT.BPF_PROG_TYPE_CGROUP_DEVICE, PT.BPF_PROG_TYPE_CGROUP_SKB,
                               PT.BPF_PROG_TYPE_CGROUP_SOCK, PT.BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                               PT.BPF_PROG_TYPE_SOCK_OPS, PT.BPF_PROG_TYPE_CGROUP_SYSCTL,
                               PT.BPF_PROG_TYPE_CGROUP_SOCKOPT})
BPF_STDOUT, BPF_STDERR = 1, 2
BPF_FD_TYPE_RAW_TRACEPOINT = 0


# -- PROG_TEST_RUN -------------------------------------------------------------------------------


def bpf_prog_test_run(ctx: SysCtx) -> int:
    """EINVAL: ctx_in/ctx_size_in (or ctx_out/ctx_size_out) not both set or both 0; EBADF/EINVAL:
    prog_fd; ENOTSUPP: the program type has no test_run; then the type's own rules."""
    t = ctx.attr.test
    if bool(t.ctx_size_in) != bool(t.ctx_in) or bool(t.ctx_size_out) != bool(t.ctx_out):
        raise BpfError(errno.EINVAL, "ctx pointer and size must be both set or both 0")
    prog = bpf_prog_get(ctx, t.prog_fd)
    try:
        from kernelsim.prog_types import bpf_prog_type_ops
        from kernelsim.test_run import TestRunAttr
        ops = bpf_prog_type_ops(prog.type)
        test_run = ops.prog.test_run if ops is not None else None
        if test_run is None:
            raise BpfError(ENOTSUPP, "program type has no test_run")
        kattr = TestRunAttr(retval=t.retval, data_size_in=t.data_size_in, data_size_out=t.data_size_out,
                            data_in=t.data_in, data_out=t.data_out, repeat=t.repeat,
                            duration=t.duration, ctx_size_in=t.ctx_size_in,
                            ctx_size_out=t.ctx_size_out, ctx_in=t.ctx_in, ctx_out=t.ctx_out,
                            flags=t.flags, cpu=t.cpu, batch_size=t.batch_size, task=ctx.task)
        res = test_run(prog, kattr, USER)
        for name in ("retval", "duration", "data_size_out", "ctx_size_out"):
            value = getattr(res, name)
            if value is not None:
                ctx.put_user(f"test.{name}", value & 0xFFFFFFFF)
        if res.errno:
            raise BpfError(res.errno, "test_run")
        return 0
    finally:
        prog.put()


# -- ENABLE_STATS --------------------------------------------------------------------------------


class BpfStatsFile:
    """What a "bpf-stats" fd holds: closing it drops the stats key (bpf_stats_release)."""

    kind = "stats"

    def __init__(self, kernel):
        self.kernel = kernel
        kernel.subsys["bpf_stats_key"] = kernel.subsys.get("bpf_stats_key", 0) + 1

    def release(self) -> None:
        k = self.kernel
        k.subsys["bpf_stats_key"] = max(0, k.subsys.get("bpf_stats_key", 0) - 1)


def bpf_enable_stats(ctx: SysCtx) -> int:
    """-> a stats fd; run-time stats are on while it is open. EPERM: no CAP_SYS_ADMIN; EINVAL:
    a type other than BPF_STATS_RUN_TIME."""
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "ENABLE_STATS needs CAP_SYS_ADMIN")
    if ctx.attr.enable_stats.type != 0:
        raise BpfError(errno.EINVAL, "unknown stats type")
    if ctx.kernel.subsys.get("bpf_stats_key", 0) >= 0x7FFFFFFF // 2:
        raise BpfError(errno.EBUSY, "too many stats fds")
    stats = BpfStatsFile(ctx.kernel)
    try:
        return install_fd(ctx, File(stats, FMODE_RDWR, "anon_inode:bpf-stats"))
    except BpfError:
        stats.release()
        raise


# -- PROG_BIND_MAP -------------------------------------------------------------------------------


def bpf_prog_bind_map(ctx: SysCtx) -> int:
    """The program holds a reference on the map from now on (no-op if it already uses it).
    EINVAL: flags; EBADF/EINVAL: the fds."""
    b = ctx.attr.prog_bind_map
    if b.flags:
        raise BpfError(errno.EINVAL, "prog_bind_map flags must be 0")
    prog = bpf_prog_get(ctx, b.prog_fd)
    try:
        map, _ = bpf_map_get(ctx, b.map_fd)
        if not any(m is map for m in prog.aux.used_maps):
            prog.aux.used_maps.append(map.get())
    finally:
        prog.put()
    return 0


# -- TOKEN_CREATE --------------------------------------------------------------------------------


def bpf_token_create(ctx: SysCtx) -> int:
    """EINVAL: flags, or bpffs_fd is not the root of a bpffs; EBADF: bpffs_fd not open; EPERM:
    no CAP_BPF; EOPNOTSUPP: the caller is in the initial user namespace (always, here)."""
    tc = ctx.attr.token_create
    if tc.flags:
        raise BpfError(errno.EINVAL, "token_create flags must be 0")
    file = fdget(ctx, tc.bpffs_fd)
    if not isinstance(file.obj, Inode) or file.obj is not ctx.kernel.bpffs.bpffs_root:
        raise BpfError(errno.EINVAL, "bpffs_fd is not the root of a bpffs mount")
    if not ctx.cred.capable("CAP_BPF") and not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "TOKEN_CREATE needs CAP_BPF")
    raise BpfError(errno.EOPNOTSUPP, "BPF tokens cannot be created in the initial user namespace")


# -- TASK_FD_QUERY -------------------------------------------------------------------------------


def bpf_task_fd_query(ctx: SysCtx) -> int:
    """What a task's fd is attached to. EPERM: no CAP_SYS_ADMIN; EINVAL: flags; ENOENT: no such
    pid; EBADF: no such fd; ENOTSUPP: not a raw-tp link or perf event; ENOSPC: name truncated."""
    q = ctx.attr.task_fd_query
    if not ctx.cred.capable("CAP_SYS_ADMIN"):
        raise BpfError(errno.EPERM, "TASK_FD_QUERY needs CAP_SYS_ADMIN")
    if q.flags:
        raise BpfError(errno.EINVAL, "task_fd_query flags must be 0")
    task = ctx.kernel.tasks.get(q.pid)
    if task is None:
        raise BpfError(errno.ENOENT, f"no task {q.pid}")
    file = task.files.fds.get(q.fd)
    if file is None:
        raise BpfError(errno.EBADF, f"task {q.pid} has no fd {q.fd}")
    obj = file.obj
    query = getattr(obj, "task_fd_query", None)
    if query is not None:
        answer = query()
    elif getattr(obj, "kind", None) == "link" and getattr(obj, "tp", None) is not None:
        answer = (obj.prog.id if obj.prog else 0, BPF_FD_TYPE_RAW_TRACEPOINT, obj.tp.name, 0, 0)
    else:
        answer = None
    if answer is None:
        raise BpfError(ENOTSUPP, "fd is neither a raw tracepoint link nor a perf event")
    prog_id, fd_type, name, probe_offset, probe_addr = answer
    data = name.encode() if name else b""
    ctx.put_user("task_fd_query.buf_len", len(data))
    err = 0
    if q.buf_len and q.buf:
        if not data:
            uaccess.copy_to_user(q.buf, b"\0")
        elif q.buf_len >= len(data) + 1:
            uaccess.copy_to_user(q.buf, data + b"\0")
        else:
            uaccess.copy_to_user(q.buf, data[:q.buf_len - 1] + b"\0")
            err = errno.ENOSPC
    ctx.put_user("task_fd_query.prog_id", prog_id)
    ctx.put_user("task_fd_query.fd_type", fd_type)
    ctx.put_user("task_fd_query.probe_offset", probe_offset)
    ctx.put_user("task_fd_query.probe_addr", probe_addr)
    if err:
        raise BpfError(err, "name buffer too small")
    return 0


# -- PROG_QUERY / PROG_ATTACH / PROG_DETACH --------------------------------------------------------

_QUERY_TYPES = frozenset(a for a, t in {
    a: attach_type_to_prog_type(a) for a in AT}.items()
    if t in CGROUP_PROG_TYPES or a in (AT.BPF_LIRC_MODE2, AT.BPF_FLOW_DISSECTOR, AT.BPF_SK_LOOKUP,
                                       AT.BPF_SK_SKB_STREAM_PARSER, AT.BPF_SK_SKB_STREAM_VERDICT,
                                       AT.BPF_SK_SKB_VERDICT, AT.BPF_SK_MSG_VERDICT,
                                       AT.BPF_TCX_INGRESS, AT.BPF_TCX_EGRESS,
                                       AT.BPF_NETKIT_PRIMARY, AT.BPF_NETKIT_PEER))


SOCKMAP_ATTACH = (AT.BPF_SK_SKB_STREAM_PARSER, AT.BPF_SK_SKB_STREAM_VERDICT, AT.BPF_SK_SKB_VERDICT,
                  AT.BPF_SK_MSG_VERDICT)


def _target_fd(ctx: SysCtx, fd: int, attach_type: int) -> None:
    """The hook's target fd. There are no cgroups, sockmaps with sockets, network namespaces or
    lirc devices to find: cgroup_get_from_fd answers EBADF for any fd that is not a cgroup
    directory; the sockmap and netns lookups EBADF for a closed fd and EINVAL otherwise."""
    if attach_type_to_prog_type(attach_type) in CGROUP_PROG_TYPES or attach_type == AT.BPF_LSM_CGROUP:
        raise BpfError(errno.EBADF, f"fd {fd} is not a cgroup")
    fdget(ctx, fd)
    raise BpfError(errno.EINVAL, "attach targets (sockmaps, netns, lirc) are not simulated")


def bpf_prog_query(ctx: SysCtx) -> int:
    """EPERM (before CHECK_ATTR): no CAP_NET_ADMIN/CAP_SYS_ADMIN; EINVAL: CHECK_ATTR, query_flags,
    an attach type without queries; EBADF: the target fd."""
    from .attr import check_attr
    if not (ctx.cred.capable("CAP_NET_ADMIN") or ctx.cred.capable("CAP_SYS_ADMIN")):
        raise BpfError(errno.EPERM, "PROG_QUERY needs CAP_NET_ADMIN")
    check_attr(ctx.cmd, ctx.attr)
    q = ctx.attr.query
    if q.query_flags & ~BPF_F_QUERY_EFFECTIVE:
        raise BpfError(errno.EINVAL, "unknown query_flags")
    if q.attach_type not in _QUERY_TYPES:
        raise BpfError(errno.EINVAL, "attach type has no query")
    if q.attach_type in (AT.BPF_TCX_INGRESS, AT.BPF_TCX_EGRESS, AT.BPF_NETKIT_PRIMARY, AT.BPF_NETKIT_PEER):
        raise BpfError(errno.ENODEV, f"no device with ifindex {q.target_fd}")
    _target_fd(ctx, q.target_fd, q.attach_type)
    return 0


def _check_attach_flags(ptype: int, a, detach: bool) -> None:
    if ptype == PT.BPF_PROG_TYPE_SCHED_CLS:
        if a.attach_flags & ~ATTACH_MASK_MPROG:
            raise BpfError(errno.EINVAL, "invalid attach_flags")
    elif ptype in CGROUP_PROG_TYPES:
        if detach and (a.attach_flags or a.relative_fd):
            raise BpfError(errno.EINVAL, "invalid attach_flags")
        if not detach and a.attach_flags & ~(ATTACH_MASK_BASE | ATTACH_MASK_MPROG):
            raise BpfError(errno.EINVAL, "invalid attach_flags")
    elif detach:
        if a.attach_flags or a.relative_fd or a.expected_revision:
            raise BpfError(errno.EINVAL, "invalid attach_flags")
    else:
        if a.attach_flags & ~ATTACH_MASK_BASE or a.relative_fd or a.expected_revision:
            raise BpfError(errno.EINVAL, "invalid attach_flags")


def bpf_prog_attach(ctx: SysCtx) -> int:
    """EINVAL: unknown attach type, attach_flags, a program of another type; EBADF: the prog
    fd; then the hook (not simulated: EINVAL)."""
    a = ctx.attr
    ptype = attach_type_to_prog_type(a.attach_type)
    if ptype == PT.BPF_PROG_TYPE_UNSPEC:
        raise BpfError(errno.EINVAL, "unknown attach type")
    _check_attach_flags(ptype, a, detach=False)
    prog = bpf_prog_get(ctx, a.attach_bpf_fd)
    try:
        if prog.type != ptype:
            raise BpfError(errno.EINVAL, "program type does not match the attach type")
        bpf_prog_attach_check_attach_type(ctx, prog, a.attach_type)
        raise BpfError(errno.EINVAL, "PROG_ATTACH hooks are not simulated")
    finally:
        prog.put()


def bpf_prog_detach(ctx: SysCtx) -> int:
    """EINVAL: attach_flags, unknown attach type; EBADF: target fd; not simulated: EINVAL."""
    a = ctx.attr
    ptype = attach_type_to_prog_type(a.attach_type)
    if ptype == PT.BPF_PROG_TYPE_SCHED_CLS:
        _check_attach_flags(ptype, a, detach=True)
        if a.attach_bpf_fd:
            prog = bpf_prog_get(ctx, a.attach_bpf_fd)
            prog.put()
        raise BpfError(errno.ENODEV, f"no device with ifindex {a.target_fd}")
    _check_attach_flags(ptype, a, detach=True)
    if ptype == PT.BPF_PROG_TYPE_UNSPEC:
        raise BpfError(errno.EINVAL, "unknown attach type")
    _target_fd(ctx, a.target_fd, a.attach_type)
    return 0


# -- PROG_STREAM_READ_BY_FD ----------------------------------------------------------------------


def bpf_prog_stream_read(ctx: SysCtx) -> int:
    """Bytes read from the program's stdout/stderr stream: programs here never write to them, so
    0. EBADF/EINVAL: prog_fd; ENOENT: a stream id other than BPF_STDOUT (1) / BPF_STDERR (2)."""
    r = ctx.attr.prog_stream_read
    prog = bpf_prog_get(ctx, r.prog_fd)
    try:
        if r.stream_id not in (BPF_STDOUT, BPF_STDERR):
            raise BpfError(errno.ENOENT, "no such stream")
        return 0
    finally:
        prog.put()
