"""Map-in-map in objects (syscall/object/open.py _collect_map_relos, loader.py _create_map and
_init_slots; libbpf's bpf_object__collect_map_relos, bpf_object__create_map, init_map_in_map_slots):
the same clang-compiled object loaded into kernelsim and into Linux, its program run, the inner
maps read back through the outer ones."""

import errno

import pytest

from kernelsim.uapi import BpfMapType as M
from syscall import libbpf as L
from syscall.object.errors import LIBBPF_ERRNO__RELOC, BpfObjectError

from fake_task import open_obj, real_task_or_skip


def _k4(i):
    return i.to_bytes(4, "little")


def _inner_values(task, outer_fd, slot):
    """What a user reads through an outer map: the inner map's id, then its values by fd."""
    ret, raw = L.bpf_map_lookup_elem(task, outer_fd, _k4(slot), 4)
    if ret < 0:
        return ret
    fd = L.map_get_fd_by_id(task, int.from_bytes(raw, "little"))
    try:
        return [int.from_bytes(L.map_lookup_elem(task, fd, _k4(i), 8), "little") for i in range(4)]
    finally:
        task.close(fd)


def _exercise(task, obj):
    """Load, check the syscalls and slots, run the program once; what it found, for comparing
    the two kernels."""
    obj.load()
    # each outer map: its template inner map, the outer map, the slots (ascending), the
    # template closed again
    creates = [c for c in obj.syscalls if c[0] == "BPF_MAP_CREATE"]
    assert len(creates) == 7
    for name in ("outer_arr", "outer_hash"):
        info = obj.maps[name].info()
        assert (info.key_size, info.value_size, info.btf_key_type_id, info.btf_value_type_id) \
            == (4, 4, 0, 0)
    assert obj.maps["outer_arr"].info().type == M.BPF_MAP_TYPE_ARRAY_OF_MAPS
    assert obj.maps["outer_hash"].info().type == M.BPF_MAP_TYPE_HASH_OF_MAPS
    ids = {n: obj.maps[n].info().id for n in ("inner_a", "inner_b")}
    arr, hsh = obj.maps["outer_arr"].fd, obj.maps["outer_hash"].fd
    slots = {s: L.bpf_map_lookup_elem(task, arr, _k4(s), 4) for s in range(4)}
    assert {s: int.from_bytes(v, "little") for s, (r, v) in slots.items() if r == 0} == {
        0: ids["inner_a"], 2: ids["inner_b"]}
    assert slots[1][0] == slots[3][0] == -errno.ENOENT
    assert L.map_keys(task, hsh, 4) == [_k4(3)]
    # the perf event array without max_entries: one slot per possible CPU
    events = obj.maps["events"].info()
    assert events.max_entries == L.libbpf_num_possible_cpus(task)
    out = obj.progs["count_len"].test_run(data=bytes(60))
    assert out["retval"] == 0
    return {"inner_a": _inner_values(task, arr, 0), "inner_b": _inner_values(task, arr, 2),
            "via_hash": _inner_values(task, hsh, 3), "empty_slot": _inner_values(task, arr, 1),
            "perf_max_entries": events.max_entries}


# skb->len is the 60 bytes less the Ethernet header test_run pulls (46)
WANT = {"inner_a": [46, 0, 0, 0], "inner_b": [0, 1, 100, 0], "via_hash": [0, 1, 100, 0],
        "empty_slot": -errno.ENOENT}


def _need_sim_map_in_map():
    from kernelsim.maps import BPF_MAP_TYPES
    if M.BPF_MAP_TYPE_ARRAY_OF_MAPS not in BPF_MAP_TYPES:
        pytest.skip("kernelsim has no map-in-map map types yet (kernelsim/maps/map_in_map.py)")


def test_map_in_map_in_kernelsim(compiled):
    from kernelsim import Kernel
    _need_sim_map_in_map()
    kernel = Kernel(ncpus=3)
    task = kernel.spawn(comm="loader", uid=0)
    obj = task.open_object(compiled("map_in_map"))
    try:
        got = _exercise(task, obj)
        assert got == WANT | {"perf_max_entries": 3}
        # the object API decodes an outer map's values as inner map ids
        assert dict(obj.maps["outer_arr"].items()) == {0: obj.maps["inner_a"].info().id,
                                                       2: obj.maps["inner_b"].info().id}
        assert obj.maps["inner_b"][2] == 100
    finally:
        obj.close()


@pytest.mark.realkernel
def test_map_in_map_in_linux_agrees(compiled):
    task = real_task_or_skip()
    obj = open_obj(task, compiled("map_in_map"))
    try:
        got = _exercise(task, obj)
        assert got == WANT | {"perf_max_entries": L.libbpf_num_possible_cpus(None)}
    finally:
        obj.close()
        task.close_all()


