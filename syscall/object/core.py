"""CO-RE: BPF Compile Once - Run Everywhere relocations resolved against the kernel's BTF
(tools/lib/bpf/relo_core.c: bpf_core_parse_spec, bpf_core_spec_match, bpf_core_match_member,
bpf_core_fields_are_compat, __bpf_core_types_are_compat, __bpf_core_types_match,
bpf_core_calc_field_relo / _type_relo / _enumval_relo, bpf_core_calc_relo, bpf_core_patch_insn,
bpf_core_format_spec, bpf_core_calc_relo_insn; libbpf.c bpf_core_essential_name_len,
bpf_core_add_cands, bpf_core_find_cands, bpf_core_resolve_relo).

The idea. clang records, for every instruction whose immediate or offset depends on a kernel type
(``BPF_CORE_READ(t, pid)``, ``bpf_core_field_exists(...)``, ``bpf_core_type_size(...)``), a
``struct bpf_core_relo``: the instruction, a *local* type (in the object's BTF), an access string
and a kind. The access string is a path of indexes from the root type: ``"0:27:1"`` means
element 0 of the root pointer, member #27 of the struct, member #1 of that. The loader

1. parses it against the local BTF into a *spec*: the named fields and array indexes on the path
   (``task_struct.pids[1]``) and the bit offset they add up to (``bpf_core_parse_spec``);
2. finds *candidates* in the target (kernel) BTF: types of a compatible kind whose name, minus a
   ``___flavor`` suffix, is the local name minus its flavor (``task_struct___old`` matches
   ``task_struct``);
3. matches the spec against each candidate *by name*: each named local field must exist in the
   target (anonymous structs and unions searched through), with a compatible type, each array
   index within bounds (``bpf_core_spec_match``);
4. computes the value the instruction should hold for the local spec (must equal what clang put
   there, unless the kind is ambiguous: bitfields, type ids) and for the target spec; all matching
   candidates must agree;
5. patches the instruction: ALU imm, LDX/ST/STX offset (and the load size when an unsigned int or
   pointer field changed size), or the 64-bit immediate of ld_imm64.

Worked example: ``BPF_CORE_READ(task, pid)`` with local ``struct task_struct { ...; pid_t pid; }``
at byte 1200 compiles to ``r1 = *(u32 *)(r6 + 1200)`` with relo {kind FIELD_BYTE_OFFSET, type
task_struct, "0:N"}. In a kernel where pid sits at byte 1504 the instruction becomes
``r1 = *(u32 *)(r6 + 1504)``.

A relocation with no matching candidate is not an error for existence kinds (they give 0). For the
others the instruction is *poisoned*: it becomes ``call 0xbad2310`` (195896080), which the
verifier rejects as "invalid func unknown#195896080" if the instruction is reachable, and which
libbpf then explains in the log as "failed to resolve CO-RE relocation <spec>"
(loader.py fixup_verifier_log). Malformed relocations are errors naming the program, the
relocation index and the instruction (BpfObjectError).
"""

from __future__ import annotations

import errno
import weakref
from dataclasses import dataclass, field, replace

from btf import (BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT,
                 BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_RESTRICT,
                 BTF_KIND_STRUCT, BTF_KIND_TYPE_TAG, BTF_KIND_TYPEDEF, BTF_KIND_UNION,
                 BTF_KIND_VOLATILE, BtfError)
from kernelsim.isa.insn import (BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_CLASS, BPF_DW, BPF_H,
                                BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_MODE, BPF_SIZE, BPF_SRC,
                                BPF_ST, BPF_STX, BPF_W, BpfInsn)
from kernelsim.uapi import BpfCoreReloKind as K

from .errors import BpfObjectError, relo_error

BPF_CORE_SPEC_MAX_LEN = 64
POISON_HELPER = 195896080        # 0xbad2310: "bad relo"
BTF_INT_SIGNED = 1
_MODS = (BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT, BTF_KIND_TYPE_TAG)
_ENUMS = (BTF_KIND_ENUM, BTF_KIND_ENUM64)

FIELD_KINDS = (K.BPF_CORE_FIELD_BYTE_OFFSET, K.BPF_CORE_FIELD_BYTE_SIZE, K.BPF_CORE_FIELD_EXISTS,
               K.BPF_CORE_FIELD_SIGNED, K.BPF_CORE_FIELD_LSHIFT_U64, K.BPF_CORE_FIELD_RSHIFT_U64)
TYPE_KINDS = (K.BPF_CORE_TYPE_ID_LOCAL, K.BPF_CORE_TYPE_ID_TARGET, K.BPF_CORE_TYPE_EXISTS,
              K.BPF_CORE_TYPE_MATCHES, K.BPF_CORE_TYPE_SIZE)
ENUMVAL_KINDS = (K.BPF_CORE_ENUMVAL_EXISTS, K.BPF_CORE_ENUMVAL_VALUE)

