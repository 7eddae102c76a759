"""The simulated kernel call stack of each CPU, and the callchains bpf_get_stackid/get_stack see
(arch/x86/kernel/stacktrace.c arch_stack_walk, kernel/events/callchain.c get_perf_callchain).

Each CPU keeps a list of frames, outermost first: the kernel functions currently executing on
it, as the code that enters them pushes them (``push_frame`` / ``pop_frame``): the simulated
syscall entry (do_syscall_64, the syscall's wrapper), probed functions (kprobes.py) and, when
call.py pushes its frames, every nested ``kernel.call``. ``callchain(kernel, cpu, ip)`` is
what a stack walk from ``ip`` gives, innermost first: ``ip`` itself, then the return address
into each enclosing frame. Return addresses are ``caller address + RET_SITE`` (invented: real
call sites are wherever the compiler put them; here every call returns to the same offset
inside its caller's 64-byte kallsyms slot, so a stack symbolises as ``caller+0x25``).

Frames are addresses (a KernelFunction's ``addr``); an unknown function is pushed as 0 and
skipped by the walk.
"""

RET_SITE = 0x25          # invented: the offset of every call's return address in its caller


def _frames(kernel, cpu: int) -> list:
    percpu = kernel.cpus[cpu].percpu
    frames = percpu.get("kstack_frames")
    if frames is None:
        frames = percpu["kstack_frames"] = []
    return frames


def push_frame(kernel, func_addr: int, cpu: int | None = None) -> None:
    """Entering a function on ``cpu`` (default: the current CPU)."""
    _frames(kernel, kernel.current_cpu if cpu is None else cpu).append(func_addr)


def pop_frame(kernel, cpu: int | None = None) -> None:
    frames = _frames(kernel, kernel.current_cpu if cpu is None else cpu)
    if frames:
        frames.pop()


def frames(kernel, cpu: int | None = None) -> list:
    """The frames of ``cpu``, outermost first (a copy)."""
    return list(_frames(kernel, kernel.current_cpu if cpu is None else cpu))


def callchain(kernel, cpu: int | None = None, ip: int = 0, skip_top: int = 0) -> list:
    """A kernel stack walk from ``ip`` on ``cpu``: [ip, return address into the innermost
    enclosing frame, ..., into the outermost], ``skip_top`` innermost frames left out (the
    probed function's own frame when ``ip`` is inside it)."""
    fr = _frames(kernel, kernel.current_cpu if cpu is None else cpu)
    chain = [ip] if ip else []
    for addr in reversed(fr[:len(fr) - skip_top] if skip_top else fr):
        if addr:
            chain.append(addr + RET_SITE)
    return chain


def return_address(kernel, cpu: int | None = None) -> int:
    """``__builtin_return_address(0)`` inside the innermost frame of ``cpu``: the return address
    into its caller (``caller + RET_SITE``), 0 when the function was called from outside every
    frame (a test calling it directly). trace_kfree_skb's ``location`` is this."""
    fr = _frames(kernel, kernel.current_cpu if cpu is None else cpu)
    if len(fr) < 2 or not fr[-2]:
        return 0
    return fr[-2] + RET_SITE
