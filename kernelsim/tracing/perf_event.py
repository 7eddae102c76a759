"""Perf events: the object behind a perf_event_open(2) fd, its PMUs (software, tracepoint,
kprobe), its mmap ring buffer, the BPF programs attached to it, and the perf link
(kernel/events/core.c perf_event_alloc / perf_event_set_bpf_prog / _perf_ioctl / perf_mmap /
perf_event_output, kernel/events/ring_buffer.c perf_output_begin / perf_output_end,
kernel/trace/bpf_trace.c perf_event_attach_bpf_prog / __bpf_perf_event_output,
kernel/bpf/syscall.c bpf_perf_link_attach / bpf_perf_link_lops).

The syscall layer (syscall/perf.py) copies ``struct perf_event_attr`` in and checks its size,
the permissions and the arguments; this module is what perf_event_alloc does after that:

* ``PerfEventAttr.from_bytes(buf)`` decodes the attr (the layout is the uapi struct of 6.18,
  136 bytes; the flag bits are ``ATTR_FLAG_BITS``); ``kprobe_func_name`` is set by the syscall
  from the user string at ``kprobe_func`` (config1).
* ``perf_event_alloc(kernel, attr, cpu, task, owner)`` -> ``PerfEvent``: the PMU by
  ``attr.type`` (``PMUS``: 1 software, 2 tracepoint, PERF_PMU_TYPE_KPROBE kprobe; others ENOENT),
  whose init may refuse (EINVAL unknown tracepoint id, ENOENT unknown software config, EACCES kprobe PMU
  without CAP_PERFMON, EPERM raw tracepoint samples without it under paranoid > -1, EINVAL a
  bad kprobe, EOPNOTSUPP branch sampling). Tracepoint events register the tracepoint's perf
  probe at once (so their programs run before ENABLE, as on Linux).
* ``perf_event_set_bpf_prog(event, prog, cookie)``: PERF_EVENT_IOC_SET_BPF and the perf link.
  EINVAL: the program type does not fit the event (kprobe events take KPROBE programs,
  tracepoint and syscall events TRACEPOINT programs, other events PERF_EVENT programs), a
  sleepable kprobe program, bpf_override_return outside a kprobe on the entry of an
  error-injectable function; EACCES: a tracepoint program reading past the event's last field
  (trace_event_get_offsets); EEXIST: the event already has a program, or the program is already
  in the event's prog array; E2BIG: the event (one tracepoint, shared by all its perf events)
  has BPF_TRACE_MAX_PROGS (64) programs. The prog array is appended to (the new program runs
  last).
* ioctls: ``perf_ioctl(event, cmd, arg)`` for ENABLE, DISABLE, RESET, REFRESH, PERIOD (the
  syscall passes the u64 it read), ID (returns the id), SET_OUTPUT, PAUSE_OUTPUT; SET_BPF is
  the syscall's (it resolves the fd); SET_FILTER is not modelled (EINVAL); others ENOTTY.
* ``perf_mmap(event, nr_pages)``: the ring buffer, one ``struct perf_event_mmap_page`` page and
  ``nr_pages`` (a power of two) data pages in one bytearray (``event.rb.buf``); a second mmap
  must have the same size (EINVAL otherwise). Records are written as perf_output_begin writes
  them: at ``data_head`` (the kernel's; updated in the header page at the end of each record),
  only if ``CIRC_SPACE(head, data_tail) >= size`` (``data_tail`` is the reader's, read from the
  page); a record that does not fit is lost (``rb.lost``, ``event.lost_samples``) and, once
  space is back, a PERF_RECORD_LOST {id, lost} goes in before the next record.
* BPF output: the perf event array's ``map_perf_event_output`` slot calls
  ``event.bpf_output(cpu, data)`` (maps/fd_array.py's protocol: ``kind == "perf_event"``,
  ``is_bpf_output``, ``oncpu``, ``bpf_output``, ``read_local``; the File stored is the PerfFile,
  whose ``obj`` is the event).
  EINVAL: not a PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT event; EOPNOTSUPP: the event is
  not active on ``cpu`` (disabled, another CPU, or a task event whose task is not running
  there); ENOSPC: the ring is full or not mapped (the record is counted lost). The sample is
  PERF_RECORD_SAMPLE with the fields of ``attr.sample_type`` (IDENTIFIER, IP, TID, TIME, ID,
  STREAM_ID, CPU, PERIOD, CALLCHAIN, RAW, in the uapi order); RAW is ``u32 size`` then the data,
  zero-padded so that 4 + size is a multiple of 8 (``size`` includes the padding, as
  perf_prepare_sample computes it). When something is attached to the simulated kernel function
  ``perf_event_output`` it is called on the way (its body does nothing; the sample is written
  here), so probes there nest inside the running program as they would on Linux.
* ``perf_event_get(files, fd)``: the PerfFile of a perf fd (EBADF otherwise);
  ``event.read_local()`` is EOPNOTSUPP for an inherit event (the array refuses those).

``PerfFile`` is the fd's file ("anon_inode:[perf_event]"); its release (the last fd, link or
map entry holding it) detaches the program, unregisters the probe and frees the ring.
"""

