"""structlog: scenario events, one place configuring the level and format, quiet by default."""

import json
import logging

import structlog
from structlog.testing import capture_logs

from kernelsim.logging_setup import level_from_verbosity, logging_configured
from kernelsim.replay import Replay, load_scenario_text
from kernelsim.tools import features

SCENARIO = """\
tasks: {agent: {comm: agent}}
programs:
  p: {type: tracing, attach_type: fentry, attach_to: bpf_fentry_test1, asm: "r0 = 0\\nexit\\n"}
attach: [{prog: p, as: l}]
events:
  - call: {func: bpf_fentry_test1, args: [1]}
  - detach: {link: l}
  - fork: {task: agent, as: kid}
  - advance: 1ms
"""
CALLS_ONLY = "events:\n  - call: {func: bpf_fentry_test1, args: [1]}\n  - advance: 5ns\n"


def test_events_are_structured_records():
    text = SCENARIO if features.has("syscall.dispatch", "sys_bpf") else CALLS_ONLY
    with capture_logs() as logs:
        res = Replay(load_scenario_text(text, "l.yaml")).run()
    assert res.ok, res.error or res.failed
    names = [e["event"] for e in logs]
    assert names[0] == "replay_start" and names[-1] == "replay_end"
    call = next(e for e in logs if e["event"] == "kernel_call")
    assert call["func"] == "bpf_fentry_test1" and call["ret"] == 2 and call["log_level"] == "info"
    assert call["scenario"] == "l"
    if text is SCENARIO:
        assert {"task_spawn", "prog_load", "attach", "detach", "task_fork", "clock_advance", "bpf"} <= set(names)
        att = next(e for e in logs if e["event"] == "attach")
        assert att["prog"] == "p" and att["link"] == "l" and att["target"] == "bpf_fentry_test1"
        assert any(e["event"] == "bpf" and e.get("cmd") == "BPF_PROG_LOAD" for e in logs)


def test_failed_expectations_are_warnings():
    with capture_logs() as logs:
        Replay(load_scenario_text("events:\n  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 0}}\n",
                                  "w.yaml")).run()
    warn = [e for e in logs if e["log_level"] == "warning"]
    assert len(warn) == 1 and warn[0]["event"] == "expect_failed" and warn[0]["where"] == "w.yaml:2:55"


def test_verbosity_levels():
    assert [level_from_verbosity(v) for v in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO,
                                                                 logging.DEBUG, logging.DEBUG]


def test_quiet_by_default_and_info_with_v(cli, scenario_file):
    f = scenario_file(CALLS_ONLY)
    rc, _, err = cli(["replay", f])
    assert rc == 0 and err == ""
    rc, _, err = cli(["replay", "-v", f])
    assert "kernel_call" in err and "func=bpf_fentry_test1" in err and "replay_start" in err
    assert "\x1b[" not in err                   # no colours off a terminal


def test_json_lines(cli, scenario_file):
    f = scenario_file(CALLS_ONLY)
    rc, _, err = cli(["replay", "-v", "--log-format", "json", f])
    records = [json.loads(ln) for ln in err.splitlines()]
    assert rc == 0 and records and all("event" in r and "level" in r for r in records)
    assert not any("timestamp" in r for r in records)        # deterministic: no wall clock


def test_configuration_is_restored_after_the_command(cli, scenario_file):
    before = structlog.get_config()
    cli(["replay", scenario_file(CALLS_ONLY)])
    assert structlog.get_config() == before
    with logging_configured(logging.ERROR):
        assert structlog.get_config()["wrapper_class"] is not before["wrapper_class"]
    assert structlog.get_config() == before
