"""The trace buffer and trace_pipe's line format (checked against Linux 6.18.44's
/sys/kernel/tracing/trace output for bpf_trace_printk)."""

from kernelsim.facade import Kernel
from kernelsim.trace_pipe import TraceBuffer, TraceEntry, format_trace_line, trace_buffer


def test_line_format_matches_linux():
    e = TraceEntry(1255_562514_123, 0, 12471, "python3", "...2.", "bpf_trace_printk", b"hi 42\n")
    assert format_trace_line(e) == \
        b"         python3-12471   [000] ...2.  1255.562514: bpf_trace_printk: hi 42\n\n"
    idle = TraceEntry(5_000_001_000, 3, 0, "swapper/3", "d.h1.", "bpf_trace_printk", b"x\0tail")
    assert format_trace_line(idle) == b"          <idle>-0       [003] d.h1.     5.000001: bpf_trace_printk: x\n"
    long = TraceEntry(123456_000000_000, 12, 4194303, "a-very-long-comm", "....1", "e", b"t")
    assert format_trace_line(long).startswith(b"a-very-long-comm-4194303 [012] ....1 123456.000000: e: t")


def test_pipe_consumes_and_merges_cpus_by_time():
    kernel = Kernel(ncpus=2)
    task = kernel.spawn(comm="w")
    buf = trace_buffer(kernel)
    assert kernel.subsys["trace"] is buf and trace_buffer(kernel) is buf
    buf.emit("bpf_trace_printk", b"first", 1, task)
    kernel.clock.advance(10)
    buf.emit("bpf_trace_printk", b"second", 0, None)
    assert len(buf) == 2 and len(buf.lines()) == 2
    first = buf.read_pipe(1)
    assert first.endswith(b"bpf_trace_printk: first\n") and b"[001]" in first
    assert buf.read_pipe().endswith(b"second\n") and buf.read_pipe() == b"" and len(buf) == 0


def test_overwrite_drops_oldest_and_tracing_off():
    kernel = Kernel(ncpus=1)
    buf = TraceBuffer(kernel, buffer_size_kb=1)
    for i in range(100):
        buf.emit("e", b"%03d" % i + b"x" * 20, 0, None)
    texts = [e.text[:3] for e in buf.entries()]
    assert texts[-1] == b"099" and len(texts) < 100 and buf.overrun == 100 - len(texts)
    buf.clear()
    buf.tracing_on = False
    buf.emit("e", b"x", 0, None)
    assert len(buf) == 0
