"""BPF_PROG_LOAD, the syscall side (kernel/bpf/syscall.c bpf_prog_load,
bpf_prog_load_fixup_attach_type, bpf_prog_load_check_attach; the early parts of
kernel/bpf/verifier.c bpf_check: bpf_vlog_init, process_fd_array, check_btf_info_early).

Order (Linux 6.18; reference/bpf-syscall.md 2.4 "Ordering that matters"):

1. CHECK_ATTR (dispatch) -> unknown prog_flags EINVAL -> expected_attach_type defaults ->
   a token fd (there are none: EBADF/EINVAL);
2. kernel.unprivileged_bpf_disabled != 0 without CAP_BPF: EPERM;
3. insn_cnt 0, or above 4096 without CAP_BPF / above 1,000,000 with it: E2BIG;
4. CAP_BPF unless SOCKET_FILTER or CGROUP_SKB; CAP_NET_ADMIN for the network types;
   CAP_PERFMON for the tracing types (each EPERM; CAP_SYS_ADMIN stands in for all three);
5. attach target: attach_prog_fd / attach_btf_obj_fd (a program, else a kernel BTF: user BTF
   ENOTSUPP, neither EINVAL), attach_btf_id alone means vmlinux BTF; then
   bpf_prog_load_check_attach (attach_btf_id only for TRACING/LSM/STRUCT_OPS/EXT, a target
   program only for TRACING/EXT, expected_attach_type per type): EINVAL;
6. copy the instructions (EFAULT), the license (128-byte strncpy_from_user: EFAULT; GPL
   compatibility by exact match of the six strings), the signature (not supported: EINVAL);
7. unknown or unsimulated prog_type: EINVAL (find_prog_type); load_time; the name (EINVAL);
8. bpf_check: the log attributes (EINVAL, log.c bpf_verifier_log_attr_valid), fd_array, prog
   BTF, check_btf_func_early (each func_info record checked as it is copied: rec size, tail,
   offsets, FUNC type ids; EINVAL/E2BIG with the kernel's messages, then the statistics line of
   skip_full_check), the line_info/core_relo records copied (rec sizes EINVAL, a non-zero record
   tail E2BIG with the kernel's size written back; kernelsim/verifier/btf_info.py checks the
   line_info records), the tracing attach checks (kernelsim/tracing), then
   the verifier (kernelsim.verifier.bpf_check; a minimal stand-in when it is not importable);
9. the log goes back to log_buf; log_true_size is written when the attr covers it; ENOSPC/EFAULT
   from the log replace the result; then bpf_prog_select_runtime, the ID and the fd.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_btf import BpfBtf, vmlinux_btf_object
from kernelsim.bpf_prog import BpfLoadAttr, BpfProg
from kernelsim.errors import BpfError
from kernelsim.isa.insn import BpfInsn, decode_insns
from kernelsim.maps import BpfMap
from kernelsim.uapi import (BPF_COMPLEXITY_LIMIT_INSNS, BPF_MAXINSNS, BpfAttachType as AT,
                            BpfMapFlags, BpfProgFlags, BpfProgType as PT)
from kernelsim.verifier import bpf_prog_calc_tag   # the tag, computed by bpf_check (6.18: SHA-256)

from . import uaccess
from .common import (SysCtx, bpf_obj_name_cpy, bpf_prog_new_fd, bpf_token_capable,
                     bpf_token_get_from_fd, fdget)
from .vlog import vlog_close, vlog_open

BPF_F_TOKEN_FD = int(BpfMapFlags.BPF_F_TOKEN_FD)
PROG_FLAGS_MASK = int(BpfProgFlags.BPF_F_STRICT_ALIGNMENT | BpfProgFlags.BPF_F_ANY_ALIGNMENT
                      | BpfProgFlags.BPF_F_TEST_STATE_FREQ | BpfProgFlags.BPF_F_SLEEPABLE
                      | BpfProgFlags.BPF_F_TEST_RND_HI32 | BpfProgFlags.BPF_F_XDP_HAS_FRAGS
                      | BpfProgFlags.BPF_F_XDP_DEV_BOUND_ONLY
                      | BpfProgFlags.BPF_F_TEST_REG_INVARIANTS) | BPF_F_TOKEN_FD
BTF_MAX_TYPE = 0x000FFFFF
LICENSE_LEN = 128
GPL_COMPATIBLE = frozenset({b"GPL", b"GPL v2", b"GPL and additional rights", b"Dual BSD/GPL",
                            b"Dual MIT/GPL", b"Dual MPL/GPL"})

NET_ADMIN_PROG_TYPES = frozenset({
    PT.BPF_PROG_TYPE_SCHED_CLS, PT.BPF_PROG_TYPE_SCHED_ACT, PT.BPF_PROG_TYPE_XDP,
    PT.BPF_PROG_TYPE_LWT_IN, PT.BPF_PROG_TYPE_LWT_OUT, PT.BPF_PROG_TYPE_LWT_XMIT,
    PT.BPF_PROG_TYPE_LWT_SEG6LOCAL, PT.BPF_PROG_TYPE_SK_SKB, PT.BPF_PROG_TYPE_SK_MSG,
    PT.BPF_PROG_TYPE_FLOW_DISSECTOR, PT.BPF_PROG_TYPE_CGROUP_DEVICE, PT.BPF_PROG_TYPE_CGROUP_SOCK,
    PT.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, PT.BPF_PROG_TYPE_CGROUP_SOCKOPT,
    PT.BPF_PROG_TYPE_CGROUP_SYSCTL, PT.BPF_PROG_TYPE_SOCK_OPS, PT.BPF_PROG_TYPE_EXT,
    PT.BPF_PROG_TYPE_NETFILTER})
PERFMON_PROG_TYPES = frozenset({
    PT.BPF_PROG_TYPE_KPROBE, PT.BPF_PROG_TYPE_TRACEPOINT, PT.BPF_PROG_TYPE_PERF_EVENT,
    PT.BPF_PROG_TYPE_RAW_TRACEPOINT, PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
    PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_LSM, PT.BPF_PROG_TYPE_STRUCT_OPS,
    PT.BPF_PROG_TYPE_EXT})

# expected_attach_type allowed per type (bpf_prog_load_check_attach); absent: anything goes
EXPECTED_ATTACH_TYPES = {
    PT.BPF_PROG_TYPE_CGROUP_SOCK: {AT.BPF_CGROUP_INET_SOCK_CREATE, AT.BPF_CGROUP_INET_SOCK_RELEASE,
                                   AT.BPF_CGROUP_INET4_POST_BIND, AT.BPF_CGROUP_INET6_POST_BIND},
    PT.BPF_PROG_TYPE_CGROUP_SOCK_ADDR: {
        AT.BPF_CGROUP_INET4_BIND, AT.BPF_CGROUP_INET6_BIND, AT.BPF_CGROUP_INET4_CONNECT,
        AT.BPF_CGROUP_INET6_CONNECT, AT.BPF_CGROUP_UNIX_CONNECT, AT.BPF_CGROUP_INET4_GETPEERNAME,
        AT.BPF_CGROUP_INET6_GETPEERNAME, AT.BPF_CGROUP_UNIX_GETPEERNAME,
        AT.BPF_CGROUP_INET4_GETSOCKNAME, AT.BPF_CGROUP_INET6_GETSOCKNAME,
        AT.BPF_CGROUP_UNIX_GETSOCKNAME, AT.BPF_CGROUP_UDP4_SENDMSG, AT.BPF_CGROUP_UDP6_SENDMSG,
        AT.BPF_CGROUP_UNIX_SENDMSG, AT.BPF_CGROUP_UDP4_RECVMSG, AT.BPF_CGROUP_UDP6_RECVMSG,
        AT.BPF_CGROUP_UNIX_RECVMSG},
    PT.BPF_PROG_TYPE_CGROUP_SKB: {AT.BPF_CGROUP_INET_INGRESS, AT.BPF_CGROUP_INET_EGRESS},
    PT.BPF_PROG_TYPE_CGROUP_SOCKOPT: {AT.BPF_CGROUP_SETSOCKOPT, AT.BPF_CGROUP_GETSOCKOPT},
    PT.BPF_PROG_TYPE_SK_LOOKUP: {AT.BPF_SK_LOOKUP},
    PT.BPF_PROG_TYPE_SK_REUSEPORT: {AT.BPF_SK_REUSEPORT_SELECT, AT.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE},
    PT.BPF_PROG_TYPE_NETFILTER: {AT.BPF_NETFILTER},
    PT.BPF_PROG_TYPE_SYSCALL: {0},
    PT.BPF_PROG_TYPE_EXT: {0},
}
BTF_ID_PROG_TYPES = frozenset({PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_LSM,
                               PT.BPF_PROG_TYPE_STRUCT_OPS, PT.BPF_PROG_TYPE_EXT})

# bpf_check's record rules (kernel/bpf/verifier.c check_btf_func_early / check_btf_line /
# check_core_relo): (kernel record size, minimum user size, maximum user size)
FUNC_INFO_REC = (8, 8, 252)
LINE_INFO_REC = (16, 16, 252)
CORE_RELO_REC = (16, 16, 252)


def bpf_prog_load_fixup_attach_type(prog_type: int, eat: int) -> int:
    """CGROUP_SOCK defaults to INET_SOCK_CREATE, SK_REUSEPORT to SELECT (when 0)."""
    if eat == 0 and prog_type == PT.BPF_PROG_TYPE_CGROUP_SOCK:
        return AT.BPF_CGROUP_INET_SOCK_CREATE
    if eat == 0 and prog_type == PT.BPF_PROG_TYPE_SK_REUSEPORT:
        return AT.BPF_SK_REUSEPORT_SELECT
    return eat


def bpf_prog_load_check_attach(prog_type: int, eat: int, attach_btf, btf_id: int, dst_prog) -> None:
    """EINVAL for an attach_btf_id on the wrong type or without a BTF, a target program for a
    type other than TRACING/EXT, a BTF without an id, a bad expected_attach_type."""
    if btf_id:
        if btf_id > BTF_MAX_TYPE:
            raise BpfError(errno.EINVAL, "attach_btf_id too large")
        if attach_btf is None and dst_prog is None:
            raise BpfError(errno.EINVAL, "attach_btf_id without a BTF")
        if prog_type not in BTF_ID_PROG_TYPES:
            raise BpfError(errno.EINVAL, "attach_btf_id only for tracing, LSM, struct_ops, EXT")
    if attach_btf is not None and (not btf_id or dst_prog is not None):
        raise BpfError(errno.EINVAL, "attach BTF without attach_btf_id")
    if dst_prog is not None and prog_type not in (PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_EXT):
        raise BpfError(errno.EINVAL, "a target program only for tracing and EXT programs")
    allowed = EXPECTED_ATTACH_TYPES.get(prog_type)
    if allowed is not None and eat not in allowed:
        raise BpfError(errno.EINVAL, f"expected_attach_type {eat} invalid for this program type")


def license_is_gpl_compatible(license: bytes) -> bool:
    return license in GPL_COMPATIBLE


# hooks: load-time attach checks that belong to the tracing code, keyed by
# (prog_type, expected_attach_type); each is fn(kernel, prog, log_write) and raises BpfError.
PROG_LOAD_ATTACH_CHECKS: dict = {}


def _default_attach_checks() -> dict:
    if PROG_LOAD_ATTACH_CHECKS:
        return PROG_LOAD_ATTACH_CHECKS
    try:
        from kernelsim.tracing.attach_target import check_attach_btf_id_tracing
        from kernelsim.tracing.raw_tp import check_attach_btf_id_raw_tp
    except ImportError:                 # pragma: no cover - tracing not present
        return PROG_LOAD_ATTACH_CHECKS
    for eat in (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN):
        PROG_LOAD_ATTACH_CHECKS.setdefault((PT.BPF_PROG_TYPE_TRACING, eat), check_attach_btf_id_tracing)
    PROG_LOAD_ATTACH_CHECKS.setdefault((PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP),
                                       check_attach_btf_id_raw_tp)
    return PROG_LOAD_ATTACH_CHECKS


def _resolve_attach(ctx: SysCtx, a):
    """(dst_prog, attach_btf), references taken."""
    dst_prog = attach_btf = None
    if a.attach_prog_fd:
        try:
            file = fdget(ctx, a.attach_prog_fd)
        except BpfError:
            raise BpfError(errno.EINVAL, "attach_prog_fd is neither a program nor a BTF") from None
        obj = file.obj
        if isinstance(obj, BpfProg):
            dst_prog = obj.get()
        elif isinstance(obj, BpfBtf):
            if not obj.kernel_btf:
                raise BpfError(524, "attach_btf_obj_fd must be kernel BTF")
            attach_btf = obj.get()
        else:
            raise BpfError(errno.EINVAL, "attach_prog_fd is neither a program nor a BTF")
    elif a.attach_btf_id:
        attach_btf = vmlinux_btf_object(ctx.kernel).get()
    return dst_prog, attach_btf


def check_btf_func_early(ctx: SysCtx, log, btf) -> bytes:
    """verifier.c check_btf_func_early: copy the func_info records, checking each as it comes
    (EINVAL "invalid func info rec size N"; E2BIG a non-zero record tail, the kernel size
    written back; EINVAL a first record off instruction 0, offsets not strictly increasing, a
    type id that is not a FUNC; EFAULT). The messages have no newline, as in the kernel."""
    a = ctx.attr
    urec = a.func_info_rec_size
    if urec < FUNC_INFO_REC[1] or urec > FUNC_INFO_REC[2] or urec % 4:
        log.write(f"invalid func info rec size {urec}\n")
        raise BpfError(errno.EINVAL, f"invalid func info rec size {urec}")
    krec = FUNC_INFO_REC[0]
    out = bytearray()
    prev = 0
    for i in range(a.func_info_cnt):
        rec = uaccess.copy_from_user(a.func_info + i * urec, urec)
        if any(rec[krec:]):
            log.write("nonzero tailing record in func info")
            ctx.put_user("func_info_rec_size", krec)
            raise BpfError(errno.E2BIG, "nonzero tailing record in func info")
        insn_off = int.from_bytes(rec[0:4], "little")
        type_id = int.from_bytes(rec[4:8], "little")
        if i == 0 and insn_off:
            msg = f"nonzero insn_off {insn_off} for the first func info record"
            log.write(msg)
            raise BpfError(errno.EINVAL, msg)
        if i and insn_off <= prev:
            msg = (f"same or smaller insn offset ({insn_off}) than previous func info record "
                   f"({prev})")
            log.write(msg)
            raise BpfError(errno.EINVAL, msg)
        t = btf.type_by_id(type_id) if 0 <= type_id < btf.nr_types else None
        if t is None or t.kind != 12:                 # BTF_KIND_FUNC
            msg = f"invalid type id {_s32(type_id)} in func info"
            log.write(msg)
            raise BpfError(errno.EINVAL, msg)
        # the FUNC's FUNC_PROTO was checked by BTF_LOAD (btf_func_check)
        prev = insn_off
        out += rec[:krec]
    return bytes(out)


def _copy_records(ctx: SysCtx, log, uaddr: int, cnt: int, urec: int, spec, what: str,
                  rec_field: str) -> bytes:
    """Copy ``cnt`` records of ``urec`` bytes into kernel-size records. EINVAL: bad size (no
    log line: check_btf_line and check_core_relo print none); E2BIG: a non-zero tail past the
    kernel's record (the kernel size is written back); EFAULT."""
    krec, lo, hi = spec
    if urec < lo or urec > hi or urec % 4:
        raise BpfError(errno.EINVAL, f"invalid {what} rec size {urec}")
    out = bytearray()
    for i in range(cnt):
        rec = uaccess.copy_from_user(uaddr + i * urec, urec)
        if any(rec[krec:]):
            log.write(f"nonzero tailing record in {what}")
            ctx.put_user(rec_field, min(krec, urec))
            raise BpfError(errno.E2BIG, f"nonzero tailing record in {what}")
        out += rec[:krec].ljust(krec, b"\0")
    return bytes(out)


