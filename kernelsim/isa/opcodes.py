"""The opcode table: every opcode byte the kernel accepts, its names and its operand rules.

Mirrors kernel/bpf/core.c ``bpf_opcode_in_insntable`` (the ``BPF_INSN_MAP`` list plus the cBPF
carry-overs LD_ABS/LD_IND and JCOND), the sub-operations that live in other fields (the verifier's
rules in kernel/bpf/verifier.c ``check_alu_op``, ``check_atomic``, ``check_cond_jmp_op``, ``do_check``)
and the strings of kernel/bpf/disasm.c. This is a data module, in the spirit of CPython's
``Lib/opcode.py``: ``disasm.py`` (printing and ``check_insns``), ``asm.py`` and ``interp.py`` read it.

One byte does not say everything: ``BPF_DIV`` with ``off=1`` is sdiv, ``BPF_MOV`` with ``off=8``
is movsx, the atomic operation is in ``imm``, the ``CALL`` kind is in ``src_reg``. Those rules are
the tables after ``OPCODES`` (``ALU_OFF_RULES``, ``ATOMIC_OPS``...).

``OPCODES[code]`` is a ``BpfOpcode``. Its ``name`` is the mnemonic of the bpf_conformance / uBPF
assembly dialect (``add32``, ``ldxw``, ``jeq32``, ``lddw``); the kernel has no mnemonics of its own
(it prints C-like text), so where that dialect has no name we invent one and say so below
(``may_goto``, ``ldabsw``...). ``kind`` picks the handler family in the interpreter and the printer.

Example::

    OPCODES[0xbf]   # BpfOpcode(code=0xbf, name='mov', kind='alu64', group='base64', kernel=True)
    OPCODES[0x8d]   # callx: in the ISA extension registry and bpf_conformance, not in Linux
"""

from dataclasses import dataclass

from ..uapi import BpfFuncId, BpfPseudo, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL
from .insn import (
    BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG,
    BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_ABS, BPF_JA,
    BPF_JCOND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET,
    BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LOAD_ACQ, BPF_LSH, BPF_MEM,
    BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_ST, BPF_STORE_REL, BPF_STX,
    BPF_SUB, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, BPF_XOR,
)

BPF_MAY_GOTO = 0            # src_reg of JMP|JCOND (include/uapi/linux/bpf.h)
BPF_ADDR_SPACE_CAST = 1     # off of ALU64|MOV|X: arena address-space cast (not supported here)
BPF_ADDR_PERCPU = -1        # off of ALU64|MOV|X: verifier-internal per-cpu address move


@dataclass(frozen=True, slots=True)
class BpfOpcode:
    """One opcode byte the simulator knows."""

    code: int           # the opcode byte
    name: str           # bpf_conformance mnemonic (K and X forms share it; width suffixes added by asm)
    kind: str           # handler family, see KINDS
    group: str          # RFC 9669 conformance group (base32, base64, atomic32, ... packet, callx)
    kernel: bool = True  # accepted by Linux (bpf_opcode_in_insntable); False: callx only

    def __repr__(self) -> str:
        return (f"BpfOpcode(code={self.code:#04x}, name={self.name!r}, kind={self.kind!r}, "
                f"group={self.group!r}, kernel={self.kernel})")


