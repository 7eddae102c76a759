"""The ISA subcommands: ``kernelsim asm``, ``disasm``, ``run`` and ``conformance-plugin``.

Registered in kernelsim/cli.py ``SUBCOMMANDS``; each ``*_main(argv) -> int`` parses its own
options. Bad input of any kind gives one line on stderr naming the file and the line or the
instruction index, and exit status 2 (the plugin: status 1, as bpf_conformance expects a non-zero
code and the message on stderr); never a traceback.

``run`` has a small built-in helper set so that a standalone program can call something
(``bpf_ktime_get_ns`` from a virtual clock, ``bpf_get_prandom_u32`` from a fixed seed,
``bpf_get_smp_processor_id`` = 0, ``bpf_trace_printk`` to stdout). The kernel's real helpers live in
kernelsim/helpers/ and need a ``Kernel``.
"""

import argparse
import re
import sys

from ..errors import BpfError, BpfRuntimeError
from ..memory import AddressSpace, MemoryFault
from ..uapi import BpfFuncId
from .asm import AsmError, DIALECTS, assemble, parse_data_file
from .disasm import BpfInsnError, check_insns, disasm_insns, print_conformance_insn, BPFTOOL_CBS
from .insn import BpfInsn, decode_insns, encode_insns
from .fast import bpf_fast_run
from .interp import BpfRunCtx, bpf_interp_run, bpf_prog_decode

_HEX_TEXT = re.compile(rb"^[0-9a-fA-FxX\s,]*$")


