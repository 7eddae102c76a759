"""Instruction text and instruction checks: print_bpf_insn and check_insns (kernel/bpf/disasm.c).

``print_bpf_insn`` prints one instruction exactly as the kernel's printer does, for every byte
(also the invalid ones, which come out as the kernel prints them: ``BUG_ldx_..``, or a condition
with ``(null)``). It takes callbacks like ``struct bpf_insn_cbs`` in kernel/bpf/disasm.h:

* ``cb_call(insn) -> str | None`` names a call that is not a known helper (bpf-to-bpf, kfunc);
* ``cb_imm(insn, next_insn, full_imm) -> str`` prints the value of a LD_IMM64.

The verifier log uses no callbacks (``(18) r1 = 0x0`` for a map fd unless pointer leaks are
allowed), bpftool uses ``BPFTOOL_CBS`` (``map[id:5]``), and ``ASM_CBS`` prints the pseudo forms in
the assembler's syntax (``map_fd(3)``), so that ``assemble(disasm_insns(x, ASM_CBS)) == x``.

``check_insns`` is the structural check of an instruction array with the verifier's own messages
(unknown opcode, reserved fields, register numbers, jump and call targets, LD_IMM64 pairing): the
checks of verifier.c ``resolve_pseudo_ldimm64``, ``add_subprog``, ``check_cfg`` and the
reserved-field tests of ``do_check``/``check_alu_op``/``check_cond_jmp_op``/``check_atomic``. It
does not do what needs abstract interpretation (``div by zero``, ``invalid shift``). The assembler,
the disassembler CLI and the interpreter's decoder use it.

Deliberate differences: ``callx`` (0x8d, not Linux) prints ``(8d) callx r2`` where the kernel
would print ``call bpf_unspec#0``; a MEMSX load of size DW (invalid) prints ``s64``.
"""

import errno
from dataclasses import dataclass
from typing import Callable

from ..errors import BpfError
from ..uapi import BpfPseudo, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL
from . import opcodes as _op
from .insn import (
    BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CLASS, BPF_DIV, BPF_DW, BPF_END,
    BPF_EXIT, BPF_IMM, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM,
    BPF_MEMSX, BPF_MOD, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX,
    BPF_TO_BE, BPF_X, BpfInsn,
)

MAX_BPF_REG = 11   # R0..R10 (uapi.MAX_BPF_REG); the hidden AX is 11


# ---- callbacks ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BpfInsnCbs:
    """struct bpf_insn_cbs: how calls and 64-bit immediates are named (kernel/bpf/disasm.h)."""

    cb_call: Callable[[BpfInsn], str | None] | None = None   # name of a non-helper call, or None
    cb_imm: Callable[[BpfInsn, BpfInsn, int], str] | None = None  # text of a LD_IMM64 value


def _asm_imm(insn: BpfInsn, nxt: BpfInsn, full_imm: int) -> str:
    name, two = _op.LD_IMM64_SRC.get(insn.src, (None, False))
    if not name:
        return f"{full_imm:#x}"
    if insn.src == BpfPseudo.BPF_PSEUDO_FUNC:
        return f"func({insn.imm:+d})"
    return f"{name}({insn.imm}, {nxt.imm})" if two else f"{name}({insn.imm})"


def _asm_call(insn: BpfInsn) -> str | None:
    if insn.src == BPF_PSEUDO_KFUNC_CALL:
        return f"kfunc({insn.imm}, {insn.off})" if insn.off else f"kfunc({insn.imm})"
    return None


def _bpftool_imm(insn: BpfInsn, nxt: BpfInsn, full_imm: int) -> str:
    # tools/bpf/bpftool/xlated_dumper.c print_imm
    if insn.src == BpfPseudo.BPF_PSEUDO_MAP_FD:
        return f"map[id:{insn.imm & 0xFFFFFFFF}]"
    if insn.src == BpfPseudo.BPF_PSEUDO_MAP_VALUE:
        return f"map[id:{insn.imm & 0xFFFFFFFF}][0]+{nxt.imm & 0xFFFFFFFF}"
    if insn.src == BpfPseudo.BPF_PSEUDO_MAP_IDX_VALUE:
        return f"map[idx:{insn.imm & 0xFFFFFFFF}]+{nxt.imm & 0xFFFFFFFF}"
    if insn.src == BpfPseudo.BPF_PSEUDO_FUNC:
        return f"subprog[{insn.imm:+d}]"
    return f"{full_imm:#x}"


