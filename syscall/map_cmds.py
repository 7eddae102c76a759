"""The map commands: MAP_CREATE, LOOKUP/UPDATE/DELETE_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM,
FREEZE and the four batch commands (kernel/bpf/syscall.c map_create, map_lookup_elem,
map_update_elem, map_delete_elem, map_get_next_key, map_lookup_and_delete_elem, map_freeze,
bpf_map_do_batch). The checks run in the order of Linux 6.18; each refusal names its errno.

Permission model (>= 6.5, reference/bpf-syscall.md 2.2, 2.4): kernel.unprivileged_bpf_disabled
blocks only object creation (MAP_CREATE, PROG_LOAD) for callers without CAP_BPF/CAP_SYS_ADMIN;
some map types need CAP_BPF or CAP_NET_ADMIN regardless; a type's attribute checks
(map_alloc_check) come before any capability check.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_objects import FMODE_READ, FMODE_WRITE
from kernelsim.errors import BpfError
from kernelsim.maps import BPF_MAP_TYPES, MapCreateAttr, bpf_map_value_size
from kernelsim.maps.map import (BpfBatchArgs, bpf_map_copy_value, bpf_map_update_value,
                                map_has_spin_lock)
from kernelsim.maps.map_btf import map_check_btf
from kernelsim.uapi import ENOTSUPP, BpfCmd, BpfMapFlags, BpfMapType as T, BpfUpdateFlags

from . import uaccess
from .common import (USER, SysCtx, bpf_get_file_flag, bpf_map_get, bpf_map_new_fd,
                     bpf_obj_name_cpy, bpf_token_capable, fdget, bpf_token_get_from_fd, btf_get_by_fd,
                     copy_key, map_get_sys_perms)

BPF_F_LOCK = BpfUpdateFlags.BPF_F_LOCK
NR_NODE_IDS = 1                   # one NUMA node
SHA256_DIGEST_SIZE = 32

UNPRIVILEGED_TYPES = frozenset({
    T.BPF_MAP_TYPE_ARRAY, T.BPF_MAP_TYPE_PERCPU_ARRAY, T.BPF_MAP_TYPE_PROG_ARRAY,
    T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, T.BPF_MAP_TYPE_CGROUP_ARRAY, T.BPF_MAP_TYPE_ARRAY_OF_MAPS,
    T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_PERCPU_HASH, T.BPF_MAP_TYPE_HASH_OF_MAPS,
    T.BPF_MAP_TYPE_RINGBUF, T.BPF_MAP_TYPE_USER_RINGBUF, T.BPF_MAP_TYPE_CGROUP_STORAGE,
    T.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE})
NET_ADMIN_TYPES = frozenset({T.BPF_MAP_TYPE_SOCKMAP, T.BPF_MAP_TYPE_SOCKHASH, T.BPF_MAP_TYPE_DEVMAP,
                             T.BPF_MAP_TYPE_DEVMAP_HASH, T.BPF_MAP_TYPE_XSKMAP})
# every other type needs CAP_BPF (map_create's switch)


class TaskFiles:
    """The caller's fd table as the map types see it (an fd map's update, bpf_map_meta_alloc):
    ``get(fd)`` is fdget, so fds 0-2 are the task's stdio, a file that is no BPF object."""

    def __init__(self, ctx: SysCtx):
        self.ctx = ctx

    def get(self, fd: int):
        return fdget(self.ctx, fd)


def _create_attr(ctx: SysCtx, map_flags: int) -> MapCreateAttr:
    a = ctx.attr
    return MapCreateAttr(
        map_type=a.map_type, key_size=a.key_size, value_size=a.value_size, max_entries=a.max_entries,
        map_flags=map_flags, inner_map_fd=a.inner_map_fd, numa_node=a.numa_node,
        map_name=ctx.raw("map_name"), map_ifindex=a.map_ifindex, btf_fd=a.btf_fd,
        btf_key_type_id=a.btf_key_type_id, btf_value_type_id=a.btf_value_type_id,
        btf_vmlinux_value_type_id=a.btf_vmlinux_value_type_id, map_extra=a.map_extra,
        value_type_btf_obj_fd=a.value_type_btf_obj_fd, map_token_fd=a.map_token_fd,
        cred=ctx.cred, ncpus=ctx.kernel.ncpus, files=TaskFiles(ctx))


