"""The BPF interpreter: decode once into per-instruction handlers, then run (kernel/bpf/core.c).

Mirrors ``___bpf_prog_run`` and the ``DEFINE_BPF_PROG_RUN`` wrappers of kernel/bpf/core.c. The
kernel's interpreter is a computed-goto jump table indexed by the opcode byte; here
``bpf_prog_decode`` walks the program once and asks the 256-entry ``HANDLERS`` list (built from
``opcodes.OPCODES``, one maker per handler family) for a closure per instruction slot. Running is
then ``pc = ops[pc](regs)`` in a loop: no decoding and no if/elif over opcodes at run time.
An opcode the table does not know, or an instruction ``check_insn`` refuses (reserved fields,
register numbers, jump targets), gets a handler that raises ``BpfRuntimeError`` when it is
reached: an unverified program may contain garbage it never executes.

The semantics are those of a program after the verifier's rewrites (do_misc_fixups), applied
directly to the unrewritten instruction, so unverified runs behave like the kernel's verified ones:

* ``x / 0 = 0``; ``x % 0 = x`` (64-bit) or ``(u32)x`` (32-bit, the upper half zeroed);
* ``INT_MIN s/ -1 = INT_MIN``, ``x s% -1 = 0``; signed division truncates toward zero;
* shift counts are masked to 63 / 31, immediate or register (x86's behaviour; the verifier rejects
  out-of-range constants, the conformance suite expects the mask);
* every 32-bit ALU result, 32-bit load-acquire and 32-bit fetch result is zero-extended;
* immediates are sign-extended for ALU64, JMP and ST DW; MOV32 K zero-extends;
* LD_IMM64 loads the resolved 64-bit value, whatever its src_reg says; an unresolved
  ``BPF_PSEUDO_FUNC`` (src 4) loads the absolute instruction index of the callback instead, which
  is what ``interp_call`` takes (a choice of ours);
* a helper call is ``R0 = impl(run, R1..R5)`` through ``run.helpers``; R1-R5 are left as they were
  (the verifier forbids reading them); helper 12 (``bpf_tail_call``) is the interpreter's own
  ``JMP_TAIL_CALL``, through ``run.prog_array(map_addr)``;
* bpf-to-bpf calls get a new frame like ``__bpf_prog_run_args``: a fresh register file (R1-R5
  copied, R0 and R6-R9 zero, R10 at the top of a new 512-byte stack); the caller's registers,
  including R1-R5, come back on EXIT with the callee's R0; at most ``MAX_CALL_FRAMES`` (8) frames;
* ``may_goto`` (JCOND) is never taken: core.c's interpreter has no loop budget either; a run is
  bounded by ``run.budget`` instead;
* PROBE_MEM: loads at the instruction indices in ``probe_mem`` (the verifier marks BTF-pointer
  loads) give 0 on a fault instead of stopping the program.

Differences from core.c, on purpose: the tail-call counter (``MAX_TAIL_CALL_CNT``, 33) is one per
run, shared by all frames, as on the x86-64 JIT; core.c's interpreter keeps one per frame. Stacks
are zeroed (the kernel's are uninitialised). ``callx`` (0x8d, not Linux) calls the helper whose id
is in dst_reg, as bpf_conformance defines it.

Memory: every load and store goes through ``run.mem`` (a ``kernelsim.memory.AddressSpace``):
stack frames are regions of it (kind ``stack``), so a pointer to the stack is a plain address that
helpers can read. A ``MemoryFault`` stops the program with ``BpfRuntimeError`` naming the
instruction index, its text, the address and the size.

Return value: ``bpf_interp_run`` returns the full 64-bit R0; kernel callers see ``(u32)R0`` since
the ``__bpf_prog_run*`` functions return ``unsigned int``: that is ``bpf_prog_run``.

The register file is a plain list, for speed: ``r[0]``..``r[10]``, ``r[11]`` the verifier's AX,
``r[12]`` the per-run state, ``r[13]``/``r[14]`` the address space's ``load``/``store``.
A faster tier plugs in as ``BpfInterpProg.bpf_func`` behind the same ``bpf_prog_run``: fast.py
compiles basic blocks to Python source and reuses this module's handlers and loop.
"""

import sys
from itertools import repeat
from operator import length_hint
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ..errors import BpfRuntimeError
from ..memory import PACK, UNPACK, AddressSpace, MemoryFault, Region
from ..uapi import (BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BpfFuncId, BpfPseudo, MAX_BPF_STACK,
                    MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT)
from . import opcodes as _op
from .disasm import check_insn, ld_imm64_second_slots, print_bpf_insn, ASM_CBS
from .insn import (
    BPF_ADD, BPF_ALU, BPF_AND, BPF_ARSH, BPF_CLASS, BPF_DIV, BPF_FETCH, BPF_LSH,
    BPF_MOD, BPF_MOV, BPF_MUL, BPF_OP, BPF_OR, BPF_RSH, BPF_SIZE, BPF_SRC, BPF_SUB, BPF_TO_BE,
    BPF_X, BPF_XOR, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT,
    BPF_JLE, BPF_JSLT, BPF_JSLE, BPF_XCHG, BPF_CMPXCHG, BPF_LOAD_ACQ, BPF_STORE_REL, BpfInsn,
    SIZE_BYTES,
)

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
S64 = 0x8000000000000000
S32 = 0x80000000
DEFAULT_BUDGET = 10_000_000   # instructions per run (ours: a safety net for unverified programs)
BPF_FUNC_tail_call = int(BpfFuncId.BPF_FUNC_tail_call)

