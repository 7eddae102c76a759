"""OBJ_GET_INFO_BY_FD through the syscall: negotiation, prog arrays, link and BTF info."""

import ctypes
import errno

import pytest

from kernelsim.bpf_link import BpfLink, BpfLinkOps, LinkFile
from kernelsim.uapi import BpfCmd as C, BpfMapType as T, BpfProgType as PT
from syscall import abi
from syscall import libbpf as L
from tests.syscall.simkit import RET0, attr, cbuf, machine


def info_call(t, fd, buf, length):
    return t.bpf(C.BPF_OBJ_GET_INFO_BY_FD, attr(info__bpf_fd=fd, info__info_len=length,
                                                 info__info=ctypes.addressof(buf)))


def test_negotiation():
    t = machine().spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", 4, 8, 4)
    buf = ctypes.create_string_buffer(200)
    assert info_call(t, fd, buf, 5000) == -errno.E2BIG
    buf.raw = bytes(150) + b"\1" + bytes(49)
    assert info_call(t, fd, buf, 200) == -errno.E2BIG           # non-zero past the kernel's 104
    buf.raw = bytes(200)
    a = attr(info__bpf_fd=fd, info__info_len=200, info__info=ctypes.addressof(buf))
    assert t.bpf(C.BPF_OBJ_GET_INFO_BY_FD, a) == 0 and a.info.info_len == 104
    a = attr(info__bpf_fd=fd, info__info_len=8, info__info=ctypes.addressof(buf))
    buf.raw = bytes(200)
    assert t.bpf(C.BPF_OBJ_GET_INFO_BY_FD, a) == 0 and a.info.info_len == 8
    assert buf.raw[8:16] == bytes(8)                           # only info_len bytes copied
    assert info_call(t, 77, buf, 8) == -errno.EBADFD
    assert info_call(t, 0, buf, 8) == -errno.EINVAL             # stdin is not a BPF object
    assert info_call(t, fd, buf, 0) == 0
    a = attr(info__bpf_fd=fd, info__info_len=8, info__info=8)
    assert t.bpf(C.BPF_OBJ_GET_INFO_BY_FD, a) == -errno.EFAULT


def test_map_info_fields():
    t = machine().spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "arr", 4, 8, 3, L.MapCreateOpts(map_flags=1 << 3))
    i = L.obj_get_info_by_fd(t, fd, "map")
    assert (i["type"], i["key_size"], i["value_size"], i["max_entries"], i["name"]) == (2, 4, 8, 3, "arr")
    assert i["map_flags"] == 0                                  # BPF_F_RDONLY is the fd's, not the map's


def test_prog_info_unprivileged_hides_insns():
    k = machine()
    u = k.spawn("u", uid=1000, caps=())
    fd, _ = L.prog_load(u, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    i = L.obj_get_info_by_fd(u, fd, "prog")
    assert i["xlated_prog_len"] == 0 and i["nr_jited_ksyms"] == 0 and i["created_by_uid"] == 1000
    with pytest.raises(OSError) as e:
        L.obj_get_info_by_fd(u, fd, "prog", func_info_rec_size=4)
    assert e.value.errno == errno.EINVAL


def test_link_info_through_ops():
    k = machine()
    t = k.spawn("t")
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    prog = t.files.get(pfd).obj
    ops = BpfLinkOps(fill_link_info=lambda link, view: {"tracing.cookie": 42, "attach_type": 24})
    link = BpfLink(k, 2, ops, prog.get())
    link.alloc_id()
    lfd = t.files.install(LinkFile(link))
    i = L.obj_get_info_by_fd(t, lfd, "link")
    assert (i["type"], i["id"], i["prog_id"], i["tracing.cookie"], i["tracing.attach_type"]) == \
        (2, link.id, prog.id, 42, 24)


def test_btf_info_name_buffer():
    from btf import BtfBuilder
    k = machine()
    t = k.spawn("t")
    kfd = L.btf_get_fd_by_id(t, 1)
    nb, naddr = cbuf(4)
    with pytest.raises(OSError) as e:
        L.obj_get_info_by_fd(t, kfd, "btf", name=naddr, name_len=4)
    assert e.value.errno == errno.ENOSPC and nb.raw == b"vml\0"
    with pytest.raises(OSError) as e:
        L.obj_get_info_by_fd(t, kfd, "btf", name=naddr, name_len=0)
    assert e.value.errno == errno.EINVAL
    b = BtfBuilder()
    b.add_int("int", 4, 1)
    data = b.to_bytes()
    fd, _ = L.btf_load(t, data)
    out, oaddr = cbuf(len(data))
    i = L.obj_get_info_by_fd(t, fd, "btf", btf=oaddr, btf_size=len(data))
    assert out.raw == data and i["btf_size"] == len(data) and i["kernel_btf"] == 0
