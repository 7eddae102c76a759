"""``kernelsim tracefs cat PATH`` / ``kernelsim tracefs ls [PATH]``: the simulated tracefs of a fresh
machine (kernelsim/tracing/tracefs.py): event formats and ids, available_events, the kprobe PMU's
sysfs files. ``--arch`` picks the machine's architecture (syscall event numbers differ)."""

import argparse
import sys


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="kernelsim tracefs")
    ap.add_argument("op", choices=("cat", "ls"))
    ap.add_argument("path", nargs="?", default="")
    ap.add_argument("--arch", default="x86_64")
    args = ap.parse_args(argv)
    from kernelsim import Kernel
    fs = Kernel(arch=args.arch).tracefs
    try:
        if args.op == "cat":
            sys.stdout.write(fs.read(args.path))
        else:
            sys.stdout.write("".join(f"{n}\n" for n in fs.listdir(args.path)))
    except FileNotFoundError:
        print(f"kernelsim tracefs: {args.path}: No such file or directory", file=sys.stderr)
        return 1
    return 0
