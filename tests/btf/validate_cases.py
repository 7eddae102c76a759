"""Invalid (and a few valid) BTF blobs with the errno and complaint line BPF_BTF_LOAD gives for them.

Data, one case per entry, as tools/testing/selftests/bpf/prog_tests/btf.c keeps its raw_tests:
a description, a function that builds the blob, the errno (0: accepted) and the last log line.
The expectations were checked against the real kernel (6.18) by test_validate_realkernel.py.
"""

import errno
import struct

from btf.builder import BtfBuilder
from btf.errors import ENOTSUPP
from btf.uapi import btf_info_enc

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)


def _b():
    b = BtfBuilder()
    b.add_int("int", 4, 1)     # [1]
    return b


def _blob(build, **hdr):
    def make():
        b = _b()
        build(b)
        return b.to_bytes(**hdr)
    return make


def _raw(fn):
    return fn


def _hdr_only(**hdr):
    def make():
        b = _b()
        return b.to_bytes(**hdr)
    return make


CASES = []


def case(desc, make, err, line):
    CASES.append((desc, make, err, line))


def _trunc(n):
    return lambda: _b().to_bytes()[:n]


# -- header -----------------------------------------------------------------------------------
case("valid int", _blob(lambda b: None), 0, "[1] INT int size=4 bits_offset=0 nr_bits=32 encoding=SIGNED")
case("shorter than hdr_len field", _trunc(6), errno.EINVAL, "hdr_len not found")
case("shorter than hdr_len", lambda: _b().to_bytes(hdr_len=64)[:40], errno.EINVAL, "btf_header not found")
case("bad magic", _hdr_only(magic=0x1234), errno.EINVAL, "Invalid magic")
case("byte-swapped magic", _hdr_only(magic=0x9FEB), errno.EINVAL, "Invalid magic")
case("version 2", _hdr_only(version=2), ENOTSUPP, "Unsupported version")
case("flags", _hdr_only(flags=1), ENOTSUPP, "Unsupported flags")
case("non-zero extended header", lambda: (lambda d: d[:24] + b"\1" + d[25:])(
    _b().to_bytes(hdr_len=28)), errno.E2BIG, "Unsupported btf_header")
case("zero extended header is fine", lambda: _b().to_bytes(hdr_len=28), 0, "[1] INT int size=4 bits_offset=0 nr_bits=32 encoding=SIGNED")
case("header only", lambda: _b().to_bytes(type_len=0, str_off=0, str_len=0)[:24], errno.EINVAL, "No data")
case("str_off past the end", _hdr_only(str_off=1000), errno.EINVAL, "Invalid section offset")
case("gap between sections", lambda: (lambda d: d[:24 + 16] + b"\0\0\0\0" + d[24 + 16:])(
    _b().to_bytes(str_off=20)), errno.EINVAL, "Unsupported section found")
case("overlapping sections", _hdr_only(str_off=12, str_len=9), errno.EINVAL, "Section overlap found")
case("section too long", _hdr_only(str_len=100), errno.EINVAL, "Total section length too long")
case("trailing data", lambda: _b().to_bytes() + b"\0\0\0\0", errno.EINVAL, "Unsupported section found")
case("strings before types", lambda: (lambda d: d[:24] + d[40:] + d[24:40])(
    _b().to_bytes(type_off=5, str_off=0)), errno.EINVAL, "String section is not at the end")
case("string section without leading NUL", lambda: (lambda d: d[:-5] + b"xint\0")(_b().to_bytes()),
     errno.EINVAL, "Invalid string section")
case("string section not NUL-terminated", lambda: (lambda d: d[:-1] + b"x")(_b().to_bytes()),
     errno.EINVAL, "Invalid string section")
case("no types", lambda: BtfBuilder().to_bytes(), errno.EINVAL, "No type found")
case("unaligned type_off", lambda: (lambda d: d[:24] + d[-5:])(
    _b().to_bytes(type_off=5, type_len=0, str_off=0)), errno.EINVAL, "Unaligned type_off")

