"""BPF_PROG_TEST_RUN for tracing programs (kernelsim/tracing/test_run.py; net/bpf/test_run.c
bpf_prog_test_run_tracing; reference/btf-trampoline.md 8.2), through the TRACING prog type's
test_run slot."""

import pytest

from kernelsim import Kernel
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.prog_types import PROG_TYPES
from kernelsim.test_run import TestRunAttr
from kernelsim.uapi import BpfAttachType as AT, BpfProgType as PT

from tracing_progs import FENTRY, FEXIT, FMOD_RET, attach, counter, load

EINVAL, EFAULT, ENOTSUPP = 22, 14, 524


def do_test_run(prog, **kw):
    return PROG_TYPES[PT.BPF_PROG_TYPE_TRACING].prog.test_run(prog, TestRunAttr(**kw), None).retval


def test_nothing_attached(env):
    k, t, m = env
    assert do_test_run(load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test1", FENTRY)) == 0
    assert do_test_run(load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test5", FEXIT)) == 0
    assert do_test_run(load(k, t, "r0 = 0\nexit\n", "bpf_modify_return_test", FMOD_RET)) == 0x20021


def test_attached_fentry_and_fexit_programs_fire(env):
    k, t, m = env
    names = ["bpf_fentry_test%d" % i for i in range(1, 11)]
    links = [attach(k, load(k, t, counter(m.fd, i), n, FENTRY if i % 2 else FEXIT))
             for i, n in enumerate(names)]
    p = load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test1", FENTRY)
    assert do_test_run(p) == 0
    assert m.values(10) == [1] * 10                       # every target called once
    for l in links:
        l.put()


def test_fmod_ret_packing(env):
    k, t, m = env
    p1 = load(k, t, "r0 = 5\nexit\n", "bpf_modify_return_test", FMOD_RET)
    l1 = attach(k, p1)
    # test(1, &b) -> 5 without running the body; test2 -> 29 with its side effect
    assert do_test_run(p1) == (1 << 16) | (5 + 29)
    p2 = load(k, t, "r0 = 5\nexit\n", "bpf_modify_return_test2", FMOD_RET)
    l2 = attach(k, p2)
    assert do_test_run(p1) == 10                              # both overridden: no side effect
    l1.put()
    l2.put()
    p3 = load(k, t, "r0 = 0x7fff0\nexit\n", "bpf_modify_return_test", FMOD_RET)
    l3 = attach(k, p3)
    assert do_test_run(p3) == (1 << 16) | ((0xFFF0 + 29) & 0xFFFF)     # ret is a u16
    l3.put()


def test_unexpected_return_is_efault(env):
    k, t, m = env
    mod = attach(k, load(k, t, "r0 = 9\nexit\n", "bpf_fentry_test1", FMOD_RET))   # in the fmodret set
    p = load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test2", FENTRY)
    with pytest.raises(BpfError) as e:
        do_test_run(p)
    assert e.value.errno == EFAULT
    mod.put()
    assert do_test_run(p) == 0


@pytest.mark.parametrize("field", ["flags", "cpu", "batch_size"])
def test_flags_cpu_batch_size_einval(env, field):
    k, t, m = env
    p = load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test1", FENTRY)
    with pytest.raises(BpfError) as e:
        do_test_run(p, **{field: 1})
    assert e.value.errno == EINVAL


def test_other_attach_types_efault(env):
    k, t, m = env
    p = BpfProg(k, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER)
    with pytest.raises(BpfError) as e:
        do_test_run(p)
    assert e.value.errno == EFAULT


def test_runs_as_the_calling_task(env):
    k, t, m = env
    other = k.spawn(comm="other")
    text = "call bpf_get_current_pid_tgid\nr7 = r0\n" + \
        __import__("tracing_progs").store_slot(m.fd, 0, "r7") + "r0 = 0\nexit\n"
    link = attach(k, load(k, t, text, "bpf_fentry_test1", FENTRY))
    p = load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test2", FENTRY)
    PROG_TYPES[PT.BPF_PROG_TYPE_TRACING].prog.test_run(p, TestRunAttr(task=other), None)
    assert m[0] >> 32 == other.tgid
    assert k.current() is t                                 # restored
    link.put()


def test_no_tracing_test_run_in_5_5():
    k = Kernel(profile="5.5")
    t = k.spawn()
    p = load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test1", FENTRY)
    with pytest.raises(BpfError) as e:
        do_test_run(p)
    assert e.value.errno == ENOTSUPP
