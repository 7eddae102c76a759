"""The replay report: text for people, JSON for machines (invented module).

Both are functions of the ``ReplayResult`` alone and contain nothing that changes from run to
run (no wall-clock time, no addresses of Python objects, no absolute paths beyond what was given
on the command line), so the same file and seed give the same bytes. The one exception is the
optional timing line (``--timing``), which says so.

Text::

    replay tcp_retransmit (scenarios/tcp_retransmit.yaml): x86_64 6.18, 2 CPUs, seed 1
      ok    scenarios/tcp_retransmit.yaml:88   map 'retrans': exactly 2 entries
      FAIL  scenarios/tcp_retransmit.yaml:95   program 'count_retrans': run_cnt == 3
              expected: run_cnt 3
              actual:   run_cnt 2
      events: 5 (5 kernel calls, 0 tracepoints) and 9 syscalls in 0.000001 s of virtual time: ...
    FAIL tcp_retransmit: 1 of 7 expectations failed
"""

from __future__ import annotations

import json

from .runner import ReplayResult


def _rate(res: ReplayResult):
    ev = res.counts.get("events", 0)
    if not res.virtual_ns or not ev:
        return None
    return ev * 1_000_000_000 // res.virtual_ns


def summary_line(res: ReplayResult) -> str:
    checked = sum(o.count for o in res.outcomes)
    failed = sum(o.count for o in res.failed)
    if res.missing is not None:
        return f"XFAIL {res.scenario.name}: needs {res.missing.feature}"
    if res.error is not None:
        return f"ERROR {res.scenario.name}: stopped at {res.error_where}: {res.error}" if res.error_where \
            else f"ERROR {res.scenario.name}: {res.error}"
    if failed:
        return f"FAIL {res.scenario.name}: {failed} of {checked} expectations failed"
    return f"PASS {res.scenario.name}: {checked} expectation{'s' if checked != 1 else ''} held"


def text_report(res: ReplayResult, verbose: bool = True, timing: bool = False) -> str:
    sc = res.scenario
    k = sc.kernel
    lines = [f"replay {sc.name} ({sc.file}): {k.arch} {k.profile}, {k.cpus} CPU{'s' if k.cpus != 1 else ''}, "
             f"seed {res.seed}" + (f", scale {res.scale:g}" if res.scale != 1.0 else "")]
    width = max([len(f"{o.where.file}:{o.where.line}") for o in res.outcomes] + [0])
    for o in res.outcomes:
        if o.ok and not verbose:
            continue
        place = f"{o.where.file}:{o.where.line}".ljust(width)
        times = f" (x{o.count})" if o.count > 1 else ""
        lines.append(f"  {'ok  ' if o.ok else 'FAIL'}  {place}  {o.what}: {o.expected}{times}")
        if not o.ok:
            lines.append(f"          expected: {o.expected}")
            lines.append(f"          actual:   {o.actual}")
            lines.extend(f"            {d}" for d in o.details[:20])
            if len(o.details) > 20:
                lines.append(f"            ... {len(o.details) - 20} more")
    c = res.counts
    if res.error is None and res.missing is None or c.get("events"):
        vt = res.virtual_ns / 1e9
        ev = c.get("events", 0)
        line = (f"  events: {ev} ({c.get('calls', 0)} kernel calls, {c.get('tracepoints', 0)} tracepoints) "
                f"and {c.get('syscalls', 0)} syscalls in {vt:.6f} s of virtual time")
        rate = _rate(res)
        if rate is not None:
            line += f": {rate} events/s (virtual)"
        lines.append(line)
    if timing and res.wall_s > 0:
        ev = c.get("events", 0)
        lines.append(f"  wall clock: {res.wall_s:.3f} s, {ev / res.wall_s:.0f} events/s "
                     f"(not deterministic)")
    if res.missing is not None:
        lines.append(f"  not run to the end: {res.missing}")
    lines.append(summary_line(res))
    return "\n".join(lines) + "\n"


def json_report(res: ReplayResult, timing: bool = False) -> dict:
    sc = res.scenario
    out = {
        "scenario": sc.name,
        "file": sc.file,
        "sha256": sc.digest,
        "kernel": {"arch": sc.kernel.arch, "profile": sc.kernel.profile, "cpus": sc.kernel.cpus,
                   "btf": sc.kernel.btf},
        "seed": res.seed,
        "scale": res.scale,
        "ok": res.ok,
        "status": summary_line(res).split(" ", 1)[0].lower(),
        "error": None if res.error is None else {
            "message": res.error,
            "file": res.error_where.file if res.error_where else sc.file,
            "line": res.error_where.line if res.error_where else None},
        "missing": None if res.missing is None else {"feature": res.missing.feature,
                                                      "detail": res.missing.detail},
        "counts": dict(res.counts),
        "virtual_ns": res.virtual_ns,
        "events_per_second_virtual": _rate(res),
        "summary": {"checked": sum(o.count for o in res.outcomes),
                    "failed": sum(o.count for o in res.failed)},
        "expectations": [o.as_dict() for o in res.outcomes],
    }
    if timing:
        out["wall_s"] = res.wall_s
    return out


def render_json(results: list, timing: bool = False) -> str:
    """The --json document for one or more replays (sorted keys, two-space indent)."""
    doc = {"ok": all(r.ok for r in results), "replays": [json_report(r, timing) for r in results]}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