# -- the record walk --------------------------------------------------------------------------
case("truncated btf_type", lambda: (lambda d: d[:24 + 16] + d[24 + 16:])(
    _blob(lambda b: b.add_raw(0, btf_info_enc(PTR, 0, 0), 1))()[:24] +
    _blob(lambda b: b.add_raw(0, btf_info_enc(PTR, 0, 0), 1))()[24:24 + 24] +
    b"\0int\0"), errno.EINVAL, None)
case("invalid info bits", _blob(lambda b: b.add_raw(0, btf_info_enc(PTR, 0, 0) | 0x10000, 1)),
     errno.EINVAL, "[2] Invalid btf_info:2010000")
case("kind 0", _blob(lambda b: b.add_raw(0, 0, 1)), errno.EINVAL, "[2] Invalid kind:0")
case("kind 20", _blob(lambda b: b.add_raw(0, 20 << 24, 1)), errno.EINVAL, "[2] Invalid kind:20")
case("bad name offset", _blob(lambda b: b.add_raw(99, btf_info_enc(INT, 0, 0), 4, (32,))),
     errno.EINVAL, "[2] Invalid name_offset:99")
case("struct members truncated", _blob(lambda b: b.add_raw(0, btf_info_enc(STRUCT, 0, 3), 8, (0, 1, 0))),
     errno.EINVAL, "[2] STRUCT (anon) meta_left:12 meta_needed:36")

# -- INT ---------------------------------------------------------------------------------------
case("int vlen", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 0, 1), 4, (32,))), errno.EINVAL,
     "[2] INT int size=4 bits_offset=0 nr_bits=32 encoding=(none) vlen != 0")
case("int kflag", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 1, 0), 4, (32,))), errno.EINVAL,
     "[2] INT int size=4 bits_offset=0 nr_bits=32 encoding=(none) Invalid btf_info kind_flag")
case("int data bits", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 0, 0), 4, (0x10000020,))),
     errno.EINVAL, "[2] INT int Invalid int_data:10000020")
case("int nr_bits > 128", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 0, 0), 16, (129,))),
     errno.EINVAL, "[2] INT int size=16 bits_offset=0 nr_bits=129 encoding=(none) nr_bits exceeds 128")
case("int bits > size", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 0, 0), 4, (33,))),
     errno.EINVAL, "[2] INT int size=4 bits_offset=0 nr_bits=33 encoding=(none) nr_bits exceeds type_size")
case("int two encodings", _blob(lambda b: b.add_raw(1, btf_info_enc(INT, 0, 0), 4, (3 << 24 | 32,))),
     ENOTSUPP, "[2] INT int size=4 bits_offset=0 nr_bits=32 encoding=UNKN Unsupported encoding")

# -- reference kinds -----------------------------------------------------------------------------
case("named pointer", _blob(lambda b: b.add_raw(1, btf_info_enc(PTR, 0, 0), 1)), errno.EINVAL,
     "[2] PTR int type_id=1 Invalid name")
case("pointer kflag", _blob(lambda b: b.add_raw(0, btf_info_enc(PTR, 1, 0), 1)), errno.EINVAL,
     "[2] PTR (anon) type_id=1 Invalid btf_info kind_flag")
case("pointer vlen", _blob(lambda b: b.add_raw(0, btf_info_enc(CONST, 0, 2), 1)), errno.EINVAL,
     "[2] CONST (anon) type_id=1 vlen != 0")
case("pointer to a missing type", _blob(lambda b: b.add_ptr(7)), errno.EINVAL,
     "[2] PTR (anon) type_id=7 Invalid type_id")
case("type id past BTF_MAX_TYPE", _blob(lambda b: b.add_raw(0, btf_info_enc(PTR, 0, 0), 0x100000)),
     errno.EINVAL, "[2] PTR (anon) type_id=1048576 Invalid type_id")
case("anonymous typedef", _blob(lambda b: b.add_raw(0, btf_info_enc(TYPEDEF, 0, 0), 1)), errno.EINVAL,
     "[2] TYPEDEF (anon) type_id=1 Invalid name")
