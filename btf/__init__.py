"""btf: the BTF format (parse, validate, encode, dump), C declarations -> BTF, function models.

The lowest layer of kernelsim; it imports nothing else of ours (kernel/bpf/btf.c,
tools/bpf/bpftool/btf.c, tools/lib/bpf/btf.c, tools/lib/bpf/btf_dump.c). See docs/btf.md.

Front door:

- ``Btf.parse(data, base=None)`` / ``btf_parse``: a parsed BTF (lazy records, split BTF over a
  base); ``type_by_id``, ``find_by_name_kind``, ``nr_types``, ``name_of``, ``resolve_size``,
  ``alignment``, ``skip_mods_and_typedefs``, ``members``, ``to_bytes``.
- ``btf_check(data, log_level=1, base=None) -> (Btf, log)``: the BPF_BTF_LOAD checks and log.
- ``BtfBuilder``: building BTF (``add_int``, ``add_struct`` + ``add_field`` ...), strings deduplicated.
- ``btf_from_c(source, base=None)``: C declarations -> BTF.
- ``btf_distill_func_proto(btf, func, profile="6.18", name=None) -> FuncModel``.
- ``btf_dump_raw(btf)``, ``btf_dump_c(btf)``: bpftool's raw text, a vmlinux.h.
- ``embedded_btf()``: the built-in kernel BTF (btf/data/kernelsim-6.18.btf).
- ``BtfError(errno, message)``, ``ENOTSUPP``, ``BtfKind`` and the BTF_KIND_* names.
"""

from .btf import Btf, btf_parse
from .builder import BtfBuilder
from .cdecl import btf_from_c
from .distill import btf_distill_func_proto
from .dump_c import btf_dump_c
from .dump_raw import btf_dump_raw
from .embedded import embedded_btf
from .errors import ENOTSUPP, BtfError
from .func_model import (BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG,
                         MAX_BPF_FUNC_ARGS, FuncModel)
from .kinds import kind_ops
from .types import BtfType, MemberInfo
from .uapi import (BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG,
                   BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC,
                   BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_PTR,
                   BTF_KIND_RESTRICT, BTF_KIND_STRUCT, BTF_KIND_TYPE_TAG, BTF_KIND_TYPEDEF,
                   BTF_KIND_UNION, BTF_KIND_VAR, BTF_KIND_VOLATILE, BtfKind)
from .verifier import btf_check

__all__ = ["Btf", "btf_parse", "btf_check", "BtfBuilder", "btf_from_c", "btf_distill_func_proto",
           "btf_dump_raw", "btf_dump_c", "embedded_btf", "BtfError", "ENOTSUPP", "BtfKind",
           "BtfType", "MemberInfo", "kind_ops",
           "BTF_KIND_INT", "BTF_KIND_PTR", "BTF_KIND_ARRAY", "BTF_KIND_STRUCT", "BTF_KIND_UNION",
           "BTF_KIND_ENUM", "BTF_KIND_FWD", "BTF_KIND_TYPEDEF", "BTF_KIND_VOLATILE",
           "BTF_KIND_CONST", "BTF_KIND_RESTRICT", "BTF_KIND_FUNC", "BTF_KIND_FUNC_PROTO",
           "BTF_KIND_VAR", "BTF_KIND_DATASEC", "BTF_KIND_FLOAT", "BTF_KIND_DECL_TAG",
           "BTF_KIND_TYPE_TAG", "BTF_KIND_ENUM64",
           "FuncModel", "MAX_BPF_FUNC_ARGS", "BTF_FMODEL_STRUCT_ARG", "BTF_FMODEL_SIGNED_ARG",
           "BTF_FMODEL_UNION_ARG"]