HelperImpl = Callable[..., int]   # impl(run, r1, r2, r3, r4, r5) -> int


# ---- the run context ---------------------------------------------------------------------------

@dataclass(eq=False)
class BpfRunCtx:
    """What one run of a program sees besides its registers; helpers get it as ``run``.

    The kernel core extends it by subclassing (adding the kernel, the task, the cpu...) or
    through ``extra``; overriding ``prog_array`` and ``skb_load`` plugs in prog-array maps and
    socket buffers. One context can serve many runs; it is not shared between threads.
    """

    mem: AddressSpace                        # every load, store and stack lives here
    helpers: Mapping[int, HelperImpl] | Sequence[HelperImpl | None] = ()  # helper id -> impl
    kfuncs: Mapping[int, HelperImpl] = field(default_factory=dict)  # kfunc BTF id -> impl
    prog: object = None                      # the caller's program object (informational)
    budget: int | None = DEFAULT_BUDGET      # instructions per run; None = unbounded
    tail_call_cnt: int = 0                   # tail calls taken in the current run
    insn_cnt: int = 0                        # instructions executed by the last run (callbacks too)
    interp_prog: "BpfInterpProg | None" = None  # the program running now (set by the run)
    extra: dict = field(default_factory=dict)   # free slot for the kernel core

    def prog_array(self, map_addr: int) -> "Sequence[BpfInterpProg | None] | None":
        """The slots of the prog array whose map address is ``map_addr`` (R2 of a tail call),
        or None if it is not one. Called by the interpreter; the kernel core overrides it."""
        return None

    def skb_load(self, skb: int, offset: int, size: int) -> int | None:
        """LD_ABS/LD_IND: the ``size``-byte big-endian value at ``offset`` in the packet of the
        sk_buff at ``skb`` (R6), or None when out of bounds (the program then returns 0).
        Called by the interpreter; nothing simulates sk_buffs yet, so the default raises."""
        raise BpfRuntimeError("LD_ABS/LD_IND need a socket buffer (BpfRunCtx.skb_load)")


@dataclass(frozen=True, slots=True, eq=False)
class BpfInterpProg:
    """A decoded program: what ``struct bpf_prog`` holds for running it."""

    insns: tuple[BpfInsn, ...]           # the instruction slots, as loaded
    ops: list                            # one handler per slot, plus the fell-off-the-end one
    probe_mem: frozenset[int]            # slot indices whose loads are PROBE_MEM
    bpf_func: Callable = None            # the execution tier: bpf_func(prog, run, *r1_r5) -> R0
    tiers: dict = field(default_factory=dict)   # other tiers' per-program state (fast.py's ops)


class _Exit(Exception):
    """The outermost EXIT (internal). One instance, raised by every outermost EXIT (no object
    to build per run); its traceback is dropped when it is caught."""


_EXIT = _Exit()


class _Switch(Exception):
    """Continue in another program: a tail call, or a return into a tail-called frame."""

    def __init__(self, prog: "BpfInterpProg", pc: int):
        self.prog, self.pc = prog, pc


class _RunState:
    """Per-run interpreter state, in r[12]: frames and stacks. Stacks are pooled per address
    space (``AddressSpace.stack_pool``): a run takes one, zeroes it and gives it back."""

    __slots__ = ("run", "frames", "depth", "pool", "mem", "cnt", "budget")

    def __init__(self, run: BpfRunCtx, depth: int):
        self.run, self.frames, self.depth, self.mem = run, [], depth, run.mem
        self.cnt = 0                                            # a counting tier's count
        self.budget = sys.maxsize if run.budget is None else run.budget
        self.pool = run.mem.stack_pool

    def alloc_stack(self) -> Region:
        if self.pool:
            region = self.pool.pop()
            region.buf[:] = _ZERO_STACK
            return region
        return self.mem.alloc(MAX_BPF_STACK, "bpf stack", kind="stack")

    def free_stack(self, region: Region) -> None:
        self.pool.append(region)


_ZERO_STACK = bytes(MAX_BPF_STACK)


def _fault(msg: str):
    raise BpfRuntimeError(msg)


# ---- ALU semantics that need more than one expression ------------------------------------------

def _s64(a: int) -> int:
    return a - (1 << 64) if a & S64 else a


def _s32(a: int) -> int:
    return a - (1 << 32) if a & S32 else a


def _div64(a, b):
    return a // b if b else 0                     # x / 0 = 0


def _mod64(a, b):
    return a % b if b else a                      # x % 0 = x


def _sdiv64(a, b):
    sa, sb = _s64(a), _s64(b)
    if sb == 0:
        return 0                                  # x s/ 0 = 0
    q = abs(sa) // abs(sb)                        # truncate toward zero
    return (-q if (sa < 0) != (sb < 0) else q) & M64   # LLONG_MIN s/ -1 wraps to LLONG_MIN


def _smod64(a, b):
    sa, sb = _s64(a), _s64(b)
    if sb == 0:
        return a                                  # x s% 0 = x
    m = abs(sa) % abs(sb)                         # sign of the dividend; x s% -1 = 0
    return (-m if sa < 0 else m) & M64


def _div32(a, b):
    a, b = a & M32, b & M32
    return a // b if b else 0


