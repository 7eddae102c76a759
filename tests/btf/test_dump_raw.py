"""``kernelsim btf dump --format raw`` against ``bpftool btf dump file X format raw``, byte for byte."""

import subprocess

import pytest

from btf import Btf, BtfError
from btf.builder import BtfBuilder
from btf.dump_raw import btf_dump_raw
from btf.embedded import EMBEDDED_BTF_PATH

from test_fuzz import every_kind_blob
from validate_cases import CASES


def bpftool_raw(bpftool, path, base=None) -> bytes:
    cmd = [bpftool] + (["-B", str(base)] if base else []) + ["btf", "dump", "file", str(path), "format", "raw"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def ours(btf) -> bytes:
    return btf_dump_raw(btf).encode("utf-8", "surrogateescape")


def test_vmlinux_identical(bpftool, vmlinux):
    from tests.paths import VMLINUX_BTF as VMLINUX
    assert ours(vmlinux) == bpftool_raw(bpftool, VMLINUX)


def test_embedded_identical(bpftool):
    assert ours(Btf.parse(EMBEDDED_BTF_PATH.read_bytes())) == bpftool_raw(bpftool, EMBEDDED_BTF_PATH)


def test_every_kind_identical(bpftool, tmp_path):
    p = tmp_path / "all.btf"
    p.write_bytes(every_kind_blob())
    assert ours(Btf.parse(p.read_bytes())) == bpftool_raw(bpftool, p)


def test_case_blobs_identical(bpftool, tmp_path):
    """Every test blob that both bpftool (libbpf) and Btf.parse read prints the same."""
    compared = 0
    for i, (desc, make, _, _) in enumerate(CASES):
        data = make()
        try:
            btf = Btf.parse(data)
        except BtfError:
            continue
        p = tmp_path / f"c{i}.btf"
        p.write_bytes(data)
        r = subprocess.run([bpftool, "btf", "dump", "file", str(p), "format", "raw"], capture_output=True)
        if r.returncode:
            continue
        assert ours(btf) == r.stdout, desc
        compared += 1
    assert compared > 40


def test_split_identical(bpftool, tmp_path):
    base = BtfBuilder()
    base.add_int("int", 4, 1)
    base.add_struct("s", 4)
    base.add_field("x", 1, 0)
    bp = tmp_path / "base.btf"
    bp.write_bytes(base.to_bytes())
    base_btf = Btf.parse(bp.read_bytes())
    b = BtfBuilder(base_btf)
    b.add_ptr(2)
    b.add_typedef("s_t", 2)
    fp = b.add_func_proto(1)
    b.add_func_param("p", 3)
    b.add_func("f", fp)
    sp = tmp_path / "split.btf"
    sp.write_bytes(b.to_bytes())
    assert ours(Btf.parse(sp.read_bytes(), base_btf)) == bpftool_raw(bpftool, sp, bp)


def test_cli_raw(capsysbinary):
    from btf.cli import main
    assert main(["dump", str(EMBEDDED_BTF_PATH), "--format", "raw"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"[1] INT 'long unsigned int' size=8")
