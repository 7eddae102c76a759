"""kernelsim.replay: YAML tracing scenarios replayed against the simulated kernel
(ARCHITECTURE.md flow 4; docs/scenarios.md).

Front door:

- ``load_scenario(path) -> Scenario``: read, validate against scenario.schema.json, build the
  frozen step records (``ScenarioError`` with file, line and field on any problem);
- ``Replay(scenario, seed=None, scale=1.0).run() -> ReplayResult``: run it, outcomes in order;
- ``replay_file(path, **kw) -> ReplayResult``: both;
- ``text_report(result)``, ``render_json([results])``: the reports of ``kernelsim replay``.
"""

from .loader import Mark, ScenarioError, load_file, load_text
from .report import json_report, render_json, text_report
from .runner import Replay, ReplayResult
from .steps import Scenario, build_scenario

__all__ = ["load_scenario", "load_scenario_text", "replay_file", "Replay", "ReplayResult",
           "Scenario", "ScenarioError", "Mark", "text_report", "json_report", "render_json"]


def load_scenario(path) -> Scenario:
    return build_scenario(load_file(path))


def load_scenario_text(text: str, file: str = "<string>", base=None) -> Scenario:
    return build_scenario(load_text(text, file, base))


def replay_file(path, **kw) -> ReplayResult:
    return Replay(load_scenario(path), **kw).run()