import errno
import struct

from ..bpf_objects import BpfObject, File
from ..errors import BpfError
from ..memory import PAGE_SIZE
from ..uapi import (PERF_PMU_TYPE_KPROBE, BpfLinkType, BpfPerfEventType, BpfProgType as PT,
                    PerfEventSampleFormat as S, PerfEventType, PerfSwIds, PerfTypeId)

PERF_ATTR_SIZE_VER0 = 64
PERF_ATTR_SIZE = 136                 # sizeof(struct perf_event_attr), 6.18 (VER8)
PERF_SAMPLE_MAX = 1 << 25
PERF_FORMAT_MAX = 1 << 5
PERF_SAMPLE_BRANCH_STACK = 1 << 11
PERF_SAMPLE_IDENTIFIER = 1 << 16
PERF_PROBE_CONFIG_IS_RETPROBE = 1 << 0
PERF_IOC_FLAG_GROUP = 1
PERF_EVENT_MMAP_PAGE_SIZE = 1088
MMAP_DATA_HEAD, MMAP_DATA_TAIL, MMAP_DATA_OFFSET, MMAP_DATA_SIZE = 1024, 1032, 1040, 1048
MISC_KERNEL = 1                      # PERF_RECORD_MISC_KERNEL
U64 = (1 << 64) - 1

# struct perf_event_attr (include/uapi/linux/perf_event.h, 6.18): the fixed part as one struct
# format; syscall/perf_abi.py's cdef is checked against it by the tests.
ATTR_LAYOUT = struct.Struct("<IIQQQQQIIQQQQIiQIHHIIQQ")
ATTR_FIELDS = ("type", "size", "config", "sample_period", "sample_type", "read_format", "flags",
               "wakeup_events", "bp_type", "config1", "config2", "branch_sample_type",
               "sample_regs_user", "sample_stack_user", "clockid", "sample_regs_intr",
               "aux_watermark", "sample_max_stack", "reserved_2", "aux_sample_size",
               "aux_action", "sig_data", "config3")
# The bit of each one-bit (or two-bit: precise_ip) flag in the flags word; bits 38..63 are
# __reserved_1 (must be 0).
ATTR_FLAG_BITS = {name: i for i, name in enumerate((
    "disabled", "inherit", "pinned", "exclusive", "exclude_user", "exclude_kernel",
    "exclude_hv", "exclude_idle", "mmap", "comm", "freq", "inherit_stat", "enable_on_exec",
    "task", "watermark"))}
ATTR_FLAG_BITS.update({"precise_ip": 15})
ATTR_FLAG_BITS.update({name: 17 + i for i, name in enumerate((
    "mmap_data", "sample_id_all", "exclude_host", "exclude_guest", "exclude_callchain_kernel",
    "exclude_callchain_user", "mmap2", "comm_exec", "use_clockid", "context_switch",
    "write_backward", "namespaces", "ksymbol", "bpf_event", "aux_output", "cgroup", "text_poke",
    "build_id", "inherit_thread", "remove_on_exec", "sigtrap"))})
RESERVED_1_MASK = U64 & ~((1 << 38) - 1)
RESERVED_3_MASK = 0xFFFFFFF8         # aux_action bits 3..31


class PerfEventAttr:
    """struct perf_event_attr, decoded. Fields by their uapi names; the union members
    ``sample_freq`` (= sample_period), ``kprobe_func`` / ``uprobe_path`` / ``bp_addr`` (=
    config1), ``kprobe_addr`` / ``probe_offset`` / ``bp_len`` (= config2), ``wakeup_watermark``
    (= wakeup_events) read the same words; each flag bit is a property."""

    __slots__ = ATTR_FIELDS + ("kprobe_func_name",)

    def __init__(self, **fields):
        for name in ATTR_FIELDS:
            setattr(self, name, 0)
        self.kprobe_func_name = None          # the string at kprobe_func (syscall-copied)
        for k, v in fields.items():
            if k in ATTR_FLAG_BITS:
                self.set_flag(k, v)
            else:
                setattr(self, _ALIASES.get(k, k), v)

    @classmethod
    def from_bytes(cls, data: bytes) -> "PerfEventAttr":
        data = bytes(data[:PERF_ATTR_SIZE]).ljust(PERF_ATTR_SIZE, b"\0")
        attr = cls()
        for name, v in zip(ATTR_FIELDS, ATTR_LAYOUT.unpack(data)):
            setattr(attr, name, v)
        return attr

    def to_bytes(self) -> bytes:
        return ATTR_LAYOUT.pack(*(getattr(self, n) for n in ATTR_FIELDS))

    def flag(self, name: str) -> int:
        bit = ATTR_FLAG_BITS[name]
        width = 2 if name == "precise_ip" else 1
        return (self.flags >> bit) & ((1 << width) - 1)

    def set_flag(self, name: str, value: int) -> None:
        bit = ATTR_FLAG_BITS[name]
        width = 2 if name == "precise_ip" else 1
        mask = ((1 << width) - 1) << bit
        self.flags = (self.flags & ~mask) | ((int(value) << bit) & mask)

    def __getattr__(self, name):
        if name in ATTR_FLAG_BITS:
            return self.flag(name)
        if name in _ALIASES:
            return getattr(self, _ALIASES[name])
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"PerfEventAttr(type={self.type}, config={self.config:#x}, sample_type={self.sample_type:#x})"


