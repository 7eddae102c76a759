"""The BPF instruction set: the instruction record, the opcode table, the printer, the assembler,
the interpreter and its faster tier (include/uapi/linux/bpf.h, kernel/bpf/core.c, kernel/bpf/disasm.c).
See docs/isa.md."""

from .asm import AsmError, assemble, parse_data_file
from .disasm import (ASM_CBS, BPFTOOL_CBS, BpfInsnCbs, BpfInsnError, check_insns, disasm_insns,
                     print_bpf_insn)
from .fast import bpf_fast_run
from .insn import BpfInsn, decode_insns, encode_insns
from .interp import (BpfInterpProg, BpfRunCtx, bpf_interp_run, bpf_prog_decode, bpf_prog_run,
                     interp_call, run_program)
from .opcodes import OPCODES, BpfOpcode, bpf_opcode_in_insntable

__all__ = [
    "BpfInsn", "decode_insns", "encode_insns",
    "OPCODES", "BpfOpcode", "bpf_opcode_in_insntable",
    "print_bpf_insn", "disasm_insns", "BpfInsnCbs", "ASM_CBS", "BPFTOOL_CBS",
    "check_insns", "BpfInsnError",
    "assemble", "AsmError", "parse_data_file",
    "BpfRunCtx", "BpfInterpProg", "bpf_prog_decode", "bpf_interp_run", "bpf_prog_run",
    "interp_call", "run_program", "bpf_fast_run",
]
