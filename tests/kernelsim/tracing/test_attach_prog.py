"""fentry/fexit on a BPF program (attach_prog_fd): the target checks, the trampoline on the
target's entry, links and info (kernelsim/tracing/attach_target.py, prog_target.py, links.py;
kernel/bpf/verifier.c bpf_check_attach_target, syscall.c bpf_prog_load / bpf_tracing_prog_attach
/ bpf_prog_get_info_by_fd, trampoline.c).

Simulator-only: the oracle machine refuses tracing loads (EPERM), so the errnos and log lines
asserted here are the ones Linux 6.18's sources give.
"""

import errno
import struct

import pytest

from btf import BtfBuilder
from kernelsim import Kernel
from kernelsim.isa.asm import assemble
from kernelsim.uapi import BpfAttachType as AT, BpfMapType as MT, BpfProgType as PT
from syscall import libbpf as L

from tracing_progs import lookup, store_slot

ENOTSUPP = 524
FENTRY, FEXIT, FMOD_RET = AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN


def code(text: str) -> bytes:
    return b"".join(i.encode() for i in assemble(text))


class Machine:
    """A machine with a map of 8 u64 slots and a socket filter ``tgt_main`` loaded with BTF and
    func_info; the target stores its R1 (the ctx) into slot 0 and returns 7."""

    def __init__(self, profile: str = "6.18", subprog: bool = False):
        self.k = k = Kernel(profile=profile) if profile != "6.18" else Kernel()
        self.t = t = k.spawn("tracer")
        self.mfd = L.map_create(t, MT.BPF_MAP_TYPE_ARRAY, "m", 4, 8, 8)
        b = BtfBuilder()
        i32 = b.add_int("int", 4, 1)
        skb = b.add_struct("__sk_buff", 4)
        b.add_field("len", i32, 0)
        pskb = b.add_ptr(skb)
        proto = b.add_func_proto(i32)
        b.add_func_param("skb", pskb)
        self.main_id = b.add_func("tgt_main", proto)
        sproto = b.add_func_proto(i32)
        b.add_func_param("x", i32)
        self.sub_id = b.add_func("tgt_sub", sproto)
        self.btf_fd, _ = L.btf_load(t, b.to_bytes())
        self.btf_id = L.obj_get_info_by_fd(t, self.btf_fd, "btf")["id"]
        body = "r6 = r1\n" + store_slot(self.mfd, 0, "r6")
        if subprog:
            text = body + "r1 = 3\ncall pc+2\nr0 += 4\nexit\nr0 = r1\nexit\n"
            finfo = struct.pack("<IIII", 0, self.main_id, len(assemble(text)) - 2, self.sub_id)
        else:
            text = body + "r0 = 7\nexit\n"
            finfo = struct.pack("<II", 0, self.main_id)
        self.tfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, code(text), name="tgt",
                                  opts=L.ProgLoadOpts(prog_btf_fd=self.btf_fd, func_info=finfo))
        self.tgt = t.files.get(self.tfd).obj

    def slot(self, i: int) -> int:
        return int.from_bytes(L.map_lookup_elem(self.t, self.mfd, i.to_bytes(4, "little"), 8),
                              "little")

    def load(self, text: str, eat=FENTRY, target_fd: int | None = None, btf_id: int | None = None,
             flags: int = 0, btf_fd: int = 0, func_info: bytes = b"") -> int:
        opts = L.ProgLoadOpts(expected_attach_type=eat, prog_flags=flags, log_level=1,
                              prog_btf_fd=btf_fd, func_info=func_info,
                              attach_prog_fd=self.tfd if target_fd is None else target_fd,
                              attach_btf_id=self.main_id if btf_id is None else btf_id)
        return L.prog_load(self.t, PT.BPF_PROG_TYPE_TRACING, code(text), name="tracer",
                           opts=opts)[0]

    def load_err(self, *args, **kw) -> tuple[int, str]:
        with pytest.raises(OSError) as e:
            self.load(*args, **kw)
        return e.value.errno, getattr(e.value, "log", "")

    def run(self) -> int:
        return L.prog_test_run(self.t, self.tfd, L.TestRunOpts(data_in=bytes(64))).retval


