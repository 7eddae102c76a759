"""Register state: struct bpf_reg_state, the register types and the bounds bookkeeping
(include/linux/bpf_verifier.h, include/linux/bpf.h enum bpf_reg_type, kernel/bpf/verifier.c
__mark_reg_known, __mark_reg_unknown, reg_bounds_sync, __reg_deduce_bounds ...; 6.18).

A scalar carries five views of the same set of values that refine each other: a tnum ``var_off``
and the signed/unsigned 64-bit and 32-bit ranges. ``reg_bounds_sync`` is the kernel's fixed point:
tnum -> ranges (``__update_reg_bounds``), ranges -> each other (``__reg_deduce_bounds``, twice),
ranges -> tnum (``__reg_bound_offset``), and tnum -> ranges again.

Signed bounds are Python ints in [S64_MIN, S64_MAX] (s32 bounds in [S32_MIN, S32_MAX]); unsigned
ones in [0, U64_MAX]. ``_s64``/``_s32``/``_u32`` are the C casts.
"""

from ..helpers.proto import BpfRegType, BpfTypeFlag   # enum bpf_reg_type lives with the protos (bpf.h)
from .tnum import (Tnum, U32, U64, tnum_clear_subreg, tnum_const, tnum_intersect, tnum_is_const,
                   tnum_or, tnum_range, tnum_subreg, tnum_unknown)

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1

PTR_MAYBE_NULL = int(BpfTypeFlag.PTR_MAYBE_NULL)
MEM_RDONLY = int(BpfTypeFlag.MEM_RDONLY)
MEM_RINGBUF = int(BpfTypeFlag.MEM_RINGBUF)
MEM_USER = int(BpfTypeFlag.MEM_USER)
MEM_PERCPU = int(BpfTypeFlag.MEM_PERCPU)
PTR_UNTRUSTED = int(BpfTypeFlag.PTR_UNTRUSTED)
PTR_TRUSTED = int(BpfTypeFlag.PTR_TRUSTED)
MEM_RCU = int(BpfTypeFlag.MEM_RCU)
MEM_ALLOC = int(BpfTypeFlag.MEM_ALLOC)


# the register types as plain ints (the verifier's hot paths compare them millions of times)
NOT_INIT = int(BpfRegType.NOT_INIT)
SCALAR_VALUE = int(BpfRegType.SCALAR_VALUE)
PTR_TO_CTX = int(BpfRegType.PTR_TO_CTX)
CONST_PTR_TO_MAP = int(BpfRegType.CONST_PTR_TO_MAP)
PTR_TO_MAP_VALUE = int(BpfRegType.PTR_TO_MAP_VALUE)
PTR_TO_MAP_KEY = int(BpfRegType.PTR_TO_MAP_KEY)
PTR_TO_STACK = int(BpfRegType.PTR_TO_STACK)
PTR_TO_PACKET_META = int(BpfRegType.PTR_TO_PACKET_META)
PTR_TO_PACKET = int(BpfRegType.PTR_TO_PACKET)
PTR_TO_PACKET_END = int(BpfRegType.PTR_TO_PACKET_END)
PTR_TO_FLOW_KEYS = int(BpfRegType.PTR_TO_FLOW_KEYS)
PTR_TO_SOCKET = int(BpfRegType.PTR_TO_SOCKET)
PTR_TO_SOCK_COMMON = int(BpfRegType.PTR_TO_SOCK_COMMON)
PTR_TO_TCP_SOCK = int(BpfRegType.PTR_TO_TCP_SOCK)
PTR_TO_TP_BUFFER = int(BpfRegType.PTR_TO_TP_BUFFER)
PTR_TO_XDP_SOCK = int(BpfRegType.PTR_TO_XDP_SOCK)
PTR_TO_BTF_ID = int(BpfRegType.PTR_TO_BTF_ID)
PTR_TO_MEM = int(BpfRegType.PTR_TO_MEM)
PTR_TO_ARENA = int(BpfRegType.PTR_TO_ARENA)
PTR_TO_BUF = int(BpfRegType.PTR_TO_BUF)
PTR_TO_FUNC = int(BpfRegType.PTR_TO_FUNC)
CONST_PTR_TO_DYNPTR = int(BpfRegType.CONST_PTR_TO_DYNPTR)


def base_type(t: int) -> int:
    return t & 0xFF


