"""Which helpers each tracing program type may call (kernel/trace/bpf_trace.c
bpf_tracing_func_proto, kprobe_prog_func_proto, tp_prog_func_proto, raw_tp_prog_func_proto,
pe_prog_func_proto, tracing_prog_func_proto; kernel/bpf/bpf_iter.c bpf_iter_get_func_proto).

The chains, as in 6.18: kprobe, tracepoint, perf_event and raw_tp handle their own variants and
fall back to ``bpf_tracing_func_proto``, which handles the compat probe reads, get_func_ip and
probe_write_user (CAP_SYS_ADMIN) and otherwise defers to ``bpf_base_func_proto``; tracing
(fentry/fexit/fmod_ret/tp_btf/iter) handles networking casts, seq_* (iterators), d_path and the
trampoline ctx helpers, then falls back to raw_tp's list. The resulting matrix is checked against
Linux 6.18.44 (tests/kernelsim/test_prog_types.py).

``KCONFIG`` holds the kernel options that change the lists; ``kernel.subsys["kconfig"]`` (a dict)
overrides them per machine.
"""

from ..uapi import BpfAttachType as AT, BpfFuncId as F, BpfProgType as PT
from . import trace as t
from .base import bpf_base_func_proto
from .core import _cap, bpf_get_smp_processor_id_proto

KCONFIG = {
    "CONFIG_BPF_KPROBE_OVERRIDE": True,     # Debian: y; the probed host kernel: n
    "CONFIG_SECURITY_LOCKDOWN_WRITE_USER": False,   # True: lockdown forbids probe_write_user
}

# archs with CONFIG_ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE (compat bpf_probe_read/_str)
NON_OVERLAPPING_ADDRESS_SPACE = frozenset({"x86_64", "i386", "arm64", "riscv64"})


def kconfig(prog, name: str) -> bool:
    per_machine = prog.kernel.subsys.get("kconfig") or {}
    return per_machine.get(name, KCONFIG[name])


def bpf_tracing_func_proto(func_id: int, prog):
    """bpf_tracing_func_proto: what every tracing type may call."""
    if func_id == F.BPF_FUNC_get_smp_processor_id:
        return bpf_get_smp_processor_id_proto
    if func_id in (F.BPF_FUNC_probe_read, F.BPF_FUNC_probe_read_str):
        if prog.kernel.arch not in NON_OVERLAPPING_ADDRESS_SPACE:
            return None
        return t.bpf_probe_read_compat_proto if func_id == F.BPF_FUNC_probe_read \
            else t.bpf_probe_read_compat_str_proto
    if func_id == F.BPF_FUNC_get_func_ip:
        return t.bpf_get_func_ip_proto_tracing
    proto = bpf_base_func_proto(func_id, prog)
    if proto is not None:
        return proto
    if not _cap(prog, "CAP_SYS_ADMIN"):
        return None
    if func_id == F.BPF_FUNC_probe_write_user and not kconfig(prog, "CONFIG_SECURITY_LOCKDOWN_WRITE_USER"):
        return t.bpf_probe_write_user_proto
    return None


def _is_kprobe_multi(prog) -> bool:
    return prog.expected_attach_type == AT.BPF_TRACE_KPROBE_MULTI


def kprobe_prog_func_proto(func_id: int, prog):
    if func_id == F.BPF_FUNC_perf_event_output:
        return t.bpf_perf_event_output_proto
    if func_id == F.BPF_FUNC_get_stackid:
        return t.bpf_get_stackid_proto
    if func_id == F.BPF_FUNC_get_stack:
        return t.bpf_get_stack_proto
    if func_id == F.BPF_FUNC_override_return:
        return t.bpf_override_return_proto if kconfig(prog, "CONFIG_BPF_KPROBE_OVERRIDE") else None
    if func_id == F.BPF_FUNC_get_func_ip:
        return t.bpf_get_func_ip_proto_kprobe_multi if _is_kprobe_multi(prog) \
            else t.bpf_get_func_ip_proto_kprobe
    if func_id == F.BPF_FUNC_get_attach_cookie:
        return t.bpf_get_attach_cookie_proto
    return bpf_tracing_func_proto(func_id, prog)


def tp_prog_func_proto(func_id: int, prog):
    """Classic tracepoints: the pt_regs for output and stacks come from the record's first 8
    bytes (the *_tp variants)."""
    if func_id == F.BPF_FUNC_perf_event_output:
        return t.bpf_perf_event_output_proto_tp
    if func_id == F.BPF_FUNC_get_stackid:
        return t.bpf_get_stackid_proto
    if func_id == F.BPF_FUNC_get_stack:
        return t.bpf_get_stack_proto
    if func_id == F.BPF_FUNC_get_attach_cookie:
        return t.bpf_get_attach_cookie_proto
    return bpf_tracing_func_proto(func_id, prog)


