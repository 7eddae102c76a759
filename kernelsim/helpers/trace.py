"""Tracing helpers (kernel/trace/bpf_trace.c, kernel/bpf/stackmap.c, kernel/bpf/helpers.c's
copy_from_user*, kernel/bpf/stackmap.c bpf_get_task_stack, kernel/bpf/task_iter.c bpf_find_vma):
probe reads and writes, trace_printk, the current task_struct, perf event output and counters,
stacks of the current and other tasks, task_pt_regs, find_vma, branch records, signals, kprobe
return override, the trampoline ctx helpers, cookies, d_path, skb/xdp output of BTF pointers.

Memory rules (helpers/common.py): probe reads that fault return -EFAULT (-ERANGE for a user
address handed to a *_kernel read on x86) and zero the whole destination. The compat
``bpf_probe_read``/``_str`` pick user memory below TASK_SIZE and kernel memory above it; they
exist only on architectures with non-overlapping address spaces (not s390x).

The current task_struct: ``task_struct_addr(kernel, task)`` gives the kernel address of a task's
``struct task_struct``. The tracing code installs the real layout by setting
``kernel.subsys["task_struct_addr"]`` to a callable ``(task) -> addr``; until then a region per
task is allocated holding ``pid``, ``tgid`` and ``comm`` at their offsets in ``kernel.btf``'s
``struct task_struct`` (or, without BTF, at 0, 4 and 8 — an invented layout).
"""

import errno

from ..errors import BpfError
from ..memory import MemoryFault
from ..uapi import BpfAttachType, BpfFuncId as F
from . import bprintf
from .common import (U32_MASK, U64_MASK, copy_from_kernel_nofault, copy_from_user_nofault,
                     copy_to_user_nofault, current_task, map_of, read_kernel, btf_member,
                     strncpy_from_kernel_nofault, strncpy_from_user_nofault, write_kernel, write_padded,
                     zero_fill)
from .core import _proto, read_u64_array
# the socket casts and cookies are net/core/filter.c's; the tracing lists take them from here
from .sock import (bpf_skc_to_mptcp_sock_proto, bpf_skc_to_tcp6_sock_proto,  # noqa: F401
                   bpf_skc_to_tcp_request_sock_proto, bpf_skc_to_tcp_sock_proto,
                   bpf_skc_to_tcp_timewait_sock_proto, bpf_skc_to_udp6_sock_proto,
                   bpf_skc_to_unix_sock_proto, bpf_get_socket_ptr_cookie_proto)
from .proto import (ARG_PTR_TO_MEM_OR_NULL, ARG_PTR_TO_UNINIT_MEM, ARG_PTR_TO_WRITABLE_U64,
                    RET_PTR_TO_BTF_ID_OR_NULL, RET_PTR_TO_BTF_ID_TRUSTED,
                    RET_PTR_TO_MAP_VALUE_OR_NULL, BpfArgType as A,
                    BpfReturnType as R, BpfTypeFlag as T)
from ..memory import TASK_SIZE

BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_F_CTXLEN_MASK = 0xFFFFF << 32
BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK = 1 << 8
BPF_F_FAST_STACK_CMP = 1 << 9
BPF_F_REUSE_STACKID = 1 << 10
BPF_F_USER_BUILD_ID = 1 << 11
MAX_PERF_OUTPUT_NEST = 3                 # bpf_trace_sample_data.sds[3]
_MEM_RO = A.ARG_PTR_TO_MEM | T.MEM_RDONLY
_MAP = A.ARG_CONST_MAP_PTR
_CTX = A.ARG_PTR_TO_CTX
_BTF_TASK = ("struct", "task_struct")


# -- probe reads ------------------------------------------------------------------------------


def _probe_result(run, dst, size, got):
    if isinstance(got, int):
        zero_fill(run, dst, size)
        return got
    write_kernel(run, dst, got)
    return 0


def _probe_str_result(run, dst, size, got):
    if isinstance(got, int):
        zero_fill(run, dst, size)
        return got
    write_kernel(run, dst, got)
    return len(got)


def bpf_probe_read_user(run, r1, r2, r3, r4=0, r5=0):
    size = r2 & U32_MASK
    return _probe_result(run, r1, size, copy_from_user_nofault(run, r3, size))


def bpf_probe_read_kernel(run, r1, r2, r3, r4=0, r5=0):
    size = r2 & U32_MASK
    return _probe_result(run, r1, size, copy_from_kernel_nofault(run, r3, size))


def bpf_probe_read_user_str(run, r1, r2, r3, r4=0, r5=0):
    size = r2 & U32_MASK
    return _probe_str_result(run, r1, size, strncpy_from_user_nofault(run, r3, size))


def bpf_probe_read_kernel_str(run, r1, r2, r3, r4=0, r5=0):
    size = r2 & U32_MASK
    return _probe_str_result(run, r1, size, strncpy_from_kernel_nofault(run, r3, size))


def bpf_probe_read_compat(run, r1, r2, r3, r4=0, r5=0):
    if r3 < TASK_SIZE:
        return bpf_probe_read_user(run, r1, r2, r3)
    return bpf_probe_read_kernel(run, r1, r2, r3)


def bpf_probe_read_compat_str(run, r1, r2, r3, r4=0, r5=0):
    if r3 < TASK_SIZE:
        return bpf_probe_read_user_str(run, r1, r2, r3)
    return bpf_probe_read_kernel_str(run, r1, r2, r3)


def bpf_probe_write_user(run, r1, r2, r3, r4=0, r5=0):
    """EPERM from a kernel thread or an exiting task (no current mm), else copy_to_user_nofault."""
    task = current_task(run)
    if task is None or not getattr(task, "alive", True):
        return -errno.EPERM
    data = read_kernel(run, r2, r3 & U32_MASK)
    if data is None:
        return -errno.EFAULT
    return copy_to_user_nofault(run, r1, data)


def bpf_copy_from_user(run, r1, r2, r3, r4=0, r5=0):
    """helpers.c bpf_copy_from_user (sleepable programs only): 0 or -EFAULT, dst zeroed."""
    size = r2 & U32_MASK
    got = copy_from_user_nofault(run, r3, size)
    if isinstance(got, int):
        zero_fill(run, r1, size)
        return -errno.EFAULT
    write_kernel(run, r1, got)
    return 0


