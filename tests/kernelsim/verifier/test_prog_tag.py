"""The program tag (bpf_prog_calc_tag, computed by bpf_check): 6.18's SHA-256 of the instructions
with map fds zeroed, compared with the tag Linux reports in bpf_prog_info for the same bytes."""

import os

import pytest

import corpus_tool
import harness
import realbpf
from kernelsim.isa.insn import decode_insns
from kernelsim.verifier import bpf_prog_calc_tag

RET0 = bytes.fromhex("b700000000000000" "9500000000000000")


def test_tag_of_the_smallest_program():
    assert bpf_prog_calc_tag(decode_insns(RET0)).hex() == "59f4a931744dcdc6"    # Linux 6.18.44


def test_map_fds_do_not_change_the_tag():
    ld = lambda fd: bytes.fromhex("1811") + b"\0\0" + fd.to_bytes(4, "little") + bytes(8)
    assert bpf_prog_calc_tag(decode_insns(ld(3) + RET0)) == bpf_prog_calc_tag(decode_insns(ld(9) + RET0))
    assert bpf_prog_calc_tag(decode_insns(ld(3) + RET0)) != bpf_prog_calc_tag(decode_insns(RET0))


def test_bpf_check_sets_the_tag():
    r = harness.ks_load(1, decode_insns(RET0))
    assert r.errno == 0 and bytes(r.prog.tag).hex() == "59f4a931744dcdc6"


def _accepted():
    for name, e in corpus_tool.load_corpus():
        if e["expect"]["result"] == "accept" and e.get("linux_insns", 0) < 300_000:
            yield pytest.param(e, id=name)


@pytest.mark.realkernel
@pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")
@pytest.mark.parametrize("entry", list(_accepted()))
def test_tag_matches_linux(entry):
    import xlated_tool
    linux, ks = xlated_tool.linux_info(entry), xlated_tool.ks_info(entry)
    assert linux is not None and ks is not None
    assert ks["tag"] == linux["tag"]
