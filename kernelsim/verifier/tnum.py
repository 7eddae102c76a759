"""Tristate numbers: the verifier's bit-level knowledge of a value (kernel/bpf/tnum.c).

A tnum is ``(value; mask)``: a bit set in ``mask`` is unknown, otherwise the bit is known and
equals that bit of ``value`` (a known bit is never set in both). ``(0x0; 0xff)`` is "some byte",
``(0x40; 0xbf)`` is "some byte with bit 6 set"; a constant has mask 0.

Worked example (tnum_add): ``(0x0; 0x1) + (0x1; 0x0)``: sv = 1, sm = 1, sigma = 2, chi = 2 ^ 1 = 3,
mu = 3 | 1 | 0 = 3, result ``(1 & ~3; 3) = (0x0; 0x3)``: 1 or 2, and the carry makes bit 1 unknown.

All values are unsigned 64-bit Python ints. Tnums are immutable tuples ``(value, mask)`` built with
``Tnum(value, mask)``; the functions keep the kernel's names.
"""

from typing import NamedTuple

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class Tnum(NamedTuple):
    """struct tnum."""
    value: int
    mask: int


tnum_unknown = Tnum(0, U64)
TNUM_ZERO = Tnum(0, 0)


def tnum_const(value: int) -> Tnum:
    return Tnum(value & U64, 0)


def tnum_range(lo: int, hi: int) -> Tnum:
    """The smallest tnum holding every u64 in [lo, hi]."""
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return tnum_unknown
    delta = (1 << bits) - 1
    return Tnum(lo & ~delta & U64, delta)


def tnum_lshift(a: Tnum, shift: int) -> Tnum:
    return Tnum((a.value << shift) & U64, (a.mask << shift) & U64)


def tnum_rshift(a: Tnum, shift: int) -> Tnum:
    return Tnum(a.value >> shift, a.mask >> shift)


def _s64(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def tnum_arshift(a: Tnum, min_shift: int, insn_bitness: int) -> Tnum:
    """Arithmetic right shift; for 32-bit ALU the sign is bit 31 and the result is 32-bit."""
    if insn_bitness == 32:
        return Tnum((_s32(a.value) >> min_shift) & U32, (_s32(a.mask) >> min_shift) & U32)
    return Tnum((_s64(a.value) >> min_shift) & U64, (_s64(a.mask) >> min_shift) & U64)


def tnum_add(a: Tnum, b: Tnum) -> Tnum:
    sm = (a.mask + b.mask) & U64
    sv = (a.value + b.value) & U64
    sigma = (sm + sv) & U64
    chi = sigma ^ sv
    mu = chi | a.mask | b.mask
    return Tnum(sv & ~mu & U64, mu)


def tnum_sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & U64
    alpha = (dv + a.mask) & U64
    beta = (dv - b.mask) & U64
    chi = alpha ^ beta
    mu = chi | a.mask | b.mask
    return Tnum(dv & ~mu & U64, mu)


def tnum_neg(a: Tnum) -> Tnum:
    return tnum_sub(TNUM_ZERO, a)


def tnum_and(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    v = a.value & b.value
    return Tnum(v, alpha & beta & ~v & U64)


def tnum_or(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask | b.mask
    return Tnum(v, mu & ~v & U64)


def tnum_xor(a: Tnum, b: Tnum) -> Tnum:
    v = a.value ^ b.value
    mu = a.mask | b.mask
    return Tnum(v & ~mu & U64, mu)


def tnum_mul(a: Tnum, b: Tnum) -> Tnum:
    """Half-multiply-add (tnum.c, since 5.11 / reworked 6.x)."""
    acc_v = (a.value * b.value) & U64
    acc_m = TNUM_ZERO
    while a.value or a.mask:
        if a.value & 1:
            acc_m = tnum_add(acc_m, Tnum(0, b.mask))
        elif a.mask & 1:
            acc_m = tnum_add(acc_m, Tnum(0, b.value | b.mask))
        a = tnum_rshift(a, 1)
        b = tnum_lshift(b, 1)
    return tnum_add(Tnum(acc_v, 0), acc_m)


def tnum_intersect(a: Tnum, b: Tnum) -> Tnum:
    """Knowledge from both: a value known to be in a and in b."""
    v = a.value | b.value
    mu = a.mask & b.mask
    return Tnum(v & ~mu & U64, mu)


def tnum_union(a: Tnum, b: Tnum) -> Tnum:
    """A tnum holding every value of a and of b."""
    v = a.value & b.value
    mu = (a.value ^ b.value) | a.mask | b.mask
    return Tnum(v & ~mu & U64, mu)


def tnum_cast(a: Tnum, size: int) -> Tnum:
    m = (1 << (size * 8)) - 1
    return Tnum(a.value & m, a.mask & m)


def tnum_is_aligned(a: Tnum, size: int) -> bool:
    if not size:
        return True
    return not ((a.value | a.mask) & (size - 1))


def tnum_in(a: Tnum, b: Tnum) -> bool:
    """Is every value of b also a value of a?"""
    if b.mask & ~a.mask & U64:
        return False
    return a.value == (b.value & ~a.mask & U64)


def tnum_is_const(a: Tnum) -> bool:
    return not a.mask


def tnum_equals_const(a: Tnum, b: int) -> bool:
    return not a.mask and a.value == b


def tnum_is_unknown(a: Tnum) -> bool:
    return a.mask == U64


def tnum_strn(a: Tnum) -> str:
    """"(%#llx; %#llx)" -- the kernel's vsnprintf prints %#llx of 0 as "0x0"."""
    return f"(0x{a.value:x}; 0x{a.mask:x})"


def tnum_sbin(a: Tnum) -> str:
    out = []
    for i in range(63, -1, -1):
        bit = 1 << i
        out.append("x" if a.mask & bit else ("1" if a.value & bit else "0"))
    return "".join(out)


def tnum_subreg(a: Tnum) -> Tnum:
    return tnum_cast(a, 4)


def tnum_clear_subreg(a: Tnum) -> Tnum:
    return tnum_lshift(tnum_rshift(a, 32), 32)


def tnum_with_subreg(reg: Tnum, subreg: Tnum) -> Tnum:
    return tnum_or(tnum_clear_subreg(reg), tnum_subreg(subreg))


def tnum_const_subreg(a: Tnum, value: int) -> Tnum:
    return tnum_with_subreg(a, tnum_const(value & U32))


def tnum_subreg_is_const(a: Tnum) -> bool:
    return not (a.mask & U32)