def pe_prog_func_proto(func_id: int, prog):
    if func_id == F.BPF_FUNC_perf_event_output:
        return t.bpf_perf_event_output_proto_tp
    if func_id == F.BPF_FUNC_get_stackid:
        return t.bpf_get_stackid_proto
    if func_id == F.BPF_FUNC_get_stack:
        return t.bpf_get_stack_proto
    if func_id == F.BPF_FUNC_perf_prog_read_value:
        return t.bpf_perf_prog_read_value_proto
    if func_id == F.BPF_FUNC_read_branch_records:
        return t.bpf_read_branch_records_proto
    if func_id == F.BPF_FUNC_get_attach_cookie:
        return t.bpf_get_attach_cookie_proto
    return bpf_tracing_func_proto(func_id, prog)


def raw_tp_prog_func_proto(func_id: int, prog):
    if func_id == F.BPF_FUNC_perf_event_output:
        return t.bpf_perf_event_output_proto_raw_tp
    if func_id == F.BPF_FUNC_get_stackid:
        return t.bpf_get_stackid_proto
    if func_id == F.BPF_FUNC_get_stack:
        return t.bpf_get_stack_proto
    if func_id == F.BPF_FUNC_get_attach_cookie:
        return t.bpf_get_attach_cookie_proto
    return bpf_tracing_func_proto(func_id, prog)


def bpf_prog_has_trampoline(prog) -> bool:
    """bpf_prog_has_trampoline: fentry, fexit, fmod_ret (and LSM_MAC programs)."""
    if prog.type == PT.BPF_PROG_TYPE_LSM:
        return prog.expected_attach_type == AT.BPF_LSM_MAC
    return prog.type == PT.BPF_PROG_TYPE_TRACING and prog.expected_attach_type in (
        AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN)


TRACING_NET = {
    F.BPF_FUNC_skb_output: t.bpf_skb_output_proto,
    F.BPF_FUNC_xdp_output: t.bpf_xdp_output_proto,
    F.BPF_FUNC_skc_to_tcp6_sock: t.bpf_skc_to_tcp6_sock_proto,
    F.BPF_FUNC_skc_to_tcp_sock: t.bpf_skc_to_tcp_sock_proto,
    F.BPF_FUNC_skc_to_tcp_timewait_sock: t.bpf_skc_to_tcp_timewait_sock_proto,
    F.BPF_FUNC_skc_to_tcp_request_sock: t.bpf_skc_to_tcp_request_sock_proto,
    F.BPF_FUNC_skc_to_udp6_sock: t.bpf_skc_to_udp6_sock_proto,
    F.BPF_FUNC_skc_to_unix_sock: t.bpf_skc_to_unix_sock_proto,
    F.BPF_FUNC_skc_to_mptcp_sock: t.bpf_skc_to_mptcp_sock_proto,
    F.BPF_FUNC_sk_storage_get: t.bpf_sk_storage_get_tracing_proto,
    F.BPF_FUNC_sk_storage_delete: t.bpf_sk_storage_delete_tracing_proto,
    F.BPF_FUNC_sock_from_file: t.bpf_sock_from_file_proto,
    F.BPF_FUNC_get_socket_cookie: t.bpf_get_socket_ptr_cookie_proto,
    F.BPF_FUNC_xdp_get_buff_len: t.bpf_xdp_get_buff_len_trace_proto,
    F.BPF_FUNC_d_path: t.bpf_d_path_proto,
}
ITER_ONLY = {
    F.BPF_FUNC_seq_printf: t.bpf_seq_printf_proto,
    F.BPF_FUNC_seq_write: t.bpf_seq_write_proto,
    F.BPF_FUNC_seq_printf_btf: t.bpf_seq_printf_btf_proto,
}
TRAMPOLINE_ONLY = {
    F.BPF_FUNC_get_func_arg: t.bpf_get_func_arg_proto,
    F.BPF_FUNC_get_func_ret: t.bpf_get_func_ret_proto,
    F.BPF_FUNC_get_func_arg_cnt: t.bpf_get_func_arg_cnt_proto,
}


def tracing_prog_func_proto(func_id: int, prog):
    """BPF_PROG_TYPE_TRACING (fentry, fexit, fmod_ret, tp_btf, iter)."""
    proto = TRACING_NET.get(func_id)
    if proto is not None:
        return proto
    if func_id in ITER_ONLY:
        return ITER_ONLY[func_id] if prog.expected_attach_type == AT.BPF_TRACE_ITER else None
    if func_id in TRAMPOLINE_ONLY:
        return TRAMPOLINE_ONLY[func_id] if bpf_prog_has_trampoline(prog) else None
    if func_id == F.BPF_FUNC_get_attach_cookie:
        if prog.expected_attach_type == AT.BPF_TRACE_RAW_TP or bpf_prog_has_trampoline(prog):
            return t.bpf_get_attach_cookie_proto
        return None
    return raw_tp_prog_func_proto(func_id, prog)
