"""kernelsim.tracing: simulated kernel functions and objects, the trampoline manager
(kernel/bpf/trampoline.c), fentry/fexit/fmod_ret attachment and their test_run.

See docs/tracing.md. Front door only; the modules: functions (the catalog), kfuncs_* (bodies),
kallsyms, kobjects / stdobjects (objects laid out by BTF), ftrace (the entry hook list), call
(kernel.call), native (call codecs), trampoline (BpfTrampoline), attach_target, links, test_run,
hooks; tracepoints, raw_tp, perf events, kprobes and the kernel stack (kstack) are their own
modules here too.
"""

__all__: list[str] = []
