"""The BPF printf core: bpf_bprintf_prepare's checks and bstr_printf's formatting
(kernel/bpf/helpers.c bpf_bprintf_prepare, lib/vsprintf.c bstr_printf / pointer / number).

Used by bpf_trace_printk, bpf_trace_vprintk (helpers/trace.py) and bpf_snprintf (helpers/core.py).
``bpf_bprintf_prepare`` walks the format once, as the kernel does, and either fails with -EINVAL
(a non-printable byte, more conversions than arguments, an unknown conversion, a width with a
precision, ``%s`` followed by a letter ...) or -ENOSPC (the 512-byte binary argument buffer is
full), or returns the list of formatted pieces. Arguments are fetched while walking: strings
(``%s``, ``%pks``, ``%pus``) and IP addresses (``%pI4`` ...) are copied out of kernel or user
memory at that point, a fault giving an empty string or zeroes.

The accepted conversions (6.18): ``%%``, ``%[flags][width]`` then ``d i u x X`` with ``l``/``ll``,
``c``, ``s``, and ``p`` alone or followed by ``K x s S B ks us i4 I4 i6 I6``. Flags are
``0 + - space``; there is no precision, no ``h``/``z``/``#``. Checked against Linux 6.18.44:
``%d %d %d %d`` is -EINVAL for trace_printk (three arguments at most), ``%.2d`` and ``%hd`` are
-EINVAL, ``%p`` prints a hashed value as 16 zero-padded hex digits (NULL prints zeroes), ``%px``
the raw value, a NULL ``%s`` prints nothing, ``%c`` of 0 ends the trace line there.

Pointer hashing is deterministic here: the hash is keyed by the machine's seed instead of a random
boot key, so a replay prints the same ``%p`` values.
"""

import errno
import hashlib

from .common import (U32_MASK, U64_MASK, copy_from_kernel_nofault, s32, s64,
                     strncpy_from_kernel_nofault, strncpy_from_user_nofault)
from ..memory import TASK_SIZE

MAX_BPRINTF_BIN_ARGS = 512
MAX_BPRINTF_BUF = 1024
MAX_BPRINTF_VARARGS = 12
MAX_TRACE_PRINTK_VARARGS = 3

_FLAGS = "0+- "
_PUNCT = set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


def _isprint_or_space(b: int) -> bool:
    return 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0B, 0x0C, 0x0D)


def _ends_spec(c: str) -> bool:
    """fmt[i + 1] == 0 || isspace() || ispunct(): what may follow %s or a plain %p."""
    return c == "" or c in " \t\n\v\f\r" or c in _PUNCT


class _Spec:
    """One conversion as bstr_printf will render it."""

    __slots__ = ("flags", "width", "conv", "size", "value", "text")

    def __init__(self, flags, width, conv, size=4, value=0, text=b""):
        self.flags, self.width, self.conv, self.size = flags, width, conv, size
        self.value, self.text = value, text


