"""The BPF assembler: the kernel/LLVM syntax and the bpf_conformance syntax -> struct bpf_insn.

Two dialects, one result (a list of ``BpfInsn`` slots, LD_IMM64 taking two):

* ``kernel``: the C-like text of the verifier log (kernel/bpf/disasm.c ``print_bpf_insn``) and of
  ``llvm-objdump -d`` / ``llvm-mc``: ``r0 = 1``, ``w0 = w1``, ``*(u64 *)(r10 -8) = r1``,
  ``if r1 > 0x5 goto pc+2``, ``call bpf_map_lookup_elem``, ``lock *(u64 *)(r1 +0) += r2``,
  ``r0 = 0x1122334455667788 ll``. Verifier-log lines are accepted as printed (``12: (b7) r0 = 0 ;
  R0_w=0``): the ``N:`` index is dropped, the ``(b7)`` opcode byte is checked against the
  instruction (and tells ``(18) r1 = 0x2a``, a LD_IMM64, from ``(b7) r1 = 42``), the ``;`` state
  is a comment. So is llvm-objdump's byte column and its ``<LBB0_2>`` label annotations.
  LD_IMM64 pseudo sources and kfuncs have a syntax of ours (invented; docs/isa.md):
  ``r1 = map_fd(3)``, ``map_value(3, 8)``, ``btf_id(7, 0)``, ``func(+5)`` / ``func(label)``,
  ``map_idx(0)``, ``map_idx_value(0, 16)``, ``call kfunc(1234)``; bpftool's ``map[id:5]``,
  ``map[id:5][0]+8``, ``map[idx:0]+16`` and ``subprog[+5]`` are read as well.
* ``conformance``: the AT&T-like dialect of bpf_conformance and uBPF (``mov %r0, 1``,
  ``lddw %r0, 0x...``, ``jgt %r1, 5, +2``, ``ldxw %r0, [%r10-8]``, ``lock fetch add [%r10-8], %r1``,
  ``call local label``, ``call %r2``); see /work/shared/conformance/README.md. Invented additions
  for what that dialect lacks: ``may_goto +N``, ``ldacq{b,h,w,dw}``/``strel{b,h,w,dw}``
  (load-acquire/store-release) and the pseudo forms above as ``lddw`` operands.

Both dialects: labels (``name:``, also before an instruction on the same line), comments with
``#`` (kernel dialect: at the start or after a blank, since ``call bpf_x#1`` contains one), ``;``
and ``//``. A 32-bit immediate may be written signed or as its unsigned bit pattern (``0xffffffff``
is -1, as LLVM and bpf_conformance read it, and as the kernel prints jump immediates); anything
wider is an error, not a silent truncation. In the kernel dialect the sign-extended immediates of
ALU64 and of a u64 store must be written signed (``r1 = 0xffffffff`` is refused: it would mean -1).

Errors are ``AsmError`` with the line number and text. The result goes through
``disasm.check_insns`` (unknown opcodes, reserved fields, jump ranges) unless ``check=False``.
``parse_data_file`` reads a bpf_conformance ``.data`` test file.
"""

import re
from dataclasses import dataclass, field, replace

from ..uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BpfPseudo
from . import opcodes as _op
from .disasm import BpfInsnError, check_insns
from .insn import (
    BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_END,
    BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K,
    BPF_LD, BPF_LDX, BPF_LOAD_ACQ, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_NEG, BPF_ST, BPF_STORE_REL,
    BPF_STX, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, BpfInsn,
)

DIALECTS = ("kernel", "conformance")


class AsmError(ValueError):
    """Bad assembly: ``message`` says what, ``lineno`` (1-based) and ``line`` say where."""

    def __init__(self, message: str, lineno: int | None = None, line: str | None = None):
        super().__init__(message)
        self.message, self.lineno, self.line = message, lineno, line

    def __str__(self) -> str:
        where = f"line {self.lineno}: " if self.lineno is not None else ""
        text = f": {self.line.strip()}" if self.line and self.line.strip() else ""
        return f"{where}{self.message}{text}"


# ---- shared pieces -----------------------------------------------------------------------------

_NUM = r"[-+]?\s*(?:0[xX][0-9a-fA-F]+|\d+)"
_LABEL = r"[A-Za-z_.$][\w.$]*"
_SIZE_BITS = {"u8": BPF_B, "u16": BPF_H, "u32": BPF_W, "u64": BPF_DW,
              "s8": BPF_B, "s16": BPF_H, "s32": BPF_W, "s64": BPF_DW}
_ALU_ASSIGN = {  # kernel text operator -> (op bits, off)
    "+=": (0x00, 0), "-=": (0x10, 0), "*=": (0x20, 0), "/=": (0x30, 0), "|=": (0x40, 0),
    "&=": (0x50, 0), "<<=": (0x60, 0), ">>=": (0x70, 0), "%=": (0x90, 0), "^=": (0xA0, 0),
    "=": (0xB0, 0), "s>>=": (0xC0, 0), "s/=": (0x30, 1), "s%=": (0x90, 1),
}
_JMP_TEXT = {"==": 0x10, ">": 0x20, ">=": 0x30, "&": 0x40, "!=": 0x50, "s>": 0x60, "s>=": 0x70,
             "<": 0xA0, "<=": 0xB0, "s<": 0xC0, "s<=": 0xD0}
_ATOMIC_ASSIGN = {"+=": 0x00, "|=": 0x40, "&=": 0x50, "^=": 0xA0}
_ATOMIC_FETCH = {"fetch_add": 0x01, "fetch_or": 0x41, "fetch_and": 0x51, "fetch_xor": 0xA1,
                 "xchg": BPF_XCHG}


def _int(text: str) -> int:
    t = text.replace(" ", "").replace("\t", "")
    neg = t.startswith("-")
    t = t.lstrip("+-")
    try:
        value = int(t, 16) if t[:2].lower() == "0x" else int(t, 10)
    except ValueError:
        raise AsmError(f"bad number {text.strip()!r}") from None
    return -value if neg else value


