"""The bpf() entry rules for ``union bpf_attr`` (kernel/bpf/syscall.c, Linux 6.18).

``__sys_bpf`` first runs ``bpf_check_uarg_tail_zero(uattr, sizeof(attr), size)``:
``size > PAGE_SIZE`` -> E2BIG; a bigger-than-kernel attr must be zero past the kernel's union
(168 bytes in 6.18), else E2BIG (a fault reading that tail -> EFAULT); then ``size`` is clamped to
168, the attr zero-filled and ``size`` bytes copied in (a fault -> EFAULT): a short attr means "the
later fields are 0". An unknown command -> EINVAL. Each handler then starts with
``CHECK_ATTR(CMD)``: a non-zero byte after ``CMD_LAST_FIELD`` (up to the end of the union) ->
EINVAL.

``LAST_FIELD`` is the 6.18 table of ``#define BPF_<CMD>_LAST_FIELD``; ``LAST_FIELD_END`` its byte
offsets (offsetofend in the cffi layout of syscall/abi.py). Each entry was checked against the
running 6.18 kernel (tests/syscall/test_attr_realkernel.py): a non-zero byte at the end offset gives
EINVAL, a valid non-zero value in the last field does not.
"""

from __future__ import annotations

import errno

from kernelsim.errors import BpfError
from kernelsim.uapi import PAGE_SIZE, BpfCmd

from . import abi, uaccess

BPF_ATTR_SIZE = abi.BPF_ATTR_SIZE          # 168

# kernel/bpf/syscall.c (v6.18): the last field of union bpf_attr each command reads.
# Several commands share a define: BPF_OBJ (PIN, GET), BPF_OBJ_GET_NEXT_ID (the four
# *_GET_NEXT_ID), BPF_MAP_BATCH (the four batch commands), BPF_PROG_ATTACH/DETACH.
LAST_FIELD: dict[BpfCmd, str] = {
    BpfCmd.BPF_MAP_CREATE: "excl_prog_hash_size",               # 6.18 (was map_token_fd)
    BpfCmd.BPF_MAP_LOOKUP_ELEM: "flags",
    BpfCmd.BPF_MAP_UPDATE_ELEM: "flags",
    BpfCmd.BPF_MAP_DELETE_ELEM: "key",
    BpfCmd.BPF_MAP_GET_NEXT_KEY: "next_key",
    BpfCmd.BPF_PROG_LOAD: "keyring_id",                         # 6.18 (was fd_array_cnt)
    BpfCmd.BPF_OBJ_PIN: "path_fd",
    BpfCmd.BPF_OBJ_GET: "path_fd",
    BpfCmd.BPF_PROG_ATTACH: "expected_revision",
    BpfCmd.BPF_PROG_DETACH: "expected_revision",
    BpfCmd.BPF_PROG_TEST_RUN: "test.batch_size",
    BpfCmd.BPF_PROG_GET_NEXT_ID: "next_id",
    BpfCmd.BPF_MAP_GET_NEXT_ID: "next_id",
    BpfCmd.BPF_PROG_GET_FD_BY_ID: "prog_id",
    BpfCmd.BPF_MAP_GET_FD_BY_ID: "open_flags",
    BpfCmd.BPF_OBJ_GET_INFO_BY_FD: "info.info",
    BpfCmd.BPF_PROG_QUERY: "query.revision",
    BpfCmd.BPF_RAW_TRACEPOINT_OPEN: "raw_tracepoint.cookie",
    BpfCmd.BPF_BTF_LOAD: "btf_token_fd",
    BpfCmd.BPF_BTF_GET_FD_BY_ID: "fd_by_id_token_fd",
    BpfCmd.BPF_TASK_FD_QUERY: "task_fd_query.probe_addr",
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM: "flags",
    BpfCmd.BPF_MAP_FREEZE: "map_fd",
    BpfCmd.BPF_BTF_GET_NEXT_ID: "next_id",
    BpfCmd.BPF_MAP_LOOKUP_BATCH: "batch.flags",
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH: "batch.flags",
    BpfCmd.BPF_MAP_UPDATE_BATCH: "batch.flags",
    BpfCmd.BPF_MAP_DELETE_BATCH: "batch.flags",
    BpfCmd.BPF_LINK_CREATE: "link_create.uprobe_multi.pid",
    BpfCmd.BPF_LINK_UPDATE: "link_update.old_prog_fd",
    BpfCmd.BPF_LINK_GET_FD_BY_ID: "link_id",
    BpfCmd.BPF_LINK_GET_NEXT_ID: "next_id",
    BpfCmd.BPF_ENABLE_STATS: "enable_stats.type",
    BpfCmd.BPF_ITER_CREATE: "iter_create.flags",
    BpfCmd.BPF_LINK_DETACH: "link_detach.link_fd",
    BpfCmd.BPF_PROG_BIND_MAP: "prog_bind_map.flags",
    BpfCmd.BPF_TOKEN_CREATE: "token_create.bpffs_fd",
    BpfCmd.BPF_PROG_STREAM_READ_BY_FD: "prog_stream_read.prog_fd",
}

LAST_FIELD_END: dict[BpfCmd, int] = {
    cmd: abi.offsetofend("union bpf_attr", name) for cmd, name in LAST_FIELD.items()}


