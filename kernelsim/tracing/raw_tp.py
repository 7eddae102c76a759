"""Raw tracepoint and tp_btf attachment: BPF_RAW_TRACEPOINT_OPEN and LINK_CREATE with
BPF_TRACE_RAW_TP, the raw-tp link, and the load-time target check of tp_btf programs
(kernel/bpf/syscall.c bpf_raw_tp_link_attach / bpf_raw_tp_link_lops, kernel/trace/bpf_trace.c
bpf_get_raw_tracepoint / bpf_probe_register / __bpf_probe_register, kernel/bpf/verifier.c
bpf_check_attach_target's BPF_TRACE_RAW_TP case; reference/bpf-syscall.md 7.1).

``bpf_raw_tp_link_attach(kernel, prog, tp_name, cookie)`` -> ``BpfRawTpLink`` (ID allocated,
holding the caller's program reference; the syscall installs it in an fd). ``tp_name`` is the
string the syscall copied from ``raw_tracepoint.name`` (None when the pointer was 0; a fault is
the syscall's EFAULT). Refusals (BpfError):

* EFAULT: a RAW_TRACEPOINT(_WRITABLE) program without a name (strncpy_from_user of NULL);
* EINVAL: a TRACING (tp_btf) program with a name; any other program type;
  ``max_ctx_offset > num_args * 8`` (the program reads an argument the tracepoint does not
  have); a writable program whose ``max_tp_access`` exceeds the tracepoint's writable size;
* ENOENT: no such tracepoint (names are bare: "sched_switch", not "sched:sched_switch"; the
  ``syscalls:`` events are not tracepoints);
* EEXIST: only with profile 5.5, where the probe's data was the program, so one program could
  be registered once per tracepoint; since 6.10 the data is the link and the same program may
  be attached any number of times (checked on the oracle machine, 6.18).

tp_btf programs: ``check_attach_btf_id_raw_tp(kernel, prog, log)`` runs at PROG_LOAD (the
syscall's prog load calls it for TRACING + BPF_TRACE_RAW_TP): ``attach_btf_id`` must be a
typedef (``attach_btf_id %u is not a typedef``) named ``btf_trace_<tp>`` (``attach_btf_id %u
points to wrong type name %s``) of an existing tracepoint, pointing at a FUNC_PROTO; it sets
``aux.attach_func_name`` = the tracepoint name and ``aux.attach_func_proto`` = the FUNC_PROTO
(btf_ctx_access then types the ctx slots after ``void *__data``). At attach the tracepoint is
the one chosen at load.

The link (struct bpf_raw_tp_link): type BPF_LINK_TYPE_RAW_TRACEPOINT, no detach (LINK_DETACH:
EOPNOTSUPP), no update (LINK_UPDATE: EINVAL); ``fill_link_info(view)`` gives
``raw_tracepoint.tp_name`` / ``tp_name_len`` / ``cookie`` with the kernel's string rules (both 0:
the length only; one of them 0: EINVAL; a short buffer gets a truncated, NUL-terminated name and
ENOSPC); ``show_fdinfo`` prints ``tp_name`` and ``cookie``. Closing the last reference
unregisters the probe.
"""

import errno

from ..bpf_objects import BpfObject
from ..errors import BpfError
from ..uapi import BpfAttachType as AT, BpfLinkType, BpfProgType as PT
from .tracepoints import bpf_trace_probe, btf_trace_typedef, tracepoints_of

BTF_TRACE_PREFIX = "btf_trace_"


