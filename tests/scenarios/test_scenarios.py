"""Every scenario of scenarios/ replayed with its expectations (scaled down: --scale 0.01).

A scenario that needs a piece of the simulator this build lacks is an xfail naming that piece:
``FeatureMissing`` from the replay (a module of syscall/ or a kernel API not there), or a known
gap of a landed piece recognised by its error (KNOWN_GAPS, empty today). Anything else must pass.
"""

import re
from pathlib import Path

import pytest

from kernelsim.replay import Replay, load_scenario, text_report

ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.01

# error text of a stopped replay -> why (a landed piece not finished yet); empty when none
KNOWN_GAPS: list[tuple[str, str]] = []


def variants():
    for f in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(f)
        for v in sc.variants():
            yield pytest.param(v, id=f"{f.stem}{v.name[len(sc.name):]}")


@pytest.mark.parametrize("scenario", list(variants()))
def test_scenario(scenario):
    res = Replay(scenario, scale=SCALE).run()
    if res.missing is not None:
        pytest.xfail(f"needs {res.missing.feature}: {res.missing.detail}")
    if res.error is not None:
        for pattern, why in KNOWN_GAPS:
            if re.search(pattern, res.error):
                pytest.xfail(why)
    assert res.ok, text_report(res)
    assert res.outcomes, "a scenario without expectations proves nothing"


def test_scenarios_say_their_full_size():
    """The load scenario itself asks for a million events; only the test scales it."""
    sc = load_scenario(ROOT / "scenarios" / "load_1m.yaml")
    from kernelsim.replay.steps import Repeat
    assert any(isinstance(s, Repeat) and s.count == 1_000_000 for s in sc.events)
