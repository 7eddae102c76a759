"""syscall/object/maps.py: BTF-defined maps, legacy maps, internal map names and flags."""

import errno

import pytest

import btf as btflib
from kernelsim.uapi import BpfMapFlags, BpfMapType as M
from syscall.object.errors import BpfObjectError
from syscall.object.maps import (adjust_ringbuf_sz, internal_map_name, object_name,
                                 parse_btf_map_def)

from fake_task import open_obj


def test_btf_defined_maps(compiled, rtask):
    obj = open_obj(rtask, compiled("maps_btf"))
    m = {name: obj.maps[name] for name in obj.maps}
    assert list(m) == ["inner_a", "outer", "counters", "per_cpu", "stats", "sized", "pinned",
                       "bloom", "events"]
    stats = m["stats"]
    assert (stats.type, stats.key_size, stats.value_size, stats.max_entries, stats.map_flags) == (
        M.BPF_MAP_TYPE_HASH, 20, 24, 128, BpfMapFlags.BPF_F_NO_PREALLOC)
    b = obj.btf
    assert b.type_by_id(stats.btf_key_type_id).name == "key_t"
    assert b.type_by_id(stats.btf_value_type_id).name == "val_t"
    assert (m["sized"].key_size, m["sized"].value_size, m["sized"].btf_key_type_id) == (8, 4, 0)
    assert m["events"].type == M.BPF_MAP_TYPE_RINGBUF and m["events"].max_entries == 8192
    assert m["bloom"]._def.map_extra == 3 and m["bloom"].key_size == 0
    assert m["pinned"].pin_path == "/sys/fs/bpf/pinned"
    outer = m["outer"]._def
    assert outer.inner is not None and outer.inner.name == "outer.inner"
    assert (outer.inner.map_type, outer.inner.max_entries, outer.value_size) == (M.BPF_MAP_TYPE_ARRAY, 1, 4)
    assert outer.init_slots == {1: ("map", "inner_a")}


def test_map_create_attrs(compiled, rtask):
    obj = open_obj(rtask, compiled("maps_btf"), pin_root_path="/sys/fs/bpf/mine")
    obj.load()
    creates = [f for c, f in rtask.calls if c == "BPF_MAP_CREATE"]
    by_name = {f["map_name"]: f for f in creates}
    assert by_name["stats"]["btf_fd"] == obj.btf_fd and by_name["stats"]["btf_key_type_id"]
    # map-in-map: the inner map is created first and passed as inner_map_fd, without BTF ids
    assert by_name["outer"]["inner_map_fd"] > 0 and by_name["outer"]["btf_value_type_id"] == 0
    assert by_name["outer.inner"]["max_entries"] == 1
    assert by_name["bloom"]["map_extra"] == 3 and by_name["events"]["max_entries"] == 8192
    names = rtask.names()
    i = names.index("BPF_OBJ_GET")                 # pinned: try to reuse, then create + pin
    assert names[i + 1] == "BPF_MAP_CREATE" and names[i + 2] == "BPF_OBJ_PIN"
    # the .values initializer: slot 1 of 'outer' <- inner_a's fd
    assert obj.maps["outer"].fd > 0 and obj.maps["pinned"].pin_path == "/sys/fs/bpf/mine/pinned"


def test_legacy_maps(compiled, rtask):
    obj = open_obj(rtask, compiled("legacy_maps"))
    h, a = obj.maps["old_hash"], obj.maps["old_array"]
    assert (h.type, h.key_size, h.value_size, h.max_entries) == (M.BPF_MAP_TYPE_HASH, 4, 8, 32)
    assert (a.type, a.max_entries, a.btf_value_type_id) == (M.BPF_MAP_TYPE_ARRAY, 2, 0)
    obj.load()
    insns = [f for c, f in rtask.calls if c == "BPF_PROG_LOAD"][0]["insns"]
    fds = {h.fd, a.fd}
    # ld_imm64 with src_reg BPF_PSEUDO_MAP_FD (1) carrying the maps' fds
    got = {int.from_bytes(insns[i + 4:i + 8], "little", signed=True)
           for i in range(0, len(insns), 8) if insns[i] == 0x18 and insns[i + 1] >> 4 == 1}
    assert got == fds


@pytest.mark.parametrize("obj_name, sec, want", [
    ("t1", ".bss", "t1.bss"),
    ("count_calls", ".bss", "count_ca.bss"),
    ("count_calls", ".rodata", "count_ca.rodata"),
    ("count_calls", ".kconfig", "count_c.kconfig"),
    ("count_calls", ".data", "count_ca.data"),
    ("a", ".rodata.str1.1", ".rodata.str1.1"),
    ("a", ".data.custom", ".data.custom"),
    ("a", ".rodata.abracadabra", ".rodata.abracad"),
    ("my-obj", ".bss", "my_obj.bss"),
])
def test_internal_map_name(obj_name, sec, want):
    assert internal_map_name(obj_name, sec) == want