case("typedef with a bad identifier", _blob(lambda b: b.add_typedef("1x", 1)), errno.EINVAL,
     "[2] TYPEDEF 1x type_id=1 Invalid name")
case("typedef of void is fine", _blob(lambda b: b.add_typedef("v", 0)), 0,
     "[2] TYPEDEF v type_id=0")
case("const loop", _blob(lambda b: (b.add_const(3), b.add_volatile(2))), errno.EEXIST,
     "[2] CONST (anon) type_id=3 Loop detected")
case("pointer loop", _blob(lambda b: (b.add_ptr(3), b.add_const(2))), errno.EEXIST,
     "[2] PTR (anon) type_id=3 Loop detected")
case("self pointer", _blob(lambda b: b.add_ptr(2)), errno.EEXIST, "[2] PTR (anon) type_id=2 Loop detected")
case("modifier chain too deep", _blob(lambda b: [b.add_const(i + 3) for i in range(33)] + [b.add_const(1)]),
     errno.E2BIG, "[2] CONST (anon) type_id=3 Exceeded max resolving depth:32")
case("typedef of a var", _blob(lambda b: (b.add_typedef("t", 3), b.add_var("v", 1))), errno.EINVAL,
     "[2] TYPEDEF t type_id=3 Invalid type_id")
case("type tag after a modifier", _blob(lambda b: (b.add_const(3), b.add_type_tag("user", 1))),
     errno.EINVAL, "Type tags don't precede modifiers")
case("type tag first is fine", _blob(lambda b: (b.add_type_tag("user", 3), b.add_const(1))), 0,
     "[3] CONST (anon) type_id=1")
case("empty type tag", _blob(lambda b: b.add_raw(0, btf_info_enc(TYPE_TAG, 0, 0), 1)), errno.EINVAL,
     "[2] TYPE_TAG (anon) type_id=1 Invalid name")
case("type tag with kflag", _blob(lambda b: b.add_type_tag("attr", 1, kflag=1)), 0,
     "[2] TYPE_TAG attr type_id=1")

# -- ARRAY -------------------------------------------------------------------------------------
case("array ok", _blob(lambda b: b.add_array(1, 1, 4)), 0, "[2] ARRAY (anon) type_id=1 index_type_id=1 nr_elems=4")
case("named array", _blob(lambda b: b.add_raw(1, btf_info_enc(ARRAY, 0, 0), 0, (1, 1, 4))), errno.EINVAL,
     "[2] ARRAY int type_id=1 index_type_id=1 nr_elems=4 Invalid name")
case("array size", _blob(lambda b: b.add_raw(0, btf_info_enc(ARRAY, 0, 0), 4, (1, 1, 4))), errno.EINVAL,
     "[2] ARRAY (anon) type_id=1 index_type_id=1 nr_elems=4 size != 0")
case("array of void", _blob(lambda b: b.add_array(0, 1, 4)), errno.EINVAL,
     "[2] ARRAY (anon) type_id=0 index_type_id=1 nr_elems=4 Invalid elem")
case("array index void", _blob(lambda b: b.add_array(1, 0, 4)), errno.EINVAL,
     "[2] ARRAY (anon) type_id=1 index_type_id=0 nr_elems=4 Invalid index")
case("array index a pointer", _blob(lambda b: (b.add_array(1, 3, 4), b.add_ptr(1))), errno.EINVAL,
     "[2] ARRAY (anon) type_id=1 index_type_id=3 nr_elems=4 Invalid index")
case("array too big", _blob(lambda b: b.add_array(1, 1, 0x40000001)), errno.EINVAL,
     "[2] ARRAY (anon) type_id=1 index_type_id=1 nr_elems=1073741825 Array size overflows U32_MAX")
case("array of bitfield int", _blob(lambda b: (b.add_array(3, 1, 2), b.add_raw(1, btf_info_enc(INT, 0, 0), 4, (3,)))),
     errno.EINVAL, "[2] ARRAY (anon) type_id=3 index_type_id=1 nr_elems=2 Invalid array of int")

