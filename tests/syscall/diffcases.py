"""The differential scenarios: the same bpf() calls against Linux and kernelsim
(tests/syscall/diffharness.py runs them). Each ``scen_*`` function takes a backend; the
``test_*_realkernel.py`` modules assert that both logs agree, and
``python -m tests.syscall.diffcases`` prints the agreement counts quoted in docs/syscall.md.

Deliberately left out (documented differences, docs/syscall.md): map types and program types
kernelsim does not simulate (CGROUP_ARRAY, USER_RINGBUF, XDP, SCHED_CLS, CGROUP_*, ...), LRU maps
filled past max_entries (Linux's LRU evicts early), JIT facts (jited_prog_len), BPF_LOG_STATS
timing lines, trampoline program loads (the oracle kernel refuses them with EPERM), and
anything that allocates more than a few MiB on the real machine (diffharness refuses it).
"""

import os
import struct
import subprocess

from btf import BtfBuilder
from kernelsim.uapi import *  # noqa: F401,F403
from kernelsim.uapi import BpfMapFlags as F
from syscall import abi
from tests.syscall.diffharness import compare, ename, run_both

NCPU = 2
RET0 = bytes.fromhex("b700000000000000") + bytes.fromhex("9500000000000000")


def k4(i):
    return struct.pack("<I", i)

MAP_CREATE_CASES = []
for mt in [1, 2, 3, 4, 5, 6, 7, 9, 10, 22, 23, 27, 30, 0, 11, 12, 13, 19, 21, 24, 26, 28, 29, 32, 33, 34, 35, 99]:
    for (ks, vs, me, fl, extra) in [(4,8,16,0,0),(0,8,16,0,0),(4,0,16,0,0),(4,8,0,0,0),(8,8,16,0,0),(4,4,16,0,0),
            (0,0,4096,0,0),(0,0,8192,0,0),(0,0,12288,0,0),(0,8,16,0,0),(0,8,16,0,3),(0,8,16,0,16),
            (4,8,16,F.BPF_F_NO_PREALLOC,0),(4,8,16,F.BPF_F_NO_COMMON_LRU,0),(4,8,16,F.BPF_F_MMAPABLE,0),
            (4,8,16,F.BPF_F_RDONLY_PROG|F.BPF_F_WRONLY_PROG,0),(4,8,16,F.BPF_F_RDONLY|F.BPF_F_WRONLY,0),
            (4,8,16,F.BPF_F_ZERO_SEED,0),(4,8,16,F.BPF_F_PRESERVE_ELEMS,0),(4,8,16,F.BPF_F_INNER_MAP,0),
            (4,8,16,F.BPF_F_NUMA_NODE,0),(4,8,16,1<<20,0),(4,40000,16,0,0),
            (4,16,16,F.BPF_F_STACK_BUILD_ID,0),(4,32,16,F.BPF_F_STACK_BUILD_ID,0),(4,8*200,16,0,0),
            (4, 1<<22, 1, 0, 0), (2048, (1<<22) - 2048 - 48, 1, 0, 0),(2048, (1<<22) - 2048 - 49, 1, 0, 0),
            (4,8,16,F.BPF_F_TOKEN_FD,0),(4,4,16,F.BPF_F_RDONLY_PROG,0)]:
        MAP_CREATE_CASES.append(dict(map_type=mt, key_size=ks, value_size=vs, max_entries=me, map_flags=fl, map_extra=extra))
MAP_CREATE_CASES.append(dict(map_type=1,key_size=4,value_size=8,max_entries=(1<<31)+1,map_flags=1))
MAP_CREATE_CASES.append(dict(map_type=5,key_size=4,value_size=8,max_entries=(1<<31)+1,map_flags=1))


def scen_map_create(b):
    """Every simulated map type's create validation matrix (sizes, flags, extra)."""
    for c in MAP_CREATE_CASES:
        r = b.call(BPF_MAP_CREATE, b.attr(**c))
        if r >= 0:
            b.close(r)
            b.fds.remove(r)

def mk(b, mt, ks, vs, me, fl=0, **kw):
    return b.call(BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=me, map_flags=fl, **kw))
def k4(i): return struct.pack("<I", i)
def upd(b, fd, key, val, flags=0):
    return b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0, value=b.buf(val), flags=flags))
def lk(b, fd, key, vsz, flags=0, cmd=BPF_MAP_LOOKUP_ELEM):
    out = b.buf(vsz)
    r = b.call(cmd, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0, value=out, flags=flags))
    if r == 0: b.rec(b.read(out, vsz))
    return r
def dl(b, fd, key): return b.call(BPF_MAP_DELETE_ELEM, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0))
def nk(b, fd, key, ks):
    out = b.buf(max(ks,1))
    r = b.call(BPF_MAP_GET_NEXT_KEY, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0, next_key=out))
    if r == 0: b.rec(b.read(out, ks))
    return r
def walk(b, fd, ks):
    key = None; n = 0
    while n < 100:
        out = b.buf(ks)
        r = b.call(BPF_MAP_GET_NEXT_KEY, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0, next_key=out), record=False)
        if r: b.rec(("end", r)); break
        key = b.read(out, ks); b.rec(key); n += 1

