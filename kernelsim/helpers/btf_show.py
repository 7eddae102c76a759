"""The BTF pretty-printer behind bpf_snprintf_btf (kernel/bpf/btf.c btf_type_snprintf_show and
the btf_show_* family), checked against Linux 6.18.44 (tests/kernelsim/helpers/test_btf_show.py).

An object is printed as its type name in parentheses, then its value: ``(int)42``,
``(struct timespec64){ .tv_sec = (time64_t)5, ... }``, ``(__u8[])[ 1, 2, ]``, enums by
enumerator name (or number), pointers as ``0x`` + 16 hex digits of the %p hash (the raw value
with BTF_F_PTR_RAW). Without BTF_F_COMPACT each member and element is on its own line, indented
one space per level, the whole followed by a newline; BTF_F_NONAME drops type and member names
(an anonymous member has none anyway). Without BTF_F_ZERO a zero leaf is left out, and so is an
aggregate member with nothing left to show (the top-level object is always shown, possibly as
``{}``). Arrays of one-byte integers are strings: they stop at the first NUL and print
printable bytes as ``'c'``.
"""

from btf import BtfKind as K

from ..memory import MemoryFault

BTF_F_COMPACT, BTF_F_NONAME, BTF_F_PTR_RAW, BTF_F_ZERO = 1, 2, 4, 8
BTF_F_ALL = 0xF
_MODS = (K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST, K.BTF_KIND_RESTRICT,
         K.BTF_KIND_TYPE_TAG)


class BtfShowFault(Exception):
    """The object's memory could not be read (the kernel's copy_from_kernel_nofault failed)."""


def type_name(btf, tid: int) -> str:
    """The C spelling btf_show_name gives a type: typedef and struct names, ``T *``, ``T[]``."""
    if tid == 0:
        return "void"
    t = btf.type_by_id(tid)
    k = t.kind
    if k in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION):
        word = "struct" if k == K.BTF_KIND_STRUCT else "union"
        return f"{word} {t.name}" if t.name else word
    if k in (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64):
        return f"enum {t.name}" if t.name else "enum"
    if k == K.BTF_KIND_PTR:
        inner = btf.type_by_id(t.size_type)
        if inner.kind == K.BTF_KIND_FUNC_PROTO:
            return " *"
        return type_name(btf, t.size_type) + " *"
    if k == K.BTF_KIND_ARRAY:
        return type_name(btf, t.elem_type) + "[]"
    if k == K.BTF_KIND_CONST:
        return "const " + type_name(btf, t.size_type)
    if k == K.BTF_KIND_VOLATILE:
        return "volatile " + type_name(btf, t.size_type)
    if k in (K.BTF_KIND_RESTRICT, K.BTF_KIND_TYPE_TAG):
        return type_name(btf, t.size_type)
    return t.name