def bpf_copy_from_user_task(run, r1, r2, r3, r4, r5):
    """helpers.c bpf_copy_from_user_task(dst, size, user_ptr, task, flags): access_process_vm."""
    size = r2 & U32_MASK
    if r5:
        return -errno.EINVAL
    if not size:
        return 0
    task = task_of_addr(run.kernel, r4)
    try:
        if task is None:
            raise MemoryFault(r3, size, False, "no task")
        data = task.mm.read(r3, size)
    except MemoryFault:
        zero_fill(run, r1, size)
        return -errno.EFAULT
    write_kernel(run, r1, data)
    return 0


_probe = (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING)
bpf_probe_read_user_proto = _proto(bpf_probe_read_user, "probe_read_user", R.RET_INTEGER, _probe, gpl=True)
bpf_probe_read_user_str_proto = _proto(bpf_probe_read_user_str, "probe_read_user_str", R.RET_INTEGER,
                                       _probe, gpl=True)
bpf_probe_read_kernel_proto = _proto(bpf_probe_read_kernel, "probe_read_kernel", R.RET_INTEGER,
                                     _probe, gpl=True)
bpf_probe_read_kernel_str_proto = _proto(bpf_probe_read_kernel_str, "probe_read_kernel_str",
                                         R.RET_INTEGER, _probe, gpl=True)
bpf_probe_read_compat_proto = _proto(bpf_probe_read_compat, "probe_read", R.RET_INTEGER, _probe, gpl=True)
bpf_probe_read_compat_str_proto = _proto(bpf_probe_read_compat_str, "probe_read_str", R.RET_INTEGER,
                                         _probe, gpl=True)
bpf_probe_write_user_proto = _proto(bpf_probe_write_user, "probe_write_user", R.RET_INTEGER,
                                    (A.ARG_ANYTHING, _MEM_RO, A.ARG_CONST_SIZE), gpl=True)
bpf_copy_from_user_proto = _proto(bpf_copy_from_user, "copy_from_user", R.RET_INTEGER, _probe,
                                  might_sleep=True)
bpf_copy_from_user_task_proto = _proto(bpf_copy_from_user_task, "copy_from_user_task", R.RET_INTEGER,
                                       (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING,
                                        A.ARG_PTR_TO_BTF_ID, A.ARG_ANYTHING), gpl=True, might_sleep=True,
                                       arg_btf_ids=(None, None, None, _BTF_TASK))


# -- trace_printk ------------------------------------------------------------------------------


def trace_bpf_trace_printk(run, text: bytes) -> None:
    """The bpf_trace:bpf_trace_printk tracepoint: one entry in the kernel's trace buffer."""
    from ..trace_pipe import trace_buffer
    trace_buffer(run.kernel).emit("bpf_trace_printk", text, run.cpu, current_task(run),
                                  getattr(run, "trace_flags", "...2."))


def _printk(run, fmt_addr, fmt_size, args, num_args):
    raw = read_kernel(run, fmt_addr, fmt_size)
    if raw is None:
        return -errno.EFAULT
    nul = raw.find(0)
    if nul < 0:
        return -errno.EINVAL                 # strnchr(fmt, fmt_size, 0) found no NUL
    pieces = bprintf.bpf_bprintf_prepare(run, raw[:nul], args, num_args)
    if isinstance(pieces, int):
        return pieces
    text, full = bprintf.bstr_printf(run, pieces, bprintf.MAX_BPRINTF_BUF)
    trace_bpf_trace_printk(run, text)
    return full


def bpf_trace_printk(run, r1, r2, r3, r4, r5):
    """bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): the length printed, or -EINVAL."""
    return _printk(run, r1, r2 & U32_MASK, [r3, r4, r5], bprintf.MAX_TRACE_PRINTK_VARARGS)


def bpf_trace_vprintk(run, r1, r2, r3, r4, r5=0):
    """bpf_trace_vprintk(fmt, fmt_size, args, data_len): data_len a multiple of 8, <= 12 args."""
    data_len = r4 & U32_MASK
    if data_len & 7 or data_len > bprintf.MAX_BPRINTF_VARARGS * 8 or (data_len and not r3):
        return -errno.EINVAL
    n = data_len // 8
    return _printk(run, r1, r2 & U32_MASK, read_u64_array(run, r3, n), n)


bpf_trace_printk_proto = _proto(bpf_trace_printk, "trace_printk", R.RET_INTEGER,
                                (_MEM_RO, A.ARG_CONST_SIZE), gpl=True)
bpf_trace_vprintk_proto = _proto(bpf_trace_vprintk, "trace_vprintk", R.RET_INTEGER,
                                 (_MEM_RO, A.ARG_CONST_SIZE, ARG_PTR_TO_MEM_OR_NULL | T.MEM_RDONLY,
                                  A.ARG_CONST_SIZE_OR_ZERO), gpl=True)


# -- the current task_struct ------------------------------------------------------------------------


def task_struct_addr(kernel, task) -> int:
    """Kernel address of ``task``'s struct task_struct (None: the current CPU's idle task).
    ``kernel.subsys["task_struct_addr"]`` replaces the default layout (module docstring)."""
    hook = kernel.subsys.get("task_struct_addr")
    if hook is not None:
        return hook(task)
    return _default_task_struct(kernel, task)


def task_of_addr(kernel, addr: int):
    """The TaskStruct whose task_struct lives at ``addr`` (None if none does)."""
    region = kernel.mem.region_of(addr)
    owner = region.owner if region is not None and region.start == addr else None
    return owner if hasattr(owner, "mm") else None


