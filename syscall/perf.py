"""perf_event_open(2), ioctl(2) and mmap(2) on perf event fds, and the bpf() link hooks for perf
events and kprobe_multi (kernel/events/core.c SYSCALL_DEFINE5(perf_event_open), perf_copy_attr,
perf_ioctl, perf_mmap; kernel/bpf/syscall.c link_create's perf and kprobe branches).

The facade's ``Task.perf_event_open`` / ``Task.ioctl`` call ``sys_perf_event_open`` /
``sys_ioctl``; like ``sys_bpf`` they return >= 0 or -errno, the one place a BpfError becomes
-errno for these syscalls. ``attr`` is the caller's ``struct perf_event_attr``: a cffi pointer
(syscall/perf_abi.py ``new_perf_event_attr``) or any buffer (bytes, bytearray, memoryview), read
as user memory: bytes the kernel would read past the buffer are a fault (EFAULT). Pointers inside
it (``kprobe_func``) are addresses in this process, copied with uaccess.

sys_perf_event_open, in the kernel's order:

1. ``flags`` other than PERF_FLAG_* (0xf): EINVAL;
2. perf_copy_attr: the u32 ``size`` at offset 4 (0 means PERF_ATTR_SIZE_VER0 = 64); smaller
   than 64 or larger than a page: E2BIG; a larger struct than ours (136) with non-zero bytes past
   it: E2BIG; on E2BIG the kernel writes its size (136) into the caller's ``size``. Then EINVAL
   for reserved bits (``__reserved_1`` flag bits 38-63, ``__reserved_2``, ``__reserved_3``),
   sample_type bits >= PERF_SAMPLE_MAX (1 << 25), read_format bits >= PERF_FORMAT_MAX (1 << 5),
   a branch stack sample without branch_sample_type, inherit_thread without inherit,
   remove_on_exec with enable_on_exec, sigtrap without remove_on_exec;
3. counting the kernel (exclude_kernel 0) with kernel.perf_event_paranoid > 1 needs CAP_PERFMON
   (EACCES); freq with sample_freq > 100000 or a period with bit 63 set: EINVAL;
   PERF_FLAG_PID_CGROUP: EINVAL with pid or cpu -1, otherwise EBADF (no cgroups here);
4. group_fd (not -1) must be a perf event (EBADF); pid: -1 (none), 0 (the caller) or a live
   task (ESRCH);
5. perf_event_alloc (tracing/perf_event.py): EINVAL cpu out of range (-1 only with a task);
   ENOENT no such PMU type, EINVAL no such tracepoint id (perf_trace_init); the PMU's own
   refusals (the kprobe PMU: EACCES without CAP_PERFMON, then its ``kprobe_func`` string:
   EFAULT, E2BIG past KSYM_NAME_LEN; the tracepoint PMU: EPERM for raw samples without
   CAP_PERFMON unless paranoid is -1);
6. a CPU-wide event (pid -1) with paranoid > 0 needs CAP_PERFMON (EACCES, perf_allow_cpu); a
   task event of another user needs CAP_PERFMON or CAP_SYS_PTRACE (EACCES);
7. a new fd (EMFILE).

sys_ioctl: EBADF a closed fd, ENOTTY not a perf event or an unknown request; SET_BPF takes a
program fd (EBADF not open, EINVAL not a program) and perf_event_set_bpf_prog's errors; PERIOD
reads a u64 and ID writes one through ``arg`` (EFAULT); ENABLE, DISABLE, RESET, REFRESH,
SET_OUTPUT, PAUSE_OUTPUT as perf_event.py says.

``sys_mmap(task, fd, length)`` (mmap(2) of a perf fd, what ``Task.mmap`` calls) maps the ring
(one header page plus 2^n data pages; EINVAL otherwise) into the task's user memory and returns a
writable memoryview of it (the same bytes the kernel writes).

Link hook (``perf_link_create``, one of syscall/link_cmds.py's default LINK_CREATE hooks):
BPF_PERF_EVENT for KPROBE, TRACEPOINT and PERF_EVENT programs (``bpf_perf_link_attach``: target_fd a perf
event, link_create.perf_event.bpf_cookie), BPF_TRACE_KPROBE_MULTI for KPROBE programs
(``bpf_kprobe_multi_link_attach``: kprobe_multi.flags/cnt/syms/addrs/cookies).
"""

