"""Simulated system calls from user space: ``kernel.syscall(task, "openat", AT_FDCWD, "/etc/x",
0, 0)`` (arch/x86/entry/common.c do_syscall_64, kernel/entry/common.c syscall_trace_enter /
syscall_exit_work, arch/x86/entry/syscall_64.c x64_sys_call).

One call is what the kernel does between the syscall instruction and the return to user space:

1. the task's ``struct pt_regs`` (task_pt_regs, one per task in kernel memory, laid out for the
   machine's architecture, pt_regs.py) gets the user registers: the number (orig_ax, syscallno,
   a7, int_code) and the arguments in the syscall argument registers (x86-64: di si dx r10 r8
   r9), the return register set to -ENOSYS, a user ip/sp;
2. ``raw_syscalls:sys_enter`` fires with (regs, nr) (its perf probe also feeds the
   ``syscalls:sys_enter_<name>`` event);
3. the syscall runs through the simulated kernel functions: on x86-64 the wrapper
   ``__x64_sys_<name>(regs)`` (kprobe-able, as libbpf's BPF_KSYSCALL expects); elsewhere, or when
   the catalog has no body for the wrapper, the function behind it (ksys_read, ksys_write,
   do_sys_openat2, do_unlinkat, __do_sys_getpid);
4. the return value goes into the return register and ``raw_syscalls:sys_exit`` fires with
   (regs, ret).

The task runs on its CPU for the call (it is made current there first, which is a context
switch, with its sched_switch, if another task was running). Arguments: ints; a str or bytes
for a pointer argument is copied into the task's user memory (its address is passed, as user
space would); ``None`` for read's buffer allocates ``count`` bytes there. The kernel stack of the
CPU gets the frame of do_syscall_64 (kstack.py; kernel.call pushes the others), so stacks taken
inside look like ``vfs_read <- ksys_read <- __x64_sys_read <- do_syscall_64``. Unknown
syscall numbers go through sys_enter / sys_exit and return -ENOSYS (sys_ni_syscall); unknown
names return -ENOSYS at once.
"""

import errno

from . import kstack
from .pt_regs import PT_REGS, pt_regs_bytes
from .tp_formats import SYSCALLS
from .tracepoints import trace_hit

USER_IP = 0x401000                   # invented user-space addresses for the syscall pt_regs
USER_SP = 0x7FFFFFFFE000
USER_SEGMENTS = {"x86_64": {"cs": 0x33, "ss": 0x2B, "flags": 0x246},
                 "i386": {"cs": 0x73, "ss": 0x7B, "flags": 0x246, "ds": 0x7B, "es": 0x7B},
                 "arm64": {"pstate": 0}, "riscv64": {"status": 0}, "s390x": {}}
WRAPPER_PREFIX = {"x86_64": "__x64_sys_", "i386": "__ia32_sys_", "arm64": "__arm64_sys_",
                  "riscv64": "__riscv_sys_", "s390x": "__s390x_sys_"}
U64 = (1 << 64) - 1


def syscall_by_nr(arch: str, nr: int):
    for meta in SYSCALLS.values():
        if meta.nr.get(arch) == nr:
            return meta
    return None


def task_pt_regs(kernel, task) -> int:
    """The task's syscall pt_regs (task_pt_regs): a kernel buffer per task."""
    store = kernel.subsys.setdefault("task_pt_regs", {})
    addr = store.get(task.pid)
    if addr is None:
        size = PT_REGS[kernel.arch].size
        addr = store[task.pid] = kernel.mem.alloc(size, f"pt_regs of {task.pid}", kind="kernel").start
    return addr


def _user_arg(task, v) -> int:
    if isinstance(v, str):
        v = v.encode() + b"\0"
    if isinstance(v, (bytes, bytearray, memoryview)):
        data = bytes(v)
        return task.mm.alloc(max(len(data), 1), "syscall argument", kind="user", data=data).start
    if v is None:
        return 0
    return int(v) & U64


