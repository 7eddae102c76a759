"""Keys and values of a scenario: C-ish type specs, encoding to bytes, matching and printing
(invented module; what bpftool's ``map update ... key 1 0 0 0`` and its BTF-formatted dump do by
hand).

A type spec is ``u8 u16 u32 u64 s8 s16 s32 s64`` (also ``__u32``, ``int`` = s32, ``long`` = s64,
``char``, ``bool``), an array ``T[N]`` (``char[16]``, ``u8[6]``, ``u32[2][4]``), or a struct
``{struct: {field: type, ...}}`` laid out with natural alignment as C would. A map given only by
``key_size``/``value_size`` has the type ``bytes[N]``.

Values in YAML: an integer (an int type; a negative number for an unsigned type is its two's
complement, so -1 is all ones; or a ``bytes[N]`` of up to 8 bytes, in the machine's byte
order), a string (a char array, NUL-padded; a longer string is an error), a list (an array), a
mapping (a struct, field by field; fields not given are zero), ``{hex: "01 00 00 00"}`` (exactly
the bytes), or ``!!binary``. In expectations an integer may be a match ``{min: 1}``, and a struct
compares only the fields given.

Byte order is the machine's: little-endian except s390x.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INT_TYPES = {
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
    "s8": (1, True), "s16": (2, True), "s32": (4, True), "s64": (8, True),
    "__u8": (1, False), "__u16": (2, False), "__u32": (4, False), "__u64": (8, False),
    "__s8": (1, True), "__s16": (2, True), "__s32": (4, True), "__s64": (8, True),
    "int": (4, True), "long": (8, True), "bool": (1, False), "char": (1, True),
}
_ARRAY = re.compile(r"^([A-Za-z_0-9]+)((?:\[[0-9]+\])+)$")


class ValueError_(ValueError):
    """A value that does not fit its type (the message says why)."""


@dataclass(frozen=True, slots=True)
class CType:
    """A compiled type spec."""

    kind: str                   # "int", "char", "array", "struct", "bytes"
    size: int                   # bytes
    align: int                  # natural alignment
    name: str                   # as written ("u32", "char[16]", "struct")
    signed: bool = False        # int kinds
    elem: "CType | None" = None  # arrays
    count: int = 0              # arrays
    fields: tuple = ()          # structs: ((name, offset, CType), ...)


def bytes_type(size: int) -> CType:
    """The type of a map key or value given only by its size."""
    return CType("bytes", size, 1, f"bytes[{size}]")


def parse_type(spec) -> CType:
    """A type spec (str or {struct: {...}}) -> CType. ValueError on an unknown name."""
    if isinstance(spec, dict):
        fields, off, align = [], 0, 1
        for fname, fspec in spec["struct"].items():
            ft = parse_type(fspec)
            off = (off + ft.align - 1) // ft.align * ft.align
            fields.append((fname, off, ft))
            off += ft.size
            align = max(align, ft.align)
        size = (off + align - 1) // align * align
        return CType("struct", size, align, "struct", fields=tuple(fields))
    spec = str(spec).strip()
    if spec in INT_TYPES:
        size, signed = INT_TYPES[spec]
        return CType("char" if spec == "char" else "int", size, size, spec, signed)
    m = _ARRAY.match(spec.replace(" ", ""))
    if m:
        base = parse_type(m.group(1))
        dims = [int(d) for d in re.findall(r"\[([0-9]+)\]", m.group(2))]
        t = base
        for n in reversed(dims):
            t = CType("array", t.size * n, t.align, f"{t.name}[{n}]", elem=t, count=n)
        return CType(t.kind, t.size, t.align, spec, elem=t.elem, count=t.count)
    raise ValueError(f"unknown type {spec!r} (u8..u64, s8..s64, char[N], T[N], {{struct: ...}})")


def _hex(value) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict) and set(value) == {"hex"}:
        text = re.sub(r"[\s:]", "", str(value["hex"]))
        if text.startswith("0x"):
            text = text[2:]
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError_(f"bad hex {value['hex']!r}") from None
    return None


def encode(ct: CType, value, order: str = "little") -> bytes:
    """The bytes of ``value`` as type ``ct``. ValueError_ when it does not fit."""
    if not isinstance(value, (int, float, str, bytes, bytearray, list, dict, type(None))) \
            and hasattr(value, "__int__"):
        value = int(value)          # a kernel object stands for its address
    raw = _hex(value)
    if raw is not None:
        if len(raw) != ct.size:
            raise ValueError_(f"{len(raw)} bytes given for a {ct.size}-byte {ct.name}")
        return raw
    if isinstance(value, bool):
        value = int(value)
    if ct.kind in ("int", "char"):
        if ct.kind == "char" and isinstance(value, str) and len(value.encode()) == 1:
            return value.encode()
        if not isinstance(value, int):
            raise ValueError_(f"{ct.name} needs an integer, not {value!r}")
        bits = ct.size * 8
        lo = -(1 << (bits - 1))
        hi = (1 << (bits - 1)) - 1 if ct.signed else (1 << bits) - 1
        if not lo <= value <= hi:
            raise ValueError_(f"{value} does not fit {ct.name}")
        return (value & ((1 << bits) - 1)).to_bytes(ct.size, order)
    if ct.kind == "bytes":
        if isinstance(value, int):
            if ct.size > 8 or ct.size == 0:
                raise ValueError_(f"an integer for a {ct.size}-byte value: give {{hex: ...}}")
            return encode(CType("int", ct.size, ct.size, f"u{ct.size * 8}"),
                          value & ((1 << (8 * ct.size)) - 1), order)
        if isinstance(value, str):
            return _pad_str(value, ct.size, ct.name)
        if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
            if len(value) != ct.size:
                raise ValueError_(f"{len(value)} bytes given for a {ct.size}-byte value")
            return bytes(value)
        raise ValueError_(f"cannot encode {value!r} as {ct.size} bytes")
    if ct.kind == "array":
        if isinstance(value, str) and ct.elem.kind == "char":
            return _pad_str(value, ct.size, ct.name)
        if not isinstance(value, list):
            raise ValueError_(f"{ct.name} needs a list, not {value!r}")
        if len(value) > ct.count:
            raise ValueError_(f"{len(value)} elements for {ct.name}")
        out = b"".join(encode(ct.elem, v, order) for v in value)
        return out + bytes(ct.size - len(out))
    if ct.kind == "struct":
        if not isinstance(value, dict):
            raise ValueError_(f"a struct needs a mapping of fields, not {value!r}")
        buf = bytearray(ct.size)
        names = {f[0]: f for f in ct.fields}
        for k, v in value.items():
            if k not in names:
                raise ValueError_(f"no field {k!r} (fields: {', '.join(names)})")
            _, off, ft = names[k]
            buf[off:off + ft.size] = encode(ft, v, order)
        return bytes(buf)
    raise ValueError_(f"cannot encode {ct.name}")


def _pad_str(value: str, size: int, name: str) -> bytes:
    data = value.encode()
    if len(data) > size:
        raise ValueError_(f"{value!r} is longer than {name} ({size} bytes)")
    return data + bytes(size - len(data))


def decode(ct: CType, data: bytes, order: str = "little"):
    """Bytes -> a plain value (int, str for char arrays, list, dict, or a hex string)."""
    if ct.kind in ("int", "char"):
        return int.from_bytes(data[:ct.size], order, signed=ct.signed)
    if ct.kind == "bytes":
        return " ".join(f"{b:02x}" for b in data)
    if ct.kind == "array":
        if ct.elem.kind == "char":
            return data[:ct.size].split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
        n = ct.elem.size
        return [decode(ct.elem, data[i * n:(i + 1) * n], order) for i in range(ct.count)]
    if ct.kind == "struct":
        return {name: decode(ft, data[off:off + ft.size], order) for name, off, ft in ct.fields}
    return data.hex()


def is_match(v) -> bool:
    return isinstance(v, dict) and v and set(v) <= {"eq", "ne", "min", "max"}


def int_matches(m, actual: int) -> bool:
    """``m`` is an int or {eq, ne, min, max}."""
    if not isinstance(m, dict):
        return actual == m
    return (("eq" not in m or actual == m["eq"]) and ("ne" not in m or actual != m["ne"])
            and ("min" not in m or actual >= m["min"]) and ("max" not in m or actual <= m["max"]))


def describe_match(m) -> str:
    if not isinstance(m, dict):
        return str(m)
    parts = [f"{'>=' if k == 'min' else '<=' if k == 'max' else '==' if k == 'eq' else '!='} {v}"
             for k, v in m.items()]
    return " and ".join(parts)


def matches(ct: CType, expected, data: bytes, order: str = "little") -> bool:
    """Does ``data`` hold ``expected``? Structs compare only the fields given; ints may be
    matches ({min: 1})."""
    raw = _hex(expected)
    if raw is not None:
        return raw == bytes(data)
    if ct.kind in ("int", "char") and (is_match(expected) or isinstance(expected, int)):
        return int_matches(expected, decode(ct, data, order))
    if ct.kind == "struct" and isinstance(expected, dict) and not is_match(expected):
        names = {f[0]: f for f in ct.fields}
        for k, v in expected.items():
            if k not in names:
                return False
            _, off, ft = names[k]
            if not matches(ft, v, data[off:off + ft.size], order):
                return False
        return True
    if ct.kind == "array" and isinstance(expected, list) and ct.elem.kind != "char":
        n = ct.elem.size
        if len(expected) > ct.count:
            return False
        return all(matches(ct.elem, v, data[i * n:(i + 1) * n], order) for i, v in enumerate(expected))
    try:
        return encode(ct, expected, order) == bytes(data)
    except ValueError_:
        return False


def show(ct: CType, data: bytes, order: str = "little") -> str:
    """A value for the report: ``5``, ``"curl"``, ``{pid: 1, comm: "x"}``, or hex bytes."""
    return _show(decode(ct, data, order))


def _show(v) -> str:
    if isinstance(v, str) and not re.fullmatch(r"[0-9a-f]{2}( [0-9a-f]{2})*", v):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def show_expected(v) -> str:
    """An expected value as written, for the report."""
    raw = _hex(v)
    if raw is not None:
        return " ".join(f"{b:02x}" for b in raw)
    if is_match(v):
        return describe_match(v)
    if isinstance(v, list):
        return "[" + ", ".join(show_expected(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {show_expected(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)
