"""kernelsim.helpers: BPF helper functions and their prototypes (kernel/bpf/helpers.c,
kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, net/core/filter.c).

A helper is a function ``func(run, r1, r2, r3, r4, r5) -> int`` plus one ``BpfFuncProto``
record (proto.py). The verifier reads the record (through the prog type's ``get_func_proto`` in
kernelsim/prog_types.py); the interpreter calls the function. ``func_id_name`` names helper ids
the way the kernel's verifier log and disassembler do.
"""

from . import core, net, ringbuf, trace
from .base import bpf_base_func_proto
from .names import func_id_name
from .proto import BpfFuncProto

__all__ = ["BpfFuncProto", "bpf_base_func_proto", "func_id_name", "core", "trace", "ringbuf", "net"]
