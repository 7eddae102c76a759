"""The helpers Linux 6.18 offers that kernelsim refuses, and what each would need.

Their protos have ``func=None`` (the arguments are still right, so the verifier checks them
first); check_helper_call (verifier/calls.py) then fails the load with ENOTSUPP and
"kernelsim: bpf_<name>#<id> needs <what>, which the simulator does not model", where Linux
would accept the program. ``NOT_MODELLED`` maps helper id -> <what>; docs/helpers.md lists them.
"""

from ..uapi import BpfFuncId as F

NOT_MODELLED = {
    F.BPF_FUNC_current_task_under_cgroup: "BPF_MAP_TYPE_CGROUP_ARRAY and cgroups",
    F.BPF_FUNC_sk_storage_get: "BPF_MAP_TYPE_SK_STORAGE",
    F.BPF_FUNC_sk_storage_delete: "BPF_MAP_TYPE_SK_STORAGE",
    F.BPF_FUNC_seq_printf: "BPF iterators (seq_file)",
    F.BPF_FUNC_seq_write: "BPF iterators (seq_file)",
    F.BPF_FUNC_seq_printf_btf: "BPF iterators (seq_file)",
    F.BPF_FUNC_per_cpu_ptr: "per-CPU kernel variables (ld_imm64 BPF_PSEUDO_BTF_ID ksyms)",
    F.BPF_FUNC_this_cpu_ptr: "per-CPU kernel variables (ld_imm64 BPF_PSEUDO_BTF_ID ksyms)",
    F.BPF_FUNC_sock_from_file: "socket files (socket_file_ops)",
    F.BPF_FUNC_timer_init: "bpf_timer fields in map values",
    F.BPF_FUNC_timer_set_callback: "bpf_timer fields in map values",
    F.BPF_FUNC_timer_start: "bpf_timer fields in map values",
    F.BPF_FUNC_timer_cancel: "bpf_timer fields in map values",
    F.BPF_FUNC_kptr_xchg: "kptr fields in map values",
    F.BPF_FUNC_dynptr_from_mem: "dynptr stack slots",
    F.BPF_FUNC_dynptr_read: "dynptr stack slots",
    F.BPF_FUNC_dynptr_write: "dynptr stack slots",
    F.BPF_FUNC_dynptr_data: "dynptr stack slots",
    F.BPF_FUNC_ringbuf_reserve_dynptr: "dynptr stack slots",
    F.BPF_FUNC_ringbuf_submit_dynptr: "dynptr stack slots",
    F.BPF_FUNC_ringbuf_discard_dynptr: "dynptr stack slots",
    F.BPF_FUNC_user_ringbuf_drain: "BPF_MAP_TYPE_USER_RINGBUF",
    F.BPF_FUNC_cgrp_storage_get: "BPF_MAP_TYPE_CGRP_STORAGE and cgroups",
    F.BPF_FUNC_cgrp_storage_delete: "BPF_MAP_TYPE_CGRP_STORAGE and cgroups",
}
