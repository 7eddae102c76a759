"""BTF format constants: the numbers of include/uapi/linux/btf.h, written out once.

Kinds, the header layout, the INT encoding bits, function and variable linkage, and the limits the
kernel enforces (kernel/bpf/btf.c: BTF_MAX_SIZE, MAX_RESOLVE_DEPTH). Members are exported at module
level the way ``socket`` exports ``AF_INET``.
"""

import struct
from enum import IntEnum, IntFlag

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1

BTF_MAX_TYPE = 0x000FFFFF         # max type id
BTF_MAX_NAME_OFFSET = 0x00FFFFFF  # max string offset
BTF_MAX_VLEN = 0xFFFF             # max members/params/values of one type
BTF_MAX_SIZE = 16 * 1024 * 1024   # kernel/bpf/btf.c: largest blob BPF_BTF_LOAD accepts (E2BIG)
MAX_RESOLVE_DEPTH = 32            # kernel/bpf/btf.c: resolve stack depth (E2BIG past it)
KSYM_NAME_LEN = 512               # include/linux/kallsyms.h: identifier length limit in names

# struct btf_header { u16 magic; u8 version; u8 flags; u32 hdr_len;
#                     u32 type_off; u32 type_len; u32 str_off; u32 str_len; }
BTF_HEADER = struct.Struct("<HBBIIIII")
BTF_HEADER_SIZE = BTF_HEADER.size   # 24

BTF_INFO_MASK = 0x9F00FFFF   # vlen bits 0-15, kind bits 24-28, kind_flag bit 31
BTF_INT_MASK = 0x0FFFFFFF    # the bits of the u32 after an INT that may be set


class BtfKind(IntEnum):
    """BTF_KIND_* (include/uapi/linux/btf.h)."""
    BTF_KIND_UNKN = 0
    BTF_KIND_INT = 1
    BTF_KIND_PTR = 2
    BTF_KIND_ARRAY = 3
    BTF_KIND_STRUCT = 4
    BTF_KIND_UNION = 5
    BTF_KIND_ENUM = 6
    BTF_KIND_FWD = 7
    BTF_KIND_TYPEDEF = 8
    BTF_KIND_VOLATILE = 9
    BTF_KIND_CONST = 10
    BTF_KIND_RESTRICT = 11
    BTF_KIND_FUNC = 12
    BTF_KIND_FUNC_PROTO = 13
    BTF_KIND_VAR = 14
    BTF_KIND_DATASEC = 15
    BTF_KIND_FLOAT = 16
    BTF_KIND_DECL_TAG = 17
    BTF_KIND_TYPE_TAG = 18
    BTF_KIND_ENUM64 = 19


NR_BTF_KINDS = 20
BTF_KIND_MAX = NR_BTF_KINDS - 1
globals().update(BtfKind.__members__)


class BtfIntEncoding(IntFlag):
    """BTF_INT_* encoding bits of an INT (bits 24-27 of its trailing u32)."""
    BTF_INT_SIGNED = 1 << 0
    BTF_INT_CHAR = 1 << 1
    BTF_INT_BOOL = 1 << 2


BTF_INT_SIGNED = BtfIntEncoding.BTF_INT_SIGNED
BTF_INT_CHAR = BtfIntEncoding.BTF_INT_CHAR
BTF_INT_BOOL = BtfIntEncoding.BTF_INT_BOOL


class BtfFuncLinkage(IntEnum):
    """enum btf_func_linkage: a FUNC's vlen."""
    BTF_FUNC_STATIC = 0
    BTF_FUNC_GLOBAL = 1
    BTF_FUNC_EXTERN = 2


class BtfVarLinkage(IntEnum):
    """BTF_VAR_*: the u32 after a VAR."""
    BTF_VAR_STATIC = 0
    BTF_VAR_GLOBAL_ALLOCATED = 1
    BTF_VAR_GLOBAL_EXTERN = 2


globals().update(BtfFuncLinkage.__members__)
globals().update(BtfVarLinkage.__members__)


def btf_info_enc(kind: int, kind_flag: int, vlen: int) -> int:
    """BTF_INFO_ENC: pack kind, kind_flag and vlen into a btf_type's info word."""
    return ((kind_flag & 1) << 31) | ((kind & 0x1F) << 24) | (vlen & 0xFFFF)


def btf_int_enc(encoding: int, bits_offset: int, nr_bits: int) -> int:
    """BTF_INT_ENC: the u32 that follows an INT."""
    return ((encoding & 0xF) << 24) | ((bits_offset & 0xFF) << 16) | (nr_bits & 0xFF)


def btf_member_offset_enc(bitfield_size: int, bit_offset: int) -> int:
    """BTF_MEMBER_OFFSET: a member's offset word when the struct's kind_flag is set."""
    return ((bitfield_size & 0xFF) << 24) | (bit_offset & 0xFFFFFF)
