"""tnum arithmetic (kernel/bpf/tnum.c): worked examples and a soundness property (every concrete
result of an op on members of the inputs is a member of the result)."""

from hypothesis import given, settings, strategies as st

from kernelsim.verifier.tnum import (U64, Tnum, tnum_add, tnum_and, tnum_arshift, tnum_cast,
                                     tnum_const, tnum_in, tnum_intersect, tnum_is_aligned,
                                     tnum_lshift, tnum_mul, tnum_or, tnum_range, tnum_rshift,
                                     tnum_strn, tnum_sub, tnum_xor, tnum_unknown)


def test_worked_examples():
    byte = Tnum(0, 0xFF)
    assert tnum_or(byte, tnum_const(0x40)) == Tnum(0x40, 0xBF)
    assert tnum_add(Tnum(0x40, 0xBF), tnum_const(1)) == Tnum(0, 0x1FF)
    assert tnum_add(Tnum(0, 1), tnum_const(1)) == Tnum(0, 3)
    assert tnum_mul(byte, tnum_const(14)) == Tnum(0, 0xFFE)
    assert tnum_range(0, 255) == byte
    assert tnum_range(0, U64) == tnum_unknown
    assert tnum_strn(Tnum(0, 0xFF)) == "(0x0; 0xff)"
    assert tnum_cast(Tnum(0x1234, 0xFF0000), 1) == Tnum(0x34, 0)
    assert tnum_is_aligned(Tnum(8, 0x30), 8) and not tnum_is_aligned(Tnum(4, 0), 8)
    assert tnum_arshift(tnum_const(0x80000000), 4, 32) == tnum_const(0xF8000000)


def _member(t: Tnum, bits: int) -> int:
    return (t.value | (bits & t.mask)) & U64


tn = st.builds(lambda v, m: Tnum(v & ~m & U64, m), st.integers(0, U64), st.integers(0, U64))
u64 = st.integers(0, U64)


@settings(max_examples=300, deadline=None)
@given(tn, tn, u64, u64)
def test_ops_are_sound(a, b, x, y):
    va, vb = _member(a, x), _member(b, y)
    assert tnum_in(tnum_add(a, b), tnum_const(va + vb))
    assert tnum_in(tnum_sub(a, b), tnum_const(va - vb))
    assert tnum_in(tnum_and(a, b), tnum_const(va & vb))
    assert tnum_in(tnum_or(a, b), tnum_const(va | vb))
    assert tnum_in(tnum_xor(a, b), tnum_const(va ^ vb))
    assert tnum_in(tnum_mul(a, b), tnum_const(va * vb))
    s = y % 64
    assert tnum_in(tnum_lshift(a, s), tnum_const(va << s))
    assert tnum_in(tnum_rshift(a, s), tnum_const(va >> s))
    inter = tnum_intersect(a, tnum_const(va))
    assert tnum_in(inter, tnum_const(va))


@settings(max_examples=200, deadline=None)
@given(u64, u64)
def test_range_contains_bounds(lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    r = tnum_range(lo, hi)
    assert tnum_in(r, tnum_const(lo)) and tnum_in(r, tnum_const(hi))
