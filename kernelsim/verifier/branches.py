"""Conditional jumps on scalars: is_branch_taken and the refinement of both successors
(kernel/bpf/verifier.c is_scalar_branch_taken, is_branch_taken, regs_refine_cond_op,
reg_set_min_max; 6.8+ shape).

``is_branch_taken`` returns 1 (always taken), 0 (never) or -1 (unknown) from the registers'
ranges; the verifier then explores only the live successor. Otherwise each successor gets the
condition as a fact: ``if r1 > 10`` gives umin >= 11 in the taken branch and umax <= 10 in the
fall-through; JEQ intersects the two registers' knowledge; JSET with a single-bit constant makes
that bit known 1, its negation clears the tested bits.
"""

from .reg_state import (PTR_MAYBE_NULL, SCALAR_VALUE, BpfRegState, _s32, _s64, base_type,
                        is_reg_const, reg_bounds_sane, reg_bounds_sync, reg_const_value,
                        PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY,
                        PTR_TO_SOCK_COMMON, PTR_TO_BTF_ID, PTR_TO_MEM, CONST_PTR_TO_MAP,
                        PTR_TRUSTED, PTR_UNTRUSTED, MEM_RCU)
from .tnum import (U32, tnum_and, tnum_const, tnum_intersect, tnum_is_const, tnum_or,
                   tnum_subreg, tnum_with_subreg)

BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE = (
    0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70)
BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE = 0xA0, 0xB0, 0xC0, 0xD0
BPF_X = 0x08

_FLIP = {BPF_JGT: BPF_JLT, BPF_JLT: BPF_JGT, BPF_JGE: BPF_JLE, BPF_JLE: BPF_JGE,
         BPF_JSGT: BPF_JSLT, BPF_JSLT: BPF_JSGT, BPF_JSGE: BPF_JSLE, BPF_JSLE: BPF_JSGE,
         BPF_JEQ: BPF_JEQ, BPF_JNE: BPF_JNE, BPF_JSET: BPF_JSET}
_REV = {BPF_JEQ: BPF_JNE, BPF_JNE: BPF_JEQ, BPF_JGT: BPF_JLE, BPF_JLE: BPF_JGT,
        BPF_JGE: BPF_JLT, BPF_JLT: BPF_JGE, BPF_JSGT: BPF_JSLE, BPF_JSLE: BPF_JSGT,
        BPF_JSGE: BPF_JSLT, BPF_JSLT: BPF_JSGE, BPF_JSET: BPF_JSET | BPF_X}


def flip_opcode(op: int) -> int:
    return _FLIP[op]


def rev_opcode(op: int) -> int:
    return _REV[op]


def is_trusted_reg(reg: BpfRegState) -> bool:
    return bool(reg.type & (PTR_TRUSTED | MEM_RCU)) and not (reg.type & PTR_UNTRUSTED) or reg.ref_obj_id != 0


def reg_not_null(reg: BpfRegState) -> bool:
    t = reg.type
    if t & PTR_MAYBE_NULL:
        return False
    b = base_type(t)
    return (b in (PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY,
                  PTR_TO_SOCK_COMMON, CONST_PTR_TO_MAP)
            or (b == PTR_TO_BTF_ID and is_trusted_reg(reg))
            or (b == PTR_TO_MEM and not (t & PTR_UNTRUSTED)))


def _views(reg: BpfRegState, jmp32: bool):
    if jmp32:
        return tnum_subreg(reg.var_off), reg.u32_min, reg.u32_max, reg.s32_min, reg.s32_max
    return reg.var_off, reg.umin, reg.umax, reg.smin, reg.smax


