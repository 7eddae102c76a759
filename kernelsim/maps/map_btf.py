"""BTF for maps: the generic map_check_btf of MAP_CREATE and the special-field record
(kernel/bpf/syscall.c map_check_btf, kernel/bpf/btf.c btf_type_id_size / btf_parse_fields).

The key and value type ids must name sized types whose sizes equal key_size and value_size
(EINVAL); a key id of 0 is only allowed when the map type has its own ``map_check_btf`` (global
data arrays, bloom filters). Special fields of the value (bpf_spin_lock, bpf_timer, bpf_wq,
kptrs, list/rbtree heads ...) are recorded in ``map.record`` ({kind: byte offset}); a map with
any needs CAP_BPF (EPERM), may not be RDONLY_PROG/WRONLY_PROG (EACCES) and only some map types
take each kind (EOPNOTSUPP). Then the type's own ``map_check_btf`` runs.
"""

import errno

from btf import BtfError, BtfKind

from ..errors import BpfError
from ..uapi import BpfMapFlags, BpfMapType as T

K = BtfKind
_NOSIZE = (K.BTF_KIND_FWD, K.BTF_KIND_FUNC, K.BTF_KIND_FUNC_PROTO, K.BTF_KIND_DECL_TAG)
_MODIFIERS = (K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST, K.BTF_KIND_RESTRICT,
              K.BTF_KIND_TYPE_TAG, K.BTF_KIND_VAR)

# special struct name -> (record kind, map types that may hold it)
_HASHES = (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_LRU_HASH, T.BPF_MAP_TYPE_ARRAY)
_STORAGE = (T.BPF_MAP_TYPE_SK_STORAGE, T.BPF_MAP_TYPE_INODE_STORAGE, T.BPF_MAP_TYPE_TASK_STORAGE,
            T.BPF_MAP_TYPE_CGRP_STORAGE)
SPECIAL_FIELDS = {
    "bpf_spin_lock": ("spin_lock", (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_ARRAY,
                                    T.BPF_MAP_TYPE_CGROUP_STORAGE) + _STORAGE),
    "bpf_res_spin_lock": ("res_spin_lock", (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_ARRAY,
                                            T.BPF_MAP_TYPE_CGROUP_STORAGE) + _STORAGE),
    "bpf_timer": ("timer", _HASHES),
    "bpf_wq": ("wq", _HASHES),
    "bpf_task_work": ("task_work", _HASHES),
    "bpf_list_head": ("list_head", (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_LRU_HASH, T.BPF_MAP_TYPE_ARRAY)),
    "bpf_rb_root": ("rb_root", (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_LRU_HASH, T.BPF_MAP_TYPE_ARRAY)),
}


def btf_type_id_size(btf, type_id: int):
    """(type, size) of a sized type (modifiers and VARs followed), or None."""
    try:
        t = btf.type_by_id(type_id)
        if type_id == 0 or t.kind in _NOSIZE:
            return None
        if t.kind in _MODIFIERS:
            rid = btf.skip_modifiers(type_id)
            if btf.kind_of(rid) == K.BTF_KIND_VAR:
                rid = btf.skip_modifiers(btf.type_by_id(rid).type)
            t = btf.type_by_id(rid)
            if rid == 0 or t.kind in _NOSIZE or t.kind in _MODIFIERS:
                return None
        return t, btf.resolve_size(t.id)
    except BtfError:
        return None


def btf_parse_fields(btf, value_type) -> dict:
    """Byte offsets of the special fields directly in the value struct (or one nested struct
    level down): {record kind: offset}."""
    record: dict = {}

    def scan(t, base_bits, depth):
        if t.kind not in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION) or depth > 1:
            return
        for m in t.members:
            try:
                mt = btf.type_by_id(btf.skip_modifiers(m.type))
            except BtfError:
                continue
            if mt.kind == K.BTF_KIND_STRUCT and mt.name in SPECIAL_FIELDS:
                record.setdefault(SPECIAL_FIELDS[mt.name][0], (base_bits + m.bit_offset) // 8)
            elif mt.kind == K.BTF_KIND_PTR and btf.kind_of(mt.type) == K.BTF_KIND_TYPE_TAG:
                tag = btf.type_by_id(mt.type).name
                if tag in ("kptr", "kptr_untrusted", "percpu_kptr", "uptr"):
                    record.setdefault(tag, (base_bits + m.bit_offset) // 8)
            elif mt.kind == K.BTF_KIND_STRUCT:
                scan(mt, base_bits + m.bit_offset, depth + 1)

    scan(value_type, 0, 0)
    return record


_KPTR_TYPES = (T.BPF_MAP_TYPE_HASH, T.BPF_MAP_TYPE_PERCPU_HASH, T.BPF_MAP_TYPE_LRU_HASH,
               T.BPF_MAP_TYPE_LRU_PERCPU_HASH, T.BPF_MAP_TYPE_ARRAY, T.BPF_MAP_TYPE_PERCPU_ARRAY) + _STORAGE


def map_check_btf(map, btf_obj, key_id: int, value_id: int, cred) -> None:
    """Called from syscall (map_create). EINVAL: sizes or kinds do not fit; EPERM, EACCES,
    EOPNOTSUPP: special fields (see the module doc); then the type's own check."""
    btf = btf_obj.btf
    if key_id:
        r = btf_type_id_size(btf, key_id)
        if r is None or r[1] != map.key_size:
            raise BpfError(errno.EINVAL, "BTF key type does not match key_size")
        key_type = r[0]
    else:
        key_type = btf.type_by_id(0)
        if map.ops.map_check_btf is None:
            raise BpfError(errno.EINVAL, "map type needs a BTF key type")
    r = btf_type_id_size(btf, value_id)
    if r is None or r[1] != map.value_size:
        raise BpfError(errno.EINVAL, "BTF value type does not match value_size")
    value_type = r[0]
    record = btf_parse_fields(btf, value_type)
    if record:
        if not (cred.capable("CAP_BPF") or cred.capable("CAP_SYS_ADMIN")):
            raise BpfError(errno.EPERM, "special BTF fields need CAP_BPF")
        if map.map_flags & (BpfMapFlags.BPF_F_RDONLY_PROG | BpfMapFlags.BPF_F_WRONLY_PROG):
            raise BpfError(errno.EACCES, "special BTF fields in a RDONLY_PROG/WRONLY_PROG map")
        for kind in record:
            allowed = next((types for _, (k, types) in SPECIAL_FIELDS.items() if k == kind), _KPTR_TYPES)
            if map.map_type not in allowed:
                raise BpfError(errno.EOPNOTSUPP, f"{kind} is not supported in this map type")
        map.record = record
    if map.ops.map_check_btf is not None:
        map.ops.map_check_btf(map, btf, key_type, value_type)
