"""The bpf(2) uapi as cffi cdefs: ``union bpf_attr`` and the structs that cross the syscall
boundary.

Mirrors include/uapi/linux/bpf.h of **Linux 6.18** (x86-64): same names, same field order, the
anonymous structs and unions where the header has them, the header's bitfields
(``bpf_insn.dst_reg:4``, ``bpf_prog_info.gpl_compatible:1``) and its unnamed padding
(``__u32 :32``).
``__aligned_u64`` is a plain ``uint64_t``: on x86-64 a u64 is naturally 8-aligned, which is all the
header's ``aligned(8)`` asks for, so every struct that holds one (``union bpf_attr`` among them) is
8-aligned by cffi's own layout rules. cffi runs in ABI mode: the cdef is parsed at import, no
compiler is needed.

The enums are rendered from the classes in ``kernelsim/uapi.py``, so every number is defined once.

Which 6.18: the header of the v6.18 release (libbpf's mirror synced from the kernel at the end of
the 6.18 merge window, checkpoint de7342228b73; the next sync's uapi changes -- map type
INSN_ARRAY, BPF_F_RB_OVERWRITE, 64-bit dynptr helper prototypes -- are 6.19 and left out). Newer
than 6.17 and present here: ``excl_prog_hash``/``excl_prog_hash_size`` (MAP_CREATE),
``signature``/``signature_size``/``keyring_id`` (PROG_LOAD), ``bpf_map_info.hash``/``hash_size``.
``tests/syscall/test_abi.py`` pins every size and offset; docs/abi.md tells the story.

Layout facts worth knowing: ``sizeof(union bpf_attr) == 168`` (confirmed against the running
6.18 kernel: a non-zero byte at offset 168 of a bigger attr gives E2BIG, at 167 it does not).
``struct bpf_raw_tracepoint_args`` is ``{ __u64 args[0]; }``: C says sizeof 0, cffi says 1 (it
cannot express an empty struct); only its ``args`` offset is meaningful.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Iterator, NamedTuple

import cffi

from kernelsim import uapi

# ---------------------------------------------------------------------------------------------
# enums, rendered from kernelsim.uapi

# (C enum name, uapi class, aliases rendered after the members as NAME = OTHER_NAME, __MAX name)
_ENUMS: list[tuple[str, type[IntEnum], tuple[tuple[str, str], ...], str | None]] = [
    ("bpf_cmd", uapi.BpfCmd, (("BPF_PROG_RUN", "BPF_PROG_TEST_RUN"),), "__MAX_BPF_CMD"),
    ("bpf_map_type", uapi.BpfMapType,
     (("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", "BPF_MAP_TYPE_CGROUP_STORAGE"),
      ("BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED", "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE")),
     "__MAX_BPF_MAP_TYPE"),
    ("bpf_prog_type", uapi.BpfProgType, (), "__MAX_BPF_PROG_TYPE"),
    ("bpf_attach_type", uapi.BpfAttachType, (), "__MAX_BPF_ATTACH_TYPE"),
    ("bpf_link_type", uapi.BpfLinkType, (), "__MAX_BPF_LINK_TYPE"),
    ("bpf_perf_event_type", uapi.BpfPerfEventType, (), None),
    ("bpf_stats_type", uapi.BpfStatsType, (), None),
    ("bpf_task_fd_type", uapi.BpfTaskFdType, (), None),
    ("bpf_func_id", uapi.BpfFuncId, (), "__BPF_FUNC_MAX_ID"),
    ("bpf_core_relo_kind", uapi.BpfCoreReloKind, (), None),
]


def render_enum(cname: str, cls: type[IntEnum], aliases=(), max_name: str | None = None) -> str:
    """``enum cname { A = 0, B = 1, ... };`` from a uapi IntEnum (numbers written out)."""
    members = list(cls.__members__.values())
    body = [f"    {m.name} = {int(m)}," for m in members]
    values = {m.name: int(m) for m in members}
    body += [f"    {alias} = {values[target]}," for alias, target in aliases]
    if max_name:
        body.append(f"    {max_name} = {max(values.values()) + 1},")
    return f"enum {cname} {{\n" + "\n".join(body) + "\n};\n"


_ENUM_CDEF = "".join(render_enum(*e) for e in _ENUMS)

# ---------------------------------------------------------------------------------------------
# structs (include/uapi/linux/bpf.h, 6.18; include/uapi/linux/bpf_perf_event.h;
# arch/x86/include/uapi/asm/ptrace.h for struct pt_regs)

_TYPES_CDEF = """
typedef uint8_t  __u8;
typedef int8_t   __s8;
typedef uint16_t __u16;
typedef int16_t  __s16;
typedef uint32_t __u32;
typedef int32_t  __s32;
typedef uint64_t __u64;
typedef int64_t  __s64;
typedef uint64_t __aligned_u64;   /* aligned(8): natural on x86-64 */
"""

_STRUCT_CDEF = """
struct bpf_insn {
    __u8  code;
    __u8  dst_reg:4;
    __u8  src_reg:4;
    __s16 off;
    __s32 imm;
};

