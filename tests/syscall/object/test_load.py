"""syscall/object/loader.py: the syscalls in libbpf's order, what each carries, and the failure
paths (BTF refused, map creation refused, verifier rejection, log growth, cleanup)."""

import errno
import struct

import pytest

import btf as btflib
from kernelsim.uapi import BpfMapFlags
from syscall.object.errors import BpfObjectError
from syscall.object.externs import kconfig_data

from fake_task import RecordingTask, open_obj, real_task_or_skip, sim_kernel_or_xfail


def test_syscall_order(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"))
    obj.load()
    assert rtask.names() == [
        "BPF_BTF_LOAD",
        "BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM",                       # .data
        "BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_FREEZE",     # .rodata
        "BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM",                       # .data.custom
        "BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM",                       # .bss
        "BPF_MAP_CREATE", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_FREEZE",     # .kconfig
        "BPF_PROG_LOAD", "BPF_PROG_BIND_MAP"]
    assert [n for n, _ in obj.syscalls] == rtask.names()
    creates = [f for c, f in rtask.calls if c == "BPF_MAP_CREATE"]
    assert [f["map_name"] for f in creates] == ["globals.data", "globals.rodata", ".data.custom",
                                                "globals.bss", "globals.kconfig"]
    assert all(f["btf_fd"] == obj.btf_fd and f["btf_value_type_id"] and f["key_size"] == 4
               and f["max_entries"] == 1 for f in creates)


def test_btf_fixups_in_what_the_kernel_gets(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"))
    obj.load()
    b = btflib.Btf.parse([f for c, f in rtask.calls if c == "BPF_BTF_LOAD"][0]["btf"])
    secs = {b.name_of(t): b.type_by_id(t) for t in b.type_ids() if b.kind_of(t) == 15}
    elf = obj._model.elf
    for name in (".bss", ".data", ".rodata", ".data.custom"):
        assert secs[name].size == elf.section_by_name(name).size
        offs = [v.offset for v in secs[name].vars]
        assert offs == sorted(offs)
    syms = {s.name: s.value for s in elf.symbols}
    bss_vars = {b.name_of(v.type): v.offset for v in secs[".bss"].vars}
    assert bss_vars["hits"] == syms["hits"] and bss_vars["seen_len"] == syms["seen_len"]
    linkage = {b.name_of(v.type): b.type_by_id(v.type).linkage for v in secs[".data"].vars}
    assert linkage["hidden_var"] == 0 and linkage["initial"] == 1
    k = secs[".kconfig"]
    assert k.size == 8 and all(b.type_by_id(v.type).linkage == 1 for v in k.vars)


def test_initial_global_data(compiled, rtask):
    obj = open_obj(rtask, compiled("globals"), rodata={"max_len": 7}, data={"initial": -5},
                   kconfig={"CONFIG_HZ": 250})
    obj.rodata.cfg = {"threshold": 9, "label": b"xyz"}
    obj.load()
    updates = {f["map_fd"]: f["value"] for c, f in rtask.calls if c == "BPF_MAP_UPDATE_ELEM"}
    ro = updates[obj.maps["globals.rodata"].fd]
    off = obj.rodata._vars["max_len"][0]
    assert struct.unpack_from("<i", ro, off)[0] == 7
    coff = obj.rodata._vars["cfg"][0]
    assert struct.unpack_from("<i8s", ro, coff) == (9, b"xyz\0\0\0\0\0")
    data = updates[obj.maps["globals.data"].fd]
    assert struct.unpack_from("<i", data, obj.data._vars["initial"][0])[0] == -5
    kc = updates[obj.maps["globals.kconfig"].fd]
    kv = obj.kconfig._vars
    assert struct.unpack_from("<i", kc, kv["LINUX_KERNEL_VERSION"][0])[0] == (6 << 16) + (18 << 8)
    assert struct.unpack_from("<i", kc, kv["CONFIG_HZ"][0])[0] == 250
    assert updates[obj.maps["globals.bss"].fd] == bytes(obj.maps["globals.bss"].value_size)


def test_kconfig_values():
    from syscall.object.externs import ExternDesc
    weak = ExternDesc("CONFIG_X", 0, 0, 0, "kcfg", True, "int", 4, 4, data_off=0)
    strong = ExternDesc("CONFIG_Y", 0, 0, 0, "kcfg", False, "bool", 1, 1, data_off=4)
    assert kconfig_data([weak], 4, "6.18", None) == bytes(4)
    with pytest.raises(BpfObjectError) as ei:
        kconfig_data([strong], 8, "6.18", None)
    assert ei.value.errno == errno.ESRCH and "value not found" in str(ei.value)
    assert kconfig_data([strong], 8, "5.5", {"CONFIG_Y": "y"})[4] == 1
    ver = ExternDesc("LINUX_KERNEL_VERSION", 0, 0, 0, "kcfg", False, "int", 4, 4)
    assert kconfig_data([ver], 4, "5.5", None) == struct.pack("<I", (5 << 16) + (5 << 8))


def test_btf_refused_loads_without_btf(compiled):
    task = RecordingTask(fail={"BPF_BTF_LOAD": -errno.EINVAL})
    obj = open_obj(task, compiled("maps_btf"), autocreate={"pinned": True})
    obj.load()
    assert task.names()[:2] == ["BPF_BTF_LOAD", "BPF_BTF_LOAD"]      # then with a log
    assert [f["log_level"] for c, f in task.calls if c == "BPF_BTF_LOAD"] == [0, 1]
    assert any("BTF is optional, ignoring" in w for w in obj.warnings)
    assert obj.btf_fd == -1
    assert all(f["btf_fd"] == 0 and f["btf_key_type_id"] == 0
               for c, f in task.calls if c == "BPF_MAP_CREATE")
    load = [f for c, f in task.calls if c == "BPF_PROG_LOAD"][0]
    assert load["prog_btf_fd"] == 0 and load["func_info_cnt"] == 0


def test_map_create_retried_without_btf(compiled):
    def refuse_btf(fields):
        return -errno.EINVAL if fields["btf_value_type_id"] else None
    task = RecordingTask(fail={"BPF_MAP_CREATE": refuse_btf})
    obj = open_obj(task, compiled("globals"))
    obj.load()
    creates = [f for c, f in task.calls if c == "BPF_MAP_CREATE"]
    assert len(creates) == 10 and [f["btf_value_type_id"] == 0 for f in creates] == [False, True] * 5
    assert any("Retrying without BTF" in w for w in obj.warnings)


def test_map_create_failure_closes_everything(compiled):
    def refuse(fields):
        return -errno.E2BIG if fields["map_name"] == "stats" else None
    task = RecordingTask(fail={"BPF_MAP_CREATE": refuse})
    obj = open_obj(task, compiled("maps_btf"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    assert ei.value.errno == errno.E2BIG and ei.value.map == "stats"
    assert "map 'stats': failed to create: E2BIG" in str(ei.value)
    assert task.open == set() and not obj.loaded


def test_verifier_rejection_and_log_growth(compiled):
    sizes = []

    def verifier(fields):
        if not fields["log_level"]:
            return "", -errno.EACCES
        sizes.append(fields)
        if len(sizes) == 1:
            return "0: (b7) r0 = 0\n" * 10, -errno.ENOSPC
        return "R0 !read_ok\nprocessed 1 insns\n", -errno.EACCES
    task = RecordingTask(verifier_log=verifier)
    obj = open_obj(task, compiled("minimal"))
    with pytest.raises(BpfObjectError) as ei:
        obj.load()
    e = ei.value
    assert e.errno == errno.EACCES and e.prog == "accept_all" and "R0 !read_ok" in e.log
    assert "BPF program load failed: EACCES" in str(e) and "R0 !read_ok" in str(e)
    assert len([c for c in task.names() if c == "BPF_PROG_LOAD"]) == 3
    assert task.open == set()


def test_eagain_is_retried(compiled):
    n = []

    def flaky(fields):
        n.append(1)
        return -errno.EAGAIN if len(n) < 3 else None
    task = RecordingTask(fail={"BPF_PROG_LOAD": flaky})
    open_obj(task, compiled("minimal")).load()
    assert task.names().count("BPF_PROG_LOAD") == 3


def test_sanitized_for_old_kernels(compiled, rtask):
    feats = {"btf", "btf_func", "btf_global_func", "btf_float", "btf_decl_tag", "btf_type_tag",
             "btf_enum64", "btf_qmark_datasec"}                         # no btf_datasec
    obj = open_obj(rtask, compiled("globals"), features=feats)
    obj.load()
    b = btflib.Btf.parse([f for c, f in rtask.calls if c == "BPF_BTF_LOAD"][0]["btf"])
    kinds = {b.kind_of(t) for t in b.type_ids()}
    assert 15 not in kinds and 14 not in kinds                    # no DATASEC, no VAR
    assert b.find_all_by_name_kind("_bss", btflib.BTF_KIND_STRUCT)
    assert obj.btf.find_all_by_name_kind(".bss", 15)             # the object's own is intact
    load = [f for c, f in rtask.calls if c == "BPF_PROG_LOAD"][0]
    assert load["func_info_cnt"] == 0                             # no btf_func_info feature


def test_load_twice_and_close(compiled, rtask):
    obj = open_obj(rtask, compiled("minimal"))
    obj.load()
    with pytest.raises(BpfObjectError):
        obj.load()
    assert rtask.open
    obj.close()
    obj.close()
    assert rtask.open == set() and obj.progs["accept_all"].fd == -1


@pytest.mark.realkernel
def test_real_kernel_accepts_our_object(compiled):
    """The same syscalls against Linux 6.18: BTF, maps with BTF ids, func/line info, CO-RE."""
    task = real_task_or_skip()
    obj = open_obj(task, compiled("tracing_real"))
    try:
        obj.load()
        assert all(p.fd > 0 for p in obj.progs.values())
        info = obj.maps["counts"].info()
        assert (info.btf_id != 0, info.btf_key_type_id, info.max_entries) == (
            True, obj.maps["counts"].btf_key_type_id, 64), obj.warnings
        assert obj.maps["tracing_.rodata"].info().map_flags == (
            BpfMapFlags.BPF_F_RDONLY_PROG | BpfMapFlags.BPF_F_MMAPABLE)
        # element access through the real syscalls
        obj.maps["counts"][7] = 3
        assert obj.maps["counts"][7] == 3 and 7 in obj.maps["counts"].keys()
        assert obj.rodata.scale == 3 and obj.bss.total == 0
        obj.bss.total = 11
        assert obj.bss.total == 11
        with pytest.raises(BpfObjectError) as ei:
            obj.rodata.scale = 4
        assert ei.value.errno == errno.EPERM
    finally:
        obj.close()
        task.close_all()


def test_into_the_simulated_kernel(compiled):
    kernel, task = sim_kernel_or_xfail()
    obj = task.load_object(compiled("globals"), rodata={"max_len": 50})
    try:
        assert obj.loaded and obj.progs["globals"].fd >= 0
        assert obj.rodata.max_len == 50 and obj.data.initial == 42
        ret = obj.progs["globals"].test_run(data=bytes(20))
        assert ret["retval"] == 1 and obj.bss.hits == 1
    finally:
        obj.close()


def test_pin_race_reuses_the_map_pinned_meanwhile(compiled):
    """bpf_object__create_maps: BPF_OBJ_PIN's EEXIST (someone pinned the same name since our
    BPF_OBJ_GET) closes the new map and reuses the pinned one, once, after the compatibility
    check. Another task pins a compatible map just before our pin reaches kernelsim."""
    from kernelsim import Kernel
    from kernelsim.uapi import BpfCmd, BpfMapType
    from syscall import libbpf as L
    kernel = Kernel()
    other = kernel.spawn(comm="other", uid=0)

    class Racing:
        def __init__(self, task):
            self.task, self.raced = task, None

        def bpf(self, cmd, attr, size):
            if cmd == BpfCmd.BPF_OBJ_PIN and self.raced is None:
                fd = L.map_create(other, BpfMapType.BPF_MAP_TYPE_HASH, "pinned", 4, 4, 4)
                L.obj_pin(other, fd, "/sys/fs/bpf/pinned")
                self.raced = L.obj_get_info_by_fd(other, fd, "map")["id"]
            return self.task.bpf(cmd, attr, size)

        def __getattr__(self, name):
            return getattr(self.task, name)

    task = Racing(kernel.spawn(comm="loader", uid=0))
    obj = open_obj(task, compiled("maps_btf"))
    try:
        obj.load()
        names = [c for c, _ in obj.syscalls]
        i = names.index("BPF_OBJ_PIN")
        assert obj.syscalls[i] == ("BPF_OBJ_PIN", -errno.EEXIST)
        assert names[i + 1:i + 3] == ["BPF_OBJ_GET", "BPF_OBJ_GET_INFO_BY_FD"]
        assert obj.maps["pinned"].info().id == task.raced and obj.maps["pinned"]._def.reused
    finally:
        obj.close()
