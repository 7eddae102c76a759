"""Hash maps: the HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH ops tables (kernel/bpf/hashtab.c).

A key hashes (jhash2/jhash with the map's seed ``hashrnd``, 0 under BPF_F_ZERO_SEED, else drawn
from the kernel's seeded rng) to one of ``n_buckets = roundup_pow_of_two(max_entries)`` buckets.
A bucket is a list with the newest element first (hlist_nulls_add_head_rcu), so iteration
(GET_NEXT_KEY, batches, for_each) walks buckets in index order and each bucket newest-first, as
Linux does; with BPF_F_ZERO_SEED the order is Linux's exactly.

Each element's value is its own Region of kernel memory (owner: the map). Replacing the value of
an existing key allocates a new element and puts it at the head of its bucket (the old one goes
back to the free list), as htab_map_update_elem does; per-CPU maps update in place. Deleted
elements' Regions stay mapped and are reused, like the kernel's preallocated free list, so a
program still holding a value pointer reads stale data rather than faulting.

Full maps: inserting a new key when ``max_entries`` elements exist fails with E2BIG (replacing
an existing key is fine). LRU maps instead evict: deterministically the least recently used
element, where program lookups and updates count as uses (syscall lookups do not, as
htab_lru_map_lookup_elem_sys). Linux's LRU is an approximation (per-CPU free lists, second
chance via ref bits, batched shrinking) that can evict before the map is full; we do not model
that (docs/syscall.md, differences).

Per-CPU values: one Region of ``ncpus * round_up(value_size, 8)`` bytes per element; programs get
``start + cpu * stride`` for the current CPU; the syscall side copies all of it.
"""

import bisect
import dataclasses
import errno
from collections import OrderedDict

from ..errors import BpfError
from ..uapi import ENOTSUPP, BpfMapFlags, BpfMapType, BpfUpdateFlags
from .batch import check_elem_flags, generic_map_delete_batch, generic_map_update_batch
from .jhash import jhash_bytes_words
from .map import (BPF_F_ACCESS_MASK, KMALLOC_MAX_SIZE, NUMA_NO_NODE, PCPU_MIN_UNIT_SIZE, BpfMap,
                  bpf_map_attr_numa_node, bpf_map_flags_access_ok, bpf_map_value_size,
                  check_memory, round_up, roundup_pow_of_two)
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

F = BpfMapFlags
HTAB_CREATE_FLAG_MASK = int(F.BPF_F_NO_PREALLOC | F.BPF_F_NO_COMMON_LRU | F.BPF_F_NUMA_NODE
                         | BPF_F_ACCESS_MASK | F.BPF_F_ZERO_SEED)
SIZEOF_HTAB_ELEM = 48       # struct htab_elem on x86-64 (hash node, lru node, hash, then the key)
BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK = 0, 1, 2, 4

PERCPU = (BpfMapType.BPF_MAP_TYPE_PERCPU_HASH, BpfMapType.BPF_MAP_TYPE_LRU_PERCPU_HASH)
LRU = (BpfMapType.BPF_MAP_TYPE_LRU_HASH, BpfMapType.BPF_MAP_TYPE_LRU_PERCPU_HASH)


class HtabElem:
    """struct htab_elem: the key, its hash and the value Region."""

    __slots__ = ("key", "hash", "region")

    def __init__(self, key, hash_, region):
        self.key, self.hash, self.region = key, hash_, region


class Htab:
    """struct bpf_htab: buckets, the element index and the free list."""

    def __init__(self, n_buckets, hashrnd, percpu, lru, prealloc):
        self.n_buckets = n_buckets
        self.hashrnd = hashrnd
        self.percpu, self.lru, self.prealloc = percpu, lru, prealloc
        self.buckets: dict[int, list[HtabElem]] = {}
        self.nonempty: list[int] = []          # sorted indexes of non-empty buckets
        self.elems: dict[bytes, HtabElem] = {}
        self.free: list = []                   # value Regions to reuse
        self.recency: OrderedDict = OrderedDict()   # LRU: key -> None, least recent first


# -- creation ----------------------------------------------------------------------------------


