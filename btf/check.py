"""The per-kind verifier slots of BPF_BTF_LOAD: check_meta, resolve, check_member and the log text
(kernel/bpf/btf.c: btf_int_check_meta, btf_struct_resolve, btf_int_check_member, btf_int_log ...).

Pass 1 (``check_meta``) sees one record at a time: counts, flags, names, ids in range. Pass 2
(``resolve``) follows references with an explicit stack (btf/verifier.py) so that every member,
element and modifier ends at a type with a size, without loops. A slot raises BtfError through the
env's ``*_error`` helpers, which write the kernel's log line first (EINVAL unless stated).
Checks mirror the kernel's order so that the first complaint is the kernel's first complaint.
"""

from .types import BtfInt
from .uapi import BTF_FUNC_GLOBAL, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_MASK, BTF_INT_SIGNED
from .uapi import BTF_MAX_TYPE, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_STATIC, BtfKind
from .errors import ENOTSUPP

K = BtfKind
U32_MAX = 0xFFFFFFFF
BITS_PER_U128 = 128
_INT_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}


def _valid_id(tid: int) -> bool:
    return tid <= BTF_MAX_TYPE


def _roundup_bytes(bits: int) -> int:
    return (bits >> 3) + (1 if bits & 7 else 0)


def int_is_regular(t) -> bool:
    """btf_type_int_is_regular: not a bitfield, 1/2/4/8/16 bytes."""
    nr_bits = t.nr_bits
    return not (nr_bits & 7 or t.bits_offset or _roundup_bytes(nr_bits) not in (1, 2, 4, 8, 16))


# -- log details (btf_*_log): the text after "[id] KIND name " --------------------------------

def int_log(env, t) -> str:
    return (f"size={t.size_type} bits_offset={t.bits_offset} nr_bits={t.nr_bits} "
            f"encoding={_INT_ENC.get(t.encoding, 'UNKN')}")


def ref_type_log(env, t) -> str:
    return f"type_id={t.size_type}"


def array_log(env, t) -> str:
    return f"type_id={t.elem_type} index_type_id={t.index_type} nr_elems={t.nelems}"


def struct_log(env, t) -> str:
    return f"size={t.size_type} vlen={t.vlen}"


enum_log = struct_log
datasec_log = struct_log


def fwd_log(env, t) -> str:
    return "union" if t.kflag else "struct"


def func_proto_log(env, t) -> str:
    args = t.params
    out = [f"return={t.size_type} args=("]
    name = env.log_name
    if not args:
        out.append("void")
    elif len(args) == 1 and not args[0].type:
        out.append("vararg")
    else:
        out.append(f"{args[0].type} {name(args[0].name_off)}")
        for a in args[1:-1]:
            out.append(f", {a.type} {name(a.name_off)}")
        if len(args) > 1:
            last = args[-1]
            out.append(f", {last.type} {name(last.name_off)}" if last.type else ", vararg")
    out.append(")")
    return "".join(out)


def var_log(env, t) -> str:
    return f"type_id={t.size_type} linkage={t.linkage}"


def float_log(env, t) -> str:
    return f"size={t.size_type}"


def decl_tag_log(env, t) -> str:
    return f"type={t.size_type} component_idx={t.component_idx}"


# -- pass 1: check_meta ---------------------------------------------------------------------------

def int_check_meta(env, t) -> None:
    """btf_int_check_meta. ENOTSUPP: more than one encoding bit."""
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    if t.int_data & ~BTF_INT_MASK:
        env.basic_error(t, f"Invalid int_data:{t.int_data:x}")
    nr_bits = t.nr_bits + t.bits_offset
    if nr_bits > BITS_PER_U128:
        env.type_error(t, f"nr_bits exceeds {BITS_PER_U128}")
    if _roundup_bytes(nr_bits) > t.size_type:
        env.type_error(t, "nr_bits exceeds type_size")
    if t.encoding not in (0, BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL):
        env.type_error(t, "Unsupported encoding", ENOTSUPP)
    env.log_type(t)