def bpf_bprintf_prepare(run, fmt: bytes, raw_args: list[int], num_args: int,
                        copy_args: bool = True):
    """Called from the printf helpers. ``fmt`` is the format up to (not including) its NUL.
    Returns a list of pieces (bytes literals and ``_Spec``) or -EINVAL / -ENOSPC."""
    pieces: list = []
    lit = bytearray()
    n = len(fmt)
    tmp = 0 if (copy_args and num_args) else None     # offset in the 512-byte bin_args buffer
    num_spec = 0
    s = fmt.decode("latin-1")
    i = 0

    def at(k):
        return s[k] if k < n else ""

    def reserve(size, align=True):
        nonlocal tmp
        if tmp is None:
            return 0
        if align:
            tmp = (tmp + 3) & ~3
        if MAX_BPRINTF_BIN_ARGS - tmp < size:
            return -errno.ENOSPC
        tmp += size
        return 0

    while i < n:
        b = fmt[i]
        if not _isprint_or_space(b):
            return -errno.EINVAL
        if s[i] != "%":
            lit.append(b)
            i += 1
            continue
        if at(i + 1) == "%":
            lit.append(0x25)
            i += 2
            continue
        if num_spec >= num_args:
            return -errno.EINVAL
        if lit:
            pieces.append(bytes(lit))
            lit.clear()
        i += 1
        flags = ""
        while at(i) in _FLAGS and at(i) != "":
            flags += s[i]
            i += 1
        width = None
        if "1" <= at(i) <= "9":
            start = i
            i += 1
            while "0" <= at(i) <= "9" and at(i) != "":
                i += 1
            width = int(s[start:i])
        arg = raw_args[num_spec] & U64_MASK if num_spec < len(raw_args) else 0
        c = at(i)
        if c == "p":
            nxt = at(i + 1)
            if _ends_spec(nxt):
                if reserve(8):
                    return -errno.ENOSPC
                pieces.append(_Spec(flags, width, "p", 8, arg))
                i += 1
            elif nxt in ("k", "u") and at(i + 2) == "s":
                i += 2
                err = _fmt_str(run, pieces, flags, width, nxt, arg, s, i, n, tmp)
                if isinstance(err, int) and err < 0:
                    return err
                tmp = err
                i += 1
            elif nxt in ("K", "x", "s", "S"):
                if reserve(8):
                    return -errno.ENOSPC
                pieces.append(_Spec(flags, width, "p" + nxt, 8, arg))
                i += 2
            elif nxt == "B":
                text = _symbol(run, arg, offset=True, backtrace=True)
                if tmp is not None:
                    tmp = min(MAX_BPRINTF_BIN_ARGS, tmp + len(text) + 1)
                pieces.append(_Spec(flags, width, "pB", 8, arg, text))
                i += 2
            elif nxt in ("i", "I") and at(i + 2) in ("4", "6"):
                size = 4 if at(i + 2) == "4" else 16
                i += 3
                if tmp is not None:
                    if MAX_BPRINTF_BIN_ARGS - tmp < size:
                        return -errno.ENOSPC
                    raw = copy_from_kernel_nofault(run, arg, size)
                    if isinstance(raw, int):
                        raw = bytes(size)
                    text = _ip_string(nxt, size, raw)
                    tmp = min(MAX_BPRINTF_BIN_ARGS, tmp + len(text) + 1)
                    pieces.append(_Spec(flags, width, "s", 0, 0, text))
            else:
                return -errno.EINVAL
            num_spec += 1
            continue
        if c == "s":
            err = _fmt_str(run, pieces, flags, width, "s", arg, s, i, n, tmp)
            if isinstance(err, int) and err < 0:
                return err
            tmp = err
            i += 1
            num_spec += 1
            continue
        if c == "c":
            if tmp is not None:
                if tmp == MAX_BPRINTF_BIN_ARGS:
                    return -errno.ENOSPC
                tmp += 1
            pieces.append(_Spec(flags, width, "c", 1, arg & 0xFF))
            i += 1
            num_spec += 1
            continue
        size = 4
        if c == "l":
            size = 8
            i += 1
            if at(i) == "l":
                i += 1
        c = at(i)
        if c == "" or c not in "iduxX":
            return -errno.EINVAL
        if reserve(size):
            return -errno.ENOSPC
        pieces.append(_Spec(flags, width, c, size, arg))
        i += 1
        num_spec += 1
    if lit:
        pieces.append(bytes(lit))
    return pieces


def _fmt_str(run, pieces, flags, width, ptype, arg, s, i, n, tmp):
    """The %s / %pks / %pus branch: returns the new bin-buffer offset, or -errno."""
    nxt = s[i + 1] if i + 1 < n else ""
    if not _ends_spec(nxt):
        return -errno.EINVAL
    if tmp is None:
        pieces.append(_Spec(flags, width, "s", 0, 0, b""))
        return None
    if tmp == MAX_BPRINTF_BIN_ARGS:
        return -errno.ENOSPC
    room = MAX_BPRINTF_BIN_ARGS - tmp
    got = bpf_trace_copy_string(run, arg, ptype, room)
    if isinstance(got, int):
        got = b"\0"
    pieces.append(_Spec(flags, width, "s", 0, 0, got[:-1]))
    return tmp + len(got)


def bpf_trace_copy_string(run, addr: int, ptype: str, size: int) -> bytes | int:
    """kernel/bpf/helpers.c bpf_trace_copy_string: %s picks user or kernel memory by address on
    architectures with non-overlapping address spaces; %pks is kernel, %pus user."""
    if ptype == "s" and run.kernel.arch != "s390x" and addr < TASK_SIZE:
        return strncpy_from_user_nofault(run, addr, size)
    if ptype in ("s", "k"):
        return strncpy_from_kernel_nofault(run, addr, size)
    return strncpy_from_user_nofault(run, addr, size)


