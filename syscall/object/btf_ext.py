""".BTF.ext: per-section func_info, line_info and CO-RE relocation records
(tools/lib/bpf/btf.c btf_ext__new, btf_ext_parse, btf_ext_parse_sec_info; libbpf_internal.h
struct btf_ext_header, struct btf_ext_info_sec; include/uapi/linux/bpf.h struct bpf_func_info,
bpf_line_info, bpf_core_relo).

Layout (all little-endian u32 unless said):

    header:   u16 magic 0xeB9F, u8 version 1, u8 flags 0, u32 hdr_len,
              func_info_off, func_info_len, line_info_off, line_info_len,
              [core_relo_off, core_relo_len]            (offsets relative to the header's end)
    each info part:  u32 rec_size, then sections until the part's length is used up:
              u32 sec_name_off (a string of .BTF), u32 num_info, num_info * rec_size bytes

A record starts with ``insn_off``: the **byte** offset of the instruction in its ELF section
(clang's unit); the kernel wants instruction indexes, which relo.py computes when it copies the
records of a program and of each subprogram appended to it. Records keep their raw bytes, so a
record size bigger than the minimum (a newer compiler's extra fields) is passed through as is,
the way libbpf copies ``rec_size`` bytes.

Errors are libbpf's: EINVAL for a malformed part, EOPNOTSUPP for an unknown version or flags.
libbpf ignores a .BTF.ext it cannot parse ("Ignored and continue"); the caller decides.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field

from .errors import BpfObjectError

BTF_MAGIC = 0xEB9F
FUNC_INFO_MIN = 8      # struct bpf_func_info_min: insn_off, type_id
LINE_INFO_MIN = 16     # struct bpf_line_info_min: insn_off, file_name_off, line_off, line_col
CORE_RELO_MIN = 16     # struct bpf_core_relo: insn_off, type_id, access_str_off, kind

_HDR = struct.Struct("<HBBIIIII")          # up to line_info_len (24 bytes)
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """struct bpf_core_relo, with insn_off still in bytes."""

    insn_off: int        # byte offset of the instruction in its section
    type_id: int         # local (object BTF) root type id
    access_str_off: int  # offset of the access string ("0:1:2") in .BTF's strings
    kind: int            # enum bpf_core_relo_kind


@dataclass(slots=True)
class BtfExtSec:
    """One ``struct btf_ext_info_sec`` and its records (raw bytes each)."""

    sec_name_off: int
    sec_name: str
    records: list[bytes] = field(default_factory=list)

    def insn_off(self, i: int) -> int:
        return _U32.unpack_from(self.records[i])[0]


@dataclass(slots=True)
class BtfExtInfo:
    """One of the three parts: its record size and its sections in file order."""

    rec_size: int = 0
    secs: list[BtfExtSec] = field(default_factory=list)

    def for_section(self, name: str) -> BtfExtSec | None:
        for s in self.secs:
            if s.sec_name == name:
                return s
        return None


@dataclass(slots=True)
class BtfExt:
    """A parsed .BTF.ext."""

    hdr_len: int
    func_info: BtfExtInfo
    line_info: BtfExtInfo
    core_relo_info: BtfExtInfo

    def core_relos(self, sec_name: str) -> list[CoreRelo]:
        sec = self.core_relo_info.for_section(sec_name)
        if sec is None:
            return []
        return [CoreRelo(*struct.unpack_from("<IIIi", r)) for r in sec.records]


def btf_ext_parse(data: bytes, str_at) -> BtfExt:
    """Parse a .BTF.ext section. ``str_at(off) -> str`` reads a string of the object's .BTF (for
    the section names). Raises BpfObjectError (EINVAL / EOPNOTSUPP) with libbpf's message."""
    data = bytes(data)
    if len(data) < 8:
        raise _err("BTF.ext header too short")
    magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data)
    if magic != BTF_MAGIC:
        if magic == 0x9FEB:
            raise BpfObjectError(errno.EOPNOTSUPP, ".BTF.ext: non-native endianness is unsupported")
        raise _err(f"Invalid BTF.ext magic:{magic:x}")
    if version != 1:
        raise BpfObjectError(errno.EOPNOTSUPP, f"Unsupported BTF.ext version:{version}")
    if flags:
        raise BpfObjectError(errno.EOPNOTSUPP, f"Unsupported BTF.ext flags:{flags:x}")
    if len(data) < hdr_len:
        raise _err("BTF.ext header not found")
    if len(data) == hdr_len:
        raise _err("BTF.ext has no data")
    if hdr_len < _HDR.size:
        raise _err("BTF.ext header missing func_info, line_info")
    _, _, _, _, fi_off, fi_len, li_off, li_len = _HDR.unpack_from(data)
    cr_off = cr_len = 0
    if hdr_len >= _HDR.size + 8:
        cr_off, cr_len = struct.unpack_from("<II", data, _HDR.size)
    return BtfExt(hdr_len,
                  _parse_info(data, hdr_len, fi_off, fi_len, FUNC_INFO_MIN, "func_info", str_at),
                  _parse_info(data, hdr_len, li_off, li_len, LINE_INFO_MIN, "line_info", str_at),
                  _parse_info(data, hdr_len, cr_off, cr_len, CORE_RELO_MIN, "core_relo", str_at))


def _parse_info(data: bytes, hdr_len: int, off: int, length: int, min_rec: int, desc: str,
                str_at) -> BtfExtInfo:
    """btf_ext_parse_sec_info."""
    info = BtfExtInfo()
    if length == 0:
        return info
    if off & 3:
        raise _err(f".BTF.ext {desc} section is not aligned to 4 bytes")
    start = hdr_len + off
    end = start + length
    if end > len(data):
        raise _err(f"{desc} section (off:{off} len:{length}) is beyond the end of the ELF "
                   "section .BTF.ext")
    if length < 4:
        raise _err(f".BTF.ext {desc} record size not found")
    rec_size = _U32.unpack_from(data, start)[0]
    if rec_size < min_rec or rec_size & 3:
        raise _err(f"{desc} section in .BTF.ext has invalid record size {rec_size}")
    info.rec_size = rec_size
    pos = start + 4
    if pos == end:
        raise _err(f"{desc} section in .BTF.ext has no records")
    while pos < end:
        if end - pos < 8:
            raise _err(f"{desc} section header is not found in .BTF.ext")
        name_off, num = struct.unpack_from("<II", data, pos)
        if num == 0:
            raise _err(f"{desc} section has incorrect num_records in .BTF.ext")
        total = 8 + num * rec_size
        if end - pos < total:
            raise _err(f"{desc} section has incorrect num_records in .BTF.ext")
        try:
            name = str_at(name_off)
        except Exception:
            name = ""
        recs = [data[pos + 8 + i * rec_size: pos + 8 + (i + 1) * rec_size] for i in range(num)]
        info.secs.append(BtfExtSec(name_off, name or "", recs))
        pos += total
    return info


def _err(msg: str) -> BpfObjectError:
    return BpfObjectError(errno.EINVAL, msg, section=".BTF.ext")
