"""Recursion: kprobes and classic tracepoints share the per-CPU bpf_prog_active (trace_call_bpf):
while one of their programs runs on a CPU, every kprobe / tracepoint / kprobe_multi program there
is skipped and counts a miss (the "programs randomly skip execution" of the trampoline commit);
a kprobe hit inside a kprobe handler is a kprobe-level miss; raw_tp and fentry programs only
skip themselves. The nesting comes from a program's bpf_perf_event_output, which goes through the
simulated kernel function perf_event_output, probed here."""

import pytest

from kernelsim.tracing.perf_buffer import PerfBuffer
from kernelsim.uapi import BpfAttachType as AT
from tests.kernelsim.tracing.tp_support import (KPROBE, PERF_EVENT_ARRAY, RAW_TP, TRACEPOINT,
                                                TRACING, Tracer, count_prog)

OUTPUT = """
*(u64 *)(r10 -8) = 42
r4 = r10
r4 += -8
r2 = map_fd({pm})
r3 = 0xffffffff ll
r5 = 8
call bpf_perf_event_output
r0 = 1
exit
"""

@pytest.fixture
def T():
    t = Tracer()
    t.pm = t.map(PERF_EVENT_ARRAY, 4, 4, 2)
    t.samples = []
    t.pb = PerfBuffer(t.task, t.pm, lambda cpu, data, size: t.samples.append(data))
    t.c = t.array(4)
    return t


def misses(T, fd):
    return T.prog_info(fd)[1].recursion_misses


def test_kprobe_skipped_inside_a_tracepoint_program(T):
    out = T.load(TRACEPOINT, OUTPUT.format(pm=T.pm))
    T.attach_perf(out, T.tp_event("bpf_test_run/bpf_trigger_tp"))
    kp = T.load(KPROBE, count_prog(T.c, 0))
    T.attach_perf(kp, T.kprobe_event("perf_event_output"))
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    T.pb.poll()
    assert len(T.samples) == 1                      # the tracepoint program's output went out
    assert T.u64(T.c, 0) == 0 and misses(T, kp) == 1
    assert misses(T, out) == 0
    # the same kprobe outside any program runs
    T.kernel.call("perf_event_output", 0, 0, 0)
    assert T.u64(T.c, 0) == 1


def test_raw_tp_and_fentry_do_not_block(T):
    out = T.load(RAW_TP, OUTPUT.format(pm=T.pm))
    T.raw_tp("bpf_trigger_tp", out)
    kp = T.load(KPROBE, count_prog(T.c, 0))
    T.attach_perf(kp, T.kprobe_event("perf_event_output"))
    km = T.load(KPROBE, count_prog(T.c, 1), eat=AT.BPF_TRACE_KPROBE_MULTI)
    assert T.link(km, 0, AT.BPF_TRACE_KPROBE_MULTI, kprobe_syms=["perf_event_output"]) >= 0
    fe = T.load(TRACING, count_prog(T.c, 2), eat=AT.BPF_TRACE_FENTRY,
                attach_btf_id=T.btf_id("perf_event_output", "func"))
    assert T.link(fe, 0, AT.BPF_TRACE_FENTRY) >= 0
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert [T.u64(T.c, i) for i in range(3)] == [1, 1, 1]
    assert misses(T, kp) == misses(T, km) == misses(T, fe) == 0


def test_kprobe_multi_and_fentry_under_a_tracepoint_program(T):
    out = T.load(TRACEPOINT, OUTPUT.format(pm=T.pm))
    T.set_bpf(T.tp_event("bpf_test_run/bpf_trigger_tp"), out)
    km = T.load(KPROBE, count_prog(T.c, 1), eat=AT.BPF_TRACE_KPROBE_MULTI)
    T.link(km, 0, AT.BPF_TRACE_KPROBE_MULTI, kprobe_syms=["perf_event_output"])
    fe = T.load(TRACING, count_prog(T.c, 2), eat=AT.BPF_TRACE_FENTRY,
                attach_btf_id=T.btf_id("perf_event_output", "func"))
    T.link(fe, 0, AT.BPF_TRACE_FENTRY)
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert (T.u64(T.c, 1), misses(T, km)) == (0, 1)       # bpf_prog_active
    assert (T.u64(T.c, 2), misses(T, fe)) == (1, 0)       # per-program only


def test_kprobe_inside_a_kprobe_handler_is_a_kprobe_miss(T):
    out = T.load(KPROBE, OUTPUT.format(pm=T.pm))
    T.attach_perf(out, T.kprobe_event("vfs_read"))
    kp = T.load(KPROBE, count_prog(T.c, 0))
    lfd = T.attach_perf(kp, T.kprobe_event("perf_event_output"))
    f = T.kernel.kobjects.open_file("/etc/a")
    T.kernel.call("vfs_read", f, 0, 0, 0)
    T.kernel.call("vfs_read", f, 0, 0, 0)
    T.pb.poll()
    assert len(T.samples) == 2 and T.u64(T.c, 0) == 0
    assert misses(T, kp) == 0                              # never reached trace_call_bpf
    ret, info = T.link_info_raw(lfd)
    assert ret == 0 and info.perf_event.kprobe.missed == 2


def test_bpf_prog_active_is_per_cpu(T):
    kp = T.load(KPROBE, count_prog(T.c, 0))
    T.attach_perf(kp, T.kprobe_event("bpf_fentry_test1"))
    T.kernel.cpus[0].bpf_prog_active += 1                  # a program is running on CPU 0
    try:
        T.kernel.call("bpf_fentry_test1", 1)
        T.kernel.call("bpf_fentry_test1", 1, cpu=1)
    finally:
        T.kernel.cpus[0].bpf_prog_active -= 1
    assert T.u64(T.c, 0) == 1 and misses(T, kp) == 1