def _mod32(a, b):
    a, b = a & M32, b & M32
    return a % b if b else a                      # (u32)x: upper half zeroed


def _sdiv32(a, b):
    sa, sb = _s32(a & M32), _s32(b & M32)
    if sb == 0:
        return 0
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & M32   # INT_MIN s/ -1 = INT_MIN


def _smod32(a, b):
    sa, sb = _s32(a & M32), _s32(b & M32)
    if sb == 0:
        return a & M32
    m = abs(sa) % abs(sb)
    return (-m if sa < 0 else m) & M32


def _mul64(a, b):
    return (a * b) & M64


def _mul32(a, b):
    return (a * b) & M32


def _arsh64(a, b):
    return (_s64(a) >> (b & 63)) & M64


def _arsh32(a, b):
    return (_s32(a & M32) >> (b & 31)) & M32       # sign from bit 31, result zero-extended


# Binary ALU operations by (class, op, off) -> fn(dst, src) -> new dst; used for the rarer ops.
_ALU_FN = {
    (7, BPF_MUL, 0): _mul64, (7, BPF_DIV, 0): _div64, (7, BPF_DIV, 1): _sdiv64,
    (7, BPF_MOD, 0): _mod64, (7, BPF_MOD, 1): _smod64, (7, BPF_ARSH, 0): _arsh64,
    (4, BPF_MUL, 0): _mul32, (4, BPF_DIV, 0): _div32, (4, BPF_DIV, 1): _sdiv32,
    (4, BPF_MOD, 0): _mod32, (4, BPF_MOD, 1): _smod32, (4, BPF_ARSH, 0): _arsh32,
}


# ---- handler makers ----------------------------------------------------------------------------
# A maker gets (insn, pc, decode context) and returns the closure ``op(r) -> next pc``.

@dataclass(slots=True)
class _Decode:
    insns: list[BpfInsn]
    holder: list                 # [BpfInterpProg], filled once the ops exist
    probe_mem: frozenset[int]


def _alu_x(d, s, nxt, cls, op, off):
    if cls == 7:   # ALU64
        if op == BPF_ADD:
            def h(r):
                r[d] = (r[d] + r[s]) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_SUB:
            def h(r):
                r[d] = (r[d] - r[s]) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_MUL:
            def h(r):
                r[d] = (r[d] * r[s]) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_OR:
            def h(r):
                r[d] |= r[s]
                return nxt
        elif op == BPF_AND:
            def h(r):
                r[d] &= r[s]
                return nxt
        elif op == BPF_XOR:
            def h(r):
                r[d] ^= r[s]
                return nxt
        elif op == BPF_LSH:
            def h(r):
                r[d] = (r[d] << (r[s] & 63)) & 0xFFFFFFFFFFFFFFFF   # count masked to 63
                return nxt
        elif op == BPF_RSH:
            def h(r):
                r[d] >>= r[s] & 63
                return nxt
        elif op == BPF_MOV and off == 0:
            def h(r):
                r[d] = r[s]
                return nxt
        elif op == BPF_MOV:   # movsx: sign-extend the low 8/16/32 bits to 64
            sign, mask = 1 << (off - 1), (1 << off) - 1

            def h(r):
                r[d] = (((r[s] & mask) ^ sign) - sign) & 0xFFFFFFFFFFFFFFFF
                return nxt
        else:
            fn = _ALU_FN[(cls, op, off)]

            def h(r):
                r[d] = fn(r[d], r[s])
                return nxt
        return h
    # ALU (32-bit): operands truncated to u32, result zero-extended
    if op == BPF_ADD:
        def h(r):
            r[d] = (r[d] + r[s]) & 0xFFFFFFFF
            return nxt
    elif op == BPF_SUB:
        def h(r):
            r[d] = (r[d] - r[s]) & 0xFFFFFFFF
            return nxt
    elif op == BPF_MUL:
        def h(r):
            r[d] = (r[d] * r[s]) & 0xFFFFFFFF
            return nxt
    elif op == BPF_OR:
        def h(r):
            r[d] = (r[d] | r[s]) & 0xFFFFFFFF
            return nxt
    elif op == BPF_AND:
        def h(r):
            r[d] = r[d] & r[s] & 0xFFFFFFFF
            return nxt
    elif op == BPF_XOR:
        def h(r):
            r[d] = (r[d] ^ r[s]) & 0xFFFFFFFF
            return nxt
    elif op == BPF_LSH:
        def h(r):
            r[d] = (r[d] << (r[s] & 31)) & 0xFFFFFFFF   # count masked to 31
            return nxt
    elif op == BPF_RSH:
        def h(r):
            r[d] = (r[d] & 0xFFFFFFFF) >> (r[s] & 31)
            return nxt
    elif op == BPF_MOV and off == 0:
        def h(r):
            r[d] = r[s] & 0xFFFFFFFF
            return nxt
    elif op == BPF_MOV:   # movsx to 32 bits, then zero-extended
        sign, mask = 1 << (off - 1), (1 << off) - 1

        def h(r):
            r[d] = (((r[s] & mask) ^ sign) - sign) & 0xFFFFFFFF
            return nxt
    else:
        fn = _ALU_FN[(cls, op, off)]

        def h(r):
            r[d] = fn(r[d], r[s])
            return nxt
    return h


