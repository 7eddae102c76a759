"""Verifier states and their comparison: struct bpf_stack_state, bpf_func_state,
bpf_verifier_state; copy_verifier_state, states_equal, regsafe, stacksafe, refsafe
(include/linux/bpf_verifier.h; kernel/bpf/verifier.c, 6.18).

A state is the abstract machine at one instruction: per call frame the eleven registers and the
stack in 8-byte slots (each byte typed STACK_INVALID/SPILL/MISC/ZERO, a spilled register's full
state kept with the slot), plus the references held (ringbuf reservations) across frames.

Pruning: an explored state ``old`` that reached exit safely subsumes the current state ``cur``
when every live register and every used stack byte of ``old`` is at least as general as in
``cur`` (``regsafe``: same pointer type and offset, scalar ranges of cur inside old's, tnum_in;
ids mapped consistently). We do not track precision marks: every scalar is compared as if it
were precise (a documented difference: fewer prunes, more processed instructions than Linux,
never a wrong verdict).
"""

from .reg_state import (NOT_INIT, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_BUF,
                        PTR_TO_TP_BUFFER, PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META,
                        SCALAR_VALUE, BpfRegState, base_type, __mark_reg_unknown)
from .tnum import tnum_in

STACK_INVALID, STACK_SPILL, STACK_MISC, STACK_ZERO, STACK_DYNPTR, STACK_ITER, STACK_IRQ_FLAG = range(7)
SLOT_TYPE_CHAR = "?rm0dii"
BPF_REG_SIZE = 8
MAX_BPF_REG = 11


class BpfStackState:
    """struct bpf_stack_state: one 8-byte slot."""

    __slots__ = ("spilled_ptr", "slot_type")

    def __init__(self):
        self.spilled_ptr = BpfRegState()
        self.slot_type = [STACK_INVALID] * BPF_REG_SIZE

    def copy(self) -> "BpfStackState":
        s = BpfStackState.__new__(BpfStackState)
        s.spilled_ptr = self.spilled_ptr.copy()
        s.slot_type = self.slot_type[:]
        return s


def is_spilled_reg(st: BpfStackState) -> bool:
    return st.slot_type[BPF_REG_SIZE - 1] == STACK_SPILL


def is_spilled_scalar_reg(st: BpfStackState) -> bool:
    return st.slot_type[BPF_REG_SIZE - 1] == STACK_SPILL and st.spilled_ptr.type == SCALAR_VALUE


def is_spilled_scalar_reg64(st: BpfStackState) -> bool:
    return (is_spilled_scalar_reg(st) and st.slot_type[0] == STACK_SPILL)


class BpfFuncState:
    """struct bpf_func_state: one call frame."""

    __slots__ = ("regs", "stack", "allocated_stack", "frameno", "callsite", "subprogno",
                 "callback_depth", "in_callback_fn")

    def __init__(self, frameno: int = 0, callsite: int = -1, subprogno: int = 0):
        self.regs = [BpfRegState() for _ in range(MAX_BPF_REG)]
        self.stack: list[BpfStackState] = []
        self.allocated_stack = 0
        self.frameno = frameno
        self.callsite = callsite
        self.subprogno = subprogno
        self.callback_depth = 0
        self.in_callback_fn = False

    def copy(self) -> "BpfFuncState":
        f = BpfFuncState.__new__(BpfFuncState)
        f.regs = [r.copy() for r in self.regs]
        f.stack = [s.copy() for s in self.stack]
        f.allocated_stack = self.allocated_stack
        f.frameno, f.callsite, f.subprogno = self.frameno, self.callsite, self.subprogno
        f.callback_depth = self.callback_depth
        f.in_callback_fn = self.in_callback_fn
        return f

    def grow_stack(self, size: int) -> None:
        """grow_stack_state: ``size`` bytes below fp (rounded up to 8)."""
        size = (size + 7) // 8 * 8
        n = size // 8
        while len(self.stack) < n:
            self.stack.append(BpfStackState())
        if self.allocated_stack < size:
            self.allocated_stack = size


class BpfReferenceState:
    """struct bpf_reference_state."""

    __slots__ = ("type", "id", "insn_idx")

    def __init__(self, type_: int, id_: int, insn_idx: int):
        self.type, self.id, self.insn_idx = type_, id_, insn_idx


REF_TYPE_PTR = 1


