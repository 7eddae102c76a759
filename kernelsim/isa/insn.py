"""struct bpf_insn: the 8-byte instruction record, its fields and the opcode-byte constants.

Mirrors include/uapi/linux/bpf_common.h and bpf.h (struct bpf_insn, BPF_CLASS/BPF_OP/BPF_SRC...).
Decoding (bytes -> BpfInsn) and encoding are exact inverses; LD_IMM64 stays two records, as the
kernel keeps it (the program counter counts 8-byte slots). Which opcodes exist is the table in
``opcodes.py``; how they print is ``disasm.py``.
"""

import struct
from dataclasses import dataclass

# Instruction classes (low 3 bits).
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# Sizes (LD/LDX/ST/STX).
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_DW = 0x18

# Modes (LD/LDX/ST/STX).
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_MEMSX = 0x80
BPF_ATOMIC = 0xC0

# Source operand (ALU/JMP).
BPF_K = 0x00
BPF_X = 0x08
BPF_TO_LE = 0x00
BPF_TO_BE = 0x08

# ALU operations.
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0
BPF_MOV = 0xB0
BPF_ARSH = 0xC0
BPF_END = 0xD0

# JMP operations.
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40
BPF_JNE = 0x50
BPF_JSGT = 0x60
BPF_JSGE = 0x70
BPF_CALL = 0x80
BPF_EXIT = 0x90
BPF_JLT = 0xA0
BPF_JLE = 0xB0
BPF_JSLT = 0xC0
BPF_JSLE = 0xD0
BPF_JCOND = 0xE0

# Atomic operations (imm of STX|ATOMIC).
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
BPF_LOAD_ACQ = 0x10 | 0x01
BPF_STORE_REL = 0x20 | 0x02

# Register numbers.
BPF_REG_0, BPF_REG_1, BPF_REG_2, BPF_REG_3, BPF_REG_4, BPF_REG_5 = range(6)
BPF_REG_6, BPF_REG_7, BPF_REG_8, BPF_REG_9, BPF_REG_10 = range(6, 11)
BPF_REG_FP = BPF_REG_10
BPF_REG_AX = 11  # verifier-internal scratch register (kernel: MAX_BPF_REG)

INSN_SIZE = 8
_INSN = struct.Struct("<BBhi")


def BPF_CLASS(code: int) -> int:
    return code & 0x07


def BPF_SIZE(code: int) -> int:
    return code & 0x18


def BPF_MODE(code: int) -> int:
    return code & 0xE0


def BPF_OP(code: int) -> int:
    return code & 0xF0


def BPF_SRC(code: int) -> int:
    return code & 0x08


SIZE_BYTES = {BPF_W: 4, BPF_H: 2, BPF_B: 1, BPF_DW: 8}


@dataclass(frozen=True, slots=True)
class BpfInsn:
    """One 8-byte instruction slot, as struct bpf_insn lays it out."""

    code: int       # opcode byte: class | op/size/mode | source
    dst: int = 0    # dst_reg, low nibble of byte 1
    src: int = 0    # src_reg, high nibble of byte 1
    off: int = 0    # signed 16-bit offset
    imm: int = 0    # signed 32-bit immediate

    def encode(self) -> bytes:
        """The 8 little-endian bytes of this slot."""
        return _INSN.pack(self.code, (self.src << 4) | (self.dst & 0x0F), self.off, self.imm)

    @property
    def cls(self) -> int:
        return self.code & 0x07

    def is_ld_imm64(self) -> bool:
        return self.code == (BPF_LD | BPF_IMM | BPF_DW)


def decode_insns(data: bytes | bytearray | memoryview) -> list[BpfInsn]:
    """Split a byte string into instruction slots. Raises ValueError when the length is not a
    multiple of 8 (callers turn that into their own errno)."""
    if len(data) % INSN_SIZE:
        raise ValueError(f"program length {len(data)} is not a multiple of {INSN_SIZE} bytes")
    out = []
    for code, regs, off, imm in _INSN.iter_unpack(bytes(data)):
        out.append(BpfInsn(code, regs & 0x0F, regs >> 4, off, imm))
    return out


def encode_insns(insns) -> bytes:
    """The inverse of decode_insns."""
    return b"".join(i.encode() for i in insns)
