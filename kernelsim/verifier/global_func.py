"""Global functions: subprograms verified once, against their BTF prototype (kernel/bpf/btf.c
btf_prepare_func_args, btf_is_prog_ctx_type, btf_check_func_arg_match, btf_check_subprog_call;
kernel/bpf/verifier.c check_func_call's global branch, do_check_subprogs, do_check_common).

A subprogram whose func_info FUNC has global linkage is not walked at its call sites. A call
checks the caller's R1-R5 against the argument kinds the prototype gives (``prepare``), logs
"Func#N ('name') is global and assumed valid." (log level 1 or 2), clears R1-R5 and leaves R0
an unknown 64-bit scalar. After the main program, every global function some verified code
called is verified on its own ("Validating name() func#N..."), starting from registers made
from the same argument kinds, and must return a scalar; it may call further global functions,
so the pass repeats until nothing new was called.

Argument kinds (btf_prepare_func_args; modifiers and typedefs skipped):

* int or enum: ARG_ANYTHING (an unknown scalar);
* pointer to the program type's context struct (``struct __sk_buff`` for socket filters,
  ``struct pt_regs`` or ``bpf_user_pt_regs_t`` for kprobes, ``struct bpf_raw_tracepoint_args``,
  ``struct bpf_perf_event_data``), or any pointer tagged ``arg:ctx``: ARG_PTR_TO_CTX;
* any other pointer, in a global function: memory of the pointee's size, maybe NULL (``arg:nonnull``
  drops the NULL); EINVAL "arg#N reference type('KIND name') size cannot be determined: -22"
  when the pointee has no size (void, a forward declaration, a function);
* EINVAL for anything else ("Arg#N type KIND in name() is not supported yet."), more than five
  arguments, or a return type that is not a scalar (6.18 refuses void too: "doesn't return
  scalar"). Static functions run the same
  derivation silently (it only decides whether their BTF is reliable).

The main program's own prototype is derived too, when it has func_info: a mismatch only prints
what the derivation prints (for example a ``void *ctx`` argument of a global main function) and
marks its BTF unreliable.

Not modelled: the trusted / untrusted / nullable / arena argument tags and dynptr arguments
(EOPNOTSUPP "arg#N has unsupported set of tags" for any tag but ``ctx`` and ``nonnull``),
locks, preemption and IRQ state at the call (kernelsim has no spin locks), packet-pointer
invalidation (no packet pointers).
"""

from __future__ import annotations

import errno

from btf import BtfError
from btf.kinds import btf_kind_str

from ..errors import BpfError
from ..uapi import BpfProgType as PT
from .btf_info import BTF_FUNC_GLOBAL, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_INT, MODIFIER_KINDS

BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_DECL_TAG = 2, 4, 8, 17
MAX_BPF_FUNC_REG_ARGS = 5

ARG_ANYTHING, ARG_PTR_TO_CTX, ARG_PTR_TO_MEM = "scalar", "ctx", "mem"

# bpf_types.h: the context type each program type's programs see, and the kernel struct a
# user's type may be named after instead (btf_is_projection_of)
PROG_CTX_TYPE = {
    PT.BPF_PROG_TYPE_SOCKET_FILTER: "__sk_buff",
    PT.BPF_PROG_TYPE_KPROBE: "pt_regs",                   # bpf_user_pt_regs_t on x86-64
    PT.BPF_PROG_TYPE_RAW_TRACEPOINT: "bpf_raw_tracepoint_args",
    PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: "bpf_raw_tracepoint_args",
    PT.BPF_PROG_TYPE_PERF_EVENT: "bpf_perf_event_data",
}
PROJECTIONS = {"__sk_buff": "sk_buff"}


class ArgInfo:
    """struct bpf_subprog_arg_info: one argument's kind, and the memory size for ARG_PTR_TO_MEM."""

    __slots__ = ("arg_type", "mem_size", "maybe_null")

    def __init__(self, arg_type: str, mem_size: int = 0, maybe_null: bool = False):
        self.arg_type, self.mem_size, self.maybe_null = arg_type, mem_size, maybe_null


def subprog_is_global(env, subprog: int) -> bool:
    return bool(env.func_info) and env.subprogs[subprog].linkage == BTF_FUNC_GLOBAL


def _skip_modifiers(btf, type_id: int):
    t = btf.type_by_id(type_id)
    while type_id and t.kind in MODIFIER_KINDS:
        type_id = t.size_type
        t = btf.type_by_id(type_id)
    return t, type_id


