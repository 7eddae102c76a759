"""Map definitions of a BPF object: BTF-defined maps in ``.maps``, the legacy ``maps`` section,
and the internal maps that hold global data (tools/lib/bpf/libbpf.c parse_btf_map_def,
bpf_object__init_user_btf_map(s), bpf_object__init_internal_map, internal_map_name,
map_is_mmapable, fill_map_from_def, adjust_ringbuf_sz, bpf_object__init_kconfig_map; libbpf < 1.0
bpf_object__init_user_maps for the legacy section).

**BTF-defined maps.** ``struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, u32); ... } m
SEC(".maps");`` is a global VAR of the ``.maps`` DATASEC whose type is an anonymous struct; each
member encodes one attribute in its type: ``__uint(name, N)`` is ``int (*name)[N]`` (a PTR to an
ARRAY of N elements: the value is ``nelems``), ``__type(name, T)`` is ``T *name`` (the key or value
type and, through it, its size), ``__array(values, struct inner)`` is a zero-sized array of
pointers to the inner map's definition (map-in-map) or to a FUNC_PROTO (prog array), and
``__ulong(map_extra, V)`` is an enum with one enumerator of value V. Unknown members are refused
(libbpf's strict mode, ENOTSUP).

**Global data.** Each non-empty ``.data``/``.data.*``, ``.rodata``/``.rodata.*`` and
``.bss``/``.bss.*`` section becomes a one-element ARRAY map whose value is the whole section
(key 4 bytes), initialized from the section's bytes (zero for .bss). Its name is libbpf's
``internal_map_name``: up to 8 characters of the object name (``min(15 - max(7, len(sec)),
len(obj))``, the object name being the file name up to its first dot) followed by the section
name, or for a section name with a second dot (``.rodata.str1.1``) the section name alone,
truncated to 15 characters, with bytes other than ``[A-Za-z0-9_.]`` replaced by ``_``. So
``count_calls.bpf.o``'s ``.bss`` is ``count_ca.bss``, its ``.rodata`` ``count_ca.rodata`` and its
``.kconfig`` ``count_c.kconfig``; ``t1.bpf.o``'s ``.bss`` is ``t1.bss``. .rodata (and .kconfig)
maps get ``BPF_F_RDONLY_PROG``; the map is
``BPF_F_MMAPABLE`` when its DATASEC has a non-static variable; its BTF value type is the DATASEC of
the same name (none for ``.rodata.str1.1``, which has no DATASEC).

**Legacy maps.** ``struct bpf_map_def SEC("maps")`` (type, key_size, value_size, max_entries,
map_flags; 20 bytes each, larger definitions must have a zero tail). libbpf >= 1.0 refuses the
section (ENOTSUP); kernelsim accepts it, as libbpf 0.x did (there is no BTF for such maps).
"""

from __future__ import annotations

import errno
import re
import struct
from dataclasses import dataclass, field

from btf import (BTF_KIND_ARRAY, BTF_KIND_DATASEC, BTF_KIND_ENUM, BTF_KIND_ENUM64,
                 BTF_KIND_FUNC_PROTO, BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_VAR, BtfError)
from kernelsim.uapi import BPF_OBJ_NAME_LEN, BpfMapFlags, BpfMapType

from .btf_fixup import BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_STATIC
from .errors import BpfObjectError, format_error

MAPS_ELF_SEC = ".maps"
LEGACY_MAPS_SEC = "maps"
PAGE_SIZE = 4096
LIBBPF_PIN_NONE = 0
LIBBPF_PIN_BY_NAME = 1
BPF_FS_DEFAULT_PATH = "/sys/fs/bpf"

# enum libbpf_map_type
LIBBPF_MAP_UNSPEC = "unspec"
LIBBPF_MAP_DATA = "data"
LIBBPF_MAP_BSS = "bss"
LIBBPF_MAP_RODATA = "rodata"
LIBBPF_MAP_KCONFIG = "kconfig"
INTERNAL_TYPES = (LIBBPF_MAP_DATA, LIBBPF_MAP_BSS, LIBBPF_MAP_RODATA, LIBBPF_MAP_KCONFIG)

