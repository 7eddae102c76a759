"""btf: the BTF format (parse, validate, encode, dump), C declarations -> BTF, function models.

The lowest layer of kernelsim; it imports nothing else of ours (kernel/bpf/btf.c,
tools/bpf/bpftool/btf.c, tools/lib/bpf/btf.c).
"""

from .func_model import (BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG,
                         MAX_BPF_FUNC_ARGS, FuncModel)

__all__ = ["FuncModel", "MAX_BPF_FUNC_ARGS", "BTF_FMODEL_STRUCT_ARG", "BTF_FMODEL_SIGNED_ARG",
           "BTF_FMODEL_UNION_ARG"]
