"""``kernelsim trampoline show FUNC``: the BPF trampoline image kernelsim would generate for a
kernel function, as a commented listing (registered in kernelsim/cli.py SUBCOMMANDS).

    kernelsim trampoline show eth_type_trans
    kernelsim trampoline show bpf_modify_return_test --fexit 1 --fmod-ret 2 --arch arm64
    kernelsim trampoline show tcp_retransmit_skb --profile 5.5 --fentry 2 --fexit 1
    kernelsim trampoline show vfs_read --btf /sys/kernel/btf/vmlinux --ip-arg
    kernelsim trampoline show tcp_retransmit_skb --after scenarios/tcp_retransmit.yaml

The FuncModel is distilled from the kernel BTF (the embedded one, or ``--btf FILE``) with the
profile's rules; the address is the function's simulated kallsyms address; the programs are
dummies named fentry0.., fmod_ret0.., fexit0.. (newest first: the highest number runs first);
the flags are what bpf_trampoline_update would compute. With ``--after SCENARIO`` the scenario is
replayed first and the listing is that of the image the machine really runs for FUNC at its end
(its architecture, profile, programs and flags; the other options do not apply). Errors (unknown function, a prototype
the profile cannot trace, too many programs, an unknown architecture, an unreadable BTF) print
one line on stderr and exit with status 2.
"""

import argparse
import sys

ARCHES = ("x86_64", "arm64", "i386", "riscv64", "s390x")


class _CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _CliError(message)


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="kernelsim trampoline", description="BPF trampoline images")
    sub = ap.add_subparsers(dest="cmd")
    show = sub.add_parser("show", help="print the image listing for FUNC")
    show.add_argument("func")
    show.add_argument("--arch", default="x86_64")
    show.add_argument("--fentry", type=int, default=None)
    show.add_argument("--fexit", type=int, default=0)
    show.add_argument("--fmod-ret", dest="fmod_ret", type=int, default=0)
    show.add_argument("--profile", default="6.18", choices=("6.18", "5.5"))
    show.add_argument("--btf", default=None, help="a vmlinux BTF file (default: the embedded one)")
    show.add_argument("--ip-arg", dest="ip_arg", action="store_true",
                      help="as if a program called bpf_get_func_ip (IP_ARG)")
    show.add_argument("--after", metavar="FILE",
                      help="replay this scenario first and show the image attached to FUNC at its end")
    show.add_argument("--seed", type=int, help="the replay's seed (with --after)")
    show.add_argument("--scale", type=float, help="the replay's repeat scale (with --after)")
    return ap


def show_after(args) -> str:
    """The listing of the image FUNC runs at the end of the replay of ``args.after``."""
    from kernelsim.logging_setup import logging_configured
    from kernelsim.replay import ScenarioError, load_scenario
    from kernelsim.replay.runner import Replay
    from ..tracing.trampoline import trampoline_table
    with logging_configured():
        try:
            sc = load_scenario(args.after)
        except ScenarioError as e:
            raise _CliError(str(e)) from None
        res = Replay(sc, seed=args.seed, scale=args.scale or 1.0).run()
    if res.kernel is None:
        raise _CliError(f"the replay of {args.after} did not build a machine: {res.error}")
    images = [tr for tr in trampoline_table(res.kernel).by_key.values()
              if tr.func.name == args.func and tr.cur_image is not None]
    if not images:
        raise _CliError(f"{args.func}: no BPF trampoline is attached at the end of {args.after}")
    return "".join(tr.cur_image.listing for tr in images)


def show(args) -> str:
    from btf import BtfError, btf_distill_func_proto
    from btf.uapi import BtfKind
    from trampoline import TrampolineError, trampoline_listing
    from ..kernel_btf import load_kernel_btf
    from ..tracing.kallsyms import kallsyms_addr
    from ..tracing.trampoline import IMAGE_BASE

    if args.arch not in ARCHES:
        raise _CliError(f"unknown architecture {args.arch!r} (one of {', '.join(ARCHES)})")
    for opt in ("fentry", "fexit", "fmod_ret"):
        v = getattr(args, opt)
        if v is not None and v < 0:
            raise _CliError(f"--{opt.replace('_', '-')} must be >= 0")
    fentry = args.fentry
    if fentry is None:
        fentry = 0 if (args.fexit or args.fmod_ret) else 1
    if fentry + args.fexit + args.fmod_ret == 0:
        raise _CliError("no programs: give --fentry, --fexit or --fmod-ret")
    try:
        btf = load_kernel_btf(args.btf)
    except ValueError as e:
        raise _CliError(str(e)) from None
    ids = btf.find_all_by_name_kind(args.func, BtfKind.BTF_KIND_FUNC)
    if not ids:
        raise _CliError(f"{args.func}: no such function in the kernel BTF")
    try:
        model = btf_distill_func_proto(btf, ids[0], "5.5" if args.profile == "5.5" else "6.18", args.func)
    except BtfError as e:
        raise _CliError(f"{args.func}: {e.message}") from None
    profile = "5.5" if args.profile == "5.5" else "newest"
    try:
        return trampoline_listing(model, args.func, args.arch, fentry, args.fexit, args.fmod_ret,
                                  profile, args.ip_arg, func_addr=kallsyms_addr(args.arch, ids[0]),
                                  image_addr=IMAGE_BASE[args.arch])
    except TrampolineError as e:
        raise _CliError(f"{args.func}: {e}") from None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        if args.cmd != "show":
            raise _CliError("usage: kernelsim trampoline show FUNC [--arch A] [--fentry N] "
                            "[--fexit M] [--fmod-ret K] [--profile 6.18|5.5] [--btf FILE]")
        sys.stdout.write(show_after(args) if args.after else show(args))
        return 0
    except _CliError as e:
        print(f"kernelsim trampoline: {e}", file=sys.stderr)
        return 2