def _imm32(value: int, what: str = "immediate") -> int:
    """A 32-bit field: signed, or an unsigned bit pattern up to 0xffffffff."""
    if -(1 << 31) <= value < (1 << 31):
        return value
    if (1 << 31) <= value < (1 << 32):
        return value - (1 << 32)
    raise AsmError(f"{what} {value:#x} does not fit in 32 bits" if value >= 0
                   else f"{what} {value} does not fit in 32 bits")


def _off16(value: int, what: str = "offset") -> int:
    if -(1 << 15) <= value < (1 << 15):
        return value
    raise AsmError(f"{what} {value} does not fit in 16 bits")


def _imm64(value: int) -> tuple[int, int]:
    """(low imm, high imm) of a 64-bit constant, signed or unsigned."""
    if not -(1 << 63) <= value < (1 << 64):
        raise AsmError(f"constant {value:#x} does not fit in 64 bits")
    value &= (1 << 64) - 1
    return _imm32(value & 0xFFFFFFFF), _imm32(value >> 32)


@dataclass
class _Stmt:
    """One assembled statement: its slots and an optional label to patch in pass 2."""

    insns: list[BpfInsn]
    lineno: int
    line: str
    label: str | None = None      # label whose distance goes into ``field``
    field: str = "off"            # "off" or "imm" of insns[0]; "call" = local call or helper
    code_check: int | None = None  # the "(xx)" opcode byte printed before the instruction


@dataclass
class _Program:
    stmts: list[_Stmt] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    pc: int = 0
    first_exit: int | None = None   # bpf_conformance: "exit" names the first exit when no label


def _target(text: str) -> tuple[int | None, str | None]:
    """A jump target: ``pc+2``, ``+2``, ``-1`` (relative) or a label name."""
    t = text.strip()
    m = re.fullmatch(r"(?:pc)?\s*([-+]\s*(?:0[xX][0-9a-fA-F]+|\d+))", t)
    if m:
        return _int(m.group(1)), None
    if re.fullmatch(_LABEL, t):
        return None, t
    raise AsmError(f"bad jump target {t!r} (a label or a signed offset like +2)")


def _jump(code: int, target: str, dst: int = 0, src: int = 0, imm: int = 0, wide: bool = False,
          **kw) -> _Stmt:
    rel, label = _target(target)
    if wide:   # gotol, call local: the distance lives in imm
        insn = BpfInsn(code, dst, src, 0, _imm32(rel, "jump offset") if rel is not None else 0)
        return _Stmt([insn], 0, "", label, "imm", **kw)
    insn = BpfInsn(code, dst, src, _off16(rel, "jump offset") if rel is not None else 0, imm)
    return _Stmt([insn], 0, "", label, "off", **kw)


def _pseudo_ld(dst: int, name: str, args: list[str]) -> _Stmt:
    """``map_fd(3)`` and friends (ours), as LD_IMM64 with a pseudo src_reg."""
    srcs = {v[0]: k for k, v in _op.LD_IMM64_SRC.items() if v[0]}
    if name not in srcs:
        raise AsmError(f"unknown pseudo load {name!r} (one of {', '.join(sorted(srcs))})")
    src = int(srcs[name])
    two = _op.LD_IMM64_SRC[src][1]
    if src == BpfPseudo.BPF_PSEUDO_FUNC:
        if len(args) != 1:
            raise AsmError("func() takes one argument: a label or a relative offset")
        rel, label = _target(args[0])
        first = BpfInsn(BPF_LD | BPF_IMM | BPF_DW, dst, src, 0, 0 if rel is None else _imm32(rel))
        return _Stmt([first, BpfInsn(0)], 0, "", label, "imm")
    if not 1 <= len(args) <= (2 if two else 1):
        raise AsmError(f"{name}() takes {'one or two arguments' if two else 'one argument'}")
    imm = _imm32(_int(args[0]))
    nxt = _imm32(_int(args[1])) if len(args) == 2 else 0
    return _Stmt([BpfInsn(BPF_LD | BPF_IMM | BPF_DW, dst, src, 0, imm), BpfInsn(0, 0, 0, 0, nxt)],
                 0, "")


def _bpftool_ld(dst: int, text: str) -> _Stmt | None:
    """bpftool's ``map[id:5]``, ``map[id:5][0]+8``, ``map[idx:0]+16``, ``subprog[+5]``."""
    ld = BPF_LD | BPF_IMM | BPF_DW
    m = re.fullmatch(r"map\[id:(\d+)\]", text)
    if m:
        return _Stmt([BpfInsn(ld, dst, BpfPseudo.BPF_PSEUDO_MAP_FD, 0, _imm32(int(m.group(1)))),
                      BpfInsn(0)], 0, "")
    m = re.fullmatch(r"map\[id:(\d+)\]\[0\]\+(\d+)", text)
    if m:
        return _Stmt([BpfInsn(ld, dst, BpfPseudo.BPF_PSEUDO_MAP_VALUE, 0, _imm32(int(m.group(1)))),
                      BpfInsn(0, 0, 0, 0, _imm32(int(m.group(2))))], 0, "")
    m = re.fullmatch(r"map\[idx:(\d+)\]\+(\d+)", text)
    if m:
        return _Stmt([BpfInsn(ld, dst, BpfPseudo.BPF_PSEUDO_MAP_IDX_VALUE, 0,
                              _imm32(int(m.group(1)))),
                      BpfInsn(0, 0, 0, 0, _imm32(int(m.group(2))))], 0, "")
    m = re.fullmatch(r"subprog\[([-+]\d+)\]", text)
    if m:
        return _Stmt([BpfInsn(ld, dst, BpfPseudo.BPF_PSEUDO_FUNC, 0, _imm32(int(m.group(1)))),
                      BpfInsn(0)], 0, "")
    return None