def ref_type_check_meta(env, t) -> None:
    """btf_ref_type_check_meta: PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG. TYPEDEF needs
    an identifier, TYPE_TAG a non-empty value, the others no name. A TYPE_TAG may carry kind_flag
    (an attribute-style tag, 6.13+)."""
    if t.vlen:
        env.type_error(t, "vlen != 0")
    kind = t.kind
    if t.kflag and kind != K.BTF_KIND_TYPE_TAG:
        env.type_error(t, "Invalid btf_info kind_flag")
    if not _valid_id(t.size_type):
        env.type_error(t, "Invalid type_id")
    if kind == K.BTF_KIND_TYPEDEF:
        if not t.name_off or not env.name_valid_identifier(t.name_off):
            env.type_error(t, "Invalid name")
    elif kind == K.BTF_KIND_TYPE_TAG:
        if not env.btf.str_at(t.name_off):
            env.type_error(t, "Invalid name")
    elif t.name_off:
        env.type_error(t, "Invalid name")
    env.log_type(t)


def fwd_check_meta(env, t) -> None:
    """btf_fwd_check_meta."""
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.size_type:
        env.type_error(t, "type != 0")
    if not t.name_off or not env.name_valid_identifier(t.name_off):
        env.type_error(t, "Invalid name")
    env.log_type(t)


def array_check_meta(env, t) -> None:
    """btf_array_check_meta."""
    if t.name_off:
        env.type_error(t, "Invalid name")
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    if t.size_type:
        env.type_error(t, "size != 0")
    if not t.elem_type or not _valid_id(t.elem_type):
        env.type_error(t, "Invalid elem")
    if not t.index_type or not _valid_id(t.index_type):
        env.type_error(t, "Invalid index")
    env.log_type(t)


def struct_check_meta(env, t) -> None:
    """btf_struct_check_meta: STRUCT and UNION; members must not go backwards (equal offsets are
    fine: a trailing ``char a[0]``), union members sit at 0, none starts past the struct."""
    is_union = t.kind == K.BTF_KIND_UNION
    if t.name_off and not env.name_valid_identifier(t.name_off):
        env.type_error(t, "Invalid name")
    env.log_type(t)
    last_offset = 0
    btf = env.btf
    for m in t.members:
        if not btf.name_offset_valid(m.name_off):
            env.member_error(t, m, f"Invalid member name_offset:{m.name_off}")
        if m.name_off and not env.name_valid_identifier(m.name_off):
            env.member_error(t, m, "Invalid name")
        if not m.type or not _valid_id(m.type):
            env.member_error(t, m, "Invalid type_id")
        offset = m.bit_offset
        if is_union and offset:
            env.member_error(t, m, "Invalid member bits_offset")
        if last_offset > offset:
            env.member_error(t, m, "Invalid member bits_offset")
        if _roundup_bytes(offset) > t.size_type:
            env.member_error(t, m, "Member bits_offset exceeds its struct size")
        env.log_member(t, m)
        last_offset = offset


def _enum_check_meta(env, t, fmt_signed) -> None:
    size = t.size_type
    if size > 8 or not size or size & (size - 1):
        env.type_error(t, "Unexpected size")
    if t.name_off and not env.name_valid_identifier(t.name_off):
        env.type_error(t, "Invalid name")
    env.log_type(t)
    btf = env.btf
    for v in t.values:
        if not btf.name_offset_valid(v.name_off):
            env.plain_error(f"\tInvalid name_offset:{v.name_off}")
        if not v.name_off or not env.name_valid_identifier(v.name_off):
            env.type_error(t, "Invalid name")
        if env.level:
            env.log(f"\t{env.log_name(v.name_off)} val={fmt_signed(v.val, t.kflag)}\n")


def enum_check_meta(env, t) -> None:
    """btf_enum_check_meta: size a power of two up to 8, every enumerator named."""
    _enum_check_meta(env, t, lambda v, signed: v if signed else v & U32_MAX)


def enum64_check_meta(env, t) -> None:
    """btf_enum64_check_meta."""
    _enum_check_meta(env, t, lambda v, signed: v)


def func_proto_check_meta(env, t) -> None:
    """btf_func_proto_check_meta: anonymous, no kind_flag (the params are checked in pass 2)."""
    if t.name_off:
        env.type_error(t, "Invalid name")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    env.log_type(t)


def func_check_meta(env, t) -> None:
    """btf_func_check_meta: named, linkage static or global (extern is refused: libbpf sanitizes
    extern funcs before loading)."""
    if not t.name_off or not env.name_valid_identifier(t.name_off):
        env.type_error(t, "Invalid name")
    if t.vlen > BTF_FUNC_GLOBAL:
        env.type_error(t, "Invalid func linkage")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    env.log_type(t)


