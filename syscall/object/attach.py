"""Attaching a loaded program the way libbpf's ``bpf_program__attach`` does for its section type
(tools/lib/bpf/libbpf.c attach_trace / bpf_program__attach_btf_id, attach_lsm, attach_raw_tp,
attach_tp / bpf_program__attach_tracepoint_opts / perf_event_open_tracepoint, attach_kprobe /
bpf_program__attach_kprobe_opts / perf_event_open_probe, attach_ksyscall, attach_kprobe_multi,
bpf_program__attach_perf_event_opts; tools/lib/bpf/bpf.c bpf_link_create's
RAW_TRACEPOINT_OPEN fallback).

| SEC                                 | how                                                        |
|-------------------------------------|------------------------------------------------------------|
| fentry/ fexit/ fmod_ret/ tp_btf/ lsm/ | BPF_LINK_CREATE(prog, 0, expected_attach_type, cookie); on EINVAL (old kernels) BPF_RAW_TRACEPOINT_OPEN(NULL, prog) |
| raw_tp/<tp>, raw_tracepoint(.w)/    | BPF_RAW_TRACEPOINT_OPEN(<tp>, prog)                        |
| tp/<cat>/<name>, tracepoint/        | perf_event_open(PERF_TYPE_TRACEPOINT, config = the tracepoint's id from tracefs events/<cat>/<name>/id), then BPF_LINK_CREATE(prog, pfd, BPF_PERF_EVENT) (or ioctl PERF_EVENT_IOC_SET_BPF with ``force_ioctl=True``), then PERF_EVENT_IOC_ENABLE |
| kprobe/<func>[+off], kretprobe/     | perf_event_open(kprobe PMU, config1 = func name, config2 = offset, config bit 0 for a return probe), then as above |
| ksyscall/<name>, kretsyscall/       | a kprobe on the architecture's syscall wrapper (``__x64_sys_<name>``)            |
| kprobe.multi/<glob>, kretprobe.multi/ | BPF_LINK_CREATE(prog, 0, BPF_TRACE_KPROBE_MULTI, syms matching the glob in the kernel's function list, flags BPF_F_KPROBE_MULTI_RETURN for kretprobe) |

Everything else (socket, xdp, tc, cgroup ...) is not auto-attachable (libbpf: no attach
function, EOPNOTSUPP). The returned ``Link`` owns its fd(s); closing the link fd drops the
link's reference, which detaches it when it was the last one.
"""

from __future__ import annotations

import errno
import fnmatch

from btf import BTF_KIND_FUNC
from kernelsim.uapi import BpfAttachType as A
from kernelsim.uapi import (PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, PERF_PMU_TYPE_KPROBE,
                            PerfFlag, PerfTypeId)

from .. import libbpf as L
from .errors import BpfObjectError, errno_name

BPF_F_KPROBE_MULTI_RETURN = 1
KPROBE_RETPROBE_BIT = 0          # /sys/bus/event_source/devices/kprobe/format/retprobe: config:0
SYSCALL_PREFIX = {"x86_64": "__x64_", "i386": "__ia32_", "arm64": "__arm64_",
                  "riscv64": "__riscv_", "s390x": "__s390x_"}


