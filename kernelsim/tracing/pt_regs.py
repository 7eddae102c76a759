"""struct pt_regs per architecture, as data, and building one from a native call
(arch/x86/include/asm/ptrace.h, arch/arm64/include/asm/ptrace.h + uapi user_pt_regs,
arch/riscv/include/asm/ptrace.h, arch/s390/include/asm/ptrace.h; tools/lib/bpf/bpf_tracing.h for
what PT_REGS_PARM1..5 / PT_REGS_RC / PT_REGS_IP / PT_REGS_SP read on each).

A kprobe program's ctx is the kernel's ``struct pt_regs`` (kprobe_prog_is_valid_access: any
aligned read inside it). The table gives each architecture's fields in order (name, size); the
rest of this module places a native call (``trampoline.encode_call``'s argument registers and
stack words) into them. Which registers carry arguments, the return value, ip and sp:

=========  ===========================  ======  ==========  ================================
arch       PT_REGS_PARM1..5             RC      IP / SP     libbpf cast (bpf_tracing.h)
=========  ===========================  ======  ==========  ================================
x86_64     di si dx cx r8 (PARM6 r9)    ax      ip / sp     struct pt_regs (kernel names)
i386       ax dx cx (4, 5 unsupported)  ax      ip / sp     (-mregparm=3)
arm64      regs[0..4]                   regs[0] pc / sp     struct user_pt_regs (its prefix)
riscv64    a0..a4                       a0      epc / sp    struct user_regs_struct (prefix)
s390x      gprs[2..6]                   gprs[2] psw.addr /  user_pt_regs (prefix)
                                                gprs[15]
=========  ===========================  ======  ==========  ================================

Sizes: x86_64 168 (21 longs), i386 68 (17 words: segment registers are u16 + padding), arm64 336
(user_pt_regs is its first 272 bytes; no CONFIG_ARM64_POE), riscv64 288 (user_regs_struct is the
first 256), s390x 200 (user_pt_regs: args[1], psw, gprs[16], then orig_gpr2 ... last_break; the
tail is laid out as 6.18's struct with int_code/int_parm, flags, cr1, last_break, and a pad word so
the total matches ctx_access.PT_REGS_SIZE). Values are stored little-endian in simulated memory
on every architecture (the interpreter's loads are little-endian; kernelsim does not model s390x
byte order in memory).
"""

from dataclasses import dataclass

U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class PtRegsLayout:
    """One architecture's struct pt_regs."""

    arch: str
    fields: tuple          # ((name, size), ...) in memory order
    arg_regs: tuple        # pt_regs field of each callconv argument register, in callconv order
    ret: str               # the return-value register field
    ip: str                # instruction pointer field
    sp: str                # stack pointer field
    syscall_args: tuple    # fields that carry syscall arguments 1..6 at syscall entry
    syscall_nr: str        # where the syscall number is kept (orig_ax, syscallno ...)
    word: int              # bytes per register

    @property
    def size(self) -> int:
        return sum(s for _, s in self.fields)

    def offset(self, name: str) -> int:
        return _OFFSETS[self.arch][name]


def _x(i):
    return f"regs[{i}]"


