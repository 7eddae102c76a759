"""The programs of a BPF object, as libbpf finds them in executable sections
(tools/lib/bpf/libbpf.c bpf_object__add_programs, bpf_object__init_prog, cmp_progs,
bpf_object_init_progs, prog_is_subprog, find_prog_by_sec_insn).

Every STT_FUNC symbol of an executable section is a program: its instructions are the symbol's
``st_size`` bytes at ``st_value``. Programs in ``.text`` are *subprograms*: never loaded on their
own, appended to each entry program that calls them (relo.py). Programs are kept sorted by
(section index, instruction offset), which is also libbpf's load order.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from kernelsim.isa.insn import decode_insns

from .elf import STB_LOCAL, STT_FUNC, STV_HIDDEN, STV_INTERNAL
from .errors import BpfObjectError, format_error
from .sections import SecDef, find_sec_def

BPF_INSN_SZ = 8


@dataclass(slots=True)
class ProgDef:
    """One program of the object (libbpf's struct bpf_program), before and after loading."""

    name: str                      # the function's symbol name
    sec_name: str                  # ELF section name without a leading '?'
    sec_idx: int                   # ELF section index
    sec_insn_off: int              # first instruction in the section
    sec_insn_cnt: int              # instructions in the section
    insns: list                    # BpfInsn list; grows as subprograms are appended
    autoload: bool = True          # False for SEC("?...") or when switched off
    sym_global: bool = False
    mark_btf_static: bool = False  # hidden global subprogram: make its BTF FUNC static
    sec_def: SecDef | None = None
    prog_type: int = 0
    expected_attach_type: int = 0
    prog_flags: int = 0
    attach_btf_id: int = 0
    attach_btf_obj_fd: int = 0
    attach_prog_fd: int = 0
    log_level: int = 0
    relos: list = field(default_factory=list)      # RelocDesc, sorted by insn_idx
    sub_insn_off: int = 0          # where this subprogram sits in the current main program
    func_info: list = field(default_factory=list)  # raw records, insn_off in instructions
    func_info_rec_size: int = 0
    line_info: list = field(default_factory=list)
    line_info_rec_size: int = 0
    core_relos: list = field(default_factory=list)  # (insn_idx, CoreRelo, result) for logs
    subprogs: list = field(default_factory=list)   # (sec_insn_off, sub_insn_off) appended
    fd: int = -1
    is_subprog: bool = False
    attach_target: str | None = None  # set_attach_target() override of the section's target
    log: str = ""                  # verifier log of the last load (when requested or failed)

    def contains(self, sec_idx: int, insn_idx: int) -> bool:
        return (self.sec_idx == sec_idx
                and self.sec_insn_off <= insn_idx < self.sec_insn_off + self.sec_insn_cnt)


def add_programs(elf, sec, text_shndx: int) -> list[ProgDef]:
    """bpf_object__add_programs for one executable section."""
    progs = []
    for sym in elf.symbols:
        if sym.shndx != sec.idx or sym.type != STT_FUNC:
            continue
        name = sym.name
        if not name:
            raise format_error(f"sec '{sec.name}': failed to get symbol name for offset "
                               f"{sym.value}", section=sec.name, offset=sym.value)
        off, size = sym.value, sym.size
        if off + size > len(sec.data):
            raise format_error(f"sec '{sec.name}': program at offset {off} crosses section "
                               "boundary", section=sec.name, symbol=name, offset=off)
        if sec.idx != text_shndx and sym.bind == STB_LOCAL:
            raise BpfObjectError(errno.EOPNOTSUPP, f"sec '{sec.name}': program '{name}' is static "
                                 "and not supported", section=sec.name, symbol=name)
        if size == 0 or size % BPF_INSN_SZ or off % BPF_INSN_SZ:
            raise BpfObjectError(errno.EINVAL, f"sec '{sec.name}': corrupted program '{name}', "
                                 f"offset {off}, size {size}", section=sec.name, symbol=name,
                                 offset=off)
        sec_name = sec.name
        autoload = True
        if sec_name.startswith("?"):
            autoload = False
            sec_name = sec_name[1:]
        p = ProgDef(name, sec_name, sec.idx, off // BPF_INSN_SZ, size // BPF_INSN_SZ,
                    decode_insns(sec.data[off: off + size]), autoload=autoload)
        p.is_subprog = sec.idx == text_shndx
        p.sym_global = sym.bind != STB_LOCAL
        p.mark_btf_static = p.sym_global and sym.visibility in (STV_HIDDEN, STV_INTERNAL)
        progs.append(p)
    return progs


def init_progs(progs: list[ProgDef]) -> None:
    """bpf_object_init_progs: type and expected attach type from the section name."""
    for p in progs:
        p.sec_def = find_sec_def(p.sec_name)
        if p.sec_def is None:
            continue
        p.prog_type = int(p.sec_def.prog_type)
        p.expected_attach_type = int(p.sec_def.expected_attach_type)


def find_prog_by_sec_insn(progs: list[ProgDef], sec_idx: int, insn_idx: int) -> ProgDef | None:
    for p in progs:
        if p.contains(sec_idx, insn_idx):
            return p
    return None
