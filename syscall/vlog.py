"""The user side of a verifier log (PROG_LOAD's and BTF_LOAD's log_buf): pre-fill the log image
from the user's buffer, copy back the bytes the kernel wrote, finalize (ENOSPC / EFAULT) and
report ``log_true_size`` when the caller's attr covers it (kernel/bpf/log.c bpf_vlog_init,
bpf_vlog_finalize; verifier.c / btf.c finalize_log).
"""

from __future__ import annotations

import errno

from kernelsim.errors import BpfError
from kernelsim.verifier.log import bpf_verifier_log_attr_valid, bpf_vlog_init

from . import uaccess
from .common import SysCtx, attr_field


IMAGE_MAX = 16 << 20


def vlog_open(level: int, ubuf: int, size: int):
    """bpf_vlog_init with the user buffer's current bytes as the image. EINVAL.

    The image holds at most the first 16 MiB of the buffer (the readable part of it): the log is
    written from offset 0 on, so a write past the image is a write past what we could read,
    which the copy-back reports as EFAULT, like the kernel's faulting copy_to_user."""
    if not bpf_verifier_log_attr_valid(level, bool(ubuf), size):
        raise BpfError(errno.EINVAL, "invalid log attributes")
    image = None
    if ubuf and size:
        want = min(size, IMAGE_MAX)
        got = uaccess.copy_from_user_partial(ubuf, want)
        image = got.ljust(size, b"\0") if len(got) == want == size else got
    log = bpf_vlog_init(level, bool(ubuf), size, image)
    log.ubuf_addr = ubuf
    return log


def vlog_close(ctx: SysCtx, log, true_size_field: str, finalize: bool = True) -> None:
    """Write the log back, finalize (unless the verifier already did), publish log_true_size.
    Raises ENOSPC/EFAULT (which replace the command's own result, as in the kernel)."""
    err = None
    if finalize:
        try:
            log.bpf_vlog_finalize()
        except BpfError as e:
            err = e
    addr = getattr(log, "ubuf_addr", 0)
    if addr and log.level:
        image = log.user_image()
        for start, end in log.written_ranges():
            try:
                uaccess.copy_to_user(addr + start, image[start:end])
            except BpfError as e:
                err = e
                break
    f = attr_field(true_size_field)
    if ctx.size >= f.offset + f.size:
        ctx.put_user(true_size_field, log.log_true_size)
    if err is not None:
        raise err


def vlog_write_text(log, text: str) -> None:
    """Feed a finished log text (the btf library's) into ``log`` line by line."""
    if not log.level or not text:
        return
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl + 1
        chunk = text[pos:end]
        for i in range(0, len(chunk), 1000):
            log.write(chunk[i:i + 1000])
        pos = end
