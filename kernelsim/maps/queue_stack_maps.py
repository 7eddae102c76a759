"""Queue and stack maps: the QUEUE and STACK ops tables (kernel/bpf/queue_stack_maps.c).

Keyless FIFO / LIFO of ``max_entries`` values, kept like the kernel in a circular buffer of
``max_entries + 1`` slots (``head`` is the next slot to write, ``tail`` the oldest). Programs use
bpf_map_push_elem / pop / peek; from the syscall, MAP_UPDATE_ELEM pushes, MAP_LOOKUP_ELEM peeks
and MAP_LOOKUP_AND_DELETE_ELEM pops (the key pointer must be NULL: key_size is 0).

push: E2BIG when full, unless BPF_EXIST, which drops the oldest element to make room; BPF_NOEXIST
or unknown flags are EINVAL. pop/peek on an empty map raise ENOENT — the kernel also zeroes the
caller's value buffer then, so a helper writes ``value_size`` zero bytes before returning -ENOENT.
Lookup/update/delete/get_next_key of elements by key are EINVAL.
"""

import dataclasses
import errno

from ..errors import BpfError
from ..uapi import BpfMapType
from .map import (BPF_F_ACCESS_MASK, KMALLOC_MAX_SIZE, BpfMap, bpf_map_flags_access_ok,
                  check_memory)
from .map import bpf_map_meta_equal
from .ops import BpfMapOps
from ..uapi import BpfMapFlags

QUEUE_STACK_CREATE_FLAG_MASK = int(BpfMapFlags.BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)
BPF_NOEXIST, BPF_EXIST = 1, 2


class BpfQueueStack:
    """struct bpf_queue_stack."""

    def __init__(self, size: int, value_size: int):
        self.size = size                       # max_entries + 1
        self.head = 0
        self.tail = 0
        self.elements = [bytes(value_size)] * size

    def is_empty(self) -> bool:
        return self.head == self.tail

    def is_full(self) -> bool:
        return (self.head + 1) % self.size == self.tail


def queue_stack_map_alloc_check(attr) -> None:
    """Called from syscall. EINVAL: max_entries 0, key_size != 0, value_size 0, unknown flags;
    E2BIG: value_size above KMALLOC_MAX_SIZE."""
    if (attr.max_entries == 0 or attr.key_size != 0 or attr.value_size == 0
            or attr.map_flags & ~QUEUE_STACK_CREATE_FLAG_MASK
            or not bpf_map_flags_access_ok(attr.map_flags)):
        raise BpfError(errno.EINVAL, "invalid queue/stack attributes")
    if attr.value_size > KMALLOC_MAX_SIZE:
        raise BpfError(errno.E2BIG, "value_size too large")


def queue_stack_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall. ENOMEM: too large."""
    size = attr.max_entries + 1
    check_memory(size * attr.value_size)
    map = BpfMap(kernel, attr, None)
    map.data = BpfQueueStack(size, attr.value_size)
    return map


def queue_stack_map_push_elem(map, value: bytes, flags: int) -> None:
    """Called from a program or syscall (MAP_UPDATE_ELEM). EINVAL: BPF_NOEXIST or unknown flags;
    E2BIG: full without BPF_EXIST."""
    if flags & BPF_NOEXIST or flags > BPF_EXIST:
        raise BpfError(errno.EINVAL, "invalid push flags")
    qs = map.data
    if qs.is_full():
        if not flags & BPF_EXIST:
            raise BpfError(errno.E2BIG, "queue/stack is full")
        qs.tail = (qs.tail + 1) % qs.size          # overwrite the oldest element
    qs.elements[qs.head] = bytes(value[:map.value_size]).ljust(map.value_size, b"\0")
    qs.head = (qs.head + 1) % qs.size


def _queue_get(map, delete: bool) -> bytes:
    qs = map.data
    if qs.is_empty():
        raise BpfError(errno.ENOENT, "queue is empty")
    value = qs.elements[qs.tail]
    if delete:
        qs.tail = (qs.tail + 1) % qs.size
    return value


def _stack_get(map, delete: bool) -> bytes:
    qs = map.data
    if qs.is_empty():
        raise BpfError(errno.ENOENT, "stack is empty")
    index = (qs.head - 1) % qs.size
    value = qs.elements[index]
    if delete:
        qs.head = index
    return value


def queue_map_peek_elem(map) -> bytes:
    return _queue_get(map, False)


def queue_map_pop_elem(map) -> bytes:
    return _queue_get(map, True)


def stack_map_peek_elem(map) -> bytes:
    return _stack_get(map, False)


def stack_map_pop_elem(map) -> bytes:
    return _stack_get(map, True)


def queue_stack_map_einval(map, *args):
    """Called from a program or syscall: keyed access is EINVAL on queues and stacks."""
    raise BpfError(errno.EINVAL, "queue/stack maps have no keys")


def queue_stack_map_copy_value(map, key, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_ELEM): peek."""
    return map.ops.map_peek_elem(map)


def queue_stack_map_update_value(map, key, value, flags, files=None, map_file=None) -> None:
    """Called from syscall (MAP_UPDATE_ELEM): push."""
    queue_stack_map_push_elem(map, value, flags)


def queue_stack_map_lookup_and_delete_elem(map, key, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_AND_DELETE_ELEM): pop."""
    return map.ops.map_pop_elem(map)


queue_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc_check=queue_stack_map_alloc_check,
    map_alloc=queue_stack_map_alloc,
    map_lookup_elem=None,
    map_update_elem=queue_stack_map_einval,
    map_delete_elem=queue_stack_map_einval,
    map_get_next_key=queue_stack_map_einval,
    map_push_elem=queue_stack_map_push_elem,
    map_pop_elem=queue_map_pop_elem,
    map_peek_elem=queue_map_peek_elem,
    map_copy_value=queue_stack_map_copy_value,
    map_update_value=queue_stack_map_update_value,
    map_lookup_and_delete_elem=queue_stack_map_lookup_and_delete_elem,
)

stack_map_ops = dataclasses.replace(queue_map_ops, map_pop_elem=stack_map_pop_elem,
                                    map_peek_elem=stack_map_peek_elem)
