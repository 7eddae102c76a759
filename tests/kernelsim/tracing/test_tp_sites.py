"""Tracepoints fired from inside simulated kernel function bodies, where the 6.18 sources call
them: a program on the function (fentry/fexit) and one on the tracepoint (raw_tp) see the call
in Linux's order. Each program takes a ticket from one array map (seq_prog), so the map says who
ran when: slot i holds the ticket + 1 of the i-th program, 0 if it never ran.

Also the task_struct fields tracing programs commonly read through BTF (init_task and a forked
task), read by a program with BTF-typed loads.
"""

import pytest

from kernelsim.tracing import kstack
from kernelsim.uapi import BpfAttachType as AT

from tests.kernelsim.tracing.tp_support import RAW_TP, TRACING, Tracer
from tests.kernelsim.tracing.tracing_progs import ctx_dump, seq_prog, store_slot


class Order:
    """Programs on functions and tracepoints, each storing its turn into one map."""

    def __init__(self, t: Tracer | None = None):
        self.t = t or Tracer()
        self.map = self.t.array(32)
        self.slot = 0
        self.names = {}

    def _add(self, what: str) -> int:
        self.slot += 1
        self.names[self.slot] = what
        return self.slot

    def fentry(self, func: str, eat=AT.BPF_TRACE_FENTRY) -> None:
        slot = self._add(f"{'fexit' if eat == AT.BPF_TRACE_FEXIT else 'fentry'} {func}")
        fd = self.t.load(TRACING, seq_prog(self.map, slot), eat=eat,
                         attach_btf_id=self.t.btf_id(func, "func"))
        assert self.t.link(fd, 0, eat) >= 0

    def fexit(self, func: str) -> None:
        self.fentry(func, AT.BPF_TRACE_FEXIT)

    def tp(self, name: str) -> None:
        slot = self._add(f"tp {name}")
        fd = self.t.load(RAW_TP, seq_prog(self.map, slot))
        assert self.t.raw_tp(name, fd) >= 0

    def args(self, tp: str, n: int):
        """A raw_tp program on ``tp`` keeping its first ``n`` u64 ctx slots (the last hit's);
        returns a reader of them."""
        m = self.t.array(n)
        assert self.t.raw_tp(tp, self.t.load(RAW_TP, ctx_dump(m, n))) >= 0
        return lambda: [self.t.u64(m, i) for i in range(n)]

    def seen(self) -> list[str]:
        """The programs that ran, in the order they ran."""
        turns = {self.t.u64(self.map, s): what for s, what in self.names.items()
                 if self.t.u64(self.map, s)}
        return [turns[i] for i in sorted(turns)]


def _around(o: Order, func: str, tp: str, fexit: bool = True) -> list[str]:
    o.fentry(func)
    o.tp(tp)
    if fexit:
        o.fexit(func)
    return [f"fentry {func}", f"tp {tp}"] + ([f"fexit {func}"] if fexit else [])


def test_consume_skb_fires_consume_skb_before_freeing():
    o = Order()
    k = o.t.kernel
    want = _around(o, "consume_skb", "consume_skb")
    o.fentry("__kfree_skb")
    skb = k.kobjects.alloc_skb(bytes(60))
    k.call("consume_skb", skb)
    assert o.seen() == want[:2] + ["fentry __kfree_skb", want[2]]


def test_shared_skb_is_not_traced_until_its_last_reference():
    o = Order()
    k = o.t.kernel
    o.tp("consume_skb")
    skb = k.kobjects.alloc_skb(bytes(60))
    skb.set("users.refs.counter", 2)
    k.call("consume_skb", skb)
    assert o.seen() == [] and skb.get("users.refs.counter") == 1
    k.call("consume_skb", skb)
    assert o.seen() == ["tp consume_skb"]


def test_sk_skb_reason_drop_fires_kfree_skb_with_reason_and_location():
    o = Order()
    k = o.t.kernel
    want = _around(o, "sk_skb_reason_drop", "kfree_skb")
    args = o.args("kfree_skb", 4)
    skb = k.kobjects.alloc_skb(bytes(10))                    # too short for IPv4: ip_rcv drops it
    skb.protocol = 0x0008
    assert k.call("ip_rcv", skb, 0, 0, 0) == 1
    assert o.seen() == want
    ip_rcv = k.functions["ip_rcv"].addr
    assert args() == [skb.addr, ip_rcv + kstack.RET_SITE, 7, 0]


