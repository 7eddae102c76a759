"""The ``kernelsim`` command: one subcommand per entry of ``SUBCOMMANDS``.

Each entry names the module and function that implements it; the function takes the remaining argv
and returns the exit status. Modules are imported only when their subcommand runs, so
``kernelsim asm`` does not pay for loading the BTF of the kernel.
"""

import importlib
import sys

# subcommand -> (module, function, one-line help)
SUBCOMMANDS = {
    "asm": ("kernelsim.isa.cli", "asm_main", "assemble BPF assembly into raw instructions"),
    "disasm": ("kernelsim.isa.cli", "disasm_main", "disassemble raw instructions (print_bpf_insn form)"),
    "run": ("kernelsim.isa.cli", "run_main", "assemble and run a program in the interpreter"),
    "conformance-plugin": ("kernelsim.isa.cli", "plugin_main",
                           "bpf_conformance plugin: program hex on stdin, r0 on stdout"),
    "btf": ("kernelsim.tools.btf_cmd", "main",
            "btf dump | funcs | check: inspect BTF files; btf list | dump --after FILE: a replay's BTF objects"),
    "replay": ("kernelsim.replay.cli", "replay_main", "replay YAML tracing scenarios, check their expectations"),
    "prog": ("kernelsim.tools.bpftool_cmds", "prog_main", "prog list|show|dump xlated (bpftool style)"),
    "map": ("kernelsim.tools.bpftool_cmds", "map_main", "map list|show|dump (bpftool style)"),
    "link": ("kernelsim.tools.bpftool_cmds", "link_main", "link list|show (bpftool style)"),
    "bpftool": ("kernelsim.tools.bpftool_cmds", "bpftool_main",
                "bpftool-like front: prog|map|link|btf|trampoline|asm|disasm ..."),
    "trampoline": ("kernelsim.tools.trampoline_cmd", "main",
                   "trampoline show FUNC: the BPF trampoline image for a kernel function"),
    "tracefs": ("kernelsim.tools.tracefs_cmd", "main",
                "tracefs cat|ls PATH: the simulated tracefs (formats, ids, available_events)"),
}


def _usage() -> str:
    lines = ["usage: kernelsim <command> [args...]", "", "commands:"]
    for name, (_, _, text) in SUBCOMMANDS.items():
        lines.append(f"  {name:<20} {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"kernelsim: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func, _ = SUBCOMMANDS[name]
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