def type_may_be_null(t: int) -> bool:
    return bool(t & PTR_MAYBE_NULL)


_REG_TYPE_NAMES = {
    NOT_INIT: "?", SCALAR_VALUE: "scalar", PTR_TO_CTX: "ctx", CONST_PTR_TO_MAP: "map_ptr",
    PTR_TO_MAP_VALUE: "map_value", PTR_TO_STACK: "fp", PTR_TO_PACKET: "pkt",
    PTR_TO_PACKET_META: "pkt_meta", PTR_TO_PACKET_END: "pkt_end", PTR_TO_FLOW_KEYS: "flow_keys",
    PTR_TO_SOCKET: "sock", PTR_TO_SOCK_COMMON: "sock_common", PTR_TO_TCP_SOCK: "tcp_sock",
    PTR_TO_TP_BUFFER: "tp_buffer", PTR_TO_XDP_SOCK: "xdp_sock", PTR_TO_BTF_ID: "ptr_",
    PTR_TO_MEM: "mem", PTR_TO_ARENA: "arena", PTR_TO_BUF: "buf", PTR_TO_FUNC: "func",
    PTR_TO_MAP_KEY: "map_key", CONST_PTR_TO_DYNPTR: "dynptr_ptr",
}


def reg_type_str(t: int) -> str:
    """log.c reg_type_str: "map_value_or_null", "rdonly_mem", "trusted_ptr_", "ptr_or_null_"."""
    postfix = ""
    if t & PTR_MAYBE_NULL:
        postfix = "or_null_" if base_type(t) == PTR_TO_BTF_ID else "_or_null"
    prefix = ("rdonly_" if t & MEM_RDONLY else "") + ("ringbuf_" if t & MEM_RINGBUF else "") + \
             ("user_" if t & MEM_USER else "") + ("percpu_" if t & MEM_PERCPU else "") + \
             ("rcu_" if t & MEM_RCU else "") + ("untrusted_" if t & PTR_UNTRUSTED else "") + \
             ("trusted_" if t & PTR_TRUSTED else "")
    return prefix + _REG_TYPE_NAMES.get(base_type(t), "?") + postfix


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def _u32(x: int) -> int:
    return x & U32


def _u64(x: int) -> int:
    return x & U64


class BpfRegState:
    """struct bpf_reg_state."""

    __slots__ = ("type", "off", "var_off", "smin", "smax", "umin", "umax", "s32_min", "s32_max",
                 "u32_min", "u32_max", "id", "ref_obj_id", "map_ptr", "map_uid", "btf", "btf_id",
                 "mem_size", "range", "subprogno", "frameno", "precise", "subreg_def")

    def __init__(self):
        self.type = NOT_INIT
        self.off = 0
        self.var_off = tnum_unknown
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = S32_MIN, S32_MAX, 0, U32
        self.id = 0
        self.ref_obj_id = 0
        self.map_ptr = None        # BpfMap for map_ptr / map_value / map_key
        self.map_uid = 0
        self.btf = None            # Btf for PTR_TO_BTF_ID
        self.btf_id = 0
        self.mem_size = 0          # PTR_TO_MEM / PTR_TO_BUF size
        self.range = 0             # packet range
        self.subprogno = 0         # PTR_TO_FUNC
        self.frameno = 0           # PTR_TO_STACK: which frame
        self.precise = False
        self.subreg_def = 0

    def copy(self) -> "BpfRegState":
        r = BpfRegState.__new__(BpfRegState)
        r.type, r.off, r.var_off = self.type, self.off, self.var_off
        r.smin, r.smax, r.umin, r.umax = self.smin, self.smax, self.umin, self.umax
        r.s32_min, r.s32_max, r.u32_min, r.u32_max = self.s32_min, self.s32_max, self.u32_min, self.u32_max
        r.id, r.ref_obj_id, r.map_ptr, r.map_uid = self.id, self.ref_obj_id, self.map_ptr, self.map_uid
        r.btf, r.btf_id, r.mem_size, r.range = self.btf, self.btf_id, self.mem_size, self.range
        r.subprogno, r.frameno, r.precise, r.subreg_def = self.subprogno, self.frameno, self.precise, self.subreg_def
        return r

    def assign(self, o: "BpfRegState") -> None:
        """*self = *o (copy_register_state)."""
        self.type, self.off, self.var_off = o.type, o.off, o.var_off
        self.smin, self.smax, self.umin, self.umax = o.smin, o.smax, o.umin, o.umax
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = o.s32_min, o.s32_max, o.u32_min, o.u32_max
        self.id, self.ref_obj_id, self.map_ptr, self.map_uid = o.id, o.ref_obj_id, o.map_ptr, o.map_uid
        self.btf, self.btf_id, self.mem_size, self.range = o.btf, o.btf_id, o.mem_size, o.range
        self.subprogno, self.frameno, self.precise, self.subreg_def = o.subprogno, o.frameno, o.precise, o.subreg_def

    def bounds(self) -> tuple:
        return (self.var_off, self.smin, self.smax, self.umin, self.umax,
                self.s32_min, self.s32_max, self.u32_min, self.u32_max)

    def key(self) -> tuple:
        """Everything that identifies the state (states_maybe_looping's memcmp)."""
        return (self.type, self.off, self.var_off, self.smin, self.smax, self.umin, self.umax,
                self.s32_min, self.s32_max, self.u32_min, self.u32_max, self.id, self.ref_obj_id,
                id(self.map_ptr), self.btf_id, self.mem_size, self.range, self.subprogno, self.frameno)

    def __repr__(self) -> str:
        return (f"<Reg {reg_type_str(self.type)} off={self.off} var_off={self.var_off} "
                f"s=[{self.smin},{self.smax}] u=[{self.umin},{self.umax}] "
                f"s32=[{self.s32_min},{self.s32_max}] u32=[{self.u32_min},{self.u32_max}] id={self.id}>")


