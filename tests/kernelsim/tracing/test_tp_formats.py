"""The tracepoint catalog as data (kernelsim/tracing/tp_formats.py) against the kernel BTF's
btf_trace_<name> typedefs and trace_event_raw_<class> structs, and against the real machine's
tracefs format files (realkernel)."""

import pytest

from btf import btf_parse
from btf.dump_c import BtfDumpC
from btf.uapi import BtfKind as K
from kernelsim import Kernel
from kernelsim.tracing import tp_formats as F
from kernelsim.tracing.tracefs import format_file
from tests.kernelsim.tracing.realperf import tracefs
from tests.realkernel import requires_realkernel
from tests.paths import VMLINUX_BTF

VMLINUX = str(VMLINUX_BTF)


@pytest.fixture(scope="module")
def kbtf():
    return Kernel().btf


@pytest.fixture(scope="module")
def full_btf():
    try:
        return btf_parse(open(VMLINUX, "rb").read())
    except OSError:
        pytest.skip("no vmlinux-6.18.btf fixture")


@pytest.mark.parametrize("name", sorted(F.TRACEPOINTS))
def test_proto_matches_btf_typedef(kbtf, name):
    """TP_PROTO types (after void *__data) are what btf_trace_<name> says."""
    tp = F.TRACEPOINTS[name]
    tid = kbtf.find_by_name_kind(f"btf_trace_{name}", K.BTF_KIND_TYPEDEF)
    proto = kbtf.type_by_id(kbtf.type_by_id(kbtf.type_by_id(tid).type).type)
    assert proto.kind == K.BTF_KIND_FUNC_PROTO
    d = BtfDumpC(kbtf)
    assert d.decl(proto.params[0].type, "", 0).strip() == "void *"
    assert [d.decl(p.type, "", 0).strip() for p in proto.params[1:]] == [t for t, _ in tp.args]


@pytest.mark.parametrize("path", sorted(p for p, e in F.EVENTS.items() if e.cls))
def test_event_layout_matches_trace_event_raw(kbtf, path):
    """Offsets, sizeof and offsetof(__data) of each event record equal the BTF struct's."""
    ev = F.EVENTS[path]
    sid = kbtf.find_by_name_kind(f"trace_event_raw_{ev.cls}", K.BTF_KIND_STRUCT)
    st = kbtf.type_by_id(sid)
    members = {m.name: m.bit_offset // 8 for m in st.members}
    assert st.size == ev.size
    assert members["ent"] == 0 and members["__data"] == ev.data_offset
    for f in ev.fields:
        key = f"__data_loc_{f.name}" if f.data_loc else f.name
        assert members[key] == f.offset, f.decl
    assert len(members) == len(ev.fields) + 2


def test_common_fields_are_trace_entry(kbtf):
    st = kbtf.type_by_id(kbtf.find_by_name_kind("trace_entry", K.BTF_KIND_STRUCT))
    assert [(m.name, m.bit_offset // 8) for m in st.members] == \
        [(f.name[len("common_"):], f.offset) for f in F.COMMON_FIELDS]
    assert st.size == F.TRACE_ENTRY_SIZE


def test_syscall_events_follow_syscall_trace_enter(kbtf):
    enter = kbtf.type_by_id(kbtf.find_by_name_kind("syscall_trace_enter", K.BTF_KIND_STRUCT))
    offs = {m.name: m.bit_offset // 8 for m in enter.members}
    for meta in F.SYSCALLS.values():
        ev = F.EVENTS[f"syscalls/sys_enter_{meta.name}"]
        assert ev.fields[0] == F.TpField("int __syscall_nr", offs["nr"], 4, 1)
        assert [f.offset for f in ev.fields[1:]] == [offs["args"] + 8 * i for i in range(len(meta.args))]
        assert [f.name for f in ev.fields[1:]] == [n for _, n in meta.args]
        assert all(f.size == 8 and f.signed == 0 for f in ev.fields[1:])
        assert ev.size == 16 + 8 * len(meta.args)
        ex = F.EVENTS[f"syscalls/sys_exit_{meta.name}"]
        assert [(f.name, f.offset, f.size) for f in ex.fields] == [("__syscall_nr", 8, 4), ("ret", 16, 8)]


def test_field_decl_parsing():
    f = F.EVENTS["sched/sched_switch"].fields[0]
    assert (f.name, f.ctype, f.data_loc) == ("prev_comm", "char[16]", False)
    g = F.EVENTS["sched/sched_process_exec"].fields[0]
    assert (g.name, g.ctype, g.data_loc) == ("filename", "__data_loc char[]", True)
    assert F.event_by_id(372).name == "sched_switch" and F.event_by_id(1) is None


def test_ids_are_unique_and_syscall_numbers_per_arch():
    ids = [e.id for e in F.EVENTS.values()]
    assert len(ids) == len(set(ids))
    assert F.SYSCALLS["openat"].nr == {"x86_64": 257, "i386": 295, "arm64": 56, "riscv64": 56,
                                       "s390x": 288}
    assert {F.SYSCALLS[n].nr["x86_64"] for n in F.SYSCALLS} == {0, 1, 39, 257, 263}


def test_format_file_of_sched_switch_as_the_fact_sheet_says():
    text = format_file(F.EVENTS["sched/sched_switch"])
    assert text.startswith("name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;"
                           "\toffset:0;\tsize:2;\tsigned:0;\n")
    assert "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n" in text
    assert "signed:1;\n\n\tfield:char prev_comm[16]" in text
    assert text.endswith("REC->next_comm, REC->next_pid, REC->next_prio\n")


def test_enum_skb_drop_reason_in_kfree_skb_print_fmt(full_btf):
    """The symbolic reasons printed are SKB_DROP_REASON_* of the 6.18 BTF (prefix stripped)."""
    eid = full_btf.find_by_name_kind("skb_drop_reason", K.BTF_KIND_ENUM)
    values = {v.name[len("SKB_DROP_REASON_"):]: v.val for v in full_btf.type_by_id(eid).values}
    fmt = F.EVENTS["skb/kfree_skb"].print_fmt
    assert '{ 2, "NOT_SPECIFIED" }' in fmt and values["NOT_SPECIFIED"] == 2
    assert f'{{ {values["TCP_CSUM"]}, "TCP_CSUM" }}' in fmt


@pytest.mark.realkernel
@requires_realkernel
@pytest.mark.parametrize("path", sorted(F.EVENTS))
def test_format_matches_real_tracefs(path):
    root = tracefs()
    if root is None:
        pytest.skip("tracefs not available")
    real = (root / "events" / path / "format")
    if not real.exists():
        pytest.skip(f"{path} not on this kernel")
    assert format_file(F.EVENTS[path]) == real.read_text()
    assert int((root / "events" / path / "id").read_text()) == F.EVENTS[path].id
