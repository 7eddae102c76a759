"""Array maps: the ARRAY and PERCPU_ARRAY ops tables, global data (kernel/bpf/arraymap.c).

Every element exists from creation on (zero-filled): the key is a u32 index, lookups of an index
past ``max_entries`` find nothing, updates of one fail with E2BIG, BPF_NOEXIST always fails with
EEXIST and delete is always EINVAL.

Memory: one Region holds all values, ``elem_size = round_up(value_size, 8)`` apart (per-CPU:
``max_entries * ncpus`` slots, element-major, each CPU's copy ``elem_size`` apart). An ARRAY
with ``max_entries == 1`` is how libbpf implements global data (.data/.rodata/.bss): ld_imm64
BPF_PSEUDO_MAP_VALUE asks ``map_direct_value_addr`` for the value's address, BPF_F_MMAPABLE maps
can be viewed from Python with ``map_mmap`` (writable views count as writers: MAP_FREEZE is then
EBUSY), and BPF_F_RDONLY_PROG makes the verifier treat the value as read-only (a frozen read-only
map is a constant to it).

Linux rounds ``max_entries`` up to a power of two for callers without CAP_PERFMON (Spectre v1
masking); only the E2BIG overflow of that rounding is modelled, the masking itself is invisible.
"""

import dataclasses
import errno

from ..errors import BpfError
from ..memory import PAGE_SIZE
from ..uapi import ENOTSUPP, BpfMapFlags, BpfMapType
from .batch import generic_map_lookup_batch, generic_map_update_batch
from .map import (BPF_F_ACCESS_MASK, INT_MAX, NUMA_NO_NODE, PCPU_MIN_UNIT_SIZE, BpfMap,
                  bpf_map_attr_numa_node, bpf_map_flags_access_ok, check_memory, round_up)
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

F = BpfMapFlags
ARRAY_CREATE_FLAG_MASK = int(F.BPF_F_NUMA_NODE | F.BPF_F_MMAPABLE | BPF_F_ACCESS_MASK
                          | F.BPF_F_PRESERVE_ELEMS | F.BPF_F_INNER_MAP)
BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK = 1, 2, 4
U32_MAX = 0xFFFFFFFF


class BpfArray:
    """struct bpf_array's data: the value Region and its stride."""

    def __init__(self, elem_size: int, region, percpu: bool):
        self.elem_size = elem_size
        self.region = region
        self.percpu = percpu


def array_map_alloc_check(attr) -> None:
    """Called from syscall (map_create; also the fd arrays' check). EINVAL: max_entries 0,
    key_size != 4, value_size 0, unknown flags, RDONLY_PROG with WRONLY_PROG, a NUMA node on a
    per-CPU array, MMAPABLE/INNER_MAP on anything but ARRAY, PRESERVE_ELEMS on anything but
    PERF_EVENT_ARRAY; E2BIG: value_size above INT_MAX, a per-CPU value above 32 KiB."""
    percpu = attr.map_type == BpfMapType.BPF_MAP_TYPE_PERCPU_ARRAY
    numa_node = bpf_map_attr_numa_node(attr)
    if (attr.max_entries == 0 or attr.key_size != 4 or attr.value_size == 0
            or attr.map_flags & ~ARRAY_CREATE_FLAG_MASK
            or not bpf_map_flags_access_ok(attr.map_flags)
            or (percpu and numa_node != NUMA_NO_NODE)):
        raise BpfError(errno.EINVAL, "invalid array map attributes")
    if attr.map_type != BpfMapType.BPF_MAP_TYPE_ARRAY and attr.map_flags & (F.BPF_F_MMAPABLE | F.BPF_F_INNER_MAP):
        raise BpfError(errno.EINVAL, "BPF_F_MMAPABLE/BPF_F_INNER_MAP only for ARRAY")
    if attr.map_type != BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY and attr.map_flags & F.BPF_F_PRESERVE_ELEMS:
        raise BpfError(errno.EINVAL, "BPF_F_PRESERVE_ELEMS only for PERF_EVENT_ARRAY")
    if attr.value_size > INT_MAX:
        raise BpfError(errno.E2BIG, "value_size above INT_MAX")
    if percpu and round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE:
        raise BpfError(errno.E2BIG, "per-CPU value above PCPU_MIN_UNIT_SIZE")


def bypass_spec_v1(cred) -> bool:
    """bpf_bypass_spec_v1: CAP_PERFMON (or CAP_SYS_ADMIN) skips the power-of-two rounding."""
    return cred is not None and cred.perfmon_capable()


def array_check_max_entries(attr) -> None:
    """array_map_alloc: E2BIG when rounding max_entries up to a power of two overflows u32."""
    if not bypass_spec_v1(attr.cred):
        rounded = 1 << (attr.max_entries - 1).bit_length()
        if rounded > U32_MAX:
            raise BpfError(errno.E2BIG, "max_entries rounded to a power of two overflows")


