"""bpf_snprintf_btf and the BTF pretty-printer (helpers/btf_show.py): a raw_tp program prints a
16-byte object of a vmlinux type from its stack into a map value; Linux 6.18.44 prints the same
text and returns the same length (realkernel). Pointers are compared raw (BTF_F_PTR_RAW): the
%p hash is keyed differently on each machine."""

import struct

import pytest

from kernelsim.uapi import BpfCmd as C
from tests.kernelsim.helpers.progkit import RAW_TP, k4, load, mk, prog_test_run
from tests.realkernel import realkernel_available
from tests.syscall.diffharness import assert_same, run_both, run_sim

PRINT = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map_fd({{0}})
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r6 = r0
    r1 = {v0:#x} ll
    *(u64 *)(r10 -64) = r1
    r1 = {v1:#x} ll
    *(u64 *)(r10 -56) = r1
    r1 = r10
    r1 += -64
    *(u64 *)(r10 -80) = r1
    r1 = {tid}
    *(u32 *)(r10 -72) = r1
    r1 = 0
    *(u32 *)(r10 -68) = r1
    r1 = r6
    r2 = {size}
    r3 = r10
    r3 += -80
    r4 = {ptr_size}
    r5 = {flags}
    call bpf_snprintf_btf
    exit
out:
    exit
"""

CASES = [  # (type name, BTF kind, first u64, second u64, flags)
    ("timespec64", 4, 5, 7, 0), ("timespec64", 4, 5, 7, 1), ("timespec64", 4, 5, 7, 2),
    ("timespec64", 4, 0, 7, 0), ("timespec64", 4, 0, 0, 0), ("timespec64", 4, 0, 0, 8),
    ("timespec64", 4, (1 << 64) - 3, 0, 0),
    ("int", 1, 42, 0, 0), ("int", 1, 0, 0, 0),
    ("in6_addr", 4, 0x0102030405060708, 0, 0), ("in6_addr", 4, 0x0100000000000001, 0, 1),
    ("sockaddr_in", 4, 0x0100007F50000002, 0, 0),
    ("ethhdr", 4, 0x0A0B000000010203, 0x0008, 0), ("ethhdr", 4, 0x0A0B000000010203, 0x0008, 3),
    ("sockaddr", 4, 0x0000000062610002, 0x63, 0), ("sockaddr", 4, 0x0000000062610002, 0x63, 2),
    ("pid_type", 6, 1, 0, 0), ("pid_type", 6, 77, 0, 0),
    ("list_head", 4, 0xFFFF888012345678, 0, 4), ("list_head", 4, 0, 0, 12),
    ("callback_head", 4, 0x10, 0xFFFFFFFF81000000, 4),
    ("tcp_options_received", 4, 0x1234567890ABCDEF, 0xFF, 0),
]


def _btf(b):
    if b.sim:
        return b.kernel.btf
    from btf import Btf
    return Btf.parse(open("/sys/kernel/btf/vmlinux", "rb").read())


def scen_print(b):
    btf = _btf(b)
    m = mk(b, 2, 4, 256, 1)
    out = b.buf(256)
    for name, kind, v0, v1, flags in CASES:
        prog = PRINT.format(v0=v0, v1=v1, tid=btf.find_by_name_kind(name, kind), size=256,
                            ptr_size=16, flags=flags)
        prog_test_run(b, load(b, RAW_TP, prog, [m], record=False))
        b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(0)), value=out), record=False)
        b.rec(b.read(out, 256).split(b"\0", 1)[0].decode())
    tid = btf.find_by_name_kind("timespec64", 4)
    for size, ptr_size, flags, t in ((8, 16, 0, tid), (256, 12, 0, tid), (256, 16, 16, tid),
                                     (256, 16, 0, 0), (256, 16, 0, 10_000_000)):
        prog = PRINT.format(v0=5, v1=7, tid=t, size=size, ptr_size=ptr_size, flags=flags)
        prog_test_run(b, load(b, RAW_TP, prog, [m], record=False))
    b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=m, key=b.buf(k4(0)), value=out), record=False)
    b.rec(b.read(out, 8))


def test_prints_like_linux_in_kernelsim():
    """Some of Linux 6.18.44's answers for scen_print (test_same_as_linux compares them all)."""
    log = run_sim(scen_print)
    assert log[1:7] == [
        72, "(struct timespec64){\n .tv_sec = (time64_t)5,\n .tv_nsec = (long int)7,\n}\n",
        66, "(struct timespec64){.tv_sec = (time64_t)5,.tv_nsec = (long int)7,}",
        12, "{\n 5,\n 7,\n}\n"]
    assert log[9:11] == [23, "(struct timespec64){\n}\n"]                       # all zero
    assert log[29:31] == [113, "(struct sockaddr){\n .sa_family = (sa_family_t)2,\n (union){\n"
                               "  .sa_data_min = (char[])[\n   'a',\n   'b',\n  ],\n },\n}\n"]
    assert log[33:35] == [28, "(enum pid_type)PIDTYPE_TGID\n"]
    assert log[45:] == [72, (-22) & 0xFFFFFFFF, (-22) & 0xFFFFFFFF, (-22) & 0xFFFFFFFF,
                        (-2) & 0xFFFFFFFF, b"(struct\0"]                          # truncated to 8


@pytest.mark.realkernel
@pytest.mark.skipif(not realkernel_available(), reason="no usable bpf()")
def test_same_as_linux():
    real, sim = run_both(scen_print)
    assert_same(real, sim, "snprintf_btf")
