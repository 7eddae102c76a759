"""``kernelsim asm | disasm | run`` (kernelsim/isa/cli.py): outputs, one-line errors, exit 2."""

import pytest

from kernelsim.cli import main
from tests.paths import CONFORMANCE_DIR

PROG = """\
; sum 1..10
    r0 = 0
    r1 = 10
loop:
    r0 += r1
    r1 += -1
    if r1 != 0 goto loop
    exit
"""


def _main(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_asm_disasm_round_trip(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text(PROG)
    out = tmp_path / "p.bin"
    assert _main(capsys, "asm", str(src), "-o", str(out))[0] == 0
    assert len(out.read_bytes()) == 6 * 8
    rc, text, _ = _main(capsys, "disasm", str(out))
    assert rc == 0 and text.splitlines() == [
        "0: (b7) r0 = 0", "1: (b7) r1 = 10", "2: (0f) r0 += r1", "3: (07) r1 += -1",
        "4: (55) if r1 != 0x0 goto pc-3", "5: (95) exit"]
    rc, text, _ = _main(capsys, "disasm", "--bpftool", str(out))
    assert text.splitlines()[0] == "   0: (b7) r0 = 0"
    rc, hextext, _ = _main(capsys, "asm", "--hex", str(src))
    assert hextext.splitlines()[0] == "b7 00 00 00 00 00 00 00"
    hexfile = tmp_path / "p.hex"
    hexfile.write_text(hextext)
    assert _main(capsys, "disasm", str(hexfile))[1].splitlines()[0] == "0: (b7) r0 = 0"
    rc, ctext, _ = _main(capsys, "disasm", "--dialect", "conformance", str(out))
    assert ctext.splitlines()[4] == "jne %r1, 0, -3"


def test_run(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text(PROG)
    rc, out, err = _main(capsys, "run", str(src))
    assert rc == 0 and err == ""
    assert out.splitlines() == ["r0 = 0x37 (55)", "33 instructions executed (6 in the program)"]
    assert _main(capsys, "run", "-q", str(src))[1] == "0x37\n"


def test_run_mem_ctx_and_helpers(tmp_path, capsys):
    src = tmp_path / "m.s"
    src.write_text("r0 = *(u32 *)(r1 +0)\nr0 += r2\nexit\n")
    assert _main(capsys, "run", "-q", str(src), "--mem", "01 00 00 00 ff")[1] == "0x6\n"
    assert _main(capsys, "run", "-q", str(src), "--ctx", "7,8")[1] == "0x7\n"
    hello = tmp_path / "h.s"
    hello.write_text("r1 = 0x0a6425 ll\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\nr2 = 4\n"
                     "r3 = -3\ncall bpf_trace_printk\ncall bpf_ktime_get_ns\nexit\n")
    rc, out, _ = _main(capsys, "run", str(hello))
    assert out.splitlines()[:2] == ["trace_printk: -3", "r0 = 0x3e8 (1000)"]


@pytest.mark.skipif(not CONFORMANCE_DIR.is_dir(), reason="the shared conformance suite is absent")
def test_run_data_file(capsys):
    rc, out, _ = _main(capsys, "run", str(CONFORMANCE_DIR / "ldxb.data"))
    assert rc == 0 and out.splitlines()[-1] == "PASS: expected 0x11"


@pytest.mark.parametrize("argv,text,message", [
    (["asm"], "r0 = 1\nfoo r1\n", "kernelsim asm: {f}:2: cannot parse instruction: foo r1"),
    (["asm", "--dialect", "conformance"], "mov %r0, 1\nmov %r99, 1\n",
     "kernelsim asm: {f}:2: bad register '%r99' (%r0..%r10): mov %r99, 1"),
    (["asm"], "goto +5\nexit\n", "kernelsim asm: {f}:1: jump out of range from insn 0 to 6: goto +5"),
    (["run"], "r0 = *(u64 *)(r1 +8)\nexit\n",
     "kernelsim run: {f} (line 1): insn 0: (79) r0 = *(u64 *)(r1 +8): invalid memory access: "
     "load of 8 bytes at 0x8: no memory mapped there"),
    (["run"], "r0 = 1\n", "kernelsim run: {f}: insn 1: fell off the end of the program "
                          "(no exit)"),
    (["run", "--budget", "50"], "l: goto l\n", "kernelsim run: {f} (line 1): instruction budget of "
                                               "50 exhausted at insn 0"),
    (["run", "--mem", "0g"], "exit\n", "kernelsim run: --mem: not an even number of hex digits"),
    (["run", "--nope"], "exit\n", "kernelsim run: unrecognized arguments: --nope"),
])
def test_errors(tmp_path, capsys, argv, text, message):
    src = tmp_path / "bad.s"
    src.write_text(text)
    rc, out, err = _main(capsys, *argv, str(src))
    assert rc == 2
    assert err.strip().splitlines() == [message.format(f=src)]


def test_disasm_errors(tmp_path, capsys):
    trunc = tmp_path / "t.bin"
    trunc.write_bytes(bytes(12))
    rc, _, err = _main(capsys, "disasm", "--raw", str(trunc))
    assert rc == 2 and err.strip() == (f"kernelsim disasm: {trunc}: truncated program: 12 bytes is "
                                       "not a multiple of 8 (instruction 1 is incomplete)")
    bad = tmp_path / "b.bin"
    bad.write_bytes(bytes.fromhex("b700000001000000ff00000000000000"))
    rc, out, err = _main(capsys, "disasm", "--raw", str(bad))
    assert rc == 2 and out.splitlines()[1] == "1: (ff) r0 (null) r0"
    assert err.strip() == f"kernelsim disasm: {bad}: insn 1: unknown opcode ff"
    rc, _, err = _main(capsys, "disasm", str(tmp_path / "missing"))
    assert rc == 2 and "No such file or directory" in err