class BpfRawTpLink(BpfObject):
    """struct bpf_raw_tp_link: a bpf_link, the tracepoint (btp) and the cookie."""

    kind = "link"
    type = BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT
    detach = None
    update_prog = None

    def __init__(self, kernel, prog, tp, cookie: int = 0, attach_type: int = 0):
        super().__init__(kernel)
        self.prog = prog
        self.tp = tp
        self.cookie = cookie & ((1 << 64) - 1)
        self.attach_type = attach_type
        self.registered = False

    @property
    def link_type(self) -> int:
        return self.type

    def release(self) -> None:
        """bpf_raw_tp_link_release: bpf_probe_unregister."""
        if self.registered:
            self.tp.probe_unregister(bpf_trace_probe, self)
            self.registered = False

    def free(self) -> None:
        self.release()
        if self.prog is not None:
            prog, self.prog = self.prog, None
            prog.put()

    def fill_link_info(self, view=None) -> dict:
        """bpf_raw_tp_link_fill_link_info. ``view``: the struct bpf_link_info being filled
        (``get(dotted)``, ``copy_to_user(addr, data)``; syscall/obj_info.py LinkInfoView).
        Returns the fields to set."""
        ubuf = view.get("raw_tracepoint.tp_name") if view is not None else 0
        ulen = view.get("raw_tracepoint.tp_name_len") if view is not None else 0
        name = self.tp.name.encode()
        if bool(ubuf) != bool(ulen):
            raise BpfError(errno.EINVAL, "tp_name and tp_name_len must be both set or both 0")
        out = {"raw_tracepoint.tp_name_len": len(name) + 1, "raw_tracepoint.cookie": self.cookie}
        if ubuf:
            bpf_copy_to_user(view, ubuf, name, ulen)
        return out

    def show_fdinfo(self) -> str:
        return f"tp_name:\t{self.tp.name}\ncookie:\t{self.cookie}\n"

    def __repr__(self) -> str:
        return f"<BpfRawTpLink id={self.id} prog={getattr(self.prog, 'id', 0)} {self.tp.name}>"


def bpf_copy_to_user(user, ubuf: int, data: bytes, ulen: int) -> None:
    """syscall.c bpf_copy_to_user: the string and its NUL if it fits in ``ulen``; otherwise
    ``ulen - 1`` bytes and a NUL, then ENOSPC."""
    if len(data) < ulen:
        user.copy_to_user(ubuf, data + b"\0")
    elif ulen:
        user.copy_to_user(ubuf, data[:ulen - 1] + b"\0")
        raise BpfError(errno.ENOSPC, "buffer too small for the name")


def bpf_get_raw_tracepoint(kernel, name: str):
    """The Tracepoint called ``name`` (the __bpf_raw_tp_map lookup), or None."""
    return tracepoints_of(kernel).get(name)


def bpf_probe_register(tp, link) -> None:
    """__bpf_probe_register: the ctx-size and writable-size checks, then the probe."""
    prog = link.prog
    if prog.aux.max_ctx_offset > tp.num_args * 8:
        raise BpfError(errno.EINVAL, f"program reads ctx up to {prog.aux.max_ctx_offset} bytes; "
                                     f"{tp.name} has {tp.num_args} arguments")
    if prog.aux.max_tp_access > tp.writable_size:
        raise BpfError(errno.EINVAL, f"writable access of {prog.aux.max_tp_access} bytes; "
                                     f"{tp.name} has a {tp.writable_size}-byte buffer")
    if tp.kernel.profile == "5.5":
        for func, data in tp.funcs:
            if func is bpf_trace_probe and data.prog is prog:
                raise BpfError(errno.EEXIST, f"program already attached to {tp.name}")
    tp.probe_register(bpf_trace_probe, link)
    link.registered = True


