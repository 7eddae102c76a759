"""The trampoline's part of include/linux/bpf.h: BPF_TRAMP_F_* flags, enum bpf_tramp_prog_type,
the per-architecture link limits, and TrampolineError.

Numbers are the kernel's (fact sheet btf-trampoline.md 5.1, 5.2, 6.4). ``TrampolineError`` is this
package's errno-carrying exception (STYLE.md, Errors): the kernelsim core re-raises it as
``BpfError(e.errno, e.message) from e``.
"""

import errno as _errno
from enum import IntEnum, IntFlag

ENOTSUPP = 524          # kernel-only errno (include/linux/errno.h); Python's errno module lacks it
E2BIG = _errno.E2BIG    # 7
EINVAL = _errno.EINVAL  # 22
PAGE_SIZE = 4096
X86_PATCH_SIZE = 5      # the 5-byte `call __fentry__` / nop at a traced function's entry


class BpfTrampFlags(IntFlag):
    """BPF_TRAMP_F_* (include/linux/bpf.h). 5.5 had only bits 0-2."""
    BPF_TRAMP_F_RESTORE_REGS = 1 << 0     # fentry-only: reload the argument registers before returning
    BPF_TRAMP_F_CALL_ORIG = 1 << 1        # call the original function between fentry/fmod_ret and fexit
    BPF_TRAMP_F_SKIP_FRAME = 1 << 2       # return to the traced function's caller (the image "is" it)
    BPF_TRAMP_F_IP_ARG = 1 << 3           # store the traced function's address at ctx[-2]
    BPF_TRAMP_F_RET_FENTRY_RET = 1 << 4   # struct_ops only (not modelled)
    BPF_TRAMP_F_ORIG_STACK = 1 << 5       # call the original through the stack return address (not modelled)
    BPF_TRAMP_F_SHARE_IPMODIFY = 1 << 6   # livepatch sharing (not modelled)
    BPF_TRAMP_F_TAIL_CALL_CTX = 1 << 7    # freplace tail-call counter (not modelled)
    BPF_TRAMP_F_INDIRECT = 1 << 8         # struct_ops indirect call (not modelled)


BPF_TRAMP_F = BpfTrampFlags               # the spelling STYLE.md uses for the flags type
BPF_TRAMP_F_RESTORE_REGS = BpfTrampFlags.BPF_TRAMP_F_RESTORE_REGS
BPF_TRAMP_F_CALL_ORIG = BpfTrampFlags.BPF_TRAMP_F_CALL_ORIG
BPF_TRAMP_F_SKIP_FRAME = BpfTrampFlags.BPF_TRAMP_F_SKIP_FRAME
BPF_TRAMP_F_IP_ARG = BpfTrampFlags.BPF_TRAMP_F_IP_ARG
BPF_TRAMP_F_RET_FENTRY_RET = BpfTrampFlags.BPF_TRAMP_F_RET_FENTRY_RET
BPF_TRAMP_F_ORIG_STACK = BpfTrampFlags.BPF_TRAMP_F_ORIG_STACK
BPF_TRAMP_F_SHARE_IPMODIFY = BpfTrampFlags.BPF_TRAMP_F_SHARE_IPMODIFY
BPF_TRAMP_F_TAIL_CALL_CTX = BpfTrampFlags.BPF_TRAMP_F_TAIL_CALL_CTX
BPF_TRAMP_F_INDIRECT = BpfTrampFlags.BPF_TRAMP_F_INDIRECT

# The flags the generators model; any other bit is refused with ENOTSUPP.
MODELLED_FLAGS = (BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME
                  | BPF_TRAMP_F_IP_ARG)


class BpfTrampProgType(IntEnum):
    """enum bpf_tramp_prog_type (include/linux/bpf.h): the lists of one trampoline."""
    BPF_TRAMP_FENTRY = 0
    BPF_TRAMP_FEXIT = 1
    BPF_TRAMP_MODIFY_RETURN = 2
    BPF_TRAMP_MAX = 3
    BPF_TRAMP_REPLACE = 4                 # freplace: not a list, never given to the generator


BPF_TRAMP_FENTRY = BpfTrampProgType.BPF_TRAMP_FENTRY
BPF_TRAMP_FEXIT = BpfTrampProgType.BPF_TRAMP_FEXIT
BPF_TRAMP_MODIFY_RETURN = BpfTrampProgType.BPF_TRAMP_MODIFY_RETURN
BPF_TRAMP_MAX = BpfTrampProgType.BPF_TRAMP_MAX
BPF_TRAMP_REPLACE = BpfTrampProgType.BPF_TRAMP_REPLACE

# BPF_MAX_TRAMP_LINKS (include/linux/bpf.h): links over all kinds of one trampoline. 38 on x86-64,
# arm64 and riscv, 27 on s390x (its image is bigger per program). i386 has no upstream trampoline;
# we use the generic 38. The kernel core checks `count >= limit` before adding (-E2BIG); the
# generator asserts `total <= limit`.
BPF_MAX_TRAMP_LINKS = {"x86_64": 38, "arm64": 38, "riscv64": 38, "s390x": 27, "i386": 38}
# 5.5 (kernel/bpf/trampoline.c of the seed commit): 40 programs over fentry + fexit, "~50 bytes per
# program on x86" so that they fit in half a page.
BPF_MAX_TRAMP_PROGS = 40


class TrampolineError(Exception):
    """A refusal of the trampoline layer, with the errno the kernel returns for it.

    ENOTSUPP (524): the architecture cannot handle the model or a flag; E2BIG: too many links or
    the image does not fit; EINVAL: inconsistent flags or a kind the profile does not have.
    """

    def __init__(self, errno: int, message: str = ""):
        super().__init__(errno, message)
        self.errno = errno
        self.message = message or errno_name(errno)

    def __str__(self) -> str:
        return f"[{errno_name(self.errno)}] {self.message}"


def errno_name(errno: int) -> str:
    """'ENOTSUPP' for 524, else the errno module's name."""
    return "ENOTSUPP" if errno == ENOTSUPP else _errno.errorcode.get(errno, str(errno))
