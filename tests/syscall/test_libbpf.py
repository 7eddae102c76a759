"""syscall/libbpf.py: every wrapper once, against kernelsim (the same wrappers drive the real
kernel in the differential helpers)."""

import errno

import pytest

from kernelsim.bpf_link import BpfLink, BpfLinkOps
from kernelsim.uapi import BpfCmd
from kernelsim.uapi import BpfAttachType as AT, BpfMapType as T, BpfProgType as PT
from syscall import abi
from syscall import libbpf as L
from syscall.link_cmds import LINK_CREATE_TYPES, install_link
from tests.syscall.simkit import RET0, machine


def k4(i):
    return i.to_bytes(4, "little")


# What libbpf's tools/lib/bpf/bpf.c passes as bpf()'s size, written out from its source
# (offsetofend(union bpf_attr, X) per wrapper), to be compared with what the wrappers really pass.
LIBBPF_SIZES = {
    "BPF_MAP_CREATE": "excl_prog_hash_size", "BPF_MAP_UPDATE_ELEM": "flags",
    "BPF_MAP_LOOKUP_ELEM": "flags", "BPF_MAP_DELETE_ELEM": "flags",
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM": "flags", "BPF_MAP_GET_NEXT_KEY": "next_key",
    "BPF_MAP_FREEZE": "map_fd", "BPF_MAP_LOOKUP_BATCH": "batch", "BPF_MAP_UPDATE_BATCH": "batch",
    "BPF_MAP_DELETE_BATCH": "batch", "BPF_MAP_LOOKUP_AND_DELETE_BATCH": "batch",
    "BPF_PROG_LOAD": "keyring_id", "BPF_PROG_BIND_MAP": "prog_bind_map",
    "BPF_PROG_TEST_RUN": "test", "BPF_OBJ_PIN": "path_fd", "BPF_OBJ_GET": "path_fd",
    "BPF_MAP_GET_NEXT_ID": "open_flags", "BPF_MAP_GET_FD_BY_ID": "open_flags",
    "BPF_PROG_GET_NEXT_ID": "open_flags", "BPF_PROG_GET_FD_BY_ID": "open_flags",
    "BPF_BTF_GET_NEXT_ID": "open_flags", "BPF_BTF_GET_FD_BY_ID": "fd_by_id_token_fd",
    "BPF_OBJ_GET_INFO_BY_FD": "info", "BPF_BTF_LOAD": "btf_token_fd",
    "BPF_ENABLE_STATS": "enable_stats", "BPF_LINK_DETACH": "link_detach",
    "BPF_RAW_TRACEPOINT_OPEN": "raw_tracepoint",
}


class SizeRecorder:
    """A task that forwards to a kernelsim task and records (cmd name, size) per bpf()."""

    def __init__(self, task, script=None):
        self.task, self.sizes, self.script = task, [], list(script or [])

    def bpf(self, cmd, attr, size):
        self.sizes.append((BpfCmd(cmd).name, size))
        if self.script:
            return self.script.pop(0)
        return self.task.bpf(cmd, attr, size)

    def __getattr__(self, name):
        return getattr(self.task, name)


