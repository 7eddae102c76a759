"""perf_event_open(2) ABI as cffi cdefs: ``struct perf_event_attr``,
``struct perf_event_mmap_page``, ``struct perf_event_header``, and the numbers a BPF tracer needs
(include/uapi/linux/perf_event.h, Linux 6.18, x86-64).

The numbers (PERF_TYPE_*, PERF_SAMPLE_*, PERF_RECORD_*, PERF_FLAG_*, the PERF_EVENT_IOC_* ioctls)
live in ``kernelsim/uapi.py`` (the simulated perf events in the core need them too, and the core may
not import ``syscall``); this module re-exports them and renders the cdef enums from them. The
bitfield word of perf_event_attr is written as the uapi writes it: one ``__u64`` with 38 one- and
two-bit flags and ``__reserved_1:26``.

PMU types, on the oracle machine (Linux 6.18.44, read from /sys/bus/event_source/devices/*/type):
software 1, tracepoint 2 (= PERF_TYPE_TRACEPOINT), breakpoint 5, uprobe 8, msr 9; there is **no
kprobe PMU** there (CONFIG_KPROBES is off). The simulator's kprobe PMU type is
``PERF_PMU_TYPE_KPROBE`` = 6 (the first dynamic type, what a stock x86-64 kernel reports) and its
uprobe PMU type ``PERF_PMU_TYPE_UPROBE`` = 8 (the oracle's).

Perf ring buffer: the first page of the mmap is ``struct perf_event_mmap_page``; ``data_head`` is at
1024, ``data_tail`` 1032, ``data_offset`` 1040, ``data_size`` 1048 (sizeof is 1088); the data pages
follow (data_offset is one page when the kernel fills it in). Records start with
``struct perf_event_header {u32 type; u16 misc; u16 size;}``; a BPF output sample
(``bpf_perf_event_output``) is PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW: header, ``u32 size``, then
the raw bytes (size padded so the record is 8-aligned); a lost record is PERF_RECORD_LOST:
header, ``u64 id``, ``u64 lost``.
"""

from __future__ import annotations

import cffi

from kernelsim.uapi import (  # noqa: F401  (re-exports)
    PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_ID, PERF_EVENT_IOC_PAUSE_OUTPUT,
    PERF_EVENT_IOC_PERIOD, PERF_EVENT_IOC_REFRESH, PERF_EVENT_IOC_RESET, PERF_EVENT_IOC_SET_BPF,
    PERF_EVENT_IOC_SET_FILTER, PERF_EVENT_IOC_SET_OUTPUT, PERF_PMU_TYPE_KPROBE,
    PERF_PMU_TYPE_TRACEPOINT, PERF_PMU_TYPE_UPROBE, PERF_TYPE_MAX, PerfEventSampleFormat,
    PerfEventType, PerfFlag, PerfSwIds, PerfTypeId,
)

from . import abi as _abi

PERF_TYPE_HARDWARE = PerfTypeId.PERF_TYPE_HARDWARE
PERF_TYPE_SOFTWARE = PerfTypeId.PERF_TYPE_SOFTWARE
PERF_TYPE_TRACEPOINT = PerfTypeId.PERF_TYPE_TRACEPOINT
PERF_TYPE_HW_CACHE = PerfTypeId.PERF_TYPE_HW_CACHE
PERF_TYPE_RAW = PerfTypeId.PERF_TYPE_RAW
PERF_TYPE_BREAKPOINT = PerfTypeId.PERF_TYPE_BREAKPOINT
PERF_COUNT_SW_BPF_OUTPUT = PerfSwIds.PERF_COUNT_SW_BPF_OUTPUT
PERF_SAMPLE_RAW = PerfEventSampleFormat.PERF_SAMPLE_RAW
PERF_RECORD_SAMPLE = PerfEventType.PERF_RECORD_SAMPLE
PERF_RECORD_LOST = PerfEventType.PERF_RECORD_LOST
PERF_FLAG_FD_NO_GROUP = PerfFlag.PERF_FLAG_FD_NO_GROUP
PERF_FLAG_FD_OUTPUT = PerfFlag.PERF_FLAG_FD_OUTPUT
PERF_FLAG_PID_CGROUP = PerfFlag.PERF_FLAG_PID_CGROUP
PERF_FLAG_FD_CLOEXEC = PerfFlag.PERF_FLAG_FD_CLOEXEC

