"""Btf: a parsed BTF blob, its types materialised on demand (the reading side of kernel/bpf/btf.c
and tools/lib/bpf/btf.c).

``Btf.parse`` checks what must hold for the bytes to be read at all, with the kernel's errnos and
messages (btf_parse_hdr, btf_check_sec_info, btf_parse_str_sec, the record walk of
btf_check_all_metas: sizes and kinds), then builds only an id -> word-offset index of the type
section. A type becomes a record (btf/types.py) the first time it is asked for; the name index is
built once, on the first lookup by name. The per-kind semantic rules and the resolve pass of
BPF_BTF_LOAD are ``btf_check`` (btf/verifier.py).

Split BTF (a module's BTF over vmlinux): ids continue after the base's last id and string offsets
after the base's string section, so an id or offset below those start points resolves in the base.
``nr_types`` counts every id, void and the base's included (the kernel's ``btf_nr_types``): valid
ids are ``0 .. nr_types - 1``. Only little-endian (native x86/arm64) blobs are read, as the kernel
reads only native ones; libbpf's byte-swapping is not done.
"""

import errno
import functools
from array import array
from typing import Iterator

from .errors import BtfError
from .kinds import KIND_OPS, btf_kind_str
from .types import BtfInt, BtfType, BtfVoid, MemberInfo
from .uapi import (BTF_HEADER, BTF_HEADER_SIZE, BTF_MAGIC, BTF_MAX_TYPE, BTF_VERSION,
                   MAX_RESOLVE_DEPTH, BtfKind)
from .errors import ENOTSUPP

_K = BtfKind
_MODIFIERS = frozenset((_K.BTF_KIND_TYPEDEF, _K.BTF_KIND_VOLATILE, _K.BTF_KIND_CONST,
                        _K.BTF_KIND_RESTRICT, _K.BTF_KIND_TYPE_TAG))
_HAS_SIZE = frozenset((_K.BTF_KIND_INT, _K.BTF_KIND_STRUCT, _K.BTF_KIND_UNION, _K.BTF_KIND_ENUM,
                       _K.BTF_KIND_DATASEC, _K.BTF_KIND_FLOAT, _K.BTF_KIND_ENUM64))
_VOID = BtfVoid(0, 0, "", 0, 0)


class BtfHeader:
    """struct btf_header, as read (fields past a short ``hdr_len`` read as zero, as the kernel
    copies only ``min(hdr_len, sizeof(struct btf_header))`` bytes)."""

    __slots__ = ("magic", "version", "flags", "hdr_len", "type_off", "type_len", "str_off",
                 "str_len", "extra")

    def __init__(self, magic, version, flags, hdr_len, type_off, type_len, str_off, str_len,
                 extra=b""):
        self.magic, self.version, self.flags, self.hdr_len = magic, version, flags, hdr_len
        self.type_off, self.type_len, self.str_off, self.str_len = type_off, type_len, str_off, str_len
        self.extra = extra   # header bytes past the 24 we know (all zero, else the blob is refused)

    def __repr__(self):
        return (f"BtfHeader(magic={self.magic:#x}, version={self.version}, flags={self.flags}, "
                f"hdr_len={self.hdr_len}, type_off={self.type_off}, type_len={self.type_len}, "
                f"str_off={self.str_off}, str_len={self.str_len})")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _btf_sec_info_cmp(x, y) -> int:
    """btf_sec_info_cmp: the kernel compares offsets as ``(int)(x->off - y->off)``, so offsets
    more than 2 GiB apart sort the "wrong" way; we sort the same way to fail the same way."""
    return _s32(x[0] - y[0]) or _s32(x[1] - y[1])


