"""Native calling conventions as data, per architecture, and where a FuncModel's arguments live.

A BPF trampoline converts the native calling convention into the BPF one (the seed commit:
"x86-64 is passing first 6 arguments in registers and the rest on the stack. x86-32 is passing
first 3 arguments in registers"). This module says, for a ``FuncModel`` and an architecture, which
registers and which stack words carry each argument (``place_args``), and converts Python values to
and from that native state (``encode_call`` / ``decode_call``, ``encode_ret`` / ``decode_ret``) so
the kernel simulator can make a call and the original function body can read its arguments.

The conventions, as the trampoline JITs assume them (which is what matters: a generator and its
convention must agree):

=========  =========================  ==========  ============================================
arch       argument registers         return      rule
=========  =========================  ==========  ============================================
x86_64     rdi rsi rdx rcx r8 r9      rax         SysV: an argument goes in registers only if
                                                  all its 8-byte words fit in the remaining ones,
                                                  else the whole argument goes on the stack and
                                                  later smaller arguments may still use registers
                                                  (x86 save_args; "five chars, a 12-byte struct,
                                                  a char": args 1-5 and 7 in registers, 6 on the
                                                  stack). Upper bits of narrow ints undefined.
arm64      x0-x7                      x0          AAPCS64 as prepare_trampoline/calc_arg_aux see
                                                  it: structs <= 16 bytes in 1-2 consecutive
                                                  registers; the first argument that does not fit
                                                  and all later ones go on the stack (NGRN = 8).
                                                  Upper bits of narrow ints undefined.
i386       eax edx ecx                eax,        The kernel's -mregparm=3 (GCC function_arg_32):
                                      edx:eax     4-byte words; an argument of n words (64-bit
                                                  values: a pair, low word first; small structs
                                                  too) uses registers if n fit, else it and all
                                                  later arguments go on the stack (the remaining
                                                  registers are not back-filled).
riscv64    a0-a7                      a0          LP64 psABI as the JIT's store_args sees it:
                                                  argument words fill a0-a7 then the stack, so a
                                                  2xXLEN struct may be split a7 / stack. ints are
                                                  widened to 32 bits by their signedness, then
                                                  sign-extended to 64 (so u32 is sign-extended).
s390x      r2-r6                      r2          s390x ELF ABI: one register or stack word per C
                                                  argument; ints extended to 64 bits by
                                                  signedness (hence BTF_FMODEL_SIGNED_ARG);
                                                  structs of 1, 2, 4 or 8 bytes passed like
                                                  integers, other structs and anything over 8
                                                  bytes by reference (a pointer to a caller copy).
=========  =========================  ==========  ============================================

Sources: arch/x86/net/bpf_jit_comp.c (save_args, get_nr_used_regs, clean_stack_garbage),
arch/arm64/net/bpf_jit_comp.c (calc_arg_aux, save_args), arch/riscv/net/bpf_jit_comp64.c
(store_args, restore_stack_args), arch/s390/net/bpf_jit_comp.c (__arch_prepare_bpf_trampoline:
"In s390x ABI, arguments that are 8 bytes or smaller are packed into a register; larger arguments
are passed via pointers"), GCC gcc/config/i386/i386.cc function_arg_32 / function_arg_advance_32
for regparm; fact sheet btf-trampoline.md 6.3 and 6.5.

Deliberate simplifications (each JIT makes the same one, so the trampoline stays consistent):
16-byte alignment of __int128 (even register pairs on arm64/riscv, 16-byte stack slots on x86-64)
is not modelled; an i386 model is taken at face value (a pointer there should have size 4).

Values: ints (negative allowed for signed types) and, for STRUCT/UNION arguments, ``bytes`` of the
argument's size (an int is accepted too and laid out in the architecture's byte order). Bits the
convention leaves undefined (above a narrow int, struct padding in a register) are taken from the
``garbage`` word (default 0), so tests can show what the trampoline stores there.
"""

from dataclasses import dataclass, field

from btf.func_model import BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG, FuncModel

U64 = (1 << 64) - 1

# How an argument that does not fit in the remaining registers is handled.
SPILL_BACKFILL = "backfill"   # it goes on the stack; later arguments may still take registers
SPILL_STOP = "stop"           # it and every later argument go on the stack
SPILL_SPLIT = "split"         # words fill the registers then the stack, one word at a time

# What the bits above a narrow (sub-word) integer hold.
EXT_UNDEFINED = "undefined"   # unspecified: whatever the caller left (x86-64, arm64, i386)
EXT_BY_TYPE = "by-type"       # sign- or zero-extended by the C type (s390x)
EXT_RISCV = "riscv"           # by type to 32 bits, then sign-extended to 64 (RISC-V LP64)