def htab_map_alloc_check(attr) -> None:
    """Called from syscall (map_create), before any capability check.
    EPERM: BPF_F_ZERO_SEED without CAP_SYS_ADMIN; EINVAL: unknown flags, RDONLY_PROG with
    WRONLY_PROG, NO_COMMON_LRU on a non-LRU map, NUMA node on a per-CPU map, zero sizes;
    ENOTSUPP: LRU with BPF_F_NO_PREALLOC; E2BIG: key + value too big for kmalloc, a per-CPU
    value above PCPU_MIN_UNIT_SIZE."""
    percpu = attr.map_type in PERCPU
    lru = attr.map_type in LRU
    percpu_lru = bool(attr.map_flags & F.BPF_F_NO_COMMON_LRU)
    prealloc = not attr.map_flags & F.BPF_F_NO_PREALLOC
    zero_seed = bool(attr.map_flags & F.BPF_F_ZERO_SEED)
    numa_node = bpf_map_attr_numa_node(attr)
    if zero_seed and (attr.cred is None or not attr.cred.capable("CAP_SYS_ADMIN")):
        raise BpfError(errno.EPERM, "BPF_F_ZERO_SEED needs CAP_SYS_ADMIN")
    if attr.map_flags & ~HTAB_CREATE_FLAG_MASK or not bpf_map_flags_access_ok(attr.map_flags):
        raise BpfError(errno.EINVAL, "invalid hash map flags")
    if not lru and percpu_lru:
        raise BpfError(errno.EINVAL, "BPF_F_NO_COMMON_LRU on a non-LRU map")
    if lru and not prealloc:
        raise BpfError(ENOTSUPP, "LRU maps are always preallocated")
    if numa_node != NUMA_NO_NODE and (percpu or percpu_lru):
        raise BpfError(errno.EINVAL, "NUMA node on a per-CPU map")
    if attr.max_entries == 0 or attr.key_size == 0 or attr.value_size == 0:
        raise BpfError(errno.EINVAL, "zero key_size, value_size or max_entries")
    if attr.key_size + attr.value_size >= KMALLOC_MAX_SIZE - SIZEOF_HTAB_ELEM:
        raise BpfError(errno.E2BIG, "key + value too large")
    if percpu and round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE:
        raise BpfError(errno.E2BIG, "per-CPU value above PCPU_MIN_UNIT_SIZE")