def _ip_string(kind: str, size: int, raw: bytes) -> bytes:
    if size == 4:
        return (".".join(f"{b:03d}" if kind == "i" else str(b) for b in raw)).encode()
    groups = [raw[k:k + 2].hex() for k in range(0, 16, 2)]
    return ("".join(groups) if kind == "i" else ":".join(groups)).encode()


def _symbol(run, addr: int, offset: bool, backtrace: bool = False) -> bytes:
    """%pS / %ps / %pB through the kernel's symbol table hook ``kernel.subsys["kallsyms"]``
    (a callable addr -> (name, offset, size) or None, provided by the tracing code); without a
    symbol the kernel prints ``0x<hex>``."""
    lookup = run.kernel.subsys.get("kallsyms")
    sym = lookup(addr - 1 if backtrace and addr else addr) if callable(lookup) else None
    if not sym:
        return f"{addr:#x}".encode() if addr else b"0x0"
    name, off, size = sym
    if backtrace and addr:
        off += 1
    return (f"{name}+{off:#x}/{size:#x}" if offset else name).encode()


def _pad(body: bytes, flags: str, width, zero_ok: bool = False, sign: bytes = b"") -> bytes:
    width = width or 0
    total = len(sign) + len(body)
    if total >= width:
        return sign + body
    if "-" in flags:
        return sign + body + b" " * (width - total)
    if zero_ok and "0" in flags:
        return sign + b"0" * (width - total) + body
    return b" " * (width - total) + sign + body


def ptr_hash(run, addr: int) -> int:
    """The 32-bit hashed value %p prints (lib/vsprintf.c ptr_to_id), keyed by the machine seed."""
    key = int(run.kernel.seed).to_bytes(8, "little", signed=True)
    h = hashlib.blake2b(addr.to_bytes(8, "little"), digest_size=4, key=key)
    return int.from_bytes(h.digest(), "little")


def _render_ptr(run, spec: _Spec) -> bytes:
    conv, v = spec.conv, spec.value
    if conv in ("ps", "pS", "pB"):
        text = spec.text if conv == "pB" else _symbol(run, v, offset=conv == "pS")
        return _pad(text, spec.flags, spec.width)
    if conv == "pK":
        restrict = run.kernel.sysctl["kernel.kptr_restrict"]
        if restrict == 2 or (restrict == 1 and not _has_syslog(run)):
            v, conv = 0, "px"
        elif restrict == 1:
            conv = "px"
    if conv == "px" or v == 0:
        digits = f"{v:x}".encode()
    else:
        digits = f"{ptr_hash(run, v):x}".encode()
    if spec.width is None:
        return digits.rjust(16, b"0")
    return _pad(digits, spec.flags, spec.width, zero_ok=True)


def _has_syslog(run) -> bool:
    task = run.task
    return task is not None and task.cred.capable("CAP_SYSLOG")


def bstr_printf(run, pieces: list, size: int) -> tuple[bytes, int]:
    """Render the prepared pieces into a buffer of ``size`` bytes (lib/vsprintf.c bstr_printf):
    returns (bytes written without the NUL, the untruncated length vsnprintf returns)."""
    out = bytearray()
    for p in pieces:
        if isinstance(p, bytes):
            out += p
            continue
        conv = p.conv
        if conv in "di":
            v = s64(p.value) if p.size == 8 else s32(p.value)
            sign = b"-" if v < 0 else (b"+" if "+" in p.flags else (b" " if " " in p.flags else b""))
            out += _pad(str(abs(v)).encode(), p.flags, p.width, True, sign)
        elif conv in "uxX":
            v = p.value & (U64_MASK if p.size == 8 else U32_MASK)
            body = (str(v) if conv == "u" else f"{v:x}" if conv == "x" else f"{v:X}").encode()
            out += _pad(body, p.flags, p.width, True)
        elif conv == "c":
            out += _pad(bytes([p.value]), p.flags, p.width)
        elif conv == "s":
            out += _pad(p.text, p.flags, p.width)
        else:
            out += _render_ptr(run, p)
    full = len(out)
    if size <= 0:
        return b"", full
    return bytes(out[: size - 1]), full