_ALIASES = {"sample_freq": "sample_period", "kprobe_func": "config1", "uprobe_path": "config1",
            "bp_addr": "config1", "kprobe_addr": "config2", "probe_offset": "config2",
            "bp_len": "config2", "wakeup_watermark": "wakeup_events"}


# -- the ring buffer (struct perf_buffer) ---------------------------------------------------------


class PerfRingBuffer:
    """The mmap'ed ring of one event (kernel/events/ring_buffer.c): ``buf`` is the user page
    followed by the data pages; ``head`` is the kernel's write position (free-running)."""

    def __init__(self, nr_pages: int):
        self.nr_pages = nr_pages
        self.data_size = nr_pages * PAGE_SIZE
        self.buf = bytearray((1 + nr_pages) * PAGE_SIZE)
        self.head = 0
        self.lost = 0
        self.paused = False
        self.mmap_count = 1
        self.user_addr = None             # where sys_mmap mapped it in the owner's memory
        struct.pack_into("<QQ", self.buf, MMAP_DATA_OFFSET, PAGE_SIZE, self.data_size)
        struct.pack_into("<I", self.buf, 0, 0)                        # version
        struct.pack_into("<H", self.buf, 48, 0)                       # pmc_width

    @property
    def data_tail(self) -> int:
        return struct.unpack_from("<Q", self.buf, MMAP_DATA_TAIL)[0]

    @property
    def data_head(self) -> int:
        return struct.unpack_from("<Q", self.buf, MMAP_DATA_HEAD)[0]

    def space(self) -> int:
        """CIRC_SPACE(head, tail, size): what a writer may still use."""
        if not self.data_size:
            return 0
        return (self.data_tail - (self.head + 1)) & (self.data_size - 1)

    def _copy(self, data: bytes) -> None:
        size = self.data_size
        off = self.head & (size - 1)
        first = min(len(data), size - off)
        base = PAGE_SIZE
        self.buf[base + off: base + off + first] = data[:first]
        if first < len(data):
            self.buf[base: base + len(data) - first] = data[first:]
        self.head += len(data)

    def output(self, event, record: bytes) -> bool:
        """perf_output_begin + copy + perf_output_end for one record (8-aligned). False when it
        was lost."""
        if self.paused or not self.data_size:
            if self.data_size:
                self.lost += 1
            event.lost_samples += 1
            return False
        lost_rec = b""
        if self.lost:
            lost_rec = struct.pack("<IHHQQ", PerfEventType.PERF_RECORD_LOST, 0, 24, event.id,
                                   self.lost)
        need = len(lost_rec) + len(record)
        if self.space() < need:
            self.lost += 1
            event.lost_samples += 1
            return False
        if lost_rec:
            self._copy(lost_rec)
            self.lost = 0
        self._copy(record)
        struct.pack_into("<Q", self.buf, MMAP_DATA_HEAD, self.head)
        event.wakeup_pending += 1
        return True


# -- the event ----------------------------------------------------------------------------------


