"""PROG_LOAD with attr.fd_array_cnt (6.14+; kernel/bpf/verifier.c process_fd_array): every map of
the counted fd_array is bound to the program at load, before any ld_imm64 is resolved, whether
or not the code uses it; a map-index ld_imm64 (src 5/6) refers into the same array. kernelsim
(through task.bpf) against Linux 6.18 with the same bytes: errno, complaint line, and the
program's maps in bpf_prog_info order (as indexes of the maps each side created)."""

import os
import re

import pytest

import corpus_tool
import realbpf
from kernelsim import Kernel
from kernelsim.isa.insn import BpfInsn, encode_insns
from kernelsim.uapi import BpfMapType as T, BpfProgType as PT
from syscall import libbpf as L

RET0 = [BpfInsn(0xb7, 0, 0, 0, 0), BpfInsn(0x95, 0, 0, 0, 0)]
U32_MAX = 0xFFFFFFFF


def ld_map(src, imm):
    return [BpfInsn(0x18, 1, src, 0, imm), BpfInsn(0, 0, 0, 0, 0)]


# name: (fd_array as map indexes (or "prog" / "bad"), fd_array_cnt, program (map indexes resolved
# to fds for src 1), expected to load)
CASES = {
    "one unused map": ([0], 1, lambda fd: RET0),
    "same map twice": ([0, 0], 2, lambda fd: RET0),
    "order: array first, then the code's map": ([1, 0], 2, lambda fd: ld_map(1, fd[0]) + RET0),
    "code uses fd_array index 0": ([0], 1, lambda fd: ld_map(5, 0) + RET0),
    "code uses fd_array index 1": ([0, 1], 2, lambda fd: ld_map(5, 1) + RET0),
    "index past the counted part": ([0, 1], 1, lambda fd: ld_map(5, 1) + RET0),
    "stdin in the array": (["stdin"], 1, lambda fd: RET0),
    "a program fd in the array": (["prog"], 1, lambda fd: RET0),
    "a closed fd in the array": (["bad"], 1, lambda fd: RET0),
    "uncounted array binds nothing": ([0, 1], 0, lambda fd: RET0),
    "uncounted array, code uses index 1": ([0, 1], 0, lambda fd: ld_map(5, 1) + RET0),
    "bound map, then a verifier error": ([0], 1, lambda fd: [BpfInsn(0x95, 0, 0, 0, 0)]),
    "fd_array_cnt too big": ([0], U32_MAX // 4, lambda fd: RET0),
}
MAPS = [(T.BPF_MAP_TYPE_HASH, 4, 8, 1), (T.BPF_MAP_TYPE_ARRAY, 4, 8, 1)]
BAD_FD = 999


def _fd(a, mfds, pfd):
    return mfds[a] if isinstance(a, int) else {"prog": pfd, "bad": BAD_FD, "stdin": 0}[a]


def _outcome(err, log, map_ids, ids_of_maps):
    text = log.split("\0")[0] if isinstance(log, str) else log.split(b"\0")[0].decode()
    complaint = re.sub(r"fd \d+ ", "fd N ", corpus_tool.complaint(text)) if err else ""
    return (err, complaint, [ids_of_maps.index(i) if i in ids_of_maps else -1 for i in map_ids])


def run_kernelsim(case):
    arr, cnt, code = CASES[case]
    k = Kernel()
    t = k.spawn(comm="t")
    mfds = [L.map_create(t, typ, f"m{i}", ks, vs, n) for i, (typ, ks, vs, n) in enumerate(MAPS)]
    ids = [t.files.get(fd).obj.id for fd in mfds]
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, encode_insns(RET0))
    fds = [_fd(a, mfds, pfd) for a in arr]
    opts = L.ProgLoadOpts(fd_array=fds, fd_array_cnt=cnt, log_level=1, log_size=1 << 16)
    ret, log, _ = L.bpf_prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, encode_insns(code(mfds)), "GPL", "", opts)
    map_ids = L.prog_get_info(t, ret)["map_ids"] if ret >= 0 else []
    out = _outcome(-ret if ret < 0 else 0, log, map_ids, ids)
    if ret >= 0:
        t.close(ret)
    t.close(pfd)
    maps = [t.files.get(fd).obj for fd in mfds]
    for fd in mfds:
        t.close(fd)
    assert all(m.refcnt == 0 for m in maps), "a map reference leaked"
    return out


def run_linux(case):
    arr, cnt, code = CASES[case]
    mfds = [realbpf.map_create(typ, ks, vs, n) for typ, ks, vs, n in MAPS]
    pfd = realbpf.prog_load(1, encode_insns(RET0), keep_fd=True)["fd"]
    try:
        ids = [realbpf.map_id(fd) for fd in mfds]
        fds = [_fd(a, mfds, pfd) for a in arr]
        r = realbpf.prog_load(1, encode_insns(code(mfds)), log_level=1, log_size=1 << 16,
                              fd_array=fds, fd_array_cnt=cnt, keep_fd=True)
        map_ids = []
        if r["fd"] > 0:
            map_ids = realbpf.prog_info(r["fd"])["map_ids"]
            os.close(r["fd"])
        return _outcome(r["errno"], r["log"], map_ids, ids)
    finally:
        for fd in mfds + [pfd]:
            os.close(fd)


# what Linux 6.18.44 answered (errno, complaint with the fd number as N, maps as indexes)
LINUX = {
    'one unused map': (0, '', [0]),
    'same map twice': (0, '', [0]),
    "order: array first, then the code's map": (0, '', [1, 0]),
    'code uses fd_array index 0': (0, '', [0]),
    'code uses fd_array index 1': (0, '', [0, 1]),
    'index past the counted part': (0, '', [0, 1]),
    'stdin in the array': (22, 'fd N is not pointing to valid bpf_map or btf', []),
    'a program fd in the array': (22, 'fd N is not pointing to valid bpf_map or btf', []),
    'a closed fd in the array': (9, 'fd N is not pointing to valid bpf_map or btf', []),
    'uncounted array binds nothing': (0, '', []),
    'uncounted array, code uses index 1': (0, '', [1]),
    'bound map, then a verifier error': (13, 'R0 !read_ok', []),
    'fd_array_cnt too big': (22, 'fd_array_cnt is too big (1073741823)', []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fd_array_on_kernelsim(case):
    assert run_kernelsim(case) == LINUX[case]


@pytest.mark.realkernel
@pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")
@pytest.mark.parametrize("case", list(CASES))
def test_fd_array_live(case):
    assert run_kernelsim(case) == run_linux(case)
