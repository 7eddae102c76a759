"""The one exception type of the simulated kernel: an errno and a message (ARCHITECTURE.md, Errors).

Everything below the syscall boundary raises ``BpfError``; ``syscall/dispatch.py`` turns it into
-errno, as the kernel's bpf() entry returns a negative errno. The message is for people: it is what
the verifier log, a replay report or a traceback note shows. Context (the instruction index and its
disassembly, a map id) is added with ``add_note`` rather than by widening the message.
"""

import errno as _errno

from .uapi import ENOTSUPP


class BpfError(Exception):
    """A failure with the errno the real kernel would return for it."""

    def __init__(self, errno: int, message: str = ""):
        super().__init__(errno, message)
        self.errno = errno
        self.message = message or _errno.errorcode.get(errno, "ENOTSUPP" if errno == ENOTSUPP else str(errno))

    def __str__(self) -> str:
        name = "ENOTSUPP" if self.errno == ENOTSUPP else _errno.errorcode.get(self.errno, str(self.errno))
        return f"[{name}] {self.message}"


class BpfRuntimeError(Exception):
    """A program stopped at run time: a bad memory access or an undefined instruction in an
    unverified run (the interpreter raises it; the kernel would have oopsed). Not an errno: the
    verifier exists so that accepted programs never raise it.
    """

    def __init__(self, message: str, pc: int | None = None):
        super().__init__(message)
        self.pc = pc