def var_check_meta(env, t) -> None:
    """btf_var_check_meta: named (dots allowed), typed, static or global-allocated."""
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    if not t.name_off or not env.name_valid(t.name_off, dot_ok=True):
        env.type_error(t, "Invalid name")
    if not t.size_type or not _valid_id(t.size_type):
        env.type_error(t, "Invalid type_id")
    if t.linkage not in (BTF_VAR_STATIC, BTF_VAR_GLOBAL_ALLOCATED):
        env.type_error(t, "Linkage not supported")
    env.log_type(t)


def datasec_check_meta(env, t) -> None:
    """btf_datasec_check_meta: variables in increasing, non-overlapping order inside the section."""
    if not t.size_type:
        env.type_error(t, "size == 0")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    if not t.name_off or not env.name_valid(t.name_off, dot_ok=True):
        env.type_error(t, "Invalid name")
    env.log_type(t)
    last_end = 0
    total = 0
    size = t.size_type
    for v in t.vars:
        if not v.type or not _valid_id(v.type):
            env.vsi_error(t, v, "Invalid type_id")
        if v.offset < last_end or v.offset >= size:
            env.vsi_error(t, v, "Invalid offset")
        if not v.size or v.size > size:
            env.vsi_error(t, v, "Invalid size")
        last_end = v.offset + v.size
        if last_end > size:
            env.vsi_error(t, v, "Invalid offset+size")
        env.log_vsi(t, v)
        total += v.size
    if size < total:
        env.type_error(t, "Invalid btf_info size")


def float_check_meta(env, t) -> None:
    """btf_float_check_meta: 2, 4, 8, 12 or 16 bytes."""
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.kflag:
        env.type_error(t, "Invalid btf_info kind_flag")
    if t.size_type not in (2, 4, 8, 12, 16):
        env.type_error(t, "Invalid type_size")
    env.log_type(t)


def decl_tag_check_meta(env, t) -> None:
    """btf_decl_tag_check_meta: a non-empty value, component_idx >= -1 (kind_flag marks an
    attribute-style tag, accepted since 6.13)."""
    if not env.btf.str_at(t.name_off):
        env.type_error(t, "Invalid value")
    if t.vlen:
        env.type_error(t, "vlen != 0")
    if t.component_idx < -1:
        env.type_error(t, "Invalid component_idx")
    env.log_type(t)


# -- pass 2: resolve ------------------------------------------------------------------------------

def _next_type_or_fail(env, v, next_type_id):
    nt = env.type_or_none(next_type_id)
    if nt is None or env.is_resolve_source_only(nt):
        env.type_error(v.t, "Invalid type_id")
    return nt


def modifier_resolve(env, v) -> None:
    """btf_modifier_resolve: a modifier may end at void, a FWD or a FUNC_PROTO, else at a sized type."""
    t = v.t
    next_id = t.size_type
    nt = _next_type_or_fail(env, v, next_id)
    if not env.is_resolve_sink(nt) and not env.is_resolved(next_id):
        return env.stack_push(nt, next_id)
    res = env.type_id_size(next_id)
    if res is None:
        if env.is_resolved(next_id):
            next_id = env.resolved_id(next_id)
            nt = env.type_or_none(next_id)
        if not (next_id == 0 or (nt is not None and nt.kind in (K.BTF_KIND_FWD, K.BTF_KIND_FUNC_PROTO))):
            env.type_error(t, "Invalid type_id")
    else:
        next_id = res[1]
    env.stack_pop_resolved(next_id, 0)


def _resolve_through_ptr(env, next_type, next_id):
    """The "last-resolved-ptr" step of btf_ptr_resolve / btf_var_resolve: a modifier resolved in
    struct mode may stop at a pointer that still needs following. True: pushed."""
    if next_type.kind in env.MODIFIERS:
        rid = env.resolved_id(next_id)
        rt = env.type_or_none(rid)
        if (rt is not None and rt.kind == K.BTF_KIND_PTR and not env.is_resolve_sink(rt)
                and not env.is_resolved(rid)):
            env.stack_push(rt, rid)
            return True
    return False


def var_resolve(env, v) -> None:
    """btf_var_resolve: a variable needs a type with a size."""
    t = v.t
    next_id = t.size_type
    nt = _next_type_or_fail(env, v, next_id)
    if not env.is_resolve_sink(nt) and not env.is_resolved(next_id):
        return env.stack_push(nt, next_id)
    if _resolve_through_ptr(env, nt, next_id):
        return None
    res = env.type_id_size(next_id)
    if res is None:
        env.type_error(t, "Invalid type_id")
    env.stack_pop_resolved(res[1], 0)


