"""The program's shape before abstract interpretation: subprograms, the control-flow check and
static register liveness (kernel/bpf/verifier.c add_subprog_and_kfunc, check_subprogs, push_insn,
visit_insn, check_cfg, compute_live_registers; 6.18).

``check_cfg`` is the kernel's non-recursive DFS: every edge target must be inside the program,
a back-edge is allowed only for bpf_capable loaders, every instruction must be reachable, and no
jump may land on the second half of an LD_IMM64. It also marks the prune points (branch targets,
conditional jumps, instructions after calls) where ``is_state_visited`` looks for equivalent states.

``compute_live_registers`` is the backward dataflow of 6.18: a register is live before an
instruction if some path from it reads the register before writing it. State comparison only looks
at live registers.

Errors are ``(errno, message)`` raised as BpfError by the caller's ``verbose``.
"""

import errno

from ..errors import BpfError
from ..isa.insn import (BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CLASS, BPF_CMPXCHG,
                        BPF_END, BPF_EXIT, BPF_FETCH, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP,
                        BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP,
                        BPF_SRC, BPF_ST, BPF_STX, BPF_X, BPF_LOAD_ACQ, BPF_STORE_REL)

BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2
BPF_PSEUDO_FUNC = 4
BPF_MAX_SUBPROGS = 256
BPF_FUNC_tail_call = 12

DISCOVERED, EXPLORED, FALLTHROUGH, BRANCH = 0x10, 0x20, 1, 2
DONE_EXPLORING, KEEP_EXPLORING = 0, 1


def is_ldimm64(insn) -> bool:
    return insn.code == 0x18


def bpf_pseudo_call(insn) -> bool:
    return insn.code == (BPF_JMP | BPF_CALL) and insn.src == BPF_PSEUDO_CALL


def bpf_pseudo_kfunc_call(insn) -> bool:
    return insn.code == (BPF_JMP | BPF_CALL) and insn.src == BPF_PSEUDO_KFUNC_CALL


def bpf_pseudo_func(insn) -> bool:
    return insn.code == 0x18 and insn.src == BPF_PSEUDO_FUNC


def bpf_helper_call(insn) -> bool:
    return insn.code == (BPF_JMP | BPF_CALL) and insn.src == 0


class SubprogInfo:
    """struct bpf_subprog_info."""

    __slots__ = ("start", "stack_depth", "has_tail_call", "tail_call_reachable", "has_ld_abs",
                 "is_global", "name", "linkage", "btf_id", "args", "unreliable", "called",
                 "verified")

    def __init__(self, start: int):
        self.start = start
        self.stack_depth = 0
        self.has_tail_call = False
        self.tail_call_reachable = False
        self.has_ld_abs = False
        self.is_global = False
        self.name = ""            # from func_info (check_btf_func)
        self.linkage = 0          # BTF_FUNC_STATIC / GLOBAL / EXTERN of its FUNC
        self.btf_id = 0           # the FUNC's type id
        self.args = None          # global_func.ArgInfo list once derived (btf_prepare_func_args)
        self.unreliable = False   # its BTF does not describe what callers pass
        self.called = False       # a global function some verified code calls
        self.verified = False     # ... and verified on its own (do_check_subprogs)


def add_subprog_and_kfunc(env) -> None:
    """Find subprogram starts from pseudo calls and pseudo func loads. EINVAL: a call target
    outside the program; EPERM: calls without CAP_BPF."""
    insns = env.insns
    n = len(insns)
    starts = {0}

    def add(off: int) -> None:
        if off >= n or off < 0:
            env.fail(errno.EINVAL, "call to invalid destination")
        if off not in starts and len(starts) >= BPF_MAX_SUBPROGS:
            env.fail(errno.E2BIG, "too many subprograms")
        starts.add(off)

    for i, insn in enumerate(insns):
        if not (bpf_pseudo_func(insn) or bpf_pseudo_call(insn) or bpf_pseudo_kfunc_call(insn)):
            continue
        if not env.bpf_capable:
            env.fail(errno.EPERM, "loading/calling other bpf or kernel functions are allowed for "
                                  "CAP_BPF and CAP_SYS_ADMIN")
        if bpf_pseudo_func(insn) or bpf_pseudo_call(insn):
            add(i + insn.imm + 1)
        else:
            env.fail(errno.EINVAL, "calling kernel functions are not allowed in this program")
    env.subprogs = [SubprogInfo(s) for s in sorted(starts)]
    if env.log.level & 2:
        for i, sp in enumerate(env.subprogs):
            env.verbose(f"func#{i} @{sp.start}\n")


