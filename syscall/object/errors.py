"""Errors of the object loader: ``BpfObjectError`` (tools/lib/bpf/libbpf.c reports the same
failures with pr_warn and a negative errno).

libbpf prints a warning naming the section, the program, the symbol and the instruction, and
returns -errno (or one of its own ``LIBBPF_ERRNO__*`` codes, kept here as ``libbpf_errno``). The
loader raises one exception carrying the same facts as attributes, so a test can assert on them
and a person reads them in the message:

    BpfObjectError: [EINVAL] prog 'on_read': bad map relo against 'counts' in section '.bss'
        (section 'fentry/vfs_read', symbol 'counts', insn 12)

``errno`` is a real errno (what the failing syscall returned, or the one libbpf returns for the
same problem); a verifier rejection carries the verifier log in ``log``. It is an ``OSError``
subclass, like the OSError(errno) the libbpf-style wrappers raise.
"""

import errno as _errno

from kernelsim.uapi import ENOTSUPP

# libbpf's private error codes (tools/lib/bpf/libbpf.h enum libbpf_errno), for reference.
LIBBPF_ERRNO__LIBELF = 4000    # something wrong in libelf
LIBBPF_ERRNO__FORMAT = 4001    # BPF object format invalid
LIBBPF_ERRNO__KVERSION = 4002  # incorrect or no 'version' section
LIBBPF_ERRNO__ENDIAN = 4003    # endian mismatch
LIBBPF_ERRNO__INTERNAL = 4004  # internal error in libbpf
LIBBPF_ERRNO__RELOC = 4005     # relocation failed
LIBBPF_ERRNO__LOAD = 4006      # load program failed (verifier log follows)


def errno_name(err: int) -> str:
    if err == ENOTSUPP:
        return "ENOTSUPP"
    return _errno.errorcode.get(err, str(err))


class BpfObjectError(OSError):
    """A BPF object that cannot be opened, relocated, loaded or attached.

    Attributes: ``errno``; ``message``; ``section`` (ELF section name), ``symbol``, ``offset``
    (byte offset in the section, or the instruction index when ``insn`` is given), ``insn``
    (instruction index in the program), ``prog`` and ``map`` (names), ``log`` (verifier log),
    ``libbpf_errno`` (libbpf's code for the same failure, when it has one).
    """

    def __init__(self, errno: int, message: str, *, section=None, symbol=None, offset=None,
                 insn=None, prog=None, map=None, log=None, libbpf_errno=None):
        super().__init__(errno, message)
        self.message = message
        self.section = section
        self.symbol = symbol
        self.offset = offset
        self.insn = insn
        self.prog = prog
        self.map = map
        self.log = log
        self.libbpf_errno = libbpf_errno

    def __str__(self) -> str:
        where = []
        if self.section is not None:
            where.append(f"section '{self.section}'")
        if self.symbol is not None:
            where.append(f"symbol '{self.symbol}'")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.insn is not None:
            where.append(f"insn {self.insn}")
        text = f"[{errno_name(self.errno)}] {self.message}"
        if where and not all(w.split(" ", 1)[1] in self.message for w in where):
            text += f" ({', '.join(where)})"
        if self.log:
            tail = self.log.rstrip("\n").splitlines()[-12:]
            text += "\n-- verifier log (last lines) --\n" + "\n".join(tail)
        return text

    def __reduce__(self):
        return (_rebuild, (self.errno, self.message, dict(self.__dict__)))


def _rebuild(err, message, state):
    e = BpfObjectError(err, message)
    e.__dict__.update(state)
    return e


def format_error(message: str, **where) -> BpfObjectError:
    """A BpfObjectError with EINVAL and libbpf's FORMAT code: a corrupted or unsupported ELF."""
    return BpfObjectError(_errno.EINVAL, message, libbpf_errno=LIBBPF_ERRNO__FORMAT, **where)


def relo_error(message: str, **where) -> BpfObjectError:
    """A BpfObjectError with EINVAL and libbpf's RELOC code: a relocation that does not resolve."""
    return BpfObjectError(_errno.EINVAL, message, libbpf_errno=LIBBPF_ERRNO__RELOC, **where)