ASM_CBS = BpfInsnCbs(cb_call=_asm_call, cb_imm=_asm_imm)     # round-trips through asm.assemble
BPFTOOL_CBS = BpfInsnCbs(cb_imm=_bpftool_imm)                # bpftool prog dump xlated style


# ---- print_bpf_insn ----------------------------------------------------------------------------

def _s(table, index) -> str:
    """A string table entry; a hole prints "(null)" as the kernel's vsnprintf does for NULL."""
    value = table.get(index) if isinstance(table, dict) else table[index]
    return "(null)" if value is None else value


def _func_get_name(cbs: BpfInsnCbs | None, insn: BpfInsn) -> str:
    """disasm.c __func_get_name: helper table first, then the callback, then a fallback."""
    if not insn.src and 0 <= insn.imm < len(_op.FUNC_ID_STR):
        return _op.FUNC_ID_STR[insn.imm]
    if cbs is not None and cbs.cb_call is not None:
        name = cbs.cb_call(insn)
        if name:
            return name
    if insn.src == BPF_PSEUDO_CALL:
        return f"{insn.imm:+d}"
    if insn.src == BPF_PSEUDO_KFUNC_CALL:
        return "kernel-function"
    return "unknown"


def print_bpf_insn(insn: BpfInsn, next_insn: BpfInsn | None = None, cbs: BpfInsnCbs | None = None,
                   allow_ptr_leaks: bool = False) -> str:
    """The kernel's text for one instruction, without the index prefix or newline.

    Called by the verifier log, the disassembler CLI and error messages. ``next_insn`` is the
    second slot of a LD_IMM64 (a missing one counts as zero).
    """
    code, cls = insn.code, BPF_CLASS(insn.code)
    op = BPF_OP(code)
    if cls in (BPF_ALU, BPF_ALU64):
        w = "w" if cls == BPF_ALU else "r"
        if op == BPF_END:
            if cls == BPF_ALU64:
                return f"({code:02x}) r{insn.dst} = bswap{insn.imm} r{insn.dst}"
            which = "be" if BPF_SRC(code) == BPF_TO_BE else "le"
            return f"({code:02x}) r{insn.dst} = {which}{insn.imm} r{insn.dst}"
        if op == BPF_NEG:
            return f"({code:02x}) {w}{insn.dst} = -{w}{insn.dst}"
        if code == BPF_ALU64 | BPF_MOV | BPF_X and insn.off == _op.BPF_ADDR_SPACE_CAST:
            return (f"({code:02x}) r{insn.dst} = addr_space_cast(r{insn.src}, "
                    f"{(insn.imm & 0xFFFFFFFF) >> 16}, {insn.imm & 0xFFFF})")
        if code == BPF_ALU64 | BPF_MOV | BPF_X and insn.off == _op.BPF_ADDR_PERCPU:
            return f"({code:02x}) r{insn.dst} = &(void __percpu *)(r{insn.src})"
        if op in (BPF_DIV, BPF_MOD) and insn.off == 1:
            opstr = _op.BPF_ALU_SIGN_STRING[op >> 4]
        else:
            opstr = _s(_op.BPF_ALU_STRING, op >> 4)
        if BPF_SRC(code) == BPF_X:
            cast = ""
            if op == BPF_MOV and insn.off in (8, 16, 32):
                cast = _s(_op.BPF_MOVSX_STRING, (insn.off >> 3) - 1)
            return f"({code:02x}) {w}{insn.dst} {opstr} {cast}{w}{insn.src}"
        return f"({code:02x}) {w}{insn.dst} {opstr} {insn.imm}"

    if cls == BPF_STX:
        size = _op.BPF_LDST_STRING[BPF_SIZE(code) >> 3]
        mode, imm = BPF_MODE(code), insn.imm
        dw = "64" if BPF_SIZE(code) == BPF_DW else ""
        mem = f"({size} *)(r{insn.dst} {insn.off:+d})"
        if mode == BPF_MEM:
            return f"({code:02x}) *{mem} = r{insn.src}"
        if mode == BPF_ATOMIC:
            name = _op.ATOMIC_OPS.get(imm, ("",))[0]
            if name in ("add", "and", "or", "xor"):
                return f"({code:02x}) lock *{mem} {_op.BPF_ALU_STRING[imm >> 4]} r{insn.src}"
            if name.startswith("fetch_"):
                return f"({code:02x}) r{insn.src} = atomic{dw}_{name}({mem}, r{insn.src})"
            if name == "cmpxchg":
                return f"({code:02x}) r0 = atomic{dw}_cmpxchg({mem}, r0, r{insn.src})"
            if name == "xchg":
                return f"({code:02x}) r{insn.src} = atomic{dw}_xchg({mem}, r{insn.src})"
            if name == "load_acquire":
                return f"({code:02x}) r{insn.dst} = load_acquire(({size} *)(r{insn.src} {insn.off:+d}))"
            if name == "store_release":
                return f"({code:02x}) store_release({mem}, r{insn.src})"
        return f"BUG_{code:02x}"

    if cls == BPF_ST:
        if BPF_MODE(code) == BPF_MEM:
            size = _op.BPF_LDST_STRING[BPF_SIZE(code) >> 3]
            return f"({code:02x}) *({size} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
        if BPF_MODE(code) == 0xC0:   # BPF_NOSPEC, kernel-internal
            return f"({code:02x}) nospec"
        return f"BUG_st_{code:02x}"

    if cls == BPF_LDX:
        mode = BPF_MODE(code)
        if mode not in (BPF_MEM, BPF_MEMSX):
            return f"BUG_ldx_{code:02x}"
        table = _op.BPF_LDST_STRING if mode == BPF_MEM else _op.BPF_LDSX_STRING
        size = table[BPF_SIZE(code) >> 3] or "s64"
        return f"({code:02x}) r{insn.dst} = *({size} *)(r{insn.src} {insn.off:+d})"

    if cls == BPF_LD:
        mode = BPF_MODE(code)
        size = _op.BPF_LDST_STRING[BPF_SIZE(code) >> 3]
        if mode == BPF_ABS:
            return f"({code:02x}) r0 = *({size} *)skb[{insn.imm}]"
        if mode == BPF_IND:
            return f"({code:02x}) r0 = *({size} *)skb[r{insn.src} + {insn.imm}]"
        if mode == BPF_IMM and BPF_SIZE(code) == BPF_DW:
            nxt = next_insn if next_insn is not None else BpfInsn(0)
            full = ((nxt.imm & 0xFFFFFFFF) << 32) | (insn.imm & 0xFFFFFFFF)
            if insn.src in (BpfPseudo.BPF_PSEUDO_MAP_FD, BpfPseudo.BPF_PSEUDO_MAP_VALUE) \
                    and not allow_ptr_leaks:
                full = 0
            text = cbs.cb_imm(insn, nxt, full) if cbs and cbs.cb_imm else f"{full:#x}"
            return f"({code:02x}) r{insn.dst} = {text}"
        return f"BUG_ld_{code:02x}"

    # BPF_JMP or BPF_JMP32
    w = "w" if cls == BPF_JMP32 else "r"
    if code == BPF_JMP | BPF_CALL | BPF_X:
        return f"({code:02x}) callx r{insn.dst}"
    if op == BPF_CALL:
        if insn.src == BPF_PSEUDO_CALL:
            return f"({code:02x}) call pc{_func_get_name(cbs, insn)}"
        return f"({code:02x}) call {_func_get_name(cbs, insn)}#{insn.imm}"
    if code == BPF_JMP | BPF_JA:
        return f"({code:02x}) goto pc{insn.off:+d}"
    if code == BPF_JMP | BPF_JCOND and insn.src == _op.BPF_MAY_GOTO:
        return f"({code:02x}) may_goto pc{insn.off:+d}"
    if code == BPF_JMP32 | BPF_JA:
        return f"({code:02x}) gotol pc{insn.imm:+d}"
    if code == BPF_JMP | BPF_EXIT:
        return f"({code:02x}) exit"
    opstr = _s(_op.BPF_JMP_STRING, op >> 4)
    if BPF_SRC(code) == BPF_X:
        return f"({code:02x}) if {w}{insn.dst} {opstr} {w}{insn.src} goto pc{insn.off:+d}"
    return f"({code:02x}) if {w}{insn.dst} {opstr} {insn.imm & 0xFFFFFFFF:#x} goto pc{insn.off:+d}"


