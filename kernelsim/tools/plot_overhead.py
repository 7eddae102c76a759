"""Measure the tracing overhead and draw docs/img/tracing-overhead.png (a measurement script,
outside the test suite; it reads the host's clock to time the simulator, which the simulation
itself never does).

    python -m kernelsim.tools.plot_overhead [--out docs/img/tracing-overhead.png] [--quick]

Left: microseconds per ``kernel.call("bpf_fentry_test1", 1)`` with N fentry or N fexit programs
(each an array-map counter increment, real BPF through the verifier and the interpreter) against
running the same N programs directly with ``bpf_prog_run`` plus one untraced call, and the
same fentry programs under the 5.5 design (the seed commit's trampoline); right: the
latency of attaching one more link to a function that has N and detaching it again (two image
regenerations), for the 6.18 and 5.5 designs. Prints the figures as a Markdown table.
Needs matplotlib (``pip install matplotlib``; an optional dev dependency).
"""

import argparse
import sys
import time

from .tracing_bench import Scenario

COUNTS = (0, 1, 2, 4, 8, 16, 32, 38)
ATTACH_COUNTS = (1, 2, 4, 8, 16, 24, 32, 37)


def _per_call_us(fn, calls: int, repeats: int) -> float:
    """Microseconds per ``fn()``: the best of ``repeats`` rounds of ``calls`` (the minimum is
    the figure least disturbed by other load on the host, as pytest-benchmark's min)."""
    fn()                                                # warm (first images, stacks)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return min(samples)


def measure(quick: bool = False) -> dict:
    calls, repeats = (20, 3) if quick else (200, 15)
    out = {"n": list(COUNTS), "fentry": [], "fexit": [], "fentry_5.5": [], "direct": [],
           "attach_n": list(ATTACH_COUNTS),
           "attach_6.18": [], "attach_5.5": []}
    for n in COUNTS:
        for kind in ("fentry", "fexit"):
            out[kind].append(_per_call_us(Scenario(n, kind).traced_call, calls, repeats))
        out["fentry_5.5"].append(_per_call_us(Scenario(n, "fentry", "5.5").traced_call, calls, repeats))
        out["direct"].append(_per_call_us(Scenario(n, attach=False).direct_run, calls, repeats))
    acalls = max(3, calls // 20)
    for n in ATTACH_COUNTS:
        for profile in ("6.18", "5.5"):
            out[f"attach_{profile}"].append(_per_call_us(Scenario(n, "fentry", profile).attach_detach,
                                                         acalls, repeats))
    return out


def table(r: dict) -> str:
    lines = ["| N | fentry (us/call) | fexit (us/call) | fentry 5.5 (us/call) | direct N progs (us) "
             "| fentry / direct | fexit / direct | fentry 5.5 / direct |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, n in enumerate(r["n"]):
        d = r["direct"][i]
        lines.append(f"| {n} | {r['fentry'][i]:.1f} | {r['fexit'][i]:.1f} | {r['fentry_5.5'][i]:.1f} | "
                     f"{d:.1f} | {r['fentry'][i] / d:.2f} | {r['fexit'][i] / d:.2f} | "
                     f"{r['fentry_5.5'][i] / d:.2f} |")
    lines += ["", "| links already there | attach+detach 6.18 (us) | attach+detach 5.5 (us) |",
              "|---:|---:|---:|"]
    for i, n in enumerate(r["attach_n"]):
        lines.append(f"| {n} | {r['attach_6.18'][i]:.0f} | {r['attach_5.5'][i]:.0f} |")
    return "\n".join(lines)


def plot(r: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    a.plot(r["n"], r["fentry"], "o-", label="traced call, N fentry")
    a.plot(r["n"], r["fexit"], "s-", label="traced call, N fexit")
    a.plot(r["n"], r["fentry_5.5"], "d:", label="traced call, N fentry, 5.5 design")
    a.plot(r["n"], r["direct"], "^--", label="N programs run directly + untraced call")
    a.set_xlabel("programs attached (N)")
    a.set_ylabel("microseconds per call")
    a.set_title("cost of a traced kernel call (bpf_fentry_test1)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    b.plot(r["attach_n"], r["attach_6.18"], "o-", label="6.18: fresh image per update")
    b.plot(r["attach_n"], r["attach_5.5"], "s-", label="5.5: half-page flip")
    b.set_xlabel("links already on the function")
    b.set_ylabel("microseconds (attach + detach)")
    b.set_title("attach/detach latency (two regenerations)")
    b.grid(alpha=0.3)
    b.legend(fontsize=8)
    fig.suptitle("kernelsim BPF trampoline overhead (interpreted programs, simulated x86-64)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernelsim.tools.plot_overhead")
    ap.add_argument("--out", default="docs/img/tracing-overhead.png")
    ap.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_overhead: matplotlib is needed (pip install matplotlib)", file=sys.stderr)
        return 2
    import structlog
    import logging
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    r = measure(args.quick)
    print(table(r))
    import os
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plot(r, args.out)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