def htab_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall. E2BIG: max_entries above 2^31; ENOMEM: preallocation too large."""
    percpu = attr.map_type in PERCPU
    lru = attr.map_type in LRU
    percpu_lru = bool(attr.map_flags & F.BPF_F_NO_COMMON_LRU)
    prealloc = not attr.map_flags & F.BPF_F_NO_PREALLOC
    max_entries = attr.max_entries
    ncpus = kernel.ncpus
    if percpu_lru:
        # each CPU's LRU list gets the same number (>= 1) of elements
        rounded = -(-max_entries // ncpus) * ncpus
        max_entries = rounded if rounded <= 0xFFFFFFFF else max_entries // ncpus * ncpus
    if max_entries > 1 << 31:
        raise BpfError(errno.E2BIG, "max_entries above 2^31")
    n_buckets = roundup_pow_of_two(max_entries)
    elem_size = SIZEOF_HTAB_ELEM + round_up(attr.key_size, 8) + (8 if percpu else round_up(attr.value_size, 8))
    check_memory(n_buckets * 16)
    if prealloc:
        check_memory(max_entries * elem_size)
        if percpu:
            check_memory(max_entries * round_up(attr.value_size, 8) * ncpus)
    map = BpfMap(kernel, attr, None)
    map.max_entries = max_entries
    hashrnd = 0 if attr.map_flags & F.BPF_F_ZERO_SEED else kernel.rng.getrandbits(32)
    map.data = Htab(n_buckets, hashrnd, percpu, lru, prealloc)
    return map


def htab_map_free(map) -> None:
    """Called when the last reference goes: the Regions are unmapped by BpfMap.free."""
    map.data.elems.clear()
    map.data.buckets.clear()


# -- internals ---------------------------------------------------------------------------------


def _hash(htab: Htab, key: bytes) -> int:
    return jhash_bytes_words(key, htab.hashrnd)


def _bucket_index(htab: Htab, h: int) -> int:
    return h & (htab.n_buckets - 1)


def _value_bytes(map) -> int:
    return map.percpu_value_size * map.ncpus if map.data.percpu else map.value_size


def _new_region(map):
    htab = map.data
    if htab.free:
        return htab.free.pop()
    return map.area_alloc(_value_bytes(map), "hash value")


def _link(map, elem: HtabElem) -> None:
    htab = map.data
    idx = _bucket_index(htab, elem.hash)
    bucket = htab.buckets.get(idx)
    if bucket is None:
        bucket = htab.buckets[idx] = []
        bisect.insort(htab.nonempty, idx)
    bucket.insert(0, elem)
    htab.elems[elem.key] = elem
    if htab.lru:
        htab.recency[elem.key] = None
        htab.recency.move_to_end(elem.key)


def _unlink(map, elem: HtabElem, recycle: bool = True) -> None:
    htab = map.data
    idx = _bucket_index(htab, elem.hash)
    bucket = htab.buckets[idx]
    bucket.remove(elem)
    if not bucket:
        del htab.buckets[idx]
        del htab.nonempty[bisect.bisect_left(htab.nonempty, idx)]
    del htab.elems[elem.key]
    if htab.lru:
        htab.recency.pop(elem.key, None)
    if recycle:
        htab.free.append(elem.region)


def _check_flags(elem, flags: int) -> None:
    """check_flags: EEXIST for BPF_NOEXIST on a present key, ENOENT for BPF_EXIST on a missing one."""
    f = flags & ~int(BPF_F_LOCK)
    if elem is not None and f == BPF_NOEXIST:
        raise BpfError(errno.EEXIST, "element exists")
    if elem is None and f == BPF_EXIST:
        raise BpfError(errno.ENOENT, "no such element")


def _alloc_elem(map, key: bytes, h: int, old) -> HtabElem:
    """alloc_htab_elem: E2BIG when a new key would exceed max_entries (LRU: evict instead)."""
    htab = map.data
    if old is None and len(htab.elems) >= map.max_entries:
        if not htab.lru:
            raise BpfError(errno.E2BIG, "hash map is full")
        victim = next(iter(htab.recency))
        _unlink(map, htab.elems[victim])
    return HtabElem(key, h, _new_region(map))


def _touch(map, key: bytes) -> None:
    if map.data.lru:
        map.data.recency.move_to_end(key)


def _write_value(map, region, value: bytes, onallcpus: bool) -> None:
    if not map.data.percpu:
        region.buf[:map.value_size] = value[:map.value_size]
        return
    stride = map.percpu_value_size
    if onallcpus:
        region.buf[:] = value[:stride * map.ncpus].ljust(stride * map.ncpus, b"\0")
        return
    cpu = map.kernel.current_cpu
    for c in range(map.ncpus):           # pcpu_init_value: this CPU gets the value, others zero
        region.buf[c * stride:(c + 1) * stride] = (value[:stride].ljust(stride, b"\0") if c == cpu
                                                   else bytes(stride))


def _lookup(map, key: bytes):
    return map.data.elems.get(bytes(key))


# -- element ops -------------------------------------------------------------------------------


def htab_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program or syscall: the value's address, or 0."""
    elem = map.data.elems.get(key if key.__class__ is bytes else bytes(key))   # _lookup
    return elem.region.start if elem is not None else 0


def htab_lru_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program: like the plain lookup, and marks the element used."""
    elem = _lookup(map, key)
    if elem is None:
        return 0
    _touch(map, elem.key)
    return elem.region.start


def htab_lru_map_copy_value(map, key: bytes, flags: int) -> bytes:
    """Called from syscall (htab_lru_map_lookup_elem_sys): does not count as a use."""
    elem = _lookup(map, key)
    if elem is None:
        raise BpfError(errno.ENOENT, "no such element")
    return bytes(elem.region.buf[:map.value_size])


def htab_percpu_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program: the address of the current CPU's copy, or 0."""
    return htab_percpu_map_lookup_percpu_elem(map, key, map.kernel.current_cpu)


def htab_lru_percpu_map_lookup_elem(map, key: bytes) -> int:
    elem = _lookup(map, key)
    if elem is None:
        return 0
    _touch(map, elem.key)
    return elem.region.start + map.kernel.current_cpu * map.percpu_value_size


def htab_percpu_map_lookup_percpu_elem(map, key: bytes, cpu: int) -> int:
    """Called from a program (bpf_map_lookup_percpu_elem): 0 for a CPU that does not exist."""
    if not 0 <= cpu < map.ncpus:
        return 0
    elem = _lookup(map, key)
    return elem.region.start + cpu * map.percpu_value_size if elem is not None else 0


