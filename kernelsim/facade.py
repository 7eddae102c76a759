"""The facade: ``Kernel`` (one simulated machine) and ``Task`` (a process on it) — the names tests,
scenarios and outside tools call (the contract of the syscall issue).

    from kernelsim import Kernel
    kernel = Kernel(arch="x86_64", ncpus=2, seed=1)
    kernel.sysctl["kernel.unprivileged_bpf_disabled"] = 0
    task = kernel.spawn(comm="loader", uid=0)
    fd = task.bpf(BPF_MAP_CREATE, attr_bytes)      # >= 0, or -errno, like the real syscall

The facade only adds the user-space entry points (syscalls) on top of the core objects
(``KernelState``, ``TaskStruct``); everything else lives in the core.
"""

from .cred import Cred
from .kernel_state import KernelState
from .task import TaskStruct


class Task(TaskStruct):
    """A process. Its syscalls return what Linux returns: >= 0 or -errno."""

    def bpf(self, cmd: int, attr=b"", size: int | None = None) -> int:
        """bpf(2). ``attr`` is the bytes of union bpf_attr (bytes, bytearray, memoryview or a cffi
        buffer); fields the kernel writes back are written into it when it is writable. Pointer
        fields are addresses in this Python process's memory (ctypes/cffi buffers)."""
        from syscall.dispatch import sys_bpf
        return sys_bpf(self, cmd, attr, size)

    def close(self, fd: int) -> int:
        """close(2): 0 or -EBADF."""
        from syscall.dispatch import sys_close
        return sys_close(self, fd)

    def dup(self, fd: int) -> int:
        """dup(2): the new fd or -errno."""
        from syscall.dispatch import sys_dup
        return sys_dup(self, fd)

    def load_object(self, path, **opts):
        """Load a BPF ELF object (or compile a .bpf.c first) the way libbpf does, every step
        through this task's bpf(); returns the object handle (syscall/object)."""
        from syscall.object import bpf_object_open_and_load
        return bpf_object_open_and_load(self, path, **opts)

    def open_object(self, path, **opts):
        """Open a BPF object without loading it (libbpf's two phases): set ``obj.rodata.x``,
        ``obj.progs[name].autoload`` ..., then ``obj.load()`` (syscall/object)."""
        from syscall.object import bpf_object_open
        return bpf_object_open(self, path, **opts)

    def perf_event_open(self, attr, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                        flags: int = 0) -> int:
        """perf_event_open(2) for the tracepoint and kprobe PMUs: an fd or -errno."""
        from syscall.perf import sys_perf_event_open
        return sys_perf_event_open(self, attr, pid, cpu, group_fd, flags)

    def ioctl(self, fd: int, request: int, arg: int = 0) -> int:
        """ioctl(2) on a perf event fd (PERF_EVENT_IOC_SET_BPF / ENABLE / DISABLE): 0 or -errno."""
        from syscall.perf import sys_ioctl
        return sys_ioctl(self, fd, request, arg)

    def mmap(self, fd: int, length: int, prot: int = 3, flags: int = 1, offset: int = 0):
        """mmap(2) (prot PROT_READ|PROT_WRITE, flags MAP_SHARED by default): of a perf event fd,
        a writable memoryview of its ring buffer (header page and data pages); of a map fd (a
        BPF_F_MMAPABLE array, a ring buffer's pages), a BpfMapMmap whose ``view`` shares the
        map's bytes; or -errno (syscall/mmap.py)."""
        from syscall.mmap import sys_mmap
        return sys_mmap(self, fd, length, prot, flags, offset)

    def munmap(self, mapping) -> int:
        """munmap(2) of a map mapping from ``mmap``: 0, or -EINVAL."""
        from syscall.mmap import sys_munmap
        return sys_munmap(self, mapping)


class Kernel(KernelState):
    """One simulated machine. ``Kernel(arch="x86_64", btf=None, ncpus=2, seed=0, profile="6.18",
    declare=None)``: ``btf`` is None for the embedded kernel BTF, or a path to a vmlinux BTF file
    (every FUNC of it then becomes attachable and callable). ``declare`` is C source (structs,
    unions, enums, typedefs, function prototypes) added to that BTF: the declared functions are
    kernel functions like the others (attachable, ``kernel.call``-able; without a body they
    return ``kernel.functions[name].set_return(v)``'s value, 0 by default)."""

    def spawn(self, comm: str = "task", uid: int = 0, gid: int = 0, caps=None, cpu: int | None = None) -> Task:
        """A new process. ``caps`` is a set of names such as {"CAP_BPF"}; None gives every
        capability to uid 0 and none to anyone else."""
        task = Task(self, comm=comm, cred=Cred.make(uid, gid, caps))
        if self.current() is None or cpu is not None:
            self.switch_to(task, cpu)
        return task
