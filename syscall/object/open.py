"""Opening a BPF object: ELF -> programs, maps, BTF, relocations, with no syscall yet
(tools/lib/bpf/libbpf.c bpf_object_open: bpf_object__elf_init, bpf_object__elf_collect,
bpf_object__collect_externs, bpf_object_fixup_btf, bpf_object__init_maps, bpf_object_init_progs,
bpf_object__collect_relos; ignore_elf_section, bpf_object__init_license, bpf_object__init_kversion).

The result is an ``ObjModel``: everything libbpf's ``struct bpf_object`` knows after
``bpf_object__open``. loader.py then prepares it (CO-RE against the kernel's BTF, subprograms
appended) and loads it through a task's bpf().
"""

from __future__ import annotations

import errno
import struct

import btf as btflib
from kernelsim.uapi import BpfMapType

from . import btf_ext as btf_ext_mod
from . import maps as maps_mod
from .btf_fixup import BTF_FEATURES, RawBtf, fixup_btf
from .elf import SHF_EXECINSTR, SHT_LLVM_ADDRSIG, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_STRTAB
from .elf import SHT_SYMTAB, ElfObject, is_dwarf
from .errors import LIBBPF_ERRNO__FORMAT, BpfObjectError, format_error, relo_error
from .externs import collect_externs
from .progs import add_programs, init_progs
from .relo import collect_prog_relos

LICENSE_SEC = "license"
VERSION_SEC = "version"
BTF_ELF_SEC = ".BTF"
BTF_EXT_ELF_SEC = ".BTF.ext"


class ObjModel:
    """libbpf's struct bpf_object after open (plus the load state loader.py adds)."""

    def __init__(self, path: str, name: str):
        self.path = path
        self.name = name                    # object name (file name up to the first '.')
        self.elf: ElfObject | None = None
        self.license = ""
        self.kern_version = 0
        self.raw_btf: RawBtf | None = None  # .BTF after fix-ups (what BTF_LOAD gets)
        self.btf = None                     # its parsed model (btf.Btf)
        self.btf_ext = None                 # btf_ext.BtfExt
        self.btf_fd = -1
        self.progs: list = []               # ProgDef, sorted by (section, offset)
        self.maps: list = []                # MapDef, in libbpf's order
        self.externs: list = []
        self.text_shndx = -1
        self.btf_maps_shndx = -1
        self.legacy_maps_shndx = -1
        self.maps_shndx: set[int] = set()
        self.sec_map_type: dict[int, str] = {}
        self.kconfig_map_idx = -1
        self.has_rodata = False
        self.warnings: list[str] = []       # what libbpf would pr_warn/pr_info and carry on
        self.features = set(BTF_FEATURES)
        self.state = "opened"               # opened -> prepared -> loaded (or failed)
        self.syscalls: list[tuple] = []     # (cmd name, result) in issue order, for tests
        self.target_btf = None              # the BTF CO-RE and attach targets resolve against
        self.kernel_btf_bytes = b""         # the .BTF as BPF_BTF_LOAD got it
        self.btf_load_log = ""              # the kernel's BTF log when it refused the .BTF


def ignore_elf_section(sec) -> bool:
    """libbpf ignore_elf_section."""
    name = sec.name
    if sec.type in (SHT_STRTAB, SHT_LLVM_ADDRSIG):
        return True
    if sec.type == SHT_PROGBITS and sec.size == 0 and name == ".text":
        return True
    if is_dwarf(name):
        return True
    if name.startswith(".rel"):
        rest = name[4:]
        if is_dwarf(rest) or rest in (BTF_ELF_SEC, BTF_EXT_ELF_SEC):
            return True
    return False


