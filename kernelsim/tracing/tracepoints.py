"""Tracepoints and trace events: the catalog, firing, and the perf probe that runs classic
BPF_PROG_TYPE_TRACEPOINT programs (kernel/tracepoint.c, include/linux/tracepoint.h __DO_TRACE,
include/trace/perf.h perf_trace_<class>, kernel/trace/trace_event_perf.c,
kernel/trace/trace_syscalls.c perf_syscall_enter/exit, kernel/trace/bpf_trace.c
perf_trace_run_bpf_submit / trace_call_bpf).

The data (TP_PROTO, formats, ids) is tp_formats.py; what each event's TP_fast_assign writes is
tp_assign.py; raw_tp / tp_btf attachment is raw_tp.py; perf events are perf_event.py.

Firing::

    kernel.tracepoint("sched_switch", False, prev_task, next_task, 0)
    kernel.trace_sched_switch(False, prev_task, next_task, 0)       # the same
    kernel.subsys["tracepoint_hit"]("bpf_trigger_tp", nonce)        # what simulated functions call

Arguments are Python values converted as ``kernel.call`` converts them: a TaskStruct becomes its
task_struct's address, a KObject its address, None NULL, a str (pointer argument) a kernel
string, bools and ints their C value. ``cpu=`` fires on that CPU (default: the current one) and
``task=`` overrides ``current`` for the firing.

A tracepoint keeps its probes in registration order (``funcs``), as tracepoint_probe_register
appends them: each raw_tp / tp_btf link is one probe (``__bpf_trace_<class>``: the arguments cast
to u64 slots, zero-extended by their size as __CAST_TO_U64 does, then ``__bpf_trace_run``: per-
program recursion check, misses counted), and the event's perf probe is one more, registered
when the first perf event is opened on the event (perf_trace_event_reg) and removed with the
last. The perf probe (``perf_trace``): nothing to do unless the event has BPF programs
(``prog_array``) or perf events on this CPU; else it takes a per-CPU trace buffer
(PERF_MAX_TRACE_SIZE bytes, one per nesting level; an event record larger than that is dropped
with the kernel's "perf buffer not large enough" warning), writes the ``trace_entry`` header and
the fields, builds the caller's pt_regs (ip: the return address into the function that fired
the tracepoint, tp_formats.TP_SITES) and, if programs are attached, stores the pt_regs pointer
in the record's first 8 bytes and runs the prog array under ``trace_call_bpf`` (the per-CPU
``bpf_prog_active``: while any kprobe/tracepoint program runs on the CPU, the whole array is
skipped and each program counts a miss). The programs see the record as their ctx. A zero
return (or no perf event on this CPU) ends it; otherwise the record goes to the CPU's enabled
perf events as a sample (perf_tp_event). Programs run whether or not their perf event is
enabled: the probe is registered at perf_event_open, ENABLE only decides about samples (checked
on the oracle: a tracepoint program on a disabled event runs).

The ``syscalls:`` events have no tracepoint of their own: one perf probe on sys_enter (and one
on sys_exit) serves all of them (perf_syscall_enter): it picks the event by the syscall number
in the pt_regs, and the programs' ctx is a separate on-stack ``syscall_tp_t`` (the pt_regs
pointer, nr, six argument slots: 64 bytes) rather than the record.
"""

import errno

from ..bpf_run import BpfTraceRunCtx, __bpf_trace_run, trace_call_bpf
from ..ctx_access import PERF_MAX_TRACE_SIZE
from ..errors import BpfError
from . import kstack, tp_assign, tp_formats
from .kobjects import KObject
from .pt_regs import PT_REGS, pt_regs_bytes

BPF_TRACE_MAX_PROGS = 64            # kernel/trace/bpf_trace.c: programs per trace event
MAX_BPF_FUNC_ARGS = 12
PERF_NR_CONTEXTS = 4                # perf_swevent_get_recursion_context: task, softirq, irq, nmi
TRACE_EVENT_FL_TRACEPOINT = 1 << 4  # include/linux/trace_events.h trace_event_flags (bit values
TRACE_EVENT_FL_KPROBE = 1 << 5      # as of 6.x; they only say "which kind of event" here)
TRACE_EVENT_FL_SYSCALL = 1 << 12    # (invented bit: the kernel tells by class->reg)
U64 = (1 << 64) - 1
SYSCALL_TP_T_SIZE = 64              # struct syscall_tp_t of perf_call_bpf_enter (8 + 8 + 6 * 8)