union bpf_attr {
    struct {                            /* BPF_MAP_CREATE */
        __u32 map_type;
        __u32 key_size;
        __u32 value_size;
        __u32 max_entries;
        __u32 map_flags;
        __u32 inner_map_fd;
        __u32 numa_node;
        char  map_name[16];
        __u32 map_ifindex;
        __u32 btf_fd;
        __u32 btf_key_type_id;
        __u32 btf_value_type_id;
        __u32 btf_vmlinux_value_type_id;
        __u64 map_extra;
        __s32 value_type_btf_obj_fd;
        __s32 map_token_fd;
        __aligned_u64 excl_prog_hash;   /* 6.18 */
        __u32 excl_prog_hash_size;      /* 6.18 */
    };
    struct {                            /* BPF_MAP_*_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_FREEZE */
        __u32 map_fd;
        __aligned_u64 key;
        union {
            __aligned_u64 value;
            __aligned_u64 next_key;
        };
        __u64 flags;
    };
    struct {                            /* BPF_MAP_*_BATCH */
        __aligned_u64 in_batch;
        __aligned_u64 out_batch;
        __aligned_u64 keys;
        __aligned_u64 values;
        __u32 count;
        __u32 map_fd;
        __u64 elem_flags;
        __u64 flags;
    } batch;
    struct {                            /* BPF_PROG_LOAD */
        __u32 prog_type;
        __u32 insn_cnt;
        __aligned_u64 insns;
        __aligned_u64 license;
        __u32 log_level;
        __u32 log_size;
        __aligned_u64 log_buf;
        __u32 kern_version;
        __u32 prog_flags;
        char  prog_name[16];
        __u32 prog_ifindex;
        __u32 expected_attach_type;
        __u32 prog_btf_fd;
        __u32 func_info_rec_size;
        __aligned_u64 func_info;
        __u32 func_info_cnt;
        __u32 line_info_rec_size;
        __aligned_u64 line_info;
        __u32 line_info_cnt;
        __u32 attach_btf_id;
        union {
            __u32 attach_prog_fd;
            __u32 attach_btf_obj_fd;
        };
        __u32 core_relo_cnt;
        __aligned_u64 fd_array;
        __aligned_u64 core_relos;
        __u32 core_relo_rec_size;
        __u32 log_true_size;
        __s32 prog_token_fd;
        __u32 fd_array_cnt;
        __aligned_u64 signature;        /* 6.18 */
        __u32 signature_size;           /* 6.18 */
        __s32 keyring_id;               /* 6.18 */
    };
    struct {                            /* BPF_OBJ_PIN, BPF_OBJ_GET */
        __aligned_u64 pathname;
        __u32 bpf_fd;
        __u32 file_flags;
        __s32 path_fd;
    };
    struct {                            /* BPF_PROG_ATTACH, BPF_PROG_DETACH */
        union {
            __u32 target_fd;
            __u32 target_ifindex;
        };
        __u32 attach_bpf_fd;
        __u32 attach_type;
        __u32 attach_flags;
        __u32 replace_bpf_fd;
        union {
            __u32 relative_fd;
            __u32 relative_id;
        };
        __u64 expected_revision;
    };
    struct {                            /* BPF_PROG_TEST_RUN */
        __u32 prog_fd;
        __u32 retval;
        __u32 data_size_in;
        __u32 data_size_out;
        __aligned_u64 data_in;
        __aligned_u64 data_out;
        __u32 repeat;
        __u32 duration;
        __u32 ctx_size_in;
        __u32 ctx_size_out;
        __aligned_u64 ctx_in;
        __aligned_u64 ctx_out;
        __u32 flags;
        __u32 cpu;
        __u32 batch_size;
    } test;
    struct {                            /* BPF_*_GET_{FD_BY,NEXT}_ID */
        union {
            __u32 start_id;
            __u32 prog_id;
            __u32 map_id;
            __u32 btf_id;
            __u32 link_id;
        };
        __u32 next_id;
        __u32 open_flags;
        __s32 fd_by_id_token_fd;
    };
    struct {                            /* BPF_OBJ_GET_INFO_BY_FD */
        __u32 bpf_fd;
        __u32 info_len;
        __aligned_u64 info;
    } info;
    struct {                            /* BPF_PROG_QUERY */
        union {
            __u32 target_fd;
            __u32 target_ifindex;
        };
        __u32 attach_type;
        __u32 query_flags;
        __u32 attach_flags;
        __aligned_u64 prog_ids;
        union {
            __u32 prog_cnt;
            __u32 count;
        };
        __u32 :32;
        __aligned_u64 prog_attach_flags;
        __aligned_u64 link_ids;
        __aligned_u64 link_attach_flags;
        __u64 revision;
    } query;
    struct {                            /* BPF_RAW_TRACEPOINT_OPEN */
        __u64 name;
        __u32 prog_fd;
        __u32 :32;
        __aligned_u64 cookie;
    } raw_tracepoint;
    struct {                            /* BPF_BTF_LOAD */
        __aligned_u64 btf;
        __aligned_u64 btf_log_buf;
        __u32 btf_size;
        __u32 btf_log_size;
        __u32 btf_log_level;
        __u32 btf_log_true_size;
        __u32 btf_flags;
        __s32 btf_token_fd;
    };
    struct {                            /* BPF_TASK_FD_QUERY */
        __u32 pid;
        __u32 fd;
        __u32 flags;
        __u32 buf_len;
        __aligned_u64 buf;
        __u32 prog_id;
        __u32 fd_type;
        __u64 probe_offset;
        __u64 probe_addr;
    } task_fd_query;
    struct {                            /* BPF_LINK_CREATE */
        union {
            __u32 prog_fd;
            __u32 map_fd;
        };
        union {
            __u32 target_fd;
            __u32 target_ifindex;
        };
        __u32 attach_type;
        __u32 flags;
        union {
            __u32 target_btf_id;
            struct {
                __aligned_u64 iter_info;
                __u32 iter_info_len;
            };
            struct {
                __u64 bpf_cookie;
            } perf_event;
            struct {
                __u32 flags;
                __u32 cnt;
                __aligned_u64 syms;
                __aligned_u64 addrs;
                __aligned_u64 cookies;
            } kprobe_multi;
            struct {
                __u32 target_btf_id;
                __u64 cookie;
            } tracing;
            struct {
                __u32 pf;
                __u32 hooknum;
                __s32 priority;
                __u32 flags;
            } netfilter;
            struct {
                union {
                    __u32 relative_fd;
                    __u32 relative_id;
                };
                __u64 expected_revision;
            } tcx;
            struct {
                __aligned_u64 path;
                __aligned_u64 offsets;
                __aligned_u64 ref_ctr_offsets;
                __aligned_u64 cookies;
                __u32 cnt;
                __u32 flags;
                __u32 pid;
            } uprobe_multi;
            struct {
                union {
                    __u32 relative_fd;
                    __u32 relative_id;
                };
                __u64 expected_revision;
            } netkit;
            struct {
                union {
                    __u32 relative_fd;
                    __u32 relative_id;
                };
                __u64 expected_revision;
            } cgroup;
        };
    } link_create;
    struct {                            /* BPF_LINK_UPDATE */
        __u32 link_fd;
        union {
            __u32 new_prog_fd;
            __u32 new_map_fd;
        };
        __u32 flags;
        union {
            __u32 old_prog_fd;
            __u32 old_map_fd;
        };
    } link_update;
    struct {                            /* BPF_LINK_DETACH */
        __u32 link_fd;
    } link_detach;
    struct {                            /* BPF_ENABLE_STATS */
        __u32 type;
    } enable_stats;
    struct {                            /* BPF_ITER_CREATE */
        __u32 link_fd;
        __u32 flags;
    } iter_create;
    struct {                            /* BPF_PROG_BIND_MAP */
        __u32 prog_fd;
        __u32 map_fd;
        __u32 flags;
    } prog_bind_map;
    struct {                            /* BPF_TOKEN_CREATE */
        __u32 flags;
        __u32 bpffs_fd;
    } token_create;
    struct {                            /* BPF_PROG_STREAM_READ_BY_FD */
        __aligned_u64 stream_buf;
        __u32 stream_buf_len;
        __u32 stream_id;
        __u32 prog_fd;
    } prog_stream_read;
};