def htab_map_update_elem(map, key: bytes, value: bytes, flags: int) -> None:
    """Called from a program or syscall. EINVAL: unknown flags, BPF_F_LOCK without a spin lock;
    EEXIST/ENOENT: BPF_NOEXIST/BPF_EXIST; E2BIG: full. A replaced key moves to its bucket's head."""
    if (flags & ~int(BPF_F_LOCK)) > BPF_EXIST:
        raise BpfError(errno.EINVAL, "unknown update flags")
    key = bytes(key)
    if flags & BPF_F_LOCK and not (map.record and "spin_lock" in map.record):
        raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map without bpf_spin_lock")
    old = _lookup(map, key)
    _check_flags(old, flags)
    if old is not None and flags & BPF_F_LOCK:
        _write_value(map, old.region, value, False)      # in place, under the element's lock
        return
    h = old.hash if old is not None else _hash(map.data, key)
    new = _alloc_elem(map, key, h, old)
    _write_value(map, new.region, value, False)
    if old is not None:
        _unlink(map, old)
    _link(map, new)


def htab_lru_map_update_elem(map, key: bytes, value: bytes, flags: int) -> None:
    """Called from a program or syscall. EINVAL: flags above BPF_EXIST (BPF_F_LOCK included)."""
    if flags > BPF_EXIST:
        raise BpfError(errno.EINVAL, "unknown update flags")
    htab_map_update_elem(map, key, value, flags)


def _percpu_update(map, key: bytes, value: bytes, flags: int, onallcpus: bool) -> None:
    """__htab_percpu_map_update_elem / __htab_lru_percpu_map_update_elem: in place when present."""
    if flags > BPF_EXIST:
        raise BpfError(errno.EINVAL, "unknown update flags")
    key = bytes(key)
    old = _lookup(map, key)
    _check_flags(old, flags)
    if old is not None:
        _write_value(map, old.region, value, onallcpus)
        _touch(map, key)
        return
    new = _alloc_elem(map, key, _hash(map.data, key), None)
    _write_value(map, new.region, value, onallcpus)
    _link(map, new)


def htab_percpu_map_update_elem(map, key: bytes, value: bytes, flags: int) -> None:
    """Called from a program: sets the current CPU's copy (a new element's other CPUs are zero)."""
    _percpu_update(map, key, value, flags, False)


def bpf_percpu_hash_update(map, key: bytes, value: bytes, flags: int, files=None, map_file=None) -> None:
    """Called from syscall: ``value`` holds every possible CPU's copy."""
    _percpu_update(map, key, value, flags, True)


def bpf_percpu_hash_copy(map, key: bytes, flags: int) -> bytes:
    """Called from syscall: every CPU's copy, round_up(value_size, 8) bytes each. ENOENT."""
    elem = _lookup(map, key)
    if elem is None:
        raise BpfError(errno.ENOENT, "no such element")
    return bytes(elem.region.buf)


def htab_map_delete_elem(map, key: bytes) -> None:
    """Called from a program or syscall. ENOENT: no such key."""
    elem = _lookup(map, key)
    if elem is None:
        raise BpfError(errno.ENOENT, "no such element")
    _unlink(map, elem)


def htab_map_lookup_and_delete_elem(map, key: bytes, flags: int) -> bytes:
    """Called from syscall: the value (per-CPU: all copies), then the element is gone. ENOENT."""
    elem = _lookup(map, key)
    if elem is None:
        raise BpfError(errno.ENOENT, "no such element")
    out = bytes(elem.region.buf) if map.data.percpu else bytes(elem.region.buf[:map.value_size])
    _unlink(map, elem)
    return out


def htab_map_get_next_key(map, key: bytes | None) -> bytes:
    """Called from syscall. The key after ``key`` in bucket order; the first key when ``key`` is
    None or absent; ENOENT after the last key."""
    htab = map.data
    start = 0
    if key is not None:
        elem = _lookup(map, key)
        if elem is not None:
            idx = _bucket_index(htab, elem.hash)
            bucket = htab.buckets[idx]
            pos = bucket.index(elem)
            if pos + 1 < len(bucket):
                return bucket[pos + 1].key
            start = idx + 1
    i = bisect.bisect_left(htab.nonempty, start)
    if i < len(htab.nonempty):
        return htab.buckets[htab.nonempty[i]][0].key
    raise BpfError(errno.ENOENT, "no more keys")