KIND_STR = {K.BPF_CORE_FIELD_BYTE_OFFSET: "byte_off", K.BPF_CORE_FIELD_BYTE_SIZE: "byte_sz",
            K.BPF_CORE_FIELD_EXISTS: "field_exists", K.BPF_CORE_FIELD_SIGNED: "signed",
            K.BPF_CORE_FIELD_LSHIFT_U64: "lshift_u64", K.BPF_CORE_FIELD_RSHIFT_U64: "rshift_u64",
            K.BPF_CORE_TYPE_ID_LOCAL: "local_type_id", K.BPF_CORE_TYPE_ID_TARGET: "target_type_id",
            K.BPF_CORE_TYPE_EXISTS: "type_exists", K.BPF_CORE_TYPE_MATCHES: "type_matches",
            K.BPF_CORE_TYPE_SIZE: "type_size", K.BPF_CORE_ENUMVAL_EXISTS: "enumval_exists",
            K.BPF_CORE_ENUMVAL_VALUE: "enumval_value"}

_KIND_NAMES = {0: "void", 1: "int", 2: "ptr", 3: "array", 4: "struct", 5: "union", 6: "enum",
               7: "fwd", 8: "typedef", 9: "volatile", 10: "const", 11: "restrict", 12: "func",
               13: "func_proto", 14: "var", 15: "datasec", 16: "float", 17: "decl_tag",
               18: "type_tag", 19: "enum64"}


class _Poison(Exception):
    """libbpf's -EUCLEAN: the relocation cannot be satisfied, poison the instruction."""


class CoreError(Exception):
    """A negative errno of relo_core.c (turned into BpfObjectError by the caller)."""

    def __init__(self, err: int, message: str = ""):
        super().__init__(err, message)
        self.errno = err
        self.message = message


@dataclass(slots=True)
class Accessor:
    """struct bpf_core_accessor: a named field (name set) or an array index (name None)."""

    type_id: int
    idx: int
    name: str | None = None


@dataclass(slots=True)
class Spec:
    """struct bpf_core_spec."""

    btf: object
    root_type_id: int = 0
    relo_kind: int = 0
    spec: list[Accessor] = field(default_factory=list)     # high-level spec
    raw_spec: list[int] = field(default_factory=list)      # the access string, parsed
    bit_offset: int = 0

    def copy(self) -> "Spec":
        return Spec(self.btf, self.root_type_id, self.relo_kind,
                    [replace(a) for a in self.spec], list(self.raw_spec), self.bit_offset)


@dataclass(slots=True)
class ReloRes:
    """struct bpf_core_relo_res."""

    orig_val: int = 0
    new_val: int = 0
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    orig_type_id: int = 0
    new_sz: int = 0
    new_type_id: int = 0


# -- small BTF helpers (libbpf btf.h inlines) -----------------------------------------------

def _kind(btf, tid: int) -> int:
    return btf.kind_of(tid) if tid else 0


def skip_mods_and_typedefs(btf, tid: int):
    """(type, id) after following typedefs and modifiers."""
    for _ in range(64):
        t = btf.type_by_id(tid)
        if not tid or t.kind not in _MODS:
            return t, tid
        tid = t.type
    raise CoreError(errno.ELOOP, f"[{tid}] modifier loop")


def _kind_str(t) -> str:
    return _KIND_NAMES.get(int(t.kind) if t.id else 0, "unknown")


def _is_composite(t) -> bool:
    return t.id != 0 and t.kind in (BTF_KIND_STRUCT, BTF_KIND_UNION)


def _is_any_enum(t) -> bool:
    return t.id != 0 and t.kind in _ENUMS


def kind_core_compat(t1, t2) -> bool:
    """btf_kind_core_compat: same kind, or both enums (ENUM / ENUM64)."""
    k1 = t1.kind if t1.id else 0
    k2 = t2.kind if t2.id else 0
    return k1 == k2 or (k1 in _ENUMS and k2 in _ENUMS)


def _int_offset(t) -> int:
    return t.bits_offset if t.id and t.kind == BTF_KIND_INT else 0


def _resolve_size(btf, tid: int) -> int:
    try:
        return btf.resolve_size(tid)
    except BtfError as e:
        raise CoreError(e.errno or errno.EINVAL, str(e)) from e


def essential_name_len(name: str) -> int:
    """bpf_core_essential_name_len: the length before the last ``X___Y`` flavor separator."""
    n = len(name)
    for i in range(n - 5, -1, -1):
        if name[i] != "_" and name[i + 1: i + 4] == "___" and name[i + 4] != "_":
            return i + 1
    return n


def _essential(name: str) -> str:
    return name[: essential_name_len(name)]


# -- spec parsing ---------------------------------------------------------------------------

def _is_flex_arr(btf, acc: Accessor | None, arr) -> bool:
    if acc is None or not acc.name or arr.nelems > 0:
        return False
    t = btf.type_by_id(acc.type_id)
    return acc.idx == len(t.members) - 1