# Where each tracepoint is fired from (its regs->ip and stack top): the function whose body
# contains the trace_<name>() call (kernel/sched/core.c, kernel/fork.c, ...). Data.
TP_SITES = {
    "sched_switch": "__schedule", "sched_process_exec": "bprm_execve",
    "sched_process_fork": "kernel_clone", "sched_process_exit": "do_exit",
    "sched_wakeup": "try_to_wake_up", "sched_wakeup_new": "wake_up_new_task",
    "sys_enter": "syscall_trace_enter", "sys_exit": "syscall_exit_work",
    "kfree_skb": "sk_skb_reason_drop", "consume_skb": "consume_skb",
    "net_dev_xmit": "dev_hard_start_xmit", "netif_receive_skb": "__netif_receive_skb_core",
    "tcp_retransmit_skb": "__tcp_retransmit_skb", "task_newtask": "copy_process",
    "bpf_trigger_tp": "bpf_modify_return_test_tp",
}


class TraceEvent:
    """struct trace_event_call: one tracefs event, the BPF programs attached to it through perf
    events (``prog_array``: [(prog, bpf_cookie)], at most BPF_TRACE_MAX_PROGS) and its perf
    events (PerfEvent objects, perf_event.py)."""

    def __init__(self, catalog, fmt: tp_formats.TraceEventFormat, tp, syscall=None):
        self.catalog = catalog
        self.kernel = catalog.kernel
        self.fmt = fmt
        self.id = fmt.id
        self.name = fmt.name
        self.system = fmt.system
        self.tp = tp                        # the Tracepoint that feeds it
        self.syscall = syscall              # SyscallMeta for the syscalls: events
        self.flags = TRACE_EVENT_FL_SYSCALL if syscall is not None else TRACE_EVENT_FL_TRACEPOINT
        self.prog_array: list = []          # [(BpfProg, cookie)]
        self.perf_events: list = []         # every PerfEvent opened on it
        self.fields = {f.name: f for f in fmt.fields}
        self.assign = tp_assign.ASSIGN.get(fmt.cls) if fmt.cls else None
        self.nr_hits = 0

    @property
    def tp_name(self) -> str:
        """What bpf_get_perf_event_info reports: the tracepoint's name (call->tp->name), or the
        event's for syscall events (call->name)."""
        return self.name

    def max_offset(self) -> int:
        """trace_event_get_offsets: offset + size of the last field (a classic program reading
        past it cannot attach: EACCES)."""
        last = self.fmt.fields[-1] if self.fmt.fields else None
        return last.offset + last.size if last else tp_formats.TRACE_ENTRY_SIZE

    def perf_head(self, cpu: int) -> list:
        """this_cpu_ptr(call->perf_events): the enabled perf events counting on ``cpu``."""
        return [e for e in self.perf_events if e.counts_on(cpu)]

    def __repr__(self) -> str:
        return f"<TraceEvent {self.system}:{self.name} id={self.id}>"


