"""syscall/object/core.py: CO-RE relocations against the embedded kernel BTF, the real
vmlinux-6.18 BTF and a kernel with task_struct laid out differently; flavors, poisoning,
ambiguity, type matching."""

import errno
import os

import pytest

import btf as btflib
from kernelsim.uapi import BpfCoreReloKind as K
from syscall.object import core
from syscall.object.btf_ext import CoreRelo
from syscall.object.errors import BpfObjectError

from btf_variants import member_offset, swapped_btf
from fake_task import FakeKernel, RecordingTask, open_obj, real_task_or_skip
from tests.paths import VMLINUX_BTF

LDX = 0x01


def _load(compiled, kernel_btf, name="core"):
    task = RecordingTask(FakeKernel(kernel_btf))
    obj = open_obj(task, compiled(name))
    obj.load()
    return obj, task


def _relos(obj, prog):
    return {(core.KIND_STR[rec.kind], core.format_spec(res.local_spec).split(" ", 3)[3]): (idx, res)
            for idx, rec, res in obj.progs[prog]._def.core_relos}


@pytest.mark.parametrize("which", ["embedded", "vmlinux-6.18", "swapped"])
def test_field_offsets_follow_the_kernel(which, compiled, vmlinux_btf):
    kbtf = {"embedded": btflib.embedded_btf(), "vmlinux-6.18": vmlinux_btf,
            "swapped": swapped_btf()}[which]
    if kbtf is None:
        pytest.skip("no vmlinux-6.18.btf fixture")
    obj, _ = _load(compiled, kbtf)
    rel = _relos(obj, "read_task")
    insns = obj.progs["read_task"].insns
    pid_off = member_offset(kbtf, "task_struct", "pid")
    tgid_off = member_offset(kbtf, "task_struct", "tgid")
    idx, res = rel[("byte_off", "task_struct.pid (0:92 @ offset 1264)")]
    assert res.res.new_val == pid_off
    # the probe read's source pointer: r3 = task + offset (ALU imm) for BPF_CORE_READ
    assert insns[idx].imm == pid_off or insns[idx].off == pid_off
    idx, res = rel[("byte_off", "task_struct.tgid (0:93 @ offset 1268)")]
    assert res.res.new_val == tgid_off and (insns[idx].imm == tgid_off or insns[idx].off == tgid_off)
    if which == "swapped":
        assert (pid_off, tgid_off) == (1268, 1264)
        assert res.targ_spec.raw_spec == [0, 92]            # tgid is member #92 there
    sid = kbtf.find_by_name_kind("task_struct", btflib.BTF_KIND_STRUCT)
    assert rel[("target_type_id", "task_struct")][1].res.new_val == sid
    assert rel[("type_size", "task_struct")][1].res.new_val == kbtf.type_by_id(sid).size
    assert rel[("local_type_id", "task_struct")][1].res.new_val == \
        obj.btf.find_by_name_kind("task_struct", btflib.BTF_KIND_STRUCT)
    assert rel[("byte_sz", "task_struct.comm (0:125 @ offset 1752)")][1].res.new_val == 16
    assert rel[("signed", "task_struct.pid (0:92 @ offset 1264)")][1].res.new_val == 1
    ev = kbtf.find_by_name_kind("bpf_map_type", btflib.BTF_KIND_ENUM)
    ringbuf = next(v.val for v in kbtf.type_by_id(ev).values if v.name == "BPF_MAP_TYPE_RINGBUF")
    assert rel[("enumval_value", "bpf_map_type::BPF_MAP_TYPE_RINGBUF = 27")][1].res.new_val == ringbuf
    assert rel[("enumval_exists", "bpf_map_type::BPF_MAP_TYPE_RINGBUF = 27")][1].res.new_val == 1


