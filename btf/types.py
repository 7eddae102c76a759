"""The BTF object model: one frozen record per kind, decoded from a ``struct btf_type`` and the data
after it (include/uapi/linux/btf.h; the kernel reads the same records in kernel/bpf/btf.c).

Every record keeps the raw words it was decoded from (``info``, ``size_type``, raw member offsets,
raw enum values), so a blob the kernel would reject still has a model and encodes back to the same
bytes. Derived values (``kind``, ``vlen``, ``kflag``, a member's ``bit_offset`` and
``bitfield_size``) are computed from them. Ids are global to a split BTF: a module type's id
continues after its base's last id.

Worked example: in a struct with kind_flag set, a member word ``offset = 0x03000020`` means
``bitfield_size = 3`` (``offset >> 24``) at ``bit_offset = 32`` (``offset & 0xffffff``); without
kind_flag the same word is a plain bit offset and bitfield-ness comes from the member's INT type.
"""

from dataclasses import dataclass

from .uapi import BtfKind, BTF_INT_SIGNED


@dataclass(frozen=True, slots=True)
class BtfType:
    """struct btf_type: the common 12-byte prefix of every record."""

    id: int          # type id (0 is void; split BTF ids continue the base's)
    name_off: int    # offset of the name in the string section (0: anonymous)
    name: str        # the name; '' when anonymous (or when name_off does not resolve)
    info: int        # raw info word: vlen bits 0-15, kind bits 24-28, kind_flag bit 31
    size_type: int   # raw ``union { u32 size; u32 type; }``

    @property
    def kind(self) -> BtfKind:
        return BtfKind((self.info >> 24) & 0x1F)

    @property
    def vlen(self) -> int:
        return self.info & 0xFFFF

    @property
    def kflag(self) -> int:
        return self.info >> 31

    @property
    def size(self) -> int:
        """``t->size`` (meaningful for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT)."""
        return self.size_type

    @property
    def type(self) -> int:
        """``t->type`` (meaningful for PTR, modifiers, TYPEDEF, FUNC, FUNC_PROTO, VAR, tags)."""
        return self.size_type


@dataclass(frozen=True, slots=True)
class BtfVoid(BtfType):
    """Type id 0 (``btf_void`` in the kernel): never encoded."""


@dataclass(frozen=True, slots=True)
class BtfInt(BtfType):
    """BTF_KIND_INT: ``size`` bytes, then ``u32`` encoding/offset/bits."""

    int_data: int    # raw u32: encoding bits 24-27, bits_offset bits 16-23, nr_bits bits 0-7

    @property
    def encoding(self) -> int:
        return (self.int_data >> 24) & 0x0F

    @property
    def bits_offset(self) -> int:
        return (self.int_data >> 16) & 0xFF

    @property
    def nr_bits(self) -> int:
        return self.int_data & 0xFF

    @property
    def is_signed(self) -> bool:
        return bool(self.encoding & BTF_INT_SIGNED)


@dataclass(frozen=True, slots=True)
class BtfRef(BtfType):
    """A kind whose only payload is ``type``: PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG."""


@dataclass(frozen=True, slots=True)
class BtfPtr(BtfRef):
    """BTF_KIND_PTR."""


@dataclass(frozen=True, slots=True)
class BtfTypedef(BtfRef):
    """BTF_KIND_TYPEDEF."""


@dataclass(frozen=True, slots=True)
class BtfVolatile(BtfRef):
    """BTF_KIND_VOLATILE."""


@dataclass(frozen=True, slots=True)
class BtfConst(BtfRef):
    """BTF_KIND_CONST."""


@dataclass(frozen=True, slots=True)
class BtfRestrict(BtfRef):
    """BTF_KIND_RESTRICT."""


@dataclass(frozen=True, slots=True)
class BtfTypeTag(BtfRef):
    """BTF_KIND_TYPE_TAG: ``name`` is the tag (``user``, ``percpu``, ``rcu`` ...)."""


@dataclass(frozen=True, slots=True)
class BtfArray(BtfType):
    """BTF_KIND_ARRAY: ``struct btf_array``."""

    elem_type: int   # element type id (``array->type``)
    index_type: int  # index type id
    nelems: int      # number of elements


