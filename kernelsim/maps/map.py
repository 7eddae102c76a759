"""struct bpf_map: the object every map type shares, and the syscall-side value copy paths
(include/linux/bpf.h, kernel/bpf/syscall.c bpf_map_copy_value / bpf_map_update_value /
bpf_map_value_size / bpf_map_put_uref).

The program-side contract (the helpers and the verifier code against it):

* A map has ``addr``: the address of a small read-only kernel-memory Region whose ``owner`` is the
  map. That is the value a CONST_PTR_TO_MAP register holds (ld_imm64 BPF_PSEUDO_MAP_FD is rewritten
  to it), so a helper finds the map with ``kernel.mem.region_of(r1).owner``.
* Values live in Regions of ``kernel.mem`` (kind ``map_value``, owner the map), so programs load
  and store them directly. ``map.ops.map_lookup_elem(map, key_bytes)`` returns the address of the
  value, or 0. Per-CPU maps return the copy of ``kernel.current_cpu``.
* Helpers pass keys and values as ``bytes`` read from simulated memory (key_size / value_size
  bytes); ops raise ``BpfError`` where the kernel returns -errno (the helper converts).

The syscall side (syscall/map_cmds.py) copies keys and values from user memory and calls
``bpf_map_copy_value`` / ``bpf_map_update_value`` here, which pick the type's slot.

Reference counts (bpf_objects.py): ``refcnt`` is held by Files, pins and programs using the map;
``usercnt`` only by Files and pins. usercnt reaching 0 runs ``ops.map_release_uref`` (a prog array
empties itself, reference/bpf-syscall.md 4.2).
"""

import errno
from dataclasses import dataclass, field

from ..bpf_objects import FMODE_RDWR, BpfObject, File
from ..errors import BpfError
from ..uapi import BpfMapFlags, BpfMapType

BPF_OBJ_NAME_LEN = 16
MAP_OBJ_SIZE = 256     # bytes of the map's own region (what CONST_PTR_TO_MAP points at); invented


def round_up(x: int, align: int) -> int:
    return (x + align - 1) // align * align


@dataclass
class MapCreateAttr:
    """The map-create part of union bpf_attr (BPF_MAP_CREATE), decoded. ``cred`` is not in the
    union: it is the creator's credentials, for the ``capable()`` checks the kernel makes on
    ``current`` inside ``map_alloc_check`` (hash maps with BPF_F_ZERO_SEED)."""

    map_type: int = 0
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    map_flags: int = 0
    inner_map_fd: int = 0
    numa_node: int = 0
    map_name: bytes = b""
    map_ifindex: int = 0
    btf_fd: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    map_extra: int = 0
    value_type_btf_obj_fd: int = 0
    map_token_fd: int = 0
    cred: object = None
    inner_map: object = None          # unused; map-in-map types resolve inner_map_fd through ``files``
    files: object = None              # the creator's fd table (bpf_map_meta_alloc's fdget)
    ncpus: int = 1                    # num_possible_cpus() of the machine


BPF_F_ACCESS_MASK = int(BpfMapFlags.BPF_F_RDONLY | BpfMapFlags.BPF_F_RDONLY_PROG | BpfMapFlags.BPF_F_WRONLY
                     | BpfMapFlags.BPF_F_WRONLY_PROG)
NUMA_NO_NODE = -1
PCPU_MIN_UNIT_SIZE = 32 << 10       # include/linux/percpu.h
KMALLOC_MAX_SIZE = 1 << 22          # x86-64, SLUB: 1 << (MAX_PAGE_ORDER + PAGE_SHIFT)
INT_MAX = 0x7FFFFFFF
U32_MAX = 0xFFFFFFFF
# The simulator's own bound on one map's memory (Linux's is the machine's RAM): an allocation
# above it fails with ENOMEM as a too-big kvmalloc would. Invented; documented in docs/syscall.md.
MAP_MEMORY_LIMIT = 64 << 20


def bpf_map_flags_access_ok(flags: int) -> bool:
    """include/linux/bpf.h: RDONLY_PROG and WRONLY_PROG together make no sense."""
    both = BpfMapFlags.BPF_F_RDONLY_PROG | BpfMapFlags.BPF_F_WRONLY_PROG
    return (flags & both) != both


