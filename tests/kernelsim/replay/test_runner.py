"""kernelsim/replay/runner.py: the machine, tasks, the event stream, syscalls through bpf()."""

import pytest

from kernelsim.replay import Replay, load_scenario_text
from kernelsim.tools import features

HAS_BPF = features.has("syscall.dispatch", "sys_bpf")
needs_bpf = pytest.mark.skipif(not HAS_BPF, reason="syscall/dispatch.py (sys_bpf) has not landed")


def run(text: str, **kw):
    return Replay(load_scenario_text(text, "r.yaml"), **kw).run()


def test_machine_tasks_and_calls():
    res = run("""\
kernel: {arch: arm64, cpus: 3, seed: 5}
tasks:
  a: {comm: alpha, uid: 0}
  b: {comm: beta, uid: 1000, cpu: 2}
events:
  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}
  - call: {func: bpf_fentry_test2, args: [2, 3], task: b, cpu: 2, as: five}
  - expect: {returned: bpf_fentry_test2, value: $five}
  - fork: {task: a, as: child, comm: kid}
  - exit: {task: child, code: 3}
  - switch: {cpu: 1, task: a}
  - advance: 2ms
""")
    assert res.ok, res.outcomes
    k = res.kernel
    assert (k.arch, k.ncpus, k.seed) == ("arm64", 3, 5)
    assert k.current_cpu == 1 and k.current().comm == "alpha"
    assert res.tasks["child"].alive is False and res.tasks["child"].exit_code == 3
    assert res.tasks["b"].cred.uid == 1000 and not res.tasks["b"].cred.caps
    assert res.counts["calls"] == 2 and res.virtual_ns >= 2_000_000
    assert [o.kind for o in res.outcomes] == ["ret", "returned"]


def test_repeat_variables_and_scale():
    text = """\
events:
  - repeat:
      count: 200
      scale: true
      steps:
        - call: {func: bpf_fentry_test2, args: [$i, 1]}
  - repeat: {count: 7, var: j, steps: [{call: {func: bpf_fentry_test1, args: [$j]}}]}
  - expect: {returned: bpf_fentry_test2, value: {scaled: 200}}
"""
    assert run(text).counts["calls"] == 207
    small = run(text, scale=0.05)
    assert small.counts["calls"] == 17 and small.ok     # 10 + 7; the last i is 9: 9 + 1 == 10


def test_a_failing_step_stops_the_replay_with_its_line():
    res = run("""\
events:
  - call: {func: bpf_fentry_test1, args: [1]}
  - call: {func: no_such_function, args: []}
  - call: {func: bpf_fentry_test1, args: [1]}
""")
    assert not res.ok and res.counts["calls"] == 1
    assert res.error_where.line == 3 and "no kernel function 'no_such_function'" in res.error


def test_failed_expectations_do_not_stop():
    res = run("""\
events:
  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 3}}
  - call: {func: bpf_fentry_test1, args: [2], expect: {ret: 3}}
""")
    assert res.error is None and [o.ok for o in res.outcomes] == [False, True]
    assert res.outcomes[0].where.line == 2 and res.outcomes[0].actual == "returned 2"


def test_passing_outcomes_in_a_repeat_are_counted_once():
    res = run("""\
events:
  - repeat:
      count: 50
      steps: [{call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}}]
""")
    assert len(res.outcomes) == 1 and res.outcomes[0].count == 50


def test_kernel_objects_as_arguments():
    res = run("""\
events:
  - kobject: {as: sk, tcp_sock: {saddr: 10.0.0.1, sport: 1000, daddr: 10.0.0.2, dport: 80}}
  - kobject: {as: skb, skb: {data: {hex: "00 11 22 33"}}}
  - call: {func: tcp_retransmit_skb, args: [$sk, $skb, 2], expect: {ret: 0}}
  - expect: {kobject: sk, fields: {total_retrans: 2, bytes_retrans: 4}}
""")
    assert res.ok, [o for o in res.outcomes if not o.ok]