def check_subprogs(env) -> None:
    """Jumps stay inside their subprogram; each subprogram ends with exit or a jump."""
    insns = env.insns
    n = len(insns)
    subs = env.subprogs
    starts = [s.start for s in subs] + [n]
    cur = 0
    sub_start, sub_end = starts[0], starts[1]
    for i in range(n):
        code = insns[i].code
        cls = code & 7
        if code == (BPF_JMP | BPF_CALL) and insns[i].src == 0 and insns[i].imm == BPF_FUNC_tail_call:
            subs[cur].has_tail_call = True
            subs[cur].tail_call_reachable = True
        if cls == BPF_LD and BPF_MODE(code) in (BPF_ABS, BPF_IND):
            subs[cur].has_ld_abs = True
        if cls in (BPF_JMP, BPF_JMP32) and BPF_OP(code) not in (BPF_EXIT, BPF_CALL):
            off = i + (insns[i].imm if code == (BPF_JMP32 | BPF_JA) else insns[i].off) + 1
            if off < sub_start or off >= sub_end:
                env.fail(errno.EINVAL, f"jump out of range from insn {i} to {off}")
        if i == sub_end - 1:
            if code not in (BPF_JMP | BPF_EXIT, BPF_JMP32 | BPF_JA, BPF_JMP | BPF_JA):
                env.fail(errno.EINVAL, "last insn is not an exit or jmp")
            sub_start = sub_end
            cur += 1
            if cur < len(subs):
                sub_end = starts[cur + 1]


def check_cfg(env) -> None:
    """The DFS of verifier.c check_cfg. Fills env.prune_points and env.jmp_points."""
    insns = env.insns
    n = len(insns)
    state = [0] * n
    stack = [0]
    state[0] = DISCOVERED
    prune = env.prune_points
    jmp_points = env.jmp_points
    capable = env.bpf_capable

    def push_insn(t: int, w: int, e: int) -> int:
        if e == FALLTHROUGH and state[t] >= (DISCOVERED | FALLTHROUGH):
            return DONE_EXPLORING
        if e == BRANCH and state[t] >= (DISCOVERED | BRANCH):
            return DONE_EXPLORING
        if w < 0 or w >= n:
            env.fail(errno.EINVAL, f"jump out of range from insn {t} to {w}")
        if e == BRANCH:
            prune.add(w)
            jmp_points.add(w)
        if state[w] == 0:
            state[t] = DISCOVERED | e
            state[w] = DISCOVERED
            if len(stack) >= n:
                raise BpfError(errno.E2BIG, "cfg stack overflow")
            stack.append(w)
            return KEEP_EXPLORING
        if (state[w] & 0xF0) == DISCOVERED:
            if capable:
                return DONE_EXPLORING
            env.fail(errno.EINVAL, f"back-edge from insn {t} to {w}")
        if state[w] == EXPLORED:
            state[t] = DISCOVERED | e
        return DONE_EXPLORING

    def visit_call(t: int, visit_callee: bool) -> int:
        sz = 2 if is_ldimm64(insns[t]) else 1
        ret = push_insn(t, t + sz, FALLTHROUGH)
        if ret:
            return ret
        prune.add(t + sz)
        jmp_points.add(t + sz)
        if visit_callee:
            w = t + insns[t].imm + 1
            prune.add(t)
            ret = push_insn(t, w, BRANCH)
        return ret

    def visit_insn(t: int) -> int:
        insn = insns[t]
        if bpf_pseudo_func(insn):
            return visit_call(t, True)
        cls = insn.code & 7
        if cls not in (BPF_JMP, BPF_JMP32):
            return push_insn(t, t + (2 if is_ldimm64(insn) else 1), FALLTHROUGH)
        op = BPF_OP(insn.code)
        if op == BPF_EXIT:
            return DONE_EXPLORING
        if op == BPF_CALL:
            if insn.src == 0 and insn.imm in (181, 180):  # bpf_loop, bpf_find_vma call a callback
                prune.add(t)
                jmp_points.add(t)
                env.force_checkpoints.add(t)
            return visit_call(t, insn.src == BPF_PSEUDO_CALL)
        if op == BPF_JA:
            if BPF_SRC(insn.code) != BPF_K:
                raise BpfError(errno.EINVAL, "BPF_JA with register source")
            off = insn.off if cls == BPF_JMP else insn.imm
            ret = push_insn(t, t + off + 1, FALLTHROUGH)
            if ret:
                return ret
            prune.add(t + off + 1)
            jmp_points.add(t + off + 1)
            return ret
        prune.add(t)
        if op == BPF_JCOND:
            env.force_checkpoints.add(t)
        ret = push_insn(t, t + 1, FALLTHROUGH)
        if ret:
            return ret
        return push_insn(t, t + insn.off + 1, BRANCH)

    while stack:
        t = stack[-1]
        if visit_insn(t) == DONE_EXPLORING:
            state[t] = EXPLORED
            stack.pop()

    i = 0
    while i < n:
        if state[i] != EXPLORED:
            env.fail(errno.EINVAL, f"unreachable insn {i}")
        if is_ldimm64(insns[i]):
            if i + 1 < n and state[i + 1] != 0:
                env.fail(errno.EINVAL, f"jump into the middle of ldimm64 insn {i}")
            i += 1
        i += 1


