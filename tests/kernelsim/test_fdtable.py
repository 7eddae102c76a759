"""kernelsim/bpf_objects.py FdTable and File: lowest free fd from 3, dup, fork, exit."""

import errno

import pytest

from kernelsim import Kernel
from kernelsim.bpf_objects import BpfObject, FdTable, File
from kernelsim.errors import BpfError


class Obj(BpfObject):
    kind = "map"


def test_lowest_free_fd_and_close():
    t = FdTable()
    k = Kernel()
    a, b, c = (t.install(File(Obj(k))) for _ in range(3))
    assert (a, b, c) == (3, 4, 5)
    t.close(4)
    assert t.install(File(Obj(k))) == 4
    with pytest.raises(BpfError) as e:
        t.close(42)
    assert e.value.errno == errno.EBADF


def test_emfile():
    t = FdTable(max_fds=5)
    k = Kernel()
    t.install(File(Obj(k)))
    t.install(File(Obj(k)))
    with pytest.raises(BpfError) as e:
        t.install(File(Obj(k)))
    assert e.value.errno == errno.EMFILE


def test_dup_fork_exit_share_one_file():
    k = Kernel()
    parent = k.spawn("p")
    o = Obj(k)
    fd = parent.files.install(File(o))
    d = parent.dup(fd)
    child = parent.fork()
    assert child.files.get(fd) is parent.files.get(fd) and child.files.get(fd).f_count == 4
    parent.exit()
    assert o.refcnt == 1
    child.exit()
    assert o.refcnt == 0 and d == fd + 1