class Link:
    """struct bpf_link: an attachment. ``fd`` is the link fd (or the perf event fd when attached
    with the ioctl); ``detach()`` closes what the link owns."""

    def __init__(self, task, prog, fd: int, kind: str, perf_fd: int = -1, target: str = ""):
        self.task = task
        self.prog = prog
        self.fd = fd
        self.kind = kind            # "tracing", "raw_tp", "perf_event", "kprobe_multi"
        self.perf_fd = perf_fd      # the perf event fd, for perf_event links
        self.target = target        # what it is attached to (for repr)

    @property
    def attached(self) -> bool:
        return self.fd >= 0

    def detach(self) -> None:
        """bpf_link__destroy: close the link fd (and the perf event fd it owns). Idempotent."""
        if self.fd >= 0:
            self.task.close(self.fd)
        if self.perf_fd >= 0 and self.perf_fd != self.fd:
            self.task.close(self.perf_fd)
        self.fd = self.perf_fd = -1

    destroy = close = detach

    def info(self):
        """BPF_OBJ_GET_INFO_BY_FD on the link: a ``struct bpf_link_info`` cdata."""
        ret, info = L.bpf_obj_get_info_by_fd(self.task, self.fd, "link")
        if ret < 0:
            raise BpfObjectError(-ret, f"link of prog '{self.prog.name}': get info failed: "
                                 f"{errno_name(-ret)}", prog=self.prog.name)
        return info

    def pin(self, path: str) -> None:
        ret = L.bpf_obj_pin(self.task, self.fd, path)
        if ret < 0:
            raise BpfObjectError(-ret, f"link of prog '{self.prog.name}': pin at '{path}' failed: "
                                 f"{errno_name(-ret)}", prog=self.prog.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    def __repr__(self):
        state = f"fd={self.fd}" if self.fd >= 0 else "detached"
        return f"<Link {self.kind} prog={self.prog.name!r} target={self.target!r} {state}>"


def _err(prog, ret: int, what: str) -> BpfObjectError:
    return BpfObjectError(-ret, f"prog '{prog.name}': {what}: {errno_name(-ret)}", prog=prog.name,
                          section=prog.section)


def attach_program(prog, **opts) -> Link:
    """bpf_program__attach: by the section's attach method."""
    sec_def = prog._def.sec_def
    method = sec_def.attach if sec_def else None
    if prog.fd < 0:
        raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': can't attach before loaded",
                             prog=prog.name, section=prog.section)
    fn = _METHODS.get(method)
    if fn is None:
        raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': SEC(\"{prog.section}\") "
                             "programs cannot be auto-attached", prog=prog.name,
                             section=prog.section)
    return fn(prog, **opts)


def _target(prog, default=None) -> str:
    _, sep, rest = prog.section.partition("/")
    return rest if sep and rest else (default or "")


def attach_trace(prog, cookie: int = 0) -> Link:
    """bpf_program__attach_btf_id (fentry, fexit, fmod_ret, tp_btf, lsm)."""
    task = prog.obj.task
    fd = L.bpf_link_create(task, prog.fd, 0, prog.expected_attach_type,
                           L.LinkCreateOpts(cookie=cookie))
    if fd == -errno.EINVAL and not cookie and prog.expected_attach_type in (
            A.BPF_TRACE_RAW_TP, A.BPF_LSM_MAC, A.BPF_TRACE_FENTRY, A.BPF_TRACE_FEXIT,
            A.BPF_MODIFY_RETURN):
        fd = L.bpf_raw_tracepoint_open(task, None, prog.fd)
    if fd < 0:
        raise _err(prog, fd, "failed to attach")
    return prog.obj._track(Link(task, prog, fd, "tracing", target=prog._def.attach_target
                                or _target(prog)))


def attach_raw_tp(prog, tp_name: str | None = None, cookie: int = 0) -> Link:
    """attach_raw_tp: the tracepoint named after ``raw_tp/`` (or given)."""
    name = tp_name or _target(prog)
    if not name:
        raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': no raw tracepoint name in "
                             f"SEC(\"{prog.section}\"); pass tp_name=", prog=prog.name,
                             section=prog.section)
    fd = L.bpf_raw_tracepoint_open(prog.obj.task, name, prog.fd, cookie)
    if fd < 0:
        raise _err(prog, fd, f"failed to attach to raw tracepoint '{name}'")
    return prog.obj._track(Link(prog.obj.task, prog, fd, "raw_tp", target=name))


def _perf_event_open(prog, attr) -> int:
    from syscall import perf_abi
    task = prog.obj.task
    if not hasattr(task, "perf_event_open"):
        raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': the task has no "
                             "perf_event_open()", prog=prog.name)
    try:
        pfd = task.perf_event_open(perf_abi.ffi.buffer(attr), -1, 0, -1,
                                   PerfFlag.PERF_FLAG_FD_CLOEXEC)
    except (ImportError, ModuleNotFoundError, AttributeError) as e:
        raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': perf events are not "
                             f"available in this kernelsim yet ({e})", prog=prog.name,
                             section=prog.section) from e
    return int(pfd)


