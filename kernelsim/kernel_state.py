"""One simulated machine's kernel state (the globals of kernel/bpf/, kernel/, mm/).

``KernelState`` is the core half of the ``Kernel`` facade: architecture and profile, CPUs and the
virtual clock, the kernel's BTF, sysctls, the ID registries, the kernel address space, the task
list, bpffs, the trace buffer and the seeded random source. Subsystems (maps, programs, tracing)
keep their own state here under ``self.subsys[name]`` so this module does not need to know them.
"""

import random

import structlog

from .clock import Cpu, VirtualClock
from .idr import Idr
from .memory import KERNEL_BASE, AddressSpace
from .sysctl import Sysctl

ARCHES = ("x86_64", "arm64", "i386", "riscv64", "s390x")
PROFILES = ("6.18", "5.5")
PID_MAX = 4194304


class KernelState:
    """The machine. Constructed by the facade's ``Kernel(...)``."""

    def __init__(self, arch: str = "x86_64", btf=None, ncpus: int = 2, seed: int = 0,
                 profile: str = "6.18"):
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
        self.log = structlog.get_logger("kernelsim").bind(arch=arch)
        self._btf_source = btf
        self._btf = None

    # -- BTF -----------------------------------------------------------------------------

    @property
    def btf(self):
        """The kernel's BTF (vmlinux): the embedded default unless a file or Btf was given."""
        if self._btf is None:
            from .kernel_btf import load_kernel_btf
            self._btf = load_kernel_btf(self._btf_source)
        return self._btf

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
        self.cpus[self.current_cpu].current = task
        if task is not None:
            task.cpu = self.current_cpu
