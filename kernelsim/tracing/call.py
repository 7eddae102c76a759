"""``kernel.call(name, *args)``: calling a simulated kernel function the way compiled kernel code
does, through whatever is attached to its entry (the seed commit: the trampoline "converts native
calling convention into BPF calling convention").

    kernel.call("eth_type_trans", skb, dev)            # -> 0x0008 (htons(ETH_P_IP))
    kernel.call("do_unlinkat", -100, "/tmp/x")          # a str becomes a kernel string
    kernel.call("vfs_read", f, buf, 10, pos, ret=3)     # skip the body, return 3 (a stub)
    kernel.functions["foo"].set_return(7)               # foo returns 7 from now on

Arguments (functions.KernelFunction.c_args): ints (cut to the parameter's C type), KObjects
(their address), None (NULL), str for pointer parameters (allocated as a kernel string), bytes
for a struct passed by value (or, for a pointer parameter, a kernel copy). ``ret=`` replaces the
body for this one call; ``cpu=`` runs the call on that CPU (the current task of that CPU is
``current``); ``garbage=`` fills the bits a calling convention leaves undefined above narrow
arguments (default 0, so x86-64, arm64 and i386 present identical ctx slots).

The path (call.py is ftrace's caller and the CPU's call instruction):

1. Nothing attached (no ftrace ops, no trampoline): the body runs directly on the C values.
2. Otherwise the arguments are placed in native registers and stack words for the machine's
   architecture (``trampoline.encode_call``); ftrace ops' entry callbacks run (ftrace.py), then
   the trampoline image (``image.run(regs, stack, mem)``, which runs fentry, fmod_ret, the body
   through ``KernelFunction.orig_native``, fexit) or the body; the raw return register is
   read as the C return type (``decode_ret``'s rule, with the signedness of the BTF return
   type); the ops' return callbacks run.

Each call is a frame of the CPU's simulated kernel stack (kstack.py) while it runs, so stack
walks (bpf_get_stack, bpf_get_stackid, perf callchains) see nested calls.

Virtual time: each body run charges ``fn.cost_ns`` (functions.FUNC_COST_NS), each run of a
trampoline image ``TRAMPOLINE_COST_NS``, and programs their instructions (bpf_run.py); nothing
reads a wall clock.
"""

from .functions import _NO_OVERRIDE, KernelFunction, c_value
from .ftrace import FtraceCall
from .hooks import functions_of

TRAMPOLINE_COST_NS = 10


def kernel_call(kernel, func, *args, ret=None, cpu: int | None = None, garbage: int = 0):
    """Call ``func`` (a name or a KernelFunction) with Python arguments; returns the C value
    (None for void). KeyError: no such function; TypeError: wrong arguments."""
    if func.__class__ is KernelFunction:
        fn = func
    else:
        try:                                    # a function already built (the common case)
            fn = kernel.subsys["functions"]._by_name[func]
        except (KeyError, TypeError):
            fn = functions_of(kernel)[func]
    cargs = fn.c_args(args)
    if cpu is not None and cpu != kernel.current_cpu:
        saved = kernel.current_cpu
        kernel.switch_to(kernel.cpus[cpu].current, cpu)
        try:
            return _call(kernel, fn, cargs, ret, garbage)
        finally:
            kernel.current_cpu = saved
    return _call(kernel, fn, cargs, ret, garbage)


def _call(kernel, fn, cargs, ret, garbage):
    if ret is not None:
        fn._override = ret
    # kstack.push_frame / pop_frame written out: stack walks see the call
    percpu = kernel.cpus[kernel.current_cpu].percpu
    try:
        frames = percpu["kstack_frames"]
    except KeyError:
        frames = percpu["kstack_frames"] = []
    frames.append(fn.addr)
    try:
        if not fn.ftrace_ops and fn.direct is None:
            return fn.invoke_body(cargs)
        return traced_call(kernel, fn, cargs, garbage)
    finally:
        if frames:
            frames.pop()
        if ret is not None:
            fn._override = _NO_OVERRIDE


def traced_call(kernel, fn, cargs, garbage: int = 0):
    """The call through the ftrace hooks and/or the trampoline (steps 2 of the module doc)."""
    ops_list = fn.ftrace_ops
    direct = fn.direct
    if not ops_list and direct is not None:
        # the trampoline alone (fentry/fexit/fmod_ret, no kprobes): the common traced call
        encode_raw = fn._encode_raw or fn._call_path()
        regs, stack, memory = encode_raw(cargs, garbage)
        kernel.clock.advance(TRAMPOLINE_COST_NS)
        raw = direct(regs, stack, memory)
        # the caller reads the return register as its C type (decode_ret with the BTF's
        # signedness: the 5.5 model has no ret_flags)
        spec = fn.ret_spec
        if spec is None:
            return None
        if spec.aggregate:
            return c_value(spec, raw)
        raw &= spec.mask
        return raw - spec.mask - 1 if raw & spec.sign else raw
    model = fn.model
    call = None
    native = None
    if model is not None:
        native = fn.codec()[0](cargs, garbage)
    if ops_list:
        call = FtraceCall(kernel, fn, list(cargs), native.regs if native else None,
                          native.stack if native else None, kernel.current_cpu, kernel.current())
        for ops in ops_list:
            if ops.func is not None:
                ops.func(call)
            if call.overridden:
                break
    if call is not None and call.overridden:
        retval = call.override_value
        retval = c_value(fn.ret_spec, retval) if fn.ret_spec is not None else None
    else:
        direct = fn.direct
        if direct is not None and native is not None:
            kernel.clock.advance(TRAMPOLINE_COST_NS)
            raw = direct(native.regs, native.stack, native.memory)
            retval = c_value(fn.ret_spec, raw) if fn.ret_spec is not None else None
        else:
            retval = fn.invoke_body(cargs)
    if call is not None:
        for ops in reversed(ops_list):
            if ops.ret_func is not None:
                ops.ret_func(call, retval)
    return retval
