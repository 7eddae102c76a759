"""``bpftool btf dump file FILE format raw``: the text, byte for byte (tools/bpf/bpftool/btf.c
dump_btf_type, dump_btf_raw, as of bpftool v7.1).

One record per type, ids ascending (for split BTF from the first own id): ``[id] KIND 'name'``,
the kind's text, each member/param/value/variable on a continuation line that starts with a newline
and a TAB, then a newline. Names print as ``(anon)`` for offset 0 and ``(invalid)`` when the offset
does not resolve. The per-kind text is the ``dump_raw`` slot of btf/kinds.py.
"""

from typing import Iterator

_INT_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_FUNC_LINKAGE = ("static", "global", "extern")
_VAR_LINKAGE = ("static", "global", "extern")


def btf_str(btf, off: int) -> str:
    """bpftool's btf_str: "(anon)", the string, or "(invalid)"."""
    if not off:
        return "(anon)"
    s = btf.str_by_offset(off)
    return "(invalid)" if s is None else s


def int_dump(btf, t) -> str:
    return (f" size={t.size_type} bits_offset={t.bits_offset} nr_bits={t.nr_bits} "
            f"encoding={_INT_ENC.get(t.encoding, 'UNKN')}")


def ref_dump(btf, t) -> str:
    return f" type_id={t.size_type}"


def array_dump(btf, t) -> str:
    return f" type_id={t.elem_type} index_type_id={t.index_type} nr_elems={t.nelems}"


def composite_dump(btf, t) -> str:
    parts = [f" size={t.size_type} vlen={t.vlen}"]
    name = btf_str
    for m in t.members:
        if m.bitfield_size:
            parts.append(f"\n\t'{name(btf, m.name_off)}' type_id={m.type} bits_offset={m.bit_offset}"
                         f" bitfield_size={m.bitfield_size}")
        else:
            parts.append(f"\n\t'{name(btf, m.name_off)}' type_id={m.type} bits_offset={m.bit_offset}")
    return "".join(parts)


def enum_dump(btf, t) -> str:
    enc = "SIGNED" if t.kflag else "UNSIGNED"
    parts = [f" encoding={enc} size={t.size_type} vlen={t.vlen}"]
    suffix = "" if t.kind == 6 else ("LL" if t.kflag else "ULL")
    for v in t.values:
        parts.append(f"\n\t'{btf_str(btf, v.name_off)}' val={v.val}{suffix}")
    return "".join(parts)


def fwd_dump(btf, t) -> str:
    return " fwd_kind=union" if t.kflag else " fwd_kind=struct"


def func_dump(btf, t) -> str:
    linkage = t.vlen
    return (f" type_id={t.size_type} linkage="
            f"{_FUNC_LINKAGE[linkage] if linkage < 3 else '(unknown)'}")


def func_proto_dump(btf, t) -> str:
    parts = [f" ret_type_id={t.size_type} vlen={t.vlen}"]
    for p in t.params:
        parts.append(f"\n\t'{btf_str(btf, p.name_off)}' type_id={p.type}")
    return "".join(parts)


def var_dump(btf, t) -> str:
    linkage = t.linkage
    return f" type_id={t.size_type}, linkage={_VAR_LINKAGE[linkage] if linkage < 3 else '(unknown)'}"


def datasec_dump(btf, t) -> str:
    from .kinds import btf_kind_str
    parts = [f" size={t.size_type} vlen={t.vlen}"]
    n = btf.nr_types
    for v in t.vars:
        parts.append(f"\n\ttype_id={v.type} offset={v.offset} size={v.size}")
        if v.type < n:
            vt = btf.type_by_id(v.type)
            parts.append(f" ({btf_kind_str((vt.info >> 24) & 0x1F)} '{btf_str(btf, vt.name_off)}')")
    return "".join(parts)


def float_dump(btf, t) -> str:
    return f" size={t.size_type}"


def decl_tag_dump(btf, t) -> str:
    return f" type_id={t.size_type} component_idx={t.component_idx}"


def dump_btf_type(btf, type_id: int) -> str:
    """One record, without its final newline."""
    from .kinds import KIND_OPS
    t = btf.type_by_id(type_id)
    ops = KIND_OPS[(t.info >> 24) & 0x1F]
    return f"[{type_id}] {ops.kind_str} '{btf_str(btf, t.name_off)}'{ops.dump_raw(btf, t)}"


def iter_dump_raw(btf) -> Iterator[str]:
    """The raw dump as one string per type, each ending in a newline."""
    from .kinds import KIND_OPS
    name = btf_str
    type_by_id = btf.type_by_id
    for tid in btf.type_ids():
        t = type_by_id(tid)
        ops = KIND_OPS[(t.info >> 24) & 0x1F]
        yield f"[{tid}] {ops.kind_str} '{name(btf, t.name_off)}'{ops.dump_raw(btf, t)}\n"


def btf_dump_raw(btf) -> str:
    """The whole ``format raw`` text of ``btf`` (own types only for split BTF, as bpftool)."""
    return "".join(iter_dump_raw(btf))