def scen_map_elems(b):
    """Update flags, full maps, GET_NEXT_KEY order (ZERO_SEED), lookup-and-delete, freeze,
    queue/stack/bloom/ringbuf/stack-trace/fd-array element rules."""
    # hash: flags, full, next key order with zero seed
    for mt in (1, 9, 5, 10):
        pc = mt in (5, 10)
        vs = 8 * (NCPU if pc else 1)
        fd = mk(b, mt, 4, 8, 4, F.BPF_F_ZERO_SEED)
        for i in range(6):
            upd(b, fd, k4(i*7), struct.pack("<Q", i)*(NCPU if pc else 1), 0)
        upd(b, fd, k4(7), b"\1"*vs, BPF_NOEXIST); upd(b, fd, k4(99), b"\1"*vs, BPF_EXIST)
        upd(b, fd, k4(7), b"\2"*vs, BPF_EXIST); upd(b, fd, k4(7), b"\2"*vs, 3); upd(b, fd, k4(7), b"\2"*vs, BPF_F_LOCK)
        upd(b, fd, k4(7), b"\2"*vs, 8); upd(b, fd, k4(7), b"\2"*vs, 1<<40)
        lk(b, fd, k4(7), vs); lk(b, fd, k4(1000), vs); lk(b, fd, k4(7), vs, BPF_F_LOCK); lk(b, fd, k4(7), vs, 2)
        if mt not in (9, 10): walk(b, fd, 4)
        nk(b, fd, None, 4) if mt not in (9,10) else None
        dl(b, fd, k4(7)); dl(b, fd, k4(7)); dl(b, fd, k4(12345))
        lk(b, fd, k4(14), vs, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM); lk(b, fd, k4(14), vs, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        lk(b, fd, k4(21), vs, BPF_F_LOCK, BPF_MAP_LOOKUP_AND_DELETE_ELEM); lk(b, fd, k4(21), vs, 2, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        lk(b, fd, None, vs)
        b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd)); b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd))
        upd(b, fd, k4(1), b"\3"*vs); dl(b, fd, k4(0)); lk(b, fd, k4(0), vs); lk(b, fd, k4(0), vs, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        b.close(fd); b.fds.remove(fd)
        # no prealloc full
        fd = mk(b, mt, 4, 8, 2, F.BPF_F_ZERO_SEED | (1 if mt in (1,5) else 0))
        for i in range(4): upd(b, fd, k4(i), b"\5"*vs)
        upd(b, fd, k4(0), b"\6"*vs); 
        if mt in (1,5): walk(b, fd, 4)
        b.close(fd); b.fds.remove(fd)
    # big-ish zero-seed hash iteration order
    fd = mk(b, 1, 8, 4, 64, F.BPF_F_ZERO_SEED)
    for i in range(40): upd(b, fd, struct.pack("<Q", i*1000003), k4(i))
    walk(b, fd, 8)
    upd(b, fd, struct.pack("<Q", 5*1000003), k4(5)); walk(b, fd, 8)
    fd2 = mk(b, 1, 3, 4, 64, F.BPF_F_ZERO_SEED)
    for i in range(20): upd(b, fd2, bytes([i, i*3 & 255, 7]), k4(i))
    walk(b, fd2, 3)
    # arrays
    for mt in (2, 6):
        pc = mt == 6; vs = 8 * (NCPU if pc else 1)
        fd = mk(b, mt, 4, 6, 3)
        for fl in (0, 1, 2, 3, 4, 8):
            upd(b, fd, k4(1), bytes(range(vs)), fl)
        upd(b, fd, k4(3), b"\1"*vs); upd(b, fd, k4(2), b"\7"*vs, 2)
        lk(b, fd, k4(1), vs); lk(b, fd, k4(3), vs); lk(b, fd, k4(2), vs); dl(b, fd, k4(1)); dl(b, fd, k4(9))
        walk(b, fd, 4); nk(b, fd, k4(7), 4); nk(b, fd, k4(2), 4)
        lk(b, fd, k4(1), vs, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd)); upd(b, fd, k4(1), b"\3"*vs); lk(b, fd, k4(1), vs)
        b.close(fd); b.fds.remove(fd)
    # queue / stack
    for mt in (22, 23):
        fd = mk(b, mt, 0, 4, 3)
        for i in range(5): upd(b, fd, None, k4(i))
        upd(b, fd, None, k4(9), BPF_EXIST); upd(b, fd, None, k4(9), BPF_NOEXIST); upd(b, fd, None, k4(9), 4)
        upd(b, fd, k4(0), k4(9))
        lk(b, fd, None, 4); lk(b, fd, k4(1), 4)
        for i in range(5): lk(b, fd, None, 4, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        lk(b, fd, None, 4, 4, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        dl(b, fd, None); nk(b, fd, None, 0)
        b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd)); upd(b, fd, None, k4(1))
        b.close(fd); b.fds.remove(fd)
    # bloom
    fd = mk(b, 30, 0, 4, 100, F.BPF_F_ZERO_SEED, map_extra=3)
    for i in range(10): upd(b, fd, None, k4(i))
    upd(b, fd, None, k4(1), 1)
    for i in range(0, 200, 7): lk(b, fd, None, 4) if False else None
    for i in range(0, 300, 11):
        r = b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=fd, value=b.buf(k4(i))))
    dl(b, fd, None); nk(b, fd, None, 0); lk(b, fd, None, 4, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
    b.close(fd); b.fds.remove(fd)
    fd = mk(b, 30, 0, 5, 100, F.BPF_F_ZERO_SEED)
    for i in range(10): upd(b, fd, None, k4(i)+b"x")
    for i in range(0, 300, 11): b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=fd, value=b.buf(k4(i)+b"x")))
    b.close(fd); b.fds.remove(fd)
    # ringbuf
    fd = mk(b, 27, 0, 0, 4096)
    lk(b, fd, None, 4); upd(b, fd, None, k4(1)); dl(b, fd, None); nk(b, fd, None, 0); lk(b, fd, None, 4, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
    b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd))
    b.close(fd); b.fds.remove(fd)
    # stack trace
    fd = mk(b, 7, 4, 16, 4)
    lk(b, fd, k4(0), 16); upd(b, fd, k4(0), bytes(16)); dl(b, fd, k4(0)); dl(b, fd, k4(100)); nk(b, fd, None, 4)
    lk(b, fd, k4(0), 16, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
    b.close(fd); b.fds.remove(fd)
    # prog array / perf event array
    for mt in (3, 4):
        fd = mk(b, mt, 4, 4, 4)
        lk(b, fd, k4(0), 4); upd(b, fd, k4(0), k4(fd)); upd(b, fd, k4(0), k4(999)); upd(b, fd, k4(9), k4(0)); upd(b, fd, k4(0), k4(0), 1)
        dl(b, fd, k4(0)); dl(b, fd, k4(9)); nk(b, fd, None, 4); lk(b, fd, k4(0), 4, 0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)
        b.close(fd); b.fds.remove(fd)
    # bad fds
    lk(b, 9999, k4(0), 4); lk(b, 0, k4(0), 4)
def mk3(b, mt, ks, vs, me, fl=0, **kw):
    return b.call(BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=me, map_flags=fl, **kw))
def upd3(b, fd, key, val, flags=0):
    return b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd, key=b.buf(key) if key is not None else 0, value=b.buf(val), flags=flags), record=False)
