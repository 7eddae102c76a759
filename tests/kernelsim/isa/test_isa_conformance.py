"""All 313 bpf_conformance tests (/work/shared/conformance, format in its README) through our
.data parser, assembler and interpreter; and the plugin protocol of ``kernelsim
conformance-plugin`` (kernelsim/isa/cli.py plugin_main). The upstream runner is not needed here;
docs/isa.md records a run of it."""

import io
import pathlib
import subprocess
import sys

import pytest

from kernelsim.isa.asm import parse_data_file
from kernelsim.isa.cli import plugin_main
from kernelsim.isa.insn import encode_insns
from kernelsim.isa.interp import run_program
from kernelsim.memory import AddressSpace

from tests.paths import CONFORMANCE_DIR as CONFORMANCE
FILES = sorted(CONFORMANCE.glob("*.data"))


needs_suite = pytest.mark.skipif(not CONFORMANCE.is_dir(),
                                 reason=f"{CONFORMANCE} (the shared conformance suite) is absent")


@needs_suite
def test_all_files_present():
    assert len(FILES) == 313


def _run(data):
    mem = AddressSpace("kernel")
    addr = mem.alloc(len(data.mem), "memory", kind="buffer", data=data.mem).start if data.mem else 0
    r0, _ = run_program(data.insns(), addr, len(data.mem), mem=mem,
                        helpers={5: lambda run, *a: 0})
    return r0


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance(path):
    data = parse_data_file(path.read_text())
    assert data.skip is None and data.error is None
    assert _run(data) == data.result


def _plugin(monkeypatch, capsys, program: bytes, memhex: str | None = None, *opts):
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{b:02x}  " for b in program) + "\n"))
    argv = ([memhex] if memhex is not None else []) + list(opts)
    rc = plugin_main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@needs_suite
def test_plugin_protocol(monkeypatch, capsys):
    data = parse_data_file((CONFORMANCE / "ldxh.data").read_text())
    memhex = "".join(f"{b:02x}  " for b in data.mem)
    rc, out, err = _plugin(monkeypatch, capsys, encode_insns(data.insns()), memhex)
    assert (rc, int(out, 16), err) == (0, data.result, "")
    # memory absent, a plugin option in its place
    prog = parse_data_file((CONFORMANCE / "mem-len.data").read_text())
    rc, out, _ = _plugin(monkeypatch, capsys, encode_insns(prog.insns()), None, "--debug")
    assert rc == 0 and int(out, 16) == 0            # r2 = 0 without memory
    rc, out, _ = _plugin(monkeypatch, capsys, encode_insns(prog.insns()),
                         "".join(f"{b:02x}  " for b in bytes(8)))
    assert int(out, 16) == 8
    # r0 printed in hex, all 64 bits
    rc, out, _ = _plugin(monkeypatch, capsys, bytes.fromhex("b700000000000000" "8700000000000000"
                                                             "9500000000000000"))
    assert out.strip() == "0"
    rc, out, _ = _plugin(monkeypatch, capsys, bytes.fromhex("b7000000ffffffff9500000000000000"))
    assert out.strip() == "ffffffffffffffff"


def test_plugin_errors(monkeypatch, capsys):
    rc, out, err = _plugin(monkeypatch, capsys, bytes.fromhex("6100000000000000" "9500000000000000"))
    assert rc == 1 and out == "" and "invalid memory access" in err
    rc, out, err = _plugin(monkeypatch, capsys, bytes.fromhex("b700"))
    assert rc == 1 and "not a whole number of instructions" in err
    rc, out, err = _plugin(monkeypatch, capsys, bytes.fromhex("9500000000000000"), None, "--elf")
    assert rc == 1 and "--elf" in err


@needs_suite
def test_plugin_as_a_process():
    """The way the runner starts it: a separate process, program hex on stdin."""
    data = parse_data_file((CONFORMANCE / "stxb.data").read_text())
    memhex = "".join(f"{b:02x}  " for b in data.mem)
    proc = subprocess.run([sys.executable, "-m", "kernelsim.cli", "conformance-plugin", memhex],
                          input="".join(f"{b:02x}  " for b in encode_insns(data.insns())) + "\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and int(proc.stdout, 16) == data.result, proc.stderr