# -- marking ----------------------------------------------------------------------------------

def ___mark_reg_known(reg: BpfRegState, imm: int) -> None:
    imm &= U64
    reg.var_off = Tnum(imm, 0)
    reg.smin = reg.smax = _s64(imm)
    reg.umin = reg.umax = imm
    reg.s32_min = reg.s32_max = _s32(imm)
    reg.u32_min = reg.u32_max = imm & U32


def __mark_reg_known(reg: BpfRegState, imm: int) -> None:
    """Mark the unknown part of a register (variable offset or scalar value) as known to be imm;
    clears the pointer-specific fields the way the kernel's memset of the tail does."""
    reg.off = 0
    reg.id = 0
    reg.ref_obj_id = 0
    reg.map_ptr = None
    reg.btf = None
    reg.btf_id = 0
    reg.mem_size = 0
    reg.range = 0
    ___mark_reg_known(reg, imm)


def __mark_reg32_known(reg: BpfRegState, imm: int) -> None:
    reg.var_off = Tnum((reg.var_off.value & ~U32 & U64) | (imm & U32), reg.var_off.mask & ~U32 & U64)
    reg.s32_min = reg.s32_max = _s32(imm)
    reg.u32_min = reg.u32_max = imm & U32


def __mark_reg_known_zero(reg: BpfRegState) -> None:
    __mark_reg_known(reg, 0)


def __mark_reg_const_zero(reg: BpfRegState) -> None:
    __mark_reg_known(reg, 0)
    reg.type = SCALAR_VALUE
    reg.precise = False


def mark_reg_known_zero(reg: BpfRegState) -> None:
    __mark_reg_known_zero(reg)


def __mark_reg64_unbounded(reg: BpfRegState) -> None:
    reg.smin, reg.smax, reg.umin, reg.umax = S64_MIN, S64_MAX, 0, U64


def __mark_reg32_unbounded(reg: BpfRegState) -> None:
    reg.s32_min, reg.s32_max, reg.u32_min, reg.u32_max = S32_MIN, S32_MAX, 0, U32


def __mark_reg_unbounded(reg: BpfRegState) -> None:
    __mark_reg64_unbounded(reg)
    __mark_reg32_unbounded(reg)


def __mark_reg_unknown_imprecise(reg: BpfRegState) -> None:
    """Clear everything but frameno/subreg_def: an unknown scalar."""
    reg.type = SCALAR_VALUE
    reg.off = 0
    reg.id = 0
    reg.ref_obj_id = 0
    reg.map_ptr = None
    reg.map_uid = 0
    reg.btf = None
    reg.btf_id = 0
    reg.mem_size = 0
    reg.range = 0
    reg.subprogno = 0
    reg.var_off = tnum_unknown
    reg.frameno = 0
    reg.precise = False
    __mark_reg_unbounded(reg)