def dump(m: Machine, slots: dict[int, int]) -> str:
    """A tracer storing ctx[i] into map slot slots[i]; it also counts its runs in slot 7."""
    text = "r6 = r1\n"
    for i, s in slots.items():
        text += f"r7 = *(u64 *)(r6 +{8 * i})\n" + store_slot(m.mfd, s, "r7")
    text += lookup(m.mfd, 7) + "if r0 == 0 goto +2\nr1 = 1\nlock *(u64 *)(r0 +0) += r1\n"
    return text + "r0 = 0\nexit\n"


def test_fentry_sees_the_ctx_and_fexit_the_return_value():
    m = Machine()
    fentry = m.load(dump(m, {0: 1}), FENTRY)
    fexit = m.load(dump(m, {0: 2, 1: 3}), FEXIT)
    assert m.run() == 7 and m.slot(7) == 0                   # loaded, not attached yet
    l1 = L.link_create(m.t, fentry, 0, FENTRY)
    l2 = L.link_create(m.t, fexit, 0, FEXIT)
    assert m.run() == 7                                     # the target's result is unchanged
    ctx = m.slot(0)                                         # what the target got in R1
    assert ctx != 0 and m.slot(1) == ctx and m.slot(2) == ctx
    assert m.slot(3) == 7 and m.slot(7) == 2
    m.t.files.close(l1)
    m.run()
    assert m.slot(7) == 3                                   # fexit only
    m.t.files.close(l2)
    m.run()
    assert m.slot(7) == 3
    assert m.tgt.bpf_func.decoded is not None               # the entry is unpatched again


def test_prog_info_and_link_info_report_the_target():
    m = Machine()
    fd = m.load(dump(m, {0: 1}))
    info = L.obj_get_info_by_fd(m.t, fd, "prog")
    # bpf_prog_get_target_btf: the target program's BTF while aux->dst_prog is set
    assert (info["attach_btf_obj_id"], info["attach_btf_id"]) == (m.btf_id, m.main_id)
    lfd = L.link_create(m.t, fd, 0, FENTRY, L.LinkCreateOpts(cookie=5))
    li = L.obj_get_info_by_fd(m.t, lfd, "link")
    # bpf_trampoline_unpack_key of tgt_prog->aux->id << 32 | btf_id
    assert (li["tracing.attach_type"], li["tracing.target_obj_id"], li["tracing.target_btf_id"],
            li["tracing.cookie"]) == (int(FENTRY), m.tgt.id, m.main_id, 5)
    link = m.t.files.get(lfd).obj
    assert link.key == (m.tgt.id << 32) | m.main_id
    assert f"target_obj_id:\t{m.tgt.id}\ntarget_btf_id:\t{m.main_id}\n" in link.show_fdinfo()
    # the attach moved dst_prog to the link: no target BTF left on the program
    info = L.obj_get_info_by_fd(m.t, fd, "prog")
    assert (info["attach_btf_obj_id"], info["attach_btf_id"]) == (0, m.main_id)


def test_the_link_holds_the_target():
    m = Machine()
    fd = m.load(dump(m, {0: 1}))
    assert m.tgt.refcnt == 2                                # its fd and the tracer's dst_prog
    lfd = L.link_create(m.t, fd, 0, FENTRY)
    assert m.tgt.refcnt == 2                                # the reference moved to the link
    m.t.files.close(fd)
    tgt = m.tgt
    m.t.files.close(m.tfd)
    assert tgt.refcnt == 1                                  # the link's
    m.t.files.close(lfd)
    assert tgt.refcnt == 0