# -- static liveness --------------------------------------------------------------------------

ALL_ARGS = 0b111110          # r1..r5
CALLER_SAVED = 0b111111      # r0..r5


def insn_use_def(insn, helper_nargs) -> tuple[int, int]:
    """(use, def) register masks of one instruction (compute_insn_live_regs)."""
    code = insn.code
    cls = code & 7
    dst, src = 1 << insn.dst, 1 << insn.src
    if cls in (BPF_ALU, BPF_ALU64):
        op = BPF_OP(code)
        if op == BPF_MOV:
            return (src if BPF_SRC(code) == BPF_X else 0), dst
        if op in (BPF_NEG, BPF_END):
            return dst, dst
        return dst | (src if BPF_SRC(code) == BPF_X else 0), dst
    if cls == BPF_LDX:
        return src, dst
    if cls == BPF_ST:
        return dst, 0
    if cls == BPF_STX:
        if BPF_MODE(code) == BPF_ATOMIC:
            if insn.imm == BPF_LOAD_ACQ:
                return src, dst
            if insn.imm == BPF_STORE_REL:
                return dst | src, 0
            if insn.imm == BPF_CMPXCHG:
                return dst | src | 1, 1
            return dst | src, (src if insn.imm & BPF_FETCH else 0)
        return dst | src, 0
    if cls == BPF_LD:
        if is_ldimm64(insn):
            return 0, dst
        mode = BPF_MODE(code)
        if mode in (BPF_ABS, BPF_IND):
            # 6.18: the hidden exit bpf_gen_ld_abs emits makes every register live (oracle)
            return 0x3FF, CALLER_SAVED
        return 0, 0
    if cls in (BPF_JMP, BPF_JMP32):
        op = BPF_OP(code)
        if op == BPF_EXIT:
            return 1, 0
        if op == BPF_JA:
            return 0, 0
        if op == BPF_CALL:
            if insn.src == 0 and cls == BPF_JMP:
                nargs = helper_nargs(insn.imm)
                return ((1 << (nargs + 1)) - 2) if nargs >= 0 else ALL_ARGS, CALLER_SAVED
            return ALL_ARGS, CALLER_SAVED
        if op == BPF_JCOND:
            return 0, 0
        return dst | (src if BPF_SRC(code) == BPF_X else 0), 0
    return 0, 0


def successors(insns, i: int) -> list[int]:
    insn = insns[i]
    cls = insn.code & 7
    n = len(insns)
    if cls in (BPF_JMP, BPF_JMP32):
        op = BPF_OP(insn.code)
        if op == BPF_EXIT:
            return []
        if op == BPF_CALL:
            return [i + 1]
        if op == BPF_JA:
            return [i + 1 + (insn.off if cls == BPF_JMP else insn.imm)]
        if op == BPF_JCOND:
            return [i + 1, i + 1 + insn.off]
        return [i + 1, i + 1 + insn.off]
    if is_ldimm64(insn):
        return [i + 2] if i + 2 <= n else []
    return [i + 1]


def compute_live_registers(env, helper_nargs) -> list[int]:
    """live_regs_before for every instruction (r0..r9; r10 is never tracked)."""
    insns = env.insns
    n = len(insns)
    ud = [insn_use_def(insns[i], helper_nargs) for i in range(n)]
    succ = [[s for s in successors(insns, i) if 0 <= s < n] for i in range(n)]
    live = [0] * n
    changed = True
    order = list(range(n - 1, -1, -1))
    while changed:
        changed = False
        for i in order:
            out = 0
            for s in succ[i]:
                out |= live[s]
            use, def_ = ud[i]
            new = (use | (out & ~def_)) & 0x3FF
            if new != live[i]:
                live[i] = new
                changed = True
    return live