class Tracepoint:
    """struct tracepoint and its struct bpf_raw_event_map."""

    def __init__(self, catalog, proto: tp_formats.TracepointProto):
        self.catalog = catalog
        self.kernel = catalog.kernel
        self.proto = proto
        self.name = proto.name
        self.num_args = proto.num_args
        self.writable_size = proto.writable_size
        self.funcs: list = []               # probes, registration order: (func, data)
        self.events: list = []              # TraceEvents it feeds (its own, syscall events)
        self.nr_hits = 0
        self.arg_sizes = self._arg_sizes()
        site = TP_SITES.get(self.name)
        fn = self.kernel.functions.get(site) if site else None
        self.site_addr = fn.addr if fn is not None else 0

    def _arg_sizes(self) -> tuple:
        """The size of each TP_PROTO argument, from the btf_trace_<name> typedef (after
        ``void *__data``), or 8 each when the kernel BTF lacks it."""
        tid = btf_trace_typedef(self.kernel.btf, self.name)
        if tid <= 0:
            return (8,) * self.num_args
        b = self.kernel.btf
        proto = b.type_by_id(b.type_by_id(b.type_by_id(tid).type).type)
        return tuple(b.resolve_size(p.type) if p.type else 8 for p in proto.params[1:])

    # -- probes (tracepoint_probe_register / unregister) ------------------------------------

    def probe_register(self, func, data) -> None:
        """tracepoint_add_func: EEXIST if (func, data) is already registered."""
        for f, d in self.funcs:
            if f is func and d is data:
                raise BpfError(errno.EEXIST, f"probe already registered on {self.name}")
        self.funcs = self.funcs + [(func, data)]          # copy on write: firing keeps its list

    def probe_unregister(self, func, data) -> None:
        self.funcs = [(f, d) for f, d in self.funcs if not (f is func and d is data)]

    # -- firing ------------------------------------------------------------------------------

    def c_args(self, args) -> list:
        if len(args) != self.num_args:
            raise TypeError(f"trace_{self.name}() takes {self.num_args} arguments, {len(args)} given")
        return [c_value(self.kernel, a) for a in args]

    def fire(self, args, cpu: int | None = None, task=...) -> None:
        """trace_<name>(args): run every probe (module doc)."""
        funcs = self.funcs
        self.nr_hits += 1
        if not funcs:
            return
        kernel = self.kernel
        cpu = kernel.current_cpu if cpu is None else cpu
        if task is ...:
            task = kernel.cpus[cpu].current
        cargs = self.c_args(args)
        saved = kernel.current_cpu
        kernel.current_cpu = cpu              # the firing runs on that CPU (smp_processor_id)
        try:
            for func, data in funcs:
                func(self, data, cargs, cpu, task)
        finally:
            kernel.current_cpu = saved

    def __repr__(self) -> str:
        return f"<Tracepoint {self.name} args={self.num_args} probes={len(self.funcs)}>"


def btf_trace_typedef(btf, name: str) -> int:
    """The BTF id of typedef btf_trace_<name>, or -1."""
    from btf.uapi import BtfKind
    try:
        return btf.find_by_name_kind(f"btf_trace_{name}", BtfKind.BTF_KIND_TYPEDEF)
    except Exception:               # noqa: BLE001 - BtfError: not there
        return -1


def c_value(kernel, v) -> int:
    """A tracepoint argument as the C value the caller passes (module doc)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v & U64
    if v is None:
        return 0
    if isinstance(v, KObject):
        return v.addr
    if hasattr(v, "files") and hasattr(v, "pid"):          # a TaskStruct
        return kernel.kobjects.task_struct(v).addr
    if isinstance(v, str):
        return kernel.kobjects.cstring(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return kernel.kobjects.alloc_bytes(bytes(v))
    return int(v) & U64


# -- the catalog ------------------------------------------------------------------------------


class TracepointCatalog:
    """``kernel.subsys["tracepoints"]``: every Tracepoint and TraceEvent of the machine."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.tracepoints = {name: Tracepoint(self, p) for name, p in tp_formats.TRACEPOINTS.items()}
        self.events: dict[str, TraceEvent] = {}
        self.syscall_events: dict[tuple[str, int], TraceEvent] = {}   # ("enter"|"exit", nr)
        for path, fmt in tp_formats.EVENTS.items():
            if fmt.system == "syscalls":
                kind, sc = fmt.name.split("_", 2)[1], fmt.name.split("_", 2)[2]
                meta = tp_formats.SYSCALLS[sc]
                tp = self.tracepoints["sys_" + kind]
                ev = TraceEvent(self, fmt, tp, syscall=meta)
                nr = meta.nr.get(kernel.arch)
                if nr is not None:
                    self.syscall_events[(kind, nr)] = ev
            else:
                tp = self.tracepoints[fmt.name]
                ev = TraceEvent(self, fmt, tp)
            tp.events.append(ev)
            self.events[path] = ev
        self.by_id = {ev.id: ev for ev in self.events.values()}
        self._perf_probe_users: dict[str, int] = {}     # tracepoint name -> perf users

    def get(self, name: str) -> Tracepoint | None:
        return self.tracepoints.get(name)

    def event(self, path: str) -> TraceEvent | None:
        """``"sched/sched_switch"`` or ``"sched:sched_switch"``."""
        return self.events.get(path.replace(":", "/"))

    # -- perf registration (perf_trace_event_reg / unreg) ------------------------------------

    def perf_trace_event_reg(self, ev: TraceEvent) -> None:
        """The first perf event on ``ev``'s tracepoint registers the perf probe there (for the
        syscall events: the shared perf_syscall_enter/exit probe)."""
        tp = ev.tp
        users = self._perf_probe_users.get(tp.name, 0)
        if users == 0:
            tp.probe_register(perf_trace_probe, self)
        self._perf_probe_users[tp.name] = users + 1

    def perf_trace_event_unreg(self, ev: TraceEvent) -> None:
        tp = ev.tp
        users = self._perf_probe_users.get(tp.name, 0) - 1
        if users <= 0:
            self._perf_probe_users.pop(tp.name, None)
            tp.probe_unregister(perf_trace_probe, self)
        else:
            self._perf_probe_users[tp.name] = users


