"""Differential tests against the real kernel's BPF_BTF_LOAD (bpf(2) command 18).

Each blob goes to the kernel of this machine and to btf_check; the errno and the whole verifier log
must be the same. Skipped where bpf() is not permitted (EPERM) or absent (ENOSYS).
"""

import ctypes
import errno
import os
import random
import struct

import pytest

from btf import BtfError, btf_check
from btf.embedded import embedded_btf_bytes

from validate_cases import CASES

pytestmark = pytest.mark.realkernel

SYS_bpf = 321
BPF_BTF_LOAD = 18
_libc = ctypes.CDLL(None, use_errno=True)


def kernel_btf_load(data: bytes, log_level: int = 1, log_size: int = 1 << 16):
    """(errno or 0, log text) from the real kernel."""
    buf = ctypes.create_string_buffer(data, len(data))
    log = ctypes.create_string_buffer(max(log_size, 1))
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<QQIIII", attr, 0, ctypes.addressof(buf),
                     ctypes.addressof(log) if log_size else 0, len(data), log_size, log_level, 0)
    fd = _libc.syscall(SYS_bpf, BPF_BTF_LOAD, attr, 128)
    err = ctypes.get_errno()
    if fd >= 0:
        os.close(fd)
        return 0, log.value.decode("utf-8", "surrogateescape")
    return err, log.value.decode("utf-8", "surrogateescape")


def _probe():
    try:
        err, _ = kernel_btf_load(b"\0" * 8, 0, 0)
    except (OSError, AttributeError):
        return "no syscall()"
    if err in (errno.EPERM, errno.ENOSYS, errno.EACCES):
        return f"bpf() not permitted here ({errno.errorcode[err]})"
    return None


_REASON = _probe()
if _REASON:
    pytestmark = [pytest.mark.realkernel, pytest.mark.skip(reason=_REASON)]


def ours(data: bytes, log_level: int = 1):
    try:
        _, log = btf_check(data, log_level)
        return 0, log
    except BtfError as e:
        return e.errno, e.log


@pytest.mark.parametrize("desc,make,err,line", CASES, ids=[c[0] for c in CASES])
def test_case_matches_kernel(desc, make, err, line):
    data = make()
    kerr, klog = kernel_btf_load(data)
    assert kerr == err, f"kernel says {kerr}, the case table {err}"
    assert ours(data) == (kerr, klog)


def test_embedded_matches_kernel():
    data = embedded_btf_bytes()
    assert ours(data) == kernel_btf_load(data, 1, 4 << 20)


def test_vmlinux_log_matches_kernel(vmlinux_bytes):
    kerr, klog = kernel_btf_load(vmlinux_bytes, 1, 16 << 20)
    assert kerr == 0
    assert ours(vmlinux_bytes) == (0, klog)


def _mutations(seed: int, n: int):
    """Bit flips, byte overwrites and truncations of a small blob that uses every kind."""
    from test_fuzz import every_kind_blob
    base = every_kind_blob()
    rnd = random.Random(seed)
    for _ in range(n):
        data = bytearray(base)
        op = rnd.randrange(4)
        if op == 0:
            for _ in range(rnd.randrange(1, 4)):
                i = rnd.randrange(len(data))
                data[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            i = rnd.randrange(24, len(data))
            data[i] = rnd.randrange(256)
        elif op == 2:
            data = data[:rnd.randrange(len(data))]
        else:
            i = rnd.randrange(0, 24, 4)
            data[i:i + 4] = rnd.randrange(0, 1 << 32).to_bytes(4, "little")
        yield bytes(data)


@pytest.mark.parametrize("seed", range(4))
def test_mutations_match_kernel(seed):
    for data in _mutations(seed, 150):
        assert ours(data) == kernel_btf_load(data), data.hex()