def batch(b, cmd, fd, count, ks, vs, in_batch=None, elem_flags=0, flags=0, keys=None, values=None, cur=8):
    kb = b.buf(keys) if keys is not None else b.buf(max(ks*count,1))
    vb = b.buf(values) if values is not None else b.buf(max(vs*count,1))
    ib = b.buf(in_batch) if in_batch is not None else 0
    ob = b.buf(cur)
    a = b.attr(**{"batch.map_fd": fd, "batch.count": count, "batch.keys": kb, "batch.values": vb,
                  "batch.in_batch": ib, "batch.out_batch": ob, "batch.elem_flags": elem_flags, "batch.flags": flags})
    r = b.call(cmd, a)
    n = a.batch.count
    b.rec(("count", n))
    if cmd in (BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH):
        b.rec(b.read(kb, ks*n)); b.rec(b.read(vb, vs*n)); b.rec(b.read(ob, cur))
    return b.read(ob, cur)
def scen_batch_info(b):
    """The batch commands (counts, cursors, ENOENT/ENOSPC), map info negotiation, the 6.18 map
    hash, access modes and freeze."""
    for mt, pc in ((1, 0), (5, 1), (2, 0), (6, 1), (22, 0), (27, 0), (30, 0), (3,0)):
        ks = 0 if mt in (22, 27, 30) else 4
        vsz = 0 if mt == 27 else 4
        fd = mk3(b, mt, ks, vsz, 4096 if mt == 27 else 8, F.BPF_F_ZERO_SEED if mt in (1,5,9) else 0)
        vs = 8 * NCPU if pc else 4
        if mt in (1, 5, 9, 2, 6):
            for i in range(6): upd3(b, fd, k4(i*3), k4(i) * (vs // 4))
        for cnt in (0, 1, 2, 3, 16):
            batch(b, BPF_MAP_LOOKUP_BATCH, fd, cnt, ks, vs)
        cur = batch(b, BPF_MAP_LOOKUP_BATCH, fd, 2, ks, vs, cur=4)
        cur = batch(b, BPF_MAP_LOOKUP_BATCH, fd, 2, ks, vs, in_batch=cur, cur=4)
        cur = batch(b, BPF_MAP_LOOKUP_BATCH, fd, 16, ks, vs, in_batch=cur, cur=4)
        batch(b, BPF_MAP_LOOKUP_BATCH, fd, 2, ks, vs, elem_flags=1)
        batch(b, BPF_MAP_LOOKUP_BATCH, fd, 2, ks, vs, elem_flags=4)
        batch(b, BPF_MAP_LOOKUP_BATCH, fd, 2, ks, vs, flags=1)
        batch(b, BPF_MAP_UPDATE_BATCH, fd, 3, ks, vs, keys=k4(1)+k4(2)+k4(100), values=bytes(range(3*vs)))
        batch(b, BPF_MAP_UPDATE_BATCH, fd, 2, ks, vs, keys=k4(50)+k4(51), values=bytes(2*vs), elem_flags=BPF_NOEXIST)
        batch(b, BPF_MAP_DELETE_BATCH, fd, 3, ks, vs, keys=k4(1)+k4(2)+k4(77))
        batch(b, BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, 2, ks, vs)
        batch(b, BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, 16, ks, vs)
        batch(b, BPF_MAP_LOOKUP_BATCH, fd, 16, ks, vs)
        # info
        info = abi.new_struct("struct bpf_map_info")
        for ilen in (0, 8, 40, 104, 120):
            buf = b.buf(bytes(abi.ffi.buffer(info)).ljust(ilen, b"\0"), max(ilen, 1))
            a = b.attr(**{"info.bpf_fd": fd, "info.info_len": ilen, "info.info": buf})
            b.call(BPF_OBJ_GET_INFO_BY_FD, a); b.rec(a.info.info_len)
            got = abi.new_struct("struct bpf_map_info", b.read(buf, min(ilen, 104)))
            b.rec((got.type, got.key_size, got.value_size, got.max_entries, got.map_flags, abi.ffi.string(got.name), got.btf_id, got.map_extra, got.id > 0 if ilen >= 8 else None))
        buf = b.buf(bytes(104) + b"\1" + bytes(15), 120)
        a = b.attr(**{"info.bpf_fd": fd, "info.info_len": 120, "info.info": buf}); b.call(BPF_OBJ_GET_INFO_BY_FD, a)
        a = b.attr(**{"info.bpf_fd": fd, "info.info_len": 5000, "info.info": buf}); b.call(BPF_OBJ_GET_INFO_BY_FD, a)
        b.close(fd); b.fds.remove(fd)
    # info: hash pointer
    fd = mk3(b, 2, 4, 8, 2)
    hb = b.buf(32)
    for hs, hp in ((32, hb), (16, hb), (32, 0), (0, hb)):
        info = abi.new_struct("struct bpf_map_info"); info.hash = hp; info.hash_size = hs
        buf = b.buf(bytes(abi.ffi.buffer(info)))
        a = b.attr(**{"info.bpf_fd": fd, "info.info_len": 104, "info.info": buf}); b.call(BPF_OBJ_GET_INFO_BY_FD, a)
        b.rec(b.read(hb, 32))
    upd3(b, fd, k4(1), b"abcdefgh"); b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd))
    for hs, hp in ((32, hb), (16, hb)):
        info = abi.new_struct("struct bpf_map_info"); info.hash = hp; info.hash_size = hs
        buf = b.buf(bytes(abi.ffi.buffer(info)))
        a = b.attr(**{"info.bpf_fd": fd, "info.info_len": 104, "info.info": buf}); b.call(BPF_OBJ_GET_INFO_BY_FD, a)
        b.rec(b.read(hb, 32)); got = abi.new_struct("struct bpf_map_info", b.read(buf, 104)); b.rec((got.hash == hp, got.hash_size))
    fd2 = mk3(b, 1, 4, 8, 2)
    info = abi.new_struct("struct bpf_map_info"); info.hash = hb; info.hash_size = 32
    buf = b.buf(bytes(abi.ffi.buffer(info)))
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": fd2, "info.info_len": 104, "info.info": buf}))
    # garbage in info buffer for map: copy-in?
    junk = b.buf(b"\xff" * 104)
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": fd2, "info.info_len": 96, "info.info": junk}))
    b.rec(b.read(junk, 104)[:96] == b.read(junk, 104)[:96])
    got = abi.new_struct("struct bpf_map_info", b.read(junk, 104)); b.rec((got.btf_id, got.ifindex, got.netns_dev))
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": 9999, "info.info_len": 96, "info.info": junk}))
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": 0, "info.info_len": 96, "info.info": junk}))
    # freeze rules
    fd3 = mk3(b, 2, 4, 8, 2, F.BPF_F_RDONLY)
    b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd3)); upd3(b, fd3, k4(0), bytes(8))
    fd4 = mk3(b, 2, 4, 8, 2, F.BPF_F_WRONLY)
    ob = b.buf(8)
    b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=fd4, key=b.buf(k4(0)), value=ob))
    b.call(BPF_MAP_GET_NEXT_KEY, b.attr(map_fd=fd4, key=0, next_key=ob))
    b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd4, key=b.buf(k4(0)), value=ob))
    b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd3, key=b.buf(k4(0)), value=ob))
    b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd4)); b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd4))
    b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd4, key=b.buf(k4(0)), value=ob))