def tracepoints_of(kernel) -> TracepointCatalog:
    cat = kernel.subsys.get("tracepoints")
    if cat is None:
        cat = kernel.subsys["tracepoints"] = TracepointCatalog(kernel)
    return cat


def trace_hit(kernel, name: str, *args, cpu: int | None = None, task=...) -> None:
    """Fire tracepoint ``name`` (``kernel.tracepoint``). Until the catalog exists nothing can be
    attached, so this returns at once: the hooks in task.py and the kernel functions cost
    nothing on a machine that never traces. KeyError: no such tracepoint."""
    cat = kernel.subsys.get("tracepoints")
    if cat is None:
        if name not in tp_formats.TRACEPOINTS:
            raise KeyError(f"no tracepoint {name!r}")
        return
    tp = cat.tracepoints.get(name)
    if tp is None:
        raise KeyError(f"no tracepoint {name!r}")
    tp.fire(args, cpu, task)


# -- per-CPU buffers ------------------------------------------------------------------------------


def percpu_buffer(kernel, cpu: int, what: str, size: int, level: int = 0) -> int:
    """A per-CPU kernel buffer (``what`` names it; one per nesting ``level``), allocated once:
    perf_trace_buf (the record), the fetched pt_regs, the raw tp u64 arrays."""
    percpu = kernel.cpus[cpu].percpu
    key = ("tp_buf", what, level)
    addr = percpu.get(key)
    if addr is None:
        addr = percpu[key] = kernel.mem.alloc(size, f"{what} cpu{cpu}.{level}", kind="ctx").start
    return addr


def _enter_level(kernel, cpu: int, what: str) -> int:
    percpu = kernel.cpus[cpu].percpu
    level = percpu.get((what, "level"), 0)
    percpu[(what, "level")] = level + 1
    return level


def _leave_level(kernel, cpu: int, what: str) -> None:
    percpu = kernel.cpus[cpu].percpu
    percpu[(what, "level")] -= 1


# -- the bpf probe: __bpf_trace_<class> + bpf_trace_runN ---------------------------------------


def bpf_trace_probe(tp: Tracepoint, link, cargs, cpu: int, task) -> None:
    """__bpf_trace_<class>(link, args...): u64 slots (zero-extended by size), then
    __bpf_trace_run(prog, args) with the link's cookie."""
    kernel = tp.kernel
    level = _enter_level(kernel, cpu, "raw_tp")
    try:
        addr = percpu_buffer(kernel, cpu, "bpf_trace_run args", 8 * MAX_BPF_FUNC_ARGS, level)
        mem = kernel.mem
        for i, (v, size) in enumerate(zip(cargs, tp.arg_sizes)):
            mem.store(addr + 8 * i, 8, v & ((1 << (8 * min(size, 8))) - 1))
        chain = kstack.callchain(kernel, cpu, tp.site_addr + kstack.RET_SITE if tp.site_addr else 0)
        run = BpfTraceRunCtx(kernel, link.prog, cpu=cpu, task=task, kstack=chain)
        __bpf_trace_run(link.prog, addr, run, link.cookie)
    finally:
        _leave_level(kernel, cpu, "raw_tp")