def htab_map_for_each_callback(map, callback) -> int:
    """Called from a program (bpf_for_each_map_elem): callback(key, value_addr) per element in
    bucket order; a return of 1 stops. Returns the number of elements visited."""
    num = 0
    percpu_off = map.kernel.current_cpu * map.percpu_value_size if map.data.percpu else 0
    for idx in list(map.data.nonempty):
        for elem in list(map.data.buckets.get(idx, ())):
            num += 1
            if callback(elem.key, elem.region.start + percpu_off):
                return num
    return num


# -- batches (__htab_map_lookup_and_delete_batch) -----------------------------------------------


def _htab_batch(map, args, user, do_delete: bool) -> None:
    """Bucket by bucket: the cursor is a u32 bucket index. ENOSPC: the first bucket holds more
    elements than ``count``; ENOENT: the last bucket was reached; EINVAL: batch.flags."""
    check_elem_flags(map, args.elem_flags)
    if args.flags:
        raise BpfError(errno.EINVAL, "batch.flags must be 0")
    max_count = args.count
    if not max_count:
        return
    args.count, args.written = 0, True
    htab = map.data
    batch = int.from_bytes(user.copy_from_user(args.in_batch, 4), "little") if args.in_batch else 0
    if batch >= htab.n_buckets:
        raise BpfError(errno.ENOENT, "batch cursor past the last bucket")
    value_size = bpf_map_value_size(map)
    total = 0
    err = None
    while True:
        i = bisect.bisect_left(htab.nonempty, batch)      # skip empty buckets
        batch = htab.nonempty[i] if i < len(htab.nonempty) else htab.n_buckets - 1
        bucket = list(htab.buckets.get(batch, ()))
        if len(bucket) > max_count - total:
            if total == 0:
                err = BpfError(errno.ENOSPC, "bucket larger than count")
            break
        for elem in bucket:
            val = bytes(elem.region.buf) if htab.percpu else bytes(elem.region.buf[:map.value_size])
            user.copy_to_user(args.keys + total * map.key_size, elem.key)
            user.copy_to_user(args.values + total * value_size, val)
            total += 1
            if do_delete:
                _unlink(map, elem)
        batch += 1
        if batch >= htab.n_buckets:
            err = BpfError(errno.ENOENT, "end of map")
            break
    user.copy_to_user(args.out_batch, batch.to_bytes(4, "little"))
    args.count = total
    if err is not None:
        raise err


def htab_map_lookup_batch(map, args, user) -> None:
    _htab_batch(map, args, user, False)


def htab_map_lookup_and_delete_batch(map, args, user) -> None:
    _htab_batch(map, args, user, True)


htab_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc_check=htab_map_alloc_check,
    map_alloc=htab_map_alloc,
    map_free=htab_map_free,
    map_get_next_key=htab_map_get_next_key,
    map_lookup_elem=htab_map_lookup_elem,
    map_update_elem=htab_map_update_elem,
    map_delete_elem=htab_map_delete_elem,
    map_lookup_and_delete_elem=htab_map_lookup_and_delete_elem,
    map_for_each_callback=htab_map_for_each_callback,
    map_lookup_batch=htab_map_lookup_batch,
    map_lookup_and_delete_batch=htab_map_lookup_and_delete_batch,
    map_update_batch=generic_map_update_batch,
    map_delete_batch=generic_map_delete_batch,
)

htab_lru_map_ops = dataclasses.replace(
    htab_map_ops,
    map_lookup_elem=htab_lru_map_lookup_elem,
    map_update_elem=htab_lru_map_update_elem,
    map_copy_value=htab_lru_map_copy_value,
)

htab_percpu_map_ops = dataclasses.replace(
    htab_map_ops,
    map_lookup_elem=htab_percpu_map_lookup_elem,
    map_update_elem=htab_percpu_map_update_elem,
    map_lookup_percpu_elem=htab_percpu_map_lookup_percpu_elem,
    map_copy_value=bpf_percpu_hash_copy,
    map_update_value=bpf_percpu_hash_update,
)

htab_lru_percpu_map_ops = dataclasses.replace(
    htab_percpu_map_ops,
    map_lookup_elem=htab_lru_percpu_map_lookup_elem,
)
