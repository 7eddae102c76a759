"""Soundness: programs the verifier accepts never fault when they run.

Hypothesis builds structured kprobe programs from blocks (ALU chains on r0-r5/r7-r9 with random
operands, stack spills and fills at random offsets and sizes, ctx reads at random offsets,
map lookups with and without a null check followed by reads/writes at constant or masked
variable offsets, bounded loops, conditional skips, helper calls). Each program goes through
kernelsim's verifier; every accepted one is run by the interpreter (kernelsim/isa/interp.py) on
several random ctx contents with a real array map (values in simulated memory) and a real ctx
region: no BpfRuntimeError (no access outside a region, no bad instruction) may happen.
"""

import random

from hypothesis import HealthCheck, given, settings, strategies as st

import harness
from kernelsim.errors import BpfRuntimeError
from kernelsim.isa.interp import bpf_prog_decode, BpfRunCtx
from kernelsim.memory import AddressSpace

OPS = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "%=", "^=", "s>>=", "="]
REGS = [0, 1, 2, 3, 4, 5, 7, 8, 9]
SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
MAP = {"type": 2, "key_size": 4, "value_size": 32, "max_entries": 4, "name": "m"}


@st.composite
def block(draw):
    kind = draw(st.sampled_from(["alu", "alu", "alu32", "stack", "ctx", "map", "map", "loop",
                                 "branch", "helper"]))
    r = lambda: draw(st.sampled_from(REGS))  # noqa: E731
    imm = lambda: draw(st.sampled_from([0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 255, -1, -8,  # noqa: E731
                                        0x7fffffff, -0x80000000, draw(st.integers(-50, 50))]))
    if kind == "alu":
        op = draw(st.sampled_from(OPS))
        if draw(st.booleans()):
            return [f"r{r()} {op} r{r()}"]
        return [f"r{r()} {op} {imm()}"]
    if kind == "alu32":
        op = draw(st.sampled_from(OPS))
        return [f"w{r()} {op} w{r()}"] if draw(st.booleans()) else [f"w{r()} {op} {imm()}"]
    if kind == "stack":
        size = draw(st.sampled_from([1, 2, 4, 8]))
        off = -draw(st.integers(1, 8)) * size
        if draw(st.booleans()):
            return [f"*({SIZES[size]} *)(r10 {off}) = r{r()}"]
        return [f"r{r()} = *({SIZES[size]} *)(r10 {off})"]
    if kind == "ctx":
        size = draw(st.sampled_from([1, 2, 4, 8]))
        off = draw(st.integers(0, 22)) * size
        return [f"r{r()} = *({SIZES[size]} *)(r6 +{off})"]
    if kind == "map":
        key = draw(st.integers(0, 5))
        lines = [f"*(u32 *)(r10 -4) = {key}" if draw(st.booleans()) else f"*(u32 *)(r10 -4) = r{r()}",
                 "r2 = r10", "r2 += -4", "r1 = map_fd(0)", "call bpf_map_lookup_elem"]
        size = draw(st.sampled_from([1, 2, 4, 8]))
        body = []
        if draw(st.booleans()):
            mask = draw(st.sampled_from([7, 15, 24, 31, 63]))
            body += [f"r7 &= {mask}", "r0 += r7"]
        off = draw(st.integers(-1, 33))
        body.append(f"r{r()} = *({SIZES[size]} *)(r0 {off:+d})" if draw(st.booleans())
                    else f"*({SIZES[size]} *)(r0 {off:+d}) = r{r()}")
        if draw(st.booleans()):
            lines.append(f"if r0 == 0x0 goto +{len(body)}")
        return lines + body
    if kind == "loop":
        n = draw(st.integers(1, 20))
        return ["r9 = 0", f"r{r()} += r9", "r9 += 1", f"if r9 < {n} goto -3"]
    if kind == "branch":
        inner = draw(block())
        op = draw(st.sampled_from(["==", "!=", ">", "<", "s>", "s<", "&", ">=", "<="]))
        return [f"if r{r()} {op} {draw(st.integers(0, 40))} goto +{len(inner)}"] + inner
    return [draw(st.sampled_from(["call bpf_get_prandom_u32", "call bpf_ktime_get_ns",
                                  "call bpf_get_smp_processor_id"]))]


@st.composite
def program(draw):
    lines = ["r6 = r1"] + [f"r{x} = {draw(st.integers(-20, 300))}" for x in (0, 2, 3, 4, 5, 7, 8, 9)]
    for b in draw(st.lists(block(), min_size=1, max_size=8)):
        lines += b
    lines += ["r0 = 0", "exit"]
    return "\n".join(lines)


def _runtime(prog_obj, m):
    k = harness.kernel()
    mem = k.mem
    ctx = mem.alloc(168, "pt_regs", kind="ctx", writable=False)
    rng = random.Random(1)

    def lookup(run, r1, r2, *_):
        key = int.from_bytes(mem.read(r2, 4), "little")
        return m.ops.map_lookup_elem(m, key.to_bytes(4, "little")) or 0

    helpers = {1: lookup, 5: lambda run, *a: rng.getrandbits(63), 7: lambda run, *a: rng.getrandbits(32),
               8: lambda run, *a: 0}
    return ctx, helpers


accepted = {"n": 0}


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(program(), st.integers(0, 2**32))
def test_accepted_programs_do_not_fault(text, seed):
    insns = harness.asm(text)
    files = harness.FdTable()
    fd = harness.create_map(harness.kernel(), files, MAP)
    m = files.get(fd).obj
    r = harness.ks_load(2, insns, "GPL", 0, 0, files=files, fds=[fd])
    if r.errno:
        return
    accepted["n"] += 1
    prog = r.prog
    ip = bpf_prog_decode(prog.insnsi, prog.aux.probe_mem_insns)
    ctx, helpers = _runtime(prog, m)
    rng = random.Random(seed)
    for _ in range(3):
        ctx.buf[:] = bytes(rng.getrandbits(8) for _ in range(168))
        run = BpfRunCtx(harness.kernel().mem, helpers, budget=1_000_000)
        try:
            ip.bpf_func(ip, run, ctx.start)
        except BpfRuntimeError as e:  # pragma: no cover - a soundness bug
            raise AssertionError(f"accepted program faulted: {e}\n{text}") from e


def test_enough_programs_were_accepted():
    """The property above means little if the generator only produces rejected programs."""
    if accepted["n"] == 0:   # run alone (-k): nothing to check
        return
    print("soundness: accepted", accepted["n"], "programs")
    assert accepted["n"] >= 40, accepted