def _split_args(text: str) -> list[str]:
    """Comma-separated arguments, commas inside brackets or parentheses kept."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


# ---- the kernel/LLVM dialect -------------------------------------------------------------------

_KREG = r"([rw])(\d+)"
_KSIZE = r"\*?\s*\(\s*([us](?:8|16|32|64))\s*\*\s*\)"
_KMEM = r"\(\s*r(\d+)\s*(?:([-+])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\)"


def _kreg(prefix: str, num: str) -> tuple[str, int]:
    n = int(num)
    if n > 15:
        raise AsmError(f"no register {prefix}{n}")
    return prefix, n


def _kmem_off(sign: str | None, value: str | None) -> int:
    if value is None:
        return 0
    return _off16(-_int(value) if sign == "-" else _int(value))


def _k_exit(m):
    return _Stmt([BpfInsn(BPF_JMP | BPF_EXIT)], 0, "")


def _k_goto(m):
    word, target = m.group(1), m.group(2)
    if word == "goto":
        return _jump(BPF_JMP | BPF_JA, target)
    if word == "gotol":
        return _jump(BPF_JMP32 | BPF_JA, target, wide=True)
    return _jump(BPF_JMP | BPF_JCOND, target)   # may_goto


def _k_callx(m):
    _, reg = _kreg(m.group(1), m.group(2))
    return _Stmt([BpfInsn(BPF_JMP | BPF_CALL | BPF_X, reg)], 0, "")


def _k_call(m):
    text = m.group(1).strip()
    call = BPF_JMP | BPF_CALL
    km = re.fullmatch(r"kfunc\(\s*(" + _NUM + r")\s*(?:,\s*(" + _NUM + r")\s*)?\)(?:#(-?\d+))?",
                      text)
    if km:
        imm = _imm32(_int(km.group(1)))
        if km.group(3) is not None and int(km.group(3)) != imm:
            raise AsmError(f"kfunc({imm}) does not match #{km.group(3)}")
        off = _off16(_int(km.group(2))) if km.group(2) else 0
        return _Stmt([BpfInsn(call, 0, BPF_PSEUDO_KFUNC_CALL, off, imm)], 0, "")
    nm = re.fullmatch(r"([\w.$-]+)#(-?\d+)", text)
    if nm:   # the printer's "name#imm": a helper if the name is the helper's, else a kfunc
        name, imm = nm.group(1), _imm32(int(nm.group(2)))
        if name == "unknown" or _op.FUNC_ID_STR.get(imm) == name:
            return _Stmt([BpfInsn(call, 0, 0, 0, imm)], 0, "")
        if name in _op.FUNC_NAME_ID:
            raise AsmError(f"{name} is helper #{_op.FUNC_NAME_ID[name]}, not #{imm}")
        return _Stmt([BpfInsn(call, 0, BPF_PSEUDO_KFUNC_CALL, 0, imm)], 0, "")
    if re.fullmatch(r"(?:pc)?\s*[-+]\s*\d+", text):
        return _jump(call, text, src=BPF_PSEUDO_CALL, wide=True)
    if re.fullmatch(_NUM, text):
        return _Stmt([BpfInsn(call, 0, 0, 0, _imm32(_int(text), "helper id"))], 0, "")
    if re.fullmatch(_LABEL, text):
        return _Stmt([BpfInsn(call)], 0, "", text, "call")
    raise AsmError(f"bad call target {text!r}")


def _k_cond(m):
    (dw, dn), opstr, rhs, target = _kreg(m.group(1), m.group(2)), m.group(3), m.group(4), m.group(5)
    cls = BPF_JMP32 if dw == "w" else BPF_JMP
    op = _JMP_TEXT[opstr]
    rm = re.fullmatch(_KREG, rhs.strip())
    if rm:
        sw, sn = _kreg(rm.group(1), rm.group(2))
        if sw != dw:
            raise AsmError("both sides of a comparison must be r or both w registers")
        return _jump(cls | op | BPF_X, target, dst=dn, src=sn)
    return _jump(cls | op | BPF_K, target, dst=dn, imm=_imm32(_int(rhs)))


def _k_lock(m):
    size, reg, sign, off, opstr = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
    _, src = _kreg(m.group(6), m.group(7))
    return _Stmt([BpfInsn(BPF_STX | BPF_ATOMIC | _SIZE_BITS[size], int(reg), src,
                          _kmem_off(sign, off), _ATOMIC_ASSIGN[opstr])], 0, "")


def _k_store_rel(m):
    size, reg, sign, off = m.group(1), m.group(2), m.group(3), m.group(4)
    _, src = _kreg(m.group(5), m.group(6))
    return _Stmt([BpfInsn(BPF_STX | BPF_ATOMIC | _SIZE_BITS[size], int(reg), src,
                          _kmem_off(sign, off), BPF_STORE_REL)], 0, "")


def _k_store(m):
    size, reg, sign, off, value = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5).strip()
    if size.startswith("s"):
        raise AsmError("stores take an unsigned size (u8, u16, u32, u64)")
    bits, dst, moff = _SIZE_BITS[size], int(reg), _kmem_off(sign, off)
    rm = re.fullmatch(_KREG, value)
    if rm:
        _, src = _kreg(rm.group(1), rm.group(2))
        return _Stmt([BpfInsn(BPF_STX | BPF_MEM | bits, dst, src, moff)], 0, "")
    if not re.fullmatch(_NUM, value):
        raise AsmError(f"bad value to store {value!r}")
    if bits == BPF_DW and not -(1 << 31) <= _int(value) < (1 << 31):
        raise AsmError(f"{value} does not fit in a sign-extended 32-bit immediate (a u64 store "
                       "of an immediate sign-extends it)")
    return _Stmt([BpfInsn(BPF_ST | BPF_MEM | bits, dst, 0, moff, _imm32(_int(value)))], 0, "")


def _k_load(m):
    _, dst = _kreg(m.group(1), m.group(2))
    size, reg, sign, off = m.group(3), m.group(4), m.group(5), m.group(6)
    mode = BPF_MEMSX if size.startswith("s") else BPF_MEM
    if size == "s64":
        raise AsmError("there is no sign-extending 64-bit load; use u64")
    return _Stmt([BpfInsn(BPF_LDX | mode | _SIZE_BITS[size], dst, int(reg), _kmem_off(sign, off))],
                 0, "")


def _k_skb(m):
    _, dst = _kreg(m.group(1), m.group(2))
    size, inner = m.group(3), m.group(4).strip()
    if dst != 0:
        raise AsmError("packet loads always load into r0")
    bits = _SIZE_BITS[size]
    im = re.fullmatch(r"r(\d+)\s*(?:\+\s*(" + _NUM + "))?", inner)   # LLVM prints skb[r2]
    if im:
        return _Stmt([BpfInsn(BPF_LD | BPF_IND | bits, 0, int(im.group(1)), 0,
                              _imm32(_int(im.group(2) or "0")))], 0, "")
    return _Stmt([BpfInsn(BPF_LD | BPF_ABS | bits, 0, 0, 0, _imm32(_int(inner)))], 0, "")


def _k_atomic_call(m):
    """``rX = atomic64_fetch_add((u64 *)(rA +0), rX)``, ``atomic_xchg``, ``atomic_cmpxchg``,
    ``load_acquire``, and LLVM's ``xchg_64(rA + 0, rX)`` / ``cmpxchg32_32(...)``."""
    dw_, dst = _kreg(m.group(1), m.group(2))
    func, args = m.group(3), _split_args(m.group(4))
    size = None
    llvm = re.fullmatch(r"(xchg|cmpxchg)(?:32)?_(32|64)", func)
    if llvm:
        func, size = llvm.group(1), ("u64" if llvm.group(2) == "64" else "u32")
        mm = re.fullmatch(r"r(\d+)\s*(?:([-+])\s*(0[xX][0-9a-fA-F]+|\d+))?", args[0]) if args else None
        base = (mm.group(1), mm.group(2), mm.group(3)) if mm else None
        func = "atomic_" + func
    else:
        mm = re.fullmatch(r"\(\s*([us](?:8|16|32|64))\s*\*\s*\)\s*" + _KMEM, args[0]) if args else None
        if mm:
            size, base = mm.group(1), (mm.group(2), mm.group(3), mm.group(4))
        else:
            base = None
    if base is None or size is None or size.startswith("s"):
        raise AsmError(f"bad memory operand in {func}()")
    bits, areg, aoff = _SIZE_BITS[size], int(base[0]), _kmem_off(base[1], base[2])
    code = BPF_STX | BPF_ATOMIC | bits
    if func == "load_acquire":
        if len(args) != 1:
            raise AsmError("load_acquire() takes one memory operand")
        return _Stmt([BpfInsn(code, dst, areg, aoff, BPF_LOAD_ACQ)], 0, "")
    fm = re.fullmatch(r"atomic(64)?_(fetch_add|fetch_or|fetch_and|fetch_xor|xchg|cmpxchg)", func)
    if not fm:
        raise AsmError(f"unknown atomic operation {func!r}")
    if fm.group(1) and bits != BPF_DW:
        raise AsmError(f"{func} needs a u64 operand")
    regs = []
    for a in args[1:]:
        rm = re.fullmatch(_KREG, a)
        if not rm:
            raise AsmError(f"bad register {a!r} in {func}()")
        regs.append(_kreg(rm.group(1), rm.group(2))[1])
    if fm.group(2) == "cmpxchg":
        if len(regs) != 2 or regs[0] != 0 or dst != 0:
            raise AsmError("cmpxchg is r0 = atomic_cmpxchg((uN *)(rA +off), r0, rB)")
        return _Stmt([BpfInsn(code, areg, regs[1], aoff, BPF_CMPXCHG)], 0, "")
    if len(regs) != 1 or regs[0] != dst:
        raise AsmError(f"{func} loads the old value into its source register: rX = {func}(..., rX)")
    return _Stmt([BpfInsn(code, areg, dst, aoff, _ATOMIC_FETCH[fm.group(2)])], 0, "")


