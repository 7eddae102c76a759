"""Running BPF programs: the execution tier, the run context, stats and recursion accounting
(kernel/bpf/core.c bpf_prog_select_runtime; include/linux/filter.h bpf_prog_run / __bpf_prog_run;
include/linux/bpf.h bpf_prog_run_array; kernel/bpf/trampoline.c __bpf_prog_enter_recur /
__bpf_prog_exit_recur; kernel/trace/bpf_trace.c __bpf_trace_run, trace_call_bpf).

Every attach point runs programs through this module:

* ``bpf_prog_run(prog, ctx_addr, run=None) -> int`` is the kernel's bpf_prog_run: R0 cut to u32
  (``bpf_prog_run64`` keeps all 64 bits), stats counted while enabled.
* Trampolines call ``__bpf_prog_enter_recur(prog, run)`` / ``__bpf_prog_exit_recur(prog, start,
  run)`` around ``bpf_prog_invoke``; raw tracepoints use ``__bpf_trace_run``; kprobes and classic
  tracepoints ``trace_call_bpf`` (``bpf_prog_run_array``).

Recursion (reference/btf-trampoline.md 5.5): trampolines and raw tracepoints keep a per-CPU
counter per program (``prog.active[cpu]``); a program entered while already active on that CPU is
skipped and ``prog.stats.misses`` (recursion_misses) goes up. kprobes and tracepoints share one
per-CPU counter (``Cpu.bpf_prog_active``): while any of them runs on a CPU, every kprobe/tracepoint
program there is skipped and each program of the skipped array counts a miss.

Stats (reference/bpf-syscall.md 9): run_cnt and run_time_ns only move while the stats key is on
(``kernel.bpf_stats_enabled`` sysctl, or at least one BPF_ENABLE_STATS fd: ``bpf_stats_key_inc`` /
``bpf_stats_key_dec``). Time is virtual: a run advances the machine clock by ``insn_cost_ns`` per
executed instruction, so ``run_time_ns`` is deterministic (instructions x cost).

Execution tier: ``bpf_prog_select_runtime`` decodes ``prog.insnsi`` for the interpreter
(kernelsim/isa/interp.py) and sets ``prog.bpf_func`` to ``callable(ctx_addr, run) -> u64``; helper
calls resolve to implementations through the prog type's get_func_proto. A faster tier can replace
``bpf_func`` behind the same API. Program stacks come from the interpreter's pool (zeroed, reused:
no allocation per run once warm); tail calls go through ``BpfTraceRunCtx.prog_array`` and the
interpreter's counter (at most 33 per run, as core.c).
"""

from .errors import BpfError
from .helpers.common import U32_MASK, U64_MASK, map_of
from .isa.interp import DEFAULT_BUDGET, BpfRunCtx, bpf_prog_decode, interp_call
from .memory import PAGE_SIZE

NO_START_TIME = 1
SCRATCH_SIZE = PAGE_SIZE


