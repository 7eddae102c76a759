"""Verifier-state text for the log: print_verifier_state, print_reg_state, print_insn_state
(kernel/bpf/log.c, 6.18 format, checked against Linux 6.18.44).

Examples of the format::

    0: R1=ctx() R10=fp0
    0: (b7) r0 = 0                        ; R0=0
    5: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,map=m,ks=4,vs=8)
    10: (57) r5 &= 4095                   ; R5=scalar(smin=smin32=0,smax=umax=smax32=umax32=4095,var_off=(0x0; 0xfff))
    19: (7b) *(u64 *)(r10 -16) = r6       ; R6=ctx() R10=fp0 fp-16=ctx()

Numbers print in decimal inside the s16 range and as %#llx outside it (verbose_snum /
verbose_unum); 6.18 prints no liveness suffixes (``R0_w`` is gone).
"""

from .log import vlog_alignment
from .reg_state import (PTR_TO_BTF_ID, PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_META,
                        PTR_TO_STACK, SCALAR_VALUE, CONST_PTR_TO_MAP, PTR_TO_MAP_KEY,
                        PTR_TO_MAP_VALUE, NOT_INIT, S32_MAX, S32_MIN, S64_MAX, S64_MIN,
                        base_type, reg_type_str)
from .states import BPF_REG_SIZE, SLOT_TYPE_CHAR, STACK_INVALID, STACK_SPILL
from .tnum import U32, U64, tnum_is_const, tnum_is_unknown, tnum_strn


def snum(v: int) -> str:
    if -32768 <= v <= 32767:
        return str(v)
    return "%#x" % (v & U64)


def unum(v: int) -> str:
    if v <= 32767:
        return str(v)
    return "%#x" % v


def _btf_type_name(btf, type_id: int) -> str:
    try:
        return btf.name_of(type_id) if hasattr(btf, "name_of") else btf.type_by_id(type_id).name
    except Exception:
        return ""


def scalar_ranges(reg) -> list[str]:
    items = [["smin", reg.smin, reg.smin == S64_MIN], ["smax", reg.smax, reg.smax == S64_MAX],
             ["umin", reg.umin, reg.umin == 0], ["umax", reg.umax, reg.umax == U64],
             ["smin32", reg.s32_min, reg.s32_min == S32_MIN], ["smax32", reg.s32_max, reg.s32_max == S32_MAX],
             ["umin32", reg.u32_min, reg.u32_min == 0], ["umax32", reg.u32_max, reg.u32_max == U32]]
    out = []
    for i, m1 in enumerate(items):
        if m1[2]:
            continue
        name1, v1 = m1[0], m1[1]
        v1u = v1 & U64
        neg1 = name1[0] == "s" and v1 < 0
        text = name1 + "="
        for j in range(i + 2, len(items), 2):
            m2 = items[j]
            if m2[2] or (m2[1] & U64) != v1u:
                continue
            neg2 = m2[0][0] == "s" and m2[1] < 0
            if neg2 != neg1:
                continue
            m2[2] = True
            text += m2[0] + "="
        text += snum(v1) if name1[0] == "s" else unum(v1)
        out.append(text)
    return out


def print_reg_state(frameno: int, reg) -> str:
    t = reg.type
    prefix = "P" if t == SCALAR_VALUE and reg.precise else ""
    if t == SCALAR_VALUE and tnum_is_const(reg.var_off):
        v = reg.var_off.value
        return prefix + snum(v - (1 << 64) if v >> 63 else v)
    s = prefix + reg_type_str(t)
    if t == PTR_TO_STACK:
        if frameno != reg.frameno:
            s += f"[{reg.frameno}]"
        if tnum_is_const(reg.var_off):
            v = (reg.var_off.value + reg.off) & U64
            return s + snum(v - (1 << 64) if v >> 63 else v)
    if base_type(t) == PTR_TO_BTF_ID:
        s += _btf_type_name(reg.btf, reg.btf_id)
    parts = []
    if reg.id:
        text = f"id={reg.id & ~(3 << 30)}"
        if reg.id & (3 << 30):
            text += "%+d" % reg.off
        parts.append(text)
    if reg.ref_obj_id:
        parts.append(f"ref_obj_id={reg.ref_obj_id}")
    if base_type(t) in (CONST_PTR_TO_MAP, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE) and reg.map_ptr is not None:
        if reg.map_ptr.name:
            parts.append(f"map={reg.map_ptr.name}")
        parts.append(f"ks={reg.map_ptr.key_size},vs={reg.map_ptr.value_size}")
    if t != SCALAR_VALUE and reg.off:
        parts.append("off=" + snum(reg.off))
    if base_type(t) in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        parts.append("r=" + unum(reg.range))
    if base_type(t) == PTR_TO_MEM:
        parts.append("sz=" + unum(reg.mem_size))
    if tnum_is_const(reg.var_off):
        if reg.var_off.value:
            v = reg.var_off.value
            parts.append("imm=" + snum(v - (1 << 64) if v >> 63 else v))
    else:
        parts.extend(scalar_ranges(reg))
        if not tnum_is_unknown(reg.var_off):
            parts.append("var_off=" + tnum_strn(reg.var_off))
    return s + "(" + ",".join(parts) + ")"


def print_verifier_state(env, vstate, frameno: int, print_all: bool) -> None:
    state = vstate.frame[frameno]
    out = []
    if state.frameno:
        out.append(f" frame{state.frameno}:")
    sregs = env.scratched_regs
    for i, reg in enumerate(state.regs):
        if reg.type == NOT_INIT:
            continue
        if not print_all and not (sregs >> i) & 1:
            continue
        out.append(f" R{i}=" + print_reg_state(state.frameno, reg))
    sstack = env.scratched_stack
    for i in range(state.allocated_stack // BPF_REG_SIZE):
        slot = state.stack[i]
        st = slot.slot_type
        if all(x == STACK_INVALID for x in st):
            continue
        if not print_all and not (sstack >> i) & 1:
            continue
        if st[BPF_REG_SIZE - 1] == STACK_SPILL:
            reg = slot.spilled_ptr
            out.append(f" fp{(-i - 1) * BPF_REG_SIZE}=" + print_reg_state(state.frameno, reg))
        else:
            out.append(f" fp{(-i - 1) * BPF_REG_SIZE}=" + "".join(SLOT_TYPE_CHAR[x] for x in st))
    refs = [r.id for r in vstate.refs if r.id]
    if vstate.refs and vstate.refs[0].id:
        out.append(" refs=" + ",".join(str(x) for x in refs))
    if state.in_callback_fn:
        out.append(" cb")
    out.append("\n")
    env.verbose("".join(out))
    if not print_all:
        env.scratched_regs = 0
        env.scratched_stack = 0


def print_insn_state(env, vstate, frameno: int) -> None:
    log = env.log
    if env.prev_log_pos and env.prev_log_pos == log.end_pos:
        log.bpf_vlog_reset(env.prev_log_pos - 1)
        env.verbose(" " * vlog_alignment(env.prev_insn_print_pos) + ";")
    else:
        env.verbose(f"{env.insn_idx}:")
    print_verifier_state(env, vstate, frameno, False)
