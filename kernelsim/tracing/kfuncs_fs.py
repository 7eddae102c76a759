"""Bodies of simulated VFS functions (fs/namei.c getname_flags / putname / do_unlinkat /
do_filp_open / vfs_unlink, fs/open.c do_sys_openat2 / vfs_open, fs/read_write.c vfs_read /
vfs_write / ksys_read / ksys_write, fs/d_path.c d_path, security/security.c), over the dentries,
inodes and files of stdobjects.py.

The call chains are the kernel's, so nested tracing happens where it would:

    __x64_sys_openat -> do_sys_openat2 -> getname_flags, do_filp_open -> vfs_open
                     -> security_file_open; putname
    __x64_sys_unlinkat -> getname_flags, do_unlinkat -> vfs_unlink -> security_inode_unlink; putname
    __x64_sys_read -> ksys_read -> vfs_read        (ksys_write -> vfs_write likewise)

A non-zero ``security_file_open`` (an fmod_ret program, say) fails the open with that value;
``security_inode_unlink`` likewise fails an unlink. Errors are the kernel's: -ENOENT for a
missing path, -EBADF for a bad fd or a file not opened for reading/writing, -EFAULT for an
unmapped buffer, ERR_PTR values for pointer returns. Pointers below TASK_SIZE are the current
task's user memory (``task.mm``), the others kernel memory. The file contents live in
``kernel.kobjects.file_data`` (inode address -> bytearray).
"""

from ..memory import TASK_SIZE, MemoryFault

U64 = (1 << 64) - 1
MAX_ERRNO = 4095
ENOENT, EBADF, EFAULT, EINVAL, ENAMETOOLONG, EMFILE = 2, 9, 14, 22, 36, 24
O_WRONLY, O_RDWR, O_CREAT = 0o1, 0o2, 0o100
AT_REMOVEDIR = 0x200
AT_FDCWD = -100
FMODE_READ, FMODE_WRITE = 0x1, 0x2
PATH_MAX = 4096


def ERR_PTR(err: int) -> int:           # noqa: N802 - the kernel's name
    return err & U64


def IS_ERR(ptr: int) -> bool:           # noqa: N802
    return (ptr & U64) >= U64 - MAX_ERRNO + 1


def PTR_ERR(ptr: int) -> int:           # noqa: N802
    return (ptr & U64) - (1 << 64)


def _space(k, addr):
    """The address space a pointer refers to: the current task's user memory below TASK_SIZE."""
    if addr < TASK_SIZE:
        task = k.current()
        if task is None:
            raise MemoryFault(addr, 1, False, "user address without a current task")
        return task.mm
    return k.mem


def read_cstr(k, addr: int, max_len: int = PATH_MAX) -> bytes:
    return _space(k, addr).read_cstr(addr, max_len)


def getname_flags(k, filename, flags):
    if not filename:
        return ERR_PTR(-EFAULT)
    try:
        name = read_cstr(k, filename)
    except MemoryFault:
        return ERR_PTR(-EFAULT)
    if not name:
        return ERR_PTR(-ENOENT)
    if len(name) >= PATH_MAX:
        return ERR_PTR(-ENAMETOOLONG)
    return k.kobjects.filename(name.decode("utf-8", "replace"),
                               uptr=filename if filename < TASK_SIZE else 0).addr


def putname(k, name):
    if not name or IS_ERR(name):
        return None
    fn = k.kobjects.view(name, "struct filename")
    refs = fn.get("refcnt.counter") - 1
    fn.set("refcnt.counter", refs)
    if refs <= 0:
        k.kobjects.free(name)
    return None


def _path_of(k, filename_addr) -> str:
    return k.kobjects.view(filename_addr, "struct filename").str("name")


def do_sys_openat2(k, dfd, filename, how):
    ko = k.kobjects
    tmp = k.call("getname_flags", filename, 0)
    if IS_ERR(tmp):
        return PTR_ERR(tmp)
    h = ko.view(how, "struct open_how")
    op = ko.new("struct open_flags", open_flag=h.flags, mode=h.mode, acc_mode=4)
    f = k.call("do_filp_open", dfd, tmp, op)
    ko.free(op)
    if IS_ERR(f):
        fd = PTR_ERR(f)
    else:
        fd = _fd_install(k, f)
    k.call("putname", tmp)
    return fd


def _fd_install(k, file_addr) -> int:
    from ..bpf_objects import File
    task = k.current()
    if task is None:
        return -EMFILE
    kfile = k.kobjects.view(file_addr, "struct file")
    return task.files.install(File(kfile, name=f"file:{k.kobjects.d_path(kfile.addr_of('f_path'))}"))


def _file_of_fd(k, fd):
    task = k.current()
    if task is None:
        return None
    file = task.files.fds.get(fd)
    obj = getattr(file, "obj", None)
    if obj is None or getattr(obj, "type_name", "") != "struct file":
        return None
    return obj


def do_filp_open(k, dfd, pathname, op):
    ko = k.kobjects
    path = _path_of(k, pathname)
    flags = ko.view(op, "struct open_flags").open_flag if op else 0
    d = ko.lookup(path, create=bool(flags & O_CREAT))
    if d is None or not d.d_inode:
        return ERR_PTR(-ENOENT)
    f = ko.file_of_dentry(d, flags)
    acc = flags & 3
    f.f_mode = (FMODE_READ if acc != O_WRONLY else 0) | (FMODE_WRITE if acc in (O_WRONLY, O_RDWR) else 0) | 0xC
    err = k.call("vfs_open", f.addr_of("f_path"), f)
    if err:
        ko.free(f)
        return ERR_PTR(err)
    return f.addr


