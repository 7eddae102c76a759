"""The kind-ops registry: BtfKind -> the per-kind operations, like ``kind_ops[]`` in kernel/bpf/btf.c.

Each kind is one ``BtfKindOps`` record: its name in logs and dumps (``btf_kind_str``), the size of
the data after its ``struct btf_type``, the decoder/encoder of its record (btf/codec.py), the
kernel's verifier slots (``check_meta``, ``resolve``, ``check_member``, ``check_kflag_member``,
``log_details``: btf/check.py) and bpftool's raw-dump text (btf/dump_raw.py). Adding a kind is its
functions plus one line below. An absent slot is ``None``; the callers pick the errno (the kernel's
``btf_df_*`` defaults: "Unsupported resolve" and friends).
"""

from dataclasses import dataclass
from typing import Callable

from . import check, codec, dump_raw
from .uapi import BtfKind


@dataclass(frozen=True, slots=True)
class BtfKindOps:
    """struct btf_kind_operations plus the format facts of one kind (record layout, names)."""

    kind_str: str                   # btf_kind_str[]: "INT", "STRUCT" ...
    meta_fixed: int                 # bytes after the btf_type whatever the vlen (INT: 4, ARRAY: 12)
    meta_per_vlen: int              # bytes per vlen entry (STRUCT: 12, ENUM: 8, FUNC_PROTO: 8)
    decode: Callable                # (btf, id, words, w) -> model record
    encode: Callable                # (record) -> list of u32 words
    check_meta: Callable            # (env, t) -> None; raises BtfError (first verifier pass)
    resolve: Callable | None        # (env, vertex) -> None; raises (second pass); None: sink kind
    check_member: Callable | None   # (env, struct, member, member_type) -> None; None: "Unsupported"
    check_kflag_member: Callable | None
    log_details: Callable           # (btf, t) -> str: the text after "[id] KIND name "
    dump_raw: Callable              # (btf, t) -> str: bpftool's text after "[id] KIND 'name'"

    def meta_size(self, vlen: int) -> int:
        """Bytes of trailing data for a record with this vlen (the kernel's meta_needed)."""
        return self.meta_fixed + self.meta_per_vlen * vlen


_modifier = dict(decode=None, encode=codec.plain_encode, check_meta=check.ref_type_check_meta,
                 resolve=check.modifier_resolve, check_member=check.modifier_check_member,
                 check_kflag_member=check.modifier_check_kflag_member,
                 log_details=check.ref_type_log, dump_raw=dump_raw.ref_dump)