from __future__ import annotations

import errno
import struct

from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.memory import PAGE_SIZE
from kernelsim.tracing import perf_event as pe
from kernelsim.uapi import (PERF_EVENT_IOC_ID, PERF_EVENT_IOC_PERIOD, PERF_EVENT_IOC_SET_BPF,
                            PERF_EVENT_IOC_SET_FILTER, PERF_EVENT_IOC_SET_OUTPUT,
                            PERF_PMU_TYPE_KPROBE, BpfAttachType as AT, BpfProgType as PT, PerfFlag)

from . import uaccess

PERF_FLAG_ALL = 0xF
SYSCTL_PERF_EVENT_SAMPLE_RATE = 100000     # kernel.perf_event_max_sample_rate default
KSYM_NAME_LEN = 512
PERF_SAMPLE_BRANCH_STACK = 1 << 11


class _UserMem:
    """The caller's attr: a buffer (read and written in place) or an address (uaccess)."""

    def __init__(self, obj):
        self.addr = None
        self.view = None
        if isinstance(obj, int) and not isinstance(obj, bool):
            self.addr = obj
            return
        try:
            from cffi import FFI
            if isinstance(obj, FFI.CData):
                from .perf_abi import ffi
                obj = ffi.buffer(obj)
        except ImportError:                      # pragma: no cover
            pass
        view = memoryview(obj)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self.view = view

    def read(self, off: int, size: int) -> bytes:
        if self.addr is not None:
            return uaccess.copy_from_user(self.addr + off, size)
        if off + size > len(self.view):
            raise BpfError(errno.EFAULT, "attr runs past the caller's buffer")
        return bytes(self.view[off:off + size])

    def write(self, off: int, data: bytes) -> None:
        if self.addr is not None:
            try:
                uaccess.copy_to_user(self.addr + off, data)
            except BpfError:
                pass
        elif not self.view.readonly and off + len(data) <= len(self.view):
            self.view[off:off + len(data)] = data


def perf_copy_attr(user: _UserMem) -> pe.PerfEventAttr:
    """kernel/events/core.c perf_copy_attr (module doc, step 2)."""
    size = struct.unpack("<I", user.read(4, 4))[0]
    if size == 0:
        size = pe.PERF_ATTR_SIZE_VER0
    if size < pe.PERF_ATTR_SIZE_VER0 or size > PAGE_SIZE:
        user.write(4, struct.pack("<I", pe.PERF_ATTR_SIZE))
        raise BpfError(errno.E2BIG, f"perf_event_attr size {size}")
    data = user.read(0, size)
    if size > pe.PERF_ATTR_SIZE and any(data[pe.PERF_ATTR_SIZE:]):
        user.write(4, struct.pack("<I", pe.PERF_ATTR_SIZE))
        raise BpfError(errno.E2BIG, "non-zero bytes past the end of struct perf_event_attr")
    attr = pe.PerfEventAttr.from_bytes(data)
    attr.size = size
    if attr.flags & pe.RESERVED_1_MASK or attr.reserved_2 or attr.aux_action & pe.RESERVED_3_MASK:
        raise BpfError(errno.EINVAL, "reserved fields must be 0")
    if attr.sample_type & ~(pe.PERF_SAMPLE_MAX - 1):
        raise BpfError(errno.EINVAL, "unknown sample_type bits")
    if attr.read_format & ~(pe.PERF_FORMAT_MAX - 1):
        raise BpfError(errno.EINVAL, "unknown read_format bits")
    if attr.sample_type & PERF_SAMPLE_BRANCH_STACK and not attr.branch_sample_type:
        raise BpfError(errno.EINVAL, "branch stack without branch_sample_type")
    if not attr.inherit and attr.inherit_thread:
        raise BpfError(errno.EINVAL, "inherit_thread without inherit")
    if attr.remove_on_exec and attr.enable_on_exec:
        raise BpfError(errno.EINVAL, "remove_on_exec with enable_on_exec")
    if attr.sigtrap and not attr.remove_on_exec:
        raise BpfError(errno.EINVAL, "sigtrap without remove_on_exec")
    return attr


def _perfmon(task) -> bool:
    return task.cred.perfmon_capable()


