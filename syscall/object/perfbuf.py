"""Perf buffer consumer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY (tools/lib/bpf/libbpf.c
perf_buffer__new, perf_buffer__open_cpu_buf, perf_buffer__poll, perf_buffer__consume,
perf_event_read_simple / perf_buffer__process_record).

For every CPU libbpf opens a ``PERF_COUNT_SW_BPF_OUTPUT`` software event (sample_type
PERF_SAMPLE_RAW, sample_period 1, wakeup_events 1), mmaps ``1 + page_cnt`` pages of it, stores
the event fd in the map at index ``cpu`` (BPF_MAP_UPDATE_ELEM) and enables it. Reading walks the
records between the mmap page's ``data_tail`` and ``data_head`` (syscall/perf_abi.py has the
layout): PERF_RECORD_SAMPLE carries ``u32 size`` and the bytes ``bpf_perf_event_output`` wrote;
PERF_RECORD_LOST ``u64 id, u64 lost``; ``data_tail`` is then advanced.

This needs ``task.perf_event_open`` and ``task.mmap(fd, length)`` (a writable buffer over the
event's pages), which kernelsim's perf-event work provides; without them ``PerfBuffer`` raises
EOPNOTSUPP naming what is missing.
"""

from __future__ import annotations

import errno
import struct

from kernelsim.uapi import PERF_EVENT_IOC_ENABLE, BpfMapType, PerfFlag

from .errors import BpfObjectError, errno_name

PAGE_SIZE = 4096
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
DATA_HEAD, DATA_TAIL = 1024, 1032


class _CpuBuf:
    def __init__(self, cpu: int, fd: int, mem, data_size: int):
        self.cpu, self.fd, self.mem, self.data_size = cpu, fd, mem, data_size


class PerfBuffer:
    """struct perf_buffer."""

    def __init__(self, obj, map_, callback, lost_callback=None, page_cnt: int = 8):
        from syscall import perf_abi
        self.obj = obj
        self.map = map_
        self.callback = callback
        self.lost_callback = lost_callback
        self.bufs: list[_CpuBuf] = []
        task = obj.task
        if map_.type != BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY:
            raise BpfObjectError(errno.EINVAL, f"map '{map_.name}' should be "
                                 "BPF_MAP_TYPE_PERF_EVENT_ARRAY", map=map_.name)
        if page_cnt & (page_cnt - 1) or page_cnt <= 0:
            raise BpfObjectError(errno.EINVAL, f"page count should be power of two, but is "
                                 f"{page_cnt}", map=map_.name)
        for need in ("perf_event_open", "ioctl", "mmap"):
            if not hasattr(task, need):
                raise BpfObjectError(errno.EOPNOTSUPP, f"perf buffers need task.{need}(), which "
                                     "this kernelsim does not provide yet", map=map_.name)
        ncpus = min(map_.max_entries, map_.ncpus)
        try:
            for cpu in range(ncpus):
                attr = perf_abi.new_perf_event_attr(type=PERF_TYPE_SOFTWARE,
                                                    config=PERF_COUNT_SW_BPF_OUTPUT,
                                                    sample_type=PERF_SAMPLE_RAW, sample_period=1,
                                                    wakeup_events=1)
                fd = int(task.perf_event_open(perf_abi.ffi.buffer(attr), -1, cpu, -1,
                                              PerfFlag.PERF_FLAG_FD_CLOEXEC))
                if fd < 0:
                    raise BpfObjectError(-fd, f"failed to open perf buffer event on cpu #{cpu}: "
                                         f"{errno_name(-fd)}", map=map_.name)
                mem = task.mmap(fd, (page_cnt + 1) * PAGE_SIZE)
                self.bufs.append(_CpuBuf(cpu, fd, mem, page_cnt * PAGE_SIZE))
                ret = task.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
                if ret < 0:
                    raise BpfObjectError(-ret, f"failed to enable perf buffer event on cpu "
                                         f"#{cpu}: {errno_name(-ret)}", map=map_.name)
                map_.update(cpu, fd)
        except BaseException:
            self.close()
            raise

    def _read_cpu(self, b: _CpuBuf) -> int:
        mem = b.mem
        head = struct.unpack_from("<Q", mem, DATA_HEAD)[0]
        tail = struct.unpack_from("<Q", mem, DATA_TAIL)[0]
        cnt = 0
        while tail < head:
            hdr = bytes(self._ring_bytes(mem, b, tail, 8))
            rtype, _misc, size = struct.unpack("<IHH", hdr)
            if size < 8:
                break
            rec = self._ring_bytes(mem, b, tail, size)
            if rtype == PERF_RECORD_SAMPLE:
                raw_size = struct.unpack_from("<I", rec, 8)[0]
                self.callback(b.cpu, bytes(rec[12: 12 + raw_size]))
                cnt += 1
            elif rtype == PERF_RECORD_LOST and self.lost_callback is not None:
                self.lost_callback(b.cpu, struct.unpack_from("<Q", rec, 16)[0])
            tail += size
        struct.pack_into("<Q", mem, DATA_TAIL, tail)
        return cnt

    @staticmethod
    def _ring_bytes(mem, b: _CpuBuf, pos: int, n: int) -> bytes:
        start = pos % b.data_size
        first = bytes(mem[PAGE_SIZE + start: PAGE_SIZE + min(start + n, b.data_size)])
        if len(first) < n:
            first += bytes(mem[PAGE_SIZE: PAGE_SIZE + n - len(first)])
        return first

    def consume(self) -> int:
        return sum(self._read_cpu(b) for b in self.bufs)

    def poll(self, timeout_ms: int = 0) -> int:
        return self.consume()

    def close(self) -> None:
        for b in self.bufs:
            self.obj.task.close(b.fd)
        self.bufs.clear()

    free = close
