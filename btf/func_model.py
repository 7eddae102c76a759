"""struct btf_func_model: what a trampoline needs to know about a function's arguments.

Mirrors include/linux/bpf.h (struct btf_func_model, MAX_BPF_FUNC_ARGS, BTF_FMODEL_*). It is what
``btf_distill_func_proto`` (btf/distill.py, kernel/bpf/btf.c) returns and what the architecture
trampoline generators in trampoline/ consume. Sizes are in bytes; a struct or union passed by value
has its own size (up to 16) and the STRUCT_ARG or UNION_ARG flag.
"""

from dataclasses import dataclass
from enum import IntFlag

MAX_BPF_FUNC_ARGS = 12


class BtfFmodelFlags(IntFlag):
    """Per-argument (and return) flags, BTF_FMODEL_* in include/linux/bpf.h."""
    BTF_FMODEL_STRUCT_ARG = 1 << 0
    BTF_FMODEL_SIGNED_ARG = 1 << 1
    BTF_FMODEL_UNION_ARG = 1 << 2


BTF_FMODEL_STRUCT_ARG = BtfFmodelFlags.BTF_FMODEL_STRUCT_ARG
BTF_FMODEL_SIGNED_ARG = BtfFmodelFlags.BTF_FMODEL_SIGNED_ARG
BTF_FMODEL_UNION_ARG = BtfFmodelFlags.BTF_FMODEL_UNION_ARG


@dataclass(frozen=True, slots=True)
class FuncModel:
    """A distilled function prototype (struct btf_func_model)."""

    ret_size: int                 # bytes of the return value; 0 for void
    ret_flags: int                # BTF_FMODEL_* of the return type (SIGNED_ARG for signed ints)
    nr_args: int                  # number of C parameters (not register slots)
    arg_size: tuple[int, ...]     # bytes of each parameter, nr_args entries
    arg_flags: tuple[int, ...]    # BTF_FMODEL_* of each parameter, nr_args entries

    def __post_init__(self):
        if not (len(self.arg_size) == len(self.arg_flags) == self.nr_args):
            raise ValueError("FuncModel: arg_size and arg_flags must have nr_args entries")

    def nr_slots(self) -> int:
        """Number of 8-byte ctx slots the arguments take: (size + 7) // 8 each, as x86's
        get_nr_used_regs counts them. This is what the trampoline stores in ctx[-1]."""
        return sum((size + 7) // 8 for size in self.arg_size)
