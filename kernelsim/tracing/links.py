"""Tracing links: fentry/fexit/fmod_ret attachment through BPF_LINK_CREATE and
BPF_RAW_TRACEPOINT_OPEN (kernel/bpf/syscall.c bpf_tracing_prog_attach, bpf_tracing_link_lops,
link_create's tracing branch, bpf_raw_tp_link_attach's routing; reference/bpf-syscall.md 7).

``bpf_tracing_prog_attach(kernel, prog, tgt_prog_fd, btf_id, cookie, files)`` is the kernel
function of that name: a ``BpfTracingLink`` (a kernelsim.bpf_link.BpfLink) holding the caller's
program reference is primed (an ID reserved), attached to the target's trampoline and settled
(an fd installed in ``files``, returned); a failed attach gives the ID back and leaves the
program reference with the caller. Closing the last reference detaches.
``tracing_link_attach(kernel, prog, cookie)`` does the same without an fd, for Python callers.
Refusals (BpfError):

* EINVAL: not a TRACING program with expected_attach_type FENTRY/FEXIT/MODIFY_RETURN;
  ``target_fd``/``target_btf_id`` not both 0 or both set; a non-zero ``target_fd`` (only EXT
  programs may name a new target); no attach BTF (cannot re-attach); the target checks of
  attach_target.py;
* the trampoline's: E2BIG (BPF_MAX_TRAMP_LINKS), EBUSY (the program is already attached there),
  ENOTSUPP (the architecture cannot trace this prototype).

Re-attaching after the first link died is allowed (a new trampoline reference each time) for a
kernel function. A program loaded against another program (``aux.dst_prog``, attach_prog_fd)
gives that target to its first link (``link.tgt_prog``; the trampoline's function is a
prog_target.BpfProgFunc, which patches the target's entry); it has no attach BTF, so any later
attach is EINVAL, as on Linux; a subprogram target is ENOTSUPP (prog_target.py).
``link_create_tracing`` adds link_create's rule (``attach_type`` must equal the program's
expected_attach_type, EINVAL) and ``raw_tp_open_tracing`` the RAW_TRACEPOINT_OPEN one (``name``
must be 0, EINVAL; tp_btf programs belong to the tracepoint code: it returns None for them).

A tracing link has no ``detach`` (LINK_DETACH: EOPNOTSUPP) and no ``update_prog``
(LINK_UPDATE: EINVAL); ``fill_link_info`` gives ``tracing.attach_type``, ``target_obj_id`` (the
vmlinux BTF object id, 1, or the target program's ID), ``target_btf_id`` and ``cookie``; ``show_fdinfo`` the fdinfo lines.
"""

import errno

from ..bpf_btf import vmlinux_btf_object
from ..bpf_link import BpfLink, BpfLinkOps, bpf_link_cleanup, bpf_link_prime, bpf_link_settle
from ..errors import BpfError
from ..uapi import BpfAttachType as AT, BpfLinkType, BpfProgType as PT
from .attach_target import bpf_check_attach_target
from .prog_target import BpfProgFunc, bpf_prog_func_get, bpf_prog_func_put
from .trampoline import (bpf_trampoline_compute_key, bpf_trampoline_get, bpf_trampoline_link_prog,
                         bpf_trampoline_lookup, bpf_trampoline_put, bpf_trampoline_unlink_prog,
                         bpf_trampoline_unpack_key)

TRAMPOLINE_ATTACH_TYPES = (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN)


def bpf_tracing_link_release(link) -> None:
    """Unlink from the trampoline (never fails) and drop the trampoline reference."""
    tr = link.trampoline
    if tr is not None:
        bpf_trampoline_unlink_prog(link, tr, link.tgt_prog)
        _trampoline_put(tr)
        link.trampoline = None
    if link.tgt_prog is not None:
        link.tgt_prog.put()
        link.tgt_prog = None


