"""fd arrays: the PROG_ARRAY and PERF_EVENT_ARRAY ops tables (kernel/bpf/arraymap.c, fd array part).

An fd array is an array whose values are kernel objects, written from user space as fds (4-byte
values) and read back as IDs: a prog array stores programs (tail-call targets, a reference held
per slot), a perf event array stores perf event files (bpf_perf_event_output targets). Update
flags must be exactly BPF_ANY; deleting an empty slot is ENOENT (unlike plain arrays).

Prog arrays: a stored program must be compatible with the array's owner
(``bpf_prog_map_compatible``, map.py) and not an EXT program (EINVAL). The syscall lookup returns
the program's ID. When the map's usercnt reaches 0 (no fds, no pins) every slot is cleared even if
programs still use the map (``prog_array_map_release_uref``); Linux defers that to a workqueue,
here it is immediate.

Perf event arrays store the File of a perf event fd (a reference on the File, as the kernel holds
the perf file). The perf event object itself (kernelsim/tracing) must provide this protocol
(invented; the kernel's struct perf_event fields it stands for are in brackets)::

    ev.kind == "perf_event"                      # how a perf event File is recognised (perf_fops)
    ev.is_bpf_output: bool                       # [attr.type == SOFTWARE, config == SW_BPF_OUTPUT]
    ev.oncpu: int                                # [event->oncpu] the CPU it counts on, -1 if none
    ev.bpf_output(cpu: int, data: bytes) -> None # [perf_event_output] append a raw sample
    ev.read_local() -> (value, enabled, running) # optional [perf_event_read_local]; absent or
                                                 # raising BpfError(EOPNOTSUPP) refuses the update

Entries remember the map File they were installed through; closing that File removes them
(``perf_event_fd_array_release``) unless the map has BPF_F_PRESERVE_ELEMS.
"""

import dataclasses
import errno

from ..errors import BpfError
from ..uapi import BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, ENOTSUPP, BpfMapFlags, BpfProgType
from .arraymap import array_map_alloc_check, array_map_get_next_key, array_check_max_entries
from .map import BpfMap, bpf_prog_map_compatible, check_memory
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

BPF_ANY = 0


class FdArray:
    """struct bpf_array's ptrs[]: the stored objects, None for an empty slot."""

    def __init__(self, n: int):
        self.ptrs: list = [None] * n


@dataclasses.dataclass
class BpfEventEntry:
    """struct bpf_event_entry: a perf event File and the map File it came through."""

    perf_file: object
    map_file: object


def fd_array_map_alloc_check(attr) -> None:
    """Called from syscall (map_create). EINVAL: value_size != 4, RDONLY_PROG/WRONLY_PROG; then
    the array rules."""
    if attr.value_size != 4:
        raise BpfError(errno.EINVAL, "fd array values are 4-byte fds")
    if attr.map_flags & (BpfMapFlags.BPF_F_RDONLY_PROG | BpfMapFlags.BPF_F_WRONLY_PROG):
        raise BpfError(errno.EINVAL, "RDONLY_PROG/WRONLY_PROG not supported on fd arrays")
    array_map_alloc_check(attr)


def fd_array_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall. E2BIG/ENOMEM as for arrays."""
    array_check_max_entries(attr)
    check_memory(attr.max_entries * 8)
    map = BpfMap(kernel, attr, None)
    map.data = FdArray(attr.max_entries)
    return map


def _index(key: bytes) -> int:
    return int.from_bytes(bytes(key[:4]), "little")


def fd_array_map_free(map) -> None:
    """Called when the last reference goes: drop whatever the slots still hold."""
    for i, ptr in enumerate(map.data.ptrs):
        if ptr is not None:
            map.data.ptrs[i] = None
            map.ops.map_fd_put_ptr(map, ptr, False)


def bpf_fd_array_map_update_elem(map, key: bytes, value: bytes, flags: int, files, map_file=None) -> None:
    """Called from syscall. EINVAL: flags other than BPF_ANY; E2BIG: index past the end; then
    the type's map_fd_get_ptr errors (EBADF, EINVAL ...)."""
    if flags != BPF_ANY:
        raise BpfError(errno.EINVAL, "fd array updates take BPF_ANY only")
    index = _index(key)
    if index >= map.max_entries:
        raise BpfError(errno.E2BIG, "index past max_entries")
    ufd = int.from_bytes(bytes(value[:4]), "little", signed=True)
    new = map.ops.map_fd_get_ptr(map, map_file, files, ufd)
    old, map.data.ptrs[index] = map.data.ptrs[index], new
    if old is not None:
        map.ops.map_fd_put_ptr(map, old, True)


def fd_array_map_delete_elem(map, key: bytes) -> None:
    """Called from syscall. E2BIG: index past the end; ENOENT: the slot is empty."""
    index = _index(key)
    if index >= map.max_entries:
        raise BpfError(errno.E2BIG, "index past max_entries")
    old, map.data.ptrs[index] = map.data.ptrs[index], None
    if old is None:
        raise BpfError(errno.ENOENT, "slot is empty")
    map.ops.map_fd_put_ptr(map, old, True)


def bpf_fd_array_map_lookup_elem(map, key: bytes, flags: int) -> bytes:
    """Called from syscall: the stored object's ID. ENOTSUPP: the type has no sys lookup
    (perf event arrays); ENOENT: past the end or empty."""
    if map.ops.map_fd_sys_lookup_elem is None:
        raise BpfError(ENOTSUPP, "fd array without a syscall lookup")
    index = _index(key)
    ptr = map.data.ptrs[index] if index < map.max_entries else None
    if ptr is None:
        raise BpfError(errno.ENOENT, "slot is empty")
    return map.ops.map_fd_sys_lookup_elem(ptr).to_bytes(4, "little")


