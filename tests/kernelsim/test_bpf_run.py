"""The program runtime: bpf_prog_run on the interpreter, helper resolution, virtual time and
stats, recursion accounting of trampolines / raw tracepoints / kprobes, tail calls (33 at most),
callbacks (bpf_loop, for_each_map_elem)."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))

from helper_support import make_hash, make_kernel  # noqa: E402

from kernelsim import bpf_run as br  # noqa: E402
from kernelsim.bpf_prog import BpfProg  # noqa: E402
from kernelsim.errors import BpfRuntimeError  # noqa: E402
from kernelsim.isa.asm import assemble  # noqa: E402
from kernelsim.maps.map import BpfMap, MapCreateAttr  # noqa: E402
from kernelsim.maps.ops import BpfMapOps  # noqa: E402
from kernelsim.trace_pipe import trace_buffer  # noqa: E402
from kernelsim.uapi import BpfMapType, BpfProgType as PT  # noqa: E402


def prog_of(kernel, text, prog_type=PT.BPF_PROG_TYPE_RAW_TRACEPOINT, eat=0):
    prog = BpfProg(kernel, prog_type, eat, insns=assemble(text))
    return br.bpf_prog_select_runtime(prog)


@pytest.fixture
def kernel():
    return make_kernel()[0]


def test_return_value_u32_and_u64(kernel):
    p = prog_of(kernel, "r0 = -2\nexit")
    assert br.bpf_prog_run(p, 0) == 0xFFFFFFFE
    assert br.bpf_prog_run64(p, 0) == 0xFFFFFFFFFFFFFFFE
    assert p.runtime is not None and callable(p.bpf_func)


def test_virtual_time_and_stats(kernel):
    p = prog_of(kernel, "r0 = 1\nr0 += 2\nexit")
    t0 = kernel.clock.ns
    br.bpf_prog_run(p, 0)
    assert kernel.clock.ns - t0 == 3 * kernel.clock.insn_cost_ns
    assert (p.stats.cnt, p.stats.nsecs) == (0, 0)          # stats off
    kernel.sysctl["kernel.bpf_stats_enabled"] = 1
    br.bpf_prog_run(p, 0)
    br.bpf_prog_run(p, 0)
    assert (p.stats.cnt, p.stats.nsecs) == (2, 6 * kernel.clock.insn_cost_ns)
    kernel.sysctl["kernel.bpf_stats_enabled"] = 0
    br.bpf_stats_key_inc(kernel)
    br.bpf_prog_run(p, 0)
    assert p.stats.cnt == 3
    br.bpf_stats_key_dec(kernel)
    br.bpf_prog_run(p, 0)
    assert p.stats.cnt == 3 and not br.bpf_stats_enabled(kernel)


def test_helpers_resolve_through_the_prog_type(kernel):
    p = prog_of(kernel, """
        r1 = 0x0a6425206968 ll       # "hi %d\\n"
        *(u64 *)(r10 -8) = r1
        r1 = r10
        r1 += -8
        r2 = 7
        r3 = 42
        call bpf_trace_printk
        call bpf_get_smp_processor_id
        exit""")
    trace_buffer(kernel).clear()
    assert br.bpf_prog_run(p, 0, br.BpfTraceRunCtx(kernel, p, cpu=1)) == 1
    (entry,) = trace_buffer(kernel).entries()
    assert entry.text == b"hi 42\n" and entry.cpu == 1 and entry.pid == 0    # CPU 1 is idle


def test_unknown_helper_and_faults_stop_the_run(kernel):
    p = prog_of(kernel, "call 26\nexit")        # skb_load_bytes: not a raw_tp helper
    with pytest.raises(BpfRuntimeError):
        br.bpf_prog_run(p, 0)
    q = prog_of(kernel, "r0 = *(u64 *)(r1 +0)\nexit")
    with pytest.raises(BpfRuntimeError):
        br.bpf_prog_run(q, 0x1000)


def test_bpf_loop_callback(kernel):
    p = prog_of(kernel, """
        r6 = 0
        *(u64 *)(r10 -8) = r6
        r1 = 10
        r2 = func(cb)
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_loop
        r6 = *(u64 *)(r10 -8)
        r6 *= 100
        r0 += r6
        exit
    cb:
        r3 = *(u64 *)(r2 +0)
        r3 += r1
        *(u64 *)(r2 +0) = r3
        r0 = 0
        if r1 != 4 goto out
        r0 = 1
    out:
        exit""")
    assert br.bpf_prog_run(p, 0) == (0 + 1 + 2 + 3 + 4) * 100 + 5


def test_for_each_map_elem_callback(kernel):
    m = make_hash(kernel)
    for k in (1, 2, 3):
        m.ops.map_update_elem(m, k.to_bytes(4, "little"), (k * 10).to_bytes(8, "little"), 0)
    p = prog_of(kernel, f"""
        r6 = 0
        *(u64 *)(r10 -8) = r6
        r1 = {m.addr:#x} ll
        r2 = func(cb)
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_for_each_map_elem
        r6 = *(u64 *)(r10 -8)
        r0 *= 1000
        r0 += r6
        exit
    cb:
        r5 = *(u32 *)(r2 +0)
        r0 = *(u64 *)(r3 +0)
        r0 += r5
        r1 = *(u64 *)(r4 +0)
        r1 += r0
        *(u64 *)(r4 +0) = r1
        r0 = 0
        exit""")
    assert br.bpf_prog_run(p, 0) == 3 * 1000 + (11 + 22 + 33)


def _prog_array(kernel, slots):
    m = BpfMap(kernel, MapCreateAttr(map_type=BpfMapType.BPF_MAP_TYPE_PROG_ARRAY, key_size=4,
                                     value_size=4, max_entries=4),
               BpfMapOps(map_fd_lookup_ptr=lambda m, i: m.data.get(i)))
    m.data = slots
    return m


def test_tail_call_limit_is_33(kernel):
    counter = kernel.mem.alloc(8, "counter")
    pa = _prog_array(kernel, {})
    p = prog_of(kernel, f"""
        r6 = r1
        r1 = {counter.start:#x} ll
        r2 = *(u64 *)(r1 +0)
        r2 += 1
        *(u64 *)(r1 +0) = r2
        r1 = r6
        r2 = {pa.addr:#x} ll
        r3 = 0
        call bpf_tail_call
        r0 = 7
        exit""")
    pa.data[0] = p
    assert br.bpf_prog_run(p, 0) == 7
    assert kernel.mem.load(counter.start, 8) == 1 + 33
    kernel.mem.write(counter.start, bytes(8))
    pa.data.clear()                                     # empty slot: falls through at once
    assert br.bpf_prog_run(p, 0) == 7 and kernel.mem.load(counter.start, 8) == 1


def test_tail_call_into_another_program(kernel):
    target = prog_of(kernel, "call bpf_get_smp_processor_id\nr0 += 100\nexit")
    pa = _prog_array(kernel, {2: target})
    p = prog_of(kernel, f"r2 = {pa.addr:#x} ll\nr3 = 2\ncall bpf_tail_call\nr0 = 1\nexit")
    assert br.bpf_prog_run(p, 0, br.BpfTraceRunCtx(kernel, p, cpu=1)) == 101
    q = prog_of(kernel, f"r2 = {pa.addr:#x} ll\nr3 = 9\ncall bpf_tail_call\nr0 = 1\nexit")
    assert br.bpf_prog_run(q, 0) == 1                   # index past max_entries


def test_trampoline_enter_exit_recursion_and_stats(kernel):
    p = prog_of(kernel, "r0 = 0\nexit", PT.BPF_PROG_TYPE_TRACING)
    run = br.BpfTraceRunCtx(kernel, p, cookie=99)
    assert br.bpf_trampoline_run_prog(p, 0, run) == 0
    assert p.stats.misses == 0 and p.active == [0, 0]
    p.active[0] = 1                                     # already running on CPU 0
    assert br.bpf_trampoline_run_prog(p, 0, run) is None
    assert p.stats.misses == 1 and p.active == [1, 0]
    assert br.bpf_trampoline_run_prog(p, 0, br.BpfTraceRunCtx(kernel, p, cpu=1)) == 0
    p.active[0] = 0
    assert br.__bpf_prog_enter_recur(p, run) == br.NO_START_TIME    # stats off
    br.__bpf_prog_exit_recur(p, br.NO_START_TIME, run)
    kernel.sysctl["kernel.bpf_stats_enabled"] = 1
    start = br.__bpf_prog_enter_recur(p, run)
    assert start > br.NO_START_TIME and br.current_run_ctx(kernel) is run
    br.bpf_prog_invoke(p, 0, run)
    br.__bpf_prog_exit_recur(p, start, run)
    assert (p.stats.cnt, p.stats.nsecs) == (1, 2 * kernel.clock.insn_cost_ns)
    assert br.current_run_ctx(kernel) is None and p.active == [0, 0]


def test_nested_raw_tp_run_counts_a_miss(kernel):
    p = prog_of(kernel, "call bpf_get_attach_cookie\nexit")
    seen = []

    def reenter(run, *regs):              # a tracepoint firing inside the program's helper
        br.__bpf_trace_run(p, 0, br.BpfTraceRunCtx(kernel, p), cookie=5)
        seen.append(run.cookie)
        return 0

    q = prog_of(kernel, "call bpf_get_numa_node_id\ncall bpf_get_attach_cookie\nexit")
    q._bpf_helpers[42] = lambda run, *r: (br.__bpf_trace_run(q, 0, br.BpfTraceRunCtx(kernel, q), 6), 0)[1]
    br.__bpf_trace_run(q, 0, br.BpfTraceRunCtx(kernel, q), cookie=3)
    assert q.stats.misses == 1 and q.active == [0, 0]
    p._bpf_helpers[174] = reenter
    br.__bpf_trace_run(p, 0, br.BpfTraceRunCtx(kernel, p), cookie=4)
    assert p.stats.misses == 1 and seen == [4]


def test_trace_call_bpf_global_recursion_guard(kernel):
    a = prog_of(kernel, "r0 = 1\nexit", PT.BPF_PROG_TYPE_KPROBE)
    b = prog_of(kernel, "r0 = 3\nexit", PT.BPF_PROG_TYPE_KPROBE)
    z = prog_of(kernel, "r0 = 0\nexit", PT.BPF_PROG_TYPE_KPROBE)
    run = br.BpfTraceRunCtx(kernel)
    assert br.trace_call_bpf([(a, 0), (b, 0)], 0, run) == 1
    assert br.trace_call_bpf([(a, 0), (z, 0)], 0, run) == 0
    assert br.trace_call_bpf([], 0, run) == 1
    kernel.cpus[0].bpf_prog_active = 1                 # a kprobe program already runs here
    assert br.trace_call_bpf([(a, 0), (b, 0)], 0, run) == 0
    assert a.stats.misses == 1 and b.stats.misses == 1 and kernel.cpus[0].bpf_prog_active == 1


def test_cookies_through_prog_run_array(kernel):
    p = prog_of(kernel, "call bpf_get_attach_cookie\nexit", PT.BPF_PROG_TYPE_KPROBE)
    q = prog_of(kernel, "call bpf_get_attach_cookie\nr0 += 1\nexit", PT.BPF_PROG_TYPE_KPROBE)
    run = br.BpfTraceRunCtx(kernel)
    assert br.bpf_prog_run_array([(p, 3), (q, 2)], 0, run) == 1 & 3 & 3     # starts at 1
    assert br.bpf_prog_run_array([(p, 3), (q, 5)], 0, run) == 0            # 1 & 3 & 6


def test_kprobe_override_return(kernel):
    p = prog_of(kernel, "r2 = -12\ncall bpf_override_return\nr0 = 0\nexit", PT.BPF_PROG_TYPE_KPROBE)
    run = br.BpfTraceRunCtx(kernel, p)
    regs = kernel.mem.alloc(168, "pt_regs", kind="ctx", writable=False)
    br.bpf_prog_run(p, regs.start, run)
    assert run.override_return == (-12) & (2**64 - 1)
