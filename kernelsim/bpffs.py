"""bpffs: the BPF filesystem at /sys/fs/bpf, and just enough of a VFS around it
(kernel/bpf/inode.c bpf_obj_do_pin / bpf_obj_do_get / bpf_lookup / bpf_mkdir; fs/namei.c).

The machine has one directory tree. Everything under the mount point (``/sys/fs/bpf`` by
default) is bpffs; a few ordinary directories exist around it (``/``, ``/sys``, ``/sys/fs``,
``/tmp``, ``/dev``, ``/proc``, ``/run``, ``/home``) so that paths outside bpffs behave as on Linux
(pinning there is EPERM, getting a directory EACCES).

Inodes have a mode, an owner uid/gid and, for pins, the BPF object. A pin holds a reference on
its object (maps: refcnt and usercnt); unlinking the pin, or replacing it by rename, drops it.

Rules (reference/bpf-syscall.md 4.4):

* path walk: every directory on the way needs search (x) permission, EACCES; a missing component
  ENOENT, a non-directory component ENOTDIR; ``..`` and ``.`` are followed; an empty path ENOENT;
  a path above PATH_MAX or a component above NAME_MAX ENAMETOOLONG.
* names containing '.' are refused by bpffs lookups with EPERM (bpf_lookup), so such names can
  neither be created nor found inside bpffs.
* create (pin, mkdir): parent missing ENOENT, name exists EEXIST, pin outside bpffs EPERM, no
  write+search permission on the parent EACCES. Pins get ``0600 & ~umask``, directories
  ``mode & ~umask``, owned by the creating task's uid/gid.
* get: permission bits for the requested access (read for RDONLY, write for WRONLY, both for
  RDWR) EACCES; a directory or a non-bpffs file EACCES.
* Permissions follow generic_permission: owner, group or other bits; CAP_DAC_OVERRIDE bypasses
  them (search on a directory, read/write on anything); CAP_DAC_READ_SEARCH bypasses read and
  directory search. The bpffs root is 01777 (the kernel's default mount mode, sticky): anyone
  may pin there, only the owner (or CAP_FOWNER) may unlink or rename another's entry.
"""

import errno
import stat

from .errors import BpfError

PATH_MAX = 4096
NAME_MAX = 255
MAY_EXEC, MAY_WRITE, MAY_READ = 1, 2, 4
BPFFS_MOUNT = "/sys/fs/bpf"
PLAIN_DIRS = ("/", "/sys", "/sys/fs", "/tmp", "/dev", "/proc", "/run", "/home")


class Inode:
    """A directory or a pinned object."""

    def __init__(self, mode: int, uid: int = 0, gid: int = 0, bpffs: bool = False, obj=None,
                 parent=None, name: str = ""):
        self.mode = mode                     # S_IFDIR | perms, or S_IFREG | perms
        self.uid, self.gid = uid, gid
        self.bpffs = bpffs                   # inside a bpffs mount
        self.obj = obj                       # the pinned BpfObject
        self.children: dict[str, Inode] = {} if stat.S_ISDIR(mode) else None
        self.parent = parent
        self.name = name

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    def __repr__(self) -> str:
        what = "dir" if self.is_dir else f"pin {self.obj!r}"
        return f"<Inode {self.name!r} {oct(self.mode)} uid={self.uid} {what}>"


def inode_permission(inode: Inode, mask: int, cred) -> None:
    """generic_permission (with the capability overrides). EACCES."""
    if cred is None:
        return
    mode = inode.mode
    if cred.uid == inode.uid:
        perm = (mode >> 6) & 7
    elif cred.gid == inode.gid:
        perm = (mode >> 3) & 7
    else:
        perm = mode & 7
    if mask & ~perm == 0:
        return
    if cred.capable("CAP_DAC_OVERRIDE"):
        if inode.is_dir or not mask & MAY_EXEC or mode & 0o111:
            return
    if cred.capable("CAP_DAC_READ_SEARCH"):
        if mask == MAY_READ or (inode.is_dir and mask & ~(MAY_READ | MAY_EXEC) == 0):
            return
    raise BpfError(errno.EACCES, f"permission denied on {inode.name or '/'}")


