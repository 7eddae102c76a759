"""Scalar ALU range tracking: adjust_scalar_min_max_vals and the scalar*_min_max_* family
(kernel/bpf/verifier.c, 6.18).

Each op updates the tnum and the four ranges of the destination from the source's, then
``reg_bounds_sync`` lets them refine each other. An op whose result range the kernel does not
compute (DIV, MOD, END, shifts by a non-constant or too-large amount) gives an unknown scalar
(``is_safe_to_compute_dst_reg_range``). 32-bit ops are computed on the 32-bit bounds and
zero-extended into 64 bits.

Worked example: ``r1 = *(u8 *)(r2 +0); r1 *= 14`` -> r1 is (0x0; 0xff) umax 255; the multiply
gives umax 3570 and var_off (0x0; 0xfffe) (verifier.rst "Register value tracking").
"""

from .reg_state import (S32_MAX, S32_MIN, S64_MAX, S64_MIN, SCALAR_VALUE, BpfRegState,
                        __mark_reg32_known, __mark_reg32_unbounded, __mark_reg64_unbounded,
                        __mark_reg_known, __mark_reg_unknown, __update_reg32_bounds,
                        __update_reg_bounds, _s32, _s64, reg_bounds_sync, zext_32_to_64)
from .tnum import (U32, U64, tnum_add, tnum_and, tnum_arshift, tnum_is_const, tnum_lshift,
                   tnum_mul, tnum_neg, tnum_or, tnum_rshift, tnum_sub, tnum_subreg,
                   tnum_subreg_is_const, tnum_xor)

BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70)
BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0


def _add_ovf_s(a: int, b: int, lo: int, hi: int) -> tuple[bool, int]:
    r = a + b
    return (r < lo or r > hi), r


def _add_ovf_u(a: int, b: int, m: int) -> tuple[bool, int]:
    r = a + b
    return r > m, r & m


def _sub_ovf_u(a: int, b: int, m: int) -> tuple[bool, int]:
    r = a - b
    return r < 0, r & m


def scalar32_min_max_add(dst: BpfRegState, src: BpfRegState) -> None:
    o1, smin = _add_ovf_s(dst.s32_min, src.s32_min, S32_MIN, S32_MAX)
    o2, smax = _add_ovf_s(dst.s32_max, src.s32_max, S32_MIN, S32_MAX)
    if o1 or o2:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    else:
        dst.s32_min, dst.s32_max = smin, smax
    min_ovf, umin = _add_ovf_u(dst.u32_min, src.u32_min, U32)
    max_ovf, umax = _add_ovf_u(dst.u32_max, src.u32_max, U32)
    dst.u32_min, dst.u32_max = umin, umax
    if not min_ovf and max_ovf:
        dst.u32_min, dst.u32_max = 0, U32


def scalar_min_max_add(dst: BpfRegState, src: BpfRegState) -> None:
    o1, smin = _add_ovf_s(dst.smin, src.smin, S64_MIN, S64_MAX)
    o2, smax = _add_ovf_s(dst.smax, src.smax, S64_MIN, S64_MAX)
    if o1 or o2:
        dst.smin, dst.smax = S64_MIN, S64_MAX
    else:
        dst.smin, dst.smax = smin, smax
    min_ovf, umin = _add_ovf_u(dst.umin, src.umin, U64)
    max_ovf, umax = _add_ovf_u(dst.umax, src.umax, U64)
    dst.umin, dst.umax = umin, umax
    if not min_ovf and max_ovf:
        dst.umin, dst.umax = 0, U64


def scalar32_min_max_sub(dst: BpfRegState, src: BpfRegState) -> None:
    o1, smin = _add_ovf_s(dst.s32_min, -src.s32_max, S32_MIN, S32_MAX)
    o2, smax = _add_ovf_s(dst.s32_max, -src.s32_min, S32_MIN, S32_MAX)
    if o1 or o2:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    else:
        dst.s32_min, dst.s32_max = smin, smax
    umin_under, umin = _sub_ovf_u(dst.u32_min, src.u32_max, U32)
    umax_under, umax = _sub_ovf_u(dst.u32_max, src.u32_min, U32)
    dst.u32_min, dst.u32_max = umin, umax
    if umin_under and not umax_under:
        dst.u32_min, dst.u32_max = 0, U32


