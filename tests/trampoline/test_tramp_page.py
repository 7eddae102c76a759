"""The 5.5 half-page image pair (trampoline/page.py)."""

import pytest

from btf.func_model import FuncModel
from trampoline import (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BpfTrampLink, TrampolineError, TrampolinePage,
                        bpf_trampoline_flags, encode_call)

M = FuncModel(8, 0, 2, (8, 8), (0, 0))
PAGE = 0xFFFFFFFFA0010000


def tl(n_fentry, n_fexit=0):
    return {BPF_TRAMP_FENTRY: [BpfTrampLink(lambda c: 0) for _ in range(n_fentry)],
            BPF_TRAMP_FEXIT: [BpfTrampLink(lambda c: 0) for _ in range(n_fexit)]}


def test_flip_after_each_update_and_reset():
    page = TrampolinePage(PAGE)
    halves = []
    for links in (tl(1), tl(2), tl(2, 1), tl(1)):
        image = page.update(M, links, bpf_trampoline_flags(links, profile="5.5"), orig=lambda r, s, m: r[0])
        halves.append((image.half, image.image_addr - PAGE))
        assert page.current is image and image.profile == "5.5" and image.size <= 2048
    assert halves == [(0, 0), (1, 2048), (0, 0), (1, 2048)] and page.selector == 4
    assert page.current.call(encode_call(M, "x86_64", [5, 6])) == 5
    page.reset()
    assert page.selector == 0 and page.current is None and page.image_addr() == PAGE


def test_failed_update_does_not_flip():
    page = TrampolinePage(PAGE)
    page.update(M, tl(1), bpf_trampoline_flags(tl(1), profile="5.5"))
    before = (page.selector, page.current)
    with pytest.raises(TrampolineError) as e:
        page.update(M, tl(41), bpf_trampoline_flags(tl(41), profile="5.5"))
    assert e.value.errno == 7 and (page.selector, page.current) == before
    with pytest.raises(TrampolineError):
        page.update(FuncModel(8, 0, 7, (8,) * 7, (0,) * 7), tl(1), bpf_trampoline_flags(tl(1), profile="5.5"))
    assert (page.selector, page.current) == before


def test_forty_programs_fit_in_half_a_page():
    page = TrampolinePage(PAGE)
    links = tl(20, 20)
    image = page.update(FuncModel(8, 0, 6, (8,) * 6, (0,) * 6), links, bpf_trampoline_flags(links, profile="5.5"))
    assert image.nr_links == 40 and image.size <= 2048


def test_page_alignment():
    with pytest.raises(ValueError):
        TrampolinePage(PAGE + 8)