# Handler families: what a printer, an assembler or the interpreter does with a byte.
KINDS = (
    "alu",       # 32-bit ALU op (ALU class), K or X
    "alu64",     # 64-bit ALU op (ALU64 class), K or X
    "neg",       # ALU|NEG or ALU64|NEG (K only)
    "end",       # ALU|END: le16/32/64 (TO_LE) or be16/32/64 (TO_BE)
    "bswap",     # ALU64|END|TO_LE: unconditional swap (v4)
    "jmp",       # conditional jump, 64-bit compare (JMP class), K or X
    "jmp32",     # conditional jump, 32-bit compare (JMP32 class), K or X
    "ja",        # JMP|JA: goto pc+off
    "gotol",     # JMP32|JA: goto pc+imm (v4)
    "jcond",     # JMP|JCOND: may_goto pc+off (kernel 6.9)
    "call",      # JMP|CALL: helper (src 0), bpf-to-bpf (src 1) or kfunc (src 2)
    "callx",     # JMP|CALL|X: call the helper whose id is in dst_reg (not Linux)
    "exit",      # JMP|EXIT
    "ldx",       # LDX|MEM: zero-extending load
    "ldxsx",     # LDX|MEMSX: sign-extending load (v4)
    "st",        # ST|MEM: store an immediate
    "stx",       # STX|MEM: store a register
    "atomic",    # STX|ATOMIC: operation in imm (ATOMIC_OPS)
    "ld_imm64",  # LD|IMM|DW: two slots, pseudo source in src_reg (LD_IMM64_SRC)
    "ld_abs",    # LD|ABS: legacy packet load, R0 = ntoh(*(skb->data + imm))
    "ld_ind",    # LD|IND: legacy packet load at src_reg + imm
)

# ALU operations: op bits -> (mnemonic, is it in the divmul groups).
ALU_OPS = {
    BPF_ADD: ("add", False),
    BPF_SUB: ("sub", False),
    BPF_MUL: ("mul", True),
    BPF_DIV: ("div", True),
    BPF_OR: ("or", False),
    BPF_AND: ("and", False),
    BPF_LSH: ("lsh", False),
    BPF_RSH: ("rsh", False),
    BPF_MOD: ("mod", True),
    BPF_XOR: ("xor", False),
    BPF_MOV: ("mov", False),
    BPF_ARSH: ("arsh", False),
}

# Conditional jump operations: op bits -> mnemonic.
JMP_OPS = {
    BPF_JEQ: "jeq",
    BPF_JGT: "jgt",
    BPF_JGE: "jge",
    BPF_JSET: "jset",
    BPF_JNE: "jne",
    BPF_JSGT: "jsgt",
    BPF_JSGE: "jsge",
    BPF_JLT: "jlt",
    BPF_JLE: "jle",
    BPF_JSLT: "jslt",
    BPF_JSLE: "jsle",
}

# Memory sizes: size bits -> (bytes, bpf_conformance suffix).
SIZES = {BPF_B: (1, "b"), BPF_H: (2, "h"), BPF_W: (4, "w"), BPF_DW: (8, "dw")}


