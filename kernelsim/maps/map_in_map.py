"""Maps of maps: the ARRAY_OF_MAPS and HASH_OF_MAPS ops tables and the inner-map template
(kernel/bpf/map_in_map.c, the map-in-map parts of arraymap.c and hashtab.c).

An outer map's values are other maps. User space writes a map fd as the 4-byte value and reads
back the inner map's ID; a program's bpf_map_lookup_elem on the outer map returns the inner
``struct bpf_map *`` (here the inner map's ``addr``), which it may pass straight to the map
helpers once it has checked it for NULL (the verifier then types it CONST_PTR_TO_MAP of the
template, verifier.py mark_ptr_or_null_reg).

MAP_CREATE takes the template from ``inner_map_fd`` (bpf_map_meta_alloc, run by map_alloc after
the attribute and capability checks, probed on 6.18.44): EBADF when the fd is not open, EINVAL
when it is not a map or is itself a map of maps (one level only), ENOTSUPP (524) when its type
cannot be an inner map (no ``map_meta_equal`` slot: the prog array here). The template keeps
type, sizes, flags, max_entries and the special BTF fields of the inner map; an update stores a
map only if the type's ``map_meta_equal`` accepts it (EINVAL otherwise): same type, sizes, flags
and fields, and for arrays also the same max_entries unless the template had BPF_F_INNER_MAP.

A stored inner map holds a reference (bpf_map_inc: refcnt, not usercnt), dropped when the slot
is overwritten or deleted and when the outer map is freed. The hash variant keeps the inner
map's ID in its element's 4-byte value, so the hash table's own iteration, GET_NEXT_KEY and
lookup batches work unchanged; the map objects themselves are in ``map.data.ptrs``.
Differences: HASH_OF_MAPS has no LOOKUP_AND_DELETE_BATCH here (Linux has one).
"""

import dataclasses
import errno

from ..errors import BpfError
from ..uapi import ENOTSUPP
from .batch import generic_map_delete_batch, generic_map_lookup_batch, generic_map_update_batch
from .fd_array import (fd_array_map_alloc, fd_array_map_alloc_check, fd_array_map_free,
                       fd_array_map_ops, map_check_no_btf)
from .hashtab import (htab_map_alloc, htab_map_alloc_check, htab_map_delete_elem, htab_map_free,
                      htab_map_get_next_key, htab_map_lookup_batch, htab_map_update_elem)
from .map import BpfMap
from .ops import BpfMapOps


class BpfMapMeta:
    """The inner-map template (the kernel allocates it as a bare struct bpf_map): what the
    verifier needs to type the maps a program finds in an outer map. Invented class name."""

    kind = "map_meta"

    def __init__(self, inner: BpfMap):
        self.kernel = inner.kernel
        self.ops = inner.ops
        self.map_type = inner.map_type
        self.key_size = inner.key_size
        self.value_size = inner.value_size
        self.map_flags = inner.map_flags
        self.max_entries = inner.max_entries
        self.record = dict(inner.record) if inner.record else None
        self.btf = inner.btf.get() if inner.btf is not None else None
        self.btf_key_type_id = inner.btf_key_type_id
        self.btf_value_type_id = inner.btf_value_type_id
        self.ncpus = inner.ncpus
        self.name = ""
        self.id = 0
        self.frozen = False
        self.inner_map_meta = None
        self.addr = 0

    @property
    def percpu_value_size(self) -> int:
        return (self.value_size + 7) // 8 * 8

    def __repr__(self) -> str:
        return f"<BpfMapMeta type={int(self.map_type)} key={self.key_size} value={self.value_size}>"


def _map_from_fd(files, fd: int) -> BpfMap:
    """fdget + __bpf_map_get. EBADF: not open; EINVAL: not a map."""
    if files is None:
        raise BpfError(errno.EBADF, "no fd table")
    fd = fd - (1 << 32) if fd >= 1 << 31 else fd
    file = files.get(fd)
    if not isinstance(file.obj, BpfMap):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a map")
    return file.obj


def bpf_map_meta_alloc(attr) -> BpfMapMeta:
    """Called from the map-in-map types' map_alloc (syscall). EBADF, EINVAL (not a map, or a map
    of maps), ENOTSUPP (the type cannot be an inner map)."""
    inner = _map_from_fd(attr.files, attr.inner_map_fd)
    if inner.inner_map_meta is not None:
        raise BpfError(errno.EINVAL, "only one level of map-in-map")
    if inner.ops.map_meta_equal is None:
        raise BpfError(ENOTSUPP, f"map type {int(inner.map_type)} cannot be an inner map")
    return BpfMapMeta(inner)


def bpf_map_meta_free(meta: BpfMapMeta) -> None:
    if meta.btf is not None:
        meta.btf, btf = None, meta.btf
        btf.put()


def bpf_map_fd_get_ptr(map, map_file, files, fd: int) -> BpfMap:
    """Called from syscall (an update): the map behind ``fd``, with a reference. EBADF; EINVAL:
    not a map, or one the template does not accept."""
    inner = _map_from_fd(files, fd)
    meta = map.inner_map_meta
    if not meta.ops.map_meta_equal(meta, inner):
        raise BpfError(errno.EINVAL, "inner map does not match the outer map's template")
    return inner.get()