# perf_event_attr.size values (PERF_ATTR_SIZE_VER0 .. VER8)
PERF_ATTR_SIZE_VER0 = 64
PERF_ATTR_SIZE_VER8 = 136

_ENUMS = [
    ("perf_type_id", PerfTypeId, (), "PERF_TYPE_MAX"),
    ("perf_sw_ids", PerfSwIds, (), "PERF_COUNT_SW_MAX"),
    ("perf_event_type", PerfEventType, (), None),
]

_CDEF = """
struct perf_event_attr {
    __u32 type;
    __u32 size;
    __u64 config;
    union {
        __u64 sample_period;
        __u64 sample_freq;
    };
    __u64 sample_type;
    __u64 read_format;
    __u64 disabled       :  1,
          inherit        :  1,
          pinned         :  1,
          exclusive      :  1,
          exclude_user   :  1,
          exclude_kernel :  1,
          exclude_hv     :  1,
          exclude_idle   :  1,
          mmap           :  1,
          comm           :  1,
          freq           :  1,
          inherit_stat   :  1,
          enable_on_exec :  1,
          task           :  1,
          watermark      :  1,
          precise_ip     :  2,
          mmap_data      :  1,
          sample_id_all  :  1,
          exclude_host   :  1,
          exclude_guest  :  1,
          exclude_callchain_kernel : 1,
          exclude_callchain_user   : 1,
          mmap2          :  1,
          comm_exec      :  1,
          use_clockid    :  1,
          context_switch :  1,
          write_backward :  1,
          namespaces     :  1,
          ksymbol        :  1,
          bpf_event      :  1,
          aux_output     :  1,
          cgroup         :  1,
          text_poke      :  1,
          build_id       :  1,
          inherit_thread :  1,
          remove_on_exec :  1,
          sigtrap        :  1,
          __reserved_1   : 26;
    union {
        __u32 wakeup_events;
        __u32 wakeup_watermark;
    };
    __u32 bp_type;
    union {
        __u64 bp_addr;
        __u64 kprobe_func;
        __u64 uprobe_path;
        __u64 config1;
    };
    union {
        __u64 bp_len;
        __u64 kprobe_addr;
        __u64 probe_offset;
        __u64 config2;
    };
    __u64 branch_sample_type;
    __u64 sample_regs_user;
    __u32 sample_stack_user;
    __s32 clockid;
    __u64 sample_regs_intr;
    __u32 aux_watermark;
    __u16 sample_max_stack;
    __u16 __reserved_2;
    __u32 aux_sample_size;
    union {
        __u32 aux_action;
        struct {
            __u32 aux_start_paused :  1,
                  aux_pause        :  1,
                  aux_resume       :  1,
                  __reserved_3     : 29;
        };
    };
    __u64 sig_data;
    __u64 config3;
};

struct perf_event_mmap_page {
    __u32 version;
    __u32 compat_version;
    __u32 lock;
    __u32 index;
    __s64 offset;
    __u64 time_enabled;
    __u64 time_running;
    union {
        __u64 capabilities;
        struct {
            __u64 cap_bit0               : 1,
                  cap_bit0_is_deprecated : 1,
                  cap_user_rdpmc         : 1,
                  cap_user_time          : 1,
                  cap_user_time_zero     : 1,
                  cap_user_time_short    : 1,
                  cap_____res            : 58;
        };
    };
    __u16 pmc_width;
    __u16 time_shift;
    __u32 time_mult;
    __u64 time_offset;
    __u64 time_zero;
    __u32 size;
    __u32 __reserved_1;
    __u64 time_cycles;
    __u64 time_mask;
    __u8  __reserved[928];
    __u64 data_head;
    __u64 data_tail;
    __u64 data_offset;
    __u64 data_size;
    __u64 aux_head;
    __u64 aux_tail;
    __u64 aux_offset;
    __u64 aux_size;
};

struct perf_event_header {
    __u32 type;
    __u16 misc;
    __u16 size;
};
"""

