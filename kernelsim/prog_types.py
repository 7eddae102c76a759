"""Program types: BpfProgType -> verifier ops, prog ops and ctx description, in one table
(include/linux/bpf_types.h BPF_PROG_TYPE(), struct bpf_verifier_ops, struct bpf_prog_ops).

``PROG_TYPES`` is the registration table (STYLE.md): a type kernelsim supports has one entry; a
type without an entry is refused by PROG_LOAD with EINVAL, as find_prog_type does for a type the
kernel was built without. Inside an entry an absent slot is None: no ``test_run`` means
PROG_TEST_RUN answers ENOTSUPP (524); no ``convert_ctx_access`` means ctx loads read the ctx
memory as laid out (kernelsim's ctx areas are laid out as the program's view of them; see
skbuff.py for __sk_buff).

The verifier calls, for a program ``prog`` (a BpfProg with ``type``, ``expected_attach_type``,
``aux`` filled in; ``prog.aux.cred`` = the loader's Cred for the capability tiers):

* ``ops.verifier.get_func_proto(func_id, prog) -> BpfFuncProto | None``: None makes the
  verifier print ``program of this type cannot use helper %s#%d``.
* ``ops.verifier.is_valid_access(off, size, access_type, prog, info) -> bool`` with
  ``access_type`` BPF_READ/BPF_WRITE and ``info`` a ``BpfInsnAccessAux`` (ctx_access.py), which
  says what the loaded value is (``info.reg_type``: SCALAR_VALUE, PTR_TO_BTF_ID + ``info.btf`` /
  ``info.btf_id``, PTR_TO_TP_BUFFER ...); messages go through ``info.log``.
* ``ops.ctx``: the ctx's C name, its size for the machine (``ctx_size(prog)``) and whether it is
  read only.

The syscall's PROG_TEST_RUN calls ``ops.prog.test_run(prog, kattr, user) -> TestRunResult``
(test_run.py). Tracing test_run (bpf_fentry_test*) belongs to kernelsim/tracing and is installed
by putting it into the TRACING entry's slot.
"""

from dataclasses import dataclass
from typing import Callable

from . import ctx_access as ca
from .btf_ctx import btf_ctx_access, tracing_prog_is_valid_access
from .ctx_access import BpfInsnAccessAux
from .helpers import trace_funcs as tf
from .helpers.net import sk_filter_func_proto
from .helpers.proto import BPF_READ, BPF_WRITE, BpfFuncProto
from .skbuff import SK_BUFF_CTX_SIZE
from .test_run import bpf_prog_test_run_raw_tp, bpf_prog_test_run_skb
from .tracing.test_run import bpf_prog_test_run_tracing
from .uapi import BpfProgType as PT

__all__ = ["BpfCtxDesc", "BpfVerifierOps", "BpfProgOps", "BpfProgTypeOps", "PROG_TYPES",
           "bpf_prog_type_ops", "get_func_proto", "is_valid_access", "ctx_size", "btf_ctx_access",
           "BpfInsnAccessAux", "BPF_READ", "BPF_WRITE"]


@dataclass(frozen=True, slots=True)
class BpfCtxDesc:
    """What a program's R1 points at."""

    name: str                          # the C type the program sees ("struct pt_regs")
    size: Callable | int               # bytes, or size(prog) -> bytes (depends on the arch / target)
    rdonly: bool = True                # no field is writable


@dataclass(frozen=True, slots=True)
class BpfVerifierOps:
    """struct bpf_verifier_ops (the slots kernelsim uses)."""

    get_func_proto: Callable | None = None      # (func_id, prog) -> BpfFuncProto | None
    is_valid_access: Callable | None = None     # (off, size, access_type, prog, info) -> bool
    convert_ctx_access: Callable | None = None  # None: ctx memory is the program's view (module doc)
    gen_prologue: Callable | None = None
    btf_struct_access: Callable | None = None   # None: the generic btf_struct_access


@dataclass(frozen=True, slots=True)
class BpfProgOps:
    """struct bpf_prog_ops."""

    test_run: Callable | None = None            # (prog, kattr: TestRunAttr, user) -> TestRunResult


