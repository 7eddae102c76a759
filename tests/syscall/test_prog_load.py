"""syscall/prog_load.py: the syscall side of PROG_LOAD (kernelsim only; the differential
version is test_prog_load_realkernel.py)."""

import errno
import hashlib

import pytest

from kernelsim.bpf_prog import BpfLoadAttr, BpfProg
from kernelsim.isa.insn import decode_insns
from kernelsim.uapi import BpfMapType as T, BpfProgType as PT
from syscall import libbpf as L
from syscall.prog_load import bpf_check_minimal, bpf_prog_calc_tag, license_is_gpl_compatible
from tests.syscall.simkit import RET0, machine


def load(task, ptype=PT.BPF_PROG_TYPE_SOCKET_FILTER, insns=RET0, **kw):
    return L.prog_load(task, ptype, insns, **kw)


def err(fn, *a, **kw):
    with pytest.raises(OSError) as e:
        fn(*a, **kw)
    return e.value.errno


def test_permission_order_sysctl_1():
    k = machine(sysctl=1)
    user = k.spawn("u", uid=1000, caps=())
    assert err(load, user, opts=L.ProgLoadOpts(prog_flags=1 << 30)) == errno.EINVAL   # flags first
    assert err(load, user) == errno.EPERM                                             # then the sysctl
    bpf = k.spawn("b", uid=1000, caps={"CAP_BPF"})
    assert load(bpf)[0] >= 3


@pytest.mark.parametrize("caps, ptype, e", [
    ((), PT.BPF_PROG_TYPE_KPROBE, errno.EPERM),
    ({"CAP_BPF"}, PT.BPF_PROG_TYPE_KPROBE, errno.EPERM),          # needs CAP_PERFMON too
    ({"CAP_BPF", "CAP_PERFMON"}, PT.BPF_PROG_TYPE_KPROBE, 0),
    ({"CAP_SYS_ADMIN"}, PT.BPF_PROG_TYPE_KPROBE, 0),
    ((), PT.BPF_PROG_TYPE_SOCKET_FILTER, 0),
    ({"CAP_BPF"}, PT.BPF_PROG_TYPE_XDP, errno.EPERM),             # needs CAP_NET_ADMIN
    ({"CAP_PERFMON"}, PT.BPF_PROG_TYPE_TRACEPOINT, errno.EPERM),
])
def test_capabilities(caps, ptype, e):
    task = machine(sysctl=0).spawn("t", uid=1000, caps=caps)
    if e:
        assert err(load, task, ptype) == e
    else:
        assert load(task, ptype)[0] >= 3


def test_insn_limits():
    k = machine()
    user = k.spawn("u", uid=1000, caps=())
    mov = RET0[:8]
    assert err(load, user, insns=mov * 4096 + RET0[8:]) == errno.E2BIG   # 4097 > 4096 unprivileged
    assert load(user, insns=mov * 4095 + RET0[8:])[0] >= 3
    root = k.spawn("r")
    assert err(load, root, insns=b"") == errno.E2BIG


def test_license_name_tag_and_info():
    k = machine()
    t = k.spawn("t", uid=0)
    k.clock.advance(123)
    fd, _ = load(t, license="Dual BSD/GPL", name="my_prog.1")
    info = L.prog_get_info(t, fd)
    assert info["gpl_compatible"] == 1 and info["name"] == "my_prog.1"
    assert info["tag"] == hashlib.sha256(RET0).digest()[:8]
    assert info["load_time"] == k.clock.ns and info["created_by_uid"] == 0
    assert info["xlated"] == RET0 and info["jited_prog_len"] == 0
    fd2, _ = load(t, license="GPL-2.0")
    assert L.prog_get_info(t, fd2)["gpl_compatible"] == 0
    assert err(load, t, name="bad-name") == errno.EINVAL
    for lic in ("GPL", "GPL v2", "GPL and additional rights", "Dual MIT/GPL", "Dual MPL/GPL"):
        assert license_is_gpl_compatible(lic.encode())
    assert not license_is_gpl_compatible(b"gpl")