def map_create(ctx: SysCtx) -> int:
    """BPF_MAP_CREATE -> a new map fd. EINVAL: attribute errors (in the kernel's order below);
    EPERM: the sysctl or the type's capability; ENOMEM/E2BIG from allocation; EBADF/EINVAL/EACCES
    for the BTF fd; EFAULT for excl_prog_hash."""
    a = ctx.attr
    token_flag = a.map_flags & BpfMapFlags.BPF_F_TOKEN_FD
    map_flags = a.map_flags & ~int(BpfMapFlags.BPF_F_TOKEN_FD)
    if a.btf_vmlinux_value_type_id:
        if a.map_type != T.BPF_MAP_TYPE_STRUCT_OPS or a.btf_key_type_id or a.btf_value_type_id:
            raise BpfError(errno.EINVAL, "btf_vmlinux_value_type_id is for struct_ops maps only")
    elif a.btf_key_type_id and not a.btf_value_type_id:
        raise BpfError(errno.EINVAL, "btf_key_type_id without btf_value_type_id")
    if a.map_type not in (T.BPF_MAP_TYPE_BLOOM_FILTER, T.BPF_MAP_TYPE_ARENA) and a.map_extra:
        raise BpfError(errno.EINVAL, "map_extra is for bloom filters and arenas only")
    f_flags = bpf_get_file_flag(map_flags)
    if map_flags & BpfMapFlags.BPF_F_NUMA_NODE:
        node = a.numa_node if a.numa_node < 0x80000000 else a.numa_node - (1 << 32)
        if node != -1 and not 0 <= node < NR_NODE_IDS:
            raise BpfError(errno.EINVAL, f"NUMA node {node} is not online")
    try:
        map_type = T(a.map_type)
    except ValueError:
        raise BpfError(errno.EINVAL, f"unknown map type {a.map_type}") from None
    if map_type == T.BPF_MAP_TYPE_UNSPEC:
        raise BpfError(errno.EINVAL, "BPF_MAP_TYPE_UNSPEC")
    ops = BPF_MAP_TYPES.get(map_type)
    attr = _create_attr(ctx, map_flags)
    if ops is not None and ops.map_alloc_check is not None:
        ops.map_alloc_check(attr)
    if token_flag:
        bpf_token_get_from_fd(ctx, a.map_token_fd)
    if ctx.kernel.sysctl["kernel.unprivileged_bpf_disabled"] and not bpf_token_capable(ctx, "CAP_BPF"):
        raise BpfError(errno.EPERM, "unprivileged BPF is disabled")
    if map_type in NET_ADMIN_TYPES:
        if not bpf_token_capable(ctx, "CAP_NET_ADMIN"):
            raise BpfError(errno.EPERM, f"{map_type.name} needs CAP_NET_ADMIN")
    elif map_type not in UNPRIVILEGED_TYPES and not bpf_token_capable(ctx, "CAP_BPF"):
        raise BpfError(errno.EPERM, f"{map_type.name} needs CAP_BPF")
    if ops is None:
        # a 6.18 map type kernelsim does not simulate: refused after the permission checks, so
        # an unprivileged caller still sees Linux's EPERM
        raise BpfError(errno.EINVAL, f"map type {map_type.name} is not simulated")
    if a.map_ifindex:
        # bpf_map_offload_map_alloc: there are no offload-capable devices
        if not ctx.cred.capable("CAP_SYS_ADMIN"):
            raise BpfError(errno.EPERM, "map offload needs CAP_SYS_ADMIN")
        raise BpfError(errno.EINVAL, f"no offload device with ifindex {a.map_ifindex}")
    map = ops.map_alloc(ctx.kernel, attr)
    map.ops = ops
    map.map_type = map_type
    try:
        map.name = bpf_obj_name_cpy(attr.map_name)
        if a.btf_key_type_id or a.btf_value_type_id or a.btf_vmlinux_value_type_id:
            btf = btf_get_by_fd(ctx, a.btf_fd)
            if btf.kernel_btf:
                btf.put()
                raise BpfError(errno.EACCES, "kernel BTF cannot describe a map")
            map.btf = btf
            if a.btf_value_type_id:
                map_check_btf(map, btf, a.btf_key_type_id, a.btf_value_type_id, ctx.cred)
            map.btf_key_type_id = a.btf_key_type_id
            map.btf_value_type_id = a.btf_value_type_id
        if a.excl_prog_hash:
            if a.excl_prog_hash_size != SHA256_DIGEST_SIZE:
                raise BpfError(errno.EINVAL, "excl_prog_hash_size must be 32")
            map.excl_prog_sha = uaccess.copy_from_user(a.excl_prog_hash, SHA256_DIGEST_SIZE)
        elif a.excl_prog_hash_size:
            raise BpfError(errno.EINVAL, "excl_prog_hash_size without excl_prog_hash")
        map.alloc_id()
    except BaseException:
        map.put()
        raise
    ctx.log_fields["map_id"] = map.id
    return bpf_map_new_fd(ctx, map, f_flags)


