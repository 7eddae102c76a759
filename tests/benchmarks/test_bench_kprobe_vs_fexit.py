"""The cost of a traced call: a kprobe + kretprobe pair against one fexit program (pytest-benchmark
group "trampoline").

The old pattern (the trampoline commit's motivation): to see an argument and the return value
together, a kprobe stashes the argument in a hash map keyed by pid_tgid and a kretprobe looks it
up, combines it with PT_REGS_RC and deletes it. An fexit program sees both in its ctx. Both sum
``b + ret`` of ``bpf_fentry_test2(a, b)`` into an array map; each benchmark round makes CALLS
calls and asserts the sum against the Python model. Both are loaded through task.bpf from
assembly and attached the way libbpf does (kprobe PMU perf events + perf links; LINK_CREATE for
fexit).

Figures: ``python -m pytest tests/benchmarks/test_bench_kprobe_vs_fexit.py --benchmark-enable``
(wall clock per round, docs/tracepoints-kprobes.md); ``test_ratio`` prints the wall-clock and
the virtual-time ratio of one round each (the virtual clock charges instructions and
trampoline runs, so that ratio is deterministic). With --benchmark-disable each runs once.
"""

import time

import pytest

from kernelsim.uapi import BpfAttachType as AT
from tests.kernelsim.tracing.tp_support import HASH, KPROBE, TRACING, Tracer

CALLS = 200

KPROBE_STASH = """
r6 = *(u64 *)(r1 +104)
*(u64 *)(r10 -16) = r6
call bpf_get_current_pid_tgid
*(u64 *)(r10 -8) = r0
r1 = map_fd({h})
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
call bpf_map_update_elem
r0 = 0
exit
"""

KRETPROBE_COMBINE = """
r6 = *(u64 *)(r1 +80)
call bpf_get_current_pid_tgid
*(u64 *)(r10 -8) = r0
r1 = map_fd({h})
r2 = r10
r2 += -8
call bpf_map_lookup_elem
if r0 == 0 goto out
r7 = *(u64 *)(r0 +0)
r7 += r6
r1 = map_fd({h})
r2 = r10
r2 += -8
call bpf_map_delete_elem
r1 = map_fd({sum})
*(u32 *)(r10 -12) = 0
r2 = r10
r2 += -12
call bpf_map_lookup_elem
if r0 == 0 goto out
lock *(u64 *)(r0 +0) += r7
out:
r0 = 0
exit
"""

FEXIT = """
r6 = *(u64 *)(r1 +8)
r7 = *(u64 *)(r1 +16)
r6 += r7
r1 = map_fd({sum})
*(u32 *)(r10 -4) = 0
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
lock *(u64 *)(r0 +0) += r6
out:
r0 = 0
exit
"""


def expected(rounds: int) -> int:
    return rounds * sum(i + (1 + i) for i in range(CALLS))      # b + ret, ret = a + b with a = 1


def setup_kprobes():
    T = Tracer()
    h = T.map(HASH, 8, 8, 64)
    s = T.array(1)
    kp = T.load(KPROBE, KPROBE_STASH.format(h=h))
    krp = T.load(KPROBE, KRETPROBE_COMBINE.format(h=h, sum=s))
    assert T.attach_perf(kp, T.kprobe_event("bpf_fentry_test2")) >= 0
    assert T.attach_perf(krp, T.kprobe_event("bpf_fentry_test2", retprobe=True)) >= 0
    return T, s


def setup_fexit():
    T = Tracer()
    s = T.array(1)
    fx = T.load(TRACING, FEXIT.format(sum=s), eat=AT.BPF_TRACE_FEXIT,
                attach_btf_id=T.btf_id("bpf_fentry_test2", "func"))
    assert T.link(fx, 0, AT.BPF_TRACE_FEXIT) >= 0
    return T, s


def run_calls(T):
    fn = T.kernel.functions["bpf_fentry_test2"]
    call = T.kernel.call
    for i in range(CALLS):
        call(fn, 1, i)


@pytest.mark.benchmark(group="trampoline")
def test_kprobe_kretprobe_pair(benchmark):
    T, s = setup_kprobes()
    benchmark.pedantic(run_calls, args=(T,), rounds=3, iterations=1, warmup_rounds=0)
    rounds = T.u64(s) // expected(1)
    assert rounds >= 1 and T.u64(s) == expected(rounds)


@pytest.mark.benchmark(group="trampoline")
def test_fexit(benchmark):
    T, s = setup_fexit()
    benchmark.pedantic(run_calls, args=(T,), rounds=3, iterations=1, warmup_rounds=0)
    rounds = T.u64(s) // expected(1)
    assert rounds >= 1 and T.u64(s) == expected(rounds)


def _one_round(setup):
    T, s = setup()
    run_calls(T)                                   # warm (caches, decoded programs)
    v0, t0 = T.kernel.clock.ns, time.perf_counter()
    run_calls(T)
    wall, virt = time.perf_counter() - t0, T.kernel.clock.ns - v0
    assert T.u64(s) == expected(2)
    return wall, virt


def test_ratio(capsys):
    kp_wall, kp_virt = _one_round(setup_kprobes)
    fx_wall, fx_virt = _one_round(setup_fexit)
    assert kp_virt > fx_virt                       # two programs, a map update, lookup, delete
    with capsys.disabled():
        print(f"\nkprobe+kretprobe vs fexit, {CALLS} calls: wall {kp_wall * 1e6 / CALLS:.1f} vs "
              f"{fx_wall * 1e6 / CALLS:.1f} us/call (x{kp_wall / fx_wall:.2f}); virtual "
              f"{kp_virt / CALLS:.0f} vs {fx_virt / CALLS:.0f} ns/call (x{kp_virt / fx_virt:.2f})")