def __mark_reg_unknown(reg: BpfRegState, bpf_capable: bool = True) -> None:
    __mark_reg_unknown_imprecise(reg)
    reg.precise = not bpf_capable


def __mark_reg_not_init(reg: BpfRegState) -> None:
    __mark_reg_unknown_imprecise(reg)
    reg.type = NOT_INIT


def mark_reg_unknown(reg: BpfRegState) -> None:
    __mark_reg_unknown(reg)


def __mark_reg_s32_range(reg: BpfRegState, smin: int, smax: int) -> None:
    reg.smin = max(reg.smin, smin)
    reg.smax = min(reg.smax, smax)
    reg.s32_min = max(reg.s32_min, smin)
    reg.s32_max = min(reg.s32_max, smax)
    reg_bounds_sync(reg)


# -- bounds -----------------------------------------------------------------------------------

def __update_reg32_bounds(reg: BpfRegState) -> None:
    v = reg.var_off.value & U32
    m = reg.var_off.mask & U32
    reg.s32_min = max(reg.s32_min, _s32(v | (m & 0x80000000)))
    reg.s32_max = min(reg.s32_max, _s32(v | (m & 0x7FFFFFFF)))
    reg.u32_min = max(reg.u32_min, v)
    reg.u32_max = min(reg.u32_max, v | m)


def __update_reg64_bounds(reg: BpfRegState) -> None:
    v, m = reg.var_off
    reg.smin = max(reg.smin, _s64(v | (m & (1 << 63))))
    reg.smax = min(reg.smax, _s64(v | (m & S64_MAX)))
    reg.umin = max(reg.umin, v)
    reg.umax = min(reg.umax, v | m)


def __update_reg_bounds(reg: BpfRegState) -> None:
    __update_reg32_bounds(reg)
    __update_reg64_bounds(reg)


def __reg32_deduce_bounds(reg: BpfRegState) -> None:
    umin, umax, smin, smax = reg.umin, reg.umax, reg.smin, reg.smax
    if (umin >> 32) == (umax >> 32):
        reg.u32_min = max(reg.u32_min, umin & U32)
        reg.u32_max = min(reg.u32_max, umax & U32)
        if _s32(umin) <= _s32(umax):
            reg.s32_min = max(reg.s32_min, _s32(umin))
            reg.s32_max = min(reg.s32_max, _s32(umax))
    if (smin >> 32) == (smax >> 32):
        if (smin & U32) <= (smax & U32):
            reg.u32_min = max(reg.u32_min, smin & U32)
            reg.u32_max = min(reg.u32_max, smax & U32)
        if _s32(smin) <= _s32(smax):
            reg.s32_min = max(reg.s32_min, _s32(smin))
            reg.s32_max = min(reg.s32_max, _s32(smax))
    if ((umin >> 32) + 1) & U32 == (umax >> 32) & U32 and _s32(umin) < 0 and _s32(umax) >= 0:
        reg.s32_min = max(reg.s32_min, _s32(umin))
        reg.s32_max = min(reg.s32_max, _s32(umax))
    if (((smin >> 32) + 1) & U32) == ((smax >> 32) & U32) and _s32(smin) < 0 and _s32(smax) >= 0:
        reg.s32_min = max(reg.s32_min, _s32(smin))
        reg.s32_max = min(reg.s32_max, _s32(smax))
    if _s32(reg.u32_min) <= _s32(reg.u32_max):
        reg.s32_min = max(reg.s32_min, _s32(reg.u32_min))
        reg.s32_max = min(reg.s32_max, _s32(reg.u32_max))
    if (reg.s32_min & U32) <= (reg.s32_max & U32):
        reg.u32_min = max(reg.s32_min & U32, reg.u32_min)
        reg.u32_max = min(reg.s32_max & U32, reg.u32_max)


def __reg64_deduce_bounds(reg: BpfRegState) -> None:
    if _s64(reg.umin) <= _s64(reg.umax):
        reg.smin = max(reg.smin, _s64(reg.umin))
        reg.smax = min(reg.smax, _s64(reg.umax))
    if _u64(reg.smin) <= _u64(reg.smax):
        reg.umin = max(_u64(reg.smin), reg.umin)
        reg.umax = min(_u64(reg.smax), reg.umax)
    else:
        if reg.umax < _u64(reg.smin):
            reg.smin = _s64(reg.umin)
            reg.umax = min(reg.umax, _u64(reg.smax))
        elif _u64(reg.smax) < reg.umin:
            reg.smax = _s64(reg.umax)
            reg.umin = max(reg.umin, _u64(reg.smin))


