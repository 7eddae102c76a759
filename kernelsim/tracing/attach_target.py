"""bpf_check_attach_target and the tracing half of check_attach_btf_id (kernel/bpf/verifier.c,
Linux 6.18), for fentry, fexit and fmod_ret programs on kernel functions.

Called at PROG_LOAD, before ``bpf_check`` (the verifier reads what this fills in), by the
syscall's prog load::

    tgt = check_attach_btf_id_tracing(kernel, prog, log)   # raises BpfError

and again by bpf_tracing_prog_attach when a program is re-attached. It resolves
``prog.aux.attach_btf_id`` in ``prog.aux.attach_btf`` (the kernel BTF) to a ``KernelFunction``
and fills ``prog.aux.attach_func_name``, ``attach_func_proto`` (the FUNC_PROTO id) and
``fmodel``. Refusals, each EINVAL unless noted, with the kernel's log line:

* ``Tracing programs must provide btf_id``; ``attach_btf_id %u is invalid``;
  ``attach_btf_id %u doesn't have a name``; ``attach_btf_id %u is not a function``;
* a BPF-program target (``tgt_prog``, attach_prog_fd; prog_target.py runs it):
  ``Tracing program can only be attached to another program annotated with BTF`` (no prog
  BTF); ``Subprog %s doesn't exist`` (``attach_btf_id`` names no func_info record of the
  target); ``Cannot nest tracing program attach more than once`` (the target is itself a
  TRACING program loaded against a TRACING program: ``aux.attach_tracing_prog``, set at load
  as bpf_prog_load does); ``can't modify return codes of BPF programs`` (fmod_ret);
  ``%s is not sleepable`` (no program is on the error-injection list). A subprogram marked
  unreliable in func_info_aux gets the fallback model (5 u64 arguments) and no FUNC_PROTO.
  Deliberate difference: kernelsim interprets every program, so the ``Can attach to only
  JITed progs`` test asks for an execution tier (``bpf_func``) instead of native code, as an
  x86-64 or arm64 Linux with bpf_jit_enable=1 (JIT_ALWAYS_ON) jits every program;
* btf_distill_func_proto's refusals (``The function %s has 13 arguments. Too many.`` ...;
  5.5: ENOTSUPP past 6 arguments);
* ENOENT ``The address of function %s cannot be found`` (not in kallsyms);
* sleepable program: ``%s is not sleepable`` unless the target is on the error-injection list
  (and not btf_non_sleepable_error_inject) or a KF_SLEEPABLE fmod_ret kfunc;
* fmod_ret: ``%s() is not modifiable`` unless an fmod_ret kfunc, on the error-injection list,
  or named ``security_*``;
* ``Attaching tracing programs to function '%s' is rejected.`` (btf_id_deny);
  ``Attaching fexit/fmod_ret to __noreturn function '%s' is rejected.`` (noreturn_deny);
* profile 5.5: only BPF_TRACE_FENTRY and BPF_TRACE_FEXIT exist (fmod_ret: EINVAL at load).
"""

import errno
from dataclasses import dataclass

from ..errors import BpfError
from ..uapi import BpfAttachType as AT, BpfProgType as PT

BPF_F_SLEEPABLE = 1 << 4


@dataclass(frozen=True, slots=True)
class BpfAttachTargetInfo:
    """struct bpf_attach_target_info."""

    tgt_addr: int            # the function's kallsyms address
    tgt_name: str            # its name
    tgt_type: int            # the FUNC_PROTO id (prog.aux.attach_func_proto)
    fmodel: object           # btf.FuncModel
    fn: object               # the KernelFunction (simulator; None for a program target)
    subprog: int = 0         # the target program's subprogram (a program target)


def _btf_of(obj):
    if obj is None or hasattr(obj, "type_by_id"):
        return obj
    return getattr(obj, "btf", None)


def _fail(log, err: int, msg: str):
    if log is not None:
        write = getattr(log, "verbose", None) or getattr(log, "write", None) or log
        try:
            write(msg + "\n")
        except Exception:                        # a log that refuses text must not hide the errno
            pass
    raise BpfError(err, msg)


def bpf_check_attach_target(kernel, prog, tgt_prog, btf_id: int, log=None) -> BpfAttachTargetInfo:
    """verifier.c bpf_check_attach_target for TRACING fentry/fexit/fmod_ret (module doc)."""
    eat = prog.expected_attach_type
    if not btf_id:
        _fail(log, errno.EINVAL, "Tracing programs must provide btf_id")
    btf = _btf_of(tgt_prog.aux.btf) if tgt_prog is not None else _btf_of(prog.aux.attach_btf)
    if btf is None:
        btf = kernel.btf if tgt_prog is None else None
    if btf is None:
        _fail(log, errno.EINVAL,
              "Tracing program can only be attached to another program annotated with BTF")
    try:
        t = btf.type_by_id(btf_id)
    except Exception:
        _fail(log, errno.EINVAL, f"attach_btf_id {btf_id} is invalid")
    tname = t.name
    if not tname:
        _fail(log, errno.EINVAL, f"attach_btf_id {btf_id} doesn't have a name")
    if tgt_prog is not None:
        return _check_prog_target(kernel, prog, tgt_prog, btf, btf_id, t, log)
    profile = getattr(kernel, "profile", "6.18")
    kinds = (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT) if profile == "5.5" else \
        (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN)
    if eat not in kinds:
        _fail(log, errno.EINVAL, f"attach type {int(eat)} has no trampoline in {profile}")
    from btf.uapi import BtfKind as K
    if t.kind != K.BTF_KIND_FUNC:
        _fail(log, errno.EINVAL, f"attach_btf_id {btf_id} is not a function")
    if btf is not kernel.btf:
        _fail(log, errno.EINVAL, f"{tname}: only functions of the kernel BTF are simulated")
    fn = kernel.functions.by_btf_id(btf_id)
    if fn.model is None:
        err = fn.model_error
        _fail(log, err.errno if err is not None else errno.EINVAL,
              err.message if err is not None else f"{tname}: no function model")
    if not fn.addr:
        _fail(log, errno.ENOENT, f"The address of function {tname} cannot be found")
    sleepable = bool(prog.aux.sleepable or prog.prog_flags & BPF_F_SLEEPABLE)
    if sleepable:
        if prog.type != PT.BPF_PROG_TYPE_TRACING or not fn.sleepable_allowed:
            _fail(log, errno.EINVAL, f"{tname} is not sleepable")
    elif eat == AT.BPF_MODIFY_RETURN and not fn.fmod_ret_allowed:
        _fail(log, errno.EINVAL, f"{tname}() is not modifiable")
    return BpfAttachTargetInfo(fn.addr, tname, fn.proto_id, fn.model, fn)