def is_scalar_branch_taken(reg1: BpfRegState, reg2: BpfRegState, opcode: int, jmp32: bool) -> int:
    t1, umin1, umax1, smin1, smax1 = _views(reg1, jmp32)
    t2, umin2, umax2, smin2, smax2 = _views(reg2, jmp32)
    if opcode == BPF_JEQ:
        if tnum_is_const(t1) and tnum_is_const(t2):
            return int(t1.value == t2.value)
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return 0
        if not jmp32:
            if reg1.u32_min > reg2.u32_max or reg1.u32_max < reg2.u32_min:
                return 0
            if reg1.s32_min > reg2.s32_max or reg1.s32_max < reg2.s32_min:
                return 0
    elif opcode == BPF_JNE:
        if tnum_is_const(t1) and tnum_is_const(t2):
            return int(t1.value != t2.value)
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return 1
        if not jmp32:
            if reg1.u32_min > reg2.u32_max or reg1.u32_max < reg2.u32_min:
                return 1
            if reg1.s32_min > reg2.s32_max or reg1.s32_max < reg2.s32_min:
                return 1
    elif opcode == BPF_JSET:
        if not is_reg_const(reg2, jmp32):
            reg1, reg2 = reg2, reg1
            t1, t2 = t2, t1
        if not is_reg_const(reg2, jmp32):
            return -1
        if (~t1.mask & t1.value) & t2.value:
            return 1
        if not ((t1.mask | t1.value) & t2.value):
            return 0
    elif opcode == BPF_JGT:
        if umin1 > umax2:
            return 1
        if umax1 <= umin2:
            return 0
    elif opcode == BPF_JSGT:
        if smin1 > smax2:
            return 1
        if smax1 <= smin2:
            return 0
    elif opcode == BPF_JLT:
        if umax1 < umin2:
            return 1
        if umin1 >= umax2:
            return 0
    elif opcode == BPF_JSLT:
        if smax1 < smin2:
            return 1
        if smin1 >= smax2:
            return 0
    elif opcode == BPF_JGE:
        if umin1 >= umax2:
            return 1
        if umax1 < umin2:
            return 0
    elif opcode == BPF_JSGE:
        if smin1 >= smax2:
            return 1
        if smax1 < smin2:
            return 0
    elif opcode == BPF_JLE:
        if umax1 <= umin2:
            return 1
        if umin1 > umax2:
            return 0
    elif opcode == BPF_JSLE:
        if smax1 <= smin2:
            return 1
        if smin1 > smax2:
            return 0
    return -1


def is_branch_taken(reg1: BpfRegState, reg2: BpfRegState, opcode: int, jmp32: bool) -> int:
    if reg1.type != SCALAR_VALUE or reg2.type != SCALAR_VALUE:
        if not is_reg_const(reg2, jmp32):
            opcode = flip_opcode(opcode)
            reg1, reg2 = reg2, reg1
        if not is_reg_const(reg2, jmp32):
            return -1
        if not reg_not_null(reg1):
            return -1
        if reg_const_value(reg2, jmp32) != 0:
            return -1
        if opcode == BPF_JEQ:
            return 0
        if opcode == BPF_JNE:
            return 1
        return -1
    return is_scalar_branch_taken(reg1, reg2, opcode, jmp32)


