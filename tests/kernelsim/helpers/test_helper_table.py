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


DYNPTR_FROM_MEM = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map_fd({0})
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = r0
    r2 = 8
    r3 = 0
    r4 = r10
    r4 += -32
    call bpf_dynptr_from_mem
out:
    r0 = 0
    exit
"""


def scen_dynptr(b):
    from tests.kernelsim.helpers.progkit import RAW_TP, load, mk
    load(b, RAW_TP, DYNPTR_FROM_MEM, [mk(b, 2, 4, 8, 1)])


def test_a_refused_helper_fails_the_load_with_enotsupp():
    """Linux loads this raw_tp program; kernelsim refuses it once the arguments before the
    dynptr are checked."""
    from tests.syscall.diffharness import run_sim
    log = run_sim(scen_dynptr)
    assert log == ["fd", "ENOTSUPP", "kernelsim: bpf_dynptr_from_mem#197 needs dynptr support, which the "
                               "simulator does not model"]