def disasm_insns(insns: list[BpfInsn], cbs: BpfInsnCbs | None = None, bpftool: bool = False,
                 allow_ptr_leaks: bool = False) -> list[str]:
    """A whole program, one line per instruction, with the verifier's ``N: `` prefix (or
    bpftool's ``% 4d: `` one). The second slot of a LD_IMM64 gets no line of its own, as in
    verifier.c do_check and bpftool's dump_xlated_plain."""
    out, i, n = [], 0, len(insns)
    while i < n:
        insn = insns[i]
        nxt = insns[i + 1] if insn.is_ld_imm64() and i + 1 < n else None
        text = print_bpf_insn(insn, nxt, cbs, allow_ptr_leaks)
        out.append(f"{i:4d}: {text}" if bpftool else f"{i}: {text}")
        i += 2 if nxt is not None else 1
    return out


# ---- the bpf_conformance dialect ---------------------------------------------------------------

def _creg(n: int) -> str:
    return f"%r{n}"


def _cmem(reg: int, off: int) -> str:
    return f"[%r{reg}{off:+d}]"


def print_conformance_insn(insn: BpfInsn, next_insn: BpfInsn | None = None) -> str:
    """One instruction in the bpf_conformance assembly dialect (``mov32 %r0, 1``), for valid
    instructions (``check_insns``); called by tests and ``kernelsim disasm --dialect conformance``.
    Jump targets print as relative offsets (``+2``)."""
    info = _op.OPCODES.get(insn.code)
    if info is None:
        return f".raw {insn.encode().hex()}"   # invented directive: not in the dialect
    kind, name, x = info.kind, info.name, BPF_SRC(insn.code) == BPF_X
    if kind in ("alu", "alu64"):
        sfx = "32" if kind == "alu" else ""
        base = name[:-2] if kind == "alu" else name
        if BPF_OP(insn.code) in (BPF_DIV, BPF_MOD) and insn.off == 1:
            base = "s" + base
        if BPF_OP(insn.code) == BPF_MOV and x and insn.off:
            width = "32" if kind == "alu" else "64"
            return f"movsx{insn.off}{width} {_creg(insn.dst)}, {_creg(insn.src)}"
        operand = _creg(insn.src) if x else str(insn.imm)
        return f"{base}{sfx} {_creg(insn.dst)}, {operand}"
    if kind == "neg":
        return f"{name} {_creg(insn.dst)}"
    if kind in ("end", "bswap"):
        return f"{name}{insn.imm} {_creg(insn.dst)}"
    if kind in ("jmp", "jmp32"):
        operand = _creg(insn.src) if x else str(insn.imm)
        return f"{name} {_creg(insn.dst)}, {operand}, {insn.off:+d}"
    if kind == "ja":
        return f"ja {insn.off:+d}"
    if kind == "gotol":
        return f"ja32 {insn.imm:+d}"
    if kind == "jcond":
        return f"may_goto {insn.off:+d}"
    if kind == "exit":
        return "exit"
    if kind == "callx":
        return f"call {_creg(insn.dst)}"
    if kind == "call":
        if insn.src == BPF_PSEUDO_CALL:
            return f"call local {insn.imm:+d}"
        if insn.src == BPF_PSEUDO_KFUNC_CALL:
            return f"call runtime {insn.imm}"
        return f"call {insn.imm}"
    if kind in ("ldx", "ldxsx"):
        return f"{name} {_creg(insn.dst)}, {_cmem(insn.src, insn.off)}"
    if kind == "st":
        return f"{name} {_cmem(insn.dst, insn.off)}, {insn.imm}"
    if kind == "stx":
        return f"{name} {_cmem(insn.dst, insn.off)}, {_creg(insn.src)}"
    if kind == "atomic":
        aname = _op.ATOMIC_OPS.get(insn.imm, ("?",))[0]
        sz = _op.SIZES[BPF_SIZE(insn.code)][1]
        if aname == "load_acquire":
            return f"ldacq{sz} {_creg(insn.dst)}, {_cmem(insn.src, insn.off)}"
        if aname == "store_release":
            return f"strel{sz} {_cmem(insn.dst, insn.off)}, {_creg(insn.src)}"
        w32 = "32" if BPF_SIZE(insn.code) != BPF_DW else ""
        fetch = "fetch " if aname.startswith("fetch_") else ""
        op = aname.removeprefix("fetch_")
        return f"lock {fetch}{op}{w32} {_cmem(insn.dst, insn.off)}, {_creg(insn.src)}"
    if kind == "ld_imm64":
        nxt = next_insn if next_insn is not None else BpfInsn(0)
        if insn.src:
            return f"lddw {_creg(insn.dst)}, {_asm_imm(insn, nxt, 0)}"
        full = ((nxt.imm & 0xFFFFFFFF) << 32) | (insn.imm & 0xFFFFFFFF)
        return f"lddw {_creg(insn.dst)}, {full:#x}"
    if kind == "ld_abs":
        return f"{name} {insn.imm}"
    if kind == "ld_ind":
        return f"{name} {_creg(insn.src)}, {insn.imm}"
    raise AssertionError(kind)   # pragma: no cover