def scalar_min_max_sub(dst: BpfRegState, src: BpfRegState) -> None:
    o1, smin = _add_ovf_s(dst.smin, -src.smax, S64_MIN, S64_MAX)
    o2, smax = _add_ovf_s(dst.smax, -src.smin, S64_MIN, S64_MAX)
    if o1 or o2:
        dst.smin, dst.smax = S64_MIN, S64_MAX
    else:
        dst.smin, dst.smax = smin, smax
    umin_under, umin = _sub_ovf_u(dst.umin, src.umax, U64)
    umax_under, umax = _sub_ovf_u(dst.umax, src.umin, U64)
    dst.umin, dst.umax = umin, umax
    if umin_under and not umax_under:
        dst.umin, dst.umax = 0, U64


def scalar32_min_max_mul(dst: BpfRegState, src: BpfRegState) -> None:
    umax = dst.u32_max * src.u32_max
    umin = dst.u32_min * src.u32_min
    if umax > U32 or umin > U32:
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min, dst.u32_max = umin, umax
    prods = [dst.s32_min * src.s32_min, dst.s32_min * src.s32_max,
             dst.s32_max * src.s32_min, dst.s32_max * src.s32_max]
    if any(p < S32_MIN or p > S32_MAX for p in prods):
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    else:
        dst.s32_min, dst.s32_max = min(prods), max(prods)


def scalar_min_max_mul(dst: BpfRegState, src: BpfRegState) -> None:
    umax = dst.umax * src.umax
    umin = dst.umin * src.umin
    if umax > U64 or umin > U64:
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin, dst.umax = umin, umax
    prods = [dst.smin * src.smin, dst.smin * src.smax, dst.smax * src.smin, dst.smax * src.smax]
    if any(p < S64_MIN or p > S64_MAX for p in prods):
        dst.smin, dst.smax = S64_MIN, S64_MAX
    else:
        dst.smin, dst.smax = min(prods), max(prods)


def _s32_from_u32_range(dst: BpfRegState) -> None:
    if _s32(dst.u32_min) <= _s32(dst.u32_max):
        dst.s32_min, dst.s32_max = _s32(dst.u32_min), _s32(dst.u32_max)
    else:
        dst.s32_min, dst.s32_max = S32_MIN, S32_MAX


def _s64_from_u64_range(dst: BpfRegState) -> None:
    if _s64(dst.umin) <= _s64(dst.umax):
        dst.smin, dst.smax = _s64(dst.umin), _s64(dst.umax)
    else:
        dst.smin, dst.smax = S64_MIN, S64_MAX


def scalar32_min_max_and(dst: BpfRegState, src: BpfRegState) -> None:
    src_known = tnum_subreg_is_const(src.var_off)
    dst_known = tnum_subreg_is_const(dst.var_off)
    v32 = tnum_subreg(dst.var_off)
    if src_known and dst_known:
        __mark_reg32_known(dst, v32.value)
        return
    dst.u32_min = v32.value
    dst.u32_max = min(dst.u32_max, src.u32_max)
    _s32_from_u32_range(dst)


def scalar_min_max_and(dst: BpfRegState, src: BpfRegState) -> None:
    if tnum_is_const(src.var_off) and tnum_is_const(dst.var_off):
        __mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = dst.var_off.value
    dst.umax = min(dst.umax, src.umax)
    _s64_from_u64_range(dst)
    __update_reg_bounds(dst)


def scalar32_min_max_or(dst: BpfRegState, src: BpfRegState) -> None:
    src_known = tnum_subreg_is_const(src.var_off)
    dst_known = tnum_subreg_is_const(dst.var_off)
    v32 = tnum_subreg(dst.var_off)
    if src_known and dst_known:
        __mark_reg32_known(dst, v32.value)
        return
    dst.u32_min = max(dst.u32_min, src.u32_min)
    dst.u32_max = v32.value | v32.mask
    _s32_from_u32_range(dst)


