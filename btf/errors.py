"""BtfError: the btf package's one exception, an errno and the kernel's verifier-log line.

The errno is what BPF_BTF_LOAD would return for the same bytes (kernel/bpf/btf.c btf_parse); the
message is the complaint the kernel writes to the log (e.g. ``Invalid magic``, ``[1] Invalid
name_offset:99``). ``log`` holds the whole verifier log up to and including that complaint when the
error comes from ``btf_check``; the kernelsim core re-raises it as ``BpfError(...) from e``.
"""

import errno as _errno

ENOTSUPP = 524   # include/linux/errno.h: kernel-internal, absent from Python's errno module


def errno_name(errno: int) -> str:
    """The symbolic name of an errno, ENOTSUPP included."""
    return "ENOTSUPP" if errno == ENOTSUPP else _errno.errorcode.get(errno, str(errno))


class BtfError(Exception):
    """A BTF blob or type the kernel would refuse, with the errno it would return."""

    def __init__(self, errno: int, message: str = "", log: str = ""):
        super().__init__(errno, message)
        self.errno = errno
        self.message = message or errno_name(errno)
        self.log = log

    def __str__(self) -> str:
        return f"[{errno_name(self.errno)}] {self.message}"
