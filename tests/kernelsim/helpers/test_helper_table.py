"""docs/helpers.md carries the computed helper table (helper_table.py): fails when the doc is
stale, so the implemented/refused figures it quotes are the code's."""

from pathlib import Path

from tests.kernelsim.helpers.helper_table import BEGIN, END, compute, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "helpers.md"


def test_doc_has_the_current_table():
    text = DOC.read_text()
    block = text[text.index(BEGIN):text.index(END) + len(END)] + "\n"
    assert block == render()


def test_every_refused_helper_has_a_reason():
    rows, figures = compute()
    refused = [r for r in rows if not r[5].startswith("✓")]
    assert refused and all("an implementation" not in r[5] for r in rows)
    assert figures["implemented"] + figures["partly"] + len(refused) == figures["offered"]


SNPRINTF_BTF = """
    r1 = 0
    *(u64 *)(r10 -8) = r1
    *(u64 *)(r10 -16) = r1
    *(u64 *)(r10 -24) = r1
    *(u64 *)(r10 -32) = r1
    r1 = r10
    r1 += -16
    r2 = 16
    r3 = r10
    r3 += -32
    r4 = 16
    r5 = 0
    call bpf_snprintf_btf
    r0 = 0
    exit
"""


def test_a_refused_helper_fails_the_load_with_enotsupp():
    """Linux loads this raw_tp program; kernelsim refuses it after checking the arguments."""
    from tests.kernelsim.helpers.progkit import RAW_TP, load
    from tests.syscall.diffharness import run_sim
    log = run_sim(lambda b: load(b, RAW_TP, SNPRINTF_BTF))
    assert log == ["ENOTSUPP", "kernelsim: bpf_snprintf_btf#149 needs the BTF pretty-printer "
                               "(btf_type_snprintf_show), which the simulator does not model"]