class _FdArray:
    """attr.fd_array: read lazily, one index at a time (EFAULT), as the kernel's
    copy_from_bpfptr_offset does, with or without fd_array_cnt."""

    def __init__(self, addr: int):
        self.addr = addr

    def __len__(self) -> int:
        return 1 << 31

    def __getitem__(self, idx: int) -> int:
        return int.from_bytes(uaccess.copy_from_user(self.addr + 4 * idx, 4), "little", signed=True)


def bpf_prog_load(ctx: SysCtx) -> int:
    """BPF_PROG_LOAD -> a new program fd (module doc for the order and the errnos)."""
    a = ctx.attr
    kernel = ctx.kernel
    if a.prog_flags & ~PROG_FLAGS_MASK:
        raise BpfError(errno.EINVAL, "unknown prog_flags")
    prog_type = a.prog_type
    eat = bpf_prog_load_fixup_attach_type(prog_type, a.expected_attach_type)
    if a.prog_flags & BPF_F_TOKEN_FD:
        bpf_token_get_from_fd(ctx, a.prog_token_fd)
    bpf_cap = bpf_token_capable(ctx, "CAP_BPF")
    if kernel.sysctl["kernel.unprivileged_bpf_disabled"] and not bpf_cap:
        raise BpfError(errno.EPERM, "unprivileged BPF is disabled")
    if a.insn_cnt == 0 or a.insn_cnt > (BPF_COMPLEXITY_LIMIT_INSNS if bpf_cap else BPF_MAXINSNS):
        raise BpfError(errno.E2BIG, f"insn_cnt {a.insn_cnt} out of range")
    if prog_type not in (PT.BPF_PROG_TYPE_SOCKET_FILTER, PT.BPF_PROG_TYPE_CGROUP_SKB) and not bpf_cap:
        raise BpfError(errno.EPERM, "this program type needs CAP_BPF")
    if prog_type in NET_ADMIN_PROG_TYPES and not bpf_token_capable(ctx, "CAP_NET_ADMIN"):
        raise BpfError(errno.EPERM, "this program type needs CAP_NET_ADMIN")
    if prog_type in PERFMON_PROG_TYPES and not bpf_token_capable(ctx, "CAP_PERFMON"):
        raise BpfError(errno.EPERM, "this program type needs CAP_PERFMON")
    dst_prog, attach_btf = _resolve_attach(ctx, a)
    try:
        bpf_prog_load_check_attach(prog_type, eat, attach_btf, a.attach_btf_id, dst_prog)
    except BpfError:
        for obj in (dst_prog, attach_btf):
            if obj is not None:
                obj.put()
        raise
    prog = BpfProg(kernel, prog_type, eat, (), prog_flags=a.prog_flags)
    prog.aux.attach_btf = attach_btf
    prog.aux.attach_btf_id = a.attach_btf_id
    prog.aux.dst_prog = dst_prog
    prog.aux.sleepable = bool(a.prog_flags & BpfProgFlags.BPF_F_SLEEPABLE)
    prog.aux.created_by_uid = ctx.cred.uid
    prog.aux.cred = ctx.cred
    try:
        return _load(ctx, prog)
    except BaseException:
        prog.put()
        raise