@needs_bpf
def test_maps_and_raw_bpf():
    res = run("""\
maps:
  m: {type: hash, key: u32, value: {struct: {pid: u32, comm: "char[8]"}}, max_entries: 8,
      init: [{key: 1, value: {pid: 7, comm: init}}]}
events:
  - map_update: {map: m, key: 2, value: {pid: 9, comm: bash}}
  - expect: {map: m, entries: [{key: 1, value: {pid: 7}}, {key: 2, value: {comm: bash}}]}
  - map_delete: {map: m, key: 1}
  - map_delete: {map: m, key: 1, expect: {errno: ENOENT}}
  - expect: {map: m, absent: [1], count: 1}
  - bpf:
      cmd: BPF_MAP_CREATE
      attr: {map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1, map_name: raw}
      as: raw
  - map_update: {map: raw, key: 0, value: 0x01020304}
  - expect: {map: raw, entries: [{key: 0, value: {hex: "04 03 02 01"}}]}
  - bpf: {cmd: BPF_MAP_CREATE, attr: {map_type: 9999}, expect: {errno: EINVAL}}
""")
    assert res.ok, [o for o in res.outcomes if not o.ok] or res.error
    assert res.counts["syscalls"] >= 8


@needs_bpf
def test_load_attach_detach_and_stats():
    res = run("""\
kernel: {sysctl: {kernel.bpf_stats_enabled: 1}}
programs:
  p:
    type: tracing
    attach_type: fentry
    attach_to: bpf_fentry_test1
    asm: |
      r0 = 0
      exit
events:
  - attach: {prog: p, as: l}
  - call: {func: bpf_fentry_test1, args: [1]}
  - expect: {prog: p, run_cnt: 1, recursion_misses: 0}
  - detach: {link: l}
  - call: {func: bpf_fentry_test1, args: [1]}
  - expect: {prog: p, run_cnt: 1}
""")
    assert res.ok, [o for o in res.outcomes if not o.ok] or res.error


@needs_bpf
def test_unexpected_load_failure_stops_and_names_the_program():
    res = run("""\
programs:
  bad:
    type: tracing
    attach_type: fentry
    attach_to: bpf_fentry_test1
    asm: |
      exit
""")
    assert not res.ok and "load of program 'bad' failed" in res.error
    assert res.error_where.line == 2
    assert res.failed[0].details and res.failed[0].details[0].startswith("log: ")


def test_missing_function_btf_is_esrch_like_libbpf():
    res = run("""\
programs:
  p: {type: tracing, attach_type: fentry, attach_to: not_a_function, asm: "r0 = 0\\nexit\\n",
      expect: {errno: ESRCH}}
""")
    assert res.ok, res.outcomes


@needs_bpf
@pytest.mark.skipif(not hasattr(__import__("kernelsim.kernel_state").kernel_state.KernelState, "tracepoint"),
                    reason="kernel.tracepoint (kernelsim/tracing/tracepoints.py) has not landed")
def test_tracepoints_raw_classic_and_syscalls():
    res = run("""\
kernel: {sysctl: {kernel.bpf_stats_enabled: 1}}
tasks: {a: {comm: a}, b: {comm: b}}
programs:
  raw: {type: raw_tracepoint, attach_to: sched_switch, asm: "r0 = 0\\nexit\\n"}
  classic: {type: tracepoint, attach_to: sched/sched_switch, asm: "r0 = 0\\nexit\\n"}
  sys: {type: tracepoint, attach_to: syscalls/sys_enter_getpid, asm: "r0 = 0\\nexit\\n"}
attach: [{prog: raw}, {prog: classic}, {prog: sys}]
events:
  - tracepoint: {name: sched/sched_switch, args: [false, $a, $b, 0]}
  - syscall: {nr: getpid, task: b, args: [], expect: {ret: {min: 1}}}
  - expect: {prog: raw, run_cnt: 1}
  - expect: {prog: classic, run_cnt: 1}
  - expect: {prog: sys, run_cnt: 1}
  - switch: {cpu: 0, task: b}            # a context switch (a was running): sched_switch fires
  - expect: {prog: raw, run_cnt: 2}
""")
    assert res.ok, res.error or res.failed
    assert res.counts["tracepoints"] == 1


