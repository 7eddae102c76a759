"""libbpf's SEC() names as data: section name -> program type, expected attach type, flags and
attach method (tools/lib/bpf/libbpf.c ``section_defs``, ``sec_def_matches``, ``find_sec_def``).

A program's ELF section name picks its ``struct bpf_sec_def``:

* ``"type"`` must match exactly (``SEC("socket")``);
* ``"type/"`` needs ``type/extras`` (no entry uses it any more);
* ``"type+"`` matches ``type`` or ``type/extras`` (``SEC("fentry/vfs_read")``, ``SEC("kprobe")``).

The first match in table order wins, so ``kprobe.multi+`` is listed before it could be shadowed
(``kprobe+`` does not match ``kprobe.multi/x`` because the character after ``kprobe`` is ``.``).
A leading ``?`` (``SEC("?fentry/x")``) means "do not load by default" (autoload off) and is
stripped before matching. An unknown name opens fine and fails at load, as in libbpf ("missing
BPF prog type, check ELF section name").

``attach`` names the way ``bpf_program__attach`` attaches the type (syscall/object/attach.py);
``None`` means the type is not auto-attachable (libbpf: no ``prog_attach_fn``). ``refuse`` is our
addition: section types kernelsim cannot simulate (uprobes, USDT, iterators, struct_ops ...) are
refused at load with that reason instead of failing somewhere obscure. Entries are those of the
libbpf revision read (2026), minus the ones newer than Linux 6.18 (fsession, fentry.multi).
"""

from dataclasses import dataclass
from enum import IntFlag

from kernelsim.uapi import BpfAttachType as A
from kernelsim.uapi import BpfProgType as P


class SecFlags(IntFlag):
    """enum sec_def_flags (libbpf.c)."""
    SEC_NONE = 0
    SEC_EXP_ATTACH_OPT = 1     # expected_attach_type is optional on old kernels
    SEC_ATTACHABLE = 2         # legacy: attachable through BPF_PROG_ATTACH
    SEC_ATTACHABLE_OPT = 3
    SEC_ATTACH_BTF = 4         # the target is named by BTF id (kernel or program BTF)
    SEC_SLEEPABLE = 8          # loaded with BPF_F_SLEEPABLE
    SEC_XDP_FRAGS = 16         # XDP with BPF_F_XDP_HAS_FRAGS
    SEC_USDT = 32


NONE = SecFlags.SEC_NONE
ATTACHABLE = SecFlags.SEC_ATTACHABLE
ATTACHABLE_OPT = SecFlags.SEC_ATTACHABLE_OPT
ATTACH_BTF = SecFlags.SEC_ATTACH_BTF
SLEEPABLE = SecFlags.SEC_SLEEPABLE
XDP_FRAGS = SecFlags.SEC_XDP_FRAGS
USDT = SecFlags.SEC_USDT

_UPROBE = "uprobes are not simulated by kernelsim (no user-space probes)"
_USDT = "USDT probes are not simulated by kernelsim (no user-space probes)"
_ITER = "BPF iterators (SEC(\"iter/...\")) are not simulated by kernelsim"
_STRUCT_OPS = "struct_ops programs are not supported by the kernelsim object loader"
_FREPLACE = "freplace (BPF_PROG_TYPE_EXT) needs a target program; not supported by the loader"


@dataclass(frozen=True, slots=True)
class SecDef:
    """struct bpf_sec_def, with the attach function named rather than pointed to."""

    sec: str                      # the pattern ("fentry+", "socket", ...)
    prog_type: P                  # program type for PROG_LOAD
    expected_attach_type: int     # expected_attach_type for PROG_LOAD (0 when none)
    flags: SecFlags               # SEC_* flags (the sec_def's cookie)
    attach: str | None = None     # attach method (attach.py), None: not auto-attachable
    refuse: str | None = None     # why kernelsim refuses to load it (our addition)

    @property
    def prefix(self) -> str:
        """The section type without the ``+``/``/`` marker (``"fentry"``)."""
        return self.sec.rstrip("+/")


def _d(sec, ptype, eat, flags=NONE, attach=None, refuse=None):
    return SecDef(sec, ptype, int(eat), flags, attach, refuse)


