"""kernelsim/maps/fd_array.py: PROG_ARRAY and PERF_EVENT_ARRAY."""

import errno
import struct

import pytest

from kernelsim.bpf_objects import File, FdTable
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.maps.map import MapFile, bpf_map_copy_value, bpf_map_update_value
from kernelsim.uapi import ENOTSUPP, BpfMapFlags as F, BpfMapType as T, BpfProgType as PT

k4 = lambda i: struct.pack("<I", i)  # noqa: E731


def err(fn, *a):
    with pytest.raises(BpfError) as e:
        fn(*a)
    return e.value.errno


def test_prog_array_holds_programs(kernel, make_map):
    files = FdTable()
    m = make_map(T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4)
    prog = BpfProg(kernel, PT.BPF_PROG_TYPE_SOCKET_FILTER)
    prog.alloc_id()
    fd = files.install(File(prog))
    bpf_map_update_value(m, k4(1), k4(fd), 0, files)
    assert prog.refcnt == 2 and m.ops.map_fd_lookup_ptr(m, 1) is prog
    assert bpf_map_copy_value(m, k4(1), 0) == k4(prog.id)
    assert err(bpf_map_copy_value, m, k4(0), 0) == errno.ENOENT
    assert err(bpf_map_update_value, m, k4(0), k4(fd), 1, files) == errno.EINVAL
    assert err(bpf_map_update_value, m, k4(4), k4(fd), 0, files) == errno.E2BIG
    assert err(bpf_map_update_value, m, k4(0), k4(99), 0, files) == errno.EBADF
    other = BpfProg(kernel, PT.BPF_PROG_TYPE_KPROBE)          # incompatible with the owner
    fd2 = files.install(File(other))
    assert err(bpf_map_update_value, m, k4(0), k4(fd2), 0, files) == errno.EINVAL
    assert err(m.ops.map_delete_elem, m, k4(0)) == errno.ENOENT
    m.put_uref()                                                 # usercnt -> 0 empties it
    assert prog.refcnt == 1 and m.ops.map_fd_lookup_ptr(m, 1) is None


class FakePerfEvent:
    kind = "perf_event"
    is_bpf_output = True

    def __init__(self, cpu):
        self.oncpu = cpu
        self.out = []

    def bpf_output(self, cpu, data):
        self.out.append((cpu, data))


def test_perf_event_array_output_and_release(kernel, make_map):
    files = FdTable()
    m = make_map(T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2)
    mf = MapFile(m.get_uref())
    ev = FakePerfEvent(0)
    efd = files.install(File(ev))
    bpf_map_update_value(m, k4(0), k4(efd), 0, files, mf)
    kernel.current_cpu = 0
    m.ops.map_perf_event_output(m, 0xFFFFFFFF, b"hi")
    assert ev.out == [(0, b"hi")]
    assert err(m.ops.map_perf_event_output, m, 1, b"x") == errno.ENOENT
    assert err(m.ops.map_perf_event_output, m, 5, b"x") == errno.E2BIG
    kernel.current_cpu = 1
    assert err(m.ops.map_perf_event_output, m, 0, b"x") == errno.EOPNOTSUPP
    assert err(bpf_map_copy_value, m, k4(0), 0) == ENOTSUPP
    mf.get()
    mf.put()                                                     # closing the map file drops the entry
    assert m.ops.map_fd_lookup_ptr(m, 0) is None


def test_perf_event_array_preserve_elems(kernel, make_map):
    files = FdTable()
    m = make_map(T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, F.BPF_F_PRESERVE_ELEMS)
    mf = MapFile(m.get_uref())
    bpf_map_update_value(m, k4(0), k4(files.install(File(FakePerfEvent(0)))), 0, files, mf)
    mf.get()
    mf.put()
    assert m.ops.map_fd_lookup_ptr(m, 0) is not None