def test_kfree_skb_with_consumed_reason_is_consume_skb():
    o = Order()
    k = o.t.kernel
    o.tp("kfree_skb")
    o.tp("consume_skb")
    k.call("sk_skb_reason_drop", 0, k.kobjects.alloc_skb(bytes(8)), 1)     # SKB_CONSUMED
    assert o.seen() == ["tp consume_skb"]


def test_kfree_skb_list_reason_fires_for_each_freed_skb():
    o = Order()
    k = o.t.kernel
    o.fentry("kfree_skb_list_reason")
    o.tp("kfree_skb")
    o.fexit("kfree_skb_list_reason")
    args = o.args("kfree_skb", 3)
    ko = k.kobjects
    a, b, c = (ko.alloc_skb(bytes(8)) for _ in range(3))
    a.set("next", b)
    b.set("next", c)
    b.set("users.refs.counter", 2)                     # still referenced: not freed, not traced
    k.call("kfree_skb_list_reason", a, 2)
    assert o.seen() == ["fentry kfree_skb_list_reason", "tp kfree_skb", "fexit kfree_skb_list_reason"]
    # tickets: fentry 0, kfree_skb 1 (a) and 2 (c), fexit 3; a slot keeps its program's last
    assert [o.t.u64(o.map, i) for i in (1, 2, 3)] == [1, 3, 4]
    assert args() == [c.addr, 0, 2]                    # the last one: c (called from outside)
    assert b.get("users.refs.counter") == 1


def test_netif_receive_skb_fires_in_the_core():
    o = Order()
    k = o.t.kernel
    ko = k.kobjects
    o.fentry("__netif_receive_skb")
    want = _around(o, "__netif_receive_skb_core", "netif_receive_skb")
    o.fentry("ip_rcv")
    o.fexit("__netif_receive_skb")
    ip = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) + bytes(20)
    skb = ko.alloc_skb(bytes.fromhex("525400123456") + bytes(6) + b"\x08\x00" + ip)
    skb.protocol = k.call("eth_type_trans", skb, ko.netdev("eth0"))
    k.call("netif_receive_skb", skb)
    assert o.seen() == ["fentry __netif_receive_skb"] + want + ["fentry ip_rcv",
                                                                 "fexit __netif_receive_skb"]


def test_unhandled_protocol_is_dropped_in_the_core():
    o = Order()
    k = o.t.kernel
    o.fentry("__netif_receive_skb_core")
    o.tp("netif_receive_skb")
    o.tp("kfree_skb")
    o.fentry("ip_rcv")
    skb = k.kobjects.alloc_skb(bytes(40), protocol=0xdd86)         # IPv6: not modelled
    assert k.call("__netif_receive_skb", skb) == 1
    assert o.seen() == ["fentry __netif_receive_skb_core", "tp netif_receive_skb", "tp kfree_skb"]


def test_net_dev_xmit_inside_dev_hard_start_xmit():
    o = Order()
    k = o.t.kernel
    o.fentry("dev_queue_xmit")
    want = _around(o, "dev_hard_start_xmit", "net_dev_xmit")
    o.tp("consume_skb")
    args = o.args("net_dev_xmit", 4)
    dev = k.kobjects.netdev("eth0")
    skb = k.kobjects.alloc_skb(bytes(54), dev=dev)
    assert k.call("dev_queue_xmit", skb) == 0
    assert o.seen() == ["fentry dev_queue_xmit"] + want + ["tp consume_skb"]
    assert args() == [skb.addr, 0, dev.addr, 54]


@pytest.mark.parametrize("fails", [False, True])
def test_tcp_retransmit_skb_fires_with_its_error(fails):
    o = Order()
    k = o.t.kernel
    o.fentry("tcp_retransmit_skb")
    want = _around(o, "__tcp_retransmit_skb", "tcp_retransmit_skb")
    o.fexit("tcp_retransmit_skb")
    args = o.args("tcp_retransmit_skb", 3)
    sk = k.kobjects.tcp_sock("10.0.0.1", 40000, "10.0.0.2", 80)
    skb = k.kobjects.alloc_skb(bytes(100), sk=sk)
    if fails:
        k.functions["__tcp_transmit_skb"].set_return(-11)
    assert k.call("tcp_retransmit_skb", sk, skb, 1) == (-11 if fails else 0)
    assert o.seen() == ["fentry tcp_retransmit_skb"] + want + ["fexit tcp_retransmit_skb"]
    err = (-11) & 0xFFFFFFFF if fails else 0                          # int, zero-extended
    assert args() == [sk.addr, skb.addr, err]
    assert sk.total_retrans == (0 if fails else 1)


