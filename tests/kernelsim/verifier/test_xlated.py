"""Xlated instructions (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns) of every accepted corpus
program: kernelsim's rewrite (kernelsim/verifier/fixups.py, dumped by syscall/obj_info.py) against
Linux 6.18's, stored (data/xlated.json) and live. Normalisation: xlated_tool.py's docstring."""

import os

import pytest

import realbpf
import xlated_tool
from kernelsim.isa.insn import decode_insns

STORED = xlated_tool.stored()
ENTRIES = list(xlated_tool.accepted())


def _listing(hexcode: str) -> list[str]:
    return xlated_tool.listing(decode_insns(bytes.fromhex(hexcode)))


def test_every_accepted_entry_has_a_stored_answer():
    assert {name for name, _ in ENTRIES} == set(STORED) and len(STORED) >= 200


@pytest.mark.parametrize("name, entry", ENTRIES, ids=[n for n, _ in ENTRIES])
def test_xlated_matches_stored_linux(name, entry):
    ks = xlated_tool.normalised_hex(xlated_tool.ks_info(entry))
    assert _listing(ks) == _listing(STORED[name])


@pytest.mark.realkernel
@pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")
@pytest.mark.parametrize("name, entry", ENTRIES, ids=[n for n, _ in ENTRIES])
def test_xlated_matches_linux_live(name, entry):
    linux, ks = xlated_tool.compare(entry)
    assert ks == linux


def test_rewrites_are_visible():
    """The dump is not the loaded code: the rewrites the corpus relies on are there."""
    by_name = dict(ENTRIES)
    div = _listing(STORED[next(n for n in STORED if n.startswith("alu[7] "))])
    assert div[2] == "(56) if w1 != 0x0 goto pc+2"                    # the div-by-zero guard
    dead = xlated_tool.ks_info(by_name[next(n for n in by_name if n.startswith("jmp[8] "))])
    assert len(dead["xlated"]) // 8 == 3                              # dead branch removed
    sk = _listing(STORED[next(n for n in STORED if n.startswith("ctx_socket_filter[0] "))])
    assert sk[0] == "(61) r0 = *(u32 *)(r1 +112)"                     # __sk_buff->len -> skb->len


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no vmlinux BTF here")
def test_layout_fallback_is_this_kernels():
    """layout.py's fallback offsets are those of the machine's kernel (the oracle)."""
    from btf.btf import Btf
    from kernelsim.verifier.layout import FALLBACK, btf_offsetof
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        vmlinux = Btf.parse(f.read())
    if btf_offsetof(vmlinux, "bpf_array", "value") is None:
        pytest.skip("not a kernel with struct bpf_array in its BTF")
    if os.uname().release.split(".")[:2] != ["6", "18"] or os.uname().machine != "x86_64":
        pytest.skip("the table is Linux 6.18 x86-64's")
    wrong = {k: (v, btf_offsetof(vmlinux, *k)) for k, v in FALLBACK.items() if btf_offsetof(vmlinux, *k) != v}
    assert not wrong
