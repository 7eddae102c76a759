"""The tracepoint catalog as data: TP_PROTO of each tracepoint and the tracefs ``format`` of each
trace event (include/trace/events/{sched,syscalls,skb,net,tcp,task,bpf_test_run}.h,
kernel/trace/trace_syscalls.c, kernel/trace/trace_events.c print_event_fields / f_show).

Two tables, because the kernel has two things:

* ``TRACEPOINTS``: the tracepoints a raw_tp / tp_btf program attaches to (struct tracepoint plus
  its ``struct bpf_raw_event_map``): name, event class (the ``__bpf_trace_<class>`` shim and the
  ``trace_event_raw_<class>`` record), the TP_PROTO arguments with their C types and TP_ARGS
  names (BTF keeps no parameter names: the ``btf_trace_<name>`` typedef gives the types, checked
  against these by the tests), and the writable buffer size (0: none of these is writable).
* ``EVENTS``: the trace events of tracefs (``events/<system>/<name>/{format,id}``), what classic
  BPF_PROG_TYPE_TRACEPOINT programs read: the id, the fields after the common ``trace_entry``
  header (the C declaration as tracefs prints it, offset, size, signed), ``sizeof`` the record
  struct and the offset of its ``__data[]`` (where __data_loc strings go), and the print fmt.
  The ``syscalls:`` events have no tracepoint of their own: they hang off raw_syscalls'
  sys_enter / sys_exit and their records are ``struct syscall_trace_enter`` (nr, then one
  unsigned long per argument) and ``struct syscall_trace_exit`` (nr, ret).

Provenance: every EVENTS row (ids, fields, print fmt) was captured from the tracefs of the oracle
machine (Linux 6.18.44, x86-64) and agrees with the ``trace_event_raw_<class>`` structs of the
6.18 BTF; tests/kernelsim/tracing/test_tp_formats.py checks both (the tracefs half when the real
kernel is reachable). Event ids are assigned at boot by the kernel (register_trace_event) and are
specific to that build; the simulator uses the oracle's. ``SYSCALLS`` gives the syscall numbers
per architecture (arch/x86/entry/syscalls/syscall_64.tbl, syscall_32.tbl,
include/uapi/asm-generic/unistd.h for arm64 and riscv64, arch/s390/kernel/syscalls/syscall.tbl)
and the SYSCALL_DEFINE arguments of the syscalls the simulator implements.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TpField:
    """One ``field:`` line of a format file."""

    decl: str          # the C declaration as tracefs prints it: "char prev_comm[16]", "__data_loc char[] filename"
    offset: int        # byte offset in the record (the trace_entry header is 0..7)
    size: int          # bytes (a __data_loc field is its u32 offset/length word)
    signed: int        # 1 if the C type is signed (is_signed_type)

    @property
    def name(self) -> str:
        return self.decl.rsplit(" ", 1)[1].split("[", 1)[0]

    @property
    def ctype(self) -> str:
        """The declaration without the name ("char[16]", "__data_loc char[]", "void *")."""
        head, last = self.decl.rsplit(" ", 1)
        bracket = last[last.index("["):] if "[" in last else ""
        return head + bracket

    @property
    def data_loc(self) -> bool:
        """A dynamic array: the u32 holds (length << 16) | offset of the bytes in the record."""
        return self.decl.startswith("__data_loc ")


@dataclass(frozen=True, slots=True)
class TraceEventFormat:
    """``events/<system>/<name>/format`` (struct trace_event_call and its fields)."""

    system: str        # "sched"
    name: str          # "sched_switch"
    id: int            # events/<system>/<name>/id: common_type of its records, perf attr.config
    cls: str | None    # event class (trace_event_raw_<cls>); None for the syscalls: events
    size: int          # sizeof(struct trace_event_raw_<cls>) (syscall_trace_enter + args)
    data_offset: int   # offsetof(..., __data): where __data_loc bytes start
    fields: tuple      # TpField after the common ones
    print_fmt: str     # the "print fmt:" line's text

    @property
    def path(self) -> str:
        return f"{self.system}/{self.name}"


@dataclass(frozen=True, slots=True)
class TracepointProto:
    """A tracepoint as raw_tp sees it (struct bpf_raw_event_map + TP_PROTO)."""

    name: str            # "sched_switch": what BPF_RAW_TRACEPOINT_OPEN takes
    system: str          # TRACE_SYSTEM of its header
    cls: str             # DECLARE_EVENT_CLASS name (__bpf_trace_<cls>)
    args: tuple          # ((C type, TP_ARGS name), ...) after the leading void *__data
    writable_size: int = 0   # DEFINE_EVENT_WRITABLE's size (bpf_raw_event_map.writable_size)

    @property
    def num_args(self) -> int:
        return len(self.args)


@dataclass(frozen=True, slots=True)
class SyscallMeta:
    """struct syscall_metadata: a syscall's name, numbers and SYSCALL_DEFINE arguments."""

    name: str            # "openat"
    nr: dict             # arch -> syscall number
    args: tuple          # ((C type, name), ...)