def load(b, ptype=1, insns=RET0, lic=b"GPL", name=b"", log_level=0, log_size=0, logbuf=None, cnt=None, **kw):
    ib = b.buf(insns) if insns is not None else 0
    lb = b.buf(lic + b"\0") if lic is not None else 0
    lg = logbuf if logbuf is not None else (b.buf(log_size) if log_size else 0)
    a = b.attr(prog_type=ptype, insn_cnt=cnt if cnt is not None else len(insns or b"")//8, insns=ib, license=lb,
               log_level=log_level, log_size=log_size, log_buf=lg, **kw)
    if name: a.prog_name = name
    r = b.call(BPF_PROG_LOAD, a, record=False)
    b.rec((sorted(k for k in kw), ptype, name, cnt, log_level, log_size, lic[:10] if lic else lic, "fd" if r >= 0 else ename(-r)))
    if r >= 0: b.fds.append(r)
    return r, a
def scen_prog_load(b):
    """PROG_LOAD's syscall-side checks with r0 = 0; exit: license, name, insn_cnt, prog types,
    log attributes and truncation, prog_flags, attach fields, signature, fd_array."""
    for lic in (b"GPL", b"GPL v2", b"Dual BSD/GPL", b"gpl", b"GPL-2.0", b"", b"Proprietary", b"x"*200, None):
        r, a = load(b, lic=lic)
        if r >= 0:
            info = abi.new_struct("struct bpf_prog_info"); buf = b.buf(bytes(232))
            b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": r, "info.info_len": 232, "info.info": buf}))
            got = abi.new_struct("struct bpf_prog_info", b.read(buf, 232))
            b.rec((got.gpl_compatible, bytes(got.tag).hex(), got.xlated_prog_len, got.type, got.nr_map_ids, got.verified_insns, got.nr_jited_ksyms, got.nr_prog_tags, got.func_info_rec_size, got.line_info_rec_size, got.created_by_uid))
    for name in (b"abc", b"a.b_c9", b"a-b", b"x"*15, b"x"*16, b"\xe9t\xe9", b"\xd7", b"a b"):
        load(b, name=name)
    for cnt, ins in ((0, RET0), (4096, RET0*2048), (4097, RET0*2049), (1000001, None)):
        load(b, insns=ins, cnt=cnt) if ins is not None else load(b, insns=None, cnt=cnt)
    load(b, insns=None, cnt=2)
    for pt in (0, 1, 2, 5, 7, 17, 24, 26, 31, 33, 99):
        load(b, ptype=pt)
    for ll, ls, lb in ((1, 0, 1), (0, 100, 1), (1, 100, 0), (16, 100, 1), (8, 100, 1), (1, 0x40000000, 1), (1, 0x3FFFFFFF, 1), (1, 10, 1), (2, 4096, 1)):
        logb = b.buf(min(ls, 8192) or 8) if lb else 0
        r, a = load(b, log_level=ll, log_size=ls, logbuf=logb)
        b.rec(a.log_true_size)
        if lb and ls and ls < 8192: 
            txt = b.read(logb, min(ls, 8192))
            b.rec(txt.split(b"\0")[0][-60:] if ll & 3 else txt[:10])
    for fl in (1, 2, 4, 8, 16, 32, 64, 128, 256, 1 << 16, 1 << 20):
        load(b, prog_flags=fl)
    load(b, ptype=2, expected_attach_type=1); load(b, ptype=1, attach_btf_id=5); load(b, ptype=26, attach_btf_id=5)
    load(b, ptype=26)
    load(b, attach_prog_fd=9999); load(b, ptype=26, attach_prog_fd=9999, attach_btf_id=1)
    load(b, ptype=31, expected_attach_type=1)
    load(b, signature=b.buf(16), signature_size=16); load(b, kern_version=0x12345)
    load(b, insns=bytes.fromhex("9500000000000000"))
    load(b, insns=bytes.fromhex("b700000000000000"))
    load(b, insns=bytes.fromhex("1801000005000000") + bytes(8) + RET0)
    # log truncation
    for ls in (20, 40, 200):
        logb = b.buf(ls)
        r, a = load(b, log_level=1, log_size=ls, logbuf=logb); b.rec(a.log_true_size); b.rec(b.read(logb, ls))
        r, a = load(b, log_level=9, log_size=ls, logbuf=logb); b.rec(a.log_true_size); b.rec(b.read(logb, ls))
    # log_true_size not covered by size
    logb = b.buf(20)
    a = b.attr(prog_type=1, insn_cnt=2, insns=b.buf(RET0), license=b.buf(b"GPL\0"), log_level=1, log_size=20, log_buf=logb)
    b.call(BPF_PROG_LOAD, a, size=abi.offsetof("union bpf_attr", "log_true_size")); b.rec(a.log_true_size)
    # func info without btf
    load(b, func_info_cnt=1, func_info_rec_size=8, func_info=b.buf(8))
    load(b, line_info_cnt=1, line_info_rec_size=16, line_info=b.buf(16))
    load(b, fd_array=b.buf(8), fd_array_cnt=2)
