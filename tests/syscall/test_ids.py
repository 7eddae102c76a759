"""Object IDs through the syscall: cyclic allocation, NEXT_ID, FD_BY_ID, lifetimes."""

import errno

import pytest

from kernelsim.bpf_link import BpfLink, BpfLinkOps, bpf_link_cleanup, bpf_link_prime, bpf_link_settle
from kernelsim.uapi import BpfMapType as T, BpfProgType as PT
from syscall import libbpf as L
from tests.syscall.simkit import RET0, machine


def err(fn, *a, **kw):
    with pytest.raises(OSError) as e:
        fn(*a, **kw)
    return e.value.errno


def test_cyclic_ids_and_next_id():
    k = machine()
    t = k.spawn("t")
    fds = [L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1) for _ in range(3)]
    ids = [L.obj_get_info_by_fd(t, fd, "map")["id"] for fd in fds]
    assert ids == [1, 2, 3]
    t.close(fds[0])
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    assert L.obj_get_info_by_fd(t, fd, "map")["id"] == 4                # 1 is not reused
    assert L.map_get_next_id(t, 0) == 2 and L.map_get_next_id(t, 2) == 3
    assert err(L.map_get_next_id, t, 4) == errno.ENOENT
    assert err(L.map_get_next_id, t, 0x7FFFFFFF) == errno.EINVAL
    assert err(L.map_create, t, T.BPF_MAP_TYPE_ARRAY, "a", 0, 4, 1) == errno.EINVAL
    fd5 = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    assert L.obj_get_info_by_fd(t, fd5, "map")["id"] == 5               # failures take no ID
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    assert L.prog_get_next_id(t, 0) == 1                                # separate counters


def test_fd_by_id_needs_sys_admin_and_takes_refs():
    k = machine()
    root = k.spawn("r")
    fd = L.map_create(root, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    m = root.files.get(fd).obj
    bpf = k.spawn("b", uid=1000, caps={"CAP_BPF"})
    assert err(L.map_get_fd_by_id, bpf, m.id) == errno.EPERM
    assert err(L.map_get_next_id, bpf, 0) == errno.EPERM
    assert err(L.map_get_fd_by_id, bpf, m.id, 1 << 5) == errno.EINVAL     # EINVAL before EPERM
    fd2 = L.map_get_fd_by_id(root, m.id, 1 << 3)                        # read-only
    assert (m.refcnt, m.usercnt) == (2, 2)
    assert err(L.map_update_elem, root, fd2, bytes(4), bytes(4)) == errno.EPERM
    root.close(fd)
    root.close(fd2)
    assert err(L.map_get_fd_by_id, root, m.id) == errno.ENOENT
    assert err(L.map_get_fd_by_id, root, 0) == errno.ENOENT
    assert err(L.prog_get_fd_by_id, root, 1) == errno.ENOENT


def test_primed_link_is_eagain_and_cleanup_frees_the_id():
    k = machine()
    t = k.spawn("t")
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    prog = t.files.get(pfd).obj
    link = BpfLink(k, 1, BpfLinkOps(), prog.get())
    primer = bpf_link_prime(link)
    assert link.id == 0 and L.link_get_next_id(t, 0) == primer.id
    assert err(L.link_get_fd_by_id, t, primer.id) == errno.EAGAIN
    lfd = bpf_link_settle(primer, t.files)
    assert link.id == primer.id and L.link_get_fd_by_id(t, link.id) >= 3
    link2 = BpfLink(k, 1, BpfLinkOps(), prog.get())
    p2 = bpf_link_prime(link2)
    bpf_link_cleanup(p2)
    prog.put()                                                          # the caller's reference
    assert err(L.link_get_fd_by_id, t, p2.id) == errno.ENOENT
    t.close(lfd)


def _vmlinux_info(t) -> dict:
    import ctypes
    kfd = L.btf_get_fd_by_id(t, 1)
    name = ctypes.create_string_buffer(16)
    info = L.obj_get_info_by_fd(t, kfd, "btf", name=ctypes.addressof(name), name_len=16)
    info["name"] = name.value
    t.close(kfd)
    return info


def test_btf_ids_start_with_vmlinux():
    from btf import BtfBuilder
    k = machine()
    assert k._btf is None                                     # ID 1 is reserved, nothing parsed
    t = k.spawn("t")
    assert L.btf_get_next_id(t, 0) == 1                       # before any BTF_LOAD
    before = _vmlinux_info(t)
    assert before["id"] == 1 and before["kernel_btf"] == 1 and before["name"] == b"vmlinux"
    b = BtfBuilder()
    b.add_int("int", 4, 1)
    fd, _ = L.btf_load(t, b.to_bytes())
    assert L.btf_get_next_id(t, 0) == 1 and L.btf_get_next_id(t, 1) == 2
    assert L.obj_get_info_by_fd(t, fd, "btf")["id"] == 2
    info = _vmlinux_info(t)
    assert info["kernel_btf"] == 1 and info["btf_size"] > 0 and info["name"] == b"vmlinux"
    assert info["btf_size"] == before["btf_size"]


def test_vmlinux_btf_is_id_1_even_when_a_user_btf_comes_first():
    from btf import BtfBuilder
    k = machine()
    t = k.spawn("t")
    b = BtfBuilder()
    b.add_int("int", 4, 1)
    fd, _ = L.btf_load(t, b.to_bytes())                       # the first thing the machine does
    assert L.obj_get_info_by_fd(t, fd, "btf")["id"] == 2
    assert _vmlinux_info(t)["kernel_btf"] == 1