class PerfEvent:
    """struct perf_event. ``pmu`` is "software" | "tracepoint" | "kprobe"; ``tp_event`` the
    TraceEvent (tracepoints.py) or KprobeEvent (kprobes.py) of a tracing event; ``prog`` and
    ``bpf_cookie`` the program attached to it (event->prog)."""

    def __init__(self, kernel, attr: PerfEventAttr, cpu: int, task=None, owner=None):
        self.kernel = kernel
        self.attr = attr
        self.cpu = cpu
        self.task = task                  # the task it follows (pid != -1), or None
        self.owner = owner                # the task that opened it
        self.pmu = None
        self.tp_event = None
        self.prog = None
        self.bpf_cookie = 0
        self.enabled = not attr.disabled
        self.count = 0
        self.lost_samples = 0
        self.wakeup_pending = 0
        self.rb = None
        self.output_event = None          # PERF_EVENT_IOC_SET_OUTPUT target
        self.destroy = None               # the PMU's destructor
        self.released = False
        kernel.subsys["perf_event_id"] = kernel.subsys.get("perf_event_id", 0) + 1
        self.id = kernel.subsys["perf_event_id"]

    # -- state ----------------------------------------------------------------------------------

    kind = "perf_event"                   # how the perf event array recognises one (perf_fops)

    def active_on(self, cpu: int) -> bool:
        """Whether the event is active (scheduled in) on ``cpu``."""
        if not self.enabled or self.released:
            return False
        if self.cpu >= 0:
            return self.cpu == cpu
        if self.task is not None:
            return self.kernel.cpus[cpu].current is self.task
        return False

    counts_on = active_on

    @property
    def oncpu(self) -> int:
        """event->oncpu: the CPU the event is active on, -1 if none."""
        if self.cpu >= 0:
            return self.cpu if self.active_on(self.cpu) else -1
        for c in range(self.kernel.ncpus):
            if self.active_on(c):
                return c
        return -1

    @property
    def is_bpf_output(self) -> bool:
        a = self.attr
        return a.type == PerfTypeId.PERF_TYPE_SOFTWARE and a.config == PerfSwIds.PERF_COUNT_SW_BPF_OUTPUT

    def read_local(self):
        """perf_event_read_local: (value, enabled, running); EOPNOTSUPP for an inherit event
        (the refusal the perf event array cares about)."""
        if self.attr.inherit:
            raise BpfError(errno.EOPNOTSUPP, "inherit events cannot be read from atomic context")
        return self.count, 0, 0

    def is_sampling(self) -> bool:
        return self.attr.sample_period != 0

    # -- output ---------------------------------------------------------------------------------

    def _ring(self):
        ev = self.output_event or self
        return ev.rb, ev

    def sample_record(self, raw: bytes | None, ip: int, task, cpu: int, chain=()) -> bytes:
        """perf_prepare_sample + perf_output_sample: PERF_RECORD_SAMPLE with the sample_type
        fields in uapi order."""
        st = self.attr.sample_type
        out = bytearray()
        pid = task.tgid if task is not None else 0
        tid = task.pid if task is not None else 0
        if st & PERF_SAMPLE_IDENTIFIER:
            out += struct.pack("<Q", self.id)
        if st & S.PERF_SAMPLE_IP:
            out += struct.pack("<Q", ip & U64)
        if st & S.PERF_SAMPLE_TID:
            out += struct.pack("<II", pid, tid)
        if st & S.PERF_SAMPLE_TIME:
            out += struct.pack("<Q", self.kernel.clock.ns)
        if st & S.PERF_SAMPLE_ADDR:
            out += struct.pack("<Q", 0)
        if st & S.PERF_SAMPLE_ID:
            out += struct.pack("<Q", self.id)
        if st & S.PERF_SAMPLE_STREAM_ID:
            out += struct.pack("<Q", self.id)
        if st & S.PERF_SAMPLE_CPU:
            out += struct.pack("<II", cpu, 0)
        if st & S.PERF_SAMPLE_PERIOD:
            out += struct.pack("<Q", self.attr.sample_period)
        if st & S.PERF_SAMPLE_CALLCHAIN:
            ips = list(chain)[:self.kernel.sysctl["kernel.perf_event_max_stack"]]
            out += struct.pack("<Q", len(ips)) + b"".join(struct.pack("<Q", i & U64) for i in ips)
        if st & S.PERF_SAMPLE_RAW:
            raw = raw or b""
            padded = ((len(raw) + 4 + 7) & ~7) - 4
            out += struct.pack("<I", padded) + raw + bytes(padded - len(raw))
        header = struct.pack("<IHH", PerfEventType.PERF_RECORD_SAMPLE, MISC_KERNEL, 8 + len(out))
        return header + bytes(out)

    def emit_sample(self, raw, ip, task, cpu, chain=()) -> int:
        """Write one sample into the ring (or the SET_OUTPUT target's). 0 or -ENOSPC."""
        rb, owner = self._ring()
        if rb is None:
            self.lost_samples += 1
            return -errno.ENOSPC
        rec = self.sample_record(raw, ip, task, cpu, chain)
        if len(rec) > 0xFFFF:
            return -errno.E2BIG
        return 0 if rb.output(owner, rec) else -errno.ENOSPC

    def bpf_output(self, cpu: int, data: bytes, ip: int = 0, task=..., chain=()) -> None:
        """__bpf_perf_event_output for this event (the perf event array's slot calls it after
        its own checks). Raises BpfError: EINVAL not a BPF output event, EOPNOTSUPP not active
        on ``cpu``, ENOSPC ring full or unmapped (the sample is counted lost)."""
        if not self.is_bpf_output:
            raise BpfError(errno.EINVAL, "not a BPF output event")
        if not self.active_on(cpu):
            raise BpfError(errno.EOPNOTSUPP, f"event not active on cpu {cpu}")
        if task is ...:
            task = self.kernel.cpus[cpu].current
        fn = self.kernel.functions.get("perf_event_output")
        if fn is not None and (fn.ftrace_ops or fn.direct is not None):
            # the kernel function the record goes through: probes on it nest inside the
            # running program (the recursion rules of kprobes.py apply)
            self.kernel.call(fn, 0, 0, 0, cpu=cpu)
        self.count += 1
        err = self.emit_sample(data, ip, task, cpu, chain)
        if err:
            raise BpfError(-err, "perf ring buffer full")

    bpf_perf_event_output = bpf_output

    def tp_event_output(self, raw: bytes, regs: int, task, cpu: int, chain=()) -> None:
        """perf_tp_event for this event: count it, and sample when it samples."""
        self.count += 1
        if self.is_sampling():
            self.emit_sample(raw, _regs_ip(self.kernel, regs), task, cpu, chain)

    # -- lifetime -------------------------------------------------------------------------------

    def release(self) -> None:
        """perf_event_release_kernel: drop the program, the probe, the ring."""
        if self.released:
            return
        perf_event_free_bpf_prog(self)
        if self.destroy is not None:
            self.destroy(self)
        self.released = True
        self.enabled = False
        self.rb = None

    def __repr__(self) -> str:
        what = getattr(self.tp_event, "name", "") or f"config={self.attr.config:#x}"
        return f"<PerfEvent id={self.id} {self.pmu} {what} cpu={self.cpu}>"