def _task_layout(kernel):
    layout = kernel.subsys.get("bpf_task_layout")
    if layout is None:
        layout = (64, 0, 4, 8)
        try:
            btf = kernel.btf
            tid = btf.find_by_name_kind("task_struct", 4)       # BTF_KIND_STRUCT
            offs = {m.name: m.bit_offset // 8 for m in btf.members(tid)}
            layout = (btf.resolve_size(tid), offs["pid"], offs["tgid"], offs["comm"])
        except Exception:                                      # no BTF or no task_struct in it
            pass
        kernel.subsys["bpf_task_layout"] = layout
    return layout


def _default_task_struct(kernel, task) -> int:
    cache = kernel.subsys.setdefault("bpf_task_structs", {})
    key = id(task) if task is not None else ("idle", kernel.current_cpu)
    size, off_pid, off_tgid, off_comm = _task_layout(kernel)
    region = cache.get(key)
    if region is None:
        region = kernel.mem.alloc(size, "struct task_struct", kind="kernel", writable=False,
                                  owner=task)
        cache[key] = region
    pid, tgid = (task.pid, task.tgid) if task is not None else (0, 0)
    comm = (task.comm if task is not None else f"swapper/{kernel.current_cpu}").encode()[:15]
    buf = region.buf
    buf[off_pid:off_pid + 4] = pid.to_bytes(4, "little")
    buf[off_tgid:off_tgid + 4] = tgid.to_bytes(4, "little")
    buf[off_comm:off_comm + 16] = comm + bytes(16 - len(comm))
    return region.start


def bpf_get_current_task(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return task_struct_addr(run.kernel, current_task(run))


bpf_get_current_task_proto = _proto(bpf_get_current_task, "get_current_task", R.RET_INTEGER, gpl=True)
bpf_get_current_task_btf_proto = _proto(bpf_get_current_task, "get_current_task_btf",
                                        RET_PTR_TO_BTF_ID_TRUSTED, gpl=True, ret_btf_id=_BTF_TASK)


# -- perf event output ------------------------------------------------------------------------


def _perf_output(run, map_addr, flags, data: bytes):
    """__bpf_perf_event_output through the perf event array's ``map_perf_event_output`` op
    (E2BIG: index past max_entries; ENOENT: empty slot; EINVAL: not a BPF_OUTPUT event;
    EOPNOTSUPP: event on another CPU), with the per-CPU nesting limit (EBUSY past 3)."""
    if flags & ~BPF_F_INDEX_MASK:
        return -errno.EINVAL
    m = map_of(run, map_addr)
    if m is None or m.ops.map_perf_event_output is None:
        return -errno.EINVAL
    percpu = run.kernel.cpu(run.cpu).percpu
    nest = percpu.get("bpf_trace_nest_level", 0) + 1
    if nest > MAX_PERF_OUTPUT_NEST:
        return -errno.EBUSY
    percpu["bpf_trace_nest_level"] = nest
    try:
        m.ops.map_perf_event_output(m, flags & BPF_F_INDEX_MASK, data)
    except BpfError as e:
        return -e.errno
    finally:
        percpu["bpf_trace_nest_level"] = nest - 1
    return 0


def bpf_perf_event_output(run, r1, r2, r3, r4, r5):
    """bpf_perf_event_output(ctx, map, flags, data, size) for kprobe, tracepoint and raw_tp
    programs (the three kernel variants differ only in where they take pt_regs from)."""
    data = read_kernel(run, r4, r5 & U64_MASK) if r5 else b""
    if data is None:
        return -errno.EFAULT
    return _perf_output(run, r2, r3, data)


_perf_args = (_CTX, _MAP, A.ARG_ANYTHING, _MEM_RO, A.ARG_CONST_SIZE_OR_ZERO)
bpf_perf_event_output_proto = _proto(bpf_perf_event_output, "perf_event_output", R.RET_INTEGER,
                                     _perf_args, gpl=True)
bpf_perf_event_output_proto_tp = bpf_perf_event_output_proto
bpf_perf_event_output_proto_raw_tp = bpf_perf_event_output_proto


# -- stacks -------------------------------------------------------------------------------------


def _callchain(run, user: bool, max_depth: int) -> list[int]:
    """get_perf_callchain: the simulated stack of the run context, innermost frame first."""
    ips = list(run.ustack if user else run.kstack)
    limit = min(max_depth, run.kernel.sysctl["kernel.perf_event_max_stack"])
    return ips[:limit]


def bpf_get_stackid(run, r1, r2, r3, r4=0, r5=0):
    """bpf_get_stackid(ctx, map, flags) through the stack map's ``map_get_stackid`` op, which
    applies the skip, hashing and BPF_F_REUSE_STACKID / FAST_STACK_CMP rules."""
    flags = r3
    if flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID):
        return -errno.EINVAL
    m = map_of(run, r2)
    if m is None or m.ops.map_get_stackid is None:
        return -errno.EINVAL
    max_depth = m.value_size // 8 + (flags & BPF_F_SKIP_FIELD_MASK)
    ips = _callchain(run, bool(flags & BPF_F_USER_STACK), max_depth)
    try:
        return m.ops.map_get_stackid(m, ips, flags)
    except BpfError as e:
        return -e.errno


def bpf_get_stack(run, r1, r2, r3, r4, r5=0):
    """bpf_get_stack(ctx, buf, size, flags) (stackmap.c __bpf_get_stack) of the run context."""
    return _get_stack(run, r2, r3, r4, lambda user, depth: _callchain(run, user, depth))


def _get_stack(run, buf, size, flags, chain):
    """__bpf_get_stack: bytes copied, the rest of buf zeroed; EINVAL for bad flags or a size
    not a multiple of the entry size; EFAULT when the stack has fewer frames than ``skip``.
    Build ids are not modelled (-EINVAL). ``chain(user, max_depth)`` gives the frames."""
    size = size & U32_MASK
    skip = flags & BPF_F_SKIP_FIELD_MASK
    user = bool(flags & BPF_F_USER_STACK)
    err = -errno.EINVAL
    if not flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID) \
            and not flags & BPF_F_USER_BUILD_ID and size % 8 == 0:
        num_elem = size // 8
        ips = chain(user, num_elem + skip)
        if len(ips) >= skip:
            ips = ips[skip:skip + num_elem]
            data = b"".join((ip & U64_MASK).to_bytes(8, "little") for ip in ips)
            if write_padded(run, buf, data, size):
                return -errno.EFAULT
            return len(data)
        err = -errno.EFAULT
    zero_fill(run, buf, size)
    return err


bpf_get_stackid_proto = _proto(bpf_get_stackid, "get_stackid", R.RET_INTEGER,
                               (_CTX, _MAP, A.ARG_ANYTHING), gpl=True)
bpf_get_stack_proto = _proto(bpf_get_stack, "get_stack", R.RET_INTEGER,
                             (_CTX, ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING),
                             gpl=True)


# -- signals, kprobe override, branch snapshot ------------------------------------------------


