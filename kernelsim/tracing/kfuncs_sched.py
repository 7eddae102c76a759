"""Bodies of simulated scheduler and process functions (kernel/sched/core.c schedule /
wake_up_process / try_to_wake_up, kernel/fork.c kernel_clone / copy_process, kernel/exit.c
do_exit / do_group_exit, kernel/sys.c getpid), over the machine's tasks (task.py) and their
BTF-laid-out task_structs (stdobjects.py).

``kernel_clone`` forks the current task (``TaskStruct.fork``: fd table and user memory copied)
through ``copy_process`` and returns the child's pid; ``do_exit`` ends the current task
(closing its fds, which detaches links held only by them); ``__do_sys_getpid`` returns the
current tgid. ``__x64_sys_getpid`` is not in 6.18's BTF (SYSCALL_DEFINE0 wrappers are not
described there): it is a NON_BTF_FUNCS entry, callable and kprobe-able, not fentry-attachable.

Tracepoints fire where the 6.18 sources call them (so fentry, the tracepoint and fexit are seen
in Linux's order):

* ``copy_process``: trace_task_newtask(p, clone_flags) once the child exists;
* ``kernel_clone``: trace_sched_process_fork(current, p) after copy_process returned, then
  ``wake_up_new_task(p)``, which fires trace_sched_wakeup_new(p) once the child is runnable;
* ``try_to_wake_up``: trace_sched_wakeup(p) when it woke the task (ttwu_do_wakeup, inlined);
* ``do_exit``: trace_sched_process_exit(tsk, group_dead) (TaskStruct.exit, before the files
  are closed);
* ``schedule`` -> ``__schedule(SM_NONE)``: trace_sched_switch(preempt, prev, next, prev_state)
  only when the CPU changes task. There is no run queue: a task that is still TASK_RUNNING
  is picked again (prev == next, no tracepoint, as Linux); one that blocked (``__state`` not 0)
  gives the CPU to its idle task (init_task), which a later ``kernel.switch_to`` leaves.
"""

from .tracepoints import trace_hit

TASK_RUNNING = 0
TASK_NORMAL = 3
U64 = (1 << 64) - 1
EINVAL, EAGAIN = 22, 11


SIGCHLD = 17
SM_NONE, SM_PREEMPT = 0, 1


def schedule(k):
    k.call("__schedule", SM_NONE)
    return None


def __schedule(k, sched_mode):
    prev = k.current()
    if prev is None:
        return None
    ko = k.kobjects
    p = ko.task_struct(prev)
    state = p.get("__state")
    if state == TASK_RUNNING and sched_mode != SM_PREEMPT:
        return None                                         # picked again: prev == next
    preempt = sched_mode == SM_PREEMPT
    trace_hit(k, "sched_switch", preempt, p, ko.init_task, 0 if preempt else state)
    k.cpus[k.current_cpu].current = None                    # the idle task runs
    return None


def wake_up_process(k, p):
    return k.call("try_to_wake_up", p, TASK_NORMAL, 0)


def try_to_wake_up(k, p, state, wake_flags):
    t = k.kobjects.view(p, "struct task_struct")
    if not t.get("__state") & state:
        return 0
    t.set("__state", TASK_RUNNING)                          # ttwu_do_wakeup
    trace_hit(k, "sched_wakeup", p)
    return 1


def wake_up_new_task(k, p):
    t = k.kobjects.view(p, "struct task_struct")
    t.set("__state", TASK_RUNNING)
    trace_hit(k, "sched_wakeup_new", p)                     # after activate_task
    return None


def copy_process(k, pid, trace, node, args):
    task = k.current()
    if task is None:
        return (-EINVAL) & U64
    clone_flags = k.kobjects.view(args, "struct kernel_clone_args").flags if args else SIGCHLD
    child = task.copy_process()
    p = k.kobjects.task_struct(child)
    trace_hit(k, "task_newtask", p, clone_flags)
    return p.addr


def kernel_clone(k, args):
    p = k.call("copy_process", 0, 0, -1, args)
    if p >= U64 - 4095:
        return p - (1 << 64)
    trace_hit(k, "sched_process_fork", k.kobjects.current(), p)
    t = k.kobjects.view(p, "struct task_struct")
    nr = t.pid
    k.call("wake_up_new_task", p)
    return nr


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
    "__schedule": __schedule,
    "wake_up_new_task": wake_up_new_task,
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
