"""kernelsim/bpffs.py: the tree, names, permissions, rename/unlink and references."""

import errno

import pytest

from kernelsim import Kernel
from kernelsim.bpf_objects import BpfObject
from kernelsim.bpffs import MAY_READ, MAY_WRITE, Bpffs, inode_permission
from kernelsim.cred import Cred
from kernelsim.errors import BpfError


class Obj(BpfObject):
    kind = "map"
    freed = False

    def free(self):
        self.freed = True


def err(fn, *a):
    with pytest.raises(BpfError) as e:
        fn(*a)
    return e.value.errno


@pytest.fixture
def fs():
    return Bpffs(Kernel())


def test_layout(fs):
    assert fs.listdir("/sys/fs") == ["bpf"]
    assert fs.lookup("/sys/fs/bpf").mode & 0o7777 == 0o1777
    assert err(fs.lookup, "") == errno.ENOENT
    assert err(fs.lookup, "/nope") == errno.ENOENT
    assert err(fs.lookup, "/" + "a" * 256) == errno.ENAMETOOLONG


def test_pin_get_unlink_reference(fs):
    o = Obj(fs.kernel)
    o.get()                                   # the pin's reference
    fs.pin("/sys/fs/bpf/o", o)
    assert fs.get("/sys/fs/bpf/o", MAY_READ) is o
    assert list(p for p, _ in fs.walk_pins()) == ["/sys/fs/bpf/o"]
    fs.unlink("/sys/fs/bpf/o")
    assert o.refcnt == 1 and not o.freed
    assert err(fs.unlink, "/sys/fs/bpf/o") == errno.ENOENT


def test_dirs_rename_and_names(fs):
    fs.mkdir("/sys/fs/bpf/d")
    assert err(fs.mkdir, "/sys/fs/bpf/d") == errno.EEXIST
    assert err(fs.mkdir, "/sys/fs/bpf/x.y") == errno.EPERM
    o = Obj(fs.kernel)
    fs.pin("/sys/fs/bpf/d/a", o)
    assert err(fs.rmdir, "/sys/fs/bpf/d") == errno.ENOTEMPTY
    fs.rename("/sys/fs/bpf/d/a", "/sys/fs/bpf/b")
    assert fs.listdir("/sys/fs/bpf") == ["b", "d"]
    o2 = Obj(fs.kernel)
    fs.pin("/sys/fs/bpf/c", o2)
    fs.rename("/sys/fs/bpf/b", "/sys/fs/bpf/c")           # replaces c: its reference goes
    assert o2.freed and fs.get("/sys/fs/bpf/c", MAY_READ) is o
    assert err(fs.rename, "/sys/fs/bpf/c", "/tmp/c") == errno.EXDEV
    fs.rmdir("/sys/fs/bpf/d")
    assert err(fs.rmdir, "/sys/fs/bpf") == errno.EBUSY


def test_generic_permission():
    fs = Bpffs(Kernel())
    fs.mkdir("/sys/fs/bpf/p", 0o750, Cred.make(0))
    node = fs.lookup("/sys/fs/bpf/p")
    inode_permission(node, MAY_READ, Cred.make(0, caps=()))     # owner
    assert err(inode_permission, node, MAY_WRITE, Cred.make(5, 0, caps=())) == errno.EACCES  # group r-x
    assert err(inode_permission, node, MAY_READ, Cred.make(5, 5, caps=())) == errno.EACCES
    inode_permission(node, MAY_READ | MAY_WRITE, Cred.make(5, 5, caps={"CAP_DAC_OVERRIDE"}))
    inode_permission(node, MAY_READ, Cred.make(5, 5, caps={"CAP_DAC_READ_SEARCH"}))