def parse_spec(prog_name: str, btf, relo) -> Spec:
    """bpf_core_parse_spec. Raises CoreError(EINVAL/E2BIG)."""
    spec_str = btf.str_at(relo.access_str_off)
    if not spec_str or spec_str.startswith(":"):
        raise CoreError(errno.EINVAL, "empty or malformed access string")
    spec = Spec(btf, relo.type_id, relo.kind)
    if relo.kind in TYPE_KINDS:
        if spec_str != "0":
            raise CoreError(errno.EINVAL, f"type-based relocation with access string '{spec_str}'")
        return spec
    for part in spec_str.split(":"):
        if not part.isdigit():
            raise CoreError(errno.EINVAL, f"bad access string '{spec_str}'")
        if len(spec.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
            raise CoreError(errno.E2BIG, "access string too long")
        spec.raw_spec.append(int(part))
    t, tid = skip_mods_and_typedefs(btf, relo.type_id)
    access_idx = spec.raw_spec[0]
    acc = Accessor(tid, access_idx)
    spec.spec.append(acc)
    if relo.kind in ENUMVAL_KINDS:
        if not _is_any_enum(t) or len(spec.raw_spec) > 1 or access_idx >= len(t.values):
            raise CoreError(errno.EINVAL, "enum value relocation of a non-enum or bad index")
        acc.name = t.values[access_idx].name
        return spec
    if relo.kind not in FIELD_KINDS:
        raise CoreError(errno.EINVAL, f"unknown relocation kind {relo.kind}")
    sz = _resolve_size(btf, tid)
    spec.bit_offset = access_idx * sz * 8
    for i in range(1, len(spec.raw_spec)):
        t, tid = skip_mods_and_typedefs(btf, tid)
        access_idx = spec.raw_spec[i]
        if _is_composite(t):
            if access_idx >= len(t.members):
                raise CoreError(errno.EINVAL, f"member #{access_idx} of [{tid}] does not exist")
            m = t.members[access_idx]
            spec.bit_offset += m.bit_offset
            if m.name_off:
                if not m.name:
                    raise CoreError(errno.EINVAL, "member name does not resolve")
                spec.spec.append(Accessor(tid, access_idx, m.name))
            tid = m.type
        elif t.id and t.kind == BTF_KIND_ARRAY:
            flex = _is_flex_arr(btf, spec.spec[-1] if spec.spec else None, t)
            _, tid = skip_mods_and_typedefs(btf, t.elem_type)
            if not flex and access_idx >= t.nelems:
                raise CoreError(errno.EINVAL, f"array index {access_idx} out of bounds")
            spec.spec.append(Accessor(tid, access_idx))
            spec.bit_offset += access_idx * _resolve_size(btf, tid) * 8
        else:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo for [{relo.type_id}] "
                            f"{spec_str} (at idx {i}) captures type [{tid}] of unexpected kind "
                            f"{_kind_str(t)}")
    return spec


# -- compatibility --------------------------------------------------------------------------

def types_are_compat(local_btf, local_id: int, targ_btf, targ_id: int, level: int = 32) -> int:
    """__bpf_core_types_are_compat (caller checked the names)."""
    local_t = local_btf.type_by_id(local_id)
    targ_t = targ_btf.type_by_id(targ_id)
    if not kind_core_compat(local_t, targ_t):
        return 0
    for _ in range(32):
        local_t, local_id = skip_mods_and_typedefs(local_btf, local_id)
        targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
        if not kind_core_compat(local_t, targ_t):
            return 0
        k = local_t.kind if local_t.id else 0
        if k in (0, BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_ENUM, BTF_KIND_FWD, BTF_KIND_ENUM64):
            return 1
        if k == BTF_KIND_INT:
            return int(_int_offset(local_t) == 0 and _int_offset(targ_t) == 0)
        if k == BTF_KIND_PTR:
            local_id, targ_id = local_t.type, targ_t.type
            continue
        if k == BTF_KIND_ARRAY:
            local_id, targ_id = local_t.elem_type, targ_t.elem_type
            continue
        if k == BTF_KIND_FUNC_PROTO:
            if len(local_t.params) != len(targ_t.params):
                return 0
            for lp, tp in zip(local_t.params, targ_t.params):
                if level <= 0:
                    raise CoreError(errno.EINVAL, "types compat recursion too deep")
                _, lid = skip_mods_and_typedefs(local_btf, lp.type)
                _, tid = skip_mods_and_typedefs(targ_btf, tp.type)
                r = types_are_compat(local_btf, lid, targ_btf, tid, level - 1)
                if r <= 0:
                    return r
            _, local_id = skip_mods_and_typedefs(local_btf, local_t.type)
            _, targ_id = skip_mods_and_typedefs(targ_btf, targ_t.type)
            continue
        return 0
    raise CoreError(errno.EINVAL, "types compat recursion too deep")