def attach_perf_event(prog, pfd: int, *, cookie: int = 0, force_ioctl: bool = False,
                      target: str = "") -> Link:
    """bpf_program__attach_perf_event_opts: a perf link (BPF_LINK_CREATE with BPF_PERF_EVENT)
    or, with ``force_ioctl``, PERF_EVENT_IOC_SET_BPF; then PERF_EVENT_IOC_ENABLE."""
    task = prog.obj.task
    link_fd = -1
    try:
        if not force_ioctl:
            link_fd = L.bpf_link_create(task, prog.fd, pfd, A.BPF_PERF_EVENT,
                                        L.LinkCreateOpts(cookie=cookie))
            if link_fd < 0:
                raise _err(prog, link_fd, f"failed to create BPF link for perf_event FD {pfd}")
        else:
            if cookie:
                raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': user context value "
                                     "is not supported", prog=prog.name)
            ret = task.ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog.fd)
            if ret < 0:
                raise _err(prog, ret, f"failed to attach to pfd {pfd}")
        ret = task.ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0)
        if ret < 0:
            raise _err(prog, ret, f"failed to enable pfd {pfd}")
    except BaseException:
        if link_fd >= 0:
            task.close(link_fd)
        task.close(pfd)
        raise
    fd = link_fd if link_fd >= 0 else pfd
    return prog.obj._track(Link(task, prog, fd, "perf_event", perf_fd=pfd, target=target))


def _tracepoint_id(prog, category: str, name: str) -> int:
    """determine_tracepoint_id: tracefs ``events/<cat>/<name>/id``."""
    kernel = prog.obj.task.kernel
    read = getattr(kernel, "tracefs_read", None)
    if read is None:
        raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{prog.name}': tracepoint ids need tracefs "
                             "(kernel.tracefs_read), which this kernelsim does not provide yet",
                             prog=prog.name, section=prog.section)
    try:
        text = read(f"events/{category}/{name}/id")
    except OSError as e:
        raise BpfObjectError(e.errno or errno.ENOENT, f"failed to determine tracepoint "
                             f"'{category}/{name}' perf event ID: {e}", prog=prog.name,
                             section=prog.section) from e
    return int(str(text).strip())


def attach_tp(prog, category: str | None = None, name: str | None = None, *, cookie: int = 0,
              force_ioctl: bool = False) -> Link:
    """attach_tp: SEC("tp/<category>/<name>")."""
    from syscall import perf_abi
    if category is None:
        cat, _, nm = _target(prog).partition("/")
        category, name = cat, nm
    if not category or not name:
        raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': invalid tracepoint section "
                             f"'{prog.section}' (want tp/<category>/<name>)", prog=prog.name,
                             section=prog.section)
    tp_id = _tracepoint_id(prog, category, name)
    attr = perf_abi.new_perf_event_attr(type=PerfTypeId.PERF_TYPE_TRACEPOINT, config=tp_id)
    pfd = _perf_event_open(prog, attr)
    if pfd < 0:
        raise _err(prog, pfd, f"tracepoint '{category}/{name}' perf_event_open() failed")
    return attach_perf_event(prog, pfd, cookie=cookie, force_ioctl=force_ioctl,
                             target=f"{category}/{name}")