def btf_parse_hdr(data: bytes, base: "Btf | None" = None, log=None) -> BtfHeader:
    """Read and check the header and the section layout (kernel btf_parse_hdr + btf_check_sec_info).

    Called from Btf.parse and from btf_check; ``log`` (a callable) receives the kernel's header
    dump lines. EINVAL: "hdr_len not found", "btf_header not found", "Invalid magic", "No data",
    section errors; E2BIG: "Unsupported btf_header" (non-zero bytes past the known header);
    ENOTSUPP: "Unsupported version", "Unsupported flags".
    """
    size = len(data)
    if size < 8:
        raise BtfError(errno.EINVAL, "hdr_len not found")
    hdr_len = int.from_bytes(data[4:8], "little")
    if size < hdr_len:
        raise BtfError(errno.EINVAL, "btf_header not found")
    extra = b""
    if hdr_len > BTF_HEADER_SIZE:
        extra = bytes(data[BTF_HEADER_SIZE:hdr_len])
        if extra.count(0) != len(extra):
            raise BtfError(errno.E2BIG, "Unsupported btf_header")
    raw = bytes(data[:min(hdr_len, BTF_HEADER_SIZE)]).ljust(BTF_HEADER_SIZE, b"\0")
    raw = raw[:4] + hdr_len.to_bytes(4, "little") + raw[8:]
    hdr = BtfHeader(*BTF_HEADER.unpack(raw), extra=extra)
    if log is not None:
        log(f"magic: {hdr.magic:#x}\nversion: {hdr.version}\nflags: {hdr.flags:#x}\n"
            f"hdr_len: {hdr.hdr_len}\ntype_off: {hdr.type_off}\ntype_len: {hdr.type_len}\n"
            f"str_off: {hdr.str_off}\nstr_len: {hdr.str_len}\nbtf_total_size: {size}\n")
    if hdr.magic != BTF_MAGIC:
        raise BtfError(errno.EINVAL, "Invalid magic")
    if hdr.version != BTF_VERSION:
        raise BtfError(ENOTSUPP, "Unsupported version")
    if hdr.flags:
        raise BtfError(ENOTSUPP, "Unsupported flags")
    if base is None and size == hdr_len:
        raise BtfError(errno.EINVAL, "No data")
    # btf_check_sec_info: the two sections, sorted by offset, must tile the data after the header
    secs = sorted(((hdr.type_off, hdr.type_len), (hdr.str_off, hdr.str_len)),
                  key=functools.cmp_to_key(_btf_sec_info_cmp))
    expected_total = size - hdr_len
    total = 0
    for off, length in secs:
        if expected_total < off:
            raise BtfError(errno.EINVAL, "Invalid section offset")
        if total < off:
            raise BtfError(errno.EINVAL, "Unsupported section found")
        if total > off:
            raise BtfError(errno.EINVAL, "Section overlap found")
        if expected_total - total < length:
            raise BtfError(errno.EINVAL, "Total section length too long")
        total += length
    if expected_total != total:
        raise BtfError(errno.EINVAL, "Unsupported section found")
    return hdr


def btf_parse_str_sec(data: bytes, hdr: BtfHeader, base: "Btf | None") -> bytes:
    """The string section, checked as kernel btf_parse_str_sec does (EINVAL: "String section is
    not at the end", "Invalid string section")."""
    start = hdr.hdr_len + hdr.str_off
    end = start + hdr.str_len
    if end != len(data):
        raise BtfError(errno.EINVAL, "String section is not at the end")
    strings = bytes(data[start:end])
    if base is not None and not hdr.str_len:
        return strings
    if not hdr.str_len or hdr.str_len - 1 > 0x00FFFFFF or strings[-1]:
        raise BtfError(errno.EINVAL, "Invalid string section")
    if base is None and strings[0]:
        raise BtfError(errno.EINVAL, "Invalid string section")
    return strings


def btf_index_types(words, type_len: int, start_id: int, name_of=None) -> array:
    """Walk the type section and return the word offset of every record (the walk of kernel
    btf_check_all_metas, without the per-kind rules).

    EINVAL: a truncated record ("[id] meta_left:%u meta_needed:12" for the btf_type itself,
    "[id] KIND name meta_left:%u meta_needed:%u" for its trailing data), a kind of 0 or past
    BTF_KIND_MAX ("[id] Invalid kind:%u"); E2BIG: more ids than BTF_MAX_TYPE.
    """
    offs = array("I")
    append = offs.append
    ops_by_kind = KIND_OPS
    nwords = type_len >> 2
    w = 0
    tid = start_id
    while w < nwords or (w << 2) < type_len:
        left = type_len - (w << 2)
        if left < 12:
            raise BtfError(errno.EINVAL, f"[{tid}] meta_left:{left} meta_needed:12")
        info = words[w + 1]
        kind = (info >> 24) & 0x1F
        ops = ops_by_kind[kind]
        if ops is None:
            raise BtfError(errno.EINVAL, f"[{tid}] Invalid kind:{kind}")
        need = ops.meta_fixed + ops.meta_per_vlen * (info & 0xFFFF)
        if left - 12 < need:
            name = name_of(words[w]) if name_of else "(anon)"
            raise BtfError(errno.EINVAL,
                           f"[{tid}] {ops.kind_str} {name} meta_left:{left - 12} meta_needed:{need}")
        if tid >= BTF_MAX_TYPE:
            raise BtfError(errno.E2BIG, "Exceeded max num of types")
        append(w)
        w += 3 + (need >> 2)
        tid += 1
    return offs