def test_log_rules_and_enospc():
    t = machine().spawn("t")
    assert err(load, t, opts=L.ProgLoadOpts(log_level=16, log_size=100)) == errno.EINVAL
    from kernelsim.uapi import BpfCmd as C
    from tests.syscall.simkit import attr, cbuf
    keep = [cbuf(RET0), cbuf(b"GPL\0"), cbuf(64)]
    for lvl, size, has_buf in ((0, 64, 1), (1, 64, 0), (1, 0, 1), (1, 0x40000000, 1)):
        a = attr(prog_type=1, insn_cnt=2, insns=keep[0][1], license=keep[1][1], log_level=lvl,
                 log_size=size, log_buf=keep[2][1] if has_buf else 0)
        assert t.bpf(C.BPF_PROG_LOAD, a) == -errno.EINVAL
    with pytest.raises(OSError) as exc:
        load(t, opts=L.ProgLoadOpts(log_level=1, log_size=20))
    assert exc.value.errno == errno.ENOSPC and exc.value.log_true_size > 20
    assert exc.value.log.endswith("mark_read 0\n")                  # rotating mode keeps the tail
    fd, log = load(t, opts=L.ProgLoadOpts(log_level=1, log_size=4096))
    assert log.startswith("processed 2 insns")


def test_map_references_and_fd_array():
    k = machine()
    t = k.spawn("t")
    mfd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "m", 4, 8, 1)
    m = t.files.get(mfd).obj
    ld = bytes.fromhex("1811000000000000") + bytes(8)                 # r1 = map fd (patched)
    ld = ld[:4] + mfd.to_bytes(4, "little") + ld[8:]
    fd, _ = load(t, insns=ld + RET0)
    info = L.prog_get_info(t, fd)
    assert info["map_ids"] == [m.id]
    xl = decode_insns(info["xlated"])
    assert xl[0].src == 1 and xl[0].imm == m.id                       # pointers shown as map ids
    assert info["tag"] == bpf_prog_calc_tag(decode_insns(ld + RET0))
    t.close(mfd)
    assert m.refcnt == 1 and m.usercnt == 0                           # the program keeps it
    t.close(fd)
    assert m.refcnt == 0
    m2 = L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", 4, 4, 1)
    fd, _ = load(t, opts=L.ProgLoadOpts(fd_array=[m2], fd_array_cnt=1))
    assert len(L.prog_get_info(t, fd)["map_ids"]) == 1
    assert err(load, t, opts=L.ProgLoadOpts(fd_array=[0], fd_array_cnt=1)) == errno.EINVAL
    assert err(load, t, opts=L.ProgLoadOpts(fd_array=[77], fd_array_cnt=1)) == errno.EBADF


def test_func_info_record_rules():
    t = machine().spawn("t")
    opts = L.ProgLoadOpts(func_info=bytes(8), func_info_rec_size=8)
    assert err(load, t, opts=opts) == errno.EINVAL                  # prog_btf_fd 0 is stdin, not BTF
    assert err(load, t, opts=L.ProgLoadOpts(func_info=bytes(6), func_info_rec_size=6)) in (errno.EINVAL, errno.EBADF)


def test_attach_fields():
    t = machine().spawn("t")
    assert err(load, t, opts=L.ProgLoadOpts(attach_btf_id=5)) == errno.EINVAL     # not a BTF type
    assert err(load, t, PT.BPF_PROG_TYPE_TRACING) == errno.EINVAL                # needs btf_id
    assert err(load, t, opts=L.ProgLoadOpts(attach_prog_fd=99)) == errno.EINVAL
    assert err(load, t, PT.BPF_PROG_TYPE_XDP) == errno.EINVAL                    # not simulated


def test_minimal_verifier_fallback():
    k = machine()
    t = k.spawn("t")
    mfd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "m", 4, 8, 1)
    m = t.files.get(mfd).obj
    insns = decode_insns(bytes.fromhex("1811000000000000") [:4] + mfd.to_bytes(4, "little") + bytes(8) + RET0)
    prog = BpfProg(k, PT.BPF_PROG_TYPE_SOCKET_FILTER, insns=insns)
    from kernelsim.verifier.log import BpfVerifierLog
    bpf_check_minimal(prog, BpfLoadAttr(cred=t.cred, files=t.files), BpfVerifierLog())
    assert prog.aux.used_maps == [m] and m.refcnt == 2
    assert (prog.insnsi[1].imm & 0xFFFFFFFF) << 32 | (prog.insnsi[0].imm & 0xFFFFFFFF) == m.addr
    prog.put()
    assert m.refcnt == 1