def _regs_ip(kernel, regs: int) -> int:
    from .pt_regs import PT_REGS
    if not regs:
        return 0
    lay = PT_REGS[kernel.arch]
    return kernel.mem.load(regs + lay.offset(lay.ip), lay.word)


class PerfFile(File):
    """The file of a perf event fd."""

    def __init__(self, event: PerfEvent):
        super().__init__(event, name="anon_inode:[perf_event]")
        self.event = event

    def release(self) -> None:
        self.event.release()


def perf_event_get(files, fd: int) -> PerfFile:
    """perf_event_get: the PerfFile of ``fd`` (EBADF: not open, or not a perf event)."""
    file = files.get(fd)
    if not isinstance(file, PerfFile):
        raise BpfError(errno.EBADF, f"fd {fd} is not a perf event")
    return file


# -- PMUs -----------------------------------------------------------------------------------------


def perf_swevent_init(event: PerfEvent) -> None:
    """kernel/events/core.c perf_swevent_init (+ the cpu/task clock PMUs): any perf_sw_ids."""
    if event.attr.config > max(PerfSwIds):
        raise BpfError(errno.ENOENT, f"no software event {event.attr.config}")
    if event.attr.sample_type & PERF_SAMPLE_BRANCH_STACK:
        raise BpfError(errno.EOPNOTSUPP, "no branch sampling")
    event.pmu = "software"


def perf_tp_event_init(event: PerfEvent) -> None:
    """perf_tp_event_init -> perf_trace_init -> perf_trace_event_init (trace_event_perf.c)."""
    from .tracepoints import tracepoints_of
    a = event.attr
    if a.sample_type & PERF_SAMPLE_BRANCH_STACK:
        raise BpfError(errno.EOPNOTSUPP, "no branch sampling for tracepoint events")
    cat = tracepoints_of(event.kernel)
    ev = cat.by_id.get(a.config)
    if ev is None:
        raise BpfError(errno.EINVAL, f"no trace event with id {a.config}")   # perf_trace_init
    perf_trace_event_perm(event)
    event.pmu = "tracepoint"
    event.tp_event = ev
    ev.perf_events.append(event)
    cat.perf_trace_event_reg(ev)

    def destroy(e):
        if e in ev.perf_events:
            ev.perf_events.remove(e)
        cat.perf_trace_event_unreg(ev)
    event.destroy = destroy


def perf_trace_event_perm(event: PerfEvent) -> None:
    """Raw tracepoint samples leak kernel data: a sampling event with PERF_SAMPLE_RAW needs
    CAP_PERFMON unless kernel.perf_event_paranoid is -1 (EPERM)."""
    a = event.attr
    if not a.sample_period or not a.sample_type & S.PERF_SAMPLE_RAW:
        return
    cred = getattr(event.owner, "cred", None)
    privileged = cred is None or cred.perfmon_capable()
    if event.kernel.sysctl["kernel.perf_event_paranoid"] > -1 and not privileged:
        raise BpfError(errno.EPERM, "raw tracepoint samples need CAP_PERFMON")


def perf_kprobe_event_init(event: PerfEvent) -> None:
    """perf_kprobe_event_init -> perf_kprobe_init: EACCES without CAP_PERFMON; the local trace
    kprobe (kprobes.create_local_trace_kprobe) at kprobe_func + probe_offset or kprobe_addr;
    ``config`` bit 0 (format/retprobe = config:0) makes it a kretprobe."""
    from .kprobes import create_local_trace_kprobe, destroy_local_trace_kprobe
    a = event.attr
    cred = getattr(event.owner, "cred", None)
    if cred is not None and not cred.perfmon_capable():
        raise BpfError(errno.EACCES, "the kprobe PMU needs CAP_PERFMON")
    if a.sample_type & PERF_SAMPLE_BRANCH_STACK:
        raise BpfError(errno.EOPNOTSUPP, "no branch sampling for probe events")
    is_ret = bool(a.config & PERF_PROBE_CONFIG_IS_RETPROBE)
    func = a.kprobe_func_name
    if callable(func):                     # the syscall's strndup_user, after the check above
        func = a.kprobe_func_name = func()
    func = func or None
    addr = 0 if func else a.config2
    offs = a.config2 if func else 0
    kev = create_local_trace_kprobe(event.kernel, func, addr, offs, is_ret)
    event.pmu = "kprobe"
    event.tp_event = kev
    kev.perf_events.append(event)

    def destroy(e):
        if e in kev.perf_events:
            kev.perf_events.remove(e)
        destroy_local_trace_kprobe(kev)
    event.destroy = destroy