class BpfVerifierState:
    """struct bpf_verifier_state."""

    __slots__ = ("frame", "curframe", "refs", "parent", "branches", "insn_idx", "first_insn_idx",
                 "last_insn_idx", "speculative", "live_regs", "may_goto_depth", "hit_cnt",
                 "miss_cnt", "loop_key", "written")

    def __init__(self):
        self.frame: list[BpfFuncState] = []
        self.curframe = 0
        self.refs: list[BpfReferenceState] = []
        self.parent: "BpfVerifierState | None" = None
        self.branches = 1
        self.insn_idx = 0
        self.first_insn_idx = 0
        self.last_insn_idx = -1
        self.speculative = False
        self.live_regs = 0x7FF
        self.may_goto_depth = 0
        self.hit_cnt = 0
        self.miss_cnt = 0
        self.loop_key = None
        self.written = 0              # registers written since the last checkpoint (precision)

    def copy(self) -> "BpfVerifierState":
        s = BpfVerifierState.__new__(BpfVerifierState)
        s.frame = [f.copy() for f in self.frame]
        s.curframe = self.curframe
        s.refs = [BpfReferenceState(r.type, r.id, r.insn_idx) for r in self.refs]
        s.parent = self.parent
        s.branches = self.branches
        s.insn_idx, s.first_insn_idx, s.last_insn_idx = self.insn_idx, self.first_insn_idx, self.last_insn_idx
        s.speculative = self.speculative
        s.live_regs = self.live_regs
        s.may_goto_depth = self.may_goto_depth
        s.hit_cnt = s.miss_cnt = 0
        s.loop_key = None
        s.written = self.written
        return s

    @property
    def cur(self) -> BpfFuncState:
        return self.frame[self.curframe]


# -- comparison -------------------------------------------------------------------------------

class IdMap:
    """struct bpf_idmap: old id -> cur id, consistent within one comparison."""

    __slots__ = ("map", "rev", "tmp")

    def __init__(self):
        self.map: dict[int, int] = {}
        self.rev: dict[int, int] = {}
        self.tmp = 1 << 40

    def check_ids(self, old_id: int, cur_id: int) -> bool:
        if not old_id and not cur_id:
            return True
        if not old_id or not cur_id:
            return False
        m = self.map.get(old_id)
        if m is None:
            if cur_id in self.rev:
                return False
            self.map[old_id] = cur_id
            self.rev[cur_id] = old_id
            return True
        return m == cur_id

    def check_scalar_ids(self, old_id: int, cur_id: int) -> bool:
        """An id-less scalar gets a fresh temporary id (verifier.c check_scalar_ids)."""
        if not old_id:
            self.tmp += 1
            old_id = self.tmp
        if not cur_id:
            self.tmp += 1
            cur_id = self.tmp
        return self.check_ids(old_id, cur_id)


def range_within(old: BpfRegState, cur: BpfRegState) -> bool:
    return (old.umin <= cur.umin and old.umax >= cur.umax and old.smin <= cur.smin
            and old.smax >= cur.smax and old.u32_min <= cur.u32_min and old.u32_max >= cur.u32_max
            and old.s32_min <= cur.s32_min and old.s32_max >= cur.s32_max)


def _same_head(old: BpfRegState, cur: BpfRegState) -> bool:
    """memcmp up to var_off: type, off and the pointer union (map, btf id, mem size, range)."""
    return (old.type == cur.type and old.off == cur.off and old.map_ptr is cur.map_ptr
            and old.btf_id == cur.btf_id and old.mem_size == cur.mem_size
            and old.range == cur.range and old.subprogno == cur.subprogno)


def regs_exact(old: BpfRegState, cur: BpfRegState, idmap: IdMap) -> bool:
    return (_same_head(old, cur) and old.var_off == cur.var_off and old.bounds() == cur.bounds()
            and idmap.check_ids(old.id, cur.id) and idmap.check_ids(old.ref_obj_id, cur.ref_obj_id))


def regsafe(old: BpfRegState, cur: BpfRegState, idmap: IdMap, exact: bool = False) -> bool:
    if exact:
        return old.type == cur.type and regs_exact(old, cur, idmap)
    if old.type == NOT_INIT:
        return True
    if old.type != cur.type:
        return False
    b = base_type(old.type)
    if b == SCALAR_VALUE:
        if (old.id & (3 << 30)) != (cur.id & (3 << 30)):
            return False
        if (old.id & (3 << 30)) and old.off != cur.off:
            return False
        if not idmap.check_scalar_ids(old.id, cur.id):
            return False
        return range_within(old, cur) and tnum_in(old.var_off, cur.var_off)
    if b in (PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_BUF, PTR_TO_TP_BUFFER):
        return (_same_head(old, cur) and range_within(old, cur) and tnum_in(old.var_off, cur.var_off)
                and idmap.check_ids(old.id, cur.id) and idmap.check_ids(old.ref_obj_id, cur.ref_obj_id))
    if b in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if old.range > cur.range:
            return False
        return (old.off == cur.off and range_within(old, cur) and tnum_in(old.var_off, cur.var_off)
                and idmap.check_ids(old.id, cur.id))
    if b == PTR_TO_STACK:
        return regs_exact(old, cur, idmap) and old.frameno == cur.frameno
    return regs_exact(old, cur, idmap)


