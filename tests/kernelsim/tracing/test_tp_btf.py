"""tp_btf: TRACING programs with BPF_TRACE_RAW_TP, typed by the btf_trace_<name> typedefs:
load-time target checks, attach through LINK_CREATE or RAW_TRACEPOINT_OPEN without a name,
trusted pointer arguments read directly, cookies and link info; errnos against the real kernel."""

import errno

import pytest

from btf.uapi import BtfKind as K
from kernelsim.uapi import BpfAttachType as AT
from tests.kernelsim.tracing.realperf import (real_btf_id, real_close, real_link_create,
                                              real_prog_load, real_raw_tp_open)
from tests.kernelsim.tracing.tp_support import TRACING, Tracer, store_r6
from tests.realkernel import requires_realkernel

RAW_TP_EAT = AT.BPF_TRACE_RAW_TP


def store(m, value_insns):
    """value_insns leave the value in r6; it goes to map[0]."""
    return value_insns + "\n" + store_r6(m)


def test_typed_args_and_trusted_pointers(T):
    """ctx[1] of sched_process_fork is the child task_struct (PTR_TO_BTF_ID | PTR_TRUSTED):
    child->pid is a direct load."""
    m = T.array(1)
    pid_off = T.kernel.kobjects.types.field(
        T.kernel.kobjects.types.type_id("struct task_struct"), "pid").offset
    p = T.tp_btf("sched_process_fork", store(m, f"r2 = *(u64 *)(r1 +8)\nr6 = *(u32 *)(r2 +{pid_off})"))
    prog = T.prog(p)
    assert prog.aux.attach_func_name == "sched_process_fork"
    assert T.link(p, 0, RAW_TP_EAT, cookie=3) >= 0
    child = T.task.fork()
    assert T.u64(m) == child.pid


def test_load_time_target_checks(T):
    simple = "r0 = 0\nexit"
    cases = {"task_struct": ("struct", errno.EINVAL), "u32": ("typedef", errno.EINVAL)}
    for name, (kind, err) in cases.items():
        bk = K.BTF_KIND_STRUCT if kind == "struct" else K.BTF_KIND_TYPEDEF
        kid = T.kernel.btf.find_by_name_kind(name, bk)
        fd, log = T.load(TRACING, simple, eat=RAW_TP_EAT, attach_btf_id=kid, expect_fail=True)
        assert fd == -err, (name, log)
    fd, log = T.load(TRACING, simple, eat=RAW_TP_EAT, attach_btf_id=0, expect_fail=True)
    assert fd < 0
    # reading past the typedef's arguments is the verifier's EACCES
    fd, log = T.load(TRACING, "r0 = *(u64 *)(r1 +32)\nr0 = 0\nexit", eat=RAW_TP_EAT,
                     attach_btf_id=T.btf_id("btf_trace_sched_switch"), expect_fail=True)
    assert fd == -errno.EACCES


def test_attach_paths(T):
    c = T.array(1)
    count = store(c, "r6 = 1")
    p = T.tp_btf("bpf_trigger_tp", count)
    assert T.raw_tp("bpf_trigger_tp", p) == -errno.EINVAL       # a name is refused
    assert T.link(p, 0, AT.BPF_TRACE_FENTRY) == -errno.EINVAL     # attach_type != expected
    lfd = T.raw_tp(None, p, cookie=9)
    assert lfd >= 0
    ret, info = T.link_info_raw(lfd)
    assert ret == 0 and info.type == 1 and info.raw_tracepoint.cookie == 9
    assert info.raw_tracepoint.tp_name_len == len("bpf_trigger_tp") + 1
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert T.u64(c) == 1
    lfd2 = T.link(p, 0, RAW_TP_EAT)
    assert lfd2 >= 0
    T.task.close(lfd)
    T.task.close(lfd2)
    assert T.kernel.tracepoints.get("bpf_trigger_tp").funcs == []


def test_get_attach_cookie_in_tp_btf(T):
    m = T.array(1)
    p = T.tp_btf("sched_wakeup_new", store(m, "call bpf_get_attach_cookie\nr6 = r0"))
    assert T.link(p, 0, RAW_TP_EAT, cookie=0xABCDEF) >= 0
    T.task.fork()
    assert T.u64(m) == 0xABCDEF


@pytest.mark.realkernel
@requires_realkernel
def test_errnos_match_the_real_kernel():
    from kernelsim.isa.asm import assemble
    simple = assemble("r0 = 0\nexit")
    T = Tracer()
    for name, kind in (("btf_trace_sched_switch", K.BTF_KIND_TYPEDEF),
                       ("task_struct", K.BTF_KIND_STRUCT), ("u32", K.BTF_KIND_TYPEDEF)):
        rfd, rerr = real_prog_load(26, simple, expected_attach_type=RAW_TP_EAT,
                                   attach_btf_id=real_btf_id(name, kind))
        fd, _ = T.load(TRACING, "r0 = 0\nexit", eat=RAW_TP_EAT,
                       attach_btf_id=T.kernel.btf.find_by_name_kind(name, kind), expect_fail=True)
        assert (fd >= 0) == (rfd >= 0) and (rfd >= 0 or -fd == rerr), name
        if rfd >= 0:
            r1 = real_raw_tp_open("sched_switch", rfd)
            assert T.raw_tp("sched_switch", fd) == -r1[1]
            r2 = real_link_create(rfd, 0, AT.BPF_TRACE_FEXIT)
            assert T.link(fd, 0, AT.BPF_TRACE_FEXIT) == -r2[1]
            r3 = real_raw_tp_open(None, rfd)
            assert r3[0] >= 0 and T.raw_tp(None, fd) >= 0
            real_close(r3[0])
            real_close(rfd)
