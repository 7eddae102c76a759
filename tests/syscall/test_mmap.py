"""mmap(2) of map fds (syscall/mmap.py): BPF_F_MMAPABLE arrays and ring buffers, the same
errnos as Linux 6.18 for the same requests, and bytes shared with the kernel."""

import errno
import mmap as pymmap
import os
import struct

import pytest

from kernelsim import Kernel
from kernelsim.maps.ringbuf import ringbuf_output, ringbuf_query
from kernelsim.uapi import BpfCmd
from syscall.mmap import MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from tests.realkernel import errname, real_bpf, requires_realkernel

ARRAY, HASH, RINGBUF = 2, 1, 27
MMAPABLE, RDONLY_PROG, RDONLY, WRONLY = 1 << 10, 1 << 7, 1 << 3, 1 << 4
PAGE = 4096
RW, RO = PROT_READ | PROT_WRITE, PROT_READ


def create_attr(map_type, key, value, entries, flags=0) -> bytes:
    return struct.pack("<IIIII", map_type, key, value, entries, flags)


def lookup_attr(fd, key_addr, value_addr) -> bytes:
    return struct.pack("<IIQQQ", fd, 0, key_addr, value_addr, 0)


# (name, create attr, freeze first, [(length, prot, flags, offset), ...])
CASES = [
    ("mmapable array", create_attr(ARRAY, 4, 8, 2, MMAPABLE), False,
     [(PAGE, RW, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 0), (2 * PAGE, RW, MAP_SHARED, 0),
      (PAGE, RW, MAP_SHARED, PAGE), (PAGE, RW, MAP_PRIVATE, 0), (PAGE, RO, MAP_PRIVATE, 0)]),
    ("three pages of values", create_attr(ARRAY, 4, 4096, 3, MMAPABLE), False,
     [(3 * PAGE, RW, MAP_SHARED, 0), (PAGE, RW, MAP_SHARED, 2 * PAGE), (2 * PAGE, RO, MAP_SHARED, 2 * PAGE)]),
    ("plain array", create_attr(ARRAY, 4, 8, 2), False, [(PAGE, RW, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 0)]),
    ("hash", create_attr(HASH, 4, 8, 2), False, [(PAGE, RO, MAP_SHARED, 0)]),
    ("rdonly_prog array", create_attr(ARRAY, 4, 8, 2, MMAPABLE | RDONLY_PROG), False,
     [(PAGE, RW, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 0)]),
    ("frozen array", create_attr(ARRAY, 4, 8, 2, MMAPABLE), True,
     [(PAGE, RW, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 0)]),
    ("read-only fd", create_attr(ARRAY, 4, 8, 2, MMAPABLE | RDONLY), False,
     [(PAGE, RW, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 0), (PAGE, RW, MAP_PRIVATE, 0)]),
    ("write-only fd", create_attr(ARRAY, 4, 8, 2, MMAPABLE | WRONLY), False,
     [(PAGE, RO, MAP_SHARED, 0), (PAGE, RW, MAP_SHARED, 0)]),
    ("ring buffer", create_attr(RINGBUF, 0, 0, 2 * PAGE), False,
     [(PAGE, RW, MAP_SHARED, 0), (2 * PAGE, RW, MAP_SHARED, 0), (PAGE, RW, MAP_SHARED, PAGE),
      (PAGE + 4 * PAGE, RO, MAP_SHARED, PAGE), (PAGE + 5 * PAGE, RO, MAP_SHARED, PAGE),
      (3 * PAGE, RO, MAP_SHARED, 0), (PAGE, RO, MAP_SHARED, 3 * PAGE)]),
]


def run_sim(attr, freeze, requests):
    task = Kernel().spawn("t")
    fd = task.bpf(BpfCmd.BPF_MAP_CREATE, attr)
    assert fd >= 0
    if freeze:
        assert task.bpf(BpfCmd.BPF_MAP_FREEZE, struct.pack("<I", fd)) == 0
    out = []
    for length, prot, flags, offset in requests:
        m = task.mmap(fd, length, prot, flags, offset)
        if isinstance(m, int):
            out.append(errname(-m))
        else:
            out.append(f"ok {len(m)}")
            task.munmap(m)
    return out


def run_real(attr, freeze, requests):
    ret, err, _ = real_bpf(BpfCmd.BPF_MAP_CREATE, attr, keep_fd=True)
    assert ret >= 0, errname(err)
    fd = ret
    try:
        if freeze:
            assert real_bpf(BpfCmd.BPF_MAP_FREEZE, struct.pack("<I", fd))[0] == 0
        out = []
        for length, prot, flags, offset in requests:
            try:
                m = pymmap.mmap(fd, length, flags=flags, prot=prot, offset=offset)
            except OSError as e:
                out.append(errname(e.errno))
            else:
                out.append(f"ok {len(m)}")
                m.close()
        return out
    finally:
        from tests.realkernel import forget_fd
        forget_fd(fd)
        os.close(fd)


