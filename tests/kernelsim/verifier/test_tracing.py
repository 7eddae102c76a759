"""Tracing programs (fentry/fexit) on kernelsim alone: the oracle refuses to load tracing programs
(EPERM), so these check the rules against the fact sheet (reference/btf-trampoline.md 4): typed
u64 ctx slots through prog_types' btf_ctx_access, the [0, 0] return range, BTF pointer walks with
PROBE_MEM."""

import errno

import pytest

import harness
from kernelsim.bpf_objects import FdTable
from kernelsim.bpf_prog import BpfLoadAttr, BpfProg
from kernelsim.cred import Cred
from kernelsim.errors import BpfError
from kernelsim.verifier import bpf_check, bpf_vlog_init

FENTRY, FEXIT = 24, 25


def load(text, func="bpf_fentry_test1", eat=FENTRY):
    k = harness.kernel()
    btf = k.btf
    fid = btf.find_by_name_kind(func, 12)
    if fid <= 0:
        pytest.skip(f"{func} not in the kernel BTF")
    p = BpfProg(k, 26, eat, harness.asm(text), license="GPL", gpl_compatible=True)
    p.aux.attach_btf, p.aux.attach_btf_id = btf, fid
    p.aux.attach_func_proto, p.aux.attach_func_name = btf.type_by_id(fid).type, func
    log = bpf_vlog_init(1, True, 1 << 16)
    try:
        bpf_check(p, BpfLoadAttr(cred=Cred.make(), files=FdTable(), log_level=1), log)
        return 0, log.text(), p
    except BpfError as e:
        return e.errno, log.text(), p


def test_fentry_reads_arg_and_returns_0():
    assert load("r0 = *(u64 *)(r1 +0)\nr0 = 0\nexit")[0] == 0


def test_fentry_must_return_0():
    err, text, _ = load("r0 = 1\nexit")
    assert err == errno.EINVAL
    assert "At program exit the register R0 has smin=1 smax=1 should have been in [0, 0]" in text


def test_fentry_cannot_read_return_slot_but_fexit_can():
    assert load("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit")[0] == errno.EACCES
    assert load("r0 = *(u64 *)(r1 +8)\nr0 = 0\nexit", eat=FEXIT)[0] == 0


def test_unaligned_slot():
    err, text, _ = load("r0 = *(u32 *)(r1 +4)\nr0 = 0\nexit")
    assert err == errno.EACCES and "invalid bpf_context access off=4 size=4" in text


def test_get_func_ip_allowed_and_recorded():
    err, _, p = load("call bpf_get_func_ip\nr0 = 0\nexit")
    assert err == 0 and p.aux.call_get_func_ip


def test_struct_pointer_walk_is_probe_mem():
    err, text, p = load("r1 = *(u64 *)(r1 +0)\nr2 = *(u64 *)(r1 +0)\nr0 = 0\nexit",
                        func="bpf_fentry_test7")
    assert err == 0, text
    assert 1 in p.aux.probe_mem_insns
