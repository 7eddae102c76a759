"""func_info and line_info at PROG_LOAD, kernelsim alone: each case of btf_info_cases.py gives
the errno and complaint Linux 6.18.44 gave (ANSWERS); loaded programs report their records,
with offsets after the verifier's rewrites, through BPF_OBJ_GET_INFO_BY_FD."""

import pytest

from kernelsim import Kernel
from tests.syscall import btf_info_cases as C


@pytest.fixture
def task():
    return Kernel().spawn()


@pytest.mark.parametrize("name", sorted(C.CASES))
def test_errno_and_complaint_as_linux(task, name):
    got = C.run(task, name)
    assert (got["errno"], C.complaint(got["log"])) == C.ANSWERS[name]


def test_records_reported(task):
    got = C.run(task, "good")
    assert got["func_info"] == [(0, 3), (3, 4)]
    assert [r[0] for r in got["line_info"]] == [0, 1, 3]
    assert (got["nr_func_info"], got["nr_line_info"]) == (2, 3)
    assert (got["func_info_rec_size"], got["line_info_rec_size"]) == (8, 16)
    assert got["nr_jited_line_info"] == 3          # the oracle's JIT keeps one per record


def test_source_lines_in_the_log(task):
    """verbose_linfo: the line without its leading blanks, the file's base name, the line
    number (line_col >> 10); a record is printed once, before its first instruction."""
    log = C.run(task, "good")["log"].splitlines()
    assert log[log.index("; r0 = 0; @ prog.c:10") + 1].startswith("0: (85) call pc+2")
    assert "; return 1; @ prog.c:11" in log and "; exit; @ prog.c:12" in log
    assert sum(l.startswith("; ") for l in log) == 3


def test_level1_success_erases_the_trace(task):
    assert C.run(task, "good_level1")["log"].startswith("processed ")


@pytest.mark.parametrize("name, offsets", [
    ("dead_code_removed", [0, 1]),        # the jump's record goes with the goto +0, exit's stays
    ("dead_code_inherits", [0, 1]),       # the removed insn's record moves to the exit
    ("dead_code_tail_record", [0, 1]),    # records of a removed tail are dropped
    ("dead_code_tail_records", [0, 1]),
    ("ctx_conversion", [0, 1, 2]),
])
def test_line_info_follows_the_rewrites(task, name, offsets):
    got = C.run(task, name)
    assert got["errno"] == 0
    assert [r[0] for r in got["line_info"]] == offsets
    assert all(r[0] < len(got["xlated"]) // 8 for r in got["line_info"])



def test_tail_call_and_ld_abs_in_a_subprogram_return_from_it(task):
    """6.18 walks the return a successful tail call (or LD_ABS's hidden exit) makes from a
    subprogram before the fall-through."""
    ok, log = C.run_tail_call_in_subprog(task)
    assert ok
    after = log.split("5: (85) call bpf_tail_call#12\n", 1)[1]
    assert after.startswith("returning from callee:\n frame1: R0=scalar() R10=fp0\n")
    assert "from 5 to 6: frame1: R10=fp0" in after
    log = C.run(task, "ld_abs_in_int_subprog_level2")["log"]
    assert "returning from callee:\n frame1: R0=0 R6=ctx() R10=fp0" in log
    assert "from 3 to 4: frame1: R0=scalar() R6=ctx() R10=fp0" in log


def _aux(task, name):
    from syscall import libbpf as L
    code, finfo, linfo, _ = C.CASES[name]
    btf_fd, _ = L.btf_load(task, C.BTF)
    opts = L.ProgLoadOpts(prog_btf_fd=btf_fd, func_info=finfo[0], func_info_rec_size=finfo[1])
    if linfo:
        opts.line_info, opts.line_info_rec_size = linfo
    fd, _ = L.prog_load(task, 1, code, "GPL", "aux", opts)
    return task.files.get(fd).obj.aux


@pytest.mark.parametrize("name, expect", [
    ("main_ctx_proto", [(1, False, False, False), (0, False, False, False)]),
    ("main_void_ptr_proto", [(1, True, False, False), (0, False, False, False)]),
    ("global_scalar", [(1, True, False, False), (1, False, True, True)]),
])
def test_func_info_aux(task, name, expect):
    """bpf_func_info_aux: linkage, unreliable (the main program's prototype is not one context
    pointer, or a call did not match), called and verified (global functions)."""
    assert [(a.linkage, a.unreliable, a.called, a.verified)
            for a in _aux(task, name).func_info_aux] == expect
