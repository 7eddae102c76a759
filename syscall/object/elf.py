"""Reading a BPF ELF object: sections, symbols and relocations as plain records
(tools/lib/bpf/libbpf.c bpf_object__elf_init, bpf_object__elf_collect, elf_sym_by_idx,
elf_rel_by_idx).

pyelftools reads the header, the section headers and the symbol table; everything is copied into
small frozen records at once, so nothing later touches pyelftools and any exception it raises on
a truncated or corrupted file (ELFError, ELFParseError, construct's StreamError, struct.error,
UnicodeDecodeError ...) becomes one ``BpfObjectError`` here, naming the file and what was being
read. DWARF sections (.debug_*, and their .rel.debug_*) are never read: clang's are large and
libbpf ignores them (``ignore_elf_section``). Relocation tables are decoded with ``struct``
(Elf64_Rel is 16 bytes: r_offset, r_info = sym << 32 | type).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from .errors import LIBBPF_ERRNO__ENDIAN, BpfObjectError, format_error

EM_BPF = 247
ET_REL = 1
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOBITS = 8
SHT_REL = 9
SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3
R_BPF_64_64 = 1        # ld_imm64 (clang calls it R_BPF_INSN_64 in readelf)
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_32 = 10       # call insn (newer LLVM)

_REL = struct.Struct("<QQ")
_SYM = struct.Struct("<IBBHQQ")
_DWARF_PREFIXES = (".debug_", ".rel.debug_", ".rela.debug_")

# String values pyelftools gives for the fields we keep numeric.
_SHT = {"SHT_NULL": 0, "SHT_PROGBITS": 1, "SHT_SYMTAB": 2, "SHT_STRTAB": 3, "SHT_RELA": 4,
        "SHT_HASH": 5, "SHT_DYNAMIC": 6, "SHT_NOTE": 7, "SHT_NOBITS": 8, "SHT_REL": 9,
        "SHT_LLVM_ADDRSIG": SHT_LLVM_ADDRSIG}


@dataclass(frozen=True, slots=True)
class ElfSection:
    """One section header (Elf64_Shdr) with its bytes."""

    idx: int          # section index
    name: str         # name from .shstrtab
    type: int         # sh_type (SHT_*)
    flags: int        # sh_flags (SHF_*)
    link: int         # sh_link
    info: int         # sh_info (for SHT_REL: the section the relocations apply to)
    entsize: int      # sh_entsize
    size: int         # sh_size (also for NOBITS, which has no bytes in the file)
    data: bytes       # the section's bytes (b"" for NOBITS and skipped DWARF sections)


@dataclass(frozen=True, slots=True)
class ElfSymbol:
    """One Elf64_Sym."""

    idx: int          # index in .symtab
    name: str         # st_name resolved in the symbol string table ('' if none)
    name_off: int     # st_name
    value: int        # st_value (offset in its section for an ET_REL object)
    size: int         # st_size
    type: int         # ELF64_ST_TYPE(st_info)
    bind: int         # ELF64_ST_BIND(st_info)
    visibility: int   # ELF64_ST_VISIBILITY(st_other)
    shndx: int        # st_shndx


@dataclass(frozen=True, slots=True)
class ElfRel:
    """One Elf64_Rel."""

    offset: int       # r_offset: byte offset in the target section
    sym: int          # ELF64_R_SYM(r_info)
    type: int         # ELF64_R_TYPE(r_info)


def is_dwarf(name: str) -> bool:
    return name.startswith(_DWARF_PREFIXES)


class ElfObject:
    """A parsed BPF relocatable object. Build with ``ElfObject.parse(data, path)``."""

    def __init__(self, path: str, sections: list[ElfSection], symbols: list[ElfSymbol],
                 symtab_idx: int, strtab_idx: int):
        self.path = path
        self.sections = sections          # by index; sections[0] is the null section
        self.symbols = symbols            # by index; symbols[0] is the null symbol
        self.symtab_idx = symtab_idx
        self.strtab_idx = strtab_idx
        self._by_name = {}
        for s in sections:
            self._by_name.setdefault(s.name, s)

    @classmethod
    def parse(cls, data: bytes, path: str = "<buffer>") -> "ElfObject":
        """Read the object. BpfObjectError (EINVAL, libbpf's FORMAT code) for anything that is
        not a 64-bit little-endian ET_REL object for EM_BPF with one symbol table, or that
        pyelftools cannot read."""
        from elftools.common.exceptions import ELFError

        if len(data) < 64 or data[:4] != b"\x7fELF":
            raise format_error(f"elf: {path} is not an ELF file")
        try:
            return cls._parse(bytes(data), path)
        except BpfObjectError:
            raise
        except (ELFError, struct.error, UnicodeDecodeError, ValueError, KeyError, IndexError,
                AttributeError, TypeError, OverflowError, AssertionError, EOFError,
                MemoryError, RecursionError) as e:
            raise format_error(f"elf: failed to read {path}: {type(e).__name__}: {e}") from e
        except Exception as e:   # construct's StreamError and other pyelftools internals
            raise format_error(f"elf: failed to read {path}: {type(e).__name__}: {e}") from e

    @classmethod
    def _parse(cls, data: bytes, path: str) -> "ElfObject":
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(data))
        if elf.elfclass != 64:
            raise format_error(f"elf: {path} is not a 64-bit ELF object")
        if not elf.little_endian:
            raise BpfObjectError(95, f"object '{path}': loading non-native endianness is "
                                 "unsupported", libbpf_errno=LIBBPF_ERRNO__ENDIAN)
        if elf["e_type"] not in ("ET_REL", ET_REL) or elf["e_machine"] not in ("EM_BPF", EM_BPF):
            raise format_error(f"elf: {path} is not a valid eBPF object file")
        n = elf.num_sections()
        if n == 0 or n > 65535:
            raise format_error(f"elf: {path} has no sections")
        sections: list[ElfSection] = []
        for idx in range(n):
            sec = elf.get_section(idx)
            hdr = sec.header
            name = sec.name if idx else ""
            stype = hdr["sh_type"]
            stype = _SHT.get(stype, stype) if isinstance(stype, str) else int(stype)
            if not isinstance(stype, int):
                stype = -1
            size = int(hdr["sh_size"])
            if stype == SHT_NOBITS or is_dwarf(name) or idx == 0:
                body = b""
            else:
                off = int(hdr["sh_offset"])
                if off + size > len(data) or off + size < off:
                    raise format_error(f"elf: section({idx}) {name} extends past the end of {path}",
                                       section=name)
                body = data[off:off + size]
            sections.append(ElfSection(idx, name, stype, int(hdr["sh_flags"]), int(hdr["sh_link"]),
                                       int(hdr["sh_info"]), int(hdr["sh_entsize"]), size, body))
        symtabs = [s for s in sections if s.type == SHT_SYMTAB]
        if not symtabs:
            raise BpfObjectError(2, f"elf: couldn't find symbol table in {path}, stripped "
                                 "object file?")
        if len(symtabs) > 1:
            raise format_error(f"elf: multiple symbol tables in {path}")
        symtab = symtabs[0]
        if symtab.entsize != _SYM.size:
            raise format_error(f"elf: bad symbol table entry size {symtab.entsize} in {path}",
                               section=symtab.name)
        if not 0 < symtab.link < n or sections[symtab.link].type != SHT_STRTAB:
            raise format_error(f"elf: symbol strings section missing or invalid in {path}")
        strtab = sections[symtab.link].data
        symbols = []
        for i, (st_name, st_info, st_other, st_shndx, st_value, st_size) in enumerate(
                _SYM.iter_unpack(symtab.data[: len(symtab.data) // _SYM.size * _SYM.size])):
            symbols.append(ElfSymbol(i, _cstr(strtab, st_name), st_name, st_value, st_size,
                                     st_info & 0xF, st_info >> 4, st_other & 0x3, st_shndx))
        return cls(path, sections, symbols, symtab.idx, symtab.link)

    # -- lookups -------------------------------------------------------------------------------

    def section(self, idx: int) -> ElfSection | None:
        return self.sections[idx] if 0 < idx < len(self.sections) else None

    def section_by_name(self, name: str) -> ElfSection | None:
        return self._by_name.get(name)

    def sec_name(self, idx: int) -> str:
        s = self.section(idx)
        return s.name if s is not None else f"<section {idx}>"

    def symbol(self, idx: int) -> ElfSymbol | None:
        return self.symbols[idx] if 0 <= idx < len(self.symbols) else None

    def rels(self, sec: ElfSection) -> list[ElfRel]:
        """The Elf64_Rel entries of a SHT_REL section. FORMAT error: a bad entry size."""
        if sec.entsize != _REL.size:
            raise format_error(f"elf: relocation section {sec.name} has entry size {sec.entsize}",
                               section=sec.name)
        body = sec.data[: len(sec.data) // _REL.size * _REL.size]
        return [ElfRel(off, info >> 32, info & 0xFFFFFFFF) for off, info in _REL.iter_unpack(body)]


def _cstr(table: bytes, off: int) -> str:
    if off >= len(table):
        return ""
    end = table.find(b"\0", off)
    raw = table[off:] if end < 0 else table[off:end]
    return raw.decode("utf-8", "replace")