@pytest.mark.parametrize("name,attr,freeze,requests", CASES, ids=[c[0] for c in CASES])
def test_mmap_errnos(name, attr, freeze, requests):
    got = run_sim(attr, freeze, requests)
    assert all(r.startswith("ok ") or r.startswith("E") for r in got)
    assert got[0] == {"mmapable array": "ok 4096", "three pages of values": "ok 12288",
                      "plain array": "EINVAL", "hash": "ENOTSUPP", "rdonly_prog array": "EACCES",
                      "frozen array": "EPERM", "read-only fd": "EACCES", "write-only fd": "EACCES",
                      "ring buffer": "ok 4096"}[name]


@pytest.mark.realkernel
@requires_realkernel
@pytest.mark.parametrize("name,attr,freeze,requests", CASES, ids=[c[0] for c in CASES])
def test_mmap_errnos_same_as_linux(name, attr, freeze, requests):
    assert run_sim(attr, freeze, requests) == run_real(attr, freeze, requests)


def test_array_values_are_shared_and_writers_block_freeze():
    task = Kernel().spawn("t")
    fd = task.bpf(BpfCmd.BPF_MAP_CREATE, create_attr(ARRAY, 4, 8, 2, MMAPABLE))
    m = task.mmap(fd, PAGE, RW, MAP_SHARED, 0)
    m[8:16] = (0x1122334455667788).to_bytes(8, "little")           # value of key 1
    key, value = bytearray(struct.pack("<I", 1)), bytearray(8)
    import ctypes
    kb, vb = (ctypes.c_char * 4).from_buffer(key), (ctypes.c_char * 8).from_buffer(value)
    assert task.bpf(BpfCmd.BPF_MAP_LOOKUP_ELEM,
                    lookup_attr(fd, ctypes.addressof(kb), ctypes.addressof(vb))) == 0
    assert int.from_bytes(value, "little") == 0x1122334455667788
    assert task.bpf(BpfCmd.BPF_MAP_FREEZE, struct.pack("<I", fd)) == -errno.EBUSY   # a writer
    ro = task.mmap(fd, PAGE, RO, MAP_SHARED, 0)
    with pytest.raises(TypeError):
        ro[0:1] = b"x"                                               # read-only view
    assert task.munmap(m) == 0 and task.munmap(m) == 0
    assert task.bpf(BpfCmd.BPF_MAP_FREEZE, struct.pack("<I", fd)) == 0
    assert task.mmap(fd, PAGE, RW, MAP_SHARED, 0) == -errno.EPERM
    assert task.munmap(object()) == -errno.EINVAL
    assert task.mmap(99, PAGE) == -errno.EBADF and task.mmap(fd, 0) == -errno.EINVAL
    assert task.mmap(fd, PAGE, RO, MAP_SHARED, 100) == -errno.EINVAL


def test_ring_buffer_pages_are_what_libbpf_maps():
    """The consumer page (read-write, offset 0) and the producer page + data (read-only, offset
    PAGE): the producer position and records appear in the mapping as the kernel writes them,
    and a consumer position written through the mapping is the kernel's."""
    k = Kernel()
    task = k.spawn("t")
    size = 2 * PAGE
    fd = task.bpf(BpfCmd.BPF_MAP_CREATE, create_attr(RINGBUF, 0, 0, size))
    cons = task.mmap(fd, PAGE, RW, MAP_SHARED, 0)
    prod = task.mmap(fd, PAGE + 2 * size, RO, MAP_SHARED, PAGE)
    rb_map = task.files.get(fd).obj
    ringbuf_output(rb_map, b"hello", 0)
    ringbuf_output(rb_map, b"world!!!", 0)
    assert int.from_bytes(prod[0:8], "little") == 16 + 16            # two records, 8-byte headers
    data = prod.view[PAGE:]
    assert int.from_bytes(data[0:4], "little") == 5 and bytes(data[8:13]) == b"hello"
    assert int.from_bytes(data[16:20], "little") == 8 and bytes(data[24:32]) == b"world!!!"
    assert ringbuf_query(rb_map, 0) == 32                             # BPF_RB_AVAIL_DATA
    cons[0:8] = (16).to_bytes(8, "little")                            # consumed the first record
    assert ringbuf_query(rb_map, 0) == 16 and ringbuf_query(rb_map, 2) == 16
    task.munmap(cons)
    task.munmap(prod)