bb = BtfBuilder(); bb.add_int("int", 4, 1); BTF = bb.encode() if hasattr(bb, "encode") else bytes(bb.to_bytes())
def scen_perms(b):
    """What each identity may create and query (run under several uid/caps/sysctl values)."""
    for mt, ks, vs, me, fl in ((2,4,8,1,0),(1,4,8,1,0),(6,4,8,1,0),(27,0,0,4096,0),(9,4,8,1,0),(22,0,4,1,0),(30,0,4,1,0),(7,4,8,1,0),(3,4,4,1,0),(4,4,4,1,0),(15,4,4,1,0),(1,4,8,1,64),(2,0,8,1,0),(27,4,0,4096,0),(7,0,8,1,0),(1,4,8,1,1<<20)):
        # SOCKMAP is not simulated: compare only whether the permission check let it through
        r = b.call(BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=me, map_flags=fl),
                   record=mt != 15)
        if mt == 15:
            b.rec(("sockmap EPERM", r == -1))
    fd = b.fds[0] if b.fds else None
    if fd is not None:
        ob = b.buf(8)
        b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd, key=b.buf(bytes(4)), value=b.buf(b"12345678")))
        b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=fd, key=b.buf(bytes(4)), value=ob)); b.rec(b.read(ob, 8))
        b.call(BPF_MAP_FREEZE, b.attr(map_fd=fd))
        info = b.buf(104)
        b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": fd, "info.info_len": 104, "info.info": info}))
    for pt, eat in ((1,0),(2,0),(5,0),(7,0),(17,0),(99,0)):
        b.call(BPF_PROG_LOAD, b.attr(prog_type=pt, expected_attach_type=eat, insn_cnt=2, insns=b.buf(RET0), license=b.buf(b"GPL\0")))
    b.call(BPF_PROG_LOAD, b.attr(prog_type=1, insn_cnt=4097, insns=b.buf(RET0*2049), license=b.buf(b"GPL\0")))
    b.call(BPF_PROG_LOAD, b.attr(prog_type=1, insn_cnt=0, insns=b.buf(RET0), license=b.buf(b"GPL\0")))
    b.call(BPF_PROG_LOAD, b.attr(prog_type=1, insn_cnt=2, insns=b.buf(RET0), license=b.buf(b"GPL\0"), prog_flags=1<<30))
    for cmd in (BPF_PROG_GET_NEXT_ID, BPF_MAP_GET_NEXT_ID, BPF_LINK_GET_NEXT_ID, BPF_BTF_GET_NEXT_ID):
        b.call(cmd, b.attr(start_id=0)); b.call(cmd, b.attr(start_id=0x7FFFFFFF))
    for cmd in (BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID, BPF_LINK_GET_FD_BY_ID, BPF_BTF_GET_FD_BY_ID):
        b.call(cmd, b.attr(start_id=0x7FFFFFF0)); b.call(cmd, b.attr(start_id=0x7FFFFFF0, open_flags=1<<3|1<<4))
    b.call(BPF_MAP_GET_FD_BY_ID, b.attr(map_id=1, open_flags=1<<5))
    b.call(BPF_ENABLE_STATS, b.attr(**{"enable_stats.type": 0})); b.call(BPF_ENABLE_STATS, b.attr(**{"enable_stats.type": 1}))
    b.call(BPF_BTF_LOAD, b.attr(btf=b.buf(BTF), btf_size=len(BTF)))
    b.call(BPF_TASK_FD_QUERY, b.attr(**{"task_fd_query.pid": 1, "task_fd_query.fd": 0, "task_fd_query.flags": 1}))
    b.call(BPF_PROG_QUERY, b.attr(**{"query.target_fd": 0, "query.attach_type": 0}))
    b.call(BPF_TOKEN_CREATE, b.attr(**{"token_create.bpffs_fd": 0}))
    b.call(BPF_TOKEN_CREATE, b.attr(**{"token_create.bpffs_fd": 9999}))
    b.call(BPF_TOKEN_CREATE, b.attr(**{"token_create.flags": 1}))

PERM_IDENTITIES = [(1000, 1000, ()), (1000, 1000, ("CAP_BPF",)), (1000, 1000, ("CAP_BPF", "CAP_PERFMON")),
                   (1000, 1000, ("CAP_SYS_ADMIN",)), (1000, 1000, ("CAP_BPF", "CAP_NET_ADMIN")),
                   (1000, 1000, ("CAP_PERFMON",)), (0, 0, None)]

MNT = "/tmp/kbpffs_diff"
def P(b, path):
    root = MNT if not b.sim else "/sys/fs/bpf"
    return path.replace("@", root).encode() + b"\0"
def pin(b, fd, path, flags=0, path_fd=0):
    return b.call(BPF_OBJ_PIN, b.attr(pathname=b.buf(P(b, path)), bpf_fd=fd, file_flags=flags, path_fd=path_fd))
def get(b, path, flags=0, bpf_fd=0, path_fd=0):
    return b.call(BPF_OBJ_GET, b.attr(pathname=b.buf(P(b, path)), bpf_fd=bpf_fd, file_flags=flags, path_fd=path_fd))