def _arg_tags(btf, fn_id: int, arg: int) -> list[str]:
    """The ``arg:<tag>`` decl tags on parameter ``arg`` of FUNC ``fn_id``."""
    tags = [(t.component_idx, t.name[4:]) for t in btf.types()
            if t.kind == BTF_KIND_DECL_TAG and t.size_type == fn_id and t.name.startswith("arg:")]
    return [name for idx, name in tags if idx == arg]


def btf_is_prog_ctx_type(btf, ptr_t, prog_type: int) -> bool:
    """Does this pointer point to the program type's context (by struct name)?"""
    expected = PROG_CTX_TYPE.get(prog_type)
    t, tid = btf.type_by_id(ptr_t.size_type), ptr_t.size_type
    if prog_type == PT.BPF_PROG_TYPE_KPROBE:
        while tid and t.kind in MODIFIER_KINDS and t.kind != BTF_KIND_TYPEDEF:
            tid = t.size_type
            t = btf.type_by_id(tid)
        if tid and t.kind == BTF_KIND_TYPEDEF and t.name == "bpf_user_pt_regs_t":
            return True
    t, tid = _skip_modifiers(btf, tid)
    if not tid or t.kind != BTF_KIND_STRUCT or expected is None:
        return False
    return t.name == expected or PROJECTIONS.get(expected) == t.name


def btf_prepare_func_args(env, subprog: int) -> None:
    """btf_prepare_func_args: the argument kinds of ``subprog`` from its prototype, cached on
    the subprogram (module doc). Raises BpfError (EINVAL, EOPNOTSUPP); logs only for global
    functions."""
    sp = env.subprogs[subprog]
    if getattr(sp, "args", None) is not None:
        return
    is_global = sp.linkage == BTF_FUNC_GLOBAL
    btf = env.attr.prog_btf.btf
    fn_id = env.func_info[subprog][1]
    fn_t = btf.type_by_id(fn_id)
    tname = fn_t.name
    proto = btf.type_by_id(fn_t.size_type)

    def fail(err: int, msg: str | None):
        if msg is not None:
            env.verbose(msg)
        raise BpfError(err, msg or f"BTF of func#{subprog} cannot describe its arguments")

    params = proto.params
    if len(params) > MAX_BPF_FUNC_REG_ARGS:
        fail(errno.EINVAL, f"Global function {tname}() with {len(params)} > "
                           f"{MAX_BPF_FUNC_REG_ARGS} args. Buggy compiler.\n"
             if is_global else None)
    ret, ret_id = _skip_modifiers(btf, proto.size_type)
    if not ret_id or ret.kind not in (BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_ENUM64):
        fail(errno.EINVAL, f"Global function {tname}() doesn't return scalar. Only those are "
                           f"supported.\n" if is_global else None)
    args = []
    for i, p in enumerate(params):
        tags = _arg_tags(btf, fn_id, i)
        if tags and not is_global:
            fail(errno.EOPNOTSUPP, f"arg#{i} type tag is not supported in static functions\n")
        if any(tag not in ("ctx", "nonnull") for tag in tags):
            fail(errno.EOPNOTSUPP, f"arg#{i} has unsupported set of tags\n")
        t, tid = _skip_modifiers(btf, p.type)
        if tid and t.kind == BTF_KIND_PTR:
            if "ctx" in tags or btf_is_prog_ctx_type(btf, t, env.prog.type):
                if "nonnull" in tags:
                    fail(errno.EINVAL, f"arg#{i} has invalid combination of tags\n")
                args.append(ArgInfo(ARG_PTR_TO_CTX))
                continue
            if is_global:
                ref, ref_id = _skip_modifiers(btf, t.size_type)
                try:
                    size = btf.resolve_size(ref_id) if ref_id else None
                except BtfError:
                    size = None
                if size is None:                # void, FWD, FUNC ...: btf_resolve_size fails
                    kind = btf_kind_str(ref.kind if ref_id else 0)
                    fail(errno.EINVAL, f"arg#{i} reference type('{kind} "
                                       f"{ref.name if ref_id else ''}') size cannot be "
                                       f"determined: -22\n")
                args.append(ArgInfo(ARG_PTR_TO_MEM, size, "nonnull" not in tags))
                continue
        elif tags:
            fail(errno.EINVAL, f"arg#{i} has pointer tag, but is not a pointer type\n")
        if tid and t.kind in (BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_ENUM64):
            args.append(ArgInfo(ARG_ANYTHING))
            continue
        fail(errno.EINVAL, f"Arg#{i} type {btf_kind_str(t.kind if tid else 0)} in {tname}() is "
                           f"not supported yet.\n" if is_global else None)
    sp.args = args