class _Show:
    def __init__(self, btf, mem, flags: int, ptr_hash):
        self.btf, self.mem, self.flags, self.ptr_hash = btf, mem, flags, ptr_hash

    def read(self, addr: int, size: int) -> bytes:
        try:
            return self.mem.read(addr, size)
        except MemoryFault:
            raise BtfShowFault() from None

    def resolve(self, tid: int) -> int:
        while tid and self.btf.type_by_id(tid).kind in _MODS:
            tid = self.btf.type_by_id(tid).size_type
        return tid

    def prefix(self, tid: int, name: str) -> str:
        if self.flags & BTF_F_NONAME:
            return ""
        out = f".{name} = " if name else ""
        return out + f"({type_name(self.btf, tid)})"

    # -- leaves: text, or None when a zero is left out -------------------------------------------

    def int_text(self, t, raw: bytes, in_chars: bool) -> str | None:
        signed = bool(t.encoding & 1)
        value = int.from_bytes(raw, "little", signed=signed)
        if not value and not self.flags & BTF_F_ZERO:
            return None
        if in_chars and 32 <= (value & 0xFF) < 127:
            return f"'{chr(value & 0xFF)}'"
        if len(raw) > 8:
            v = int.from_bytes(raw, "little")
            return f"0x{v >> 64:x}{v & ((1 << 64) - 1):016x}" if v >> 64 else f"0x{v:x}"
        return str(value)

    def leaf(self, tid: int, addr: int, bits=None, in_chars: bool = False) -> str | None:
        rid = self.resolve(tid)
        t = self.btf.type_by_id(rid) if rid else None
        if t is None:
            return None
        k = t.kind
        if bits is not None:                      # a bitfield: (bit offset, bit size)
            off, size = bits
            nbytes = (off % 8 + size + 7) // 8
            raw = int.from_bytes(self.read(addr + off // 8, nbytes), "little")
            value = (raw >> (off % 8)) & ((1 << size) - 1)
            if not value and not self.flags & BTF_F_ZERO:
                return None
            return str(value)
        if k == K.BTF_KIND_INT:
            return self.int_text(t, self.read(addr, t.size_type), in_chars)
        if k in (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64):
            value = int.from_bytes(self.read(addr, t.size_type), "little", signed=t.is_signed)
            if not value and not self.flags & BTF_F_ZERO:
                return None
            for v in t.values:
                if v.val == value:
                    return v.name
            return str(value)
        if k == K.BTF_KIND_PTR:
            value = int.from_bytes(self.read(addr, 8), "little")
            if not value and not self.flags & BTF_F_ZERO:
                return None
            shown = value if self.flags & BTF_F_PTR_RAW or not value else self.ptr_hash(value)
            return f"0x{shown:016x}"
        if k == K.BTF_KIND_FLOAT:
            raw = self.read(addr, t.size_type)
            if not any(raw) and not self.flags & BTF_F_ZERO:
                return None
            return "0x" + raw[::-1].hex()
        return None

    # -- the walk: a list of (depth, text) lines, or None when nothing is shown ------------------

    def show(self, tid: int, addr: int, depth: int, name: str, top: bool, bits=None,
             in_chars: bool = False, elem: bool = False):
        rid = self.resolve(tid)
        t = self.btf.type_by_id(rid) if rid else None
        pre = "" if elem else self.prefix(tid, name)
        if t is not None and t.kind in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION) and bits is None:
            body = []
            for m in self.btf.members(rid):
                mbits = None
                if m.bitfield_size:
                    mbits = (m.bit_offset % 8 + 0, m.bitfield_size)
                    maddr = addr + m.bit_offset // 8
                else:
                    maddr = addr + m.bit_offset // 8
                got = self.show(m.type, maddr, depth + 1, m.name, False, mbits)
                if got:
                    body += got
            if not body and not top:
                return None
            return [(depth, pre + "{")] + body + [(depth, "}")]
        if t is not None and t.kind == K.BTF_KIND_ARRAY and bits is None:
            et = self.resolve(t.elem_type)
            esize = self.btf.resolve_size(t.elem_type)
            chars = self.btf.type_by_id(et).kind == K.BTF_KIND_INT and esize == 1 if et else False
            body = []
            for i in range(t.nelems):
                eaddr = addr + i * esize
                if chars and self.read(eaddr, 1) == b"\0":
                    break
                got = self.show(t.elem_type, eaddr, depth + 1, "", False, None, chars, True)
                if got:
                    body += got
            if not body and not top:
                return None
            return [(depth, pre + "[")] + body + [(depth, "]")]
        text = self.leaf(tid, addr, bits, in_chars)
        if text is None:
            if not top:
                return None
            text = "0"
        return [(depth, pre + text)]


def btf_type_snprintf_show(btf, tid: int, addr: int, mem, flags: int, ptr_hash) -> str:
    """The text bpf_snprintf_btf writes (before truncation). BtfShowFault: unreadable memory."""
    s = _Show(btf, mem, flags, ptr_hash)
    lines = s.show(tid, addr, 0, "", True)
    compact = bool(flags & BTF_F_COMPACT)
    out = []
    n = len(lines)
    for i, (depth, text) in enumerate(lines):
        comma = "" if (i == n - 1 or text.endswith(("{", "["))) else ","
        out.append(text + comma if compact else " " * depth + text + comma + "\n")
    return "".join(out)