def scen_pin(b):
    """OBJ_PIN / OBJ_GET rules, IDs (relative), link and misc commands on wrong fds, prog info.
    Needs a bpffs mounted at MNT on the real side (``bpffs_mounted``)."""
    m = b.call(BPF_MAP_CREATE, b.attr(map_type=2, key_size=4, value_size=8, max_entries=2))
    p = b.call(BPF_PROG_LOAD, b.attr(prog_type=1, insn_cnt=2, insns=b.buf(RET0), license=b.buf(b"GPL\0")))
    pin(b, m, "@/m1"); pin(b, m, "@/m1"); pin(b, p, "@/p1"); pin(b, 9999, "@/x"); pin(b, 0, "@/x")
    pin(b, m, "@/a.b"); pin(b, m, "@/nodir/x"); pin(b, m, "/tmp/notbpffs_xx"); pin(b, m, "/nonexistent/x")
    pin(b, m, "@/m1/sub"); pin(b, m, ""); pin(b, m, "@/m2", flags=1); pin(b, m, "@/m2", path_fd=5); pin(b, m, "@/")
    pin(b, m, "@/m2", flags=1<<14, path_fd=-100)
    get(b, "@/m1"); get(b, "@/m1", flags=8); get(b, "@/m1", flags=16); get(b, "@/m1", flags=24); get(b, "@/m1", bpf_fd=3)
    get(b, "@/p1"); get(b, "@/p1", flags=8); get(b, "@/nope"); get(b, "@"); get(b, "/tmp"); get(b, "@/a.b"); get(b, "@/m1", flags=1<<5)
    get(b, "@/m1/x"); get(b, "@/./m1"); get(b, "@/../bpf/m1" if b.sim else "@/../kbpffs_diff/m1")
    r = get(b, "@/m1", flags=8)
    if r >= 0:
        b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=r, key=b.buf(bytes(4)), value=b.buf(bytes(8))))
        b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=r, key=b.buf(bytes(4)), value=b.buf(8)))
    r = get(b, "@/m1", flags=16)
    if r >= 0:
        b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=r, key=b.buf(bytes(4)), value=b.buf(8)))
        b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=r, key=b.buf(bytes(4)), value=b.buf(bytes(8))))
        b.call(BPF_MAP_LOOKUP_AND_DELETE_ELEM, b.attr(map_fd=r, key=b.buf(bytes(4)), value=b.buf(8)))
        b.call(BPF_MAP_FREEZE, b.attr(map_fd=r))
    # ids: relative
    def nid(cmd, start):
        a = b.attr(start_id=start); r = b.call(cmd, a, record=False); return r, a.next_id
    ia = b.attr(**{"info.bpf_fd": m, "info.info_len": 104, "info.info": b.buf(104)}); b.call(BPF_OBJ_GET_INFO_BY_FD, ia, record=False)
    mid = abi.new_struct("struct bpf_map_info", b.read(ia.info.info, 104)).id
    r, n = nid(BPF_MAP_GET_NEXT_ID, mid - 1); b.rec((r, n == mid))
    r, n = nid(BPF_MAP_GET_NEXT_ID, mid); b.rec((r, n > mid if r == 0 else None))
    g = b.call(BPF_MAP_GET_FD_BY_ID, b.attr(map_id=mid)); b.call(BPF_MAP_GET_FD_BY_ID, b.attr(map_id=mid, open_flags=8))
    b.call(BPF_MAP_GET_FD_BY_ID, b.attr(map_id=0)); b.call(BPF_PROG_GET_FD_BY_ID, b.attr(prog_id=0))
    # map freed -> id gone
    m2 = b.call(BPF_MAP_CREATE, b.attr(map_type=2, key_size=4, value_size=8, max_entries=2))
    ia = b.attr(**{"info.bpf_fd": m2, "info.info_len": 104, "info.info": b.buf(104)}); b.call(BPF_OBJ_GET_INFO_BY_FD, ia, record=False)
    mid2 = abi.new_struct("struct bpf_map_info", b.read(ia.info.info, 104)).id
    b.rec(mid2 > mid)
    b.close(m2); b.fds.remove(m2)
    import time; time.sleep(0.05)
    b.call(BPF_MAP_GET_FD_BY_ID, b.attr(map_id=mid2))
    # unlink pin of a map whose fd is closed: the pin keeps it
    m3 = b.call(BPF_MAP_CREATE, b.attr(map_type=2, key_size=4, value_size=8, max_entries=2))
    pin(b, m3, "@/m3"); b.close(m3); b.fds.remove(m3)
    get(b, "@/m3")
    # links / misc on wrong fds
    b.call(BPF_LINK_DETACH, b.attr(**{"link_detach.link_fd": m})); b.call(BPF_LINK_DETACH, b.attr(**{"link_detach.link_fd": 9999}))
    b.call(BPF_LINK_UPDATE, b.attr(**{"link_update.link_fd": m, "link_update.new_prog_fd": p}))
    b.call(BPF_LINK_UPDATE, b.attr(**{"link_update.link_fd": m, "link_update.flags": 1}))
    b.call(BPF_LINK_GET_FD_BY_ID, b.attr(link_id=0)); b.call(BPF_LINK_GET_FD_BY_ID, b.attr(link_id=0x7ffffff0))
    b.call(BPF_LINK_CREATE, b.attr(**{"link_create.prog_fd": p, "link_create.attach_type": 0}))
    b.call(BPF_LINK_CREATE, b.attr(**{"link_create.prog_fd": m, "link_create.attach_type": 0}))
    b.call(BPF_LINK_CREATE, b.attr(**{"link_create.prog_fd": p, "link_create.attach_type": 41}))
    b.call(BPF_RAW_TRACEPOINT_OPEN, b.attr(**{"raw_tracepoint.prog_fd": p}))
    b.call(BPF_RAW_TRACEPOINT_OPEN, b.attr(**{"raw_tracepoint.prog_fd": m}))
    b.call(BPF_ITER_CREATE, b.attr(**{"iter_create.link_fd": m})); b.call(BPF_ITER_CREATE, b.attr(**{"iter_create.link_fd": m, "iter_create.flags": 1}))
    b.call(BPF_PROG_BIND_MAP, b.attr(**{"prog_bind_map.prog_fd": p, "prog_bind_map.map_fd": m}))
    b.call(BPF_PROG_BIND_MAP, b.attr(**{"prog_bind_map.prog_fd": p, "prog_bind_map.map_fd": m}))
    b.call(BPF_PROG_BIND_MAP, b.attr(**{"prog_bind_map.prog_fd": m, "prog_bind_map.map_fd": m}))
    b.call(BPF_PROG_BIND_MAP, b.attr(**{"prog_bind_map.prog_fd": p, "prog_bind_map.map_fd": p}))
    b.call(BPF_PROG_BIND_MAP, b.attr(**{"prog_bind_map.prog_fd": p, "prog_bind_map.map_fd": m, "prog_bind_map.flags": 1}))
    info = b.buf(232); a = b.attr(**{"info.bpf_fd": p, "info.info_len": 232, "info.info": info}); b.call(BPF_OBJ_GET_INFO_BY_FD, a)
    got = abi.new_struct("struct bpf_prog_info", b.read(info, 232)); b.rec(got.nr_map_ids)
    ids = b.buf(8); gi = abi.new_struct("struct bpf_prog_info"); gi.nr_map_ids = 2; gi.map_ids = ids
    info2 = b.buf(bytes(abi.ffi.buffer(gi)))
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": p, "info.info_len": 232, "info.info": info2}))
    b.rec(struct.unpack("<II", b.read(ids, 8))[0] == mid)
    gi = abi.new_struct("struct bpf_prog_info"); gi.func_info_rec_size = 4
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": p, "info.info_len": 232, "info.info": b.buf(bytes(abi.ffi.buffer(gi)))}))
    gi = abi.new_struct("struct bpf_prog_info"); gi.xlated_prog_len = 16; xb = b.buf(16); gi.xlated_prog_insns = xb
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": p, "info.info_len": 232, "info.info": b.buf(bytes(abi.ffi.buffer(gi)))}))
    b.rec(b.read(xb, 16))
    gi = abi.new_struct("struct bpf_prog_info"); gi.nr_prog_tags = 1; tb = b.buf(8); gi.prog_tags = tb
    b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": p, "info.info_len": 232, "info.info": b.buf(bytes(abi.ffi.buffer(gi)))}))
    b.call(BPF_PROG_STREAM_READ_BY_FD, b.attr(**{"prog_stream_read.prog_fd": p, "prog_stream_read.stream_id": 1, "prog_stream_read.stream_buf": b.buf(64), "prog_stream_read.stream_buf_len": 64}))
    b.call(BPF_PROG_STREAM_READ_BY_FD, b.attr(**{"prog_stream_read.prog_fd": p, "prog_stream_read.stream_id": 3}))
    b.call(BPF_PROG_STREAM_READ_BY_FD, b.attr(**{"prog_stream_read.prog_fd": m, "prog_stream_read.stream_id": 1}))
    b.call(BPF_PROG_TEST_RUN, b.attr(**{"test.prog_fd": m}))
    b.call(BPF_PROG_TEST_RUN, b.attr(**{"test.prog_fd": p, "test.ctx_size_in": 4}))
    b.call(BPF_PROG_ATTACH, b.attr(target_fd=0, attach_bpf_fd=p, attach_type=0))
    b.call(BPF_PROG_ATTACH, b.attr(target_fd=0, attach_bpf_fd=p, attach_type=99))
    b.call(BPF_PROG_DETACH, b.attr(target_fd=0, attach_type=0)); b.call(BPF_PROG_DETACH, b.attr(target_fd=9999, attach_type=5))
    b.call(BPF_PROG_DETACH, b.attr(target_fd=0, attach_type=99)); b.call(BPF_PROG_DETACH, b.attr(target_fd=0, attach_type=0, attach_flags=1))
    b.call(BPF_TASK_FD_QUERY, b.attr(**{"task_fd_query.pid": os.getpid() if not b.sim else b.task.pid, "task_fd_query.fd": m}))
    b.call(BPF_TASK_FD_QUERY, b.attr(**{"task_fd_query.pid": os.getpid() if not b.sim else b.task.pid, "task_fd_query.fd": 9999}))
    b.call(BPF_TASK_FD_QUERY, b.attr(**{"task_fd_query.pid": 999999, "task_fd_query.fd": m}))
    b.call(BPF_ENABLE_STATS, b.attr(**{"enable_stats.type": 0}))

