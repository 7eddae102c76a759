"""Typed ctx access of the tracing programs: btf_ctx_access (kernel/bpf/btf.c btf_ctx_arg_idx,
prog_args_trusted, btf_ctx_access; kernel/trace/bpf_trace.c tracing_prog_is_valid_access).

The ctx of fentry/fexit/fmod_ret/tp_btf is an array of u64 slots, one per argument (struct
arguments take ``roundup(size, 8) / 8`` slots), then for fexit/fmod_ret the return value.
``btf_ctx_access`` maps a byte offset to a C argument of the target's FUNC_PROTO and decides
what the loaded value is: scalars for integers, enums and structs by value, PTR_TO_BTF_ID of the
pointee for pointers to structs (PTR_TRUSTED for tp_btf and iterators), scalars for other
pointers. Its log messages are the kernel's (reference/btf-trampoline.md 4.2; checked against
Linux 6.18.44 for tp_btf):

    func 'sched_switch' offset 4 is not multiple of 8
    func 'sched_switch' doesn't have 5-th argument
    func 'sched_switch' size 4 must be 8

The target comes from ``prog.aux``: ``attach_btf`` (the target's Btf, or a BpfBtf wrapping one),
``attach_func_proto`` (id of the FUNC_PROTO; 0 for "no usable BTF", which makes slots 0-4 untyped
scalars), ``attach_func_name`` (the name printed), and for tp_btf the leading ``void *__data``
parameter of the ``btf_trace_<tp>`` typedef is skipped.
"""

from btf.kinds import btf_kind_str
from btf.uapi import BtfKind as K

from .ctx_access import BpfInsnAccessAux, bpf_log, bpf_tracing_ctx_access
from .helpers.proto import BpfRegType, BpfTypeFlag
from .uapi import BpfAttachType as AT, BpfProgType as PT

MAX_BPF_FUNC_REG_ARGS = 5
_MODIFIERS = (K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST, K.BTF_KIND_RESTRICT,
              K.BTF_KIND_TYPE_TAG)

# raw_tp_null_args (btf.c): tracepoint name -> mask; nibble i of the mask describes argument i:
# 0x1 the pointer may be NULL, 0x2 it may be an ERR_PTR (then it is read as a scalar). The
# kernel's table names tracepoints kernelsim does not simulate; the tracing code adds entries
# for the ones it defines.
RAW_TP_NULL_ARGS: dict[str, int] = {}


def _as_btf(obj):
    """A Btf from a kernel Btf or a BpfBtf-like wrapper (``.btf``)."""
    if obj is None or hasattr(obj, "type_by_id"):
        return obj
    return getattr(obj, "btf", None)


def bpf_prog_get_target_btf(prog):
    tgt = prog.aux.dst_prog
    if tgt is not None:
        return _as_btf(tgt.aux.btf)
    return _as_btf(prog.aux.attach_btf)


def _kind(btf, tid: int) -> int:
    return btf.kind_of(tid) if tid else 0


def _skip_mods(btf, tid: int) -> int:
    while tid and _kind(btf, tid) in _MODIFIERS:
        tid = btf.type_by_id(tid).type
    return tid


def _slot_size(btf, tid: int) -> int:
    tid = _skip_mods(btf, tid)
    if _kind(btf, tid) == K.BTF_KIND_PTR:
        return 8
    t = btf.type_by_id(tid)
    size = t.size if tid and _kind(btf, tid) in (K.BTF_KIND_INT, K.BTF_KIND_STRUCT, K.BTF_KIND_UNION,
                                                 K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64,
                                                 K.BTF_KIND_FLOAT) else 0
    return (size + 7) // 8 * 8


def btf_ctx_arg_idx(btf, proto, off: int) -> int:
    """The C argument index of ctx byte ``off`` (nr_args for the return slot, nr_args + 1 past it)."""
    if proto is None:
        return off // 8
    offset = 0
    for i, p in enumerate(proto.params):
        offset += _slot_size(btf, p.type)
        if off < offset:
            return i
    offset += _slot_size(btf, proto.ret_type)
    if off < offset:
        return len(proto.params)
    return len(proto.params) + 1


def prog_args_trusted(prog) -> bool:
    if prog.type == PT.BPF_PROG_TYPE_TRACING:
        return prog.expected_attach_type in (AT.BPF_TRACE_RAW_TP, AT.BPF_TRACE_ITER)
    if prog.type == PT.BPF_PROG_TYPE_LSM:
        return True                         # bpf_lsm_is_trusted(): most hooks (simplified)
    return prog.type == PT.BPF_PROG_TYPE_STRUCT_OPS


def _is_small_int(btf, tid):
    return tid and _kind(btf, tid) == K.BTF_KIND_INT and btf.type_by_id(tid).size <= 8


def _is_struct(btf, tid):
    return tid and _kind(btf, tid) in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION)


def _kind_str(btf, tid):
    return btf_kind_str(_kind(btf, tid))


