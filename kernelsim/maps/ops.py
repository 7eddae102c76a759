"""The map ops table: struct bpf_map_ops (include/linux/bpf.h), one record per map type.

Each map type is one module of this package that defines its slot functions and ends with an ops
table (``htab_map_ops = BpfMapOps(...)``, variants by ``dataclasses.replace``). An absent slot is
``None`` and means "not supported": the caller picks the errno (STYLE.md). Slots keep the kernel's
names; the few we invent are marked "(invented)".

Conventions for every slot (the contract the syscall layer, the helpers and the verifier code to):

* ``map`` is a ``BpfMap`` (map.py). Keys and values are ``bytes``: the helpers read them out of
  simulated memory (``key_size`` / ``value_size`` bytes) before calling, the syscall layer copies
  them from user memory.
* Failures raise ``BpfError(errno, message)`` where the kernel op returns -errno; a helper turns
  that into its -errno return value (helpers never raise out of a program).
* Program-side lookups return the **simulated address** of the value in kernel memory
  (``map.kernel.mem``), or 0 for "not found" (the kernel's NULL). Values live in ``Region``s whose
  ``owner`` is the map, so a program loads and stores them directly and a helper that gets a value
  pointer finds its map with ``kernel.mem.region_of(addr).owner``.
* Per-CPU maps: program-side slots act on the copy of the CPU the program runs on,
  ``map.kernel.current_cpu``. Syscall-side copies are ``round_up(value_size, 8)`` bytes per
  possible CPU, in CPU order (``bpf_map_value_size``, map.py).
* Syscall-side element slots (``map_copy_value``, ``map_update_value``, ``map_get_next_key``,
  ``map_lookup_and_delete_elem``, the batch slots) are called only from syscall/; programs never
  reach them.
"""

from dataclasses import dataclass
from typing import Callable, Optional

Slot = Optional[Callable]


@dataclass(frozen=True, slots=True)
class BpfMapOps:
    """struct bpf_map_ops. Every field is a callable or None (unsupported)."""

    # -- creation and lifetime (called from syscall: map_create, bpf_map_put) ---------------
    map_alloc_check: Slot = None      # (attr: MapCreateAttr) -> None; EINVAL/E2BIG/EPERM on bad attributes
    map_alloc: Slot = None            # (kernel, attr: MapCreateAttr) -> BpfMap; ENOMEM/E2BIG
    map_free: Slot = None             # (map) -> None; refcnt reached 0: drop held refs, unmap values
    map_release_uref: Slot = None     # (map) -> None; usercnt reached 0 (prog array: clear all slots)
    map_release: Slot = None          # (map, file) -> None; a map file closed (perf array drops its entries)
    map_check_btf: Slot = None        # (map, btf, key_type, value_type) -> None; EINVAL/ENOTSUPP
    map_meta_equal: Slot = None       # (meta, map) -> bool; None: the type cannot be an inner map
    #                                   (bpf_map_meta_alloc: ENOTSUPP), map_in_map.py
    map_mmap: Slot = None             # (map, writable, offset=0, length=None) -> memoryview; mmap of the fd

    # -- element access from programs and syscalls ------------------------------------------
    map_lookup_elem: Slot = None      # (map, key) -> value address or 0. Program side.
    map_update_elem: Slot = None      # (map, key, value, flags) -> None; per-CPU: this CPU's copy
    map_delete_elem: Slot = None      # (map, key) -> None; ENOENT/EINVAL
    map_push_elem: Slot = None        # (map, value, flags) -> None; queue/stack/bloom
    map_pop_elem: Slot = None         # (map) -> value bytes; ENOENT when empty
    map_peek_elem: Slot = None        # (map) -> value bytes (bloom: (map, value) -> None, ENOENT if absent)
    map_lookup_percpu_elem: Slot = None  # (map, key, cpu) -> value address of that CPU's copy, or 0
    map_for_each_callback: Slot = None   # (map, callback(key: bytes, value_addr: int) -> int) -> count;
    #                                      callback returning 1 stops (bpf_for_each_map_elem)

    # -- syscall-side element access ---------------------------------------------------------
    map_get_next_key: Slot = None     # (map, key or None) -> next key bytes; ENOENT after the last
    map_copy_value: Slot = None       # (invented) (map, key, flags) -> bytes of bpf_map_value_size;
    #                                   None: generic (lookup + read value_size bytes). Kernel:
    #                                   the type switch in bpf_map_copy_value (percpu, fd, stack maps)
    map_update_value: Slot = None     # (invented) (map, key, value, flags, files, map_file) -> None; None: generic
    #                                   map_update_elem. Kernel: the switch in bpf_map_update_value
    map_lookup_and_delete_elem: Slot = None  # (map, key or None, flags) -> value bytes (percpu: all CPUs)
    map_lookup_batch: Slot = None     # (map, batch: BpfBatchArgs, user: UserAccess) -> None (batch.py)
    map_lookup_and_delete_batch: Slot = None
    map_update_batch: Slot = None
    map_delete_batch: Slot = None

    # -- fd maps (prog array, perf event array, map-in-map) ----------------------------------
    map_fd_get_ptr: Slot = None       # (map, map_file, files, fd) -> object (reference taken); EBADF/EINVAL
    map_fd_put_ptr: Slot = None       # (map, ptr, need_defer: bool) -> None; drop the reference
    map_fd_sys_lookup_elem: Slot = None  # (ptr) -> u32 (prog ID, map ID) for syscall lookups
    map_fd_lookup_ptr: Slot = None    # (invented) (map, index) -> stored object or None; the
    #                                   interpreter's tail call and bpf_perf_event_output read slots with it
    map_poke_track: Slot = None       # (map, prog) -> None; a program using this prog array (owner check)

    # -- local storage (task storage ...; bpf_local_storage.py) -------------------------------
    local_storage_get: Slot = None    # (invented) (map, owner, value bytes or None, flags) -> value
    #                                   address or 0 (bpf_task_storage_get: F_CREATE makes one)
    local_storage_delete: Slot = None  # (invented) (map, owner) -> None; ENOENT

    # -- global data (ld_imm64 BPF_PSEUDO_MAP_VALUE) ------------------------------------------
    map_direct_value_addr: Slot = None   # (map, off) -> address of value byte 0 (off < value_size); EINVAL/ENOTSUPP
    map_direct_value_meta: Slot = None   # (map, addr) -> offset of addr inside the value; EINVAL

    # -- ring buffer (kernel/bpf/ringbuf.c helpers; program side) ----------------------------
    ringbuf_reserve: Slot = None      # (map, size, flags) -> record data address or 0
    ringbuf_submit: Slot = None       # (map, data_addr, flags) -> None
    ringbuf_discard: Slot = None      # (map, data_addr, flags) -> None
    ringbuf_output: Slot = None       # (map, data: bytes, flags) -> None; EAGAIN when full, EINVAL flags
    ringbuf_query: Slot = None        # (map, flags) -> int

    # -- perf event array and stack trace map (kernel/trace/bpf_trace.c, kernel/bpf/stackmap.c)
    map_perf_event_output: Slot = None   # (map, flags, data: bytes) -> None; E2BIG/ENOENT/EINVAL/EOPNOTSUPP
    map_get_stackid: Slot = None         # (map, ips: list[int], flags) -> stack id; EFAULT/EEXIST/EINVAL
