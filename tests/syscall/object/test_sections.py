"""syscall/object/sections.py (libbpf's SEC table) and how programs get their types."""

import errno

import pytest

from kernelsim.uapi import BpfAttachType as A
from kernelsim.uapi import BpfProgFlags
from kernelsim.uapi import BpfProgType as P
from syscall.object.errors import BpfObjectError
from syscall.object.sections import SECTION_DEFS, SecFlags, find_sec_def, sec_def_matches

from fake_task import open_obj


@pytest.mark.parametrize("name, ptype, eat, attach", [
    ("fentry/vfs_read", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, "trace"),
    ("fexit/vfs_read", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, "trace"),
    ("fmod_ret/x", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, "trace"),
    ("fentry.s/x", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, "trace"),
    ("tp_btf/sched_switch", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP, "trace"),
    ("raw_tp/sched_switch", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, "raw_tp"),
    ("raw_tracepoint/x", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, "raw_tp"),
    ("raw_tp.w/x", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, "raw_tp"),
    ("tp/sched/sched_switch", P.BPF_PROG_TYPE_TRACEPOINT, 0, "tp"),
    ("tracepoint/a/b", P.BPF_PROG_TYPE_TRACEPOINT, 0, "tp"),
    ("kprobe/do_unlinkat", P.BPF_PROG_TYPE_KPROBE, 0, "kprobe"),
    ("kprobe", P.BPF_PROG_TYPE_KPROBE, 0, "kprobe"),
    ("kretprobe/x", P.BPF_PROG_TYPE_KPROBE, 0, "kprobe"),
    ("kprobe.multi/vfs_*", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI, "kprobe_multi"),
    ("kretprobe.multi/x", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI, "kprobe_multi"),
    ("ksyscall/unlinkat", P.BPF_PROG_TYPE_KPROBE, 0, "ksyscall"),
    ("socket", P.BPF_PROG_TYPE_SOCKET_FILTER, 0, None),
    ("perf_event", P.BPF_PROG_TYPE_PERF_EVENT, 0, None),
    ("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, None),
    ("lsm/file_open", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, "lsm"),
    ("iter/task", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, "iter"),
])
def test_table(name, ptype, eat, attach):
    d = find_sec_def(name)
    assert d is not None
    assert (d.prog_type, d.expected_attach_type, d.attach) == (ptype, eat, attach)


@pytest.mark.parametrize("name", ["kprobex", "fentryfoo", "sockets", "socket/x", "tp_btfx/y",
                                  "", "/fentry"])
def test_no_match(name):
    assert find_sec_def(name) is None


def test_matching_rules():
    plus = next(d for d in SECTION_DEFS if d.sec == "kprobe+")
    assert sec_def_matches(plus, "kprobe") and sec_def_matches(plus, "kprobe/x")
    assert not sec_def_matches(plus, "kprobe.multi/x")
    exact = next(d for d in SECTION_DEFS if d.sec == "socket")
    assert sec_def_matches(exact, "socket") and not sec_def_matches(exact, "socket/1")


def test_flags_and_refusals():
    assert find_sec_def("fentry.s/x").flags & SecFlags.SEC_SLEEPABLE
    assert find_sec_def("fentry/x").flags & SecFlags.SEC_ATTACH_BTF
    for name in ("uprobe/x", "uretprobe/x", "usdt/a:b:c", "iter/task", "struct_ops/x",
                 "uprobe.multi/x"):
        assert find_sec_def(name).refuse


def test_every_entry_is_a_valid_uapi_pair():
    seen = set()
    for d in SECTION_DEFS:
        assert d.sec not in seen
        seen.add(d.sec)
        assert isinstance(d.prog_type, P)
        assert d.expected_attach_type == 0 or d.expected_attach_type in A._value2member_map_


def test_object_program_types(compiled, rtask):
    obj = open_obj(rtask, compiled("sections"))
    got = {n: (p.prog_type, p.expected_attach_type) for n, p in obj.progs.items()}
    assert got["on_fentry"] == (P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY)
    assert got["on_tp_btf"] == (P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP)
    assert got["on_kprobe_multi"] == (P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI)
    assert got["on_unknown"] == (0, 0)
    assert obj.progs["off_by_default"].section == "fentry/vfs_write"
    assert obj.progs["off_by_default"].autoload is False
    assert obj.kern_version == 0x061200


def test_refused_and_unknown_sections(compiled, rtask):
    obj = open_obj(rtask, compiled("sections"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    assert ei.value.errno == errno.EOPNOTSUPP and "uprobes are not simulated" in str(ei.value)
    assert ei.value.prog == "on_uprobe"
    obj = open_obj(rtask, compiled("sections"), autoload={"on_uprobe": False, "on_iter": False})
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    assert ei.value.errno == errno.EINVAL
    assert "missing BPF prog type, check ELF section name 'no_such_section_type'" in str(ei.value)
    assert rtask.open == set()               # everything closed again


def test_prog_load_attrs_per_section(compiled, rtask):
    obj = open_obj(rtask, compiled("sections"),
                   autoload={"on_uprobe": False, "on_iter": False, "on_unknown": False})
    obj.load()
    kbtf = rtask.kernel.btf
    loads = {f["prog_name"]: f for c, f in rtask.calls if c == "BPF_PROG_LOAD"}
    assert "off_by_default" not in loads and len(loads) == 16
    assert loads["on_fentry"]["attach_btf_id"] == kbtf.find_by_name_kind("vfs_read", 12)
    assert loads["on_fentry"]["expected_attach_type"] == A.BPF_TRACE_FENTRY
    assert loads["on_tp_btf"]["attach_btf_id"] == kbtf.find_by_name_kind("btf_trace_sched_switch", 8)
    assert loads["on_fmod_ret"]["attach_btf_id"] == kbtf.find_by_name_kind(
        "bpf_modify_return_test", 12)
    assert loads["on_fentry_s"]["prog_flags"] == BpfProgFlags.BPF_F_SLEEPABLE
    assert loads["on_kprobe"]["attach_btf_id"] == 0 and loads["on_kprobe"]["prog_type"] == 2
    assert all(f["kern_version"] == 0x061200 for f in loads.values())
    assert all(f["license"] == "GPL" for f in loads.values())
    names = [f["prog_name"] for c, f in rtask.calls if c == "BPF_PROG_LOAD"]
    # section order; the kernel gets names cut to 15 characters (BPF_OBJ_NAME_LEN - 1)
    assert names == [n[:15] for n in obj.progs if n[:15] in loads]
    assert "on_raw_tracepoi" in names


def test_attach_target_override(compiled, rtask):
    obj = open_obj(rtask, compiled("sections"), attach_targets={"on_fentry": "vfs_write"},
                   autoload={"on_uprobe": False, "on_iter": False, "on_unknown": False})
    obj.load()
    loads = {f["prog_name"]: f for c, f in rtask.calls if c == "BPF_PROG_LOAD"}
    assert loads["on_fentry"]["attach_btf_id"] == rtask.kernel.btf.find_by_name_kind("vfs_write", 12)
    with pytest.raises(BpfObjectError):
        obj.progs["on_fentry"].set_attach_target("x")          # after load
