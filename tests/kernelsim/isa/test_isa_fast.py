"""The fast tier (kernelsim/isa/fast.py) against the interpreter: the conformance suite, and a
hypothesis differential test over random programs (R0, memory, instruction counts, errors)."""

import pathlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kernelsim.errors import BpfRuntimeError
from kernelsim.isa.asm import assemble, parse_data_file
from kernelsim.isa.fast import bpf_fast_run, fast_ops
from kernelsim.isa.insn import BpfInsn as I
from kernelsim.isa.interp import BpfRunCtx, bpf_interp_run, bpf_prog_decode
from kernelsim.isa.opcodes import ATOMIC_OPS, OPCODES
from kernelsim.memory import AddressSpace
from tests.paths import CONFORMANCE_DIR

FILES = sorted(CONFORMANCE_DIR.glob("*.data"))
HELPERS = {5: lambda run, a, b, *r: (a * 3 + b) & ((1 << 64) - 1)}


def _run(insns, tier, mem_bytes=b"", probe=(), budget=20_000):
    mem = AddressSpace("kernel")
    buf = mem.alloc(max(1, len(mem_bytes)), "buf", kind="buffer", data=mem_bytes or b"\0")
    prog = bpf_prog_decode(insns, probe, bpf_func=tier)
    run = BpfRunCtx(mem, HELPERS, budget=budget)
    try:
        r0 = prog.bpf_func(prog, run, buf.start, len(mem_bytes))
        outcome = ("ok", r0)
    except BpfRuntimeError as e:
        outcome = ("error", str(e).split(" exhausted")[0], e.pc if "budget" not in str(e) else None)
    stacks = sorted(bytes(r.buf) for r in mem.regions() if r.kind == "stack")
    return outcome, bytes(buf.buf), stacks, run.insn_cnt


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance_fast(path):
    data = parse_data_file(path.read_text())
    assert _run(data.insns(), bpf_fast_run, data.mem)[0] == ("ok", data.result)


ALU_CODES = sorted(c for c, i in OPCODES.items() if i.kind in ("alu", "alu64", "neg", "end", "bswap"))
JMP_CODES = sorted(c for c, i in OPCODES.items() if i.kind in ("jmp", "jmp32"))
MEM_CODES = sorted(c for c, i in OPCODES.items() if i.kind in ("ldx", "ldxsx", "st", "stx"))
ATOMIC_CODES = sorted(c for c, i in OPCODES.items() if i.kind == "atomic")
VALUES = st.sampled_from([0, 1, 2, 3, 7, -1, -2, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000,
                          0xFF, 0x8000]) | st.integers(-(1 << 31), (1 << 31) - 1)


