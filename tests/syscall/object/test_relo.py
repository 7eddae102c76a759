"""syscall/object/relo.py: map and global-data references, subprograms appended per program
(libbpf's layout), and a cross-check of the result against libbpf itself (bpftool) on the real
kernel: same program tag (a SHA-1 of the instructions with map fds zeroed) and same xlated code."""

import errno

import pytest

from kernelsim.uapi import BpfPseudo
from syscall.object.errors import BpfObjectError

from fake_task import (bpftool_loadall, open_obj, real_prog_tag_and_xlated, real_task_or_skip)

CALL = 0x85
LD_IMM64 = 0x18


def _calls(insns):
    return [(i, x.imm) for i, x in enumerate(insns) if x.code == CALL and x.src == 1]


def test_subprograms_appended_per_program(compiled, rtask):
    obj = open_obj(rtask, compiled("subprogs"))
    obj.load()
    subs = {p.name: p for p in obj._model.progs if p.is_subprog}
    assert set(subs) == {"global_sub", "hidden_sub", "sub_a", "sub_b", "sub_c", "loop_cb"}
    a = obj.progs["main_a"]
    n_a = a._def.sec_insn_cnt
    # main_a calls sub_a, which calls sub_b: appended in that order after main_a
    assert len(a.insns) == n_a + subs["sub_a"].sec_insn_cnt + subs["sub_b"].sec_insn_cnt
    for i, imm in _calls(a.insns):
        target = i + imm + 1
        assert target in (n_a, n_a + subs["sub_a"].sec_insn_cnt)
    assert [off for off, _ in a.func_info] == [0, n_a, n_a + subs["sub_a"].sec_insn_cnt]
    btf = obj.btf
    assert [btf.name_of(t) for _, t in a.func_info] == ["main_a", "sub_a", "sub_b"]
    b = obj.progs["main_b"]
    names = [btf.name_of(t) for _, t in b.func_info]
    # first use order: the callback (ld_imm64), sub_c (then its callee sub_b), global, hidden
    assert names == ["main_b", "loop_cb", "sub_c", "sub_b", "global_sub", "hidden_sub"]
    starts = dict(zip(names, [off for off, _ in b.func_info]))
    for i, imm in _calls(b.insns):
        assert i + imm + 1 in starts.values()
    pf = [(i, x.imm) for i, x in enumerate(b.insns) if x.code == LD_IMM64
          and x.src == BpfPseudo.BPF_PSEUDO_FUNC]
    assert len(pf) == 1 and pf[0][0] + pf[0][1] + 1 == starts["loop_cb"]
    # line_info offsets are instruction indexes inside the final program, sorted
    offs = [li[0] for li in b.line_info]
    assert offs == sorted(offs) and offs[-1] < len(b.insns)
    # the hidden global subprogram's FUNC is made static in what BTF_LOAD got
    import btf as btflib
    loaded = btflib.Btf.parse([f for c, f in rtask.calls if c == "BPF_BTF_LOAD"][0]["btf"])
    linkage = {loaded.name_of(t): loaded.type_by_id(t).linkage
               for t in loaded.type_ids() if loaded.kind_of(t) == 12}
    assert linkage["hidden_sub"] == 0 and linkage["global_sub"] == 1


def test_map_and_data_references(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"))
    obj.load()
    insns = obj.progs["globals"].insns
    ld = [(i, x) for i, x in enumerate(insns) if x.code == LD_IMM64]
    fds = {m.fd: m for m in obj.maps.values()}
    seen = set()
    for i, x in ld:
        assert x.src == BpfPseudo.BPF_PSEUDO_MAP_VALUE and x.imm in fds
        m = fds[x.imm]
        off = insns[i + 1].imm
        assert 0 <= off < m.value_size
        seen.add((m.real_name, off))
    gd = obj.bss._vars
    assert (".bss", gd["hits"][0]) in seen and (".data.custom", 0) in seen
    assert (".kconfig", obj.kconfig._vars["LINUX_KERNEL_VERSION"][0]) in seen


def test_bad_relocation_is_named(compiled, object_bytes, rtask):
    """A relocation against an instruction that is neither ld_imm64 nor call."""
    from syscall.object.elf import ElfObject
    data = bytearray(object_bytes("globals"))
    elf = ElfObject.parse(bytes(data), "g.o")
    rel = elf.section_by_name(".relsocket")
    shoff = int.from_bytes(data[0x28:0x30], "little")
    rel_off = int.from_bytes(data[shoff + 64 * rel.idx + 24: shoff + 64 * rel.idx + 32], "little")
    r0 = elf.rels(rel)[0]
    data[rel_off: rel_off + 8] = (r0.offset + 8).to_bytes(8, "little")   # the ld_imm64's 2nd half
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, bytes(data), name="globals")
    e = ei.value
    assert e.errno == errno.EINVAL and "invalid relo against" in e.message
    assert e.prog == "globals" and e.section == "socket" and e.insn == r0.offset // 8 + 1
    assert e.symbol


@pytest.mark.realkernel
@pytest.mark.parametrize("name", ["subprogs", "globals", "minimal", "tracing_real", "map_in_map",
                                  "prog_array"])
def test_same_instructions_as_libbpf(name, compiled, tmp_path):
    """Our loader and bpftool/libbpf load the same object into the real kernel: equal tags and
    equal xlated code (modulo map ids) for every program."""
    task = real_task_or_skip()
    path = compiled(name)
    ref = bpftool_loadall(path)
    obj = open_obj(task, path)
    try:
        obj.load()
        for pname, prog in obj.progs.items():
            tag, xl = real_prog_tag_and_xlated(task, prog.fd)
            assert (tag, xl) == ref[pname[:15]], pname
    finally:
        obj.close()
        task.close_all()