def regs_refine_cond_op(reg1: BpfRegState, reg2: BpfRegState, opcode: int, jmp32: bool) -> None:
    if opcode in (BPF_JGE, BPF_JGT, BPF_JSGE, BPF_JSGT):
        opcode = flip_opcode(opcode)
        reg1, reg2 = reg2, reg1
    if opcode == BPF_JEQ:
        if jmp32:
            reg1.u32_min = max(reg1.u32_min, reg2.u32_min)
            reg1.u32_max = min(reg1.u32_max, reg2.u32_max)
            reg1.s32_min = max(reg1.s32_min, reg2.s32_min)
            reg1.s32_max = min(reg1.s32_max, reg2.s32_max)
            reg2.u32_min, reg2.u32_max = reg1.u32_min, reg1.u32_max
            reg2.s32_min, reg2.s32_max = reg1.s32_min, reg1.s32_max
            t = tnum_intersect(tnum_subreg(reg1.var_off), tnum_subreg(reg2.var_off))
            reg1.var_off = tnum_with_subreg(reg1.var_off, t)
            reg2.var_off = tnum_with_subreg(reg2.var_off, t)
        else:
            reg1.umin = max(reg1.umin, reg2.umin)
            reg1.umax = min(reg1.umax, reg2.umax)
            reg1.smin = max(reg1.smin, reg2.smin)
            reg1.smax = min(reg1.smax, reg2.smax)
            reg2.umin, reg2.umax, reg2.smin, reg2.smax = reg1.umin, reg1.umax, reg1.smin, reg1.smax
            reg1.var_off = tnum_intersect(reg1.var_off, reg2.var_off)
            reg2.var_off = reg1.var_off
    elif opcode == BPF_JNE:
        if not is_reg_const(reg2, jmp32):
            reg1, reg2 = reg2, reg1
        if not is_reg_const(reg2, jmp32):
            return
        val = reg_const_value(reg2, jmp32)
        if jmp32:
            if reg1.u32_min == val & U32:
                reg1.u32_min += 1
            if reg1.u32_max == val & U32:
                reg1.u32_max -= 1
            if reg1.s32_min == _s32(val):
                reg1.s32_min += 1
            if reg1.s32_max == _s32(val):
                reg1.s32_max -= 1
        else:
            if reg1.umin == val:
                reg1.umin += 1
            if reg1.umax == val:
                reg1.umax -= 1
            if reg1.smin == _s64(val):
                reg1.smin += 1
            if reg1.smax == _s64(val):
                reg1.smax -= 1
    elif opcode == BPF_JSET:
        if not is_reg_const(reg2, jmp32):
            reg1, reg2 = reg2, reg1
        if not is_reg_const(reg2, jmp32):
            return
        val = reg_const_value(reg2, jmp32)
        if not val or val & (val - 1):
            return
        if jmp32:
            t = tnum_or(tnum_subreg(reg1.var_off), tnum_const(val))
            reg1.var_off = tnum_with_subreg(reg1.var_off, t)
        else:
            reg1.var_off = tnum_or(reg1.var_off, tnum_const(val))
    elif opcode == BPF_JSET | BPF_X:
        if not is_reg_const(reg2, jmp32):
            reg1, reg2 = reg2, reg1
        if not is_reg_const(reg2, jmp32):
            return
        val = reg_const_value(reg2, jmp32)
        if jmp32:
            t = tnum_and(tnum_subreg(reg1.var_off), tnum_const(~val & U32))
            reg1.var_off = tnum_with_subreg(reg1.var_off, t)
        else:
            reg1.var_off = tnum_and(reg1.var_off, tnum_const(~val))
    elif opcode == BPF_JLE:
        if jmp32:
            reg1.u32_max = min(reg1.u32_max, reg2.u32_max)
            reg2.u32_min = max(reg1.u32_min, reg2.u32_min)
        else:
            reg1.umax = min(reg1.umax, reg2.umax)
            reg2.umin = max(reg1.umin, reg2.umin)
    elif opcode == BPF_JLT:
        if jmp32:
            reg1.u32_max = min(reg1.u32_max, (reg2.u32_max - 1) & U32)
            reg2.u32_min = max((reg1.u32_min + 1) & U32, reg2.u32_min)
        else:
            reg1.umax = min(reg1.umax, (reg2.umax - 1) & ((1 << 64) - 1))
            reg2.umin = max((reg1.umin + 1) & ((1 << 64) - 1), reg2.umin)
    elif opcode == BPF_JSLE:
        if jmp32:
            reg1.s32_max = min(reg1.s32_max, reg2.s32_max)
            reg2.s32_min = max(reg1.s32_min, reg2.s32_min)
        else:
            reg1.smax = min(reg1.smax, reg2.smax)
            reg2.smin = max(reg1.smin, reg2.smin)
    elif opcode == BPF_JSLT:
        if jmp32:
            reg1.s32_max = min(reg1.s32_max, _s32(reg2.s32_max - 1))
            reg2.s32_min = max(_s32(reg1.s32_min + 1), reg2.s32_min)
        else:
            reg1.smax = min(reg1.smax, _s64(reg2.smax - 1))
            reg2.smin = max(_s64(reg1.smin + 1), reg2.smin)


def reg_set_min_max(true1: BpfRegState, true2: BpfRegState, false1: BpfRegState,
                    false2: BpfRegState, opcode: int, jmp32: bool) -> bool:
    """Refine both successors of a scalar compare. Returns False when a successor's bounds turned
    out inconsistent (the branch cannot happen); the caller then prunes that successor."""
    if false1.type != SCALAR_VALUE or false2.type != SCALAR_VALUE:
        return True
    regs_refine_cond_op(false1, false2, rev_opcode(opcode), jmp32)
    reg_bounds_sync(false1)
    reg_bounds_sync(false2)
    regs_refine_cond_op(true1, true2, opcode, jmp32)
    reg_bounds_sync(true1)
    reg_bounds_sync(true2)
    return True


def refined_ok(*regs: BpfRegState) -> bool:
    return all(reg_bounds_sane(r) for r in regs)