kind_ops: dict[BtfKind, BtfKindOps] = {
    BtfKind.BTF_KIND_INT: BtfKindOps(
        "INT", 4, 0, codec.int_decode, codec.int_encode, check.int_check_meta, None,
        check.int_check_member, check.int_check_kflag_member, check.int_log, dump_raw.int_dump),
    BtfKind.BTF_KIND_PTR: BtfKindOps(
        "PTR", 0, 0, codec.ptr_decode, codec.plain_encode, check.ref_type_check_meta,
        check.ptr_resolve, check.ptr_check_member, check.generic_check_kflag_member,
        check.ref_type_log, dump_raw.ref_dump),
    BtfKind.BTF_KIND_ARRAY: BtfKindOps(
        "ARRAY", 12, 0, codec.array_decode, codec.array_encode, check.array_check_meta,
        check.array_resolve, check.array_check_member, check.generic_check_kflag_member,
        check.array_log, dump_raw.array_dump),
    BtfKind.BTF_KIND_STRUCT: BtfKindOps(
        "STRUCT", 0, 12, codec.struct_decode, codec.composite_encode, check.struct_check_meta,
        check.struct_resolve, check.struct_check_member, check.generic_check_kflag_member,
        check.struct_log, dump_raw.composite_dump),
    BtfKind.BTF_KIND_UNION: BtfKindOps(
        "UNION", 0, 12, codec.union_decode, codec.composite_encode, check.struct_check_meta,
        check.struct_resolve, check.struct_check_member, check.generic_check_kflag_member,
        check.struct_log, dump_raw.composite_dump),
    BtfKind.BTF_KIND_ENUM: BtfKindOps(
        "ENUM", 0, 8, codec.enum_decode, codec.enum_encode, check.enum_check_meta, None,
        check.enum_check_member, check.enum_check_kflag_member, check.enum_log,
        dump_raw.enum_dump),
    BtfKind.BTF_KIND_FWD: BtfKindOps(
        "FWD", 0, 0, codec.fwd_decode, codec.plain_encode, check.fwd_check_meta, None,
        None, None, check.fwd_log, dump_raw.fwd_dump),
    BtfKind.BTF_KIND_TYPEDEF: BtfKindOps("TYPEDEF", 0, 0, **{**_modifier, "decode": codec.typedef_decode}),
    BtfKind.BTF_KIND_VOLATILE: BtfKindOps("VOLATILE", 0, 0, **{**_modifier, "decode": codec.volatile_decode}),
    BtfKind.BTF_KIND_CONST: BtfKindOps("CONST", 0, 0, **{**_modifier, "decode": codec.const_decode}),
    BtfKind.BTF_KIND_RESTRICT: BtfKindOps("RESTRICT", 0, 0, **{**_modifier, "decode": codec.restrict_decode}),
    BtfKind.BTF_KIND_FUNC: BtfKindOps(
        "FUNC", 0, 0, codec.func_decode, codec.plain_encode, check.func_check_meta,
        check.func_resolve, None, None, check.ref_type_log, dump_raw.func_dump),
    BtfKind.BTF_KIND_FUNC_PROTO: BtfKindOps(
        "FUNC_PROTO", 0, 8, codec.func_proto_decode, codec.func_proto_encode,
        check.func_proto_check_meta, None, None, None, check.func_proto_log,
        dump_raw.func_proto_dump),
    BtfKind.BTF_KIND_VAR: BtfKindOps(
        "VAR", 4, 0, codec.var_decode, codec.var_encode, check.var_check_meta, check.var_resolve,
        None, None, check.var_log, dump_raw.var_dump),
    BtfKind.BTF_KIND_DATASEC: BtfKindOps(
        "DATASEC", 0, 12, codec.datasec_decode, codec.datasec_encode, check.datasec_check_meta,
        check.datasec_resolve, None, None, check.datasec_log, dump_raw.datasec_dump),
    BtfKind.BTF_KIND_FLOAT: BtfKindOps(
        "FLOAT", 0, 0, codec.float_decode, codec.plain_encode, check.float_check_meta, None,
        check.float_check_member, check.generic_check_kflag_member, check.float_log,
        dump_raw.float_dump),
    BtfKind.BTF_KIND_DECL_TAG: BtfKindOps(
        "DECL_TAG", 4, 0, codec.decl_tag_decode, codec.decl_tag_encode, check.decl_tag_check_meta,
        check.decl_tag_resolve, None, None, check.decl_tag_log, dump_raw.decl_tag_dump),
    BtfKind.BTF_KIND_TYPE_TAG: BtfKindOps("TYPE_TAG", 0, 0, **{**_modifier, "decode": codec.type_tag_decode}),
    BtfKind.BTF_KIND_ENUM64: BtfKindOps(
        "ENUM64", 0, 12, codec.enum64_decode, codec.enum64_encode, check.enum64_check_meta, None,
        check.enum_check_member, check.enum_check_kflag_member, check.enum_log,
        dump_raw.enum_dump),
}

# The same registry as a list indexed by kind number (hot paths: parsing, dumping); None for
# BTF_KIND_UNKN and numbers past BTF_KIND_MAX.
KIND_OPS: list[BtfKindOps | None] = [kind_ops.get(k) for k in range(32)]


def btf_kind_str(kind: int) -> str:
    """btf_kind_str[]: the kind's name; "UNKNOWN" for 0 and for numbers past the last kind."""
    ops = KIND_OPS[kind & 0x1F] if 0 <= kind < 32 else None
    return ops.kind_str if ops else "UNKNOWN"