def send_signal_hook(kernel):
    """``kernel.subsys["send_signal"]``: callable (task, sig, pidtype) -> int; the default queues
    the signal on ``task.pending_signals`` (a list the task code or a test reads)."""
    return kernel.subsys.get("send_signal") or _queue_signal


def _queue_signal(task, sig, pidtype) -> int:
    pending = getattr(task, "pending_signals", None)
    if pending is None:
        pending = task.pending_signals = []
    pending.append((sig, pidtype))
    return 0


def _send_signal(run, sig, pidtype):
    task = current_task(run)
    if task is None or not getattr(task, "alive", True):
        return -errno.EPERM                   # PF_KTHREAD | PF_EXITING
    if not 0 < (sig & U32_MASK) <= 64:        # valid_signal()
        return -errno.EINVAL
    return send_signal_hook(run.kernel)(task, sig & U32_MASK, pidtype)


def bpf_send_signal(run, r1, r2=0, r3=0, r4=0, r5=0):
    return _send_signal(run, r1, "tgid")


def bpf_send_signal_thread(run, r1, r2=0, r3=0, r4=0, r5=0):
    return _send_signal(run, r1, "pid")


def bpf_override_return(run, r1, r2, r3=0, r4=0, r5=0):
    """kprobe only: regs_set_return_value + override_function_with_return. The kprobe handler
    reads ``run.override_return`` after the program and skips the probed function."""
    run.override_return = r2 & U64_MASK
    return 0


def bpf_get_branch_snapshot(run, r1, r2, r3, r4=0, r5=0):
    """No LBR in the simulated CPU: x86 gives -EINVAL for flags, else -ENOENT (no entries)."""
    if run.kernel.arch not in ("x86_64", "i386"):
        return -errno.ENOENT
    return -errno.EINVAL if r3 else -errno.ENOENT


bpf_send_signal_proto = _proto(bpf_send_signal, "send_signal", R.RET_INTEGER, (A.ARG_ANYTHING,))
bpf_send_signal_thread_proto = _proto(bpf_send_signal_thread, "send_signal_thread", R.RET_INTEGER,
                                      (A.ARG_ANYTHING,))
bpf_override_return_proto = _proto(bpf_override_return, "override_return", R.RET_INTEGER,
                                   (_CTX, A.ARG_ANYTHING), gpl=True)
bpf_get_branch_snapshot_proto = _proto(bpf_get_branch_snapshot, "get_branch_snapshot", R.RET_INTEGER,
                                       (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO), gpl=True)


# -- trampoline ctx: func ip, args, return value, cookies ------------------------------------------


def _ctx_u64(run, ctx, idx):
    try:
        return run.mem.load((ctx + 8 * idx) & U64_MASK, 8)
    except MemoryFault:
        return None


def bpf_get_func_ip_tracing(run, r1, r2=0, r3=0, r4=0, r5=0):
    """ctx[-2]: the traced function's address, stored by a trampoline built with IP_ARG."""
    v = _ctx_u64(run, r1, -2)
    return v if v is not None else 0


def bpf_get_func_ip_kprobe(run, r1, r2=0, r3=0, r4=0, r5=0):
    """The probed address if the kprobe sits on a function entry, else 0."""
    return run.func_ip if getattr(run, "kprobe_on_func_entry", False) else 0


def bpf_get_func_ip_kprobe_multi(run, r1, r2=0, r3=0, r4=0, r5=0):
    return run.func_ip


def bpf_get_attach_cookie(run, r1, r2=0, r3=0, r4=0, r5=0):
    """The cookie of the link or perf event the program runs for (bpf_run_ctx / event)."""
    return run.cookie & U64_MASK


def bpf_get_func_arg(run, r1, r2, r3, r4=0, r5=0):
    nr = _ctx_u64(run, r1, -1)
    if nr is None or (r2 & U32_MASK) >= nr:
        write_kernel(run, r3, bytes(8))
        return -errno.EINVAL
    v = _ctx_u64(run, r1, r2 & U32_MASK) or 0
    write_kernel(run, r3, v.to_bytes(8, "little"))
    return 0


def bpf_get_func_ret(run, r1, r2, r3=0, r4=0, r5=0):
    """fexit / fmod_ret: *value = ctx[ctx[-1]]; other attach types: -EOPNOTSUPP (what the
    verifier's inlining produces for them)."""
    if run.prog is not None and run.prog.expected_attach_type not in (
            BpfAttachType.BPF_TRACE_FEXIT, BpfAttachType.BPF_MODIFY_RETURN):
        return -errno.EOPNOTSUPP
    nr = _ctx_u64(run, r1, -1)
    v = _ctx_u64(run, r1, nr) if nr is not None else None
    write_kernel(run, r2, (v or 0).to_bytes(8, "little"))
    return 0 if v is not None else -errno.EFAULT


def bpf_get_func_arg_cnt(run, r1, r2=0, r3=0, r4=0, r5=0):
    v = _ctx_u64(run, r1, -1)
    return v if v is not None else 0


bpf_get_func_ip_proto_tracing = _proto(bpf_get_func_ip_tracing, "get_func_ip", R.RET_INTEGER, (_CTX,),
                                       gpl=True)
bpf_get_func_ip_proto_kprobe = _proto(bpf_get_func_ip_kprobe, "get_func_ip", R.RET_INTEGER, (_CTX,),
                                      gpl=True)
bpf_get_func_ip_proto_kprobe_multi = _proto(bpf_get_func_ip_kprobe_multi, "get_func_ip",
                                            R.RET_INTEGER, (_CTX,))
bpf_get_attach_cookie_proto = _proto(bpf_get_attach_cookie, "get_attach_cookie", R.RET_INTEGER, (_CTX,))
bpf_get_func_arg_proto = _proto(bpf_get_func_arg, "get_func_arg", R.RET_INTEGER,
                                (_CTX, A.ARG_ANYTHING, ARG_PTR_TO_WRITABLE_U64), arg_size=(0, 0, 8))
bpf_get_func_ret_proto = _proto(bpf_get_func_ret, "get_func_ret", R.RET_INTEGER,
                                (_CTX, ARG_PTR_TO_WRITABLE_U64), arg_size=(0, 8))
