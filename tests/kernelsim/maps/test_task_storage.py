"""TASK_STORAGE maps and bpf_task_storage_get/delete (kernelsim/maps/bpf_task_storage.py,
bpf_local_storage.py, helpers/core.py): create rules, pidfd keys, a program counting into its
task's value; the same answers as Linux 6.18 (realkernel)."""

import os
import struct

import pytest

from btf import BtfBuilder
from kernelsim.pidfd import pidfd_open
from kernelsim.uapi import BpfCmd as C, BpfMapFlags as F
from tests.kernelsim.helpers.progkit import RAW_TP, k4, k8, load, mk, prog_test_run
from tests.realkernel import realkernel_available
from tests.syscall.diffharness import assert_same, run_both, run_sim

TASK_STORAGE = 29
NP = int(F.BPF_F_NO_PREALLOC)


def storage_btf() -> bytes:
    bb = BtfBuilder()
    bb.add_int("int", 4, 1)                              # 1
    bb.add_int("long long unsigned int", 8, 0)           # 2
    bb.add_int("short", 2, 1)                            # 3
    bb.add_int("unsigned int", 4, 0)                     # 4
    return bb.to_bytes() if hasattr(bb, "to_bytes") else bb.encode()


def btf_fd(b) -> int:
    data = storage_btf()
    return b.call(C.BPF_BTF_LOAD, b.attr(btf=b.buf(data), btf_size=len(data)))


def pidfd(b) -> int:
    """A pidfd of the calling process, closed with the scenario's other fds."""
    fd = pidfd_open(b.task, b.task.pid) if b.sim else os.pidfd_open(os.getpid())
    b.fds.append(fd)
    return fd


def storage(b, btf, vs=8, fl=NP, key_id=1, value_id=2, ks=4, me=0):
    return mk(b, TASK_STORAGE, ks, vs, me, fl, btf_fd=btf, btf_key_type_id=key_id,
              btf_value_type_id=value_id)


def scen_create(b):
    btf = btf_fd(b)
    storage(b, btf)
    storage(b, btf, fl=0)                                # BPF_F_NO_PREALLOC is required
    storage(b, btf, fl=NP | F.BPF_F_CLONE)
    storage(b, btf, fl=NP | F.BPF_F_RDONLY_PROG)
    storage(b, btf, me=1)
    storage(b, btf, ks=8)
    storage(b, btf, key_id=4)                            # unsigned int: fine
    storage(b, btf, key_id=3, ks=2)                      # key_size must be 4
    storage(b, btf, key_id=0)
    storage(b, btf, value_id=0)
    storage(b, btf, vs=4, value_id=1)
    storage(b, btf, vs=4, value_id=2)                    # size mismatch
    storage(b, btf, vs=65408, value_id=2)


def scen_syscall(b):
    btf = btf_fd(b)
    m = storage(b, btf)
    me = pidfd(b)
    out = b.buf(8)
    for key in (k4(me), k4(0), k4(999), k4(m)):
        b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(key), value=out))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(5)), flags=2))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(5)), flags=1))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(6)), flags=1))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(7)), flags=0))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(7)), flags=4))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(7)), flags=8))
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(m)), value=b.buf(k8(7))))
    b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=out))
    b.rec(struct.unpack("<Q", b.read(out, 8))[0])
    b.call(C.BPF_MAP_GET_NEXT_KEY, b.attr(map_fd=m, key=0, next_key=b.buf(4)))
    b.call(C.BPF_MAP_DELETE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me))))
    b.call(C.BPF_MAP_DELETE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me))))
    b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=out))


COUNT = """
    call bpf_get_current_task_btf
    r2 = r0
    r1 = map_fd({0})
    r3 = 0
    r4 = 1
    call bpf_task_storage_get
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r0 = r1
    exit
out:
    r0 = 1000
    exit
"""

DELETE = """
    call bpf_get_current_task_btf
    r2 = r0
    r1 = map_fd({0})
    call bpf_task_storage_delete
    r0 += 100
    exit
"""

NULL_TASK_DELETE = """
    r1 = map_fd({0})
    r2 = 0
    call bpf_task_storage_delete
    r0 += 100
    exit
"""

GET_NO_CREATE = COUNT.replace("r4 = 1", "r4 = 0")
GET_BAD_FLAGS = COUNT.replace("r4 = 1", "r4 = 2")
SCALAR_TASK = COUNT.replace("r2 = r0", "r2 = 42")
WRONG_MAP = COUNT


def scen_programs(b):
    btf = btf_fd(b)
    m = storage(b, btf)
    me = pidfd(b)
    count = load(b, RAW_TP, COUNT, [m])
    prog_test_run(b, count)                                   # 1
    prog_test_run(b, count)                                   # 2
    out = b.buf(8)
    b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=out))
    b.rec(struct.unpack("<Q", b.read(out, 8))[0])
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(me)), value=b.buf(k8(40))))
    prog_test_run(b, count)                                   # 41
    prog_test_run(b, load(b, RAW_TP, DELETE, [m]))            # 100
    prog_test_run(b, load(b, RAW_TP, DELETE, [m]))            # 100 - ENOENT
    prog_test_run(b, load(b, RAW_TP, GET_NO_CREATE, [m]))     # 1000
    prog_test_run(b, load(b, RAW_TP, GET_BAD_FLAGS, [m]))     # 1000
    prog_test_run(b, load(b, RAW_TP, NULL_TASK_DELETE, [m]))  # 100 - EINVAL
    load(b, RAW_TP, SCALAR_TASK, [m])
    hash_map = mk(b, 1, 4, 8, 4)
    load(b, RAW_TP, WRONG_MAP, [hash_map])


def test_programs_in_kernelsim():
    """Linux 6.18.44's answers for scen_programs (test_same_as_linux re-checks them)."""
    assert run_sim(scen_programs) == [
        "fd", "fd", "fd", 1, 2, 0, 2, 0, 41, "fd", 100, "fd", 100 - 2, "fd", 1000, "fd", 1000,
        "fd", 100 - 22, "EACCES", "R2 type=scalar expected=ptr_, trusted_ptr_, rcu_ptr_",
        "fd", "EINVAL", "cannot pass map_type 1 into func bpf_task_storage_get#156"]


def test_value_goes_with_the_task():
    from tests.syscall.diffharness import SimBackend
    b = SimBackend()
    btf = btf_fd(b)
    m = storage(b, btf)
    child = b.task.fork()
    fd = pidfd_open(b.task, child.pid)
    assert b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(k4(fd)), value=b.buf(k8(3)))) == 0
    child.exit()
    assert b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(fd)), value=b.buf(8))) < 0
    assert b.log[-1] == "ENOENT"
    assert not b.task.files.get(m).obj.data.values


@pytest.mark.realkernel
@pytest.mark.skipif(not realkernel_available(), reason="no usable bpf()")
@pytest.mark.parametrize("scenario", [scen_create, scen_syscall, scen_programs], ids=lambda s: s.__name__)
def test_same_as_linux(scenario):
    real, sim = run_both(scenario)
    assert_same(real, sim, scenario.__name__)
