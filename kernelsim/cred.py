"""Credentials and capabilities (include/linux/cred.h, include/linux/capability.h).

A task's ``Cred`` holds its ids and its effective capability set, as names ("CAP_BPF"). The checks
the BPF code uses are the kernel's helpers: ``capable``, ``bpf_capable`` (CAP_BPF or CAP_SYS_ADMIN),
``perfmon_capable`` (CAP_PERFMON or CAP_SYS_ADMIN), ``bpf_net_capable`` (CAP_NET_ADMIN or
CAP_SYS_ADMIN). There are no user namespaces: every check is against the initial namespace, which
is what a BPF token would delegate from (tokens are refused with EOPNOTSUPP, as for a caller in
init_user_ns).
"""

from dataclasses import dataclass, field

# include/uapi/linux/capability.h
CAPABILITIES = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
ALL_CAPS = frozenset(CAPABILITIES)


def normalize_caps(caps) -> frozenset[str]:
    """Accept names with or without the CAP_ prefix, any case; ValueError on an unknown name."""
    out = set()
    for cap in caps:
        name = str(cap).upper()
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in CAPABILITIES:
            raise ValueError(f"unknown capability {cap!r}")
        out.add(name)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Cred:
    """struct cred, reduced to what BPF checks."""

    uid: int = 0
    gid: int = 0
    caps: frozenset = field(default=ALL_CAPS)   # effective capabilities, by name

    @classmethod
    def make(cls, uid: int = 0, gid: int = 0, caps=None) -> "Cred":
        """caps None: every capability for uid 0, none for anyone else (a plain login)."""
        if caps is None:
            caps = ALL_CAPS if uid == 0 else frozenset()
        return cls(uid, gid, normalize_caps(caps))

    def capable(self, cap: str) -> bool:
        return cap in self.caps

    def bpf_capable(self) -> bool:
        return "CAP_BPF" in self.caps or "CAP_SYS_ADMIN" in self.caps

    def perfmon_capable(self) -> bool:
        return "CAP_PERFMON" in self.caps or "CAP_SYS_ADMIN" in self.caps

    def bpf_net_capable(self) -> bool:
        return "CAP_NET_ADMIN" in self.caps or "CAP_SYS_ADMIN" in self.caps