def _load(ctx: SysCtx, prog: BpfProg) -> int:
    a = ctx.attr
    kernel = ctx.kernel
    raw = uaccess.copy_from_user(a.insns, a.insn_cnt * 8)
    prog.insns = decode_insns(raw)
    prog.insnsi = list(prog.insns)
    prog.len = len(prog.insns)
    license = uaccess.strncpy_from_user(a.license, LICENSE_LEN - 1)
    prog.license = license.decode("latin-1")
    prog.gpl_compatible = license_is_gpl_compatible(license)
    if a.signature:
        # bpf_prog_verify_signature: the oracle kernel (6.18.44) is built without key support
        raise BpfError(errno.EOPNOTSUPP, "signed programs are not supported")
    from kernelsim.prog_types import bpf_prog_type_ops
    if bpf_prog_type_ops(prog.type) is None:
        raise BpfError(errno.EINVAL, f"program type {a.prog_type} is not supported")
    prog.type = PT(prog.type)
    prog.aux.load_time = kernel.clock.ktime_get_boot_ns()
    prog.name = prog.aux.name = bpf_obj_name_cpy(ctx.raw("prog_name"))
    ctx.log_fields["prog_name"] = prog.name

    log = vlog_open(a.log_level, a.log_buf, a.log_size)
    finalized = False
    err = None
    load_attr = None
    try:
        try:
            load_attr = _early_check(ctx, prog, log)
        except BpfError:
            # bpf_check's skip_full_check: the statistics line follows the complaint
            log.write(f"processed 0 insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) "
                      "max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n")
            raise
        if prog.type in (PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_LSM, PT.BPF_PROG_TYPE_EXT) \
                and not prog.aux.attach_btf_id:
            log.write("Tracing programs must provide btf_id\n")     # bpf_check_attach_target
            raise BpfError(errno.EINVAL, "Tracing programs must provide btf_id")
        check = _default_attach_checks().get((prog.type, prog.expected_attach_type))
        if check is not None:
            check(kernel, prog, log.write)
        elif prog.type in (PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_LSM, PT.BPF_PROG_TYPE_EXT):
            log.write(f"attach type {prog.expected_attach_type} is not supported\n")
            raise BpfError(errno.EINVAL, "attach type not simulated")
        bpf_check = _verifier()
        if bpf_check is not None:
            finalized = True
            bpf_check(prog, load_attr, log)
        else:
            bpf_check_minimal(prog, load_attr, log)
    except BpfError as e:
        err = e
    if load_attr is not None and load_attr.prog_btf is not None:
        if err is None:
            prog.aux.btf = load_attr.prog_btf
        else:
            load_attr.prog_btf.put()
    try:
        _close_log(ctx, log, finalized)
    except BpfError as e:
        err = e                     # the log's ENOSPC/EFAULT replace the verifier's result
    if err is not None:
        raise err
    _select_runtime(prog)
    prog.alloc_id()
    ctx.log_fields["prog_id"] = prog.id
    prog.get()                      # the fd's reference; _load's caller drops the creator's
    fd = bpf_prog_new_fd(ctx, prog)
    prog.put()
    return fd