def scalar_min_max_or(dst: BpfRegState, src: BpfRegState) -> None:
    if tnum_is_const(src.var_off) and tnum_is_const(dst.var_off):
        __mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = max(dst.umin, src.umin)
    dst.umax = dst.var_off.value | dst.var_off.mask
    _s64_from_u64_range(dst)
    __update_reg_bounds(dst)


def scalar32_min_max_xor(dst: BpfRegState, src: BpfRegState) -> None:
    src_known = tnum_subreg_is_const(src.var_off)
    dst_known = tnum_subreg_is_const(dst.var_off)
    v32 = tnum_subreg(dst.var_off)
    if src_known and dst_known:
        __mark_reg32_known(dst, v32.value)
        return
    dst.u32_min = v32.value
    dst.u32_max = v32.value | v32.mask
    _s32_from_u32_range(dst)


def scalar_min_max_xor(dst: BpfRegState, src: BpfRegState) -> None:
    if tnum_is_const(src.var_off) and tnum_is_const(dst.var_off):
        __mark_reg_known(dst, dst.var_off.value)
        return
    dst.umin = dst.var_off.value
    dst.umax = dst.var_off.value | dst.var_off.mask
    _s64_from_u64_range(dst)
    __update_reg_bounds(dst)


def __scalar32_min_max_lsh(dst: BpfRegState, umin_val: int, umax_val: int) -> None:
    dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    if umax_val > 31 or dst.u32_max > (1 << (31 - umax_val)):
        dst.u32_min, dst.u32_max = 0, U32
    else:
        dst.u32_min = (dst.u32_min << umin_val) & U32
        dst.u32_max = (dst.u32_max << umax_val) & U32


def scalar32_min_max_lsh(dst: BpfRegState, src: BpfRegState) -> None:
    umax_val, umin_val = src.u32_max, src.u32_min
    subreg = tnum_subreg(dst.var_off)
    __scalar32_min_max_lsh(dst, umin_val, umax_val)
    dst.var_off = tnum_subreg(tnum_lshift(subreg, umin_val))
    __mark_reg64_unbounded(dst)
    __update_reg32_bounds(dst)


def __scalar64_min_max_lsh(dst: BpfRegState, umin_val: int, umax_val: int) -> None:
    if umin_val == 32 and umax_val == 32 and dst.s32_max >= 0:
        dst.smax = dst.s32_max << 32
    else:
        dst.smax = S64_MAX
    if umin_val == 32 and umax_val == 32 and dst.s32_min >= 0:
        dst.smin = dst.s32_min << 32
    else:
        dst.smin = S64_MIN
    if dst.umax > (1 << (63 - umax_val)):
        dst.umin, dst.umax = 0, U64
    else:
        dst.umin = (dst.umin << umin_val) & U64
        dst.umax = (dst.umax << umax_val) & U64


def scalar_min_max_lsh(dst: BpfRegState, src: BpfRegState) -> None:
    umax_val, umin_val = src.umax, src.umin
    __scalar64_min_max_lsh(dst, umin_val, umax_val)
    __scalar32_min_max_lsh(dst, umin_val, umax_val)
    dst.var_off = tnum_lshift(dst.var_off, umin_val)
    __update_reg_bounds(dst)


def scalar32_min_max_rsh(dst: BpfRegState, src: BpfRegState) -> None:
    subreg = tnum_subreg(dst.var_off)
    umax_val, umin_val = src.u32_max, src.u32_min
    dst.s32_min, dst.s32_max = S32_MIN, S32_MAX
    dst.var_off = tnum_rshift(subreg, umin_val)
    dst.u32_min >>= umax_val
    dst.u32_max >>= umin_val
    __mark_reg64_unbounded(dst)
    __update_reg32_bounds(dst)


def scalar_min_max_rsh(dst: BpfRegState, src: BpfRegState) -> None:
    umax_val, umin_val = src.umax, src.umin
    dst.smin, dst.smax = S64_MIN, S64_MAX
    dst.var_off = tnum_rshift(dst.var_off, umin_val)
    dst.umin >>= umax_val
    dst.umax >>= umin_val
    __mark_reg32_unbounded(dst)
    __update_reg_bounds(dst)


