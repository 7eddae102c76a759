"""TP_fast_assign of each event class: how a record's fields are filled from the tracepoint's
arguments (include/trace/events/sched.h, syscalls.h, skb.h, net.h, tcp.h, task.h,
bpf_test_run.h; kernel/trace/trace_syscalls.c).

One function per event class, ``assign(rec, kernel, args, cpu, task)``: ``rec`` is the
RecordWriter of tracepoints.py (``put``, ``put_bytes``, ``put_str``), ``args`` the C values of
the TP_PROTO arguments (pointers are kernel addresses, read through ``kernel.kobjects`` as the
kernel dereferences them), ``task`` is ``current``. ``DYN_SIZE`` gives, for the classes with
``__string`` fields, the bytes they append (``__get_dynamic_array_len``: strlen + 1 each).

In words, per class:

* sched_switch: prev/next comm, pid, prio (``p->prio``); prev_state =
  __trace_sched_switch_state(preempt, prev_state, prev): TASK_REPORT_MAX (0x100, printed "R+")
  when preempted, else 1 << (index - 1) of the task state index (0: running).
* sched_process_exec: filename = bprm->filename, pid = p->pid, old_pid.
* sched_process_fork: parent_comm, parent_pid, child_comm, child_pid (comm as __string).
* sched_process_exit: comm, pid, prio, group_dead.
* sched_wakeup_template (sched_wakeup, sched_wakeup_new): comm, pid, prio, target_cpu =
  task_cpu(p).
* sys_enter: id, args[6] = syscall_get_arguments(current, regs); sys_exit: id =
  syscall_get_nr(current, regs), ret.
* kfree_skb: skbaddr, location, rx_sk, protocol = ntohs(skb->protocol), reason;
  consume_skb: skbaddr, location.
* net_dev_xmit: skbaddr, len = skb_len, rc, name = dev->name; net_dev_template
  (netif_receive_skb): skbaddr, len = skb->len, name = skb->dev->name.
* tcp_retransmit_skb: skbaddr, skaddr, state = sk->sk_state, sport/dport = ntohs of the inet
  ports, family, saddr/daddr (IPv4) and saddr_v6/daddr_v6 (the v4-mapped form for AF_INET,
  TP_STORE_ADDRS), err.
* task_newtask: pid, comm, clone_flags, oom_score_adj = task->signal->oom_score_adj (0 when the
  simulated task has no signal_struct).
* bpf_trigger_tp: nonce.
"""

from .pt_regs import PT_REGS

TASK_REPORT = 0x7F
TASK_REPORT_IDLE = 0x80
TASK_REPORT_MAX = TASK_REPORT_IDLE << 1
TASK_IDLE = 0x402
TASK_RTLOCK_WAIT = 0x1000
TASK_UNINTERRUPTIBLE = 0x2
AF_INET = 2
AF_INET6 = 10


def _task(kernel, addr):
    return kernel.kobjects.view(addr, "struct task_struct")


def _comm(t) -> bytes:
    return bytes(t.get("comm")).split(b"\0", 1)[0]


def _cstr(kernel, addr: int, limit: int = 4096) -> bytes:
    if not addr:
        return b""
    try:
        return kernel.mem.read_cstr(addr, limit)
    except Exception:             # noqa: BLE001 - a bad pointer: the kernel would fault; "(fault)"
        return b"(fault)"


