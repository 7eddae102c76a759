"""syscall/object/object.py, values.py, ringbuf.py, attach.py: the Python handle on an object
(maps as mappings decoded through BTF, global variables, two-phase load, consumers, links)."""

import errno

import pytest

import btf as btflib
from syscall.object.errors import BpfObjectError
from syscall.object.values import BtfCodec, BtfStruct, RawCodec

from fake_task import open_obj, real_task_or_skip, sim_kernel_or_xfail


# -- values ---------------------------------------------------------------------------------------

def _codec(src, name, kind=btflib.BTF_KIND_STRUCT):
    b = btflib.btf_from_c(src)
    return BtfCodec(b, b.find_by_name_kind(name, kind))


def test_struct_codec_round_trip():
    c = _codec("struct s { unsigned int a; int b; char name[8]; short arr[3]; "
               "union { int u1; char u2; }; unsigned int bf1:3, bf2:5; signed char sc; "
               "_Bool ok; double d; void *p; };", "s")
    v = {"a": 7, "b": -3, "name": b"hi", "arr": [1, -2, 3], "u1": 0x41, "bf1": 5, "bf2": 17,
         "sc": -1, "ok": True, "d": 2.5, "p": 0xFFFF8880}
    raw = c.encode(v)
    assert len(raw) == c.size
    got = c.decode(raw)
    assert isinstance(got, BtfStruct) and got.a == 7 and got["b"] == -3
    assert got.name == b"hi\0\0\0\0\0\0" and got.arr == [1, -2, 3]
    assert (got.u1, got.u2, got.bf1, got.bf2, got.sc, got.ok, got.d, got.p) == (
        0x41, 0x41, 5, 17, -1, True, 2.5, 0xFFFF8880)
    assert c.decode(c.encode(got)) == got                         # decode -> encode is stable
    assert c.encode(raw) == raw                                   # raw bytes accepted
    assert c.decode(c.encode({}))["a"] == 0                       # missing members are 0
    with pytest.raises(KeyError):
        c.encode({"nope": 1})


def test_scalar_and_enum_codecs():
    b = btflib.btf_from_c("typedef long long s64; enum e { X = -1, Y = 2 }; typedef char cbuf[4];")
    s64 = BtfCodec(b, b.find_by_name_kind("s64", btflib.BTF_KIND_TYPEDEF))
    assert s64.decode(s64.encode(-5)) == -5 and s64.encode(-1) == b"\xff" * 8
    e = BtfCodec(b, b.find_by_name_kind("e", btflib.BTF_KIND_ENUM))
    assert e.decode(e.encode(-1)) == -1
    cb = BtfCodec(b, b.find_by_name_kind("cbuf", btflib.BTF_KIND_TYPEDEF))
    assert cb.decode(cb.encode("ab")) == b"ab\0\0"
    with pytest.raises(ValueError):
        cb.encode(b"toolong")
    raw = RawCodec(4)
    assert raw.decode(raw.encode(7)) == 7 and RawCodec(3).decode(b"abc") == b"abc"


# -- the object, without a kernel ------------------------------------------------------------

def test_two_phase_rodata(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"))
    assert obj.state == "opened" and not obj.loaded
    assert obj.rodata.max_len == 100 and obj.rodata.cfg.threshold == 5
    assert obj.rodata.cfg.label == b"abc\0\0\0\0\0"
    assert obj.data.initial == 42 and obj.bss.hits == 0
    assert obj.global_data(".data.custom").custom_var == 7
    obj.rodata.max_len = 64
    assert obj.rodata.max_len == 64
    assert set(obj.bss.names()) >= {"hits", "seen_len", "kver"}
    with pytest.raises(AttributeError, match="no variable 'nope' in .rodata"):
        obj.rodata.nope
    with pytest.raises(KeyError):
        obj.global_data(".data.nope")
    obj.progs["globals"].autoload = True
    obj.load()
    with pytest.raises(BpfObjectError) as ei:
        obj.progs["globals"].autoload = False
    assert ei.value.errno == errno.EBUSY
    assert repr(obj).startswith("<BpfObject 'globals' loaded")


def test_unknown_option_and_missing_file(rtask, tmp_path):
    with pytest.raises(TypeError, match="unknown load_object option"):
        open_obj(rtask, tmp_path / "x.o", colour=1)
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, tmp_path / "missing.o")
    assert ei.value.errno == errno.ENOENT


