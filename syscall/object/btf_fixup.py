"""The object's .BTF as libbpf fixes it up and sanitizes it before BPF_BTF_LOAD
(tools/lib/bpf/libbpf.c btf_fixup_datasec, bpf_object_fixup_btf, bpf_object__sanitize_btf,
bpf_object__sanitize_and_load_btf; bpf_object__collect_externs for .kconfig).

libbpf edits the BTF in place, keeping every type id and string offset (line_info records and
CO-RE access strings point into the string section, so it must not move). ``RawBtf`` does the
same on a copy of the raw bytes: it indexes the byte offset of each type record and patches
words. The edits, in libbpf's order:

1. **DATASEC fix-up** (at open). clang leaves a DATASEC's size and its variables' offsets 0; the
   size comes from the ELF section of the same name, each global variable's offset from its ELF
   symbol (STT_OBJECT, GLOBAL or WEAK). A global with hidden/internal visibility becomes a static
   VAR (which makes libbpf leave the map non-mmapable when nothing else is global). .kconfig and
   .ksyms are only sorted (their layout comes from the externs). Variables are sorted by offset.
2. **Hidden subprograms**: a global function with hidden visibility is turned into a static FUNC
   (``mark_btf_static``), so the verifier checks it in its caller's context.
3. **Sanitize** for the kernel's features: FUNC -> TYPEDEF, FUNC_PROTO -> ENUM, DATASEC ->
   STRUCT and VAR -> INT(1), FLOAT -> empty STRUCT, DECL_TAG -> INT, TYPE_TAG -> CONST, ENUM64 ->
   UNION, '?'-prefixed DATASEC names... each only when the kernel lacks the feature. kernelsim
   claims 6.18, which has all of them, so by default nothing changes (and libbpf's feature
   probes, which would all succeed on 6.18, are not issued); tests pass a smaller feature set.
"""

from __future__ import annotations

import errno
import struct

import btf as btflib
from btf import (BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM,
                 BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_INT,
                 BTF_KIND_STRUCT, BTF_KIND_TYPE_TAG, BTF_KIND_TYPEDEF, BTF_KIND_UNION,
                 BTF_KIND_VAR)

from .elf import STB_GLOBAL, STB_WEAK, STT_OBJECT, STV_HIDDEN, STV_INTERNAL
from .errors import BpfObjectError, format_error

BTF_VAR_STATIC = 0
BTF_VAR_GLOBAL_ALLOCATED = 1
BTF_VAR_GLOBAL_EXTERN = 2
BTF_FUNC_STATIC = 0
BTF_FUNC_GLOBAL = 1
KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"

# libbpf's FEAT_* names of the BTF features bpf_object__sanitize_btf looks at (all in 6.18).
BTF_FEATURES = frozenset({"btf", "btf_func", "btf_global_func", "btf_datasec", "btf_float",
                          "btf_decl_tag", "btf_type_tag", "btf_enum64", "btf_qmark_datasec",
                          "btf_func_info", "global_data"})

_TRAILER = {BTF_KIND_INT: 4, 3: 12, BTF_KIND_VAR: 4, BTF_KIND_DECL_TAG: 4}     # 3: ARRAY
_PER_VLEN = {BTF_KIND_STRUCT: 12, BTF_KIND_UNION: 12, BTF_KIND_ENUM: 8, BTF_KIND_FUNC_PROTO: 8,
             BTF_KIND_DATASEC: 12, BTF_KIND_ENUM64: 12}


def btf_info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    return (kflag << 31) | (kind << 24) | (vlen & 0xFFFF)


