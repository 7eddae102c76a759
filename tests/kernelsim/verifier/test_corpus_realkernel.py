"""Live agreement: each corpus entry loaded into Linux and into kernelsim with the same bytes:
same verdict, same errno, same complaint line (kernel addresses normalised to ADDR). Also checks
that the stored answers are still what this kernel says."""

import os

import pytest

import corpus_tool
import realbpf
from test_corpus import XFAIL

pytestmark = [pytest.mark.realkernel,
              pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")]


def _params():
    for name, e in corpus_tool.load_corpus():
        marks = []
        if name in XFAIL:
            marks.append(pytest.mark.xfail(reason=XFAIL[name], strict=True))
        if e.get("linux_insns", 0) > 300_000 and not os.environ.get("KERNELSIM_SLOW"):
            marks.append(pytest.mark.skip(reason="1M-insn complexity case; KERNELSIM_SLOW=1 runs it"))
        yield pytest.param(e, id=name, marks=marks)


@pytest.mark.parametrize("entry", list(_params()))
def test_live(entry):
    linux, _, ltext = corpus_tool.run_linux(entry)
    assert linux == entry["expect"], "the stored answer is stale: " + ltext[-500:]
    ks, _, ktext = corpus_tool.run_kernelsim(entry)
    assert ks == linux, f"linux:\n{ltext[-1500:]}\nkernelsim:\n{ktext[-1500:]}"