bpf_get_func_arg_cnt_proto = _proto(bpf_get_func_arg_cnt, "get_func_arg_cnt", R.RET_INTEGER, (_CTX,))


# -- d_path -----------------------------------------------------------------------------------

# btf_allowlist_d_path (CONFIG_SECURITY and CONFIG_SECURITY_PATH on)
D_PATH_ALLOWLIST = frozenset({"security_file_permission", "security_inode_getattr",
                              "security_file_open", "security_path_truncate", "vfs_truncate",
                              "vfs_fallocate", "dentry_open", "vfs_getattr", "filp_close"})


def bpf_d_path_allowed(prog) -> bool:
    """bpf_d_path_allowed: iterators, sleepable LSM hooks, or an allowlisted attach target."""
    from ..uapi import BpfProgType
    if prog.type == BpfProgType.BPF_PROG_TYPE_TRACING and \
            prog.expected_attach_type == BpfAttachType.BPF_TRACE_ITER:
        return True
    if prog.type == BpfProgType.BPF_PROG_TYPE_LSM:
        return True
    return prog.aux.attach_func_name in D_PATH_ALLOWLIST


def bpf_d_path(run, r1, r2, r3, r4=0, r5=0):
    """The path of a ``struct path *`` through ``kernel.subsys["d_path"]`` (callable addr ->
    str or None, from the simulated VFS). Returns the length including the NUL; -ENAMETOOLONG
    when it does not fit, -EINVAL when the path is unknown."""
    size = r3 & U32_MASK
    if not size:
        return 0
    resolve = run.kernel.subsys.get("d_path")
    path = resolve(r1) if callable(resolve) else None
    if path is None:
        return -errno.EINVAL
    data = path.encode() + b"\0"
    if len(data) > size:
        return -errno.ENAMETOOLONG
    write_kernel(run, r2, data)
    return len(data)


bpf_d_path_proto = _proto(bpf_d_path, "d_path", R.RET_INTEGER,
                          (A.ARG_PTR_TO_BTF_ID, A.ARG_PTR_TO_MEM | T.MEM_WRITE, A.ARG_CONST_SIZE_OR_ZERO),
                          arg_btf_ids=(("struct", "path"),), allowed=bpf_d_path_allowed)


# -- perf counters (get_map_perf_counter, perf_event_read_local) ---------------------------------

BPF_PERF_EVENT_VALUE_SIZE = 24           # struct bpf_perf_event_value {counter, enabled, running}
BPF_F_GET_BRANCH_RECORDS_SIZE = 1
PERF_BRANCH_ENTRY_SIZE = 24              # struct perf_branch_entry {from, to, flags bitfield}


def perf_event_read_local(run, ev):
    """kernel/events/core.c perf_event_read_local from a program on ``run.cpu``: (counter,
    enabled, running) or -errno. EOPNOTSUPP: an inherit event; EINVAL: a task event of another
    task, or a CPU event of another CPU; EBUSY: a pinned event not active here."""
    if ev.task is not None and ev.task is not run.task:
        return -errno.EINVAL
    if ev.cpu >= 0 and ev.cpu != run.cpu:
        return -errno.EINVAL
    if getattr(ev.attr, "pinned", 0) and ev.oncpu != run.cpu:
        return -errno.EBUSY
    try:
        return ev.read_local()
    except BpfError as e:
        return -e.errno


def get_map_perf_counter(run, map_addr: int, flags: int):
    """(counter, enabled, running) of the event in the perf event array's slot (flags' index,
    BPF_F_CURRENT_CPU: this CPU's), or -errno: EINVAL flags, E2BIG index, ENOENT empty slot."""
    if flags & ~BPF_F_INDEX_MASK:
        return -errno.EINVAL
    m = map_of(run, map_addr)
    if m is None or m.ops.map_fd_lookup_ptr is None:
        return -errno.EINVAL
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_CURRENT_CPU:
        index = run.cpu
    if index >= m.max_entries:
        return -errno.E2BIG
    ev = m.ops.map_fd_lookup_ptr(m, index)
    if ev is None:
        return -errno.ENOENT
    return perf_event_read_local(run, ev)


def _write_perf_value(run, buf, size, got):
    if size != BPF_PERF_EVENT_VALUE_SIZE:
        got = -errno.EINVAL
    if isinstance(got, int):
        zero_fill(run, buf, size)
        return got
    data = b"".join((v & U64_MASK).to_bytes(8, "little") for v in got)
    return write_kernel(run, buf, data)


def bpf_perf_event_read(run, r1, r2, r3=0, r4=0, r5=0):
    """The counter itself, or -errno (which a program cannot tell from a huge count, as on
    Linux: hence perf_event_read_value)."""
    got = get_map_perf_counter(run, r1, r2)
    return got if isinstance(got, int) else got[0]


def bpf_perf_event_read_value(run, r1, r2, r3, r4, r5=0):
    """bpf_perf_event_read_value(map, flags, buf, size): 0 and the three values, or -errno and
    a zeroed buf (EINVAL also for size != 24)."""
    size = r4 & U32_MASK
    got = get_map_perf_counter(run, r1, r2) if size == BPF_PERF_EVENT_VALUE_SIZE else -errno.EINVAL
    return _write_perf_value(run, r3, size, got)


def bpf_perf_prog_read_value(run, r1, r2, r3, r4=0, r5=0):
    """perf_event programs: the values of the event whose sample runs the program
    (``run.perf_event``, set by whoever runs it; ctx->event on Linux)."""
    size = r3 & U32_MASK
    ev = getattr(run, "perf_event", None)
    got = -errno.EINVAL
    if size == BPF_PERF_EVENT_VALUE_SIZE and ev is not None:
        got = perf_event_read_local(run, ev)
    return _write_perf_value(run, r2, size, got)