def bpf_map_attr_numa_node(attr) -> int:
    return attr.numa_node if attr.map_flags & BpfMapFlags.BPF_F_NUMA_NODE else NUMA_NO_NODE


def check_memory(size: int) -> None:
    """ENOMEM: the allocation is larger than the simulator allows (MAP_MEMORY_LIMIT)."""
    if size > MAP_MEMORY_LIMIT:
        raise BpfError(errno.ENOMEM, f"cannot allocate {size} bytes for a map")


def roundup_pow_of_two(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def bpf_map_meta_equal(meta, map) -> bool:
    """map_in_map.c bpf_map_meta_equal, the map_meta_equal slot of most types: may ``map`` go into
    a map-in-map whose inner template is ``meta``? Type, sizes, flags and special BTF fields must
    match (max_entries need not, except for arrays: array_map_meta_equal)."""
    return (meta.map_type == map.map_type and meta.key_size == map.key_size
            and meta.value_size == map.value_size and meta.map_flags == map.map_flags
            and (meta.record or None) == (map.record or None))


def map_has_spin_lock(map) -> bool:
    return bool(map.record) and "spin_lock" in map.record


# map_flags that are properties of the fd, not of the map (bpf_map_flags_retain_permanent)
FD_ONLY_FLAGS = int(BpfMapFlags.BPF_F_RDONLY | BpfMapFlags.BPF_F_WRONLY)


def bpf_map_flags_retain_permanent(flags: int) -> int:
    return flags & ~int(FD_ONLY_FLAGS)


PERCPU_TYPES = frozenset({BpfMapType.BPF_MAP_TYPE_PERCPU_HASH, BpfMapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
                          BpfMapType.BPF_MAP_TYPE_PERCPU_ARRAY,
                          BpfMapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE})
FD_TYPES = frozenset({BpfMapType.BPF_MAP_TYPE_PROG_ARRAY, BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
                      BpfMapType.BPF_MAP_TYPE_CGROUP_ARRAY, BpfMapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
                      BpfMapType.BPF_MAP_TYPE_HASH_OF_MAPS})


@dataclass
class BpfMapOwner:
    """struct bpf_map_owner: the program type a prog array is bound to by its first user."""

    type: int
    expected_attach_type: int = 0
    jited: bool = False
    xdp_has_frags: bool = False
    attach_func_proto: int = 0


class BpfMap(BpfObject):
    """struct bpf_map. Built by a type's ``map_alloc`` (``BpfMap(kernel, attr, ops)``); the type
    module keeps its own state in ``self.data`` (elements, free list, ring positions ...)."""

    kind = "map"

    def __init__(self, kernel, attr: MapCreateAttr, ops):
        super().__init__(kernel)
        self.ops = ops
        self.map_type = attr.map_type
        self.key_size = attr.key_size
        self.value_size = attr.value_size
        self.max_entries = attr.max_entries
        self.map_flags = bpf_map_flags_retain_permanent(attr.map_flags)
        self.numa_node = attr.numa_node if attr.map_flags & BpfMapFlags.BPF_F_NUMA_NODE else -1
        self.map_extra = attr.map_extra
        self.name = ""
        self.btf = None                    # BpfBtf (reference held) from btf_fd
        self.btf_key_type_id = 0
        self.btf_value_type_id = 0
        self.btf_vmlinux_value_type_id = attr.btf_vmlinux_value_type_id
        self.record = None                 # special BTF fields of the value (spin lock ...): a dict or None
        self.frozen = False
        self.writecnt = 0                  # writable mmaps alive (MAP_FREEZE: EBUSY while > 0)
        self.usercnt = 1                   # Files and pins
        self.owner: BpfMapOwner | None = None
        self.inner_map_meta = None
        self.ncpus = kernel.ncpus          # num_possible_cpus()
        self.regions = []                  # value Regions to unmap at free
        self.data = None                   # the type module's state
        self.region = kernel.mem.alloc(MAP_OBJ_SIZE, "struct bpf_map", kind="map", writable=False,
                                       owner=self)
        self.addr = self.region.start

    # -- references (bpf_map_inc_with_uref / bpf_map_put_with_uref) -------------------------

    def get_uref(self) -> "BpfMap":
        self.refcnt += 1
        self.usercnt += 1
        return self

    def put_uref(self) -> None:
        self.usercnt -= 1
        if self.usercnt == 0 and self.ops.map_release_uref is not None:
            self.ops.map_release_uref(self)
        self.put()

    def free(self) -> None:
        """bpf_map_free: the type's map_free, then the BTF and every value Region."""
        if self.ops.map_free is not None:
            self.ops.map_free(self)
        if self.btf is not None:
            self.btf, btf = None, self.btf
            btf.put()
        if self.inner_map_meta is not None:
            self.inner_map_meta = None
        for region in self.regions:
            self.kernel.mem.unmap(region)
        self.regions = []
        self.kernel.mem.unmap(self.region)

    # -- value memory -------------------------------------------------------------------------

    def area_alloc(self, size: int, name: str = "value", writable: bool = True):
        """bpf_map_area_alloc: a zeroed Region of kernel memory owned by this map."""
        region = self.kernel.mem.alloc(size, f"map[{self.name or self.map_type}] {name}",
                                       kind="map_value", writable=writable, owner=self)
        self.regions.append(region)
        return region

    def area_free(self, region) -> None:
        self.kernel.mem.unmap(region)
        try:
            self.regions.remove(region)
        except ValueError:
            pass

    @property
    def percpu_value_size(self) -> int:
        """round_up(value_size, 8): the stride of per-CPU copies."""
        return round_up(self.value_size, 8)

    def __repr__(self) -> str:
        return f"<BpfMap id={self.id} type={int(self.map_type)} name={self.name!r}>"


class MapFile(File):
    """The anon-inode file of a map fd ("bpf-map"): closing it runs ``ops.map_release`` (the perf
    event array drops the entries installed through this file) before dropping the uref."""

    def __init__(self, obj: BpfMap, f_mode: int = FMODE_RDWR):
        super().__init__(obj, f_mode, "anon_inode:bpf-map")

    def release(self) -> None:
        if self.obj.ops.map_release is not None:
            self.obj.ops.map_release(self.obj, self)
        super().release()


def bpf_prog_map_compatible(map: BpfMap, prog) -> bool:
    """kernel/bpf/core.c __bpf_prog_map_compatible: the first program bound to a prog array (by
    PROG_LOAD using it, or by an update storing it) becomes its owner; later ones must match the
    owner's type, JIT state, xdp_has_frags, expected_attach_type (prog arrays) and, for tracing
    types, the attach function prototype. Called from syscall and bpf_prog_select_runtime."""
    from ..uapi import BpfProgType as T
    aux = prog.aux
    xdp_frags = bool(prog.prog_flags & (1 << 5))
    dst = getattr(aux, "dst_prog", None)
    prog_type = dst.type if prog.type == T.BPF_PROG_TYPE_EXT and dst is not None else prog.type
    if map.owner is None:
        map.owner = BpfMapOwner(prog_type, prog.expected_attach_type, bool(aux.jited), xdp_frags,
                                aux.attach_func_proto)
        return True
    o = map.owner
    ok = o.type == prog_type and o.jited == bool(aux.jited) and o.xdp_has_frags == xdp_frags
    if ok and map.map_type == BpfMapType.BPF_MAP_TYPE_PROG_ARRAY and o.expected_attach_type != prog.expected_attach_type:
        ok = False
    if ok and o.attach_func_proto != aux.attach_func_proto and prog_type in (
            T.BPF_PROG_TYPE_TRACING, T.BPF_PROG_TYPE_LSM, T.BPF_PROG_TYPE_EXT, T.BPF_PROG_TYPE_STRUCT_OPS):
        ok = False
    return ok


# -- the syscall-side copy paths ----------------------------------------------------------------


def bpf_map_value_size(map: BpfMap) -> int:
    """The size of a value buffer in user space (syscall.c bpf_map_value_size): per-CPU maps
    round_up(value_size, 8) x possible CPUs, fd maps 4 (an fd in, an ID out), others value_size."""
    if map.map_type in PERCPU_TYPES:
        return map.percpu_value_size * map.ncpus
    if map.map_type in FD_TYPES:
        return 4
    return map.value_size


def bpf_map_copy_value(map: BpfMap, key: bytes, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_ELEM, lookup batches): the value for ``key`` as user space
    sees it. ENOENT: no such element; ENOTSUPP: the type has no lookup (ringbuf)."""
    if map.ops.map_copy_value is not None:
        return map.ops.map_copy_value(map, key, flags)
    if map.ops.map_lookup_elem is None:
        raise BpfError(524, "map type has no lookup")
    addr = map.ops.map_lookup_elem(map, key)
    if not addr:
        raise BpfError(errno.ENOENT, "no such element")
    return map.kernel.mem.read(addr, map.value_size)


def bpf_map_update_value(map: BpfMap, key: bytes, value: bytes, flags: int, files=None,
                         map_file=None) -> None:
    """Called from syscall (MAP_UPDATE_ELEM, update batches). ``files`` is the caller's fd table
    (fd maps resolve the value as an fd in it), ``map_file`` the File the map was reached through
    (a perf event array remembers it). ENOTSUPP when the type has no update."""
    if map.ops.map_update_value is not None:
        map.ops.map_update_value(map, key, value, flags, files, map_file)
        return
    if map.ops.map_update_elem is None:
        raise BpfError(524, "map type has no update")
    map.ops.map_update_elem(map, key, value, flags)


class BpfMapMmap:
    """One user-space mapping of a map (a vm_area_struct of bpf_map_default_vmops): ``view`` is
    the memoryview the type's ``map_mmap`` gives for ``offset``/``length`` (read-only unless
    writable; indexing and ``len()`` go to it). A writable one counts as a writer of the map
    (MAP_FREEZE is EBUSY) until ``close()`` (munmap)."""

    def __init__(self, map: BpfMap, writable: bool, offset: int = 0, length: int | None = None):
        self.map, self.writable, self.offset = map, writable, offset
        self.view = map.ops.map_mmap(map, writable, offset, length)
        if writable:
            map.writecnt += 1                   # bpf_map_write_active_inc

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i):
        return self.view[i]

    def __setitem__(self, i, v) -> None:
        self.view[i] = v

    def close(self) -> None:
        if self.view is None:
            return
        if self.writable:
            self.map.writecnt -= 1
        self.view.release()
        self.view = None


def bpf_map_mmap(map: BpfMap, writable: bool = True, offset: int = 0, length: int | None = None,
                 shared: bool = True) -> BpfMapMmap:
    """syscall.c bpf_map_mmap, called from mmap of a map fd (syscall/mmap.py, after do_mmap's
    file checks). ENOTSUPP: the type cannot be mapped or its value has a spin lock; EINVAL: not
    VM_SHARED; EPERM: writable and frozen; EACCES: writable and BPF_F_RDONLY_PROG; then the
    type's map_mmap (range, ring-buffer page rules)."""
    if map.ops.map_mmap is None or map_has_spin_lock(map):
        raise BpfError(524, "this map cannot be mmapped")                   # ENOTSUPP
    if not shared:
        raise BpfError(errno.EINVAL, "a map can only be mapped MAP_SHARED")
    if writable:
        if map.frozen:
            raise BpfError(errno.EPERM, "writable mapping of a frozen map")
        if map.map_flags & BpfMapFlags.BPF_F_RDONLY_PROG:
            raise BpfError(errno.EACCES, "writable mapping of a BPF_F_RDONLY_PROG map")
    return BpfMapMmap(map, writable, offset, length)


@dataclass
class BpfBatchArgs:
    """The batch part of union bpf_attr, plus what the syscall resolved (the four batch commands).

    ``count`` is in/out: the batch functions set it to the number of elements processed, also when
    they raise, and set ``written`` once the kernel would have put_user'd it (the syscall then
    writes ``count`` back; errors before that point leave the caller's count alone)."""

    in_batch: int = 0        # user address of the opaque cursor (0: start)
    out_batch: int = 0       # user address where the next cursor is written
    keys: int = 0            # user address of count * key_size bytes
    values: int = 0          # user address of count * bpf_map_value_size bytes
    count: int = 0
    elem_flags: int = 0
    flags: int = 0
    files: object = None     # the caller's fd table (fd map updates)
    map_file: object = None  # the File of map_fd
    written: bool = False
    extra: dict = field(default_factory=dict)


class UserAccess:
    """What the batch functions need from the syscall layer to touch user memory (syscall/uaccess
    provides it): both raise BpfError(EFAULT) on a bad address."""

    def copy_from_user(self, addr: int, size: int) -> bytes:  # pragma: no cover - protocol
        raise NotImplementedError

    def copy_to_user(self, addr: int, data: bytes) -> None:  # pragma: no cover - protocol
        raise NotImplementedError