def _fallback(kernel, name: str, args: list) -> int:
    """The syscall without its arch wrapper: the function the wrapper calls."""
    k = kernel
    if name == "read":
        return k.call("ksys_read", args[0] & 0xFFFFFFFF, args[1], args[2])
    if name == "write":
        return k.call("ksys_write", args[0] & 0xFFFFFFFF, args[1], args[2])
    if name == "getpid":
        fn = k.functions.get("__do_sys_getpid")
        if fn is None:
            return -errno.ENOSYS
        return k.call(fn, *([0] * fn.nr_args))
    if name == "openat":
        how = k.kobjects.new("struct open_how", flags=args[2] & 0xFFFFFFFF, mode=args[3] & 0o7777)
        try:
            return k.call("do_sys_openat2", _s32(args[0]), args[1], how)
        finally:
            k.kobjects.free(how)
    if name == "unlinkat":
        if args[2] & ~0x200:
            return -errno.EINVAL
        return k.call("do_unlinkat", _s32(args[0]), k.call("getname_flags", args[1], 0))
    return -errno.ENOSYS


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _signed(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def do_syscall(kernel, task, syscall, *args) -> int:
    """Run one syscall of ``task`` (module doc). ``syscall`` is a name ("openat") or the
    architecture's number. Returns the syscall's return value (negative errno on failure)."""
    arch = kernel.arch
    meta = SYSCALLS.get(syscall) if isinstance(syscall, str) else syscall_by_nr(arch, syscall)
    if meta is None and not isinstance(syscall, int):
        return -errno.ENOSYS                    # a name the simulator does not know
    nr = meta.nr[arch] if meta is not None else int(syscall)
    if meta is not None and len(args) != len(meta.args):
        raise TypeError(f"{meta.name}() takes {len(meta.args)} arguments, {len(args)} given")
    cpu = task.cpu
    saved_cpu = kernel.current_cpu
    if kernel.cpus[cpu].current is not task:
        kernel.switch_to(task, cpu)
    kernel.current_cpu = cpu
    try:
        vals = list(args) + [0] * (6 - len(args))
        if meta is not None and meta.name == "read" and vals[1] is None:
            vals[1] = task.mm.alloc(max(int(vals[2]), 1), "read buffer", kind="user").start
        vals = [_user_arg(task, v) for v in vals]
        lay = PT_REGS[arch]
        regs = task_pt_regs(kernel, task)
        fields = {**USER_SEGMENTS[arch], lay.ip: USER_IP, lay.sp: USER_SP}
        for fname, v in zip(lay.syscall_args, vals):
            fields[fname] = v
        fields[lay.syscall_nr] = nr
        fields[lay.ret] = -errno.ENOSYS
        if arch == "riscv64":
            fields["orig_a0"] = vals[0]
        if arch == "s390x":
            fields["gprs[2]"] = vals[0]
        if arch == "arm64":
            fields["orig_x0"] = vals[0]
        kernel.mem.write(regs, pt_regs_bytes(arch, fields))
        funcs = kernel.functions
        entry = funcs.get("do_syscall_64") if arch == "x86_64" else None
        kstack.push_frame(kernel, entry.addr if entry is not None else 0, cpu)
        try:
            trace_hit(kernel, "sys_enter", regs, nr, cpu=cpu, task=task)
            wrapper = funcs.get(WRAPPER_PREFIX[arch] + meta.name) if meta is not None else None
            if meta is None:
                ret = -errno.ENOSYS             # sys_ni_syscall
            elif wrapper is not None and arch == "x86_64" and not wrapper.default_body:
                ret = kernel.call(wrapper, regs)
            else:
                ret = _fallback(kernel, meta.name, vals)
            ret = _signed(ret if ret is not None else 0)
            kernel.mem.store(regs + lay.offset(lay.ret), lay.word, ret & ((1 << (8 * lay.word)) - 1))
            trace_hit(kernel, "sys_exit", regs, ret, cpu=cpu, task=task)
        finally:
            kstack.pop_frame(kernel, cpu)
        return ret
    finally:
        kernel.current_cpu = saved_cpu