# -- STRUCT / UNION ----------------------------------------------------------------------------
def _struct(b, size, members, kflag=0, kind=STRUCT, name=None):
    extra = []
    for n, t, off in members:
        extra += (b.add_str(n) if n else 0, t, off)
    return b.add_raw(b.add_str(name) if name else 0, btf_info_enc(kind, kflag, len(members)), size, extra)


case("struct ok", _blob(lambda b: _struct(b, 8, [("a", 1, 0), ("b", 1, 32)], name="s")), 0, "\tb type_id=1 bits_offset=32")
case("struct bad name", _blob(lambda b: _struct(b, 8, [("a", 1, 0)], name="a-b")), errno.EINVAL,
     "[2] STRUCT a-b size=8 vlen=1 Invalid name")
case("member name offset", _blob(lambda b: b.add_raw(0, btf_info_enc(STRUCT, 0, 1), 4, (77, 1, 0))),
     errno.EINVAL, "\t(invalid-name-offset) type_id=1 bits_offset=0 Invalid member name_offset:77")
case("member of void", _blob(lambda b: _struct(b, 4, [("a", 0, 0)])), errno.EINVAL,
     "\ta type_id=0 bits_offset=0 Invalid type_id")
case("union member offset", _blob(lambda b: _struct(b, 8, [("a", 1, 0), ("b", 1, 32)], kind=UNION)),
     errno.EINVAL, "\tb type_id=1 bits_offset=32 Invalid member bits_offset")
case("members backwards", _blob(lambda b: _struct(b, 8, [("a", 1, 32), ("b", 1, 0)])), errno.EINVAL,
     "\tb type_id=1 bits_offset=0 Invalid member bits_offset")
case("member past the struct", _blob(lambda b: _struct(b, 4, [("a", 1, 64)])), errno.EINVAL,
     "\ta type_id=1 bits_offset=64 Member bits_offset exceeds its struct size")
case("member exceeds struct", _blob(lambda b: _struct(b, 6, [("a", 1, 0), ("b", 1, 32)])), errno.EINVAL,
     "\tb type_id=1 bits_offset=32 Member exceeds struct_size")
case("struct member not byte aligned", _blob(lambda b: (_struct(b, 16, [("a", 3, 4)]), _struct(b, 4, [("x", 1, 0)]))),
     errno.EINVAL, "\ta type_id=3 bits_offset=4 Member is not byte aligned")
case("member of a func proto", _blob(lambda b: (_struct(b, 8, [("a", 3, 0)]), b.add_func_proto(0))),
     errno.EINVAL, "\ta type_id=3 bits_offset=0 Invalid member")
case("member of a fwd", _blob(lambda b: (_struct(b, 8, [("a", 3, 0)]), b.add_fwd("f"))),
     errno.EINVAL, "\ta type_id=3 bits_offset=0 Invalid member")
case("struct embeds itself", _blob(lambda b: _struct(b, 8, [("a", 2, 0)])), errno.EEXIST,
     "[2] STRUCT (anon) size=8 vlen=1 Loop detected")
case("kflag bitfield ok", _blob(lambda b: _struct(b, 4, [("a", 1, 3 << 24 | 0), ("b", 1, 5 << 24 | 3)], kflag=1)),
     0, "\tb type_id=1 bitfield_size=5 bits_offset=3")
case("kflag bitfield too wide", _blob(lambda b: _struct(b, 8, [("a", 1, 33 << 24)], kflag=1)), errno.EINVAL,
     "\ta type_id=1 bitfield_size=33 bits_offset=0 Invalid member bitfield_size")
case("kflag pointer bitfield", _blob(lambda b: (_struct(b, 8, [("a", 3, 3 << 24)], kflag=1), b.add_ptr(1))),
     errno.EINVAL, "\ta type_id=3 bitfield_size=3 bits_offset=0 Invalid member bitfield_size")
case("kflag member unaligned", _blob(lambda b: _struct(b, 8, [("a", 1, 3)], kflag=1)), errno.EINVAL,
     "\ta type_id=1 bitfield_size=0 bits_offset=3 Invalid member offset")