# The table, in libbpf's order (first match wins).
SECTION_DEFS: tuple[SecDef, ...] = (
    _d("socket", P.BPF_PROG_TYPE_SOCKET_FILTER, 0),
    _d("sk_reuseport/migrate", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, ATTACHABLE),
    _d("sk_reuseport", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT, ATTACHABLE),
    _d("kprobe+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "kprobe"),
    _d("uprobe+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "uprobe", _UPROBE),
    _d("uprobe.s+", P.BPF_PROG_TYPE_KPROBE, 0, SLEEPABLE, "uprobe", _UPROBE),
    _d("kretprobe+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "kprobe"),
    _d("uretprobe+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "uprobe", _UPROBE),
    _d("uretprobe.s+", P.BPF_PROG_TYPE_KPROBE, 0, SLEEPABLE, "uprobe", _UPROBE),
    _d("kprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI, NONE, "kprobe_multi"),
    _d("kretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI, NONE, "kprobe_multi"),
    _d("kprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_SESSION, NONE, "kprobe_session"),
    _d("uprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, NONE, "uprobe_multi", _UPROBE),
    _d("uretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, NONE, "uprobe_multi", _UPROBE),
    _d("uprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_SESSION, NONE, "uprobe_multi", _UPROBE),
    _d("uprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, SLEEPABLE, "uprobe_multi", _UPROBE),
    _d("uretprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, SLEEPABLE, "uprobe_multi", _UPROBE),
    _d("uprobe.session.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_SESSION, SLEEPABLE, "uprobe_multi", _UPROBE),
    _d("ksyscall+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "ksyscall"),
    _d("kretsyscall+", P.BPF_PROG_TYPE_KPROBE, 0, NONE, "ksyscall"),
    _d("usdt+", P.BPF_PROG_TYPE_KPROBE, 0, USDT, "usdt", _USDT),
    _d("usdt.s+", P.BPF_PROG_TYPE_KPROBE, 0, USDT | SLEEPABLE, "usdt", _USDT),
    _d("tc/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tc/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tcx/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tcx/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tc", P.BPF_PROG_TYPE_SCHED_CLS, 0),
    _d("classifier", P.BPF_PROG_TYPE_SCHED_CLS, 0),
    _d("action", P.BPF_PROG_TYPE_SCHED_ACT, 0),
    _d("netkit/primary", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PRIMARY),
    _d("netkit/peer", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PEER),
    _d("tracepoint+", P.BPF_PROG_TYPE_TRACEPOINT, 0, NONE, "tp"),
    _d("tp+", P.BPF_PROG_TYPE_TRACEPOINT, 0, NONE, "tp"),
    _d("tracepoint.s+", P.BPF_PROG_TYPE_TRACEPOINT, 0, SLEEPABLE, "tp"),
    _d("tp.s+", P.BPF_PROG_TYPE_TRACEPOINT, 0, SLEEPABLE, "tp"),
    _d("raw_tracepoint+", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, NONE, "raw_tp"),
    _d("raw_tp+", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, NONE, "raw_tp"),
    _d("raw_tracepoint.s+", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, SLEEPABLE, "raw_tp"),
    _d("raw_tp.s+", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, SLEEPABLE, "raw_tp"),
    _d("raw_tracepoint.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, NONE, "raw_tp"),
    _d("raw_tp.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, NONE, "raw_tp"),
    _d("tp_btf+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP, ATTACH_BTF, "trace"),
    _d("tp_btf.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP, ATTACH_BTF | SLEEPABLE, "trace"),
    _d("fentry+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, ATTACH_BTF, "trace"),
    _d("fmod_ret+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, ATTACH_BTF, "trace"),
    _d("fexit+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, ATTACH_BTF, "trace"),
    _d("fentry.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, ATTACH_BTF | SLEEPABLE, "trace"),
    _d("fmod_ret.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, ATTACH_BTF | SLEEPABLE, "trace"),
    _d("fexit.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, ATTACH_BTF | SLEEPABLE, "trace"),
    _d("freplace+", P.BPF_PROG_TYPE_EXT, 0, ATTACH_BTF, "trace", _FREPLACE),
    _d("lsm+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, ATTACH_BTF, "lsm"),
    _d("lsm.s+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, ATTACH_BTF | SLEEPABLE, "lsm"),
    _d("lsm_cgroup+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_CGROUP, ATTACH_BTF),
    _d("iter+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, ATTACH_BTF, "iter", _ITER),
    _d("iter.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, ATTACH_BTF | SLEEPABLE, "iter", _ITER),
    _d("syscall", P.BPF_PROG_TYPE_SYSCALL, 0, SLEEPABLE),
    _d("xdp.frags/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP, XDP_FRAGS),
    _d("xdp/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP, ATTACHABLE),
    _d("xdp.frags/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP, XDP_FRAGS),
    _d("xdp/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP, ATTACHABLE),
    _d("xdp.frags", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, XDP_FRAGS),
    _d("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, ATTACHABLE_OPT),
    _d("perf_event", P.BPF_PROG_TYPE_PERF_EVENT, 0),
    _d("lwt_in", P.BPF_PROG_TYPE_LWT_IN, 0),
    _d("lwt_out", P.BPF_PROG_TYPE_LWT_OUT, 0),
    _d("lwt_xmit", P.BPF_PROG_TYPE_LWT_XMIT, 0),
    _d("lwt_seg6local", P.BPF_PROG_TYPE_LWT_SEG6LOCAL, 0),
    _d("sockops", P.BPF_PROG_TYPE_SOCK_OPS, A.BPF_CGROUP_SOCK_OPS, ATTACHABLE_OPT),
    _d("sk_skb/stream_parser", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_PARSER, ATTACHABLE_OPT),
    _d("sk_skb/stream_verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_VERDICT, ATTACHABLE_OPT),
    _d("sk_skb/verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_VERDICT, ATTACHABLE_OPT),
    _d("sk_skb", P.BPF_PROG_TYPE_SK_SKB, 0),
    _d("sk_msg", P.BPF_PROG_TYPE_SK_MSG, A.BPF_SK_MSG_VERDICT, ATTACHABLE_OPT),
    _d("lirc_mode2", P.BPF_PROG_TYPE_LIRC_MODE2, A.BPF_LIRC_MODE2, ATTACHABLE_OPT),
    _d("flow_dissector", P.BPF_PROG_TYPE_FLOW_DISSECTOR, A.BPF_FLOW_DISSECTOR, ATTACHABLE_OPT),
    _d("cgroup_skb/ingress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_INGRESS, ATTACHABLE_OPT),
    _d("cgroup_skb/egress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_EGRESS, ATTACHABLE_OPT),
    _d("cgroup/skb", P.BPF_PROG_TYPE_CGROUP_SKB, 0),
    _d("cgroup/sock_create", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE, ATTACHABLE),
    _d("cgroup/sock_release", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_RELEASE, ATTACHABLE),
    _d("cgroup/sock", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE, ATTACHABLE_OPT),
    _d("cgroup/post_bind4", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET4_POST_BIND, ATTACHABLE),
    _d("cgroup/post_bind6", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET6_POST_BIND, ATTACHABLE),
    _d("cgroup/bind4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_BIND, ATTACHABLE),
    _d("cgroup/bind6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_BIND, ATTACHABLE),
    _d("cgroup/connect4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_CONNECT, ATTACHABLE),
    _d("cgroup/connect6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_CONNECT, ATTACHABLE),
    _d("cgroup/connect_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_CONNECT, ATTACHABLE),
    _d("cgroup/sendmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_SENDMSG, ATTACHABLE),
    _d("cgroup/sendmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_SENDMSG, ATTACHABLE),
    _d("cgroup/sendmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_SENDMSG, ATTACHABLE),
    _d("cgroup/recvmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_RECVMSG, ATTACHABLE),
    _d("cgroup/recvmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_RECVMSG, ATTACHABLE),
    _d("cgroup/recvmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_RECVMSG, ATTACHABLE),
    _d("cgroup/getpeername4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETPEERNAME, ATTACHABLE),
    _d("cgroup/getpeername6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETPEERNAME, ATTACHABLE),
    _d("cgroup/getpeername_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETPEERNAME, ATTACHABLE),
    _d("cgroup/getsockname4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETSOCKNAME, ATTACHABLE),
    _d("cgroup/getsockname6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETSOCKNAME, ATTACHABLE),
    _d("cgroup/getsockname_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETSOCKNAME, ATTACHABLE),
    _d("cgroup/sysctl", P.BPF_PROG_TYPE_CGROUP_SYSCTL, A.BPF_CGROUP_SYSCTL, ATTACHABLE),
    _d("cgroup/getsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_GETSOCKOPT, ATTACHABLE),
    _d("cgroup/setsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_SETSOCKOPT, ATTACHABLE),
    _d("cgroup/dev", P.BPF_PROG_TYPE_CGROUP_DEVICE, A.BPF_CGROUP_DEVICE, ATTACHABLE_OPT),
    _d("struct_ops+", P.BPF_PROG_TYPE_STRUCT_OPS, 0, NONE, None, _STRUCT_OPS),
    _d("struct_ops.s+", P.BPF_PROG_TYPE_STRUCT_OPS, 0, SLEEPABLE, None, _STRUCT_OPS),
    _d("sk_lookup", P.BPF_PROG_TYPE_SK_LOOKUP, A.BPF_SK_LOOKUP, ATTACHABLE),
    _d("netfilter", P.BPF_PROG_TYPE_NETFILTER, A.BPF_NETFILTER),
)


def sec_def_matches(sec_def: SecDef, sec_name: str) -> bool:
    """libbpf sec_def_matches: "type/" needs a prefix match, "type+" an exact match or
    "type/...", anything else an exact match."""
    pattern = sec_def.sec
    if pattern.endswith("/"):
        return sec_name.startswith(pattern)
    if pattern.endswith("+"):
        base = pattern[:-1]
        if not sec_name.startswith(base):
            return False
        return len(sec_name) == len(base) or sec_name[len(base)] == "/"
    return sec_name == pattern


def find_sec_def(sec_name: str) -> SecDef | None:
    """The first table entry that matches ``sec_name`` (without a leading ``?``), or None."""
    for sec_def in SECTION_DEFS:
        if sec_def_matches(sec_def, sec_name):
            return sec_def
    return None


def attach_target(sec_name: str) -> str | None:
    """The part after the first ``/`` (``"vfs_read"`` for ``fentry/vfs_read``), or None."""
    _, sep, rest = sec_name.partition("/")
    return rest if sep else None
