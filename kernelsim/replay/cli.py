"""``kernelsim replay FILE...``: replay scenarios, print the report, exit 0 only when every
expectation held (invented module; docs/scenarios.md, "The command").

Exit status: 0 every expectation of every file held; 1 an expectation failed, a step failed or
the scenario needs a piece of the simulator this build lacks; 2 a file is not a valid scenario
(bad YAML or a schema violation: one line with file, line and field) or bad options.
"""

from __future__ import annotations

import argparse
import os
import sys

from kernelsim.logging_setup import FORMATS, level_from_verbosity, logging_configured

SCALE_ENV = "KERNELSIM_REPLAY_SCALE"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kernelsim replay",
                                description="replay YAML tracing scenarios against the simulated kernel")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario files (YAML)")
    p.add_argument("--seed", type=int, help="override the scenario's kernel.seed")
    p.add_argument("--profile", action="append", choices=("6.18", "5.5"), default=None,
                   help="replay with this trampoline design instead of kernel.profile; give it twice "
                        "(--profile 6.18 --profile 5.5) to replay each scenario with both")
    p.add_argument("--scale", type=float, default=None,
                   help=f"multiply repeat counts (e.g. 0.01 for a quick run; also ${SCALE_ENV})")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--log-format", choices=FORMATS, default="console",
                   help="structured log on stderr: console (default) or json lines")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="-v: info events (every syscall, attach, call); -vv: debug")
    p.add_argument("-q", "--quiet", action="store_true", help="text report: failures and summary only")
    p.add_argument("--progress", choices=("auto", "never", "always"), default="auto",
                   help="progress bar on stderr for long repeats (auto: only on a terminal, not under $CI)")
    p.add_argument("--timing", action="store_true",
                   help="add wall-clock time and events/s (not deterministic)")
    p.add_argument("--validate", action="store_true", help="only check the files against the schema")
    return p


def _scale(args) -> float | None:
    if args.scale is not None:
        return args.scale
    env = os.environ.get(SCALE_ENV)
    if env:
        try:
            return float(env)
        except ValueError:
            raise SystemExit(f"kernelsim replay: ${SCALE_ENV}={env!r} is not a number") from None
    return None


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); nothing when not a TTY."""

    def __init__(self, stream):
        self.stream = stream
        self.last = None

    def __call__(self, label: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        pct = 100 * done // max(total, 1)
        text = f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {pct:3d}% {done}/{total}"
        if text != self.last:
            self.stream.write(text)
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            self.last = text


def load_all(files, err=None):
    """Load and validate every file: (scenarios, ok)."""
    from . import ScenarioError, load_scenario
    err = err or sys.stderr
    scenarios, ok = [], True
    for f in files:
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as e:
            print(f"kernelsim replay: {e}", file=err)
            ok = False
    return scenarios, ok


def run_scenarios(scenarios, seed=None, scale=None, progress=None, profiles=None):
    from .runner import Replay
    return [Replay(v, seed=seed, scale=1.0 if scale is None else scale, progress=progress).run()
            for sc in scenarios for v in sc.variants(profiles)]


def replay_main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        scale = _scale(args)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    if scale is not None and scale <= 0:
        print("kernelsim replay: --scale must be positive", file=sys.stderr)
        return 2
    with logging_configured(level_from_verbosity(args.verbose), args.log_format):
        scenarios, ok = load_all(args.files)
        if not ok:
            return 2
        if args.validate:
            for sc in scenarios:
                print(f"{sc.file}: valid scenario {sc.name!r}")
            return 0
        show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty()
                                             and not os.environ.get("CI"))
        progress = ProgressBar(sys.stderr) if show else None
        results = run_scenarios(scenarios, args.seed, scale, progress, args.profile)
    from .report import render_json, text_report
    if args.json:
        sys.stdout.write(render_json(results, args.timing))
    else:
        for r in results:
            sys.stdout.write(text_report(r, verbose=not args.quiet, timing=args.timing))
    sys.stdout.flush()
    return 0 if all(r.ok for r in results) else 1


main = replay_main
