"""perf_event_open(2), ioctl(2), mmap(2) on perf fds (syscall/perf.py): perf_copy_attr's size
rules, argument and permission checks, the ioctl errnos; compared with the real kernel where
it is reachable (as root)."""

import ctypes
import errno
import os
import struct

import pytest

from kernelsim import Kernel
from kernelsim.uapi import (PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_ID, PERF_EVENT_IOC_SET_BPF,
                            PERF_PMU_TYPE_KPROBE)
from syscall.perf_abi import ffi, new_perf_event_attr
from syscall.perf import perf_mmap_addr
from tests.kernelsim.tracing.realperf import real_close, real_ioctl, real_perf_event_open
from tests.realkernel import requires_realkernel

SW = dict(type=1, config=10, sample_type=1 << 10, sample_period=1)    # a BPF output event


def attr_bytes(size_field=None, extra=b"", **fields):
    a = new_perf_event_attr(**{**SW, **fields})
    data = bytearray(ffi.buffer(a))
    if size_field is not None:
        struct.pack_into("<I", data, 4, size_field)
    return data + bytearray(extra)


def flag_attr(name, value=1, **fields):
    a = new_perf_event_attr(**{**SW, **fields})
    setattr(a, name, value)
    return bytearray(ffi.buffer(a))


def with_u64(data, off, value):
    struct.pack_into("<Q", data, off, value)
    return data


# (description, attr bytes, pid, cpu, flags) -> the same errno on Linux and here
CASES = [
    ("size 0 means VER0", lambda: attr_bytes(0), -1, 0, 0),
    ("size below VER0", lambda: attr_bytes(32), -1, 0, 0),
    ("size above a page", lambda: attr_bytes(4097, bytes(4097 - 136)), -1, 0, 0),
    ("bigger struct, zero tail", lambda: attr_bytes(144, bytes(8)), -1, 0, 0),
    ("bigger struct, non-zero tail", lambda: attr_bytes(144, b"\1" + bytes(7)), -1, 0, 0),
    ("reserved flag bit", lambda: with_u64(attr_bytes(), 40, 1 << 40), -1, 0, 0),
    ("unknown sample_type bit", lambda: attr_bytes(None, sample_type=1 << 30), -1, 0, 0),
    ("unknown read_format bit", lambda: attr_bytes(None, read_format=1 << 6), -1, 0, 0),
    ("sigtrap without remove_on_exec", lambda: flag_attr("sigtrap"), -1, 0, 0),
    ("inherit_thread without inherit", lambda: flag_attr("inherit_thread"), -1, 0, 0),
    ("sample_period bit 63", lambda: attr_bytes(None, sample_period=1 << 63), -1, 0, 0),
    ("freq above the max rate", lambda: flag_attr("freq", sample_period=10**9), -1, 0, 0),
    ("unknown flags", lambda: attr_bytes(), -1, 0, 0x10),
    ("pid and cpu -1", lambda: attr_bytes(), -1, -1, 0),
    ("cpu out of range", lambda: attr_bytes(), -1, 4096, 0),
    ("no such pid", lambda: attr_bytes(), 4000000, -1, 0),
    ("unknown PMU type", lambda: attr_bytes(None, type=77), -1, 0, 0),
    ("unknown software config", lambda: attr_bytes(None, config=50), -1, 0, 0),
    ("unknown tracepoint id", lambda: attr_bytes(None, type=2, config=999999), -1, 0, 0),
    ("cgroup flag with pid -1", lambda: attr_bytes(), -1, 0, 4),
    ("a BPF output event", lambda: attr_bytes(), -1, 0, 8),
    ("this task, any cpu", lambda: attr_bytes(), 0, -1, 8),
]
EXPECTED = [0, errno.E2BIG, errno.E2BIG, 0, errno.E2BIG, errno.EINVAL, errno.EINVAL, errno.EINVAL,
            errno.EINVAL, errno.EINVAL, errno.EINVAL, errno.EINVAL, errno.EINVAL, errno.EINVAL,
            errno.EINVAL, errno.ESRCH, errno.ENOENT, errno.ENOENT, errno.EINVAL, errno.EINVAL, 0, 0]


@pytest.fixture
def k():
    return Kernel(ncpus=2)


def sim_open(k, task, data, pid, cpu, flags):
    fd = task.perf_event_open(data, pid, cpu, -1, flags)
    return (fd, 0) if fd >= 0 else (fd, -fd)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_open_rules(k, i):
    desc, make, pid, cpu, flags = CASES[i]
    t = k.spawn(comm="p", cpu=0)
    data = make()
    fd, err = sim_open(k, t, data, pid, cpu, flags)
    assert err == EXPECTED[i], desc
    if err == errno.E2BIG:
        assert struct.unpack_from("<I", data, 4)[0] == 136          # the kernel's size written back


