"""The interpreter (kernelsim/isa/interp.py): corner cases of core.c and the verifier's fix-ups,
frames, tail calls, helpers, PROBE_MEM, run-time errors."""

import pytest
from hypothesis import given, settings, strategies as st

from kernelsim.errors import BpfRuntimeError
from kernelsim.isa.asm import assemble
from kernelsim.isa.insn import BpfInsn as I
from kernelsim.isa.interp import (BpfRunCtx, bpf_interp_run, bpf_prog_decode, bpf_prog_run,
                                  interp_call, run_program)
from kernelsim.memory import AddressSpace

M64 = (1 << 64) - 1


def r0_of(text, *args, **kw):
    return run_program(assemble(text, check=kw.pop("check", True)), *args, **kw)[0]


@pytest.mark.parametrize("text,expect", [
    # division and modulo by zero (the verifier's patched semantics)
    ("r0 = 7\nr1 = 0\nr0 /= r1\nexit", 0),
    ("r0 = -1\nw1 = 0\nw0 /= w1\nexit", 0),
    ("r0 = 7\nr1 = 0\nr0 %= r1\nexit", 7),
    ("r0 = -7\nr1 = 0\nr0 %= r1\nexit", (-7) & M64),
    ("r0 = -7\nr1 = 0\nw0 %= w1\nexit", 0xFFFFFFF9),            # 32-bit: upper half zeroed
    ("r0 = -7\nr1 = 0\nr0 s%= r1\nexit", (-7) & M64),
    ("r0 = -7\nr1 = 0\nw0 s%= w1\nexit", 0xFFFFFFF9),
    ("r0 = -7\nr1 = 0\nr0 s/= r1\nexit", 0),
    ("r0 = 7\nr0 /= 0\nexit", 0),                                 # K zero: unverified run
    # INT_MIN / -1 and x % -1
    ("r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s/= r1\nexit", 1 << 63),
    ("w0 = 0x80000000\nw0 s/= -1\nexit", 0x80000000),
    ("r0 = 0x8000000000000000 ll\nr0 s%= -1\nexit", 0),
    ("r0 = -13\nr0 s%= 3\nexit", (-1) & M64),                     # sign of the dividend
    ("r0 = 13\nr0 s%= -3\nexit", 1),
    ("r0 = -13\nr0 s/= 3\nexit", (-4) & M64),                     # truncation toward zero
    ("w0 = -13\nw0 s/= 3\nexit", 0xFFFFFFFC),
    ("r0 = -1\nr0 /= 3\nexit", M64 // 3),
    # shifts masked
    ("r0 = 1\nr1 = 65\nr0 <<= r1\nexit", 2),
    ("w0 = 1\nw1 = 33\nw0 <<= w1\nexit", 2),
    ("r0 = 1\nr0 <<= 64\nexit", 1),
    ("r0 = -1\nr0 >>= 60\nexit", 0xF),
    ("r0 = -16\nr0 s>>= 2\nexit", (-4) & M64),
    ("r0 = -1\nw0 s>>= 4\nexit", 0xFFFFFFFF),                     # ARSH32: sign from bit 31
    ("w0 = 0x80000000\nw0 s>>= 31\nexit", 0xFFFFFFFF),
    # zero extension and sign-extended immediates
    ("r0 = -1\nw0 += 1\nexit", 0),
    ("r0 = -1\nw0 = w0\nexit", 0xFFFFFFFF),
    ("w0 = -1\nexit", 0xFFFFFFFF),
    ("r0 = -1\nexit", M64),
    ("r0 = 0x123456789 ll\nr0 &= -1\nexit", 0x123456789),  # imm -1 keeps all bits
    ("r0 = 5\nw0 = -w0\nexit", 0xFFFFFFFB),
    ("r0 = 5\nr0 = -r0\nexit", (-5) & M64),
    ("r0 = 3\nr0 *= -1\nexit", (-3) & M64),
    ("w0 = 0x10000\nw0 *= w0\nexit", 0),
    # movsx
    ("r1 = 0xff\nr0 = (s8)r1\nexit", M64),
    ("r1 = 0x7fff\nr0 = (s16)r1\nexit", 0x7FFF),
    ("r1 = 0x80000000 ll\nr0 = (s32)r1\nexit", 0xFFFFFFFF80000000),
    ("r1 = 0x8000\nw0 = (s16)w1\nexit", 0xFFFF8000),
    # byte swaps
    ("r0 = 0x1122334455667788 ll\nr0 = be16 r0\nexit", 0x8877),
    ("r0 = 0x1122334455667788 ll\nr0 = be32 r0\nexit", 0x88776655),
    ("r0 = 0x1122334455667788 ll\nr0 = be64 r0\nexit", 0x8877665544332211),
    ("r0 = 0x1122334455667788 ll\nr0 = le16 r0\nexit", 0x7788),
    ("r0 = 0x1122334455667788 ll\nr0 = le32 r0\nexit", 0x55667788),
    ("r0 = 0x1122334455667788 ll\nr0 = le64 r0\nexit", 0x1122334455667788),
    ("r0 = 0x1122334455667788 ll\nr0 = bswap16 r0\nexit", 0x8877),
    ("r0 = 0x1122334455667788 ll\nr0 = bswap64 r0\nexit", 0x8877665544332211),
    # jumps: sign-extended K, JMP32 compares the low half, signed compares
    ("r0 = 0\nr1 = -1\nif r1 == -1 goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 0\nr1 = -1\nif r1 == 0xffffffff goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 0\nr1 = 0xffffffff ll\nif r1 == -1 goto +1\nexit\nr0 = 1\nexit", 0),
    ("r0 = 0\nr1 = 0xffffffff ll\nif w1 == -1 goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 0\nr1 = -5\nif r1 s< 3 goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 0\nr1 = -5\nif r1 < 3 goto +1\nexit\nr0 = 1\nexit", 0),
    ("r0 = 0\nr1 = 0x1fffffffb ll\nif w1 s< 0 goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 0\nr1 = 6\nif r1 & 4 goto +1\nexit\nr0 = 1\nexit", 1),
    ("r0 = 1\ngotol +1\nr0 = 2\nexit", 1),
    ("r0 = 1\nmay_goto +1\nr0 = 2\nexit", 2),                     # never taken
    ("r0 = 0x1122334455667788 ll\nexit", 0x1122334455667788),
    ("r0 = map_value(3, 8)\nexit", (8 << 32) | 3),                # runs the (resolved) value
    ("r0 = func(+1)\nexit\nexit", 2),                             # unresolved: the insn index
])
def test_semantics(text, expect):
    assert r0_of(text) == expect


def test_stack_loads_stores_and_atomics():
    text = """
        r1 = 0x1122334455667788 ll
        *(u64 *)(r10 -8) = r1
        r0 = *(u32 *)(r10 -8)              ; 0x55667788
        r2 = *(s8 *)(r10 -8)               ; 0xff..88
        r0 += r2
        *(u16 *)(r10 -16) = -1
        r3 = *(u64 *)(r10 -16)
        r0 += r3
        r4 = 1
        lock *(u64 *)(r10 -8) += r4
        r5 = 2
        r5 = atomic64_fetch_add((u64 *)(r10 -8), r5)
        r0 += r5                           ; old value
        exit
    """
    expect = (0x55667788 + ((0x88 - 256) & M64) + 0xFFFF + 0x1122334455667789) & M64
    assert r0_of(text) == expect


@pytest.mark.parametrize("text,expect", [
    # 32-bit fetch results are zero-extended
    ("r1 = -1\n*(u64 *)(r10 -8) = r1\nr2 = 1\nw2 = atomic_fetch_add((u32 *)(r10 -8), w2)\n"
     "r0 = r2\nexit", 0xFFFFFFFF),
    ("r1 = 7\n*(u64 *)(r10 -8) = r1\nr2 = 3\nr2 = atomic64_xchg((u64 *)(r10 -8), r2)\n"
     "r0 = *(u64 *)(r10 -8)\nr0 <<= 8\nr0 |= r2\nexit", 0x307),
    ("r1 = 7\n*(u64 *)(r10 -8) = r1\nr0 = 7\nr2 = 9\n"
     "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)\nr3 = *(u64 *)(r10 -8)\nr0 <<= 8\n"
     "r0 |= r3\nexit", 0x709),
    ("r1 = 7\n*(u64 *)(r10 -8) = r1\nr0 = 8\nr2 = 9\n"          # mismatch: no store
     "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)\nr3 = *(u64 *)(r10 -8)\nr0 <<= 8\n"
     "r0 |= r3\nexit", 0x707),
    ("r1 = -1\n*(u64 *)(r10 -8) = r1\nr0 = 0x1ffffffff ll\nr2 = 5\n"   # W compares (u32)r0
     "w0 = atomic_cmpxchg((u32 *)(r10 -8), w0, w2)\nr3 = *(u64 *)(r10 -8)\nr0 += r3\nexit",
     (0xFFFFFFFF + 0xFFFFFFFF00000005) & M64),
    ("r1 = 0x1234\n*(u16 *)(r10 -2) = r1\nr2 = r10\nr2 += -2\n"
     "r0 = load_acquire((u16 *)(r2 +0))\nexit", 0x1234),           # role flip: dst = *(src)
    ("r2 = r10\nr3 = 0x55\nstore_release((u8 *)(r2 -1), r3)\nr0 = *(u8 *)(r10 -1)\nexit", 0x55),
    ("r1 = 0xf0\n*(u64 *)(r10 -8) = r1\nr2 = 0x3c\nlock *(u64 *)(r10 -8) &= r2\n"
     "r3 = 1\nlock *(u64 *)(r10 -8) |= r3\nr4 = 0xff\nr4 = atomic64_fetch_xor((u64 *)(r10 -8), r4)\n"
     "r0 = *(u64 *)(r10 -8)\nr0 <<= 8\nr0 |= r4\nexit", (0xCE << 8) | 0x31),
])
def test_atomics(text, expect):
    assert r0_of(text) == expect


def test_memory_buffer_and_ctx():
    mem = AddressSpace("kernel")
    buf = mem.alloc(8, "buf", kind="buffer", data=bytes(range(8)))
    ctx = mem.alloc(16, "ctx", kind="ctx", writable=False, data=(5).to_bytes(8, "little") * 2)
    prog = assemble("r0 = *(u64 *)(r1 +8)\n*(u8 *)(r2 +0) = 0x41\nr3 = *(u8 *)(r2 +1)\n"
                    "r0 += r3\nexit")
    r0, run = run_program(prog, ctx.start, buf.start, mem=mem)
    assert r0 == 6 and buf.buf[0] == 0x41 and run.insn_cnt == 5


@pytest.mark.parametrize("text,fragment", [
    ("r0 = *(u32 *)(r1 +0)\nexit", "insn 0: (61) r0 = *(u32 *)(r1 +0): invalid memory access: "
                                   "load of 4 bytes at 0x0: no memory mapped there"),
    ("r0 = 0\n*(u64 *)(r10 +0) = r0\nexit", "insn 1: (7b) *(u64 *)(r10 +0) = r0: invalid memory "
                                            "access: store of 8 bytes"),
    ("r0 = *(u64 *)(r10 -516)\nexit", "invalid memory access: load of 8 bytes"),
    ("call 99\nexit", "insn 0: call to unknown helper 99"),
    ("call kfunc(5)\nexit", "call to unknown kfunc (btf id 5)"),
    ("r0 = 0\ngoto -1", "instruction budget of 1000 exhausted"),
    ("r0 = 0", "insn 1: fell off the end of the program (no exit)"),
    ("r0 = *(u8 *)skb[3]\nexit", "LD_ABS/LD_IND need a socket buffer"),
])
def test_runtime_errors(text, fragment):
    with pytest.raises(BpfRuntimeError) as e:
        r0_of(text, budget=1000, check=False)
    assert fragment in str(e.value)
    assert isinstance(e.value.pc, int)


def test_fault_details():
    with pytest.raises(BpfRuntimeError) as e:
        r0_of("r1 = 0x1000\nr0 = *(u16 *)(r1 +6)\nexit")
    err = e.value
    assert (err.pc, err.addr, err.size, err.write) == (1, 0x1006, 2, False)


def test_bad_instructions_fail_only_when_reached():
    prog = [I(0xb7, 0, 0, 0, 7), I(0x95), I(0xff), I(0x0f, 1, 14), I(0x18)]
    assert run_program(prog)[0] == 7
    for bad, msg in ((I(0xff), "unknown opcode ff"), (I(0x0f, 1, 14), "R14 is invalid"),
                     (I(0x18), "invalid bpf_ld_imm64 insn"), (I(0x05, 0, 0, 9), "jump out of range"),
                     (I(0xd3, 1, 2, 0, 0), "invalid atomic operand size")):
        with pytest.raises(BpfRuntimeError, match=msg):
            run_program([bad, I(0x95)])


def test_probe_mem():
    insns = assemble("r1 = 0x1234\nr0 = *(u64 *)(r1 +0)\nr2 = *(s8 *)(r1 +0)\nr0 += r2\nexit")
    assert run_program(insns, probe_mem={1, 2})[0] == 0
    with pytest.raises(BpfRuntimeError):
        run_program(insns, probe_mem={1})


def test_helpers_get_the_run_and_five_args():
    seen = []

    def helper(run, *args):
        seen.append((run, args))
        return -22                                 # -EINVAL: stored as u64
    prog = assemble("r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = -5\ncall bpf_ktime_get_ns\nr6 = r0\n"
                    "r0 = r5\nr0 += r6\nexit")
    r0, run = run_program(prog, helpers={5: helper})
    assert seen == [(run, (1, 2, 3, 4, (-5) & M64))]
    assert r0 == (-27) & M64                       # r5 untouched by the call
    r0, _ = run_program(assemble("r2 = 5\ncallx r2\nexit"), helpers=[None] * 5 + [lambda *a: 9])
    assert r0 == 9


def test_helper_exceptions_get_a_note():
    def boom(run, *a):
        raise KeyError("x")
    with pytest.raises(KeyError) as e:
        run_program(assemble("call 5\nexit"), helpers={5: boom})
    assert any("bpf_ktime_get_ns called by insn 0" in n for n in e.value.__notes__)
    with pytest.raises(BpfRuntimeError, match="returned NoneType"):
        run_program(assemble("call 5\nexit"), helpers={5: lambda *a: None})


def test_return_value_64_and_32():
    prog = bpf_prog_decode(assemble("r0 = 0x1122334455667788 ll\nexit"))
    run = BpfRunCtx(AddressSpace("kernel"))
    assert bpf_interp_run(prog, run) == 0x1122334455667788
    assert bpf_prog_run(prog, run) == 0x55667788


def test_local_calls_frames():
    text = """
        r6 = 6
        r1 = 1
        r3 = 33
        *(u64 *)(r10 -8) = r3
        call f
        r0 += r6                 ; r6 preserved
        r0 += r1                 ; caller's r1 comes back too (core.c: a new register file)
        r4 = *(u64 *)(r10 -8)    ; caller's stack untouched
        r0 += r4
        exit
    f:  r0 = r6                  ; callee starts with r6 = 0
        r0 += r1                 ; r1 passed
        r6 = 100
        r1 = 100
        r2 = 7
        *(u64 *)(r10 -8) = r2    ; own stack
        exit
    """
    assert r0_of(text) == 1 + 6 + 1 + 33


def test_call_depth_limit():
    deep = "call f1\nexit\n" + "".join(f"f{i}: call f{i + 1}\nexit\n" for i in range(1, 7)) + \
        "f7: r0 = 7\nexit"
    assert r0_of(deep) == 7                        # 8 frames: allowed
    too_deep = deep.replace("f7: r0 = 7\nexit", "f7: call f8\nexit\nf8: r0 = 8\nexit")
    with pytest.raises(BpfRuntimeError, match="the call stack of 9 frames is too deep"):
        r0_of(too_deep)
    with pytest.raises(BpfRuntimeError, match="too deep"):
        r0_of("f: call f\nexit")


class TailRun(BpfRunCtx):
    """A run context with one prog array at address 0x1000."""

    def __init__(self, mem, slots):
        super().__init__(mem)
        self.slots = slots

    def prog_array(self, map_addr):
        return self.slots if map_addr == 0x1000 else None


def test_tail_calls():
    mem = AddressSpace("kernel")
    target = bpf_prog_decode(assemble("r0 = *(u64 *)(r10 -8)\nr0 += r1\nexit"))
    caller = bpf_prog_decode(assemble(
        "r7 = 40\n*(u64 *)(r10 -8) = r7\nr1 = 2\nr2 = 0x1000\nr3 = 0\ncall bpf_tail_call\n"
        "r0 = 99\nexit"))
    run = TailRun(mem, [target])
    assert bpf_interp_run(caller, run) == 42       # same registers and stack, never returns
    assert run.tail_call_cnt == 1
    run.slots = [None]
    assert bpf_interp_run(caller, run) == 99       # empty slot: falls through, but counted
    assert run.tail_call_cnt == 1
    run.slots = []
    assert bpf_interp_run(caller, run) == 99       # out of range: not counted
    assert run.tail_call_cnt == 0
    with pytest.raises(BpfRuntimeError, match="not a prog array"):
        bpf_interp_run(caller, BpfRunCtx(mem))


def test_tail_call_limit():
    """A program that tail-calls itself: 33 tail calls, then the call falls through."""
    mem = AddressSpace("kernel")
    loop = bpf_prog_decode(assemble(
        "r6 = *(u64 *)(r10 -8)\nr6 += 1\n*(u64 *)(r10 -8) = r6\nr2 = 0x1000\nr3 = 0\n"
        "call bpf_tail_call\nr0 = *(u64 *)(r10 -8)\nexit"))
    run = TailRun(mem, [loop])
    assert bpf_interp_run(loop, run) == 34 and run.tail_call_cnt == 33


def test_tail_call_from_a_subprogram_returns_to_the_caller():
    mem = AddressSpace("kernel")
    target = bpf_prog_decode(assemble("r0 = 5\nexit"))
    caller = bpf_prog_decode(assemble(
        "call f\nr0 += 100\nexit\nf: r2 = 0x1000\nr3 = 0\ncall bpf_tail_call\nr0 = 1\nexit"))
    assert bpf_interp_run(caller, TailRun(mem, [target])) == 105


def test_interp_call_callback():
    calls = []

    def loop_helper(run, n, cb, ctx, flags, _):
        total = 0
        for i in range(n):
            calls.append(i)
            total += interp_call(run, run.interp_prog, cb, i, ctx)
        return total
    prog = assemble("""
        r1 = 4
        r2 = func(cb)
        r3 = 10
        r4 = 0
        call 181
        exit
    cb: r0 = r1
        r0 += r2
        exit
    """)
    r0, run = run_program(prog, helpers={181: loop_helper})
    assert r0 == (0 + 1 + 2 + 3) + 4 * 10 and calls == [0, 1, 2, 3]
    assert run.insn_cnt == 6 + 4 * 3


def test_stacks_are_reused_and_zeroed():
    mem = AddressSpace("kernel")
    prog = bpf_prog_decode(assemble("r0 = *(u64 *)(r10 -8)\nr1 = 7\n*(u64 *)(r10 -8) = r1\nexit"))
    run = BpfRunCtx(mem)
    assert [bpf_interp_run(prog, run) for _ in range(3)] == [0, 0, 0]
    assert len([r for r in mem.regions() if r.kind == "stack"]) == 1


# ---- a differential check of the ALU against a plain reference model ---------------------------

def _sx(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _ref(op, a, b, bits):
    """Reference semantics in plain signed/unsigned arithmetic (RFC 9669 + do_misc_fixups)."""
    m = (1 << bits) - 1
    ua, ub = a & m, b & m
    sa, sb = _sx(a, bits), _sx(b, bits)
    if op == "+=": return (ua + ub) & m
    if op == "-=": return (ua - ub) & m
    if op == "*=": return (ua * ub) & m
    if op == "/=": return ua // ub if ub else 0
    if op == "%=": return ua % ub if ub else ua
    if op == "s/=":
        if sb == 0: return 0
        q = abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1)
        return q & m
    if op == "s%=":
        if sb == 0: return ua
        return (sa - sb * int(abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1))) & m
    if op == "|=": return ua | ub
    if op == "&=": return ua & ub
    if op == "^=": return ua ^ ub
    if op == "<<=": return (ua << (ub % bits)) & m
    if op == ">>=": return ua >> (ub % bits)
    if op == "s>>=": return (sa >> (ub % bits)) & m
    if op == "=": return ub
    raise AssertionError(op)