def btf_check_func_arg_match(env, subprog: int, regs) -> None:
    """The caller's registers against the argument kinds; EINVAL (logged for every linkage)."""
    from . import calls
    from .reg_state import PTR_MAYBE_NULL, PTR_TO_CTX, SCALAR_VALUE
    btf_prepare_func_args(env, subprog)
    for i, arg in enumerate(env.subprogs[subprog].args):
        regno = i + 1
        reg = regs[regno]
        if arg.arg_type == ARG_ANYTHING:
            if reg.type != SCALAR_VALUE:
                env.fail(errno.EINVAL, f"R{regno} is not a scalar")
        elif arg.arg_type == ARG_PTR_TO_CTX:
            calls.check_func_arg_reg_off(env, reg, regno, 0)
            if reg.type != PTR_TO_CTX:
                env.fail(errno.EINVAL, f"arg#{i} expects pointer to ctx")
        else:
            calls.check_func_arg_reg_off(env, reg, regno, 0)
            check_mem_reg(env, reg, regno, arg.mem_size)
            if not arg.maybe_null and reg.type & PTR_MAYBE_NULL:
                env.fail(errno.EINVAL, f"arg#{i} is expected to be non-NULL")


def check_mem_reg(env, reg, regno: int, mem_size: int) -> None:
    """check_mem_reg: NULL is fine; otherwise ``mem_size`` bytes readable and writable."""
    from . import calls
    from .mem import BPF_READ, BPF_WRITE
    from .reg_state import PTR_MAYBE_NULL, SCALAR_VALUE
    from .tnum import tnum_equals_const
    if reg.type == SCALAR_VALUE and tnum_equals_const(reg.var_off, 0):
        return
    saved = reg.type
    reg.type &= ~PTR_MAYBE_NULL
    try:
        calls.check_helper_mem_access(env, regno, mem_size, BPF_READ, True, None)
        calls.check_helper_mem_access(env, regno, mem_size, BPF_WRITE, True, None)
    finally:
        reg.type = saved


def btf_check_subprog_call(env, subprog: int, regs) -> int:
    """btf_check_subprog_call: 0, or the errno of a mismatch (the function's BTF is then
    unreliable). Called by check_func_call for every bpf-to-bpf call."""
    sp = env.subprogs[subprog]
    if not env.func_info:
        return errno.EINVAL
    if getattr(sp, "unreliable", False):
        return errno.EINVAL
    try:
        btf_check_func_arg_match(env, subprog, regs)
    except BpfError as e:
        sp.unreliable = True
        return e.errno
    return 0


def check_global_func_call(env, subprog: int, caller, err: int) -> None:
    """check_func_call for a global callee: no walk into it (module doc)."""
    from .reg_state import __mark_reg_not_init, mark_reg_unknown
    name = env.subprogs[subprog].name
    if err:
        env.fail(err, f"Caller passes invalid args into func#{subprog} ('{name}')")
    if env.log_level & 3:
        env.verbose(f"Func#{subprog} ('{name}') is global and assumed valid.\n")
    env.subprogs[subprog].called = True
    for r in range(6):
        __mark_reg_not_init(caller.regs[r])
        env.mark_reg_scratched(r)
    mark_reg_unknown(caller.regs[0])


def prepare_main_args(env) -> None:
    """do_check_common for the main program: its prototype is derived only for the log and the
    reliability flag."""
    if not env.func_info:
        return
    sp = env.subprogs[0]
    try:
        btf_prepare_func_args(env, 0)
        ok = len(sp.args) == 1 and sp.args[0].arg_type == ARG_PTR_TO_CTX
    except BpfError:
        ok = False
    sp.unreliable = not ok


def init_global_func_regs(env, subprog: int, regs) -> None:
    """do_check_common for a global function: R1-Rn from its argument kinds."""
    from .reg_state import (PTR_MAYBE_NULL, PTR_TO_CTX, PTR_TO_MEM, SCALAR_VALUE,
                            __mark_reg_known_zero, mark_reg_unknown)
    for i, arg in enumerate(env.subprogs[subprog].args):
        reg = regs[i + 1]
        if arg.arg_type == ARG_PTR_TO_CTX:
            __mark_reg_known_zero(reg)
            reg.type = PTR_TO_CTX
        elif arg.arg_type == ARG_ANYTHING:
            mark_reg_unknown(reg)
            reg.type = SCALAR_VALUE
        else:
            __mark_reg_known_zero(reg)
            reg.type = PTR_TO_MEM | (PTR_MAYBE_NULL if arg.maybe_null else 0)
            reg.mem_size = arg.mem_size
            if arg.maybe_null:
                reg.id = env.new_id()
