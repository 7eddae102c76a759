"""Load a program that calls helpers through bpf() and run it, on either backend of
tests/syscall/diffharness.py (the real kernel or kernelsim), so a test can compare verdicts,
errnos and PROG_TEST_RUN results, or run the loaded kernelsim program itself.

``prog_text`` is kernel-dialect assembly (kernelsim/isa/asm.py) where ``{0}``, ``{1}`` ... stand
for the fds of the maps the scenario created, in order.
"""

from __future__ import annotations

import struct

from kernelsim.isa.asm import assemble
from kernelsim.isa.insn import encode_insns
from kernelsim.uapi import BpfCmd as C
from tests.syscall.diffharness import SimBackend, ename

RAW_TP, KPROBE, TRACEPOINT, PERF_EVENT, SOCKET_FILTER = 17, 2, 5, 7, 1


def mk(b, mt, ks, vs, me, fl=0, **kw) -> int:
    return b.call(C.BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=me,
                                           map_flags=fl, **kw))


def load(b, ptype: int, text: str, fds=(), license: bytes = b"GPL", log_size: int = 1 << 16,
         record: bool = True, **kw) -> int:
    """PROG_LOAD of the assembled text; records "fd" or the errno, and (sim and real alike) the
    last line of the log on failure."""
    decoded = assemble(text.format(*fds), "kernel", check=False)
    insns = encode_insns(decoded)
    if "prog_btf_fd" not in kw and subprog_starts(decoded):
        kw.update(func_info_attrs(b, [0] + subprog_starts(decoded)))
    log = b.buf(log_size)
    a = b.attr(prog_type=ptype, insn_cnt=len(insns) // 8, insns=b.buf(insns),
               license=b.buf(license + b"\0"), log_level=1, log_size=log_size, log_buf=log, **kw)
    r = b.call(C.BPF_PROG_LOAD, a, record=False)
    b.last_log = b.read(log, log_size).split(b"\0", 1)[0].decode(errors="replace")
    if record:
        b.rec("fd" if r >= 0 else ename(-r))
        if r < 0:
            lines = [ln for ln in b.last_log.splitlines() if ln.strip()]
            b.rec(complaint(lines))
    if r >= 0:
        b.fds.append(r)
    return r


def subprog_starts(insns) -> list[int]:
    """The first instruction of every subprogram other than the main one: targets of bpf-to-bpf
    calls (call src 1) and of callback addresses (ld_imm64 src 4, BPF_PSEUDO_FUNC)."""
    starts = set()
    for i, insn in enumerate(insns):
        if (insn.code == 0x85 and insn.src == 1) or (insn.code == 0x18 and insn.src == 4):
            starts.add(i + insn.imm + 1)
    return sorted(starts)


def func_info_attrs(b, starts: list[int]) -> dict:
    """Program BTF for subprograms (callbacks need it): ``int f(void)`` FUNCs, the main one
    global and the others static, loaded with BTF_LOAD; the PROG_LOAD fields that point at it."""
    from btf import BtfBuilder
    bb = BtfBuilder()
    i32 = bb.add_int("int", 4, 1)
    proto = bb.add_func_proto(i32)
    ids = [bb.add_func("main" if k == 0 else f"sub{k}", proto, 1 if k == 0 else 0)
           for k in range(len(starts))]
    data = bb.to_bytes() if hasattr(bb, "to_bytes") else bb.encode()
    btf_fd = b.call(C.BPF_BTF_LOAD, b.attr(btf=b.buf(data), btf_size=len(data)), record=False)
    recs = b"".join(struct.pack("<II", off, tid) for off, tid in zip(starts, ids))
    return {"prog_btf_fd": btf_fd, "func_info_rec_size": 8, "func_info": b.buf(recs),
            "func_info_cnt": len(starts)}


def complaint(lines: list[str]) -> str:
    """The complaint line of a verifier log: the last line before the statistics."""
    for ln in reversed(lines):
        if not ln.startswith(("processed ", "verification time", "stack depth")):
            return ln
    return ""


def prog_test_run(b, fd: int, ctx: bytes = b"", record: bool = True) -> int | None:
    """PROG_TEST_RUN once; records and returns retval (None on failure, errno recorded; "-"
    when the load had failed)."""
    if fd < 0:
        if record:
            b.rec("-")
        return None
    a = b.attr(test__prog_fd=fd, test__ctx_in=b.buf(ctx) if ctx else 0, test__ctx_size_in=len(ctx))
    r = b.call(C.BPF_PROG_TEST_RUN, a, record=False)
    retval = a.test.retval if r == 0 else None
    if record:
        b.rec(retval if r == 0 else ename(-r))
    return retval


def sim_prog(b: SimBackend, fd: int):
    """The kernelsim BpfProg behind a program fd of a SimBackend."""
    return b.task.files.get(fd).obj


def sim_map(b: SimBackend, fd: int):
    return b.task.files.get(fd).obj


def k4(i: int) -> bytes:
    return struct.pack("<I", i)


def k8(i: int) -> bytes:
    return struct.pack("<Q", i)
