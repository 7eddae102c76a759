"""btf_distill_func_proto: a function's BTF prototype -> FuncModel (kernel/bpf/btf.c
btf_distill_func_proto, __get_type_size, __get_type_fmodel_flags).

Two rule sets (``profile``):

- ``"6.18"`` (today's kernel): at most MAX_BPF_FUNC_ARGS (12) parameters; each parameter and the
  return type skip modifiers and typedefs; pointers are 8 bytes, INT/ENUM/ENUM64 their size,
  STRUCT/UNION by value their size up to 16 bytes with BTF_FMODEL_STRUCT_ARG / BTF_FMODEL_UNION_ARG;
  signed INTs get BTF_FMODEL_SIGNED_ARG (parameters and ``ret_flags``); a struct or union return,
  a ``...`` and a ``void`` parameter are refused. (The UNION_ARG flag follows include/linux/bpf.h
  of the newest tree, as btf/func_model.py does; a kernel without it flags unions STRUCT_ARG.)
- ``"5.5"`` (the first BPF trampoline, v5.5): only INT, ENUM and pointers, fewer than 12
  parameters in distill, no flags; the x86-64 trampoline then refused more than 6 arguments
  (ENOTSUPP, arch_prepare_bpf_trampoline), which this profile reports here (message ours). 5.5
  had no vararg or void-parameter check: they distill to size 0, as there.

Refusals raise BtfError(EINVAL, the kernel's bpf_log text without its newline), e.g. "The
function f has 13 arguments. Too many.".
"""

import errno

from .errors import BtfError, ENOTSUPP
from .func_model import (BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG,
                         MAX_BPF_FUNC_ARGS, FuncModel)
from .kinds import btf_kind_str
from .types import BtfInt
from .uapi import BtfKind

K = BtfKind
MAX_BPF_FUNC_REG_ARGS = 5
PROFILES = ("6.18", "5.5")
_SIZED_6_18 = frozenset((K.BTF_KIND_INT, K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64, K.BTF_KIND_STRUCT,
                         K.BTF_KIND_UNION))
_SIZED_5_5 = frozenset((K.BTF_KIND_INT, K.BTF_KIND_ENUM))


def __get_type_size(btf, type_id: int, sized) -> tuple[int, object]:
    """Size of a parameter or return type after modifiers (-EINVAL as -1), and the type reached."""
    if not type_id:
        return 0, None
    try:
        tid = btf.skip_modifiers(type_id)
        t = btf.type_by_id(tid)
    except BtfError:
        return -1, None
    if not tid:
        return -1, None         # a typedef of void: not a sized type (btf_type_str: UNKNOWN)
    k = t.kind
    if k == K.BTF_KIND_PTR:
        return 8, t
    if k in sized:
        return t.size, t
    return -1, t


def __get_type_fmodel_flags(t) -> int:
    if t is None:
        return 0
    k = t.kind
    flags = 0
    if k == K.BTF_KIND_STRUCT:
        flags |= BTF_FMODEL_STRUCT_ARG
    if isinstance(t, BtfInt) and t.is_signed:
        flags |= BTF_FMODEL_SIGNED_ARG
    if k == K.BTF_KIND_UNION:
        flags |= BTF_FMODEL_UNION_ARG
    return int(flags)


def _type_str(t) -> str:
    return "UNKNOWN" if t is None else btf_kind_str(t.kind)


