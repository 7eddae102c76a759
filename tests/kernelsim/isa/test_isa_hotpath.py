"""The interpreter's hot paths (kernelsim/isa/interp.py, kernelsim/memory.py): the written-out
fast paths (atomic add, MUL, helper calls, struct-based loads and stores, the repeat() budget
count) must keep every check and give the same results, counts and errors as the general ones."""

import pytest

from kernelsim.errors import BpfRuntimeError
from kernelsim.isa.asm import assemble
from kernelsim.isa.fast import bpf_fast_run
from kernelsim.isa.interp import (_EXIT, BpfRunCtx, bpf_interp_run, bpf_prog_decode,
                                  run_program)
from kernelsim.memory import AddressSpace, MemoryFault

M64 = (1 << 64) - 1
TIERS = [bpf_interp_run, bpf_fast_run]


def run(text, *args, mem=None, helpers=None, tier=bpf_interp_run, budget=10_000):
    prog = bpf_prog_decode(assemble(text, check=False), bpf_func=tier)
    return run_program(prog, *args, mem=mem, helpers=helpers, budget=budget)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("size,start,add,expect", [
    ("u64", M64, 2, 1),                                  # wraps at 64 bits
    ("u32", 0xFFFFFFFF, 3, 0xFFFFFFFF00000002),          # wraps at 32 bits, upper half kept
    ("u64", 5, -1, 4),
])
def test_atomic_add_in_place(tier, size, start, add, expect):
    text = f"""
        r1 = {start} ll
        *(u64 *)(r10 -8) = -1
        *({size} *)(r10 -8) = r1
        r2 = {add}
        lock *({size} *)(r10 -8) += r2
        r0 = *(u64 *)(r10 -8)
        exit"""
    r0, ctx = run(text, tier=tier)
    assert r0 == expect
    assert ctx.insn_cnt == len([ln for ln in text.splitlines() if ln.strip()])


@pytest.mark.parametrize("tier", TIERS)
def test_atomic_add_faults_like_a_load_then_a_store(tier):
    mem = AddressSpace("kernel")
    ro = mem.alloc(8, "ro object", writable=False, data=(41).to_bytes(8, "little"))
    rw = mem.alloc(8, "rw object")
    prog = "r2 = 1\nlock *(u64 *)(r1 +0) += r2\nr0 = *(u64 *)(r1 +0)\nexit"
    with pytest.raises(BpfRuntimeError) as e:            # read-only: the store faults
        run(prog, ro.start, mem=mem, tier=tier)
    assert "store of 8 bytes" in str(e.value) and "read-only" in str(e.value)
    assert e.value.pc == 1 and e.value.write is True
    assert mem.load(ro.start, 8) == 41                    # nothing written
    with pytest.raises(BpfRuntimeError) as e:            # unmapped: the load faults first
        run(prog, 0x1000, mem=mem, tier=tier)
    assert "load of 8 bytes at 0x1000: no memory mapped there" in str(e.value)
    assert e.value.write is False
    with pytest.raises(BpfRuntimeError) as e:            # runs off the region's end
        run(prog.replace("r1 +0) +=", "r1 +4) +="), rw.start, mem=mem, tier=tier)
    assert "outside region 'rw object'" in str(e.value) and e.value.pc == 1
    assert run(prog, rw.start, mem=mem, tier=tier)[0] == 1


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("text,expect", [
    ("r0 = -3\nr0 *= 7\nexit", (-21) & M64),
    ("r0 = 0x100000001 ll\nr1 = 0x100000001 ll\nr0 *= r1\nexit", 0x200000001),
    ("r0 = -1\nw0 *= 3\nexit", 0xFFFFFFFD),                          # 32-bit: zero-extended
    ("r0 = 0x1ffffffff ll\nr1 = 0x1ffffffff ll\nw0 *= w1\nexit", 1),  # upper halves ignored
])
def test_mul(tier, text, expect):
    assert run(text, tier=tier)[0] == expect


def test_budget_and_counts_are_exact():
    """The interpreter stops after exactly ``budget`` instructions and counts the one that
    faulted, exited or tail-called."""
    with pytest.raises(BpfRuntimeError, match="budget of 7 exhausted") as e:
        run("r0 = 0\nr0 += 1\ngoto -2", budget=7)
    assert e.value.pc == 1                             # insns 0,1,2,1,2,1,2: next is 1
    r0, ctx = run("r0 = 0\nr0 += 1\nif r0 < 5 goto -2\nexit")
    assert (r0, ctx.insn_cnt) == (5, 1 + 5 * 2 + 1)
    mem = AddressSpace("kernel")
    with pytest.raises(BpfRuntimeError):
        prog = bpf_prog_decode(assemble("r0 = 1\nr0 = *(u8 *)(r0 +0)\nexit"))
        ctx = BpfRunCtx(mem)
        bpf_interp_run(prog, ctx)
    assert ctx.insn_cnt == 2