class Btf:
    """A parsed BTF (base or split). Build with ``Btf.parse(data, base=None)``."""

    def __init__(self, data: bytes, hdr: BtfHeader, strings: bytes, words, offs: array,
                 base: "Btf | None" = None):
        self.data = data                  # the blob as given
        self.hdr = hdr                    # its header
        self.base = base                  # the base BTF of a split BTF, else None
        self.strings = strings            # this BTF's own string section (raw bytes)
        self.start_id = base.nr_types if base is not None else 1    # first own type id
        self.start_str_off = base.str_end if base is not None else 0  # first own string offset
        self._words = words               # the type section as u32 words
        self._offs = offs                 # own type index -> word offset of its record
        self._cache: list = [None] * len(offs)
        self._str_cache: dict[int, str] = {}
        self._name_index: dict | None = None

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, base: "Btf | None" = None) -> "Btf":
        """Parse a raw BTF blob (a .BTF section, /sys/kernel/btf/vmlinux, a module's split BTF).

        Raises BtfError (EINVAL, E2BIG, ENOTSUPP) with the kernel's message for a blob whose
        header, sections or records cannot be read; see btf_check for the full kernel rules.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("Btf.parse: data must be bytes-like")
        data = bytes(data)
        hdr = btf_parse_hdr(data, base)
        strings = btf_parse_str_sec(data, hdr, base)
        if hdr.type_off & 3:
            raise BtfError(errno.EINVAL, "Unaligned type_off")
        if base is None and not hdr.type_len:
            raise BtfError(errno.EINVAL, "No type found")
        start = hdr.hdr_len + hdr.type_off
        words = memoryview(data)[start:start + (hdr.type_len & ~3)].cast("I")
        self = cls.__new__(cls)
        cls.__init__(self, data, hdr, strings, words, array("I"), base)
        self._offs = btf_index_types(words, hdr.type_len, self.start_id, self._log_name)
        self._cache = [None] * len(self._offs)
        return self

    # -- strings -------------------------------------------------------------------------------

    @property
    def str_end(self) -> int:
        """One past the last string offset of this BTF and its bases."""
        return self.start_str_off + len(self.strings)

    def str_by_offset(self, off: int) -> str | None:
        """The string at ``off`` (kernel btf_str_by_offset), or None if it does not resolve."""
        btf = self
        while off < btf.start_str_off:
            btf = btf.base
        local = off - btf.start_str_off
        if local >= len(btf.strings):
            return None
        cache = btf._str_cache
        s = cache.get(local)
        if s is None:
            strings = btf.strings
            end = strings.find(b"\0", local)
            s = strings[local:end if end >= 0 else len(strings)].decode("utf-8", "surrogateescape")
            cache[local] = s
        return s

    def str_at(self, off: int) -> str:
        """Lenient str_by_offset: '' when the offset does not resolve."""
        s = self.str_by_offset(off)
        return "" if s is None else s

    def name_offset_valid(self, off: int) -> bool:
        """kernel btf_name_offset_valid."""
        if off > 0x00FFFFFF:
            return False
        btf = self
        while off < btf.start_str_off:
            btf = btf.base
        return off - btf.start_str_off < len(btf.strings)

    def _log_name(self, off: int) -> str:
        """__btf_name_by_offset: "(anon)", the name, or "(invalid-name-offset)"."""
        if not off:
            return "(anon)"
        s = self.str_by_offset(off)
        return "(invalid-name-offset)" if s is None else s

    # -- types ---------------------------------------------------------------------------------

    @property
    def nr_types(self) -> int:
        """Number of type ids, void and base types included (kernel btf_nr_types)."""
        return self.start_id + len(self._offs)

    def type_by_id(self, type_id: int) -> BtfType:
        """The record of ``type_id`` (0: void). EINVAL: no such id."""
        btf = self
        while type_id < btf.start_id:
            if btf.base is None:
                if type_id == 0:
                    return _VOID
                break
            btf = btf.base
        local = type_id - btf.start_id
        if local < 0 or local >= len(btf._offs):
            raise BtfError(errno.EINVAL, f"Invalid type id {type_id}")
        t = btf._cache[local]
        if t is None:
            w = btf._offs[local]
            words = btf._words
            t = KIND_OPS[(words[w + 1] >> 24) & 0x1F].decode(btf, type_id, words, w)
            btf._cache[local] = t
        return t

    def has_type(self, type_id: int) -> bool:
        return 0 <= type_id < self.nr_types

    def kind_of(self, type_id: int) -> int:
        """The kind number of ``type_id`` without materialising it (0 for void)."""
        btf = self
        while type_id < btf.start_id:
            if btf.base is None:
                return 0
            btf = btf.base
        local = type_id - btf.start_id
        if local >= len(btf._offs):
            raise BtfError(errno.EINVAL, f"Invalid type id {type_id}")
        return (btf._words[btf._offs[local] + 1] >> 24) & 0x1F

    def name_of(self, type_id: int) -> str:
        """The name of ``type_id`` ('' for anonymous types and void)."""
        return self.type_by_id(type_id).name

    def type_ids(self) -> range:
        """The ids this BTF defines itself (not its base's)."""
        return range(self.start_id, self.nr_types)

    def types(self) -> Iterator[BtfType]:
        """This BTF's own types, in id order."""
        for tid in self.type_ids():
            yield self.type_by_id(tid)

    def __len__(self) -> int:
        return len(self._offs)

    def _build_name_index(self) -> dict:
        index: dict[tuple[str, int], list[int]] = {}
        words, offs = self._words, self._offs
        names: dict[int, str] = {}
        start = self.start_id
        for local, w in enumerate(offs):
            no = words[w]
            if not no:
                continue
            name = names.get(no)
            if name is None:
                name = names[no] = self.str_at(no)
            key = (name, (words[w + 1] >> 24) & 0x1F)
            ids = index.get(key)
            if ids is None:
                index[key] = [start + local]
            else:
                ids.append(start + local)
        return index

    def find_all_by_name_kind(self, name: str, kind: int) -> list[int]:
        """Every id with this name and kind, base first, in id order."""
        found = self.base.find_all_by_name_kind(name, kind) if self.base is not None else []
        if self._name_index is None:
            self._name_index = self._build_name_index()
        return found + self._name_index.get((name, int(kind)), [])

    def find_by_name_kind(self, name: str, kind: int) -> int:
        """The first id with this name and kind (kernel btf_find_by_name_kind). ENOENT: none."""
        ids = self.find_all_by_name_kind(name, kind)
        if not ids:
            raise BtfError(errno.ENOENT, f"{btf_kind_str(int(kind))} '{name}' not found")
        return ids[0]

    # -- type arithmetic -----------------------------------------------------------------------

    def skip_modifiers(self, type_id: int) -> int:
        """Follow TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG (kernel btf_type_skip_modifiers).
        ELOOP: a chain longer than MAX_RESOLVE_DEPTH (a cycle)."""
        for _ in range(MAX_RESOLVE_DEPTH + 1):
            if self.kind_of(type_id) not in _MODIFIERS:
                return type_id
            type_id = self.type_by_id(type_id).type
        raise BtfError(errno.ELOOP, f"Max chain length or cycle detected at [{type_id}]")

    skip_mods_and_typedefs = skip_modifiers   # libbpf's name for the same walk

    def skip_qualifiers(self, type_id: int) -> int:
        """Follow VOLATILE, CONST, RESTRICT and TYPE_TAG but stop at a TYPEDEF."""
        for _ in range(MAX_RESOLVE_DEPTH + 1):
            k = self.kind_of(type_id)
            if k not in _MODIFIERS or k == _K.BTF_KIND_TYPEDEF:
                return type_id
            type_id = self.type_by_id(type_id).type
        raise BtfError(errno.ELOOP, f"Max chain length or cycle detected at [{type_id}]")

    def resolve_size(self, type_id: int) -> int:
        """Size in bytes of ``type_id`` (kernel btf_resolve_size, libbpf btf__resolve_size):
        modifiers, typedefs and VARs followed, arrays multiplied out. EINVAL: a type without a
        size (void, FWD, FUNC, FUNC_PROTO) or a chain deeper than MAX_RESOLVE_DEPTH; E2BIG: the
        size overflows u32."""
        nelems = 1
        tid = type_id
        for _ in range(MAX_RESOLVE_DEPTH):
            t = self.type_by_id(tid)
            k = t.kind if tid else 0
            if k in _HAS_SIZE:
                size = t.size
                break
            if k == _K.BTF_KIND_PTR:
                size = 8
                break
            if k in _MODIFIERS or k == _K.BTF_KIND_VAR:
                tid = t.type
            elif k == _K.BTF_KIND_ARRAY:
                if nelems and t.nelems > 0xFFFFFFFF // nelems:
                    raise BtfError(errno.E2BIG, f"[{type_id}] size overflows u32")
                nelems *= t.nelems
                tid = t.elem_type
            else:
                raise BtfError(errno.EINVAL, f"[{type_id}] type has no size ({btf_kind_str(k)})")
        else:
            raise BtfError(errno.EINVAL, f"[{type_id}] Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}")
        if nelems and size > 0xFFFFFFFF // nelems:
            raise BtfError(errno.E2BIG, f"[{type_id}] size overflows u32")
        return nelems * size

    def alignment(self, type_id: int) -> int:
        """Alignment in bytes of ``type_id`` on a 64-bit target (libbpf btf__align_of): a struct
        whose members are not at their natural offsets, or whose size is not a multiple of its
        alignment, is packed (1). EINVAL: a type without alignment; ELOOP: a struct that contains
        itself; E2BIG: nesting past MAX_RESOLVE_DEPTH. Results are memoised per Btf."""
        memo = self.__dict__.setdefault("_align_memo", {})
        return self._alignment(type_id, memo, set(), 0)

    def _alignment(self, type_id: int, memo: dict, active: set, depth: int) -> int:
        got = memo.get(type_id)
        if got is not None:
            if isinstance(got, BtfError):
                raise got
            return got
        if depth > MAX_RESOLVE_DEPTH:
            raise BtfError(errno.E2BIG, f"[{type_id}] Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}")
        if type_id in active:
            raise BtfError(errno.ELOOP, f"[{type_id}] type contains itself")
        active.add(type_id)
        try:
            align = self._alignment_of(type_id, memo, active, depth)
        except BtfError as e:
            if e.errno != errno.E2BIG:
                memo[type_id] = e
            raise
        finally:
            active.discard(type_id)
        memo[type_id] = align
        return align

    def _alignment_of(self, type_id: int, memo: dict, active: set, depth: int) -> int:
        tid = self.skip_modifiers(type_id)
        t = self.type_by_id(tid)
        k = t.kind if tid else 0
        if k in (_K.BTF_KIND_INT, _K.BTF_KIND_ENUM, _K.BTF_KIND_ENUM64, _K.BTF_KIND_FLOAT):
            return max(1, min(8, t.size))
        if k == _K.BTF_KIND_PTR:
            return 8
        if k == _K.BTF_KIND_ARRAY:
            return self._alignment(t.elem_type, memo, active, depth + 1)
        if k in (_K.BTF_KIND_STRUCT, _K.BTF_KIND_UNION):
            max_align = 1
            for m in t.members:
                align = self._alignment(m.type, memo, active, depth + 1)
                max_align = max(max_align, align)
                if not m.bitfield_size and m.bit_offset % (8 * align):
                    return 1
            return 1 if t.size % max_align else max_align
        raise BtfError(errno.EINVAL, f"[{type_id}] type has no alignment ({btf_kind_str(k)})")

    def members(self, type_id: int) -> Iterator[MemberInfo]:
        """The members of a STRUCT or UNION with their bit offsets and bitfield sizes. Without
        kind_flag a member whose INT type is narrower than its size (or has a bits_offset) is a
        bitfield of that INT's nr_bits. EINVAL: not a struct or union."""
        t = self.type_by_id(type_id)
        if t.kind not in (_K.BTF_KIND_STRUCT, _K.BTF_KIND_UNION) or not type_id:
            raise BtfError(errno.EINVAL, f"[{type_id}] {btf_kind_str(t.kind)} has no members")
        for i, m in enumerate(t.members):
            bit_offset, bitfield_size = m.bit_offset, m.bitfield_size
            if not t.kflag:
                try:
                    mt = self.type_by_id(self.skip_modifiers(m.type))
                except BtfError:
                    mt = None
                if isinstance(mt, BtfInt) and (mt.bits_offset or mt.nr_bits != mt.size * 8):
                    bit_offset += mt.bits_offset
                    bitfield_size = mt.nr_bits
            yield MemberInfo(i, m.name, m.type, bit_offset, bitfield_size)

    # -- encoding ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Encode the model: header, every type record from its model (btf/codec.py), strings.
        For a parsed blob this gives back the bytes it was parsed from."""
        from .encode import btf_encode
        return btf_encode(self.types(), self.strings, hdr_len=self.hdr.hdr_len,
                          hdr_extra=self.hdr.extra)

    def __repr__(self):
        base = f", base={self.base.nr_types} types" if self.base is not None else ""
        return f"<Btf {len(self._offs)} types, {len(self.strings)} bytes of strings{base}>"


def btf_parse(data: bytes, base: Btf | None = None) -> Btf:
    """Parse a BTF blob: ``Btf.parse`` under the kernel's name."""
    return Btf.parse(data, base)
