"""syscall/uaccess.py: copies from and to real addresses of this process never crash it."""

from __future__ import annotations

import ctypes
import errno
import mmap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelsim.errors import BpfError
from syscall import abi, uaccess as U

PAGE = mmap.PAGESIZE


@pytest.fixture(params=["pvm", "procmem"])
def backend(request):
    U.set_backend(request.param)
    yield request.param
    U.set_backend(None)


def _efault(fn, *args):
    with pytest.raises(BpfError) as e:
        fn(*args)
    assert e.value.errno == errno.EFAULT
    return e.value


class Pages:
    """Two pages: the first read-write, the second with ``prot`` (PROT_NONE by default), so a
    copy can straddle the boundary. mmap via ctypes, so the address is stable."""

    def __init__(self, prot_second=0):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.libc = libc
        self.addr = libc.mmap(None, 2 * PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                              mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        assert self.addr not in (None, ctypes.c_void_p(-1).value)
        ctypes.memset(self.addr, 0x41, 2 * PAGE)
        assert libc.mprotect(self.addr + PAGE, PAGE, prot_second) == 0
        self.boundary = self.addr + PAGE

    def close(self):
        self.libc.munmap(self.addr, 2 * PAGE)


@pytest.fixture
def pages():
    p = Pages()
    yield p
    p.close()


@pytest.fixture
def ro_pages():
    p = Pages(mmap.PROT_READ)
    yield p
    p.close()


def test_backend_probe():
    U.set_backend(None)
    assert U.backend() == "pvm"     # process_vm_readv works here


def test_round_trip(backend):
    buf, addr = U.user_buffer(b"hello world")
    assert U.copy_from_user(addr, 11) == b"hello world"
    U.copy_to_user(addr + 6, b"WORLD")
    assert buf.raw == b"hello WORLD"
    U.clear_user(addr, 5)
    assert buf.raw == b"\0" * 5 + b" WORLD"
    assert U.copy_from_user(addr, 0) == b""
    U.copy_to_user(addr, b"")


def test_bad_addresses(backend):
    for addr in (0, 8, 4095, 0xFFFF_8880_0000_0000, (1 << 64) - 8, (1 << 47)):
        _efault(U.copy_from_user, addr, 8)
        _efault(U.copy_to_user, addr, b"x" * 8)
        _efault(U.strncpy_from_user, addr, 16)
    for addr in (-1, 1 << 64):
        _efault(U.copy_from_user, addr, 1)
    _efault(U.copy_from_user, (1 << 64) - 4, 8)    # wraps
    _efault(U.copy_from_user, 16, -1)


def test_partial_read_faults(backend, pages):
    start = pages.boundary - 4
    assert U.copy_from_user(start, 4) == b"AAAA"
    _efault(U.copy_from_user, start, 8)
    assert U.copy_from_user_partial(start, 8) == b"AAAA"
    _efault(U.copy_from_user, pages.boundary, 1)       # PROT_NONE: EFAULT even via /proc/self/mem


def test_partial_write_faults(backend, pages):
    start = pages.boundary - 4
    _efault(U.copy_to_user, start, b"12345678")
    assert ctypes.string_at(start, 4) == b"1234"      # the prefix was written, like the kernel


def test_read_only_memory_is_not_written(backend, ro_pages):
    target = ro_pages.boundary + 16
    _efault(U.copy_to_user, target, b"zz")
    _efault(U.clear_user, target, 4)
    assert ctypes.string_at(target, 2) == b"AA"
    assert U.copy_from_user(target, 2) == b"AA"
    # bytes objects are read-only for the kernel too (their memory is not ours to write)
    addr = U.addr_of(b"immutable")
    assert U.copy_from_user(addr, 9) == b"immutable"


def test_strncpy_from_user(backend, pages):
    buf, addr = U.user_buffer(b"license\0junk")
    assert U.strncpy_from_user(addr, 64) == b"license"
    assert U.strncpy_from_user(addr, 4) == b"lice"          # no NUL in 4: all 4 (too long)
    assert U.strncpy_from_user(addr, 0) == b""
    assert U.strnlen_user(addr, 64) == 8
    assert U.strnlen_user(addr, 4) == 5
    assert U.strnlen_user(0, 4) == 0
    # a string ending right before an unreadable page is fine; one running into it is EFAULT
    ctypes.memmove(pages.boundary - 3, b"ab\0", 3)
    assert U.strncpy_from_user(pages.boundary - 3, 100) == b"ab"
    ctypes.memmove(pages.boundary - 3, b"abc", 3)
    _efault(U.strncpy_from_user, pages.boundary - 3, 100)
    assert U.strncpy_from_user(pages.boundary - 3, 3) == b"abc"


def test_addr_of():
    ba = bytearray(b"xyz")
    assert ctypes.string_at(U.addr_of(ba), 3) == b"xyz"
    arr = (ctypes.c_uint32 * 2)(7, 8)
    assert U.addr_of(arr) == ctypes.addressof(arr)
    a = abi.new_attr()
    a.map_type = 9
    assert U.copy_from_user(U.addr_of(a), 4) == b"\x09\0\0\0"
    cbuf = abi.ffi.new("char[4]", b"abc")
    assert U.copy_from_user(U.addr_of(cbuf), 3) == b"abc"
    assert U.copy_from_user(U.addr_of(abi.ffi.buffer(cbuf)), 3) == b"abc"
    assert U.addr_of(memoryview(ba)) == U.addr_of(ba)
    assert U.addr_of(1234) == 1234
    with pytest.raises(TypeError):
        U.addr_of("text")


def test_large_bad_size_costs_nothing(pages):
    # a huge size at a valid address stops at the first unreadable page without allocating it all
    _efault(U.copy_from_user, pages.addr, 1 << 40)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(addr=st.one_of(st.integers(0, (1 << 64) - 1), st.integers(0, 1 << 20),
                      st.integers((1 << 47) - 4096, (1 << 47) + 4096)),
       size=st.integers(0, 2 * PAGE), maxlen=st.integers(0, 300))
def test_fuzz_reads_never_crash(addr, size, maxlen):
    for name in ("pvm", "procmem"):
        U.set_backend(name)
        try:
            data = U.copy_from_user(addr, size)
            assert len(data) == size
        except BpfError as e:
            assert e.errno == errno.EFAULT
        try:
            s = U.strncpy_from_user(addr, maxlen)
            assert len(s) <= maxlen and b"\0" not in s
        except BpfError as e:
            assert e.errno == errno.EFAULT
    U.set_backend(None)


def _writable_ranges():
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split()[:2]
            if perms[1] == "w":
                lo, hi = (int(x, 16) for x in span.split("-"))
                out.append((lo, hi))
    return out


@settings(max_examples=200, deadline=None, database=None)
@given(addr=st.one_of(st.integers(0, (1 << 64) - 1), st.integers(0, 1 << 22)),
       size=st.integers(1, 64))
def test_fuzz_writes_to_unwritable_memory_only_efault(addr, size):
    """Random addresses that are not in a writable mapping (writing into our own heap at random
    would corrupt the process): the write must fail with EFAULT and change nothing."""
    if any(lo < addr + size and addr < hi for lo, hi in _writable_ranges()):
        return
    for name in ("pvm", "procmem"):
        U.set_backend(name)
        _efault(U.copy_to_user, addr, b"\xcc" * size)
        _efault(U.clear_user, addr, size)
    U.set_backend(None)
