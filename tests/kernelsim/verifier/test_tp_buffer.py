"""raw_tracepoint_writable programs: the verifier records the highest byte of the tracepoint's
buffer the program touches (prog->aux->max_tp_access, check_tp_buffer_access), which the attach
compares with the tracepoint's writable size. Verdicts are checked against Linux in the corpus
(corpus/ctx_raw_tp_writable.yaml)."""

import pytest

import corpus_tool
import harness

WRITABLE = corpus_tool.PROG_TYPES["raw_tracepoint_writable"]


@pytest.mark.parametrize("text, max_tp_access", [
    ("r0 = 0\nexit", 0),                                                       # buffer untouched
    ("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", 0),                                 # an argument only
    ("r2 = *(u64 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit", 1),
    ("r2 = *(u64 *)(r1 +0)\nr3 = 1\n*(u64 *)(r2 +8) = r3\nr0 = 0\nexit", 16),
    ("r2 = *(u64 *)(r1 +0)\nr2 += 16\nr0 = *(u32 *)(r2 +4)\nr0 = 0\nexit", 24),   # reg->off counts
    ("r2 = *(u64 *)(r1 +0)\nr0 = *(u32 *)(r2 +40)\nr0 = *(u8 *)(r2 +2)\nr0 = 0\nexit", 44),   # the max
])
def test_max_tp_access(text, max_tp_access):
    r = harness.ks_load(WRITABLE, harness.asm(text))
    assert r.errno == 0, r.text
    assert r.prog.aux.max_tp_access == max_tp_access
