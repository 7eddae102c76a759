"""Loads and stores: check_mem_access and what it dispatches to (kernel/bpf/verifier.c
check_mem_access, check_ptr_alignment, check_stack_access_within_bounds, check_stack_read/write_*,
check_map_access, check_mem_region_access, check_ctx_access, check_ptr_to_btf_access,
check_atomic, check_ld_abs; 6.18).

Per pointer type:

* stack: bounds [-512, 0) (reads below the deepest written slot only with allow_uninit_stack),
  alignment always enforced, 8-byte aligned stores of registers *spill* them (full state kept),
  other stores make bytes STACK_MISC or STACK_ZERO; fills restore the spilled register.
* map value / map key / mem: the fixed offset plus the variable offset's [smin, umax] must lie in
  [0, size); messages distinguish a negative min, an unbounded max and out-of-range values.
* ctx: unmodified pointer, then the program type's ``is_valid_access`` (prog_types.py) decides
  and says what the loaded value is; ``max_ctx_offset`` records the highest byte read.
* BTF pointers (tracing): the load walks the struct by offset (``btf_struct_walk``): a member that
  is a pointer to a struct gives PTR_TO_BTF_ID of the pointee, anything else a scalar; the
  instruction is marked PROBE_MEM (a fault at run time reads 0).
"""

import errno

from ..errors import BpfError
from ..isa.insn import BPF_CMPXCHG, BPF_FETCH, BPF_LOAD_ACQ, BPF_STORE_REL, BPF_SIZE, BPF_W, BPF_DW
from ..uapi import BpfMapFlags as MF, BpfProgType as PT, BpfMapType as MT
from .reg_state import (CONST_PTR_TO_MAP, MEM_RDONLY, PTR_MAYBE_NULL, PTR_TO_BTF_ID, PTR_TO_BUF,
                        PTR_TO_CTX, PTR_TO_FLOW_KEYS, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
                        PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END,
                        PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_STACK, PTR_TO_TCP_SOCK,
                        PTR_TO_TP_BUFFER, PTR_TO_XDP_SOCK, PTR_UNTRUSTED, PTR_TRUSTED, MEM_RCU,
                        SCALAR_VALUE, NOT_INIT, S64_MIN, BpfRegState, __mark_reg_const_zero,
                        __mark_reg_known, __mark_reg_known_zero, __mark_reg_not_init,
                        __mark_reg_unknown, base_type, coerce_reg_to_size, coerce_reg_to_size_sx,
                        get_reg_width, reg_type_str, register_is_null, type_may_be_null,
                        reg_bounds_sync)
from .states import (BPF_REG_SIZE, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO,
                     STACK_DYNPTR, STACK_ITER, is_spilled_reg, is_spilled_scalar_reg)
from .tnum import U64, tnum_add, tnum_const, tnum_is_aligned, tnum_is_const, tnum_strn

BPF_READ, BPF_WRITE = 1, 2
SRC_OP, DST_OP, DST_OP_NO_MARK = 0, 1, 2
BPF_MAX_VAR_OFF = 1 << 29
BPF_MAX_VAR_SIZ = 1 << 29
MAX_BPF_STACK = 512
SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >> 31 else x


def is_spillable_regtype(t: int) -> bool:
    return base_type(t) in (PTR_TO_MAP_VALUE, PTR_TO_STACK, PTR_TO_CTX, PTR_TO_PACKET,
                            PTR_TO_PACKET_META, PTR_TO_PACKET_END, PTR_TO_FLOW_KEYS,
                            CONST_PTR_TO_MAP, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK,
                            PTR_TO_XDP_SOCK, PTR_TO_BTF_ID, PTR_TO_BUF, PTR_TO_MEM, 20,
                            PTR_TO_MAP_KEY, 18)


# -- load / store instruction front ends ------------------------------------------------------

def check_load_mem(env, insn, is_ldsx: bool, strict_once: bool = False, allow_trust_mismatch: bool = True) -> None:
    env.check_reg_arg(insn.src, SRC_OP)
    env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
    regs = env.cur_regs()
    src_type = regs[insn.src].type
    check_mem_access(env, env.insn_idx, insn.src, insn.off, BPF_SIZE(insn.code), BPF_READ,
                     insn.dst, strict_once, is_ldsx)
    save_aux_ptr_type(env, src_type, allow_trust_mismatch)


def check_store_reg(env, insn, strict_once: bool = False) -> None:
    env.check_reg_arg(insn.src, SRC_OP)
    env.check_reg_arg(insn.dst, SRC_OP)
    regs = env.cur_regs()
    dst_type = regs[insn.dst].type
    check_mem_access(env, env.insn_idx, insn.dst, insn.off, BPF_SIZE(insn.code), BPF_WRITE,
                     insn.src, strict_once, False)
    save_aux_ptr_type(env, dst_type, False)


def _is_ctx_like(t: int) -> bool:
    return base_type(t) in (PTR_TO_CTX, PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK,
                            PTR_TO_XDP_SOCK, PTR_TO_BTF_ID)