def _subprog_of(tgt_prog, btf_id: int) -> int:
    """The index of the func_info record whose type is ``btf_id`` (-1: none)."""
    for i, rec in enumerate(tgt_prog.aux.func_info):
        if rec[1] == btf_id:
            return i
    return -1


def _check_prog_target(kernel, prog, tgt_prog, btf, btf_id: int, t, log) -> BpfAttachTargetInfo:
    """The tgt_prog half of bpf_check_attach_target for fentry/fexit/fmod_ret (module doc)."""
    from btf.distill import btf_distill_func_proto
    from btf.errors import BtfError
    from btf.uapi import BtfKind as K
    from .prog_target import bpf_prog_func_addr
    tname = t.name
    aux = tgt_prog.aux
    subprog = _subprog_of(tgt_prog, btf_id)
    if subprog < 0:
        _fail(log, errno.EINVAL, f"Subprog {tname} doesn't exist")
    infos = getattr(aux, "func_info_aux", None) or ()
    conservative = subprog < len(infos) and bool(getattr(infos[subprog], "unreliable", False))
    if tgt_prog.bpf_func is None:                 # no execution tier (the module doc's difference)
        _fail(log, errno.EINVAL, "Can attach to only JITed progs")
    if prog.type == PT.BPF_PROG_TYPE_TRACING:
        if getattr(aux, "attach_tracing_prog", False):
            _fail(log, errno.EINVAL, "Cannot nest tracing program attach more than once")
    elif tgt_prog.type == prog.type:
        _fail(log, errno.EINVAL, "Cannot recursively attach")
    eat = prog.expected_attach_type
    if eat == AT.BPF_TRACE_RAW_TP:
        _fail(log, errno.EINVAL, "Only FENTRY/FEXIT progs are attachable to another BPF prog")
    if eat not in (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN):
        _fail(log, errno.EINVAL, f"attach type {int(eat)} has no trampoline")
    if t.kind != K.BTF_KIND_FUNC:
        _fail(log, errno.EINVAL, f"attach_btf_id {btf_id} is not a function")
    proto_id = t.type
    if btf.type_by_id(proto_id).kind != K.BTF_KIND_FUNC_PROTO:
        _fail(log, errno.EINVAL, f"attach_btf_id {btf_id}: no FUNC_PROTO")
    if conservative:
        proto_id = 0                              # btf_distill_func_proto(NULL): 5 u64 args
    profile = "5.5" if getattr(kernel, "profile", "6.18") == "5.5" else "6.18"
    try:
        fmodel = btf_distill_func_proto(btf, proto_id or None, profile, tname)
    except BtfError as e:
        _fail(log, e.errno, getattr(e, "message", str(e)))
    addr = bpf_prog_func_addr(kernel, tgt_prog, subprog)
    if prog.aux.sleepable or prog.prog_flags & BPF_F_SLEEPABLE:
        _fail(log, errno.EINVAL, f"{tname} is not sleepable")   # not within_error_injection_list
    if eat == AT.BPF_MODIFY_RETURN:
        _fail(log, errno.EINVAL, "can't modify return codes of BPF programs")
    return BpfAttachTargetInfo(addr, tname, proto_id, fmodel, None, subprog)


def check_attach_btf_id_tracing(kernel, prog, log=None) -> BpfAttachTargetInfo:
    """check_attach_btf_id for a TRACING fentry/fexit/fmod_ret program (called at load): the
    target checks, the deny lists, and the program's attach fields."""
    from .functions import KFUNC_F_DENY, KFUNC_F_NORETURN
    dst_prog = prog.aux.dst_prog
    tgt = bpf_check_attach_target(kernel, prog, dst_prog, prog.aux.attach_btf_id, log)
    aux = prog.aux
    aux.attach_func_proto = tgt.tgt_type
    aux.attach_func_name = tgt.tgt_name
    aux.fmodel = tgt.fmodel
    if dst_prog is not None:
        # bpf_prog_load's bookkeeping of the attachment chain: for the program's whole life
        aux.attach_tracing_prog = dst_prog.type == PT.BPF_PROG_TYPE_TRACING
        return tgt
    if aux.attach_btf is None:
        aux.attach_btf = kernel.btf
    if tgt.fn.flags & KFUNC_F_DENY:
        _fail(log, errno.EINVAL, f"Attaching tracing programs to function '{tgt.tgt_name}' is rejected.")
    if prog.expected_attach_type in (AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN) and \
            tgt.fn.flags & KFUNC_F_NORETURN:
        _fail(log, errno.EINVAL,
              f"Attaching fexit/fmod_ret to __noreturn function '{tgt.tgt_name}' is rejected.")
    return tgt
