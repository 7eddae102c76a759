"""Kernel objects laid out by BTF: structs in simulated kernel memory with the real layout of the
kernel's BTF (include/linux/*.h as vmlinux BTF describes them; the allocation side of mm/slab.c).

A ``KObject`` is a typed view of kernel memory: an address and a BTF type id. Fields are named by
C paths, as a BPF program's ``BPF_CORE_READ`` or a C expression would name them: members of
anonymous structs and unions are reached directly (``skb.dev`` although ``dev`` sits in an
anonymous union of an anonymous struct), nested members with dots
(``"__sk_common.skc_dport"``), array elements with ``[i]`` (``"cb[3]"``). Values follow C:

=====================  =================================  ========================================
field type             ``get`` returns                    ``set`` accepts
=====================  =================================  ========================================
integer, enum, bool    int (signed if the type is)        int (truncated to the field), bool
bitfield               int                                int (read-modify-write of its bits)
pointer                int (the address; 0 is NULL)       int, KObject (its address), None, str
                                                          (allocates a kernel C string)
struct / union         KObject view of the member         dict (field by field), bytes, KObject
char array             bytes (all of it)                  str / bytes (NUL-padded, truncated)
other array            list                               list / tuple, bytes
=====================  =================================  ========================================

``obj.str(path)`` reads a C string (a char array, or a ``char *`` followed), ``obj.deref(path)``
follows a pointer to a struct and gives its KObject (None for NULL), ``obj.addr_of(path)`` is
``&obj->path``. Attribute access is a shortcut for ``get``/``set`` of a plain member name
(``skb.len``, ``skb.len = 60``).

Objects are created with ``KObjects.new(type, init=None, **fields)``::

    ko = kernel.kobjects
    dev = ko.netdev("eth0")
    skb = ko.new("struct sk_buff", len=60, dev=dev, protocol=0x0008)
    sk = ko.new("struct tcp_sock", {"inet_conn.icsk_inet.sk.__sk_common": {"skc_dport": 0x901f}})

Each object is one ``Region`` of ``kernel.mem`` (kind "kernel", ``owner`` = the KObject), so
``bpf_probe_read_kernel`` and the verifier's PROBE_MEM loads read exactly these bytes, at the
offsets the kernel BTF gives; a read past the object faults like any read outside a region.
Invented names (no kernel counterpart): ``KObject``, ``KObjects``, ``FieldInfo``.
"""

import re
from dataclasses import dataclass

from btf.errors import BtfError
from btf.types import BtfInt
from btf.uapi import BtfKind as K

from ..errors import BpfError

EINVAL = 22
ENOENT = 2
_COMPOSITE = (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION)
_INTLIKE = (K.BTF_KIND_INT, K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64)
_KIND_WORDS = {"struct": K.BTF_KIND_STRUCT, "union": K.BTF_KIND_UNION, "enum": K.BTF_KIND_ENUM}
_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """Where a C path lands inside a type (invented name)."""

    offset: int          # byte offset from the start of the object (bitfields: the byte of bit 0)
    type_id: int         # the field's type, modifiers and typedefs skipped
    kind: int            # BtfKind of type_id (0: void)
    size: int            # bytes of the field (bitfields: of the underlying int)
    bit_offset: int = 0  # bitfields: first bit, counted from ``offset * 8``
    bit_size: int = 0    # bitfields: width; 0 for ordinary fields
    signed: bool = False  # integers: signed type
    is_char: bool = False  # a 1-byte char (for char arrays and strings)