def test_object_name():
    assert object_name("/x/count_calls.bpf.o") == "count_calls"
    assert object_name("a_very_long_object_name.o") == "a_very_long_obj"


def test_internal_maps_flags(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"))
    assert obj.maps["globals.rodata"].map_flags == (BpfMapFlags.BPF_F_RDONLY_PROG
                                                    | BpfMapFlags.BPF_F_MMAPABLE)
    assert obj.maps["globals.bss"].map_flags == BpfMapFlags.BPF_F_MMAPABLE
    assert obj.maps[".bss"] is obj.maps["globals.bss"]          # also by section name
    k = obj.maps["globals.kconfig"]
    assert k.map_flags & BpfMapFlags.BPF_F_RDONLY_PROG and k.value_size == 8
    obj2 = open_obj(rtask, compiled("ringbuf"))
    s = obj2.maps[".rodata.str1.1"]
    assert s.btf_value_type_id == 0 and s.map_flags == BpfMapFlags.BPF_F_RDONLY_PROG


def test_adjust_ringbuf_sz():
    assert adjust_ringbuf_sz(0) == 0
    assert adjust_ringbuf_sz(4096) == 4096
    assert adjust_ringbuf_sz(4097) == 8192
    assert adjust_ringbuf_sz(3 * 4096) == 4 * 4096
    assert adjust_ringbuf_sz(1 << 20) == 1 << 20


def _map_btf(fields):
    """A BTF with ``struct { fields } m`` and return (btf, struct id)."""
    b = btflib.BtfBuilder()
    u32 = b.add_int("unsigned int", 4)
    specs = []
    for name, kind, val in fields:
        if kind == "uint":
            arr = b.add_array(u32, u32, val)
            specs.append((name, b.add_ptr(arr)))
        elif kind == "type":
            specs.append((name, b.add_ptr(u32)))
        elif kind == "raw":
            specs.append((name, u32))
    sid = b.add_struct(None, 8 * len(specs))
    for i, (name, tid) in enumerate(specs):
        b.add_field(name, tid, 64 * i)
    return b.to_btf(), sid


def test_parse_btf_map_def_errors():
    b, sid = _map_btf([("type", "uint", 1), ("key", "type", 0), ("value", "type", 0),
                       ("max_entries", "uint", 3)])
    d = parse_btf_map_def("m", b, sid)
    assert (d["map_type"], d["key_size"], d["value_size"], d["max_entries"]) == (1, 4, 4, 3)
    b, sid = _map_btf([("type", "uint", 1), ("color", "uint", 2)])
    with pytest.raises(BpfObjectError) as ei:
        parse_btf_map_def("m", b, sid)
    assert ei.value.errno == errno.EOPNOTSUPP and "unknown field 'color'" in str(ei.value)
    b, sid = _map_btf([("max_entries", "uint", 2)])
    with pytest.raises(BpfObjectError) as ei:
        parse_btf_map_def("m", b, sid)
    assert "map type isn't specified" in str(ei.value)
    b, sid = _map_btf([("type", "raw", 0)])
    with pytest.raises(BpfObjectError) as ei:
        parse_btf_map_def("m", b, sid)
    assert "expected PTR" in str(ei.value)
    b, sid = _map_btf([("type", "uint", 1), ("key_size", "uint", 4), ("key", "type", 8)])
    d = parse_btf_map_def("m", b, sid)                     # same size: fine
    b, sid = _map_btf([("type", "uint", 1), ("key_size", "uint", 8), ("key", "type", 0)])
    with pytest.raises(BpfObjectError) as ei:
        parse_btf_map_def("m", b, sid)
    assert "conflicting key size" in str(ei.value)


def test_resize_before_load(compiled, rtask):
    """bpf_map__set_max_entries: ring buffers rounded up again; EBUSY once loaded."""
    obj = open_obj(rtask, compiled("maps_btf"), max_entries={"stats": 7})
    obj.maps["events"].resize(3 * 4096 + 1)
    assert (obj.maps["events"].max_entries, obj.maps["stats"].max_entries) == (4 * 4096, 7)
    obj.load()
    creates = {f["map_name"]: f for c, f in rtask.calls if c == "BPF_MAP_CREATE"}
    assert (creates["events"]["max_entries"], creates["stats"]["max_entries"]) == (4 * 4096, 7)
    with pytest.raises(BpfObjectError) as ei:
        obj.maps["stats"].resize(9)
    assert ei.value.errno == errno.EBUSY
