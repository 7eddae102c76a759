"""syscall/obj_pin.py + kernelsim/bpffs.py through the syscall: pins hold references, the
permission bits, path_fd, access modes of pinned maps."""

import errno

import pytest

from kernelsim.uapi import BpfMapFlags as F, BpfMapType as T, BpfProgType as PT
from syscall import libbpf as L
from syscall.obj_pin import bpffs_open_dir
from tests.syscall.simkit import RET0, machine


def err(fn, *a, **kw):
    with pytest.raises(OSError) as e:
        fn(*a, **kw)
    return e.value.errno


@pytest.fixture
def k():
    return machine(sysctl=0)


def test_pin_keeps_object_alive_and_unlink_frees(k):
    t = k.spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    m = t.files.get(fd).obj
    L.obj_pin(t, fd, "/sys/fs/bpf/a")
    assert (m.refcnt, m.usercnt) == (2, 2)
    t.close(fd)
    assert m.id and k.idr["map"].find(m.id) is m
    fd2 = L.obj_get(t, "/sys/fs/bpf/a")
    assert t.files.get(fd2).obj is m
    t.close(fd2)
    k.bpffs.unlink("/sys/fs/bpf/a")
    assert m.refcnt == 0 and k.idr["map"].find(m.id) is None


def test_pin_rules(k):
    t = k.spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.obj_pin(t, fd, "/sys/fs/bpf/x")
    assert err(L.obj_pin, t, fd, "/sys/fs/bpf/x") == errno.EEXIST
    assert err(L.obj_pin, t, fd, "/sys/fs/bpf/nodir/x") == errno.ENOENT
    assert err(L.obj_pin, t, fd, "/tmp/x") == errno.EPERM
    assert err(L.obj_pin, t, fd, "/sys/fs/bpf/a.b") == errno.EPERM
    assert err(L.obj_pin, t, fd, "/sys/fs/bpf/x/y") == errno.ENOTDIR
    assert err(L.obj_pin, t, 99, "/sys/fs/bpf/y") == errno.EINVAL
    assert err(L.obj_pin, t, fd, "/sys/fs/bpf/y", file_flags=1) == errno.EINVAL
    assert err(L.obj_get, t, "/sys/fs/bpf") == errno.EACCES
    assert err(L.obj_get, t, "/tmp") == errno.EACCES
    assert err(L.obj_get, t, "/sys/fs/bpf/x", file_flags=int(F.BPF_F_RDONLY | F.BPF_F_WRONLY)) == errno.EINVAL


def test_access_modes_of_pinned_maps(k):
    t = k.spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.obj_pin(t, fd, "/sys/fs/bpf/m")
    ro = L.obj_get(t, "/sys/fs/bpf/m", int(F.BPF_F_RDONLY))
    wo = L.obj_get(t, "/sys/fs/bpf/m", int(F.BPF_F_WRONLY))
    assert err(L.map_update_elem, t, ro, bytes(4), bytes(4)) == errno.EPERM
    assert L.map_lookup_elem(t, ro, bytes(4), 4) == bytes(4)
    L.map_update_elem(t, wo, bytes(4), b"abcd")
    assert err(L.map_lookup_elem, t, wo, bytes(4), 4) == errno.EPERM


def test_permission_bits_and_umask(k):
    root = k.spawn("root")
    user = k.spawn("user", uid=1000, gid=1000, caps=())
    fd = L.map_create(root, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.obj_pin(root, fd, "/sys/fs/bpf/rootmap")
    inode = k.bpffs.lookup("/sys/fs/bpf/rootmap")
    assert inode.mode & 0o777 == 0o600 and inode.uid == 0
    assert err(L.obj_get, user, "/sys/fs/bpf/rootmap") == errno.EACCES
    inode.mode |= 0o004
    assert err(L.obj_get, user, "/sys/fs/bpf/rootmap") == errno.EACCES          # RDWR needs w too
    assert L.obj_get(user, "/sys/fs/bpf/rootmap", int(F.BPF_F_RDONLY)) >= 3
    ufd = L.map_create(user, T.BPF_MAP_TYPE_ARRAY, "u", 4, 4, 1)
    user.umask = 0o077
    L.obj_pin(user, ufd, "/sys/fs/bpf/usermap")                               # root dir is 01777
    assert k.bpffs.lookup("/sys/fs/bpf/usermap").uid == 1000
    with pytest.raises(Exception):
        k.bpffs.unlink("/sys/fs/bpf/rootmap", user.cred)                      # sticky directory
    k.bpffs.mkdir("/sys/fs/bpf/private", 0o700, root.cred)
    assert err(L.obj_pin, user, ufd, "/sys/fs/bpf/private/x") == errno.EACCES
    assert err(L.obj_get, user, "/sys/fs/bpf/private/x") == errno.EACCES


def test_path_fd_and_links_need_rdwr(k):
    t = k.spawn("t")
    k.bpffs.mkdir("/sys/fs/bpf/dir")
    dfd = bpffs_open_dir(t, "/sys/fs/bpf/dir")
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    L.obj_pin(t, pfd, "p", file_flags=int(F.BPF_F_PATH_FD), path_fd=dfd)
    assert k.bpffs.listdir("/sys/fs/bpf/dir") == ["p"]
    assert L.obj_get(t, "p", int(F.BPF_F_PATH_FD), dfd) >= 3
    mfd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    assert err(L.obj_pin, t, pfd, "q", file_flags=int(F.BPF_F_PATH_FD), path_fd=mfd) == errno.ENOTDIR
    assert err(L.obj_pin, t, pfd, "q", file_flags=int(F.BPF_F_PATH_FD), path_fd=77) == errno.EBADF
    # a link pinned and reopened read-only is refused
    from kernelsim.bpf_link import BpfLink, BpfLinkOps, LinkFile
    prog = t.files.get(pfd).obj.get()
    link = BpfLink(k, 1, BpfLinkOps(), prog)
    link.alloc_id()
    lfd = t.files.install(LinkFile(link))
    L.obj_pin(t, lfd, "/sys/fs/bpf/link")
    assert err(L.obj_get, t, "/sys/fs/bpf/link", int(F.BPF_F_RDONLY)) == errno.EINVAL
    assert L.obj_get(t, "/sys/fs/bpf/link") >= 3


def test_btf_objects_cannot_be_pinned(k):
    from btf import BtfBuilder
    t = k.spawn("t")
    b = BtfBuilder()
    b.add_int("int", 4, 1)
    bfd, _ = L.btf_load(t, b.to_bytes())
    assert err(L.obj_pin, t, bfd, "/sys/fs/bpf/btf") == errno.EINVAL