def fields_are_compat(local_btf, local_id: int, targ_btf, targ_id: int) -> int:
    """bpf_core_fields_are_compat."""
    for _ in range(64):
        local_t, local_id = skip_mods_and_typedefs(local_btf, local_id)
        targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
        if _is_composite(local_t) and _is_composite(targ_t):
            return 1
        if not kind_core_compat(local_t, targ_t):
            return 0
        k = local_t.kind if local_t.id else 0
        if k in (BTF_KIND_PTR, BTF_KIND_FLOAT):
            return 1
        if k in (BTF_KIND_FWD, BTF_KIND_ENUM, BTF_KIND_ENUM64):
            ln, tn = _essential(local_t.name), _essential(targ_t.name)
            return int(not ln or not tn or ln == tn)
        if k == BTF_KIND_INT:
            return int(_int_offset(local_t) == 0 and _int_offset(targ_t) == 0)
        if k == BTF_KIND_ARRAY:
            local_id, targ_id = local_t.elem_type, targ_t.elem_type
            continue
        return 0
    raise CoreError(errno.EINVAL, "fields compat recursion too deep")


def _match_member(local_btf, local_acc: Accessor, targ_btf, targ_id: int, spec: Spec):
    """bpf_core_match_member: (found, next_targ_id)."""
    targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
    if not _is_composite(targ_t):
        return 0, 0
    local_t = local_btf.type_by_id(local_acc.type_id)
    local_m = local_t.members[local_acc.idx]
    local_name = local_m.name
    for i, m in enumerate(targ_t.members):
        if len(spec.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
            raise CoreError(errno.E2BIG, "struct nesting too deep")
        spec.bit_offset += m.bit_offset
        spec.raw_spec.append(i)
        if not m.name:
            found, nxt = _match_member(local_btf, local_acc, targ_btf, m.type, spec)
            if found:
                return found, nxt
        elif m.name == local_name:
            spec.spec.append(Accessor(targ_id, i, m.name))
            found = fields_are_compat(local_btf, local_m.type, targ_btf, m.type)
            if not found:
                spec.spec.pop()
            return found, m.type
        spec.bit_offset -= m.bit_offset
        spec.raw_spec.pop()
    return 0, 0


def spec_match(local: Spec, targ_btf, targ_id: int) -> tuple[int, Spec]:
    """bpf_core_spec_match: (1 and the target spec) or (0, partial spec)."""
    targ = Spec(targ_btf, targ_id, local.relo_kind)
    if local.relo_kind in TYPE_KINDS:
        if local.relo_kind == K.BPF_CORE_TYPE_MATCHES:
            return types_match(local.btf, local.root_type_id, targ_btf, targ_id), targ
        return types_are_compat(local.btf, local.root_type_id, targ_btf, targ_id), targ
    local_acc = local.spec[0]
    if local.relo_kind in ENUMVAL_KINDS:
        targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
        if not _is_any_enum(targ_t):
            return 0, targ
        want = _essential(local_acc.name or "")
        for i, v in enumerate(targ_t.values):
            if _essential(v.name) == want:
                targ.spec.append(Accessor(targ_id, i, v.name))
                targ.raw_spec.append(i)
                return 1, targ
        return 0, targ
    if local.relo_kind not in FIELD_KINDS:
        raise CoreError(errno.EINVAL, "unknown relocation kind")
    for i, lacc in enumerate(local.spec):
        targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
        if lacc.name:
            matched, targ_id = _match_member(local.btf, lacc, targ_btf, targ_id, targ)
            if matched <= 0:
                return matched, targ
        else:
            if i > 0:
                if not targ_t.id or targ_t.kind != BTF_KIND_ARRAY:
                    return 0, targ
                flex = _is_flex_arr(targ_btf, targ.spec[-1] if targ.spec else None, targ_t)
                if not flex and lacc.idx >= targ_t.nelems:
                    return 0, targ
                _, targ_id = skip_mods_and_typedefs(targ_btf, targ_t.elem_type)
            if len(targ.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
                raise CoreError(errno.E2BIG, "struct nesting too deep")
            targ.spec.append(Accessor(targ_id, lacc.idx))
            targ.raw_spec.append(lacc.idx)
            targ.bit_offset += lacc.idx * _resolve_size(targ_btf, targ_id) * 8
    return 1, targ


def _names_match(local_name: str, targ_name: str) -> bool:
    if not targ_name:
        return not local_name
    return _essential(local_name) == _essential(targ_name)


def _enums_match(local_t, targ_t) -> int:
    if local_t.size != targ_t.size or len(local_t.values) > len(targ_t.values):
        return 0
    for lv in local_t.values:
        if not any(_names_match(lv.name, tv.name) for tv in targ_t.values):
            return 0
    return 1


def _composites_match(local_btf, local_t, targ_btf, targ_t, behind_ptr: bool, level: int) -> int:
    if len(local_t.members) > len(targ_t.members):
        return 0
    for lm in local_t.members:
        matched = False
        for tm in targ_t.members:
            if not _names_match(lm.name, tm.name):
                continue
            r = types_match(local_btf, lm.type, targ_btf, tm.type, behind_ptr, level - 1)
            if r > 0:
                matched = True
                break
        if not matched:
            return 0
    return 1


def types_match(local_btf, local_id: int, targ_btf, targ_id: int, behind_ptr: bool = False,
                level: int = 32) -> int:
    """__bpf_core_types_match (BPF_CORE_TYPE_MATCHES)."""
    if level <= 0:
        raise CoreError(errno.EINVAL, "types match recursion too deep")
    for _ in range(32):
        local_t, local_id = skip_mods_and_typedefs(local_btf, local_id)
        targ_t, targ_id = skip_mods_and_typedefs(targ_btf, targ_id)
        if not _names_match(local_t.name, targ_t.name):
            return 0
        lk = local_t.kind if local_t.id else 0
        tk = targ_t.kind if targ_t.id else 0
        if lk == 0:
            return int(lk == tk)
        if lk == BTF_KIND_FWD:
            lf = local_t.kflag
            if behind_ptr:
                if lk == tk:
                    return int(lf == targ_t.kflag)
                return int((tk == BTF_KIND_STRUCT and not lf) or (tk == BTF_KIND_UNION and lf))
            return int(lk == tk and lf == targ_t.kflag)
        if lk in _ENUMS:
            return _enums_match(local_t, targ_t) if tk in _ENUMS else 0
        if lk in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            if behind_ptr:
                if lk == tk:
                    return 1
                if tk != BTF_KIND_FWD:
                    return 0
                return int((lk == BTF_KIND_UNION) == bool(targ_t.kflag))
            if lk != tk:
                return 0
            return _composites_match(local_btf, local_t, targ_btf, targ_t, behind_ptr, level)
        if lk == BTF_KIND_INT:
            if lk != tk:
                return 0
            return int(local_t.size == targ_t.size and
                       (local_t.encoding & BTF_INT_SIGNED) == (targ_t.encoding & BTF_INT_SIGNED))
        if lk == BTF_KIND_PTR:
            if lk != tk:
                return 0
            behind_ptr = True
            local_id, targ_id = local_t.type, targ_t.type
            continue
        if lk == BTF_KIND_ARRAY:
            if lk != tk or local_t.nelems != targ_t.nelems:
                return 0
            local_id, targ_id = local_t.elem_type, targ_t.elem_type
            continue
        if lk == BTF_KIND_FUNC_PROTO:
            if lk != tk or len(local_t.params) != len(targ_t.params):
                return 0
            for lp, tp in zip(local_t.params, targ_t.params):
                r = types_match(local_btf, lp.type, targ_btf, tp.type, behind_ptr, level - 1)
                if r <= 0:
                    return r
            local_id, targ_id = local_t.type, targ_t.type
            continue
        return 0
    raise CoreError(errno.EINVAL, "types match recursion too deep")


# -- values ------------------------------------------------------------------------------------

def _elem_size(btf, tid: int):
    t, elem_id = skip_mods_and_typedefs(btf, tid)
    while t.id and t.kind == BTF_KIND_ARRAY:
        t, elem_id = skip_mods_and_typedefs(btf, t.elem_type)
    return _resolve_size(btf, elem_id)


def calc_field_relo(prog_name: str, relo, spec: Spec | None, res: ReloRes, which: str,
                    want_validate: bool) -> int:
    """bpf_core_calc_field_relo: the value for one side; fills res.{orig,new}_sz/_type_id."""
    if relo.kind == K.BPF_CORE_FIELD_EXISTS:
        return 1 if spec is not None else 0
    if spec is None:
        raise _Poison()
    acc = spec.spec[-1]
    t = spec.btf.type_by_id(acc.type_id)
    if not acc.name:
        if relo.kind == K.BPF_CORE_FIELD_BYTE_OFFSET:
            val = spec.bit_offset // 8
            setattr(res, f"{which}_sz", _elem_size(spec.btf, acc.type_id))
            setattr(res, f"{which}_type_id", acc.type_id)
        elif relo.kind == K.BPF_CORE_FIELD_BYTE_SIZE:
            val = _resolve_size(spec.btf, acc.type_id)
        else:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo {relo.kind} at insn "
                            f"#{relo.insn_off // 8} can't be applied to array access")
        if want_validate:
            res.validate = True
        return val
    m = t.members[acc.idx]
    mt, field_type_id = skip_mods_and_typedefs(spec.btf, m.type)
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size if t.kflag else 0
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CoreError(errno.E2BIG, f"prog '{prog_name}': relo {relo.kind} at insn "
                                f"#{relo.insn_off // 8} can't be satisfied for bitfield")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _resolve_size(spec.btf, field_type_id)
        byte_off = spec.bit_offset // 8
        bit_sz = byte_sz * 8
    if want_validate:
        res.validate = not bitfield
    k = relo.kind
    if k == K.BPF_CORE_FIELD_BYTE_OFFSET:
        if not bitfield:
            setattr(res, f"{which}_sz", _elem_size(spec.btf, field_type_id))
            setattr(res, f"{which}_type_id", field_type_id)
        return byte_off
    if k == K.BPF_CORE_FIELD_BYTE_SIZE:
        return byte_sz
    if k == K.BPF_CORE_FIELD_SIGNED:
        if want_validate:
            res.validate = True
        signed = (_is_any_enum(mt) and mt.kflag) or (
            mt.id and mt.kind == BTF_KIND_INT and mt.encoding & BTF_INT_SIGNED)
        return int(bool(signed))
    if k == K.BPF_CORE_FIELD_LSHIFT_U64:
        return 64 - (bit_off + bit_sz - byte_off * 8)         # little-endian
    if k == K.BPF_CORE_FIELD_RSHIFT_U64:
        if want_validate:
            res.validate = True
        return 64 - bit_sz
    raise CoreError(errno.EOPNOTSUPP, "unsupported field relocation")


def calc_type_relo(relo, spec: Spec | None) -> int:
    """bpf_core_calc_type_relo (TYPE_ID_LOCAL is handled by the caller)."""
    if spec is None:
        return 0
    k = relo.kind
    if k == K.BPF_CORE_TYPE_ID_TARGET:
        return spec.root_type_id
    if k in (K.BPF_CORE_TYPE_EXISTS, K.BPF_CORE_TYPE_MATCHES):
        return 1
    if k == K.BPF_CORE_TYPE_SIZE:
        return _resolve_size(spec.btf, spec.root_type_id)
    raise CoreError(errno.EOPNOTSUPP, "unsupported type relocation")


def calc_enumval_relo(relo, spec: Spec | None) -> int:
    """bpf_core_calc_enumval_relo."""
    if relo.kind == K.BPF_CORE_ENUMVAL_EXISTS:
        return 1 if spec is not None else 0
    if relo.kind == K.BPF_CORE_ENUMVAL_VALUE:
        if spec is None:
            raise _Poison()
        t = spec.btf.type_by_id(spec.spec[0].type_id)
        return t.values[spec.spec[0].idx].val
    raise CoreError(errno.EOPNOTSUPP, "unsupported enumval relocation")


def calc_relo(prog_name: str, relo, relo_idx: int, local: Spec, targ: Spec | None) -> ReloRes:
    """bpf_core_calc_relo."""
    res = ReloRes()
    try:
        if relo.kind in FIELD_KINDS:
            res.orig_val = calc_field_relo(prog_name, relo, local, res, "orig", True)
            res.new_val = calc_field_relo(prog_name, relo, targ, res, "new", False)
            if res.orig_sz != res.new_sz:
                orig_t = local.btf.type_by_id(res.orig_type_id)
                new_t = targ.btf.type_by_id(res.new_type_id)
                ok = (orig_t.id and new_t.id and orig_t.kind == BTF_KIND_PTR
                      and new_t.kind == BTF_KIND_PTR)
                ok = ok or (orig_t.id and new_t.id and orig_t.kind == BTF_KIND_INT
                            and new_t.kind == BTF_KIND_INT and orig_t.encoding != BTF_INT_SIGNED
                            and new_t.encoding != BTF_INT_SIGNED)
                res.fail_memsz_adjust = not ok
        elif relo.kind in TYPE_KINDS:
            res.orig_val = calc_type_relo(relo, local)
            res.new_val = calc_type_relo(relo, targ)
            res.validate = relo.kind != K.BPF_CORE_TYPE_ID_TARGET
        elif relo.kind in ENUMVAL_KINDS:
            res.orig_val = calc_enumval_relo(relo, local)
            res.new_val = calc_enumval_relo(relo, targ)
        else:
            raise CoreError(errno.EOPNOTSUPP, "")
    except _Poison:
        res.poison = True
    except CoreError as e:
        if e.errno == errno.EOPNOTSUPP:
            raise CoreError(errno.EOPNOTSUPP, f"prog '{prog_name}': relo #{relo_idx}: unrecognized "
                            f"CO-RE relocation {KIND_STR.get(relo.kind, 'unknown')} ({relo.kind}) "
                            f"at insn #{relo.insn_off // 8}") from e
        raise
    return res


# -- formatting ------------------------------------------------------------------------------

def format_spec(spec: Spec) -> str:
    """bpf_core_format_spec: ``<byte_off> [12] struct task_struct.pid (0:67 @ offset 1504)``."""
    t = spec.btf.type_by_id(spec.root_type_id)
    s = t.name
    out = (f"<{KIND_STR.get(spec.relo_kind, 'unknown')}> [{spec.root_type_id}] {_kind_str(t)} "
           f"{s if s else '<anon>'}")
    if spec.relo_kind in TYPE_KINDS:
        return out
    if spec.relo_kind in ENUMVAL_KINDS:
        et, _ = skip_mods_and_typedefs(spec.btf, spec.root_type_id)
        v = et.values[spec.raw_spec[0]]
        return out + f"::{v.name} = {v.val}"
    for i, acc in enumerate(spec.spec):
        if acc.name:
            out += f".{acc.name}"
        elif i > 0 or acc.idx > 0:
            out += f"[{acc.idx}]"
    out += " (" + ":".join(str(x) for x in spec.raw_spec)
    if spec.bit_offset % 8:
        out += f" @ offset {spec.bit_offset // 8}.{spec.bit_offset % 8})"
    else:
        out += f" @ offset {spec.bit_offset // 8})"
    return out


# -- candidates ---------------------------------------------------------------------------

_KINDS_FOR = {BTF_KIND_ENUM: (BTF_KIND_ENUM, BTF_KIND_ENUM64),
              BTF_KIND_ENUM64: (BTF_KIND_ENUM, BTF_KIND_ENUM64)}
_flavor_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _flavored_names(targ_btf, essent: str) -> list[str]:
    """Every name of the target's string section of the form ``essent___flavor`` (scanning the
    raw strings is cheap; types are then found through the BTF's name index)."""
    cache = _flavor_cache.setdefault(targ_btf, {})
    got = cache.get(essent)
    if got is not None:
        return got
    names = []
    raw = bytes(targ_btf.strings)
    needle = b"\0" + essent.encode() + b"___"
    pos = raw.find(needle)
    while pos >= 0:
        end = raw.find(b"\0", pos + 1)
        name = raw[pos + 1: end if end >= 0 else None].decode("utf-8", "replace")
        if _essential(name) == essent:
            names.append(name)
        pos = raw.find(needle, pos + 1)
    cache[essent] = names
    return names


def find_cands(local_btf, local_id: int, targ_btf) -> list[int]:
    """bpf_core_find_cands on one target BTF (kernelsim has no module BTFs): ids of the target's
    types of a CO-RE-compatible kind whose essential name equals the local one, in id order."""
    local_t = local_btf.type_by_id(local_id)
    if not local_t.name:
        raise CoreError(errno.EINVAL, "anonymous local type")
    essent = _essential(local_t.name)
    kinds = _KINDS_FOR.get(int(local_t.kind), (int(local_t.kind),))
    ids: set[int] = set()
    for name in [essent, *_flavored_names(targ_btf, essent)]:
        for k in kinds:
            ids.update(targ_btf.find_all_by_name_kind(name, k))
    return sorted(ids)


# -- per relocation ----------------------------------------------------------------------------

@dataclass(slots=True)
class CoreResult:
    """What resolving one relocation gave: the result and the specs (for logs and tests)."""

    res: ReloRes
    local_spec: Spec
    targ_spec: Spec | None


def calc_relo_insn(prog_name: str, relo, relo_idx: int, local_btf, targ_btf,
                   cand_cache: dict) -> CoreResult:
    """bpf_core_resolve_relo + bpf_core_calc_relo_insn. Raises CoreError."""
    local_t = local_btf.type_by_id(relo.type_id)
    local_name = local_t.name
    try:
        local_spec = parse_spec(prog_name, local_btf, relo)
    except CoreError as e:
        raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: parsing "
                        f"[{relo.type_id}] {_kind_str(local_t)} {local_name or '<anon>'} + "
                        f"{local_btf.str_at(relo.access_str_off) or '<?>'} failed: "
                        f"{e.message or errno.errorcode.get(e.errno, e.errno)}") from e
    if relo.kind == K.BPF_CORE_TYPE_ID_LOCAL:
        return CoreResult(ReloRes(relo.type_id, relo.type_id, validate=False), local_spec, None)
    if not local_name:
        raise CoreError(errno.EOPNOTSUPP, f"prog '{prog_name}': relo #{relo_idx}: "
                        f"<{KIND_STR.get(relo.kind, 'unknown')}> ({relo.kind}) relocation doesn't "
                        "support anonymous types")
    cands = cand_cache.get(relo.type_id)
    if cands is None:
        cands = cand_cache[relo.type_id] = find_cands(local_btf, relo.type_id, targ_btf)
    targ_res = targ_spec = None
    kept = []
    for cand_id in cands:
        matched, cand_spec = spec_match(local_spec, targ_btf, cand_id)
        if matched == 0:
            continue
        cand_res = calc_relo(prog_name, relo, relo_idx, local_spec, cand_spec)
        if targ_res is None:
            targ_res, targ_spec = cand_res, cand_spec
        elif cand_spec.bit_offset != targ_spec.bit_offset:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: field offset "
                            f"ambiguity: {cand_spec.bit_offset} != {targ_spec.bit_offset}")
        elif cand_res.poison != targ_res.poison or cand_res.new_val != targ_res.new_val:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: relocation "
                            f"decision ambiguity: {'failure' if cand_res.poison else 'success'} "
                            f"{cand_res.new_val} != {'failure' if targ_res.poison else 'success'} "
                            f"{targ_res.new_val}")
        kept.append(cand_id)
    if kept:
        cand_cache[relo.type_id] = kept
    if targ_res is None:
        targ_res = calc_relo(prog_name, relo, relo_idx, local_spec, None)
    return CoreResult(targ_res, local_spec, targ_spec)


