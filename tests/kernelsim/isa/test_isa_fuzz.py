"""Bad input: random bytes through the decoder, the checker, the printer, the assembler and the
interpreter. Only the documented exceptions come out, and nothing hangs (a budget bounds a run)."""

from hypothesis import HealthCheck, given, settings, strategies as st

from kernelsim.errors import BpfRuntimeError
from kernelsim.isa.asm import AsmError, assemble
from kernelsim.isa.disasm import (ASM_CBS, BPFTOOL_CBS, BpfInsnError, check_insns, disasm_insns,
                                  print_conformance_insn)
from kernelsim.isa.insn import BpfInsn, decode_insns, encode_insns
from kernelsim.isa.interp import BpfRunCtx, bpf_interp_run, bpf_prog_decode
from kernelsim.isa.opcodes import OPCODES
from kernelsim.memory import AddressSpace

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def programs(draw):
    """Mostly-valid opcodes with random fields, some random bytes, an exit somewhere."""
    n = draw(st.integers(1, 12))
    out = []
    for _ in range(n):
        if draw(st.integers(0, 9)) == 0:
            code = draw(st.integers(0, 255))
        else:
            code = draw(st.sampled_from(sorted(OPCODES)))
        out.append(BpfInsn(code, draw(st.integers(0, 15)), draw(st.integers(0, 15)),
                           draw(st.integers(-4, 4) | st.integers(-(1 << 15), (1 << 15) - 1)),
                           draw(st.sampled_from([0, 1, 16, 32, 64, 0x11, 0x22, 0xe1, 0xf1, -1])
                                | st.integers(-(1 << 31), (1 << 31) - 1))))
    if draw(st.booleans()):
        out.append(BpfInsn(0x95))
    return out


def _helpers():
    return {i: (lambda run, *a: 0) for i in range(1, 8)}


@SETTINGS
@given(st.binary(max_size=120))
def test_random_bytes(data):
    try:
        insns = decode_insns(data)
    except ValueError:
        assert len(data) % 8
        return
    _exercise(insns)


@SETTINGS
@given(programs())
def test_random_programs(insns):
    _exercise(insns)


def _exercise(insns):
    for cbs in (None, ASM_CBS, BPFTOOL_CBS):
        disasm_insns(insns, cbs)
    try:
        check_insns(insns)
        valid = True
    except BpfInsnError as e:
        assert 0 <= e.index < max(1, len(insns))
        valid = False
    if valid:   # the printed text assembles back (jump targets are in range: check passed)
        assert assemble("\n".join(disasm_insns(insns, ASM_CBS))) == insns
        i = 0
        while i < len(insns):
            nxt = insns[i + 1] if insns[i].is_ld_imm64() else None
            text = print_conformance_insn(insns[i], nxt)
            assert assemble(text, "conformance", check=False) == insns[i:i + (2 if nxt else 1)]
            i += 2 if nxt else 1
    mem = AddressSpace("kernel")
    ctx = mem.alloc(64, "ctx", kind="ctx")
    run = BpfRunCtx(mem, _helpers(), budget=2000)
    prog = bpf_prog_decode(insns, probe_mem={1, 3})
    try:
        r0 = bpf_interp_run(prog, run, ctx.start)
        assert 0 <= r0 < 1 << 64
    except BpfRuntimeError as e:
        assert isinstance(e.pc, int)
    assert run.insn_cnt <= 2000


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("r0w1%[]()*+-=<>&|^s/ :;#,.xl0123456789abcdef"
                                             "gijkmnopqtuv\n")), max_size=80))
def test_random_text_only_raises_asm_error(text):
    for dialect in (None, "kernel", "conformance"):
        try:
            insns = assemble(text, dialect)
        except AsmError as e:
            assert e.message
        else:
            check_insns(insns)


def test_infinite_loop_is_bounded():
    prog = bpf_prog_decode(assemble("loop: r0 += 1\ngoto loop"))
    run = BpfRunCtx(AddressSpace("kernel"), budget=10_000)
    try:
        bpf_interp_run(prog, run)
    except BpfRuntimeError as e:
        assert "budget of 10000" in str(e)
    else:
        raise AssertionError("no budget")
    assert run.insn_cnt == 10_000


def test_truncated_program():
    try:
        decode_insns(encode_insns([BpfInsn(0x95)])[:5])
    except ValueError as e:
        assert "not a multiple of 8" in str(e)
