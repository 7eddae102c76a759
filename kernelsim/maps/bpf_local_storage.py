"""Local storage: one value per (map, owner object) (kernel/bpf/bpf_local_storage.c).

Task, socket, inode and cgroup storage maps keep, for each owner that has one, a value of
``value_size`` bytes; the map itself has no entries of its own (max_entries must be 0). Here a
``LocalStorage`` maps an owner key (the simulated object: a TaskStruct for task storage) to the
value's Region in kernel memory (owned by the map, so a program's pointer into it is a map value
as the verifier says). The owner-specific modules (bpf_task_storage.py) turn keys into owners.

Create rules (bpf_local_storage_map_alloc_check, probed on 6.18.44): flags only
BPF_F_NO_PREALLOC (required) and BPF_F_CLONE; max_entries 0; key_size 4; value_size > 0 (EINVAL);
a BTF key and value type (EINVAL); value_size above BPF_LOCAL_STORAGE_MAX_VALUE_SIZE, 65407 =
U16_MAX - sizeof(struct bpf_local_storage_elem) (E2BIG). The BTF key must be a 32-bit INT of
either sign (bpf_local_storage_map_check_btf: EINVAL).

Updates (bpf_local_storage_update): flags above BPF_EXIST, or BPF_F_LOCK without a bpf_spin_lock
in the value: EINVAL; BPF_NOEXIST on an existing value: EEXIST; BPF_EXIST on a missing one:
ENOENT. A new value replaces the old one in place here (Linux allocates a new element; a
program's pointer to the old value would then see stale data there, here it sees the new one).
"""

import errno

from ..errors import BpfError
from ..uapi import BpfMapFlags as F
from .map import BpfMap

BPF_LOCAL_STORAGE_CREATE_FLAG_MASK = int(F.BPF_F_NO_PREALLOC | F.BPF_F_CLONE)
SIZEOF_BPF_LOCAL_STORAGE_ELEM = 128
BPF_LOCAL_STORAGE_MAX_VALUE_SIZE = 0xFFFF - SIZEOF_BPF_LOCAL_STORAGE_ELEM   # 65407 (probed)
BPF_LOCAL_STORAGE_GET_F_CREATE = 1
BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK = 0, 1, 2, 4


class LocalStorage:
    """The map's values: owner key -> value Region (invented; the kernel links elements into
    both the owner's bpf_local_storage and the map's buckets)."""

    def __init__(self):
        self.values: dict = {}


def bpf_local_storage_map_alloc_check(attr) -> None:
    """Called from syscall (map_create), before any capability check. EINVAL: flags, entries,
    sizes or missing BTF; E2BIG: value_size above the limit."""
    if (attr.map_flags & ~BPF_LOCAL_STORAGE_CREATE_FLAG_MASK
            or not attr.map_flags & F.BPF_F_NO_PREALLOC
            or attr.max_entries
            or attr.key_size != 4 or not attr.value_size
            or not attr.btf_key_type_id or not attr.btf_value_type_id):
        raise BpfError(errno.EINVAL, "local storage: BPF_F_NO_PREALLOC, max_entries 0, an int key "
                                     "and BTF are required")
    if attr.value_size > BPF_LOCAL_STORAGE_MAX_VALUE_SIZE:
        raise BpfError(errno.E2BIG, "local storage value too large")


def bpf_local_storage_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall."""
    map = BpfMap(kernel, attr, None)
    map.data = LocalStorage()
    return map


def bpf_local_storage_map_check_btf(map, btf, key_type, value_type) -> None:
    """Called from syscall (map_create with BTF): btf_type_is_i32(key). EINVAL."""
    from btf import BTF_KIND_INT
    if key_type is None or key_type.kind != BTF_KIND_INT or key_type.bits_offset \
            or key_type.nr_bits != 32:
        raise BpfError(errno.EINVAL, "local storage key must be a 32-bit int")


def bpf_local_storage_map_free(map) -> None:
    """Called when the last reference goes: every value goes with the map (BpfMap.free unmaps
    the Regions)."""
    map.data.values.clear()


def bpf_local_storage_lookup(map, owner) -> int:
    """Called from a program or syscall: the address of ``owner``'s value, 0 if it has none."""
    region = map.data.values.get(owner)
    return region.start if region is not None else 0


def bpf_local_storage_update(map, owner, value: bytes | None, flags: int) -> int:
    """Called from a program (get with F_CREATE: BPF_NOEXIST) or syscall: store ``value``
    (None: zeroes) as ``owner``'s value; returns its address. EINVAL, EEXIST, ENOENT."""
    if (flags & ~BPF_F_LOCK) > BPF_EXIST or (
            flags & BPF_F_LOCK and not (map.record and "spin_lock" in map.record)):
        raise BpfError(errno.EINVAL, "bad local storage update flags")
    old = map.data.values.get(owner)
    if old is not None and (flags & ~BPF_F_LOCK) == BPF_NOEXIST:
        raise BpfError(errno.EEXIST, "owner already has a value")
    if old is None and (flags & ~BPF_F_LOCK) == BPF_EXIST:
        raise BpfError(errno.ENOENT, "owner has no value")
    region = old
    if region is None:
        region = map.data.values[owner] = map.area_alloc(map.value_size, "local storage")
    data = bytes(value) if value is not None else bytes(map.value_size)
    region.buf[:map.value_size] = data[:map.value_size].ljust(map.value_size, b"\0")
    return region.start


def bpf_local_storage_delete(map, owner) -> None:
    """Called from a program or syscall. ENOENT: ``owner`` has no value."""
    region = map.data.values.pop(owner, None)
    if region is None:
        raise BpfError(errno.ENOENT, "owner has no value")
    map.area_free(region)


def bpf_local_storage_owner_gone(map, owner) -> None:
    """bpf_task_storage_free & co: the owner went away, its value goes with it."""
    region = map.data.values.pop(owner, None)
    if region is not None:
        map.area_free(region)