# -- patching --------------------------------------------------------------------------------

_SIZE_BYTES = {BPF_DW: 8, BPF_W: 4, BPF_H: 2, BPF_B: 1}
_BYTES_SIZE = {8: BPF_DW, 4: BPF_W, 2: BPF_H, 1: BPF_B}


def poison_insn() -> BpfInsn:
    """bpf_core_poison_insn: ``call 0xbad2310``."""
    return BpfInsn(BPF_JMP | BPF_CALL, 0, 0, 0, POISON_HELPER)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def patch_insn(prog_name: str, insns: list, insn_idx: int, relo, relo_idx: int,
               res: ReloRes) -> None:
    """bpf_core_patch_insn on ``insns`` (a list of BpfInsn, changed in place). CoreError:
    EINVAL (unexpected instruction or value), ERANGE (offset too big)."""
    insn = insns[insn_idx]
    cls = BPF_CLASS(insn.code)

    def poison():
        if insn.is_ld_imm64() and insn_idx + 1 < len(insns):
            insns[insn_idx + 1] = poison_insn()
        insns[insn_idx] = poison_insn()

    if res.poison:
        poison()
        return
    orig_val, new_val = res.orig_val, res.new_val
    if cls in (BPF_ALU, BPF_ALU64):
        if BPF_SRC(insn.code) != BPF_K:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: insn "
                            f"#{insn_idx} (ALU/ALU64) uses a register operand")
        if res.validate and insn.imm != _s32(orig_val):
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: unexpected insn "
                            f"#{insn_idx} (ALU/ALU64) value: got {insn.imm}, exp {orig_val} -> "
                            f"{new_val}")
        insns[insn_idx] = replace(insn, imm=_s32(new_val))
    elif cls in (BPF_LDX, BPF_ST, BPF_STX):
        if res.validate and insn.off != orig_val:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: unexpected insn "
                            f"#{insn_idx} (LDX/ST/STX) value: got {insn.off}, exp {orig_val} -> "
                            f"{new_val}")
        if new_val > 0x7FFF:
            raise CoreError(errno.ERANGE, f"prog '{prog_name}': relo #{relo_idx}: insn #{insn_idx} "
                            f"(LDX/ST/STX) value too big: {new_val}")
        if res.fail_memsz_adjust:
            poison()
            return
        code = insn.code
        if res.new_sz != res.orig_sz:
            if _SIZE_BYTES.get(BPF_SIZE(code)) != res.orig_sz:
                raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: insn "
                                f"#{insn_idx} (LDX/ST/STX) unexpected mem size: got "
                                f"{_SIZE_BYTES.get(BPF_SIZE(code))}, exp {res.orig_sz}")
            new_size = _BYTES_SIZE.get(res.new_sz)
            if new_size is None:
                raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: insn "
                                f"#{insn_idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
            code = BPF_MODE(code) | new_size | BPF_CLASS(code)
        insns[insn_idx] = replace(insn, code=code, off=new_val)
    elif cls == BPF_LD:
        nxt = insns[insn_idx + 1] if insn_idx + 1 < len(insns) else None
        if (not insn.is_ld_imm64() or insn.src != 0 or insn.off != 0 or nxt is None
                or nxt.code != 0 or nxt.dst != 0 or nxt.src != 0 or nxt.off != 0):
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: insn "
                            f"#{insn_idx} (LDIMM64) has unexpected form")
        imm = (insn.imm & 0xFFFFFFFF) | ((nxt.imm & 0xFFFFFFFF) << 32)
        if res.validate and imm != orig_val & 0xFFFFFFFFFFFFFFFF:
            raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: unexpected insn "
                            f"#{insn_idx} (LDIMM64) value: got {imm}, exp {orig_val} -> {new_val}")
        insns[insn_idx] = replace(insn, imm=_s32(new_val))
        insns[insn_idx + 1] = replace(nxt, imm=_s32(new_val >> 32))
    else:
        raise CoreError(errno.EINVAL, f"prog '{prog_name}': relo #{relo_idx}: trying to relocate "
                        f"unrecognized insn #{insn_idx}, code:{insn.code:#x}, src:{insn.src:#x}, "
                        f"dst:{insn.dst:#x}, off:{insn.off:#x}, imm:{insn.imm & 0xFFFFFFFF:#x}")


def core_error(e: CoreError, prog: str, section: str, insn: int) -> BpfObjectError:
    """A CoreError as the loader's exception."""
    err = relo_error if e.errno == errno.EINVAL else (
        lambda msg, **kw: BpfObjectError(e.errno, msg, **kw))
    return err(e.message or f"prog '{prog}': CO-RE relocation failed", prog=prog, section=section,
               insn=insn)