def bpf_object_open(data: bytes, path: str = "<buffer>", *, name: str | None = None,
                    pin_root_path: str | None = None, features=None) -> ObjModel:
    """Open an object from its bytes. Raises BpfObjectError."""
    obj = ObjModel(path, name or maps_mod.object_name(path))
    if features is not None:
        obj.features = set(features)
    obj.elf = elf = ElfObject.parse(data, path)
    btf_data = btf_ext_data = None
    rel_secs = []
    for sec in elf.sections[1:]:
        if ignore_elf_section(sec):
            continue
        nm = sec.name
        if nm == LICENSE_SEC:
            obj.license = sec.data.split(b"\0", 1)[0][:63].decode("utf-8", "replace")
        elif nm == VERSION_SEC:
            if len(sec.data) != 4:
                raise BpfObjectError(errno.EINVAL, f"invalid kver section in {path}",
                                     section=nm, libbpf_errno=LIBBPF_ERRNO__FORMAT + 1)
            obj.kern_version = struct.unpack("<I", sec.data)[0]
        elif nm == maps_mod.LEGACY_MAPS_SEC:
            obj.legacy_maps_shndx = sec.idx
        elif nm == maps_mod.MAPS_ELF_SEC:
            obj.btf_maps_shndx = sec.idx
        elif nm == BTF_ELF_SEC:
            if sec.type != SHT_PROGBITS:
                raise format_error(f"elf: {nm} is not PROGBITS", section=nm)
            btf_data = sec.data
        elif nm == BTF_EXT_ELF_SEC:
            if sec.type != SHT_PROGBITS:
                raise format_error(f"elf: {nm} is not PROGBITS", section=nm)
            btf_ext_data = sec.data
        elif sec.type == SHT_SYMTAB:
            pass
        elif sec.type == SHT_PROGBITS and sec.size > 0:
            if sec.flags & SHF_EXECINSTR:
                if nm == ".text":
                    obj.text_shndx = sec.idx
            else:
                kind = maps_mod.data_section_type(sec)
                if kind is not None:
                    obj.sec_map_type[sec.idx] = kind
                    obj.has_rodata |= kind == maps_mod.LIBBPF_MAP_RODATA
                else:
                    obj.warnings.append(f"elf: skipping unrecognized data section({sec.idx}) {nm}")
        elif sec.type == SHT_REL:
            if sec.entsize != 16 or sec.info >= len(elf.sections):
                raise format_error(f"elf: bad relocation section {nm}", section=nm)
            target = elf.sections[sec.info]
            if not target.flags & SHF_EXECINSTR and nm != ".rel" + maps_mod.MAPS_ELF_SEC:
                obj.warnings.append(f"elf: skipping relo section({sec.idx}) {nm} for section"
                                    f"({sec.info}) {target.name}")
                continue
            rel_secs.append(sec)
        elif sec.type == SHT_NOBITS and (nm == ".bss" or nm.startswith(".bss.")):
            obj.sec_map_type[sec.idx] = maps_mod.LIBBPF_MAP_BSS
        else:
            obj.warnings.append(f"elf: skipping section({sec.idx}) {nm} (size {sec.size})")
    obj.maps_shndx = {i for i in (obj.btf_maps_shndx, obj.legacy_maps_shndx) if i >= 0}
    # programs: every executable section, sorted by (section index, offset) (cmp_progs)
    for sec in elf.sections[1:]:
        if (sec.type == SHT_PROGBITS and sec.flags & SHF_EXECINSTR and sec.size > 0
                and not ignore_elf_section(sec)):
            obj.progs.extend(add_programs(elf, sec, obj.text_shndx))
    obj.progs.sort(key=lambda p: (p.sec_idx, p.sec_insn_off))
    _init_btf(obj, btf_data, btf_ext_data)
    if obj.raw_btf is not None:
        obj.externs = collect_externs(elf, obj.raw_btf, obj.btf)
        fixup_btf(obj.raw_btf, elf)
        obj.btf = _parse_btf(obj.raw_btf.to_bytes(), "fixed-up .BTF")
    elif any(_is_extern(s) for s in elf.symbols):
        raise BpfObjectError(errno.ENOENT, "BTF is required, but is missing or corrupted.",
                             section=BTF_ELF_SEC)
    _init_maps(obj, pin_root_path)
    init_progs(obj.progs)
    for sec in rel_secs:
        if sec.info == obj.btf_maps_shndx:
            _collect_map_relos(obj, sec)
        else:
            collect_prog_relos(obj, sec)
    for p in obj.progs:
        p.relos.sort(key=lambda r: r.insn_idx)
    return obj


