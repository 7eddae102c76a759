"""kernelsim/bpf_link.py: link lifetime and ops."""

from kernelsim import Kernel
from kernelsim.bpf_link import (BpfLink, BpfLinkOps, LinkFile, bpf_link_cleanup, bpf_link_prime,
                                bpf_link_settle, link_op)
from kernelsim.bpf_prog import BpfProg
from kernelsim.uapi import BpfProgType as PT


def test_last_reference_releases_then_drops_the_prog():
    k = Kernel()
    t = k.spawn("t")
    prog = BpfProg(k, PT.BPF_PROG_TYPE_KPROBE)
    events = []
    ops = BpfLinkOps(release=lambda l: events.append(("release", l.prog is prog)),
                     dealloc=lambda l: events.append("dealloc"))
    link = BpfLink(k, 7, ops, prog.get())
    fd = bpf_link_settle(bpf_link_prime(link), t.files)
    assert link.id and k.idr["link"].find(link.id) is link and prog.refcnt == 2
    t.close(fd)
    assert events == [("release", True), "dealloc"] and prog.refcnt == 1
    assert k.idr["link"].find(1) is None


def test_cleanup_keeps_the_callers_prog_reference():
    k = Kernel()
    prog = BpfProg(k, PT.BPF_PROG_TYPE_KPROBE)
    link = BpfLink(k, 7, BpfLinkOps(release=lambda l: 1 / 0), prog)
    primer = bpf_link_prime(link)
    bpf_link_cleanup(primer)
    assert link.prog is None and prog.refcnt == 1 and len(k.idr["link"]) == 0


def test_link_op_on_duck_typed_links():
    class Duck:
        kind = "link"
        detach = None

        def fill_link_info(self):
            return {"x": 1}
    assert link_op(Duck(), "detach") is None
    assert link_op(Duck(), "fill_link_info")() == {"x": 1}
    k = Kernel()
    link = BpfLink(k, 1, BpfLinkOps(), None)
    assert link_op(link, "update_prog") is None and isinstance(LinkFile(link).name, str)