@st.composite
def programs(draw):
    """Random valid programs: ALU, jumps (mostly forward), loads/stores on the stack and the
    buffer (r1; r1 may be clobbered, so faults happen), atomics, LD_IMM64, a helper and a call
    to a subprogram, one exit; sometimes a backward jump."""
    n = draw(st.integers(1, 25))
    body = []
    for i in range(n):
        choice = draw(st.integers(0, 12))
        d = draw(st.sampled_from([0, 2, 3, 4, 5, 6, 7, 8, 9, 0, 3, 1]))  # r1 (buffer) rarely
        s = draw(st.integers(0, 10))
        if choice <= 4:
            code = draw(st.sampled_from(ALU_CODES))
            kind, x = OPCODES[code].kind, code & 0x08
            if kind == "neg":
                body.append([I(code, d)])
            elif kind in ("end", "bswap"):
                body.append([I(code, d, 0, 0, draw(st.sampled_from([16, 32, 64])))])
            else:
                op = code & 0xF0
                offs = [0, 1] if op in (0x30, 0x90) else [0]
                if op == 0xB0 and x:
                    offs = [0, 8, 16] + ([32] if kind == "alu64" else [])
                off = draw(st.sampled_from(offs))
                body.append([I(code, d, s, off)] if x else [I(code, d, 0, off, draw(VALUES))])
        elif choice <= 6:
            code = draw(st.sampled_from(JMP_CODES))
            back = draw(st.integers(0, 9)) == 0
            # offsets are fixed up below, once slot positions are known: (kind, distance in stmts)
            dist = -draw(st.integers(0, i)) if back else draw(st.integers(0, n - i))
            imm = 0 if code & 0x08 else draw(VALUES)
            body.append(("jump", code, d, s if code & 0x08 else 0, imm, dist))
        elif choice <= 9:
            code = draw(st.sampled_from(MEM_CODES))
            size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[code & 0x18]
            base = draw(st.sampled_from([10, 10, 1, 1, 2]))
            off = draw(st.integers(-64, -size)) if base == 10 else draw(st.integers(-1, 16 - size))
            kind = OPCODES[code].kind
            if kind in ("ldx", "ldxsx"):
                body.append([I(code, d, base, off)])
            elif kind == "st":
                body.append([I(code, base, 0, off, draw(VALUES))])
            else:
                body.append([I(code, base, s, off)])
        elif choice == 10:
            code = draw(st.sampled_from(ATOMIC_CODES))
            imm = draw(st.sampled_from([k for k, (_, sz) in ATOMIC_OPS.items() if code & 0x18 in sz]))
            body.append([I(code, 10, s, -8 * draw(st.integers(1, 4)), imm)])
        elif choice == 11:
            v = draw(st.integers(0, (1 << 64) - 1))
            body.append([I(0x18, d, 0, 0, (v & 0xFFFFFFFF) - ((v & 0x80000000) << 1)),
                         I(0, 0, 0, 0, (v >> 32) - ((v >> 31) & 0x100000000))])
        else:
            body.append(("call",) if draw(st.booleans()) else [I(0x85, 0, 0, 0, 5)])
    # lay out: body, exit, subprogram
    starts, pc = [], 0
    for item in body:
        starts.append(pc)
        pc += len(item) if isinstance(item, list) else 1
    exit_pc = pc
    sub_pc = exit_pc + 1
    out = []
    for i, item in enumerate(body):
        here = starts[i]
        if isinstance(item, list):
            out += item
        elif item[0] == "jump":
            _, code, d, s, imm, dist = item
            target = starts[i + dist] if i + dist < len(body) else exit_pc
            out.append(I(code, d, s, target - here - 1, imm))
        else:
            out.append(I(0x85, 0, 1, 0, sub_pc - here - 1))
    out.append(I(0x95))
    out += [I(0x27, 1, 0, 0, 3), I(0xbf, 0, 1), I(0x0f, 0, 2), I(0x95)]   # r0 = r1 * 3 + r2
    probe = draw(st.sets(st.integers(0, len(out) - 1), max_size=3))
    mem = draw(st.binary(min_size=16, max_size=16))
    return out, probe, mem


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_fast_tier_matches_interpreter(case):
    insns, probe, mem = case
    slow = _run(insns, bpf_interp_run, mem, probe)
    fast = _run(insns, bpf_fast_run, mem, probe)
    if slow[0][0] == "error" and "budget" in slow[0][1]:
        assert fast[0][0] == "error" and "budget" in fast[0][1]     # may stop a block later
        return
    assert fast == slow


def test_generated_code_is_cached_and_blocks_fused():
    prog = bpf_prog_decode(assemble("r0 = 0\nr1 = 10\nl: r0 += r1\nr1 += -1\n"
                                    "if r1 != 0 goto l\nexit"), bpf_func=bpf_fast_run)
    ops = fast_ops(prog)
    assert fast_ops(prog) is ops
    assert ops[0].__name__ == "b0" and ops[2].__name__ == "b2"
    run = BpfRunCtx(AddressSpace("kernel"))
    assert prog.bpf_func(prog, run) == 55 and run.insn_cnt == 33


def test_fault_inside_a_block_names_the_instruction():
    insns = assemble("r0 = 1\nr2 = 3\nr0 = *(u64 *)(r2 +0)\nr0 += 1\nexit")
    for tier in (bpf_interp_run, bpf_fast_run):
        outcome, _, _, cnt = _run(insns, tier)
        assert outcome[0] == "error" and outcome[2] == 2 and cnt == 3
        assert outcome[1].startswith("insn 2: (79) r0 = *(u64 *)(r2 +0): invalid memory access")


def test_budget_in_the_fast_tier():
    insns = assemble("l: r0 += 1\ngoto l")
    outcome, _, _, cnt = _run(insns, bpf_fast_run, budget=1000)
    assert outcome[0] == "error" and "budget of 1000" in outcome[1] and 1000 <= cnt <= 1002