@dataclass(frozen=True, slots=True)
class CallingConvention:
    """One architecture's C calling convention, as far as a trampoline needs it."""

    arch: str                       # "x86_64", "arm64", "i386", "riscv64", "s390x"
    arg_regs: tuple[str, ...]       # argument registers, in allocation order
    ret_regs: tuple[str, ...]       # return registers, low word first
    word: int                       # bytes per register and per stack slot
    byteorder: str                  # "little" or "big"
    spill: str                      # SPILL_BACKFILL | SPILL_STOP | SPILL_SPLIT
    narrow_ext: str                 # EXT_UNDEFINED | EXT_BY_TYPE | EXT_RISCV
    by_reference_over: int          # arguments larger than this many bytes go by reference (0: never)
    struct_int_sizes: tuple[int, ...]  # struct sizes passed like integers when by reference applies
    stack_note: str                 # where stack word 0 is, at the traced function's entry
    source: str                     # where the rule comes from


CALLING_CONVENTIONS = {
    "x86_64": CallingConvention(
        "x86_64", ("rdi", "rsi", "rdx", "rcx", "r8", "r9"), ("rax",), 8, "little",
        SPILL_BACKFILL, EXT_UNDEFINED, 0, (),
        "[rsp+8] on entry (above the return address); [rbp+0x18] in the trampoline frame",
        "System V AMD64 psABI 3.2.3; arch/x86/net/bpf_jit_comp.c save_args"),
    "arm64": CallingConvention(
        "arm64", tuple(f"x{i}" for i in range(8)), ("x0",), 8, "little",
        SPILL_STOP, EXT_UNDEFINED, 0, (),
        "[sp] of the caller; [fp+32] in the trampoline (two frame records pushed)",
        "AAPCS64 6.8.2; arch/arm64/net/bpf_jit_comp.c calc_arg_aux"),
    "i386": CallingConvention(
        "i386", ("eax", "edx", "ecx"), ("eax", "edx"), 4, "little",
        SPILL_STOP, EXT_UNDEFINED, 0, (),
        "[esp+4] on entry (above the return address)",
        "GCC -mregparm=3 (i386.cc function_arg_32); the 5.5 commit message"),
    "riscv64": CallingConvention(
        "riscv64", tuple(f"a{i}" for i in range(8)), ("a0",), 8, "little",
        SPILL_SPLIT, EXT_RISCV, 0, (),
        "[sp] of the caller; [fp+16] in the trampoline (the traced function's frame record)",
        "RISC-V psABI integer calling convention; arch/riscv/net/bpf_jit_comp64.c store_args"),
    "s390x": CallingConvention(
        "s390x", ("r2", "r3", "r4", "r5", "r6"), ("r2",), 8, "big",
        SPILL_STOP, EXT_BY_TYPE, 8, (1, 2, 4, 8),
        "160(%r15) of the caller (after the register save area)",
        "s390x ELF ABI supplement 1.2.2; arch/s390/net/bpf_jit_comp.c"),
}

ARCH_ALIASES = {"x86-64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64",
                "x86": "i386", "x86_32": "i386", "ia32": "i386", "riscv": "riscv64",
                "rv64": "riscv64", "s390": "s390x"}


def normalize_arch(arch: str) -> str:
    """The canonical architecture name; ValueError for an unknown one."""
    name = ARCH_ALIASES.get(arch, arch)
    if name not in CALLING_CONVENTIONS:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(CALLING_CONVENTIONS)})")
    return name


@dataclass(frozen=True, slots=True)
class ArgPiece:
    """One native word of an argument: a register or a stack word."""

    loc: str        # "reg" or "stack"
    index: int      # index into the convention's arg_regs, or stack word number (0 = first)
    nbytes: int     # bytes of the argument carried by this word (the last word may be partial)
    name: str       # "rdi", "edx", "stack+8" (byte offset from stack word 0)


@dataclass(frozen=True, slots=True)
class ArgLocation:
    """Where one C argument lives at the call."""

    index: int                       # C argument number
    size: int                        # bytes (FuncModel.arg_size)
    flags: int                       # BTF_FMODEL_* (FuncModel.arg_flags)
    pieces: tuple[ArgPiece, ...]     # the value's words, low-order word first; for by_ref the pointer
    by_ref: bool = False             # s390x: pieces hold a pointer to a caller-made copy

    @property
    def in_regs(self) -> bool:
        return all(p.loc == "reg" for p in self.pieces)

    @property
    def on_stack(self) -> bool:
        return all(p.loc == "stack" for p in self.pieces)

    @property
    def is_aggregate(self) -> bool:
        return bool(self.flags & (BTF_FMODEL_STRUCT_ARG | BTF_FMODEL_UNION_ARG))


