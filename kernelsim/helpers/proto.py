"""Helper prototypes: struct bpf_func_proto and its argument/return type enums (include/linux/bpf.h).

A helper is an implementation function plus one ``BpfFuncProto`` record. The verifier reads the
record (check_helper_call / check_func_arg) — return type, argument types, gpl_only, whether the
helper may sleep; the interpreter calls ``func(run, r1, r2, r3, r4, r5) -> int`` (docs/internals.md).
Base types and flags keep the kernel's names; flags are OR-ed into a base type as in the kernel
(``ARG_PTR_TO_MEM | MEM_RDONLY``). The numbers are our own (they never cross the ABI).
"""

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Callable


class BpfTypeFlag(IntFlag):
    """enum bpf_type_flag: modifiers OR-ed into arg/ret/reg types (bits 8 and up)."""
    PTR_MAYBE_NULL = 1 << 8
    MEM_RDONLY = 1 << 9
    MEM_RINGBUF = 1 << 10
    MEM_USER = 1 << 11
    MEM_PERCPU = 1 << 12
    OBJ_RELEASE = 1 << 13
    PTR_UNTRUSTED = 1 << 14
    MEM_UNINIT = 1 << 15
    DYNPTR_TYPE_LOCAL = 1 << 16
    DYNPTR_TYPE_RINGBUF = 1 << 17
    MEM_FIXED_SIZE = 1 << 18
    MEM_ALLOC = 1 << 19
    PTR_TRUSTED = 1 << 20
    MEM_RCU = 1 << 21
    NON_OWN_REF = 1 << 22
    DYNPTR_TYPE_SKB = 1 << 23
    DYNPTR_TYPE_XDP = 1 << 24
    MEM_ALIGNED = 1 << 25
    MEM_WRITE = 1 << 26


BPF_BASE_TYPE_MASK = 0xFF


def base_type(t: int) -> int:
    return t & BPF_BASE_TYPE_MASK


def type_flag(t: int) -> int:
    return t & ~BPF_BASE_TYPE_MASK


class BpfArgType(IntEnum):
    """enum bpf_arg_type (base types)."""
    ARG_DONTCARE = 0
    ARG_CONST_MAP_PTR = 1
    ARG_PTR_TO_MAP_KEY = 2
    ARG_PTR_TO_MAP_VALUE = 3
    ARG_PTR_TO_MEM = 4
    ARG_PTR_TO_ARENA = 5
    ARG_CONST_SIZE = 6
    ARG_CONST_SIZE_OR_ZERO = 7
    ARG_PTR_TO_CTX = 8
    ARG_ANYTHING = 9
    ARG_PTR_TO_SPIN_LOCK = 10
    ARG_PTR_TO_SOCK_COMMON = 11
    ARG_PTR_TO_SOCKET = 12
    ARG_PTR_TO_BTF_ID = 13
    ARG_PTR_TO_RINGBUF_MEM = 14
    ARG_CONST_ALLOC_SIZE_OR_ZERO = 15
    ARG_PTR_TO_BTF_ID_SOCK_COMMON = 16
    ARG_PTR_TO_PERCPU_BTF_ID = 17
    ARG_PTR_TO_FUNC = 18
    ARG_PTR_TO_STACK = 19
    ARG_PTR_TO_CONST_STR = 20
    ARG_PTR_TO_TIMER = 21
    ARG_KPTR_XCHG_DEST = 22
    ARG_PTR_TO_DYNPTR = 23


class BpfReturnType(IntEnum):
    """enum bpf_return_type (base types)."""
    RET_INTEGER = 0
    RET_VOID = 1
    RET_PTR_TO_MAP_VALUE = 2
    RET_PTR_TO_SOCKET = 3
    RET_PTR_TO_TCP_SOCK = 4
    RET_PTR_TO_SOCK_COMMON = 5
    RET_PTR_TO_MEM = 6
    RET_PTR_TO_MEM_OR_BTF_ID = 7
    RET_PTR_TO_BTF_ID = 8