def ptr_resolve(env, v) -> None:
    """btf_ptr_resolve: like a modifier, but keeps following pointers to catch pointer loops."""
    t = v.t
    next_id = t.size_type
    nt = _next_type_or_fail(env, v, next_id)
    if not env.is_resolve_sink(nt) and not env.is_resolved(next_id):
        return env.stack_push(nt, next_id)
    if _resolve_through_ptr(env, nt, next_id):
        return None
    res = env.type_id_size(next_id)
    if res is None:
        if env.is_resolved(next_id):
            next_id = env.resolved_id(next_id)
            nt = env.type_or_none(next_id)
        if not (next_id == 0 or (nt is not None and nt.kind in (K.BTF_KIND_FWD, K.BTF_KIND_FUNC_PROTO))):
            env.type_error(t, "Invalid type_id")
    else:
        next_id = res[1]
    env.stack_pop_resolved(next_id, 0)


def array_resolve(env, v) -> None:
    """btf_array_resolve: the index must be a regular int, the element a sized type whose total
    size fits in u32."""
    t = v.t
    index_id = t.index_type
    it = env.type_or_none(index_id)
    if env.nosize_or_null(it) or env.is_resolve_source_only(it):
        env.type_error(t, "Invalid index")
    if not env.is_resolve_sink(it) and not env.is_resolved(index_id):
        return env.stack_push(it, index_id)
    res = env.type_id_size(index_id)
    if res is None or not isinstance(res[0], BtfInt) or not int_is_regular(res[0]):
        env.type_error(t, "Invalid index")
    elem_id = t.elem_type
    et = env.type_or_none(elem_id)
    if env.nosize_or_null(et) or env.is_resolve_source_only(et):
        env.type_error(t, "Invalid elem")
    if not env.is_resolve_sink(et) and not env.is_resolved(elem_id):
        return env.stack_push(et, elem_id)
    res = env.type_id_size(elem_id)
    if res is None:
        env.type_error(t, "Invalid elem")
    et, elem_id, elem_size = res
    if isinstance(et, BtfInt) and not int_is_regular(et):
        env.type_error(t, "Invalid array of int")
    if t.nelems and elem_size > U32_MAX // t.nelems:
        env.type_error(t, "Array size overflows U32_MAX")
    env.stack_pop_resolved(elem_id, elem_size * t.nelems)


def _check_member(env, struct, m, mt) -> None:
    ops = env.ops_of(mt)
    slot = ops.check_kflag_member if struct.kflag else ops.check_member
    if slot is None:
        env.basic_error(struct, "Unsupported check_kflag_member" if struct.kflag
                        else "Unsupported check_member")
    slot(env, struct, m, mt)


def struct_resolve(env, v) -> None:
    """btf_struct_resolve: every member resolved to a sized type, then checked against the struct
    by the member type's check_member (or check_kflag_member) slot."""
    t = v.t
    members = t.members
    if v.next_member:
        last = members[v.next_member - 1]
        _check_member(env, t, last, env.type_or_none(last.type))
    for i in range(v.next_member, len(members)):
        m = members[i]
        mt = env.type_or_none(m.type)
        if env.nosize_or_null(mt) or env.is_resolve_source_only(mt):
            env.member_error(t, m, "Invalid member")
        if not env.is_resolve_sink(mt) and not env.is_resolved(m.type):
            v.next_member = i + 1
            return env.stack_push(mt, m.type)
        _check_member(env, t, m, mt)
    env.stack_pop_resolved(0, 0)


def datasec_resolve(env, v) -> None:
    """btf_datasec_resolve: every entry a VAR at least as large as its type."""
    t = v.t
    for i in range(v.next_member, len(t.vars)):
        vsi = t.vars[i]
        vt = env.type_or_none(vsi.type)
        if vt is None or vt.kind != K.BTF_KIND_VAR:
            env.vsi_error(t, vsi, "Not a VAR kind member")
        if not env.is_resolve_sink(vt) and not env.is_resolved(vsi.type):
            v.next_member = i + 1
            return env.stack_push(vt, vsi.type)
        res = env.type_id_size(vt.size_type)
        if res is None:
            env.vsi_error(t, vsi, "Invalid type")
        if vsi.size < res[2]:
            env.vsi_error(t, vsi, "Invalid size")
    env.stack_pop_resolved(0, 0)