class BpfTraceRunCtx(BpfRunCtx):
    """The kernel side of one program run: the interpreter's ``BpfRunCtx`` (memory, helper
    table, budget, tail-call counter, instruction count) extended with what ``current``, the CPU
    and the attach point give a helper (struct bpf_run_ctx / bpf_trace_run_ctx /
    bpf_tramp_run_ctx).

    Attach points create one per invocation (``BpfTraceRunCtx(kernel, prog, cookie=...,
    kstack=...)``) or let ``bpf_prog_run`` make a default one. Helpers read: ``kernel``, ``mem``
    (the kernel AddressSpace), ``prog``, ``cpu``, ``task`` (current; None = the idle task),
    ``ctx``, ``cookie``, ``kstack``/``ustack`` (simulated stacks, innermost first), ``func_ip``
    and ``kprobe_on_func_entry`` (kprobes), ``trace_flags`` (the trace_pipe latency column);
    they write ``override_return`` (bpf_override_return).
    """

    def __init__(self, kernel, prog=None, cpu: int | None = None, task=..., cookie: int = 0,
                 kstack=(), ustack=(), func_ip: int = 0, kprobe_on_func_entry: bool = False,
                 trace_flags: str = "...2.", budget: int | None = DEFAULT_BUDGET):
        super().__init__(mem=kernel.mem, helpers=_helpers_of(prog) if prog is not None else {},
                         prog=prog, budget=budget)
        self.kernel = kernel
        self.cpu = cpu = kernel.current_cpu if cpu is None else cpu
        self.task = kernel.cpus[cpu].current if task is ... else task
        self.ctx = 0
        self.cookie = cookie
        self.bpf_cookie = 0             # a trampoline image's store (struct bpf_tramp_run_ctx)
        self.kstack = list(kstack) if kstack else ()
        self.ustack = list(ustack) if ustack else ()
        self.func_ip = func_ip
        self.kprobe_on_func_entry = kprobe_on_func_entry
        self.trace_flags = trace_flags
        self.override_return = None     # set by bpf_override_return (kprobes)
        self.insn_total = 0             # instructions executed by every run of this context
        self.saved_run_ctx = None       # bpf_set_run_ctx: the run ctx this one interrupted

    # -- what the interpreter and the helpers need from the kernel ----------------------------

    def prog_array(self, map_addr: int):
        """The interpreter's tail-call hook: the slots of the prog array at ``map_addr`` as
        decoded programs (None: not a prog array). The interpreter does the rest as core.c does
        (index >= max_entries, 33 tail calls, or an empty slot: fall through)."""
        m = map_of(self, map_addr)
        if m is None or m.ops.map_fd_lookup_ptr is None:
            return None
        return _ProgArraySlots(m)

    def call_bpf_func(self, func: int, r1=0, r2=0, r3=0, r4=0, r5=0) -> int:
        """Run a BPF callback (a PTR_TO_FUNC value: the instruction index of a subprogram of the
        running program) to its exit and return its R0 (bpf_loop, for_each_map_elem)."""
        return interp_call(self, self.interp_prog, func, r1, r2, r3, r4, r5)

    def valid_bpf_func(self, func: int) -> bool:
        """Whether ``func`` can be a callback: an instruction index of the running program."""
        prog = self.interp_prog
        return prog is not None and 0 <= func < len(prog.insns)

    def scratch(self, size: int) -> int:
        """A per-CPU kernel buffer for a helper's temporary data (for_each_map_elem's key)."""
        percpu = self.kernel.cpus[self.cpu].percpu
        region = percpu.get("bpf_scratch")
        if region is None:
            region = percpu["bpf_scratch"] = self.kernel.mem.alloc(
                SCRATCH_SIZE, f"bpf scratch cpu{self.cpu}", kind="stack")
        if size > region.size:
            raise BpfError(7, "scratch request too large")
        return region.start


class _ProgArraySlots:
    """A prog array's slots as the interpreter indexes them (len = max_entries)."""

    __slots__ = ("map",)

    def __init__(self, m):
        self.map = m

    def __len__(self) -> int:
        return self.map.max_entries

    def __getitem__(self, index: int):
        prog = self.map.ops.map_fd_lookup_ptr(self.map, index)
        if prog is None:
            return None
        if prog.runtime is None:
            bpf_prog_select_runtime(prog)
        return prog.runtime


class _RuntimeHelpers(dict):
    """func_id -> implementation, resolved on first use through the prog type's get_func_proto
    (as the verifier's fixups resolved it; capability tiers were the verifier's business, so a
    tail-called program of the same type finds its helpers here too). Unknown: None."""

    def __init__(self, prog):
        super().__init__()
        self.view = _AdminView(prog)

    def __missing__(self, func_id):
        from .prog_types import get_func_proto
        recorded = getattr(self.view.aux, "helper_protos", None) or {}
        proto = recorded.get(func_id) or get_func_proto(func_id, self.view)
        impl = proto.func if proto is not None else None
        self[func_id] = impl
        return impl