def test_load_from_source_with_task(rtask):
    from syscall.object import find_clang
    if find_clang() is None:
        pytest.skip("clang is not installed")
    from pathlib import Path
    src = Path(__file__).parent / "progs" / "minimal.bpf.c"
    obj = rtask_load(rtask, src)
    assert obj.name == "minimal" and list(obj.progs) == ["accept_all"]


def rtask_load(task, src):
    from syscall.object import bpf_object_open_and_load
    return bpf_object_open_and_load(task, src)


# -- against the real kernel --------------------------------------------------------------------

@pytest.fixture
def real():
    task = real_task_or_skip()
    yield task
    task.close_all()


@pytest.mark.realkernel
def test_maps_as_mappings_real(compiled, real):
    obj = open_obj(real, compiled("maps_btf"), autocreate={"pinned": False}, autoload={"use_maps": False})
    obj.load()
    try:
        stats = obj.maps["stats"]
        key = {"pid": 5, "comm": b"bash"}
        stats[key] = {"count": 3, "last": -2, "flags": 1, "arr": [1, 2, 3]}
        got = stats[key]
        assert got.count == 3 and got.last == -2 and got.arr == [1, 2, 3]
        assert len(stats) == 1 and list(stats.keys())[0].pid == 5
        assert key in stats and stats.get({"pid": 6}) is None
        with pytest.raises(KeyError):
            stats[{"pid": 6}]
        del stats[key]
        assert len(stats) == 0
        with pytest.raises(KeyError):
            del stats[key]
        counters = obj.maps["counters"]
        counters[2] = 99
        assert counters[2] == 99 and len(counters) == 8 and dict(counters.items())[0] == 0
        with pytest.raises(BpfObjectError) as ei:
            del counters[2]                        # arrays: delete is EINVAL
        assert ei.value.errno == errno.EINVAL
        pc = obj.maps["per_cpu"]
        pc[1] = [5 * (i + 1) for i in range(pc.ncpus)]
        assert pc[1] == [5 * (i + 1) for i in range(pc.ncpus)]
        pc[0] = 7                                  # one value for every CPU
        assert pc[0] == [7] * pc.ncpus
        bloom = obj.maps["bloom"]
        bloom.push(12)
        assert bloom.peek(12) is True
        with pytest.raises(BpfObjectError) as ei:
            stats.update(key, {}, flags=2)         # BPF_EXIST on an absent key
        assert ei.value.errno == errno.ENOENT
    finally:
        obj.close()


# -- against the simulated kernel ---------------------------------------------------------------