def test_link_create_rules():
    m = Machine()
    fd = m.load(dump(m, {0: 1}))
    # only BPF_PROG_TYPE_EXT may name a new target at attach time
    assert L.bpf_link_create(m.t, fd, m.tfd, FENTRY, L.LinkCreateOpts(target_btf_id=m.main_id)) \
        == -errno.EINVAL
    assert L.bpf_link_create(m.t, fd, 0, FEXIT) == -errno.EINVAL          # != expected type
    lfd = L.link_create(m.t, fd, 0, FENTRY)
    # the first attach took the target: no attach_btf, so no second (or later) attach
    assert L.bpf_link_create(m.t, fd, 0, FENTRY) == -errno.EINVAL
    m.t.files.close(lfd)
    assert L.bpf_link_create(m.t, fd, 0, FENTRY) == -errno.EINVAL


def test_two_tracers_share_one_trampoline():
    m = Machine()
    a, b = m.load(dump(m, {0: 1})), m.load(dump(m, {0: 2}))
    la, lb = L.link_create(m.t, a, 0, FENTRY), L.link_create(m.t, b, 0, FENTRY)
    tra, trb = m.t.files.get(la).obj.trampoline, m.t.files.get(lb).obj.trampoline
    assert tra is trb and tra.refcnt == 2 and tra.progs_cnt[0] == 2
    m.run()
    assert m.slot(7) == 2 and m.slot(1) == m.slot(2) == m.slot(0)


@pytest.mark.parametrize("case, want", [
    ("no_btf", "Tracing program can only be attached to another program annotated with BTF"),
    ("not_in_func_info", "Subprog int doesn't exist"),
    ("fmod_ret", "can't modify return codes of BPF programs"),
    ("sleepable", "tgt_main is not sleepable"),
    ("no_btf_id", "Tracing programs must provide btf_id"),
    ("bad_btf_id", "attach_btf_id 99 is invalid"),
    ("tp_btf", "Only FENTRY/FEXIT progs are attachable to another BPF prog"),
])
def test_target_refusals(case, want):
    m = Machine()
    text = "r0 = 0\nexit\n"
    if case == "no_btf":
        plain, _ = L.prog_load(m.t, PT.BPF_PROG_TYPE_SOCKET_FILTER, code("r0 = 0\nexit\n"))
        err, log = m.load_err(text, target_fd=plain)
    elif case == "not_in_func_info":
        err, log = m.load_err(text, btf_id=1)
    elif case == "fmod_ret":
        err, log = m.load_err(text, FMOD_RET)
    elif case == "sleepable":
        err, log = m.load_err(text, flags=1 << 4)
    elif case == "no_btf_id":
        err, log = m.load_err(text, btf_id=0)
    elif case == "tp_btf":
        err, log = m.load_err(text, AT.BPF_TRACE_RAW_TP)
    else:
        err, log = m.load_err(text, btf_id=99)
    assert err == errno.EINVAL and want in log


def test_fentry_on_a_fentry_program_and_no_deeper():
    """Relaxed nesting (Linux 6.8+): a tracer may trace a tracing program once; a program loaded
    against a tracing program (attach_tracing_prog) cannot itself be a target."""
    from tracing_progs import counter
    m = Machine()
    kfn = m.k.functions["bpf_fentry_test1"]
    # a kernel-function tracer with prog BTF and func_info (what makes it a possible target)
    b = BtfBuilder()
    i32 = b.add_int("int", 4, 1)
    pu64 = b.add_ptr(b.add_int("unsigned long long", 8))
    proto = b.add_func_proto(i32)
    b.add_func_param("ctx", pu64)
    first_id = b.add_func("first", proto)
    bfd, _ = L.btf_load(m.t, b.to_bytes())
    fd1, _ = L.prog_load(m.t, PT.BPF_PROG_TYPE_TRACING, code(counter(m.mfd, 4)), name="first",
                         opts=L.ProgLoadOpts(expected_attach_type=FENTRY, attach_btf_id=kfn.btf_id,
                                             prog_btf_fd=bfd,
                                             func_info=struct.pack("<II", 0, first_id)))
    finfo = struct.pack("<II", 0, first_id)
    fd2 = m.load(counter(m.mfd, 5), FEXIT, target_fd=fd1, btf_id=first_id, btf_fd=bfd,
                 func_info=finfo)
    assert m.t.files.get(fd2).obj.aux.attach_tracing_prog
    err, log = m.load_err("r0 = 0\nexit\n", target_fd=fd2, btf_id=first_id, btf_fd=bfd,
                          func_info=finfo)
    assert err == errno.EINVAL and "Cannot nest tracing program attach more than once" in log
    l1, l2 = L.link_create(m.t, fd1, 0, FENTRY), L.link_create(m.t, fd2, 0, FEXIT)
    m.k.call("bpf_fentry_test1", 1)
    assert (m.slot(4), m.slot(5)) == (1, 1)                 # first ran, and its tracer after it
    m.t.files.close(l2)
    m.k.call("bpf_fentry_test1", 1)
    assert (m.slot(4), m.slot(5)) == (2, 1)
    m.t.files.close(l1)


