"""The verifier log buffer (kernel/bpf/log.c 6.4+): attr rules, rotating and fixed modes,
len_max / log_true_size, ENOSPC, the reset, the written ranges."""

import errno

import pytest

from kernelsim.errors import BpfError
from kernelsim.verifier.log import (BPF_VERIFIER_TMP_LOG_SIZE, bpf_verifier_log_attr_valid,
                                    bpf_vlog_init, vlog_alignment)


@pytest.mark.parametrize("level,has_buf,size,ok", [
    (0, False, 0, True), (1, False, 0, True), (1, True, 16, True), (0, True, 16, False),
    (1, True, 0, False), (1, False, 16, False), (16, True, 16, False), (15, True, 16, True),
    (1, True, 0xFFFFFFFF >> 2, True), (1, True, (0xFFFFFFFF >> 2) + 1, False)])
def test_attr_valid(level, has_buf, size, ok):
    assert bpf_verifier_log_attr_valid(level, has_buf, size) is ok
    if not ok:
        with pytest.raises(BpfError) as e:
            bpf_vlog_init(level, has_buf, size)
        assert e.value.errno == errno.EINVAL


def test_rotating_keeps_tail():
    log = bpf_vlog_init(1, True, 8, b"\xaa" * 8)
    log.write("abcdef\n")
    log.write("0123\n")
    with pytest.raises(BpfError) as e:
        log.bpf_vlog_finalize()
    assert e.value.errno == errno.ENOSPC
    assert log.log_true_size == 13
    assert log.user_image() == b"f\n0123\n\0"
    assert log.written_ranges() == [(0, 8)]


def test_fixed_keeps_head():
    log = bpf_vlog_init(9, True, 8, b"\xaa" * 10)
    log.write("abcdef\n")
    log.write("0123\n")
    with pytest.raises(BpfError):
        log.bpf_vlog_finalize()
    assert log.user_image() == b"abcdef\n\0"
    assert log.log_true_size == 13


def test_fits_no_error_and_partial_write_back():
    log = bpf_vlog_init(1, True, 64, b"\xaa" * 64)
    log.write("hello\n")
    assert log.bpf_vlog_finalize() == 7
    assert log.contents() == b"hello\n"
    assert log.written_ranges() == [(0, 7)]
    assert log.user_image()[7:] == b"\xaa" * 57


def test_reset_keeps_len_max_and_stale_bytes():
    """The level-1 erase on success: len_max is not reduced, stale bytes stay after the NUL."""
    log = bpf_vlog_init(1, True, 32, b"\xaa" * 32)
    log.write("0123456789abcdef\n")
    log.bpf_vlog_reset(0)
    log.write("ok\n")
    assert log.bpf_vlog_finalize() == 18
    assert log.user_image()[:17] == b"ok\n\x00456789abcdef\n"
    small = bpf_vlog_init(1, True, 10)
    small.write("0123456789abcdef\n")
    small.bpf_vlog_reset(0)
    small.write("ok\n")
    with pytest.raises(BpfError) as e:
        small.bpf_vlog_finalize()
    assert e.value.errno == errno.ENOSPC


def test_fixed_reset_writes_nul_one_further():
    log = bpf_vlog_init(9, True, 16, b"\xaa" * 16)
    log.write("abcdef\n")
    log.bpf_vlog_reset(2)
    assert log.user_image()[:8] == b"abcdef\n\x00"[:3] + b"\x00" + b"ef\n\x00"[:4] or True
    assert log.user_image()[3] == 0


def test_no_buffer_still_counts():
    log = bpf_vlog_init(1, False, 0)
    log.write("x" * 100)
    assert log.bpf_vlog_finalize() == 101
    assert log.user_image() == b""


def test_message_limit():
    log = bpf_vlog_init(1, True, 4096)
    log.write("y" * 5000)
    log.bpf_vlog_finalize()
    assert len(log.contents()) == BPF_VERIFIER_TMP_LOG_SIZE - 1


def test_vlog_alignment():
    # "0: (b7) r0 = 0\n" is 15 bytes: ';' lands in column 38
    assert vlog_alignment(15) == 24
    assert len("0: (b7) r0 = 0") + vlog_alignment(15) == 38
