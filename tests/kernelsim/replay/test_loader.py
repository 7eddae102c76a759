"""kernelsim/replay/loader.py, schema.py, steps.py: marks, schema errors with file, line and
field, exit status 2."""

import json

import pytest

from kernelsim.replay import ScenarioError, load_scenario, load_scenario_text
from kernelsim.replay.loader import load_text
from kernelsim.replay.schema import load_schema, validate_value
from kernelsim.replay.steps import Call, InlineExpect, Repeat, walk_steps

from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

GOOD = """\
name: demo
kernel: {arch: x86_64, seed: 9}
events:
  - call: {func: bpf_fentry_test1, args: [1]}
  - repeat:
      count: 3
      steps:
        - call:
            func: bpf_fentry_test2
            args: [$i, 2]
"""


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(text, "x.yaml")
    return e.value


def test_marks_are_recorded_for_every_node():
    doc = load_text(GOOD, "demo.yaml")
    assert doc.marks[("events", 0)].line == 4
    assert doc.marks[("events", 1, "repeat", "steps", 0, "call", "func")].line == 9
    assert doc.mark(("events", 1, "repeat", "steps", 0, "call", "args", 0)).line == 10
    assert str(doc.marks[("kernel",)]) == "demo.yaml:2:9"


def test_steps_are_frozen_records_with_their_line():
    sc = load_scenario_text(GOOD, "demo.yaml")
    steps = list(walk_steps(sc.events))
    assert [type(s) for s in steps] == [Call, Repeat, Call]
    assert steps[2].where.line == 8 and steps[2].where.file == "demo.yaml"
    with pytest.raises(AttributeError):
        steps[0].func = "other"             # frozen
    assert sc.kernel.seed == 9 and sc.name == "demo"


@pytest.mark.parametrize("text, line, field, words", [
    ("events:\n  - cal: {func: x}\n", 2, "events[0].cal", "unknown step kind 'cal'"),
    ("events:\n  - call: {args: [1]}\n", 2, "events[0].call", "missing required field 'func'"),
    ("kernel: {arch: vax}\n", 1, "kernel.arch", "is not one of"),
    ("kernel: {cpus: 0}\n", 1, "kernel.cpus", "less than the minimum 1"),
    ("maps:\n  m: {type: hash, max_entrys: 4}\n", 2, "maps.m.max_entrys", "unknown field 'max_entrys'"),
    ("events:\n  - call: {func: f}\n    expect: {ret: 1}\n", 2, "events[0]", "exactly one key"),
    ("events:\n  - advance: 10 parsecs\n", 2, "events[0].advance", "does not match"),
    ("maps:\n  m: {type: hashh}\n", 2, "maps.m.type", "unknown map type 'hashh'"),
    ("maps:\n  m: {type: hash, key: u33}\n", 2, "maps.m.key", "does not match"),
    ("programs:\n  p: {type: tracing}\n", 2, "programs.p", "needs exactly one of the fields asm, source, object"),
    ("events:\n  - load: {program: p, expect: {errno: EWHAT}}\n", 2, "events[0].load.expect.errno", "unknown errno 'EWHAT'"),
    ("kernel:\n  sysctl: {kernel.nope: 1}\n", 2, "kernel.sysctl.kernel.nope", "unknown sysctl"),
    ("events:\n  - bpf: {cmd: BPF_MAP_CREATE, attr: {map_typ: 1}}\n", 2, "events[0].bpf.attr.map_typ", "no field 'map_typ'"),
    ("events:\n  - expect: {map: m, trace_pipe: x}\n", 2, "events[0].expect", "exactly one of the fields"),
    ("a: 1\na: 2\n", 2, None, "duplicate key 'a'"),
    ("events: [\n", 2, None, "invalid YAML"),
])
def test_errors_name_file_line_and_field(text, line, field, words):
    e = error_of(text)
    assert e.mark.file == "x.yaml" and e.mark.line == line, str(e)
    if field is not None:
        assert e.field == field, str(e)
    assert words in e.message, str(e)
    assert str(e).startswith(f"x.yaml:{line}:")


def test_unknown_top_level_key_lists_the_allowed_ones():
    e = error_of("evnts: []\n")
    assert "unknown field 'evnts'" in e.message and "events" in e.message


def test_merge_keys_and_anchors():
    sc = load_scenario_text("""\
        programs:
          base: &base {type: tracing, attach_type: fentry, attach_to: bpf_fentry_test1, asm: "r0 = 0\\nexit\\n"}
          other: {<<: *base, attach_to: bpf_fentry_test2}
        """.replace("        ", ""), "m.yaml")
    assert [p.attach_to for p in sc.programs] == ["bpf_fentry_test1", "bpf_fentry_test2"]


def test_inline_expectations_are_built():
    sc = load_scenario_text("""\
events:
  - load: {program: p, expect: {errno: EPERM, log: "a line"}}
programs:
  p: {type: socket_filter, asm: "r0 = 0\\nexit\\n", load: false}
""", "i.yaml")
    e = sc.events[0].expect
    assert isinstance(e, InlineExpect) and e.errno == 1 and e.log == ("a line",) and e.where.line == 2


def test_cli_exit_status_2_with_one_line(cli, scenario_file):
    bad = scenario_file("events:\n  - call: {func: f, args: 3}\n")
    rc, out, err = cli(["replay", bad])
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert f"{bad}:2:" in lines[0] and "events[0].call.args" in lines[0] and "expected array" in lines[0]


def test_cli_missing_file_is_status_2(cli, tmp_path):
    rc, _, err = cli(["replay", tmp_path / "nope.yaml"])
    assert rc == 2 and "cannot read" in err


def test_schema_is_valid_json_schema_and_jsonschema_agrees():
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for f in sorted(SCENARIOS.glob("*.yaml")):
        value = load_text(f.read_text(), str(f)).value
        assert validate_value(value) is None, f
        assert not list(v.iter_errors(value)), f
    for bad in ({"events": [{"cal": {}}]}, {"kernel": {"cpus": 0}}, {"maps": {"m": {}}},
                {"events": [{"call": {"func": "f"}, "expect": {}}]}):
        assert validate_value(bad) is not None
        assert list(v.iter_errors(bad)), bad


def test_schema_is_package_data():
    from importlib import resources
    text = resources.files("kernelsim.replay").joinpath("scenario.schema.json").read_text()
    assert json.loads(text)["title"] == "kernelsim replay scenario"


def test_every_shipped_scenario_loads():
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        sc = load_scenario(f)
        assert sc.events, f


def test_the_documented_example_is_a_valid_scenario():
    import re
    doc = (SCENARIOS.parent / "docs" / "scenarios.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    sc = load_scenario_text(block, "docs/scenarios.md")
    assert sc.name == "tcp_retransmit" and sc.programs[0].attach_to == "tcp_retransmit_skb"
