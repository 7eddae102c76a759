"""Map keys, values and global variables as Python values, decoded through their BTF types
(our own code; libbpf hands out raw bytes, bpftool's ``map dump`` prints the same shapes from BTF
in tools/bpf/bpftool/btf_dumper.c).

    int, enum, pointer       -> int (signed when the BTF says so; _Bool -> bool)
    float / double           -> float
    char[N] (and u8/s8[N] of char type)  -> bytes (all N bytes; .rstrip(b"\\0") for the C string)
    T[N]                     -> list
    struct / union           -> BtfStruct: a dict of member name -> value, also readable as
                                attributes (v.count); anonymous members are flattened into it
    bitfields                -> int

Encoding takes the same shapes (a dict may omit members, which become 0; a union takes its first
present member; bytes of the exact size are always accepted as the raw value, for any type).
Without BTF (a legacy map, or BTF the kernel refused) ``RawCodec`` decodes 1/2/4/8-byte values as
unsigned little-endian ints and everything else as bytes.
"""

from __future__ import annotations

import errno
import struct

from btf import (BTF_KIND_ARRAY, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_INT,
                 BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_UNION)

from .errors import BpfObjectError

BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL = 1, 2, 4


class BtfStruct(dict):
    """A decoded struct or union: a dict that also allows ``v.member``."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "{" + ", ".join(f"{k}={v!r}" for k, v in self.items()) + "}"


class RawCodec:
    """No BTF: ints for 1/2/4/8 bytes, bytes otherwise."""

    def __init__(self, size: int):
        self.size = size

    def decode(self, data: bytes):
        if self.size in (1, 2, 4, 8):
            return int.from_bytes(data[: self.size], "little")
        return bytes(data[: self.size])

    def encode(self, value) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _exact(bytes(value), self.size)
        if isinstance(value, int) and self.size in (1, 2, 4, 8):
            return (value & ((1 << (8 * self.size)) - 1)).to_bytes(self.size, "little")
        raise TypeError(f"a {self.size}-byte value without BTF must be bytes"
                        + (" or an int" if self.size in (1, 2, 4, 8) else ""))


def _exact(data: bytes, size: int) -> bytes:
    if len(data) != size:
        raise ValueError(f"expected {size} bytes, got {len(data)}")
    return data


class BtfCodec:
    """Encode/decode values of one BTF type."""

    def __init__(self, btf, type_id: int, size: int | None = None):
        self.btf = btf
        self.type_id = type_id
        self.size = btf.resolve_size(type_id) if size is None else size

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, data: bytes):
        return self._dec(self.type_id, bytes(data), 0)

    def _dec(self, tid: int, data: bytes, off: int):
        btf = self.btf
        tid = btf.skip_modifiers(tid)
        t = btf.type_by_id(tid)
        k = t.kind if tid else 0
        if k == BTF_KIND_INT:
            raw = int.from_bytes(data[off: off + t.size], "little")
            if t.nr_bits != t.size * 8 or t.bits_offset:
                raw = (raw >> t.bits_offset) & ((1 << t.nr_bits) - 1)
                bits = t.nr_bits
            else:
                bits = t.size * 8
            if t.encoding & BTF_INT_BOOL:
                return bool(raw)
            if t.encoding & BTF_INT_SIGNED and raw >> (bits - 1):
                raw -= 1 << bits
            return raw
        if k in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
            raw = int.from_bytes(data[off: off + t.size], "little")
            if t.kflag and raw >> (t.size * 8 - 1):
                raw -= 1 << (t.size * 8)
            return raw
        if k == BTF_KIND_PTR:
            return int.from_bytes(data[off: off + 8], "little")
        if k == BTF_KIND_FLOAT:
            fmt = {4: "<f", 8: "<d"}.get(t.size)
            return struct.unpack_from(fmt, data, off)[0] if fmt else bytes(data[off: off + t.size])
        if k == BTF_KIND_ARRAY:
            esize = btf.resolve_size(t.elem_type)
            if self._is_char(t.elem_type):
                return bytes(data[off: off + esize * t.nelems])
            return [self._dec(t.elem_type, data, off + i * esize) for i in range(t.nelems)]
        if k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            out = BtfStruct()
            self._dec_members(tid, data, off, out)
            return out
        return bytes(data[off: off + self._size_or_0(tid)])

    def _dec_members(self, tid: int, data: bytes, off: int, out: dict) -> None:
        btf = self.btf
        for m in btf.members(tid):
            mt = btf.skip_modifiers(m.type)
            if m.bitfield_size:
                start = off + m.bit_offset // 8
                width = (m.bit_offset % 8 + m.bitfield_size + 7) // 8
                val = int.from_bytes(data[start: start + width], "little") >> (m.bit_offset % 8)
                val &= (1 << m.bitfield_size) - 1
                it = btf.type_by_id(mt)
                if it.kind == BTF_KIND_INT and it.encoding & BTF_INT_SIGNED and \
                        val >> (m.bitfield_size - 1):
                    val -= 1 << m.bitfield_size
                out[m.name or f"__anon{m.index}"] = val
                continue
            moff = off + m.bit_offset // 8
            if not m.name and btf.kind_of(mt) in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                self._dec_members(mt, data, moff, out)
                continue
            out[m.name or f"__anon{m.index}"] = self._dec(m.type, data, moff)

    def _is_char(self, tid: int) -> bool:
        tid = self.btf.skip_modifiers(tid)
        t = self.btf.type_by_id(tid)
        return bool(tid) and t.kind == BTF_KIND_INT and t.size == 1 and (
            t.encoding & BTF_INT_CHAR or t.name in ("char", "unsigned char", "signed char"))

    def _size_or_0(self, tid: int) -> int:
        try:
            return self.btf.resolve_size(tid)
        except Exception:
            return 0

    # -- encoding -----------------------------------------------------------------------------

    def encode(self, value) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == self.size:
            return bytes(value)
        buf = bytearray(self.size)
        self._enc(self.type_id, value, buf, 0)
        return bytes(buf)

    def _enc(self, tid: int, value, buf: bytearray, off: int) -> None:
        btf = self.btf
        tid = btf.skip_modifiers(tid)
        t = btf.type_by_id(tid)
        k = t.kind if tid else 0
        if isinstance(value, (bytes, bytearray, memoryview)) and k not in (BTF_KIND_ARRAY,):
            size = self._size_or_0(tid)
            buf[off: off + size] = _exact(bytes(value), size)
            return
        if k == BTF_KIND_INT:
            if t.nr_bits != t.size * 8 or t.bits_offset:
                mask = ((1 << t.nr_bits) - 1) << t.bits_offset
                old = int.from_bytes(buf[off: off + t.size], "little") & ~mask
                new = old | ((int(value) << t.bits_offset) & mask)
                buf[off: off + t.size] = new.to_bytes(t.size, "little")
            else:
                buf[off: off + t.size] = _int_bytes(int(value), t.size)
        elif k in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
            buf[off: off + t.size] = _int_bytes(int(value), t.size)
        elif k == BTF_KIND_PTR:
            buf[off: off + 8] = _int_bytes(int(value), 8)
        elif k == BTF_KIND_FLOAT:
            fmt = {4: "<f", 8: "<d"}.get(t.size)
            if fmt is None:
                raise TypeError(f"cannot encode a {t.size}-byte float")
            struct.pack_into(fmt, buf, off, float(value))
        elif k == BTF_KIND_ARRAY:
            esize = btf.resolve_size(t.elem_type)
            if isinstance(value, str):
                value = value.encode()
            if isinstance(value, (bytes, bytearray, memoryview)):
                raw = bytes(value)
                if len(raw) > esize * t.nelems:
                    raise ValueError(f"{len(raw)} bytes do not fit in {esize * t.nelems}")
                buf[off: off + len(raw)] = raw
                return
            items = list(value)
            if len(items) > t.nelems:
                raise ValueError(f"{len(items)} elements do not fit in an array of {t.nelems}")
            for i, item in enumerate(items):
                self._enc(t.elem_type, item, buf, off + i * esize)
        elif k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            if not isinstance(value, dict):
                if hasattr(value, "_asdict"):
                    value = value._asdict()
                elif hasattr(value, "__dict__"):
                    value = vars(value)
                else:
                    raise TypeError(f"a struct value must be a dict, got {type(value).__name__}")
            rest = dict(value)
            self._enc_members(tid, rest, buf, off, t.kind == BTF_KIND_UNION)
            if rest and t.kind == BTF_KIND_STRUCT:
                raise KeyError(f"no member(s) {sorted(rest)} in {t.name or 'anonymous struct'}")
        else:
            raise TypeError(f"cannot encode BTF type [{tid}]")

    def _enc_members(self, tid: int, value: dict, buf: bytearray, off: int, union: bool) -> None:
        btf = self.btf
        written = False
        for m in btf.members(tid):
            if union and written:                    # a union takes its first present member
                self._drop(m, value)
                continue
            mt = btf.skip_modifiers(m.type)
            name = m.name or f"__anon{m.index}"
            if not m.name and btf.kind_of(mt) in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                before = len(value)
                self._enc_members(mt, value, buf, off + m.bit_offset // 8,
                                  btf.kind_of(mt) == BTF_KIND_UNION)
                written = written or len(value) != before
                continue
            if name not in value:
                continue
            v = value.pop(name)
            if m.bitfield_size:
                width = (m.bit_offset % 8 + m.bitfield_size + 7) // 8
                start = off + m.bit_offset // 8
                shift = m.bit_offset % 8
                mask = ((1 << m.bitfield_size) - 1) << shift
                old = int.from_bytes(buf[start: start + width], "little") & ~mask
                new = old | ((int(v) << shift) & mask)
                buf[start: start + width] = new.to_bytes(width, "little")
            else:
                self._enc(m.type, v, buf, off + m.bit_offset // 8)
            written = True

    def _drop(self, m, value: dict) -> None:
        """Forget the keys a member (or an anonymous aggregate's members) would take."""
        btf = self.btf
        mt = btf.skip_modifiers(m.type)
        if not m.name and btf.kind_of(mt) in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            for sub in btf.members(mt):
                self._drop(sub, value)
        else:
            value.pop(m.name or f"__anon{m.index}", None)


def _int_bytes(v: int, size: int) -> bytes:
    return (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def codec_for(btf, type_id: int, size: int):
    """A BtfCodec for ``type_id`` when it describes ``size`` bytes, else a RawCodec."""
    if btf is not None and type_id:
        try:
            c = BtfCodec(btf, type_id)
            if c.size == size:
                return c
        except Exception:
            pass
    return RawCodec(size)


def check_size(data: bytes, size: int, what: str) -> bytes:
    if len(data) != size:
        raise BpfObjectError(errno.EINVAL, f"{what}: expected {size} bytes, got {len(data)}")
    return data