case("kflag int not regular", _blob(lambda b: (_struct(b, 8, [("a", 3, 3 << 24)], kflag=1),
                                               b.add_raw(1, btf_info_enc(INT, 0, 0), 4, (5,)))),
     errno.EINVAL, "\ta type_id=3 bitfield_size=3 bits_offset=0 Invalid member base type")
case("enum bitfield too wide", _blob(lambda b: (_struct(b, 8, [("a", 3, 40 << 24)], kflag=1),
                                                b.add_enum("e"), b.add_enum_value("X", 1))),
     errno.EINVAL, "\ta type_id=3 bitfield_size=40 bits_offset=0 Invalid member bitfield_size")
case("float member misaligned", _blob(lambda b: (_struct(b, 16, [("a", 3, 32)]), b.add_float("double", 8))),
     errno.EINVAL, "\ta type_id=3 bits_offset=32 Member is not properly aligned")

# -- ENUM --------------------------------------------------------------------------------------
case("enum size 3", _blob(lambda b: b.add_enum("e", size=3)), errno.EINVAL, "[2] ENUM e size=3 vlen=0 Unexpected size")
case("enum value unnamed", _blob(lambda b: b.add_raw(0, btf_info_enc(ENUM, 0, 1), 4, (0, 5))), errno.EINVAL,
     "[2] ENUM (anon) size=4 vlen=0 Invalid name".replace("vlen=0", "vlen=1"))
case("enum value name offset", _blob(lambda b: b.add_raw(0, btf_info_enc(ENUM, 0, 1), 4, (99, 5))),
     errno.EINVAL, "Invalid name_offset:99")
case("enum64 size 16", _blob(lambda b: b.add_enum64("e", size=16)), errno.EINVAL, "[2] ENUM64 e size=16 vlen=0 Unexpected size")
case("signed enum ok", _blob(lambda b: (b.add_enum("e", signed=True), b.add_enum_value("M", -2))), 0, "\tM val=-2")

# -- FWD, FUNC, FUNC_PROTO -------------------------------------------------------------------
case("fwd with type", _blob(lambda b: b.add_raw(b.add_str("f"), btf_info_enc(FWD, 0, 0), 1)), errno.EINVAL,
     "[2] FWD f struct type != 0")
case("anonymous fwd", _blob(lambda b: b.add_raw(0, btf_info_enc(FWD, 1, 0), 0)), errno.EINVAL,
     "[2] FWD (anon) union Invalid name")
case("func proto named", _blob(lambda b: b.add_raw(1, btf_info_enc(FUNC_PROTO, 0, 0), 0)), errno.EINVAL,
     "[2] FUNC_PROTO int return=0 args=(void) Invalid name")
case("func extern", _blob(lambda b: (b.add_func_proto(1), b.add_func("f", 2, linkage=2))), errno.EINVAL,
     "[3] FUNC f type_id=2 Invalid func linkage")
case("func anonymous", _blob(lambda b: (b.add_func_proto(1), b.add_raw(0, btf_info_enc(FUNC, 0, 1), 2))),
     errno.EINVAL, "[3] FUNC (anon) type_id=2 Invalid name")
case("func of an int", _blob(lambda b: b.add_func("f", 1)), errno.EINVAL, "[2] FUNC f type_id=1 Invalid type_id")
case("func unnamed param", _blob(lambda b: (b.add_func_proto(1), b.add_func_param(None, 1), b.add_func("f", 2))),
     errno.EINVAL, "[3] FUNC f type_id=2 Invalid arg#1")
case("proto bad return", _blob(lambda b: (b.add_func_proto(3), b.add_fwd("x"))), errno.EINVAL,
     "[2] FUNC_PROTO (anon) return=3 args=(void) Invalid return type")
case("proto named vararg", _blob(lambda b: (b.add_func_proto(1), b.add_func_param("a", 1), b.add_func_param("x", 0))),
     errno.EINVAL, "[2] FUNC_PROTO (anon) return=1 args=(1 a, vararg) Invalid arg#2")
