"""Btf.parse and the object model: lookups, sizes, alignment, members, split BTF."""

import errno
import time

import pytest

from btf import Btf, BtfError, BtfKind, btf_parse
from btf.builder import BtfBuilder
from btf.types import BtfInt, BtfStruct, BtfVoid
from btf.uapi import BTF_INT_SIGNED, btf_info_enc


def small() -> Btf:
    b = BtfBuilder()
    i = b.add_int("int", 4, BTF_INT_SIGNED)                  # 1
    u8 = b.add_int("unsigned char", 1)                       # 2
    td = b.add_typedef("u8", u8)                             # 3
    c = b.add_const(td)                                      # 4
    s = b.add_struct("s", 16)                                # 5
    b.add_field("a", i, 0)
    b.add_field("f", i, 32, 3)
    b.add_field("g", i, 35, 5)
    b.add_field("p", b.nr_types, 64)                         # the PTR added next
    b.add_ptr(s)                                             # 6
    b.add_array(c, i, 3)                                     # 7
    p = b.add_struct("pk", 5)                                # 8: packed
    b.add_field("c", u8, 0)
    b.add_field("i", i, 8)
    return b.to_btf()


def test_lookups():
    btf = small()
    assert btf.nr_types == 9 and len(btf) == 8
    assert isinstance(btf.type_by_id(0), BtfVoid)
    t = btf.type_by_id(1)
    assert isinstance(t, BtfInt) and t.name == "int" and t.size == 4 and t.is_signed
    assert btf.find_by_name_kind("s", BtfKind.BTF_KIND_STRUCT) == 5
    assert btf.find_all_by_name_kind("u8", BtfKind.BTF_KIND_TYPEDEF) == [3]
    assert btf.name_of(3) == "u8" and btf.name_of(4) == ""
    with pytest.raises(BtfError) as e:
        btf.find_by_name_kind("nope", BtfKind.BTF_KIND_STRUCT)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(BtfError) as e:
        btf.type_by_id(99)
    assert e.value.errno == errno.EINVAL


def test_sizes_alignment_modifiers():
    btf = small()
    assert btf.skip_mods_and_typedefs(4) == 2
    assert btf.skip_qualifiers(4) == 3
    assert btf.resolve_size(7) == 3 and btf.alignment(7) == 1
    assert btf.resolve_size(5) == 16 and btf.alignment(5) == 8
    assert btf.resolve_size(6) == 8
    assert btf.alignment(8) == 1          # int at byte 1: packed
    with pytest.raises(BtfError):
        btf.resolve_size(0)


def test_members_bitfields():
    btf = small()
    ms = list(btf.members(5))
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in ms] == [
        ("a", 0, 0), ("f", 32, 3), ("g", 35, 5), ("p", 64, 0)]
    st = btf.type_by_id(5)
    assert isinstance(st, BtfStruct) and st.kflag == 1 and st.members[1].offset == (3 << 24 | 32)


def test_int_bitfield_without_kflag():
    b = BtfBuilder()
    b.add_int("int", 4, BTF_INT_SIGNED)
    b.add_raw(b.add_str("int3"), btf_info_enc(1, 0, 0), 4, (3,))     # INT with nr_bits 3
    b.add_raw(b.add_str("s"), btf_info_enc(4, 0, 1), 4, (b.add_str("x"), 2, 4))
    btf = b.to_btf()
    (m,) = btf.members(3)
    assert (m.bit_offset, m.bitfield_size) == (4, 3)


def test_split_btf():
    base = small()
    b = BtfBuilder(base)
    s = b.add_struct("t", 8)
    b.add_field("x", 1, 0)                      # base's int
    b.add_ptr(5)                                # base's struct s
    b.add_typedef("u8", 2)                      # a name already in the base: not repeated
    split = b.to_btf()
    assert split.start_id == 9 and split.nr_types == 12 and s == 9
    assert split.type_by_id(1).name == "int"
    assert split.name_of(9) == "t" and split.name_of(11) == "u8"
    assert split.type_by_id(11).name_off < base.str_end
    assert split.find_all_by_name_kind("u8", BtfKind.BTF_KIND_TYPEDEF) == [3, 11]
    assert split.resolve_size(10) == 8 and list(split.type_ids()) == [9, 10, 11]


def test_vmlinux(vmlinux_bytes, vmlinux):
    t0 = time.perf_counter()
    btf = btf_parse(vmlinux_bytes)
    assert time.perf_counter() - t0 < 1.0
    assert btf.nr_types == 126566
    ts = vmlinux.find_by_name_kind("task_struct", BtfKind.BTF_KIND_STRUCT)
    assert vmlinux.resolve_size(ts) == vmlinux.type_by_id(ts).size and vmlinux.alignment(ts) >= 8
    skb = vmlinux.find_by_name_kind("sk_buff", BtfKind.BTF_KIND_STRUCT)
    names = [m.name for m in vmlinux.members(skb)]
    assert "len" in names and "" in names           # anonymous unions/structs
    f = vmlinux.find_by_name_kind("bpf_fentry_test1", BtfKind.BTF_KIND_FUNC)
    proto = vmlinux.type_by_id(vmlinux.type_by_id(f).type)
    assert proto.kind == BtfKind.BTF_KIND_FUNC_PROTO and len(proto.params) == 1


def test_structural_errors():
    good = BtfBuilder()
    good.add_int("int", 4)
    data = good.to_bytes()
    with pytest.raises(BtfError) as e:
        Btf.parse(data[:10])
    assert e.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        Btf.parse("not bytes")