def _check_lock_flag(map, flags: int) -> None:
    if flags & BPF_F_LOCK and not map_has_spin_lock(map):
        raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map without bpf_spin_lock")


def map_lookup_elem(ctx: SysCtx) -> int:
    """BPF_MAP_LOOKUP_ELEM. EINVAL: flags beyond BPF_F_LOCK; EBADF/EINVAL: map_fd; EPERM: no read
    access; EFAULT; ENOENT: no element; ENOTSUPP: ringbuf and types without syscall lookup."""
    a = ctx.attr
    if a.flags & ~int(BPF_F_LOCK):
        raise BpfError(errno.EINVAL, "lookup flags may only hold BPF_F_LOCK")
    map, file = bpf_map_get(ctx, a.map_fd)
    if not map_get_sys_perms(map, file) & FMODE_READ:
        raise BpfError(errno.EPERM, "map fd is not readable")
    _check_lock_flag(map, a.flags)
    key = copy_key(a.key, map.key_size)
    value_size = bpf_map_value_size(map)
    if map.map_type == T.BPF_MAP_TYPE_BLOOM_FILTER:
        value = uaccess.copy_from_user(a.value, value_size)
        map.ops.map_peek_elem(map, value)
        return 0
    value = bpf_map_copy_value(map, key, a.flags)
    uaccess.copy_to_user(a.value, value)
    return 0


def map_update_elem(ctx: SysCtx) -> int:
    """BPF_MAP_UPDATE_ELEM. EPERM: no write access (or frozen); EINVAL: BPF_F_LOCK without a spin
    lock; EFAULT; then the type's errors (EEXIST, ENOENT, E2BIG, EINVAL ...)."""
    a = ctx.attr
    map, file = bpf_map_get(ctx, a.map_fd)
    if not map_get_sys_perms(map, file) & FMODE_WRITE:
        raise BpfError(errno.EPERM, "map fd is not writable (or the map is frozen)")
    _check_lock_flag(map, a.flags)
    key = copy_key(a.key, map.key_size)
    value = uaccess.copy_from_user(a.value, bpf_map_value_size(map))
    bpf_map_update_value(map, key, value, a.flags, TaskFiles(ctx), file)
    return 0


def map_delete_elem(ctx: SysCtx) -> int:
    """BPF_MAP_DELETE_ELEM. EPERM: no write access; EFAULT; then ENOENT / EINVAL (arrays) ..."""
    a = ctx.attr
    map, file = bpf_map_get(ctx, a.map_fd)
    if not map_get_sys_perms(map, file) & FMODE_WRITE:
        raise BpfError(errno.EPERM, "map fd is not writable (or the map is frozen)")
    key = copy_key(a.key, map.key_size)
    if map.ops.map_delete_elem is None:
        raise BpfError(ENOTSUPP, "map type has no delete")
    map.ops.map_delete_elem(map, key)
    return 0


def map_get_next_key(ctx: SysCtx) -> int:
    """BPF_MAP_GET_NEXT_KEY. EPERM: no read access; EFAULT; ENOENT after the last key."""
    a = ctx.attr
    map, file = bpf_map_get(ctx, a.map_fd)
    if not map_get_sys_perms(map, file) & FMODE_READ:
        raise BpfError(errno.EPERM, "map fd is not readable")
    key = copy_key(a.key, map.key_size) if a.key else None
    if map.ops.map_get_next_key is None:
        raise BpfError(ENOTSUPP, "map type has no get_next_key")
    next_key = map.ops.map_get_next_key(map, key)
    uaccess.copy_to_user(a.next_key, next_key)
    return 0