# perf_event_attr.type -> the PMU's event_init (the pmu idr). Hardware, raw, cache and
# breakpoint PMUs are not simulated: ENOENT, as on a machine without them.
PMUS = {
    PerfTypeId.PERF_TYPE_SOFTWARE: perf_swevent_init,
    PerfTypeId.PERF_TYPE_TRACEPOINT: perf_tp_event_init,
    PERF_PMU_TYPE_KPROBE: perf_kprobe_event_init,
}


def perf_event_alloc(kernel, attr: PerfEventAttr, cpu: int, task=None, owner=None) -> PerfEvent:
    """perf_event_alloc + perf_init_event (module doc). EINVAL: cpu out of range (-1 only with
    a task); ENOENT: no such PMU."""
    if not 0 <= cpu < kernel.ncpus and not (task is not None and cpu == -1):
        raise BpfError(errno.EINVAL, f"bad cpu {cpu}")
    init = PMUS.get(attr.type)
    if init is None:
        raise BpfError(errno.ENOENT, f"no PMU of type {attr.type}")
    event = PerfEvent(kernel, attr, cpu, task, owner)
    init(event)
    kernel.log.info("perf_event_open", id=event.id, pmu=event.pmu, cpu=cpu,
                    pid=getattr(task, "pid", -1))
    return event


# -- BPF programs on events -----------------------------------------------------------------------


def prog_calls_override_return(prog) -> bool:
    """prog->kprobe_override: the verifier sets it when the program calls bpf_override_return."""
    cached = getattr(prog.aux, "kprobe_override", None)
    if cached is not None:
        return bool(cached)
    for insn in prog.insnsi:
        if insn.code == 0x85 and insn.src == 0 and insn.imm == 58:
            return True
    return False


def perf_event_set_bpf_prog(event: PerfEvent, prog, bpf_cookie: int = 0) -> None:
    """kernel/events/core.c perf_event_set_bpf_prog (module doc). Does not take a reference:
    the caller's reference becomes the event's."""
    tp = event.tp_event
    if tp is None:
        # perf_event_set_bpf_handler: a perf_event program on a sampling event
        if prog.type != PT.BPF_PROG_TYPE_PERF_EVENT:
            raise BpfError(errno.EINVAL, "only perf_event programs attach to this event")
        if event.prog is not None:
            raise BpfError(errno.EEXIST, "the event already has a program")
        event.prog, event.bpf_cookie = prog, bpf_cookie & U64
        return
    is_kprobe = event.pmu == "kprobe" or getattr(tp, "is_kprobe", False)
    if is_kprobe and prog.type != PT.BPF_PROG_TYPE_KPROBE:
        raise BpfError(errno.EINVAL, "kprobe events take kprobe programs")
    if not is_kprobe and prog.type != PT.BPF_PROG_TYPE_TRACEPOINT:
        raise BpfError(errno.EINVAL, "tracepoint events take tracepoint programs")
    if prog.type == PT.BPF_PROG_TYPE_KPROBE and prog.aux.sleepable:
        raise BpfError(errno.EINVAL, "only uprobe programs may be sleepable")
    override = prog_calls_override_return(prog)
    if override and not is_kprobe:
        raise BpfError(errno.EINVAL, "bpf_override_return only works on kprobes")
    if not is_kprobe and prog.aux.max_ctx_offset > tp.max_offset():
        raise BpfError(errno.EACCES, f"program reads past the end of the {tp.name} record")
    perf_event_attach_bpf_prog(event, prog, bpf_cookie, override)


def perf_event_attach_bpf_prog(event: PerfEvent, prog, bpf_cookie: int, override: bool = False) -> None:
    """bpf_trace.c perf_event_attach_bpf_prog."""
    tp = event.tp_event
    if override and not (getattr(tp, "on_func_entry", False) and getattr(tp, "error_injectable", False)):
        raise BpfError(errno.EINVAL, "bpf_override_return needs a kprobe on the entry of an "
                                     "error-injectable function")
    if event.prog is not None:
        raise BpfError(errno.EEXIST, "the event already has a program")
    from .tracepoints import BPF_TRACE_MAX_PROGS
    if len(tp.prog_array) >= BPF_TRACE_MAX_PROGS:
        raise BpfError(errno.E2BIG, f"{BPF_TRACE_MAX_PROGS} programs already on {tp.name}")
    if any(p is prog for p, _ in tp.prog_array):
        raise BpfError(errno.EEXIST, "the program is already attached to this event")
    event.prog, event.bpf_cookie = prog, bpf_cookie & U64
    tp.prog_array = tp.prog_array + [(prog, event.bpf_cookie)]
    event.kernel.log.info("prog_attach", prog_id=prog.id, perf_event=event.id,
                          trace_event=getattr(tp, "name", ""))