@pytest.mark.realkernel
@requires_realkernel
def test_open_rules_match_the_real_kernel(k):
    t = k.spawn(comm="p", cpu=0)
    for (desc, make, pid, cpu, flags), want in zip(CASES, EXPECTED):
        data = make()
        real_pid = os.getpid() if pid == 0 else pid
        rfd, rerr, after = real_perf_event_open(bytes(data), real_pid, cpu, -1, flags, with_attr=True)
        real_close(rfd)
        fd, err = sim_open(k, t, data, pid, cpu, flags)
        assert (err, rerr) == (want, want), desc
        assert bytes(data[:8]) == after[:8], desc                   # type and size as Linux left them


def test_permissions(k):
    root = k.spawn(comm="root", cpu=0)
    user = k.spawn(comm="user", uid=1000)
    mon = k.spawn(comm="mon", uid=1001, caps={"CAP_PERFMON"})
    user.cpu = mon.cpu = 0
    counting = attr_bytes(None, sample_type=0, sample_period=0)
    excl = bytearray(counting)
    a = new_perf_event_attr(type=1, config=0)
    a.exclude_kernel = 1
    excl = bytearray(ffi.buffer(a))
    assert user.perf_event_open(counting, 0, -1, -1, 0) == -errno.EACCES   # paranoid 2: kernel
    assert user.perf_event_open(excl, -1, 0, -1, 0) == -errno.EACCES       # CPU-wide
    assert user.perf_event_open(excl, 0, -1, -1, 0) >= 0                   # itself, user only
    assert user.perf_event_open(excl, mon.pid, -1, -1, 0) == -errno.EACCES  # another user
    assert mon.perf_event_open(counting, -1, 0, -1, 0) >= 0
    assert mon.perf_event_open(excl, user.pid, -1, -1, 0) >= 0
    k.sysctl["kernel.perf_event_paranoid"] = 0
    tp = new_perf_event_attr(type=2, config=372, sample_type=1 << 10, sample_period=1)
    assert user.perf_event_open(tp, -1, 0, -1, 0) == -errno.EPERM          # raw samples
    tp.sample_type = 1 << 1
    assert user.perf_event_open(tp, -1, 0, -1, 0) >= 0
    k.sysctl["kernel.perf_event_paranoid"] = -1
    tp.sample_type = 1 << 10
    assert user.perf_event_open(tp, -1, 0, -1, 0) >= 0
    kp = new_perf_event_attr(type=PERF_PMU_TYPE_KPROBE)
    assert user.perf_event_open(kp, -1, 0, -1, 0) == -errno.EACCES
    assert root.perf_event_open(kp, -1, 0, -1, 0) == -errno.EINVAL         # no symbol, no address


def test_ioctl_and_mmap(k):
    t = k.spawn(comm="p", cpu=0)
    fd = t.perf_event_open(attr_bytes(), -1, 0, -1, 8)
    assert fd >= 0
    assert t.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == 0
    out = ctypes.c_uint64(0)
    assert t.ioctl(fd, PERF_EVENT_IOC_ID, ctypes.addressof(out)) == 0
    assert out.value == t.files.get(fd).event.id
    assert t.ioctl(fd, PERF_EVENT_IOC_ID, 8) == -errno.EFAULT
    assert t.ioctl(fd, 0x1234, 0) == -errno.ENOTTY
    assert t.ioctl(fd, PERF_EVENT_IOC_SET_BPF, 999) == -errno.EBADF
    assert t.ioctl(999, PERF_EVENT_IOC_ENABLE, 0) == -errno.EBADF
    assert t.ioctl(fd, PERF_EVENT_IOC_SET_BPF, fd) == -errno.EINVAL         # not a program
    assert t.mmap(fd, 4 * 4096) == -errno.EINVAL                    # 3 data pages
    assert t.mmap(fd, 4096 + 100) == -errno.EINVAL
    mem = t.mmap(fd, 5 * 4096)
    assert isinstance(mem, memoryview) and len(mem) == 5 * 4096
    addr = perf_mmap_addr(t, fd)
    assert struct.unpack("<Q", t.mm.read(addr + 1048, 8))[0] == 4 * 4096   # data_size
    assert t.close(fd) == 0


@pytest.mark.realkernel
@requires_realkernel
def test_ioctl_errnos_match_the_real_kernel(k):
    t = k.spawn(comm="p", cpu=0)
    rfd, err = real_perf_event_open(attr_bytes(), -1, 0, -1, 8)
    assert rfd >= 0, err
    fd = t.perf_event_open(attr_bytes(), -1, 0, -1, 8)
    for req, arg in ((0x1234, 0), (PERF_EVENT_IOC_SET_BPF, 9999), (PERF_EVENT_IOC_ID, 8)):
        ret, rerr = real_ioctl(rfd, req, arg)
        assert t.ioctl(fd, req, arg) == -rerr, hex(req)
    nul = os.open("/dev/null", os.O_RDONLY)
    assert real_ioctl(nul, PERF_EVENT_IOC_ENABLE, 0)[1] == errno.ENOTTY
    os.close(nul)
    mfd = t.bpf(0, struct.pack("<IIII", 2, 4, 8, 1) + bytes(64))
    assert mfd >= 0 and t.ioctl(mfd, PERF_EVENT_IOC_ENABLE, 0) == -errno.ENOTTY
    real_close(rfd)