def _trampoline_put(tr) -> None:
    """bpf_trampoline_put; the last reference on a program target unpatches its entry."""
    bpf_trampoline_put(tr)
    if tr.refcnt <= 0 and isinstance(tr.func, BpfProgFunc):
        bpf_prog_func_put(tr.func)


def bpf_tracing_link_dealloc(link) -> None:
    link._tramp_link = None


def bpf_tracing_link_info(link) -> tuple[int, int, int, int]:
    """(attach_type, target_obj_id, target_btf_id, cookie), from the trampoline key as
    bpf_trampoline_unpack_key gives them."""
    key = link.key
    if link.kernel.profile == "5.5" and not key >> 32:
        obj_id, btf_id = vmlinux_btf_object(link.kernel).id, key
    else:
        obj_id, btf_id = bpf_trampoline_unpack_key(key)
    return int(link.attach_type), obj_id, btf_id, link.cookie


def bpf_tracing_link_fill_link_info(link, info=None) -> dict:
    """The ``tracing`` member of struct bpf_link_info."""
    attach_type, obj_id, btf_id, cookie = bpf_tracing_link_info(link)
    return {"tracing.attach_type": attach_type, "tracing.target_obj_id": obj_id,
            "tracing.target_btf_id": btf_id, "tracing.cookie": cookie}


def bpf_tracing_link_show_fdinfo(link) -> str:
    attach_type, obj_id, btf_id, _ = bpf_tracing_link_info(link)
    return f"attach_type:\t{attach_type}\ntarget_obj_id:\t{obj_id}\ntarget_btf_id:\t{btf_id}\n"


# no detach (LINK_DETACH: EOPNOTSUPP), no update_prog (LINK_UPDATE: EINVAL)
bpf_tracing_link_lops = BpfLinkOps(release=bpf_tracing_link_release,
                                   dealloc=bpf_tracing_link_dealloc,
                                   fill_link_info=bpf_tracing_link_fill_link_info,
                                   show_fdinfo=bpf_tracing_link_show_fdinfo)


class BpfTracingLink(BpfLink):
    """struct bpf_tracing_link: a bpf_tramp_link (the link, its cookie, its place on a
    trampoline list) plus attach_type, trampoline and tgt_prog."""

    def __init__(self, kernel, prog, attach_type: int, cookie: int = 0):
        super().__init__(kernel, BpfLinkType.BPF_LINK_TYPE_TRACING, bpf_tracing_link_lops, prog,
                         attach_type)
        self.cookie = cookie & ((1 << 64) - 1)
        self.trampoline = None
        self.tgt_prog = None
        self.key = 0
        self._tr_linked = False          # on a trampoline list (hlist_unhashed)
        self._tramp_link = None          # the generator's BpfTrampLink, built once

    def fill_link_info(self) -> dict:
        return bpf_tracing_link_fill_link_info(self)

    def show_fdinfo(self) -> str:
        return bpf_tracing_link_show_fdinfo(self)

    def __repr__(self) -> str:
        tr = self.trampoline.func.name if self.trampoline else "-"
        return f"<BpfTracingLink id={self.id} prog={getattr(self.prog, 'id', 0)} {tr}>"