def attach_kprobe(prog, func: str | None = None, offset: int = 0, *, retprobe=None,
                  cookie: int = 0, force_ioctl: bool = False) -> Link:
    """attach_kprobe: SEC("kprobe/<func>[+<offset>]") / SEC("kretprobe/<func>")."""
    from syscall import perf_abi
    if retprobe is None:
        retprobe = prog.section.startswith("kretprobe")
    if func is None:
        func = _target(prog)
        if "+" in func:
            func, _, off = func.partition("+")
            try:
                offset = int(off, 0)
            except ValueError:
                raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': invalid kprobe offset "
                                     f"'{off}'", prog=prog.name, section=prog.section) from None
    if not func:
        raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': no kernel function in "
                             f"SEC(\"{prog.section}\"); pass func=", prog=prog.name,
                             section=prog.section)
    import ctypes
    name_buf = ctypes.create_string_buffer(func.encode())
    attr = perf_abi.new_perf_event_attr(type=PERF_PMU_TYPE_KPROBE,
                                        config=(1 << KPROBE_RETPROBE_BIT) if retprobe else 0,
                                        config1=ctypes.addressof(name_buf), config2=offset)
    pfd = _perf_event_open(prog, attr)
    del name_buf
    if pfd < 0:
        raise _err(prog, pfd, f"failed to create {'kretprobe' if retprobe else 'kprobe'} "
                   f"'{func}+0x{offset:x}' perf event")
    return attach_perf_event(prog, pfd, cookie=cookie, force_ioctl=force_ioctl,
                             target=f"{func}+0x{offset:x}" if offset else func)


def attach_ksyscall(prog, syscall: str | None = None, **kw) -> Link:
    """attach_ksyscall: a kprobe on the syscall's arch wrapper (``__x64_sys_<name>``)."""
    name = syscall or _target(prog)
    prefix = SYSCALL_PREFIX.get(getattr(prog.obj.task.kernel, "arch", "x86_64"), "__x64_")
    return attach_kprobe(prog, f"{prefix}sys_{name}",
                         retprobe=prog.section.startswith("kretsyscall"), **kw)


def kernel_functions(kernel_btf) -> list[str]:
    """The kernel's attachable functions (its BTF FUNCs), for kprobe.multi globs."""
    return [kernel_btf.name_of(t) for t in kernel_btf.type_ids()
            if kernel_btf.kind_of(t) == BTF_KIND_FUNC]


def attach_kprobe_multi(prog, pattern: str | None = None, *, syms=None, cookies=None,
                        retprobe=None, session: bool = False) -> Link:
    """attach_kprobe_multi: BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI and the matching
    function names (ENOENT when the glob matches nothing)."""
    if retprobe is None:
        retprobe = prog.section.startswith("kretprobe")
    if syms is None:
        pattern = pattern or _target(prog)
        if not pattern:
            raise BpfObjectError(errno.EINVAL, f"prog '{prog.name}': no function pattern in "
                                 f"SEC(\"{prog.section}\")", prog=prog.name, section=prog.section)
        syms = sorted(n for n in kernel_functions(prog.obj.task.kernel.btf)
                      if fnmatch.fnmatchcase(n, pattern))
        if not syms:
            raise BpfObjectError(errno.ENOENT, f"prog '{prog.name}': no kernel function matches "
                                 f"'{pattern}'", prog=prog.name, section=prog.section)
    attach_type = A.BPF_TRACE_KPROBE_SESSION if session or prog.section.startswith(
        "kprobe.session") else A.BPF_TRACE_KPROBE_MULTI
    opts = L.LinkCreateOpts(kprobe_multi_syms=list(syms),
                            kprobe_multi_cookies=list(cookies) if cookies else None,
                            kprobe_multi_flags=BPF_F_KPROBE_MULTI_RETURN if retprobe else 0)
    fd = L.bpf_link_create(prog.obj.task, prog.fd, 0, attach_type, opts)
    if fd < 0:
        raise _err(prog, fd, "failed to attach kprobe.multi")
    return prog.obj._track(Link(prog.obj.task, prog, fd, "kprobe_multi",
                                target=pattern or ",".join(syms)))


def attach_kprobe_session(prog, pattern: str | None = None, **kw) -> Link:
    return attach_kprobe_multi(prog, pattern, session=True, **kw)


_METHODS = {
    "trace": attach_trace,
    "lsm": attach_trace,
    "raw_tp": attach_raw_tp,
    "tp": attach_tp,
    "kprobe": attach_kprobe,
    "ksyscall": attach_ksyscall,
    "kprobe_multi": attach_kprobe_multi,
    "kprobe_session": attach_kprobe_session,
}