def test_every_wrapper_passes_libbpfs_attr_size():
    k = machine()
    r = SizeRecorder(k.spawn("t"))
    fd = L.map_create(r, T.BPF_MAP_TYPE_HASH, "h", 4, 4, 8)
    L.map_update_elem(r, fd, k4(1), k4(2))
    L.map_lookup_elem(r, fd, k4(1), 4)
    L.map_get_next_key(r, fd, None, 4)
    L.map_lookup_and_delete_elem(r, fd, k4(1), 4)
    L.bpf_map_delete_elem(r, fd, k4(1))
    L.map_update_batch(r, fd, [k4(3)], [k4(4)])
    L.map_lookup_batch(r, fd, None, 4, 4, 4)
    L.map_delete_batch(r, fd, [k4(3)])
    L.map_lookup_and_delete_batch(r, fd, None, 4, 4, 4)
    L.map_freeze(r, fd)
    pfd, _ = L.prog_load(r, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    L.prog_bind_map(r, pfd, fd)
    L.prog_test_run(r, pfd, L.TestRunOpts(data_in=bytes(64)))
    L.obj_pin(r, fd, "/sys/fs/bpf/h")
    L.obj_get(r, "/sys/fs/bpf/h")
    L.map_get_fd_by_id(r, L.map_get_next_id(r, 0))
    L.prog_get_fd_by_id(r, L.prog_get_next_id(r, 0))
    L.btf_get_fd_by_id(r, L.btf_get_next_id(r, 0))
    L.obj_get_info_by_fd(r, fd, "map")
    L.bpf_btf_load(r, b"")
    r.task.close(L.enable_stats(r))
    L.bpf_link_detach(r, pfd)
    L.bpf_raw_tracepoint_open(r, "sched_switch", pfd)
    seen = dict(r.sizes)
    assert set(seen) == set(LIBBPF_SIZES)
    for cmd, size in r.sizes:
        assert size == abi.offsetofend("union bpf_attr", LIBBPF_SIZES[cmd]), cmd


def test_prog_load_retries_eagain_as_sys_bpf_prog_load():
    t = machine().spawn("t")
    r = SizeRecorder(t, script=[-errno.EAGAIN, -errno.EAGAIN])
    fd, _, _ = L.bpf_prog_load(r, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    assert fd >= 3 and len(r.sizes) == 3
    r = SizeRecorder(t, script=[-errno.EAGAIN] * 9)
    fd, _, _ = L.bpf_prog_load(r, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    assert fd == -errno.EAGAIN and len(r.sizes) == L.PROG_LOAD_ATTEMPTS == 5


def test_map_wrappers():
    t = machine().spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_HASH, "h", 4, 4, 8, L.MapCreateOpts(map_flags=1 << 6))
    L.map_update_elem(t, fd, k4(1), k4(10))
    assert L.map_lookup_elem(t, fd, k4(1), 4) == k4(10)
    assert L.map_get_next_key(t, fd, None, 4) == k4(1)
    assert L.map_lookup_and_delete_elem(t, fd, k4(1), 4) == k4(10)
    with pytest.raises(OSError) as e:
        L.map_delete_elem(t, fd, k4(1))
    assert e.value.errno == errno.ENOENT
    assert L.map_update_batch(t, fd, [k4(i) for i in range(5)], [k4(i * 2) for i in range(5)]) == 5
    res = L.map_lookup_batch(t, fd, None, 2, 4, 4)
    got = list(res.keys)
    while not res.done:
        res = L.map_lookup_batch(t, fd, res.out_batch[:4], 2, 4, 4)
        got += res.keys
    assert sorted(got) == [k4(i) for i in range(5)]
    assert L.map_delete_batch(t, fd, [k4(0), k4(1)]) == 2
    with pytest.raises(OSError) as e:
        L.map_delete_batch(t, fd, [k4(2), k4(77), k4(3)])
    assert e.value.errno == errno.ENOENT and e.value.count == 1
    res = L.map_lookup_and_delete_batch(t, fd, None, 8, 4, 4)
    assert res.done and res.count == 2
    L.map_freeze(t, fd)
    pc = L.map_create(t, T.BPF_MAP_TYPE_PERCPU_ARRAY, "p", 4, 4, 1)
    n = L.libbpf_num_possible_cpus(t)
    L.map_update_elem(t, pc, k4(0), b"".join(k4(c) + bytes(4) for c in range(n)))
    assert L.map_lookup_elem(t, pc, k4(0), 8 * n)[8:12] == k4(1)


def test_prog_wrappers_and_stats():
    k = machine()
    t = k.spawn("t")
    fd, log = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0, "GPL", "f",
                          L.ProgLoadOpts(log_level=2))
    assert "processed 2 insns" in log
    m = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.prog_bind_map(t, fd, m)
    assert L.prog_get_info(t, fd)["map_ids"] == [t.files.get(m).obj.id]
    assert not k.bpf_stats_enabled()
    sfd = L.enable_stats(t)
    assert k.bpf_stats_enabled()
    t.close(sfd)
    assert not k.bpf_stats_enabled()
    out = L.prog_test_run(t, fd, L.TestRunOpts(data_in=bytes(64), data_size_out=64))
    assert out.retval == 0
    with pytest.raises(OSError) as e:
        L.enable_stats(t, 1)
    assert e.value.errno == errno.EINVAL


def test_link_wrappers_through_a_registered_hook(monkeypatch):
    k = machine()
    t = k.spawn("t")
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_KPROBE, RET0, opts=L.ProgLoadOpts(expected_attach_type=0))
    events = []
    ops = BpfLinkOps(release=lambda l: events.append("release"), detach=lambda l: events.append("detach"),
                     update_prog=lambda l, new, old: (events.append("update"), setattr(l, "prog", new)))

    def kprobe_link_create(ctx, prog):
        link = BpfLink(ctx.kernel, 7, ops, prog, ctx.attr.link_create.attach_type)
        link.alloc_id()
        return install_link(ctx, link)

    monkeypatch.setitem(LINK_CREATE_TYPES, PT.BPF_PROG_TYPE_KPROBE, kprobe_link_create)
    lfd = L.link_create(t, pfd, 0, AT.BPF_PERF_EVENT)
    with pytest.raises(OSError) as e:
        L.link_create(t, pfd, 0, AT.BPF_TRACE_FENTRY)            # bpf_prog_attach_check_attach_type
    assert e.value.errno == errno.EINVAL
    L.link_detach(t, lfd)
    pfd2, _ = L.prog_load(t, PT.BPF_PROG_TYPE_KPROBE, RET0)
    L.link_update(t, lfd, pfd2)
    with pytest.raises(OSError) as e:
        L.link_update(t, lfd, pfd2, old_prog_fd=pfd)             # without BPF_F_REPLACE
    assert e.value.errno == errno.EINVAL
    info = L.obj_get_info_by_fd(t, lfd, "link")
    assert info["type"] == 7 and info["prog_id"] == t.files.get(pfd2).obj.id
    assert L.link_get_fd_by_id(t, info["id"]) >= 3
    t.exit()
    assert events == ["detach", "update", "release"]


def test_link_ops_missing_slots():
    k = machine()
    t = k.spawn("t")
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    link = BpfLink(k, 1, BpfLinkOps(), t.files.get(pfd).obj.get())
    link.alloc_id()
    from kernelsim.bpf_link import LinkFile
    lfd = t.files.install(LinkFile(link))
    with pytest.raises(OSError) as e:
        L.link_detach(t, lfd)
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(OSError) as e:
        L.link_update(t, lfd, pfd)
    assert e.value.errno == errno.EINVAL


def test_pin_and_ids_and_raw_tp():
    t = machine().spawn("t")
    fd = L.map_create(t, T.BPF_MAP_TYPE_ARRAY, "a", 4, 4, 1)
    L.obj_pin(t, fd, "/sys/fs/bpf/a")
    assert L.map_get_fd_by_id(t, L.map_get_next_id(t, 0)) >= 3
    assert L.obj_get(t, "/sys/fs/bpf/a") >= 3
    pfd, _ = L.prog_load(t, PT.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    with pytest.raises(OSError) as e:
        L.raw_tracepoint_open(t, "sched_switch", pfd)
    assert e.value.errno == errno.EINVAL