def _attach(kernel, prog, tgt_prog_fd: int, btf_id: int, cookie: int, files):
    """bpf_tracing_prog_attach up to bpf_link_settle (module doc); returns (link, fd or None)."""
    if prog.type != PT.BPF_PROG_TYPE_TRACING or prog.expected_attach_type not in TRAMPOLINE_ATTACH_TYPES:
        # EXT and LSM programs are not simulated; RAW_TP / ITER do not come here
        raise BpfError(errno.EINVAL, "not a fentry/fexit/fmod_ret program")
    if bool(tgt_prog_fd) != bool(btf_id):
        raise BpfError(errno.EINVAL, "target_fd and target_btf_id must be both set or both 0")
    if tgt_prog_fd:
        # "For now we only allow new targets for BPF_PROG_TYPE_EXT"
        raise BpfError(errno.EINVAL, "only extension programs can name a new target")
    aux = prog.aux
    tgt_prog = aux.dst_prog
    btf_id = aux.attach_btf_id
    if tgt_prog is None:
        if not btf_id or aux.attach_btf is None:
            # re-attach needs a kernel attach BTF: a program target is given up by the first
            # attach (dst_prog moves to that link), so a second attach lands here
            raise BpfError(errno.EINVAL, "no attach BTF: cannot (re-)attach")
        tgt = bpf_check_attach_target(kernel, prog, None, btf_id)
        obj_id = vmlinux_btf_object(kernel).id
        key = bpf_trampoline_compute_key(None, obj_id, btf_id, kernel.profile)
        tr = bpf_trampoline_get(kernel, key, tgt.fn)
    else:
        tgt = bpf_check_attach_target(kernel, prog, tgt_prog, btf_id)
        key = bpf_trampoline_compute_key(tgt_prog, 0, btf_id, kernel.profile)
        tr = bpf_trampoline_lookup(kernel, key)
        if tr is None:
            fn = bpf_prog_func_get(kernel, tgt_prog, tgt)   # ENOTSUPP: a subprogram
            tr = bpf_trampoline_get(kernel, key, fn)
        else:
            tr = bpf_trampoline_get(kernel, key, tr.func)
    link = BpfTracingLink(kernel, prog, prog.expected_attach_type, cookie)
    link.key = key
    primer = bpf_link_prime(link)
    try:
        bpf_trampoline_link_prog(link, tr)
    except BaseException:
        bpf_link_cleanup(primer)           # the ID back; the caller keeps its prog reference
        _trampoline_put(tr)
        raise
    link.trampoline = tr
    if tgt_prog is not None:
        link.tgt_prog, aux.dst_prog = tgt_prog, None        # the load-time reference moves
    if files is not None:
        fd = bpf_link_settle(primer, files)
    else:
        fd = None
        link.id = primer.id
    kernel.log.info("prog_attach", prog_id=prog.id, link_id=link.id,
                    attach_type=int(link.attach_type), func=tr.func.name)
    return link, fd


def bpf_tracing_prog_attach(kernel, prog, tgt_prog_fd: int, btf_id: int, cookie: int, files) -> int:
    """syscall.c bpf_tracing_prog_attach: attach and return the new link fd in ``files``."""
    return _attach(kernel, prog, tgt_prog_fd, btf_id, cookie, files)[1]


def tracing_link_attach(kernel, prog, cookie: int = 0) -> BpfTracingLink:
    """The same without an fd (Python callers and tests): the link, with its ID, holding the
    caller's reference on ``prog``; ``link.put()`` is closing it."""
    return _attach(kernel, prog, 0, 0, cookie, None)[0]


def link_create_tracing(kernel, prog, attach_type: int, target_fd: int, target_btf_id: int,
                        cookie: int, files) -> int:
    """link_create for TRACING programs with a trampoline attach type (EINVAL: attach_type is
    not the program's expected_attach_type)."""
    if attach_type != prog.expected_attach_type:
        raise BpfError(errno.EINVAL, f"attach_type {attach_type} != expected_attach_type "
                                     f"{int(prog.expected_attach_type)}")
    return bpf_tracing_prog_attach(kernel, prog, target_fd, target_btf_id, cookie, files)


def raw_tp_open_tracing(kernel, prog, name: int, cookie: int, files) -> int | None:
    """bpf_raw_tp_link_attach's routing for TRACING programs: ``name`` (a user pointer) must be
    0 (EINVAL); BPF_TRACE_RAW_TP programs are the tracepoint code's (None); fentry/fexit/
    fmod_ret go to the trampoline attach exactly as LINK_CREATE."""
    if prog.type != PT.BPF_PROG_TYPE_TRACING:
        return None
    if name:
        raise BpfError(errno.EINVAL, "name must be 0 for tracing programs")
    if prog.expected_attach_type == AT.BPF_TRACE_RAW_TP:
        return None
    return bpf_tracing_prog_attach(kernel, prog, 0, 0, cookie, files)
