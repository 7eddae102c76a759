"""syscall/object/elf.py: reading BPF ELF objects through pyelftools into plain records."""

import errno
import struct

import pytest

from syscall.object.elf import SHF_EXECINSTR, SHT_NOBITS, SHT_REL, SHT_SYMTAB, ElfObject
from syscall.object.errors import LIBBPF_ERRNO__ENDIAN, LIBBPF_ERRNO__FORMAT, BpfObjectError


def test_sections_symbols_and_relocations(object_bytes):
    elf = ElfObject.parse(object_bytes("globals"), "globals.bpf.o")
    names = [s.name for s in elf.sections]
    for want in ("socket", ".relsocket", "license", ".bss", ".data", ".rodata", ".data.custom",
                 ".BTF", ".BTF.ext", ".symtab", ".strtab"):
        assert want in names
    sock = elf.section_by_name("socket")
    assert sock.flags & SHF_EXECINSTR and len(sock.data) == sock.size and sock.size % 8 == 0
    assert elf.section_by_name(".bss").type == SHT_NOBITS and elf.section_by_name(".bss").data == b""
    assert elf.sections[elf.symtab_idx].type == SHT_SYMTAB
    syms = {s.name: s for s in elf.symbols if s.name}
    assert syms["globals"].type == 2 and syms["globals"].shndx == sock.idx   # STT_FUNC
    assert syms["hidden_var"].visibility == 2                                  # STV_HIDDEN
    rel = elf.section_by_name(".relsocket")
    assert rel.type == SHT_REL and rel.info == sock.idx
    rels = elf.rels(rel)
    assert rels and all(r.offset % 8 == 0 and r.type == 1 for r in rels)      # R_BPF_64_64
    assert {elf.symbols[r.sym].name for r in rels} >= {"hits", "max_len", "initial"}


def test_dwarf_sections_are_not_read(object_bytes):
    elf = ElfObject.parse(object_bytes("core"), "core.bpf.o")
    debug = [s for s in elf.sections if s.name.startswith((".debug_", ".rel.debug_"))]
    assert debug and all(s.data == b"" and s.size > 0 for s in debug)


@pytest.mark.parametrize("data, what", [
    (b"", "not an ELF file"),
    (b"MZ" + bytes(100), "not an ELF file"),
    (b"\x7fELF" + bytes(10), "not an ELF file"),
])
def test_not_elf(data, what):
    with pytest.raises(BpfObjectError) as ei:
        ElfObject.parse(data, "x.o")
    assert ei.value.errno == errno.EINVAL and what in str(ei.value)
    assert ei.value.libbpf_errno == LIBBPF_ERRNO__FORMAT


def test_wrong_class_machine_endianness(object_bytes):
    good = bytearray(object_bytes("minimal"))
    c32 = bytearray(good)
    c32[4] = 1                                       # ELFCLASS32
    with pytest.raises(BpfObjectError):
        ElfObject.parse(bytes(c32), "x.o")
    be = bytearray(good)
    be[5] = 2                                        # ELFDATA2MSB
    with pytest.raises(BpfObjectError) as ei:
        ElfObject.parse(bytes(be), "x.o")
    assert ei.value.libbpf_errno in (LIBBPF_ERRNO__ENDIAN, LIBBPF_ERRNO__FORMAT)
    mach = bytearray(good)
    struct.pack_into("<H", mach, 18, 62)             # EM_X86_64
    with pytest.raises(BpfObjectError) as ei:
        ElfObject.parse(bytes(mach), "x.o")
    assert "not a valid eBPF object file" in str(ei.value)


def test_truncations_raise_only_bpfobjecterror(object_bytes):
    data = object_bytes("minimal")
    for cut in (16, 63, 64, 65, 200, len(data) // 2, len(data) - 1):
        try:
            ElfObject.parse(data[:cut], "x.o")
        except BpfObjectError as e:
            assert e.errno in (errno.EINVAL, errno.ENOENT, errno.EOPNOTSUPP)


def test_no_symbol_table(object_bytes):
    data = bytearray(object_bytes("minimal"))
    elf = ElfObject.parse(bytes(data), "x.o")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    # turn SHT_SYMTAB into SHT_PROGBITS: "stripped object file?"
    struct.pack_into("<I", data, shoff + 64 * elf.symtab_idx + 4, 1)
    with pytest.raises(BpfObjectError) as ei:
        ElfObject.parse(bytes(data), "x.o")
    assert ei.value.errno == errno.ENOENT and "symbol table" in str(ei.value)