@dataclass(frozen=True, slots=True)
class CallPlacement:
    """``place_args``'s answer: every argument's location plus totals."""

    arch: str
    args: tuple[ArgLocation, ...]
    nr_reg_words: int                # registers used (the highest used index + 1)
    nr_stack_words: int              # stack words used
    ret_regs: tuple[str, ...]        # registers that carry the return value (empty for void)


@dataclass(slots=True)
class NativeCall:
    """The native state of a call: what ``encode_call`` builds and a trampoline image consumes.

    Not frozen: it is machine state (a register file and a stack), the one mutable thing here.
    """

    regs: list[int]                  # argument registers, in arg_regs order (unused ones 0)
    stack: list[int]                 # stack words from stack word 0 upward
    memory: dict[int, bytes] = field(default_factory=dict)  # s390x by-reference copies: addr -> bytes


# Simulated address of the caller's copy area for s390x by-reference arguments.
BYREF_AREA = 0x000003FFFFF00000


def _is_by_ref(cc: CallingConvention, size: int, flags: int) -> bool:
    if not cc.by_reference_over:
        return False
    if size > cc.by_reference_over:
        return True
    return bool(flags & (BTF_FMODEL_STRUCT_ARG | BTF_FMODEL_UNION_ARG)) and size not in cc.struct_int_sizes