class TypeTable:
    """Per-BTF caches: flattened member tables and resolved paths (called by KObject)."""

    def __init__(self, btf):
        self.btf = btf
        self._members: dict[int, dict] = {}
        self._paths: dict[tuple[int, str], FieldInfo] = {}
        self._types: dict[str, int] = {}

    # -- type names ------------------------------------------------------------------------

    def type_id(self, spec) -> int:
        """"struct sk_buff", "union x", "enum y", a typedef or int name ("u32", "int"), or a
        type id. ENOENT: not in the BTF."""
        if isinstance(spec, int):
            return spec
        tid = self._types.get(spec)
        if tid is not None:
            return tid
        words = spec.split()
        b = self.btf
        try:
            if len(words) == 2 and words[0] in _KIND_WORDS:
                kind = _KIND_WORDS[words[0]]
                ids = b.find_all_by_name_kind(words[1], kind)
                if not ids and kind == K.BTF_KIND_ENUM:
                    ids = b.find_all_by_name_kind(words[1], K.BTF_KIND_ENUM64)
                if not ids:
                    raise BtfError(ENOENT, f"{spec} not found")
                tid = ids[0]
            else:
                name = " ".join(words)
                ids = (b.find_all_by_name_kind(name, K.BTF_KIND_TYPEDEF)
                       or b.find_all_by_name_kind(name, K.BTF_KIND_INT))
                if not ids:
                    raise BtfError(ENOENT, f"type {spec!r} not found")
                tid = ids[0]
        except BtfError as e:
            raise BpfError(ENOENT, f"kernel BTF has no {spec!r}") from e
        self._types[spec] = tid
        return tid

    def name(self, tid: int) -> str:
        t = self.btf.type_by_id(tid)
        if t.kind in _COMPOSITE:
            return f"{'union' if t.kind == K.BTF_KIND_UNION else 'struct'} {t.name or '(anon)'}"
        return t.name or f"[{tid}]"

    def resolve(self, tid: int) -> int:
        return self.btf.skip_modifiers(tid)

    def size(self, tid: int) -> int:
        return self.btf.resolve_size(tid)

    # -- members -----------------------------------------------------------------------------

    def members(self, tid: int) -> dict:
        """name -> (bit offset, member type id, bitfield size), anonymous members flattened in
        (their names become direct members, as in C)."""
        table = self._members.get(tid)
        if table is None:
            table = {}
            self._flatten(tid, 0, table)
            self._members[tid] = table
        return table

    def _flatten(self, tid: int, base: int, table: dict) -> None:
        b = self.btf
        for m in b.members(tid):
            if m.name:
                table.setdefault(m.name, (base + m.bit_offset, m.type, m.bitfield_size))
            else:
                inner = b.skip_modifiers(m.type)
                if b.kind_of(inner) in _COMPOSITE:
                    self._flatten(inner, base + m.bit_offset, table)

    def info_of_type(self, tid: int, offset: int, bit_offset: int = 0, bit_size: int = 0) -> FieldInfo:
        b = self.btf
        rt = b.skip_modifiers(tid)
        kind = b.kind_of(rt)
        t = b.type_by_id(rt)
        if kind == K.BTF_KIND_PTR:
            size = 8
        elif rt == 0 or kind in (K.BTF_KIND_FUNC_PROTO, K.BTF_KIND_FWD):
            size = 0
        else:
            size = b.resolve_size(rt)
        signed = False
        is_char = False
        if isinstance(t, BtfInt):
            signed = t.is_signed
            is_char = t.size == 1 and ("char" in t.name)
        elif kind in (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64):
            signed = bool(t.kflag)
        return FieldInfo(offset, rt, kind, size, bit_offset, bit_size, signed, is_char)

    def field(self, tid: int, path: str) -> FieldInfo:
        """FieldInfo of ``path`` in type ``tid``. EINVAL: no such member / not an array."""
        key = (tid, path)
        fi = self._paths.get(key)
        if fi is not None:
            return fi
        b = self.btf
        cur = b.skip_modifiers(tid)
        offset = 0
        fi = None
        for part in path.split("."):
            m = _PATH_PART.match(part.strip())
            if m is None:
                raise BpfError(EINVAL, f"bad field path {path!r}")
            name, indexes = m.group(1), m.group(2)
            if b.kind_of(cur) not in _COMPOSITE:
                raise BpfError(EINVAL, f"{path!r}: {self.name(cur)} has no member {name!r}")
            entry = self.members(cur).get(name)
            if entry is None:
                raise BpfError(EINVAL, f"{self.name(cur)} has no member {name!r}")
            bitoff, mtype, bitsize = entry
            if bitsize:
                fi = self.info_of_type(mtype, offset + bitoff // 8, bitoff % 8, bitsize)
                # read just the bytes that hold the bits (they may straddle the int's size)
                fi = FieldInfo(fi.offset, fi.type_id, fi.kind, (fi.bit_offset + bitsize + 7) // 8,
                               fi.bit_offset, bitsize, fi.signed, fi.is_char)
                if indexes:
                    raise BpfError(EINVAL, f"{path!r}: a bitfield is not an array")
                cur = fi.type_id
                continue
            offset += bitoff // 8
            cur = b.skip_modifiers(mtype)
            for idx in _INDEX.findall(indexes):
                t = b.type_by_id(cur)
                if t.kind != K.BTF_KIND_ARRAY:
                    raise BpfError(EINVAL, f"{path!r}: {name} is not an array")
                i = int(idx)
                if i >= t.nelems:
                    raise BpfError(EINVAL, f"{path!r}: index {i} past {t.nelems} elements")
                elem = b.skip_modifiers(t.elem_type)
                offset += i * b.resolve_size(elem)
                cur = elem
            fi = self.info_of_type(cur, offset)
        self._paths[key] = fi
        return fi


# -- reading and writing values at an address ---------------------------------------------------


def _read_int(mem, addr: int, fi: FieldInfo) -> int:
    raw = int.from_bytes(mem.read(addr, fi.size), "little")
    bits = fi.size * 8
    if fi.bit_size:
        raw = (raw >> fi.bit_offset) & ((1 << fi.bit_size) - 1)
        bits = fi.bit_size
    if fi.signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _write_int(mem, addr: int, fi: FieldInfo, value: int) -> None:
    value = int(value)
    if fi.bit_size:
        raw = int.from_bytes(mem.read(addr, fi.size), "little")
        mask = ((1 << fi.bit_size) - 1) << fi.bit_offset
        raw = (raw & ~mask) | ((value << fi.bit_offset) & mask)
        mem.write(addr, raw.to_bytes(fi.size, "little"), force=True)
        return
    mem.write(addr, (value & ((1 << (8 * fi.size)) - 1)).to_bytes(fi.size, "little"), force=True)


class KObject:
    """A typed view of kernel memory (invented name): ``addr`` and a BTF ``type_id``."""

    __slots__ = ("_ko", "addr", "type_id")

    def __init__(self, ko: "KObjects", addr: int, type_id: int):
        object.__setattr__(self, "_ko", ko)
        object.__setattr__(self, "addr", addr)
        object.__setattr__(self, "type_id", type_id)

    # -- introspection ---------------------------------------------------------------------

    @property
    def type_name(self) -> str:
        return self._ko.types.name(self.type_id)

    @property
    def size(self) -> int:
        return self._ko.types.size(self.type_id)

    def __int__(self) -> int:
        return self.addr

    __index__ = __int__

    def __eq__(self, other) -> bool:
        if isinstance(other, KObject):
            return self.addr == other.addr and self.type_id == other.type_id
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.addr, self.type_id))

    def __repr__(self) -> str:
        return f"<KObject {self.type_name} @ {self.addr:#x}>"

    def field(self, path: str) -> FieldInfo:
        return self._ko.types.field(self.type_id, path)

    def offsetof(self, path: str) -> int:
        return self.field(path).offset

    def addr_of(self, path: str) -> int:
        """&obj->path."""
        return self.addr + self.field(path).offset

    def bytes(self) -> bytes:
        """The object's bytes."""
        return self._ko.mem.read(self.addr, self.size)

    # -- access ------------------------------------------------------------------------------

    def get(self, path: str):
        fi = self.field(path)
        return self._ko.read_value(self.addr + fi.offset, fi)

    def set(self, path: str, value) -> None:
        fi = self.field(path)
        self._ko.write_value(self.addr + fi.offset, fi, value)

    def update(self, init=None, **fields) -> "KObject":
        """Set several fields: a dict (keys may be dotted paths, values may be nested dicts)
        and/or keyword arguments."""
        for src in (init or {}), fields:
            for path, value in src.items():
                self.set(path, value)
        return self

    def __getitem__(self, path: str):
        return self.get(path)

    def __setitem__(self, path: str, value) -> None:
        self.set(path, value)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.get(name)
        except BpfError as e:
            raise AttributeError(str(e)) from None

    def __setattr__(self, name: str, value) -> None:
        self.set(name, value)

    def str(self, path: str, max_len: int = 4096) -> str:
        """A C string: a char array member, or the string a char pointer member points at."""
        fi = self.field(path)
        mem = self._ko.mem
        if fi.kind == K.BTF_KIND_ARRAY:
            raw = mem.read(self.addr + fi.offset, fi.size)
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        if fi.kind == K.BTF_KIND_PTR:
            ptr = _read_int(mem, self.addr + fi.offset, fi)
            return mem.read_cstr(ptr, max_len).decode("utf-8", "replace") if ptr else ""
        raise BpfError(EINVAL, f"{path!r} is not a string")

    def deref(self, path: str, type_spec=None) -> "KObject | None":
        """The object a pointer member points at (None for NULL); ``type_spec`` overrides the
        pointee type (a cast, e.g. ``sk`` as "struct tcp_sock")."""
        fi = self.field(path)
        if fi.kind != K.BTF_KIND_PTR:
            raise BpfError(EINVAL, f"{path!r} is not a pointer")
        ptr = _read_int(self._ko.mem, self.addr + fi.offset, fi)
        if not ptr:
            return None
        types = self._ko.types
        tid = types.type_id(type_spec) if type_spec is not None else \
            types.resolve(types.btf.type_by_id(fi.type_id).type)
        return KObject(self._ko, ptr, tid)

    def cast(self, type_spec) -> "KObject":
        """The same address seen as another type (container_of at offset 0: sock -> tcp_sock)."""
        return KObject(self._ko, self.addr, self._ko.types.type_id(type_spec))