MAP_IN_MAP = (BpfMapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, BpfMapType.BPF_MAP_TYPE_HASH_OF_MAPS)
RINGBUFS = (BpfMapType.BPF_MAP_TYPE_RINGBUF, BpfMapType.BPF_MAP_TYPE_USER_RINGBUF)
# map types libbpf creates without BTF key/value ids (bpf_object__create_map)
NO_BTF_TYPES = frozenset({
    BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, BpfMapType.BPF_MAP_TYPE_CGROUP_ARRAY,
    BpfMapType.BPF_MAP_TYPE_STACK_TRACE, BpfMapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
    BpfMapType.BPF_MAP_TYPE_HASH_OF_MAPS, BpfMapType.BPF_MAP_TYPE_DEVMAP,
    BpfMapType.BPF_MAP_TYPE_DEVMAP_HASH, BpfMapType.BPF_MAP_TYPE_CPUMAP,
    BpfMapType.BPF_MAP_TYPE_XSKMAP, BpfMapType.BPF_MAP_TYPE_SOCKMAP,
    BpfMapType.BPF_MAP_TYPE_SOCKHASH, BpfMapType.BPF_MAP_TYPE_QUEUE,
    BpfMapType.BPF_MAP_TYPE_STACK, BpfMapType.BPF_MAP_TYPE_ARENA})

_LEGACY_DEF = struct.Struct("<IIIII")


@dataclass(slots=True)
class MapDef:
    """One map of the object, before and after creation (libbpf's struct bpf_map)."""

    name: str                     # the name given to the kernel (and the key of obj.maps)
    libbpf_type: str              # LIBBPF_MAP_* (unspec for user maps)
    sec_idx: int                  # ELF section holding the definition (or the data)
    sec_offset: int = 0           # offset of the definition in its section
    real_name: str = ""           # the section name for internal maps ('.bss'), else the name
    map_type: int = 0
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    map_flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    pinning: int = LIBBPF_PIN_NONE
    pin_path: str | None = None
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    inner: "MapDef | None" = None  # the inner map definition of a map-in-map
    inner_map_fd: int = -1        # a caller's template map instead (bpf_map__set_inner_map_fd)
    data: bytearray | None = None  # initial contents of an internal map
    btf_var_idx: int = -1
    autocreate: bool = True
    init_slots: dict = field(default_factory=dict)  # slot -> ("prog"|"map", target) from .rel.maps
    fd: int = -1                  # after creation
    reused: bool = False          # a pinned map reused instead of created

    @property
    def is_internal(self) -> bool:
        return self.libbpf_type in INTERNAL_TYPES


# -- BTF-defined maps ------------------------------------------------------------------------

def _field_int(btf, map_name: str, m) -> int:
    """get_map_field_int: the member's type is PTR -> ARRAY; the value is nelems."""
    t = btf.type_by_id(btf.skip_modifiers(m.type))
    if t.kind != BTF_KIND_PTR:
        raise _einval(f"map '{map_name}': attr '{m.name}': expected PTR, got {t.kind.name}.",
                      map_name)
    arr = btf.type_by_id(t.type)
    if arr.kind != BTF_KIND_ARRAY:
        raise _einval(f"map '{map_name}': attr '{m.name}': expected ARRAY, got {arr.kind.name}.",
                      map_name)
    return arr.nelems


def _field_long(btf, map_name: str, m) -> int:
    """get_map_field_long: __uint (PTR) or __ulong (an ENUM/ENUM64 with one enumerator)."""
    t = btf.type_by_id(btf.skip_modifiers(m.type))
    if t.kind == BTF_KIND_PTR:
        return _field_int(btf, map_name, m)
    if t.kind not in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
        raise _einval(f"map '{map_name}': attr '{m.name}': expected ENUM or ENUM64, got "
                      f"{t.kind.name}.", map_name)
    if len(t.values) != 1:
        raise _einval(f"map '{map_name}': attr '{m.name}': invalid __ulong", map_name)
    return t.values[0].val & 0xFFFFFFFFFFFFFFFF


