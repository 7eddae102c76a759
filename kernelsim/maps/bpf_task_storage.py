"""Task storage: the TASK_STORAGE ops table (kernel/bpf/bpf_task_storage.c).

One value per task, on the local storage of bpf_local_storage.py. The owner is the task
(``TaskStruct``); the CPU's idle task, which has no TaskStruct, is the key ``("idle", addr)``
of its task_struct address.

Syscall side (the key is a pidfd in the caller's fd table, as bpf_pid_task_storage_*_elem
read it): EBADF when the fd is not open or not a pidfd, ENOENT when its process has exited or
has no value; GET_NEXT_KEY is ENOTSUPP. Programs reach the values only through
bpf_task_storage_get/delete (helpers/core.py), which call the ``local_storage_*`` slots.

A task that exits loses its values (bpf_task_storage_free); kernelsim drops them the next time
the map is used rather than at exit (invented: TaskStruct.exit has no storage hook), which no
program or syscall can tell apart.
"""

import errno

from ..errors import BpfError
from ..pidfd import pid_task, pidfd_get_pid
from ..uapi import ENOTSUPP
from .bpf_local_storage import (BPF_LOCAL_STORAGE_GET_F_CREATE, BPF_NOEXIST,
                                bpf_local_storage_delete, bpf_local_storage_lookup,
                                bpf_local_storage_map_alloc, bpf_local_storage_map_alloc_check,
                                bpf_local_storage_map_check_btf, bpf_local_storage_map_free,
                                bpf_local_storage_owner_gone, bpf_local_storage_update)
from .map import bpf_map_meta_equal
from .ops import BpfMapOps


def _forget_exited(map) -> None:
    for owner in [o for o in map.data.values if getattr(o, "alive", True) is False]:
        bpf_local_storage_owner_gone(map, owner)


def _caller_files(map):
    """current->files: the task making the bpf() call (syscall/dispatch.py makes it current)."""
    kernel = map.kernel
    task = kernel.cpus[kernel.current_cpu].current
    return task.files if task is not None else None


def _task_of_pidfd(map, files, key: bytes):
    """pidfd_get_pid + pid_task. EBADF: not a pidfd; ENOENT: the process has exited."""
    fd = int.from_bytes(bytes(key[:4]), "little", signed=True)
    task = pid_task(map.kernel, pidfd_get_pid(files, fd))
    if task is None:
        raise BpfError(errno.ENOENT, "the pidfd's process has exited")
    return task


def bpf_pid_task_storage_copy_value(map, key: bytes, flags: int) -> bytes:
    """Called from syscall (MAP_LOOKUP_ELEM). EBADF, ENOENT."""
    _forget_exited(map)
    task = _task_of_pidfd(map, _caller_files(map), key)
    addr = bpf_local_storage_lookup(map, task)
    if not addr:
        raise BpfError(errno.ENOENT, "the task has no value")
    return map.kernel.mem.read(addr, map.value_size)


def bpf_pid_task_storage_update_value(map, key: bytes, value: bytes, flags: int, files,
                                      map_file=None) -> None:
    """Called from syscall (MAP_UPDATE_ELEM). EBADF, ENOENT; then EINVAL/EEXIST/ENOENT of the
    update flags."""
    _forget_exited(map)
    task = _task_of_pidfd(map, files, key)
    bpf_local_storage_update(map, task, value, flags)


def bpf_pid_task_storage_delete_elem(map, key: bytes) -> None:
    """Called from syscall (MAP_DELETE_ELEM). EBADF, ENOENT."""
    _forget_exited(map)
    task = _task_of_pidfd(map, _caller_files(map), key)
    bpf_local_storage_delete(map, task)


def notsupp_get_next_key(map, key) -> bytes:
    raise BpfError(ENOTSUPP, "local storage maps cannot be iterated")


def task_storage_get(map, owner, value: bytes | None, flags: int) -> int:
    """Called from bpf_task_storage_get: the value's address, creating it (from ``value``, or
    zeroes) with BPF_LOCAL_STORAGE_GET_F_CREATE unless the task has exited; 0 otherwise."""
    if getattr(owner, "alive", True) is False:
        bpf_local_storage_owner_gone(map, owner)
        return 0
    addr = bpf_local_storage_lookup(map, owner)
    if addr or not flags & BPF_LOCAL_STORAGE_GET_F_CREATE:
        return addr
    try:
        return bpf_local_storage_update(map, owner, value, BPF_NOEXIST)
    except BpfError:
        return 0


def task_storage_delete(map, owner) -> None:
    """Called from bpf_task_storage_delete. ENOENT."""
    bpf_local_storage_delete(map, owner)


def task_storage_map_free(map) -> None:
    bpf_local_storage_map_free(map)


task_storage_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc_check=bpf_local_storage_map_alloc_check,
    map_alloc=bpf_local_storage_map_alloc,
    map_free=task_storage_map_free,
    map_check_btf=bpf_local_storage_map_check_btf,
    map_get_next_key=notsupp_get_next_key,
    map_copy_value=bpf_pid_task_storage_copy_value,
    map_update_value=bpf_pid_task_storage_update_value,
    map_delete_elem=bpf_pid_task_storage_delete_elem,
    local_storage_get=task_storage_get,
    local_storage_delete=task_storage_delete,
)