class KObjects:
    """The kernel-object allocator of one machine: ``kernel.kobjects`` (invented name)."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.mem = kernel.mem
        self.types = TypeTable(kernel.btf)
        self._strings: dict[bytes, int] = {}

    # -- typed views and allocation ----------------------------------------------------------

    def view(self, addr, type_spec) -> KObject:
        """A KObject for an existing address (a pointer argument of a traced function)."""
        if isinstance(addr, KObject):
            addr = addr.addr
        return KObject(self, int(addr), self.types.type_id(type_spec))

    def new(self, type_spec, init=None, *, extra: int = 0, label: str | None = None,
            **fields) -> KObject:
        """Allocate a zeroed object of ``type_spec`` (plus ``extra`` trailing bytes, for a
        flexible array member) and set ``init`` and ``fields``; ``label`` names the Region."""
        tid = self.types.type_id(type_spec)
        size = self.types.size(tid) + extra
        region = self.mem.alloc(size, label or self.types.name(tid), kind="kernel")
        obj = KObject(self, region.start, tid)
        region.owner = obj
        obj.update(init, **fields)
        return obj

    def alloc_bytes(self, data: bytes, name: str = "kernel buffer", size: int | None = None) -> int:
        """A kernel buffer holding ``data`` (kmalloc'ed memory); returns its address."""
        region = self.mem.alloc(max(size or 0, len(data)), name, kind="kernel", data=data)
        return region.start

    def cstring(self, text, cache: bool = True) -> int:
        """A NUL-terminated kernel string (``const char *`` arguments and members). Identical
        constant strings share one allocation when ``cache`` (the kernel's .rodata)."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        if cache and data in self._strings:
            return self._strings[data]
        addr = self.alloc_bytes(data + b"\0", "kernel string")
        if cache:
            self._strings[data] = addr
        return addr

    # -- values ---------------------------------------------------------------------------------

    def read_value(self, addr: int, fi: FieldInfo):
        mem = self.mem
        if fi.kind in _INTLIKE or fi.kind == K.BTF_KIND_PTR:
            return _read_int(mem, addr, fi)
        if fi.kind in _COMPOSITE:
            return KObject(self, addr, fi.type_id)
        if fi.kind == K.BTF_KIND_ARRAY:
            t = self.types.btf.type_by_id(fi.type_id)
            elem = self.types.info_of_type(t.elem_type, 0)
            if elem.is_char:
                return mem.read(addr, fi.size)
            return [self.read_value(addr + i * elem.size, elem) for i in range(t.nelems)]
        if fi.kind == K.BTF_KIND_FLOAT:
            import struct
            return struct.unpack("<d" if fi.size == 8 else "<f", mem.read(addr, fi.size))[0]
        raise BpfError(EINVAL, f"cannot read a value of kind {fi.kind}")

    def write_value(self, addr: int, fi: FieldInfo, value) -> None:
        mem = self.mem
        kind = fi.kind
        if kind == K.BTF_KIND_PTR:
            if value is None:
                value = 0
            elif isinstance(value, KObject):
                value = value.addr
            elif isinstance(value, (str, bytes)):
                value = self.cstring(value)
            _write_int(mem, addr, fi, value)
        elif kind in _INTLIKE:
            if isinstance(value, KObject):
                value = value.addr
            _write_int(mem, addr, fi, value)
        elif kind in _COMPOSITE:
            if isinstance(value, dict):
                view = KObject(self, addr, fi.type_id)
                for path, v in value.items():
                    view.set(path, v)
            elif isinstance(value, KObject):
                mem.write(addr, mem.read(value.addr, fi.size), force=True)
            else:
                data = bytes(value)
                mem.write(addr, data[:fi.size] + bytes(max(0, fi.size - len(data))), force=True)
        elif kind == K.BTF_KIND_ARRAY:
            t = self.types.btf.type_by_id(fi.type_id)
            elem = self.types.info_of_type(t.elem_type, 0)
            if isinstance(value, str):
                value = value.encode()
            if isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)[:fi.size]
                mem.write(addr, data + bytes(fi.size - len(data)), force=True)
            else:
                values = list(value)
                if len(values) > t.nelems:
                    raise BpfError(EINVAL, f"{len(values)} values for {t.nelems} elements")
                for i, v in enumerate(values):
                    self.write_value(addr + i * elem.size, elem, v)
        else:
            raise BpfError(EINVAL, f"cannot write a value of kind {kind}")
