"""Context access rules of the program types: the ``is_valid_access`` verifier ops and the
context layouts they check against (kernel/trace/bpf_trace.c kprobe_prog_is_valid_access,
tp_prog_is_valid_access, raw_tp_prog_is_valid_access, raw_tp_writable_prog_is_valid_access,
pe_prog_is_valid_access; include/linux/bpf.h bpf_tracing_ctx_access; net/core/filter.c
sk_filter_is_valid_access / bpf_skb_is_valid_access). The tracing types' btf_ctx_access is in
btf_ctx.py.

Called from the verifier's check_ctx_access as ``is_valid_access(off, size, access_type, prog,
info) -> bool``. ``info`` is a ``BpfInsnAccessAux`` whose ``reg_type`` starts as SCALAR_VALUE and
is set when the loaded value is a pointer (PTR_TO_BTF_ID for tracing args, PTR_TO_TP_BUFFER for
ctx[0] of a writable raw tracepoint, PTR_TO_SOCK_COMMON_OR_NULL for __sk_buff->sk);
``ctx_field_size`` is set for fields that allow narrow loads. A rejected access makes the verifier
print ``invalid bpf_context access off=%d size=%d``; some rules log a reason first through
``info.log``.

Checked against Linux 6.18.44: kprobe ctx is 168 bytes on x86-64, tracepoint offsets are
8 <= off < 8192 (PERF_MAX_TRACE_SIZE), raw_tp 0 <= off < 96, perf_event 184 bytes with narrow
reads of sample_period and addr; the socket filter rules on every aligned load and store of
``__sk_buff`` (tests/kernelsim/verifier/skb_ctx_sweep.py: 1534 cases, all identical).
"""

from dataclasses import dataclass
from typing import Callable

from .helpers.proto import BPF_READ, BPF_WRITE, BpfRegType, BpfTypeFlag
from .skbuff import SK_BUFF_CTX_SIZE, off as skb_off, offend as skb_offend

PERF_MAX_TRACE_SIZE = 8192           # include/linux/trace_events.h (6.18; 2048 before 6.10)
MAX_BPF_FUNC_ARGS = 12

# sizeof(struct pt_regs) per architecture: the kprobe ctx (kprobe_prog_is_valid_access).
# x86-64 and i386 are exact; arm64 is the 6.17/6.18 layout without CONFIG_ARM64_POE; riscv64 is
# 32 GPRs + status, badaddr, cause, orig_a0; s390x is an estimate (see docs/helpers.md).
PT_REGS_SIZE = {"x86_64": 168, "i386": 68, "arm64": 336, "riscv64": 288, "s390x": 200}
# sizeof(bpf_user_pt_regs_t): the regs at the head of struct bpf_perf_event_data.
USER_PT_REGS_SIZE = {"x86_64": 168, "i386": 68, "arm64": 272, "riscv64": 256, "s390x": 152}
LONG_SIZE = {"x86_64": 8, "i386": 4, "arm64": 8, "riscv64": 8, "s390x": 8}


@dataclass
class BpfInsnAccessAux:
    """struct bpf_insn_access_aux: what an is_valid_access op tells the verifier."""

    reg_type: int = BpfRegType.SCALAR_VALUE    # type of the loaded value (base | BpfTypeFlag)
    ctx_field_size: int = 0                    # field size for narrow loads (0: not narrowable)
    btf: object = None                         # for PTR_TO_BTF_ID: the Btf the id is in
    btf_id: int = 0                            # ... and the pointee's type id
    ref_obj_id: int = 0
    is_ldsx: bool = False                      # the load is sign-extending (BPF_MEMSX)
    is_retval: bool = False                    # the load reads the LSM return value slot
    log: Callable[[str], None] | None = None   # bpf_log(log, ...): gets each message with its "\n"


def bpf_log(info: BpfInsnAccessAux, msg: str) -> None:
    if info is not None and info.log is not None:
        info.log(msg)


def bpf_ctx_narrow_access_ok(off: int, size: int, size_default: int) -> bool:
    return size <= size_default and (size & (size - 1)) == 0


def pt_regs_size(prog) -> int:
    return PT_REGS_SIZE[prog.kernel.arch]


def perf_event_data_size(prog) -> int:
    """sizeof(struct bpf_perf_event_data): regs, then u64 sample_period and u64 addr."""
    regs = USER_PT_REGS_SIZE[prog.kernel.arch]
    return regs + 16


# -- kprobe, tracepoint, raw tracepoint, perf event -------------------------------------------------


def kprobe_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    """ctx is struct pt_regs: read only, aligned to the access size, inside the struct."""
    regs = pt_regs_size(prog)
    if off < 0 or off >= regs or access_type != BPF_READ or off % size:
        return False
    return off + size <= regs


