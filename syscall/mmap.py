"""mmap(2) and munmap(2) of kernelsim's fds: perf event rings (syscall/perf.py) and BPF maps
(kernel/bpf/syscall.c bpf_map_mmap, the types' map_mmap: arraymap.c array_map_mmap for
BPF_F_MMAPABLE arrays, ringbuf.c ringbuf_map_mmap_kern; mm/mmap.c do_mmap for the file checks).

``sys_mmap(task, fd, length, prot, flags, offset)`` returns, for a map fd, a ``MapMapping``
(``view``: a memoryview of the shared bytes, read-only without PROT_WRITE; indexing and
``len()`` go to it) or -errno, checked in the kernel's order:

* EINVAL: length 0, an offset that is not page-aligned;  EBADF: not an open fd;
* EACCES: the fd was not opened for reading (BPF_F_WRONLY), or PROT_WRITE with MAP_SHARED on an fd
  not opened for writing (BPF_F_RDONLY) — do_mmap's file mode checks; a read-only MAP_SHARED
  mapping of such an fd loses VM_SHARED there, so bpf_map_mmap refuses it with EINVAL below;
* ENODEV: neither a map nor a perf event (no mmap file operation);
* ENOTSUPP (524): the map type cannot be mapped, or its value has special fields (a spin lock);
* EINVAL: not MAP_SHARED;  EPERM: writable and the map is frozen;  EACCES: writable and the map
  was created BPF_F_RDONLY_PROG;
* then the type's own rules: an array must be BPF_F_MMAPABLE and the mapping within its page-
  rounded values (EINVAL); a ring buffer maps its consumer page writable only at offset 0 for one
  page (EPERM) and nothing past the producer page and the twice-mapped data (EINVAL).

A writable mapping counts as a writer of the map until ``task.munmap(mapping)`` (or
``mapping.close()``): MAP_FREEZE is EBUSY meanwhile, as on Linux.
"""

from __future__ import annotations

import errno

from kernelsim.bpf_objects import FMODE_READ, FMODE_WRITE
from kernelsim.errors import BpfError
from kernelsim.maps.map import MapFile, map_has_spin_lock
from kernelsim.memory import PAGE_SIZE
from kernelsim.uapi import ENOTSUPP, BpfMapFlags

PROT_READ, PROT_WRITE = 0x1, 0x2
MAP_SHARED, MAP_PRIVATE = 0x01, 0x02


class MapMapping:
    """One mmap of a map fd (a vm_area_struct of bpf_map_default_vmops)."""

    def __init__(self, map, view: memoryview, writable: bool, offset: int):
        self.map, self.view, self.writable, self.offset = map, view, writable, offset
        if writable:
            map.writecnt += 1                   # bpf_map_write_active_inc

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i):
        return self.view[i]

    def __setitem__(self, i, v) -> None:
        self.view[i] = v

    def close(self) -> None:
        """munmap: the mapping is gone; a writable one stops counting as a writer."""
        if self.view is None:
            return
        if self.writable:
            self.map.writecnt -= 1
        self.view.release()
        self.view = None


def bpf_map_mmap(map, length: int, prot: int, flags: int, offset: int) -> MapMapping:
    """bpf_map_mmap (after do_mmap's file checks). BpfError as the module docstring lists."""
    if map.ops.map_mmap is None or map_has_spin_lock(map):
        raise BpfError(ENOTSUPP, "this map cannot be mmapped")
    if not flags & MAP_SHARED:
        raise BpfError(errno.EINVAL, "a map can only be mapped MAP_SHARED")
    writable = bool(prot & PROT_WRITE)
    if writable:
        if map.frozen:
            raise BpfError(errno.EPERM, "writable mapping of a frozen map")
        if map.map_flags & BpfMapFlags.BPF_F_RDONLY_PROG:
            raise BpfError(errno.EACCES, "writable mapping of a BPF_F_RDONLY_PROG map")
    view = map.ops.map_mmap(map, writable, offset, length)
    return MapMapping(map, view, writable, offset)


def sys_mmap(task, fd: int, length: int, prot: int = PROT_READ | PROT_WRITE, flags: int = MAP_SHARED,
             offset: int = 0):
    """mmap(NULL, length, prot, flags, fd, offset): a MapMapping for a map fd, the perf ring's
    memoryview for a perf event fd (syscall/perf.py), or -errno."""
    try:
        length, prot, flags, offset = int(length), int(prot), int(flags), int(offset)
        if length <= 0 or offset < 0 or offset % PAGE_SIZE:
            raise BpfError(errno.EINVAL, "length 0 or an unaligned offset")
        file = task.files.get(int(fd))
        if not isinstance(file, MapFile):
            from .perf import sys_mmap as perf_mmap
            return perf_mmap(task, fd, length, prot, flags, offset)
        if not file.f_mode & FMODE_READ:
            raise BpfError(errno.EACCES, "the fd is not open for reading")
        if flags & MAP_SHARED and not file.f_mode & FMODE_WRITE:
            if prot & PROT_WRITE:
                raise BpfError(errno.EACCES, "PROT_WRITE on an fd not open for writing")
            flags &= ~MAP_SHARED            # do_mmap: a file that cannot be written loses VM_SHARED
        return bpf_map_mmap(file.obj, length, prot, flags, offset)
    except BpfError as e:
        return -e.errno


def sys_munmap(task, mapping) -> int:
    """munmap of a mapping sys_mmap returned: 0 (EINVAL for anything else)."""
    if not isinstance(mapping, MapMapping):
        return -errno.EINVAL
    mapping.close()
    return 0