def _is_extern(sym) -> bool:
    from .relo import sym_is_extern
    return sym_is_extern(sym)


def _parse_btf(data: bytes, what: str):
    try:
        return btflib.Btf.parse(data)
    except btflib.BtfError as e:
        raise BpfObjectError(e.errno or errno.EINVAL, f"Error loading ELF section {BTF_ELF_SEC}: "
                             f"{what}: {e}", section=BTF_ELF_SEC) from e


def _init_btf(obj: ObjModel, btf_data, btf_ext_data) -> None:
    """bpf_object__init_btf: a broken .BTF is fatal only when libbpf needs it (BTF-defined maps,
    externs); a broken .BTF.ext is dropped with a warning."""
    needs_btf = obj.btf_maps_shndx >= 0 or any(_is_extern(s) for s in obj.elf.symbols)
    if btf_data is not None:
        try:
            obj.raw_btf = RawBtf(btf_data)
            obj.btf = btflib.Btf.parse(bytes(btf_data))
        except btflib.BtfError as e:
            obj.raw_btf = obj.btf = None
            if needs_btf:
                raise BpfObjectError(e.errno or errno.EINVAL, f"Error loading ELF section "
                                     f"{BTF_ELF_SEC}: {e}. BTF is required, but is missing or "
                                     "corrupted.", section=BTF_ELF_SEC) from e
            obj.warnings.append(f"Error loading ELF section {BTF_ELF_SEC}: {e}")
            return
    elif needs_btf:
        raise BpfObjectError(errno.ENOENT, "BTF is required, but is missing or corrupted.",
                             section=BTF_ELF_SEC)
    if btf_ext_data is not None and obj.btf is not None:
        try:
            obj.btf_ext = btf_ext_mod.btf_ext_parse(btf_ext_data, obj.btf.str_at)
        except BpfObjectError as e:
            obj.warnings.append(f"Error loading ELF section {BTF_EXT_ELF_SEC}: {e}. Ignored and "
                                "continue.")


def _init_maps(obj: ObjModel, pin_root_path) -> None:
    """bpf_object__init_maps (+ libbpf 0.x's legacy maps first)."""
    elf = obj.elf
    obj.maps.extend(maps_mod.init_legacy_maps(elf))
    if obj.btf_maps_shndx >= 0:
        obj.maps.extend(maps_mod.init_user_btf_maps(elf, obj.btf, pin_root_path))
    for sec in elf.sections[1:]:
        kind = obj.sec_map_type.get(sec.idx)
        if kind is None or sec.size == 0:
            continue
        obj.maps.append(maps_mod.init_internal_map(obj.name, kind, sec, obj.btf))
    kcfg = [e for e in obj.externs if e.type == "kcfg"]
    if kcfg:
        size = max(e.data_off + e.sz for e in kcfg)
        m = maps_mod.MapDef(maps_mod.internal_map_name(obj.name, ".kconfig"),
                            maps_mod.LIBBPF_MAP_KCONFIG, obj.elf.symtab_idx, 0, ".kconfig",
                            2, 4, size, 1)     # BPF_MAP_TYPE_ARRAY
        m.btf_value_type_id = maps_mod.find_btf_by_name(obj.btf, ".kconfig")
        m.map_flags = 0x80                   # BPF_F_RDONLY_PROG
        if maps_mod.map_is_mmapable(obj.btf, m.btf_value_type_id):
            m.map_flags |= 0x400             # BPF_F_MMAPABLE
        m.data = bytearray(size)
        obj.kconfig_map_idx = len(obj.maps)
        obj.maps.append(m)
    names = [m.name for m in obj.maps]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        obj.warnings.append(f"maps with the same name: {sorted(dup)}")