# -- the perf probe: perf_trace_<class>, perf_syscall_enter/exit --------------------------------


def perf_trace_probe(tp: Tracepoint, catalog, cargs, cpu: int, task) -> None:
    """The perf probe registered on ``tp``: its own event, or for sys_enter/sys_exit also the
    syscall event of this syscall number."""
    for ev in tp.events:
        if ev.syscall is None:
            if ev.prog_array or ev.perf_events:
                perf_trace(ev, cargs, cpu, task)
        elif ev.prog_array or ev.perf_events:
            perf_syscall(ev, cargs, cpu, task)


def _caller_regs(kernel, cpu: int, level: int, ip: int) -> int:
    """perf_fetch_caller_regs: ip (the caller's return address), sp (this CPU's stack), the
    kernel segment/flags; the rest 0."""
    arch = kernel.arch
    lay = PT_REGS[arch]
    addr = percpu_buffer(kernel, cpu, "perf_trace regs", lay.size, level)
    sp = kernel_stack_top(kernel, cpu) - 0x100 * (1 + level)
    kernel.mem.write(addr, pt_regs_bytes(arch, {lay.ip: ip, lay.sp: sp}))
    return addr


def kernel_stack_top(kernel, cpu: int) -> int:
    """The top of the CPU's simulated kernel stack (THREAD_SIZE 16 KiB), for sp values."""
    percpu = kernel.cpus[cpu].percpu
    top = percpu.get("kernel_stack_top")
    if top is None:
        region = kernel.mem.alloc(4 * 4096, f"kernel stack cpu{cpu}", kind="stack")
        top = percpu["kernel_stack_top"] = region.end
    return top


def _header(kernel, addr: int, ev: TraceEvent, task) -> None:
    """tracing_generic_entry_update: common_type, flags, preempt_count, pid."""
    mem = kernel.mem
    mem.store(addr, 2, ev.id)
    mem.store(addr + 2, 1, 0)
    mem.store(addr + 3, 1, 0)
    mem.store(addr + 4, 4, (task.pid if task is not None else 0) & 0xFFFFFFFF)


class RecordWriter:
    """What TP_fast_assign writes through: the record at ``base`` with the event's fields
    (invented name; the kernel writes ``__entry->field``)."""

    __slots__ = ("kernel", "mem", "base", "fields", "dyn", "data_offset", "limit")

    def __init__(self, kernel, base: int, ev: TraceEvent, limit: int):
        self.kernel = kernel
        self.mem = kernel.mem
        self.base = base
        self.fields = ev.fields
        self.data_offset = ev.fmt.data_offset
        self.dyn = 0
        self.limit = limit

    def put(self, name: str, value: int) -> None:
        f = self.fields[name]
        if f.size in (1, 2, 4, 8):
            self.mem.store(self.base + f.offset, f.size, int(value) & ((1 << (8 * f.size)) - 1))
        else:
            self.put_bytes(name, int(value).to_bytes(f.size, "little"))

    def put_bytes(self, name: str, data: bytes) -> None:
        """A fixed array field: ``data`` cut or zero-padded to its size."""
        f = self.fields[name]
        data = bytes(data[:f.size])
        self.mem.write(self.base + f.offset, data + bytes(f.size - len(data)))

    def put_str(self, name: str, data: bytes) -> None:
        """__assign_str into a __data_loc field: the bytes and a NUL after the fixed part, the
        field = (length << 16) | offset."""
        f = self.fields[name]
        data = bytes(data).split(b"\0", 1)[0] + b"\0"
        off = self.data_offset + self.dyn
        if off + len(data) > self.limit:
            data = data[:max(0, self.limit - off)]
        self.mem.write(self.base + off, data)
        self.mem.store(self.base + f.offset, 4, (len(data) << 16) | off)
        self.dyn += len(data)


