"""``kernelsim btf``: inspect BTF files (after ``bpftool btf dump``; tools/bpf/bpftool/btf.c).

    kernelsim btf dump [FILE] [--format raw|c] [--base BASE]
    kernelsim btf funcs [FILE] [--summary] [--profile 6.18|5.5] [--base BASE]
    kernelsim btf check FILE [--base BASE] [--log-level N]

Without FILE, the embedded kernel BTF (btf/data/kernelsim-6.18.btf). ``dump --format raw`` prints
what ``bpftool btf dump file FILE format raw`` prints; ``--format c`` a vmlinux.h. ``funcs``
distills every FUNC (btf_distill_func_proto): one line per function, or with ``--summary`` the
counts accepted and refused by reason. ``check`` runs the BPF_BTF_LOAD checks and prints the log.
Exit status: 0 on success, 1 for a BTF error (message on stderr), 2 for usage errors.
"""

import argparse
import collections
import sys
from pathlib import Path

from .btf import Btf
from .errors import BtfError, errno_name


def _write(text: str) -> None:
    out = sys.stdout
    buf = getattr(out, "buffer", None)
    if buf is not None:
        out.flush()
        buf.write(text.encode("utf-8", "surrogateescape"))
        buf.flush()
    else:
        out.write(text)


def _load(path: str | None, base_path: str | None) -> Btf:
    if path is None:
        from .embedded import embedded_btf
        return embedded_btf()
    base = Btf.parse(Path(base_path).read_bytes()) if base_path else None
    return Btf.parse(Path(path).read_bytes(), base)


def _dump(args) -> int:
    btf = _load(args.file, args.base)
    if args.format == "raw":
        from .dump_raw import btf_dump_raw
        _write(btf_dump_raw(btf))
    else:
        from .dump_c import btf_dump_c
        _write(btf_dump_c(btf, args.arch))
    return 0


def _format_model(m) -> str:
    args = ", ".join(f"{s}" + (f"/{f:#x}" if f else "") for s, f in zip(m.arg_size, m.arg_flags))
    return f"ret_size={m.ret_size} ret_flags={m.ret_flags:#x} nr_args={m.nr_args} args=[{args}]"


def _funcs(args) -> int:
    from .distill import distill_all, distill_reason
    btf = _load(args.file, args.base)
    accepted = 0
    refused: collections.Counter = collections.Counter()
    lines = []
    for tid, name, res in distill_all(btf, args.profile):
        if isinstance(res, BtfError):
            refused[f"{errno_name(res.errno)}: {distill_reason(res.message)}"] += 1
            if not args.summary:
                lines.append(f"[{tid}] {name}: refused: {errno_name(res.errno)} {res.message}\n")
        else:
            accepted += 1
            if not args.summary:
                lines.append(f"[{tid}] {name}: {_format_model(res)}\n")
    if args.summary:
        total = accepted + sum(refused.values())
        lines.append(f"profile {args.profile}: {total} functions, {accepted} accepted, "
                     f"{sum(refused.values())} refused\n")
        for reason, n in sorted(refused.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"{n:8d}  {reason}\n")
    _write("".join(lines))
    return 0


def _check(args) -> int:
    from .verifier import btf_check
    base = Btf.parse(Path(args.base).read_bytes()) if args.base else None
    data = Path(args.file).read_bytes()
    try:
        btf, log = btf_check(data, args.log_level, base)
    except BtfError as e:
        _write(e.log + ("\n" if e.log and not e.log.endswith("\n") else ""))
        print(f"kernelsim btf check: {errno_name(e.errno)}: {e.message}", file=sys.stderr)
        return 1
    _write(log)
    print(f"kernelsim btf check: ok, {len(btf)} types", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kernelsim btf", description="inspect BTF files")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="print a BTF (bpftool's raw text, or a vmlinux.h)")
    d.add_argument("file", nargs="?", help="BTF file (default: the embedded kernel BTF)")
    d.add_argument("--format", choices=("raw", "c"), default="raw")
    d.add_argument("--base", help="base BTF of a split BTF")
    d.add_argument("--arch", choices=("x86_64", "arm64", "i386", "riscv64", "s390x"), default=None,
                   help="format c: add the architecture's uapi register struct libbpf's "
                        "PT_REGS_* macros need (arm64 user_pt_regs ...) when the BTF lacks it")
    d.set_defaults(run=_dump)
    f = sub.add_parser("funcs", help="distill the function models of every FUNC")
    f.add_argument("file", nargs="?", help="BTF file (default: the embedded kernel BTF)")
    f.add_argument("--summary", action="store_true", help="counts by outcome only")
    f.add_argument("--profile", choices=("6.18", "5.5"), default="6.18")
    f.add_argument("--base", help="base BTF of a split BTF")
    f.set_defaults(run=_funcs)
    c = sub.add_parser("check", help="validate as BPF_BTF_LOAD does and print the verifier log")
    c.add_argument("file")
    c.add_argument("--base", help="base BTF of a split BTF")
    c.add_argument("--log-level", type=int, default=1)
    c.set_defaults(run=_check)
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return args.run(args)
    except BtfError as e:
        print(f"kernelsim btf: {errno_name(e.errno)}: {e.message}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kernelsim btf: {e}", file=sys.stderr)
        return 1