# The common header of every record (struct trace_entry), as every format file starts.
COMMON_FIELDS = (
    TpField("unsigned short common_type", 0, 2, 0),
    TpField("unsigned char common_flags", 2, 1, 0),
    TpField("unsigned char common_preempt_count", 3, 1, 0),
    TpField("int common_pid", 4, 4, 1),
)
TRACE_ENTRY_SIZE = 8

_T = TracepointProto
_TASK = "struct task_struct *"

TRACEPOINTS = {tp.name: tp for tp in (
    _T("sched_switch", "sched", "sched_switch",
       (("bool", "preempt"), (_TASK, "prev"), (_TASK, "next"), ("unsigned int", "prev_state"))),
    _T("sched_process_exec", "sched", "sched_process_exec",
       ((_TASK, "p"), ("pid_t", "old_pid"), ("struct linux_binprm *", "bprm"))),
    _T("sched_process_fork", "sched", "sched_process_fork", ((_TASK, "parent"), (_TASK, "child"))),
    _T("sched_process_exit", "sched", "sched_process_exit", ((_TASK, "p"), ("bool", "group_dead"))),
    _T("sched_wakeup", "sched", "sched_wakeup_template", ((_TASK, "p"),)),
    _T("sched_wakeup_new", "sched", "sched_wakeup_template", ((_TASK, "p"),)),
    _T("sys_enter", "raw_syscalls", "sys_enter", (("struct pt_regs *", "regs"), ("long int", "id"))),
    _T("sys_exit", "raw_syscalls", "sys_exit", (("struct pt_regs *", "regs"), ("long int", "ret"))),
    _T("kfree_skb", "skb", "kfree_skb",
       (("struct sk_buff *", "skb"), ("void *", "location"), ("enum skb_drop_reason", "reason"),
        ("struct sock *", "rx_sk"))),
    _T("consume_skb", "skb", "consume_skb", (("struct sk_buff *", "skb"), ("void *", "location"))),
    _T("net_dev_xmit", "net", "net_dev_xmit",
       (("struct sk_buff *", "skb"), ("int", "rc"), ("struct net_device *", "dev"),
        ("unsigned int", "skb_len"))),
    _T("netif_receive_skb", "net", "net_dev_template", (("struct sk_buff *", "skb"),)),
    _T("tcp_retransmit_skb", "tcp", "tcp_retransmit_skb",
       (("const struct sock *", "sk"), ("const struct sk_buff *", "skb"), ("int", "err"))),
    _T("task_newtask", "task", "task_newtask", ((_TASK, "task"), ("u64", "clone_flags"))),
    _T("bpf_trigger_tp", "bpf_test_run", "bpf_trigger_tp", (("int", "nonce"),)),
)}

_U = "unsigned int"
_CS = "const char *"
SYSCALLS = {s.name: s for s in (
    SyscallMeta("read", {"x86_64": 0, "i386": 3, "arm64": 63, "riscv64": 63, "s390x": 3},
                ((_U, "fd"), ("char *", "buf"), ("size_t", "count"))),
    SyscallMeta("write", {"x86_64": 1, "i386": 4, "arm64": 64, "riscv64": 64, "s390x": 4},
                ((_U, "fd"), (_CS, "buf"), ("size_t", "count"))),
    SyscallMeta("getpid", {"x86_64": 39, "i386": 20, "arm64": 172, "riscv64": 172, "s390x": 20}, ()),
    SyscallMeta("openat", {"x86_64": 257, "i386": 295, "arm64": 56, "riscv64": 56, "s390x": 288},
                (("int", "dfd"), (_CS, "filename"), ("int", "flags"), ("umode_t", "mode"))),
    SyscallMeta("unlinkat", {"x86_64": 263, "i386": 301, "arm64": 35, "riscv64": 35, "s390x": 294},
                (("int", "dfd"), (_CS, "pathname"), ("int", "flag"))),
)}

