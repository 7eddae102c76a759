"""Shared fixtures for the helper tests: a machine, a run context, a tiny map built on the real
BpfMap/BpfMapOps protocol (maps/ops.py), and a user-memory accessor for test_run."""

import errno

from kernelsim.bpf_prog import BpfProg
from kernelsim.bpf_run import BpfTraceRunCtx
from kernelsim.errors import BpfError
from kernelsim.facade import Kernel
from kernelsim.maps.map import BpfMap, MapCreateAttr
from kernelsim.maps.ops import BpfMapOps
from kernelsim.uapi import BpfMapType, BpfProgType


def make_kernel(**kw):
    kernel = Kernel(**kw)
    task = kernel.spawn(comm="tester", uid=1000, gid=1001, caps={"CAP_BPF", "CAP_PERFMON"})
    return kernel, task


def make_prog(kernel, prog_type=BpfProgType.BPF_PROG_TYPE_KPROBE, eat=0, cred=None, **aux):
    prog = BpfProg(kernel, prog_type, eat)
    prog.aux.cred = cred
    for k, v in aux.items():
        setattr(prog.aux, k, v)
    return prog


def make_run(kernel, prog=None, **kw):
    return BpfTraceRunCtx(kernel, prog, **kw)


# -- a minimal hash map on the map protocol (until kernelsim/maps/hashtab.py exists) --------------

def _lookup(m, key):
    region = m.data.get(key)
    return region.start if region is not None else 0


def _update(m, key, value, flags):
    if flags & ~3:
        raise BpfError(errno.EINVAL, "flags")
    exists = key in m.data
    if flags == 1 and exists:
        raise BpfError(errno.EEXIST, "exists")
    if flags == 2 and not exists:
        raise BpfError(errno.ENOENT, "missing")
    if not exists:
        if len(m.data) >= m.max_entries:
            raise BpfError(errno.E2BIG, "full")
        m.data[key] = m.area_alloc(m.value_size)
    m.data[key].buf[:] = value


def _delete(m, key):
    region = m.data.pop(key, None)
    if region is None:
        raise BpfError(errno.ENOENT, "missing")
    m.area_free(region)


def _for_each(m, cb):
    n = 0
    for key, region in list(m.data.items()):
        n += 1
        if cb(key, region.start):
            break
    return n


FAKE_HASH_OPS = BpfMapOps(map_lookup_elem=_lookup, map_update_elem=_update,
                          map_delete_elem=_delete, map_for_each_callback=_for_each)


def make_hash(kernel, key_size=4, value_size=8, max_entries=4):
    m = BpfMap(kernel, MapCreateAttr(map_type=BpfMapType.BPF_MAP_TYPE_HASH, key_size=key_size,
                                     value_size=value_size, max_entries=max_entries), FAKE_HASH_OPS)
    m.data = {}
    return m


class FakeUser:
    """UserAccess over a dict of user buffers: addr -> bytearray."""

    def __init__(self):
        self.bufs = {}
        self.next = 0x10000

    def put(self, data: bytes) -> int:
        addr = self.next
        self.next += 0x10000
        self.bufs[addr] = bytearray(data)
        return addr

    def alloc(self, size: int) -> int:
        return self.put(bytes(size))

    def copy_from_user(self, addr, size):
        for start, buf in self.bufs.items():
            if start <= addr and addr + size <= start + len(buf):
                return bytes(buf[addr - start:addr - start + size])
        raise BpfError(errno.EFAULT, "bad user address")

    def copy_to_user(self, addr, data):
        for start, buf in self.bufs.items():
            if start <= addr and addr + len(data) <= start + len(buf):
                buf[addr - start:addr - start + len(data)] = data
                return
        raise BpfError(errno.EFAULT, "bad user address")
