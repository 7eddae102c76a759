"""The function-entry hook list of a simulated kernel function: ftrace ops and the direct call
(kernel/trace/ftrace.c register_ftrace_function, register_ftrace_direct / modify_ftrace_direct /
unregister_ftrace_direct; include/linux/ftrace.h struct ftrace_ops).

A traced kernel function starts with a 5-byte nop (kallsyms.py). Two kinds of users patch it:

* **ftrace ops** (``FtraceOps``): callbacks run at the function's entry and, if they ask for it,
  at its return — what ftrace-based kprobes, kretprobes (rethook) and fprobes are built on. The
  kprobes code registers one ``FtraceOps`` per probe with ``register_ftrace_function(fn, ops)``.
* **one direct call**: the BPF trampoline image (``register_ftrace_direct(fn, image)``), which
  "becomes" the function when it has fexit/fmod_ret programs.

call.py runs them in the kernel's order: every ops' ``func`` (registration order), then the
direct trampoline (or the body when there is none), then every ops' ``ret_func`` in reverse
order with the return value — so a kprobe sees the call before fentry programs, a kretprobe
after the fexit programs (its rethook return address sits above the trampoline's frame).

``FtraceOps.func(call)`` gets an ``FtraceCall``: ``call.fn`` (the KernelFunction), ``call.args``
(the C argument values), ``call.regs`` (the native argument registers, callconv order, or None
when the function has no model), ``call.stack`` (stack words), ``call.ip`` (the function
address), ``call.cpu``, ``call.task`` (current), ``call.data`` (a dict the same ops' ret_func
sees: kretprobe instance data). ``call.override_return(value)`` (bpf_override_return / error
injection) skips the function — trampoline and body — and makes the call return ``value``;
the ret_funcs still run. ``FtraceOps.ret_func(call, retval)`` sees the C return value (None for
void). Names: ``FtraceCall`` is invented (the kernel passes ip, parent_ip, ops, fregs).
"""

from dataclasses import dataclass, field
from typing import Callable


@dataclass(eq=False)
class FtraceOps:
    """struct ftrace_ops, as far as the simulator needs it."""

    func: Callable | None = None         # func(call) at entry
    ret_func: Callable | None = None     # ret_func(call, retval) at return (None: no return hook)
    name: str = ""                       # who registered it ("kprobe", "kretprobe", "fprobe" ...)
    private: object = None               # the owner's data (the kprobe)


@dataclass(eq=False, slots=True)
class FtraceCall:
    """One traced call as the hooks see it (invented name)."""

    kernel: object
    fn: object                            # KernelFunction
    args: list                            # C argument values
    regs: list | None = None              # native argument registers (callconv order)
    stack: list | None = None             # native stack words
    cpu: int = 0
    task: object = None
    data: dict = field(default_factory=dict)
    overridden: bool = False
    override_value: object = None

    @property
    def ip(self) -> int:
        return self.fn.addr

    def override_return(self, value) -> None:
        """Skip the function (bpf_override_return): the call returns ``value``."""
        self.overridden = True
        self.override_value = value


def register_ftrace_function(fn, ops: FtraceOps) -> None:
    """Add ``ops`` to the function's hook list (called by kprobes/fprobes)."""
    if ops in fn.ftrace_ops:
        raise ValueError("ftrace ops already registered on this function")
    fn.ftrace_ops = fn.ftrace_ops + [ops]     # copy on write: a running call keeps its snapshot


def unregister_ftrace_function(fn, ops: FtraceOps) -> None:
    fn.ftrace_ops = [o for o in fn.ftrace_ops if o is not ops]


def register_ftrace_direct(fn, image) -> None:
    """The function's entry now calls the trampoline image (first attach: nop -> call)."""
    fn.direct = image.run
    fn.direct_addr = image.image_addr


modify_ftrace_direct = register_ftrace_direct   # later attaches: old image -> new image


def unregister_ftrace_direct(fn) -> None:
    """Last detach: the call site is a nop again; calls go straight to the body."""
    fn.direct = None
    fn.direct_addr = None
