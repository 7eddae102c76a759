"""Encoding: parse then encode gives the same bytes; the builder's output; string dedup."""

import pytest

from btf import Btf, BtfError
from btf.builder import BtfBuilder
from btf.embedded import embedded_btf_bytes

from validate_cases import CASES


def test_vmlinux_round_trip(vmlinux_bytes):
    btf = Btf.parse(vmlinux_bytes)
    assert btf.to_bytes() == vmlinux_bytes


def test_embedded_round_trip():
    data = embedded_btf_bytes()
    assert Btf.parse(data).to_bytes() == data


@pytest.mark.parametrize("desc,make", [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_case_blobs_round_trip(desc, make):
    data = make()
    try:
        btf = Btf.parse(data)
    except BtfError:
        return
    assert btf.to_bytes() == data


def test_builder_dedups_strings():
    b = BtfBuilder()
    a = b.add_str("x")
    assert b.add_str("x") == a and b.add_str("") == 0
    b.add_int("int", 4)
    b.add_typedef("x", 1)
    b.add_typedef("x", 1)
    assert b.strings == b"\0x\0int\0"
    with pytest.raises(BtfError):
        b.add_str("a\0b")


def test_split_round_trip():
    base = BtfBuilder()
    base.add_int("int", 4)
    base_btf = base.to_btf()
    b = BtfBuilder(base_btf)
    b.add_ptr(1)
    b.add_typedef("int", 1)
    data = b.to_bytes()
    split = Btf.parse(data, base_btf)
    assert split.to_bytes() == data and split.strings == b""


def test_builder_errors():
    b = BtfBuilder()
    with pytest.raises(BtfError):
        b.add_field("x", 1, 0)          # no struct yet
    with pytest.raises(BtfError):
        b.add_int("i", 3)
    b.add_enum("e")
    with pytest.raises(BtfError):
        b.add_enum_value("BIG", 1 << 40)
