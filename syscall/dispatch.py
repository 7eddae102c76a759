"""The bpf() multiplexer (kernel/bpf/syscall.c __sys_bpf), close(2) and dup(2).

``sys_bpf(task, cmd, attr, size=None)`` is **the one place where a BpfError becomes -errno**
(STYLE.md, Errors): every handler below raises, this function returns. Steps, as Linux 6.18:

1. the caller's attr (bytes, bytearray, memoryview, a ctypes object, a cffi pointer or buffer, or
   an int address in this process) is normalised to a byte view; ``size`` defaults to its length;
2. ``bpf_check_uarg_tail_zero`` (size > 4096 E2BIG; non-zero bytes past the 168-byte union E2BIG;
   a size larger than the buffer EFAULT), the zero-filled kernel copy;
3. an unknown command (anything not in ``BPF_CMDS``, BPF_COMMON_ATTRS-style high bits included)
   EINVAL;
4. CHECK_ATTR (EINVAL) — except for the handlers that check something first (PROG_QUERY checks
   its capability before it), which are listed in ``OWN_CHECK_ATTR``;
5. the handler, with the calling task current on its CPU for the duration;
6. the fields the handler ``put_user``-ed are written into the caller's attr (when it is writable,
   and only inside its buffer), on success and on failure alike;
7. one structlog event ``bpf`` (command, decoded key fields, result, errno; pid and comm bound).
   Events are emitted only once the application has configured structlog (quiet by default).

A Python exception other than BpfError escaping a handler is a simulator bug; it is logged and
turned into -EFAULT rather than crashing the caller (the fuzz tests assert it never happens).
"""

from __future__ import annotations

import errno

import structlog

from kernelsim.errors import BpfError
from kernelsim.uapi import BpfCmd

from . import abi, attr as attr_rules, uaccess
from .btf_cmds import bpf_btf_get_fd_by_id, bpf_btf_load
from .common import SysCtx, attr_field
from .link_cmds import (bpf_iter_create, bpf_link_get_fd_by_id, bpf_raw_tracepoint_open,
                        link_create, link_detach, link_update)
from .map_cmds import (bpf_map_do_batch, map_create, map_delete_elem, map_freeze,
                       map_get_next_key, map_lookup_and_delete_elem, map_lookup_elem,
                       map_update_elem)
from .misc_cmds import (bpf_enable_stats, bpf_prog_attach, bpf_prog_bind_map, bpf_prog_detach,
                        bpf_prog_query, bpf_prog_stream_read, bpf_prog_test_run,
                        bpf_task_fd_query, bpf_token_create)
from .obj_ids import (bpf_map_get_fd_by_id, bpf_obj_get_next_id, bpf_prog_get_fd_by_id)
from .obj_info import bpf_obj_get_info_by_fd
from .obj_pin import bpf_obj_get, bpf_obj_pin
from .prog_load import bpf_prog_load

C = BpfCmd
log = structlog.get_logger("kernelsim.syscall")
# Tests set this to let a non-BpfError exception (a simulator bug) propagate instead of -EFAULT.
RAISE_INTERNAL_ERRORS = False

