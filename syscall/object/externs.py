"""``extern`` variables of a BPF object: ``.kconfig`` (Kconfig values and libbpf's LINUX_*
pseudo-options) resolved into the kconfig map; ``.ksyms`` (kernel symbols and kfuncs) refused
(tools/lib/bpf/libbpf.c bpf_object__collect_externs, find_extern_btf_id, find_kcfg_type,
cmp_externs, bpf_object__init_kconfig_map, bpf_object__resolve_externs, set_kcfg_value_*).

An extern is an undefined GLOBAL/WEAK STT_NOTYPE symbol with a BTF VAR (or FUNC) of the same name
in the ``.kconfig`` or ``.ksyms`` DATASEC. For ``.kconfig`` libbpf sorts the externs (alignment
descending, then size, then name), lays them out one after the other (each at its alignment),
rewrites the DATASEC (size, offsets, linkage GLOBAL_ALLOCATED) and creates the
``<obj>.kconfig`` map (read-only for programs, frozen), filled at load with:

* ``LINUX_KERNEL_VERSION``: KERNEL_VERSION(major, minor, 0) of the simulated kernel (6.18 or 5.5);
* ``LINUX_HAS_BPF_COOKIE``, ``LINUX_HAS_SYSCALL_WRAPPER``: 1 (6.18), 0 / 1 (5.5);
* ``CONFIG_*``: from the ``kconfig={"CONFIG_X": "y", ...}`` load option (values as in a .config:
  y/n/m, numbers, "strings"); an unknown one is 0 if declared ``__weak``, else ESRCH as in libbpf
  ("extern (kcfg) 'CONFIG_X': value not found").
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from btf import BTF_KIND_ARRAY, BTF_KIND_DATASEC, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FUNC
from btf import BTF_KIND_INT, BTF_KIND_VAR

from .btf_fixup import BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN, KCONFIG_SEC, KSYMS_SEC
from .errors import BpfObjectError
from .relo import sym_is_extern

BTF_INT_BOOL = 4
BTF_INT_SIGNED = 1
BTF_FUNC_EXTERN = 2


@dataclass(slots=True)
class ExternDesc:
    """struct extern_desc (the kcfg part)."""

    name: str
    sym_idx: int
    btf_id: int
    sec_btf_id: int
    type: str                 # "kcfg" or "ksym"
    is_weak: bool
    kcfg_type: str = ""       # bool, char, int, tristate, char_arr
    sz: int = 0
    align: int = 1
    is_signed: bool = False
    data_off: int = 0


def _find_kcfg_type(btf, tid: int):
    """find_kcfg_type: (kind, is_signed) or ("", False) when unsupported."""
    t = btf.type_by_id(btf.skip_modifiers(tid))
    k = t.kind if t.id else 0
    if k == BTF_KIND_INT:
        if t.encoding & BTF_INT_BOOL:
            return ("bool" if t.size == 1 else ""), False
        signed = bool(t.encoding & BTF_INT_SIGNED)
        if t.size == 1:
            return "char", signed
        if t.size not in (2, 4, 8):
            return "", False
        return "int", signed
    if k == BTF_KIND_ENUM:
        return ("tristate" if t.size == 4 and t.name == "libbpf_tristate" else ""), False
    if k == BTF_KIND_ENUM64:
        return ("tristate" if t.name == "libbpf_tristate" else ""), False
    if k == BTF_KIND_ARRAY:
        if t.nelems == 0 or _find_kcfg_type(btf, t.elem_type)[0] != "char":
            return "", False
        return "char_arr", False
    return "", False


def collect_externs(elf, raw, btf) -> list[ExternDesc]:
    """bpf_object__collect_externs. Edits ``raw`` (the RawBtf) for the .kconfig layout.
    Returns the externs sorted as libbpf sorts them."""
    exts = []
    for sym in elf.symbols:
        if not sym_is_extern(sym) or not sym.name:
            continue
        btf_id = 0
        if btf is not None:
            for tid in btf.type_ids():
                if (btf.kind_of(tid) in (BTF_KIND_VAR, BTF_KIND_FUNC)
                        and btf.name_of(tid) == sym.name):
                    t = btf.type_by_id(tid)
                    if (t.kind == BTF_KIND_VAR and t.linkage != BTF_VAR_GLOBAL_EXTERN) or (
                            t.kind == BTF_KIND_FUNC and t.linkage != BTF_FUNC_EXTERN):
                        raise BpfObjectError(errno.EINVAL, f"failed to find BTF for extern "
                                             f"'{sym.name}': -22", symbol=sym.name)
                    btf_id = tid
                    break
        if not btf_id:
            raise BpfObjectError(errno.ENOENT, f"failed to find BTF for extern '{sym.name}': -2",
                                 symbol=sym.name)
        sec_id = 0
        for tid in btf.type_ids():
            if btf.kind_of(tid) == BTF_KIND_DATASEC and any(
                    v.type == btf_id for v in btf.type_by_id(tid).vars):
                sec_id = tid
                break
        if not sec_id:
            raise BpfObjectError(errno.ENOENT, f"failed to find BTF for extern '{sym.name}' "
                                 f"[{btf_id}] section: -2", symbol=sym.name)
        sec_name = btf.name_of(sec_id)
        t = btf.type_by_id(btf_id)
        ext = ExternDesc(t.name, sym.idx, btf_id, sec_id, "", sym.bind == 2)
        if sec_name == KCONFIG_SEC:
            if t.kind == BTF_KIND_FUNC:
                raise BpfObjectError(errno.EOPNOTSUPP, f"extern function {ext.name} is "
                                     f"unsupported under {KCONFIG_SEC} section", symbol=ext.name)
            ext.type = "kcfg"
            ext.sz = btf.resolve_size(t.type)
            ext.align = btf.alignment(t.type)
            ext.kcfg_type, ext.is_signed = _find_kcfg_type(btf, t.type)
            if not ext.kcfg_type:
                raise BpfObjectError(errno.EOPNOTSUPP, f"extern (kcfg) '{ext.name}': type is "
                                     "unsupported", symbol=ext.name)
        elif sec_name == KSYMS_SEC:
            ext.type = "ksym"
        else:
            raise BpfObjectError(errno.EOPNOTSUPP, f"unrecognized extern section '{sec_name}'",
                                 symbol=ext.name)
        exts.append(ext)
    exts.sort(key=lambda e: (e.type, -e.align if e.type == "kcfg" else 0,
                             e.sz if e.type == "kcfg" else 0, e.name))
    kcfg = [e for e in exts if e.type == "kcfg"]
    if kcfg:
        off = 0
        for e in kcfg:
            e.data_off = (off + e.align - 1) // e.align * e.align
            off = e.data_off + e.sz
        sec_id = kcfg[0].sec_btf_id
        raw.set_word(sec_id, 2, off)
        vars_ = raw.datasec_vars(sec_id)
        by_name = {e.name: e for e in kcfg}
        for v in vars_:
            name = raw.name(v[0])
            e = by_name.get(name)
            if e is None:
                raise BpfObjectError(errno.ESRCH, f"failed to find extern definition for BTF var "
                                     f"'{name}'", symbol=name)
            raw.set_word(v[0], 3, BTF_VAR_GLOBAL_ALLOCATED)
            v[1] = e.data_off
        raw.set_datasec_vars(sec_id, vars_)
    return exts


def kernel_version_code(profile: str) -> int:
    major, minor = (int(x) for x in profile.split(".")[:2])
    return (major << 16) + (minor << 8)


def _parse_kconfig_value(ext: ExternDesc, value):
    if isinstance(value, bool):
        value = "y" if value else "n"
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if ext.kcfg_type in ("bool", "tristate") or text in ("y", "n", "m"):
        return {"y": 1, "n": 0, "m": 2}.get(text, None)
    if ext.kcfg_type == "char_arr":
        return text.strip('"').encode()
    try:
        return int(text, 0)
    except ValueError:
        return None


def kconfig_data(exts: list[ExternDesc], size: int, profile: str,
                 kconfig: dict | None) -> bytearray:
    """bpf_object__resolve_externs for .kconfig: the kconfig map's contents."""
    data = bytearray(size)
    major_minor = tuple(int(x) for x in profile.split(".")[:2])
    builtin = {"LINUX_KERNEL_VERSION": kernel_version_code(profile),
               "LINUX_HAS_BPF_COOKIE": int(major_minor >= (5, 15)),
               "LINUX_HAS_SYSCALL_WRAPPER": 1}
    kconfig = dict(kconfig or {})
    for e in exts:
        if e.type != "kcfg":
            continue
        if e.name in builtin:
            value = builtin[e.name]
        elif e.name in kconfig:
            value = _parse_kconfig_value(e, kconfig[e.name])
            if value is None:
                raise BpfObjectError(errno.EINVAL, f"extern (kcfg) '{e.name}': value "
                                     f"'{kconfig[e.name]}' does not fit its type", symbol=e.name)
        elif e.name.startswith("CONFIG_") and e.is_weak:
            value = 0
        else:
            raise BpfObjectError(errno.ESRCH, f"extern (kcfg) '{e.name}': value not found",
                                 symbol=e.name)
        if isinstance(value, bytes):
            chunk = value[: e.sz - 1].ljust(e.sz, b"\0")
        else:
            if e.kcfg_type == "bool":
                value = 1 if value else 0
            chunk = (value & ((1 << (8 * e.sz)) - 1)).to_bytes(e.sz, "little")
        data[e.data_off: e.data_off + e.sz] = chunk
    return data