def dyn_size(ev: TraceEvent, cargs, kernel) -> int:
    """__data_size: the dynamic bytes the event will append (for the record size)."""
    sizer = tp_assign.DYN_SIZE.get(ev.fmt.cls)
    return sizer(kernel, cargs) if sizer is not None else 0


def perf_trace(ev: TraceEvent, cargs, cpu: int, task) -> None:
    """perf_trace_<class> (module doc)."""
    kernel = ev.kernel
    ev.nr_hits += 1
    level = _enter_level(kernel, cpu, "perf_trace")
    try:
        if level >= PERF_NR_CONTEXTS:
            return                                      # perf_swevent_get_recursion_context
        size = _align_record(ev.fmt.size + dyn_size(ev, cargs, kernel))
        if size > PERF_MAX_TRACE_SIZE:
            kernel.log.warning("perf_trace_buf_alloc", msg="perf buffer not large enough",
                               wanted=size, have=PERF_MAX_TRACE_SIZE)
            return
        entry = percpu_buffer(kernel, cpu, "perf_trace_buf", PERF_MAX_TRACE_SIZE, level)
        kernel.mem.write(entry, bytes(size))
        _header(kernel, entry, ev, task)
        if ev.assign is not None:
            ev.assign(RecordWriter(kernel, entry, ev, PERF_MAX_TRACE_SIZE), kernel, cargs, cpu, task)
        ip = ev.tp.site_addr + kstack.RET_SITE if ev.tp.site_addr else 0
        regs = _caller_regs(kernel, cpu, level, ip)
        chain = kstack.callchain(kernel, cpu, ip)
        perf_trace_run_bpf_submit(ev, entry, size, regs, cpu, task, chain)
    finally:
        _leave_level(kernel, cpu, "perf_trace")


def _align_record(size: int) -> int:
    """ALIGN(size + sizeof(u32), sizeof(u64)) - sizeof(u32): the raw sample's size."""
    return ((size + 4 + 7) & ~7) - 4


def perf_trace_run_bpf_submit(ev: TraceEvent, raw: int, size: int, regs: int, cpu: int, task,
                              chain, ctx: int | None = None) -> None:
    """bpf_trace.c perf_trace_run_bpf_submit: the programs first (ctx = the record with the
    pt_regs pointer in its first 8 bytes, or ``ctx`` for syscall events), then the samples."""
    kernel = ev.kernel
    head = ev.perf_head(cpu)
    items = ev.prog_array
    if items:
        if ctx is None:
            kernel.mem.store(raw, 8, regs)
            ctx = raw
        run = BpfTraceRunCtx(kernel, None, cpu=cpu, task=task, kstack=chain)
        if not trace_call_bpf(list(items), ctx, run) or not head:
            return
    if not head:
        return
    data = kernel.mem.read(raw, size)
    for event in head:
        event.tp_event_output(data, regs, task, cpu, chain)