def map_lookup_and_delete_elem(ctx: SysCtx) -> int:
    """BPF_MAP_LOOKUP_AND_DELETE_ELEM. EINVAL: flags beyond BPF_F_LOCK, any flag on a queue or
    stack, BPF_F_LOCK without a spin lock; EPERM: needs read and write access; ENOTSUPP: a type
    other than hash maps, queues and stacks; ENOENT."""
    a = ctx.attr
    if a.flags & ~int(BPF_F_LOCK):
        raise BpfError(errno.EINVAL, "flags may only hold BPF_F_LOCK")
    map, file = bpf_map_get(ctx, a.map_fd)
    perms = map_get_sys_perms(map, file)
    if not perms & FMODE_READ or not perms & FMODE_WRITE:
        raise BpfError(errno.EPERM, "needs a readable and writable map fd")
    if a.flags and map.map_type in (T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK):
        raise BpfError(errno.EINVAL, "no flags for queue/stack pops")
    _check_lock_flag(map, a.flags)
    key = copy_key(a.key, map.key_size)
    if map.ops.map_lookup_and_delete_elem is None:
        raise BpfError(ENOTSUPP, "map type has no lookup_and_delete")
    value = map.ops.map_lookup_and_delete_elem(map, key, a.flags)
    uaccess.copy_to_user(a.value, value)
    return 0


def map_freeze(ctx: SysCtx) -> int:
    """BPF_MAP_FREEZE. ENOTSUPP: struct_ops maps, values with special BTF fields; EPERM: no write
    access (a second freeze lands here: freezing masks write access off every fd); EBUSY: a
    writable mmap is alive, or already frozen."""
    map, file = bpf_map_get(ctx, ctx.attr.map_fd)
    if map.map_type == T.BPF_MAP_TYPE_STRUCT_OPS or map.record:
        raise BpfError(ENOTSUPP, "map cannot be frozen")
    if not map_get_sys_perms(map, file) & FMODE_WRITE:
        raise BpfError(errno.EPERM, "map fd is not writable (or the map is frozen)")
    if map.writecnt:
        raise BpfError(errno.EBUSY, "map has writable mappings")
    if map.frozen:
        raise BpfError(errno.EBUSY, "map is already frozen")
    map.frozen = True
    return 0


BATCH_SLOTS = {
    BpfCmd.BPF_MAP_LOOKUP_BATCH: "map_lookup_batch",
    BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH: "map_lookup_and_delete_batch",
    BpfCmd.BPF_MAP_UPDATE_BATCH: "map_update_batch",
    BpfCmd.BPF_MAP_DELETE_BATCH: "map_delete_batch",
}


def bpf_map_do_batch(ctx: SysCtx) -> int:
    """The four batch commands. EPERM: read (lookups) / write access; ENOTSUPP: the type lacks the
    batch op; then the op's errors. ``batch.count`` is written back with the number processed,
    also on most errors (not when the op faulted before counting)."""
    b = ctx.attr.batch
    cmd = ctx.cmd
    has_read = cmd in (BpfCmd.BPF_MAP_LOOKUP_BATCH, BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH)
    has_write = cmd != BpfCmd.BPF_MAP_LOOKUP_BATCH
    map, file = bpf_map_get(ctx, b.map_fd)
    perms = map_get_sys_perms(map, file)
    if has_read and not perms & FMODE_READ:
        raise BpfError(errno.EPERM, "map fd is not readable")
    if has_write and not perms & FMODE_WRITE:
        raise BpfError(errno.EPERM, "map fd is not writable (or the map is frozen)")
    fn = getattr(map.ops, BATCH_SLOTS[cmd])
    if fn is None:
        raise BpfError(ENOTSUPP, f"map type has no {BATCH_SLOTS[cmd]}")
    args = BpfBatchArgs(in_batch=b.in_batch, out_batch=b.out_batch, keys=b.keys, values=b.values,
                        count=b.count, elem_flags=b.elem_flags, flags=b.flags, files=TaskFiles(ctx),
                        map_file=file)
    try:
        fn(map, args, USER)
    finally:
        if args.written:
            ctx.put_user("batch.count", args.count)
    return 0
