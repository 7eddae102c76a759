"""The tracepoint catalog and its firing: kernel.tracepoint / kernel.trace_<name>, the hooks in
the task and scheduler code (fork, exit, context switch), simulated syscalls with sys_enter /
sys_exit and the syscalls: events, the simulated tracefs, the CLI."""

import struct

import pytest

from kernelsim import Kernel
from kernelsim.tracing import kstack, tp_formats
from kernelsim.tracing.tracepoints import trace_hit
from tests.kernelsim.tracing.tp_support import RAW_TP, TRACEPOINT, count_prog, store_loads

def counters(T, names):
    m = T.array(len(names))
    for i, name in enumerate(names):
        assert T.raw_tp(name, T.load(RAW_TP, count_prog(m, i))) >= 0
    return lambda: [T.u64(m, i) for i in range(len(names))]


def test_catalog(T):
    cat = T.kernel.tracepoints
    assert set(cat.tracepoints) == set(tp_formats.TRACEPOINTS)
    assert len(cat.events) == len(tp_formats.EVENTS)
    assert cat.event("sched:sched_switch") is cat.event("sched/sched_switch")
    assert cat.by_id[372].name == "sched_switch"
    tp = cat.get("kfree_skb")
    assert (tp.num_args, tp.arg_sizes) == (4, (8, 8, 4, 8))
    assert T.kernel.functions.lookup_addr(tp.site_addr)[0] == "sk_skb_reason_drop"
    assert {ev.name for ev in cat.get("sys_enter").events} >= {"sys_enter", "sys_enter_openat"}


def test_firing_api_and_errors(T):
    read = counters(T, ["consume_skb"])
    skb = T.kernel.kobjects.alloc_skb(b"abc")
    T.kernel.tracepoint("consume_skb", skb, 0)
    T.kernel.trace_consume_skb(skb, None)
    T.kernel.subsys["tracepoint_hit"]("consume_skb", skb, 0)
    assert read() == [3]
    with pytest.raises(TypeError):
        T.kernel.tracepoint("consume_skb", skb)
    with pytest.raises(KeyError):
        T.kernel.tracepoint("no_such_tracepoint")
    with pytest.raises(AttributeError):
        T.kernel.trace_nope
    k = Kernel()
    trace_hit(k, "sched_switch", False, None, None, 0)          # nothing built: a no-op
    assert "tracepoints" not in k.subsys
    with pytest.raises(KeyError):
        trace_hit(k, "nope")


def test_task_and_scheduler_hooks(T):
    read = counters(T, ["task_newtask", "sched_process_fork", "sched_wakeup_new",
                        "sched_process_exit", "sched_switch"])
    child = T.task.fork()
    assert read() == [1, 1, 1, 0, 0]
    T.kernel.switch_to(child, 1)
    T.kernel.switch_to(child, 1)                                 # no switch, no event
    T.kernel.current_cpu = 0
    assert read()[4] == 1
    child.exit()
    assert read()[3] == 1


def test_classic_task_newtask_and_exit_records(T):
    m = T.array(4, value_size=16)
    prog = ("r6 = *(u32 *)(r1 +8)\nr7 = *(u64 *)(r1 +32)\n*(u64 *)(r10 -16) = r7\n"
            + count_prog(m, 0).replace("r1 = 1\nlock *(u64 *)(r0 +0) += r1",
                                               "*(u64 *)(r0 +0) = r6\nr1 = *(u64 *)(r10 -16)\n"
                                               "*(u64 *)(r0 +8) = r1"))
    T.attach_perf(T.load(TRACEPOINT, prog), T.tp_event("task/task_newtask"))
    child = T.task.fork()
    ret, val = T.lookup(m, bytes(4), 16)
    assert ret == 0 and struct.unpack("<QQ", val) == (child.pid, 17)   # clone_flags SIGCHLD
    x = T.array(1)
    ex = ("r6 = *(u8 *)(r1 +32)\n" + count_prog(x, 0).replace(
        "r1 = 1\nlock *(u64 *)(r0 +0) += r1", "*(u64 *)(r0 +0) = r6"))
    T.attach_perf(T.load(TRACEPOINT, ex), T.tp_event("sched/sched_process_exit"))
    child.exit()
    assert T.u64(x) == 1                                         # group_dead


def test_syscalls_fire_enter_exit_and_their_events(T):
    read = counters(T, ["sys_enter", "sys_exit"])
    k = T.kernel
    m = T.array(8)
    prog = "r6 = *(u64 *)(r1 +16)\n" + count_prog(m, 0).replace(
        "r1 = 1\nlock *(u64 *)(r0 +0) += r1", "*(u64 *)(r0 +0) = r6")
    T.attach_perf(T.load(TRACEPOINT, prog), T.tp_event("syscalls/sys_exit_getpid"))
    assert k.syscall(T.task, "getpid") == T.task.tgid
    assert T.u64(m) == T.task.tgid and read() == [1, 1]
    fd = k.syscall(T.task, "openat", -100, "/tmp/file", 0o102, 0o600)     # O_CREAT | O_RDWR
    assert fd >= 3
    assert k.syscall(T.task, "write", fd, b"hello", 5) == 5
    assert k.syscall(T.task, 0, fd, None, 5) in (0, 5)           # read by number
    assert k.syscall(T.task, "unlinkat", -100, "/tmp/file", 0) == 0
    assert k.syscall(T.task, "unlinkat", -100, "/tmp/file", 0) == -2
    assert k.syscall(T.task, "nosuch") == -38 and k.syscall(T.task, 9999) == -38
    assert read() == [7, 7]
    with pytest.raises(TypeError):
        k.syscall(T.task, "getpid", 1)


