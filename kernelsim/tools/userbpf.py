"""bpf(2) as a user-space tool issues it: attrs built field by field, pointers to this process's
buffers, results as the syscall returns them (tools/lib/bpf/bpf.c in spirit, but returning
-errno instead of setting errno; invented module of the facade layer).

The replay runner and the bpftool-like commands share these. Every call goes through
``task.bpf(cmd, attr, size)`` — the simulated syscall — with a zeroed ``union bpf_attr`` from
syscall/abi.py; fields are named as in the uapi header, dotted for nested members
(``link_create.tracing.cookie``). A value is an int, bytes (char arrays such as ``prog_name``) or
a ``Buf`` (a pointer field: the address of a ctypes buffer kept alive for the call).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from kernelsim.uapi import BpfCmd
from syscall import abi

from .features import missing_from_import_error

ATTR = "union bpf_attr"
ATTR_SIZE = abi.BPF_ATTR_SIZE


class Buf:
    """A ctypes buffer of this process and its address (a pointer field's value)."""

    __slots__ = ("raw", "addr", "size")

    def __init__(self, data_or_size):
        if isinstance(data_or_size, int):
            self.raw = ctypes.create_string_buffer(max(data_or_size, 1))
            self.size = data_or_size
        else:
            data = bytes(data_or_size)
            self.raw = ctypes.create_string_buffer(data, max(len(data), 1))
            self.size = len(data)
        self.addr = ctypes.addressof(self.raw)

    def bytes(self, n: int | None = None) -> bytes:
        return self.raw.raw[: self.size if n is None else n]

    def cstr(self) -> str:
        return self.raw.raw.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


def set_field(attr, dotted: str, value) -> None:
    """attr.a.b.c = value (ints, bytes for char arrays, Buf for pointers)."""
    obj = attr
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = getattr(obj, part)
    if isinstance(value, Buf):
        value = value.addr
    setattr(obj, parts[-1], value)


def get_field(attr, dotted: str):
    obj = attr
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def sys_bpf(task, cmd: int, attr, size: int | None = None) -> int:
    """task.bpf with a cffi attr (written back in place). FeatureMissing if the syscall layer
    has not landed."""
    try:
        return task.bpf(int(cmd), abi.ffi.buffer(attr), ATTR_SIZE if size is None else size)
    except ImportError as e:
        fm = missing_from_import_error(e)
        if fm is not None:
            raise fm from None
        raise


def bpf(task, cmd: int, size: int | None = None, **fields) -> tuple[int, object]:
    """One syscall with the given fields (dotted names with ``__`` for ``.``); (ret, attr)."""
    attr = abi.new_attr()
    for name, value in fields.items():
        set_field(attr, name.replace("__", "."), value)
    return sys_bpf(task, cmd, attr, size), attr


# ---- maps ----------------------------------------------------------------------------------------

def map_create(task, map_type: int, key_size: int, value_size: int, max_entries: int,
               map_flags: int = 0, name: str = "", map_extra: int = 0, btf_fd: int = 0,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0) -> int:
    ret, _ = bpf(task, BpfCmd.BPF_MAP_CREATE, map_type=map_type, key_size=key_size,
                 value_size=value_size, max_entries=max_entries, map_flags=map_flags,
                 map_name=name.encode()[:15], map_extra=map_extra, btf_fd=btf_fd,
                 btf_key_type_id=btf_key_type_id, btf_value_type_id=btf_value_type_id)
    return ret


def map_update(task, fd: int, key: bytes, value: bytes, flags: int = 0) -> int:
    k, v = Buf(key), Buf(value)
    return bpf(task, BpfCmd.BPF_MAP_UPDATE_ELEM, map_fd=fd, key=k, value=v, flags=flags)[0]


def map_delete(task, fd: int, key: bytes) -> int:
    k = Buf(key)
    return bpf(task, BpfCmd.BPF_MAP_DELETE_ELEM, map_fd=fd, key=k)[0]


def map_lookup(task, fd: int, key: bytes, value_size: int, flags: int = 0) -> tuple[int, bytes]:
    k, v = Buf(key), Buf(value_size)
    ret = bpf(task, BpfCmd.BPF_MAP_LOOKUP_ELEM, map_fd=fd, key=k, value=v, flags=flags)[0]
    return ret, v.bytes()


def map_get_next_key(task, fd: int, key: bytes | None, key_size: int) -> tuple[int, bytes]:
    nk = Buf(key_size)
    k = Buf(key) if key is not None else None
    ret = bpf(task, BpfCmd.BPF_MAP_GET_NEXT_KEY, map_fd=fd, key=k.addr if k else 0, next_key=nk)[0]
    return ret, nk.bytes()


def map_entries(task, fd: int, key_size: int, value_size: int, limit: int = 1 << 20):
    """Every (key, value) by GET_NEXT_KEY + LOOKUP, as bpftool map dump walks a map; entries that
    vanish between the two calls are skipped. Returns (ret, entries): ret < 0 on an error."""
    out, key = [], None
    while len(out) < limit:
        ret, nk = map_get_next_key(task, fd, key, key_size)
        if ret == -2:           # ENOENT: past the last key
            return 0, out
        if ret < 0:
            return ret, out
        r, value = map_lookup(task, fd, nk, value_size)
        if r == 0:
            out.append((nk, value))
        elif r != -2:
            return r, out
        key = nk
    return 0, out


# ---- programs and links ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoadResult:
    """What BPF_PROG_LOAD returned and the verifier log it wrote."""

    ret: int                    # the fd, or -errno
    log: str                    # the log buffer up to its NUL ("" without a log)
    log_true_size: int          # attr.log_true_size written back


def prog_load(task, prog_type: int, insns: bytes, license: str = "GPL", name: str = "",
              expected_attach_type: int = 0, attach_btf_id: int = 0, attach_btf_obj_fd: int = 0,
              attach_prog_fd: int = 0, log_level: int = 0, log_size: int = 1 << 16,
              prog_flags: int = 0, kern_version: int = 0, fd_array: int = 0) -> LoadResult:
    code, lic = Buf(insns), Buf(license.encode() + b"\0")
    log = Buf(log_size) if log_level else None
    ret, attr = bpf(task, BpfCmd.BPF_PROG_LOAD, prog_type=prog_type, insn_cnt=len(insns) // 8,
                    insns=code, license=lic, log_level=log_level,
                    log_size=log_size if log else 0, log_buf=log.addr if log else 0,
                    kern_version=kern_version, prog_flags=prog_flags, prog_name=name.encode()[:15],
                    expected_attach_type=expected_attach_type, attach_btf_id=attach_btf_id,
                    attach_btf_obj_fd=attach_btf_obj_fd, attach_prog_fd=attach_prog_fd,
                    fd_array=fd_array)
    return LoadResult(ret, log.cstr() if log else "", int(attr.log_true_size))


def link_create(task, prog_fd: int, target_fd: int, attach_type: int, target_btf_id: int = 0,
                cookie: int = 0, flags: int = 0) -> int:
    fields = dict(link_create__prog_fd=prog_fd, link_create__target_fd=target_fd,
                  link_create__attach_type=attach_type, link_create__flags=flags)
    if target_btf_id or cookie:
        fields.update(link_create__tracing__target_btf_id=target_btf_id,
                      link_create__tracing__cookie=cookie)
    return bpf(task, BpfCmd.BPF_LINK_CREATE, **fields)[0]


def link_create_perf_event(task, prog_fd: int, perf_fd: int, attach_type: int, cookie: int = 0) -> int:
    return bpf(task, BpfCmd.BPF_LINK_CREATE, link_create__prog_fd=prog_fd,
               link_create__target_fd=perf_fd, link_create__attach_type=attach_type,
               link_create__perf_event__bpf_cookie=cookie)[0]


def raw_tracepoint_open(task, name: str | None, prog_fd: int, cookie: int = 0) -> int:
    n = Buf(name.encode() + b"\0") if name else None
    return bpf(task, BpfCmd.BPF_RAW_TRACEPOINT_OPEN, raw_tracepoint__name=n.addr if n else 0,
               raw_tracepoint__prog_fd=prog_fd, raw_tracepoint__cookie=cookie)[0]


def link_detach(task, fd: int) -> int:
    return bpf(task, BpfCmd.BPF_LINK_DETACH, link_detach__link_fd=fd)[0]


# ---- ids and info ----------------------------------------------------------------------------------

GET_NEXT_ID = {"prog": BpfCmd.BPF_PROG_GET_NEXT_ID, "map": BpfCmd.BPF_MAP_GET_NEXT_ID,
               "link": BpfCmd.BPF_LINK_GET_NEXT_ID, "btf": BpfCmd.BPF_BTF_GET_NEXT_ID}
GET_FD_BY_ID = {"prog": (BpfCmd.BPF_PROG_GET_FD_BY_ID, "prog_id"),
                "map": (BpfCmd.BPF_MAP_GET_FD_BY_ID, "map_id"),
                "link": (BpfCmd.BPF_LINK_GET_FD_BY_ID, "link_id"),
                "btf": (BpfCmd.BPF_BTF_GET_FD_BY_ID, "btf_id")}
INFO_STRUCT = {"prog": "struct bpf_prog_info", "map": "struct bpf_map_info",
               "link": "struct bpf_link_info", "btf": "struct bpf_btf_info"}


def get_next_id(task, kind: str, start: int) -> tuple[int, int]:
    """(ret, next_id) of BPF_{PROG,MAP,LINK,BTF}_GET_NEXT_ID."""
    ret, attr = bpf(task, GET_NEXT_ID[kind], start_id=start)
    return ret, int(attr.next_id)


def ids(task, kind: str) -> tuple[int, list[int]]:
    """Every id of a kind, as bpftool's show loops do: (ret, ids); ret < 0 on an error other than
    the ENOENT that ends the walk."""
    out, cur = [], 0
    while True:
        ret, nxt = get_next_id(task, kind, cur)
        if ret == -2:
            return 0, out
        if ret < 0:
            return ret, out
        out.append(nxt)
        cur = nxt


def get_fd_by_id(task, kind: str, obj_id: int) -> int:
    cmd, fld = GET_FD_BY_ID[kind]
    return bpf(task, cmd, **{fld: obj_id})[0]


def obj_get_info(task, fd: int, kind: str, info=None) -> tuple[int, object]:
    """OBJ_GET_INFO_BY_FD with the kind's info struct (``info`` pre-filled for the second pass of
    programs: buffers for map_ids, xlated instructions ...)."""
    ctype = INFO_STRUCT[kind]
    if info is None:
        info = abi.ffi.new(f"{ctype} *")
    ret, _ = bpf(task, BpfCmd.BPF_OBJ_GET_INFO_BY_FD, info__bpf_fd=fd,
                 info__info_len=abi.ffi.sizeof(ctype),
                 info__info=int(abi.ffi.cast("uintptr_t", info)))
    return ret, info


def prog_info_full(task, fd: int) -> tuple[int, object, dict]:
    """bpf_prog_info in bpftool's two passes: sizes first, then map_ids and the xlated
    instructions into buffers. (ret, info, extra) with extra = {"map_ids": [...], "xlated": bytes}."""
    ret, info = obj_get_info(task, fd, "prog")
    if ret < 0:
        return ret, info, {}
    nr_maps, xlen = int(info.nr_map_ids), int(info.xlated_prog_len)
    info2 = abi.ffi.new("struct bpf_prog_info *")
    ids_buf = Buf(4 * nr_maps) if nr_maps else None
    x_buf = Buf(xlen) if xlen else None
    info2.nr_map_ids = nr_maps
    info2.map_ids = ids_buf.addr if ids_buf else 0
    info2.xlated_prog_len = xlen
    info2.xlated_prog_insns = x_buf.addr if x_buf else 0
    ret, info2 = obj_get_info(task, fd, "prog", info2)
    if ret < 0:
        return ret, info, {}
    map_ids = []
    if ids_buf:
        raw = ids_buf.bytes()
        map_ids = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 4 * min(nr_maps, int(info2.nr_map_ids)), 4)]
    return ret, info2, {"map_ids": map_ids, "xlated": x_buf.bytes(int(info2.xlated_prog_len)) if x_buf else b""}


def cstr(char_array) -> str:
    """A char[] field of an info struct as text."""
    return abi.ffi.string(char_array).decode("utf-8", "backslashreplace")