PT_REGS = {
    "x86_64": PtRegsLayout(
        "x86_64",
        tuple((n, 8) for n in ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8",
                               "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp",
                               "ss")),
        ("di", "si", "dx", "cx", "r8", "r9"), "ax", "ip", "sp",
        ("di", "si", "dx", "r10", "r8", "r9"), "orig_ax", 8),
    "i386": PtRegsLayout(
        "i386",
        (("bx", 4), ("cx", 4), ("dx", 4), ("si", 4), ("di", 4), ("bp", 4), ("ax", 4),
         ("ds", 2), ("__dsh", 2), ("es", 2), ("__esh", 2), ("fs", 2), ("__fsh", 2),
         ("gs", 2), ("__gsh", 2), ("orig_ax", 4), ("ip", 4), ("cs", 2), ("__csh", 2),
         ("flags", 4), ("sp", 4), ("ss", 2), ("__ssh", 2)),
        ("ax", "dx", "cx"), "ax", "ip", "sp",
        ("bx", "cx", "dx", "si", "di", "bp"), "orig_ax", 4),
    "arm64": PtRegsLayout(
        "arm64",
        tuple((_x(i), 8) for i in range(31)) + (("sp", 8), ("pc", 8), ("pstate", 8),
                                                ("orig_x0", 8), ("syscallno", 4), ("pmr", 4),
                                                ("sdei_ttbr1", 8), ("stackframe.record.fp", 8),
                                                ("stackframe.record.lr", 8),
                                                ("stackframe.type", 8), ("lockdep_hardirqs", 8),
                                                ("exit_rcu", 8)),
        tuple(_x(i) for i in range(8)), _x(0), "pc", "sp",
        tuple(_x(i) for i in range(6)), "syscallno", 8),
    "riscv64": PtRegsLayout(
        "riscv64",
        tuple((n, 8) for n in ("epc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
                               "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4",
                               "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
                               "status", "badaddr", "cause", "orig_a0")),
        tuple(f"a{i}" for i in range(8)), "a0", "epc", "sp",
        tuple(f"a{i}" for i in range(6)), "a7", 8),
    "s390x": PtRegsLayout(
        "s390x",
        (("args[0]", 8), ("psw.mask", 8), ("psw.addr", 8))
        + tuple((f"gprs[{i}]", 8) for i in range(16))
        + (("orig_gpr2", 8), ("int_code", 4), ("int_parm", 4), ("flags", 8), ("cr1", 8),
           ("last_break", 8), ("__pad", 8)),
        tuple(f"gprs[{i}]" for i in range(2, 7)), "gprs[2]", "psw.addr", "gprs[15]",
        ("orig_gpr2", "gprs[3]", "gprs[4]", "gprs[5]", "gprs[6]", "gprs[7]"), "int_code", 8),
}

_OFFSETS = {}
for _arch, _lay in PT_REGS.items():
    _off, _tab = 0, {}
    for _n, _s in _lay.fields:
        _tab[_n] = _off
        _off += _s
    _OFFSETS[_arch] = _tab

# What sits in the registers a call does not set, per architecture (invented, recognisable):
# the kernel code segment and flags on x86, a kernel-mode PSTATE on arm64 (EL1h), sstatus.SPP.
FIXED = {
    "x86_64": {"cs": 0x10, "ss": 0x18, "flags": 0x246},
    "i386": {"cs": 0x60, "ss": 0x68, "flags": 0x246, "ds": 0x7B, "es": 0x7B, "fs": 0xD8},
    "arm64": {"pstate": 0x3C5},
    "riscv64": {"status": 0x120},
    "s390x": {"psw.mask": 0x0704C00180000000},
}


def pt_regs_bytes(arch: str, values: dict) -> bytes:
    """A struct pt_regs image: ``values`` maps field names to ints (others are 0, except the
    FIXED ones). Little-endian, each value cut to its field."""
    lay = PT_REGS[arch]
    vals = {**FIXED[arch], **values}
    out = bytearray()
    for name, size in lay.fields:
        out += (vals.get(name, 0) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(out)


def regs_from_native(arch: str, arg_regs, ip: int, sp: int, ret: int | None = None,
                     extra: dict | None = None) -> dict:
    """pt_regs field values for a native call: the callconv argument registers (``NativeCall
    .regs``, in the convention's order), ip, sp and, for a return, the return register."""
    lay = PT_REGS[arch]
    vals = {}
    for name, v in zip(lay.arg_regs, arg_regs or ()):
        vals[name] = v
    vals[lay.ip] = ip
    vals[lay.sp] = sp
    if ret is not None:
        vals[lay.ret] = ret
    if extra:
        vals.update(extra)
    return vals


def read_field(arch: str, data: bytes, name: str) -> int:
    """A field of a pt_regs image (tests, the syscall tracepoints)."""
    lay = PT_REGS[arch]
    off = _OFFSETS[arch][name]
    size = dict(lay.fields)[name]
    return int.from_bytes(data[off:off + size], "little")
