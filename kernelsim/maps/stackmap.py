"""Stack trace maps: the STACK_TRACE ops table (kernel/bpf/stackmap.c).

bpf_get_stackid stores a call chain (a list of instruction pointers the tracing code collects)
under a 32-bit id: ``jhash2(ips, seed 0) & (n_buckets - 1)`` with ``n_buckets =
roundup_pow_of_two(max_entries)``, as the kernel computes it, so ids match Linux's for the same
addresses. A different stack already in that bucket gives EEXIST unless BPF_F_REUSE_STACKID
replaces it; BPF_F_FAST_STACK_CMP trusts a matching hash. At most ``max_entries`` stacks are
stored (ENOMEM after that).

From the syscall: lookup copies the ips (zero-padded to value_size), delete removes a bucket
(ENOENT if empty, E2BIG past the end), get_next_key walks the non-empty ids, update is EINVAL.
The value is u64 ips (BPF_F_STACK_BUILD_ID's 32-byte records are accepted at create time;
build-id resolution is not modelled: records hold status BPF_STACK_BUILD_ID_IP and the ip).
"""

import errno

from ..errors import BpfError
from ..uapi import BpfMapFlags
from .jhash import jhash2
from .map import BpfMap, check_memory, roundup_pow_of_two
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

F = BpfMapFlags
STACK_CREATE_FLAG_MASK = int(F.BPF_F_NUMA_NODE | F.BPF_F_RDONLY | F.BPF_F_WRONLY | F.BPF_F_STACK_BUILD_ID)
SIZEOF_BUILD_ID = 32
BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK = 1 << 8
BPF_F_FAST_STACK_CMP = 1 << 9
BPF_F_REUSE_STACKID = 1 << 10
BPF_STACK_BUILD_ID_IP = 2


class BpfStackMap:
    """struct bpf_stack_map: id -> (hash, ips)."""

    def __init__(self, n_buckets: int):
        self.n_buckets = n_buckets
        self.buckets: dict[int, tuple[int, tuple]] = {}


def _data_size(map) -> int:
    return SIZEOF_BUILD_ID if map.map_flags & F.BPF_F_STACK_BUILD_ID else 8