def bpf_read_branch_records(run, r1, r2, r3, r4, r5=0):
    """perf_event programs: the sample's branch stack (``run.branch_records``: (from, to, flags)
    entries, None when the sample has none). EINVAL: flags, or buf NULL / size not a multiple
    of 24; ENOENT: no branch stack; with BPF_F_GET_BRANCH_RECORDS_SIZE its size in bytes."""
    if r4 & ~BPF_F_GET_BRANCH_RECORDS_SIZE:
        return -errno.EINVAL
    entries = getattr(run, "branch_records", None)
    if entries is None:
        return -errno.ENOENT
    total = len(entries) * PERF_BRANCH_ENTRY_SIZE
    if r4 & BPF_F_GET_BRANCH_RECORDS_SIZE:
        return total
    size = r3 & U32_MASK
    if not r2 or size % PERF_BRANCH_ENTRY_SIZE:
        return -errno.EINVAL
    data = b"".join((f & U64_MASK).to_bytes(8, "little") + (t & U64_MASK).to_bytes(8, "little")
                    + (fl & U64_MASK).to_bytes(8, "little") for f, t, fl in entries)[:size]
    err = write_kernel(run, r2, data)
    return err if err else len(data)


bpf_perf_event_read_proto = _proto(bpf_perf_event_read, "perf_event_read", R.RET_INTEGER,
                                   (_MAP, A.ARG_ANYTHING), gpl=True)
bpf_perf_event_read_value_proto = _proto(bpf_perf_event_read_value, "perf_event_read_value",
                                         R.RET_INTEGER, (_MAP, A.ARG_ANYTHING, ARG_PTR_TO_UNINIT_MEM,
                                                         A.ARG_CONST_SIZE), gpl=True)
bpf_perf_prog_read_value_proto = _proto(bpf_perf_prog_read_value, "perf_prog_read_value",
                                        R.RET_INTEGER, (_CTX, ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE),
                                        gpl=True)
bpf_read_branch_records_proto = _proto(bpf_read_branch_records, "read_branch_records", R.RET_INTEGER,
                                       (_CTX, ARG_PTR_TO_MEM_OR_NULL | T.MEM_WRITE,
                                        A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING), gpl=True)


# -- other tasks: pt_regs, stacks, VMAs ------------------------------------------------------------

VM_READ, VM_WRITE, VM_EXEC = 0x1, 0x2, 0x4


def task_of_ptr(run, addr: int):
    """(found, task) for a task_struct pointer: the TaskStruct, or None for a CPU's idle task;
    found is False when ``addr`` is no task_struct."""
    region = run.mem.region_of(addr) if addr else None
    if region is None or region.start != addr:
        return False, None
    if hasattr(region.owner, "mm"):
        return True, region.owner
    return region.name == "struct task_struct", None


def task_pt_regs_addr(kernel, task) -> int:
    """task_pt_regs(task): the task's user-mode registers saved at kernel entry. The store is
    ``kernel.subsys["task_pt_regs"]`` (pid -> address), which the syscall entry code
    (tracing/syscalls.py) fills; a task that never entered the kernel there gets zeroed regs."""
    store = kernel.subsys.setdefault("task_pt_regs", {})
    pid = task.pid if task is not None else 0
    addr = store.get(pid)
    if addr is None:
        from ..ctx_access import PT_REGS_SIZE      # ctx_access imports this package
        size = PT_REGS_SIZE[kernel.arch]
        addr = store[pid] = kernel.mem.alloc(size, f"pt_regs of {pid}", kind="kernel").start
    return addr


def bpf_task_pt_regs(run, r1, r2=0, r3=0, r4=0, r5=0):
    found, task = task_of_ptr(run, r1)
    return task_pt_regs_addr(run.kernel, task) if found else 0


def _task_callchain(run, task, user: bool, max_depth: int) -> list[int]:
    """get_callchain_entry_for_task / get_perf_callchain for ``task``: the run context's stacks
    when it is the current task; a task running on another CPU has that CPU's kernel frames (as
    the tracing code records them, ``kernel.subsys["task_kstack"]`` callable (task) -> ips);
    other tasks have no simulated stack; user stacks of other tasks are empty (crosstask)."""
    if task is run.task:
        return _callchain(run, user, max_depth)
    if user:
        return []
    hook = run.kernel.subsys.get("task_kstack")
    ips = list(hook(task)) if callable(hook) else []
    return ips[:min(max_depth, run.kernel.sysctl["kernel.perf_event_max_stack"])]


def bpf_get_task_stack(run, r1, r2, r3, r4, r5=0):
    """bpf_get_task_stack(task, buf, size, flags): as bpf_get_stack, for ``task``; EFAULT for
    something that is no task."""
    found, task = task_of_ptr(run, r1)
    if not found:
        zero_fill(run, r2, r3 & U32_MASK)
        return -errno.EFAULT
    return _get_stack(run, r2, r3, r4, lambda user, depth: _task_callchain(run, task, user, depth))


def _vma_struct(run, task, region) -> int:
    """A struct vm_area_struct for one mapping of ``task``'s mm (kernel.btf's layout: vm_start,
    vm_end, vm_flags; the rest zero), made once per mapping."""
    cache = run.kernel.subsys.setdefault("bpf_vmas", {})
    key = (id(task.mm), region.start, region.end)
    addr = cache.get(key)
    if addr is not None:
        return addr
    btf = run.kernel.btf
    size = 192
    offs = {}
    try:
        tid = btf.find_by_name_kind("vm_area_struct", 4)
        size = btf.resolve_size(tid)
        for name in ("vm_start", "vm_end", "vm_flags"):
            got = btf_member(btf, tid, name)
            offs[name] = got[0] if got is not None else None
    except Exception:                       # noqa: BLE001 - a BTF without vm_area_struct
        offs = {"vm_start": 0, "vm_end": 8, "vm_flags": 32}
    flags = VM_READ | (VM_WRITE if region.writable else 0) | (VM_EXEC if region.kind == "text" else 0)
    buf = bytearray(size)
    for name, value in (("vm_start", region.start), ("vm_end", region.end), ("vm_flags", flags)):
        if offs.get(name) is not None:
            buf[offs[name]:offs[name] + 8] = value.to_bytes(8, "little")
    addr = cache[key] = run.kernel.mem.alloc(size, "struct vm_area_struct", kind="kernel",
                                             writable=False, data=bytes(buf)).start
    return addr


def bpf_find_vma(run, r1, r2, r3, r4, r5):
    """bpf_find_vma(task, addr, callback, ctx, flags): calls callback(task, vma, ctx) for the
    mapping of ``task`` that contains ``addr`` and returns 0; ENOENT: no task, no mm, no such
    mapping; EINVAL: flags."""
    if r5:
        return -errno.EINVAL
    found, task = task_of_ptr(run, r1)
    if not found or task is None or getattr(task, "mm", None) is None:
        return -errno.ENOENT
    region = task.mm.region_of(r2)
    if region is None or not region.start <= r2 < region.end:
        return -errno.ENOENT
    if not run.valid_bpf_func(r3):
        return -errno.EINVAL
    run.call_bpf_func(r3, r1, _vma_struct(run, task, region), r4, 0, 0)
    return 0