class _CliError(Exception):
    """A one-line failure of a subcommand."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _CliError(message)


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _CliError(f"{path}: {e.strerror}") from None


def _text(path: str) -> str:
    try:
        return _read(path).decode()
    except UnicodeDecodeError:
        raise _CliError(f"{path}: not a text file") from None


def _parse_hex(data: bytes | str, what: str) -> bytes:
    text = data.decode() if isinstance(data, bytes) else data
    text = re.sub(r"0[xX]", "", text)
    text = re.sub(r"[\s,]", "", text)
    if len(text) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", text):
        raise _CliError(f"{what}: not an even number of hex digits")
    return bytes.fromhex(text)


def _assemble_file(path: str, dialect: str | None, linemap: list[int] | None = None):
    """(instructions, .data file or None) of an assembly or bpf_conformance .data file."""
    text = _text(path)
    data = None
    if re.search(r"^\s*--\s*asm", text, re.M):
        data = parse_data_file(text)
        if data.raw is not None:
            return data.insns(), data
        text, dialect = data.asm, "conformance"
    try:
        return assemble(text, dialect, linemap=linemap), data
    except AsmError as e:
        where = f"{path}:{e.lineno}" if e.lineno is not None else path
        raise _CliError(f"{where}: {e.message}" + (f": {e.line.strip()}" if e.line else "")) from None


def _fail(cmd: str, e: Exception) -> int:
    print(f"kernelsim {cmd}: {e}", file=sys.stderr)
    return 2


# ---- asm ---------------------------------------------------------------------------------------

def asm_main(argv: list[str]) -> int:
    """``kernelsim asm FILE [-o OUT] [--dialect kernel|conformance] [--hex]``."""
    p = _Parser(prog="kernelsim asm", description="assemble BPF assembly into instructions")
    p.add_argument("file", help="assembly source ('-' for stdin), or a bpf_conformance .data file")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--dialect", choices=DIALECTS, help="default: detected from the text")
    p.add_argument("--hex", action="store_true", help="write hex, one instruction slot per line")
    try:
        args = p.parse_args(argv)
        insns, _ = _assemble_file(args.file, args.dialect)
        if args.hex:
            out = "".join(i.encode().hex(" ") + "\n" for i in insns).encode()
        else:
            out = encode_insns(insns)
        if args.output:
            try:
                with open(args.output, "wb") as f:
                    f.write(out)
            except OSError as e:
                raise _CliError(f"{args.output}: {e.strerror}") from None
        else:
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
        return 0
    except _CliError as e:
        return _fail("asm", e)


# ---- disasm ------------------------------------------------------------------------------------

def _load_insns(path: str, force_hex: bool, force_raw: bool) -> list[BpfInsn]:
    data = _read(path)
    if force_hex or (not force_raw and _HEX_TEXT.match(data) and data.strip()):
        data = _parse_hex(data, path)
    if not data:
        raise _CliError(f"{path}: empty program")
    if len(data) % 8:
        raise _CliError(f"{path}: truncated program: {len(data)} bytes is not a multiple of 8 "
                        f"(instruction {len(data) // 8} is incomplete)")
    return decode_insns(data)


def disasm_main(argv: list[str]) -> int:
    """``kernelsim disasm FILE [--bpftool] [--dialect kernel|conformance] [--hex|--raw]``."""
    p = _Parser(prog="kernelsim disasm",
                description="disassemble instructions (raw little-endian bytes or hex text)")
    p.add_argument("file", help="instruction bytes ('-' for stdin)")
    p.add_argument("--bpftool", action="store_true",
                   help="bpftool's '% 4d: ' prefix and map[id:N] immediates")
    p.add_argument("--dialect", choices=DIALECTS, default="kernel",
                   help="kernel: print_bpf_insn text (default); conformance: bpf_conformance asm")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--hex", action="store_true", help="the input is hex text")
    g.add_argument("--raw", action="store_true", help="the input is raw bytes")
    try:
        args = p.parse_args(argv)
        insns = _load_insns(args.file, args.hex, args.raw)
        if args.dialect == "conformance":
            i = 0
            while i < len(insns):
                nxt = insns[i + 1] if insns[i].is_ld_imm64() and i + 1 < len(insns) else None
                print(print_conformance_insn(insns[i], nxt))
                i += 2 if nxt is not None else 1
        else:
            for line in disasm_insns(insns, BPFTOOL_CBS if args.bpftool else None,
                                     bpftool=args.bpftool):
                print(line)
        try:
            check_insns(insns)
        except BpfInsnError as e:
            raise _CliError(f"{args.file}: insn {e.index}: {e.message}") from None
        return 0
    except _CliError as e:
        sys.stdout.flush()
        return _fail("disasm", e)


# ---- run ---------------------------------------------------------------------------------------

class _CliHelpers:
    """The built-in helpers of ``kernelsim run`` (deterministic)."""

    def __init__(self):
        self.clock = 0
        self.seed = 0x2545F491
        self.table = {
            BpfFuncId.BPF_FUNC_ktime_get_ns: self.ktime_get_ns,
            BpfFuncId.BPF_FUNC_trace_printk: self.trace_printk,
            BpfFuncId.BPF_FUNC_get_prandom_u32: self.get_prandom_u32,
            BpfFuncId.BPF_FUNC_get_smp_processor_id: lambda run, *a: 0,
        }

    def ktime_get_ns(self, run, *args):
        self.clock += 1000
        return self.clock

    def get_prandom_u32(self, run, *args):
        self.seed = (self.seed * 1103515245 + 12345) & 0xFFFFFFFF
        return self.seed

    def trace_printk(self, run, fmt, size, a1, a2, a3):
        try:
            raw = run.mem.read(fmt, size)
        except MemoryFault:
            return -14   # -EFAULT
        text = raw.split(b"\0", 1)[0].decode(errors="replace")
        values = iter((a1, a2, a3))

        def conv(m):
            v = next(values, 0)
            kind = m.group(2)
            if kind in "di":
                bits = 64 if "l" in m.group(1) else 32
                v &= (1 << bits) - 1
                return str(v - (1 << bits) if v >> (bits - 1) else v)
            v &= (1 << (64 if "l" in m.group(1) else 32)) - 1
            return format(v, "x" if kind == "x" else "d")
        out = re.sub(r"%(l{0,2})([duxi])", conv, text)
        print(f"trace_printk: {out.rstrip(chr(10))}")
        return len(out)


def _ctx_words(text: str) -> bytes:
    try:
        words = [int(w, 0) for w in text.split(",") if w.strip()]
    except ValueError:
        raise _CliError(f"--ctx: {text!r} is not a comma-separated list of numbers") from None
    return b"".join((w & (2**64 - 1)).to_bytes(8, "little") for w in words)


def run_main(argv: list[str]) -> int:
    """``kernelsim run FILE [--mem HEX] [--ctx N,N,...] [--dialect ...] [--budget N] [--tier]``."""
    p = _Parser(prog="kernelsim run", description="assemble and run a program in the interpreter")
    p.add_argument("file", help="assembly source ('-' for stdin), or a bpf_conformance .data file")
    p.add_argument("--dialect", choices=DIALECTS, help="default: detected from the text")
    p.add_argument("--mem", help="hex bytes of a writable buffer: r1 = its address, r2 = its length")
    p.add_argument("--ctx", help="a read-only ctx of u64 words (like a tracing program's "
                                 "arguments), e.g. 1,2,0x10: r1 = its address")
    p.add_argument("--budget", type=int, default=10_000_000, help="instruction budget")
    p.add_argument("--tier", choices=("interp", "fast"), default="interp",
                   help="execution tier: the interpreter (default) or compiled basic blocks")
    p.add_argument("-q", "--quiet", action="store_true", help="print only r0, in hex")
    try:
        args = p.parse_args(argv)
        linemap: list[int] = []
        insns, data = _assemble_file(args.file, args.dialect, linemap)
        mem = AddressSpace("kernel")
        regs = [0, 0]
        membytes = _parse_hex(args.mem, "--mem") if args.mem is not None else (data.mem if data else b"")
        if args.ctx is not None and args.mem is not None:
            raise _CliError("give --mem or --ctx, not both")
        if args.ctx is not None:
            ctx = _ctx_words(args.ctx)
            regs = [mem.alloc(len(ctx), "ctx", kind="ctx", writable=False, data=ctx).start, 0]
        elif membytes:
            regs = [mem.alloc(len(membytes), "mem", kind="buffer", data=membytes).start,
                    len(membytes)]
        helpers = _CliHelpers()
        prog = bpf_prog_decode(insns, bpf_func=bpf_fast_run if args.tier == "fast" else bpf_interp_run)
        run = BpfRunCtx(mem, helpers.table, budget=args.budget)
        try:
            r0 = prog.bpf_func(prog, run, *regs)
        except BpfRuntimeError as e:
            line = f" (line {linemap[e.pc]})" if e.pc is not None and 0 <= e.pc < len(linemap) else ""
            raise _CliError(f"{args.file}{line}: {e}") from None
        except BpfError as e:
            raise _CliError(f"{args.file}: {e}") from None
        if args.quiet:
            print(f"{r0:#x}")
            return 0
        signed = r0 - (1 << 64) if r0 >> 63 else r0
        print(f"r0 = {r0:#x} ({signed})" + (f", (u32) {r0 & 0xFFFFFFFF}" if r0 >> 32 else ""))
        print(f"{run.insn_cnt} instructions executed ({len(insns)} in the program)")
        if data is not None and data.result is not None:
            verdict = "PASS" if r0 == data.result else "FAIL"
            print(f"{verdict}: expected {data.result:#x}")
            return 0 if verdict == "PASS" else 1
        return 0
    except _CliError as e:
        return _fail("run", e)


# ---- conformance-plugin ------------------------------------------------------------------------

def plugin_main(argv: list[str]) -> int:
    """The bpf_conformance plugin protocol: ``plugin [MEMHEX] [options...]``; the program as hex
    on stdin; print r0 in hex and exit 0, or a message on stderr and exit 1."""
    memhex = argv[0] if argv and not argv[0].startswith("--") else ""
    options = argv[1:] if memhex else argv
    try:
        if "--elf" in options:
            raise _CliError("--elf is not supported: give raw instructions")
        code = _parse_hex(sys.stdin.read(), "program")
        mem_bytes = _parse_hex(memhex, "memory")
        if not code or len(code) % 8:
            raise _CliError(f"program of {len(code)} bytes is not a whole number of instructions")
        insns = decode_insns(code)
        mem = AddressSpace("kernel")
        r1 = 0
        if mem_bytes:
            r1 = mem.alloc(len(mem_bytes), "memory", kind="buffer", data=mem_bytes).start
        prog = bpf_prog_decode(insns)
        run = BpfRunCtx(mem, {BpfFuncId.BPF_FUNC_ktime_get_ns: lambda run, *a: 0})
        r0 = prog.bpf_func(prog, run, r1, len(mem_bytes))
    except (_CliError, BpfRuntimeError, BpfError) as e:
        print(str(e), file=sys.stderr)
        return 1
    print(f"{r0:x}")
    return 0