@dataclass(frozen=True, slots=True)
class BpfProgTypeOps:
    """One BPF_PROG_TYPE() line of bpf_types.h."""

    name: str                  # the kernel's _name (bpf_prog_type_name / bpftool's type name)
    verifier: BpfVerifierOps
    prog: BpfProgOps
    ctx: BpfCtxDesc


def _tracing_ctx_size(prog) -> int:
    return 8 * ca.MAX_BPF_FUNC_ARGS


PROG_TYPES: dict[int, BpfProgTypeOps] = {
    PT.BPF_PROG_TYPE_SOCKET_FILTER: BpfProgTypeOps(
        "socket_filter",
        BpfVerifierOps(sk_filter_func_proto, ca.sk_filter_is_valid_access),
        BpfProgOps(test_run=bpf_prog_test_run_skb),
        BpfCtxDesc("struct __sk_buff", SK_BUFF_CTX_SIZE, rdonly=False)),
    PT.BPF_PROG_TYPE_KPROBE: BpfProgTypeOps(
        "kprobe",
        BpfVerifierOps(tf.kprobe_prog_func_proto, ca.kprobe_prog_is_valid_access),
        BpfProgOps(),
        BpfCtxDesc("struct pt_regs", ca.pt_regs_size)),
    PT.BPF_PROG_TYPE_TRACEPOINT: BpfProgTypeOps(
        "tracepoint",
        BpfVerifierOps(tf.tp_prog_func_proto, ca.tp_prog_is_valid_access),
        BpfProgOps(),
        BpfCtxDesc("trace event record", ca.PERF_MAX_TRACE_SIZE)),
    PT.BPF_PROG_TYPE_PERF_EVENT: BpfProgTypeOps(
        "perf_event",
        BpfVerifierOps(tf.pe_prog_func_proto, ca.pe_prog_is_valid_access),
        BpfProgOps(),
        BpfCtxDesc("struct bpf_perf_event_data", ca.perf_event_data_size)),
    PT.BPF_PROG_TYPE_RAW_TRACEPOINT: BpfProgTypeOps(
        "raw_tracepoint",
        BpfVerifierOps(tf.raw_tp_prog_func_proto, ca.raw_tp_prog_is_valid_access),
        BpfProgOps(test_run=bpf_prog_test_run_raw_tp),
        BpfCtxDesc("struct bpf_raw_tracepoint_args", _tracing_ctx_size)),
    PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: BpfProgTypeOps(
        "raw_tracepoint_writable",
        BpfVerifierOps(tf.raw_tp_prog_func_proto, ca.raw_tp_writable_prog_is_valid_access),
        BpfProgOps(),
        BpfCtxDesc("struct bpf_raw_tracepoint_args", _tracing_ctx_size)),
    PT.BPF_PROG_TYPE_TRACING: BpfProgTypeOps(
        "tracing",
        BpfVerifierOps(tf.tracing_prog_func_proto, tracing_prog_is_valid_access),
        BpfProgOps(test_run=bpf_prog_test_run_tracing),     # kernelsim/tracing/test_run.py
        BpfCtxDesc("u64 args[] (BTF-typed)", _tracing_ctx_size)),
}


def bpf_prog_type_ops(prog_type: int) -> BpfProgTypeOps | None:
    """find_prog_type: the entry, or None (PROG_LOAD answers EINVAL)."""
    return PROG_TYPES.get(prog_type)


def get_func_proto(func_id: int, prog) -> BpfFuncProto | None:
    """The proto ``prog`` gets for helper ``func_id`` (None: not offered to this program)."""
    ops = PROG_TYPES.get(prog.type)
    if ops is None or ops.verifier.get_func_proto is None:
        return None
    return ops.verifier.get_func_proto(func_id, prog)


def is_valid_access(off: int, size: int, access_type: int, prog, info: BpfInsnAccessAux) -> bool:
    ops = PROG_TYPES.get(prog.type)
    if ops is None or ops.verifier.is_valid_access is None:
        return False
    return ops.verifier.is_valid_access(off, size, access_type, prog, info)


def ctx_size(prog) -> int:
    """Bytes of ``prog``'s ctx on its machine."""
    size = PROG_TYPES[prog.type].ctx.size
    return size(prog) if callable(size) else size