def __reg_deduce_mixed_bounds(reg: BpfRegState) -> None:
    new_umin = (reg.umin & ~U32 & U64) | reg.u32_min
    new_umax = (reg.umax & ~U32 & U64) | reg.u32_max
    reg.umin = max(reg.umin, new_umin)
    reg.umax = min(reg.umax, new_umax)
    new_smin = _s64((_u64(reg.smin) & ~U32 & U64) | reg.u32_min)
    new_smax = _s64((_u64(reg.smax) & ~U32 & U64) | reg.u32_max)
    reg.smin = max(reg.smin, new_smin)
    reg.smax = min(reg.smax, new_smax)
    if reg.s32_min >= 0 and reg.smin >= S32_MIN and reg.smax <= S32_MAX:
        reg.smin = reg.s32_min
        reg.smax = reg.s32_max
        reg.umin = reg.s32_min
        reg.umax = reg.s32_max
        reg.var_off = tnum_intersect(reg.var_off, tnum_range(reg.smin, reg.smax))


def __reg_deduce_bounds(reg: BpfRegState) -> None:
    __reg32_deduce_bounds(reg)
    __reg64_deduce_bounds(reg)
    __reg_deduce_mixed_bounds(reg)


def __reg_bound_offset(reg: BpfRegState) -> None:
    var64_off = tnum_intersect(reg.var_off, tnum_range(reg.umin, reg.umax))
    var32_off = tnum_intersect(tnum_subreg(var64_off), tnum_range(reg.u32_min, reg.u32_max))
    reg.var_off = tnum_or(tnum_clear_subreg(var64_off), var32_off)


def reg_bounds_sync(reg: BpfRegState) -> None:
    v, m = reg.var_off
    if not m:
        # a known value: the fixed point is the value in every view, when the ranges hold it
        sv = v - (1 << 64) if v >> 63 else v
        v32 = v & U32
        s32 = v32 - (1 << 32) if v32 >> 31 else v32
        if reg.umin <= v <= reg.umax and reg.smin <= sv <= reg.smax and \
                reg.u32_min <= v32 <= reg.u32_max and reg.s32_min <= s32 <= reg.s32_max:
            reg.umin = reg.umax = v
            reg.smin = reg.smax = sv
            reg.u32_min = reg.u32_max = v32
            reg.s32_min = reg.s32_max = s32
            return
    __update_reg_bounds(reg)
    __reg_deduce_bounds(reg)
    __reg_deduce_bounds(reg)
    __reg_bound_offset(reg)
    __update_reg_bounds(reg)


def reg_bounds_sane(reg: BpfRegState) -> bool:
    """reg_bounds_sanity_check without the message: min <= max everywhere and the tnum agrees."""
    if reg.type != SCALAR_VALUE:
        return True
    if reg.umin > reg.umax or reg.smin > reg.smax or reg.u32_min > reg.u32_max or reg.s32_min > reg.s32_max:
        return False
    if tnum_is_const(reg.var_off):
        v = reg.var_off.value
        if not (reg.umin == reg.umax == v and reg.smin == reg.smax == _s64(v)):
            return False
    v, m = reg.var_off
    if reg.umin > (v | m) or reg.umax < v:
        return False
    return True


def __reg32_bound_s64(a: int) -> bool:
    return 0 <= a <= S32_MAX


def __reg_assign_32_into_64(reg: BpfRegState) -> None:
    reg.umin = reg.u32_min
    reg.umax = reg.u32_max
    if __reg32_bound_s64(reg.s32_min) and __reg32_bound_s64(reg.s32_max):
        reg.smin = reg.s32_min
        reg.smax = reg.s32_max
    else:
        reg.smin = 0
        reg.smax = U32


def zext_32_to_64(reg: BpfRegState) -> None:
    reg.var_off = tnum_subreg(reg.var_off)
    __reg_assign_32_into_64(reg)