def _ntohs(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


def task_state_index(state: int, exit_state: int) -> int:
    """__task_state_index: fls((state | exit_state) & TASK_REPORT), TASK_IDLE -> REPORT_IDLE."""
    s = (state | exit_state) & TASK_REPORT
    if state == TASK_IDLE:
        s = TASK_REPORT_IDLE
    elif state == TASK_RTLOCK_WAIT:
        s = TASK_UNINTERRUPTIBLE
    return s.bit_length()


def trace_sched_switch_state(preempt: int, prev_state: int, t) -> int:
    if preempt:
        return TASK_REPORT_MAX
    exit_state = t.get("exit_state") if t is not None else 0
    idx = task_state_index(prev_state & 0xFFFFFFFF, exit_state)
    return (1 << (idx - 1)) if idx else 0


def assign_sched_switch(rec, kernel, a, cpu, task):
    preempt, prev, nxt, prev_state = a
    p, n = _task(kernel, prev), _task(kernel, nxt)
    rec.put_bytes("prev_comm", _comm(p))
    rec.put("prev_pid", p.pid)
    rec.put("prev_prio", p.prio)
    rec.put("prev_state", trace_sched_switch_state(preempt, prev_state, p))
    rec.put_bytes("next_comm", _comm(n))
    rec.put("next_pid", n.pid)
    rec.put("next_prio", n.prio)


def assign_sched_process_exec(rec, kernel, a, cpu, task):
    p, old_pid, bprm = a
    fname = kernel.kobjects.view(bprm, "struct linux_binprm").filename if bprm else 0
    rec.put_str("filename", _cstr(kernel, fname))
    rec.put("pid", _task(kernel, p).pid)
    rec.put("old_pid", old_pid)


def assign_sched_process_fork(rec, kernel, a, cpu, task):
    parent, child = _task(kernel, a[0]), _task(kernel, a[1])
    rec.put_str("parent_comm", _comm(parent))
    rec.put("parent_pid", parent.pid)
    rec.put_str("child_comm", _comm(child))
    rec.put("child_pid", child.pid)


def assign_sched_process_exit(rec, kernel, a, cpu, task):
    t = _task(kernel, a[0])
    rec.put_bytes("comm", _comm(t))
    rec.put("pid", t.pid)
    rec.put("prio", t.prio)
    rec.put("group_dead", 1 if a[1] else 0)


def task_cpu(kernel, addr: int) -> int:
    ts = kernel.kobjects.task_of(addr)
    return getattr(ts, "cpu", 0) if ts is not None else 0


def assign_sched_wakeup_template(rec, kernel, a, cpu, task):
    t = _task(kernel, a[0])
    rec.put_bytes("comm", _comm(t))
    rec.put("pid", t.pid)
    rec.put("prio", t.prio)
    rec.put("target_cpu", task_cpu(kernel, a[0]))


def syscall_get_arguments(kernel, regs: int) -> list:
    lay = PT_REGS[kernel.arch]
    return [kernel.mem.load(regs + lay.offset(f), lay.word) for f in lay.syscall_args]


def assign_sys_enter(rec, kernel, a, cpu, task):
    regs, nr = a
    rec.put("id", nr)
    f = rec.fields["args"]
    for i, v in enumerate(syscall_get_arguments(kernel, regs) if regs else [0] * 6):
        rec.mem.store(rec.base + f.offset + 8 * i, 8, v)


def assign_sys_exit(rec, kernel, a, cpu, task):
    from .tracepoints import syscall_get_nr
    regs, ret = a
    rec.put("id", syscall_get_nr(kernel, regs) if regs else -1)
    rec.put("ret", ret)


def assign_kfree_skb(rec, kernel, a, cpu, task):
    skb, location, reason, rx_sk = a
    rec.put("skbaddr", skb)
    rec.put("location", location)
    rec.put("rx_sk", rx_sk)
    proto = kernel.kobjects.view(skb, "struct sk_buff").protocol if skb else 0
    rec.put("protocol", _ntohs(proto))
    rec.put("reason", reason)


def assign_consume_skb(rec, kernel, a, cpu, task):
    rec.put("skbaddr", a[0])
    rec.put("location", a[1])


def _dev_name(kernel, dev: int) -> bytes:
    if not dev:
        return b""
    return bytes(kernel.kobjects.view(dev, "struct net_device").get("name")).split(b"\0", 1)[0]


def _skb_dev(kernel, skb: int) -> int:
    return kernel.kobjects.view(skb, "struct sk_buff").dev if skb else 0


def assign_net_dev_xmit(rec, kernel, a, cpu, task):
    skb, rc, dev, skb_len = a
    rec.put("skbaddr", skb)
    rec.put("len", skb_len)
    rec.put("rc", rc)
    rec.put_str("name", _dev_name(kernel, dev))


def assign_net_dev_template(rec, kernel, a, cpu, task):
    skb = a[0]
    rec.put("skbaddr", skb)
    rec.put("len", kernel.kobjects.view(skb, "struct sk_buff").len if skb else 0)
    rec.put_str("name", _dev_name(kernel, _skb_dev(kernel, skb)))


def assign_tcp_retransmit_skb(rec, kernel, a, cpu, task):
    sk, skb, err = a
    rec.put("skbaddr", skb)
    rec.put("skaddr", sk)
    if sk:
        inet = kernel.kobjects.view(sk, "struct inet_sock")
        common = "sk.__sk_common."
        family = inet.get(common + "skc_family")
        rec.put("state", inet.get(common + "skc_state"))
        rec.put("sport", _ntohs(inet.get("inet_sport")))
        rec.put("dport", _ntohs(inet.get(common + "skc_dport")))
        rec.put("family", family)
        saddr = inet.get("inet_saddr").to_bytes(4, "little")
        daddr = inet.get(common + "skc_daddr").to_bytes(4, "little")
        rec.put_bytes("saddr", saddr)
        rec.put_bytes("daddr", daddr)
        if family == AF_INET6:
            rec.put_bytes("saddr_v6", bytes(inet.get(common + "skc_v6_rcv_saddr").bytes()))
            rec.put_bytes("daddr_v6", bytes(inet.get(common + "skc_v6_daddr").bytes()))
        else:
            mapped = bytes(10) + b"\xff\xff"
            rec.put_bytes("saddr_v6", mapped + saddr)
            rec.put_bytes("daddr_v6", mapped + daddr)
    rec.put("err", err)


def assign_task_newtask(rec, kernel, a, cpu, task):
    t = _task(kernel, a[0])
    rec.put("pid", t.pid)
    rec.put_bytes("comm", _comm(t))
    rec.put("clone_flags", a[1])
    sig = t.get("signal")
    rec.put("oom_score_adj", kernel.kobjects.view(sig, "struct signal_struct").oom_score_adj if sig else 0)


def assign_bpf_trigger_tp(rec, kernel, a, cpu, task):
    rec.put("nonce", a[0])


ASSIGN = {
    "sched_switch": assign_sched_switch,
    "sched_process_exec": assign_sched_process_exec,
    "sched_process_fork": assign_sched_process_fork,
    "sched_process_exit": assign_sched_process_exit,
    "sched_wakeup_template": assign_sched_wakeup_template,
    "sys_enter": assign_sys_enter,
    "sys_exit": assign_sys_exit,
    "kfree_skb": assign_kfree_skb,
    "consume_skb": assign_consume_skb,
    "net_dev_xmit": assign_net_dev_xmit,
    "net_dev_template": assign_net_dev_template,
    "tcp_retransmit_skb": assign_tcp_retransmit_skb,
    "task_newtask": assign_task_newtask,
    "bpf_trigger_tp": assign_bpf_trigger_tp,
}

DYN_SIZE = {
    "sched_process_exec": lambda k, a: len(_cstr(k, k.kobjects.view(a[2], "struct linux_binprm").filename
                                                 if a[2] else 0)) + 1,
    "sched_process_fork": lambda k, a: len(_comm(_task(k, a[0]))) + len(_comm(_task(k, a[1]))) + 2,
    "net_dev_xmit": lambda k, a: len(_dev_name(k, a[2])) + 1,
    "net_dev_template": lambda k, a: len(_dev_name(k, _skb_dev(k, a[0]))) + 1,
}