def _cmd(cmd: int) -> BpfCmd:
    try:
        return BpfCmd(int(cmd))
    except ValueError:
        raise BpfError(errno.EINVAL, f"unknown bpf command {cmd}") from None


def last_field_end(cmd: int) -> int:
    """offsetofend(union bpf_attr, CMD_LAST_FIELD); EINVAL for an unknown command."""
    return LAST_FIELD_END[_cmd(cmd)]


def bpf_check_uarg_tail_zero(src, expected_size: int, actual_size: int) -> None:
    """kernel/bpf/syscall.c ``bpf_check_uarg_tail_zero``: the user passed ``actual_size`` bytes of a
    struct the kernel knows as ``expected_size`` bytes. ``src`` is the user's bytes (bytes-like;
    shorter than ``actual_size`` means the user memory ends there) or a user address (int, read
    with uaccess). Raises E2BIG for ``actual_size > PAGE_SIZE`` or a non-zero byte past
    ``expected_size``, EFAULT if that tail cannot be read. Also used for the info structs of
    BPF_OBJ_GET_INFO_BY_FD."""
    if actual_size > PAGE_SIZE:
        raise BpfError(errno.E2BIG, f"size {actual_size} is larger than a page")
    if actual_size <= expected_size:
        return
    tail_len = actual_size - expected_size
    if isinstance(src, int):
        tail = uaccess.copy_from_user(src + expected_size, tail_len)
    else:
        tail = bytes(src[expected_size:actual_size])
        if len(tail) < tail_len:
            raise BpfError(errno.EFAULT, "attr tail is not readable")
    if any(tail):
        raise BpfError(errno.E2BIG, f"non-zero byte at offset "
                                    f"{expected_size + next(i for i, b in enumerate(tail) if b)} "
                                    f"past the kernel's {expected_size}-byte struct")


def copy_attr(raw, size: int):
    """The entry of ``__sys_bpf`` for an attr given as bytes: the tail rule, then a zero-filled
    ``union bpf_attr *`` with ``min(size, 168)`` bytes of ``raw`` copied in. ``raw`` shorter than
    ``min(size, 168)`` is EFAULT (the user memory ends there)."""
    size = int(size) & 0xFFFFFFFF          # the syscall's size is an unsigned int
    bpf_check_uarg_tail_zero(raw, BPF_ATTR_SIZE, size)
    n = min(size, BPF_ATTR_SIZE)
    head = bytes(raw[:n])
    if len(head) < n:
        raise BpfError(errno.EFAULT, f"attr has {len(head)} bytes, size says {size}")
    return abi.attr_from_bytes(head)


def copy_attr_from_user(uaddr: int, size: int):
    """``copy_attr`` for an attr at a user address (a real address of this process)."""
    size = int(size) & 0xFFFFFFFF
    bpf_check_uarg_tail_zero(uaddr, BPF_ATTR_SIZE, size)
    n = min(size, BPF_ATTR_SIZE)
    return abi.attr_from_bytes(uaccess.copy_from_user(uaddr, n) if n else b"")


def _attr_bytes(attr) -> bytes:
    if isinstance(attr, (bytes, bytearray, memoryview)):
        return bytes(attr[:BPF_ATTR_SIZE]).ljust(BPF_ATTR_SIZE, b"\0")
    return abi.to_bytes(attr)


def CHECK_ATTR(cmd: int, attr) -> bool:  # noqa: N802  (the kernel's macro name)
    """The kernel's CHECK_ATTR(CMD): True when a byte after the command's last field is non-zero
    (the handler then returns EINVAL). ``attr`` is a ``union bpf_attr *`` or its bytes."""
    end = last_field_end(cmd)
    return any(_attr_bytes(attr)[end:])


def check_attr(cmd: int, attr) -> bool:
    """Raise BpfError(EINVAL) for an unknown command or a non-zero byte past the command's last
    field; return True otherwise (the attr is clean for this command)."""
    if CHECK_ATTR(cmd, attr):
        data = _attr_bytes(attr)
        end = last_field_end(cmd)
        off = end + next(i for i, b in enumerate(data[end:]) if b)
        raise BpfError(errno.EINVAL, f"{_cmd(cmd).name}: non-zero byte at offset {off}, past "
                                     f"{LAST_FIELD[_cmd(cmd)]} (ends at {end})")
    return True


def sys_bpf_entry(cmd: int, raw, size: int):
    """The whole generic entry, in the kernel's order: tail/size rules (E2BIG, EFAULT), copy,
    unknown command (EINVAL), CHECK_ATTR (EINVAL). Returns ``(BpfCmd, union bpf_attr *)``.
    ``raw`` is bytes-like or a user address (int). (Handlers that check capabilities before
    CHECK_ATTR, like BPF_PROG_QUERY, should call copy_attr and check_attr themselves.)"""
    attr = copy_attr_from_user(raw, size) if isinstance(raw, int) else copy_attr(raw, size)
    c = _cmd(cmd)
    check_attr(c, attr)
    return c, attr


__all__ = ["BPF_ATTR_SIZE", "LAST_FIELD", "LAST_FIELD_END", "last_field_end",
           "bpf_check_uarg_tail_zero", "copy_attr", "copy_attr_from_user", "CHECK_ATTR",
           "check_attr", "sys_bpf_entry"]