def perf_syscall(ev: TraceEvent, cargs, cpu: int, task) -> None:
    """perf_syscall_enter / perf_syscall_exit for one syscalls: event. ``cargs`` are sys_enter's
    (regs, id) or sys_exit's (regs, ret)."""
    kernel = ev.kernel
    regs, second = cargs
    lay = PT_REGS[kernel.arch]
    mem = kernel.mem
    nr = syscall_get_nr(kernel, regs)
    if nr != ev.syscall.nr.get(kernel.arch):
        return
    kind = "enter" if ev.tp.name == "sys_enter" else "exit"
    ev.nr_hits += 1
    level = _enter_level(kernel, cpu, "perf_trace")
    try:
        if level >= PERF_NR_CONTEXTS:
            return
        nargs = len(ev.syscall.args)
        if kind == "enter":
            size = _align_record(16 + 8 * nargs)
        else:
            size = _align_record(24)
        entry = percpu_buffer(kernel, cpu, "perf_trace_buf", PERF_MAX_TRACE_SIZE, level)
        mem.write(entry, bytes(size))
        _header(kernel, entry, ev, task)
        mem.store(entry + 8, 4, nr)
        if kind == "enter":
            vals = [mem.load(regs + lay.offset(f), lay.word) for f in lay.syscall_args[:nargs]]
            for i, v in enumerate(vals):
                mem.store(entry + 16 + 8 * i, 8, v)
        else:
            mem.store(entry + 16, 8, second)
        ctx = None
        if ev.prog_array:
            # perf_call_bpf_enter/exit: a syscall_tp_t on the stack, the syscall's pt_regs
            # pointer first
            ctx = percpu_buffer(kernel, cpu, "syscall_tp_t", SYSCALL_TP_T_SIZE, level)
            mem.write(ctx, bytes(SYSCALL_TP_T_SIZE))
            mem.store(ctx, 8, regs)
            mem.store(ctx + 8, 4, nr)
            body = mem.read(entry + 16, size - 16)[:SYSCALL_TP_T_SIZE - 16]
            mem.write(ctx + 16, body)
        ip = ev.tp.site_addr + kstack.RET_SITE if ev.tp.site_addr else 0
        chain = kstack.callchain(kernel, cpu, ip)
        perf_trace_run_bpf_submit(ev, entry, size, regs, cpu, task, chain, ctx=ctx)
    finally:
        _leave_level(kernel, cpu, "perf_trace")


def syscall_get_nr(kernel, regs: int) -> int:
    """The syscall number kept in a syscall's pt_regs (orig_ax on x86, syscallno on arm64, a7 on
    riscv64, int_code & 0xffff on s390x)."""
    lay = PT_REGS[kernel.arch]
    size = dict(lay.fields)[lay.syscall_nr]
    nr = kernel.mem.load(regs + lay.offset(lay.syscall_nr), size)
    if kernel.arch == "s390x":
        nr &= 0xFFFF
    elif nr >> (8 * size - 1):
        nr -= 1 << (8 * size)
    return nr


# -- the scheduler's and the task code's tracepoints ----------------------------------------------

TASK_DEAD = 0x80
EXIT_DEAD = 0x10
SIGCHLD = 17


def trace_sched_switch(kernel, prev, nxt, cpu: int) -> None:
    """__schedule's trace_sched_switch(preempt, prev, next, prev_state) for a switch on ``cpu``
    (KernelState.switch_to; current is still ``prev``). None is the CPU's idle task. A live
    ``prev`` was preempted (still runnable: "R+"); a dead one is TASK_DEAD with EXIT_DEAD ("X")."""
    ko = kernel.kobjects
    p = ko.task_struct(prev) if prev is not None else ko.init_task
    n = ko.task_struct(nxt) if nxt is not None else ko.init_task
    alive = prev is not None and getattr(prev, "alive", True)
    if prev is not None and not alive:
        p.set("exit_state", EXIT_DEAD)
    trace_hit(kernel, "sched_switch", alive, p, n, 0 if alive or prev is None else TASK_DEAD,
              cpu=cpu, task=prev)


def trace_task_fork(kernel, parent, child, clone_flags: int = SIGCHLD) -> None:
    """copy_process's trace_task_newtask, kernel_clone's trace_sched_process_fork and
    wake_up_new_task's trace_sched_wakeup_new (TaskStruct.fork; current is the parent)."""
    if "tracepoints" not in kernel.subsys:
        return
    cpu = getattr(parent, "cpu", kernel.current_cpu)
    trace_hit(kernel, "task_newtask", child, clone_flags, cpu=cpu, task=parent)
    trace_hit(kernel, "sched_process_fork", parent, child, cpu=cpu, task=parent)
    trace_hit(kernel, "sched_wakeup_new", child, cpu=cpu, task=parent)


def trace_task_exit(kernel, task, group_dead: bool = True) -> None:
    """do_exit's trace_sched_process_exit(tsk, group_dead), before the files are closed
    (TaskStruct.exit; current is the exiting task)."""
    if "tracepoints" not in kernel.subsys:
        return
    trace_hit(kernel, "sched_process_exit", task, group_dead, cpu=getattr(task, "cpu", None),
              task=task)