def _k_neg(m):
    (dw, dn), (sw, sn) = _kreg(m.group(1), m.group(2)), _kreg(m.group(3), m.group(4))
    if (dw, dn) != (sw, sn):
        raise AsmError("neg works in place: rX = -rX")
    return _Stmt([BpfInsn((BPF_ALU if dw == "w" else BPF_ALU64) | BPF_NEG, dn)], 0, "")


def _k_end(m):
    _, dn = _kreg(m.group(1), m.group(2))
    which, width = m.group(3), int(m.group(4))
    _, sn = _kreg(m.group(5), m.group(6))
    if dn != sn:
        raise AsmError(f"{which}{width} works in place: rX = {which}{width} rX")
    code = {"le": BPF_ALU | BPF_END | BPF_TO_LE, "be": BPF_ALU | BPF_END | BPF_TO_BE,
            "bswap": BPF_ALU64 | BPF_END | BPF_TO_LE}[which]
    return _Stmt([BpfInsn(code, dn, 0, 0, width)], 0, "")


def _k_movsx(m):
    (dw, dn), cast, (sw, sn) = _kreg(m.group(1), m.group(2)), m.group(3), _kreg(m.group(4), m.group(5))
    if dw != sw:
        raise AsmError("a sign-extending move uses r or w registers on both sides")
    cls = BPF_ALU if dw == "w" else BPF_ALU64
    return _Stmt([BpfInsn(cls | BPF_MOV | BPF_X, dn, sn, int(cast[2:-1]))], 0, "")


def _k_pseudo(m):
    _, dn = _kreg(m.group(1), m.group(2))
    return _pseudo_ld(dn, m.group(3), _split_args(m.group(4)))