def bpf_raw_tp_link_attach(kernel, prog, tp_name: str | None, cookie: int = 0,
                           attach_type: int = 0, alloc_id: bool = True) -> BpfRawTpLink:
    """syscall.c bpf_raw_tp_link_attach for raw_tp and tp_btf programs (module doc). On success
    the link owns the caller's reference on ``prog``."""
    if prog.type == PT.BPF_PROG_TYPE_TRACING:
        if tp_name is not None:
            raise BpfError(errno.EINVAL, "tracing programs take the tracepoint from attach_btf_id")
        if prog.expected_attach_type != AT.BPF_TRACE_RAW_TP:
            raise BpfError(errno.EINVAL, "not a tp_btf program")
        tp_name = prog.aux.attach_func_name
    elif prog.type in (PT.BPF_PROG_TYPE_RAW_TRACEPOINT, PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE):
        if tp_name is None:
            raise BpfError(errno.EFAULT, "no tracepoint name")
    else:
        raise BpfError(errno.EINVAL, f"program type {int(prog.type)} cannot attach to a raw tracepoint")
    tp = bpf_get_raw_tracepoint(kernel, tp_name)
    if tp is None:
        raise BpfError(errno.ENOENT, f"no raw tracepoint {tp_name!r}")
    link = BpfRawTpLink(kernel, prog, tp, cookie, attach_type or (
        AT.BPF_TRACE_RAW_TP if prog.type == PT.BPF_PROG_TYPE_TRACING else 0))
    if alloc_id:
        link.alloc_id()
    try:
        bpf_probe_register(tp, link)
    except BaseException:
        if link.id:
            kernel.idr["link"].remove(link.id)
            link.id = 0
        link.prog = None                  # the caller keeps (and drops) its reference
        raise
    kernel.log.info("prog_attach", prog_id=prog.id, link_id=link.id, tracepoint=tp.name)
    return link


def link_create_raw_tp(kernel, prog, attach_type: int, cookie: int = 0) -> BpfRawTpLink:
    """link_create for a TRACING program with BPF_TRACE_RAW_TP (EINVAL: attach_type is not the
    program's expected_attach_type)."""
    if attach_type != prog.expected_attach_type:
        raise BpfError(errno.EINVAL, "attach_type != expected_attach_type")
    return bpf_raw_tp_link_attach(kernel, prog, None, cookie, attach_type)


def check_attach_btf_id_raw_tp(kernel, prog, log=None):
    """PROG_LOAD of a tp_btf program (module doc); ``log(line)`` receives the refusal."""
    from btf.uapi import BtfKind as K

    def fail(msg):
        if log is not None:
            log(msg + "\n")
        raise BpfError(errno.EINVAL, msg)

    btf = kernel.btf
    btf_id = prog.aux.attach_btf_id
    if not btf_id:
        fail("Tracing programs must provide btf_id")
    dst_prog = getattr(prog.aux, "dst_prog", None)
    if dst_prog is not None:
        # a tp_btf program given attach_prog_fd: bpf_check_attach_target's tgt_prog checks, which
        # end in "Only FENTRY/FEXIT progs are attachable to another BPF prog"
        from .attach_target import bpf_check_attach_target
        bpf_check_attach_target(kernel, prog, dst_prog, btf_id, log)
        fail("Only FENTRY/FEXIT progs are attachable to another BPF prog")
    try:
        t = btf.type_by_id(btf_id)
    except Exception:                       # noqa: BLE001 - BtfError
        fail(f"attach_btf_id {btf_id} is invalid")
    if not t.name:
        fail(f"attach_btf_id {btf_id} doesn't have a name")
    if t.kind != K.BTF_KIND_TYPEDEF:
        fail(f"attach_btf_id {btf_id} is not a typedef")
    if not t.name.startswith(BTF_TRACE_PREFIX):
        fail(f"attach_btf_id {btf_id} points to wrong type name {t.name}")
    name = t.name[len(BTF_TRACE_PREFIX):]
    if bpf_get_raw_tracepoint(kernel, name) is None:
        raise BpfError(errno.EINVAL, f"no tracepoint {name}")
    ptr = btf.type_by_id(t.type)
    if ptr.kind != K.BTF_KIND_PTR or btf.kind_of(ptr.type) != K.BTF_KIND_FUNC_PROTO:
        raise BpfError(errno.EINVAL, f"{t.name} is not a pointer to a function prototype")
    prog.aux.attach_btf = prog.aux.attach_btf or btf
    prog.aux.attach_func_name = name
    prog.aux.attach_func_proto = ptr.type
    return btf_trace_typedef(btf, name)
