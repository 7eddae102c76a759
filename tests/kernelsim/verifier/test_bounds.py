"""Scalar range tracking (reg_state.py, scalar.py, branches.py): worked examples and a soundness
property of the ALU transfer functions and of branch refinement."""

from hypothesis import given, settings, strategies as st

from kernelsim.verifier.branches import is_branch_taken, reg_set_min_max
from kernelsim.verifier.reg_state import (SCALAR_VALUE, BpfRegState, __mark_reg_known,
                                          __mark_reg_unknown, reg_bounds_sync)
from kernelsim.verifier.scalar import adjust_scalar_min_max_vals
from kernelsim.verifier.tnum import U32, U64, Tnum, tnum_in, tnum_const


def scalar(lo: int, hi: int, var_off: Tnum | None = None) -> BpfRegState:
    r = BpfRegState()
    __mark_reg_unknown(r)
    r.umin, r.umax = lo, hi
    if var_off is not None:
        r.var_off = var_off
    reg_bounds_sync(r)
    return r


def const(v: int) -> BpfRegState:
    r = BpfRegState()
    r.type = SCALAR_VALUE
    __mark_reg_known(r, v)
    return r


def test_byte_times_14():
    r = scalar(0, 255, Tnum(0, 0xFF))
    adjust_scalar_min_max_vals(r, const(14), 0x20, False)
    assert (r.umin, r.umax) == (0, 3570)
    assert r.var_off == Tnum(0, 0xFFE)


def test_and_bounds():
    r = scalar(0, U64)
    adjust_scalar_min_max_vals(r, const(0xFFF), 0x50, False)
    assert (r.smin, r.smax, r.umax, r.u32_max) == (0, 4095, 4095, 4095)


def test_jgt_refines_both_branches():
    t1, f1 = scalar(0, 100), scalar(0, 100)
    t2, f2 = const(10), const(10)
    assert is_branch_taken(f1, f2, 0x20, False) == -1
    reg_set_min_max(t1, t2, f1, f2, 0x20, False)
    assert (t1.umin, t1.umax) == (11, 100) and (f1.umin, f1.umax) == (0, 10)
    assert is_branch_taken(scalar(11, 20), const(10), 0x20, False) == 1


def _member(r: BpfRegState, x: int) -> int | None:
    """Some value of r's set, or None if x maps to nothing consistent."""
    v = (r.var_off.value | (x & r.var_off.mask)) & U64
    s = v - (1 << 64) if v >> 63 else v
    v32 = v & U32
    s32 = v32 - (1 << 32) if v32 >> 31 else v32
    if r.umin <= v <= r.umax and r.smin <= s <= r.smax and r.u32_min <= v32 <= r.u32_max \
            and r.s32_min <= s32 <= r.s32_max:
        return v
    return None


def _contains(r: BpfRegState, v: int) -> bool:
    v &= U64
    s = v - (1 << 64) if v >> 63 else v
    v32 = v & U32
    s32 = v32 - (1 << 32) if v32 >> 31 else v32
    return (tnum_in(r.var_off, tnum_const(v)) and r.umin <= v <= r.umax and r.smin <= s <= r.smax
            and r.u32_min <= v32 <= r.u32_max and r.s32_min <= s32 <= r.s32_max)


def _apply(op: int, a: int, b: int, alu32: bool) -> int:
    m = U32 if alu32 else U64
    a, b = a & m, b & m
    bits = 32 if alu32 else 64
    sa = a - (1 << bits) if a >> (bits - 1) else a
    res = {0x00: a + b, 0x10: a - b, 0x20: a * b, 0x40: a | b, 0x50: a & b, 0xA0: a ^ b,
           0x60: a << (b % bits), 0x70: a >> (b % bits), 0xC0: sa >> (b % bits)}[op]
    return res & m


ranges = st.tuples(st.integers(0, U64), st.integers(0, U64)).map(sorted)


@settings(max_examples=400, deadline=None)
@given(ranges, ranges, st.integers(0, U64), st.integers(0, U64),
       st.sampled_from([0x00, 0x10, 0x20, 0x40, 0x50, 0xA0, 0x60, 0x70, 0xC0]), st.booleans())
def test_alu_transfer_is_sound(ra, rb, xa, xb, op, alu32):
    a, b = scalar(*ra), scalar(*rb)
    if op in (0x60, 0x70, 0xC0):
        b = const(xb % (32 if alu32 else 64))
    va, vb = _member(a, xa), _member(b, xb)
    if va is None or vb is None:
        return
    res = a.copy()
    adjust_scalar_min_max_vals(res, b.copy(), op, alu32)
    assert _contains(res, _apply(op, va, vb, alu32)), (ra, rb, va, vb, op, alu32, res)


@settings(max_examples=300, deadline=None)
@given(ranges, st.integers(0, U64), st.integers(0, 300),
       st.sampled_from([0x10, 0x20, 0x30, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0, 0x40]),
       st.booleans())
def test_branch_refinement_is_sound(ra, xa, k, op, jmp32):
    a = scalar(*ra)
    va = _member(a, xa)
    if va is None:
        return
    t1, f1, t2, f2 = a.copy(), a.copy(), const(k), const(k)
    reg_set_min_max(t1, t2, f1, f2, op, jmp32)
    m = U32 if jmp32 else U64
    x, y = va & m, k & m
    bits = 32 if jmp32 else 64
    sx = x - (1 << bits) if x >> (bits - 1) else x
    taken = {0x10: x == y, 0x50: x != y, 0x20: x > y, 0x30: x >= y, 0xA0: x < y, 0xB0: x <= y,
             0x60: sx > y, 0x70: sx >= y, 0xC0: sx < y, 0xD0: sx <= y, 0x40: bool(x & y)}[op]
    pred = is_branch_taken(a, const(k), op, jmp32)
    assert pred == -1 or pred == int(taken)
    assert _contains(t1 if taken else f1, va)