def test_template_and_slots_in_libbpfs_order(compiled, rtask):
    obj = open_obj(rtask, compiled("map_in_map"))
    assert obj.maps["outer_arr"]._def.init_slots == {0: ("map", "inner_a"), 2: ("map", "inner_b")}
    assert obj.maps["outer_hash"]._def.init_slots == {3: ("map", "inner_b")}
    obj.load()
    seq = [(c, f.get("map_name"), f.get("inner_map_fd"), f.get("map_fd")) for c, f in rtask.calls
           if c in ("BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM")]
    fd = {m: obj.maps[m].fd for m in obj.maps}
    tmpl = [i for i, s in enumerate(seq) if s[1] == "outer_arr.inner"][0]
    # the template right before its outer map, which gets it as inner_map_fd; then the slots
    assert seq[tmpl + 1][:2] == ("BPF_MAP_CREATE", "outer_arr") and seq[tmpl + 1][2] > 0
    assert [s[3] for s in seq[tmpl + 2:tmpl + 4]] == [fd["outer_arr"]] * 2
    keys = [f["key"] for c, f in rtask.calls if c == "BPF_MAP_UPDATE_ELEM"
            and f["map_fd"] == fd["outer_arr"]]
    vals = [f["value"] for c, f in rtask.calls if c == "BPF_MAP_UPDATE_ELEM"
            and f["map_fd"] == fd["outer_arr"]]
    assert keys == [_k4(0), _k4(2)] and vals == [_k4(fd["inner_a"]), _k4(fd["inner_b"])]
    tmpl_create = [f for c, f in rtask.calls if c == "BPF_MAP_CREATE"
                   and f["map_name"] == "outer_arr.inner"][0]
    assert (tmpl_create["map_type"], tmpl_create["max_entries"], tmpl_create["value_size"]) == (
        M.BPF_MAP_TYPE_ARRAY, 4, 8)
    assert tmpl_create["btf_key_type_id"] and tmpl_create["btf_value_type_id"]
    # the template is gone once its outer map holds it: only the object's maps stay open
    assert len(rtask.open) == len(fd) + 2                  # + the BTF and the program


def _sim_task():
    from kernelsim import Kernel
    return Kernel().spawn(comm="loader", uid=0)


def _calls(obj):
    """obj.syscalls with each new fd named by the order in which its number first appeared
    (the numbers differ between a fresh kernelsim task and this test process; that a closed
    template's number is handed out again still shows)."""
    fd_cmds = ("BPF_BTF_LOAD", "BPF_MAP_CREATE", "BPF_PROG_LOAD")
    seen = {}
    out = []
    for cmd, ret in obj.syscalls:
        if cmd in fd_cmds and ret >= 0:
            ret = f"fd#{seen.setdefault(ret, len(seen))}"
        out.append((cmd, ret))
    return out


def _run_prog_array(task, obj):
    obj.load()
    entry = obj.progs["entry"]
    return (_calls(obj), entry.test_run(data=bytes(60))["retval"],
            entry.test_run(data=bytes(61))["retval"], obj.warnings)


def test_prog_array_slots_in_kernelsim(compiled):
    obj = _sim_task().open_object(compiled("prog_array"))
    try:
        calls, even, odd, warnings = _run_prog_array(obj.task, obj)
        # 46-byte skb: no jump, 7; 47 bytes: slot 1, tail_len returns len + 1
        assert (even, odd) == (7, 48)
        # the prog array's BTF value is no type: the kernel refuses it, libbpf retries without
        assert calls[1:3] == [("BPF_MAP_CREATE", -errno.EINVAL), ("BPF_MAP_CREATE", "fd#1")]
        assert warnings == ["Error in bpf_create_map_xattr(jumps): EINVAL. Retrying without BTF."]
        assert calls[-1] == ("BPF_MAP_UPDATE_ELEM", 0)      # the slot, after both programs
        assert dict(obj.maps["jumps"].items()) == {1: obj.progs["tail_len"].info().id}
    finally:
        obj.close()


@pytest.mark.realkernel
@pytest.mark.parametrize("name", ["map_in_map", "prog_array"])
def test_same_syscalls_and_answers_as_linux(compiled, name):
    """The loader's bpf() sequence and every result, kernelsim against Linux."""
    real = real_task_or_skip()
    if name == "map_in_map":
        _need_sim_map_in_map()

    def run(task):
        obj = open_obj(task, compiled(name))
        try:
            if name == "prog_array":
                return _run_prog_array(task, obj)
            obj.load()
            return (_calls(obj), obj.progs["count_len"].test_run(data=bytes(60))["retval"],
                     _inner_values(task, obj.maps["outer_arr"].fd, 0))
        finally:
            obj.close()
    try:
        assert run(_sim_task()) == run(real)
    finally:
        real.close_all()


