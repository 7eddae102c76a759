"""BtfBuilder: constructing BTF programmatically, strings deduplicated (after libbpf's btf__add_int,
btf__add_struct, btf__add_field ... in tools/lib/bpf/btf.c; the method names drop the prefix).

Each ``add_*`` appends one type and returns its id; ``add_field``, ``add_enum_value``,
``add_func_param`` and ``add_datasec_var_info`` extend the type added last, as libbpf's do. A
builder over a ``base`` makes split BTF: ids continue after the base's last id and string offsets
after the base's strings (a name already in the base is not repeated). ``add_raw`` appends any
record, valid or not, for tests of the verifier. ``to_bytes`` encodes (header fields can be
overridden to build corrupt blobs); ``to_btf`` parses the result.

Argument errors raise BtfError(EINVAL), as libbpf returns -EINVAL.
"""

import errno
from array import array

from .btf import Btf
from .errors import BtfError
from .types import BtfType
from .uapi import (BTF_FUNC_GLOBAL, BTF_HEADER_SIZE, BTF_INT_SIGNED, BTF_MAX_VLEN,
                   BTF_VAR_STATIC, BtfKind, btf_info_enc, btf_int_enc, btf_member_offset_enc)
from .encode import btf_raw_header

K = BtfKind


class BtfBuilder:
    """A BTF under construction (our name; libbpf builds on ``struct btf`` itself)."""

    def __init__(self, base: Btf | None = None):
        self.base = base
        self.start_id = base.nr_types if base is not None else 1
        self.start_str_off = base.str_end if base is not None else 0
        self._strings = bytearray(b"" if base is not None else b"\0")
        self._str_index: dict[bytes, int] = {b"": 0}
        self._base_strs: dict[bytes, int] | None = None
        self._records: list[list[int]] = []
        self._kinds: list[int] = []

    # -- strings ----------------------------------------------------------------------------

    def _base_str_index(self) -> dict[bytes, int]:
        if self._base_strs is None:
            index: dict[bytes, int] = {}
            b = self.base
            chain = []
            while b is not None:
                chain.append(b)
                b = b.base
            for bb in reversed(chain):
                s = bb.strings
                off = 0
                for part in s.split(b"\0"):
                    index.setdefault(part, bb.start_str_off + off)
                    off += len(part) + 1
            self._base_strs = index
        return self._base_strs

    def add_str(self, s: str | bytes) -> int:
        """The offset of ``s``, appended once (btf__add_str)."""
        raw = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)
        if b"\0" in raw:
            raise BtfError(errno.EINVAL, f"string {s!r} contains a NUL")
        off = self._str_index.get(raw)
        if off is not None:
            return off
        if self.base is not None:
            off = self._base_str_index().get(raw)
            if off is not None:
                self._str_index[raw] = off
                return off
        off = self.start_str_off + len(self._strings)
        self._strings += raw + b"\0"
        self._str_index[raw] = off
        return off

    def _name(self, name) -> int:
        if name is None or name == "":
            return 0
        if isinstance(name, int):
            return name
        return self.add_str(name)

    # -- records -----------------------------------------------------------------------------

    @property
    def nr_types(self) -> int:
        return self.start_id + len(self._records)

    def _add(self, kind: int, name, kflag: int, vlen: int, size_type: int, extra=()) -> int:
        rec = [self._name(name), btf_info_enc(kind, kflag, vlen), size_type & 0xFFFFFFFF, *extra]
        self._records.append(rec)
        self._kinds.append(kind)
        return self.start_id + len(self._records) - 1

    def add_raw(self, name_off: int, info: int, size_type: int, extra=()) -> int:
        """Append a record word for word (any values: for building invalid BTF)."""
        self._records.append([name_off & 0xFFFFFFFF, info & 0xFFFFFFFF, size_type & 0xFFFFFFFF,
                              *[w & 0xFFFFFFFF for w in extra]])
        self._kinds.append((info >> 24) & 0x1F)
        return self.start_id + len(self._records) - 1

    def set_raw(self, type_id: int, name_off: int, info: int, size_type: int, extra=()) -> None:
        """Overwrite the record of an id this builder added (fill in a reserved type)."""
        i = type_id - self.start_id
        if not 0 <= i < len(self._records):
            raise BtfError(errno.EINVAL, f"type id {type_id} is not this builder's")
        self._records[i] = [name_off & 0xFFFFFFFF, info & 0xFFFFFFFF, size_type & 0xFFFFFFFF,
                            *[w & 0xFFFFFFFF for w in extra]]
        self._kinds[i] = (info >> 24) & 0x1F

    def _last(self, *kinds) -> list[int]:
        if not self._records or self._kinds[-1] not in kinds:
            raise BtfError(errno.EINVAL, "no type of the right kind to extend")
        return self._records[-1]

    def _bump_vlen(self, rec: list[int], kflag: int | None = None) -> None:
        vlen = rec[1] & 0xFFFF
        if vlen == BTF_MAX_VLEN:
            raise BtfError(errno.E2BIG, "too many members")
        rec[1] = (rec[1] & ~0xFFFF) | (vlen + 1)
        if kflag:
            rec[1] |= 1 << 31

    def add_int(self, name: str, size: int, encoding: int = 0) -> int:
        """btf__add_int: a full-width integer of ``size`` bytes (1, 2, 4, 8, 16)."""
        if not name or size not in (1, 2, 4, 8, 16):
            raise BtfError(errno.EINVAL, f"invalid INT {name!r} size {size}")
        return self._add(K.BTF_KIND_INT, name, 0, 0, size, (btf_int_enc(encoding, 0, size * 8),))

    def add_float(self, name: str, size: int) -> int:
        if not name or size not in (2, 4, 8, 12, 16):
            raise BtfError(errno.EINVAL, f"invalid FLOAT {name!r} size {size}")
        return self._add(K.BTF_KIND_FLOAT, name, 0, 0, size)

    def _check_id(self, tid: int) -> int:
        if not isinstance(tid, int) or tid < 0 or tid >= self.nr_types + 1 << 20:
            raise BtfError(errno.EINVAL, f"invalid type id {tid!r}")
        return tid

    def add_ptr(self, ref: int) -> int:
        return self._add(K.BTF_KIND_PTR, None, 0, 0, self._check_id(ref))

    def add_const(self, ref: int) -> int:
        return self._add(K.BTF_KIND_CONST, None, 0, 0, self._check_id(ref))

    def add_volatile(self, ref: int) -> int:
        return self._add(K.BTF_KIND_VOLATILE, None, 0, 0, self._check_id(ref))

    def add_restrict(self, ref: int) -> int:
        return self._add(K.BTF_KIND_RESTRICT, None, 0, 0, self._check_id(ref))

    def add_typedef(self, name: str, ref: int) -> int:
        if not name:
            raise BtfError(errno.EINVAL, "a TYPEDEF needs a name")
        return self._add(K.BTF_KIND_TYPEDEF, name, 0, 0, self._check_id(ref))

    def add_type_tag(self, value: str, ref: int, kflag: int = 0) -> int:
        if not value:
            raise BtfError(errno.EINVAL, "a TYPE_TAG needs a value")
        return self._add(K.BTF_KIND_TYPE_TAG, value, kflag, 0, self._check_id(ref))

    def add_array(self, elem_type: int, index_type: int, nelems: int) -> int:
        return self._add(K.BTF_KIND_ARRAY, None, 0, 0, 0,
                         (self._check_id(elem_type), self._check_id(index_type), nelems))

    def add_struct(self, name: str | None, size: int) -> int:
        return self._add(K.BTF_KIND_STRUCT, name, 0, 0, size)

    def add_union(self, name: str | None, size: int) -> int:
        return self._add(K.BTF_KIND_UNION, name, 0, 0, size)

    def add_field(self, name: str | None, type_id: int, bit_offset: int, bitfield_size: int = 0) -> int:
        """btf__add_field: a member of the last STRUCT/UNION; a bitfield switches the struct to
        kind_flag encoding (earlier members' offsets are plain bit offsets either way)."""
        rec = self._last(K.BTF_KIND_STRUCT, K.BTF_KIND_UNION)
        if bitfield_size < 0 or bitfield_size > 255 or bit_offset < 0 or bit_offset > 0xFFFFFF:
            raise BtfError(errno.EINVAL, f"invalid field offset {bit_offset}/{bitfield_size}")
        if bitfield_size and not rec[1] >> 31:
            rec[1] |= 1 << 31
        off = btf_member_offset_enc(bitfield_size, bit_offset) if rec[1] >> 31 else bit_offset
        rec += (self._name(name), self._check_id(type_id), off)
        self._bump_vlen(rec)
        return len(rec)

    def add_enum(self, name: str | None, size: int = 4, signed: bool = False) -> int:
        return self._add(K.BTF_KIND_ENUM, name, int(signed), 0, size)

    def add_enum64(self, name: str | None, size: int = 8, signed: bool = False) -> int:
        return self._add(K.BTF_KIND_ENUM64, name, int(signed), 0, size)

    def add_enum_value(self, name: str, value: int) -> None:
        """btf__add_enum_value / btf__add_enum64_value for the last ENUM/ENUM64."""
        rec = self._last(K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64)
        if not name:
            raise BtfError(errno.EINVAL, "an enumerator needs a name")
        if self._kinds[-1] == K.BTF_KIND_ENUM:
            if not -(1 << 31) <= value < (1 << 32):
                raise BtfError(errno.E2BIG, f"enumerator {name} = {value} does not fit in 32 bits")
            if value < 0:
                rec[1] |= 1 << 31
            rec += (self._name(name), value & 0xFFFFFFFF)
        else:
            if not -(1 << 63) <= value < (1 << 64):
                raise BtfError(errno.E2BIG, f"enumerator {name} = {value} does not fit in 64 bits")
            if value < 0:
                rec[1] |= 1 << 31
            v = value & 0xFFFFFFFFFFFFFFFF
            rec += (self._name(name), v & 0xFFFFFFFF, v >> 32)
        self._bump_vlen(rec)

    def add_fwd(self, name: str, fwd_kind: str = "struct") -> int:
        """btf__add_fwd: ``struct``, ``union`` or ``enum`` (an enum forward is a 4-byte ENUM
        without values)."""
        if not name:
            raise BtfError(errno.EINVAL, "a FWD needs a name")
        if fwd_kind == "enum":
            return self._add(K.BTF_KIND_ENUM, name, 0, 0, 4)
        if fwd_kind not in ("struct", "union"):
            raise BtfError(errno.EINVAL, f"invalid forward kind {fwd_kind!r}")
        return self._add(K.BTF_KIND_FWD, name, int(fwd_kind == "union"), 0, 0)

    def add_func_proto(self, ret_type: int) -> int:
        return self._add(K.BTF_KIND_FUNC_PROTO, None, 0, 0, self._check_id(ret_type))

    def add_func_param(self, name: str | None, type_id: int) -> None:
        """btf__add_func_param for the last FUNC_PROTO (type 0 with no name: ``...``)."""
        rec = self._last(K.BTF_KIND_FUNC_PROTO)
        rec += (self._name(name), self._check_id(type_id))
        self._bump_vlen(rec)

    def add_func(self, name: str, proto: int, linkage: int = BTF_FUNC_GLOBAL) -> int:
        if not name:
            raise BtfError(errno.EINVAL, "a FUNC needs a name")
        return self._add(K.BTF_KIND_FUNC, name, 0, linkage, self._check_id(proto))

    def add_var(self, name: str, type_id: int, linkage: int = BTF_VAR_STATIC) -> int:
        return self._add(K.BTF_KIND_VAR, name, 0, 0, self._check_id(type_id), (linkage,))

    def add_datasec(self, name: str, size: int) -> int:
        return self._add(K.BTF_KIND_DATASEC, name, 0, 0, size)

    def add_datasec_var_info(self, var_id: int, offset: int, size: int) -> None:
        rec = self._last(K.BTF_KIND_DATASEC)
        rec += (self._check_id(var_id), offset, size)
        self._bump_vlen(rec)

    def add_decl_tag(self, value: str, target: int, component_idx: int = -1, kflag: int = 0) -> int:
        if not value:
            raise BtfError(errno.EINVAL, "a DECL_TAG needs a value")
        return self._add(K.BTF_KIND_DECL_TAG, value, kflag, 0, self._check_id(target),
                         (component_idx & 0xFFFFFFFF,))

    def add_type(self, src: Btf, t: BtfType, map_id=lambda i: i) -> int:
        """Copy ``t`` of ``src`` (btf__add_type), names re-interned here and every type id it
        refers to passed through ``map_id``."""
        k = t.kind
        name = src.str_at(t.name_off) if t.name_off else None
        kflag = t.kflag
        if k == K.BTF_KIND_INT:
            return self._add(k, name, kflag, t.vlen, t.size_type, (t.int_data,))
        if k in (K.BTF_KIND_PTR, K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST,
                 K.BTF_KIND_RESTRICT, K.BTF_KIND_TYPE_TAG, K.BTF_KIND_FUNC):
            return self._add(k, name, kflag, t.vlen, map_id(t.size_type))
        if k in (K.BTF_KIND_FWD, K.BTF_KIND_FLOAT):
            return self._add(k, name, kflag, t.vlen, t.size_type)
        if k == K.BTF_KIND_ARRAY:
            return self._add(k, name, kflag, t.vlen, t.size_type,
                             (map_id(t.elem_type), map_id(t.index_type), t.nelems))
        if k in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION):
            extra = []
            for m in t.members:
                extra += (self._name(src.str_at(m.name_off) if m.name_off else None),
                          map_id(m.type), m.offset)
            return self._add(k, name, kflag, t.vlen, t.size_type, extra)
        if k == K.BTF_KIND_ENUM:
            extra = []
            for v in t.values:
                extra += (self._name(src.str_at(v.name_off)), v.val & 0xFFFFFFFF)
            return self._add(k, name, kflag, t.vlen, t.size_type, extra)
        if k == K.BTF_KIND_ENUM64:
            extra = []
            for v in t.values:
                val = v.val & 0xFFFFFFFFFFFFFFFF
                extra += (self._name(src.str_at(v.name_off)), val & 0xFFFFFFFF, val >> 32)
            return self._add(k, name, kflag, t.vlen, t.size_type, extra)
        if k == K.BTF_KIND_FUNC_PROTO:
            extra = []
            for p in t.params:
                extra += (self._name(src.str_at(p.name_off) if p.name_off else None),
                          map_id(p.type) if p.type else 0)
            return self._add(k, name, kflag, t.vlen, map_id(t.size_type) if t.size_type else 0, extra)
        if k == K.BTF_KIND_VAR:
            return self._add(k, name, kflag, t.vlen, map_id(t.size_type), (t.linkage,))
        if k == K.BTF_KIND_DATASEC:
            extra = []
            for v in t.vars:
                extra += (map_id(v.type), v.offset, v.size)
            return self._add(k, name, kflag, t.vlen, t.size_type, extra)
        if k == K.BTF_KIND_DECL_TAG:
            return self._add(k, name, kflag, t.vlen, map_id(t.size_type),
                             (t.component_idx & 0xFFFFFFFF,))
        raise BtfError(errno.EINVAL, f"cannot copy kind {k}")

    # -- output ------------------------------------------------------------------------------

    @property
    def strings(self) -> bytes:
        return bytes(self._strings)

    def type_section(self) -> bytes:
        out = array("I")
        for rec in self._records:
            out.extend(rec)
        return out.tobytes()

    def to_bytes(self, **hdr) -> bytes:
        """The blob; keyword arguments override header fields (magic, version, flags, hdr_len,
        type_off, type_len, str_off, str_len) without moving the sections."""
        types = self.type_section()
        strings = bytes(self._strings)
        header = btf_raw_header(len(types), len(strings), **hdr)
        pad = b"\0" * max(0, hdr.get("hdr_len", BTF_HEADER_SIZE) - BTF_HEADER_SIZE)
        return header + pad + types + strings

    def to_btf(self) -> Btf:
        return Btf.parse(self.to_bytes(), self.base)


def btf_signed_int(builder: BtfBuilder, name: str, size: int) -> int:
    """Shorthand for a signed INT."""
    return builder.add_int(name, size, BTF_INT_SIGNED)