def array_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall. E2BIG (see array_check_max_entries); ENOMEM: too large."""
    percpu = attr.map_type == BpfMapType.BPF_MAP_TYPE_PERCPU_ARRAY
    array_check_max_entries(attr)
    elem_size = round_up(attr.value_size, 8)
    nslots = attr.max_entries * (kernel.ncpus if percpu else 1)
    check_memory(elem_size * nslots)
    map = BpfMap(kernel, attr, None)
    size = elem_size * nslots
    if attr.map_flags & F.BPF_F_MMAPABLE:       # whole pages, as user space maps them
        size = -(-size // PAGE_SIZE) * PAGE_SIZE
    region = map.area_alloc(size, "array values")
    map.data = BpfArray(elem_size, region, percpu)
    return map


def _index(map, key: bytes) -> int:
    return int.from_bytes(bytes(key[:4]), "little")


def array_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program or syscall: the address of element ``*(u32 *)key``, or 0 past the end."""
    index = int.from_bytes(key[:4], "little")     # _index, written out (every lookup's path)
    if index >= map.max_entries:
        return 0
    data = map.data
    return data.region.start + index * data.elem_size


def percpu_array_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program: the current CPU's copy."""
    return percpu_array_map_lookup_percpu_elem(map, key, map.kernel.current_cpu)


def percpu_array_map_lookup_percpu_elem(map, key: bytes, cpu: int) -> int:
    index = _index(map, key)
    if index >= map.max_entries or not 0 <= cpu < map.ncpus:
        return 0
    return map.data.region.start + (index * map.ncpus + cpu) * map.data.elem_size


def array_map_update_elem(map, key: bytes, value: bytes, flags: int) -> None:
    """Called from a program or syscall. EINVAL: unknown flags, BPF_F_LOCK without a spin lock;
    E2BIG: index past the end; EEXIST: BPF_NOEXIST (every element exists)."""
    if (flags & ~int(BPF_F_LOCK)) > BPF_EXIST:
        raise BpfError(errno.EINVAL, "unknown update flags")
    index = _index(map, key)
    if index >= map.max_entries:
        raise BpfError(errno.E2BIG, "index past max_entries")
    if flags & BPF_NOEXIST:
        raise BpfError(errno.EEXIST, "array elements always exist")
    if flags & BPF_F_LOCK and not (map.record and "spin_lock" in map.record):
        raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map without bpf_spin_lock")
    off = index * map.data.elem_size
    map.data.region.buf[off:off + map.value_size] = bytes(value[:map.value_size])


def percpu_array_map_update_elem(map, key: bytes, value: bytes, flags: int) -> None:
    """Called from a program (percpu_array_map_update_elem is not even offered to programs by
    the kernel's helper; kept for bpf_map_update_elem on the current CPU)."""
    _percpu_update(map, key, value, flags, onallcpus=False)


def bpf_percpu_array_update(map, key: bytes, value: bytes, flags: int, files=None, map_file=None) -> None:
    """Called from syscall: ``value`` holds every CPU's copy. EINVAL: flags above BPF_EXIST;
    E2BIG: past the end; EEXIST: BPF_NOEXIST."""
    _percpu_update(map, key, value, flags, onallcpus=True)


def _percpu_update(map, key, value, flags, onallcpus):
    if flags > BPF_EXIST:
        raise BpfError(errno.EINVAL, "unknown update flags")
    index = _index(map, key)
    if index >= map.max_entries:
        raise BpfError(errno.E2BIG, "index past max_entries")
    if flags == BPF_NOEXIST:
        raise BpfError(errno.EEXIST, "array elements always exist")
    stride = map.data.elem_size
    base = index * map.ncpus * stride
    buf = map.data.region.buf
    if onallcpus:
        buf[base:base + stride * map.ncpus] = bytes(value[:stride * map.ncpus]).ljust(stride * map.ncpus, b"\0")
    else:
        off = base + map.kernel.current_cpu * stride
        buf[off:off + map.value_size] = bytes(value[:map.value_size])


def bpf_percpu_array_copy(map, key: bytes, flags: int) -> bytes:
    """Called from syscall: every CPU's copy of the element. ENOENT past the end."""
    index = _index(map, key)
    if index >= map.max_entries:
        raise BpfError(errno.ENOENT, "index past max_entries")
    n = map.ncpus * map.data.elem_size
    return bytes(map.data.region.buf[index * n:(index + 1) * n])


def array_map_delete_elem(map, key: bytes) -> None:
    """Called from a program or syscall. EINVAL, always: array elements cannot be deleted."""
    raise BpfError(errno.EINVAL, "array elements cannot be deleted")


def array_map_get_next_key(map, key: bytes | None) -> bytes:
    """Called from syscall. None or an index past the end -> 0; the last index -> ENOENT."""
    index = _index(map, key) if key is not None else U32_MAX
    if index >= map.max_entries:
        return (0).to_bytes(4, "little")
    if index == map.max_entries - 1:
        raise BpfError(errno.ENOENT, "no more keys")
    return (index + 1).to_bytes(4, "little")