BPF_CMDS = {
    C.BPF_MAP_CREATE: map_create,
    C.BPF_MAP_LOOKUP_ELEM: map_lookup_elem,
    C.BPF_MAP_UPDATE_ELEM: map_update_elem,
    C.BPF_MAP_DELETE_ELEM: map_delete_elem,
    C.BPF_MAP_GET_NEXT_KEY: map_get_next_key,
    C.BPF_PROG_LOAD: bpf_prog_load,
    C.BPF_OBJ_PIN: bpf_obj_pin,
    C.BPF_OBJ_GET: bpf_obj_get,
    C.BPF_PROG_ATTACH: bpf_prog_attach,
    C.BPF_PROG_DETACH: bpf_prog_detach,
    C.BPF_PROG_TEST_RUN: bpf_prog_test_run,
    C.BPF_PROG_GET_NEXT_ID: bpf_obj_get_next_id,
    C.BPF_MAP_GET_NEXT_ID: bpf_obj_get_next_id,
    C.BPF_PROG_GET_FD_BY_ID: bpf_prog_get_fd_by_id,
    C.BPF_MAP_GET_FD_BY_ID: bpf_map_get_fd_by_id,
    C.BPF_OBJ_GET_INFO_BY_FD: bpf_obj_get_info_by_fd,
    C.BPF_PROG_QUERY: bpf_prog_query,
    C.BPF_RAW_TRACEPOINT_OPEN: bpf_raw_tracepoint_open,
    C.BPF_BTF_LOAD: bpf_btf_load,
    C.BPF_BTF_GET_FD_BY_ID: bpf_btf_get_fd_by_id,
    C.BPF_TASK_FD_QUERY: bpf_task_fd_query,
    C.BPF_MAP_LOOKUP_AND_DELETE_ELEM: map_lookup_and_delete_elem,
    C.BPF_MAP_FREEZE: map_freeze,
    C.BPF_BTF_GET_NEXT_ID: bpf_obj_get_next_id,
    C.BPF_MAP_LOOKUP_BATCH: bpf_map_do_batch,
    C.BPF_MAP_LOOKUP_AND_DELETE_BATCH: bpf_map_do_batch,
    C.BPF_MAP_UPDATE_BATCH: bpf_map_do_batch,
    C.BPF_MAP_DELETE_BATCH: bpf_map_do_batch,
    C.BPF_LINK_CREATE: link_create,
    C.BPF_LINK_UPDATE: link_update,
    C.BPF_LINK_GET_FD_BY_ID: bpf_link_get_fd_by_id,
    C.BPF_LINK_GET_NEXT_ID: bpf_obj_get_next_id,
    C.BPF_ENABLE_STATS: bpf_enable_stats,
    C.BPF_ITER_CREATE: bpf_iter_create,
    C.BPF_LINK_DETACH: link_detach,
    C.BPF_PROG_BIND_MAP: bpf_prog_bind_map,
    C.BPF_TOKEN_CREATE: bpf_token_create,
    C.BPF_PROG_STREAM_READ_BY_FD: bpf_prog_stream_read,
}

# handlers that run CHECK_ATTR themselves, after an earlier check of their own
OWN_CHECK_ATTR = frozenset({C.BPF_PROG_QUERY})

# decoded attr fields for the structlog event, per command
LOG_FIELDS = {
    C.BPF_MAP_CREATE: ("map_type", "key_size", "value_size", "max_entries", "map_flags"),
    C.BPF_MAP_LOOKUP_ELEM: ("map_fd", "flags"), C.BPF_MAP_UPDATE_ELEM: ("map_fd", "flags"),
    C.BPF_MAP_DELETE_ELEM: ("map_fd",), C.BPF_MAP_GET_NEXT_KEY: ("map_fd",),
    C.BPF_MAP_LOOKUP_AND_DELETE_ELEM: ("map_fd", "flags"), C.BPF_MAP_FREEZE: ("map_fd",),
    C.BPF_PROG_LOAD: ("prog_type", "insn_cnt", "expected_attach_type", "prog_flags", "log_level"),
    C.BPF_OBJ_PIN: ("bpf_fd", "file_flags"), C.BPF_OBJ_GET: ("file_flags",),
    C.BPF_PROG_GET_NEXT_ID: ("start_id",), C.BPF_MAP_GET_NEXT_ID: ("start_id",),
    C.BPF_BTF_GET_NEXT_ID: ("start_id",), C.BPF_LINK_GET_NEXT_ID: ("start_id",),
    C.BPF_PROG_GET_FD_BY_ID: ("prog_id",), C.BPF_MAP_GET_FD_BY_ID: ("map_id", "open_flags"),
    C.BPF_BTF_GET_FD_BY_ID: ("btf_id",), C.BPF_LINK_GET_FD_BY_ID: ("link_id",),
    C.BPF_OBJ_GET_INFO_BY_FD: ("info.bpf_fd", "info.info_len"),
    C.BPF_LINK_CREATE: ("link_create.prog_fd", "link_create.attach_type"),
    C.BPF_PROG_TEST_RUN: ("test.prog_fd",), C.BPF_RAW_TRACEPOINT_OPEN: ("raw_tracepoint.prog_fd",),
    C.BPF_BTF_LOAD: ("btf_size", "btf_log_level"),
    C.BPF_MAP_LOOKUP_BATCH: ("batch.map_fd", "batch.count"),
    C.BPF_MAP_UPDATE_BATCH: ("batch.map_fd", "batch.count"),
    C.BPF_MAP_DELETE_BATCH: ("batch.map_fd", "batch.count"),
    C.BPF_MAP_LOOKUP_AND_DELETE_BATCH: ("batch.map_fd", "batch.count"),
}