def _k_assign(m):
    """``rX op= rY`` / ``rX op= imm`` / ``rX = imm [ll]`` / bpftool ``rX = map[id:N]``."""
    (dw, dn), opstr, rhs = _kreg(m.group(1), m.group(2)), m.group(3), m.group(4).strip()
    cls = BPF_ALU if dw == "w" else BPF_ALU64
    op, off = _ALU_ASSIGN[opstr]
    rm = re.fullmatch(_KREG, rhs)
    if rm:
        sw, sn = _kreg(rm.group(1), rm.group(2))
        if sw != dw:
            raise AsmError("mixed register widths: use r with r, w with w")
        return _Stmt([BpfInsn(cls | op | BPF_X, dn, sn, off)], 0, "")
    if opstr == "=" and dw == "r":
        bt = _bpftool_ld(dn, rhs.replace(" ", ""))
        if bt is not None:
            return bt
        lm = re.fullmatch(r"(" + _NUM + r")\s+ll", rhs)
        if lm:
            lo, hi = _imm64(_int(lm.group(1)))
            return _Stmt([BpfInsn(BPF_LD | BPF_IMM | BPF_DW, dn, 0, 0, lo), BpfInsn(0, 0, 0, 0, hi)],
                         0, "")
    if not re.fullmatch(_NUM, rhs):
        raise AsmError(f"bad operand {rhs!r}")
    value = _int(rhs)
    if dw == "r" and not -(1 << 31) <= value < (1 << 31):
        # ALU64 immediates are sign-extended s32: 0xffffffff would silently mean -1 (LLVM reads
        # it so); refuse rather than surprise
        if opstr == "=":
            raise AsmError(f"{rhs} does not fit in a sign-extended 32-bit immediate; write "
                           f"`r{dn} = {rhs} ll` for a 64-bit constant")
        raise AsmError(f"{rhs} does not fit in a sign-extended 32-bit immediate"
                       + (f" (write {value - (1 << 32)} for that bit pattern)"
                          if (1 << 31) <= value < (1 << 32) else ""))
    return _Stmt([BpfInsn(cls | op | BPF_K, dn, 0, off, _imm32(value))], 0, "")


_KERNEL_FORMS = [  # (pattern, builder): tried in order, the first full match wins
    (r"exit", _k_exit),
    (r"(goto|gotol|may_goto)\s+(.+)", _k_goto),
    (r"callx\s+" + _KREG, _k_callx),
    (r"call\s+(.+)", _k_call),
    (r"if\s+" + _KREG + r"\s*(s>=|s<=|s>|s<|==|!=|>=|<=|>|<|&)\s*(.+?)\s+goto\s+(.+)", _k_cond),
    (r"lock\s+" + _KSIZE + r"\s*" + _KMEM + r"\s*(\+=|\|=|&=|\^=)\s*" + _KREG, _k_lock),
    (r"store_release\s*\(\s*\(\s*([us](?:8|16|32|64))\s*\*\s*\)\s*" + _KMEM + r"\s*,\s*" + _KREG
     + r"\s*\)", _k_store_rel),
    (_KSIZE + r"\s*" + _KMEM + r"\s*=\s*(.+)", _k_store),
    (_KREG + r"\s*=\s*" + _KSIZE + r"\s*" + _KMEM, _k_load),
    (_KREG + r"\s*=\s*" + _KSIZE + r"\s*skb\[(.+)\]", _k_skb),
    (_KREG + r"\s*=\s*(load_acquire|atomic(?:64)?_\w+|(?:xchg|cmpxchg)(?:32)?_(?:32|64))\s*\((.*)\)",
     _k_atomic_call),
    (_KREG + r"\s*=\s*-\s*" + _KREG, _k_neg),
    (_KREG + r"\s*=\s*(be|le|bswap)(16|32|64)\s+" + _KREG, _k_end),
    (_KREG + r"\s*=\s*(\(s(?:8|16|32)\))\s*" + _KREG, _k_movsx),
    (_KREG + r"\s*=\s*(map_fd|map_value|btf_id|func|map_idx|map_idx_value)\s*\((.*)\)", _k_pseudo),
    (_KREG + r"\s*(s>>=|s/=|s%=|<<=|>>=|\+=|-=|\*=|/=|\|=|&=|%=|\^=|=)\s*(.+)", _k_assign),
]
_KERNEL_FORMS = [(re.compile(p), f) for p, f in _KERNEL_FORMS]
_STMT_CUT = re.compile(r"\s*(?:;|//).*$")
_HASH_COMMENT = re.compile(r"(?:^|\s)#.*$")
_INDEX = re.compile(r"^\s*\d+:\s*")
_OBJDUMP_BYTES = re.compile(r"^(?:[0-9a-f]{2}[ \t]+){8}(?:(?:[0-9a-f]{2}[ \t]+){8})?")
_OPCODE = re.compile(r"^\(([0-9a-fA-F]{2})\)\s*")
_ANNOT = re.compile(r"\s*<[^<>]*>\s*$")
_PLAIN_LD = re.compile(r"r(\d+)\s*=\s*(" + _NUM + r")(?:\s+ll)?")
_LABEL_DEF = re.compile(r"^(" + _LABEL + r")\s*:(?!=)\s*")


def _kernel_stmt(text: str) -> _Stmt:
    code_check = None
    m = _OPCODE.match(text)
    if m:
        code_check, text = int(m.group(1), 16), text[m.end():]
    text = _ANNOT.sub("", text).strip()
    lm = _PLAIN_LD.fullmatch(text) if code_check == BPF_LD | BPF_IMM | BPF_DW else None
    if lm:   # "(18) r1 = 0x2a": the verifier log prints a plain LD_IMM64 without "ll"
        lo, hi = _imm64(_int(lm.group(2)))
        _, dst = _kreg("r", lm.group(1))
        return _Stmt([BpfInsn(code_check, dst, 0, 0, lo), BpfInsn(0, 0, 0, 0, hi)], 0, "")
    for pattern, builder in _KERNEL_FORMS:
        m = pattern.fullmatch(text)
        if m:
            stmt = builder(m)
            break
    else:
        raise AsmError("cannot parse instruction")
    if code_check is not None:
        stmt = _apply_code_check(stmt, code_check)
    return stmt


def _apply_code_check(stmt: _Stmt, code: int) -> _Stmt:
    first = stmt.insns[0]
    if first.code != code:
        raise AsmError(f"the opcode ({code:02x}) does not match the instruction ({first.code:02x})")
    stmt.code_check = code
    return stmt


def _strip_kernel(line: str) -> str:
    text = _STMT_CUT.sub("", line)
    text = _HASH_COMMENT.sub("", text)
    text = _INDEX.sub("", text, count=1)
    return _OBJDUMP_BYTES.sub("", text.strip(), count=1).strip()