BAD = {
    "hash_of_maps_key": ("""
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
               __type(key, u32); __type(value, u32); } in1 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS); __uint(max_entries, 2); __type(key, u64);
         __array(values, struct inner); } outer SEC(".maps") = { .values = { [0] = &in1 } };
""", errno.EINVAL, None, "hash-of-maps 'outer' should have key size 4"),
    "not_a_btf_map": ("""
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
               __type(key, u32); __type(value, u32); };
int plain_global = 3;
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2); __type(key, u32);
         __array(values, struct inner); } outer SEC(".maps") = {
    .values = { [1] = (void *)&plain_global } };
""", errno.EINVAL, LIBBPF_ERRNO__RELOC, "'plain_global' isn't a BTF-defined map"),
    "subprog_in_prog_array": ("""
__noinline int helper(int x) { return x + 1; }
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, u32);
         __array(values, int (void *)); } jumps SEC(".maps") = {
    .values = { [0] = (void *)&helper } };
SEC("socket") int entry(void *ctx) { return helper(1); }
""", errno.ESRCH, None, "'helper' isn't a valid program reference"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_values_initializers(case, tmp_path, object_cache, rtask):
    """bpf_object__collect_map_relos' refusals, at open, naming the map, symbol and offset."""
    from syscall.object import compile_bpf, find_clang
    if find_clang() is None:
        pytest.skip("clang is not installed")
    body, err, lerr, message = BAD[case]
    src = tmp_path / f"{case}.bpf.c"
    src.write_text('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n'
                   'char LICENSE[] SEC("license") = "GPL";\n' + body)
    with pytest.raises(BpfObjectError) as ei:
        open_obj(rtask, str(compile_bpf(src, cache=object_cache)))
    e = ei.value
    assert (e.errno, e.libbpf_errno, e.section) == (err, lerr, ".rel.maps"), e
    assert message in e.message and e.symbol and e.offset is not None
    assert rtask.calls == []                                   # refused before any syscall


def _set_inner_map_fd_run(task, path):
    """The template and the inner map made by the caller, the outer map by the object; the
    program run once before and once after the caller fills slot 7."""
    template = L.map_create(task, M.BPF_MAP_TYPE_ARRAY, "tmpl", 4, 8, 1)
    obj = open_obj(task, path)
    try:
        obj.maps["by_pid"].resize(1)
        obj.maps["by_pid"].set_inner_map_fd(template)
        with pytest.raises(BpfObjectError) as ei:
            obj.maps["by_pid"].set_inner_map_fd(template)
        assert ei.value.errno == errno.EINVAL and "already specified" in ei.value.message
        obj.load()
        task.close(template)                      # the outer map keeps what it needs
        prog = obj.progs["count_len"]
        before = prog.test_run(data=bytes(20))["retval"]
        inner = L.map_create(task, M.BPF_MAP_TYPE_ARRAY, "inner", 4, 8, 1)
        L.map_update_elem(task, obj.maps["by_pid"].fd, _k4(7), _k4(inner))
        after = prog.test_run(data=bytes(20))["retval"]
        value = int.from_bytes(L.map_lookup_elem(task, inner, _k4(0), 8), "little")
        task.close(inner)
        return (before, after, value, obj.maps["by_pid"].info().max_entries,
                [c for c, _ in obj.syscalls])
    finally:
        obj.close()


def test_set_inner_map_fd(compiled):
    task = _sim_task()
    _need_sim_map_in_map()
    got = _set_inner_map_fd_run(task, compiled("map_in_map_fd"))
    # before: no slot 7 (1); after: inner[0] += 6 (20 bytes less the Ethernet header)
    assert got == (1, 0, 6, 1, ["BPF_BTF_LOAD", "BPF_MAP_CREATE", "BPF_PROG_LOAD"])
    obj = open_obj(task, compiled("map_in_map"))
    with pytest.raises(BpfObjectError) as ei:
        obj.maps["inner_a"].set_inner_map_fd(3)
    assert ei.value.errno == errno.EINVAL and "unsupported map type" in ei.value.message


@pytest.mark.realkernel
def test_set_inner_map_fd_agrees_with_linux(compiled):
    real = real_task_or_skip()
    _need_sim_map_in_map()
    try:
        assert _set_inner_map_fd_run(_sim_task(), compiled("map_in_map_fd")) == \
            _set_inner_map_fd_run(real, compiled("map_in_map_fd"))
    finally:
        real.close_all()