def parse_btf_map_def(map_name: str, btf, def_id: int, is_inner: bool = False) -> dict:
    """libbpf parse_btf_map_def (strict): the attributes of one map definition struct, as a dict
    with the MapDef field names plus ``inner`` (a dict) for a map-in-map."""
    d = {"map_type": 0, "key_size": 0, "value_size": 0, "max_entries": 0, "map_flags": 0,
         "numa_node": 0, "map_extra": 0, "pinning": 0, "btf_key_type_id": 0,
         "btf_value_type_id": 0, "inner": None}
    members = btf.type_by_id(def_id).members
    for i, m in enumerate(members):
        name = m.name
        if not name:
            raise _einval(f"map '{map_name}': invalid field #{i}.", map_name)
        if name in ("type", "max_entries", "map_flags", "numa_node"):
            d["map_type" if name == "type" else name] = _field_int(btf, map_name, m)
        elif name in ("key_size", "value_size"):
            sz = _field_int(btf, map_name, m)
            if d[name] and d[name] != sz:
                raise _einval(f"map '{map_name}': conflicting {name.replace('_', ' ')} "
                              f"{d[name]} != {sz}.", map_name)
            d[name] = sz
        elif name in ("key", "value"):
            t = btf.type_by_id(m.type)
            if t.kind != BTF_KIND_PTR:
                raise _einval(f"map '{map_name}': {name} spec is not PTR: {t.kind.name}.", map_name)
            try:
                sz = btf.resolve_size(t.type)
            except BtfError as e:
                raise BpfObjectError(e.errno, f"map '{map_name}': can't determine {name} size for "
                                     f"type [{t.type}]: {e}", map=map_name) from e
            if d[f"{name}_size"] and d[f"{name}_size"] != sz:
                raise _einval(f"map '{map_name}': conflicting {name} size {d[name + '_size']} != "
                              f"{sz}.", map_name)
            d[f"{name}_size"] = sz
            d[f"btf_{name}_type_id"] = t.type
        elif name == "values":
            is_map_in_map = d["map_type"] in MAP_IN_MAP
            is_prog_array = d["map_type"] == BpfMapType.BPF_MAP_TYPE_PROG_ARRAY
            desc = "map-in-map inner" if is_map_in_map else "prog-array value"
            if is_inner:
                raise BpfObjectError(errno.EOPNOTSUPP, f"map '{map_name}': multi-level inner maps "
                                     "not supported.", map=map_name)
            if i != len(members) - 1:
                raise _einval(f"map '{map_name}': '{name}' member should be last.", map_name)
            if not is_map_in_map and not is_prog_array:
                raise BpfObjectError(errno.EOPNOTSUPP, f"map '{map_name}': should be map-in-map "
                                     "or prog-array.", map=map_name)
            if d["value_size"] and d["value_size"] != 4:
                raise _einval(f"map '{map_name}': conflicting value size {d['value_size']} != 4.",
                              map_name)
            d["value_size"] = 4
            t = btf.type_by_id(m.type)
            if t.kind != BTF_KIND_ARRAY or t.nelems:
                raise _einval(f"map '{map_name}': {desc} spec is not a zero-sized array.", map_name)
            t = btf.type_by_id(btf.skip_modifiers(t.elem_type))
            if t.kind != BTF_KIND_PTR:
                raise _einval(f"map '{map_name}': {desc} def is of unexpected kind {t.kind.name}.",
                              map_name)
            inner_id = btf.skip_modifiers(t.type)
            t = btf.type_by_id(inner_id)
            if is_prog_array:
                if t.kind != BTF_KIND_FUNC_PROTO:
                    raise _einval(f"map '{map_name}': prog-array value def is of unexpected kind "
                                  f"{t.kind.name}.", map_name)
                continue
            if t.kind != BTF_KIND_STRUCT:
                raise _einval(f"map '{map_name}': map-in-map inner def is of unexpected kind "
                              f"{t.kind.name}.", map_name)
            d["inner"] = parse_btf_map_def(f"{map_name}.inner", btf, inner_id, is_inner=True)
        elif name == "pinning":
            if is_inner:
                raise _einval(f"map '{map_name}': inner def can't be pinned.", map_name)
            val = _field_int(btf, map_name, m)
            if val not in (LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME):
                raise _einval(f"map '{map_name}': invalid pinning value {val}.", map_name)
            d["pinning"] = val
        elif name == "map_extra":
            d["map_extra"] = _field_long(btf, map_name, m)
        else:
            raise BpfObjectError(errno.EOPNOTSUPP, f"map '{map_name}': unknown field '{name}'.",
                                 map=map_name)
    if d["map_type"] == 0:
        raise _einval(f"map '{map_name}': map type isn't specified.", map_name)
    return d


