"""The virtual clock and the CPUs of a simulated machine (kernel/time/, kernel/sched/).

There is no wall clock anywhere in kernelsim (STYLE.md, Determinism): time is a nanosecond counter
that only moves when the simulation says so — a scenario's ``advance``, or the fixed cost the
simulator charges per executed BPF instruction and per traced call, so that run_time_ns and
ktime_get_ns deltas are reproducible. CLOCK_MONOTONIC and CLOCK_BOOTTIME are the same clock here
(the machine never suspends); CLOCK_TAI is offset by the boot-time TAI offset.
"""

from dataclasses import dataclass, field

NSEC_PER_SEC = 1_000_000_000


@dataclass
class VirtualClock:
    """Monotonic nanoseconds since boot."""

    ns: int = 5 * NSEC_PER_SEC          # a machine that booted five seconds ago
    tai_offset_ns: int = 37 * NSEC_PER_SEC
    insn_cost_ns: int = 1               # charged per executed BPF instruction (see module doc)

    def ktime_get_ns(self) -> int:
        return self.ns

    def ktime_get_boot_ns(self) -> int:
        return self.ns

    def ktime_get_tai_ns(self) -> int:
        return self.ns + self.tai_offset_ns

    def advance(self, ns: int) -> int:
        if ns < 0:
            raise ValueError("time only moves forward")
        self.ns += ns
        return self.ns


@dataclass
class Cpu:
    """One CPU: which task runs on it and its per-CPU BPF state."""

    id: int
    current: object = None                       # the TaskStruct running here
    bpf_prog_active: int = 0                     # kprobe/tracepoint recursion counter (trace_call_bpf)
    percpu: dict = field(default_factory=dict)   # per-CPU data owned by other modules