case("proto void param", _blob(lambda b: (b.add_func_proto(1), b.add_func_param("a", 0), b.add_func_param("b", 1))),
     errno.EINVAL, "[2] FUNC_PROTO (anon) return=1 args=(0 a, 1 b) Invalid arg#1")
case("proto vararg ok", _blob(lambda b: (b.add_func_proto(1), b.add_func_param("a", 1), b.add_func_param(None, 0))),
     0, "[2] FUNC_PROTO (anon) return=1 args=(1 a, vararg)")

# -- VAR, DATASEC, FLOAT, DECL_TAG ------------------------------------------------------------
case("var extern", _blob(lambda b: b.add_var("v", 1, linkage=2)), errno.EINVAL,
     "[2] VAR v type_id=1 linkage=2 Linkage not supported")
case("var of void", _blob(lambda b: b.add_var("v", 0)), errno.EINVAL, "[2] VAR v type_id=0 linkage=0 Invalid type_id")
case("var of fwd", _blob(lambda b: (b.add_var("v", 3), b.add_fwd("x"))), errno.EINVAL,
     "[2] VAR v type_id=3 linkage=0 Invalid type_id")
case("datasec size 0", _blob(lambda b: b.add_datasec(".data", 0)), errno.EINVAL, "[2] DATASEC .data size=0 vlen=0 size == 0")
case("datasec not a var", _blob(lambda b: (b.add_datasec(".data", 4), b.add_datasec_var_info(1, 0, 4))),
     errno.EINVAL, "\t type_id=1 offset=0 size=4 Not a VAR kind member")
case("datasec overlap", _blob(lambda b: (b.add_var("a", 1), b.add_var("b", 1), b.add_datasec(".data", 8),
                                         b.add_datasec_var_info(2, 0, 4), b.add_datasec_var_info(3, 2, 4))),
     errno.EINVAL, "\t type_id=3 offset=2 size=4 Invalid offset")
case("datasec var too small", _blob(lambda b: (b.add_var("a", 1), b.add_datasec(".data", 8),
                                               b.add_datasec_var_info(2, 0, 2))),
     errno.EINVAL, "\t type_id=2 offset=0 size=2 Invalid size")
case("datasec ok", _blob(lambda b: (b.add_var("a", 1), b.add_datasec(".data", 8), b.add_datasec_var_info(2, 4, 4))),
     0, "\t type_id=2 offset=4 size=4")
case("float size 3", _blob(lambda b: b.add_raw(b.add_str("f"), btf_info_enc(FLOAT, 0, 0), 3)), errno.EINVAL,
     "[2] FLOAT f size=3 Invalid type_size")
case("decl tag empty", _blob(lambda b: b.add_raw(0, btf_info_enc(DECL_TAG, 0, 0), 1, (0xFFFFFFFF,))),
     errno.EINVAL, "[2] DECL_TAG (anon) type=1 component_idx=-1 Invalid value")
case("decl tag on an int", _blob(lambda b: b.add_decl_tag("t", 1)), errno.EINVAL,
     "[2] DECL_TAG t type=1 component_idx=-1 Invalid type_id")
case("decl tag idx -2", _blob(lambda b: b.add_decl_tag("t", 1, -2)), errno.EINVAL,
     "[2] DECL_TAG t type=1 component_idx=-2 Invalid component_idx")
case("decl tag idx past members", _blob(lambda b: (_struct(b, 4, [("a", 1, 0)], name="s"), b.add_decl_tag("t", 2, 1))),
     errno.EINVAL, "[3] DECL_TAG t type=2 component_idx=1 Invalid component_idx")
case("decl tag on a member ok", _blob(lambda b: (_struct(b, 4, [("a", 1, 0)], name="s"), b.add_decl_tag("t", 2, 0))),
     0, "[3] DECL_TAG t type=2 component_idx=0")
case("decl tag kflag", _blob(lambda b: (_struct(b, 4, [("a", 1, 0)], name="s"), b.add_decl_tag("t", 2, -1, kflag=1))),
     0, "[3] DECL_TAG t type=2 component_idx=-1")