def test_fork_tracepoints_in_kernel_clone_order():
    o = Order()
    k = o.t.kernel
    o.fentry("kernel_clone")
    o.fentry("copy_process")
    o.tp("task_newtask")
    o.fexit("copy_process")
    o.tp("sched_process_fork")
    want = _around(o, "wake_up_new_task", "sched_wakeup_new")
    o.fexit("kernel_clone")
    pid = k.call("kernel_clone", 0)
    assert pid in k.tasks and k.tasks[pid].parent is o.t.task
    assert o.seen() == ["fentry kernel_clone", "fentry copy_process", "tp task_newtask",
                        "fexit copy_process", "tp sched_process_fork"] + want + ["fexit kernel_clone"]


def test_python_fork_still_fires_the_three_fork_tracepoints():
    o = Order()
    for tp in ("task_newtask", "sched_process_fork", "sched_wakeup_new"):
        o.tp(tp)
    o.fentry("copy_process")
    o.t.task.fork()
    assert o.seen() == ["tp task_newtask", "tp sched_process_fork", "tp sched_wakeup_new"]


def test_sched_wakeup_only_when_woken():
    o = Order()
    k = o.t.kernel
    o.fentry("wake_up_process")
    want = _around(o, "try_to_wake_up", "sched_wakeup")
    ts = k.kobjects.task_struct(k.spawn(comm="sleeper"))
    ts.set("__state", 1)                                            # TASK_INTERRUPTIBLE
    assert k.call("wake_up_process", ts) == 1
    assert o.seen() == ["fentry wake_up_process"] + want
    assert k.call("wake_up_process", ts) == 0                       # already running
    assert o.t.u64(o.map, 1) == 5 and o.t.u64(o.map, 3) == 3        # no second sched_wakeup


def test_sched_process_exit_inside_do_exit():
    o = Order()
    k = o.t.kernel
    want = _around(o, "do_exit", "sched_process_exit", fexit=False)  # noreturn: no fexit
    victim = k.spawn(comm="victim", cpu=1)
    k.switch_to(o.t.task, 0)
    k.call("do_exit", 0, cpu=1)
    assert not victim.alive
    assert o.seen() == want


def test_schedule_switches_only_a_blocked_task():
    o = Order()
    k = o.t.kernel
    sleeper = k.spawn(comm="sleeper", cpu=1)
    k.switch_to(o.t.task, 0)
    o.fentry("schedule")
    want = _around(o, "__schedule", "sched_switch")
    o.fexit("schedule")
    args = o.args("sched_switch", 4)
    k.call("schedule", cpu=1)                                        # still running: no switch
    assert o.seen() == ["fentry schedule", "fentry __schedule", "fexit __schedule",
                        "fexit schedule"] and args() == [0, 0, 0, 0]
    ts = k.kobjects.task_struct(sleeper)
    ts.set("__state", 1)
    k.call("schedule", cpu=1)
    assert k.cpus[1].current is None
    assert o.seen() == ["fentry schedule"] + want + ["fexit schedule"]
    assert args() == [0, ts.addr, k.kobjects.init_task.addr, 1]


def test_sys_enter_and_exit_around_the_syscall_body():
    o = Order()
    k = o.t.kernel
    o.tp("sys_enter")
    o.fentry("do_sys_openat2")
    o.fexit("do_sys_openat2")
    o.tp("sys_exit")
    k.kobjects.lookup("/etc/hostname", create=True, data=b"sim\n")
    victim = k.spawn(comm="opener", cpu=1)
    k.switch_to(o.t.task, 0)
    assert k.syscall(victim, "openat", -100, "/etc/hostname", 0, 0) >= 0
    assert o.seen() == ["tp sys_enter", "fentry do_sys_openat2", "fexit do_sys_openat2",
                        "tp sys_exit"]


def test_bpf_trigger_tp_inside_its_function():
    o = Order()
    want = _around(o, "bpf_modify_return_test_tp", "bpf_trigger_tp")
    assert o.t.kernel.call("bpf_modify_return_test_tp", 5) == 5
    assert o.seen() == want


