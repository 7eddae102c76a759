"""The kernel trace buffer and its trace_pipe reader (kernel/trace/trace.c, trace_output.c).

``bpf_trace_printk`` and ``bpf_trace_vprintk`` emit the ``bpf_trace:bpf_trace_printk`` event
(kernel/trace/bpf_trace.h ``TP_printk("%s", ...)``) into the machine's trace buffer,
``kernel.subsys["trace"]`` (a ``TraceBuffer``, created on first use by ``trace_buffer(kernel)``).
Reading ``trace_pipe`` consumes entries; reading ``trace`` does not.

A line, as Linux 6.18 prints it (trace_print_context + trace_print_lat_fmt + trace_print_time,
then the event's output, whose TP_printk format always ends in ``\\n``)::

    '         python3-12471   [000] ...2.  1255.562514: bpf_trace_printk: hi 42\\n'

``%16s-%-7d [%03d] <5 latency flags> %5lu.%06lu: <event>: <text>\\n``; the idle task prints as
``<idle>-0``. The text stops at its first NUL; a format ending in ``\\n`` therefore gives an empty
line after it (checked against Linux 6.18.44). The latency flags (irqs-off, need-resched,
hard/softirq, preempt depth, migrate-disable) are whatever the run context says
(``BpfRunCtx.trace_flags``; ``...2.`` is what a raw_tp test run shows on 6.18). Timestamps come
from the virtual clock.

The buffer is per-CPU with a byte budget like the ring buffer's (``buffer_size_kb``, 1408 KiB per
CPU by default) and overwrites the oldest entries when full, as the kernel's overwrite mode does.
"""

from collections import deque
from dataclasses import dataclass

DEFAULT_BUFFER_SIZE_KB = 1408
TRACE_ENTRY_OVERHEAD = 24        # ring-buffer event header + trace_entry, roughly (invented)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One event in the trace buffer."""

    ts_ns: int          # virtual boot-time ns when emitted
    cpu: int            # CPU it was emitted on
    pid: int            # current->pid (0: the idle task)
    comm: str           # current->comm at that time
    flags: str          # the five latency-format characters
    event: str          # event name ("bpf_trace_printk")
    text: bytes         # the event's printed text, without the final newline


def format_trace_line(e: TraceEntry) -> bytes:
    """The bytes trace_pipe prints for one entry (see module docstring)."""
    comm = "<idle>" if e.pid == 0 else e.comm
    secs, rem = divmod(e.ts_ns // 1000, 1_000_000)
    head = f"{comm:>16}-{e.pid:<7d} [{e.cpu:03d}] {e.flags} {secs:5d}.{rem:06d}: {e.event}: "
    text = e.text.split(b"\0", 1)[0]
    return head.encode() + text + b"\n"


class TraceBuffer:
    """The global trace array's per-CPU buffers."""

    def __init__(self, kernel, buffer_size_kb: int = DEFAULT_BUFFER_SIZE_KB):
        self.kernel = kernel
        self.buffer_size_kb = buffer_size_kb
        self._cpus = [deque() for _ in range(kernel.ncpus)]
        self._bytes = [0] * kernel.ncpus
        self.overrun = 0               # entries dropped by overwrite
        self.tracing_on = True         # /sys/kernel/tracing/tracing_on

    def emit(self, event: str, text: bytes, cpu: int, task, flags: str = "...2.") -> None:
        """Called from a helper (trace_bpf_trace_printk): record an event on ``cpu``."""
        if not self.tracing_on:
            return
        pid = task.pid if task is not None else 0
        comm = task.comm if task is not None else "<idle>"
        entry = TraceEntry(self.kernel.clock.ns, cpu, pid, comm, flags, event, bytes(text))
        size = len(text) + TRACE_ENTRY_OVERHEAD
        q = self._cpus[cpu]
        q.append(entry)
        self._bytes[cpu] += size
        while self._bytes[cpu] > self.buffer_size_kb * 1024 and q:
            old = q.popleft()
            self._bytes[cpu] -= len(old.text) + TRACE_ENTRY_OVERHEAD
            self.overrun += 1

    def entries(self) -> list[TraceEntry]:
        """Every buffered entry, merged across CPUs by timestamp (ties: CPU order), not consumed."""
        merged = [(e.ts_ns, cpu, k, e) for cpu, q in enumerate(self._cpus) for k, e in enumerate(q)]
        merged.sort(key=lambda t: t[:3])
        return [t[3] for t in merged]

    def read_pipe(self, max_entries: int | None = None) -> bytes:
        """A consuming read of trace_pipe: the formatted lines of the oldest entries (all of them
        unless ``max_entries``). Empty bytes when nothing is buffered (a real read would block)."""
        out = []
        for e in self.entries()[: max_entries if max_entries is not None else None]:
            self._consume(e)
            out.append(format_trace_line(e))
        return b"".join(out)

    def read_trace(self) -> bytes:
        """The ``trace`` file's event lines (not consumed; the '#' header is not reproduced)."""
        return b"".join(format_trace_line(e) for e in self.entries())

    def lines(self) -> list[str]:
        """Convenience for tests: the trace_pipe text split into lines, not consumed."""
        return self.read_trace().decode("utf-8", "replace").splitlines()

    def clear(self) -> None:
        """``echo > trace``."""
        for cpu, q in enumerate(self._cpus):
            q.clear()
            self._bytes[cpu] = 0

    def _consume(self, e: TraceEntry) -> None:
        q = self._cpus[e.cpu]
        q.remove(e)
        self._bytes[e.cpu] -= len(e.text) + TRACE_ENTRY_OVERHEAD

    def __len__(self) -> int:
        return sum(len(q) for q in self._cpus)


def trace_buffer(kernel) -> TraceBuffer:
    """The machine's trace buffer, ``kernel.subsys["trace"]``, created on first use."""
    buf = kernel.subsys.get("trace")
    if buf is None:
        buf = kernel.subsys["trace"] = TraceBuffer(kernel)
    return buf