# ---- check_insns -------------------------------------------------------------------------------

class BpfInsnError(BpfError):
    """A structurally invalid instruction (EINVAL). ``index`` is the instruction index; the
    message is the verifier's text for it."""

    def __init__(self, index: int, message: str):
        super().__init__(errno.EINVAL, message)
        self.index = index


def check_insn(insns: list[BpfInsn], i: int, second: set[int], max_reg: int = MAX_BPF_REG - 1
               ) -> str | None:
    """The verifier's complaint about instruction ``i`` taken alone (with its LD_IMM64 second
    slot and its jump target), or None. ``second`` is ``ld_imm64_second_slots(insns)``;
    ``max_reg`` is 10 for user programs, the interpreter passes 11 to allow the verifier's
    hidden AX register."""
    insn, n = insns[i], len(insns)
    code, cls, op, x = insn.code, BPF_CLASS(insn.code), BPF_OP(insn.code), BPF_SRC(insn.code) == BPF_X
    info = _op.OPCODES.get(code)
    if cls == BPF_LDX and (BPF_MODE(code) not in (BPF_MEM, BPF_MEMSX) or insn.imm):
        return "BPF_LDX uses reserved fields"
    if info is None:
        return f"unknown opcode {code:02x}"
    kind = info.kind
    regs: tuple[int, ...] = ()
    if kind in ("alu", "alu64"):
        if op == BPF_MOV:
            if x:
                if kind == "alu64" and insn.off == _op.BPF_ADDR_SPACE_CAST:
                    return ("addr_space_cast insn can only be used in a program that has an "
                            "associated arena")
                if (insn.off and insn.off not in _op.MOVSX_OFFS[BPF_CLASS(code)]) or insn.imm:
                    return "BPF_MOV uses reserved fields"
            elif insn.src or insn.off:
                return "BPF_MOV uses reserved fields"
        else:
            offs = _op.ALU_OFF_RULES.get((BPF_CLASS(code), op), (0,))
            if (x and insn.imm) or (not x and insn.src) or insn.off not in offs:
                return "BPF_ALU uses reserved fields"
        regs = (insn.src, insn.dst) if x else (insn.dst,)
    elif kind == "neg":
        if insn.src or insn.off or insn.imm:
            return "BPF_NEG uses reserved fields"
        regs = (insn.dst,)
    elif kind in ("end", "bswap"):
        if insn.src or insn.off or insn.imm not in _op.END_WIDTHS:
            return "BPF_END uses reserved fields"
        regs = (insn.dst,)
    elif kind in ("jmp", "jmp32"):
        if (x and insn.imm) or (not x and insn.src):
            return "BPF_JMP/JMP32 uses reserved fields"
        regs = (insn.dst, insn.src) if x else (insn.dst,)
    elif kind == "jcond":
        if insn.src != _op.BPF_MAY_GOTO or insn.dst or insn.imm:
            return f"invalid may_goto imm {insn.imm}"
    elif kind in ("ja", "gotol"):
        if insn.src or insn.dst or (kind == "ja" and insn.imm) or (kind == "gotol" and insn.off):
            return "BPF_JA uses reserved fields"
    elif kind == "call":
        if (insn.src != BPF_PSEUDO_KFUNC_CALL and insn.off) or insn.dst \
                or insn.src not in _op.CALL_SRC:
            return "BPF_CALL uses reserved fields"
    elif kind == "callx":
        if insn.src or insn.off or insn.imm:
            return "BPF_CALL uses reserved fields"
        regs = (insn.dst,)
    elif kind == "exit":
        if insn.imm or insn.src or insn.dst:
            return "BPF_EXIT uses reserved fields"
    elif kind in ("ldx", "ldxsx"):
        regs = (insn.src, insn.dst)
    elif kind == "st":
        if insn.src:
            return "BPF_ST uses reserved fields"
        regs = (insn.dst,)
    elif kind == "stx":
        if insn.imm:
            return "BPF_STX uses reserved fields"
        regs = (insn.src, insn.dst)
    elif kind == "atomic":
        aop = _op.ATOMIC_OPS.get(insn.imm)
        if aop is None:
            return f"BPF_ATOMIC uses invalid atomic opcode {insn.imm & 0xFFFFFFFF:02x}"
        if BPF_SIZE(code) not in aop[1]:
            return "invalid atomic operand size"
        regs = (insn.src, insn.dst)
    elif kind == "ld_imm64":
        if i == n - 1 or insns[i + 1].code or insns[i + 1].dst or insns[i + 1].src \
                or insns[i + 1].off:
            return "invalid bpf_ld_imm64 insn"
        if insn.src not in _op.LD_IMM64_SRC or (
                insn.src in (BpfPseudo.BPF_PSEUDO_MAP_FD, BpfPseudo.BPF_PSEUDO_MAP_IDX)
                and insns[i + 1].imm):
            return "unrecognized bpf_ld_imm64 insn"
        if insn.off:
            return "BPF_LD_IMM64 uses reserved fields"
        regs = (insn.dst,)
    elif kind in ("ld_abs", "ld_ind"):
        if insn.dst or insn.off or (kind == "ld_abs" and insn.src):
            return "BPF_LD_[ABS|IND] uses reserved fields"
        regs = (insn.src,) if kind == "ld_ind" else ()
    for reg in regs:
        if reg > max_reg:
            return f"R{reg} is invalid"
    # control flow targets (check_cfg, add_subprog)
    target = None
    if kind in ("jmp", "jmp32", "ja", "jcond"):
        target = i + 1 + insn.off
    elif kind == "gotol":
        target = i + 1 + insn.imm
    elif (kind == "call" and insn.src == BPF_PSEUDO_CALL) or (
            kind == "ld_imm64" and insn.src == BpfPseudo.BPF_PSEUDO_FUNC):
        dest = i + 1 + insn.imm
        if not 0 <= dest < n:
            return "call to invalid destination"
        target = dest
    if target is not None:
        if not 0 <= target < n:
            return f"jump out of range from insn {i} to {target}"
        if target in second:
            return f"jump into the middle of ldimm64 insn {target - 1}"
    return None


