"""pidfds: a file that refers to a process (kernel/pid.c pidfd_open, pidfd_get_pid, pidfs).

The task storage map's syscall side takes a pidfd as its key (kernel/bpf/bpf_task_storage.c),
so the simulator needs just enough of them: ``pidfd_open(task, pid)`` installs a pidfd for
``pid`` in ``task``'s fd table and returns the fd (ESRCH: no such process; EINVAL: flags other
than PIDFD_NONBLOCK / PIDFD_THREAD); ``pidfd_get_pid(files, fd)`` is the kernel's lookup (EBADF:
not open, or not a pidfd, as pidfd_pid says); ``pid_task(kernel, pid)`` is the process behind a
pid or None once it has exited (the struct pid outlives its task, as on Linux).

``PidFd`` stands for struct pid and ``PidFile`` for the pidfs file (invented names).
"""

import errno

from .bpf_objects import File
from .errors import BpfError

PIDFD_THREAD = 0o200                # O_EXCL
PIDFD_NONBLOCK = 0o4000             # O_NONBLOCK


class PidFd:
    """struct pid as a pidfd holds it: the number, in the machine's pid namespace."""

    kind = "pidfd"

    def __init__(self, kernel, pid: int):
        self.kernel = kernel
        self.pid = pid

    def release(self) -> None:
        """The last file reference went away (put_pid): nothing to free."""

    def __repr__(self) -> str:
        return f"<PidFd pid={self.pid}>"


class PidFile(File):
    """The pidfs file of a pidfd ("anon_inode:[pidfd]" in /proc/self/fd)."""

    def __init__(self, pid: PidFd, flags: int = 0):
        super().__init__(pid, name="anon_inode:[pidfd]")
        self.f_flags = flags


def pidfd_open(task, pid: int, flags: int = 0) -> int:
    """pidfd_open(2) by ``task``: a new fd in its table. EINVAL: unknown flags or pid <= 0;
    ESRCH: no live process ``pid``."""
    if flags & ~(PIDFD_NONBLOCK | PIDFD_THREAD) or pid <= 0:
        raise BpfError(errno.EINVAL, "pidfd_open: bad flags or pid")
    if pid_task(task.kernel, pid) is None:
        raise BpfError(errno.ESRCH, f"no process {pid}")
    return task.files.install(PidFile(PidFd(task.kernel, pid), flags))


def pidfd_get_pid(files, fd: int) -> PidFd:
    """pidfd_get_pid: the struct pid behind ``fd``. EBADF: not open or not a pidfd."""
    if files is None:
        raise BpfError(errno.EBADF, "no fd table")
    file = files.get(fd)
    if not isinstance(file.obj, PidFd):
        raise BpfError(errno.EBADF, f"fd {fd} is not a pidfd")
    return file.obj


def pid_task(kernel, pid) -> object | None:
    """pid_task(pid, PIDTYPE_PID): the live task, or None."""
    n = pid.pid if isinstance(pid, PidFd) else int(pid)
    task = kernel.tasks.get(n)
    return task if task is not None and getattr(task, "alive", True) else None