def stack_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall (no alloc_check: after the CAP_BPF check). EINVAL: unknown flags,
    max_entries 0, key_size != 4, value_size not a positive multiple of 8 (of 32 with
    BPF_F_STACK_BUILD_ID) or deeper than kernel.perf_event_max_stack; E2BIG: max_entries > 2^31."""
    if attr.map_flags & ~STACK_CREATE_FLAG_MASK:
        raise BpfError(errno.EINVAL, "invalid stack map flags")
    vs = attr.value_size
    if attr.max_entries == 0 or attr.key_size != 4 or vs < 8 or vs % 8:
        raise BpfError(errno.EINVAL, "invalid stack map attributes")
    max_stack = kernel.sysctl["kernel.perf_event_max_stack"]
    if attr.map_flags & F.BPF_F_STACK_BUILD_ID:
        if vs % SIZEOF_BUILD_ID or vs // SIZEOF_BUILD_ID > max_stack:
            raise BpfError(errno.EINVAL, "invalid build-id stack map value size")
    elif vs // 8 > max_stack:
        raise BpfError(errno.EINVAL, "stack deeper than kernel.perf_event_max_stack")
    if attr.max_entries > 1 << 31:
        raise BpfError(errno.E2BIG, "max_entries above 2^31")
    n_buckets = roundup_pow_of_two(attr.max_entries)
    check_memory(n_buckets * 8 + attr.max_entries * (vs + 16))
    map = BpfMap(kernel, attr, None)
    map.data = BpfStackMap(n_buckets)
    return map


def stack_map_get_stackid(map, ips, flags: int) -> int:
    """Called from bpf_get_stackid with the whole call chain (innermost first). EINVAL: unknown
    flags; EFAULT: skipping at least the whole chain; EEXIST: the bucket holds another stack (no
    BPF_F_REUSE_STACKID); ENOMEM: max_entries stacks stored."""
    if flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID):
        raise BpfError(errno.EINVAL, "unknown get_stackid flags")
    skip = flags & BPF_F_SKIP_FIELD_MASK
    if len(ips) <= skip:
        raise BpfError(errno.EFAULT, "skipping past the end of the stack")
    max_depth = map.value_size // _data_size(map)
    trace = tuple(int(ip) & (2**64 - 1) for ip in ips[skip:skip + max_depth])
    words = []
    for ip in trace:
        words += [ip & 0xFFFFFFFF, ip >> 32]
    h = jhash2(words, 0)
    sid = h & (map.data.n_buckets - 1)
    old = map.data.buckets.get(sid)
    if old is not None and old[0] == h and flags & BPF_F_FAST_STACK_CMP:
        return sid
    if old is not None and old[0] == h and old[1] == trace:
        return sid
    if old is not None and not flags & BPF_F_REUSE_STACKID:
        raise BpfError(errno.EEXIST, "stack id taken by another stack")
    if old is None and len(map.data.buckets) >= map.max_entries:
        raise BpfError(errno.ENOMEM, "stack map is full")
    map.data.buckets[sid] = (h, trace)
    return sid


def _id(key: bytes) -> int:
    return int.from_bytes(bytes(key[:4]), "little")


def _value(map, trace) -> bytes:
    if map.map_flags & F.BPF_F_STACK_BUILD_ID:
        out = b"".join(BPF_STACK_BUILD_ID_IP.to_bytes(4, "little") + bytes(20) + ip.to_bytes(8, "little")
                       for ip in trace)
    else:
        out = b"".join(ip.to_bytes(8, "little") for ip in trace)
    return out.ljust(map.value_size, b"\0")


def bpf_stackmap_copy(map, key: bytes, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_ELEM). ENOENT: no stack under that id."""
    entry = map.data.buckets.get(_id(key))
    if entry is None:
        raise BpfError(errno.ENOENT, "no stack with that id")
    return _value(map, entry[1])


def stack_map_lookup_and_delete_elem(map, key: bytes, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_AND_DELETE_ELEM, bpf_stackmap_extract with delete)."""
    value = bpf_stackmap_copy(map, key, flags)
    del map.data.buckets[_id(key)]
    return value


def stack_map_get_next_key(map, key: bytes | None) -> bytes:
    """Called from syscall: the next non-empty id (from 0 when ``key`` is None, past the end or
    empty); ENOENT at the end."""
    sm = map.data
    if key is None:
        start = 0
    else:
        sid = _id(key)
        start = 0 if sid >= sm.n_buckets or sid not in sm.buckets else sid + 1
    later = [i for i in sm.buckets if i >= start]
    if not later:
        raise BpfError(errno.ENOENT, "no more stacks")
    return min(later).to_bytes(4, "little")


def stack_map_update_elem(map, key, value, flags) -> None:
    """EINVAL: stacks are only stored by bpf_get_stackid."""
    raise BpfError(errno.EINVAL, "stack maps cannot be updated")


def stack_map_delete_elem(map, key: bytes) -> None:
    """Called from syscall. E2BIG: id past n_buckets; ENOENT: empty."""
    sid = _id(key)
    if sid >= map.data.n_buckets:
        raise BpfError(errno.E2BIG, "id past the last bucket")
    if map.data.buckets.pop(sid, None) is None:
        raise BpfError(errno.ENOENT, "no stack with that id")


stack_trace_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc=stack_map_alloc,
    map_get_next_key=stack_map_get_next_key,
    map_update_elem=stack_map_update_elem,
    map_delete_elem=stack_map_delete_elem,
    map_copy_value=bpf_stackmap_copy,
    map_lookup_and_delete_elem=stack_map_lookup_and_delete_elem,
    map_get_stackid=stack_map_get_stackid,
)