def _alu_k(d, imm, nxt, cls, op, off):
    if cls == 7:
        k = imm & M64                 # ALU64: imm sign-extended to 64 bits
        if op == BPF_ADD:
            def h(r):
                r[d] = (r[d] + k) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_SUB:
            def h(r):
                r[d] = (r[d] - k) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_MUL:
            def h(r):
                r[d] = (r[d] * k) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_OR:
            def h(r):
                r[d] |= k
                return nxt
        elif op == BPF_AND:
            def h(r):
                r[d] &= k
                return nxt
        elif op == BPF_XOR:
            def h(r):
                r[d] ^= k
                return nxt
        elif op == BPF_LSH:
            sh = k & 63

            def h(r):
                r[d] = (r[d] << sh) & 0xFFFFFFFFFFFFFFFF
                return nxt
        elif op == BPF_RSH:
            sh = k & 63

            def h(r):
                r[d] >>= sh
                return nxt
        elif op == BPF_MOV:
            def h(r):
                r[d] = k
                return nxt
        else:
            fn = _ALU_FN[(cls, op, off)]

            def h(r):
                r[d] = fn(r[d], k)
                return nxt
        return h
    k = imm & M32
    if op == BPF_ADD:
        def h(r):
            r[d] = (r[d] + k) & 0xFFFFFFFF
            return nxt
    elif op == BPF_SUB:
        def h(r):
            r[d] = (r[d] - k) & 0xFFFFFFFF
            return nxt
    elif op == BPF_MUL:
        def h(r):
            r[d] = (r[d] * k) & 0xFFFFFFFF
            return nxt
    elif op == BPF_OR:
        def h(r):
            r[d] = (r[d] | k) & 0xFFFFFFFF
            return nxt
    elif op == BPF_AND:
        def h(r):
            r[d] &= k
            return nxt
    elif op == BPF_XOR:
        def h(r):
            r[d] = (r[d] ^ k) & 0xFFFFFFFF
            return nxt
    elif op == BPF_LSH:
        sh = k & 31

        def h(r):
            r[d] = (r[d] << sh) & 0xFFFFFFFF
            return nxt
    elif op == BPF_RSH:
        sh = k & 31

        def h(r):
            r[d] = (r[d] & 0xFFFFFFFF) >> sh
            return nxt
    elif op == BPF_MOV:
        def h(r):
            r[d] = k                  # MOV32 K: (u32)imm
            return nxt
    else:
        fn = _ALU_FN[(cls, op, off)]

        def h(r):
            r[d] = fn(r[d], k)
            return nxt
    return h


def _make_alu(insn: BpfInsn, pc: int, dc: _Decode):
    cls, op = BPF_CLASS(insn.code), BPF_OP(insn.code)
    if BPF_SRC(insn.code) == BPF_X:
        return _alu_x(insn.dst, insn.src, pc + 1, cls, op, insn.off)
    return _alu_k(insn.dst, insn.imm, pc + 1, cls, op, insn.off)


def _make_neg(insn, pc, dc):
    d, nxt = insn.dst, pc + 1
    mask = M32 if BPF_CLASS(insn.code) == BPF_ALU else M64

    def h(r):
        r[d] = -r[d] & mask
        return nxt
    return h


def _make_end(insn, pc, dc):
    d, nxt, width = insn.dst, pc + 1, insn.imm
    nbytes, mask = width // 8, (1 << width) - 1
    if _op.OPCODES[insn.code].kind == "bswap" or BPF_SRC(insn.code) == BPF_TO_BE:
        def h(r):                    # be16/32/64 and bswap: swap, upper bits cleared
            r[d] = int.from_bytes((r[d] & mask).to_bytes(nbytes, "little"), "big")
            return nxt
    else:
        def h(r):                    # le on a little-endian host: truncate only
            r[d] &= mask
            return nxt
    return h


_CMP64 = {  # op -> (signed, python comparison)
    BPF_JEQ: (False, "=="), BPF_JNE: (False, "!="), BPF_JGT: (False, ">"), BPF_JGE: (False, ">="),
    BPF_JLT: (False, "<"), BPF_JLE: (False, "<="), BPF_JSET: (False, "&"),
    BPF_JSGT: (True, ">"), BPF_JSGE: (True, ">="), BPF_JSLT: (True, "<"), BPF_JSLE: (True, "<="),
}