def adjust_ringbuf_sz(sz: int) -> int:
    """libbpf adjust_ringbuf_sz: round a ring buffer size up to a power-of-2 number of pages."""
    if sz == 0:
        return 0
    if sz % PAGE_SIZE == 0 and _is_pow2(sz // PAGE_SIZE):
        return sz
    mul = 1
    while mul <= 0xFFFFFFFF // PAGE_SIZE:
        if mul * PAGE_SIZE > sz:
            return mul * PAGE_SIZE
        mul <<= 1
    return sz


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def _from_def(m: MapDef, d: dict) -> MapDef:
    """fill_map_from_def."""
    for k in ("map_type", "key_size", "value_size", "max_entries", "map_flags", "numa_node",
              "map_extra", "pinning", "btf_key_type_id", "btf_value_type_id"):
        setattr(m, k, d[k])
    if m.map_type in RINGBUFS:
        m.max_entries = adjust_ringbuf_sz(m.max_entries)
    return m


def init_user_btf_maps(elf, btf, pin_root_path: str | None = None) -> list[MapDef]:
    """bpf_object__init_user_btf_maps: one MapDef per VAR of the ``.maps`` DATASEC."""
    sec = elf.section_by_name(MAPS_ELF_SEC)
    if sec is None:
        return []
    if btf is None:
        raise BpfObjectError(errno.ENOENT, "BTF is required, but is missing or corrupted.",
                             section=MAPS_ELF_SEC)
    ids = btf.find_all_by_name_kind(MAPS_ELF_SEC, BTF_KIND_DATASEC)
    if not ids:
        raise BpfObjectError(errno.ENOENT, f"DATASEC '{MAPS_ELF_SEC}' not found.",
                             section=MAPS_ELF_SEC)
    datasec = btf.type_by_id(ids[0])
    maps = []
    for var_idx, vi in enumerate(datasec.vars):
        var = btf.type_by_id(vi.type)
        map_name = var.name
        if not map_name:
            raise _einval(f"map #{var_idx}: empty name.", None)
        if vi.offset + vi.size > sec.size:
            raise _einval(f"map '{map_name}' BTF data is corrupted.", map_name)
        if var.kind != BTF_KIND_VAR:
            raise _einval(f"map '{map_name}': unexpected var kind {var.kind.name}.", map_name)
        if var.linkage != BTF_VAR_GLOBAL_ALLOCATED:
            linkage = {0: "static", 2: "extern"}.get(var.linkage, "unknown")
            raise BpfObjectError(errno.EOPNOTSUPP, f"map '{map_name}': unsupported map linkage "
                                 f"{linkage}.", map=map_name, section=MAPS_ELF_SEC)
        def_id = btf.skip_modifiers(var.type)
        def_t = btf.type_by_id(def_id)
        if def_t.kind != BTF_KIND_STRUCT:
            raise _einval(f"map '{map_name}': unexpected def kind {def_t.kind.name}.", map_name)
        if def_t.size > vi.size:
            raise _einval(f"map '{map_name}': invalid def size.", map_name)
        d = parse_btf_map_def(map_name, btf, def_id)
        m = _from_def(MapDef(map_name, LIBBPF_MAP_UNSPEC, sec.idx, vi.offset, map_name,
                             btf_var_idx=var_idx), d)
        if m.pinning == LIBBPF_PIN_BY_NAME:
            m.pin_path = f"{(pin_root_path or BPF_FS_DEFAULT_PATH).rstrip('/')}/{map_name}"
        if d["inner"] is not None:
            m.inner = _from_def(MapDef(f"{map_name}.inner", LIBBPF_MAP_UNSPEC, sec.idx), d["inner"])
        maps.append(m)
    return maps


# -- legacy maps ----------------------------------------------------------------------------

def init_legacy_maps(elf) -> list[MapDef]:
    """libbpf 0.x bpf_object__init_user_maps: ``struct bpf_map_def`` records in SEC("maps"),
    one per symbol of that section, each ``d_size / nr_maps`` bytes."""
    sec = elf.section_by_name(LEGACY_MAPS_SEC)
    if sec is None:
        return []
    syms = sorted((s for s in elf.symbols if s.shndx == sec.idx and s.name
                   and s.type != 3), key=lambda s: s.value)         # 3: STT_SECTION
    if not syms:
        return []
    def_sz = sec.size // len(syms)
    if def_sz < 4 or sec.size % len(syms) or def_sz % 4:
        raise format_error(f"elf: unable to determine legacy map definition size in {elf.path}",
                           section=LEGACY_MAPS_SEC)
    maps = []
    for s in syms:
        if s.value + def_sz > len(sec.data):
            raise format_error(f"map '{s.name}': legacy map definition past the end of 'maps'",
                               section=LEGACY_MAPS_SEC, symbol=s.name, offset=s.value)
        raw = sec.data[s.value: s.value + def_sz]
        if def_sz > _LEGACY_DEF.size and any(raw[_LEGACY_DEF.size:]):
            raise BpfObjectError(errno.EINVAL, f"maps section in {elf.path}: \"{s.name}\" has "
                                 "unrecognized, non-zero options", section=LEGACY_MAPS_SEC,
                                 symbol=s.name, offset=s.value)
        vals = list(_LEGACY_DEF.unpack((raw + bytes(_LEGACY_DEF.size))[:_LEGACY_DEF.size]))
        m = MapDef(s.name, LIBBPF_MAP_UNSPEC, sec.idx, s.value, s.name, *vals)
        if m.map_type in RINGBUFS:
            m.max_entries = adjust_ringbuf_sz(m.max_entries)
        maps.append(m)
    return maps


# -- internal maps ------------------------------------------------------------------------------

def object_name(path: str) -> str:
    """bpf_object__new: the basename up to its first '.', at most 15 characters."""
    base = str(path).rsplit("/", 1)[-1][: BPF_OBJ_NAME_LEN - 1]
    return base.split(".", 1)[0]


_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.]")


