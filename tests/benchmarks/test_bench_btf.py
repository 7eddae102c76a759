"""BTF benchmarks (pytest-benchmark group "btf"), each asserting what it computed.

    python -m pytest tests/benchmarks/test_bench_btf.py --benchmark-enable

Parsing vmlinux-6.18.btf, the bpftool raw dump of it (beside bpftool itself doing the same work:
``bpftool btf dump file ... format raw > /dev/null``, timed here as the reference, the ratio in
``extra_info``), the C dump, the BPF_BTF_LOAD checks, and distilling every FUNC.
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from btf import Btf, btf_check, btf_dump_c, btf_dump_raw
from btf.distill import distill_all
from btf.errors import BtfError
from tests.paths import VMLINUX_BTF

VMLINUX = VMLINUX_BTF
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="vmlinux-6.18.btf not present")

ONCE = dict(rounds=3, iterations=1, warmup_rounds=0)


@pytest.fixture(scope="module")
def data() -> bytes:
    return VMLINUX.read_bytes()


@pytest.fixture(scope="module")
def btf(data) -> Btf:
    return Btf.parse(data)


def bpftool_raw_seconds(runs: int = 3) -> float | None:
    if not Path(BPFTOOL).exists():
        return None
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([BPFTOOL, "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                       stdout=subprocess.DEVNULL, check=True)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


@pytest.mark.benchmark(group="btf")
def test_bench_parse(benchmark, data):
    btf = benchmark.pedantic(Btf.parse, args=(data,), **ONCE)
    assert btf.nr_types == 126566


@pytest.mark.benchmark(group="btf")
def test_bench_parse_and_materialise(benchmark, data):
    def run():
        b = Btf.parse(data)
        return sum(1 for _ in b.types())
    assert benchmark.pedantic(run, **ONCE) == 126565


@pytest.mark.benchmark(group="btf")
def test_bench_dump_raw(benchmark, data):
    text = benchmark.pedantic(lambda: btf_dump_raw(Btf.parse(data)), **ONCE)
    assert text.count("\n[") == 126564
    ref = bpftool_raw_seconds()
    if ref is not None and benchmark.stats is not None:
        ours = benchmark.stats.stats.min
        benchmark.extra_info.update(bpftool_seconds=round(ref, 4), ratio_vs_bpftool=round(ours / ref, 2))


@pytest.mark.benchmark(group="btf")
@pytest.mark.skipif(not Path(BPFTOOL).exists(), reason="bpftool not installed")
def test_bench_bpftool_dump_raw_reference(benchmark):
    def run():
        return subprocess.run([BPFTOOL, "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                              stdout=subprocess.PIPE, check=True).stdout
    out = benchmark.pedantic(run, **ONCE)
    assert out.count(b"\n[") == 126564


@pytest.mark.benchmark(group="btf")
def test_bench_dump_c(benchmark, data):
    text = benchmark.pedantic(lambda: btf_dump_c(Btf.parse(data)), rounds=1, iterations=1)
    assert "struct task_struct {" in text


@pytest.mark.benchmark(group="btf")
def test_bench_encode(benchmark, data):
    def run():
        return Btf.parse(data).to_bytes()
    assert benchmark.pedantic(run, **ONCE) == data


@pytest.mark.benchmark(group="btf")
def test_bench_check(benchmark, data):
    btf, log = benchmark.pedantic(btf_check, args=(data, 0), rounds=1, iterations=1)
    assert btf.nr_types == 126566 and log == ""


@pytest.mark.benchmark(group="btf")
def test_bench_distill_all(benchmark, data):
    def run():
        b = Btf.parse(data)
        ok = refused = 0
        for _, _, m in distill_all(b):
            if isinstance(m, BtfError):
                refused += 1
            else:
                ok += 1
        return ok, refused
    assert benchmark.pedantic(run, **ONCE) == (55938, 313)