@pytest.mark.skipif(not features.has("syscall.object", "bpf_object_open_and_load"), reason="needs the object loader")
def test_a_bpf_c_program_compiled_on_the_fly(scenario_file):
    import shutil
    if shutil.which("clang") is None:
        pytest.skip("no clang")
    src = scenario_file("""\
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
SEC("fentry/bpf_fentry_test1")
int BPF_PROG(hello, int a)
{
	bpf_printk("a=%d", a);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""", "hello.bpf.c")
    f = scenario_file("""\
kernel: {sysctl: {kernel.bpf_stats_enabled: 1}}
programs:
  hello: {source: hello.bpf.c}
attach: [{prog: hello, as: l}]
events:
  - call: {func: bpf_fentry_test1, args: [41], expect: {ret: 42}}
  - expect: {trace_pipe: ["a=41"]}
  - expect: {prog: hello, run_cnt: 1}
  - detach: {link: l, via: link_detach, expect: {errno: EOPNOTSUPP}}   # tracing links: no .detach
  - detach: {link: l}
  - call: {func: bpf_fentry_test1, args: [1]}
  - expect: {prog: hello, run_cnt: 1}
  - close: {fd: hello}
""")
    from kernelsim.replay import replay_file
    res = replay_file(f)
    assert res.ok, res.error or res.failed
    assert src.exists()


@needs_bpf
def test_percpu_map_values_per_cpu_and_summed():
    res = run("""\
kernel: {cpus: 2}
maps:
  pc: {type: percpu_array, key: u32, value: u64, max_entries: 2}
events:
  - map_update: {map: pc, key: 0, value: 5}
  - expect: {map: pc, contains: [{key: 0, value: [5, 5]}], count: 2}
  - expect: {map: pc, contains: [{key: 0, value: 10}]}
""")
    assert res.ok, res.error or res.failed


PROFILES = """\
kernel: {arch: [x86_64, arm64], profile: ["6.18", "5.5"]}
programs:
  p: {type: tracing, attach_type: fentry, attach_to: bpf_fentry_test1, asm: "r0 = 0\\nexit\\n"}
attach: [{prog: p, as: l}]
events:
  - call: {func: bpf_fentry_test1, args: [1], expect: {ret: 2}}
"""


@needs_bpf
def test_profile_lists_replay_every_arch_and_design():
    sc = load_scenario_text(PROFILES, "pr.yaml")
    results = {v.name: Replay(v).run() for v in sc.variants()}
    assert list(results) == ["pr[x86_64,6.18]", "pr[x86_64,5.5]", "pr[arm64,6.18]", "pr[arm64,5.5]"]
    assert {n: r.kernel.profile for n, r in results.items()} == {
        "pr[x86_64,6.18]": "6.18", "pr[x86_64,5.5]": "5.5", "pr[arm64,6.18]": "6.18", "pr[arm64,5.5]": "5.5"}
    # Linux 5.5 had BPF trampolines on x86-64 only: the attach fails with ENOTSUPP on arm64
    assert [n for n, r in results.items() if not r.ok] == ["pr[arm64,5.5]"]
    assert "ENOTSUPP" in results["pr[arm64,5.5]"].error


@needs_bpf
def test_profile_option_overrides_the_file(cli, scenario_file):
    f = scenario_file("kernel: {profile: '5.5'}\nevents:\n  - call: {func: bpf_fentry_test1, args: [1]}\n")
    rc, out, _ = cli(["replay", str(f), "--profile", "6.18", "--profile", "5.5", "-q"])
    assert rc == 0
    assert "s[6.18] (" in out and "x86_64 6.18," in out and "s[5.5] (" in out and "x86_64 5.5," in out
    rc, out, _ = cli(["replay", str(f), "--profile", "6.18", "-q"])
    assert rc == 0 and "s[6.18]" in out and "5.5" not in out
    rc, _, err = cli(["replay", str(f), "--profile", "4.19"])
    assert rc == 2 and "invalid choice" in err
