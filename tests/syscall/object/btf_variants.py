"""Kernel BTFs with a different layout than the embedded one, for CO-RE tests (built with the btf
library from the embedded BTF, type ids unchanged)."""

import dataclasses
from functools import lru_cache

import btf as btflib


def _swap_member_names(src, struct_name: str, a: str, b: str, out: btflib.BtfBuilder) -> None:
    sid = src.find_by_name_kind(struct_name, btflib.BTF_KIND_STRUCT)
    for t in src.types():
        if t.id == sid:
            ms = list(t.members)
            ia = next(i for i, m in enumerate(ms) if m.name == a)
            ib = next(i for i, m in enumerate(ms) if m.name == b)
            ms[ia], ms[ib] = (dataclasses.replace(ms[ia], name_off=ms[ib].name_off, name=b),
                              dataclasses.replace(ms[ib], name_off=ms[ia].name_off, name=a))
            t = dataclasses.replace(t, members=tuple(ms))
        out.add_type(src, t)


@lru_cache(maxsize=1)
def swapped_btf_bytes() -> bytes:
    """The embedded kernel BTF where task_struct's ``pid`` and ``tgid`` trade places (pid at
    byte 1268, tgid at 1264)."""
    src = btflib.embedded_btf()
    out = btflib.BtfBuilder()
    _swap_member_names(src, "task_struct", "pid", "tgid", out)
    return out.to_bytes()


def swapped_btf():
    return btflib.Btf.parse(swapped_btf_bytes())


def member_offset(b, struct_name: str, member: str) -> int:
    sid = b.find_by_name_kind(struct_name, btflib.BTF_KIND_STRUCT)
    return next(m.bit_offset for m in b.members(sid) if m.name == member) // 8
