"""Verifier speed (pytest-benchmark group "verifier"): a 10k-instruction straight-line program and
a bounded loop that makes the verifier process ~100k instructions, next to Linux's own
verification time for the same bytes (log_level BPF_LOG_STATS | 1, "verification time N usec")
when bpf() is available. The ratio and both processed-insn counts go into extra_info.

    python -m pytest tests/benchmarks/test_bench_verifier.py --benchmark-enable -s
"""

import pathlib
import re
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "kernelsim" / "verifier"))

import harness  # noqa: E402
import realbpf  # noqa: E402


def straight_line(n: int = 10_000) -> str:
    body = []
    ops = ["r{a} += {k}", "r{a} ^= r{b}", "*(u64 *)(r10 -{s}) = r{a}", "r{a} = *(u64 *)(r10 -{s})",
           "r{a} &= {k}", "w{a} += w{b}", "r{a} <<= 3", "r{a} = r{b}"]
    for i in range(n - 6):
        a, b = 2 + i % 4, 2 + (i + 1) % 4
        body.append(ops[i % len(ops)].format(a=a, b=b, k=(i * 7) % 1000, s=8 * (1 + i % 16)))
    init = ["r2 = 1", "r3 = 2", "r4 = 3", "r5 = 4"]
    return "\n".join(init + body[: n - 6] + ["r0 = 0", "exit"])


LOOP = "r0 = 0\nr1 = 0\nr1 += r0\nr1 &= 1023\nr0 += 1\nif r0 < 0x61a8 goto -4\nr0 = 0\nexit"


def _linux_usec(insns) -> tuple[int, int]:
    if not realbpf.available():
        return 0, 0
    r = realbpf.prog_load(2, harness.insn_bytes(insns), "GPL", 5, 1 << 24)
    text = r["log"].split(b"\0")[0].decode()
    usec = int(re.search(r"verification time (\d+) usec", text).group(1))
    n = int(re.search(r"processed (\d+) insns", text).group(1))
    return usec, n


def _bench(benchmark, insns):
    def once():
        r = harness.ks_load(2, insns, "GPL", 0, 0)
        assert r.errno == 0
        return r
    t0 = time.perf_counter()
    r = benchmark.pedantic(once, rounds=1, iterations=1)
    ks_usec = (time.perf_counter() - t0) * 1e6
    lx_usec, lx_n = _linux_usec(insns)
    benchmark.extra_info.update(kernelsim_insns=r.insn_processed, linux_insns=lx_n,
                                linux_usec=lx_usec, kernelsim_usec=int(ks_usec),
                                ratio=round(ks_usec / lx_usec, 1) if lx_usec else None)
    print(f"\n{benchmark.name}: kernelsim {ks_usec / 1e3:.0f} ms, {r.insn_processed} insns; "
          f"linux {lx_usec / 1e3:.1f} ms, {lx_n} insns; ratio {ks_usec / max(lx_usec, 1):.0f}x")
    return r, lx_n


@pytest.mark.benchmark(group="verifier")
def test_bench_straight_line_10k(benchmark):
    insns = harness.asm(straight_line())
    assert len(insns) == 10_000
    r, lx_n = _bench(benchmark, insns)
    assert r.insn_processed == 10_000
    if lx_n:
        assert lx_n == r.insn_processed


@pytest.mark.benchmark(group="verifier")
def test_bench_bounded_loop_100k(benchmark):
    insns = harness.asm(LOOP)
    r, lx_n = _bench(benchmark, insns)
    assert 90_000 <= r.insn_processed <= 110_000