struct bpf_prog_info {
    __u32 type;
    __u32 id;
    __u8  tag[8];
    __u32 jited_prog_len;
    __u32 xlated_prog_len;
    __aligned_u64 jited_prog_insns;
    __aligned_u64 xlated_prog_insns;
    __u64 load_time;
    __u32 created_by_uid;
    __u32 nr_map_ids;
    __aligned_u64 map_ids;
    char  name[16];
    __u32 ifindex;
    __u32 gpl_compatible:1;
    __u32 :31;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 nr_jited_ksyms;
    __u32 nr_jited_func_lens;
    __aligned_u64 jited_ksyms;
    __aligned_u64 jited_func_lens;
    __u32 btf_id;
    __u32 func_info_rec_size;
    __aligned_u64 func_info;
    __u32 nr_func_info;
    __u32 nr_line_info;
    __aligned_u64 line_info;
    __aligned_u64 jited_line_info;
    __u32 nr_jited_line_info;
    __u32 line_info_rec_size;
    __u32 jited_line_info_rec_size;
    __u32 nr_prog_tags;
    __aligned_u64 prog_tags;
    __u64 run_time_ns;
    __u64 run_cnt;
    __u64 recursion_misses;
    __u32 verified_insns;
    __u32 attach_btf_obj_id;
    __u32 attach_btf_id;
};