class bpffs_mounted:
    """Mount a bpffs at MNT for the real side (and clean up)."""

    def __enter__(self):
        os.makedirs(MNT, exist_ok=True)
        subprocess.run(["mount", "-t", "bpf", "bpf", MNT], check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", MNT], check=False)
        os.rmdir(MNT)

def blob(spin=False, datasec=False):
    bb = BtfBuilder()
    i32 = bb.add_int("int", 4, 1)           # 1
    u64 = bb.add_int("long long unsigned int", 8, 0)   # 2
    st = bb.add_struct("val", 16)           # 3
    bb.add_field("a", u64, 0); bb.add_field("b", u64, 64)
    u32 = bb.add_int("unsigned int", 4, 0)  # 4
    if spin:
        sl = bb.add_struct("bpf_spin_lock", 4); bb.add_field("val", u32, 0)   # 5
        s2 = bb.add_struct("locked", 8); bb.add_field("lock", sl, 0); bb.add_field("x", u32, 32)  # 6
    return bb.to_bytes() if hasattr(bb, "to_bytes") else bb.encode()
def btf_load(b, data, level=0, size=0, lb=None, record=True):
    lg = lb if lb is not None else (b.buf(size) if size else 0)
    a = b.attr(btf=b.buf(data), btf_size=len(data), btf_log_level=level, btf_log_size=size, btf_log_buf=lg)
    r = b.call(BPF_BTF_LOAD, a, record=record)
    return r, a, lg
def scen_btf(b):
    """BTF_LOAD (log rules, rotation, errors), BTF info, maps with BTF keys and values, kernel
    BTF refusals, spin locks."""
    good = blob(); r, a, _ = btf_load(b, good)
    bad = b"\0" * 24
    btf_load(b, bad); btf_load(b, good[:10]); btf_load(b, b"", ); 
    a2 = b.attr(btf=0, btf_size=100); b.call(BPF_BTF_LOAD, a2)
    a2 = b.attr(btf=0, btf_size=(16 << 20) + 1); b.call(BPF_BTF_LOAD, a2)
    for lvl, sz, has in ((1, 0, 1), (0, 64, 1), (1, 64, 0), (1, 4096, 1), (1, 30, 1), (9, 30, 1), (16, 64, 1)):
        lb = b.buf(max(sz, 8)) if has else 0
        r2, a3, _ = btf_load(b, good, lvl, sz, lb)
        b.rec(a3.btf_log_true_size)
        if has and sz: b.rec(b.read(lb, sz))
        r2, a3, _ = btf_load(b, bad, lvl, sz, lb)
        b.rec(a3.btf_log_true_size)
        if has and sz: b.rec(b.read(lb, sz))
    b.call(BPF_BTF_LOAD, b.attr(btf=b.buf(good), btf_size=len(good), btf_flags=1))
    b.call(BPF_BTF_LOAD, b.attr(btf=b.buf(good), btf_size=len(good), btf_flags=1<<16, btf_token_fd=9999))
    # info
    if r >= 0:
        for nl, nb in ((0, 0), (1, 1), (5, 0), (0, 1), (16, 1)):
            nbuf = b.buf(16) if nb else 0
            bi = abi.new_struct("struct bpf_btf_info"); bb = b.buf(len(good)); bi.btf = bb; bi.btf_size = len(good); bi.name = nbuf; bi.name_len = nl
            ib = b.buf(bytes(abi.ffi.buffer(bi)))
            a4 = b.attr(**{"info.bpf_fd": r, "info.info_len": 32, "info.info": ib}); b.call(BPF_OBJ_GET_INFO_BY_FD, a4)
            got = abi.new_struct("struct bpf_btf_info", b.read(ib, 32))
            b.rec((got.btf_size, got.name_len, got.kernel_btf, a4.info.info_len, b.read(bb, len(good)) == good))
        # maps with btf
        for ks, vs, kid, vid, mt in ((4, 16, 1, 3, 1), (4, 8, 1, 3, 1), (4, 16, 0, 3, 1), (4, 16, 0, 3, 2), (4, 16, 2, 3, 2), (4, 16, 1, 3, 2), (4, 16, 1, 0, 2), (4, 16, 99, 3, 1), (4, 16, 1, 99, 1), (0, 16, 0, 3, 22), (0,16,0,3,30), (4, 4, 1, 4, 7), (4,4,1,1,3)):
            m = b.call(BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=1 if mt != 7 else 1, btf_fd=r, btf_key_type_id=kid, btf_value_type_id=vid), record=False)
            b.rec(("map", ks, vs, kid, vid, mt, "fd" if m >= 0 else ename(-m)))
            if m >= 0:
                ib = b.buf(104); b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": m, "info.info_len": 104, "info.info": ib}), record=False)
                got = abi.new_struct("struct bpf_map_info", b.read(ib, 104)); b.rec((got.btf_id > 0, got.btf_key_type_id, got.btf_value_type_id))
        b.call(BPF_MAP_CREATE, b.attr(map_type=1, key_size=4, value_size=16, max_entries=1, btf_fd=9999, btf_key_type_id=1, btf_value_type_id=3))
        b.call(BPF_MAP_CREATE, b.attr(map_type=1, key_size=4, value_size=16, max_entries=1, btf_fd=b.fds[0], btf_key_type_id=1, btf_value_type_id=3))
        # kernel btf
        kf = b.call(BPF_BTF_GET_FD_BY_ID, b.attr(btf_id=1))
        if kf >= 0:
            bi = abi.new_struct("struct bpf_btf_info"); nb = b.buf(16); bi.name = nb; bi.name_len = 16
            ib = b.buf(bytes(abi.ffi.buffer(bi)))
            b.call(BPF_OBJ_GET_INFO_BY_FD, b.attr(**{"info.bpf_fd": kf, "info.info_len": 32, "info.info": ib}))
            got = abi.new_struct("struct bpf_btf_info", b.read(ib, 32)); b.rec((got.name_len, got.kernel_btf, b.read(nb, 8)))
            b.call(BPF_MAP_CREATE, b.attr(map_type=1, key_size=4, value_size=4, max_entries=1, btf_fd=kf, btf_key_type_id=1, btf_value_type_id=1))
            b.call(BPF_OBJ_PIN, b.attr(pathname=b.buf(b"/tmp/xx\0"), bpf_fd=kf))
        sb = blob(spin=True); rs, _, _ = btf_load(b, sb)
        for mt, fl in ((1, 0), (2, 0), (5, 0), (9, 0), (1, 1 << 7)):
            m = b.call(BPF_MAP_CREATE, b.attr(map_type=mt, key_size=4, value_size=8, max_entries=1, map_flags=fl, btf_fd=rs, btf_key_type_id=1, btf_value_type_id=6), record=False)
            b.rec(("spin", mt, fl, "fd" if m >= 0 else ename(-m)))
            if m >= 0:
                b.call(BPF_MAP_FREEZE, b.attr(map_fd=m))
                b.call(BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(bytes(4)), value=b.buf(8), flags=4))
                b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(bytes(4)), value=b.buf(8), flags=4))
                b.call(BPF_MAP_UPDATE_ELEM, b.attr(map_fd=m, key=b.buf(bytes(4)), value=b.buf(8), flags=0))
    b.call(BPF_BTF_GET_FD_BY_ID, b.attr(btf_id=0)); b.call(BPF_BTF_GET_FD_BY_ID, b.attr(btf_id=1, open_flags=1))