def tp_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    """ctx is the trace event record; its first 8 bytes hold the pt_regs pointer (hidden)."""
    if off < 8 or off >= PERF_MAX_TRACE_SIZE:
        return False
    return access_type == BPF_READ and off % size == 0


def bpf_tracing_ctx_access(off, size, access_type) -> bool:
    """include/linux/bpf.h: u64 args[12], read only, aligned."""
    if off < 0 or off >= 8 * MAX_BPF_FUNC_ARGS:
        return False
    return access_type == BPF_READ and off % size == 0


def raw_tp_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    return bpf_tracing_ctx_access(off, size, access_type)


def raw_tp_writable_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    """ctx[0] is a pointer to the tracepoint's writable buffer (PTR_TO_TP_BUFFER)."""
    if off == 0:
        if size != 8 or access_type != BPF_READ:
            return False
        info.reg_type = BpfRegType.PTR_TO_TP_BUFFER
    return raw_tp_prog_is_valid_access(off, size, access_type, prog, info)


def pe_prog_is_valid_access(off, size, access_type, prog, info) -> bool:
    """struct bpf_perf_event_data: regs (long-sized reads only), then sample_period and addr
    (narrow reads allowed)."""
    total = perf_event_data_size(prog)
    long_size = LONG_SIZE[prog.kernel.arch]
    if off < 0 or off >= total or access_type != BPF_READ:
        return False
    if off % size:
        if long_size != 4 or size != 8 or off % size != 4:
            return False
    regs = USER_PT_REGS_SIZE[prog.kernel.arch]
    if regs <= off < regs + 16:                # sample_period, addr
        info.ctx_field_size = 8
        return bpf_ctx_narrow_access_ok(off, size, 8)
    return size == long_size


# -- socket filter: struct __sk_buff ---------------------------------------------------------------


def _in(off, first, last_end):
    """bpf_ctx_range_till(struct __sk_buff, first, last_end): every byte offset from the start of
    ``first`` to the end of ``last_end`` (bpf_ctx_range and bpf_ctx_range_ptr are the one-field
    cases: a pointer field's range covers all 8 bytes, so its upper half is inside it too)."""
    return skb_off(first) <= off < skb_offend(last_end)


def bpf_skb_is_valid_access(off, size, access_type, prog, info) -> bool:
    """The __sk_buff rules every skb program type shares, in the order of the kernel's switch:
    cb[] (any size inside it), the packet pointers (plain 4-byte loads), the IP addresses
    (4 bytes), flow_keys (never), hwtstamp (8-byte reads), tstamp (8 bytes), sk (8-byte reads of
    the whole field, PTR_TO_SOCK_COMMON_OR_NULL), tstamp_type and the padding after it (never),
    then the 4-byte fields (narrow reads, 4-byte writes)."""
    size_default = 4
    if off < 0 or off >= SK_BUFF_CTX_SIZE or off % size:
        return False
    if _in(off, "cb", "cb"):
        return off + size <= skb_offend("cb")
    if _in(off, "data", "data") or _in(off, "data_meta", "data_meta") or _in(off, "data_end", "data_end"):
        return not info.is_ldsx and size == size_default
    if _in(off, "remote_ip6", "remote_ip6") or _in(off, "local_ip6", "local_ip6") or \
            _in(off, "remote_ip4", "remote_ip4") or _in(off, "local_ip4", "local_ip4"):
        return size == size_default
    if _in(off, "flow_keys", "flow_keys"):
        return False
    if _in(off, "hwtstamp", "hwtstamp"):
        return access_type != BPF_WRITE and size == 8
    if _in(off, "tstamp", "tstamp"):
        return size == 8
    if _in(off, "sk", "sk"):
        if access_type == BPF_WRITE or size != 8:
            return False
        info.reg_type = BpfRegType.PTR_TO_SOCK_COMMON | BpfTypeFlag.PTR_MAYBE_NULL
        return True
    if off == skb_off("tstamp_type"):
        return False
    if skb_offend("tstamp_type") <= off < skb_off("hwtstamp"):     # padding
        return False
    if access_type == BPF_WRITE:
        return size == size_default
    info.ctx_field_size = size_default
    return bpf_ctx_narrow_access_ok(off, size, size_default)


def sk_filter_is_valid_access(off, size, access_type, prog, info) -> bool:
    """Socket filters: no packet pointers, no tc_classid, socket fields, tstamps or wire_len;
    only cb[] is writable."""
    for lo, hi in (("tc_classid", "tc_classid"), ("data", "data"), ("data_meta", "data_meta"),
                   ("data_end", "data_end"), ("family", "local_port"), ("tstamp", "tstamp"),
                   ("wire_len", "wire_len"), ("hwtstamp", "hwtstamp")):
        if _in(off, lo, hi):
            return False
    if access_type == BPF_WRITE and not _in(off, "cb", "cb"):
        return False
    return bpf_skb_is_valid_access(off, size, access_type, prog, info)