def scalar32_min_max_arsh(dst: BpfRegState, src: BpfRegState) -> None:
    umin_val = src.u32_min
    dst.s32_min = dst.s32_min >> umin_val
    dst.s32_max = dst.s32_max >> umin_val
    dst.var_off = tnum_arshift(tnum_subreg(dst.var_off), umin_val, 32)
    dst.u32_min, dst.u32_max = 0, U32
    __mark_reg64_unbounded(dst)
    __update_reg32_bounds(dst)


def scalar_min_max_arsh(dst: BpfRegState, src: BpfRegState) -> None:
    umin_val = src.umin
    dst.smin >>= umin_val
    dst.smax >>= umin_val
    dst.var_off = tnum_arshift(dst.var_off, umin_val, 64)
    dst.umin, dst.umax = 0, U64
    __mark_reg32_unbounded(dst)
    __update_reg_bounds(dst)


def is_safe_to_compute_dst_reg_range(opcode: int, alu32: bool, src: BpfRegState) -> bool:
    if opcode in (BPF_ADD, BPF_SUB, BPF_NEG, BPF_AND, BPF_XOR, BPF_OR, BPF_MUL):
        return True
    if opcode in (BPF_LSH, BPF_RSH, BPF_ARSH):
        if alu32:
            src_is_const = (tnum_subreg_is_const(src.var_off) and src.s32_min == src.s32_max
                            and src.u32_min == src.u32_max)
            return src_is_const and src.umax < 32
        src_is_const = tnum_is_const(src.var_off) and src.smin == src.smax and src.umin == src.umax
        return src_is_const and src.umax < 64
    return False


def adjust_scalar_min_max_vals(dst: BpfRegState, src: BpfRegState, opcode: int, alu32: bool,
                               bpf_capable: bool = True) -> None:
    """Called from check_alu_op for scalar op scalar (src may be a fake constant register).
    ``src`` is a copy; ``dst`` is updated in place."""
    if not is_safe_to_compute_dst_reg_range(opcode, alu32, src):
        __mark_reg_unknown(dst, bpf_capable)
        return
    if opcode == BPF_ADD:
        scalar32_min_max_add(dst, src)
        scalar_min_max_add(dst, src)
        dst.var_off = tnum_add(dst.var_off, src.var_off)
    elif opcode == BPF_SUB:
        scalar32_min_max_sub(dst, src)
        scalar_min_max_sub(dst, src)
        dst.var_off = tnum_sub(dst.var_off, src.var_off)
    elif opcode == BPF_NEG:
        fake = dst.copy()
        __mark_reg_known(dst, 0)
        scalar32_min_max_sub(dst, fake)
        scalar_min_max_sub(dst, fake)
        dst.var_off = tnum_neg(fake.var_off)
    elif opcode == BPF_MUL:
        dst.var_off = tnum_mul(dst.var_off, src.var_off)
        scalar32_min_max_mul(dst, src)
        scalar_min_max_mul(dst, src)
    elif opcode == BPF_AND:
        dst.var_off = tnum_and(dst.var_off, src.var_off)
        scalar32_min_max_and(dst, src)
        scalar_min_max_and(dst, src)
    elif opcode == BPF_OR:
        dst.var_off = tnum_or(dst.var_off, src.var_off)
        scalar32_min_max_or(dst, src)
        scalar_min_max_or(dst, src)
    elif opcode == BPF_XOR:
        dst.var_off = tnum_xor(dst.var_off, src.var_off)
        scalar32_min_max_xor(dst, src)
        scalar_min_max_xor(dst, src)
    elif opcode == BPF_LSH:
        if alu32:
            scalar32_min_max_lsh(dst, src)
        else:
            scalar_min_max_lsh(dst, src)
    elif opcode == BPF_RSH:
        if alu32:
            scalar32_min_max_rsh(dst, src)
        else:
            scalar_min_max_rsh(dst, src)
    elif opcode == BPF_ARSH:
        if alu32:
            scalar32_min_max_arsh(dst, src)
        else:
            scalar_min_max_arsh(dst, src)
    else:
        __mark_reg_unknown(dst, bpf_capable)
        return
    if alu32:
        zext_32_to_64(dst)
    reg_bounds_sync(dst)
    dst.type = SCALAR_VALUE