def array_map_for_each_callback(map, callback) -> int:
    """Called from a program (bpf_for_each_map_elem): every index in order; 1 stops."""
    num = 0
    for index in range(map.max_entries):
        key = index.to_bytes(4, "little")
        if map.data.percpu:
            addr = percpu_array_map_lookup_elem(map, key)
        else:
            addr = array_map_lookup_elem(map, key)
        num += 1
        if callback(key, addr):
            break
    return num


def array_map_direct_value_addr(map, off: int) -> int:
    """Called from the verifier (ld_imm64 BPF_PSEUDO_MAP_VALUE). ENOTSUPP: max_entries != 1;
    EINVAL: off past value_size."""
    if map.max_entries != 1:
        raise BpfError(ENOTSUPP, "direct value access needs max_entries == 1")
    if off >= map.value_size:
        raise BpfError(errno.EINVAL, "direct value offset past value_size")
    return map.data.region.start


def array_map_direct_value_meta(map, addr: int) -> int:
    """Called from the xlated dump: the offset of ``addr`` in the value. ENOTSUPP; ENOENT."""
    if map.max_entries != 1:
        raise BpfError(ENOTSUPP, "direct value access needs max_entries == 1")
    base = map.data.region.start
    if not base <= addr < base + map.data.elem_size:
        raise BpfError(errno.ENOENT, "address outside the value")
    return addr - base


def array_map_mmap(map, writable: bool, offset: int = 0, length: int | None = None) -> memoryview:
    """Called from mmap of a BPF_F_MMAPABLE map fd: the values from ``offset`` (page-aligned)
    for ``length`` bytes (default: to the end). EINVAL: not MMAPABLE, or past
    PAGE_ALIGN(max_entries * elem_size) as array_map_mmap checks."""
    if not map.map_flags & F.BPF_F_MMAPABLE:
        raise BpfError(errno.EINVAL, "map is not BPF_F_MMAPABLE")
    buf = map.data.region.buf
    limit = -(-map.max_entries * map.data.elem_size // PAGE_SIZE) * PAGE_SIZE
    if length is None:
        length = len(buf) - offset
    if offset + length > limit:
        raise BpfError(errno.EINVAL, "mapping past the end of the values")
    view = memoryview(buf)[offset:offset + length]
    return view if writable else view.toreadonly()


def array_map_meta_equal(meta, map) -> bool:
    """The ARRAY map_meta_equal slot: bpf_map_meta_equal, and the same max_entries unless the
    template was created with BPF_F_INNER_MAP."""
    if not bpf_map_meta_equal(meta, map):
        return False
    return bool(meta.map_flags & F.BPF_F_INNER_MAP) or meta.max_entries == map.max_entries


def array_map_check_btf(map, btf, key_type, value_type) -> None:
    """Called from syscall (map_create with BTF). A void key is only for global data (ARRAY with
    max_entries 1 and a DATASEC value); otherwise the key must be a 32-bit INT. EINVAL."""
    from btf import BTF_KIND_DATASEC, BTF_KIND_INT
    if key_type is None or key_type.kind == 0:
        if (map.map_type != BpfMapType.BPF_MAP_TYPE_ARRAY or map.max_entries != 1
                or value_type.kind != BTF_KIND_DATASEC):
            raise BpfError(errno.EINVAL, "keyless BTF only for a global data array")
        return
    if key_type.kind != BTF_KIND_INT or key_type.bits_offset or key_type.nr_bits != 32:
        raise BpfError(errno.EINVAL, "array key must be a 32-bit int")


array_map_ops = BpfMapOps(
    map_meta_equal=array_map_meta_equal,
    map_alloc_check=array_map_alloc_check,
    map_alloc=array_map_alloc,
    map_get_next_key=array_map_get_next_key,
    map_lookup_elem=array_map_lookup_elem,
    map_update_elem=array_map_update_elem,
    map_delete_elem=array_map_delete_elem,
    map_for_each_callback=array_map_for_each_callback,
    map_direct_value_addr=array_map_direct_value_addr,
    map_direct_value_meta=array_map_direct_value_meta,
    map_mmap=array_map_mmap,
    map_check_btf=array_map_check_btf,
    map_lookup_batch=generic_map_lookup_batch,
    map_update_batch=generic_map_update_batch,
)

percpu_array_map_ops = dataclasses.replace(
    array_map_ops,
    map_meta_equal=bpf_map_meta_equal,
    map_lookup_elem=percpu_array_map_lookup_elem,
    map_update_elem=percpu_array_map_update_elem,
    map_lookup_percpu_elem=percpu_array_map_lookup_percpu_elem,
    map_copy_value=bpf_percpu_array_copy,
    map_update_value=bpf_percpu_array_update,
    map_direct_value_addr=None,
    map_direct_value_meta=None,
    map_mmap=None,
)