bpf_task_pt_regs_proto = _proto(bpf_task_pt_regs, "task_pt_regs", R.RET_PTR_TO_BTF_ID,
                                (A.ARG_PTR_TO_BTF_ID,), gpl=True, arg_btf_ids=(_BTF_TASK,),
                                ret_btf_id=("struct", "pt_regs"))
bpf_get_task_stack_proto = _proto(bpf_get_task_stack, "get_task_stack", R.RET_INTEGER,
                                  (A.ARG_PTR_TO_BTF_ID, ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO,
                                   A.ARG_ANYTHING), gpl=True, arg_btf_ids=(_BTF_TASK,))
bpf_find_vma_proto = _proto(bpf_find_vma, "find_vma", R.RET_INTEGER,
                            (A.ARG_PTR_TO_BTF_ID, A.ARG_ANYTHING, A.ARG_PTR_TO_FUNC,
                             A.ARG_PTR_TO_STACK | T.PTR_MAYBE_NULL, A.ARG_ANYTHING),
                            arg_btf_ids=(_BTF_TASK,))


# -- BTF pretty-printing (helpers/btf_show.py) -------------------------------------------------------


def bpf_snprintf_btf(run, r1, r2, r3, r4, r5):
    """bpf_snprintf_btf(str, str_size, struct btf_ptr *ptr, btf_ptr_size, flags): the object at
    ptr->ptr of vmlinux type ptr->type_id, printed by btf_show.py into str (truncated to
    str_size - 1 bytes and a NUL); returns the full length. EINVAL: flags beyond BTF_F_ALL,
    btf_ptr_size != 16, type id 0; ENOENT: no such type; EFAULT: unreadable object."""
    from .bprintf import ptr_hash
    from .btf_show import BTF_F_ALL, BtfShowFault, btf_type_snprintf_show
    if r5 & ~BTF_F_ALL or (r4 & U32_MASK) != 16:
        return -errno.EINVAL
    raw = read_kernel(run, r3, 16)
    if raw is None:
        return -errno.EFAULT
    ptr, type_id = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:12], "little", signed=True)
    btf = run.kernel.btf
    if type_id <= 0:
        return -errno.EINVAL
    if btf is None or type_id >= btf.nr_types:
        return -errno.ENOENT
    try:
        text = btf_type_snprintf_show(btf, type_id, ptr, run.mem, r5, lambda a: ptr_hash(run, a))
    except BtfShowFault:
        return -errno.EFAULT
    data = text.encode()
    size = r2 & U32_MASK
    write_kernel(run, r1, data[:size - 1] + b"\0")
    return len(data)


bpf_snprintf_btf_proto = _proto(bpf_snprintf_btf, "snprintf_btf", R.RET_INTEGER,
                                (A.ARG_PTR_TO_MEM | T.MEM_WRITE, A.ARG_CONST_SIZE, _MEM_RO,
                                 A.ARG_CONST_SIZE, A.ARG_ANYTHING))


# -- offered by 6.18, not implemented by kernelsim (func None) ------------------------------------

_SEQ = ("struct", "seq_file")
bpf_seq_printf_proto = _proto(None, "seq_printf", R.RET_INTEGER,
                              (A.ARG_PTR_TO_BTF_ID, _MEM_RO, A.ARG_CONST_SIZE,
                               ARG_PTR_TO_MEM_OR_NULL | T.MEM_RDONLY, A.ARG_CONST_SIZE_OR_ZERO),
                              gpl=True, arg_btf_ids=(_SEQ,))
bpf_seq_write_proto = _proto(None, "seq_write", R.RET_INTEGER,
                             (A.ARG_PTR_TO_BTF_ID, _MEM_RO, A.ARG_CONST_SIZE_OR_ZERO), gpl=True,
                             arg_btf_ids=(_SEQ,))
bpf_seq_printf_btf_proto = _proto(None, "seq_printf_btf", R.RET_INTEGER,
                                  (A.ARG_PTR_TO_BTF_ID, _MEM_RO, A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING),
                                  gpl=True, arg_btf_ids=(_SEQ,))


# -- BTF sk_buff and xdp_buff of tracing programs (net/core/filter.c) ------------------------------


XDP_FLAGS_HAS_FRAGS = 1 << 0
SMP_CACHE_BYTES = 64


def _btf_fields(run, struct: str, names) -> dict | None:
    """{name: (offset, size)} of members of a kernel.btf struct, or None if one is missing."""
    btf = run.kernel.btf
    out = {}
    for name in names:
        got = btf_member(btf, struct, name)
        if got is None:
            return None
        try:
            out[name] = (got[0], btf.resolve_size(got[1]))
        except Exception:  # noqa: BLE001
            return None
    return out


def _load_fields(run, addr: int, fields: dict) -> dict | None:
    try:
        return {n: run.mem.load(addr + off, size) for n, (off, size) in fields.items()}
    except MemoryFault:
        return None


def _skb_linear(run, skb: int):
    """(len, headlen, data address) of a struct sk_buff in kernel memory, or None."""
    f = _btf_fields(run, "sk_buff", ("len", "data_len", "data"))
    v = _load_fields(run, skb, f) if f else None
    return (v["len"], v["len"] - v["data_len"], v["data"]) if v else None


def _xdp_parts(run, xdp: int):
    """(linear length, frags length, data address) of a struct xdp_buff, or None
    (xdp_get_buff_len: data_end - data, plus the shared info's xdp_frags_size with frags)."""
    f = _btf_fields(run, "xdp_buff", ("data", "data_end", "data_hard_start", "frame_sz", "flags"))
    v = _load_fields(run, xdp, f) if f else None
    if v is None:
        return None
    frags = 0
    if v["flags"] & XDP_FLAGS_HAS_FRAGS:
        shinfo = _btf_fields(run, "skb_shared_info", ("xdp_frags_size",))
        try:
            size = run.kernel.btf.resolve_size(run.kernel.btf.find_by_name_kind("skb_shared_info", 4))
        except Exception:  # noqa: BLE001
            return None
        sinfo = v["data_hard_start"] + v["frame_sz"] - (size + SMP_CACHE_BYTES - 1) // SMP_CACHE_BYTES * SMP_CACHE_BYTES
        got = _load_fields(run, sinfo, shinfo) if shinfo else None
        if got is None:
            return None
        frags = got["xdp_frags_size"]
    return (v["data_end"] - v["data"]) & U64_MASK, frags, v["data"]


