"""Refcounted BPF objects, the files that hold them and the per-task fd table
(kernel/bpf/syscall.c bpf_map_put / __bpf_prog_put / bpf_link_put, fs/file.c, fs/file_table.c).

Who holds what (reference/bpf-syscall.md section 4.2):

* A ``File`` is what an fd points at (struct file): dup and fork share one File; each fd table
  entry holds one reference to it (``f_count``). When its count drops to 0 the File releases the
  reference it holds on its object.
* A ``BpfObject`` (map, prog, link, BTF) has ``refcnt``; Files, bpffs pins, links (on their prog)
  and programs (on the maps they use) each hold one. Maps also have ``usercnt``: held by Files and
  pins only, not by programs; when it reaches 0 the map's ``map_release_uref`` runs (a prog array
  empties itself).
* When ``refcnt`` reaches 0 the object's ID leaves its registry at once and the object is freed
  (``free()``), dropping the references it holds in turn.

fds are allocated lowest-free from 3 (0, 1 and 2 are the task's stdio), as get_unused_fd_flags does.
"""

import errno

from .errors import BpfError

# f_mode bits (include/linux/fs.h)
FMODE_READ = 0x1
FMODE_WRITE = 0x2
FMODE_RDWR = FMODE_READ | FMODE_WRITE


class BpfObject:
    """Base of BpfMap, BpfProg, BpfLink, BpfBtf: a refcount and an ID in the kernel's registry."""

    kind = "object"        # "map" | "prog" | "link" | "btf": which registry (KernelState.idr[kind])

    def __init__(self, kernel):
        self.kernel = kernel
        self.refcnt = 1    # the creator's reference (normally handed to the first File)
        self.id = 0        # 0 until alloc_id (a failed creation never takes an ID)

    def alloc_id(self) -> int:
        self.id = self.kernel.idr[self.kind].alloc_cyclic(self)
        return self.id

    def get(self) -> "BpfObject":
        self.refcnt += 1
        return self

    def put(self) -> None:
        self.refcnt -= 1
        if self.refcnt == 0:
            if self.id:
                self.kernel.idr[self.kind].remove(self.id)
            self.free()
        elif self.refcnt < 0:  # pragma: no cover - a bookkeeping bug
            raise AssertionError(f"{self!r}: refcount below zero")

    # what holding it from user space means; maps override to count usercnt too
    def get_uref(self) -> "BpfObject":
        return self.get()

    def put_uref(self) -> None:
        self.put()

    def free(self) -> None:
        """Release what the object holds (maps it uses, its program...). Subclasses extend."""


class File:
    """struct file: an open object with an access mode, shared by dup'ed and inherited fds."""

    def __init__(self, obj, f_mode: int = FMODE_RDWR, name: str | None = None):
        self.obj = obj                          # a BpfObject, or another kernel object with release()
        self.f_mode = f_mode
        self.name = name or f"anon_inode:bpf-{getattr(obj, 'kind', 'file')}"
        self.f_count = 0

    def get(self) -> "File":
        self.f_count += 1
        return self

    def put(self) -> None:
        self.f_count -= 1
        if self.f_count == 0:
            self.release()

    def release(self) -> None:
        obj = self.obj
        if isinstance(obj, BpfObject):
            obj.put_uref()
        elif hasattr(obj, "release"):
            obj.release()

    def __repr__(self) -> str:
        return f"<File {self.name} {self.obj!r}>"


class FdTable:
    """struct files_struct: fd -> File. Called from syscalls (install, get, close, dup) and fork."""

    FIRST_FD = 3

    def __init__(self, max_fds: int = 1024):
        self.fds: dict[int, File] = {}
        self.max_fds = max_fds        # RLIMIT_NOFILE

    def install(self, file: File) -> int:
        """Take a reference on ``file`` and return the lowest free fd. EMFILE when full."""
        fd = self.FIRST_FD
        while fd in self.fds:
            fd += 1
        if fd >= self.max_fds:
            raise BpfError(errno.EMFILE, "too many open files")
        self.fds[fd] = file.get()
        return fd

    def get(self, fd: int) -> File:
        """EBADF for an fd that is not open."""
        file = self.fds.get(fd) if isinstance(fd, int) else None
        if file is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        return file

    def close(self, fd: int) -> None:
        file = self.fds.pop(fd, None) if isinstance(fd, int) else None
        if file is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        file.put()

    def dup(self, fd: int) -> int:
        return self.install(self.get(fd))

    def copy(self) -> "FdTable":
        """fork: the child gets the same Files under the same numbers, each reference taken."""
        child = FdTable(self.max_fds)
        for fd, file in self.fds.items():
            child.fds[fd] = file.get()
        return child

    def close_all(self) -> None:
        for fd in sorted(self.fds):
            self.fds.pop(fd).put()

    def __len__(self) -> int:
        return len(self.fds)