def test_subprogram_target_loads_but_is_not_simulated_at_attach():
    m = Machine(subprog=True)
    assert m.run() == 7
    fd = m.load(dump(m, {0: 1}), btf_id=m.sub_id)
    assert L.bpf_link_create(m.t, fd, 0, FENTRY) == -ENOTSUPP
    assert m.tgt.bpf_func.decoded is not None               # nothing patched
    lfd = L.link_create(m.t, m.load(dump(m, {0: 1})), 0, FENTRY)      # the main program works
    assert m.run() == 7 and m.slot(7) == 1
    m.t.files.close(lfd)


def test_profile_55():
    m = Machine(profile="5.5")
    fd = m.load(dump(m, {0: 1, 1: 2}), FEXIT)
    lfd = L.link_create(m.t, fd, 0, FEXIT)
    assert m.run() == 7 and m.slot(2) == 7 and m.slot(1) == m.slot(0) != 0
    assert m.t.files.get(lfd).obj.key == (m.tgt.id << 32) | m.main_id


def test_bpf_get_func_ip_is_the_target_programs_address():
    from kernelsim.tracing.prog_target import bpf_prog_func_addr
    m = Machine()
    text = "call bpf_get_func_ip\nr7 = r0\n" + store_slot(m.mfd, 1, "r7") + "r0 = 0\nexit\n"
    lfd = L.link_create(m.t, m.load(text), 0, FENTRY)
    m.run()
    assert m.slot(1) == bpf_prog_func_addr(m.k, m.tgt) != 0
    m.t.files.close(lfd)


def test_fexit_on_a_raw_tracepoint_program_runs_when_the_tracepoint_fires():
    """The target need not be run by BPF_PROG_TEST_RUN: a raw_tp program fired by its
    tracepoint goes through its patched entry too, and its tracer via RAW_TRACEPOINT_OPEN."""
    m = Machine()
    b = BtfBuilder()
    i32 = b.add_int("int", 4, 1)
    pargs = b.add_ptr(b.add_struct("bpf_raw_tracepoint_args", 0))
    proto = b.add_func_proto(i32)
    b.add_func_param("ctx", pargs)
    fid = b.add_func("on_trigger", proto)
    bfd, _ = L.btf_load(m.t, b.to_bytes())
    text = lookup(m.mfd, 6) + "if r0 == 0 goto +2\nr1 = 1\nlock *(u64 *)(r0 +0) += r1\n" \
        "r0 = 3\nexit\n"
    tp, _ = L.prog_load(m.t, PT.BPF_PROG_TYPE_RAW_TRACEPOINT, code(text), name="tp",
                        opts=L.ProgLoadOpts(prog_btf_fd=bfd, func_info=struct.pack("<II", 0, fid)))
    assert L.raw_tracepoint_open(m.t, "bpf_trigger_tp", tp) >= 0
    fx = m.load(dump(m, {1: 5}), FEXIT, target_fd=tp, btf_id=fid)
    lfd = L.raw_tracepoint_open(m.t, None, fx)             # name NULL: the program's target
    m.k.tracepoint("bpf_trigger_tp", 5)
    assert (m.slot(6), m.slot(7), m.slot(5)) == (1, 1, 3)  # target ran, then fexit saw its R0
    m.t.files.close(lfd)
    m.k.tracepoint("bpf_trigger_tp", 5)
    assert (m.slot(6), m.slot(7)) == (2, 1)