def _build() -> dict[int, BpfOpcode]:
    """The table, in the order of core.c's BPF_INSN_MAP."""
    table: dict[int, BpfOpcode] = {}

    def add(code, name, kind, group, kernel=True):
        assert code not in table, hex(code)
        table[code] = BpfOpcode(code, name, kind, group, kernel)

    for cls, kind, suffix, width in ((BPF_ALU, "alu", "32", "32"), (BPF_ALU64, "alu64", "", "64")):
        for src in (BPF_X, BPF_K):
            for op, (name, divmul) in ALU_OPS.items():
                add(cls | op | src, name + suffix, kind, ("divmul" if divmul else "base") + width)
        add(cls | BPF_NEG, "neg" + suffix, "neg", "base" + width)
    add(BPF_ALU | BPF_END | BPF_TO_LE, "le", "end", "base32")
    add(BPF_ALU | BPF_END | BPF_TO_BE, "be", "end", "base32")
    add(BPF_ALU64 | BPF_END | BPF_TO_LE, "bswap", "bswap", "base64")
    add(BPF_JMP | BPF_CALL, "call", "call", "base32")
    add(BPF_JMP | BPF_EXIT, "exit", "exit", "base32")
    for cls, kind, suffix, group in ((BPF_JMP32, "jmp32", "32", "base32"),
                                     (BPF_JMP, "jmp", "", "base64")):
        for src in (BPF_X, BPF_K):
            for op, name in JMP_OPS.items():
                add(cls | op | src, name + suffix, kind, group)
    add(BPF_JMP | BPF_JA, "ja", "ja", "base32")
    add(BPF_JMP32 | BPF_JA, "ja32", "gotol", "base32")
    for size, (nbytes, sfx) in SIZES.items():
        add(BPF_STX | BPF_ATOMIC | size, "lock", "atomic", "atomic64" if nbytes == 8 else "atomic32")
    for size, (nbytes, sfx) in SIZES.items():
        add(BPF_STX | BPF_MEM | size, "stx" + sfx, "stx", "base64" if nbytes == 8 else "base32")
    for size, (nbytes, sfx) in SIZES.items():
        add(BPF_ST | BPF_MEM | size, "st" + sfx, "st", "base64" if nbytes == 8 else "base32")
    for size, (nbytes, sfx) in SIZES.items():
        add(BPF_LDX | BPF_MEM | size, "ldx" + sfx, "ldx", "base64" if nbytes == 8 else "base32")
    for size in (BPF_B, BPF_H, BPF_W):
        add(BPF_LDX | BPF_MEMSX | size, "ldxs" + SIZES[size][1], "ldxsx", "base64")
    add(BPF_LD | BPF_IMM | BPF_DW, "lddw", "ld_imm64", "base64")
    # "UAPI exposed, but rewritten opcodes. cBPF carry-over." (core.c); uBPF's names.
    for size in (BPF_B, BPF_H, BPF_W):
        add(BPF_LD | BPF_ABS | size, "ldabs" + SIZES[size][1], "ld_abs", "packet")
        add(BPF_LD | BPF_IND | size, "ldind" + SIZES[size][1], "ld_ind", "packet")
    add(BPF_JMP | BPF_JCOND, "may_goto", "jcond", "base64")   # name invented (kernel text)
    # Not Linux: BPF_CALL|BPF_X, "callx" in LLVM, GCC and bpf_conformance; the register is in
    # dst_reg (LLVM >= 19 and GCC; LLVM < 19 put it in imm; bpf_conformance PR #202).
    add(BPF_JMP | BPF_CALL | BPF_X, "callx", "callx", "callx", kernel=False)
    return table


OPCODES: dict[int, BpfOpcode] = _build()

# The kernel's own table, as a 256-entry list of booleans like public_insntable in core.c.
KERNEL_INSNTABLE: tuple[bool, ...] = tuple(c in OPCODES and OPCODES[c].kernel for c in range(256))


def bpf_opcode_in_insntable(code: int) -> bool:
    """Called by the verifier's first pass (resolve_pseudo_ldimm64): "unknown opcode %02x"."""
    return KERNEL_INSNTABLE[code & 0xFF]


# ---- sub-operations in other fields ------------------------------------------------------------

# Allowed ``off`` values for ALU/ALU64 ops (check_alu_op): sdiv/smod use off=1; movsx off=8/16/32
# (32 only in ALU64), X source only.  Everything else needs off=0.
ALU_OFF_RULES = {
    (BPF_ALU, BPF_DIV): (0, 1), (BPF_ALU64, BPF_DIV): (0, 1),
    (BPF_ALU, BPF_MOD): (0, 1), (BPF_ALU64, BPF_MOD): (0, 1),
}
MOVSX_OFFS = {BPF_ALU: (8, 16), BPF_ALU64: (8, 16, 32)}
END_WIDTHS = (16, 32, 64)