# The kernel's composite names.
ARG_PTR_TO_MAP_VALUE_OR_NULL = BpfArgType.ARG_PTR_TO_MAP_VALUE | BpfTypeFlag.PTR_MAYBE_NULL
ARG_PTR_TO_MEM_OR_NULL = BpfArgType.ARG_PTR_TO_MEM | BpfTypeFlag.PTR_MAYBE_NULL
ARG_PTR_TO_CTX_OR_NULL = BpfArgType.ARG_PTR_TO_CTX | BpfTypeFlag.PTR_MAYBE_NULL
ARG_PTR_TO_STACK_OR_NULL = BpfArgType.ARG_PTR_TO_STACK | BpfTypeFlag.PTR_MAYBE_NULL
ARG_PTR_TO_UNINIT_MEM = BpfArgType.ARG_PTR_TO_MEM | BpfTypeFlag.MEM_WRITE | BpfTypeFlag.MEM_UNINIT
ARG_PTR_TO_FIXED_SIZE_MEM = BpfArgType.ARG_PTR_TO_MEM | BpfTypeFlag.MEM_FIXED_SIZE
RET_PTR_TO_MAP_VALUE_OR_NULL = BpfReturnType.RET_PTR_TO_MAP_VALUE | BpfTypeFlag.PTR_MAYBE_NULL
RET_PTR_TO_MEM_OR_NULL = BpfReturnType.RET_PTR_TO_MEM | BpfTypeFlag.PTR_MAYBE_NULL
RET_PTR_TO_RINGBUF_MEM_OR_NULL = (BpfReturnType.RET_PTR_TO_MEM | BpfTypeFlag.MEM_RINGBUF
                                  | BpfTypeFlag.PTR_MAYBE_NULL)
RET_PTR_TO_BTF_ID_OR_NULL = BpfReturnType.RET_PTR_TO_BTF_ID | BpfTypeFlag.PTR_MAYBE_NULL


@dataclass(frozen=True, slots=True)
class BpfFuncProto:
    """struct bpf_func_proto."""

    func: Callable | None              # implementation: func(run, r1, r2, r3, r4, r5) -> int
    ret_type: int = BpfReturnType.RET_INTEGER
    arg_types: tuple = ()              # up to 5 arg types (base | flags); missing ones are ARG_DONTCARE
    gpl_only: bool = False
    might_sleep: bool = False
    pkt_access: bool = False
    arg_btf_ids: tuple = ()            # BTF type names/ids for ARG_PTR_TO_BTF_ID args, per arg
    arg_size: tuple = ()               # fixed sizes for MEM_FIXED_SIZE args, per arg
    ret_btf_id: object = None          # for RET_PTR_TO_BTF_ID
    ret_buf_size: int = 0              # for RET_PTR_TO_MEM with a fixed size
    allowed: Callable | None = None    # allowed(prog) -> bool (bpf_d_path's allowlist)
    name: str = ""                     # bpf_<name>, for messages (func_id_name)

    def arg(self, i: int) -> int:
        return self.arg_types[i] if i < len(self.arg_types) else BpfArgType.ARG_DONTCARE


# --- Added by the helpers/prog-types engineer; additive only. -----------------------------------

RET_PTR_TO_BTF_ID_TRUSTED = BpfReturnType.RET_PTR_TO_BTF_ID | BpfTypeFlag.PTR_TRUSTED
# 6.18 spelling of the old ARG_PTR_TO_LONG (bpf_get_func_arg, bpf_strtol ...): an 8-byte,
# 8-byte-aligned, writable, possibly uninitialised buffer (arg_size 8).
ARG_PTR_TO_WRITABLE_U64 = (BpfArgType.ARG_PTR_TO_MEM | BpfTypeFlag.MEM_FIXED_SIZE
                           | BpfTypeFlag.MEM_UNINIT | BpfTypeFlag.MEM_WRITE
                           | BpfTypeFlag.MEM_ALIGNED)     # our name


class BpfRegType(IntEnum):
    """enum bpf_reg_type (include/linux/bpf.h, 6.18 order): what a register holds. Flags from
    ``BpfTypeFlag`` are OR-ed in (``PTR_TO_BTF_ID | PTR_TRUSTED``). Used by the verifier and by the
    prog types' ``is_valid_access`` (the type of a value loaded from ctx). The only definition:
    kernelsim/verifier/reg_state.py imports it and exports its members as plain ints."""
    NOT_INIT = 0
    SCALAR_VALUE = 1
    PTR_TO_CTX = 2
    CONST_PTR_TO_MAP = 3
    PTR_TO_MAP_VALUE = 4
    PTR_TO_MAP_KEY = 5
    PTR_TO_STACK = 6
    PTR_TO_PACKET_META = 7
    PTR_TO_PACKET = 8
    PTR_TO_PACKET_END = 9
    PTR_TO_FLOW_KEYS = 10
    PTR_TO_SOCKET = 11
    PTR_TO_SOCK_COMMON = 12
    PTR_TO_TCP_SOCK = 13
    PTR_TO_TP_BUFFER = 14
    PTR_TO_XDP_SOCK = 15
    PTR_TO_BTF_ID = 16
    PTR_TO_MEM = 17
    PTR_TO_ARENA = 18
    PTR_TO_BUF = 19
    PTR_TO_FUNC = 20
    CONST_PTR_TO_DYNPTR = 21


class BpfAccessType(IntEnum):
    """enum bpf_access_type (include/linux/bpf.h): the ``type`` argument of is_valid_access."""
    BPF_READ = 1
    BPF_WRITE = 2


BPF_READ = BpfAccessType.BPF_READ
BPF_WRITE = BpfAccessType.BPF_WRITE