_E = TraceEventFormat
_F = TpField

EVENTS = {e.path: e for e in (
    _E('sched', 'sched_switch', 372, 'sched_switch', 64, 64, (
        _F('char prev_comm[16]', 8, 16, 0),
        _F('pid_t prev_pid', 24, 4, 1),
        _F('int prev_prio', 28, 4, 1),
        _F('long prev_state', 32, 8, 1),
        _F('char next_comm[16]', 40, 16, 0),
        _F('pid_t next_pid', 56, 4, 1),
        _F('int next_prio', 60, 4, 1),
    ), ('"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next'
        '_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000'
        '000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00'
        '000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 |'
        ' 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1)'
        ' - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008,'
        ' "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I"'
        ' }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00'
        '000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, RE'
        'C->next_pid, REC->next_prio')),
    _E('sched', 'sched_process_exec', 365, 'sched_process_exec', 20, 20, (
        _F('__data_loc char[] filename', 8, 4, 0),
        _F('pid_t pid', 12, 4, 1),
        _F('pid_t old_pid', 16, 4, 1),
    ), '"filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid'),
    _E('sched', 'sched_process_fork', 366, 'sched_process_fork', 24, 24, (
        _F('__data_loc char[] parent_comm', 8, 4, 0),
        _F('pid_t parent_pid', 12, 4, 1),
        _F('__data_loc char[] child_comm', 16, 4, 0),
        _F('pid_t child_pid', 20, 4, 1),
    ), ('"comm=%s pid=%d child_comm=%s child_pid=%d", __get_str(parent_comm), REC->parent_pid, __'
        'get_str(child_comm), REC->child_pid')),
    _E('sched', 'sched_process_exit', 369, 'sched_process_exit', 36, 33, (
        _F('char comm[16]', 8, 16, 0),
        _F('pid_t pid', 24, 4, 1),
        _F('int prio', 28, 4, 1),
        _F('bool group_dead', 32, 1, 0),
    ), ('"comm=%s pid=%d prio=%d group_dead=%s", REC->comm, REC->pid, REC->prio, REC->group_dead '
        '? "true" : "false"')),
    _E('sched', 'sched_wakeup', 374, 'sched_wakeup_template', 36, 36, (
        _F('char comm[16]', 8, 16, 0),
        _F('pid_t pid', 24, 4, 1),
        _F('int prio', 28, 4, 1),
        _F('int target_cpu', 32, 4, 1),
    ), '"comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu'),
    _E('sched', 'sched_wakeup_new', 373, 'sched_wakeup_template', 36, 36, (
        _F('char comm[16]', 8, 16, 0),
        _F('pid_t pid', 24, 4, 1),
        _F('int prio', 28, 4, 1),
        _F('int target_cpu', 32, 4, 1),
    ), '"comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu'),
    _E('raw_syscalls', 'sys_enter', 443, 'sys_enter', 64, 64, (
        _F('long id', 8, 8, 1),
        _F('unsigned long args[6]', 16, 48, 0),
    ), ('"NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0], REC->args[1], REC->args['
        '2], REC->args[3], REC->args[4], REC->args[5]')),
    _E('raw_syscalls', 'sys_exit', 442, 'sys_exit', 24, 24, (
        _F('long id', 8, 8, 1),
        _F('long ret', 16, 8, 1),
    ), '"NR %ld = %ld", REC->id, REC->ret'),
    _E('syscalls', 'sys_enter_openat', 782, None, 48, 48, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('int dfd', 16, 8, 0),
        _F('const char * filename', 24, 8, 0),
        _F('int flags', 32, 8, 0),
        _F('umode_t mode', 40, 8, 0),
    ), ('"dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx", ((unsigned long)(REC->'
        'dfd)), ((unsigned long)(REC->filename)), ((unsigned long)(REC->flags)), ((unsigned long)'
        '(REC->mode))')),
    _E('syscalls', 'sys_exit_openat', 781, None, 24, 24, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('long ret', 16, 8, 1),
    ), '"0x%lx", REC->ret'),
    _E('syscalls', 'sys_enter_unlinkat', 884, None, 40, 40, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('int dfd', 16, 8, 0),
        _F('const char * pathname', 24, 8, 0),
        _F('int flag', 32, 8, 0),
    ), ('"dfd: 0x%08lx, pathname: 0x%08lx, flag: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigne'
        'd long)(REC->pathname)), ((unsigned long)(REC->flag))')),
    _E('syscalls', 'sys_exit_unlinkat', 883, None, 24, 24, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('long ret', 16, 8, 1),
    ), '"0x%lx", REC->ret'),
    _E('syscalls', 'sys_enter_read', 842, None, 40, 40, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('unsigned int fd', 16, 8, 0),
        _F('char * buf', 24, 8, 0),
        _F('size_t count', 32, 8, 0),
    ), ('"fd: 0x%08lx, buf: 0x%08lx, count: 0x%08lx", ((unsigned long)(REC->fd)), ((unsigned long'
        ')(REC->buf)), ((unsigned long)(REC->count))')),
    _E('syscalls', 'sys_exit_read', 841, None, 24, 24, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('long ret', 16, 8, 1),
    ), '"0x%lx", REC->ret'),
    _E('syscalls', 'sys_enter_write', 840, None, 40, 40, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('unsigned int fd', 16, 8, 0),
        _F('const char * buf', 24, 8, 0),
        _F('size_t count', 32, 8, 0),
    ), ('"fd: 0x%08lx, buf: 0x%08lx, count: 0x%08lx", ((unsigned long)(REC->fd)), ((unsigned long'
        ')(REC->buf)), ((unsigned long)(REC->count))')),
    _E('syscalls', 'sys_exit_write', 839, None, 24, 24, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('long ret', 16, 8, 1),
    ), '"0x%lx", REC->ret'),
    _E('syscalls', 'sys_enter_getpid', 309, None, 16, 16, (
        _F('int __syscall_nr', 8, 4, 1),
    ), '""'),
    _E('syscalls', 'sys_exit_getpid', 308, None, 24, 24, (
        _F('int __syscall_nr', 8, 4, 1),
        _F('long ret', 16, 8, 1),
    ), '"0x%lx", REC->ret'),
    _E('skb', 'kfree_skb', 2310, 'kfree_skb', 40, 40, (
        _F('void * skbaddr', 8, 8, 0),
        _F('void * location', 16, 8, 0),
        _F('void * rx_sk', 24, 8, 0),
        _F('unsigned short protocol', 32, 2, 0),
        _F('enum skb_drop_reason reason', 36, 4, 0),
    ), ('"skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk, REC'
        '->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "N'
        'O_SOCKET" }, { 4, "SOCKET_CLOSE" }, { 5, "SOCKET_FILTER" }, { 6, "SOCKET_RCVBUFF" }, { 7'
        ', "UNIX_DISCONNECT" }, { 8, "UNIX_SKIP_OOB" }, { 9, "PKT_TOO_SMALL" }, { 10, "TCP_CSUM" '
        '}, { 11, "UDP_CSUM" }, { 12, "NETFILTER_DROP" }, { 13, "OTHERHOST" }, { 14, "IP_CSUM" },'
        ' { 15, "IP_INHDR" }, { 16, "IP_RPFILTER" }, { 17, "UNICAST_IN_L2_MULTICAST" }, { 18, "XF'
        'RM_POLICY" }, { 19, "IP_NOPROTO" }, { 20, "PROTO_MEM" }, { 21, "TCP_AUTH_HDR" }, { 22, "'
        'TCP_MD5NOTFOUND" }, { 23, "TCP_MD5UNEXPECTED" }, { 24, "TCP_MD5FAILURE" }, { 25, "TCP_AO'
        'NOTFOUND" }, { 26, "TCP_AOUNEXPECTED" }, { 27, "TCP_AOKEYNOTFOUND" }, { 28, "TCP_AOFAILU'
        'RE" }, { 29, "SOCKET_BACKLOG" }, { 30, "TCP_FLAGS" }, { 31, "TCP_ABORT_ON_DATA" }, { 32,'
        ' "TCP_ZEROWINDOW" }, { 33, "TCP_OLD_DATA" }, { 34, "TCP_OVERWINDOW" }, { 35, "TCP_OFOMER'
        'GE" }, { 36, "TCP_RFC7323_PAWS" }, { 37, "TCP_RFC7323_PAWS_ACK" }, { 38, "TCP_RFC7323_TW'
        '_PAWS" }, { 39, "TCP_RFC7323_TSECR" }, { 40, "TCP_LISTEN_OVERFLOW" }, { 41, "TCP_OLD_SEQ'
        'UENCE" }, { 42, "TCP_INVALID_SEQUENCE" }, { 43, "TCP_INVALID_END_SEQUENCE" }, { 44, "TCP'
        '_INVALID_ACK_SEQUENCE" }, { 45, "TCP_RESET" }, { 46, "TCP_INVALID_SYN" }, { 47, "TCP_CLO'
        'SE" }, { 48, "TCP_FASTOPEN" }, { 49, "TCP_OLD_ACK" }, { 50, "TCP_TOO_OLD_ACK" }, { 51, "'
        'TCP_ACK_UNSENT_DATA" }, { 52, "TCP_OFO_QUEUE_PRUNE" }, { 53, "TCP_OFO_DROP" }, { 54, "IP'
        '_OUTNOROUTES" }, { 55, "BPF_CGROUP_EGRESS" }, { 56, "IPV6DISABLED" }, { 57, "NEIGH_CREAT'
        'EFAIL" }, { 58, "NEIGH_FAILED" }, { 59, "NEIGH_QUEUEFULL" }, { 60, "NEIGH_DEAD" }, { 61,'
        ' "NEIGH_HH_FILLFAIL" }, { 62, "TC_EGRESS" }, { 63, "SECURITY_HOOK" }, { 64, "QDISC_DROP"'
        ' }, { 65, "QDISC_OVERLIMIT" }, { 66, "QDISC_CONGESTED" }, { 67, "CAKE_FLOOD" }, { 68, "F'
        'Q_BAND_LIMIT" }, { 69, "FQ_HORIZON_LIMIT" }, { 70, "FQ_FLOW_LIMIT" }, { 71, "CPU_BACKLOG'
        '" }, { 72, "XDP" }, { 73, "TC_INGRESS" }, { 74, "UNHANDLED_PROTO" }, { 75, "SKB_CSUM" },'
        ' { 76, "SKB_GSO_SEG" }, { 77, "SKB_UCOPY_FAULT" }, { 78, "DEV_HDR" }, { 79, "DEV_READY" '
        '}, { 80, "FULL_RING" }, { 81, "NOMEM" }, { 82, "HDR_TRUNC" }, { 83, "TAP_FILTER" }, { 84'
        ', "TAP_TXFILTER" }, { 85, "ICMP_CSUM" }, { 86, "INVALID_PROTO" }, { 87, "IP_INADDRERRORS'
        '" }, { 88, "IP_INNOROUTES" }, { 89, "IP_LOCAL_SOURCE" }, { 90, "IP_INVALID_SOURCE" }, { '
        '91, "IP_LOCALNET" }, { 92, "IP_INVALID_DEST" }, { 93, "PKT_TOO_BIG" }, { 94, "DUP_FRAG" '
        '}, { 95, "FRAG_REASM_TIMEOUT" }, { 96, "FRAG_TOO_FAR" }, { 97, "TCP_MINTTL" }, { 98, "IP'
        'V6_BAD_EXTHDR" }, { 99, "IPV6_NDISC_FRAG" }, { 100, "IPV6_NDISC_HOP_LIMIT" }, { 101, "IP'
        'V6_NDISC_BAD_CODE" }, { 102, "IPV6_NDISC_BAD_OPTIONS" }, { 103, "IPV6_NDISC_NS_OTHERHOST'
        '" }, { 104, "QUEUE_PURGE" }, { 105, "TC_COOKIE_ERROR" }, { 106, "PACKET_SOCK_ERROR" }, {'
        ' 107, "TC_CHAIN_NOTFOUND" }, { 108, "TC_RECLASSIFY_LOOP" }, { 109, "VXLAN_INVALID_HDR" }'
        ', { 110, "VXLAN_VNI_NOT_FOUND" }, { 111, "MAC_INVALID_SOURCE" }, { 112, "VXLAN_ENTRY_EXI'
        'STS" }, { 113, "NO_TX_TARGET" }, { 114, "IP_TUNNEL_ECN" }, { 115, "TUNNEL_TXINFO" }, { 1'
        '16, "LOCAL_MAC" }, { 117, "ARP_PVLAN_DISABLE" }, { 118, "MAC_IEEE_MAC_CONTROL" }, { 119,'
        ' "BRIDGE_INGRESS_STP_STATE" }, { 120, "CAN_RX_INVALID_FRAME" }, { 121, "CANFD_RX_INVALID'
        '_FRAME" }, { 122, "CANXL_RX_INVALID_FRAME" }, { 123, "PFMEMALLOC" }, { 124, "DUALPI2_STE'
        'P_DROP" }, { 125, "PSP_INPUT" }, { 126, "PSP_OUTPUT" }, { 127, "RECURSION_LIMIT" }, { 12'
        '8, "SKB_RX_HEADROOM" }, { 129, "MAX" })')),
    _E('skb', 'consume_skb', 2309, 'consume_skb', 24, 24, (
        _F('void * skbaddr', 8, 8, 0),
        _F('void * location', 16, 8, 0),
    ), '"skbaddr=%p location=%pS", REC->skbaddr, REC->location'),
    _E('net', 'net_dev_xmit', 2306, 'net_dev_xmit', 32, 28, (
        _F('void * skbaddr', 8, 8, 0),
        _F('unsigned int len', 16, 4, 0),
        _F('int rc', 20, 4, 1),
        _F('__data_loc char[] name', 24, 4, 0),
    ), '"dev=%s skbaddr=%p len=%u rc=%d", __get_str(name), REC->skbaddr, REC->len, REC->rc'),
    _E('net', 'netif_receive_skb', 2303, 'net_dev_template', 24, 24, (
        _F('void * skbaddr', 8, 8, 0),
        _F('unsigned int len', 16, 4, 0),
        _F('__data_loc char[] name', 20, 4, 0),
    ), '"dev=%s skbaddr=%p len=%u", __get_str(name), REC->skbaddr, REC->len'),
    _E('tcp', 'tcp_retransmit_skb', 2281, 'tcp_retransmit_skb', 80, 80, (
        _F('const void * skbaddr', 8, 8, 0),
        _F('const void * skaddr', 16, 8, 0),
        _F('int state', 24, 4, 1),
        _F('__u16 sport', 28, 2, 0),
        _F('__u16 dport', 30, 2, 0),
        _F('__u16 family', 32, 2, 0),
        _F('__u8 saddr[4]', 34, 4, 0),
        _F('__u8 daddr[4]', 38, 4, 0),
        _F('__u8 saddr_v6[16]', 42, 16, 0),
        _F('__u8 daddr_v6[16]', 58, 16, 0),
        _F('int err', 76, 4, 1),
    ), ('"skbaddr=%p skaddr=%p family=%s sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 saddrv6=%pI6c '
        'daddrv6=%pI6c state=%s err=%d", REC->skbaddr, REC->skaddr, __print_symbolic(REC->family,'
        ' { 2, "AF_INET" }, { 10, "AF_INET6" }), REC->sport, REC->dport, REC->saddr, REC->daddr, '
        'REC->saddr_v6, REC->daddr_v6, __print_symbolic(REC->state, { TCP_ESTABLISHED, "TCP_ESTAB'
        'LISHED" }, { TCP_SYN_SENT, "TCP_SYN_SENT" }, { TCP_SYN_RECV, "TCP_SYN_RECV" }, { TCP_FIN'
        '_WAIT1, "TCP_FIN_WAIT1" }, { TCP_FIN_WAIT2, "TCP_FIN_WAIT2" }, { TCP_TIME_WAIT, "TCP_TIM'
        'E_WAIT" }, { TCP_CLOSE, "TCP_CLOSE" }, { TCP_CLOSE_WAIT, "TCP_CLOSE_WAIT" }, { TCP_LAST_'
        'ACK, "TCP_LAST_ACK" }, { TCP_LISTEN, "TCP_LISTEN" }, { TCP_CLOSING, "TCP_CLOSING" }, { T'
        'CP_NEW_SYN_RECV, "TCP_NEW_SYN_RECV" }), REC->err')),
    _E('task', 'task_newtask', 205, 'task_newtask', 48, 42, (
        _F('pid_t pid', 8, 4, 1),
        _F('char comm[16]', 12, 16, 0),
        _F('u64 clone_flags', 32, 8, 0),
        _F('short oom_score_adj', 40, 2, 1),
    ), ('"pid=%d comm=%s clone_flags=%llx oom_score_adj=%hd", REC->pid, REC->comm, REC->clone_fla'
        'gs, REC->oom_score_adj')),
    _E('bpf_test_run', 'bpf_trigger_tp', 2313, 'bpf_trigger_tp', 12, 12, (
        _F('int nonce', 8, 4, 1),
    ), '"nonce %d", REC->nonce'),
)}


def event_by_id(event_id: int) -> TraceEventFormat | None:
    """The event whose records carry ``common_type == event_id``."""
    return _BY_ID.get(event_id)


_BY_ID = {e.id: e for e in EVENTS.values()}