def _make_jmp(insn, pc, dc):
    """Conditional jumps. Signed compares flip the sign bit (x ^ 2**63 orders u64 like s64)."""
    d, s, nxt, tgt = insn.dst, insn.src, pc + 1, pc + 1 + insn.off
    signed, cmp = _CMP64[BPF_OP(insn.code)]
    wide = BPF_CLASS(insn.code) != 6          # JMP compares 64 bits, JMP32 the low 32
    mask, flip = (M64, S64 if signed else 0) if wide else (M32, S32 if signed else 0)
    if BPF_SRC(insn.code) == BPF_X:
        if wide and not flip:
            h = {
                "==": lambda r: tgt if r[d] == r[s] else nxt,
                "!=": lambda r: tgt if r[d] != r[s] else nxt,
                ">": lambda r: tgt if r[d] > r[s] else nxt,
                ">=": lambda r: tgt if r[d] >= r[s] else nxt,
                "<": lambda r: tgt if r[d] < r[s] else nxt,
                "<=": lambda r: tgt if r[d] <= r[s] else nxt,
                "&": lambda r: tgt if r[d] & r[s] else nxt,
            }[cmp]
            return h
        return {
            "==": lambda r: tgt if (r[d] & mask) == (r[s] & mask) else nxt,
            "!=": lambda r: tgt if (r[d] & mask) != (r[s] & mask) else nxt,
            ">": lambda r: tgt if (r[d] & mask) ^ flip > (r[s] & mask) ^ flip else nxt,
            ">=": lambda r: tgt if (r[d] & mask) ^ flip >= (r[s] & mask) ^ flip else nxt,
            "<": lambda r: tgt if (r[d] & mask) ^ flip < (r[s] & mask) ^ flip else nxt,
            "<=": lambda r: tgt if (r[d] & mask) ^ flip <= (r[s] & mask) ^ flip else nxt,
            "&": lambda r: tgt if r[d] & r[s] & mask else nxt,
        }[cmp]
    k = (insn.imm & mask) ^ flip              # imm sign-extended (JMP) or truncated (JMP32)
    if wide and not flip:
        return {
            "==": lambda r: tgt if r[d] == k else nxt,
            "!=": lambda r: tgt if r[d] != k else nxt,
            ">": lambda r: tgt if r[d] > k else nxt,
            ">=": lambda r: tgt if r[d] >= k else nxt,
            "<": lambda r: tgt if r[d] < k else nxt,
            "<=": lambda r: tgt if r[d] <= k else nxt,
            "&": lambda r: tgt if r[d] & k else nxt,
        }[cmp]
    return {
        "==": lambda r: tgt if (r[d] & mask) == k else nxt,
        "!=": lambda r: tgt if (r[d] & mask) != k else nxt,
        ">": lambda r: tgt if (r[d] & mask) ^ flip > k else nxt,
        ">=": lambda r: tgt if (r[d] & mask) ^ flip >= k else nxt,
        "<": lambda r: tgt if (r[d] & mask) ^ flip < k else nxt,
        "<=": lambda r: tgt if (r[d] & mask) ^ flip <= k else nxt,
        "&": lambda r: tgt if r[d] & k else nxt,
    }[cmp]


def _make_ja(insn, pc, dc):
    tgt = pc + 1 + insn.off
    return lambda r: tgt


def _make_gotol(insn, pc, dc):
    tgt = pc + 1 + insn.imm
    return lambda r: tgt


def _make_jcond(insn, pc, dc):
    nxt = pc + 1                  # may_goto: not taken (no loop budget in the interpreter)
    return lambda r: nxt


def _make_exit(insn, pc, dc):
    holder = dc.holder

    def h(r):
        st = r[12]
        if not st.frames:
            raise _EXIT
        saved, prog, ret, stack = st.frames.pop()
        st.pool.append(stack)
        r0 = r[0]
        r[:] = saved
        r[0] = r0
        if prog is not holder[0]:     # returning into a frame that tail-called elsewhere
            raise _Switch(prog, ret)
        return ret
    return h


def _helper_call(r, pc, fn, name):
    """R0 of a helper or kfunc call (the slow path of a call handler: callx, kfuncs)."""
    try:
        value = fn(r[12].run, r[1], r[2], r[3], r[4], r[5])
    except (BpfRuntimeError, _Exit, _Switch):
        raise
    except Exception as e:
        e.add_note(f"in {name} called by insn {pc}")
        raise
    if value.__class__ is not int and not isinstance(value, int):
        raise BpfRuntimeError(f"insn {pc}: {name} returned {type(value).__name__}, not an int", pc)
    return value & M64


def _lookup(table, key):
    try:
        return table[key]
    except (KeyError, IndexError, TypeError):
        return None


def _make_call(insn, pc, dc):
    nxt, imm = pc + 1, insn.imm
    if insn.src == BPF_PSEUDO_CALL:
        return _make_local_call(pc + 1 + imm, nxt, dc)
    if insn.src == BPF_PSEUDO_KFUNC_CALL:
        name = f"kfunc {imm}"

        def h(r):
            fn = _lookup(r[12].run.kfuncs, imm)
            if fn is None:
                raise BpfRuntimeError(f"insn {pc}: call to unknown kfunc (btf id {imm})", pc)
            r[0] = _helper_call(r, pc, fn, name)
            return nxt
        return h
    if imm == BPF_FUNC_tail_call:
        return _make_tail_call(pc, nxt)
    name = _op.FUNC_ID_STR.get(imm, f"helper {imm}")
    if imm < 0:
        msg = f"insn {pc}: call to unknown helper {imm}"
        return lambda r: _fault(msg)

    def h(r):
        # _helper_call and _lookup written out: this is every helper call's path
        run = r[12].run
        try:
            fn = run.helpers[imm]
        except (KeyError, IndexError, TypeError):
            fn = None
        if fn is None:
            raise BpfRuntimeError(f"insn {pc}: call to unknown helper {imm}", pc)
        try:
            value = fn(run, r[1], r[2], r[3], r[4], r[5])
        except (BpfRuntimeError, _Exit, _Switch):
            raise
        except Exception as e:
            e.add_note(f"in {name} called by insn {pc}")
            raise
        if value.__class__ is not int and not isinstance(value, int):
            raise BpfRuntimeError(f"insn {pc}: {name} returned {type(value).__name__}, "
                                  "not an int", pc)
        r[0] = value & 0xFFFFFFFFFFFFFFFF
        return nxt
    return h