struct bpf_map_info {
    __u32 type;
    __u32 id;
    __u32 key_size;
    __u32 value_size;
    __u32 max_entries;
    __u32 map_flags;
    char  name[16];
    __u32 ifindex;
    __u32 btf_vmlinux_value_type_id;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 btf_id;
    __u32 btf_key_type_id;
    __u32 btf_value_type_id;
    __u32 btf_vmlinux_id;
    __u64 map_extra;
    __aligned_u64 hash;                 /* 6.18 */
    __u32 hash_size;                    /* 6.18 */
};

struct bpf_btf_info {
    __aligned_u64 btf;
    __u32 btf_size;
    __u32 id;
    __aligned_u64 name;
    __u32 name_len;
    __u32 kernel_btf;
};

struct bpf_link_info {
    __u32 type;
    __u32 id;
    __u32 prog_id;
    union {
        struct {
            __aligned_u64 tp_name;
            __u32 tp_name_len;
            __u32 :32;
            __u64 cookie;
        } raw_tracepoint;
        struct {
            __u32 attach_type;
            __u32 target_obj_id;
            __u32 target_btf_id;
            __u32 :32;
            __u64 cookie;
        } tracing;
        struct {
            __u64 cgroup_id;
            __u32 attach_type;
        } cgroup;
        struct {
            __aligned_u64 target_name;
            __u32 target_name_len;
            union {
                struct {
                    __u32 map_id;
                } map;
            };
            union {
                struct {
                    __u64 cgroup_id;
                    __u32 order;
                } cgroup;
                struct {
                    __u32 tid;
                    __u32 pid;
                } task;
            };
        } iter;
        struct {
            __u32 netns_ino;
            __u32 attach_type;
        } netns;
        struct {
            __u32 ifindex;
        } xdp;
        struct {
            __u32 map_id;
        } struct_ops;
        struct {
            __u32 pf;
            __u32 hooknum;
            __s32 priority;
            __u32 flags;
        } netfilter;
        struct {
            __aligned_u64 addrs;
            __u32 count;
            __u32 flags;
            __u64 missed;
            __aligned_u64 cookies;
        } kprobe_multi;
        struct {
            __aligned_u64 path;
            __aligned_u64 offsets;
            __aligned_u64 ref_ctr_offsets;
            __aligned_u64 cookies;
            __u32 path_size;
            __u32 count;
            __u32 flags;
            __u32 pid;
        } uprobe_multi;
        struct {
            __u32 type;
            __u32 :32;
            union {
                struct {
                    __aligned_u64 file_name;
                    __u32 name_len;
                    __u32 offset;
                    __u64 cookie;
                    __u64 ref_ctr_offset;
                } uprobe;
                struct {
                    __aligned_u64 func_name;
                    __u32 name_len;
                    __u32 offset;
                    __u64 addr;
                    __u64 missed;
                    __u64 cookie;
                } kprobe;
                struct {
                    __aligned_u64 tp_name;
                    __u32 name_len;
                    __u32 :32;
                    __u64 cookie;
                } tracepoint;
                struct {
                    __u64 config;
                    __u32 type;
                    __u32 :32;
                    __u64 cookie;
                } event;
            };
        } perf_event;
        struct {
            __u32 ifindex;
            __u32 attach_type;
        } tcx;
        struct {
            __u32 ifindex;
            __u32 attach_type;
        } netkit;
        struct {
            __u32 map_id;
            __u32 attach_type;
        } sockmap;
    };
};