# ---- the bpf_conformance dialect ---------------------------------------------------------------

_CREG = re.compile(r"%r(\d+)")
_CMEM = re.compile(r"\[\s*%r(\d+)\s*(?:([-+])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\]")


def _creg(text: str) -> int:
    m = _CREG.fullmatch(text.strip())
    if not m or int(m.group(1)) > 15:
        raise AsmError(f"bad register {text.strip()!r} (%r0..%r10)")
    return int(m.group(1))


def _cmem(text: str) -> tuple[int, int]:
    m = _CMEM.fullmatch(text.strip())
    if not m:
        raise AsmError(f"bad memory operand {text.strip()!r} (like [%r10-8])")
    if int(m.group(1)) > 15:
        raise AsmError(f"bad register %r{m.group(1)}")
    return int(m.group(1)), _kmem_off(m.group(2), m.group(3))


def _cimm(text: str) -> int:
    if not re.fullmatch(_NUM, text.strip()):
        raise AsmError(f"bad immediate {text.strip()!r}")
    return _imm32(_int(text))


def _nargs(args: list[str], n: int, mnemonic: str) -> None:
    if len(args) != n:
        raise AsmError(f"{mnemonic} takes {n} operand{'s' if n != 1 else ''}, not {len(args)}")


_C_ALU = {name: op for op, (name, _) in _op.ALU_OPS.items()} | {"sdiv": 0x30, "smod": 0x90}
_C_JMP = {name: op for op, name in _op.JMP_OPS.items()}
_C_SIZE = {"b": BPF_B, "h": BPF_H, "w": BPF_W, "dw": BPF_DW}
_C_ATOMIC = {"add": 0x00, "or": 0x40, "and": 0x50, "xor": 0xA0}


def _conformance_stmt(mnemonic: str, args: list[str]) -> _Stmt:
    mn = mnemonic.lower()
    m = re.fullmatch(r"(add|sub|mul|div|sdiv|or|and|lsh|rsh|mod|smod|xor|mov|arsh)(32|64)?", mn)
    if m:
        _nargs(args, 2, mn)
        cls = BPF_ALU if m.group(2) == "32" else BPF_ALU64
        op, off = _C_ALU[m.group(1)], 1 if m.group(1) in ("sdiv", "smod") else 0
        dst = _creg(args[0])
        if args[1].strip().startswith("%"):
            return _Stmt([BpfInsn(cls | op | BPF_X, dst, _creg(args[1]), off)], 0, "")
        return _Stmt([BpfInsn(cls | op | BPF_K, dst, 0, off, _cimm(args[1]))], 0, "")
    m = re.fullmatch(r"neg(32|64)?", mn)
    if m:
        _nargs(args, 1, mn)
        cls = BPF_ALU if m.group(1) == "32" else BPF_ALU64
        return _Stmt([BpfInsn(cls | BPF_NEG, _creg(args[0]))], 0, "")
    m = re.fullmatch(r"movsx(8|16|32)(32|64)", mn)
    if m:
        _nargs(args, 2, mn)
        cls = BPF_ALU if m.group(2) == "32" else BPF_ALU64
        return _Stmt([BpfInsn(cls | BPF_MOV | BPF_X, _creg(args[0]), _creg(args[1]),
                              int(m.group(1)))], 0, "")
    m = re.fullmatch(r"(be|le|bswap|swap)(16|32|64)", mn)
    if m:
        _nargs(args, 1, mn)
        code = {"le": BPF_ALU | BPF_END | BPF_TO_LE, "be": BPF_ALU | BPF_END | BPF_TO_BE}.get(
            m.group(1), BPF_ALU64 | BPF_END | BPF_TO_LE)
        return _Stmt([BpfInsn(code, _creg(args[0]), 0, 0, int(m.group(2)))], 0, "")
    m = re.fullmatch(r"(jeq|jgt|jge|jset|jne|jsgt|jsge|jlt|jle|jslt|jsle)(32)?", mn)
    if m:
        _nargs(args, 3, mn)
        cls = BPF_JMP32 if m.group(2) else BPF_JMP
        op, dst = _C_JMP[m.group(1)], _creg(args[0])
        if args[1].strip().startswith("%"):
            return _jump(cls | op | BPF_X, args[2], dst=dst, src=_creg(args[1]))
        return _jump(cls | op | BPF_K, args[2], dst=dst, imm=_cimm(args[1]))
    if mn in ("ja", "ja32", "may_goto"):
        _nargs(args, 1, mn)
        if mn == "ja":
            return _jump(BPF_JMP | BPF_JA, args[0])
        if mn == "ja32":
            return _jump(BPF_JMP32 | BPF_JA, args[0], wide=True)
        return _jump(BPF_JMP | BPF_JCOND, args[0])
    if mn == "exit":
        _nargs(args, 0, mn)
        return _Stmt([BpfInsn(BPF_JMP | BPF_EXIT)], 0, "")
    if mn in ("call", "callx"):
        return _conformance_call(mn, args)
    m = re.fullmatch(r"ldxs?(b|h|w|dw)", mn)
    if m:
        _nargs(args, 2, mn)
        signed = mn.startswith("ldxs")
        if signed and m.group(1) == "dw":
            raise AsmError("there is no ldxsdw")
        src, off = _cmem(args[1])
        mode = BPF_MEMSX if signed else BPF_MEM
        return _Stmt([BpfInsn(BPF_LDX | mode | _C_SIZE[m.group(1)], _creg(args[0]), src, off)], 0, "")
    m = re.fullmatch(r"st(x)?(b|h|w|dw)", mn)
    if m:
        _nargs(args, 2, mn)
        dst, off = _cmem(args[0])
        if m.group(1):
            return _Stmt([BpfInsn(BPF_STX | BPF_MEM | _C_SIZE[m.group(2)], dst, _creg(args[1]), off)],
                         0, "")
        return _Stmt([BpfInsn(BPF_ST | BPF_MEM | _C_SIZE[m.group(2)], dst, 0, off, _cimm(args[1]))],
                     0, "")
    m = re.fullmatch(r"(ldacq|strel)(b|h|w|dw)", mn)
    if m:
        _nargs(args, 2, mn)
        code = BPF_STX | BPF_ATOMIC | _C_SIZE[m.group(2)]
        if m.group(1) == "ldacq":
            src, off = _cmem(args[1])
            return _Stmt([BpfInsn(code, _creg(args[0]), src, off, BPF_LOAD_ACQ)], 0, "")
        dst, off = _cmem(args[0])
        return _Stmt([BpfInsn(code, dst, _creg(args[1]), off, BPF_STORE_REL)], 0, "")
    if mn == "lddw":
        _nargs(args, 2, mn)
        dst, value = _creg(args[0]), args[1].strip()
        pm = re.fullmatch(r"(\w+)\s*\((.*)\)", value)
        if pm:
            return _pseudo_ld(dst, pm.group(1), _split_args(pm.group(2)))
        bt = _bpftool_ld(dst, value.replace(" ", ""))
        if bt is not None:
            return bt
        if not re.fullmatch(_NUM, value):
            raise AsmError(f"bad 64-bit immediate {value!r}")
        lo, hi = _imm64(_int(value))
        return _Stmt([BpfInsn(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, lo), BpfInsn(0, 0, 0, 0, hi)], 0, "")
    m = re.fullmatch(r"ld(abs|ind)(b|h|w)", mn)
    if m:
        bits = _C_SIZE[m.group(2)]
        if m.group(1) == "abs":
            _nargs(args, 1, mn)
            return _Stmt([BpfInsn(BPF_LD | BPF_ABS | bits, 0, 0, 0, _cimm(args[0]))], 0, "")
        _nargs(args, 2, mn)
        return _Stmt([BpfInsn(BPF_LD | BPF_IND | bits, 0, _creg(args[0]), 0, _cimm(args[1]))], 0, "")
    if mn == "lock":
        return _conformance_lock(args)
    raise AsmError(f"unknown mnemonic {mnemonic!r}")