class RawBtf:
    """A mutable copy of a BTF blob with the byte offset of every type record."""

    def __init__(self, data: bytes):
        data = bytes(data)
        if len(data) < 24:
            raise btflib.BtfError(errno.EINVAL, "hdr_len not found")
        magic, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "<HBBIIIII", data)
        if magic != 0xEB9F:
            raise btflib.BtfError(errno.EINVAL, "Invalid magic")
        self.hdr = bytearray(data[:hdr_len])
        self.types = bytearray(data[hdr_len + type_off: hdr_len + type_off + type_len])
        self.strings = bytearray(data[hdr_len + str_off: hdr_len + str_off + str_len])
        if len(self.types) != type_len or len(self.strings) != str_len:
            raise btflib.BtfError(errno.EINVAL, "Invalid section offsets")
        self.offs = [0]                       # type id -> byte offset in self.types (id 0: void)
        pos = 0
        while pos < len(self.types):
            if pos + 12 > len(self.types):
                raise btflib.BtfError(errno.EINVAL, "Truncated type record")
            info = struct.unpack_from("<I", self.types, pos + 4)[0]
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            self.offs.append(pos)
            pos += 12 + _TRAILER.get(kind, 0) + _PER_VLEN.get(kind, 0) * vlen
        if pos != len(self.types):
            raise btflib.BtfError(errno.EINVAL, "Truncated type record")

    @property
    def nr_types(self) -> int:
        """Number of ids including void (libbpf btf__type_cnt)."""
        return len(self.offs)

    def word(self, tid: int, idx: int) -> int:
        return struct.unpack_from("<I", self.types, self.offs[tid] + 4 * idx)[0]

    def set_word(self, tid: int, idx: int, value: int) -> None:
        struct.pack_into("<I", self.types, self.offs[tid] + 4 * idx, value & 0xFFFFFFFF)

    def kind(self, tid: int) -> int:
        return (self.word(tid, 1) >> 24) & 0x1F

    def vlen(self, tid: int) -> int:
        return self.word(tid, 1) & 0xFFFF

    def name(self, tid: int) -> str:
        return self.str_at(self.word(tid, 0))

    def str_at(self, off: int) -> str:
        if off >= len(self.strings):
            return ""
        end = self.strings.find(b"\0", off)
        return bytes(self.strings[off: end if end >= 0 else None]).decode("utf-8", "replace")

    def set_str_in_place(self, off: int, text: str) -> None:
        """Overwrite a string with one of the same length (libbpf's in-place renames)."""
        raw = text.encode()
        self.strings[off: off + len(raw)] = raw

    def append_type(self, words: list[int]) -> int:
        self.offs.append(len(self.types))
        self.types += struct.pack(f"<{len(words)}I", *[w & 0xFFFFFFFF for w in words])
        return len(self.offs) - 1

    def datasec_vars(self, tid: int) -> list[list[int]]:
        """[[type, offset, size], ...] of a DATASEC."""
        base = self.offs[tid] + 12
        return [list(struct.unpack_from("<III", self.types, base + 12 * i))
                for i in range(self.vlen(tid))]

    def set_datasec_vars(self, tid: int, vars_: list[list[int]]) -> None:
        base = self.offs[tid] + 12
        for i, v in enumerate(vars_):
            struct.pack_into("<III", self.types, base + 12 * i, *v)

    def to_bytes(self) -> bytes:
        hdr = bytearray(self.hdr)
        struct.pack_into("<IIII", hdr, 8, 0, len(self.types), len(self.types), len(self.strings))
        return bytes(hdr) + bytes(self.types) + bytes(self.strings)


def fixup_btf(raw: RawBtf, elf) -> None:
    """bpf_object_fixup_btf: fix every DATASEC (sizes, offsets, hidden globals, order).
    ENOENT (libbpf: the DATASEC's ELF section or a variable's symbol is missing)."""
    for tid in range(1, raw.nr_types):
        if raw.kind(tid) == BTF_KIND_DATASEC:
            _fixup_datasec(raw, elf, tid)


def _fixup_datasec(raw: RawBtf, elf, tid: int) -> None:
    sec_name = raw.name(tid)
    vars_ = raw.datasec_vars(tid)
    if sec_name not in (KCONFIG_SEC, KSYMS_SEC):
        fixup_offsets = False
        if raw.word(tid, 2) == 0:
            sec = elf.section_by_name(sec_name)
            if sec is None or sec.size == 0:
                raise BpfObjectError(errno.ENOENT, f"sec '{sec_name}': failed to determine size "
                                     "from ELF", section=sec_name)
            raw.set_word(tid, 2, sec.size)
            fixup_offsets = True
        for v in vars_:
            vid = v[0]
            if not 0 < vid < raw.nr_types or raw.kind(vid) != BTF_KIND_VAR:
                raise format_error(f"sec '{sec_name}': unexpected non-VAR type found",
                                   section=sec_name)
            linkage = raw.word(vid, 3)
            if linkage in (BTF_VAR_STATIC, BTF_VAR_GLOBAL_EXTERN):
                continue
            var_name = raw.name(vid)
            sym = find_elf_var_sym(elf, var_name)
            if sym is None:
                raise BpfObjectError(errno.ENOENT, f"sec '{sec_name}': failed to find ELF symbol "
                                     f"for VAR '{var_name}'", section=sec_name, symbol=var_name)
            if fixup_offsets:
                if sym.value > 0xFFFFFFFF:
                    raise format_error(f"sec '{sec_name}': VAR '{var_name}' at offset "
                                       f"{sym.value} past 4 GiB", section=sec_name,
                                       symbol=var_name, offset=sym.value)
                v[1] = sym.value
            if sym.visibility in (STV_HIDDEN, STV_INTERNAL):
                raw.set_word(vid, 3, BTF_VAR_STATIC)
    vars_.sort(key=lambda v: v[1])
    raw.set_datasec_vars(tid, vars_)