def _make_callx(insn, pc, dc):
    d, nxt = insn.dst, pc + 1

    def h(r):
        hid = r[d]
        fn = _lookup(r[12].run.helpers, hid) if 0 <= hid < (1 << 31) else None
        if fn is None:
            raise BpfRuntimeError(f"insn {pc}: callx to unknown helper {hid}", pc)
        r[0] = _helper_call(r, pc, fn, _op.FUNC_ID_STR.get(hid, f"helper {hid}"))
        return nxt
    return h


def _make_local_call(target, nxt, dc):
    holder = dc.holder

    def h(r):
        st = r[12]
        if len(st.frames) + st.depth + 1 >= MAX_CALL_FRAMES:
            raise BpfRuntimeError(f"insn {nxt - 1}: the call stack of {MAX_CALL_FRAMES + 1} "
                                  "frames is too deep", nxt - 1)
        stack = st.alloc_stack()
        st.frames.append((r[:], holder[0], nxt, stack))
        r[0:12] = [0, r[1], r[2], r[3], r[4], r[5], 0, 0, 0, 0, stack.end, 0]
        return target
    return h


def _make_tail_call(pc, nxt):
    def h(r):
        run = r[12].run
        slots = run.prog_array(r[2])
        if slots is None:
            raise BpfRuntimeError(f"insn {pc}: bpf_tail_call: R2 {r[2]:#x} is not a prog array", pc)
        index = r[3] & M32
        if index >= len(slots):                       # out of range: fall through
            return nxt
        if run.tail_call_cnt >= MAX_TAIL_CALL_CNT:    # MAX_TAIL_CALL_CNT reached: fall through
            return nxt
        run.tail_call_cnt += 1                        # counted before the slot is looked at
        target = slots[index]
        if target is None:                            # empty slot: fall through
            return nxt
        raise _Switch(target, 0)
    return h


def _make_ldx(insn, pc, dc):
    d, s, off, nxt = insn.dst, insn.src, insn.off, pc + 1
    size = SIZE_BYTES[BPF_SIZE(insn.code)]
    if pc in dc.probe_mem:
        def h(r):
            try:
                r[d] = r[13]((r[s] + off) & 0xFFFFFFFFFFFFFFFF, size)
            except MemoryFault:
                r[d] = 0                  # PROBE_MEM: a faulting load gives 0
            return nxt
        return h

    def h(r):
        r[d] = r[13]((r[s] + off) & 0xFFFFFFFFFFFFFFFF, size)
        return nxt
    return h


def _make_ldxsx(insn, pc, dc):
    d, s, off, nxt = insn.dst, insn.src, insn.off, pc + 1
    size = SIZE_BYTES[BPF_SIZE(insn.code)]
    sign = 1 << (8 * size - 1)
    probe = pc in dc.probe_mem

    def h(r):
        try:
            v = r[13]((r[s] + off) & 0xFFFFFFFFFFFFFFFF, size)
        except MemoryFault:
            if not probe:
                raise
            v = 0
        r[d] = ((v ^ sign) - sign) & 0xFFFFFFFFFFFFFFFF   # sign-extended to 64 bits
        return nxt
    return h


def _make_st(insn, pc, dc):
    d, off, nxt = insn.dst, insn.off, pc + 1
    size = SIZE_BYTES[BPF_SIZE(insn.code)]
    value = insn.imm & M64            # imm sign-extended; the store keeps the low bytes

    def h(r):
        r[14]((r[d] + off) & 0xFFFFFFFFFFFFFFFF, size, value)
        return nxt
    return h


def _make_stx(insn, pc, dc):
    d, s, off, nxt = insn.dst, insn.src, insn.off, pc + 1
    size = SIZE_BYTES[BPF_SIZE(insn.code)]

    def h(r):
        r[14]((r[d] + off) & 0xFFFFFFFFFFFFFFFF, size, r[s])
        return nxt
    return h


_ATOMIC_FN = {BPF_ADD: lambda a, b: a + b, BPF_OR: lambda a, b: a | b,
              BPF_AND: lambda a, b: a & b, BPF_XOR: lambda a, b: a ^ b}


def _make_atomic(insn, pc, dc):
    """STX|ATOMIC: single-threaded, so a load and a store (core.c uses atomic64_* ops)."""
    d, s, off, nxt, imm = insn.dst, insn.src, insn.off, pc + 1, insn.imm
    size = SIZE_BYTES[BPF_SIZE(insn.code)]
    mask = (1 << (8 * size)) - 1
    if imm == BPF_LOAD_ACQ:              # role flip: dst = *(src + off)
        def h(r):
            r[d] = r[13]((r[s] + off) & M64, size)
            return nxt
        return h
    if imm == BPF_STORE_REL:             # *(dst + off) = src
        def h(r):
            r[14]((r[d] + off) & M64, size, r[s])
            return nxt
        return h
    if imm == BPF_XCHG:
        def h(r):
            addr = (r[d] + off) & M64
            old = r[13](addr, size)
            r[14](addr, size, r[s])
            r[s] = old                   # old value, zero-extended for W
            return nxt
        return h
    if imm == BPF_CMPXCHG:
        def h(r):
            addr = (r[d] + off) & M64
            old = r[13](addr, size)
            if old == r[0] & mask:
                r[14](addr, size, r[s])
            r[0] = old                   # R0 always gets the old value, zero-extended for W
            return nxt
        return h
    fn, fetch = _ATOMIC_FN[imm & ~BPF_FETCH], bool(imm & BPF_FETCH)
    if imm == BPF_ADD and not fetch:
        # lock *(u64 *)(dst + off) += src, the counter idiom: one region check for the load and
        # the store, then the bytes in place; a read-only region faults in the store, as above
        unpack, pack = UNPACK[size], PACK[size]

        def h(r):
            addr = (r[d] + off) & 0xFFFFFFFFFFFFFFFF
            region, o = r[12].mem.check(addr, size)
            new = (unpack(region.buf, o)[0] + r[s]) & mask
            if region.writable:
                pack(region.buf, o, new)
            else:
                r[14](addr, size, new)            # faults: a store into a read-only region
            return nxt
        return h

    def h(r):
        addr = (r[d] + off) & M64
        old = r[13](addr, size)
        r[14](addr, size, fn(old, r[s]) & mask)
        if fetch:
            r[s] = old
        return nxt
    return h


