"""Bodies of simulated scheduler and process functions (kernel/sched/core.c schedule /
wake_up_process / try_to_wake_up, kernel/fork.c kernel_clone / copy_process, kernel/exit.c
do_exit / do_group_exit, kernel/sys.c getpid), over the machine's tasks (task.py) and their
BTF-laid-out task_structs (stdobjects.py).

``kernel_clone`` forks the current task (``TaskStruct.fork``: fd table and user memory copied)
through ``copy_process`` and returns the child's pid; ``do_exit`` ends the current task
(closing its fds, which detaches links held only by them); ``__do_sys_getpid`` returns the
current tgid. ``__x64_sys_getpid`` is not in 6.18's BTF (SYSCALL_DEFINE0 wrappers are not
described there): it is a NON_BTF_FUNCS entry, callable and kprobe-able, not fentry-attachable.
"""

TASK_RUNNING = 0
TASK_NORMAL = 3
U64 = (1 << 64) - 1
EINVAL, EAGAIN = 22, 11


def schedule(k):
    return None


def wake_up_process(k, p):
    return k.call("try_to_wake_up", p, TASK_NORMAL, 0)


def try_to_wake_up(k, p, state, wake_flags):
    t = k.kobjects.view(p, "struct task_struct")
    if not t.get("__state") & state:
        return 0
    t.set("__state", TASK_RUNNING)
    return 1


def copy_process(k, pid, trace, node, args):
    task = k.current()
    if task is None:
        return (-EINVAL) & U64
    child = task.fork()
    return k.kobjects.task_struct(child).addr


def kernel_clone(k, args):
    p = k.call("copy_process", 0, 0, -1, args)
    if p >= U64 - 4095:
        return p - (1 << 64)
    t = k.kobjects.view(p, "struct task_struct")
    return t.pid


def do_exit(k, code):
    task = k.current()
    if task is None:
        return None
    ts = k.kobjects.task_struct(task)
    ts.exit_code = code & 0xFFFFFFFF
    task.exit(code)
    ts.set("__state", 0x80)                # EXIT_DEAD
    return None


def do_group_exit(k, exit_code):
    k.call("do_exit", exit_code)
    return None


def __do_sys_getpid(k, regs):
    task = k.current()
    return task.tgid if task is not None else 0


def __x64_sys_getpid(k, regs):
    return k.call("__do_sys_getpid", regs)


def __x64_sys_exit(k, regs):
    di = k.kobjects.view(regs, "struct pt_regs").di
    k.call("do_exit", (di & 0xFF) << 8)
    return 0


def __x64_sys_exit_group(k, regs):
    di = k.kobjects.view(regs, "struct pt_regs").di
    k.call("do_group_exit", (di & 0xFF) << 8)
    return 0


BODIES = {
    "schedule": schedule,
    "wake_up_process": wake_up_process,
    "try_to_wake_up": try_to_wake_up,
    "copy_process": copy_process,
    "kernel_clone": kernel_clone,
    "do_exit": do_exit,
    "do_group_exit": do_group_exit,
    "__do_sys_getpid": __do_sys_getpid,
    "__x64_sys_getpid": __x64_sys_getpid,
    "__x64_sys_exit": __x64_sys_exit,
    "__x64_sys_exit_group": __x64_sys_exit_group,
}

# name -> (arg sizes, ret size, ret signed): kallsyms-only functions (functions.NON_BTF_FUNCS)
NON_BTF_FUNCS = {"__x64_sys_getpid": ((8,), 8, True)}