def test_raw_sys_enter_record_and_stack(T):
    m = T.array(8)
    loads = [("u64", 8), ("u64", 16), ("u64", 24)]
    T.attach_perf(T.load(TRACEPOINT, store_loads(m, loads)),
                  T.tp_event("raw_syscalls/sys_enter"))
    T.kernel.syscall(T.task, "unlinkat", -100, "/nothing", 0)
    nr, a0, a1 = (T.u64(m, i) for i in range(3))
    assert nr == 263 and a0 == (-100) & (2**64 - 1) and T.task.mm.read_cstr(a1, 16) == b"/nothing"
    seen = {}
    T.kernel.functions["do_unlinkat"].ftrace_ops.append(
        __import__("kernelsim.tracing.ftrace", fromlist=["FtraceOps"]).FtraceOps(
            func=lambda call: seen.setdefault("chain", kstack.callchain(T.kernel, call.cpu, 1))))
    T.kernel.syscall(T.task, "unlinkat", -100, "/nothing", 0)
    names = [T.kernel.functions.lookup_addr(a)[0] for a in seen["chain"][1:]]
    assert names == ["do_unlinkat", "__x64_sys_unlinkat", "do_syscall_64"]


def test_tracefs(T):
    fs = T.kernel.tracefs
    avail = fs.read("available_events").splitlines()
    assert "sched:sched_switch" in avail and "syscalls:sys_enter_openat" in avail
    assert len(avail) == len(tp_formats.EVENTS)
    assert fs.read("/sys/kernel/tracing/events/sched/sched_switch/id") == "372\n"
    assert fs.read("events/sched/sched_switch/enable") == "0\n"
    assert T.kernel.tracefs_read("events/skb/kfree_skb/format").startswith("name: kfree_skb\nID: 2310\n")
    assert fs.listdir("events/sched") == sorted(["sched_switch", "sched_process_exec",
                                                 "sched_process_fork", "sched_process_exit",
                                                 "sched_wakeup", "sched_wakeup_new"])
    assert "tcp" in fs.listdir("events") and fs.listdir("events/tcp/tcp_retransmit_skb") == \
        ["enable", "format", "id"]
    for bad in ("events/sched/nope/format", "nope", "/sys/bus/event_source/devices/uprobe/type"):
        with pytest.raises(FileNotFoundError):
            fs.read(bad)
    p = T.load(RAW_TP, 'r1 = 0x0a6968\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\nr2 = 4\n'
                       'call bpf_trace_printk\nr0 = 0\nexit')
    T.raw_tp("bpf_trigger_tp", p)
    T.kernel.tracepoint("bpf_trigger_tp", 1)
    assert "bpf_trace_printk: hi" in fs.read("trace")
    assert "bpf_trace_printk: hi" in fs.read("trace_pipe") and fs.read("trace_pipe") == ""


def test_tcp_retransmit_and_net_records(T):
    m = T.array(8)
    loads = [("u32", 24), ("u16", 28), ("u16", 30), ("u16", 32), ("u16", 34), ("u32", 76)]
    T.attach_perf(T.load(TRACEPOINT, store_loads(m, loads)),
                  T.tp_event("tcp/tcp_retransmit_skb"))
    ko = T.kernel.kobjects
    sk = ko.tcp_sock(saddr="10.0.0.1", sport=40000, daddr="10.0.0.2", dport=80)
    inet = ko.view(sk, "struct inet_sock")
    inet.set("inet_sport", int.from_bytes((40000).to_bytes(2, "big"), "little"))
    inet.set("inet_saddr", int.from_bytes(bytes([10, 0, 0, 1]), "little"))
    skb = ko.alloc_skb(b"x" * 40)
    T.kernel.tracepoint("tcp_retransmit_skb", sk, skb, -11)
    state, sport, dport, family, saddr, err = (T.u64(m, i) for i in range(6))
    assert (state, sport, dport, family) == (1, 40000, 80, 2)
    assert saddr.to_bytes(2, "little") == bytes([10, 0]) and err == 0xFFFFFFF5


def test_cli_tracefs_cat(capsys):
    from kernelsim.cli import main
    assert main(["tracefs", "cat", "events/sched/sched_wakeup/format"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("name: sched_wakeup\nID: 374\n")
    assert main(["tracefs", "cat", "available_events"]) == 0
    assert "raw_syscalls:sys_enter" in capsys.readouterr().out
    assert main(["tracefs", "cat", "nope"]) != 0