def _sext(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def set_sext64_default_val(reg: BpfRegState, size: int) -> None:
    lo, hi = -(1 << (size * 8 - 1)), (1 << (size * 8 - 1)) - 1
    reg.smin = reg.s32_min = lo
    reg.smax = reg.s32_max = hi
    reg.umin = reg.u32_min = 0
    reg.umax = U64
    reg.u32_max = U32
    reg.var_off = tnum_unknown


def coerce_reg_to_size(reg: BpfRegState, size: int) -> None:
    """A B/H/W load or truncation: the upper bytes are known zero."""
    from .tnum import tnum_cast
    reg.var_off = tnum_cast(reg.var_off, size)
    mask = (1 << (size * 8)) - 1
    if (reg.umin & ~mask) == (reg.umax & ~mask):
        reg.umin &= mask
        reg.umax &= mask
    else:
        reg.umin = 0
        reg.umax = mask
    reg.smin = reg.umin
    reg.smax = reg.umax
    if size < 4:
        __mark_reg32_unbounded(reg)
    reg_bounds_sync(reg)


def coerce_reg_to_size_sx(reg: BpfRegState, size: int) -> None:
    """Sign-extending load / MOVSX to 64 bits (verifier.c coerce_reg_to_size_sx)."""
    bits = size * 8
    if tnum_is_const(reg.var_off):
        v = _sext(reg.var_off.value, bits)
        reg.var_off = tnum_const(v)
        reg.smin = reg.smax = v
        reg.umin = reg.umax = _u64(v)
        reg.s32_min = reg.s32_max = _s32(v)
        reg.u32_min = reg.u32_max = _u32(v)
        return
    top_smax = (_u64(reg.smax) >> bits) << bits
    top_smin = (_u64(reg.smin) >> bits) << bits
    if top_smax == top_smin:
        a, b = _sext(reg.smax, bits), _sext(reg.smin, bits)
        s64_max, s64_min = max(a, b), min(a, b)
        if (s64_max >= 0) == (s64_min >= 0):
            reg.s32_min = _s32(s64_min)
            reg.smin = s64_min
            reg.s32_max = _s32(s64_max)
            reg.smax = s64_max
            reg.u32_min = _u32(s64_min)
            reg.umin = _u64(s64_min)
            reg.u32_max = _u32(s64_max)
            reg.umax = _u64(s64_max)
            reg.var_off = tnum_range(_u64(s64_min), _u64(s64_max))
            return
    set_sext64_default_val(reg, size)


def coerce_subreg_to_size_sx(reg: BpfRegState, size: int) -> None:
    """W = (s8/s16) W: sign-extend within the low 32 bits (coerce_subreg_to_size_sx)."""
    bits = size * 8
    if tnum_is_const(reg.var_off):
        v = _sext(reg.var_off.value, bits)
        reg.var_off = tnum_const(v)
        reg.s32_min = reg.s32_max = _s32(v)
        reg.u32_min = reg.u32_max = _u32(v)
        return
    top_smax = (_u32(reg.s32_max) >> bits) << bits
    top_smin = (_u32(reg.s32_min) >> bits) << bits
    if top_smax == top_smin:
        a, b = _sext(reg.s32_max, bits), _sext(reg.s32_min, bits)
        s32_max, s32_min = max(a, b), min(a, b)
        if (s32_min >= 0) == (s32_max >= 0):
            reg.s32_min, reg.s32_max = s32_min, s32_max
            reg.u32_min, reg.u32_max = _u32(s32_min), _u32(s32_max)
            reg.var_off = tnum_subreg(tnum_range(_u64(s32_min), _u64(s32_max)))
            return
    reg.s32_min = -(1 << (bits - 1))
    reg.s32_max = (1 << (bits - 1)) - 1
    reg.u32_min = 0
    reg.u32_max = U32
    reg.var_off = tnum_subreg(tnum_unknown)


def tnum_subreg_is_const_(t: Tnum) -> bool:
    return not (t.mask & U32)


def is_reg_const(reg: BpfRegState, subreg32: bool) -> bool:
    if reg.type != SCALAR_VALUE:
        return False
    return tnum_subreg_is_const_(reg.var_off) if subreg32 else tnum_is_const(reg.var_off)


def reg_const_value(reg: BpfRegState, subreg32: bool) -> int:
    return reg.var_off.value & U32 if subreg32 else reg.var_off.value


def register_is_null(reg: BpfRegState) -> bool:
    return reg.type == SCALAR_VALUE and tnum_is_const(reg.var_off) and reg.var_off.value == 0


def get_reg_width(reg: BpfRegState) -> int:
    return reg.umax.bit_length()