def find_elf_var_sym(elf, name: str):
    """libbpf find_elf_var_sym: the global or weak STT_OBJECT symbol called ``name``."""
    for sym in elf.symbols:
        if sym.type == STT_OBJECT and sym.bind in (STB_GLOBAL, STB_WEAK) and sym.name == name:
            return sym
    return None


def mark_funcs_static(raw: RawBtf, names) -> None:
    """bpf_object__sanitize_and_load_btf's first loop: hidden global subprograms get a static
    FUNC, so the verifier checks them with their caller's context."""
    wanted = set(names)
    if not wanted:
        return
    for tid in range(1, raw.nr_types):
        if (raw.kind(tid) == BTF_KIND_FUNC and raw.vlen(tid) == BTF_FUNC_GLOBAL
                and raw.name(tid) in wanted):
            raw.set_word(tid, 1, btf_info(BTF_KIND_FUNC, BTF_FUNC_STATIC))
            wanted.discard(raw.name(tid))


def btf_needs_sanitization(features) -> bool:
    need = {"btf_func", "btf_datasec", "btf_global_func", "btf_float", "btf_decl_tag",
            "btf_type_tag", "btf_enum64", "btf_qmark_datasec"}
    return not need <= set(features)


def sanitize_btf(raw: RawBtf, features=BTF_FEATURES) -> RawBtf:
    """bpf_object__sanitize_btf: a copy with the kinds the kernel lacks replaced."""
    f = set(features)
    has_func, has_datasec = "btf_func" in f, "btf_datasec" in f
    has_global = "btf_global_func" in f
    out = RawBtf(raw.to_bytes())
    enum64_placeholder = 0
    for tid in range(1, out.nr_types):
        k, vlen = out.kind(tid), out.vlen(tid)
        if ((not has_datasec and k == BTF_KIND_VAR)
                or ("btf_decl_tag" not in f and k == BTF_KIND_DECL_TAG)):
            out.set_word(tid, 1, btf_info(BTF_KIND_INT))
            out.set_word(tid, 2, 1)
            out.set_word(tid, 3, 8)                  # BTF_INT_ENC(0, 0, 8)
        elif not has_datasec and k == BTF_KIND_DATASEC:
            name_off = out.word(tid, 0)
            out.set_str_in_place(name_off, out.str_at(name_off).replace(".", "_").replace("?", "_"))
            vars_ = out.datasec_vars(tid)
            out.set_word(tid, 1, btf_info(BTF_KIND_STRUCT, vlen))
            base = out.offs[tid] + 12
            for i, (vtype, voff, _) in enumerate(vars_):
                struct.pack_into("<III", out.types, base + 12 * i, out.word(vtype, 0), vtype,
                                 voff * 8)
        elif ("btf_qmark_datasec" not in f and k == BTF_KIND_DATASEC
              and out.name(tid).startswith("?")):
            out.set_str_in_place(out.word(tid, 0), "_")
        elif not has_func and k == BTF_KIND_FUNC_PROTO:
            out.set_word(tid, 1, btf_info(BTF_KIND_ENUM, vlen))
            out.set_word(tid, 2, 4)
        elif not has_func and k == BTF_KIND_FUNC:
            out.set_word(tid, 1, btf_info(BTF_KIND_TYPEDEF))
        elif not has_global and k == BTF_KIND_FUNC:
            out.set_word(tid, 1, btf_info(BTF_KIND_FUNC))
        elif "btf_float" not in f and k == BTF_KIND_FLOAT:
            out.set_word(tid, 0, 0)
            out.set_word(tid, 1, btf_info(BTF_KIND_STRUCT))
        elif "btf_type_tag" not in f and k == BTF_KIND_TYPE_TAG:
            out.set_word(tid, 0, 0)
            out.set_word(tid, 1, btf_info(BTF_KIND_CONST))
        elif "btf_enum64" not in f and k == BTF_KIND_ENUM:
            out.set_word(tid, 1, btf_info(BTF_KIND_ENUM, vlen))
        elif "btf_enum64" not in f and k == BTF_KIND_ENUM64:
            if not enum64_placeholder:
                name_off = len(out.strings)
                out.strings += b"enum64_placeholder\0"
                enum64_placeholder = out.append_type([name_off, btf_info(BTF_KIND_INT), 1, 8])
            out.set_word(tid, 1, btf_info(BTF_KIND_UNION, vlen))
            for i in range(vlen):
                out.set_word(tid, 3 + 3 * i + 1, enum64_placeholder)
                out.set_word(tid, 3 + 3 * i + 2, 0)
    return out
