"""Helper names for the verifier log and the disassembler (kernel/bpf/disasm.c func_id_name)."""

from ..uapi import BpfFuncId

FUNC_ID_STR = {int(m): "bpf_" + m.name[len("BPF_FUNC_"):] for m in BpfFuncId}


def func_id_name(func_id: int) -> str:
    """``bpf_<name>`` for a known helper id (``bpf_unspec`` for 0), else ``unknown``."""
    return FUNC_ID_STR.get(func_id, "unknown")