def save_aux_ptr_type(env, t: int, allow_trust_mismatch: bool) -> None:
    """save_aux_ptr_type: one load/store insn must see the same kind of pointer on every path
    (ctx accesses get rewritten). EINVAL: "same insn cannot be used with different pointers"."""
    aux = env.insn_aux[env.insn_idx]
    prev = aux.ptr_type
    if prev is None:
        aux.ptr_type = t
        return
    if prev == t:
        return
    if allow_trust_mismatch and base_type(t) == PTR_TO_BTF_ID and base_type(prev) == PTR_TO_BTF_ID:
        aux.ptr_type = PTR_TO_BTF_ID | PTR_UNTRUSTED
        return
    if _is_ctx_like(prev) or _is_ctx_like(t):
        env.fail(errno.EINVAL, "same insn cannot be used with different pointers")


def check_atomic(env, insn) -> None:
    imm = insn.imm
    if imm in (0x00, 0x01, 0x50, 0x51, 0x40, 0x41, 0xA0, 0xA1, 0xE1, 0xF1):
        return check_atomic_rmw(env, insn)
    if imm == BPF_LOAD_ACQ:
        check_load_mem(env, insn, False, True, False)
        if not atomic_ptr_type_ok(env, insn.src):
            env.fail(errno.EACCES, f"BPF_ATOMIC loads from R{insn.src} "
                                   f"{reg_type_str(env.cur_regs()[insn.src].type)} is not allowed")
        return
    if imm == BPF_STORE_REL:
        check_store_reg(env, insn, True)
        if not atomic_ptr_type_ok(env, insn.dst):
            env.fail(errno.EACCES, f"BPF_ATOMIC stores into R{insn.dst} "
                                   f"{reg_type_str(env.cur_regs()[insn.dst].type)} is not allowed")
        return
    env.fail(errno.EINVAL, "BPF_ATOMIC uses invalid atomic opcode %02x" % (imm & 0xFFFFFFFF if imm < 0 else imm))


def atomic_ptr_type_ok(env, regno: int) -> bool:
    t = base_type(env.cur_regs()[regno].type)
    return t not in (PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_FLOW_KEYS,
                     PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK)


def check_atomic_rmw(env, insn) -> None:
    size = BPF_SIZE(insn.code)
    if size not in (BPF_W, BPF_DW):
        env.fail(errno.EINVAL, "invalid atomic operand size")
    env.check_reg_arg(insn.src, SRC_OP)
    env.check_reg_arg(insn.dst, SRC_OP)
    if insn.imm == BPF_CMPXCHG:
        env.check_reg_arg(0, SRC_OP)
        if env.is_pointer_value(0):
            env.fail(errno.EACCES, "R0 leaks addr into mem")
    if env.is_pointer_value(insn.src):
        env.fail(errno.EACCES, f"R{insn.src} leaks addr into mem")
    if not atomic_ptr_type_ok(env, insn.dst):
        env.fail(errno.EACCES, f"BPF_ATOMIC stores into R{insn.dst} "
                               f"{reg_type_str(env.cur_regs()[insn.dst].type)} is not allowed")
    if insn.imm & BPF_FETCH:
        load_reg = 0 if insn.imm == BPF_CMPXCHG else insn.src
        env.check_reg_arg(load_reg, DST_OP)
    else:
        load_reg = -1
    check_mem_access(env, env.insn_idx, insn.dst, insn.off, size, BPF_READ, -1, True, False)
    if load_reg >= 0:
        check_mem_access(env, env.insn_idx, insn.dst, insn.off, size, BPF_READ, load_reg, True, False)
    check_mem_access(env, env.insn_idx, insn.dst, insn.off, size, BPF_WRITE, -1, True, False)