def test_exit_keeps_no_traceback():
    """One _Exit instance serves every run; a caught exit must not keep the run's frames."""
    for _ in range(3):
        assert run("r0 = 3\nexit")[0] == 3
    assert _EXIT.__traceback__ is None and _EXIT.__context__ is None


def test_stacks_are_pooled_per_address_space_and_zeroed():
    mem = AddressSpace("kernel")
    prog = bpf_prog_decode(assemble("r0 = *(u64 *)(r10 -8)\nr1 = -1\n*(u64 *)(r10 -8) = r1\n"
                                    "exit"))
    ctx = BpfRunCtx(mem)
    assert [bpf_interp_run(prog, ctx) for _ in range(3)] == [0, 0, 0]   # zeroed each run
    assert len(mem.stack_pool) == 1                      # one stack, reused
    assert AddressSpace("other").stack_pool == []


def test_helper_call_paths():
    seen = []

    def helper(run, r1, r2, r3, r4, r5):
        seen.append((r1, r2, r3, r4, r5))
        return -1                                        # R0 is the u64 pattern

    text = "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall 7\nexit"
    assert run(text, helpers={7: helper})[0] == M64
    assert seen == [(1, 2, 3, 4, 5)]
    assert run(text, helpers=[None] * 7 + [helper])[0] == M64        # a list table
    for helpers in ({}, [helper], {7: None}):
        with pytest.raises(BpfRuntimeError, match="insn 5: call to unknown helper 7") as e:
            run(text, helpers=helpers)
        assert e.value.pc == 5
    with pytest.raises(BpfRuntimeError, match="returned str, not an int"):
        run(text, helpers={7: lambda *a: "x"})
    assert run(text, helpers={7: lambda *a: True})[0] == 1            # bool is an int

    def fails(*a):
        raise ValueError("boom")

    with pytest.raises(ValueError) as e:
        run(text, helpers={7: fails})
    assert any("called by insn 5" in n for n in e.value.__notes__)


@pytest.mark.parametrize("size", [1, 2, 4, 8, 3, 16])
def test_memory_scalar_access(size):
    mem = AddressSpace("kernel")
    r = mem.alloc(32, "buf")
    ro = mem.alloc(32, "ro", writable=False)
    value = int.from_bytes(bytes(range(1, 17)), "little")
    mem.store(r.start + 8, size, value)                  # the low ``size`` bytes
    assert mem.read(r.start + 8, size) == bytes(range(1, size + 1))
    assert mem.load(r.start + 8, size) == value & ((1 << (8 * size)) - 1)
    with pytest.raises(MemoryFault, match="outside region 'buf'"):
        mem.load(r.start + 33 - size, size)
    with pytest.raises(MemoryFault, match="outside region 'buf'"):
        mem.store(r.start + 33 - size, size, 0)
    with pytest.raises(MemoryFault, match="read-only"):
        mem.store(ro.start, size, 0)
    with pytest.raises(MemoryFault, match="no memory mapped"):
        mem.load(r.start - 8, size)
    assert mem.read(r.start, 0) == b"" and mem.read(0x10, 0) == b""


@pytest.mark.parametrize("text,budget", [
    ("r0 = 0\nr1 = 10\nloop: r0 += r1\nr1 += -1\nif r1 != 0 goto loop\nexit", 10_000),
    ("r0 = 0\nloop: r0 += 1\ngoto loop", 1000),                       # stopped by the budget
    ("r0 = 0\nloop: r0 += 1\nif r0 < 100 goto loop\nexit", 50),       # budget inside the loop
    ("r0 = 0\nloop: r0 += 1\nif w0 s< 7 goto loop\nexit", 10_000),
    # a loop that walks off its buffer: the fault names the load, counts stop there
    ("r0 = 0\nr2 = r1\nloop: r3 = *(u64 *)(r2 +0)\nr0 += 1\nr2 += 8\ngoto loop", 10_000),
    ("r0 = 0\nr2 = r1\nloop: *(u32 *)(r2 +0) = 7\nr0 += 1\nr2 += 4\nif r0 < 20 goto loop\nexit",
     10_000),
])
def test_fast_tier_self_loops_match_the_interpreter(text, budget):
    """A block that jumps back to itself runs as a Python loop in the fast tier: same R0, memory,
    instruction count and error as the interpreter (the budget may stop it one block later)."""
    outcomes = []
    for tier in TIERS:
        mem = AddressSpace("kernel")
        buf = mem.alloc(64, "buf")
        prog = bpf_prog_decode(assemble(text), bpf_func=tier)
        ctx = BpfRunCtx(mem, budget=budget)
        try:
            got = ("ok", prog.bpf_func(prog, ctx, buf.start))
        except BpfRuntimeError as e:
            got = ("error", str(e).split(" exhausted")[0], e.pc if "budget" not in str(e) else 0)
        outcomes.append((got, ctx.insn_cnt, bytes(buf.buf)))
    slow, fast = outcomes
    if "budget" in str(slow[0]):
        assert "budget" in str(fast[0]) and budget <= fast[1] <= budget + 3
    else:
        assert fast == slow