@dataclass(frozen=True, slots=True)
class BtfMember:
    """struct btf_member, with its offset word decoded according to the parent's kind_flag."""

    name_off: int       # offset of the member name (0: anonymous member)
    name: str           # the member name ('' when anonymous)
    type: int           # member type id
    offset: int         # raw offset word
    bit_offset: int     # offset from the start of the struct, in bits
    bitfield_size: int  # bits of a kind_flag bitfield (0: not encoded as a bitfield)


@dataclass(frozen=True, slots=True)
class BtfComposite(BtfType):
    """STRUCT and UNION: ``size`` bytes, ``vlen`` members."""

    members: tuple[BtfMember, ...]


@dataclass(frozen=True, slots=True)
class BtfStruct(BtfComposite):
    """BTF_KIND_STRUCT."""


@dataclass(frozen=True, slots=True)
class BtfUnion(BtfComposite):
    """BTF_KIND_UNION."""


@dataclass(frozen=True, slots=True)
class BtfEnumValue:
    """struct btf_enum / struct btf_enum64: one enumerator."""

    name_off: int   # offset of the enumerator's name
    name: str       # the enumerator's name
    val: int        # its value: signed if the enum's kind_flag is set, else unsigned


@dataclass(frozen=True, slots=True)
class BtfEnum(BtfType):
    """BTF_KIND_ENUM (32-bit values) and the base of ENUM64; kind_flag set: values are signed."""

    values: tuple[BtfEnumValue, ...]

    @property
    def is_signed(self) -> bool:
        return bool(self.kflag)


@dataclass(frozen=True, slots=True)
class BtfEnum64(BtfEnum):
    """BTF_KIND_ENUM64: 64-bit values stored as lo32/hi32."""


@dataclass(frozen=True, slots=True)
class BtfFwd(BtfType):
    """BTF_KIND_FWD: a forward declaration; kind_flag set means ``union``, else ``struct``."""

    @property
    def is_union(self) -> bool:
        return bool(self.kflag)


@dataclass(frozen=True, slots=True)
class BtfFunc(BtfType):
    """BTF_KIND_FUNC: ``type`` is its FUNC_PROTO; ``vlen`` is the linkage."""

    @property
    def linkage(self) -> int:
        return self.vlen


@dataclass(frozen=True, slots=True)
class BtfParam:
    """struct btf_param: one parameter (a last ``type`` 0 with no name is ``...``)."""

    name_off: int   # offset of the parameter name (0: unnamed)
    name: str       # the parameter name
    type: int       # parameter type id (0 for the vararg marker)


@dataclass(frozen=True, slots=True)
class BtfFuncProto(BtfType):
    """BTF_KIND_FUNC_PROTO: ``type`` is the return type (0: void), then ``vlen`` params."""

    params: tuple[BtfParam, ...]

    @property
    def ret_type(self) -> int:
        return self.size_type

    @property
    def is_vararg(self) -> bool:
        return bool(self.params) and self.params[-1].type == 0


@dataclass(frozen=True, slots=True)
class BtfVar(BtfType):
    """BTF_KIND_VAR: ``type`` is the variable's type, then ``struct btf_var { u32 linkage; }``."""

    linkage: int    # BTF_VAR_STATIC, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN


@dataclass(frozen=True, slots=True)
class BtfVarSecinfo:
    """struct btf_var_secinfo: one variable of a DATASEC."""

    type: int       # the VAR (or FUNC, for .ksyms) type id
    offset: int     # offset in the section
    size: int       # size of the variable


@dataclass(frozen=True, slots=True)
class BtfDatasec(BtfType):
    """BTF_KIND_DATASEC: ``size`` bytes of section, ``vlen`` variables."""

    vars: tuple[BtfVarSecinfo, ...]


@dataclass(frozen=True, slots=True)
class BtfFloat(BtfType):
    """BTF_KIND_FLOAT: ``size`` bytes."""


@dataclass(frozen=True, slots=True)
class BtfDeclTag(BtfType):
    """BTF_KIND_DECL_TAG: ``name`` is the tag, ``type`` its target, then ``s32 component_idx``."""

    component_idx: int   # -1: the target itself; else a member/param index


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as ``Btf.members`` yields it: name, type and its bit position (our name)."""

    index: int          # position in the struct's member list
    name: str           # member name ('' for an anonymous member)
    type: int           # member type id
    bit_offset: int     # bit offset from the start of the struct
    bitfield_size: int  # bits of a bitfield (from kind_flag or from an INT with nr_bits < size*8), else 0