def check_ld_abs(env, insn) -> None:
    regs = env.cur_regs()
    if env.prog.type not in (PT.BPF_PROG_TYPE_SOCKET_FILTER, PT.BPF_PROG_TYPE_SCHED_CLS,
                             PT.BPF_PROG_TYPE_SCHED_ACT):
        env.fail(errno.EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
    mode = insn.code & 0xE0
    if insn.dst != 0 or insn.off != 0 or BPF_SIZE(insn.code) == 0x18 or \
            (mode == 0x20 and insn.src != 0):
        env.fail(errno.EINVAL, "BPF_LD_[ABS|IND] uses reserved fields")
    env.check_reg_arg(6, SRC_OP)
    from .calls import check_resource_leak
    check_resource_leak(env, False, True, "BPF_LD_[ABS|IND]")
    if regs[6].type != PTR_TO_CTX:
        env.fail(errno.EINVAL, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
    if mode == 0x40:
        env.check_reg_arg(insn.src, SRC_OP)
    check_ptr_off_reg(env, regs[6], 6)
    for r in range(6):
        __mark_reg_not_init(regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK)
    __mark_reg_unknown(regs[0], env.bpf_capable)
    if env.cur_state.curframe:
        # bpf_gen_ld_abs's hidden "exit with r0 = 0" returns from a subprogram: walk that
        # return now, the fall-through later (6.18 check_ld_abs)
        from .calls import prepare_func_exit
        from .reg_state import __mark_reg_known_zero
        from .verifier import push_stack
        env.mark_reg_scratched(0)
        push_stack(env, env.insn_idx + 1, env.insn_idx)
        __mark_reg_known_zero(env.cur_regs()[0])
        prepare_func_exit(env)
        env.insn_idx -= 1


# -- check_mem_access -------------------------------------------------------------------------

_ALIGN_DESC = {PTR_TO_MAP_KEY: "key ", PTR_TO_MAP_VALUE: "value ", PTR_TO_CTX: "context ",
               PTR_TO_STACK: "stack ", PTR_TO_SOCKET: "sock ", PTR_TO_SOCK_COMMON: "sock_common ",
               PTR_TO_TCP_SOCK: "tcp_sock ", PTR_TO_XDP_SOCK: "xdp_sock ",
               PTR_TO_FLOW_KEYS: "flow keys "}


def check_ptr_alignment(env, reg: BpfRegState, off: int, size: int, strict_once: bool) -> None:
    strict = env.strict_alignment or strict_once
    t = reg.type
    desc = ""
    if base_type(t) in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if not strict or size == 1:
            return
        ip_align = 2
        reg_off = tnum_add(reg.var_off, tnum_const(ip_align + reg.off + off))
        if not tnum_is_aligned(reg_off, size):
            env.fail(errno.EACCES, f"misaligned packet access off {ip_align}+{tnum_strn(reg.var_off)}"
                                   f"+{off}+{reg.off} size {size}")
        return
    if t == PTR_TO_STACK:
        strict = True
    if t in _ALIGN_DESC:
        desc = _ALIGN_DESC[t]
    if not strict or size == 1:
        return
    reg_off = tnum_add(reg.var_off, tnum_const((reg.off + off) & U64))
    if not tnum_is_aligned(reg_off, size):
        vo = str(reg.var_off.value) if tnum_is_const(reg.var_off) else tnum_strn(reg.var_off)
        env.fail(errno.EACCES, f"misaligned {desc}access off {vo}+{reg.off}+{off} size {size}")


def check_ptr_off_reg(env, reg: BpfRegState, regno: int, fixed_off_ok: bool = False) -> None:
    if reg.off < 0:
        env.fail(errno.EACCES, f"negative offset {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed")
    if not fixed_off_ok and reg.off:
        env.fail(errno.EACCES, f"dereference of modified {reg_type_str(reg.type)} ptr R{regno} off={reg.off} disallowed")
    if not tnum_is_const(reg.var_off) or reg.var_off.value:
        env.fail(errno.EACCES, f"variable {reg_type_str(reg.type)} access var_off={tnum_strn(reg.var_off)} disallowed")


def check_mem_access(env, insn_idx: int, regno: int, off: int, bpf_size: int, t: int,
                     value_regno: int, strict_once: bool, is_ldsx: bool) -> None:
    regs = env.cur_regs()
    reg = regs[regno]
    size = SIZE_BYTES[bpf_size]
    check_ptr_alignment(env, reg, off, size, strict_once)
    off += reg.off
    rt = reg.type
    b = base_type(rt)
    if rt == PTR_TO_MAP_KEY:
        if t == BPF_WRITE:
            env.fail(errno.EACCES, f"write to change key R{regno} not allowed")
        check_mem_region_access(env, regno, off, size, reg.map_ptr.key_size, False)
        if value_regno >= 0:
            env.mark_reg_unknown(regs, value_regno)
    elif rt == PTR_TO_MAP_VALUE:
        if t == BPF_WRITE and value_regno >= 0 and env.is_pointer_value(value_regno):
            env.fail(errno.EACCES, f"R{value_regno} leaks addr into map")
        check_map_access_type(env, regno, off, size, t)
        check_map_access(env, regno, off, size, False)
        if t == BPF_READ and value_regno >= 0:
            m = reg.map_ptr
            if tnum_is_const(reg.var_off) and _map_is_rdonly(m) and \
                    m.ops.map_direct_value_addr is not None:
                map_off = off + reg.var_off.value
                val = bpf_map_direct_read(env, m, map_off, size, is_ldsx)
                regs[value_regno].type = SCALAR_VALUE
                __mark_reg_known(regs[value_regno], val)
            else:
                env.mark_reg_unknown(regs, value_regno)
    elif b == PTR_TO_MEM:
        rdonly = bool(rt & MEM_RDONLY)
        if type_may_be_null(rt):
            env.fail(errno.EACCES, f"R{regno} invalid mem access '{reg_type_str(rt)}'")
        if t == BPF_WRITE and rdonly:
            env.fail(errno.EACCES, f"R{regno} cannot write into {reg_type_str(rt)}")
        if t == BPF_WRITE and value_regno >= 0 and env.is_pointer_value(value_regno):
            env.fail(errno.EACCES, f"R{value_regno} leaks addr into mem")
        if not (rdonly and rt & PTR_UNTRUSTED):
            check_mem_region_access(env, regno, off, size, reg.mem_size, False)
        else:
            env.insn_aux[insn_idx].probe_mem = True
        if value_regno >= 0 and (t == BPF_READ or rdonly):
            env.mark_reg_unknown(regs, value_regno)
    elif rt == PTR_TO_CTX:
        if t == BPF_WRITE and value_regno >= 0 and env.is_pointer_value(value_regno):
            env.fail(errno.EACCES, f"R{value_regno} leaks addr into ctx")
        check_ptr_off_reg(env, reg, regno)
        info = check_ctx_access(env, insn_idx, off, size, t, is_ldsx)
        if t == BPF_READ and value_regno >= 0:
            vr = regs[value_regno]
            if info.reg_type == SCALAR_VALUE:
                env.mark_reg_unknown(regs, value_regno)
            else:
                __mark_reg_known_zero(vr)
                if type_may_be_null(info.reg_type):
                    vr.id = env.new_id()
                if base_type(info.reg_type) == PTR_TO_BTF_ID:
                    vr.btf = info.btf
                    vr.btf_id = info.btf_id
                    vr.ref_obj_id = info.ref_obj_id
            vr.type = info.reg_type
    elif rt == PTR_TO_STACK:
        check_stack_access_within_bounds(env, regno, off, size, t)
        if t == BPF_READ:
            check_stack_read(env, regno, off, size, value_regno)
        else:
            check_stack_write(env, regno, off, size, value_regno, insn_idx)
    elif b in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        env.fail(errno.EACCES, f"R{regno} invalid mem access '{reg_type_str(rt)}'")
    elif rt == PTR_TO_TP_BUFFER:
        if off < 0:
            env.fail(errno.EACCES, f"R{regno} invalid tracepoint buffer access: off={off}, size={size}")
        if not tnum_is_const(reg.var_off) or reg.var_off.value:
            env.fail(errno.EACCES, f"R{regno} invalid variable buffer offset: off={off}, "
                                   f"var_off={tnum_strn(reg.var_off)}")
        if off + size > env.max_tp_access:          # check_tp_buffer_access: prog->aux->max_tp_access
            env.max_tp_access = off + size
        if value_regno >= 0 and t == BPF_READ:
            env.mark_reg_unknown(regs, value_regno)
    elif b == PTR_TO_BTF_ID and not type_may_be_null(rt):
        check_ptr_to_btf_access(env, regs, regno, off, size, t, value_regno, insn_idx)
    elif rt == CONST_PTR_TO_MAP:
        check_ptr_to_map_access(env, regs, regno, off, size, t, value_regno)
    else:
        env.fail(errno.EACCES, f"R{regno} invalid mem access '{reg_type_str(rt)}'")
    if size < BPF_REG_SIZE and value_regno >= 0 and t == BPF_READ and \
            regs[value_regno].type == SCALAR_VALUE:
        if not is_ldsx:
            coerce_reg_to_size(regs[value_regno], size)
        else:
            coerce_reg_to_size_sx(regs[value_regno], size)


def _map_is_rdonly(m) -> bool:
    return bool(m.map_flags & MF.BPF_F_RDONLY_PROG) and bool(getattr(m, "frozen", False))


def bpf_map_direct_read(env, m, off: int, size: int, is_ldsx: bool) -> int:
    try:
        addr = m.ops.map_direct_value_addr(m, off)
        data = m.kernel.mem.read(addr, size)
    except (BpfError, Exception) as e:  # noqa: BLE001 - any failure is EINVAL for the verifier
        raise BpfError(errno.EINVAL, "direct read of map value failed") from e
    v = int.from_bytes(data, "little")
    if is_ldsx:
        bits = size * 8
        if v >> (bits - 1):
            v -= 1 << bits
    return v & U64


def check_map_access_type(env, regno: int, off: int, size: int, t: int) -> None:
    m = env.cur_regs()[regno].map_ptr
    flags = m.map_flags
    if t == BPF_WRITE and flags & MF.BPF_F_RDONLY_PROG:
        env.fail(errno.EACCES, f"write into map forbidden, value_size={m.value_size} off={off} size={size}")
    if t == BPF_READ and flags & MF.BPF_F_WRONLY_PROG:
        env.fail(errno.EACCES, f"read from map forbidden, value_size={m.value_size} off={off} size={size}")


def __check_mem_access(env, regno: int, off: int, size: int, mem_size: int, zero_size_allowed: bool) -> bool:
    size_ok = size > 0 or (size == 0 and zero_size_allowed)
    if off >= 0 and size_ok and off + size <= mem_size:
        return True
    reg = env.cur_regs()[regno]
    rt = reg.type
    if rt == PTR_TO_MAP_KEY:
        env.verbose(f"invalid access to map key, key_size={mem_size} off={off} size={size}\n")
    elif rt == PTR_TO_MAP_VALUE:
        env.verbose(f"invalid access to map value, value_size={mem_size} off={off} size={size}\n")
    elif base_type(rt) in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END):
        env.verbose(f"invalid access to packet, off={off} size={size}, R{regno}(id={reg.id},off={off},r={mem_size})\n")
    else:
        env.verbose(f"invalid access to memory, mem_size={mem_size} off={off} size={size}\n")
    return False


def check_mem_region_access(env, regno: int, off: int, size: int, mem_size: int,
                            zero_size_allowed: bool) -> None:
    reg = env.cur_regs()[regno]
    if reg.smin < 0 and (reg.smin == S64_MIN or off + reg.smin != _s32(off + reg.smin)
                         or reg.smin + off < 0):
        env.fail(errno.EACCES, f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    if not __check_mem_access(env, regno, _s32(reg.smin + off), size, mem_size, zero_size_allowed):
        env.fail(errno.EACCES, f"R{regno} min value is outside of the allowed memory range")
    if reg.umax >= BPF_MAX_VAR_OFF:
        env.fail(errno.EACCES, f"R{regno} unbounded memory access, make sure to bounds check any such access")
    if not __check_mem_access(env, regno, _s32(reg.umax + off), size, mem_size, zero_size_allowed):
        env.fail(errno.EACCES, f"R{regno} max value is outside of the allowed memory range")


def check_map_access(env, regno: int, off: int, size: int, zero_size_allowed: bool) -> None:
    reg = env.cur_regs()[regno]
    check_mem_region_access(env, regno, off, size, reg.map_ptr.value_size, zero_size_allowed)


def map_access_ok(env, regno: int, off: int, size: int) -> bool:
    """check_map_access without the log (for the !root pointer arithmetic check)."""
    reg = env.cur_regs()[regno]
    vs = reg.map_ptr.value_size
    if reg.smin < 0 and (reg.smin == S64_MIN or reg.smin + off < 0):
        return False
    lo = reg.smin + off
    if not (lo >= 0 and lo + size <= vs):
        return False
    if reg.umax >= BPF_MAX_VAR_OFF:
        return False
    hi = reg.umax + off
    return hi >= 0 and hi + size <= vs


def check_ctx_access(env, insn_idx: int, off: int, size: int, t: int, is_ldsx: bool):
    from ..ctx_access import BpfInsnAccessAux
    info = BpfInsnAccessAux(reg_type=SCALAR_VALUE, is_ldsx=is_ldsx, log=env.verbose)
    ok = False
    if env.ops is not None and env.ops.is_valid_access is not None:
        ok = env.ops.is_valid_access(off, size, t, env.prog, info)
    if ok:
        if base_type(info.reg_type) != PTR_TO_BTF_ID:
            env.insn_aux[insn_idx].ctx_field_size = info.ctx_field_size
        if env.max_ctx_offset < off + size:
            env.max_ctx_offset = off + size
        return info
    env.fail(errno.EACCES, f"invalid bpf_context access off={off} size={size}")


# -- stack ------------------------------------------------------------------------------------

def check_stack_access_within_bounds(env, regno: int, off: int, access_size: int, t: int,
                                     helper: bool = False) -> None:
    reg = env.cur_regs()[regno]
    state = env.func(reg)
    if t == BPF_READ:
        err_extra = " read from"
    else:
        err_extra = " write to"
    if tnum_is_const(reg.var_off):
        v = reg.var_off.value
        v = v - (1 << 64) if v >> 63 else v
        min_off = v + off
        max_off = min_off + access_size
    else:
        if reg.smax >= BPF_MAX_VAR_OFF or reg.smin <= -BPF_MAX_VAR_OFF:
            env.fail(errno.EACCES, f"invalid unbounded variable-offset{err_extra} stack R{regno}")
        min_off = reg.smin + off
        max_off = reg.smax + off + access_size
    if t == BPF_WRITE or env.allow_uninit_stack:
        min_valid = -MAX_BPF_STACK
    else:
        min_valid = -state.allocated_stack
    # check_stack_slot_within_bounds: EACCES; a range running past fp: EINVAL
    err = 0
    if min_off < min_valid or min_off > -1:
        err = errno.EACCES
    elif max_off > 0:
        err = errno.EINVAL
    elif access_size < 0:
        err = errno.EFAULT
    if err:
        if tnum_is_const(reg.var_off):
            env.fail(err, f"invalid{err_extra} stack R{regno} off={off} size={access_size}")
        env.fail(err, f"invalid variable-offset{err_extra} stack R{regno} "
                      f"var_off={tnum_strn(reg.var_off)} off={off} size={access_size}")
    grow_stack_state(env, state, -min_off)


def grow_stack_state(env, state, size: int) -> None:
    state.grow_stack(size)
    sub = env.subprogs[state.subprogno]
    if sub.stack_depth < state.allocated_stack:
        sub.stack_depth = state.allocated_stack


def check_stack_read(env, ptr_regno: int, off: int, size: int, dst_regno: int) -> None:
    reg = env.cur_regs()[ptr_regno]
    state = env.func(reg)
    var_off = not tnum_is_const(reg.var_off)
    if dst_regno < 0 and var_off:
        env.fail(errno.EACCES, "variable offset stack pointer cannot be passed into helper function; "
                               f"var_off={tnum_strn(reg.var_off)} off={off} size={size}")
    if not var_off:
        v = reg.var_off.value
        off += v - (1 << 64) if v >> 63 else v
        check_stack_read_fixed_off(env, state, off, size, dst_regno)
    else:
        check_stack_range_initialized(env, ptr_regno, off, size, False, BPF_READ, None)
        min_off = reg.smin + off
        max_off = reg.smax + off
        mark_reg_stack_read(env, state, min_off, max_off + size, dst_regno)


def mark_reg_stack_read(env, ptr_state, min_off: int, max_off: int, dst_regno: int) -> None:
    state = env.cur_state.frame[env.cur_state.curframe]
    zeros = 0
    for i in range(min_off, max_off):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        if ptr_state.stack[spi].slot_type[slot % BPF_REG_SIZE] != STACK_ZERO:
            break
        zeros += 1
    if zeros == max_off - min_off:
        __mark_reg_const_zero(state.regs[dst_regno])
    else:
        env.mark_reg_unknown(state.regs, dst_regno)


def check_stack_read_fixed_off(env, reg_state, off: int, size: int, dst_regno: int) -> None:
    state = env.cur_state.frame[env.cur_state.curframe]
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    st = reg_state.stack[spi]
    stype = st.slot_type
    reg = st.spilled_ptr
    env.mark_stack_slot_scratched(spi)
    if is_spilled_reg(st):
        spill_size = 1
        i = BPF_REG_SIZE - 1
        while i > 0 and stype[i - 1] == STACK_SPILL:
            spill_size += 1
            i -= 1
        if size != BPF_REG_SIZE or spill_size != BPF_REG_SIZE:
            if reg.type != SCALAR_VALUE:
                env.fail(errno.EACCES, "invalid size of register fill")
            if dst_regno < 0:
                return
            if size <= spill_size and _narrow_ok(off, size, spill_size):
                if env.bpf_capable and size == 4 and spill_size == 4 and get_reg_width(reg) <= 32:
                    env.assign_scalar_id_before_mov(reg)
                dr = state.regs[dst_regno]
                sd = dr.subreg_def
                dr.assign(reg)
                dr.subreg_def = sd
                if get_reg_width(reg) > size * 8:
                    dr.id = 0
            else:
                spill_cnt = zero_cnt = 0
                for i in range(size):
                    ty = stype[(slot - i) % BPF_REG_SIZE]
                    if ty == STACK_SPILL:
                        spill_cnt += 1
                        continue
                    if ty == STACK_MISC:
                        continue
                    if ty == STACK_ZERO:
                        zero_cnt += 1
                        continue
                    if ty == STACK_INVALID and env.allow_uninit_stack:
                        continue
                    env.fail(errno.EACCES, f"invalid read from stack off {off}+{i} size {size}")
                if spill_cnt == size and tnum_is_const(reg.var_off) and reg.var_off.value == 0:
                    __mark_reg_const_zero(state.regs[dst_regno])
                elif zero_cnt == size:
                    __mark_reg_const_zero(state.regs[dst_regno])
                else:
                    env.mark_reg_unknown(state.regs, dst_regno)
        elif dst_regno >= 0:
            if env.bpf_capable:
                env.assign_scalar_id_before_mov(reg)
            state.regs[dst_regno].assign(reg)
        elif reg.type != SCALAR_VALUE and not env.allow_ptr_leaks:
            env.fail(errno.EACCES, f"leaking pointer from stack off {off}")
    else:
        for i in range(size):
            ty = stype[(slot - i) % BPF_REG_SIZE]
            if ty in (STACK_MISC, STACK_ZERO):
                continue
            if ty == STACK_INVALID and env.allow_uninit_stack:
                continue
            env.fail(errno.EACCES, f"invalid read from stack off {off}+{i} size {size}")
        if dst_regno >= 0:
            mark_reg_stack_read(env, reg_state, off, off + size, dst_regno)


def _narrow_ok(off: int, size: int, spill_size: int) -> bool:
    """bpf_stack_narrow_access_ok: on little endian a narrow fill must start at the slot's
    lowest byte."""
    return off % BPF_REG_SIZE == 0


def check_stack_write(env, ptr_regno: int, off: int, size: int, value_regno: int, insn_idx: int) -> None:
    reg = env.cur_regs()[ptr_regno]
    state = env.func(reg)
    if tnum_is_const(reg.var_off):
        v = reg.var_off.value
        off += v - (1 << 64) if v >> 63 else v
        check_stack_write_fixed_off(env, state, off, size, value_regno, insn_idx)
    else:
        check_stack_write_var_off(env, state, ptr_regno, off, size, value_regno, insn_idx)


def _scrub(stype: list, i: int) -> None:
    if stype[i] != STACK_INVALID:
        stype[i] = STACK_MISC


def save_register_state(env, state, spi: int, reg: BpfRegState, size: int) -> None:
    st = state.stack[spi]
    st.spilled_ptr.assign(reg)
    i = BPF_REG_SIZE
    while i > BPF_REG_SIZE - size:
        st.slot_type[i - 1] = STACK_SPILL
        i -= 1
    while i:
        t = st.slot_type[i - 1]
        if t != STACK_ZERO and t != STACK_INVALID:      # mark_stack_slot_misc
            st.slot_type[i - 1] = STACK_MISC
        i -= 1


def check_stack_write_fixed_off(env, state, off: int, size: int, value_regno: int, insn_idx: int) -> None:
    cur = env.cur_state.frame[env.cur_state.curframe]
    slot = -off - 1
    spi = slot // BPF_REG_SIZE
    insn = env.insns[insn_idx]
    st = state.stack[spi]
    if not env.allow_ptr_leaks and is_spilled_reg(st) and not is_spilled_scalar_reg(st) and size != BPF_REG_SIZE:
        env.fail(errno.EACCES, "attempt to corrupt spilled pointer on stack")
    reg = cur.regs[value_regno] if value_regno >= 0 else None
    if not env.bypass_spec_v4:
        # a barrier after stores of pointers and over slots not already plain data (the kernel
        # looks at the first ``size`` slot bytes, whatever bytes the store covers)
        sanitize = reg is not None and is_spillable_regtype(reg.type)
        if not sanitize:
            sanitize = any(st.slot_type[i] not in (STACK_MISC, STACK_ZERO) for i in range(size))
        if sanitize:
            env.insn_aux[insn_idx].nospec_result = True
    env.mark_stack_slot_scratched(spi)
    is_st_mem = (insn.code & 7) == 2 and (insn.code & 0xE0) == 0x60
    if reg is not None and not (off % BPF_REG_SIZE) and reg.type == SCALAR_VALUE and env.bpf_capable:
        fits = get_reg_width(reg) <= 8 * size
        if fits:
            env.assign_scalar_id_before_mov(reg)
        save_register_state(env, state, spi, reg, size)
        if not fits:
            st.spilled_ptr.id = 0
    elif reg is None and not (off % BPF_REG_SIZE) and is_st_mem and env.bpf_capable:
        tmp = BpfRegState()
        __mark_reg_known(tmp, insn.imm)
        tmp.type = SCALAR_VALUE
        save_register_state(env, state, spi, tmp, size)
    elif reg is not None and is_spillable_regtype(reg.type):
        if size != BPF_REG_SIZE:
            env.fail(errno.EACCES, "invalid size of register spill")
        if state is not cur and reg.type == PTR_TO_STACK:
            env.fail(errno.EINVAL, "cannot spill pointers to stack into stack frame of the caller")
        save_register_state(env, state, spi, reg, size)
    else:
        ty = STACK_MISC
        st.spilled_ptr.type = NOT_INIT
        if st.slot_type[BPF_REG_SIZE - 1] in (STACK_SPILL, STACK_DYNPTR, STACK_ITER):
            for i in range(BPF_REG_SIZE):
                _scrub(st.slot_type, i)
        if (reg is not None and register_is_null(reg)) or (reg is None and is_st_mem and insn.imm == 0):
            ty = STACK_ZERO
        for i in range(size):
            st.slot_type[(slot - i) % BPF_REG_SIZE] = ty


def check_stack_write_var_off(env, state, ptr_regno: int, off: int, size: int, value_regno: int,
                              insn_idx: int) -> None:
    cur = env.cur_state.frame[env.cur_state.curframe]
    ptr_reg = cur.regs[ptr_regno]
    min_off = ptr_reg.smin + off
    max_off = ptr_reg.smax + off + size
    value_reg = cur.regs[value_regno] if value_regno >= 0 else None
    insn = env.insns[insn_idx]
    is_st_mem = (insn.code & 7) == 2
    writing_zero = (value_reg is not None and register_is_null(value_reg)) or \
                   (value_reg is None and is_st_mem and insn.imm == 0)
    for i in range(min_off, max_off):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        st = state.stack[spi]
        stype = st.slot_type
        j = slot % BPF_REG_SIZE
        env.mark_stack_slot_scratched(spi)
        if not env.allow_ptr_leaks and stype[j] not in (STACK_MISC, STACK_ZERO):
            env.fail(errno.EINVAL, f"spilled ptr in range of var-offset stack write; insn {insn_idx}, ptr off: {i}")
        if writing_zero and stype[j] == STACK_SPILL and is_spilled_scalar_reg(st):
            sr = st.spilled_ptr
            if tnum_is_const(sr.var_off) and sr.var_off.value == 0:
                continue
        st.spilled_ptr.type = NOT_INIT
        new_type = STACK_MISC
        if writing_zero and stype[j] == STACK_ZERO:
            new_type = STACK_ZERO
        if stype[j] == STACK_INVALID and not env.allow_uninit_stack:
            env.fail(errno.EINVAL, f"uninit stack in range of var-offset write prohibited for !root; insn {insn_idx}, off: {i}")
        stype[j] = new_type


def check_stack_range_initialized(env, regno: int, off: int, access_size: int,
                                  zero_size_allowed: bool, t: int, meta) -> None:
    reg = env.cur_regs()[regno]
    state = env.func(reg)
    clobber = t == BPF_WRITE
    if access_size == 0 and not zero_size_allowed:
        env.fail(errno.EACCES, "invalid zero-sized read")
    check_stack_access_within_bounds(env, regno, off, access_size, t, helper=True)
    if tnum_is_const(reg.var_off):
        v = reg.var_off.value
        min_off = max_off = (v - (1 << 64) if v >> 63 else v) + off
    else:
        if not env.bypass_spec_v1:
            env.fail(errno.EACCES, f"R{regno} variable offset stack access prohibited for !root, "
                                   f"var_off={tnum_strn(reg.var_off)}")
        if meta is not None and meta.raw_mode:
            meta = None
        min_off = reg.smin + off
        max_off = reg.smax + off
    if meta is not None and meta.raw_mode:
        meta.access_size = access_size
        meta.regno = regno
        return
    for i in range(min_off, max_off + access_size):
        slot = -i - 1
        spi = slot // BPF_REG_SIZE
        if state.allocated_stack <= slot:
            env.fail(errno.EFAULT, "allocated_stack too small")
        st = state.stack[spi]
        j = slot % BPF_REG_SIZE
        ty = st.slot_type[j]
        if ty == STACK_MISC:
            continue
        if ty == STACK_ZERO or (ty == STACK_INVALID and env.allow_uninit_stack):
            if clobber:
                st.slot_type[j] = STACK_MISC
            continue
        if is_spilled_reg(st) and (st.spilled_ptr.type == SCALAR_VALUE or env.allow_ptr_leaks):
            if clobber:
                __mark_reg_unknown(st.spilled_ptr, env.bpf_capable)
                for k in range(BPF_REG_SIZE):
                    _scrub(st.slot_type, k)
            continue
        if tnum_is_const(reg.var_off):
            env.fail(errno.EACCES, f"invalid read from stack R{regno} off {min_off}+{i - min_off} size {access_size}")
        env.fail(errno.EACCES, f"invalid read from stack R{regno} var_off {tnum_strn(reg.var_off)}+{i - min_off} size {access_size}")


# -- BTF pointers and map pointers ------------------------------------------------------------

def check_ptr_to_btf_access(env, regs, regno: int, off: int, size: int, t: int, value_regno: int,
                            insn_idx: int) -> None:
    reg = regs[regno]
    btf = reg.btf
    if off < 0:
        env.fail(errno.EACCES, f"R{regno} is ptr_{_tname(btf, reg.btf_id)} invalid negative access: off={off}")
    if not tnum_is_const(reg.var_off) or reg.var_off.value:
        env.fail(errno.EACCES, f"R{regno} is ptr_{_tname(btf, reg.btf_id)} invalid variable offset: "
                               f"off={off}, var_off={tnum_strn(reg.var_off)}")
    if t == BPF_WRITE:
        env.fail(errno.EACCES, "only read is supported")
    res = btf_struct_walk(env, btf, reg.btf_id, off, size)
    env.insn_aux[insn_idx].probe_mem = True
    if value_regno < 0:
        return
    vr = regs[value_regno]
    if res is None:
        env.mark_reg_unknown(regs, value_regno)
        return
    __mark_reg_known_zero(vr)
    flag = PTR_UNTRUSTED if not (reg.type & (PTR_TRUSTED | MEM_RCU)) else 0
    vr.type = PTR_TO_BTF_ID | flag
    vr.btf = btf
    vr.btf_id = res


def _tname(btf, tid: int) -> str:
    try:
        return btf.name_of(tid)
    except Exception:
        return ""


def btf_struct_walk(env, btf, type_id: int, off: int, size: int):
    """Walk struct ``type_id`` to the member at ``off``: the pointee id for a pointer-to-struct
    member read with size 8, None for a scalar. EACCES for an access outside the struct."""
    try:
        tid = btf.skip_mods_and_typedefs(type_id) if hasattr(btf, "skip_mods_and_typedefs") else btf.skip_modifiers(type_id)
        tsize = btf.resolve_size(tid)
    except Exception as e:  # noqa: BLE001
        raise BpfError(errno.EINVAL, "bad btf type") from e
    name = _tname(btf, tid)
    if off + size > tsize:
        env.fail(errno.EACCES, f"access beyond struct {name} at off {off} size {size}")
    try:
        for _ in range(32):
            t = btf.type_by_id(tid)
            kind = getattr(t, "kind", None)
            if kind not in (4, 5):   # STRUCT / UNION
                break
            found = False
            for m in btf.members(tid):
                moff = m.bit_offset // 8 if hasattr(m, "bit_offset") else m.offset // 8
                mtid = btf.skip_modifiers(m.type_id if hasattr(m, "type_id") else m.type)
                msize = btf.resolve_size(mtid)
                if moff <= off and off + size <= moff + msize:
                    mt = btf.type_by_id(mtid)
                    mkind = getattr(mt, "kind", None)
                    if mkind == 2:  # PTR
                        if off != moff or size != 8:
                            return None
                        pointee = btf.skip_modifiers(mt.type)
                        pk = btf.type_by_id(pointee).kind if pointee else 0
                        return pointee if pk in (4, 5) else None
                    off -= moff
                    tid = mtid
                    found = True
                    break
            if not found:
                return None
    except BpfError:
        raise
    except Exception:  # noqa: BLE001 - incomplete BTF: a scalar, read through probe memory
        return None
    return None


def check_ptr_to_map_access(env, regs, regno: int, off: int, size: int, t: int, value_regno: int) -> None:
    if t != BPF_READ:
        env.fail(errno.EACCES, "only read from bpf_map is supported")
    if off < 0:
        env.fail(errno.EACCES, f"R{regno} is bpf_map invalid negative access: off={off}")
    if value_regno >= 0:
        env.mark_reg_unknown(regs, value_regno)
