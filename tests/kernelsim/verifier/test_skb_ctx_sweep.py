"""The __sk_buff access sweep (skb_ctx_sweep.py): every aligned load and store a socket filter can
try, kernelsim against Linux 6.18's stored answers and, where bpf() works, against Linux live."""

import pytest

import realbpf
import skb_ctx_sweep as sweep

STORED = sweep.load()


def test_sweep_matches_stored_answers():
    bad = {name: (got, STORED[name]) for name, k, s, o in sweep.cases()
           if (got := sweep.run_kernelsim(k, s, o)) != STORED[name]}
    assert not bad, f"{len(bad)} of {len(STORED)} differ (kernelsim, linux): {dict(list(bad.items())[:10])}"


def test_sweep_covers_the_edges():
    accepted = {n for n, v in STORED.items() if v == ["", ""]}
    assert "ldx/8/168" in accepted and "ldx/4/172" not in accepted      # __sk_buff->sk
    assert "stx/4/48" in accepted and "stx/4/8" not in accepted         # only cb[] is writable
    assert 300 < len(accepted) < len(STORED)


@pytest.mark.realkernel
@pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")
def test_sweep_live():
    bad = {name: (got, live) for name, k, s, o in sweep.cases()
           if (got := sweep.run_kernelsim(k, s, o)) != (live := sweep.run_linux(k, s, o))}
    assert not bad, f"{len(bad)} differ (kernelsim, linux): {dict(list(bad.items())[:10])}"
