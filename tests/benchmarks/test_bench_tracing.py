"""Benchmarks (group "trampoline"): the cost of a traced kernel call with N real fentry or fexit
programs against running the same N programs directly, and attach/detach latency against the
number of links already on the function, for both profiles (kernelsim/tools/tracing_bench.py).

Run: python -m pytest tests/benchmarks/test_bench_tracing.py --benchmark-enable
Plot: python -m kernelsim.tools.plot_overhead    (docs/img/tracing-overhead.png)
"""

import pytest

from kernelsim.tools.tracing_bench import Scenario

COUNTS = [0, 1, 2, 4, 8, 16, 32, 38]


@pytest.mark.benchmark(group="trampoline")
@pytest.mark.parametrize("profile", ["6.18", "5.5"])
@pytest.mark.parametrize("kind", ["fentry", "fexit"])
@pytest.mark.parametrize("n", COUNTS)
def test_bench_traced_call(benchmark, n, kind, profile):
    s = Scenario(n, kind, profile)
    assert s.kernel.profile == profile
    before = s.count
    assert benchmark(s.traced_call) == 2
    runs = s.count - before
    assert runs % max(n, 1) == 0 and (n == 0) == (runs == 0)
    assert all(p.stats.misses == 0 for p in s.progs)


@pytest.mark.benchmark(group="trampoline")
@pytest.mark.parametrize("n", COUNTS)
def test_bench_direct_programs(benchmark, n):
    s = Scenario(n, attach=False)
    assert benchmark(s.direct_run) == 2
    assert s.count % max(n, 1) == 0


@pytest.mark.benchmark(group="trampoline")
@pytest.mark.parametrize("profile", ["6.18", "5.5"])
@pytest.mark.parametrize("n", [1, 8, 16, 37])
def test_bench_attach_detach(benchmark, n, profile):
    s = Scenario(n, "fentry", profile)
    tr = s.kernel.functions["bpf_fentry_test1"].trampoline
    before = tr.nr_images
    benchmark(s.attach_detach)
    assert (tr.nr_images - before) % 2 == 0 and tr.nr_images > before
    assert sum(tr.progs_cnt) == n
