"""Relocations: ELF relocations recorded per instruction, CO-RE applied, subprograms appended to
every program that calls them, map and global-data references turned into map fds
(tools/lib/bpf/libbpf.c bpf_object__collect_prog_relos, bpf_program__record_reloc,
bpf_object__relocate, bpf_object__relocate_core, bpf_object__relocate_calls,
bpf_object__reloc_code, bpf_object__append_subprog_code, append_subprog_relos,
reloc_prog_func_and_line_info, adjust_prog_btf_ext_info, bpf_object__relocate_data,
poison_map_ldimm64).

What an instruction refers to, and what it becomes at load:

* ``r1 = &map`` (ld_imm64 against a ``.maps``/``maps`` symbol): ``src_reg = BPF_PSEUDO_MAP_FD``,
  ``imm`` = the map's fd.
* ``r1 = &global_var`` (ld_imm64 against a .data/.rodata/.bss symbol or section): ``src_reg =
  BPF_PSEUDO_MAP_VALUE``, ``imm`` = the internal map's fd, the second half's ``imm`` = the
  variable's offset in the section (symbol value plus clang's addend in the first ``imm``).
* ``call sub`` (``src_reg = BPF_PSEUDO_CALL`` against a .text function): the subprogram is
  appended after the program (once per program, recursively for what it calls) and ``imm``
  becomes the distance from the call to the appended copy, minus one. Each program gets its own
  layout, so the same subprogram can sit at different places in different programs.
* ``r1 = &sub`` (a function pointer, ``BPF_PSEUDO_FUNC``): like a call.
* ``.kconfig`` externs: ``BPF_PSEUDO_MAP_VALUE`` into the kconfig map.

Worked example: ``main`` has 10 instructions and calls ``add`` (5 instructions, at instruction 4
of .text) from instruction 3; clang left ``imm = -1`` and a relocation against ``add``. ``add`` is
appended at 10, so the call's ``imm`` becomes 10 - 3 - 1 = 6, and ``add``'s func_info and
line_info records are appended with their instruction offsets moved by 10 - 4 = +6 (and turned
from clang's byte offsets into instruction indexes).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, replace

from btf import BtfError
from kernelsim.isa.insn import BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_LD
from kernelsim.uapi import BPF_PSEUDO_CALL, BpfPseudo

from .core import CoreError, calc_relo_insn, core_error, patch_insn
from .elf import SHN_LORESERVE, SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_SECTION
from .errors import BpfObjectError, relo_error
from .maps import LIBBPF_MAP_UNSPEC
from .progs import BPF_INSN_SZ, find_prog_by_sec_insn

LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW
CALL = BPF_JMP | BPF_CALL
POISON_LDIMM64_MAP_BASE = 2001000000
POISON_CALL_KFUNC_BASE = 2002000000

RELO_LD64 = "ld64"
RELO_CALL = "call"
RELO_DATA = "data"
RELO_EXTERN_LD64 = "extern_ld64"
RELO_EXTERN_CALL = "extern_call"
RELO_SUBPROG_ADDR = "subprog_addr"
RELO_CORE = "core"


@dataclass(slots=True)
class RelocDesc:
    """struct reloc_desc."""

    type: str            # RELO_*
    insn_idx: int        # instruction index in the program's own frame
    map_idx: int = -1    # index in obj.maps (ld64, data)
    sym_off: int = 0     # symbol value (data, call, subprog_addr)
    ext_idx: int = -1    # index in obj.externs
    sym_name: str = ""   # for messages
    core: object = None  # (CoreRelo, CoreResult) for RELO_CORE


def is_call_insn(insn) -> bool:
    return insn.code == CALL


def insn_is_subprog_call(insn) -> bool:
    return insn.code == CALL and insn.src == BPF_PSEUDO_CALL and insn.dst == 0 and insn.off == 0


def insn_is_pseudo_func(insn) -> bool:
    return insn.code == LD_IMM64 and insn.src == BpfPseudo.BPF_PSEUDO_FUNC


def sym_is_extern(sym) -> bool:
    return (sym.shndx == SHN_UNDEF and sym.bind in (STB_GLOBAL, STB_WEAK)
            and sym.type == STT_NOTYPE)


def sym_is_subprog(sym, text_shndx: int) -> bool:
    if sym.shndx != text_shndx:
        return False
    if sym.bind == 0 and sym.type == STT_SECTION:
        return True
    return sym.bind in (STB_GLOBAL, STB_WEAK) and sym.type == STT_FUNC


# -- collecting ----------------------------------------------------------------------------

def collect_prog_relos(obj, rel_sec) -> None:
    """bpf_object__collect_prog_relos for one .rel<section>."""
    elf = obj.elf
    sec_idx = rel_sec.info
    target = elf.section(sec_idx)
    if target is None:
        raise relo_error(f"sec '{rel_sec.name}': relocations for invalid section {sec_idx}",
                         section=rel_sec.name)
    for i, rel in enumerate(elf.rels(rel_sec)):
        sym = elf.symbol(rel.sym)
        if sym is None:
            raise _format(f"sec '{rel_sec.name}': symbol #{rel.sym} not found for relo #{i}",
                          section=target.name, offset=rel.offset)
        if sym.shndx >= len(elf.sections) and sym.shndx < SHN_LORESERVE:
            raise _format(f"sec '{rel_sec.name}': corrupted symbol #{rel.sym} pointing to invalid "
                          f"section #{sym.shndx} for relo #{i}", section=target.name,
                          symbol=sym.name, offset=rel.offset)
        if rel.offset % BPF_INSN_SZ or rel.offset >= len(target.data):
            raise _format(f"sec '{rel_sec.name}': invalid offset 0x{rel.offset:x} for relo #{i}",
                          section=target.name, symbol=sym.name, offset=rel.offset)
        insn_idx = rel.offset // BPF_INSN_SZ
        if sym.type == STT_SECTION and sym.name_off == 0:
            sym_name = elf.sec_name(sym.shndx)
        else:
            sym_name = sym.name or "<?"
        prog = find_prog_by_sec_insn(obj.progs, sec_idx, insn_idx)
        if prog is None:
            continue        # overridden weak function (libbpf skips it too)
        desc = record_reloc(obj, prog, insn_idx - prog.sec_insn_off, sym_name, sym, rel)
        prog.relos.append(desc)


def record_reloc(obj, prog, insn_idx: int, sym_name: str, sym, rel) -> RelocDesc:
    """bpf_program__record_reloc."""
    insn = prog.insns[insn_idx]
    where = dict(prog=prog.name, section=prog.sec_name, symbol=sym_name, insn=insn_idx)
    if not is_call_insn(insn) and insn.code != LD_IMM64:
        raise relo_error(f"prog '{prog.name}': invalid relo against '{sym_name}' for "
                         f"insns[{insn_idx}].code 0x{insn.code:x}", **where)
    if sym_is_extern(sym):
        for i, ext in enumerate(obj.externs):
            if ext.sym_idx == rel.sym:
                kind = RELO_EXTERN_CALL if insn.code == CALL else RELO_EXTERN_LD64
                return RelocDesc(kind, insn_idx, ext_idx=i, sym_name=sym_name)
        raise relo_error(f"prog '{prog.name}': extern relo failed to find extern for "
                         f"'{sym_name}' ({rel.sym})", **where)
    if is_call_insn(insn):
        if insn.src != BPF_PSEUDO_CALL:
            raise relo_error(f"prog '{prog.name}': incorrect bpf_call opcode", **where)
        if not sym.shndx or sym.shndx != obj.text_shndx:
            raise relo_error(f"prog '{prog.name}': bad call relo against '{sym_name}' in section "
                             f"'{obj.elf.sec_name(sym.shndx)}'", **where)
        if sym.value % BPF_INSN_SZ:
            raise relo_error(f"prog '{prog.name}': bad call relo against '{sym_name}' at offset "
                             f"{sym.value}", **where)
        return RelocDesc(RELO_CALL, insn_idx, sym_off=sym.value, sym_name=sym_name)
    if not sym.shndx or sym.shndx >= SHN_LORESERVE:
        raise relo_error(f"prog '{prog.name}': invalid relo against '{sym_name}' in special "
                         f"section 0x{sym.shndx:x}; forgot to initialize global var?..", **where)
    if sym_is_subprog(sym, obj.text_shndx):
        if sym.value % BPF_INSN_SZ or insn.imm % BPF_INSN_SZ:
            raise relo_error(f"prog '{prog.name}': bad subprog addr relo against '{sym_name}' at "
                             f"offset {sym.value}+{insn.imm}", **where)
        return RelocDesc(RELO_SUBPROG_ADDR, insn_idx, sym_off=sym.value, sym_name=sym_name)
    mtype = obj.sec_map_type.get(sym.shndx, LIBBPF_MAP_UNSPEC)
    sym_sec_name = obj.elf.sec_name(sym.shndx)
    if mtype == LIBBPF_MAP_UNSPEC:
        if sym.shndx not in obj.maps_shndx:
            raise relo_error(f"prog '{prog.name}': bad map relo against '{sym_name}' in section "
                             f"'{sym_sec_name}'", **where)
        for map_idx, m in enumerate(obj.maps):
            if (m.libbpf_type == LIBBPF_MAP_UNSPEC and m.sec_idx == sym.shndx
                    and m.sec_offset == sym.value):
                return RelocDesc(RELO_LD64, insn_idx, map_idx=map_idx, sym_name=sym_name)
        raise relo_error(f"prog '{prog.name}': map relo failed to find map for section "
                         f"'{sym_sec_name}', off {sym.value}", **where)
    for map_idx, m in enumerate(obj.maps):
        if m.libbpf_type == mtype and m.sec_idx == sym.shndx:
            return RelocDesc(RELO_DATA, insn_idx, map_idx=map_idx, sym_off=sym.value,
                             sym_name=sym_name)
    raise relo_error(f"prog '{prog.name}': data relo failed to find map for section "
                     f"'{sym_sec_name}'", **where)


def _format(msg, **where) -> BpfObjectError:
    from .errors import format_error
    return format_error(msg, **where)


# -- CO-RE -------------------------------------------------------------------------------------

def relocate_core(obj, targ_btf) -> None:
    """bpf_object__relocate_core: resolve and patch every CO-RE relocation of the programs that
    will be loaded, against ``targ_btf`` (the kernel's BTF)."""
    ext = obj.btf_ext
    if ext is None or not ext.core_relo_info.secs:
        return
    cand_cache: dict = {}
    for sec in ext.core_relo_info.secs:
        if not sec.sec_name:
            raise relo_error("CO-RE relocations for a section without a name", section=".BTF.ext")
        elf_sec = obj.elf.section_by_name(sec.sec_name)
        if elf_sec is None:
            continue
        for i, rec in enumerate(ext.core_relos(sec.sec_name)):
            if rec.insn_off % BPF_INSN_SZ:
                raise relo_error(f"sec '{sec.sec_name}': CO-RE relocation #{i} at unaligned "
                                 f"offset {rec.insn_off}", section=sec.sec_name,
                                 offset=rec.insn_off)
            prog = find_prog_by_sec_insn(obj.progs, elf_sec.idx, rec.insn_off // BPF_INSN_SZ)
            if prog is None or not prog.autoload and not prog.is_subprog:
                continue
            insn_idx = rec.insn_off // BPF_INSN_SZ - prog.sec_insn_off
            where = dict(prog=prog.name, section=prog.sec_name, insn=insn_idx)
            try:
                result = calc_relo_insn(prog.name, rec, i, obj.btf, targ_btf, cand_cache)
            except CoreError as e:
                raise core_error(e, prog.name, prog.sec_name, insn_idx) from None
            except (IndexError, AttributeError, ValueError, BtfError) as e:
                raise relo_error(f"prog '{prog.name}': relo #{i}: failed to relocate: malformed "
                                 f"CO-RE relocation ({e})", **where) from e
            try:
                patch_insn(prog.name, prog.insns, insn_idx, rec, i, result.res)
            except CoreError as e:
                err = core_error(e, prog.name, prog.sec_name, insn_idx)
                err.message = (f"prog '{prog.name}': relo #{i}: failed to patch insn "
                               f"#{insn_idx}: {e.message}")
                raise err from None
            prog.relos.append(RelocDesc(RELO_CORE, insn_idx, core=(rec, result)))
            prog.core_relos.append((insn_idx, rec, result))
    sort_relos(obj)


def sort_relos(obj) -> None:
    order = {RELO_LD64: 0, RELO_CALL: 1, RELO_DATA: 2, RELO_EXTERN_LD64: 3, RELO_EXTERN_CALL: 4,
             RELO_SUBPROG_ADDR: 5, RELO_CORE: 6}
    for p in obj.progs:
        p.relos.sort(key=lambda r: (r.insn_idx, order[r.type]))


# -- calls and subprograms -------------------------------------------------------------------

def _find_relo(prog, insn_idx: int):
    for r in prog.relos:
        if r.insn_idx == insn_idx and r.type != RELO_CORE:
            return r
    return None


def relocate_calls(obj, main) -> None:
    """bpf_object__relocate_calls for one entry program."""
    for p in obj.progs:
        if p.is_subprog:
            p.sub_insn_off = 0
    main.func_info, main.line_info, main.subprogs = [], [], []
    _reloc_code(obj, main, main)


def _reloc_code(obj, main, prog) -> None:
    """bpf_object__reloc_code."""
    reloc_func_and_line_info(obj, main, prog)
    for insn_idx in range(prog.sec_insn_cnt):
        pos = prog.sub_insn_off + insn_idx
        insn = main.insns[pos]
        if not insn_is_subprog_call(insn) and not insn_is_pseudo_func(insn):
            continue
        relo = _find_relo(prog, insn_idx)
        where = dict(prog=prog.name, section=prog.sec_name, insn=insn_idx)
        if relo is not None and relo.type == RELO_EXTERN_CALL:
            continue
        if relo is not None and relo.type not in (RELO_CALL, RELO_SUBPROG_ADDR):
            raise relo_error(f"prog '{prog.name}': unexpected relo for insn #{insn_idx}, type "
                             f"{relo.type}", **where)
        if relo is not None:
            if relo.type == RELO_CALL:
                sub_insn_idx = relo.sym_off // BPF_INSN_SZ + insn.imm + 1
            else:
                sub_insn_idx = (relo.sym_off + insn.imm) // BPF_INSN_SZ
        elif insn_is_pseudo_func(insn):
            raise relo_error(f"prog '{prog.name}': missing subprog addr relo for insn "
                             f"#{insn_idx}", **where)
        else:
            sub_insn_idx = prog.sec_insn_off + insn_idx + insn.imm + 1
        subprog = find_prog_by_sec_insn(obj.progs, obj.text_shndx, sub_insn_idx)
        if subprog is None:
            raise relo_error(f"prog '{prog.name}': no .text section found yet sub-program call "
                             "exists", **where)
        if subprog.sub_insn_off == 0:
            _append_subprog_code(main, subprog)
            _reloc_code(obj, main, subprog)
        insn = main.insns[pos]
        main.insns[pos] = replace(insn, imm=subprog.sub_insn_off - pos - 1)


def _append_subprog_code(main, subprog) -> None:
    """bpf_object__append_subprog_code + append_subprog_relos + save_subprog_offsets."""
    subprog.sub_insn_off = len(main.insns)
    main.insns.extend(subprog.insns)
    if main is not subprog:
        main.relos.extend(replace(r, insn_idx=r.insn_idx + subprog.sub_insn_off)
                          for r in subprog.relos)
    main.subprogs.append((subprog.sec_insn_off, subprog.sub_insn_off))


def reloc_func_and_line_info(obj, main, prog) -> None:
    """reloc_prog_func_and_line_info: append ``prog``'s .BTF.ext records to ``main``'s, with
    instruction offsets in main's layout. A missing record set for the main program drops all
    of that kind (libbpf warns and continues); one missing for a subprogram is an error."""
    ext = obj.btf_ext
    if ext is None or "btf_func_info" not in obj.features:
        return
    for kind in ("func_info", "line_info"):
        info = getattr(ext, kind)
        if main is not prog and not getattr(main, kind):
            continue
        recs = _adjust_btf_ext_info(obj, prog, info)
        if recs is None:
            if getattr(main, kind):
                raise BpfObjectError(errno.ENOENT, f"prog '{prog.name}': missing .BTF.ext "
                                     f"{kind.replace('_', ' ')}.", prog=prog.name,
                                     section=prog.sec_name)
            continue
        getattr(main, kind).extend(recs)
        setattr(main, f"{kind}_rec_size", info.rec_size)


def _adjust_btf_ext_info(obj, prog, info):
    """adjust_prog_btf_ext_info: ``prog``'s records (a contiguous run of its section's records),
    converted to instruction offsets in the main program, or None when there are none."""
    for sec in info.secs:
        elf_sec = obj.elf.section_by_name(sec.sec_name) if sec.sec_name else None
        if elf_sec is None or elf_sec.idx != prog.sec_idx:
            continue
        picked = []
        for i, rec in enumerate(sec.records):
            off = sec.insn_off(i) // BPF_INSN_SZ
            if off < prog.sec_insn_off:
                continue
            if off >= prog.sec_insn_off + prog.sec_insn_cnt:
                break
            picked.append(rec)
        if not picked:
            return None
        adj = prog.sub_insn_off - prog.sec_insn_off
        out = []
        for rec in picked:
            off = int.from_bytes(rec[:4], "little") // BPF_INSN_SZ + adj
            out.append((off & 0xFFFFFFFF).to_bytes(4, "little") + rec[4:])
        return out
    return None


# -- data -------------------------------------------------------------------------------------

def relocate_data(obj, prog) -> None:
    """bpf_object__relocate_data: map, global data and extern references of an entry program
    (subprograms' relocations were appended to it), with the maps' fds."""
    for i, relo in enumerate(prog.relos):
        idx = relo.insn_idx
        insn = prog.insns[idx]
        where = dict(prog=prog.name, section=prog.sec_name, insn=idx, symbol=relo.sym_name or None)
        if relo.type == RELO_LD64:
            m = obj.maps[relo.map_idx]
            if m.autocreate and m.fd >= 0:
                prog.insns[idx] = replace(insn, src=BpfPseudo.BPF_PSEUDO_MAP_FD, imm=m.fd)
            else:
                _poison_map_ldimm64(prog, idx, relo.map_idx)
        elif relo.type == RELO_DATA:
            m = obj.maps[relo.map_idx]
            nxt = prog.insns[idx + 1]
            prog.insns[idx + 1] = replace(nxt, imm=_s32(insn.imm + relo.sym_off))
            if m.autocreate and m.fd >= 0:
                prog.insns[idx] = replace(insn, src=BpfPseudo.BPF_PSEUDO_MAP_VALUE, imm=m.fd)
            else:
                _poison_map_ldimm64(prog, idx, relo.map_idx)
        elif relo.type == RELO_EXTERN_LD64:
            ext = obj.externs[relo.ext_idx]
            if ext.type != "kcfg":
                raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': extern '{ext.name}' "
                                     "(.ksyms) is not supported by the kernelsim loader", **where)
            m = obj.maps[obj.kconfig_map_idx]
            prog.insns[idx] = replace(insn, src=BpfPseudo.BPF_PSEUDO_MAP_VALUE, imm=m.fd)
            prog.insns[idx + 1] = replace(prog.insns[idx + 1], imm=ext.data_off)
        elif relo.type == RELO_EXTERN_CALL:
            ext = obj.externs[relo.ext_idx]
            raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': kfunc '{ext.name}' calls "
                                 "are not supported by the kernelsim loader", **where)
        elif relo.type == RELO_SUBPROG_ADDR:
            if insn.src != BpfPseudo.BPF_PSEUDO_FUNC:
                raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': relo #{i}: bad insn",
                                     **where)
        elif relo.type in (RELO_CALL, RELO_CORE):
            pass
        else:                                                    # pragma: no cover
            raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': relo #{i}: bad relo type "
                                 f"{relo.type}", **where)


def _poison_map_ldimm64(prog, idx: int, map_idx: int) -> None:
    from kernelsim.isa.insn import BpfInsn
    bad = BpfInsn(CALL, 0, 0, 0, POISON_LDIMM64_MAP_BASE + map_idx)
    prog.insns[idx] = bad
    prog.insns[idx + 1] = bad


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def mark_pseudo_funcs(obj) -> None:
    """bpf_object__relocate's pre-pass: ld_imm64 of a subprogram address gets BPF_PSEUDO_FUNC."""
    for p in obj.progs:
        for r in p.relos:
            if r.type == RELO_SUBPROG_ADDR:
                p.insns[r.insn_idx] = replace(p.insns[r.insn_idx], src=BpfPseudo.BPF_PSEUDO_FUNC)