def scen_entry(b):
    """The generic entry: sizes, tails, unknown commands."""
    big = bytearray(5000)
    # 14 (MAP_GET_FD_BY_ID of id 0): a command whose answer does not depend on what else the
    # real machine has loaded (MAP_GET_NEXT_ID would find other processes' maps)
    for cmd in (0, 1, 5, 38, 39, 1 << 16, (1 << 16) | 0, 0x7fffffff, 100, 14):
        for size in (0, 8, 168, 169, 4096, 4097):
            data = bytes(big[:max(size, 1)])
            b.call(cmd, bytearray(data), size=size)
        d = bytearray(200); d[170] = 1
        b.call(cmd, d, size=200)
        d = bytearray(200); d[100] = 1
        b.call(cmd, d, size=168)

SCENARIOS = {"map_create": scen_map_create, "map_elems": scen_map_elems, "batch_info": scen_batch_info,
             "prog_load": scen_prog_load, "btf": scen_btf, "entry": scen_entry}


def main() -> None:
    total = agree = 0
    results = []
    for name, scen in SCENARIOS.items():
        real, sim = run_both(scen)
        d = compare(real, sim)
        results.append((name, len(real), len(real) - len(d)))
    with bpffs_mounted():
        real, sim = run_both(scen_pin)
    d = compare(real, sim)
    results.append(("pin", len(real), len(real) - len(d)))
    for sysctl in (0, 2):
        for uid, gid, caps in PERM_IDENTITIES:
            if uid == 0 and sysctl == 0:
                continue
            real, sim = run_both(scen_perms, uid, gid, caps, sysctl=sysctl)
            d = compare(real, sim)
            results.append((f"perms {sysctl} {caps}", len(real), len(real) - len(d)))
    for name, n, ok in results:
        total, agree = total + n, agree + ok
        print(f"{name:45s} {ok:5d}/{n}")
    print(f"{'total':45s} {agree:5d}/{total}")


if __name__ == "__main__":
    main()
