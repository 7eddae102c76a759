"""Bloom filters: the BLOOM_FILTER ops table (kernel/bpf/bloom_filter.c).

Keyless set-membership test. ``map_extra`` (low 4 bits) is the number of hash functions (0 means
5). The bit array has ``max_entries * nr_hash_funcs * 7 / 5`` bits rounded up to a power of two
(at least 64; 2^32 when that overflows). Value ``v`` sets or tests the bits
``jhash2/jhash(v, seed + i) & mask`` for i < nr_hash_funcs, exactly as the kernel computes them;
the seed is 0 with BPF_F_ZERO_SEED, else drawn from the kernel's seeded rng. The bits are kept as
a set of indexes (not a 512 MiB array for the largest filters).

push (MAP_UPDATE_ELEM, bpf_map_push_elem): flags must be BPF_ANY (EINVAL). peek (MAP_LOOKUP_ELEM
with the value as input, bpf_map_peek_elem): 0 if possibly present, ENOENT if surely absent. pop
and delete are EOPNOTSUPP, get_next_key EOPNOTSUPP, keyed lookup/update EINVAL.
"""

import errno

from ..errors import BpfError
from ..uapi import BpfMapFlags
from .jhash import jhash, jhash2
from .map import (BPF_F_ACCESS_MASK, KMALLOC_MAX_SIZE, U32_MAX, BpfMap, bpf_map_flags_access_ok,
                  roundup_pow_of_two)
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

BLOOM_CREATE_FLAG_MASK = int(BpfMapFlags.BPF_F_NUMA_NODE | BpfMapFlags.BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK)


class BpfBloomFilter:
    """struct bpf_bloom_filter."""

    def __init__(self, nr_hash_funcs: int, bitset_mask: int, hash_seed: int):
        self.nr_hash_funcs = nr_hash_funcs
        self.bitset_mask = bitset_mask
        self.hash_seed = hash_seed
        self.bits: set[int] = set()


def bloom_map_alloc_check(attr) -> None:
    """Called from syscall. E2BIG: value_size above KMALLOC_MAX_SIZE (the rest is checked at
    alloc time, after the capability check)."""
    if attr.value_size > KMALLOC_MAX_SIZE:
        raise BpfError(errno.E2BIG, "value_size too large")


def bloom_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall. EINVAL: key_size != 0, value_size 0, max_entries 0, unknown flags,
    map_extra beyond 0xF."""
    if (attr.key_size != 0 or attr.value_size == 0 or attr.max_entries == 0
            or attr.map_flags & ~BLOOM_CREATE_FLAG_MASK
            or not bpf_map_flags_access_ok(attr.map_flags) or attr.map_extra & ~0xF):
        raise BpfError(errno.EINVAL, "invalid bloom filter attributes")
    nr_hash_funcs = attr.map_extra or 5
    nr_bits = attr.max_entries * nr_hash_funcs
    if nr_bits > U32_MAX or (nr_bits // 5) * 7 > U32_MAX or (nr_bits // 5) * 7 > 1 << 31:
        mask = U32_MAX
    else:
        nr_bits = (nr_bits // 5) * 7
        nr_bits = 64 if nr_bits <= 64 else roundup_pow_of_two(nr_bits)
        mask = nr_bits - 1
    map = BpfMap(kernel, attr, None)
    seed = 0 if attr.map_flags & BpfMapFlags.BPF_F_ZERO_SEED else kernel.rng.getrandbits(32)
    map.data = BpfBloomFilter(nr_hash_funcs, mask, seed)
    return map


def _hash(bloom: BpfBloomFilter, value: bytes, index: int) -> int:
    seed = (bloom.hash_seed + index) & U32_MAX
    if len(value) % 4 == 0:
        h = jhash2([int.from_bytes(value[i:i + 4], "little") for i in range(0, len(value), 4)], seed)
    else:
        h = jhash(value, seed)
    return h & bloom.bitset_mask


def bloom_map_push_elem(map, value: bytes, flags: int) -> None:
    """Called from a program or syscall. EINVAL: flags other than BPF_ANY."""
    if flags != 0:
        raise BpfError(errno.EINVAL, "bloom filter push takes BPF_ANY only")
    value = bytes(value[:map.value_size])
    for i in range(map.data.nr_hash_funcs):
        map.data.bits.add(_hash(map.data, value, i))


def bloom_map_peek_elem(map, value: bytes) -> None:
    """Called from a program or syscall. ENOENT: ``value`` is certainly not in the set."""
    value = bytes(value[:map.value_size])
    for i in range(map.data.nr_hash_funcs):
        if _hash(map.data, value, i) not in map.data.bits:
            raise BpfError(errno.ENOENT, "not in the bloom filter")


def bloom_map_pop_elem(map) -> bytes:
    raise BpfError(errno.EOPNOTSUPP, "bloom filters cannot pop")


def bloom_map_eopnotsupp(map, *args):
    """Called from syscall: delete and get_next_key are EOPNOTSUPP."""
    raise BpfError(errno.EOPNOTSUPP, "not supported on a bloom filter")


def bloom_map_einval(map, *args):
    """Keyed lookup/update are EINVAL (programs use peek/push)."""
    raise BpfError(errno.EINVAL, "bloom filters are keyless")


def bloom_map_update_value(map, key, value, flags, files=None, map_file=None) -> None:
    """Called from syscall (MAP_UPDATE_ELEM): push."""
    bloom_map_push_elem(map, value, flags)


def bloom_map_check_btf(map, btf, key_type, value_type) -> None:
    """EINVAL: a key type (bloom filters are keyless)."""
    if key_type is not None and key_type.kind != 0:
        raise BpfError(errno.EINVAL, "bloom filters are keyless")


bloom_filter_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc_check=bloom_map_alloc_check,
    map_alloc=bloom_map_alloc,
    map_update_elem=bloom_map_einval,
    map_delete_elem=bloom_map_eopnotsupp,
    map_get_next_key=bloom_map_eopnotsupp,
    map_push_elem=bloom_map_push_elem,
    map_pop_elem=bloom_map_pop_elem,
    map_peek_elem=bloom_map_peek_elem,
    map_update_value=bloom_map_update_value,
    map_check_btf=bloom_map_check_btf,
)