def _conformance_call(mn: str, args: list[str]) -> _Stmt:
    call = BPF_JMP | BPF_CALL
    if mn == "callx" or (len(args) == 1 and args[0].startswith("%")):
        _nargs(args, 1, mn)
        return _Stmt([BpfInsn(call | BPF_X, _creg(args[0]))], 0, "")
    if len(args) == 1:
        args = args[0].split(None, 1) if " " in args[0] else ["helper"] + args
    _nargs(args, 2, "call <mode>")
    mode, target = args[0].lower(), args[1]
    if mode == "helper":
        if target.startswith("%"):
            return _Stmt([BpfInsn(call | BPF_X, _creg(target))], 0, "")
        if target in _op.FUNC_NAME_ID:
            return _Stmt([BpfInsn(call, 0, 0, 0, _op.FUNC_NAME_ID[target])], 0, "")
        return _Stmt([BpfInsn(call, 0, 0, 0, _cimm(target))], 0, "")
    if mode == "local":
        return _jump(call, target, src=BPF_PSEUDO_CALL, wide=True)
    if mode == "runtime":
        return _Stmt([BpfInsn(call, 0, BPF_PSEUDO_KFUNC_CALL, 0, _cimm(target))], 0, "")
    raise AsmError(f"bad call mode {mode!r} (helper, local or runtime)")


def _conformance_lock(args: list[str]) -> _Stmt:
    """``lock [fetch] add|or|and|xor|xchg|cmpxchg[32] [mem], %rS``."""
    m = re.fullmatch(r"(fetch\s+)?(\w+)\s*(\[.*\])", args[0].strip(), re.I) if len(args) == 2 else None
    if m is None:
        raise AsmError("lock takes [fetch] <op> [mem], %reg")
    fetch, words = bool(m.group(1)), [m.group(2), m.group(3)]
    m = re.fullmatch(r"(add|or|and|xor|xchg|cmpxchg)(32|64)?", words[0].lower())
    if not m:
        raise AsmError(f"unknown atomic operation {words[0]!r}")
    bits = BPF_W if m.group(2) == "32" else BPF_DW
    dst, off = _cmem(words[1])
    src = _creg(args[1])
    name = m.group(1)
    if name == "xchg":
        imm = BPF_XCHG
    elif name == "cmpxchg":
        imm = BPF_CMPXCHG
    else:
        imm = _C_ATOMIC[name] | (BPF_FETCH if fetch else 0)
    return _Stmt([BpfInsn(BPF_STX | BPF_ATOMIC | bits, dst, src, off, imm)], 0, "")


def _strip_conformance(line: str) -> str:
    return re.sub(r"(#|;|//).*$", "", line).strip()


# ---- driver ------------------------------------------------------------------------------------

_CONFORMANCE_WORDS = re.compile(
    r"^(?:ja|ja32|lddw|ldx\w+|st[bhw]|stdw|stx\w+|lock\s+(?!\*)|(?:add|sub|mul|div|sdiv|or|and|"
    r"lsh|rsh|mod|smod|xor|mov|arsh|neg)(?:32|64)?\s|movsx|call\s+(?:local|helper|runtime)\b)")


def detect_dialect(text: str) -> str:
    """``"conformance"`` if the text uses ``%r`` registers or that dialect's mnemonics, else
    ``"kernel"``. Called by ``assemble`` when no dialect is given."""
    for raw in text.splitlines():
        line = _strip_conformance(raw)
        line = _LABEL_DEF.sub("", line)
        if not line:
            continue
        if "%r" in line or _CONFORMANCE_WORDS.match(line):
            return "conformance"
        if "=" in line or line.startswith(("if ", "goto", "(", "*(")) or re.match(r"^\d+:", line):
            return "kernel"
    return "kernel"