def test_flavor_and_missing_field(compiled):
    obj, _ = _load(compiled, btflib.embedded_btf())
    rel = _relos(obj, "read_task")
    key = "task_struct___old.not_in_any_kernel (0:1 @ offset 8)"
    assert rel[("field_exists", key)][1].res.new_val == 0        # exists() -> 0
    idx, res = rel[("byte_off", key)]
    assert res.res.poison                                      # guarded read: poisoned
    insn = obj.progs["read_task"].insns[idx]
    assert (insn.code, insn.imm) == (0x85, core.POISON_HELPER)


def test_bitfield_shifts(compiled):
    obj, _ = _load(compiled, btflib.embedded_btf())
    rel = _relos(obj, "read_task")
    key = "sk_buff.fclone (0:14 @ offset 126.2)"
    assert rel[("byte_off", key)][1].res.new_val == 126
    assert rel[("lshift_u64", key)][1].res.new_val == 64 - (1010 + 2 - 126 * 8)
    assert rel[("rshift_u64", key)][1].res.new_val == 62


def test_unresolved_read_is_poisoned_and_explained(compiled):
    """An unguarded read of a missing field: the verifier sees 'call unknown#195896080'; the
    loader rewrites the log as libbpf's fixup_verifier_log does."""
    from kernelsim.isa.insn import decode_insns

    def verifier(fields):
        insns = decode_insns(fields["insns"])
        idx = next(i for i, x in enumerate(insns) if x.code == 0x85 and x.imm == core.POISON_HELPER)
        return (f"0: R1=ctx() R10=fp0\n; out = BPF_CORE_READ(t, no_such_field);\n"
                f"{idx}: (85) call unknown#195896080\ninvalid func unknown#195896080\n"
                f"processed {idx + 1} insns\n", -errno.EINVAL)
    task = RecordingTask(FakeKernel(), verifier_log=verifier)
    obj = open_obj(task, compiled("core_bad"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    e = ei.value
    assert e.errno == errno.EINVAL and e.prog == "bad_read"
    assert "<invalid CO-RE relocation>" in e.log
    assert ("failed to resolve CO-RE relocation <byte_off> " in e.log
            and "struct task_struct___mine.no_such_field (0:0 @ offset 0)" in e.log)
    assert "invalid func unknown#195896080" not in e.log
    assert "failed to resolve CO-RE relocation" in str(e)
    # libbpf's sequence: without a log first, then again with log_level 1
    assert [f["log_level"] for c, f in task.calls if c == "BPF_PROG_LOAD"] == [0, 1]
    assert task.open == set()


@pytest.mark.realkernel
def test_unresolved_read_real_verifier(compiled):
    task = real_task_or_skip()
    obj = open_obj(task, compiled("core_bad"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    assert "failed to resolve CO-RE relocation <byte_off>" in ei.value.log
    assert "struct task_struct___mine.no_such_field" in ei.value.log
    task.close_all()


# -- unit tests on hand-made BTF ----------------------------------------------------------------

def _local(src: str, *strings):
    b = btflib.btf_from_c(src)
    out = btflib.BtfBuilder()
    for t in b.types():
        out.add_type(b, t)
    offs = {s: out.add_str(s) for s in strings}
    return out.to_btf(), offs


def _relo(btf, offs, type_name, kind, access, btf_kind=btflib.BTF_KIND_STRUCT, insn_off=0):
    return CoreRelo(insn_off, btf.find_by_name_kind(type_name, btf_kind), offs[access], int(kind))


def test_essential_name_len():
    assert core.essential_name_len("task_struct___old") == len("task_struct")
    assert core.essential_name_len("a___b___c") == len("a___b")
    assert core.essential_name_len("____x") == 5
    assert core.essential_name_len("x___") == 4
    assert core.essential_name_len("foo") == 3


def test_flavored_target_and_ambiguity():
    local, offs = _local("struct foo { int a; long b; };", "0:1", "0:0")
    target = btflib.btf_from_c("struct foo___v1 { long pad; long b; };\n"
                               "struct foo___v2 { long pad; long b; };\n"
                               "struct foo___v3 { int c; };")
    r = _relo(local, offs, "foo", K.BPF_CORE_FIELD_BYTE_OFFSET, "0:1")
    cache = {}
    got = core.calc_relo_insn("p", r, 0, local, target, cache)
    # both flavors with a 'b' agree on byte 8; foo___v3 has no 'b' and is dropped
    assert (got.res.orig_val, got.res.new_val) == (8, 8)
    fids = [target.find_by_name_kind(n, btflib.BTF_KIND_STRUCT) for n in ("foo___v1", "foo___v2")]
    assert cache[r.type_id] == fids
    target2 = btflib.btf_from_c("struct foo___v1 { long pad; long b; };\n"
                                "struct foo___v2 { int b; };")
    with pytest.raises(core.CoreError) as ei:
        core.calc_relo_insn("p", r, 0, local, target2, {})
    assert ei.value.errno == errno.EINVAL and "ambiguity" in ei.value.message


def test_field_in_anonymous_members_and_arrays():
    local, offs = _local("struct s { int x; int arr[4]; };", "0:1:2")
    target = btflib.btf_from_c("struct s { long pad; union { int y; struct { int x; int arr[8]; }; }; };")
    r = _relo(local, offs, "s", K.BPF_CORE_FIELD_BYTE_OFFSET, "0:1:2")
    got = core.calc_relo_insn("p", r, 0, local, target, {})
    assert (got.res.orig_val, got.res.new_val) == (12, 8 + 4 + 8)
    assert got.targ_spec.raw_spec == [0, 1, 1, 1, 2]
    assert core.format_spec(got.targ_spec).endswith("s.arr[2] (0:1:1:1:2 @ offset 20)")


def test_type_and_enum_relocations():
    local, offs = _local("enum e { A = 1, B = 2 }; struct t { int v; };", "0")
    target = btflib.btf_from_c("enum e { B = 7, A = 9, C = 3 }; struct t { long v; int w; };")
    local2, offs2 = _local("enum e { A = 1, B = 2 }; struct t { int v; };", "1")
    r = CoreRelo(0, local2.find_by_name_kind("e", btflib.BTF_KIND_ENUM), offs2["1"],
                 int(K.BPF_CORE_ENUMVAL_VALUE))
    got = core.calc_relo_insn("p", r, 0, local2, target, {})
    assert (got.res.orig_val, got.res.new_val) == (2, 7)
    r = _relo(local, offs, "t", K.BPF_CORE_TYPE_SIZE, "0")
    assert core.calc_relo_insn("p", r, 0, local, target, {}).res.new_val == 16
    r = _relo(local, offs, "t", K.BPF_CORE_TYPE_MATCHES, "0")
    assert core.calc_relo_insn("p", r, 0, local, target, {}).res.new_val == 0   # int vs long
    t3 = btflib.btf_from_c("struct t { int v; long extra; };")
    assert core.calc_relo_insn("p", r, 0, local, t3, {}).res.new_val == 1
    r = _relo(local, offs, "t", K.BPF_CORE_TYPE_EXISTS, "0")
    none = btflib.btf_from_c("struct other { int v; };")
    assert core.calc_relo_insn("p", r, 0, local, none, {}).res.new_val == 0


def test_patch_validation():
    from kernelsim.isa.insn import BpfInsn
    local, offs = _local("struct s { int a; int b; };", "0:1")
    target = btflib.btf_from_c("struct s { long z; int a; int b; };")
    r = _relo(local, offs, "s", K.BPF_CORE_FIELD_BYTE_OFFSET, "0:1")
    res = core.calc_relo_insn("p", r, 0, local, target, {}).res
    insns = [BpfInsn(0x61, 1, 2, 4, 0)]                     # r1 = *(u32 *)(r2 + 4)
    core.patch_insn("p", insns, 0, r, 0, res)
    assert insns[0].off == 12
    bad = [BpfInsn(0x61, 1, 2, 5, 0)]                       # clang would have put 4 there
    with pytest.raises(core.CoreError) as ei:
        core.patch_insn("p", bad, 0, r, 0, res)
    assert "unexpected insn #0 (LDX/ST/STX) value: got 5, exp 4 -> 12" in ei.value.message


def test_memsz_adjust_for_unsigned_growth():
    from kernelsim.isa.insn import BpfInsn
    local, offs = _local("struct s { unsigned int a; };", "0:0")
    target = btflib.btf_from_c("struct s { unsigned long a; };")
    r = _relo(local, offs, "s", K.BPF_CORE_FIELD_BYTE_OFFSET, "0:0")
    res = core.calc_relo_insn("p", r, 0, local, target, {}).res
    insns = [BpfInsn(0x61, 1, 2, 0, 0)]                     # u32 load
    core.patch_insn("p", insns, 0, r, 0, res)
    assert insns[0].code == 0x79                            # now a u64 load
    signed_t = btflib.btf_from_c("struct s { long a; };")
    local2, offs2 = _local("struct s { int a; };", "0:0")
    r2 = _relo(local2, offs2, "s", K.BPF_CORE_FIELD_BYTE_OFFSET, "0:0")
    res2 = core.calc_relo_insn("p", r2, 0, local2, signed_t, {}).res
    insns = [BpfInsn(0x61, 1, 2, 0, 0)]
    core.patch_insn("p", insns, 0, r2, 0, res2)
    assert insns[0].imm == core.POISON_HELPER               # signed resize: poisoned


def test_malformed_access_string():
    local, offs = _local("struct s { int a; };", "0:7", "x")
    target = btflib.btf_from_c("struct s { int a; };")
    for acc in ("0:7", "x"):
        r = _relo(local, offs, "s", K.BPF_CORE_FIELD_BYTE_OFFSET, acc)
        with pytest.raises(core.CoreError) as ei:
            core.calc_relo_insn("p", r, 3, local, target, {})
        assert ei.value.errno == errno.EINVAL and "relo #3: parsing" in ei.value.message


@pytest.mark.parametrize("layout", ["embedded", "swapped", "vmlinux-6.18"])
def test_values_read_at_run_time(compiled, layout):
    """The same object in two kernels whose task_struct differ: the program reads the right
    fields in both (raw_tp test run; bpf_get_current_task is the test task's task_struct, laid
    out by each kernel's BTF: in the swapped kernel pid sits where tgid sits in the other)."""
    from btf_variants import swapped_btf_bytes
    from fake_task import sim_kernel_or_xfail
    sim_kernel_or_xfail()
    from kernelsim import Kernel
    vmlinux = str(VMLINUX_BTF)
    if layout == "vmlinux-6.18" and not os.path.exists(vmlinux):
        pytest.skip("no vmlinux-6.18.btf fixture")
    kernel = Kernel(btf={"swapped": swapped_btf_bytes(), "vmlinux-6.18": vmlinux}.get(layout))
    task = kernel.spawn(comm="coretest")
    kernel.switch_to(task, 0)
    task.tgid = 4242                 # as if it were a thread of process 4242 (pid != tgid)
    obj = task.load_object(compiled("core"))
    try:
        obj.progs["read_task"].test_run(ctx=bytes(8))
        r = obj.bss.result
        assert (r.pid, r.tgid) == (task.pid, 4242)
        assert r.comm.rstrip(b"\0") == b"coretest"
        assert (r.exists_pid, r.exists_missing, r.size_pid, r.size_comm) == (1, 0, 4, 16)
        assert r.type_size == kernel.btf.type_by_id(
            kernel.btf.find_by_name_kind("task_struct", btflib.BTF_KIND_STRUCT)).size
    finally:
        obj.close()