struct bpf_token_info {
    __u64 allowed_cmds;
    __u64 allowed_maps;
    __u64 allowed_progs;
    __u64 allowed_attachs;
};

struct bpf_func_info {
    __u32 insn_off;
    __u32 type_id;
};

struct bpf_line_info {
    __u32 insn_off;
    __u32 file_name_off;
    __u32 line_off;
    __u32 line_col;
};

struct bpf_core_relo {
    __u32 insn_off;
    __u32 type_id;
    __u32 access_str_off;
    enum bpf_core_relo_kind kind;
};

struct bpf_raw_tracepoint_args {
    __u64 args[0];
};

struct pt_regs {                        /* x86-64 user view, arch/x86/include/uapi/asm/ptrace.h */
    unsigned long r15;
    unsigned long r14;
    unsigned long r13;
    unsigned long r12;
    unsigned long rbp;
    unsigned long rbx;
    unsigned long r11;
    unsigned long r10;
    unsigned long r9;
    unsigned long r8;
    unsigned long rax;
    unsigned long rcx;
    unsigned long rdx;
    unsigned long rsi;
    unsigned long rdi;
    unsigned long orig_rax;
    unsigned long rip;
    unsigned long cs;
    unsigned long eflags;
    unsigned long rsp;
    unsigned long ss;
};

typedef struct pt_regs bpf_user_pt_regs_t;