def btf_distill_func_proto(btf, func, profile: str = "6.18", name: str | None = None) -> FuncModel:
    """Distill the prototype of ``func`` (a FUNC or FUNC_PROTO id, or None for the fallback model
    of MAX_BPF_FUNC_REG_ARGS u64 arguments). Called when a tracing program is loaded against a
    target (bpf_check_attach_target) and by ``kernelsim btf funcs``.

    EINVAL: too many arguments, a return or parameter type the profile does not support, varargs,
    a void parameter; ENOTSUPP (profile 5.5): more than 6 arguments for the x86-64 trampoline.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown distill profile {profile!r} (one of {PROFILES})")
    if func is None:
        n = MAX_BPF_FUNC_REG_ARGS
        return FuncModel(8, 0, n, (8,) * n, (0,) * n)
    t = btf.type_by_id(func)
    if t.kind == K.BTF_KIND_FUNC:
        if name is None:
            name = t.name
        t = btf.type_by_id(t.type)
    if t.kind != K.BTF_KIND_FUNC_PROTO:
        raise BtfError(errno.EINVAL, f"[{func}] is not a FUNC or FUNC_PROTO")
    tname = name if name is not None else "(anon)"
    params = t.params
    nargs = len(params)
    if profile == "5.5":
        return _distill_5_5(btf, t, tname, nargs)
    if nargs > MAX_BPF_FUNC_ARGS:
        raise BtfError(errno.EINVAL, f"The function {tname} has {nargs} arguments. Too many.")
    ret, rt = __get_type_size(btf, t.ret_type, _SIZED_6_18)
    if ret < 0 or (rt is not None and rt.kind in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION)):
        raise BtfError(errno.EINVAL, f"The function {tname} return type {_type_str(rt)} is unsupported.")
    ret_flags = __get_type_fmodel_flags(rt)
    sizes, flags = [], []
    for i, p in enumerate(params):
        if i == nargs - 1 and p.type == 0:
            raise BtfError(errno.EINVAL, f"The function {tname} with variable args is unsupported.")
        size, at = __get_type_size(btf, p.type, _SIZED_6_18)
        if size < 0 or size > 16:
            raise BtfError(errno.EINVAL, f"The function {tname} arg{i} type {_type_str(at)} is unsupported.")
        if size == 0:
            raise BtfError(errno.EINVAL, f"The function {tname} has malformed void argument.")
        sizes.append(size)
        flags.append(__get_type_fmodel_flags(at))
    return FuncModel(ret, ret_flags, nargs, tuple(sizes), tuple(flags))


def _distill_5_5(btf, t, tname: str, nargs: int) -> FuncModel:
    if nargs >= MAX_BPF_FUNC_ARGS:
        raise BtfError(errno.EINVAL, f"The function {tname} has {nargs} arguments. Too many.")
    ret, rt = __get_type_size(btf, t.ret_type, _SIZED_5_5)
    if ret < 0:
        raise BtfError(errno.EINVAL, f"The function {tname} return type {_type_str(rt)} is unsupported.")
    sizes = []
    for i, p in enumerate(t.params):
        size, at = __get_type_size(btf, p.type, _SIZED_5_5)
        if size < 0:
            raise BtfError(errno.EINVAL, f"The function {tname} arg{i} type {_type_str(at)} is unsupported.")
        sizes.append(size)
    if nargs > 6:
        raise BtfError(ENOTSUPP, f"The function {tname} has {nargs} arguments; the 5.5 x86-64 "
                                 f"trampoline supports at most 6.")
    return FuncModel(ret, 0, nargs, tuple(sizes), (0,) * nargs)


def distill_reason(message: str) -> str:
    """The message with the function name taken out: the key ``kernelsim btf funcs --summary``
    counts refusals by (our helper)."""
    words = message.split(" ")
    if len(words) > 2 and words[0] == "The" and words[1] == "function":
        words[2] = "%s"
    words = ["arg%d" if w.startswith("arg") and w[3:].isdigit() else w for w in words]
    if "has" in words:
        i = words.index("has")
        if i + 1 < len(words) and words[i + 1].isdigit():
            words[i + 1] = "%d"
    return " ".join(words)


def distill_all(btf, profile: str = "6.18"):
    """Distill every FUNC of ``btf``: yields (func id, name, FuncModel or BtfError)."""
    for tid in btf.type_ids():
        if btf.kind_of(tid) != K.BTF_KIND_FUNC:
            continue
        t = btf.type_by_id(tid)
        try:
            yield tid, t.name, btf_distill_func_proto(btf, tid, profile)
        except BtfError as e:
            yield tid, t.name, e
