"""Reading the kernel's trace_pipe from a loaded object's point of view (bpf_printk output;
/sys/kernel/tracing/trace_pipe; kernelsim/trace_pipe.py keeps the buffer).

``obj.trace_pipe().read()`` is a consuming read of every line buffered so far (``b""`` when
empty: a real read would block); ``lines()`` gives them as text and ``messages()`` only what the
programs printed (the part after ``bpf_trace_printk: ``).
"""

from __future__ import annotations

import errno

from .errors import BpfObjectError


class TracePipe:
    """trace_pipe of the task's kernel."""

    def __init__(self, task):
        kernel = getattr(task, "kernel", None)
        if kernel is None or not hasattr(kernel, "subsys"):
            raise BpfObjectError(errno.EOPNOTSUPP, "trace_pipe needs a kernelsim Kernel")
        from kernelsim.trace_pipe import trace_buffer
        self._buf = trace_buffer(kernel)

    def read(self, max_entries: int | None = None) -> bytes:
        return self._buf.read_pipe(max_entries)

    def lines(self) -> list[str]:
        return self.read().decode("utf-8", "replace").splitlines()

    def messages(self) -> list[str]:
        out = []
        for line in self.lines():
            _, sep, msg = line.partition("bpf_trace_printk: ")
            if sep:
                out.append(msg)
        return out

    def __iter__(self):
        return iter(self.lines())