struct bpf_perf_event_data {            /* include/uapi/linux/bpf_perf_event.h */
    bpf_user_pt_regs_t regs;
    __u64 sample_period;
    __u64 addr;
};
"""

CDEF = _TYPES_CDEF + _ENUM_CDEF + _STRUCT_CDEF

ffi = cffi.FFI()
ffi.cdef(CDEF)

# the structs this module defines, by C name (tests walk them all)
STRUCTS = (
    "struct bpf_insn", "union bpf_attr", "struct bpf_prog_info", "struct bpf_map_info",
    "struct bpf_btf_info", "struct bpf_link_info", "struct bpf_token_info", "struct bpf_func_info",
    "struct bpf_line_info", "struct bpf_core_relo", "struct bpf_raw_tracepoint_args",
    "struct pt_regs", "struct bpf_perf_event_data",
)
ENUMS = tuple(f"enum {e[0]}" for e in _ENUMS)

# ---------------------------------------------------------------------------------------------
# accessors

BPF_ATTR_SIZE = ffi.sizeof("union bpf_attr")   # 168 on 6.18
BPF_INSN_SIZE = ffi.sizeof("struct bpf_insn")  # 8


def attr_size() -> int:
    """sizeof(union bpf_attr) of the kernel we claim (Linux 6.18): 168."""
    return BPF_ATTR_SIZE


def new_attr():
    """A zeroed ``union bpf_attr *`` (owned by the returned cdata)."""
    return ffi.new("union bpf_attr *")


def attr_from_bytes(buf) -> "ffi.CData":
    """A new zeroed ``union bpf_attr *`` with the first ``min(len(buf), 168)`` bytes of ``buf``
    copied in: the kernel's "short attr means later fields are zero". Bytes past the union are
    ignored here (``syscall.attr.copy_attr`` applies the E2BIG rule to them)."""
    attr = new_attr()
    data = bytes(buf[:BPF_ATTR_SIZE])
    ffi.memmove(attr, data, len(data))
    return attr


def to_bytes(cdata) -> bytes:
    """The bytes of a struct/union pointer or array cdata (``bytes(ffi.buffer(cdata))``)."""
    return bytes(ffi.buffer(cdata))


def new_struct(ctype: str, data: bytes = b""):
    """A new zeroed ``ctype *`` (e.g. ``"struct bpf_prog_info"``) with ``data`` copied over its
    first bytes (truncated to the struct's size)."""
    obj = ffi.new(f"{ctype} *")
    data = bytes(data[:ffi.sizeof(ctype)])
    ffi.memmove(obj, data, len(data))
    return obj


class Field(NamedTuple):
    """One named leaf field of a struct/union, with anonymous members flattened (as C sees them)."""
    name: str        # dotted path as written in C after the struct: "link_create.uprobe_multi.pid"
    offset: int      # byte offset from the start of the outermost type
    size: int        # bytes (for a bitfield: the size of its storage unit)
    ctype: str       # cffi's C type name: "uint32_t", "char[16]", "enum bpf_core_relo_kind"
    bitshift: int    # -1 unless a bitfield
    bitsize: int     # -1 unless a bitfield
    align: int       # alignof the field's type


def _ctype(t):
    return ffi.typeof(t) if isinstance(t, str) else t


def walk_fields(ctype, prefix: str = "", base: int = 0) -> Iterator[Field]:
    """Every leaf field of ``ctype`` (a C type name or cffi ctype), recursing into named
    struct/union members; cffi already flattens anonymous members into their parent."""
    t = _ctype(ctype)
    for name, f in t.fields:
        ft = f.type
        full = f"{prefix}{name}"
        if ft.kind == "struct" or ft.kind == "union":
            yield from walk_fields(ft, full + ".", base + f.offset)
        else:
            size = ffi.sizeof(ft) if not (ft.kind == "array" and ft.length in (None, 0)) else 0
            yield Field(full, base + f.offset, size, ft.cname, f.bitshift, f.bitsize,
                        ffi.alignof(ft) if size else ffi.alignof(ft.item))


def walk_members(ctype, prefix: str = "", base: int = 0) -> Iterator[Field]:
    """Like ``walk_fields`` but also yields the named struct/union members themselves
    (``link_create``, ``link_create.uprobe_multi``), for size checks of nested aggregates."""
    t = _ctype(ctype)
    for name, f in t.fields:
        ft = f.type
        full = f"{prefix}{name}"
        if ft.kind == "struct" or ft.kind == "union":
            yield Field(full, base + f.offset, ffi.sizeof(ft), ft.cname, -1, -1, ffi.alignof(ft))
            yield from walk_members(ft, full + ".", base + f.offset)
        else:
            size = ffi.sizeof(ft) if not (ft.kind == "array" and ft.length in (None, 0)) else 0
            yield Field(full, base + f.offset, size, ft.cname, f.bitshift, f.bitsize,
                        ffi.alignof(ft) if size else ffi.alignof(ft.item))


def field(ctype, dotted: str) -> Field:
    """The field ``dotted`` ("info.info_len", "map_token_fd") of ``ctype``; KeyError if absent."""
    for fl in walk_members(ctype):
        if fl.name == dotted:
            return fl
    raise KeyError(f"{_ctype(ctype).cname} has no field {dotted!r}")


def offsetof(ctype, dotted: str) -> int:
    """C's offsetof(ctype, a.b.c)."""
    return field(ctype, dotted).offset


def offsetofend(ctype, dotted: str) -> int:
    """The kernel's offsetofend(TYPE, MEMBER): offset + size of the member."""
    fl = field(ctype, dotted)
    return fl.offset + fl.size


__all__ = [
    "ffi", "CDEF", "STRUCTS", "ENUMS", "BPF_ATTR_SIZE", "BPF_INSN_SIZE", "attr_size", "new_attr",
    "attr_from_bytes", "to_bytes", "new_struct", "Field", "walk_fields", "walk_members", "field",
    "offsetof", "offsetofend", "render_enum",
]