def bpf_map_fd_put_ptr(map, inner, need_defer: bool) -> None:
    inner.put()


def bpf_map_fd_sys_lookup_elem(inner) -> int:
    return inner.id


def _with_meta(alloc, kernel, attr) -> BpfMap:
    meta = bpf_map_meta_alloc(attr)
    try:
        map = alloc(kernel, attr)
    except BaseException:
        bpf_map_meta_free(meta)
        raise
    map.inner_map_meta = meta
    return map


# -- ARRAY_OF_MAPS -----------------------------------------------------------------------------


def array_of_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall: the template first (EBADF/EINVAL/ENOTSUPP), then the array."""
    return _with_meta(fd_array_map_alloc, kernel, attr)


def array_of_map_free(map) -> None:
    meta = map.inner_map_meta
    fd_array_map_free(map)
    if meta is not None:
        bpf_map_meta_free(meta)


def array_of_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program: the inner map's address, 0 for an empty slot or an index past the
    end."""
    index = int.from_bytes(bytes(key[:4]), "little")
    inner = map.data.ptrs[index] if index < map.max_entries else None
    return inner.addr if inner is not None else 0


array_of_maps_map_ops = dataclasses.replace(
    fd_array_map_ops,
    map_alloc_check=fd_array_map_alloc_check,
    map_alloc=array_of_map_alloc,
    map_free=array_of_map_free,
    map_lookup_elem=array_of_map_lookup_elem,
    map_fd_get_ptr=bpf_map_fd_get_ptr,
    map_fd_put_ptr=bpf_map_fd_put_ptr,
    map_fd_sys_lookup_elem=bpf_map_fd_sys_lookup_elem,
    map_fd_lookup_ptr=None,
    map_check_btf=map_check_no_btf,
    map_lookup_batch=generic_map_lookup_batch,
    map_update_batch=generic_map_update_batch,
)


# -- HASH_OF_MAPS ------------------------------------------------------------------------------


def fd_htab_map_alloc_check(attr) -> None:
    """Called from syscall (map_create). EINVAL: value_size != 4; then the hash rules."""
    if attr.value_size != 4:
        raise BpfError(errno.EINVAL, "hash of maps values are 4-byte fds")
    htab_map_alloc_check(attr)


def htab_of_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall: the template first, then the hash table."""
    map = _with_meta(htab_map_alloc, kernel, attr)
    map.data.ptrs = {}
    return map


def htab_of_map_free(map) -> None:
    for inner in map.data.ptrs.values():
        inner.put()
    map.data.ptrs = {}
    htab_map_free(map)
    if map.inner_map_meta is not None:
        bpf_map_meta_free(map.inner_map_meta)


def htab_of_map_lookup_elem(map, key: bytes) -> int:
    """Called from a program: the inner map's address, or 0."""
    inner = map.data.ptrs.get(bytes(key))
    return inner.addr if inner is not None else 0


def bpf_fd_htab_map_update_elem(map, key: bytes, value: bytes, flags: int, files, map_file=None) -> None:
    """Called from syscall: resolve the fd (EBADF/EINVAL), then the hash update's rules (EINVAL
    flags, EEXIST/ENOENT for NOEXIST/EXIST, E2BIG when full); the replaced map is put."""
    ufd = int.from_bytes(bytes(value[:4]), "little")
    inner = map.ops.map_fd_get_ptr(map, map_file, files, ufd)
    key = bytes(key)
    try:
        htab_map_update_elem(map, key, inner.id.to_bytes(4, "little"), flags)
    except BaseException:
        inner.put()
        raise
    old, map.data.ptrs[key] = map.data.ptrs.get(key), inner
    if old is not None:
        old.put()


def htab_of_map_delete_elem(map, key: bytes) -> None:
    """Called from syscall. ENOENT: no such key."""
    key = bytes(key)
    htab_map_delete_elem(map, key)
    map.data.ptrs.pop(key).put()


def bpf_fd_htab_map_lookup_elem(map, key: bytes, flags: int) -> bytes:
    """Called from syscall: the inner map's ID. ENOENT."""
    inner = map.data.ptrs.get(bytes(key))
    if inner is None:
        raise BpfError(errno.ENOENT, "no such element")
    return inner.id.to_bytes(4, "little")


htab_of_maps_map_ops = BpfMapOps(
    map_alloc_check=fd_htab_map_alloc_check,
    map_alloc=htab_of_map_alloc,
    map_free=htab_of_map_free,
    map_get_next_key=htab_map_get_next_key,
    map_lookup_elem=htab_of_map_lookup_elem,
    map_delete_elem=htab_of_map_delete_elem,
    map_copy_value=bpf_fd_htab_map_lookup_elem,
    map_update_value=bpf_fd_htab_map_update_elem,
    map_fd_get_ptr=bpf_map_fd_get_ptr,
    map_fd_put_ptr=bpf_map_fd_put_ptr,
    map_fd_sys_lookup_elem=bpf_map_fd_sys_lookup_elem,
    map_check_btf=map_check_no_btf,
    map_lookup_batch=htab_map_lookup_batch,
    map_update_batch=generic_map_update_batch,
    map_delete_batch=generic_map_delete_batch,
)