def _kprobe_func_loader(addr: int):
    """strndup_user(kprobe_func, KSYM_NAME_LEN), done when the kprobe PMU asks (after its
    permission check, as perf_kprobe_init does): EFAULT, E2BIG; "" means no symbol."""
    def load():
        s = uaccess.strncpy_from_user(addr, KSYM_NAME_LEN)
        if len(s) >= KSYM_NAME_LEN:
            raise BpfError(errno.E2BIG, "kprobe_func longer than KSYM_NAME_LEN")
        return s.decode("utf-8", "replace") or None
    return load


def _do_perf_event_open(task, attr_obj, pid: int, cpu: int, group_fd: int, flags: int) -> int:
    kernel = task.kernel
    if flags & ~PERF_FLAG_ALL:
        raise BpfError(errno.EINVAL, "unknown perf_event_open flags")
    try:
        user = _UserMem(attr_obj)
    except TypeError:
        raise BpfError(errno.EFAULT, "attr is not a buffer") from None
    attr = perf_copy_attr(user)
    paranoid = kernel.sysctl["kernel.perf_event_paranoid"]
    if not attr.exclude_kernel and paranoid > 1 and not _perfmon(task):
        raise BpfError(errno.EACCES, "kernel.perf_event_paranoid forbids profiling the kernel")
    if attr.namespaces and not _perfmon(task):
        raise BpfError(errno.EACCES, "namespaces events need CAP_PERFMON")
    if attr.freq:
        if attr.sample_period > SYSCTL_PERF_EVENT_SAMPLE_RATE:
            raise BpfError(errno.EINVAL, "sample_freq above kernel.perf_event_max_sample_rate")
    elif attr.sample_period & (1 << 63):
        raise BpfError(errno.EINVAL, "sample_period has bit 63 set")
    if flags & PerfFlag.PERF_FLAG_PID_CGROUP:
        if pid == -1 or cpu == -1:
            raise BpfError(errno.EINVAL, "cgroup mode needs a cgroup fd and a cpu")
        raise BpfError(errno.EBADF, "cgroups are not simulated")
    group = None
    if group_fd != -1:
        group = pe.perf_event_get(task.files, group_fd).event
    target = None
    if pid != -1:
        target = task if pid == 0 else kernel.tasks.get(pid)
        if target is None or not getattr(target, "alive", True):
            raise BpfError(errno.ESRCH, f"no task {pid}")
    if target is not None and group is not None and group.attr.inherit != attr.inherit:
        raise BpfError(errno.EINVAL, "group leader's inherit differs")
    if attr.type == PERF_PMU_TYPE_KPROBE and attr.config1:
        attr.kprobe_func_name = _kprobe_func_loader(attr.config1)
    event = pe.perf_event_alloc(kernel, attr, cpu, target, owner=task)
    try:
        if target is None:
            if paranoid > 0 and not _perfmon(task):
                raise BpfError(errno.EACCES, "CPU-wide events need CAP_PERFMON")
        elif target.cred.uid != task.cred.uid and not (
                _perfmon(task) or task.cred.capable("CAP_SYS_PTRACE")):
            raise BpfError(errno.EACCES, "cannot trace another user's task")
        return task.files.install(pe.PerfFile(event))
    except BaseException:
        event.release()
        raise


def sys_perf_event_open(task, attr, pid: int = -1, cpu: int = -1, group_fd: int = -1,
                        flags: int = 0) -> int:
    """perf_event_open(2): a new fd or -errno (module doc)."""
    try:
        fd = _do_perf_event_open(task, attr, int(pid), int(cpu), int(group_fd), int(flags))
    except BpfError as e:
        task.kernel.log.debug("perf_event_open", pid=task.pid, errno=e.errno, msg=str(e))
        return -e.errno
    return fd


def _bpf_prog_get(task, fd: int) -> BpfProg:
    file = task.files.get(fd)                           # EBADF
    if not isinstance(file.obj, BpfProg):
        raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF program")
    return file.obj.get()