def perf_event_free_bpf_prog(event: PerfEvent) -> None:
    """perf_event_free_bpf_prog / perf_event_detach_bpf_prog: out of the prog array; the
    event's reference on the program dropped."""
    prog = event.prog
    if prog is None:
        return
    tp = event.tp_event
    if tp is not None:
        items = list(tp.prog_array)
        for i, (p, c) in enumerate(items):
            if p is prog:
                del items[i]
                break
        tp.prog_array = items
    event.prog = None
    event.bpf_cookie = 0
    prog.put()


# -- ioctl and mmap ---------------------------------------------------------------------------------


def perf_ioctl(event: PerfEvent, cmd: int, arg: int = 0, files=None) -> int:
    """_perf_ioctl for everything but SET_BPF (module doc). Returns the ioctl's result."""
    from ..uapi import (PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_ID,
                        PERF_EVENT_IOC_PAUSE_OUTPUT, PERF_EVENT_IOC_PERIOD, PERF_EVENT_IOC_REFRESH,
                        PERF_EVENT_IOC_RESET, PERF_EVENT_IOC_SET_FILTER, PERF_EVENT_IOC_SET_OUTPUT)
    if cmd == PERF_EVENT_IOC_ENABLE:
        event.enabled = True
        return 0
    if cmd == PERF_EVENT_IOC_DISABLE:
        event.enabled = False
        return 0
    if cmd == PERF_EVENT_IOC_RESET:
        event.count = 0
        return 0
    if cmd == PERF_EVENT_IOC_REFRESH:
        if event.attr.inherit or not event.is_sampling():
            raise BpfError(errno.EINVAL, "refresh needs a sampling, non-inherit event")
        event.enabled = True
        return 0
    if cmd == PERF_EVENT_IOC_PERIOD:
        if not event.is_sampling():
            raise BpfError(errno.EINVAL, "not a sampling event")
        if not arg or arg & (1 << 63):
            raise BpfError(errno.EINVAL, "bad period")
        event.attr.sample_period = arg
        return 0
    if cmd == PERF_EVENT_IOC_ID:
        return event.id
    if cmd == PERF_EVENT_IOC_SET_OUTPUT:
        if arg in (-1, 0xFFFFFFFF, U64):
            event.output_event = None
            return 0
        target = perf_event_get(files, arg).event
        if target is event:
            return 0
        if target.cpu != event.cpu or target.rb is None:
            raise BpfError(errno.EINVAL, "output event on another CPU or without a buffer")
        event.output_event = target
        return 0
    if cmd == PERF_EVENT_IOC_PAUSE_OUTPUT:
        if event.rb is None:
            raise BpfError(errno.EINVAL, "no ring buffer")
        event.rb.paused = bool(arg)
        return 0
    if cmd == PERF_EVENT_IOC_SET_FILTER:
        raise BpfError(errno.EINVAL, "event filters are not simulated")
    raise BpfError(errno.ENOTTY, f"unknown perf ioctl {cmd:#x}")


def perf_mmap(event: PerfEvent, nr_pages: int) -> PerfRingBuffer:
    """perf_mmap: the user page + ``nr_pages`` data pages (0 or a power of two; EINVAL
    otherwise, or when a ring of another size exists)."""
    if nr_pages < 0 or (nr_pages and nr_pages & (nr_pages - 1)):
        raise BpfError(errno.EINVAL, "the data area must be a power of two pages")
    if event.rb is not None:
        if event.rb.nr_pages != nr_pages:
            raise BpfError(errno.EINVAL, "already mapped with another size")
        event.rb.mmap_count += 1
        return event.rb
    if event.output_event is not None:
        raise BpfError(errno.EINVAL, "output redirected (SET_OUTPUT)")
    event.rb = PerfRingBuffer(nr_pages)
    return event.rb


# -- the perf link (BPF_LINK_CREATE with BPF_PERF_EVENT) -------------------------------------------


