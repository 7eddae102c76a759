"""Hostile input: mutated, truncated and random blobs end in a BtfError (never IndexError,
struct.error, RecursionError or a hang), in parsing, checking and dumping."""

import errno

from hypothesis import HealthCheck, given, settings, strategies as st

from btf import Btf, BtfError, btf_check, btf_distill_func_proto
from btf.builder import BtfBuilder
from btf.dump_c import btf_dump_c
from btf.dump_raw import btf_dump_raw
from btf.uapi import BTF_INT_SIGNED, BtfKind


def every_kind_blob() -> bytes:
    b = BtfBuilder()
    i = b.add_int("int", 4, BTF_INT_SIGNED)
    p = b.add_ptr(i)
    a = b.add_array(i, i, 4)
    s = b.add_struct("s", 24)
    b.add_field("a", i, 0)
    b.add_field("b", i, 32, 3)
    b.add_field("arr", a, 64)
    u = b.add_union("u", 8)
    b.add_field("x", p, 0)
    e = b.add_enum("e")
    b.add_enum_value("E1", 1)
    b.add_fwd("f", "union")
    td = b.add_typedef("t", s)
    b.add_volatile(td)
    c = b.add_const(i)
    b.add_restrict(p)
    fp = b.add_func_proto(i)
    b.add_func_param("x", c)
    b.add_func_param(None, 0)
    fn = b.add_func("fn", fp)
    v = b.add_var("v", i)
    d = b.add_datasec(".data", 4)
    b.add_datasec_var_info(v, 0, 4)
    b.add_float("double", 8)
    b.add_decl_tag("tag", fn)
    b.add_type_tag("user", s)
    e64 = b.add_enum64("e64", signed=True)
    b.add_enum_value("NEG", -5)
    _ = (u, e, d, e64)
    return b.to_bytes()


BLOB = every_kind_blob()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def exercise(data: bytes) -> None:
    try:
        btf_check(data, 1)
    except BtfError as e:
        assert isinstance(e.errno, int) and e.message
    try:
        btf = Btf.parse(data)
    except BtfError as e:
        assert e.errno in (errno.EINVAL, errno.E2BIG, 524)
        return
    try:
        btf_dump_raw(btf)
        btf_dump_c(btf)
        for tid in btf.type_ids():
            if btf.kind_of(tid) == BtfKind.BTF_KIND_FUNC:
                try:
                    btf_distill_func_proto(btf, tid)
                except BtfError:
                    pass
            try:
                btf.resolve_size(tid)
            except BtfError:
                pass
            try:
                btf.alignment(tid)
            except BtfError:
                pass
        btf.to_bytes()
    except BtfError:
        pass


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(BLOB) - 1), st.integers(0, 7)), min_size=1, max_size=6))
def test_bit_flips(flips):
    data = bytearray(BLOB)
    for i, bit in flips:
        data[i] ^= 1 << bit
    exercise(bytes(data))


@FUZZ
@given(st.integers(0, len(BLOB)))
def test_truncations(n):
    exercise(BLOB[:n])


@FUZZ
@given(st.integers(0, 5), st.integers(0, 2 ** 32 - 1))
def test_header_fields(field, value):
    data = bytearray(BLOB)
    off = 8 + 4 * field if field < 5 else 4
    data[off:off + 4] = value.to_bytes(4, "little")
    exercise(bytes(data))


@FUZZ
@given(st.binary(min_size=0, max_size=200))
def test_random_type_section(junk):
    strings = b"\0a\0b\0"
    hdr = (0xEB9F).to_bytes(2, "little") + b"\1\0" + (24).to_bytes(4, "little")
    hdr += (0).to_bytes(4, "little") + len(junk).to_bytes(4, "little")
    hdr += len(junk).to_bytes(4, "little") + len(strings).to_bytes(4, "little")
    exercise(hdr + junk + strings)


def test_self_referential_chains():
    """Cycles the resolve pass must catch and the lenient helpers must not loop on."""
    b = BtfBuilder()
    b.add_int("int", 4)
    b.add_const(3)          # 2 -> 3 -> 2
    b.add_volatile(2)
    s = b.add_struct("s", 8)
    b.add_field("me", s, 0)
    b.add_typedef("t", 6)   # 5 -> 6 -> 5
    b.add_typedef("u", 5)
    data = b.to_bytes()
    exercise(data)
    btf = Btf.parse(data)
    for tid in btf.type_ids():
        for fn in (btf.resolve_size, btf.alignment, btf.skip_modifiers):
            try:
                fn(tid)
            except BtfError:
                pass


def test_vmlinux_slices(vmlinux_bytes):
    """Headers pointing into slices of the real type section."""
    import random
    rnd = random.Random(7)
    hdr_len = 24
    type_len = int.from_bytes(vmlinux_bytes[12:16], "little")
    types = vmlinux_bytes[hdr_len:hdr_len + type_len]
    strings = vmlinux_bytes[hdr_len + type_len:]
    for _ in range(30):
        start = rnd.randrange(0, len(types) // 4) * 4
        end = min(len(types), start + rnd.randrange(4, 4000))
        sl = types[start:end]
        strs = strings[:rnd.randrange(1, 5000)] + b"\0"
        hdr = (0xEB9F).to_bytes(2, "little") + b"\1\0" + (24).to_bytes(4, "little")
        hdr += (0).to_bytes(4, "little") + len(sl).to_bytes(4, "little")
        hdr += len(sl).to_bytes(4, "little") + len(strs).to_bytes(4, "little")
        exercise(hdr + sl + strs)