class _UserAttr:
    """The caller's attr memory: ``data`` to read, ``write(off, bytes)`` for the write-back."""

    def __init__(self, obj):
        self.addr = None
        self.view = None
        if isinstance(obj, int) and not isinstance(obj, bool):
            self.addr = obj
            return
        if isinstance(obj, bytes):
            self.view = memoryview(obj)
            self.writable = False
        elif isinstance(obj, abi.ffi.CData):
            self.view = memoryview(abi.ffi.buffer(obj))
            self.writable = True
        else:
            self.view = memoryview(obj)           # bytearray, memoryview, ctypes, ffi.buffer
            self.writable = not self.view.readonly
        if self.view.ndim != 1 or self.view.itemsize != 1:
            self.view = self.view.cast("B")

    def __len__(self) -> int:
        return len(self.view) if self.view is not None else 0

    def read(self, size: int):
        if self.addr is not None:
            return attr_rules.copy_attr_from_user(self.addr, size)
        return attr_rules.copy_attr(self.view, size)

    def write(self, off: int, data: bytes) -> None:
        if self.addr is not None:
            try:
                uaccess.copy_to_user(self.addr + off, data)
            except BpfError:
                pass
        elif self.writable and off + len(data) <= len(self.view):
            self.view[off:off + len(data)] = data


def _write_back(ctx: SysCtx, user: _UserAttr) -> None:
    if not ctx.writes:
        return
    raw = bytes(abi.ffi.buffer(ctx.attr))
    for dotted in ctx.writes:
        f = attr_field(dotted)
        user.write(f.offset, raw[f.offset:f.offset + f.size])


def _decode(cmd, attr) -> dict:
    out = {}
    for dotted in LOG_FIELDS.get(cmd, ()):
        obj = attr
        for part in dotted.split("."):
            obj = getattr(obj, part)
        out[dotted.replace(".", "_")] = int(obj)
    return out


def _errname(err: int) -> str:
    return "ENOTSUPP" if err == 524 else errno.errorcode.get(err, str(err))


def sys_bpf(task, cmd, attr=b"", size=None) -> int:
    """bpf(2) for ``task``: >= 0, or -errno (module doc)."""
    ctx = None
    result = 0
    try:
        try:
            user = _UserAttr(attr)
        except (TypeError, ValueError):
            raise BpfError(errno.EFAULT, f"attr of type {type(attr).__name__} is not a buffer") from None
        if size is None:
            size = len(user)
        size = int(size) & 0xFFFFFFFF
        kattr = user.read(size)
        try:
            c = BpfCmd(int(cmd))
        except (ValueError, TypeError, OverflowError):
            raise BpfError(errno.EINVAL, f"unknown bpf command {cmd!r}") from None
        handler = BPF_CMDS.get(c)
        if handler is None:
            raise BpfError(errno.EINVAL, f"unsupported bpf command {c.name}")
        ctx = SysCtx(task, c, kattr, size)
        if c not in OWN_CHECK_ATTR:
            attr_rules.check_attr(c, kattr)
        kernel = task.kernel
        cpu = kernel.cpus[kernel.current_cpu]
        prev = cpu.current
        kernel.switch_to(task)
        try:
            result = handler(ctx)
        finally:
            cpu.current = prev
            _write_back(ctx, user)
    except BpfError as e:
        result = -e.errno
    except Exception as e:   # a simulator bug: never a traceback out of bpf()
        if RAISE_INTERNAL_ERRORS:
            raise
        log.error("bpf_internal_error", cmd=int(cmd) if isinstance(cmd, int) else str(cmd),
                  error=repr(e), pid=task.pid)
        result = -errno.EFAULT
    if structlog.is_configured():
        try:
            name = BpfCmd(int(cmd)).name
        except (ValueError, TypeError, OverflowError):
            name = str(cmd)
        fields = _decode(ctx.cmd, ctx.attr) if ctx is not None else {}
        if ctx is not None:
            fields.update(ctx.log_fields)
        log.info("bpf", cmd=name, result=result, errno=_errname(-result) if result < 0 else None,
                 pid=task.pid, comm=task.comm, **fields)
    return result


def sys_close(task, fd: int) -> int:
    """close(2): 0, or -EBADF."""
    try:
        task.files.close(fd)
        return 0
    except BpfError as e:
        return -e.errno


def sys_dup(task, fd: int) -> int:
    """dup(2): the lowest free fd sharing the same File, or -EBADF / -EMFILE."""
    try:
        return task.files.dup(fd)
    except BpfError as e:
        return -e.errno


__all__ = ["sys_bpf", "sys_close", "sys_dup", "BPF_CMDS"]