def btf_ctx_access(off: int, size: int, access_type: int, prog, info: BpfInsnAccessAux) -> bool:
    """btf.c btf_ctx_access. Called after bpf_tracing_ctx_access accepted the access."""
    btf = bpf_prog_get_target_btf(prog)
    proto_id = prog.aux.attach_func_proto
    proto = btf.type_by_id(proto_id) if (btf is not None and proto_id) else None
    tname = prog.aux.attach_func_name
    if off % 8:
        bpf_log(info, f"func '{tname}' offset {off} is not multiple of 8\n")
        return False
    arg = btf_ctx_arg_idx(btf, proto, off)
    params = list(proto.params) if proto is not None else []
    nr_args = len(params) if proto is not None else MAX_BPF_FUNC_REG_ARGS
    if getattr(prog.aux, "attach_btf_trace", prog.expected_attach_type == AT.BPF_TRACE_RAW_TP
               and prog.type == PT.BPF_PROG_TYPE_TRACING):
        params = params[1:]                 # skip 'void *__data' of btf_trace_<name>
        nr_args -= 1
    if arg > nr_args:
        bpf_log(info, f"func '{tname}' doesn't have {arg + 1}-th argument\n")
        return False
    if arg == nr_args:
        eat = prog.expected_attach_type
        if eat in (AT.BPF_LSM_MAC, AT.BPF_LSM_CGROUP, AT.BPF_TRACE_FEXIT):
            if eat == AT.BPF_LSM_MAC:
                info.is_retval = True
            if proto is None:
                return True
            tid = proto.ret_type
        elif eat == AT.BPF_MODIFY_RETURN:
            if proto is None:
                return False
            tid = _skip_mods(btf, proto.ret_type)
            if not _is_small_int(btf, tid):
                bpf_log(info, f"ret type {_kind_str(btf, tid)} not allowed for fmod_ret\n")
                return False
        else:
            bpf_log(info, f"func '{tname}' doesn't have {arg + 1}-th argument\n")
            return False
    else:
        if proto is None:
            return True                     # untyped: MAX_BPF_FUNC_REG_ARGS u64 arguments
        tid = params[arg].type
    tid = _skip_mods(btf, tid)
    kind = _kind(btf, tid)
    if _is_small_int(btf, tid) or kind in (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64) or _is_struct(btf, tid):
        return True
    if kind != K.BTF_KIND_PTR:
        name = btf.name_of(tid) if tid else ""
        bpf_log(info, f"func '{tname}' arg{arg} '{name}' has type {_kind_str(btf, tid)}. "
                      "Only pointer access is allowed\n")
        return False
    if size != 8:
        bpf_log(info, f"func '{tname}' size {size} must be 8\n")
        return False
    ctx_arg_info = getattr(prog.aux, "ctx_arg_info", ())
    for a in ctx_arg_info:                   # (offset, reg_type, btf_id, btf) of iterators etc.
        if a[0] == off and (a[1] & 0xFF) == BpfRegType.PTR_TO_BUF and a[1] & BpfTypeFlag.PTR_MAYBE_NULL:
            info.reg_type = a[1]
            return True
    pointee = btf.type_by_id(tid).type
    if not _is_struct(btf, _skip_mods(btf, pointee)):
        return True                         # pointer to non-struct: a scalar
    for a in ctx_arg_info:
        if a[0] == off:
            if not a[2]:
                bpf_log(info, f"invalid btf_id for context argument offset {off}\n")
                return False
            info.reg_type, info.btf_id = a[1], a[2]
            info.btf = a[3] if len(a) > 3 and a[3] is not None else btf
            return True
    info.reg_type = BpfRegType.PTR_TO_BTF_ID
    if prog_args_trusted(prog):
        info.reg_type |= BpfTypeFlag.PTR_TRUSTED
    if arg < len(params) and params[arg].name.endswith("__nullable"):
        info.reg_type |= BpfTypeFlag.PTR_MAYBE_NULL
    ptr_err_raw_tp = False
    if prog.expected_attach_type == AT.BPF_TRACE_RAW_TP:
        tp = tname
        mask = RAW_TP_NULL_ARGS.get(tp)
        if mask is not None:
            if mask & (0x1 << (arg * 4)):
                info.reg_type |= BpfTypeFlag.PTR_MAYBE_NULL
            if mask & (0x2 << (arg * 4)):
                ptr_err_raw_tp = True
        elif _is_module_btf(prog, btf):
            info.reg_type |= BpfTypeFlag.PTR_MAYBE_NULL
    info.btf, info.btf_id = btf, pointee
    if pointee and _kind(btf, pointee) == K.BTF_KIND_TYPE_TAG and not btf.type_by_id(pointee).kflag:
        tag = btf.type_by_id(pointee).name
        if tag == "user":
            info.reg_type |= BpfTypeFlag.MEM_USER
        elif tag == "percpu":
            info.reg_type |= BpfTypeFlag.MEM_PERCPU
    tid = pointee
    while tid and _kind(btf, tid) in _MODIFIERS:
        tid = btf.type_by_id(tid).type
        info.btf_id = tid
    if not _is_struct(btf, tid):
        bpf_log(info, f"func '{tname}' arg{arg} type {_kind_str(btf, tid)} is not a struct\n")
        return False
    bpf_log(info, f"func '{tname}' arg{arg} has btf_id {info.btf_id} type {_kind_str(btf, tid)} "
                  f"'{btf.name_of(tid)}'\n")
    if ptr_err_raw_tp:
        bpf_log(info, f"marking pointer arg{arg} as scalar as it may encode error")
        info.reg_type = BpfRegType.SCALAR_VALUE
    return True


def _is_module_btf(prog, btf) -> bool:
    try:
        return btf is not prog.kernel.btf and getattr(btf, "base", None) is not None
    except Exception:
        return False


def tracing_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    """bpf_trace.c tracing_prog_is_valid_access: the u64-array gate, then btf_ctx_access."""
    if not bpf_tracing_ctx_access(off, size, access_type):
        return False
    return btf_ctx_access(off, size, access_type, prog, info)