# -- task_struct fields read through BTF -----------------------------------------------------

TASK_FIELDS = (("prio", 4), ("static_prio", 4), ("normal_prio", 4), ("pid", 4), ("tgid", 4),
               ("policy", 4), ("flags", 4), ("exit_signal", 4), ("nr_cpus_allowed", 4))


def _task_reader(t: Tracer, out: int) -> int:
    """fentry on wake_up_process(struct task_struct *p): BTF-typed loads of p's fields,
    p->real_parent->tgid, p->cred->uid.val, p->cred->cap_effective and the first 8 bytes of
    p->comm, stored into ``out`` slots 0...."""
    ko = t.kernel.kobjects
    it = ko.init_task
    cred = ko.view(it.cred, "struct cred")
    body = "r6 = *(u64 *)(r1 +0)\n"
    for i, (name, size) in enumerate(TASK_FIELDS):
        body += f"r7 = *(u{8 * size} *)(r6 +{it.offsetof(name)})\n" + store_slot(out, i, "r7")
    n = len(TASK_FIELDS)
    body += (f"r7 = *(u64 *)(r6 +{it.offsetof('real_parent')})\n"
             f"r7 = *(u32 *)(r7 +{it.offsetof('tgid')})\n" + store_slot(out, n, "r7"))
    body += (f"r8 = *(u64 *)(r6 +{it.offsetof('cred')})\n"
             f"r7 = *(u32 *)(r8 +{cred.offsetof('uid.val')})\n" + store_slot(out, n + 1, "r7"))
    body += (f"r8 = *(u64 *)(r6 +{it.offsetof('cred')})\n"
             f"r7 = *(u64 *)(r8 +{cred.offsetof('cap_effective.val')})\n"
             + store_slot(out, n + 2, "r7"))
    body += f"r7 = *(u64 *)(r6 +{it.offsetof('comm')})\n" + store_slot(out, n + 3, "r7")
    body += "r0 = 0\nexit\n"
    fd = t.load(TRACING, body, eat=AT.BPF_TRACE_FENTRY,
                attach_btf_id=t.btf_id("wake_up_process", "func"))
    assert t.link(fd, 0, AT.BPF_TRACE_FENTRY) >= 0
    return len(TASK_FIELDS) + 4


def _read_task(t: Tracer, ts) -> dict:
    out = t.array(32)
    n = _task_reader(t, out)
    t.kernel.call("wake_up_process", ts)
    vals = [t.u64(out, i) for i in range(n)]
    got = dict(zip([name for name, _ in TASK_FIELDS], vals))
    got.update(parent_tgid=vals[-4], uid=vals[-3], cap_effective=vals[-2],
               comm=vals[-1].to_bytes(8, "little"))
    return got


def test_init_task_fields_are_linux_defaults():
    t = Tracer(ncpus=4)
    got = _read_task(t, t.kernel.kobjects.init_task)
    assert got == {"prio": 120, "static_prio": 120, "normal_prio": 120, "pid": 0, "tgid": 0,
                   "policy": 0, "flags": 0x00200000, "exit_signal": 0, "nr_cpus_allowed": 4,
                   "parent_tgid": 0, "uid": 0, "cap_effective": (1 << 41) - 1,
                   "comm": b"swapper/"}
    it = t.kernel.kobjects.init_task
    assert it.real_parent == it.parent == it.group_leader == it.addr
    assert it.mm == 0 and it.active_mm == t.kernel.kobjects.init_mm.addr


def test_forked_task_fields():
    t = Tracer()
    k = t.kernel
    child = k.tasks[k.call("kernel_clone", 0)]
    got = _read_task(t, k.kobjects.task_struct(child))
    assert got["prio"] == got["static_prio"] == got["normal_prio"] == 120
    assert (got["pid"], got["tgid"], got["parent_tgid"]) == (child.pid, child.pid, t.task.pid)
    assert got["exit_signal"] == 17 and got["flags"] == 0 and got["uid"] == 0
    assert got["comm"] == b"tracer\0\0" and got["cap_effective"] == (1 << 41) - 1
    user = k.spawn(comm="user", uid=1000, caps={"CAP_BPF"})
    k.switch_to(t.task, 0)
    got = _read_task(t, k.kobjects.task_struct(user))
    assert (got["uid"], got["cap_effective"], got["parent_tgid"]) == (1000, 1 << 39, 0)
