"""The sysctls that matter to BPF (kernel/bpf/syscall.c bpf_unpriv_handler, bpf_stats_handler;
kernel/events/core.c perf_event_paranoid).

``kernel.unprivileged_bpf_disabled``: 0 allows unprivileged BPF (subject to per-type checks), 1
disables it and locks the value (any other value is then refused with EPERM until reboot), 2
disables it but lets an admin change it back. Writes from a task need CAP_SYS_ADMIN (EPERM); writes
from Python (``kernel.sysctl[...] = v``) are the machine's administrator and skip that check, but
not the lock. ``kernel.bpf_stats_enabled`` toggles run-time stats like BPF_ENABLE_STATS does.
"""

import errno

from .errors import BpfError

# name -> (default, allowed values)
SYSCTLS = {
    "kernel.unprivileged_bpf_disabled": (2, range(0, 3)),   # CONFIG_BPF_UNPRIV_DEFAULT_OFF=y, as Debian
    "kernel.bpf_stats_enabled": (0, range(0, 2)),
    "kernel.perf_event_paranoid": (2, range(-1, 5)),
    "kernel.kptr_restrict": (0, range(0, 3)),
    "net.core.bpf_jit_enable": (1, range(0, 3)),
    "net.core.bpf_jit_harden": (0, range(0, 3)),
    "kernel.perf_event_max_stack": (127, range(1, 1 << 20)),
}


class Sysctl:
    """A mapping of the sysctls above with the kernel's write rules."""

    def __init__(self):
        self._values = {name: default for name, (default, _) in SYSCTLS.items()}
        self.on_change = []          # callables (name, old, new), e.g. the stats key

    def __getitem__(self, name: str) -> int:
        if name not in self._values:
            raise KeyError(f"unknown sysctl {name!r}; known: {', '.join(sorted(self._values))}")
        return self._values[name]

    def __setitem__(self, name: str, value: int) -> None:
        self.write(name, value, cred=None)

    def write(self, name: str, value: int, cred=None) -> None:
        """Write as ``cred`` (None: the administrator). EPERM without CAP_SYS_ADMIN or against the
        unprivileged_bpf_disabled lock; EINVAL for a value out of range."""
        if name not in SYSCTLS:
            raise KeyError(f"unknown sysctl {name!r}; known: {', '.join(sorted(SYSCTLS))}")
        value = int(value)
        if cred is not None and not cred.capable("CAP_SYS_ADMIN"):
            raise BpfError(errno.EPERM, f"writing {name} needs CAP_SYS_ADMIN")
        if value not in SYSCTLS[name][1]:
            raise BpfError(errno.EINVAL, f"{name}: {value} is out of range")
        old = self._values[name]
        if name == "kernel.unprivileged_bpf_disabled" and old == 1 and value != 1:
            raise BpfError(errno.EPERM, "kernel.unprivileged_bpf_disabled is locked at 1 until reboot")
        self._values[name] = value
        for hook in self.on_change:
            hook(name, old, value)

    def items(self):
        return self._values.items()

    def __contains__(self, name) -> bool:
        return name in self._values