def assemble(text: str, dialect: str | None = None, check: bool = True,
             linemap: list[int] | None = None) -> list[BpfInsn]:
    """Assemble a program. ``dialect`` is ``"kernel"``, ``"conformance"`` or None (detect).

    Raises ``AsmError`` naming the line; with ``check`` (the default) the result must also pass
    ``check_insns`` (a failure is reported as an ``AsmError`` on the offending line). A list
    passed as ``linemap`` receives the source line number of every slot (for error messages).
    """
    if dialect is None:
        dialect = detect_dialect(text)
    if dialect not in DIALECTS:
        raise AsmError(f"unknown dialect {dialect!r} (kernel or conformance)")
    prog = _Program()
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            body = (_strip_kernel if dialect == "kernel" else _strip_conformance)(line)
            while True:
                m = _LABEL_DEF.match(body)
                if not m or (dialect == "kernel" and re.match(r"\d", body)):
                    break
                name = m.group(1)
                if name in prog.labels:
                    raise AsmError(f"duplicate label {name!r}")
                prog.labels[name] = prog.pc
                body = body[m.end():]
            if not body:
                continue
            if dialect == "kernel":
                stmt = _kernel_stmt(body)
            else:
                mnemonic, _, rest = re.sub(r"\s+", " ", body).partition(" ")
                if mnemonic.lower() == "lock":
                    # "lock [fetch] op [mem], %r": keep the words before the memory operand together
                    stmt = _conformance_lock(_split_args(rest.strip()))
                else:
                    stmt = _conformance_stmt(mnemonic, _split_args(rest.strip()))
                if mnemonic.lower() == "exit" and prog.first_exit is None:
                    prog.first_exit = prog.pc
        except AsmError as e:
            raise AsmError(e.message, lineno, line) from None
        stmt.lineno, stmt.line = lineno, line
        prog.stmts.append(stmt)
        prog.pc += len(stmt.insns)
    if dialect == "conformance" and "exit" not in prog.labels and prog.first_exit is not None:
        prog.labels["exit"] = prog.first_exit
    insns = _resolve(prog)
    if linemap is not None:
        linemap[:] = [stmt.lineno for stmt in prog.stmts for _ in stmt.insns]
    if check:
        try:
            check_insns(insns)
        except BpfInsnError as e:
            stmt = _stmt_at(prog, e.index)
            if stmt is None:
                raise AsmError(e.message) from None
            raise AsmError(e.message, stmt.lineno, stmt.line) from None
    return insns


def _resolve(prog: _Program) -> list[BpfInsn]:
    out: list[BpfInsn] = []
    for stmt in prog.stmts:
        pc = len(out)
        insns = list(stmt.insns)
        if stmt.label is not None:
            try:
                insns[0] = _patch(stmt, insns[0], prog.labels, pc)
            except AsmError as e:
                raise AsmError(e.message, stmt.lineno, stmt.line) from None
        out.extend(insns)
    return out


def _patch(stmt: _Stmt, insn: BpfInsn, labels: dict[str, int], pc: int) -> BpfInsn:
    name = stmt.label
    if stmt.field == "call":   # "call name": a local function, else a helper by name
        if name in labels:
            return replace(insn, src=BPF_PSEUDO_CALL, imm=_imm32(labels[name] - pc - 1))
        if name in _op.FUNC_NAME_ID:
            return replace(insn, imm=_op.FUNC_NAME_ID[name])
        raise AsmError(f"unknown helper or label {name!r}")
    if name not in labels:
        raise AsmError(f"unknown label {name!r}")
    dist = labels[name] - pc - 1
    if stmt.field == "imm":
        return replace(insn, imm=_imm32(dist, "jump distance"))
    return replace(insn, off=_off16(dist, f"jump to {name!r}: distance"))


def _stmt_at(prog: _Program, index: int) -> _Stmt | None:
    pc = 0
    for stmt in prog.stmts:
        if pc <= index < pc + len(stmt.insns):
            return stmt
        pc += len(stmt.insns)
    return None


# ---- bpf_conformance .data files ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DataFile:
    """A bpf_conformance test file (format: /work/shared/conformance/README.md)."""

    asm: str                  # the "-- asm" section
    result: int | None        # "-- result": expected r0 (u64), the last line wins
    mem: bytes = b""          # "-- mem": the input buffer
    raw: tuple[int, ...] | None = None   # "-- raw": pre-assembled 64-bit slots
    error: str | None = None  # "-- error": expected error text
    skip: str | None = None   # why the runner would skip this file (unknown directive...)

    def insns(self) -> list[BpfInsn]:
        """The program: "-- raw" if present, else the assembled "-- asm" (conformance dialect)."""
        if self.raw is not None:
            return [BpfInsn(w & 0xFF, (w >> 8) & 0xF, (w >> 12) & 0xF,
                            _sx((w >> 16) & 0xFFFF, 16), _sx(w >> 32, 32)) for w in self.raw]
        return assemble(self.asm, "conformance", check=False)


def _sx(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def parse_data_file(text: str) -> DataFile:
    """Split a ``.data`` file into its sections (README: comments from ``#``, ``--`` lines pick
    a section by substring in the order asm, result, mem, raw, no register offset, c, error)."""
    sections: dict[str, list[str]] = {}
    cur, skip = None, None
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        line = line.split("#", 1)[0]
        if "--" in line:
            for name in ("asm", "result", "mem", "raw", "no register offset", " c", "error"):
                if name in line:
                    cur = name.strip()
                    sections.setdefault(cur, [])
                    break
            else:
                skip, cur = f"unknown directive {line.strip()!r}", None
            continue
        if not line.strip() or cur is None:
            continue
        sections[cur].append(line)
    result = None
    if sections.get("result"):
        last = sections["result"][-1].strip()
        result = int(last, 16) if "0x" in last.lower() else int(last, 10)
        result &= (1 << 64) - 1
    mem = bytes(int(b, 16) for b in " ".join(sections.get("mem", [])).split())
    raw_words = None
    if "raw" in sections:
        raw_words = tuple(int(w, 16) if w.lower().startswith("0x") else int(w)
                          for w in " ".join(sections["raw"]).split())
    error = None
    if sections.get("error"):
        error = "\n".join(sections["error"]).strip()
    if result is None and error is None and skip is None:
        skip = "no result and no error section"
    return DataFile("\n".join(sections.get("asm", [])), result, mem, raw_words, error, skip)
