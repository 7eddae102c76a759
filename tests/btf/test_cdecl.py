"""btf_from_c: C declarations -> BTF, over the kernel's BTF or alone."""

import pytest

from btf import BtfError, BtfKind, btf_check, btf_distill_func_proto, btf_from_c
from btf.dump_raw import btf_dump_raw
from btf.embedded import embedded_btf

SRC = """
/* a comment */
struct my_pair { __u32 lo; int hi : 3; unsigned int x:5; struct sk_buff *skb; const char *name; u64 arr[4]; };
union u { int a; char b[3]; };
enum flags { F_A = 1, F_B = F_A << 2, F_NEG = -1 };
enum wide { W = 0x100000000 };
struct __attribute__((packed)) pk { char c; int i; };
typedef struct my_pair my_pair_t;
int my_func(struct sk_buff *skb, my_pair_t *p, size_t len);   // a kernel function of our own
void vf(const char *fmt, ...);
struct outer { struct { int a; int b; }; union { long l; char c; } u2; struct later *next; };
struct later { int x; };
struct by_value { long a; long b; };
long takes_struct(struct by_value v, unsigned char c);
"""


@pytest.fixture(scope="module")
def kbtf():
    return embedded_btf()


def test_over_base(kbtf):
    btf = btf_from_c(SRC, kbtf)
    assert btf.start_id == kbtf.nr_types
    skb = kbtf.find_by_name_kind("sk_buff", BtfKind.BTF_KIND_STRUCT)
    s = btf.type_by_id(btf.find_by_name_kind("my_pair", BtfKind.BTF_KIND_STRUCT))
    assert s.size == 56
    ms = {m.name: m for m in btf.members(s.id)}
    assert (ms["hi"].bit_offset, ms["hi"].bitfield_size) == (32, 3)
    assert (ms["x"].bit_offset, ms["x"].bitfield_size) == (35, 5)
    assert btf.type_by_id(ms["skb"].type).type == skb
    assert btf.type_by_id(ms["lo"].type).name == "__u32" and ms["lo"].type < btf.start_id
    assert ms["arr"].bit_offset == 192 and btf.resolve_size(ms["arr"].type) == 32
    pk = btf.find_by_name_kind("pk", BtfKind.BTF_KIND_STRUCT)
    assert btf.type_by_id(pk).size == 5 and [m.bit_offset for m in btf.members(pk)] == [0, 8]
    e = btf.type_by_id(btf.find_by_name_kind("flags", BtfKind.BTF_KIND_ENUM))
    assert [(v.name, v.val) for v in e.values] == [("F_A", 1), ("F_B", 4), ("F_NEG", -1)] and e.kflag
    assert btf.find_by_name_kind("wide", BtfKind.BTF_KIND_ENUM64)
    later = btf.find_by_name_kind("later", BtfKind.BTF_KIND_STRUCT)
    outer = btf.find_by_name_kind("outer", BtfKind.BTF_KIND_STRUCT)
    nxt = [m for m in btf.members(outer) if m.name == "next"][0]
    assert btf.type_by_id(nxt.type).type == later
    assert [m.name for m in btf.members(outer)][0] == ""
    f = btf.find_by_name_kind("my_func", BtfKind.BTF_KIND_FUNC)
    assert btf.type_by_id(f).linkage == 1
    m = btf_distill_func_proto(btf, f)
    assert (m.nr_args, m.arg_size, m.ret_size) == (3, (8, 8, 8), 4)
    m = btf_distill_func_proto(btf, btf.find_by_name_kind("takes_struct", BtfKind.BTF_KIND_FUNC))
    assert m.arg_size == (16, 1) and m.arg_flags == (1, 0)
    with pytest.raises(BtfError):
        btf_distill_func_proto(btf, btf.find_by_name_kind("vf", BtfKind.BTF_KIND_FUNC))
    btf_check(btf.to_bytes(), 1, base=kbtf)


def test_without_base():
    btf = btf_from_c("struct a { struct b *p; unsigned long x; };\nint f(struct a *);")
    text = btf_dump_raw(btf)
    assert "FWD 'b' fwd_kind=struct" in text and "INT 'long unsigned int' size=8" in text
    btf_check(btf.to_bytes(), 1)


@pytest.mark.parametrize("src,line,what", [
    ("struct x { int a; };\nstruct y { foo_t b; };", 2, "unknown type name 'foo_t'"),
    ("struct x { int a; \n int b c; };", 2, "before: c"),
    ("int f(void);\n\nstruct q { struct nope n; };", 3, "incomplete type struct nope"),
    ("struct r { int a; };\nstruct r { int b; };", 2, "redefinition of struct r"),
    ("int x;", 1, "variable declarations are not supported"),
])
def test_errors_name_the_line(src, line, what):
    with pytest.raises(BtfError) as e:
        btf_from_c(src)
    assert e.value.message.startswith(f"<source>:{line}: ") and what in e.value.message


def test_preprocessor_refused():
    with pytest.raises(BtfError):
        btf_from_c("#include <linux/types.h>\nint f(void);")


def test_btf_with_c_is_one_flat_btf_over_the_same_ids(kbtf):
    from btf.cdecl import btf_with_c
    flat = btf_with_c(kbtf, "struct demo { int q; struct sk_buff *skb; };\n"
                            "int demo_fn(struct demo *d, unsigned long n);\n")
    assert flat.start_id == 1 and flat.base is None                    # not split
    assert flat.nr_types == kbtf.nr_types + 5                          # struct, 2 ptrs, proto, func
    skb = kbtf.find_by_name_kind("sk_buff", BtfKind.BTF_KIND_STRUCT)
    assert flat.find_by_name_kind("sk_buff", BtfKind.BTF_KIND_STRUCT) == skb
    base_dump = btf_dump_raw(kbtf)
    assert btf_dump_raw(flat).startswith(base_dump)                    # every base type unchanged
    fid = flat.find_by_name_kind("demo_fn", BtfKind.BTF_KIND_FUNC)
    assert fid > kbtf.nr_types - 1
    assert btf_distill_func_proto(flat, fid, "6.18", "demo_fn").arg_size == (8, 8)
    assert btf_check(flat.to_bytes())[0] is not None                   # what BTF_LOAD accepts
    with pytest.raises(BtfError, match=r"x:2: unknown type name 'nope_t'"):
        btf_with_c(kbtf, "struct a { int b; };\nint f(nope_t x);\n", "x")