def vfs_open(k, path, file):
    ko = k.kobjects
    f = ko.view(file, "struct file")
    p = ko.view(path, "struct path")
    f.update({"f_path.mnt": p.mnt, "f_path.dentry": p.dentry})
    f.f_inode = ko.view(p.dentry, "struct dentry").d_inode
    return k.call("security_file_open", file)


def security_file_open(k, file):
    return 0


def vfs_read(k, file, buf, count, pos):
    f = k.kobjects.view(file, "struct file")
    if not f.f_mode & FMODE_READ:
        return -EBADF
    data = k.kobjects.file_data.get(f.f_inode, bytearray())
    off = k.mem.load(pos, 8) if pos else f.f_pos
    chunk = bytes(data[off:off + count])
    if chunk:
        try:
            _space(k, buf).write(buf, chunk)
        except MemoryFault:
            return -EFAULT
    if pos:
        k.mem.store(pos, 8, off + len(chunk))
    return len(chunk)


def vfs_write(k, file, buf, count, pos):
    f = k.kobjects.view(file, "struct file")
    if not f.f_mode & FMODE_WRITE:
        return -EBADF
    try:
        chunk = _space(k, buf).read(buf, count)
    except MemoryFault:
        return -EFAULT
    data = k.kobjects.file_data.setdefault(f.f_inode, bytearray())
    off = k.mem.load(pos, 8) if pos else f.f_pos
    if off > len(data):
        data.extend(bytes(off - len(data)))
    data[off:off + count] = chunk
    if f.f_inode:
        k.kobjects.view(f.f_inode, "struct inode").i_size = len(data)
    if pos:
        k.mem.store(pos, 8, off + count)
    return count


def ksys_read(k, fd, buf, count):
    f = _file_of_fd(k, fd)
    if f is None:
        return -EBADF
    return k.call("vfs_read", f, buf, count, f.addr_of("f_pos"))


def ksys_write(k, fd, buf, count):
    f = _file_of_fd(k, fd)
    if f is None:
        return -EBADF
    return k.call("vfs_write", f, buf, count, f.addr_of("f_pos"))


def do_unlinkat(k, dfd, name):
    if IS_ERR(name):
        return PTR_ERR(name)
    ko = k.kobjects
    path = _path_of(k, name)
    d = ko.lookup(path)
    if d is None or not d.d_inode:
        err = -ENOENT
    else:
        parent = ko.view(d.d_parent, "struct dentry")
        err = k.call("vfs_unlink", 0, parent.d_inode, d, 0)
    k.call("putname", name)
    return err


def vfs_unlink(k, idmap, dir, dentry, delegated_inode):
    err = k.call("security_inode_unlink", dir, dentry)
    if err:
        return err
    ko = k.kobjects
    ko.unlink(ko.path_of_dentry(dentry))
    return 0


def security_inode_unlink(k, dir, dentry):
    return 0


def d_path(k, path, buf, buflen):
    s = k.kobjects.d_path(path)
    if s is None:
        return ERR_PTR(-EINVAL)
    data = s.encode() + b"\0"
    if len(data) > buflen:
        return ERR_PTR(-ENAMETOOLONG)
    at = buf + buflen - len(data)
    try:
        _space(k, at).write(at, data)
    except MemoryFault:
        return ERR_PTR(-EFAULT)
    return at


def d_path_string(k, path_addr: int) -> str | None:
    """bpf_d_path's hook: d_path into a kernel scratch page, through kernel.call (so fentry on
    d_path sees bpf_d_path's calls, as on Linux)."""
    scratch = k.subsys.get("d_path_scratch")
    if scratch is None:
        scratch = k.subsys["d_path_scratch"] = k.mem.alloc(PATH_MAX, "d_path buffer").start
    try:
        p = k.call("d_path", path_addr, scratch, PATH_MAX)
        if IS_ERR(p):
            return None
        return k.mem.read_cstr(p, PATH_MAX).decode("utf-8", "replace")
    except MemoryFault:             # bpf_d_path's copy_from_kernel_nofault of the path failed
        return None


def _regs(k, regs):
    return k.kobjects.view(regs, "struct pt_regs")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def __x64_sys_openat(k, regs):
    r = _regs(k, regs)
    how = k.kobjects.new("struct open_how", flags=r.dx & 0xFFFFFFFF, mode=r.r10 & 0o7777)
    fd = k.call("do_sys_openat2", _s32(r.di), r.si, how)
    k.kobjects.free(how)
    return fd


def __x64_sys_unlinkat(k, regs):
    r = _regs(k, regs)
    if r.dx & ~AT_REMOVEDIR:
        return -EINVAL
    return k.call("do_unlinkat", _s32(r.di), k.call("getname_flags", r.si, 0))


def __x64_sys_read(k, regs):
    r = _regs(k, regs)
    return k.call("ksys_read", r.di & 0xFFFFFFFF, r.si, r.dx)


BODIES = {
    "getname_flags": getname_flags,
    "putname": putname,
    "do_sys_openat2": do_sys_openat2,
    "do_filp_open": do_filp_open,
    "vfs_open": vfs_open,
    "security_file_open": security_file_open,
    "vfs_read": vfs_read,
    "vfs_write": vfs_write,
    "ksys_read": ksys_read,
    "ksys_write": ksys_write,
    "do_unlinkat": do_unlinkat,
    "vfs_unlink": vfs_unlink,
    "security_inode_unlink": security_inode_unlink,
    "d_path": d_path,
    "__x64_sys_openat": __x64_sys_openat,
    "__x64_sys_unlinkat": __x64_sys_unlinkat,
    "__x64_sys_read": __x64_sys_read,
}