def _close_log(ctx: SysCtx, log, finalized: bool) -> None:
    vlog_close(ctx, log, "log_true_size", finalize=not finalized)


def _early_check(ctx: SysCtx, prog: BpfProg, log) -> BpfLoadAttr:
    """check_btf_info_early and the fd_array reader: what bpf_check reads before verifying
    (its process_fd_array is kernelsim/verifier's)."""
    a = ctx.attr
    # bpf_check's process_fd_array (kernelsim/verifier) reads a counted array and binds its maps
    fd_array = _FdArray(a.fd_array) if a.fd_array or a.fd_array_cnt else None
    prog_btf = None
    finfo = linfo = relos = b""
    if a.func_info_cnt or a.line_info_cnt:
        file = fdget(ctx, a.prog_btf_fd)
        if not isinstance(file.obj, BpfBtf):
            raise BpfError(errno.EINVAL, "prog_btf_fd is not a BTF object")
        if file.obj.kernel_btf:
            raise BpfError(errno.EACCES, "prog_btf_fd is kernel BTF")
        prog_btf = file.obj.get()
    try:
        if a.func_info_cnt:
            finfo = check_btf_func_early(ctx, log, prog_btf.btf)
        if a.line_info_cnt > 0x7FFFFFFF // LINE_INFO_REC[0]:
            raise BpfError(errno.EINVAL, "line_info_cnt too large")      # check_btf_line
        if a.line_info_cnt:
            linfo = _copy_records(ctx, log, a.line_info, a.line_info_cnt, a.line_info_rec_size,
                                  LINE_INFO_REC, "line_info", "line_info_rec_size")
        if a.core_relo_cnt:
            relos = _copy_records(ctx, log, a.core_relos, a.core_relo_cnt, a.core_relo_rec_size,
                                  CORE_RELO_REC, "core_relo", "core_relo_rec_size")
    except BaseException:
        if prog_btf is not None:
            prog_btf.put()
        raise
    la = BpfLoadAttr(
        cred=ctx.cred, files=ctx.files, log_level=a.log_level, fd_array=fd_array,
        prog_btf=prog_btf, func_info=finfo, func_info_rec_size=FUNC_INFO_REC[0] if finfo else 0,
        func_info_cnt=a.func_info_cnt, line_info=linfo,
        line_info_rec_size=LINE_INFO_REC[0] if linfo else 0, line_info_cnt=a.line_info_cnt,
        core_relos=relos, core_relo_rec_size=CORE_RELO_REC[0] if relos else 0,
        core_relo_cnt=a.core_relo_cnt, attach_btf=prog.aux.attach_btf,
        attach_prog=prog.aux.dst_prog, attach_btf_id=a.attach_btf_id, prog_flags=a.prog_flags)
    la.fd_array_cnt = a.fd_array_cnt
    return la