CDEF = _abi._TYPES_CDEF + "".join(_abi.render_enum(*e) for e in _ENUMS) + _CDEF

ffi = cffi.FFI()
ffi.cdef(CDEF)

STRUCTS = ("struct perf_event_attr", "struct perf_event_mmap_page", "struct perf_event_header")
ENUMS = tuple(f"enum {e[0]}" for e in _ENUMS)

PERF_EVENT_ATTR_SIZE = ffi.sizeof("struct perf_event_attr")          # 136
PERF_MMAP_PAGE_DATA_HEAD = ffi.offsetof("struct perf_event_mmap_page", "data_head")      # 1024
PERF_MMAP_PAGE_DATA_TAIL = ffi.offsetof("struct perf_event_mmap_page", "data_tail")      # 1032
PERF_MMAP_PAGE_DATA_OFFSET = ffi.offsetof("struct perf_event_mmap_page", "data_offset")  # 1040
PERF_MMAP_PAGE_DATA_SIZE = ffi.offsetof("struct perf_event_mmap_page", "data_size")      # 1048


def new_perf_event_attr(**fields):
    """A zeroed ``struct perf_event_attr *`` with ``size`` set to 136 and ``fields`` assigned."""
    attr = ffi.new("struct perf_event_attr *")
    attr.size = PERF_EVENT_ATTR_SIZE
    for k, v in fields.items():
        setattr(attr, k, v)
    return attr


def walk_fields(ctype):
    """Leaf fields of a perf struct (same records as ``syscall.abi.walk_fields``)."""
    return _abi.walk_fields(ffi.typeof(ctype) if isinstance(ctype, str) else ctype)


def walk_members(ctype):
    """Fields and named nested aggregates (as ``syscall.abi.walk_members``)."""
    return _abi.walk_members(ffi.typeof(ctype) if isinstance(ctype, str) else ctype)


__all__ = [
    "ffi", "CDEF", "STRUCTS", "ENUMS", "PERF_EVENT_ATTR_SIZE", "PERF_MMAP_PAGE_DATA_HEAD",
    "PERF_MMAP_PAGE_DATA_TAIL", "PERF_MMAP_PAGE_DATA_OFFSET", "PERF_MMAP_PAGE_DATA_SIZE",
    "new_perf_event_attr", "walk_fields", "walk_members", "PERF_TYPE_TRACEPOINT",
    "PERF_TYPE_SOFTWARE", "PERF_COUNT_SW_BPF_OUTPUT", "PERF_SAMPLE_RAW", "PERF_RECORD_SAMPLE",
    "PERF_RECORD_LOST", "PERF_FLAG_FD_CLOEXEC", "PERF_EVENT_IOC_ENABLE", "PERF_EVENT_IOC_DISABLE",
    "PERF_EVENT_IOC_SET_BPF", "PERF_PMU_TYPE_KPROBE", "PERF_PMU_TYPE_UPROBE",
    "PERF_PMU_TYPE_TRACEPOINT", "PERF_EVENT_IOC_REFRESH", "PERF_EVENT_IOC_RESET",
    "PERF_EVENT_IOC_PERIOD", "PERF_EVENT_IOC_SET_OUTPUT", "PERF_EVENT_IOC_SET_FILTER",
    "PERF_EVENT_IOC_ID", "PERF_EVENT_IOC_PAUSE_OUTPUT", "PERF_TYPE_MAX", "PerfTypeId", "PerfSwIds",
    "PerfEventSampleFormat", "PerfEventType", "PerfFlag", "PERF_TYPE_HARDWARE", "PERF_TYPE_RAW",
    "PERF_TYPE_HW_CACHE", "PERF_TYPE_BREAKPOINT", "PERF_FLAG_FD_NO_GROUP", "PERF_FLAG_FD_OUTPUT",
    "PERF_FLAG_PID_CGROUP", "PERF_ATTR_SIZE_VER0", "PERF_ATTR_SIZE_VER8",
]
