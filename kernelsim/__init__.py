"""kernelsim: a simulated Linux kernel, in Python, for BPF tracing.

The front door exports the facade (``Kernel``, ``Task``) lazily: the facade sits above the syscall
layer, which sits above the kernel core in this same package, so importing it eagerly here would
make every core module pull in the whole stack (ARCHITECTURE.md, layers).
"""

__all__ = ["Kernel", "Task", "BpfError"]


def __getattr__(name):
    if name in ("Kernel", "Task"):
        from . import facade
        return getattr(facade, name)
    if name == "BpfError":
        from .errors import BpfError
        return BpfError
    raise AttributeError(f"module 'kernelsim' has no attribute {name!r}")