def place_args(model: FuncModel, arch: str) -> CallPlacement:
    """Where each argument of ``model`` lives on ``arch`` (called by the generators and the kernel
    core). Pure data; never raises for a valid FuncModel (the arch generators decide what they
    refuse)."""
    cc = CALLING_CONVENTIONS[normalize_arch(arch)]
    nregs = len(cc.arg_regs)
    next_reg, stack_words, stopped = 0, 0, False
    out = []
    for i, (size, flags) in enumerate(zip(model.arg_size, model.arg_flags)):
        by_ref = _is_by_ref(cc, size, flags)
        nbytes = cc.word if by_ref else size
        nwords = max(1, (nbytes + cc.word - 1) // cc.word)
        sizes = [cc.word] * nwords
        sizes[-1] = nbytes - cc.word * (nwords - 1)
        pieces = []
        if cc.spill == SPILL_SPLIT:
            for n in sizes:
                if next_reg < nregs:
                    pieces.append(ArgPiece("reg", next_reg, n, cc.arg_regs[next_reg]))
                    next_reg += 1
                else:
                    pieces.append(ArgPiece("stack", stack_words, n, f"stack+{stack_words * cc.word}"))
                    stack_words += 1
        elif not stopped and next_reg + nwords <= nregs:
            for n in sizes:
                pieces.append(ArgPiece("reg", next_reg, n, cc.arg_regs[next_reg]))
                next_reg += 1
        else:
            if cc.spill == SPILL_STOP:
                stopped = True
            for n in sizes:
                pieces.append(ArgPiece("stack", stack_words, n, f"stack+{stack_words * cc.word}"))
                stack_words += 1
        out.append(ArgLocation(i, size, flags, tuple(pieces), by_ref))
    ret = () if model.ret_size == 0 else cc.ret_regs[:max(1, (model.ret_size + cc.word - 1) // cc.word)]
    return CallPlacement(cc.arch, tuple(out), next_reg, stack_words, ret)


def _extend(cc: CallingConvention, value: int, size: int, signed: bool, garbage: int) -> int:
    """A narrow int as it sits in a full register / stack word of ``cc``."""
    bits = size * 8
    wbits = cc.word * 8
    value &= (1 << bits) - 1
    if bits >= wbits:
        return value & ((1 << wbits) - 1)
    if cc.narrow_ext == EXT_UNDEFINED:
        return (garbage & ((1 << wbits) - 1) & ~((1 << bits) - 1)) | value
    if cc.narrow_ext == EXT_RISCV:
        if bits < 32 and signed and value >> (bits - 1):
            value |= ((1 << 32) - 1) & ~((1 << bits) - 1)
        if value >> 31:
            value |= U64 & ~((1 << 32) - 1)
        return value
    if signed and value >> (bits - 1):                      # EXT_BY_TYPE
        value |= ((1 << wbits) - 1) & ~((1 << bits) - 1)
    return value


def _words_of_bytes(cc: CallingConvention, data: bytes, garbage: int) -> list[int]:
    """An aggregate's bytes as register/stack words (padding bytes from ``garbage``)."""
    out = []
    gbytes = (garbage & ((1 << (cc.word * 8)) - 1)).to_bytes(cc.word, cc.byteorder)
    for off in range(0, len(data), cc.word):
        chunk = data[off:off + cc.word]
        if len(chunk) < cc.word:
            chunk = chunk + gbytes[len(chunk):]
        out.append(int.from_bytes(chunk, cc.byteorder))
    return out


def _as_bytes(cc: CallingConvention, value, size: int) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) != size:
            raise ValueError(f"struct argument of {size} bytes given {len(data)} bytes")
        return data
    return (int(value) & ((1 << (8 * size)) - 1)).to_bytes(size, cc.byteorder)


def encode_call(model: FuncModel, arch: str, values, garbage: int = 0) -> NativeCall:
    """Place Python argument values as the caller would (called by the kernel core for a traced
    call, and by tests). Raises ValueError on a wrong number of values or a struct of the wrong
    size."""
    cc = CALLING_CONVENTIONS[normalize_arch(arch)]
    if len(values) != model.nr_args:
        raise ValueError(f"{model.nr_args} arguments expected, {len(values)} given")
    pl = place_args(model, cc.arch)
    regs = [0] * len(cc.arg_regs)
    stack = [0] * pl.nr_stack_words
    memory = {}
    ref_addr = BYREF_AREA
    for loc, value in zip(pl.args, values):
        signed = bool(loc.flags & BTF_FMODEL_SIGNED_ARG)
        if loc.by_ref:
            data = _as_bytes(cc, value, loc.size)
            memory[ref_addr] = data
            words = [ref_addr]
            ref_addr += (loc.size + 15) & ~15
        elif loc.is_aggregate:
            data = _as_bytes(cc, value, loc.size)
            if cc.byteorder == "big":      # s390x: a 1/2/4/8-byte struct travels as an integer
                words = [int.from_bytes(data, "big")]
            else:
                words = _words_of_bytes(cc, data, garbage)
        elif loc.size <= cc.word:
            words = [_extend(cc, int(value), loc.size, signed, garbage)]
        else:                                   # wider than a word: little-endian word order
            v = int(value) & ((1 << (8 * loc.size)) - 1)
            words = [(v >> (8 * cc.word * k)) & ((1 << (8 * cc.word)) - 1) for k in range(len(loc.pieces))]
            tail = loc.size % cc.word
            if tail:                            # undefined bits above a partial last word
                words[-1] = _extend(cc, words[-1], tail, signed, garbage)
        for piece, w in zip(loc.pieces, words):
            if piece.loc == "reg":
                regs[piece.index] = w
            else:
                stack[piece.index] = w
    return NativeCall(regs, stack, memory)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def decode_call(model: FuncModel, arch: str, regs, stack, memory=None) -> list:
    """Recover the C argument values from a native state (called by the kernel core's wrapper
    around an original function body). ints come back in their C type's range; aggregates as
    ``bytes``."""
    cc = CALLING_CONVENTIONS[normalize_arch(arch)]
    pl = place_args(model, cc.arch)
    wmask = (1 << (8 * cc.word)) - 1
    out = []
    for loc in pl.args:
        words = [(regs[p.index] if p.loc == "reg" else stack[p.index]) & wmask for p in loc.pieces]
        if loc.by_ref:
            data = bytes((memory or {})[words[0]][:loc.size])
            if not loc.is_aggregate:          # an __int128 by reference: an int in memory order
                v = int.from_bytes(data, cc.byteorder)
                data = _signed(v, 8 * loc.size) if loc.flags & BTF_FMODEL_SIGNED_ARG else v
            out.append(data)
            continue
        if loc.is_aggregate:
            if cc.byteorder == "big":
                out.append(words[0].to_bytes(cc.word, "big")[cc.word - loc.size:])
            else:
                out.append(b"".join(w.to_bytes(cc.word, "little") for w in words)[:loc.size])
            continue
        v = 0
        for k, w in enumerate(words):
            v |= w << (8 * cc.word * k)
        v &= (1 << (8 * loc.size)) - 1
        out.append(_signed(v, 8 * loc.size) if loc.flags & BTF_FMODEL_SIGNED_ARG else v)
    return out


def encode_ret(model: FuncModel, arch: str, value) -> int:
    """The raw return-register value (u64; i386 edx:eax as one 64-bit int) for a C return value
    (called by the kernel core's wrapper around an original function). void -> 0."""
    cc = CALLING_CONVENTIONS[normalize_arch(arch)]
    if model.ret_size == 0 or value is None:
        return 0
    size = model.ret_size
    v = int(value) & ((1 << (8 * size)) - 1)
    if size < 8 and cc.arch in ("riscv64", "s390x"):
        return _extend(cc, v, size, bool(model.ret_flags & BTF_FMODEL_SIGNED_ARG), 0)
    return v


def decode_ret(model: FuncModel, arch: str, raw: int):
    """The C return value from a raw return-register value; None for void (called by the kernel
    core after a traced call)."""
    normalize_arch(arch)
    if model.ret_size == 0:
        return None
    bits = 8 * model.ret_size
    v = int(raw) & ((1 << bits) - 1)
    return _signed(v, bits) if model.ret_flags & BTF_FMODEL_SIGNED_ARG else v
