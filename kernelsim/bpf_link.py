"""BPF links: struct bpf_link, its ops table, and the prime/settle protocol of link creation
(include/linux/bpf.h struct bpf_link / bpf_link_ops; kernel/bpf/syscall.c bpf_link_init,
bpf_link_prime, bpf_link_settle, bpf_link_cleanup, bpf_link_free).

A link ties a program to a hook. It holds one reference on its program; fds and bpffs pins hold
references on the link. When the last one goes, ``bpf_link_free`` runs: the ID leaves the
registry, ``ops.release`` detaches from the hook, ``ops.dealloc`` frees the type's state and the
program reference is dropped. So closing the last link fd (with no pin) detaches.

Creating a link is two-phase, so that user space never sees a half-attached one:

    primer = bpf_link_prime(link)        # an ID is reserved, link.id stays 0
    try: attach(...)                     # the hook-specific work
    except: bpf_link_cleanup(primer); raise    # ID freed, no release, the caller keeps its prog ref
    fd = bpf_link_settle(primer, files)  # link.id set, fd installed

LINK_GET_FD_BY_ID on a reserved-but-unsettled ID is EAGAIN.

Link types (the tracing code adds tracing, raw_tp, perf-event, kprobe_multi ...) build a
``BpfLinkOps``; absent slots mean unsupported: LINK_DETACH without ``detach`` is EOPNOTSUPP,
LINK_UPDATE without ``update_prog`` is EINVAL. Objects of kind "link" that do not derive from
``BpfLink`` may instead carry the slots as attributes (``link.detach``, ``link.update_prog``,
``link.fill_link_info()``, ``link.show_fdinfo()``); ``link_op`` looks in both places.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from .bpf_objects import FMODE_RDWR, BpfObject, File

Slot = Optional[Callable]


@dataclass(frozen=True, slots=True)
class BpfLinkOps:
    """struct bpf_link_ops."""

    release: Slot = None          # (link) -> None: detach from the hook (last reference, or detach)
    dealloc: Slot = None          # (link) -> None: free the type's state, after release
    detach: Slot = None           # (link) -> None: LINK_DETACH; None -> EOPNOTSUPP
    update_prog: Slot = None      # (link, new_prog, old_prog or None) -> None; takes new_prog's
    #                               reference on success; EPERM when old_prog does not match
    update_map: Slot = None       # (link, new_map, old_map or None) -> None (struct_ops links)
    fill_link_info: Slot = None   # (link, info: LinkInfoView) -> None or a dict {field: value}
    #                               of the per-type member (e.g. {"tracing.cookie": 5})
    show_fdinfo: Slot = None      # (link) -> str: the per-type /proc/PID/fdinfo lines


class BpfLink(BpfObject):
    """struct bpf_link. ``type`` is a BpfLinkType, ``attach_type`` a BpfAttachType."""

    kind = "link"

    def __init__(self, kernel, type_: int, ops: BpfLinkOps, prog, attach_type: int = 0):
        super().__init__(kernel)
        self.type = type_
        self.ops = ops
        self.prog = prog              # a reference the creator handed over
        self.attach_type = attach_type

    @property
    def link_type(self) -> int:
        return self.type

    def free(self) -> None:
        """bpf_link_free: release (if still attached), dealloc, drop the program."""
        if self.prog is not None and self.ops.release is not None:
            self.ops.release(self)
        if self.ops.dealloc is not None:
            self.ops.dealloc(self)
        if self.prog is not None:
            prog, self.prog = self.prog, None
            prog.put()

    def __repr__(self) -> str:
        return f"<BpfLink id={self.id} type={int(self.type)} prog={getattr(self.prog, 'id', 0)}>"


def link_op(link, name: str):
    """The ``name`` slot of a link: from ``link.ops`` when it has a BpfLinkOps, else an attribute
    of the link itself (duck-typed link classes). None when unsupported."""
    ops = getattr(link, "ops", None)
    if isinstance(ops, BpfLinkOps):
        fn = getattr(ops, name)
        return (lambda *a: fn(link, *a)) if fn is not None else None
    return getattr(link, name, None)


class LinkFile(File):
    """The anon-inode file of a link fd ("bpf_link")."""

    def __init__(self, link, f_mode: int = FMODE_RDWR):
        super().__init__(link, f_mode, "anon_inode:bpf_link")


@dataclass
class BpfLinkPrimer:
    """struct bpf_link_primer: the link and its reserved ID."""

    link: object
    id: int


def bpf_link_prime(link) -> BpfLinkPrimer:
    """Reserve an ID (ENOSPC when none is left); the link is findable by ID but unsettled."""
    id_ = link.kernel.idr["link"].alloc_cyclic(link)
    link.id = 0
    return BpfLinkPrimer(link, id_)


def bpf_link_settle(primer: BpfLinkPrimer, files) -> int:
    """Publish the ID and install an fd for the link; returns the fd (EMFILE from the table)."""
    link = primer.link
    file = LinkFile(link)
    try:
        fd = files.install(file)
    except BaseException:
        bpf_link_cleanup(primer)
        raise
    link.id = primer.id
    return fd


def bpf_link_cleanup(primer: BpfLinkPrimer) -> None:
    """A failed attach: free the reserved ID; the link is dropped without release and without
    putting the program (the caller still owns that reference)."""
    link = primer.link
    link.kernel.idr["link"].remove(primer.id)
    link.id = 0
    link.prog = None