class _AdminView:
    """``prog`` as get_func_proto sees it, with the loader's capability checks passed."""

    def __init__(self, prog):
        self.prog = prog
        self.type, self.expected_attach_type = prog.type, prog.expected_attach_type
        self.kernel = prog.kernel
        self.aux = _AuxView(prog.aux)


class _AuxView:
    def __init__(self, aux):
        self._aux = aux
        self.cred = None

    def __getattr__(self, name):
        return getattr(self._aux, name)


def _helpers_of(prog):
    if prog is None:
        return {}
    table = getattr(prog, "_bpf_helpers", None)
    if table is None:
        table = _RuntimeHelpers(prog)
        prog._bpf_helpers = table
    return table


# -- stats ---------------------------------------------------------------------------------------


def bpf_stats_key_inc(kernel) -> None:
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): an open stats fd holds the key (static_key_slow_inc)."""
    kernel.subsys["bpf_stats_key"] = kernel.subsys.get("bpf_stats_key", 0) + 1


def bpf_stats_key_dec(kernel) -> None:
    """bpf_stats_release: the stats fd was closed."""
    kernel.subsys["bpf_stats_key"] = max(0, kernel.subsys.get("bpf_stats_key", 0) - 1)


def bpf_stats_enabled(kernel) -> bool:
    """static_branch_unlikely(&bpf_stats_enabled_key): the sysctl or any stats fd (the
    machine's ``bpf_stats_enabled()`` when it has one, as every Kernel does)."""
    hook = getattr(kernel, "bpf_stats_enabled", None)
    if callable(hook):
        return bool(hook())
    return bool(kernel.sysctl["kernel.bpf_stats_enabled"]) or kernel.subsys.get("bpf_stats_key", 0) > 0


def _stats_on(kernel) -> bool:
    """bpf_stats_enabled on the hot paths (trampoline enter/exit): a Kernel's own method,
    called directly; anything else through bpf_stats_enabled."""
    try:
        return kernel.bpf_stats_enabled()
    except (AttributeError, TypeError):
        return bpf_stats_enabled(kernel)


def bpf_prog_inc_misses_counter(prog) -> None:
    prog.stats.misses += 1


def sched_clock(kernel) -> int:
    return kernel.clock.ns


# -- the execution tier --------------------------------------------------------------------------


def bpf_prog_select_runtime(prog):
    """core.c bpf_prog_select_runtime: give ``prog`` its execution tier and set
    ``prog.bpf_func(ctx, run) -> u64``. The interpreter's decoded program (``prog.runtime``, a
    ``BpfInterpProg``) is built from ``prog.insnsi`` with the verifier's PROBE_MEM marks; helper
    calls resolve through the prog type's get_func_proto on first use. Called from PROG_LOAD after
    the verifier (and lazily by the first run); returns ``prog``."""
    decoded = bpf_prog_decode(prog.insnsi, prog.aux.probe_mem_insns)
    prog.runtime = decoded
    _helpers_of(prog)

    def bpf_func(ctx: int, run: BpfTraceRunCtx) -> int:
        return decoded.bpf_func(decoded, run, ctx)

    bpf_func.decoded = decoded              # bpf_prog_invoke calls the tier itself
    prog.bpf_func = bpf_func
    prog.aux.jited = False
    return prog


def bpf_prog_invoke(prog, ctx: int, run: BpfTraceRunCtx, unwind=None) -> int:
    """Call the program's code once and charge the virtual clock ``insn_cost_ns`` per executed
    instruction. Returns the full 64-bit R0. No stats, no recursion check: the callers below do
    those. ``unwind(prog, 0, run)`` runs when the program raises (a trampoline's exit hook: the
    image will not reach its exit call)."""
    bpf_func = prog.bpf_func
    if bpf_func is None:
        bpf_func = bpf_prog_select_runtime(prog).bpf_func
    run.prog, run.ctx = prog, ctx
    try:
        run.helpers = prog._bpf_helpers       # set by bpf_prog_select_runtime
    except AttributeError:
        run.helpers = _helpers_of(prog)
    run.insn_cnt = 0
    try:
        try:
            decoded = bpf_func.decoded          # the interpreter tier: skip the wrapper
        except AttributeError:
            r0 = bpf_func(ctx, run)
        else:
            r0 = decoded.bpf_func(decoded, run, ctx)
    except BaseException:
        n = run.insn_cnt
        run.insn_total += n
        clock = run.kernel.clock
        clock.advance(n * clock.insn_cost_ns)
        if unwind is not None:
            unwind(prog, 0, run)
        raise
    n = run.insn_cnt
    run.insn_total += n
    clock = run.kernel.clock
    clock.advance(n * clock.insn_cost_ns)
    return r0 & U64_MASK


def _set_run_ctx(run: BpfTraceRunCtx) -> None:
    """bpf_set_run_ctx: current->bpf_ctx = run (per CPU here), remembering the interrupted one."""
    percpu = run.kernel.cpus[run.cpu].percpu
    run.saved_run_ctx = percpu.get("bpf_run_ctx")
    percpu["bpf_run_ctx"] = run


def _reset_run_ctx(run: BpfTraceRunCtx) -> None:
    run.kernel.cpus[run.cpu].percpu["bpf_run_ctx"] = run.saved_run_ctx


def current_run_ctx(kernel, cpu: int | None = None) -> BpfTraceRunCtx | None:
    """current->bpf_ctx: the run context of the program running on ``cpu`` (None: none)."""
    return kernel.cpus[kernel.current_cpu if cpu is None else cpu].percpu.get("bpf_run_ctx")


def bpf_prog_run64(prog, ctx: int, run: BpfTraceRunCtx | None = None) -> int:
    """__bpf_prog_run: run once, counting run_cnt/run_time_ns while stats are enabled."""
    kernel = prog.kernel
    if run is None:
        run = BpfTraceRunCtx(kernel, prog)
    if not bpf_stats_enabled(kernel):
        return bpf_prog_invoke(prog, ctx, run)
    start = sched_clock(kernel)
    r0 = bpf_prog_invoke(prog, ctx, run)
    prog.stats.cnt += 1
    prog.stats.nsecs += sched_clock(kernel) - start
    return r0


def bpf_prog_run(prog, ctx: int, run: BpfTraceRunCtx | None = None) -> int:
    """bpf_prog_run: the u32 return value every consumer sees."""
    return bpf_prog_run64(prog, ctx, run) & U32_MASK


# -- trampolines: __bpf_prog_enter_recur / __bpf_prog_exit_recur ----------------------------------


def bpf_prog_start_time(kernel) -> int:
    if not bpf_stats_enabled(kernel):
        return NO_START_TIME
    return max(sched_clock(kernel), NO_START_TIME + 1)


def __bpf_prog_enter_recur(prog, run: BpfTraceRunCtx) -> int:
    """Called by a trampoline before a program: 0 means "skip it" (already active on this CPU:
    a recursion miss is counted); otherwise the start time for __bpf_prog_exit_recur. The run
    context becomes current (its cookie is what bpf_get_attach_cookie returns). The exit must be
    called in both cases. (bpf_set_run_ctx and bpf_prog_start_time written out: this runs for
    every program of every traced call.)"""
    run.prog = prog
    percpu = run.kernel.cpus[run.cpu].percpu
    run.saved_run_ctx = percpu.get("bpf_run_ctx")
    percpu["bpf_run_ctx"] = run
    active = prog.active
    cpu = run.cpu
    active[cpu] += 1
    if active[cpu] != 1:
        prog.stats.misses += 1                  # bpf_prog_inc_misses_counter
        return 0
    kernel = run.kernel
    if not _stats_on(kernel):
        return NO_START_TIME
    start = kernel.clock.ns
    return start if start > NO_START_TIME else NO_START_TIME + 1


def update_prog_stats(prog, start: int) -> None:
    """Count one run that began at ``start`` (NO_START_TIME: stats were off at entry; the
    start test comes first, the result is the kernel's either way)."""
    if start > NO_START_TIME:
        kernel = prog.kernel
        if _stats_on(kernel):
            stats = prog.stats
            stats.cnt += 1
            stats.nsecs += kernel.clock.ns - start


def __bpf_prog_exit_recur(prog, start: int, run: BpfTraceRunCtx) -> None:
    run.kernel.cpus[run.cpu].percpu["bpf_run_ctx"] = run.saved_run_ctx     # bpf_reset_run_ctx
    if start > NO_START_TIME:
        update_prog_stats(prog, start)
    prog.active[run.cpu] -= 1


def __bpf_prog_enter(prog, run: BpfTraceRunCtx) -> int:
    """LSM / struct_ops / iterators: no recursion check."""
    run.prog = prog
    _set_run_ctx(run)
    return bpf_prog_start_time(run.kernel)


def __bpf_prog_exit(prog, start: int, run: BpfTraceRunCtx) -> None:
    _reset_run_ctx(run)
    update_prog_stats(prog, start)


def bpf_trampoline_run_prog(prog, ctx: int, run: BpfTraceRunCtx, recur: bool = True) -> int | None:
    """One program of a trampoline (invoke_bpf_prog): enter, run unless skipped, exit. Returns
    the program's 64-bit R0, or None when it was skipped."""
    enter, leave = (__bpf_prog_enter_recur, __bpf_prog_exit_recur) if recur else \
        (__bpf_prog_enter, __bpf_prog_exit)
    start = enter(prog, run)
    r0 = None
    try:
        if start:
            r0 = bpf_prog_invoke(prog, ctx, run)
    finally:
        leave(prog, start, run)
    return r0


# -- raw tracepoints and kprobes/tracepoints -----------------------------------------------------


def __bpf_trace_run(prog, args_addr: int, run: BpfTraceRunCtx, cookie: int = 0) -> None:
    """bpf_trace.c __bpf_trace_run: per-CPU prog->active check (miss and skip on nesting), the
    link's cookie in the run context, then bpf_prog_run."""
    cpu = run.cpu
    prog.active[cpu] += 1
    try:
        if prog.active[cpu] != 1:
            bpf_prog_inc_misses_counter(prog)
            return
        run.cookie = cookie
        _set_run_ctx(run)
        try:
            bpf_prog_run(prog, args_addr, run)
        finally:
            _reset_run_ctx(run)
    finally:
        prog.active[cpu] -= 1


def bpf_prog_run_array(items, ctx: int, run: BpfTraceRunCtx) -> int:
    """include/linux/bpf.h bpf_prog_run_array: ``items`` is a sequence of (prog, cookie); the
    result is the AND of the programs' u32 results (1 when empty)."""
    ret = 1
    _set_run_ctx(run)
    try:
        for prog, cookie in items:
            run.cookie = cookie
            ret &= bpf_prog_run(prog, ctx, run)
    finally:
        _reset_run_ctx(run)
    return ret


def trace_call_bpf(items, ctx: int, run: BpfTraceRunCtx) -> int:
    """bpf_trace.c trace_call_bpf (kprobes, classic tracepoints): skip every program while any
    kprobe/tracepoint program runs on this CPU (each skipped program counts a miss); returns
    0 (filter the event out) or non-zero (record it)."""
    cpu = run.kernel.cpus[run.cpu]
    cpu.bpf_prog_active += 1
    try:
        if cpu.bpf_prog_active != 1:
            for prog, _ in items:
                bpf_prog_inc_misses_counter(prog)
            return 0
        return bpf_prog_run_array(items, ctx, run)
    finally:
        cpu.bpf_prog_active -= 1
