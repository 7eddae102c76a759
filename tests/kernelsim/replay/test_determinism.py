"""Same file and seed, same bytes: the text report, the JSON report and the JSON log."""

import json
from pathlib import Path

import pytest

from kernelsim.tools import features

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

STREAM = """\
kernel: {seed: 11}
tasks: {a: {}, b: {uid: 1000}}
events:
  - kobject: {as: sk, tcp_sock: {saddr: 10.0.0.1, sport: 1, daddr: 10.0.0.2, dport: 2}}
  - kobject: {as: skb, skb: {data: {hex: "0011"}}}
  - repeat:
      count: 20
      steps:
        - call: {func: tcp_retransmit_skb, args: [$sk, $skb, 1], task: b}
        - advance: 3us
        - switch: {cpu: 1}
        - switch: {cpu: 0}
  - fork: {task: a, as: c}
  - exit: c
  - expect: {kobject: sk, fields: {total_retrans: 20}}
"""


def twice(cli, argv):
    return cli(argv), cli(argv)


@pytest.mark.parametrize("extra", [[], ["--json"], ["-v", "--log-format", "json"]])
def test_same_bytes_twice(cli, scenario_file, extra):
    f = scenario_file(STREAM)
    (rc1, out1, err1), (rc2, out2, err2) = twice(cli, ["replay", *extra, f])
    assert rc1 == rc2 == 0
    assert out1 == out2 and err1 == err2
    if "--log-format" in extra:
        events = [json.loads(ln) for ln in err1.splitlines()]
        assert {e["event"] for e in events} >= {"replay_start", "kernel_call", "task_fork", "task_exit"}


@pytest.mark.skipif(not features.has("syscall.dispatch", "sys_bpf"), reason="needs the bpf() syscall")
def test_random_detach_order_depends_only_on_the_seed(cli):
    f = SCENARIOS / "trampoline_e2big.yaml"
    runs = [cli(["replay", "--json", "-v", "--log-format", "json", *s, f])
            for s in ([], [], ["--seed", "99"])]
    assert runs[0] == runs[1]

    def order(err):
        return [json.loads(ln)["link"] for ln in err.splitlines() if json.loads(ln)["event"] == "detach"]
    assert len(order(runs[0][2])) == 38
    assert sorted(order(runs[0][2])) == sorted(order(runs[2][2]))
    assert order(runs[0][2]) != order(runs[2][2])


def test_shipped_scenarios_give_the_same_json_twice(cli):
    for f in ("unprivileged.yaml", "gpl_only_helper.yaml", "tcp_retransmit.yaml", "cross_arch.yaml"):
        a = cli(["replay", "--json", SCENARIOS / f])
        b = cli(["replay", "--json", SCENARIOS / f])
        assert a == b, f


def test_same_bytes_across_processes_and_hash_seeds():
    """Two separate processes with different PYTHONHASHSEED: no dict/set order leaks out."""
    import os
    import subprocess
    import sys
    f = SCENARIOS / "tcp_retransmit.yaml"
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([sys.executable, "-m", "kernelsim.cli", "replay", "--json", "-v",
                            "--log-format", "json", str(f)], capture_output=True, env=env,
                           cwd=SCENARIOS.parent)
        outs.append((p.returncode, p.stdout, p.stderr))
    assert outs[0] == outs[1]
    assert json.loads(outs[0][1])["ok"] is (outs[0][0] == 0)
