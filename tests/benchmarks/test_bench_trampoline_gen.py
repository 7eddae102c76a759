"""Benchmarks (group "trampoline"): image generation vs number of links, and the per-call cost of
the executable form with N no-op programs vs calling the N programs directly in a Python loop.

Run: python -m pytest tests/benchmarks/test_bench_trampoline_gen.py --benchmark-enable
"""

import pytest

from btf.func_model import FuncModel
from trampoline import (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BpfTrampHooks, BpfTrampLink,
                        arch_prepare_bpf_trampoline, bpf_trampoline_flags, encode_call)
from trampoline.runtime import ListRuntime

ETH = FuncModel(2, 0, 2, (8, 8), (0, 0))
CALLS = 200                                  # traced calls per benchmark round


def links(n, counter):
    def prog(ctx):
        counter[0] += 1
        return 0
    half = n // 2
    return {BPF_TRAMP_FENTRY: [BpfTrampLink(prog) for _ in range(n - half)],
            BPF_TRAMP_FEXIT: [BpfTrampLink(prog) for _ in range(half)]}


@pytest.mark.benchmark(group="trampoline")
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
@pytest.mark.parametrize("nlinks", [1, 10, 38])
def test_bench_generate(benchmark, nlinks, arch):
    tl = links(nlinks, [0])
    flags = bpf_trampoline_flags(tl)
    image = benchmark(arch_prepare_bpf_trampoline, ETH, tl, flags, arch, runtime=ListRuntime())
    assert image.nr_links == nlinks and image.size > 0


def _orig(regs, stack, mem=None):
    return regs[0] + regs[1]


@pytest.mark.benchmark(group="trampoline")
@pytest.mark.parametrize("mode", ["direct", "image", "image+hooks"])
@pytest.mark.parametrize("nprogs", [1, 10, 38])
def test_bench_call(benchmark, nprogs, mode):
    counter = [0]
    tl = links(nprogs, counter)
    if mode == "direct":
        progs = tl[BPF_TRAMP_FENTRY] + tl[BPF_TRAMP_FEXIT]
        funcs = [l.bpf_func for l in progs]

        def run():
            for _ in range(CALLS):
                for f in funcs:
                    f(0x1000)
                _orig([1, 2], [])
    else:
        hooks = BpfTrampHooks(lambda p, rc: 1, lambda p, s, rc: None) if mode == "image+hooks" else None
        image = arch_prepare_bpf_trampoline(ETH, tl, bpf_trampoline_flags(tl), "x86_64", orig=_orig,
                                            hooks=hooks, runtime=ListRuntime())
        native = encode_call(ETH, "x86_64", [1, 2])
        fn, regs, stack = image.run, native.regs, native.stack

        def run():
            for _ in range(CALLS):
                assert fn(regs, stack) == 3
    benchmark(run)
    assert counter[0] % (CALLS * nprogs) == 0 and counter[0] > 0
