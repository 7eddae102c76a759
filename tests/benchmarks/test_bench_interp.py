"""Interpreter throughput (pytest-benchmark group "interpreter").

A CPU-bound program (an LCG loop: mul, add, shifts, xor, a 32-bit op, a back-edge) executes
about a million instructions; the benchmark asserts its result against a Python model. Next to it,
the reference: the same instruction stream as a minimal pre-decoded Python loop (closures over
a register list; no budget or instruction count, no memory checks, no fault translation), the
floor any closure interpreter in CPython pays. Figures:
``python -m pytest tests/benchmarks/test_bench_interp.py --benchmark-enable`` (docs/isa.md). With the suite's default --benchmark-disable
each test runs once (well under a second).
"""

import time

import pytest

from kernelsim.isa.asm import assemble
from kernelsim.isa.fast import bpf_fast_run
from kernelsim.isa.interp import BpfRunCtx, bpf_interp_run, bpf_prog_decode
from kernelsim.memory import AddressSpace

ITERS = 125_000
PROGRAM = f"""
        r0 = 0
        r1 = 0
        r2 = 12345
loop:   r2 *= 1103515245
        r2 += 12345
        r3 = r2
        r3 >>= 16
        r0 ^= r3
        w4 = w2
        r0 += r4
        r1 += 1
        if r1 < {ITERS} goto loop
        exit
"""
LOOP_LEN, PROLOGUE = 9, 3
EXECUTED = PROLOGUE + LOOP_LEN * ITERS + 1          # 1,125,004 instructions
M64 = (1 << 64) - 1


def model() -> int:
    r0, r2 = 0, 12345
    for _ in range(ITERS):
        r2 = (r2 * 1103515245 + 12345) & M64
        r0 ^= r2 >> 16
        r0 = (r0 + (r2 & 0xFFFFFFFF)) & M64
    return r0


EXPECT = model()


def _reference_ops():
    """The same stream, hand-decoded into the cheapest closures: the reference loop."""
    def mov(d, v, nxt):
        def h(r):
            r[d] = v
            return nxt
        return h

    def mul(r):
        r[2] = (r[2] * 1103515245) & M64
        return 4

    def add(r):
        r[2] = (r[2] + 12345) & M64
        return 5

    def movx(r):
        r[3] = r[2]
        return 6

    def rsh(r):
        r[3] >>= 16
        return 7

    def xor(r):
        r[0] ^= r[3]
        return 8

    def mov32(r):
        r[4] = r[2] & 0xFFFFFFFF
        return 9

    def addx(r):
        r[0] = (r[0] + r[4]) & M64
        return 10

    def inc(r):
        r[1] = (r[1] + 1) & M64
        return 11

    def jlt(r):
        return 3 if r[1] < ITERS else 12

    def ex(r):
        raise _Done
    return [mov(0, 0, 1), mov(1, 0, 2), mov(2, 12345, 3), mul, add, movx, rsh, xor, mov32, addx,
            inc, jlt, ex]


REF_OPS = _reference_ops()


class _Done(Exception):
    pass


def reference_run() -> tuple[int, int]:
    """The bare loop: no instruction count (it is known here), exit by exception."""
    r, pc, ops = [0] * 11, 0, REF_OPS
    try:
        while True:
            pc = ops[pc](r)
    except _Done:
        return r[0], EXECUTED


PROG = bpf_prog_decode(assemble(PROGRAM))


def interp_run() -> tuple[int, int]:
    run = BpfRunCtx(AddressSpace("kernel"))
    return bpf_interp_run(PROG, run), run.insn_cnt


FAST_PROG = bpf_prog_decode(assemble(PROGRAM), bpf_func=bpf_fast_run)


def fast_run() -> tuple[int, int]:
    run = BpfRunCtx(AddressSpace("kernel"))
    return bpf_fast_run(FAST_PROG, run), run.insn_cnt


def _rate(fn) -> float:
    t = time.perf_counter()
    fn()
    return EXECUTED / (time.perf_counter() - t)


@pytest.mark.benchmark(group="interpreter")
def test_interpreter_throughput(benchmark):
    r0, executed = benchmark.pedantic(interp_run, rounds=3, iterations=1)
    assert (r0, executed) == (EXPECT, EXECUTED)
    ours, ref = _rate(interp_run), _rate(reference_run)
    benchmark.extra_info.update(insns=EXECUTED, insn_per_s=round(ours),
                                reference_insn_per_s=round(ref), ratio=round(ref / ours, 2))


@pytest.mark.benchmark(group="interpreter")
def test_reference_loop(benchmark):
    r0, executed = benchmark.pedantic(reference_run, rounds=3, iterations=1)
    assert (r0, executed) == (EXPECT, EXECUTED)
    benchmark.extra_info.update(insns=EXECUTED, insn_per_s=round(_rate(reference_run)))


@pytest.mark.benchmark(group="interpreter")
def test_fast_tier_throughput(benchmark):
    """The optional faster tier (kernelsim/isa/fast.py): basic blocks compiled to Python."""
    r0, executed = benchmark.pedantic(fast_run, rounds=3, iterations=1)
    assert (r0, executed) == (EXPECT, EXECUTED)
    benchmark.extra_info.update(insns=EXECUTED, insn_per_s=round(_rate(fast_run)))
