"""Tasks: pid/tgid/comm, credentials, the fd table and user memory (include/linux/sched.h,
kernel/fork.c, kernel/exit.c).

``TaskStruct`` is the core half of the facade's ``Task``. fork copies the fd table (taking a
reference on every open file), the credentials and the user memory; exit closes every fd, which
is how closing the last reference to a link detaches it when its process ends.
"""

from .bpf_objects import FdTable
from .cred import Cred
from .memory import USER_BASE, AddressSpace

TASK_COMM_LEN = 16


class TaskStruct:
    """One thread-group leader (threads are not modelled: pid == tgid)."""

    def __init__(self, kernel, comm: str = "task", cred: Cred | None = None, parent=None,
                 pid: int | None = None):
        self.kernel = kernel
        self.pid = kernel.alloc_pid() if pid is None else pid
        self.tgid = self.pid
        self.comm = comm[: TASK_COMM_LEN - 1]
        self.cred = cred or Cred.make()
        self.files = FdTable()
        self.mm = AddressSpace(f"mm[{self.pid}]", base=USER_BASE)
        self.parent = parent
        self.cpu = kernel.current_cpu
        self.alive = True
        self.exit_code = None
        kernel.tasks[self.pid] = self

    def _spawn_child(self):
        """A new task object of the same class (the facade's Task forks into a Task)."""
        return type(self)(self.kernel, comm=self.comm, cred=self.cred, parent=self)

    def fork(self):
        """kernel_clone: the child shares every open file (references taken) and gets a copy of
        the parent's user memory at the same addresses; then the fork tracepoints
        (task_newtask, sched_process_fork, sched_wakeup_new, in kernel_clone's order)."""
        child = self.copy_process()
        if "tracepoints" in self.kernel.subsys:
            from .tracing.tracepoints import trace_task_fork
            trace_task_fork(self.kernel, self, child)
        return child

    def copy_process(self):
        """The copying half of fork, without tracepoints: the simulated copy_process and
        kernel_clone bodies (tracing/kfuncs_sched.py) fire them where Linux does."""
        child = self._spawn_child()
        child.files.close_all()
        child.files = self.files.copy()
        for region in self.mm.regions():
            child.mm.map_at(region.start, bytearray(region.buf), region.name, region.kind,
                            region.writable)
        child.mm._next = self.mm._next
        return child

    def exit(self, code: int = 0) -> None:
        """do_exit: close every fd (dropping links, maps and programs held only by them)."""
        if not self.alive:
            return
        if "tracepoints" in self.kernel.subsys:
            from .tracing.tracepoints import trace_task_exit
            trace_task_exit(self.kernel, self)
        self.files.close_all()
        self.alive = False
        self.exit_code = code
        self.kernel.tasks.pop(self.pid, None)
        for cpu in self.kernel.cpus:
            if cpu.current is self:
                cpu.current = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} comm={self.comm!r} uid={self.cred.uid}>"