def _ctx_event_output(run, r2, flags, r4, r5, size, avail, linear, data_addr):
    """bpf_event_output of meta + the first ``size`` bytes of a packet: EINVAL flags, EFAULT
    past ``avail`` (or past the linear part: frags are not copied here)."""
    if flags & ~(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK):
        return -errno.EINVAL
    if size > avail or size > linear:
        return -errno.EFAULT
    meta = read_kernel(run, r4, r5) if r5 else b""
    pkt = read_kernel(run, data_addr, size) if size else b""
    if meta is None or pkt is None:
        return -errno.EFAULT
    return _perf_output(run, r2, flags & BPF_F_INDEX_MASK, meta + pkt)


def bpf_skb_output(run, r1, r2, r3, r4, r5):
    """bpf_skb_output(skb, map, flags, meta, meta_size) of a BTF struct sk_buff pointer."""
    got = _skb_linear(run, r1) if r1 else None
    if got is None:
        return -errno.EINVAL if r3 & ~(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK) else -errno.EFAULT
    length, headlen, data = got
    return _ctx_event_output(run, r2, r3, r4, r5, (r3 & BPF_F_CTXLEN_MASK) >> 32, length, headlen, data)


def bpf_xdp_output(run, r1, r2, r3, r4, r5):
    """bpf_xdp_output(xdp, map, flags, meta, meta_size) of a BTF struct xdp_buff pointer."""
    got = _xdp_parts(run, r1) if r1 else None
    if got is None:
        return -errno.EINVAL if r3 & ~(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK) else -errno.EFAULT
    linear, frags, data = got
    return _ctx_event_output(run, r2, r3, r4, r5, (r3 & BPF_F_CTXLEN_MASK) >> 32, linear + frags,
                             linear, data)


def bpf_xdp_get_buff_len(run, r1, r2=0, r3=0, r4=0, r5=0):
    got = _xdp_parts(run, r1)
    return got[0] + got[1] if got else 0


_SKB = ("struct", "sk_buff")
bpf_skb_output_proto = _proto(bpf_skb_output, "skb_output", R.RET_INTEGER,
                              (A.ARG_PTR_TO_BTF_ID, _MAP, A.ARG_ANYTHING, _MEM_RO,
                               A.ARG_CONST_SIZE_OR_ZERO), gpl=True, arg_btf_ids=(_SKB,))
bpf_xdp_output_proto = _proto(bpf_xdp_output, "xdp_output", R.RET_INTEGER,
                              (A.ARG_PTR_TO_BTF_ID, _MAP, A.ARG_ANYTHING, _MEM_RO,
                               A.ARG_CONST_SIZE_OR_ZERO), gpl=True, arg_btf_ids=(("struct", "xdp_buff"),))
bpf_sk_storage_get_tracing_proto = _proto(None, "sk_storage_get", RET_PTR_TO_MAP_VALUE_OR_NULL,
                                          (_MAP, A.ARG_PTR_TO_BTF_ID_SOCK_COMMON | T.PTR_MAYBE_NULL,
                                           A.ARG_PTR_TO_MAP_VALUE | T.PTR_MAYBE_NULL, A.ARG_ANYTHING))
bpf_sk_storage_delete_tracing_proto = _proto(None, "sk_storage_delete", R.RET_INTEGER,
                                             (_MAP, A.ARG_PTR_TO_BTF_ID_SOCK_COMMON | T.PTR_MAYBE_NULL))
bpf_sock_from_file_proto = _proto(None, "sock_from_file", RET_PTR_TO_BTF_ID_OR_NULL,
                                  (A.ARG_PTR_TO_BTF_ID,), arg_btf_ids=(("struct", "file"),),
                                  ret_btf_id=("struct", "socket"))
bpf_xdp_get_buff_len_trace_proto = _proto(bpf_xdp_get_buff_len, "xdp_get_buff_len", R.RET_INTEGER,
                                          (A.ARG_PTR_TO_BTF_ID,), arg_btf_ids=(("struct", "xdp_buff"),))


BASE_CAP_PERFMON_TRACE = {
    F.BPF_FUNC_trace_printk: bpf_trace_printk_proto,
    F.BPF_FUNC_trace_vprintk: bpf_trace_vprintk_proto,
    F.BPF_FUNC_get_current_task: bpf_get_current_task_proto,
    F.BPF_FUNC_get_current_task_btf: bpf_get_current_task_btf_proto,
    F.BPF_FUNC_probe_read_user: bpf_probe_read_user_proto,
    F.BPF_FUNC_probe_read_kernel: bpf_probe_read_kernel_proto,
    F.BPF_FUNC_probe_read_user_str: bpf_probe_read_user_str_proto,
    F.BPF_FUNC_probe_read_kernel_str: bpf_probe_read_kernel_str_proto,
    F.BPF_FUNC_copy_from_user: bpf_copy_from_user_proto,
    F.BPF_FUNC_copy_from_user_task: bpf_copy_from_user_task_proto,
    F.BPF_FUNC_snprintf_btf: bpf_snprintf_btf_proto,
    F.BPF_FUNC_task_pt_regs: bpf_task_pt_regs_proto,
    F.BPF_FUNC_perf_event_read: bpf_perf_event_read_proto,
    F.BPF_FUNC_perf_event_read_value: bpf_perf_event_read_value_proto,
    F.BPF_FUNC_send_signal: bpf_send_signal_proto,
    F.BPF_FUNC_send_signal_thread: bpf_send_signal_thread_proto,
    F.BPF_FUNC_get_task_stack: bpf_get_task_stack_proto,
    F.BPF_FUNC_get_branch_snapshot: bpf_get_branch_snapshot_proto,
    F.BPF_FUNC_find_vma: bpf_find_vma_proto,
}