class Bpffs:
    """The directory tree of one machine, with a bpffs mounted at ``BPFFS_MOUNT``."""

    def __init__(self, kernel, mount: str = BPFFS_MOUNT, mode: int = 0o1777):
        self.kernel = kernel
        self.root = Inode(stat.S_IFDIR | 0o755, name="/")
        for path in PLAIN_DIRS[1:]:
            self._plain_mkdir(path, 0o1777 if path == "/tmp" else 0o755)
        self.mount_point = mount
        self._trailing_slash = False
        parent, name = self._split(mount)
        pdir = self._plain_mkdir(parent, 0o755)
        self.bpffs_root = Inode(stat.S_IFDIR | mode, bpffs=True, parent=pdir, name=name)
        pdir.children[name] = self.bpffs_root

    def _plain_mkdir(self, path: str, mode: int) -> Inode:
        node = self.root
        for part in [p for p in path.split("/") if p]:
            child = node.children.get(part)
            if child is None:
                child = Inode(stat.S_IFDIR | mode, parent=node, name=part)
                node.children[part] = child
            node = child
        return node

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        path = path.rstrip("/") or "/"
        parent, _, name = path.rpartition("/")
        return parent or "/", name

    # -- lookup -----------------------------------------------------------------------------

    def _walk(self, path: str, cred, start: Inode | None = None, want_parent: bool = False):
        """Resolve ``path``; with ``want_parent`` return (parent inode, last name) without looking
        the last name up. ENOENT, ENOTDIR, EACCES, EPERM ('.' in a bpffs name), ENAMETOOLONG."""
        if not path:
            raise BpfError(errno.ENOENT, "empty path")
        if len(path) >= PATH_MAX:
            raise BpfError(errno.ENAMETOOLONG, "path too long")
        node = self.root if path.startswith("/") or start is None else start
        parts = [p for p in path.split("/") if p]
        trailing_slash = path.endswith("/") and len(path) > 1
        last = None
        if want_parent:
            if not parts:
                raise BpfError(errno.EEXIST, "cannot create the root")
            last = parts.pop()
            if len(last) > NAME_MAX:
                raise BpfError(errno.ENAMETOOLONG, "name too long")
        for part in parts:
            node = self._step(node, part, cred)
        if want_parent:
            if not node.is_dir:
                raise BpfError(errno.ENOTDIR, f"{node.name} is not a directory")
            inode_permission(node, MAY_EXEC, cred)
            if last in (".", ".."):
                raise BpfError(errno.EEXIST, f"{last} exists")
            self._trailing_slash = trailing_slash
            return node, last
        if trailing_slash and not node.is_dir:
            raise BpfError(errno.ENOTDIR, f"{node.name} is not a directory")
        return node

    def _step(self, node: Inode, part: str, cred) -> Inode:
        if len(part) > NAME_MAX:
            raise BpfError(errno.ENAMETOOLONG, "name too long")
        if not node.is_dir:
            raise BpfError(errno.ENOTDIR, f"{node.name} is not a directory")
        inode_permission(node, MAY_EXEC, cred)
        if part == ".":
            return node
        if part == "..":
            return node.parent or node
        child = node.children.get(part)
        if child is None:
            if node.bpffs and "." in part:
                raise BpfError(errno.EPERM, f"bpffs names cannot contain '.': {part}")
            raise BpfError(errno.ENOENT, f"no such file or directory: {part}")
        return child

    def lookup(self, path: str, cred=None) -> Inode:
        return self._walk(path, cred)

    def _create(self, path: str, cred, umask: int, start=None, want_dir: bool = False) -> tuple[Inode, str]:
        parent, name = self._walk(path, cred, start, want_parent=True)
        if parent.bpffs and "." in name and name not in parent.children:
            raise BpfError(errno.EPERM, f"bpffs names cannot contain '.': {name}")
        if name in parent.children:
            raise BpfError(errno.EEXIST, f"{path} exists")
        if self._trailing_slash and not want_dir:
            raise BpfError(errno.ENOENT, "trailing slash on a file to create")
        return parent, name

    # -- the operations ---------------------------------------------------------------------

    def pin(self, path: str, obj, cred=None, umask: int = 0o022, start=None) -> Inode:
        """bpf_obj_do_pin: a new pin holding the caller's reference on ``obj`` (on failure the
        caller keeps it). ENOENT, EEXIST, EPERM (parent not in bpffs), EACCES."""
        parent, name = self._create(path, cred, umask, start)
        if not parent.bpffs:
            raise BpfError(errno.EPERM, f"{path}: not on a bpffs")
        inode_permission(parent, MAY_WRITE | MAY_EXEC, cred)
        uid, gid = (cred.uid, cred.gid) if cred is not None else (0, 0)
        inode = Inode(stat.S_IFREG | (0o600 & ~umask), uid, gid, bpffs=True, obj=obj, parent=parent,
                      name=name)
        parent.children[name] = inode
        return inode

    def get(self, path: str, acc_mode: int, cred=None, start=None):
        """bpf_obj_do_get: the pinned object (the caller takes its own reference). ENOENT, EACCES
        (permission for ``acc_mode``, a directory, a non-bpffs file)."""
        inode = self._walk(path, cred, start)
        inode_permission(inode, acc_mode, cred)
        if inode.is_dir or not inode.bpffs or inode.obj is None:
            raise BpfError(errno.EACCES, f"{path}: not a BPF object")
        return inode.obj

    def mkdir(self, path: str, mode: int = 0o777, cred=None, umask: int = 0o022, start=None) -> Inode:
        """mkdir(2): EEXIST, ENOENT, EACCES, EPERM ('.' in a bpffs name)."""
        parent, name = self._create(path, cred, umask, start, want_dir=True)
        inode_permission(parent, MAY_WRITE | MAY_EXEC, cred)
        uid, gid = (cred.uid, cred.gid) if cred is not None else (0, 0)
        inode = Inode(stat.S_IFDIR | (mode & 0o7777 & ~umask), uid, gid, bpffs=parent.bpffs,
                      parent=parent, name=name)
        parent.children[name] = inode
        return inode

    def _may_delete(self, parent: Inode, victim: Inode, cred) -> None:
        inode_permission(parent, MAY_WRITE | MAY_EXEC, cred)
        if (cred is not None and parent.mode & stat.S_ISVTX and cred.uid not in (parent.uid, victim.uid)
                and not cred.capable("CAP_FOWNER")):
            raise BpfError(errno.EPERM, "sticky directory: not the owner")

    def unlink(self, path: str, cred=None) -> None:
        """unlink(2): drops the pin's reference. ENOENT, EISDIR, EACCES, EPERM."""
        parent, name = self._walk(path, cred, want_parent=True)
        victim = self._step(parent, name, cred)
        if victim.is_dir:
            raise BpfError(errno.EISDIR, f"{path} is a directory")
        self._may_delete(parent, victim, cred)
        del parent.children[name]
        self._drop(victim)

    def rmdir(self, path: str, cred=None) -> None:
        """rmdir(2): ENOTEMPTY, ENOTDIR, EBUSY for the mount point."""
        parent, name = self._walk(path, cred, want_parent=True)
        victim = self._step(parent, name, cred)
        if not victim.is_dir:
            raise BpfError(errno.ENOTDIR, f"{path} is not a directory")
        if victim is self.bpffs_root or not victim.bpffs:
            raise BpfError(errno.EBUSY, f"{path} is busy")
        if victim.children:
            raise BpfError(errno.ENOTEMPTY, f"{path} is not empty")
        self._may_delete(parent, victim, cred)
        del parent.children[name]

    def rename(self, old: str, new: str, cred=None) -> None:
        """rename(2) inside bpffs (simple_rename): a replaced pin drops its reference. EXDEV
        across filesystems, ENOTEMPTY/EISDIR/ENOTDIR for directory mismatches."""
        oparent, oname = self._walk(old, cred, want_parent=True)
        src = self._step(oparent, oname, cred)
        nparent, nname = self._walk(new, cred, want_parent=True)
        if nparent.bpffs != oparent.bpffs or not src.bpffs:
            raise BpfError(errno.EXDEV, "rename across filesystems")
        if nparent.bpffs and "." in nname:
            raise BpfError(errno.EPERM, f"bpffs names cannot contain '.': {nname}")
        self._may_delete(oparent, src, cred)
        inode_permission(nparent, MAY_WRITE | MAY_EXEC, cred)
        p = nparent
        while p is not None:
            if p is src:
                raise BpfError(errno.EINVAL, "cannot move a directory into itself")
            p = p.parent
        dst = nparent.children.get(nname)
        if dst is src:
            return
        if dst is not None:
            if src.is_dir and not dst.is_dir:
                raise BpfError(errno.ENOTDIR, f"{new} is not a directory")
            if dst.is_dir and not src.is_dir:
                raise BpfError(errno.EISDIR, f"{new} is a directory")
            if dst.is_dir and dst.children:
                raise BpfError(errno.ENOTEMPTY, f"{new} is not empty")
            del nparent.children[nname]
            self._drop(dst)
        del oparent.children[oname]
        src.parent, src.name = nparent, nname
        nparent.children[nname] = src

    def listdir(self, path: str = BPFFS_MOUNT, cred=None) -> list[str]:
        """The names in a directory, sorted. ENOTDIR, EACCES (read permission)."""
        inode = self._walk(path, cred)
        if not inode.is_dir:
            raise BpfError(errno.ENOTDIR, f"{path} is not a directory")
        inode_permission(inode, MAY_READ, cred)
        return sorted(inode.children)

    def walk_pins(self):
        """(path, inode) of every pin, depth first (for tools and tests)."""
        def rec(node, prefix):
            for name in sorted(node.children):
                child = node.children[name]
                path = f"{prefix}/{name}"
                if child.is_dir:
                    yield from rec(child, path)
                elif child.obj is not None:
                    yield path, child
        yield from rec(self.bpffs_root, self.mount_point)

    def _drop(self, inode: Inode) -> None:
        """bpf_free_inode: the pin's reference goes (recursively for a removed directory)."""
        if inode.obj is not None:
            obj, inode.obj = inode.obj, None
            obj.put_uref()
        for child in list((inode.children or {}).values()):
            self._drop(child)


def get_bpffs(kernel) -> Bpffs:
    """The machine's tree (created on first use)."""
    fs = kernel.subsys.get("bpffs")
    if fs is None:
        fs = kernel.subsys["bpffs"] = Bpffs(kernel)
    return fs
