"""Programs using maps of maps: the outer lookup gives a map the program can look up in (the
verifier's CONST_PTR_TO_MAP of the inner template); kernelsim and Linux give the same verdicts,
complaints and PROG_TEST_RUN results."""

import pytest

from kernelsim.uapi import BpfCmd as C
from tests.kernelsim.helpers.progkit import RAW_TP, k4, k8, load, mk, prog_test_run
from tests.realkernel import realkernel_available
from tests.syscall.diffharness import assert_same, run_both, run_sim

AOM, HOM, ARRAY, HASH = 12, 13, 2, 1

LOOKUP_INNER = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map_fd({0})
    call bpf_map_lookup_elem
    if r0 == 0 goto miss
    r1 = r0
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto miss2
    r0 = *(u64 *)(r0 +0)
    exit
miss:
    r0 = 1000
    exit
miss2:
    r0 = 2000
    exit
"""

NO_NULL_CHECK = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map_fd({0})
    call bpf_map_lookup_elem
    r1 = r0
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    r0 = 0
    exit
"""

READ_INNER_POINTER = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map_fd({0})
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r0 = *(u32 *)(r0 +0)
out:
    exit
"""

UPDATE_OUTER = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -4
    r4 = 0
    r1 = map_fd({0})
    call bpf_map_update_elem
    r0 = 0
    exit
"""

INNER_VALUE_OOB = LOOKUP_INNER.replace("r0 = *(u64 *)(r0 +0)", "r0 = *(u64 *)(r0 +8)")


def scen_programs(b):
    for outer_type in (AOM, HOM):
        tmpl = mk(b, ARRAY, 4, 8, 1)
        outer = mk(b, outer_type, 4, 4, 4, inner_map_fd=tmpl)
        fd = load(b, RAW_TP, LOOKUP_INNER, [outer])
        prog_test_run(b, fd)                                 # outer slot empty: 1000
        inner = mk(b, ARRAY, 4, 8, 1)
        b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=inner, key=b.buf(k4(0)), value=b.buf(k8(42))))
        b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(0)), value=b.buf(k4(inner))))
        prog_test_run(b, fd)                                 # 42
        b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=inner, key=b.buf(k4(0)), value=b.buf(k8(7))))
        prog_test_run(b, fd)                                 # 7: the program sees the live map
        b.call(C.BPF_MAP_DELETE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(0))))
        prog_test_run(b, fd)
        for text in (NO_NULL_CHECK, READ_INNER_POINTER, UPDATE_OUTER, INNER_VALUE_OOB):
            load(b, RAW_TP, text, [outer])
    # a hash inner map: its lookups may return NULL
    tmpl = mk(b, HASH, 4, 8, 4)
    outer = mk(b, HOM, 4, 4, 4, inner_map_fd=tmpl)
    inner = mk(b, HASH, 4, 8, 4)
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(0)), value=b.buf(k4(inner))))
    fd = load(b, RAW_TP, LOOKUP_INNER, [outer])
    prog_test_run(b, fd)                                     # 2000: not in the inner hash
    b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=inner, key=b.buf(k4(0)), value=b.buf(k8(99))))
    prog_test_run(b, fd)


def _expected(outer_type):
    return ["fd", "fd", "fd", 1000, "fd", 0, 0, 42, 0, 7, 0, 1000,
            "EACCES", "R1 type=map_value_or_null expected=map_ptr", "fd",
            "EINVAL", f"cannot pass map_type {outer_type} into func bpf_map_update_elem#2",
            "EACCES", "R0 min value is outside of the allowed memory range"]


def test_programs_run_in_kernelsim():
    """The answers Linux 6.18.44 gave for scen_programs (test_programs_same_as_linux re-checks)."""
    assert run_sim(scen_programs) == _expected(AOM) + _expected(HOM) + ["fd", "fd", "fd", 0, "fd",
                                                                        2000, 0, 99]


@pytest.mark.realkernel
@pytest.mark.skipif(not realkernel_available(), reason="no usable bpf()")
def test_programs_same_as_linux():
    real, sim = run_both(scen_programs)
    assert_same(real, sim, "map-in-map programs")
