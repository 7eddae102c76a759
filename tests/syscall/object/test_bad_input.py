"""Bad input: truncated and corrupted objects, unknown sections, unresolvable relocations,
missing attach targets. The loader raises BpfObjectError (with an errno, naming the section,
symbol and offset it can), never a traceback from pyelftools or from its own code."""

import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syscall.object.elf import ElfObject
from syscall.object.errors import BpfObjectError

from fake_task import FakeKernel, RecordingTask, open_obj

OBJECTS = ("globals", "subprogs", "core", "maps_btf", "sections")


def _open_and_load(data: bytes, name: str = "mutant") -> None:
    task = RecordingTask(FakeKernel())
    obj = open_obj(task, data, name=name)
    try:
        obj.load()
    finally:
        obj.close()
    assert task.open == set()


def _interesting_ranges(data: bytes):
    """Byte ranges worth mutating: the ELF header, section headers and every non-DWARF
    section (DWARF is never read)."""
    elf = ElfObject.parse(data, "x.o")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    ranges = [(0, 64), (shoff, shoff + 64 * len(elf.sections))]
    for i, s in enumerate(elf.sections):
        if not s.data:
            continue
        off = struct.unpack_from("<Q", data, shoff + 64 * i + 24)[0]
        ranges.append((off, off + len(s.data)))
    return ranges


@pytest.fixture(scope="module")
def corpus(object_bytes):
    out = {}
    for name in OBJECTS:
        data = object_bytes(name)
        out[name] = (data, _interesting_ranges(data))
    return out


def test_truncated(corpus):
    data, _ = corpus["globals"]
    for cut in list(range(0, 80, 7)) + [len(data) // 3, len(data) // 2, len(data) - 8]:
        with pytest.raises(BpfObjectError):
            _open_and_load(data[:cut])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_bit_flips_only_raise_bpfobjecterror(corpus, data):
    name = data.draw(st.sampled_from(OBJECTS))
    blob, ranges = corpus[name]
    buf = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        lo, hi = data.draw(st.sampled_from(ranges))
        pos = data.draw(st.integers(lo, hi - 1))
        buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    try:
        _open_and_load(bytes(buf), name)
    except BpfObjectError as e:
        assert isinstance(e.errno, int) and e.errno > 0 and str(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncation_anywhere(corpus, data):
    name = data.draw(st.sampled_from(OBJECTS))
    blob, _ = corpus[name]
    cut = data.draw(st.integers(0, len(blob) - 1))
    try:
        _open_and_load(blob[:cut], name)
    except BpfObjectError:
        pass


def _rename_section(data: bytearray, old: str, pos: int, char: str) -> bytearray:
    elf = ElfObject.parse(bytes(data), "g.o")
    shstr = elf.sections[struct.unpack_from("<H", data, 0x3E)[0]]
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    sec = elf.section_by_name(old)
    name_off = struct.unpack_from("<I", data, shoff + 64 * sec.idx)[0]
    str_file_off = struct.unpack_from("<Q", data, shoff + 64 * shstr.idx + 24)[0]
    data[str_file_off + name_off + pos] = ord(char)
    return data


def test_unknown_sections(compiled, rtask):
    """An unknown data section is skipped with libbpf's warning; a global-data section whose
    DATASEC no longer finds its ELF section fails the BTF fix-up (ENOENT, as in libbpf)."""
    data = _rename_section(bytearray(open(compiled("minimal"), "rb").read()), ".debug_line", 1, "x")
    obj = open_obj(rtask, bytes(data), name="minimal")
    assert any("skipping unrecognized data section" in w and ".xebug_line" in w
               for w in obj.warnings)
    obj.load()
    data = _rename_section(bytearray(open(compiled("globals"), "rb").read()), ".data.custom", 1, "x")
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, bytes(data), name="globals")
    e = ei.value
    assert e.errno == errno.ENOENT and e.section == ".data.custom"
    assert "failed to determine size from ELF" in e.message


def test_relocation_into_unknown_section(compiled, rtask):
    """A relocation against a symbol of a section that holds no map: named with the program,
    its section, the symbol and the instruction."""
    data = bytearray(open(compiled("globals"), "rb").read())
    elf = ElfObject.parse(bytes(data), "g.o")
    sym = next(s for s in elf.symbols if s.name == "custom_var")
    lic = elf.section_by_name("license")
    symtab_off = struct.unpack_from("<Q", data, struct.unpack_from("<Q", data, 0x28)[0]
                                    + 64 * elf.symtab_idx + 24)[0]
    struct.pack_into("<H", data, symtab_off + 24 * sym.idx + 6, lic.idx)     # st_shndx
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, bytes(data), name="globals")
    e = ei.value
    assert e.errno == errno.EINVAL and "bad data relo against section 'license'" in e.message or \
        "bad map relo against 'custom_var' in section 'license'" in e.message
    assert e.prog == "globals" and e.symbol == "custom_var" and e.section == "socket"
    assert e.insn is not None


def test_relocation_to_missing_symbol(compiled, rtask):
    data = bytearray(open(compiled("globals"), "rb").read())
    elf = ElfObject.parse(bytes(data), "g.o")
    rel = elf.section_by_name(".relsocket")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    off = struct.unpack_from("<Q", data, shoff + 64 * rel.idx + 24)[0]
    r_offset, r_info = struct.unpack_from("<QQ", data, off)
    struct.pack_into("<QQ", data, off, r_offset, (9999 << 32) | (r_info & 0xFFFFFFFF))
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, bytes(data), name="globals")
    assert "symbol #9999 not found" in str(ei.value) and ei.value.offset == r_offset
    assert ei.value.section == "socket"


def test_missing_kernel_function(compiled, rtask):
    obj = open_obj(rtask, compiled("bad_target"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    e = ei.value
    assert e.errno == errno.ESRCH and e.prog == "on_missing"
    assert e.section == "fentry/no_such_kernel_function" and e.symbol == "no_such_kernel_function"
    assert "failed to find kernel BTF type ID of 'no_such_kernel_function'" in str(e)
    assert rtask.open == set()


def test_not_an_object_file(rtask, tmp_path):
    p = tmp_path / "x.bpf.o"
    p.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, p)
    assert ei.value.errno == errno.EINVAL and "not an ELF file" in str(ei.value)


def test_compile_error_is_reported(rtask, tmp_path):
    from syscall.object import compile_bpf, find_clang
    if find_clang() is None:
        pytest.skip("clang is not installed")
    src = tmp_path / "broken.bpf.c"
    src.write_text("int f( { return 0; }\n")
    with pytest.raises(BpfObjectError) as ei:
        compile_bpf(src, cache=tmp_path)
    assert ei.value.errno == errno.EINVAL and "broken.bpf.c" in str(ei.value)