# Atomic operations (imm of STX|ATOMIC): imm -> (name, allowed sizes). Names are the kernel's
# disasm words; "fetch" marks the forms that load the old value into src_reg (or R0 for cmpxchg).
ATOMIC_OPS = {
    BPF_ADD: ("add", (BPF_W, BPF_DW)),
    BPF_OR: ("or", (BPF_W, BPF_DW)),
    BPF_AND: ("and", (BPF_W, BPF_DW)),
    BPF_XOR: ("xor", (BPF_W, BPF_DW)),
    BPF_ADD | BPF_FETCH: ("fetch_add", (BPF_W, BPF_DW)),
    BPF_OR | BPF_FETCH: ("fetch_or", (BPF_W, BPF_DW)),
    BPF_AND | BPF_FETCH: ("fetch_and", (BPF_W, BPF_DW)),
    BPF_XOR | BPF_FETCH: ("fetch_xor", (BPF_W, BPF_DW)),
    BPF_XCHG: ("xchg", (BPF_W, BPF_DW)),
    BPF_CMPXCHG: ("cmpxchg", (BPF_W, BPF_DW)),
    BPF_LOAD_ACQ: ("load_acquire", (BPF_B, BPF_H, BPF_W, BPF_DW)),     # dst = *(src + off)
    BPF_STORE_REL: ("store_release", (BPF_B, BPF_H, BPF_W, BPF_DW)),   # *(dst + off) = src
}

# LD_IMM64 src_reg values (include/uapi/linux/bpf.h): src -> (asm function name, uses next imm).
# The asm names are ours (invented), see docs/isa.md; 0 is the plain 64-bit constant.
LD_IMM64_SRC = {
    0: ("", True),
    BpfPseudo.BPF_PSEUDO_MAP_FD: ("map_fd", False),
    BpfPseudo.BPF_PSEUDO_MAP_VALUE: ("map_value", True),
    BpfPseudo.BPF_PSEUDO_BTF_ID: ("btf_id", True),
    BpfPseudo.BPF_PSEUDO_FUNC: ("func", False),
    BpfPseudo.BPF_PSEUDO_MAP_IDX: ("map_idx", False),
    BpfPseudo.BPF_PSEUDO_MAP_IDX_VALUE: ("map_idx_value", True),
}

# CALL src_reg values.
CALL_SRC = {0: "helper", BPF_PSEUDO_CALL: "local", BPF_PSEUDO_KFUNC_CALL: "kfunc"}

# ---- disasm.c strings --------------------------------------------------------------------------

# bpf_alu_string, indexed by BPF_OP >> 4 (None where the kernel array has a hole).
BPF_ALU_STRING = ("+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=",
                  "s>>=", "endian", None, None)
# bpf_alu_sign_string: the off=1 forms of DIV and MOD.
BPF_ALU_SIGN_STRING = {BPF_DIV >> 4: "s/=", BPF_MOD >> 4: "s%="}
# bpf_movsx_string, indexed by (off >> 3) - 1.
BPF_MOVSX_STRING = {0: "(s8)", 1: "(s16)", 3: "(s32)"}
# bpf_atomic_alu_string, indexed by BPF_OP(imm) >> 4.
BPF_ATOMIC_ALU_STRING = {BPF_ADD >> 4: "add", BPF_AND >> 4: "and", BPF_OR >> 4: "or",
                         BPF_XOR >> 4: "xor"}
# bpf_ldst_string / bpf_ldsx_string, indexed by BPF_SIZE >> 3.
BPF_LDST_STRING = ("u32", "u16", "u8", "u64")
BPF_LDSX_STRING = ("s32", "s16", "s8", None)
# bpf_jmp_string, indexed by BPF_OP >> 4 (holes print "(null)", as the kernel's printf does).
BPF_JMP_STRING = ("jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=",
                  "s<", "s<=", None, None)
# bpf_class_string, indexed by class.
BPF_CLASS_STRING = ("ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64")

# func_id_str: helper id -> "bpf_<name>" (generated from the uapi list, like __BPF_FUNC_MAPPER).
FUNC_ID_STR: dict[int, str] = {int(m): "bpf_" + m.name[len("BPF_FUNC_"):] for m in BpfFuncId}
# The reverse, for the assembler: "bpf_map_lookup_elem" -> 1.
FUNC_NAME_ID: dict[str, int] = {name: fid for fid, name in FUNC_ID_STR.items()}