def _do_ioctl(task, fd: int, request: int, arg: int) -> int:
    file = task.files.get(fd)
    if not isinstance(file, pe.PerfFile):
        raise BpfError(errno.ENOTTY, f"fd {fd} is not a perf event")
    event = file.event
    if request == PERF_EVENT_IOC_SET_BPF:
        prog = _bpf_prog_get(task, arg)
        try:
            pe.perf_event_set_bpf_prog(event, prog, 0)
        except BaseException:
            prog.put()
            raise
        return 0
    if request == PERF_EVENT_IOC_PERIOD:
        value = struct.unpack("<Q", uaccess.copy_from_user(arg, 8))[0]
        return pe.perf_ioctl(event, request, value)
    if request == PERF_EVENT_IOC_ID:
        uaccess.copy_to_user(arg, struct.pack("<Q", event.id))
        return 0
    if request == PERF_EVENT_IOC_SET_FILTER:
        uaccess.strncpy_from_user(arg, PAGE_SIZE)
        return pe.perf_ioctl(event, request, arg)
    if request == PERF_EVENT_IOC_SET_OUTPUT:
        arg = -1 if arg in (-1, 0xFFFFFFFF) else arg
        return pe.perf_ioctl(event, request, arg, task.files)
    return pe.perf_ioctl(event, request, arg, task.files)


def sys_ioctl(task, fd: int, request: int, arg: int = 0) -> int:
    """ioctl(2) on a perf event fd: the request's result or -errno (module doc)."""
    try:
        return _do_ioctl(task, int(fd), int(request), int(arg))
    except BpfError as e:
        return -e.errno


def sys_mmap(task, fd: int, length: int, prot: int = 3, flags: int = 1, offset: int = 0):
    """mmap(NULL, length, prot, MAP_SHARED, fd, offset) of a perf event: a writable memoryview
    of the ring (header page + data pages; the kernel writes these very bytes), also mapped into
    ``task.mm`` (``.addr`` of the returned object is not given: use ``perf_mmap_addr``), or
    -errno: EBADF, ENODEV (not a perf event), EINVAL (length, offset)."""
    try:
        file = task.files.get(int(fd))
        if not isinstance(file, pe.PerfFile):
            raise BpfError(errno.ENODEV, "not a perf event")
        if length <= 0 or length % PAGE_SIZE or offset:
            raise BpfError(errno.EINVAL, "length must be a multiple of the page size, offset 0")
        nr_pages = length // PAGE_SIZE - 1
        event = file.event
        rb = pe.perf_mmap(event, nr_pages)
        if getattr(rb, "user_addr", None) is None:
            region = task.mm.alloc(0, f"perf ring of event {event.id}", kind="user")
            task.mm.unmap(region)
            task.mm.map_at(region.start, rb.buf, region.name, kind="user", owner=event)
            task.mm._next = max(task.mm._next, region.start + len(rb.buf) + PAGE_SIZE)
            rb.user_addr = region.start
        return memoryview(rb.buf)
    except BpfError as e:
        return -e.errno


def perf_mmap_addr(task, fd: int) -> int:
    """Where ``sys_mmap`` put the ring of ``fd`` in ``task.mm`` (0: not mapped)."""
    file = task.files.get(int(fd))
    rb = getattr(getattr(file, "event", None), "rb", None)
    return getattr(rb, "user_addr", 0) or 0


# -- bpf() link hooks ---------------------------------------------------------------------------


class _LinkUser:
    """What kprobe_multi's attach reads user memory through."""

    copy_from_user = staticmethod(uaccess.copy_from_user)
    copy_to_user = staticmethod(uaccess.copy_to_user)
    strncpy_from_user = staticmethod(uaccess.strncpy_from_user)


def perf_link_create(ctx, prog) -> int:
    """link_create for PERF_EVENT / TRACEPOINT programs, and KPROBE with BPF_PERF_EVENT or
    BPF_TRACE_KPROBE_MULTI."""
    from kernelsim.tracing.kprobes import bpf_kprobe_multi_link_attach
    from .link_cmds import install_link
    lc = ctx.attr.link_create
    if prog.type == PT.BPF_PROG_TYPE_KPROBE and lc.attach_type == AT.BPF_TRACE_KPROBE_MULTI:
        km = lc.kprobe_multi
        link = bpf_kprobe_multi_link_attach(ctx.kernel, prog, lc.attach_type, lc.flags, km.flags,
                                            km.cnt, km.syms, km.addrs, km.cookies, _LinkUser)
        return install_link(ctx, link)
    if lc.attach_type != AT.BPF_PERF_EVENT:
        raise BpfError(errno.EINVAL, "attach type not simulated for this program type")
    link = pe.bpf_perf_link_attach(ctx.kernel, prog, ctx.files, lc.target_fd, lc.flags,
                                   lc.perf_event.bpf_cookie)
    return install_link(ctx, link)

