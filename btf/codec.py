"""Per-kind decoding and encoding of type records (the layouts of include/uapi/linux/btf.h).

``*_decode(btf, type_id, words, w)`` builds the model record of one type from the u32 words of the
type section, ``w`` being the word index of its ``struct btf_type``; the caller has already checked
that the record's words are present. ``*_encode(t)`` returns the record as a list of u32 words, from
the raw fields the record keeps, so decode then encode gives back the same bytes. Names are looked
up through ``btf.str_at`` (lenient: '' for an offset that does not resolve).
"""

from .types import (BtfArray, BtfConst, BtfDatasec, BtfDeclTag, BtfEnum, BtfEnum64, BtfEnumValue,
                    BtfFloat, BtfFunc, BtfFuncProto, BtfFwd, BtfInt, BtfMember, BtfParam, BtfPtr,
                    BtfRestrict, BtfStruct, BtfTypedef, BtfTypeTag, BtfUnion, BtfVar,
                    BtfVarSecinfo, BtfVolatile)


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _ref_decoder(cls):
    def decode(btf, tid, words, w):
        no = words[w]
        return cls(tid, no, btf.str_at(no), words[w + 1], words[w + 2])
    return decode


ptr_decode = _ref_decoder(BtfPtr)
typedef_decode = _ref_decoder(BtfTypedef)
volatile_decode = _ref_decoder(BtfVolatile)
const_decode = _ref_decoder(BtfConst)
restrict_decode = _ref_decoder(BtfRestrict)
type_tag_decode = _ref_decoder(BtfTypeTag)
fwd_decode = _ref_decoder(BtfFwd)
func_decode = _ref_decoder(BtfFunc)
float_decode = _ref_decoder(BtfFloat)


def plain_encode(t) -> list[int]:
    return [t.name_off, t.info, t.size_type]


def int_decode(btf, tid, words, w):
    no = words[w]
    return BtfInt(tid, no, btf.str_at(no), words[w + 1], words[w + 2], words[w + 3])


def int_encode(t) -> list[int]:
    return [t.name_off, t.info, t.size_type, t.int_data]


def array_decode(btf, tid, words, w):
    no = words[w]
    return BtfArray(tid, no, btf.str_at(no), words[w + 1], words[w + 2],
                    words[w + 3], words[w + 4], words[w + 5])


def array_encode(t) -> list[int]:
    return [t.name_off, t.info, t.size_type, t.elem_type, t.index_type, t.nelems]


def _composite_decoder(cls):
    def decode(btf, tid, words, w):
        no, info = words[w], words[w + 1]
        str_at = btf.str_at
        kflag = info >> 31
        members = []
        p = w + 3
        for _ in range(info & 0xFFFF):
            mno, mtype, moff = words[p], words[p + 1], words[p + 2]
            if kflag:
                members.append(BtfMember(mno, str_at(mno), mtype, moff, moff & 0xFFFFFF, moff >> 24))
            else:
                members.append(BtfMember(mno, str_at(mno), mtype, moff, moff, 0))
            p += 3
        return cls(tid, no, str_at(no), info, words[w + 2], tuple(members))
    return decode


struct_decode = _composite_decoder(BtfStruct)
union_decode = _composite_decoder(BtfUnion)


def composite_encode(t) -> list[int]:
    out = [t.name_off, t.info, t.size_type]
    for m in t.members:
        out += (m.name_off, m.type, m.offset)
    return out


def enum_decode(btf, tid, words, w):
    no, info = words[w], words[w + 1]
    str_at = btf.str_at
    signed = info >> 31
    values = []
    p = w + 3
    for _ in range(info & 0xFFFF):
        vno, val = words[p], words[p + 1]
        values.append(BtfEnumValue(vno, str_at(vno), _s32(val) if signed else val))
        p += 2
    return BtfEnum(tid, no, str_at(no), info, words[w + 2], tuple(values))


def enum_encode(t) -> list[int]:
    out = [t.name_off, t.info, t.size_type]
    for v in t.values:
        out += (v.name_off, v.val & 0xFFFFFFFF)
    return out


def enum64_decode(btf, tid, words, w):
    no, info = words[w], words[w + 1]
    str_at = btf.str_at
    signed = info >> 31
    values = []
    p = w + 3
    for _ in range(info & 0xFFFF):
        vno, val = words[p], words[p + 1] | (words[p + 2] << 32)
        if signed and val >> 63:
            val -= 1 << 64
        values.append(BtfEnumValue(vno, str_at(vno), val))
        p += 3
    return BtfEnum64(tid, no, str_at(no), info, words[w + 2], tuple(values))


def enum64_encode(t) -> list[int]:
    out = [t.name_off, t.info, t.size_type]
    for v in t.values:
        val = v.val & 0xFFFFFFFFFFFFFFFF
        out += (v.name_off, val & 0xFFFFFFFF, val >> 32)
    return out


def func_proto_decode(btf, tid, words, w):
    no, info = words[w], words[w + 1]
    str_at = btf.str_at
    params = []
    p = w + 3
    for _ in range(info & 0xFFFF):
        pno = words[p]
        params.append(BtfParam(pno, str_at(pno), words[p + 1]))
        p += 2
    return BtfFuncProto(tid, no, str_at(no), info, words[w + 2], tuple(params))


def func_proto_encode(t) -> list[int]:
    out = [t.name_off, t.info, t.size_type]
    for p in t.params:
        out += (p.name_off, p.type)
    return out


def var_decode(btf, tid, words, w):
    no = words[w]
    return BtfVar(tid, no, btf.str_at(no), words[w + 1], words[w + 2], words[w + 3])


def var_encode(t) -> list[int]:
    return [t.name_off, t.info, t.size_type, t.linkage]


def datasec_decode(btf, tid, words, w):
    no, info = words[w], words[w + 1]
    vs = []
    p = w + 3
    for _ in range(info & 0xFFFF):
        vs.append(BtfVarSecinfo(words[p], words[p + 1], words[p + 2]))
        p += 3
    return BtfDatasec(tid, no, btf.str_at(no), info, words[w + 2], tuple(vs))


def datasec_encode(t) -> list[int]:
    out = [t.name_off, t.info, t.size_type]
    for v in t.vars:
        out += (v.type, v.offset, v.size)
    return out


def decl_tag_decode(btf, tid, words, w):
    no = words[w]
    return BtfDeclTag(tid, no, btf.str_at(no), words[w + 1], words[w + 2], _s32(words[w + 3]))


def decl_tag_encode(t) -> list[int]:
    return [t.name_off, t.info, t.size_type, t.component_idx & 0xFFFFFFFF]
