"""The verifier log: struct bpf_verifier_log and its buffer arithmetic (kernel/bpf/log.c, 6.4+).

Used by PROG_LOAD (the verifier's trace and complaints) and by BTF_LOAD (btf_verifier_log).

The kernel writes the log straight into the user's buffer as it goes. We keep an *image* of that
buffer: the syscall side pre-fills it from the user's memory (``image=``), every write lands in the
image exactly where the kernel's copy_to_user would put it, and ``written_ranges()`` says which
bytes the kernel touched, so the write-back (copy_to_user of those ranges) leaves in user memory
the very bytes Linux leaves, stale bytes after the terminating NUL included.

Positions are *logical*: ``start_pos``/``end_pos`` count every byte ever logged (without the
per-message NUL), ``len_max`` the longest the log has ever been plus its NUL (it is never reduced,
not even by ``bpf_vlog_reset``: a level-1 load that succeeds after a long, erased trace still
needs ``len_max`` bytes, and fails with ENOSPC when the buffer is smaller — checked against
Linux 6.18).

Two modes:

* rotating (default): the buffer keeps the newest ``len_total - 1`` bytes; it is written as a ring
  at ``pos % len_total``, and ``bpf_vlog_finalize`` rotates it into order.
* ``BPF_LOG_FIXED``: the buffer keeps the head; later messages are dropped.

Each message is first formatted into a 1024-byte scratch buffer (``BPF_VERIFIER_TMP_LOG_SIZE``),
so one message is at most 1023 bytes.

Example (rotating, 8-byte buffer)::

    log = bpf_vlog_init(1, True, 8)
    log.write("abcdef\\n"); log.write("0123\\n")
    log.bpf_vlog_finalize()        # raises BpfError(ENOSPC); log.log_true_size == 13
    log.contents()                 # b'f\\n0123\\n': the newest 7 bytes and the NUL
"""

import errno

from ..errors import BpfError
from ..uapi import BPF_LOG_MASK as _MASK, BpfLogLevel

BPF_LOG_MASK = int(_MASK)

BPF_VERIFIER_TMP_LOG_SIZE = 1024
BPF_LOG_KERNEL = BPF_LOG_MASK + 1      # internal: messages go to dmesg (btf_vmlinux parsing)
UINT_MAX = 0xFFFFFFFF
BPF_LOG_ALIGNMENT = 40                 # include/linux/bpf_verifier.h
BPF_LOG_MIN_ALIGNMENT = 8


def bpf_verifier_log_attr_valid(level: int, has_buf: bool, len_total: int) -> bool:
    """Called from bpf_vlog_init (PROG_LOAD, BTF_LOAD). False means EINVAL:
    a buffer without a size or a size without a buffer; a buffer with level 0; unknown level
    bits; a size above UINT_MAX >> 2."""
    if bool(has_buf) != bool(len_total):
        return False
    if has_buf and level == 0:
        return False
    if level & ~BPF_LOG_MASK:
        return False
    if len_total > UINT_MAX >> 2:
        return False
    return True


def bpf_vlog_init(level: int, has_buf: bool, len_total: int,
                  image: bytes | bytearray | None = None) -> "BpfVerifierLog":
    """Called from PROG_LOAD / BTF_LOAD with the attr's log fields. EINVAL: see
    ``bpf_verifier_log_attr_valid``. ``image`` is the user buffer's current content (pre-filled
    by the syscall side); without it the image starts zero-filled."""
    if not bpf_verifier_log_attr_valid(level, has_buf, len_total):
        raise BpfError(errno.EINVAL, "invalid log attributes")
    return BpfVerifierLog(level, len_total if has_buf else 0, has_buf, image)


