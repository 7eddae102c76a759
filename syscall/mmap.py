"""mmap(2) and munmap(2) of kernelsim's fds: perf event rings (syscall/perf.py) and BPF maps
(kernel/bpf/syscall.c bpf_map_mmap, the types' map_mmap: arraymap.c array_map_mmap for
BPF_F_MMAPABLE arrays, ringbuf.c ringbuf_map_mmap_kern; mm/mmap.c do_mmap for the file checks).

``sys_mmap(task, fd, length, prot, flags, offset)`` returns, for a map fd, a
``kernelsim.maps.map.BpfMapMmap`` (``view``: a memoryview of the shared bytes, read-only without
PROT_WRITE; indexing and ``len()`` go to it) or -errno, checked in the kernel's order (do_mmap's
file checks here, then map.py's bpf_map_mmap and the type's map_mmap):

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
from kernelsim.maps.map import BpfMapMmap, MapFile, bpf_map_mmap
from kernelsim.memory import PAGE_SIZE

PROT_READ, PROT_WRITE = 0x1, 0x2
MAP_SHARED, MAP_PRIVATE = 0x01, 0x02


def sys_mmap(task, fd: int, length: int, prot: int = PROT_READ | PROT_WRITE, flags: int = MAP_SHARED,
             offset: int = 0):
    """mmap(NULL, length, prot, flags, fd, offset): a BpfMapMmap for a map fd, the perf ring's
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
        return bpf_map_mmap(file.obj, bool(prot & PROT_WRITE), offset, length,
                            shared=bool(flags & MAP_SHARED))
    except BpfError as e:
        return -e.errno


def sys_munmap(task, mapping) -> int:
    """munmap of a mapping sys_mmap returned: 0 (EINVAL for anything else)."""
    if not isinstance(mapping, BpfMapMmap):
        return -errno.EINVAL
    mapping.close()
    return 0
