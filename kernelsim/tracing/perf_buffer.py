"""A user-space perf buffer consumer: libbpf's perf_buffer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY
(tools/lib/bpf/libbpf.c perf_buffer__new / perf_buffer__open_cpu_buf / perf_buffer__poll /
perf_buffer__consume / perf_event_read_simple / perf_buffer__process_record / perf_buffer__free).

    pb = PerfBuffer(task, map_fd, on_sample, on_lost, page_cnt=8)
    kernel.call(...)                      # programs call bpf_perf_event_output(ctx, &map, ...)
    pb.poll()                             # on_sample(cpu, data, size) per record
    pb.close()

What perf_buffer__new does, through the task's own calls: for each CPU (min(max_entries,
ncpus)) a PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT event (sample_type PERF_SAMPLE_RAW,
sample_period 1, wakeup_events 1) opened with ``task.perf_event_open(attr, -1, cpu, -1,
PERF_FLAG_FD_CLOEXEC)``, its ring mapped with ``task.mmap(fd, (1 + page_cnt) * PAGE_SIZE)``,
the fd stored at key ``cpu`` of the map (the perf event array's update, as BPF_MAP_UPDATE_ELEM
does it: kernelsim.maps.map.bpf_map_update_value with the task's fd table), then
PERF_EVENT_IOC_ENABLE. ``task`` is the facade's Task (anything with those three methods).

Reading (``read_ring``): the records between the header page's ``data_tail`` and ``data_head``
(wrapping records are reassembled), then ``data_tail = data_head``. PERF_RECORD_SAMPLE calls
``sample_cb(cpu, data, size)`` with the raw bytes and the u32 size the kernel wrote (which
includes the padding to 8 bytes, as libbpf passes it on); PERF_RECORD_LOST calls
``lost_cb(cpu, lost)``. ``poll()`` returns the number of CPU buffers that had records (libbpf
returns the epoll count), ``consume()`` reads every buffer and returns 0. Errors: PerfBufferError
(an OSError with the errno). Invented names: ``read_ring``, ``PerfBufferError``.
"""

import struct

from ..memory import PAGE_SIZE
from ..uapi import (PERF_EVENT_IOC_ENABLE, PerfEventSampleFormat, PerfEventType, PerfFlag,
                    PerfSwIds, PerfTypeId)
from .perf_event import MMAP_DATA_HEAD, MMAP_DATA_TAIL, PerfEventAttr

EINVAL = 22


class PerfBufferError(OSError):
    """A perf_buffer call that failed (errno, message)."""


def read_ring(mem, data_size: int):
    """perf_event_read_simple: yield (type, record bytes) from a mapped ring (header page +
    data pages, ``mem`` a writable buffer) and advance data_tail past them."""
    head = struct.unpack_from("<Q", mem, MMAP_DATA_HEAD)[0]
    tail = struct.unpack_from("<Q", mem, MMAP_DATA_TAIL)[0]
    out = []
    while tail < head:
        hdr = _ring_bytes(mem, data_size, tail, 8)
        rtype, _misc, size = struct.unpack("<IHH", hdr)
        if size < 8:
            break
        out.append((rtype, _ring_bytes(mem, data_size, tail, size)))
        tail += size
    struct.pack_into("<Q", mem, MMAP_DATA_TAIL, tail)
    return out


def _ring_bytes(mem, data_size: int, pos: int, n: int) -> bytes:
    start = pos & (data_size - 1)
    first = bytes(mem[PAGE_SIZE + start: PAGE_SIZE + min(start + n, data_size)])
    if len(first) < n:
        first += bytes(mem[PAGE_SIZE: PAGE_SIZE + n - len(first)])
    return first


class PerfBuffer:
    """struct perf_buffer (module doc)."""

    def __init__(self, task, map_fd: int, sample_cb, lost_cb=None, page_cnt: int = 8):
        from ..maps.map import bpf_map_update_value
        from ..uapi import BpfMapType
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise PerfBufferError(EINVAL, f"page count should be power of two, but is {page_cnt}")
        self.task = task
        self.map_file = task.files.get(map_fd)
        self.map = self.map_file.obj
        if getattr(self.map, "map_type", None) != BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY:
            raise PerfBufferError(EINVAL, "map should be BPF_MAP_TYPE_PERF_EVENT_ARRAY")
        self.sample_cb, self.lost_cb = sample_cb, lost_cb
        self.page_cnt = page_cnt
        self.data_size = page_cnt * PAGE_SIZE
        self.cpu_bufs = []                   # (cpu, fd, mem)
        self.samples = self.lost = 0
        kernel = task.kernel
        attr = PerfEventAttr(type=PerfTypeId.PERF_TYPE_SOFTWARE,
                             config=PerfSwIds.PERF_COUNT_SW_BPF_OUTPUT,
                             sample_type=PerfEventSampleFormat.PERF_SAMPLE_RAW, sample_period=1,
                             wakeup_events=1, size=136).to_bytes()
        try:
            for cpu in range(min(self.map.max_entries, kernel.ncpus)):
                fd = task.perf_event_open(attr, -1, cpu, -1, PerfFlag.PERF_FLAG_FD_CLOEXEC)
                if fd < 0:
                    raise PerfBufferError(-fd, f"failed to open perf buffer event on cpu #{cpu}")
                mem = task.mmap(fd, (1 + page_cnt) * PAGE_SIZE)
                if isinstance(mem, int):
                    task.close(fd)
                    raise PerfBufferError(-mem, f"failed to mmap perf buffer on cpu #{cpu}")
                self.cpu_bufs.append((cpu, fd, mem))
                ret = task.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
                if ret < 0:
                    raise PerfBufferError(-ret, f"failed to enable perf buffer event on cpu #{cpu}")
                bpf_map_update_value(self.map, cpu.to_bytes(4, "little"), fd.to_bytes(4, "little"),
                                     0, task.files, self.map_file)
        except BaseException:
            self.close()
            raise

    def _process(self, cpu: int, mem) -> int:
        n = 0
        for rtype, rec in read_ring(mem, self.data_size):
            n += 1
            if rtype == PerfEventType.PERF_RECORD_SAMPLE:
                size = struct.unpack_from("<I", rec, 8)[0]
                self.samples += 1
                if self.sample_cb is not None:
                    self.sample_cb(cpu, rec[12:12 + size], size)
            elif rtype == PerfEventType.PERF_RECORD_LOST:
                lost = struct.unpack_from("<Q", rec, 16)[0]
                self.lost += lost
                if self.lost_cb is not None:
                    self.lost_cb(cpu, lost)
        return n

    def poll(self, timeout_ms: int = 0) -> int:
        """perf_buffer__poll: the number of CPU buffers that had records."""
        return sum(1 for cpu, _fd, mem in self.cpu_bufs if self._process(cpu, mem))

    def consume(self) -> int:
        """perf_buffer__consume: read every buffer."""
        for cpu, _fd, mem in self.cpu_bufs:
            self._process(cpu, mem)
        return 0

    def close(self) -> None:
        """perf_buffer__free: the map entries removed, the event fds closed."""
        for cpu, fd, _mem in self.cpu_bufs:
            try:
                self.map.ops.map_delete_elem(self.map, cpu.to_bytes(4, "little"))
            except Exception:           # noqa: BLE001 - an entry already gone (ENOENT)
                pass
            self.task.close(fd)
        self.cpu_bufs = []

    free = close