def decl_tag_resolve(env, v) -> None:
    """btf_decl_tag_resolve: the target is a FUNC, STRUCT, UNION, VAR or TYPEDEF; a component index
    names a member or a parameter."""
    t = v.t
    next_id = t.size_type
    nt = env.type_or_none(next_id)
    if nt is None or not next_id or nt.kind not in (K.BTF_KIND_FUNC, K.BTF_KIND_STRUCT,
                                                    K.BTF_KIND_UNION, K.BTF_KIND_VAR,
                                                    K.BTF_KIND_TYPEDEF):
        env.type_error(t, "Invalid type_id")
    if not env.is_resolve_sink(nt) and not env.is_resolved(next_id):
        return env.stack_push(nt, next_id)
    idx = t.component_idx
    if idx != -1:
        if nt.kind in (K.BTF_KIND_VAR, K.BTF_KIND_TYPEDEF):
            env.type_error(t, "Invalid component_idx")
        if nt.kind in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION):
            vlen = nt.vlen
        else:
            proto = env.type_or_none(nt.size_type)
            vlen = proto.vlen if proto is not None else 0
        if idx >= vlen:
            env.type_error(t, "Invalid component_idx")
    env.stack_pop_resolved(next_id, 0)


def func_resolve(env, v) -> None:
    """btf_func_resolve -> btf_func_check: the FUNC's type is a FUNC_PROTO whose params are named
    (the vararg marker excepted)."""
    t = v.t
    proto = env.type_or_none(t.size_type)
    if proto is None or not t.size_type or proto.kind != K.BTF_KIND_FUNC_PROTO:
        env.type_error(t, "Invalid type_id")
    for i, p in enumerate(proto.params):
        if not p.name_off and p.type:
            env.type_error(t, f"Invalid arg#{i + 1}")
    env.stack_pop_resolved(t.size_type, 0)


def func_proto_check(env, t) -> None:
    """btf_func_proto_check (pass 2, for every FUNC_PROTO): a sized (or void) return type, a vararg
    only last and unnamed, every param valid and sized."""
    if t.size_type:
        ret_id = t.size_type
        rt = env.type_or_none(ret_id)
        if rt is None:
            env.type_error(t, "Invalid return type")
        if env.needs_resolve(rt) and not env.is_resolved(ret_id):
            env.resolve(rt, ret_id)
        if env.type_id_size(ret_id) is None:
            env.type_error(t, "Invalid return type")
    args = t.params
    nr_args = len(args)
    if not nr_args:
        return
    if not args[-1].type:
        if args[-1].name_off:
            env.type_error(t, f"Invalid arg#{nr_args}")
        nr_args -= 1
    btf = env.btf
    for i in range(nr_args):
        a = args[i]
        at = env.type_or_none(a.type)
        if at is None:
            env.type_error(t, f"Invalid arg#{i + 1}")
        if a.name_off and (not btf.name_offset_valid(a.name_off)
                           or not env.name_valid_identifier(a.name_off)):
            env.type_error(t, f"Invalid arg#{i + 1}")
        if env.needs_resolve(at) and not env.is_resolved(a.type):
            env.resolve(at, a.type)
        if env.type_id_size(a.type) is None:
            env.type_error(t, f"Invalid arg#{i + 1}")


# -- check_member: does a member of this type fit in the struct ----------------------------------

def int_check_member(env, struct, m, mt) -> None:
    """btf_int_check_member (kind_flag 0): the INT's own bits_offset/nr_bits place the bitfield."""
    bits_off = m.offset
    if U32_MAX - bits_off < mt.bits_offset:
        env.member_error(struct, m, "bits_offset exceeds U32_MAX")
    bits_off += mt.bits_offset
    bytes_offset = bits_off >> 3
    nr_copy_bits = mt.nr_bits + (bits_off & 7)
    if nr_copy_bits > BITS_PER_U128:
        env.member_error(struct, m, "nr_copy_bits exceeds 128")
    size = struct.size_type
    if size < bytes_offset or size - bytes_offset < _roundup_bytes(nr_copy_bits):
        env.member_error(struct, m, "Member exceeds struct_size")