def vlog_alignment(pos: int) -> int:
    """log.c vlog_alignment: the padding that puts ';' of a state line at a tab stop."""
    x = max(pos + BPF_LOG_MIN_ALIGNMENT // 2, BPF_LOG_ALIGNMENT)
    x = -(-x // BPF_LOG_MIN_ALIGNMENT) * BPF_LOG_MIN_ALIGNMENT
    return x - pos - 1


class BpfVerifierLog:
    """struct bpf_verifier_log. Build it with ``bpf_vlog_init``."""

    def __init__(self, level: int = 0, len_total: int = 0, has_buf: bool = False,
                 image: bytes | bytearray | None = None):
        self.level = level
        self.len_total = len_total
        self.start_pos = 0
        self.end_pos = 0
        self.len_max = 0
        self.log_true_size = 0
        self.faulted = False
        if has_buf:
            buf = bytearray(image) if image is not None else bytearray(len_total)
            if len(buf) < len_total:
                buf.extend(bytes(len_total - len(buf)))
            self.ubuf: bytearray | None = buf[:len_total]
        else:
            self.ubuf = None
        self._ranges: list[list[int]] = []

    # -- the kernel's operations ------------------------------------------------------------

    def needed(self) -> bool:
        """bpf_verifier_log_needed."""
        return bool(self.level)

    def write(self, msg: str | bytes) -> None:
        """bpf_verifier_log_write / bpf_log: log one formatted message (a printf's output)."""
        if not self.level:
            return
        self.bpf_verifier_vlog(msg)

    def bpf_verifier_vlog(self, msg: str | bytes) -> None:
        kbuf = msg.encode("utf-8", "surrogateescape") if isinstance(msg, str) else bytes(msg)
        kbuf = kbuf[:BPF_VERIFIER_TMP_LOG_SIZE - 1]       # vscnprintf into the 1 KiB scratch buffer
        if self.level == BPF_LOG_KERNEL:
            return
        kbuf += b"\0"
        n = len(kbuf)
        self._update_len_max(n)
        if self.level & 8:   # BPF_LOG_FIXED
            new_n = 0
            if self.end_pos < self.len_total:
                new_n = min(self.len_total - self.end_pos, n)
                kbuf = kbuf[:new_n - 1] + b"\0"
            cur_pos = self.end_pos
            self.end_pos += n - 1
            if self.ubuf is not None and new_n:
                self._copy_to_user(cur_pos, kbuf[:new_n])
        else:
            new_end = self.end_pos + n
            if new_end - self.start_pos >= self.len_total:
                new_start = new_end - self.len_total
            else:
                new_start = self.start_pos
            self.start_pos = new_start
            self.end_pos = new_end - 1
            if self.ubuf is None:
                return
            new_n = min(n, self.len_total)
            cur_pos = new_end - new_n
            buf_start = cur_pos % self.len_total
            buf_end = new_end % self.len_total
            if buf_end == 0:
                buf_end = self.len_total
            if buf_start < buf_end:
                self._copy_to_user(buf_start, kbuf[n - new_n:n - new_n + buf_end - buf_start])
            else:
                self._copy_to_user(buf_start, kbuf[n - new_n:n - new_n + self.len_total - buf_start])
                self._copy_to_user(0, kbuf[n - buf_end:n])

    def _update_len_max(self, add_len: int) -> None:
        length = self.end_pos + add_len
        if length > UINT_MAX:
            self.len_max = UINT_MAX
        elif length > self.len_max:
            self.len_max = length

    def bpf_vlog_reset(self, new_pos: int) -> None:
        """Called by the verifier to drop everything logged after ``new_pos`` (the level-1 erase
        on success, the newline before a state line). Writes one NUL where the log now ends;
        in BPF_LOG_FIXED mode the kernel puts it one byte further (end_pos + 1), which we copy."""
        if new_pos > self.end_pos:
            return
        if not self.needed() or self.level == BPF_LOG_KERNEL:
            return
        self.end_pos = new_pos
        if self.end_pos < self.start_pos:
            self.start_pos = self.end_pos
        if self.ubuf is None:
            return
        if self.level & 8:   # BPF_LOG_FIXED
            pos = self.end_pos + 1
        else:
            pos = new_pos % self.len_total
        if pos < self.len_total:
            self._copy_to_user(pos, b"\0")

    def bpf_vlog_finalize(self) -> int:
        """Called at the end of bpf_check / btf_parse. Rotates a wrapped ring into order and
        returns log_true_size (len_max, NUL included; also kept in ``self.log_true_size``).
        ENOSPC: the log did not fit (even if verification succeeded); EFAULT: a write faulted."""
        self.log_true_size = 0
        if not self.level or self.level == BPF_LOG_KERNEL:
            return 0
        if self.ubuf is not None and self.start_pos != 0:
            shift = self.start_pos % self.len_total
            if shift:
                self.ubuf[:] = self.ubuf[shift:] + self.ubuf[:shift]
            self._ranges = [[0, self.len_total]]
        self.log_true_size = self.len_max
        if self.faulted:
            raise BpfError(errno.EFAULT, "fault writing the verifier log")
        if self.ubuf is not None and self.len_max > self.len_total:
            raise BpfError(errno.ENOSPC, "verifier log truncated")
        return self.log_true_size

    # -- the user buffer image ---------------------------------------------------------------

    def _copy_to_user(self, pos: int, data: bytes) -> None:
        end = pos + len(data)
        self.ubuf[pos:end] = data
        rs = self._ranges
        if rs and rs[-1][0] <= pos <= rs[-1][1]:
            rs[-1][1] = max(rs[-1][1], end)
        elif rs and rs[-1][0] <= end and pos <= rs[-1][1]:
            rs[-1][0], rs[-1][1] = min(rs[-1][0], pos), max(rs[-1][1], end)
        else:
            rs.append([pos, end])

    def written_ranges(self) -> list[tuple[int, int]]:
        """The (start, end) byte ranges of the user buffer the kernel wrote, merged and sorted:
        what the syscall side copies back from ``user_image()``."""
        out: list[list[int]] = []
        for s, e in sorted(self._ranges):
            if out and s <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return [(s, e) for s, e in out]

    def user_image(self) -> bytes:
        """The whole user buffer as the kernel would have left it (given the pre-filled image)."""
        return bytes(self.ubuf) if self.ubuf is not None else b""

    def contents(self) -> bytes:
        """What a user reads: the buffer up to its first NUL."""
        if self.ubuf is None:
            return b""
        nul = self.ubuf.find(0)
        return bytes(self.ubuf if nul < 0 else self.ubuf[:nul])

    def text(self) -> str:
        return self.contents().decode("utf-8", "replace")


__all__ = ["BpfVerifierLog", "bpf_vlog_init", "bpf_verifier_log_attr_valid", "vlog_alignment",
           "BPF_VERIFIER_TMP_LOG_SIZE", "BPF_LOG_KERNEL"]