def ld_imm64_second_slots(insns: list[BpfInsn]) -> set[int]:
    """Indices of the slots that are the second half of a LD_IMM64 (they are not instructions)."""
    out, i, n = set(), 0, len(insns)
    while i < n:
        if insns[i].is_ld_imm64() and i + 1 < n:
            out.add(i + 1)
            i += 2
        else:
            i += 1
    return out


def check_insns(insns: list[BpfInsn], max_reg: int = MAX_BPF_REG - 1) -> None:
    """Raise ``BpfInsnError`` (EINVAL, the verifier's message, the index, a note with the
    disassembly) for the first structurally invalid instruction. Called by the assembler, the
    CLI and whoever wants the verifier's first-pass checks. An empty program is refused too (the
    kernel refuses insn_cnt 0 earlier, in bpf_prog_load, also with EINVAL)."""
    if not insns:
        raise BpfInsnError(0, "empty program")
    second = ld_imm64_second_slots(insns)
    for i in range(len(insns)):
        if i in second:
            continue
        msg = check_insn(insns, i, second, max_reg)
        if msg is not None:
            err = BpfInsnError(i, msg)
            nxt = insns[i + 1] if i + 1 < len(insns) else None
            err.add_note(f"insn {i}: {print_bpf_insn(insns[i], nxt, ASM_CBS, True)}")
            raise err