def _scalar_reg_for_stack(st: BpfStackState, allow_uninit: bool) -> BpfRegState | None:
    if is_spilled_scalar_reg64(st):
        return st.spilled_ptr
    if all(t == STACK_MISC or (allow_uninit and t == STACK_INVALID) for t in st.slot_type) and \
            any(t == STACK_MISC for t in st.slot_type):
        r = BpfRegState()
        __mark_reg_unknown(r)
        return r
    return None


def stacksafe(old: BpfFuncState, cur: BpfFuncState, idmap: IdMap, allow_uninit: bool,
              exact: bool = False) -> bool:
    i = 0
    n = old.allocated_stack
    while i < n:
        spi = i // BPF_REG_SIZE
        j = i % BPF_REG_SIZE
        ot = old.stack[spi].slot_type[j]
        if exact:
            if i >= cur.allocated_stack or ot != cur.stack[spi].slot_type[j]:
                return False
        if ot == STACK_INVALID:
            i += 1
            continue
        if allow_uninit and ot == STACK_MISC:
            i += 1
            continue
        if i >= cur.allocated_stack:
            return False
        if j == 0:
            oreg = _scalar_reg_for_stack(old.stack[spi], allow_uninit)
            creg = _scalar_reg_for_stack(cur.stack[spi], allow_uninit)
            if oreg is not None and creg is not None:
                if not regsafe(oreg, creg, idmap, exact):
                    return False
                i += BPF_REG_SIZE
                continue
        ct = cur.stack[spi].slot_type[j]
        if ot == STACK_MISC and ct == STACK_ZERO:
            i += 1
            continue
        if ot != ct:
            return False
        if j != BPF_REG_SIZE - 1:
            i += 1
            continue
        if ot == STACK_SPILL:
            if not regsafe(old.stack[spi].spilled_ptr, cur.stack[spi].spilled_ptr, idmap, exact):
                return False
        elif ot not in (STACK_MISC, STACK_ZERO, STACK_INVALID):
            return False
        i += 1
    return True


def refsafe(old: BpfVerifierState, cur: BpfVerifierState, idmap: IdMap) -> bool:
    if len(old.refs) != len(cur.refs):
        return False
    for a, b in zip(old.refs, cur.refs):
        if a.type != b.type or not idmap.check_ids(a.id, b.id):
            return False
    return True


def func_states_equal(old: BpfFuncState, cur: BpfFuncState, live_regs: int, idmap: IdMap,
                      allow_uninit: bool, exact: bool = False) -> bool:
    if old.callback_depth > cur.callback_depth or old.in_callback_fn != cur.in_callback_fn:
        return False
    for i in range(MAX_BPF_REG):
        if (live_regs >> i) & 1 and not regsafe(old.regs[i], cur.regs[i], idmap, exact):
            return False
    return stacksafe(old, cur, idmap, allow_uninit, exact)


def states_equal(old: BpfVerifierState, cur: BpfVerifierState, allow_uninit: bool,
                 exact: bool = False) -> bool:
    if old.curframe != cur.curframe:
        return False
    if old.speculative and not cur.speculative:
        return False
    idmap = IdMap()
    if not refsafe(old, cur, idmap):
        return False
    for i in range(old.curframe + 1):
        if old.frame[i].callsite != cur.frame[i].callsite:
            return False
        live = old.live_regs if i == old.curframe else 0x7FF
        if not func_states_equal(old.frame[i], cur.frame[i], live, idmap, allow_uninit, exact):
            return False
    return True


def states_maybe_looping(old: BpfVerifierState, cur: BpfVerifierState) -> bool:
    fr = cur.curframe
    if old.curframe != fr:
        return False
    fo, fc = old.frame[fr], cur.frame[fr]
    for i in range(MAX_BPF_REG):
        if fo.regs[i].key() != fc.regs[i].key():
            return False
    return True