def _verifier():
    try:
        from kernelsim.verifier import bpf_check
    except ImportError:             # pragma: no cover - the verifier is part of the tree
        return None
    return bpf_check


def _select_runtime(prog: BpfProg) -> None:
    try:
        from kernelsim.bpf_run import bpf_prog_select_runtime
    except ImportError:             # pragma: no cover
        return
    bpf_prog_select_runtime(prog)


# -- the stand-in verifier ---------------------------------------------------------------------


def bpf_check_minimal(prog: BpfProg, attr: BpfLoadAttr, log) -> None:
    """Used only when kernelsim.verifier cannot be imported: resolve ld_imm64 map fds to maps
    (references taken), rewrite them to the maps' addresses, compute the tag. EBADF/EINVAL for
    a bad map fd; no safety checking at all."""
    used: list[BpfMap] = []
    out = list(prog.insns)
    try:
        for i, ins in enumerate(prog.insns):
            if ins.code == 0x18 and ins.src == 1 and i + 1 < len(out):
                file = attr.files.get(ins.imm)
                if not isinstance(file.obj, BpfMap):
                    raise BpfError(errno.EINVAL, f"fd {ins.imm} is not pointing to valid bpf_map")
                m = file.obj
                if m not in used:
                    used.append(m.get())
                out[i] = BpfInsn(ins.code, ins.dst, 0, ins.off, _s32(m.addr))
                out[i + 1] = BpfInsn(0, 0, 0, 0, _s32(m.addr >> 32))
    except BaseException:
        for m in used:
            m.put()
        raise
    prog.aux.used_maps = used
    prog.insnsi = out
    prog.tag = bpf_prog_calc_tag(prog.insns)
    log.bpf_vlog_finalize()


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