OPS = ["+=", "-=", "*=", "/=", "%=", "s/=", "s%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "="]
U64 = st.one_of(st.integers(0, M64), st.sampled_from([0, 1, M64, 1 << 63, (1 << 63) - 1,
                                                      0xFFFFFFFF, 0x80000000, 0x7FFFFFFF]))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(OPS), U64, U64, st.booleans(), st.booleans())
def test_alu_matches_reference(op, a, b, wide, use_imm):
    reg = "r" if wide else "w"
    if use_imm:
        imm = _sx(b, 32)
        b = imm & M64
        text = f"{reg}0 {op} {imm}\nexit"
    else:
        text = f"r1 = {b:#x} ll\n{reg}0 {op} {reg}1\nexit"
    prog = assemble(f"r0 = {a:#x} ll\n" + text)
    r0 = run_program(prog)[0]
    assert r0 == _ref(op, a, b, 64 if wide else 32), text


JOPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        "&": lambda a, b: bool(a & b)}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(JOPS) + ["s>", "s>=", "s<", "s<="]), U64, U64, st.booleans(),
       st.booleans())
def test_jumps_match_reference(op, a, b, wide, use_imm):
    bits = 64 if wide else 32
    reg = "r" if wide else "w"
    if use_imm:
        imm = _sx(b, 32)
        b, rhs = imm & M64, str(imm)
    else:
        rhs = f"{reg}1"
    prog = assemble(f"r0 = 0\nr2 = {a:#x} ll\nr1 = {b:#x} ll\nif {reg}2 {op} {rhs} goto +1\nexit\n"
                    "r0 = 1\nexit")
    signed = op.startswith("s")
    conv = (lambda v: _sx(v, bits)) if signed else (lambda v: v & ((1 << bits) - 1))
    expect = JOPS[op.lstrip("s")](conv(a), conv(b))
    assert run_program(prog)[0] == int(expect)