def _collect_map_relos(obj: ObjModel, sec) -> None:
    """bpf_object__collect_map_relos: ``.values = { [i] = &inner_map or &prog }`` initializers of
    map-in-map and prog-array maps, kept per map as ``init_slots[slot] = (kind, target name)``
    (a later relocation of the same slot wins, as in libbpf's array). Each relocation is checked
    here, at open, with libbpf's errnos: FORMAT for a bad symbol; EINVAL when no map definition
    holds the offset, the map is neither map-in-map nor prog array, its last member is not
    ``values``, the offset is not a pointer slot of it, or a hash of maps has a key other than 4
    bytes; RELOC when a map-in-map's target is not in ``.maps`` or a prog array's is not an
    entry program; ESRCH when the target does not exist."""
    elf, btf = obj.elf, obj.btf
    datasec = btf.type_by_id(btf.find_all_by_name_kind(maps_mod.MAPS_ELF_SEC, 15)[0])
    for i, rel in enumerate(elf.rels(sec)):
        sym = elf.symbol(rel.sym)
        if sym is None:
            raise format_error(f".maps relo #{i}: symbol {rel.sym:x} not found", section=sec.name)
        name = sym.name or "<?>"
        where = {"section": sec.name, "symbol": name, "offset": rel.offset}
        for m in obj.maps:
            if m.libbpf_type != maps_mod.LIBBPF_MAP_UNSPEC or m.sec_idx != obj.btf_maps_shndx:
                continue
            vi = datasec.vars[m.btf_var_idx]
            if vi.offset <= rel.offset and rel.offset + 8 <= vi.offset + vi.size:
                break
        else:
            raise BpfObjectError(errno.EINVAL, f".maps relo #{i}: cannot find map '{name}' at "
                                 f"rel->r_offset {rel.offset}", **where)
        where["map"] = m.name
        if m.map_type in maps_mod.MAP_IN_MAP:
            kind = "map"
            if sym.shndx != obj.btf_maps_shndx:
                raise relo_error(f".maps relo #{i}: '{name}' isn't a BTF-defined map", **where)
            if m.map_type == BpfMapType.BPF_MAP_TYPE_HASH_OF_MAPS and m.key_size != 4:
                raise BpfObjectError(errno.EINVAL, f".maps relo #{i}: hash-of-maps '{m.name}' "
                                     "should have key size 4.", **where)
            if not any(t.name == name for t in obj.maps):
                raise BpfObjectError(errno.ESRCH, f".maps relo #{i}: '{name}' isn't a valid map "
                                     "reference", **where)
        elif m.map_type == BpfMapType.BPF_MAP_TYPE_PROG_ARRAY:
            kind = "prog"
            targ = next((p for p in obj.progs if p.name == name and not p.is_subprog), None)
            if targ is None:
                raise BpfObjectError(errno.ESRCH, f".maps relo #{i}: '{name}' isn't a valid "
                                     "program reference", **where)
            if targ.sec_idx != sym.shndx or targ.sec_insn_off * 8 != sym.value:
                raise relo_error(f".maps relo #{i}: '{name}' isn't an entry-point program",
                                 **where)
        else:
            raise BpfObjectError(errno.EINVAL, f".maps relo #{i}: map '{m.name}' is neither a "
                                 "map-in-map nor a prog array", **where)
        members = btf.type_by_id(btf.skip_modifiers(btf.type_by_id(vi.type).type)).members
        if not members or members[-1].name != "values":
            raise BpfObjectError(errno.EINVAL, f".maps relo #{i}: map '{m.name}' has no "
                                 "'values' member", **where)
        moff = rel.offset - vi.offset - members[-1].bit_offset // 8
        if moff < 0 or moff % 8:
            raise BpfObjectError(errno.EINVAL, f".maps relo #{i}: offset {rel.offset} is not a "
                                 f"slot of map '{m.name}'", **where)
        m.init_slots[moff // 8] = (kind, name)

