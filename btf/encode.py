"""Encoding BTF records back to a blob (the writing side of tools/lib/bpf/btf.c btf__raw_data).

Layout: ``struct btf_header`` (hdr_len bytes), the type section (type_off 0), the string section
right after it, as pahole, libbpf and the kernel's own BTF lay it out.
"""

from array import array
from typing import Iterable

from .kinds import KIND_OPS
from .types import BtfType
from .uapi import BTF_HEADER, BTF_HEADER_SIZE, BTF_MAGIC, BTF_VERSION


def btf_encode_types(types: Iterable[BtfType]) -> bytes:
    """The type section for these records, each encoded by its kind's ``encode`` slot."""
    out = array("I")
    for t in types:
        out.extend(KIND_OPS[(t.info >> 24) & 0x1F].encode(t))
    return out.tobytes()


def btf_encode(types: Iterable[BtfType], strings: bytes, hdr_len: int = BTF_HEADER_SIZE,
               hdr_extra: bytes = b"", version: int = BTF_VERSION, flags: int = 0,
               magic: int = BTF_MAGIC) -> bytes:
    """A whole blob: header, type section, string section."""
    type_sec = btf_encode_types(types)
    hdr = BTF_HEADER.pack(magic, version, flags, hdr_len, 0, len(type_sec), len(type_sec),
                          len(strings))
    return hdr + bytes(hdr_extra) + type_sec + bytes(strings)


def btf_raw_header(types_len: int, strs_len: int, **fields) -> bytes:
    """A bare header with overrides (tests build corrupt blobs with it)."""
    f = dict(magic=BTF_MAGIC, version=BTF_VERSION, flags=0, hdr_len=BTF_HEADER_SIZE, type_off=0,
             type_len=types_len, str_off=types_len, str_len=strs_len)
    f.update(fields)
    return BTF_HEADER.pack(f["magic"], f["version"], f["flags"], f["hdr_len"], f["type_off"],
                           f["type_len"], f["str_off"], f["str_len"])