def internal_map_name(obj_name: str, real_name: str) -> str:
    """libbpf internal_map_name (see the module docstring)."""
    sfx_len = min(max(7, len(real_name)), BPF_OBJ_NAME_LEN - 1)
    if "." in real_name[1:]:
        pfx_len = 0
    else:
        pfx_len = min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = (obj_name[:pfx_len] + real_name[:sfx_len])[: BPF_OBJ_NAME_LEN - 1]
    return _BAD_NAME_CHAR.sub("_", name)


def data_section_type(sec) -> str | None:
    """The internal map type an ELF section gives (bpf_object__elf_collect's SEC_DATA /
    SEC_RODATA / SEC_BSS), or None."""
    from .elf import SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS
    name = sec.name
    if sec.type == SHT_PROGBITS and not sec.flags & SHF_EXECINSTR:
        if name == ".data" or name.startswith(".data."):
            return LIBBPF_MAP_DATA
        if name == ".rodata" or name.startswith(".rodata."):
            return LIBBPF_MAP_RODATA
    if sec.type == SHT_NOBITS and (name == ".bss" or name.startswith(".bss.")):
        return LIBBPF_MAP_BSS
    return None


def map_is_mmapable(btf, value_type_id: int) -> bool:
    """libbpf map_is_mmapable: the DATASEC has at least one non-static VAR."""
    if not value_type_id or btf is None:
        return False
    t = btf.type_by_id(value_type_id)
    if t.kind != BTF_KIND_DATASEC:
        return False
    for vi in t.vars:
        vt = btf.type_by_id(vi.type)
        if vt.kind == BTF_KIND_VAR and vt.linkage != BTF_VAR_STATIC:
            return True
    return False


def find_btf_by_name(btf, name: str) -> int:
    """libbpf btf__find_by_name: the first type of any kind with that name, else 0."""
    if btf is None:
        return 0
    for tid in btf.type_ids():
        if btf.name_of(tid) == name:
            return tid
    return 0


MAX_GLOBAL_DATA = 1 << 28      # 256 MiB: more than any map value the kernel would take (ours)


def init_internal_map(obj_name: str, libbpf_type: str, sec, btf) -> MapDef:
    """bpf_object__init_internal_map for one data section. E2BIG: a section bigger than
    MAX_GLOBAL_DATA (libbpf would fail to mmap its image; a corrupted .bss size, usually)."""
    if sec.size > MAX_GLOBAL_DATA:
        raise BpfObjectError(errno.E2BIG, f"map '{sec.name}': global data section of "
                             f"{sec.size} bytes is too big", section=sec.name)
    m = MapDef(internal_map_name(obj_name, sec.name), libbpf_type, sec.idx, 0, sec.name,
               BpfMapType.BPF_MAP_TYPE_ARRAY, 4, sec.size, 1)
    if libbpf_type in (LIBBPF_MAP_RODATA, LIBBPF_MAP_KCONFIG):
        m.map_flags = BpfMapFlags.BPF_F_RDONLY_PROG
    m.btf_value_type_id = find_btf_by_name(btf, sec.name)
    if map_is_mmapable(btf, m.btf_value_type_id):
        m.map_flags |= BpfMapFlags.BPF_F_MMAPABLE
    m.map_flags = int(m.map_flags)
    m.data = bytearray(sec.size) if libbpf_type == LIBBPF_MAP_BSS else bytearray(sec.data)
    return m


def init_global_data_maps(elf, btf, obj_name: str) -> list[MapDef]:
    """bpf_object__init_global_data_maps, in section order."""
    maps = []
    for sec in elf.sections[1:]:
        kind = data_section_type(sec)
        if kind is None or sec.size == 0:
            continue
        maps.append(init_internal_map(obj_name, kind, sec, btf))
    return maps


def _einval(msg: str, map_name) -> BpfObjectError:
    return BpfObjectError(errno.EINVAL, msg, map=map_name, section=MAPS_ELF_SEC)