def test_sim_globals_and_maps(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.open_object(compiled("globals"))
    obj.rodata.max_len = 30
    obj.load()
    try:
        assert obj.rodata.max_len == 30
        with pytest.raises(BpfObjectError) as ei:
            obj.rodata.max_len = 1
        assert ei.value.errno == errno.EPERM
        obj.bss.hits = 5
        assert obj.bss.hits == 5 and obj.bss.to_dict()["hits"] == 5
        assert obj.kconfig.LINUX_KERNEL_VERSION == (6 << 16) + (18 << 8)
    finally:
        obj.close()
    assert obj.progs["globals"].fd == -1


def test_sim_ringbuf_consumer(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("ringbuf"))
    try:
        seen = []
        rb = obj.ringbuf("events", seen.append, type="struct event")
        for n in (20, 30):                        # skb->len is what follows the 14-byte
            obj.progs["emit"].test_run(data=bytes(14 + n))       # Ethernet header
        assert rb.poll() == 2
        assert [(e.pid, e.seq, e.comm.rstrip(b"\0")) for e in seen] == [(20, 1, b"sock"),
                                                                          (30, 2, b"sock")]
        assert rb.poll() == 0
        with pytest.raises(BpfObjectError):
            obj.ringbuf("ringbuf.bss", print)
    finally:
        obj.close()


def test_sim_attach_fentry_and_detach(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("tracing_real"))     # kprobe/tp/raw_tp: raw_tp attaches
    try:
        link = obj.progs["on_switch"].attach()
        assert link.fd >= 0 and link.kind == "raw_tp" and link.target == "sched_switch"
        assert obj.links == [link]
        link.detach()
        assert link.fd == -1 and obj.links == []
        with pytest.raises(BpfObjectError) as ei:
            obj.progs["on_switch"].attach(tp_name="no_such_tracepoint")
        assert ei.value.errno == errno.ENOENT
    finally:
        obj.close()


def test_sim_every_attach_path_fires(compiled):
    """fentry/fexit/tp_btf/fmod_ret (LINK_CREATE), raw_tp (RAW_TRACEPOINT_OPEN), tp and kprobe
    (perf_event_open + BPF_LINK_CREATE or the SET_BPF ioctl), kprobe.multi (LINK_CREATE)."""
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("attach_all"))
    try:
        links = {n: p.attach() for n, p in obj.progs.items() if n != "h_kretprobe"}
        links["h_kretprobe"] = obj.progs["h_kretprobe"].attach(force_ioctl=True)
        kinds = {n: lnk.kind for n, lnk in links.items()}
        assert kinds["h_fentry"] == "tracing" and kinds["h_raw_tp"] == "raw_tp"
        assert kinds["h_tp"] == kinds["h_kprobe"] == "perf_event"
        assert kinds["h_kprobe_multi"] == "kprobe_multi"
        assert links["h_kretprobe"].fd == links["h_kretprobe"].perf_fd      # ioctl attach
        kernel.call("vfs_read", None, None, 16, None, ret=16)
        kernel.call("do_unlinkat", -100, "/tmp/x", ret=0)
        other = kernel.spawn(comm="other")
        kernel.tracepoint("sched_switch", False, kernel.kobjects.task_struct(task),
                          kernel.kobjects.task_struct(other), 0)
        hits = obj.bss.hits
        assert hits[:8] == [1, 1, 1, 1, 1, 1, 1, 1], hits
        for lnk in links.values():
            lnk.detach()
        kernel.call("vfs_read", None, None, 16, None, ret=16)
        assert obj.bss.hits[:8] == hits[:8]                 # detached: nothing more
    finally:
        obj.close()


def test_sim_perf_buffer(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("perfbuf"))
    try:
        m = obj.maps["samples"]
        assert m.max_entries == kernel.ncpus                # libbpf: one slot per possible CPU
        got = []
        pb = obj.perf_buffer("samples", lambda cpu, data: got.append((cpu, data)))
        obj.progs["out"].test_run(data=bytes(14 + 9))
        assert pb.poll() == 1
        cpu, data = got[0]
        # PERF_SAMPLE_RAW: the u32 size covers the data padded so the record stays 8-aligned
        assert cpu == 0 and len(data) == 12 and data[:8] == (9).to_bytes(4, "little") + \
            (0xFEED).to_bytes(4, "little")
        assert pb.poll() == 0
    finally:
        obj.close()


def test_sim_attach_all_and_close(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("attach_all"))
    links = obj.attach()                                  # the skeleton's attach
    assert len(links) == len(obj.progs) and obj.links == links
    kernel.call("vfs_read", None, None, 16, None, ret=16)
    assert obj.bss.hits[0] == 1
    obj.close()                                           # detaches what it attached
    assert obj.links == [] and all(lnk.fd == -1 for lnk in links)
    kernel.call("vfs_read", None, None, 16, None, ret=16)   # nothing attached any more