def _make_ld_imm64(insn, pc, dc):
    d, nxt = insn.dst, pc + 2
    if insn.src == BpfPseudo.BPF_PSEUDO_FUNC:
        value = pc + 1 + insn.imm        # unresolved callback: its instruction index (ours)
    else:
        value = ((dc.insns[pc + 1].imm & M32) << 32) | (insn.imm & M32)

    def h(r):
        r[d] = value
        return nxt
    return h


def _make_ld_pkt(insn, pc, dc):
    """LD_ABS / LD_IND: R0 = big-endian packet bytes; out of bounds returns 0 from the program."""
    size, imm, nxt = SIZE_BYTES[BPF_SIZE(insn.code)], insn.imm, pc + 1
    ind, s = _op.OPCODES[insn.code].kind == "ld_ind", insn.src
    exit_h = _make_exit(insn, pc, dc)

    def h(r):
        offset = ((r[s] if ind else 0) + imm) & M32
        value = r[12].run.skb_load(r[6], _s32(offset), size)
        if value is None:
            r[0] = 0
            return exit_h(r)
        r[0] = value & M64
        return nxt
    return h


def _make_unknown(insn, pc, dc):
    msg = f"insn {pc}: BPF interpreter: unknown opcode {insn.code:02x} (imm: {insn.imm & M32:#x})"
    return lambda r: _fault(msg)


_KIND_MAKERS = {
    "alu": _make_alu, "alu64": _make_alu, "neg": _make_neg, "end": _make_end, "bswap": _make_end,
    "jmp": _make_jmp, "jmp32": _make_jmp, "ja": _make_ja, "gotol": _make_gotol,
    "jcond": _make_jcond, "call": _make_call, "callx": _make_callx, "exit": _make_exit,
    "ldx": _make_ldx, "ldxsx": _make_ldxsx, "st": _make_st, "stx": _make_stx,
    "atomic": _make_atomic, "ld_imm64": _make_ld_imm64, "ld_abs": _make_ld_pkt,
    "ld_ind": _make_ld_pkt,
}

# The jump table: opcode byte -> handler maker (core.c's ``jumptable``).
HANDLERS: tuple = tuple(_KIND_MAKERS[_op.OPCODES[c].kind] if c in _op.OPCODES else _make_unknown
                        for c in range(256))


# ---- decoding and running ----------------------------------------------------------------------

def bpf_prog_decode(insns: Sequence[BpfInsn], probe_mem: Sequence[int] = (),
                    bpf_func: Callable | None = None) -> BpfInterpProg:
    """Build the per-slot handlers once. Called by the kernel core at load time (after the
    verifier and its fix-ups), by the CLI and by tests. Never raises on bad instructions: they
    become handlers that raise ``BpfRuntimeError`` if reached."""
    insns = list(insns)
    holder: list = [None]
    dc = _Decode(insns, holder, frozenset(probe_mem))
    second = ld_imm64_second_slots(insns)
    ops: list = []
    for pc, insn in enumerate(insns):
        if pc in second:
            msg = f"insn {pc}: jump into the middle of ldimm64 insn {pc - 1}"
            ops.append(lambda r, msg=msg: _fault(msg))
            continue
        problem = check_insn(insns, pc, second, max_reg=11)
        if problem is not None and not problem.startswith("unknown opcode"):
            msg = f"insn {pc}: {problem}"
            ops.append(lambda r, msg=msg: _fault(msg))
            continue
        ops.append(HANDLERS[insn.code](insn, pc, dc))
    end_msg = f"insn {len(insns)}: fell off the end of the program (no exit)"
    ops.append(lambda r: _fault(end_msg))
    prog = BpfInterpProg(tuple(insns), ops, dc.probe_mem, bpf_func or bpf_interp_run)
    holder[0] = prog
    return prog


def _insn_text(prog: BpfInterpProg, pc: int) -> str:
    if not 0 <= pc < len(prog.insns):
        return "(end of program)"
    nxt = prog.insns[pc + 1] if pc + 1 < len(prog.insns) else None
    return print_bpf_insn(prog.insns[pc], nxt, ASM_CBS, True)


