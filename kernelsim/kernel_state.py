"""One simulated machine's kernel state (the globals of kernel/bpf/, kernel/, mm/).

``KernelState`` is the core half of the ``Kernel`` facade: architecture and profile, CPUs and the
virtual clock, the kernel's BTF, sysctls, the ID registries, the kernel address space, the task
list, bpffs, the trace buffer and the seeded random source. Subsystems (maps, programs, tracing)
keep their own state here under ``self.subsys[name]`` so this module does not need to know them.
"""

import random

import structlog

from .bpf_btf import register_vmlinux_btf
from .clock import Cpu, VirtualClock
from .idr import Idr
from .memory import KERNEL_BASE, AddressSpace
from .sysctl import Sysctl

ARCHES = ("x86_64", "arm64", "i386", "riscv64", "s390x")
PROFILES = ("6.18", "5.5")
PID_MAX = 4194304
_KERNEL_CALL = [None]                  # tracing/call.py's kernel_call, once imported


class KernelState:
    """The machine. Constructed by the facade's ``Kernel(...)``."""

    def __init__(self, arch: str = "x86_64", btf=None, ncpus: int = 2, seed: int = 0,
                 profile: str = "6.18", declare: str | None = None):
        if arch not in ARCHES:
            raise ValueError(f"unknown architecture {arch!r}; one of {', '.join(ARCHES)}")
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
        if not 1 <= int(ncpus) <= 4096:
            raise ValueError(f"ncpus must be between 1 and 4096, not {ncpus!r}")
        self.arch = arch
        self.profile = profile
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.cpus = [Cpu(i) for i in range(int(ncpus))]
        self.current_cpu = 0
        self.sysctl = Sysctl()
        self.idr = {kind: Idr(f"{kind}_idr") for kind in ("prog", "map", "link", "btf")}
        self.mem = AddressSpace("kernel", base=KERNEL_BASE)
        self.tasks: dict[int, object] = {}
        self._last_pid = 0
        self.subsys: dict[str, object] = {}
        if not structlog.is_configured():
            # quiet by default (STYLE.md): a library user who has not configured structlog sees
            # warnings only; the kernelsim commands and the user's own configuration win
            from .logging_setup import configure_logging
            configure_logging(implicit=True)
        self.log = structlog.get_logger("kernelsim").bind(arch=arch)
        self._btf_source = btf
        self._btf = None
        self.declare = declare
        if declare:
            self.btf                        # declarations are checked now, not at first use
        register_vmlinux_btf(self)          # BTF object ID 1, parsed on first use
        from .tracing.hooks import install_tracing_hooks
        install_tracing_hooks(self)
        self.subsys.setdefault("tracepoint_hit", self.tracepoint)

    # -- BTF -----------------------------------------------------------------------------

    @property
    def btf(self):
        """The kernel's BTF (vmlinux): the embedded default unless a file or Btf was given, with
        the C declarations of ``declare`` appended (btf_with_c: as if compiled into the kernel;
        ValueError naming the line of a declaration it cannot build)."""
        if self._btf is None:
            from .kernel_btf import load_kernel_btf
            b = load_kernel_btf(self._btf_source)
            if self.declare:
                from btf import BtfError
                from btf.cdecl import btf_with_c
                try:
                    b = btf_with_c(b, self.declare, "<declare>")
                except BtfError as e:
                    raise ValueError(f"kernel declarations: {e.message}") from None
            self._btf = b
        return self._btf

    # -- simulated kernel functions and objects (kernelsim/tracing) -------------------------

    @property
    def functions(self):
        """The kernel function catalog (kernelsim/tracing/functions.py), built on first use."""
        from .tracing.hooks import functions_of
        return functions_of(self)

    @property
    def kobjects(self):
        """Kernel objects laid out by the kernel BTF (kernelsim/tracing/stdobjects.py)."""
        from .tracing.hooks import kobjects_of
        return kobjects_of(self)

    def call(self, func, *args, **kw):
        """Call a simulated kernel function through whatever is attached to it
        (kernelsim/tracing/call.py): ``kernel.call("eth_type_trans", skb, dev)``."""
        kernel_call = _KERNEL_CALL[0]
        if kernel_call is None:             # imported once: the import is a cost on the hot path
            from .tracing.call import kernel_call
            _KERNEL_CALL[0] = kernel_call
        return kernel_call(self, func, *args, **kw)

    # -- BPF filesystem and run-time stats (syscall issue) ----------------------------------

    @property
    def bpffs(self):
        """The machine's directory tree with bpffs at /sys/fs/bpf (kernelsim/bpffs.py)."""
        from .bpffs import get_bpffs
        return get_bpffs(self)

    def bpf_stats_enabled(self) -> bool:
        """bpf_stats_enabled_key: on while a BPF_ENABLE_STATS fd is open or the
        kernel.bpf_stats_enabled sysctl is 1."""
        return bool(self.sysctl["kernel.bpf_stats_enabled"]) or self.subsys.get("bpf_stats_key", 0) > 0

    # -- tracepoints, tracefs, simulated syscalls (kernelsim/tracing) --------------------

    @property
    def tracepoints(self):
        """The tracepoint and trace event catalog (kernelsim/tracing/tracepoints.py)."""
        from .tracing.tracepoints import tracepoints_of
        return tracepoints_of(self)

    @property
    def tracefs(self):
        """The simulated tracefs: ``kernel.tracefs.read("events/sched/sched_switch/format")``."""
        from .tracing.tracefs import tracefs_of
        return tracefs_of(self)

    def tracefs_read(self, path: str) -> str:
        """``kernel.tracefs.read(path)``."""
        return self.tracefs.read(path)

    def tracepoint(self, name: str, *args, cpu: int | None = None, task=...) -> None:
        """Fire tracepoint ``name`` with TP_PROTO ``args`` (kernelsim/tracing/tracepoints.py):
        ``kernel.tracepoint("sched_switch", False, prev, next, 0)``."""
        from .tracing.tracepoints import trace_hit
        trace_hit(self, name, *args, cpu=cpu, task=task)

    def syscall(self, task, nr, *args) -> int:
        """A system call of ``task`` with sys_enter/sys_exit (kernelsim/tracing/syscalls.py):
        ``kernel.syscall(task, "openat", -100, "/etc/passwd", 0, 0)``."""
        from .tracing.syscalls import do_syscall
        return do_syscall(self, task, nr, *args)

    def __getattr__(self, name: str):
        """``kernel.trace_<tracepoint>(*args)`` fires that tracepoint."""
        if name.startswith("trace_"):
            from .tracing.tp_formats import TRACEPOINTS
            if name[6:] in TRACEPOINTS:
                return lambda *args, **kw: self.tracepoint(name[6:], *args, **kw)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- CPUs and tasks ------------------------------------------------------------------

    @property
    def ncpus(self) -> int:
        return len(self.cpus)

    def cpu(self, index: int | None = None) -> Cpu:
        return self.cpus[self.current_cpu if index is None else index]

    def current(self):
        """The task running on the current CPU (None before any task was scheduled there)."""
        return self.cpus[self.current_cpu].current

    def alloc_pid(self) -> int:
        pid = self._last_pid + 1
        while pid in self.tasks or pid >= PID_MAX:
            pid = 1 if pid >= PID_MAX else pid + 1
        self._last_pid = pid
        return pid

    def switch_to(self, task, cpu: int | None = None) -> None:
        """Make ``task`` current on ``cpu`` (default: the current CPU) and run on that CPU."""
        if cpu is not None:
            if not 0 <= cpu < len(self.cpus):
                raise ValueError(f"no CPU {cpu}: the machine has {len(self.cpus)}")
            self.current_cpu = cpu
        prev = self.cpus[self.current_cpu].current
        if prev is not task and "tracepoints" in self.subsys:
            from .tracing.tracepoints import trace_sched_switch
            trace_sched_switch(self, prev, task, self.current_cpu)
        self.cpus[self.current_cpu].current = task
        if task is not None:
            task.cpu = self.current_cpu