class BpfPerfLink(BpfObject):
    """struct bpf_perf_link: a link holding the perf event's file."""

    kind = "link"
    type = BpfLinkType.BPF_LINK_TYPE_PERF_EVENT
    detach = None
    update_prog = None

    def __init__(self, kernel, prog, perf_file: PerfFile):
        super().__init__(kernel)
        self.prog = prog
        self.perf_file = perf_file
        self.attached = False

    @property
    def link_type(self) -> int:
        return self.type

    @property
    def event(self) -> PerfEvent:
        return self.perf_file.event

    def release(self) -> None:
        """bpf_perf_link_release: perf_event_free_bpf_prog, then the file reference."""
        if self.attached:
            self.attached = False
            perf_event_free_bpf_prog(self.perf_file.event)     # drops the event's reference
            self.perf_file.put()

    def free(self) -> None:
        self.release()
        if self.prog is not None:
            prog, self.prog = self.prog, None
            prog.put()

    def fill_link_info(self, view=None) -> dict:
        """bpf_perf_link_fill_link_info: the ``perf_event`` member of struct bpf_link_info.
        ``view``: the info being filled (``get``, ``copy_to_user``, optional ``cred`` for
        kallsyms_show_value); returns the fields to set (full dotted names)."""
        from .raw_tp import bpf_copy_to_user
        get = view.get if view is not None else (lambda name: 0)
        ev = self.perf_file.event
        prog = ev.prog
        if prog is None:
            raise BpfError(errno.ENOENT, "the event has no program")
        pe = "perf_event."
        if prog.type == PT.BPF_PROG_TYPE_TRACEPOINT:
            uname, ulen = get(pe + "tracepoint.tp_name"), get(pe + "tracepoint.name_len")
            name = ev.tp_event.tp_name.encode()
            _fill_name(view, uname, ulen, name, bpf_copy_to_user)
            return {pe + "type": BpfPerfEventType.BPF_PERF_EVENT_TRACEPOINT,
                    pe + "tracepoint.name_len": len(name) + 1,
                    pe + "tracepoint.cookie": ev.bpf_cookie}
        if prog.type == PT.BPF_PROG_TYPE_KPROBE:
            kp = ev.tp_event
            uname, ulen = get(pe + "kprobe.func_name"), get(pe + "kprobe.name_len")
            name = kp.symbol.encode() if kp.symbol else None
            _fill_name(view, uname, ulen, name, bpf_copy_to_user)
            show = kallsyms_show_value(self.kernel, getattr(view, "cred", None))
            return {pe + "type": BpfPerfEventType.BPF_PERF_EVENT_KRETPROBE if kp.is_return
                    else BpfPerfEventType.BPF_PERF_EVENT_KPROBE,
                    pe + "kprobe.name_len": len(name) + 1 if name else 1,
                    pe + "kprobe.offset": kp.offset,
                    pe + "kprobe.addr": (0 if kp.symbol else kp.addr) if show else 0,
                    pe + "kprobe.missed": kp.missed, pe + "kprobe.cookie": ev.bpf_cookie}
        if prog.type == PT.BPF_PROG_TYPE_PERF_EVENT:
            return {pe + "type": BpfPerfEventType.BPF_PERF_EVENT_EVENT,
                    pe + "event.config": ev.attr.config, pe + "event.type": ev.attr.type,
                    pe + "event.cookie": ev.bpf_cookie}
        raise BpfError(errno.EOPNOTSUPP, "no link info for this program type")

    def show_fdinfo(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<BpfPerfLink id={self.id} prog={getattr(self.prog, 'id', 0)} {self.perf_file.event!r}>"


def kallsyms_show_value(kernel, cred) -> bool:
    """kernel/ksyms_common.c kallsyms_show_value: kptr_restrict 0 with perf_event_paranoid <= 1,
    or CAP_SYSLOG (kptr_restrict <= 1). ``cred`` None: the kernel itself (shown)."""
    if cred is None:
        return True
    restrict = kernel.sysctl["kernel.kptr_restrict"]
    if restrict == 0 and kernel.sysctl["kernel.perf_event_paranoid"] <= 1:
        return True
    return restrict <= 1 and cred.capable("CAP_SYSLOG")


def _fill_name(user, uname, ulen, name, copy):
    """bpf_perf_link_fill_common's string rules (EINVAL when only one of ptr/len is set)."""
    if bool(uname) != bool(ulen):
        raise BpfError(errno.EINVAL, "name pointer and length must be both set or both 0")
    if not uname:
        return
    if name is None:
        user.copy_to_user(uname, b"\0")
    else:
        copy(user, uname, name, ulen)


def bpf_perf_link_attach(kernel, prog, files, target_fd: int, flags: int = 0,
                         bpf_cookie: int = 0, alloc_id: bool = True) -> BpfPerfLink:
    """syscall.c bpf_perf_link_attach: EINVAL for non-zero flags, EBADF when target_fd is not a
    perf event, then perf_event_set_bpf_prog's refusals. The link owns the caller's program
    reference and a reference on the perf file; the event holds one more on the program."""
    if flags:
        raise BpfError(errno.EINVAL, "link_create.flags must be 0")
    perf_file = perf_event_get(files, target_fd)
    perf_file.get()
    link = BpfPerfLink(kernel, prog, perf_file)
    if alloc_id:
        link.alloc_id()
    try:
        perf_event_set_bpf_prog(perf_file.event, prog, bpf_cookie)
    except BaseException:
        if link.id:
            kernel.idr["link"].remove(link.id)
            link.id = 0
        link.prog = None
        perf_file.put()
        raise
    prog.get()                            # perf_event_set_bpf_prog takes none of its own
    link.attached = True
    return link