def int_check_kflag_member(env, struct, m, mt) -> None:
    """btf_int_check_kflag_member: the member word places the bitfield; the INT must be regular."""
    if not int_is_regular(mt):
        env.member_error(struct, m, "Invalid member base type")
    nr_bits = m.offset >> 24
    bits_off = m.offset & 0xFFFFFF
    if not nr_bits:
        if bits_off & 7:
            env.member_error(struct, m, "Invalid member offset")
        nr_bits = mt.nr_bits
    elif nr_bits > mt.nr_bits:
        env.member_error(struct, m, "Invalid member bitfield_size")
    bytes_offset = bits_off >> 3
    nr_copy_bits = nr_bits + (bits_off & 7)
    if nr_copy_bits > BITS_PER_U128:
        env.member_error(struct, m, "nr_copy_bits exceeds 128")
    size = struct.size_type
    if size < bytes_offset or size - bytes_offset < _roundup_bytes(nr_copy_bits):
        env.member_error(struct, m, "Member exceeds struct_size")


def _resolved_member(env, struct, m, kflag):
    res = env.type_id_size(m.type)
    if res is None:
        env.member_error(struct, m, "Invalid member")
    rt, rid, _ = res
    rm = type(m)(m.name_off, m.name, rid, m.offset, m.bit_offset, m.bitfield_size)
    ops = env.ops_of(rt)
    slot = ops.check_kflag_member if kflag else ops.check_member
    if slot is None:
        env.basic_error(struct, "Unsupported check_kflag_member" if kflag else "Unsupported check_member")
    slot(env, struct, rm, rt)


def modifier_check_member(env, struct, m, mt) -> None:
    """btf_modifier_check_member: check the member as its resolved type."""
    _resolved_member(env, struct, m, False)


def modifier_check_kflag_member(env, struct, m, mt) -> None:
    """btf_modifier_check_kflag_member."""
    _resolved_member(env, struct, m, True)


def generic_check_kflag_member(env, struct, m, mt) -> None:
    """btf_generic_check_kflag_member: only INT and enums may be kind_flag bitfields."""
    if m.offset >> 24:
        env.member_error(struct, m, "Invalid member bitfield_size")
    plain = type(m)(m.name_off, m.name, m.type, m.offset, m.offset, 0)
    env.ops_of(mt).check_member(env, struct, plain, mt)


def ptr_check_member(env, struct, m, mt) -> None:
    """btf_ptr_check_member."""
    if m.offset & 7:
        env.member_error(struct, m, "Member is not byte aligned")
    if (struct.size_type - (m.offset >> 3)) & U32_MAX < 8:
        env.member_error(struct, m, "Member exceeds struct_size")


def array_check_member(env, struct, m, mt) -> None:
    """btf_array_check_member."""
    if m.offset & 7:
        env.member_error(struct, m, "Member is not byte aligned")
    res = env.type_id_size(m.type)
    array_size = res[2] if res is not None else 0
    if (struct.size_type - (m.offset >> 3)) & U32_MAX < array_size:
        env.member_error(struct, m, "Member exceeds struct_size")


def struct_check_member(env, struct, m, mt) -> None:
    """btf_struct_check_member (a struct or union member)."""
    if m.offset & 7:
        env.member_error(struct, m, "Member is not byte aligned")
    if (struct.size_type - (m.offset >> 3)) & U32_MAX < mt.size_type:
        env.member_error(struct, m, "Member exceeds struct_size")


enum_check_member = struct_check_member


def enum_check_kflag_member(env, struct, m, mt) -> None:
    """btf_enum_check_kflag_member: an enum bitfield of at most 32 bits."""
    bits_off = m.offset & 0xFFFFFF
    nr_bits = m.offset >> 24
    if not nr_bits:
        if bits_off & 7:
            env.member_error(struct, m, "Member is not byte aligned")
        nr_bits = 32
    elif nr_bits > 32:
        env.member_error(struct, m, "Invalid member bitfield_size")
    if struct.size_type < _roundup_bytes(bits_off + nr_bits):
        env.member_error(struct, m, "Member exceeds struct_size")


def float_check_member(env, struct, m, mt) -> None:
    """btf_float_check_member: aligned to min(8, size), inside the struct."""
    align_bits = min(8, mt.size_type) * 8
    if align_bits and m.offset % align_bits:
        env.member_error(struct, m, "Member is not properly aligned")
    if (m.offset >> 3) + mt.size_type > struct.size_type:
        env.member_error(struct, m, "Member exceeds struct_size")
