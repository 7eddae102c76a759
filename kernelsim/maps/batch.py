"""The generic batch operations (kernel/bpf/syscall.c generic_map_lookup_batch,
generic_map_update_batch, generic_map_delete_batch): element by element through the type's own
slots. Hash maps have their own bucket-wise lookup batches (hashtab.py).

Called from syscall (BPF_MAP_*_BATCH) with a ``BpfBatchArgs`` (map.py) and a ``UserAccess``;
``args.count`` is set to the number of elements processed, also when an error is raised.

* lookup: ``in_batch`` 0 starts at the first key, otherwise it holds the previous call's last
  key (our cursor is the key itself, as the kernel's generic one); ENOENT when the end is
  reached, possibly with ``count`` > 0.
* update/delete: stop at the first element that fails, its errno is the result.
"""

import errno

from ..errors import BpfError
from ..uapi import BpfUpdateFlags
from .map import bpf_map_copy_value, bpf_map_update_value, bpf_map_value_size, map_has_spin_lock


def check_elem_flags(map, elem_flags: int) -> None:
    """EINVAL: elem_flags other than BPF_F_LOCK, or F_LOCK on a value without a spin lock."""
    if elem_flags & ~int(BpfUpdateFlags.BPF_F_LOCK):
        raise BpfError(errno.EINVAL, "batch elem_flags may only hold BPF_F_LOCK")
    if elem_flags & BpfUpdateFlags.BPF_F_LOCK and not map_has_spin_lock(map):
        raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map without bpf_spin_lock")


def generic_map_lookup_batch(map, args, user) -> None:
    check_elem_flags(map, args.elem_flags)
    value_size = bpf_map_value_size(map)
    max_count = args.count
    if not max_count:
        return
    args.count, args.written = 0, True
    prev_key = user.copy_from_user(args.in_batch, map.key_size) if args.in_batch else None
    cp = 0
    err = None
    while cp < max_count:
        try:
            key = map.ops.map_get_next_key(map, prev_key)
        except BpfError as e:
            err = e
            break
        try:
            value = bpf_map_copy_value(map, key, args.elem_flags)
        except BpfError as e:
            if e.errno == errno.ENOENT:     # deleted under us: the kernel retries, then EINTR
                prev_key = key
                continue
            raise                           # count stays 0, as put_user(0) left it
        user.copy_to_user(args.keys + cp * map.key_size, key)
        user.copy_to_user(args.values + cp * value_size, value)
        prev_key = key
        cp += 1
    args.count = cp
    if cp:
        user.copy_to_user(args.out_batch, prev_key)
    if err is not None:
        raise err


def generic_map_update_batch(map, args, user) -> None:
    check_elem_flags(map, args.elem_flags)
    value_size = bpf_map_value_size(map)
    max_count = args.count
    if not max_count:
        return
    cp = 0
    try:
        while cp < max_count:
            key = user.copy_from_user(args.keys + cp * map.key_size, map.key_size)
            value = user.copy_from_user(args.values + cp * value_size, value_size)
            bpf_map_update_value(map, key, value, args.elem_flags, args.files)
            cp += 1
    finally:
        args.count, args.written = cp, True


def generic_map_delete_batch(map, args, user) -> None:
    check_elem_flags(map, args.elem_flags)
    max_count = args.count
    if not max_count:
        return
    cp = 0
    try:
        while cp < max_count:
            key = user.copy_from_user(args.keys + cp * map.key_size, map.key_size)
            map.ops.map_delete_elem(map, key)
            cp += 1
    finally:
        args.count, args.written = cp, True