def _execute(prog: BpfInterpProg, run: BpfRunCtx, r: list, pc: int, st: _RunState,
             tier: Callable | None = None) -> int:
    """The dispatch loop: run from ``pc`` until the frame we started in exits.

    ``tier`` is None for the interpreter, which counts instructions in the loop; a faster tier
    passes ``tier(prog) -> ops``, handlers that count themselves in ``st.cnt`` and check
    ``st.budget`` (fast.py). ``r`` comes filled: R0-R10, AX, then ``st`` and the address
    space's ``load`` and ``store`` (the layout in the module docstring)."""
    ops = prog.ops if tier is None else tier(prog)
    budget = st.budget
    # The interpreter counts by consuming ``left``, one item per instruction: a repeat()
    # iterator yields without making an int, so counting costs almost nothing; the count is
    # ``budget - length_hint(left)`` (the instruction that raised included).
    left = repeat(None, budget) if tier is None else None
    while True:
        try:
            if tier is None:
                for _ in left:
                    pc = ops[pc](r)
                raise BpfRuntimeError(f"instruction budget of {budget} exhausted at insn {pc}", pc)
            while True:
                pc = ops[pc](r)
        except _Exit as e:
            e.__traceback__ = None                 # the one instance must not keep frames alive
            run.insn_cnt += budget - length_hint(left) if tier is None else st.cnt
            return r[0]
        except _Switch as sw:
            prog, pc = sw.prog, sw.pc
            ops = prog.ops if tier is None else tier(prog)
            run.interp_prog = prog
        except MemoryFault as e:
            pc = getattr(e, "bpf_pc", pc)          # a fused block knows the faulting insn
            err = BpfRuntimeError(f"insn {pc}: {_insn_text(prog, pc)}: {e}", pc)
            err.addr, err.size, err.write = e.addr, e.size, e.write
            run.insn_cnt += budget - length_hint(left) if tier is None else st.cnt
            _free_frames(st)
            raise err from None
        except BpfRuntimeError as e:
            if e.pc is None:
                e.pc = pc
            pc = e.pc
            e.add_note(f"insn {pc}: {_insn_text(prog, pc)}")
            run.insn_cnt += budget - length_hint(left) if tier is None else st.cnt
            _free_frames(st)
            raise
        except BaseException:
            _free_frames(st)
            raise


def _free_frames(st: _RunState) -> None:
    for _, _, _, stack in st.frames:
        st.free_stack(stack)
    st.frames.clear()


def bpf_interp_run(prog: BpfInterpProg, run: BpfRunCtx, ctx: int = 0, *args: int,
                   tier: Callable | None = None) -> int:
    """Run a program from its first instruction with R1 = ``ctx`` (and R2.. = ``args``) on a
    fresh 512-byte stack; return the full 64-bit R0 (core.c ``___bpf_prog_run``). The default
    ``bpf_func`` of a decoded program; another tier's ``bpf_func`` calls it with its handler
    list maker as ``tier`` (fast.py). Raises ``BpfRuntimeError``."""
    if len(args) > 4:
        raise TypeError("at most five argument registers")
    st = _RunState(run, 0)
    pool = st.pool
    if pool:
        stack = pool.pop()
        stack.buf[:] = _ZERO_STACK
    else:
        stack = st.alloc_stack()
    mem = st.mem
    r = [0, ctx & M64, 0, 0, 0, 0, 0, 0, 0, 0, stack.start + MAX_BPF_STACK, 0, st, mem.load,
         mem.store]
    if args:
        for i, a in enumerate(args, 2):
            r[i] = a & M64
    run.tail_call_cnt = 0
    run.insn_cnt = 0
    run.interp_prog = prog
    try:
        return _execute(prog, run, r, 0, st, tier)
    finally:
        pool.append(stack)


def bpf_prog_run(prog: BpfInterpProg, run: BpfRunCtx, ctx: int = 0, *args: int) -> int:
    """What kernel callers see: ``(u32)R0`` (``__bpf_prog_run*`` return unsigned int), through
    the program's execution tier."""
    return prog.bpf_func(prog, run, ctx, *args) & M32


def interp_call(run: BpfRunCtx, prog: BpfInterpProg, pc: int, *args: int) -> int:
    """Call instruction ``pc`` of ``prog`` as a function with R1.. = ``args`` in a new frame and
    return its R0: how helpers such as bpf_loop call their callback (a ``func(...)`` LD_IMM64
    gives that index). Called from a helper, inside a run."""
    if len(args) > 5:
        raise TypeError("at most five argument registers")
    if not 0 <= pc < len(prog.insns):
        raise BpfRuntimeError(f"callback at insn {pc} is outside the program")
    st = _RunState(run, 1)
    stack = st.alloc_stack()
    r = [0] * 12 + [st, st.mem.load, st.mem.store]
    for i, a in enumerate(args, 1):
        r[i] = a & M64
    r[10] = stack.end
    saved_prog = run.interp_prog
    try:
        return _execute(prog, run, r, pc, st)
    finally:
        st.free_stack(stack)
        run.interp_prog = saved_prog


def run_program(insns: Sequence[BpfInsn] | BpfInterpProg, ctx: int = 0, *args: int,
                mem: AddressSpace | None = None, helpers=None, budget: int | None = DEFAULT_BUDGET,
                probe_mem: Sequence[int] = ()) -> tuple[int, BpfRunCtx]:
    """Decode (if needed) and run once; return (64-bit R0, the run context). A convenience for
    the CLI and tests; the kernel core builds its own ``BpfRunCtx``."""
    prog = insns if isinstance(insns, BpfInterpProg) else bpf_prog_decode(insns, probe_mem)
    run = BpfRunCtx(mem if mem is not None else AddressSpace("kernel"),
                    helpers if helpers is not None else {}, budget=budget)
    return prog.bpf_func(prog, run, ctx, *args), run
