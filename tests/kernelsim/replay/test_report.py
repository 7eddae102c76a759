"""kernelsim/replay/report.py and the command's report: text and --json, exit status."""

import json

FAILING = """\
name: two
events:
  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}
  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 5}}
  - expect: {returned: bpf_fentry_test1, value: {min: 3}}
"""


def test_text_report_names_each_failure_with_file_and_line(cli, scenario_file):
    f = scenario_file(FAILING)
    rc, out, err = cli(["replay", f])
    assert rc == 1
    lines = out.splitlines()
    assert lines[0] == f"replay two ({f}): x86_64 6.18, 2 CPUs, seed 0"
    assert f"  ok    {f}:3  bpf_fentry_test1(): returns 2" in lines
    i = lines.index(f"  FAIL  {f}:4  bpf_fentry_test1(): returns 5")
    assert lines[i + 1] == "          expected: returns 5"
    assert lines[i + 2] == "          actual:   returned 2"
    assert any(ln.startswith(f"  FAIL  {f}:5  bpf_fentry_test1(): returned >= 3") for ln in lines)
    assert lines[-1] == "FAIL two: 2 of 3 expectations failed"
    assert "expect_failed" in err            # failures are logged at warning level


def test_quiet_text_report_shows_only_failures(cli, scenario_file):
    f = scenario_file(FAILING)
    rc, out, _ = cli(["replay", "-q", f])
    assert rc == 1 and "  ok  " not in out and out.count("FAIL  ") == 2


def test_json_report(cli, scenario_file):
    f = scenario_file(FAILING)
    rc, out, _ = cli(["replay", "--json", f])
    assert rc == 1
    doc = json.loads(out)
    assert doc["ok"] is False and len(doc["replays"]) == 1
    r = doc["replays"][0]
    assert r["scenario"] == "two" and r["status"] == "fail" and r["seed"] == 0
    assert r["summary"] == {"checked": 3, "failed": 2}
    assert r["counts"]["calls"] == 2 and r["error"] is None and r["missing"] is None
    assert len(r["sha256"]) == 64
    bad = [e for e in r["expectations"] if not e["ok"]]
    assert [(e["line"], e["kind"], e["expected"], e["actual"]) for e in bad] == [
        (4, "ret", "returns 5", "returned 2"), (5, "returned", "returned >= 3", "returned 2")]
    assert all(e["file"] == str(f) for e in r["expectations"])


def test_success_is_status_0_and_quiet_on_stderr(cli, scenario_file):
    f = scenario_file("events:\n  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}\n")
    rc, out, err = cli(["replay", f])
    assert rc == 0 and err == ""
    assert out.splitlines()[-1] == "PASS s: 1 expectation held"


def test_stopped_replay_reports_where(cli, scenario_file):
    f = scenario_file("events:\n  - call: {func: nope, args: []}\n")
    rc, out, _ = cli(["replay", f])
    assert rc == 1
    assert out.splitlines()[-1] == f"ERROR s: stopped at {f}:2:5: no kernel function 'nope'"
    rc, out, _ = cli(["replay", "--json", f])
    r = json.loads(out)["replays"][0]
    assert r["status"] == "error" and r["error"] == {"message": "no kernel function 'nope'",
                                                     "file": str(f), "line": 2}


def test_events_per_second_line_and_timing(cli, scenario_file):
    f = scenario_file("""\
events:
  - repeat:
      count: 100
      scale: true
      steps:
        - call: {func: bpf_fentry_test1, args: [1]}
        - advance: 10us
""")
    rc, out, _ = cli(["replay", f])
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("  events:"))
    assert line.startswith("  events: 100 (100 kernel calls, 0 tracepoints) and 0 syscalls in 0.001")
    assert line.endswith("events/s (virtual)")
    rc, out, _ = cli(["replay", "--timing", f])
    assert "wall clock:" in out and "(not deterministic)" in out
    rc, out, _ = cli(["replay", "--scale", "0.1", "--json", f])
    r = json.loads(out)["replays"][0]
    assert r["counts"]["calls"] == 10 and r["scale"] == 0.1 and r["events_per_second_virtual"] > 0


def test_scale_from_the_environment(cli, scenario_file, monkeypatch):
    f = scenario_file("events:\n  - repeat: {count: 100, scale: true, steps: [{call: {func: bpf_fentry_test1, args: [1]}}]}\n")
    monkeypatch.setenv("KERNELSIM_REPLAY_SCALE", "0.05")
    rc, out, _ = cli(["replay", "--json", f])
    assert json.loads(out)["replays"][0]["counts"]["calls"] == 5


def test_arch_matrix_replays_each(cli, scenario_file):
    f = scenario_file("kernel: {arch: [x86_64, i386]}\nevents:\n  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}\n")
    rc, out, _ = cli(["replay", "-q", f])
    assert rc == 0
    assert [ln for ln in out.splitlines() if ln.startswith("PASS")] == [
        "PASS s[x86_64]: 1 expectation held", "PASS s[i386]: 1 expectation held"]


def test_validate_only(cli, scenario_file):
    f = scenario_file("events: []\n")
    assert cli(["replay", "--validate", f]) == (0, f"{f}: valid scenario 's'\n", "")


def test_progress_bar_only_when_asked_or_on_a_terminal(cli, scenario_file):
    f = scenario_file("events:\n  - repeat: {count: 5000, steps: [{call: {func: bpf_fentry_test1, args: [1]}}]}\n")
    rc, _, err = cli(["replay", f])
    assert rc == 0 and err == ""                         # stderr is not a terminal here
    rc, _, err = cli(["replay", "--progress", "always", f])
    assert rc == 0 and "\r" in err and err.rstrip().endswith("100% 5000/5000")