def fd_array_map_lookup_ptr(map, index: int):
    """Called from the interpreter (tail call) and helpers: the object in slot ``index`` or None."""
    if 0 <= index < map.max_entries:
        return map.data.ptrs[index]
    return None


# -- prog array ----------------------------------------------------------------------------------


def prog_fd_array_get_ptr(map, map_file, files, fd: int):
    """EBADF: not an open fd; EINVAL: not a program, an EXT program, or incompatible with the
    array's owner. Takes a reference on the program."""
    from ..bpf_prog import BpfProg
    prog = files.get(fd).obj
    if not isinstance(prog, BpfProg):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a program")
    if prog.type == BpfProgType.BPF_PROG_TYPE_EXT or not bpf_prog_map_compatible(map, prog):
        raise BpfError(errno.EINVAL, "program is not compatible with this prog array")
    return prog.get()


def prog_fd_array_put_ptr(map, prog, need_defer: bool) -> None:
    prog.put()


def prog_fd_array_sys_lookup_elem(prog) -> int:
    return prog.id


def prog_array_map_release_uref(map) -> None:
    """Called when usercnt reaches 0 (prog_array_map_clear): every slot is emptied."""
    fd_array_map_free(map)


def prog_array_map_poke_track(map, prog) -> None:
    """Called from the verifier for a program using this array: binds the owner. EINVAL."""
    if not bpf_prog_map_compatible(map, prog):
        raise BpfError(errno.EINVAL, "program is not compatible with this prog array")


# -- perf event array ----------------------------------------------------------------------------


def perf_event_fd_array_get_ptr(map, map_file, files, fd: int):
    """EBADF: not an open perf event fd; EOPNOTSUPP: an event the kernel cannot read locally."""
    file = files.get(fd)
    ev = file.obj
    if getattr(ev, "kind", None) != "perf_event":
        raise BpfError(errno.EBADF, f"fd {fd} is not a perf event")
    read_local = getattr(ev, "read_local", None)
    if read_local is not None:
        read_local()
    return BpfEventEntry(file.get(), map_file)


def perf_event_fd_array_put_ptr(map, entry, need_defer: bool) -> None:
    entry.perf_file.put()


def perf_event_fd_array_release(map, map_file) -> None:
    """Called when a map File closes: drop the entries installed through it (not with
    BPF_F_PRESERVE_ELEMS)."""
    if map.map_flags & BpfMapFlags.BPF_F_PRESERVE_ELEMS:
        return
    for i, entry in enumerate(map.data.ptrs):
        if entry is not None and entry.map_file is map_file:
            map.data.ptrs[i] = None
            perf_event_fd_array_put_ptr(map, entry, True)


def perf_event_fd_array_map_perf_event_output(map, flags: int, data: bytes) -> None:
    """Called from bpf_perf_event_output. EINVAL: flags beyond the index mask, or an event that
    is not a BPF output event; E2BIG: index past the end; ENOENT: empty slot; EOPNOTSUPP: the
    event is not on the current CPU."""
    if flags & ~BPF_F_INDEX_MASK:
        raise BpfError(errno.EINVAL, "unknown perf_event_output flags")
    cpu = map.kernel.current_cpu
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_CURRENT_CPU:
        index = cpu
    if index >= map.max_entries:
        raise BpfError(errno.E2BIG, "index past max_entries")
    entry = map.data.ptrs[index]
    if entry is None:
        raise BpfError(errno.ENOENT, "no perf event in that slot")
    ev = entry.perf_file.obj
    if not getattr(ev, "is_bpf_output", False):
        raise BpfError(errno.EINVAL, "not a PERF_COUNT_SW_BPF_OUTPUT event")
    if getattr(ev, "oncpu", -1) != cpu:
        raise BpfError(errno.EOPNOTSUPP, "perf event is not on this CPU")
    ev.bpf_output(cpu, bytes(data))


def perf_event_fd_array_lookup_ptr(map, index: int):
    """The perf event object (not the entry) in slot ``index``, or None."""
    entry = fd_array_map_lookup_ptr(map, index)
    return entry.perf_file.obj if entry is not None else None


def map_check_no_btf(map, btf, key_type, value_type) -> None:
    """ENOTSUPP: this map type takes no BTF."""
    raise BpfError(ENOTSUPP, "map type does not support BTF")


fd_array_map_ops = BpfMapOps(
    map_alloc_check=fd_array_map_alloc_check,
    map_alloc=fd_array_map_alloc,
    map_free=fd_array_map_free,
    map_get_next_key=array_map_get_next_key,
    map_delete_elem=fd_array_map_delete_elem,
    map_copy_value=bpf_fd_array_map_lookup_elem,
    map_update_value=bpf_fd_array_map_update_elem,
    map_fd_lookup_ptr=fd_array_map_lookup_ptr,
)

prog_array_map_ops = dataclasses.replace(
    fd_array_map_ops,
    map_release_uref=prog_array_map_release_uref,
    map_fd_get_ptr=prog_fd_array_get_ptr,
    map_fd_put_ptr=prog_fd_array_put_ptr,
    map_fd_sys_lookup_elem=prog_fd_array_sys_lookup_elem,
    map_poke_track=prog_array_map_poke_track,
)

perf_event_array_map_ops = dataclasses.replace(
    fd_array_map_ops,
    map_meta_equal=bpf_map_meta_equal,
    map_release=perf_event_fd_array_release,
    map_fd_get_ptr=perf_event_fd_array_get_ptr,
    map_fd_put_ptr=perf_event_fd_array_put_ptr,
    map_fd_lookup_ptr=perf_event_fd_array_lookup_ptr,
    map_perf_event_output=perf_event_fd_array_map_perf_event_output,
)
