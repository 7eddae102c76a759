"""Loading an opened object through a task's bpf(), in libbpf's order
(tools/lib/bpf/libbpf.c bpf_object_prepare, bpf_object_load, bpf_object__relocate,
bpf_object__sanitize_and_load_btf, bpf_object__create_maps, bpf_object__create_map,
bpf_object__populate_internal_map, bpf_object__reuse_map, bpf_object__load_progs,
bpf_object_load_prog, libbpf_prepare_prog_load, libbpf_find_attach_btf_id, find_kernel_btf_id,
fixup_verifier_log, bpf_object_unload; tools/lib/bpf/btf.c btf_load_into_kernel).

The syscalls, in order (``ObjModel.syscalls`` records them):

1. **BPF_BTF_LOAD** of the object's .BTF (fixed up, hidden subprograms made static, sanitized for
   the kernel's features); first without a log, again with log_level 1 if it fails. A failure is
   not fatal (libbpf: "BTF is optional, ignoring"): maps and programs are then loaded without BTF.
2. per map, in order (BTF-defined maps, then .data/.rodata/.bss in section order, then .kconfig):
   BPF_OBJ_GET first for a ``LIBBPF_PIN_BY_NAME`` map (reuse); the inner map's MAP_CREATE for a
   map-in-map; **BPF_MAP_CREATE** with ``btf_fd``/``btf_key_type_id``/``btf_value_type_id``
   (retried without BTF if that fails, as libbpf does); for global data **BPF_MAP_UPDATE_ELEM**
   of key 0 with the section's initial bytes, and **BPF_MAP_FREEZE** for .rodata and .kconfig;
   BPF_OBJ_PIN for a pinned map; MAP_UPDATE_ELEM for ``.values`` initializers of map-in-maps.
3. per program, in (section, offset) order: **BPF_PROG_LOAD** with the license from
   SEC("license"), kern_version from SEC("version"), the program name, ``expected_attach_type``
   and ``attach_btf_id`` (the FUNC of ``fentry/<func>`` / ``fexit`` / ``fmod_ret`` / ``lsm``, the
   ``btf_trace_<tp>`` TYPEDEF of ``tp_btf/<tp>``, found in the kernel's BTF), ``prog_btf_fd``,
   func_info and line_info, BPF_F_SLEEPABLE for ``.s`` sections; without a log first, then again
   with log_level 1 and a 16 MiB buffer when it fails (bigger on ENOSPC); then
   **BPF_PROG_BIND_MAP** of each .rodata map; finally MAP_UPDATE_ELEM of prog-array slots.

CO-RE relocations and subprogram appending happen before step 1 (bpf_object__relocate), without
syscalls; map fds are patched into the instructions just before each PROG_LOAD. On any failure
every fd the object opened is closed (bpf_object_unload) and a BpfObjectError is raised naming
the map or program, with the verifier log for a rejected program.

libbpf also issues feature probes (small BTF and program loads) before all this; kernelsim claims
Linux 6.18, where every probe succeeds, so they are not issued and the full feature set is used.
"""

from __future__ import annotations

import errno
import re

from btf import BTF_KIND_FUNC, BTF_KIND_TYPEDEF
from kernelsim.isa.insn import encode_insns
from kernelsim.uapi import BpfAttachType as A
from kernelsim.uapi import BpfCmd, BpfMapFlags, BpfMapType, BpfProgFlags

from .. import libbpf as L
from .btf_fixup import btf_needs_sanitization, mark_funcs_static, sanitize_btf
from .core import format_spec
from .errors import LIBBPF_ERRNO__LOAD, BpfObjectError, errno_name
from .externs import kconfig_data
from .maps import LIBBPF_MAP_KCONFIG, LIBBPF_MAP_RODATA, MAP_IN_MAP, NO_BTF_TYPES
from .relo import (POISON_LDIMM64_MAP_BASE, RELO_CORE, mark_pseudo_funcs, relocate_calls,
                   relocate_core, relocate_data)
from .sections import SecFlags

BPF_LOG_BUF_SIZE = 0xFFFFFFFF >> 8
BTF_TRACE_PREFIX = "btf_trace_"
BTF_LSM_PREFIX = "bpf_lsm_"
BTF_ITER_PREFIX = "bpf_iter_"


class _Recorder:
    """The task, with every bpf() call recorded on the object (command name, result)."""

    def __init__(self, task, obj):
        self.task, self.obj = task, obj

    def bpf(self, cmd, attr=b"", size=None):
        ret = self.task.bpf(cmd, attr, size)
        self.obj.syscalls.append((BpfCmd(cmd).name, int(ret)))
        return ret

    def close(self, fd):
        return self.task.close(fd)


def _fail(err: int, message: str, **where) -> BpfObjectError:
    return BpfObjectError(-err if err < 0 else err, message, **where)


# -- prepare --------------------------------------------------------------------------------

def bpf_object_prepare(obj, task, *, target_btf=None, kconfig=None, profile: str = "6.18") -> None:
    """bpf_object_prepare: externs, relocations, BTF load, maps. ``target_btf`` is the BTF the
    CO-RE relocations and attach targets are resolved against (default: the task's kernel's)."""
    if obj.state != "opened":
        raise BpfObjectError(errno.EINVAL, f"object '{obj.name}': prepare loading can't be "
                             "attempted twice")
    obj.state = "failed"
    calls = _Recorder(task, obj)
    obj.target_btf = target_btf
    try:
        _check_programs(obj)
        if obj.kconfig_map_idx >= 0:
            m = obj.maps[obj.kconfig_map_idx]
            m.data[:] = kconfig_data(obj.externs, m.value_size, profile, kconfig)
        _relocate(obj)
        _sanitize_and_load_btf(obj, calls)
        _create_maps(obj, calls)
    except BaseException:
        bpf_object_unload(obj, task)
        raise
    obj.state = "prepared"


def _target_btf(obj):
    if obj.target_btf is None:
        raise BpfObjectError(errno.ESRCH, "the kernel has no BTF (vmlinux BTF is needed for "
                             "CO-RE relocations and BTF attach targets)")
    return obj.target_btf


def _check_programs(obj) -> None:
    for p in obj.progs:
        if p.is_subprog or not p.autoload:
            continue
        if p.sec_def is not None and p.sec_def.refuse:
            raise BpfObjectError(errno.EOPNOTSUPP, f"prog '{p.name}': SEC(\"{p.sec_name}\"): "
                                 f"{p.sec_def.refuse}", prog=p.name, section=p.sec_name)


def _relocate(obj) -> None:
    """bpf_object__relocate."""
    if obj.btf_ext is not None and obj.btf_ext.core_relo_info.secs:
        relocate_core(obj, _target_btf(obj))
    mark_pseudo_funcs(obj)
    for p in obj.progs:
        if p.is_subprog or not p.autoload:
            continue
        relocate_calls(obj, p)


def _sanitize_and_load_btf(obj, calls) -> None:
    if obj.raw_btf is None:
        return
    hidden = [p.name for p in obj.progs if p.is_subprog and p.mark_btf_static]
    mark_funcs_static(obj.raw_btf, hidden)
    kern = obj.raw_btf
    if btf_needs_sanitization(obj.features):
        kern = sanitize_btf(obj.raw_btf, obj.features)
    data = kern.to_bytes()
    obj.kernel_btf_bytes = data
    fd, _ = L.bpf_btf_load(calls, data)
    log = ""
    if fd < 0:
        size = BPF_LOG_BUF_SIZE
        while True:
            fd, log = L.bpf_btf_load(calls, data, 1, size)
            if fd != -errno.ENOSPC or size > 0xFFFFFFFF // 2:
                break
            size *= 2
    if fd < 0:
        obj.warnings.append(f"Error loading .BTF into kernel: {errno_name(-fd)}. BTF is optional, "
                            "ignoring." + (f"\n-- BEGIN BTF LOAD LOG ---\n{log}\n-- END BTF LOAD "
                                           "LOG --" if log else ""))
        obj.btf_load_log = log
        obj.btf_fd = -1
        return
    obj.btf_fd = fd


# -- maps ------------------------------------------------------------------------------------

def map_set_def_max_entries(m, task) -> None:
    """map_set_def_max_entries: a perf event array without max_entries gets one slot per
    possible CPU."""
    if m.map_type == BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY and not m.max_entries:
        m.max_entries = L.libbpf_num_possible_cpus(task)


def _create_maps(obj, calls) -> None:
    """bpf_object__create_maps."""
    for idx, m in enumerate(obj.maps):
        if not m.autocreate:
            continue
        map_set_def_max_entries(m, calls.task)
        retried = False
        while True:
            if m.pin_path:
                fd = L.bpf_obj_get(calls, m.pin_path)
                if fd >= 0:
                    _check_reuse(obj, calls, m, fd)
                    m.fd, m.reused = fd, True
                elif retried:
                    raise BpfObjectError(errno.ENOENT, f"map '{m.name}': cannot find pinned map",
                                         map=m.name)
            if m.reused:
                break
            m.fd = _create_map(obj, calls, m)
            if m.is_internal:
                _populate_internal_map(obj, calls, m)
            if m.init_slots and m.map_type in MAP_IN_MAP:
                _init_slots(obj, calls, m, "map")
            if not m.pin_path:
                break
            ret = L.bpf_obj_pin(calls, m.fd, m.pin_path)
            if ret == -errno.EEXIST and not retried:
                # pinned by someone else since our BPF_OBJ_GET: reuse theirs (libbpf retries)
                calls.close(m.fd)
                m.fd, retried = -1, True
                continue
            if ret < 0:
                raise _fail(ret, f"map '{m.name}': failed to auto-pin at '{m.pin_path}': "
                            f"{errno_name(-ret)}", map=m.name)
            break


def _check_reuse(obj, calls, m, fd: int) -> None:
    """bpf_object__reuse_map / map_is_reuse_compat."""
    ret, info = L.bpf_obj_get_info_by_fd(calls, fd, "map")
    if ret < 0:
        calls.close(fd)
        raise _fail(ret, f"map '{m.name}': can't get pinned map info: {errno_name(-ret)}",
                    map=m.name)
    flags = info.map_flags
    if m.map_type in (BpfMapType.BPF_MAP_TYPE_DEVMAP, BpfMapType.BPF_MAP_TYPE_DEVMAP_HASH):
        flags &= ~BpfMapFlags.BPF_F_RDONLY_PROG     # the kernel reports it for every devmap
    if (info.type != m.map_type or info.key_size != m.key_size or info.value_size != m.value_size
            or info.max_entries != m.max_entries or flags != m.map_flags
            or info.map_extra != m.map_extra):
        calls.close(fd)
        raise BpfObjectError(errno.EINVAL, f"map '{m.name}': couldn't reuse pinned map at "
                             f"'{m.pin_path}': parameter mismatch", map=m.name)


def _create_map(obj, calls, m, is_inner: bool = False) -> int:
    """bpf_object__create_map."""
    btf_fd = obj.btf_fd if obj.btf_fd >= 0 else 0
    key_id, value_id = m.btf_key_type_id, m.btf_value_type_id
    if not btf_fd:
        key_id = value_id = 0
    # libbpf passes the object's BTF fd to every map once the BTF is loaded, even without key
    # or value type ids (the kernel then ignores it), except to the types below
    if m.map_type in NO_BTF_TYPES:
        btf_fd = key_id = value_id = 0
        m.btf_key_type_id = m.btf_value_type_id = 0
    inner_fd = template_fd = 0
    if m.map_type in MAP_IN_MAP and m.inner is not None:
        map_set_def_max_entries(m.inner, calls.task)
        inner_fd = template_fd = _create_map(obj, calls, m.inner, True)
    elif m.map_type in MAP_IN_MAP and m.inner_map_fd >= 0:
        inner_fd = m.inner_map_fd                # the caller's (bpf_map__set_inner_map_fd)
    kw = dict(map_flags=m.map_flags, numa_node=m.numa_node, map_extra=m.map_extra,
              inner_map_fd=inner_fd)
    opts = L.MapCreateOpts(btf_fd=btf_fd, btf_key_type_id=key_id,
                           btf_value_type_id=value_id, **kw)
    fd = L.bpf_map_create(calls, int(m.map_type), m.name, m.key_size, m.value_size,
                          m.max_entries, opts)
    if fd < 0 and (key_id or value_id):
        obj.warnings.append(f"Error in bpf_create_map_xattr({m.name}): {errno_name(-fd)}. "
                            "Retrying without BTF.")
        m.btf_key_type_id = m.btf_value_type_id = 0
        fd = L.bpf_map_create(calls, int(m.map_type), m.name, m.key_size, m.value_size,
                              m.max_entries, L.MapCreateOpts(**kw))
    if template_fd > 0:
        calls.close(template_fd)
    if fd < 0:
        what = "inner map" if is_inner else "map"
        raise _fail(fd, f"{what} '{m.name}': failed to create: {errno_name(-fd)}", map=m.name)
    return fd


def _populate_internal_map(obj, calls, m) -> None:
    """bpf_object__populate_internal_map: the initial contents, then freeze .rodata/.kconfig."""
    ret = L.bpf_map_update_elem(calls, m.fd, b"\0\0\0\0", bytes(m.data), 0)
    if ret < 0:
        raise _fail(ret, f"map '{m.name}': failed to set initial contents: {errno_name(-ret)}",
                    map=m.name)
    if m.libbpf_type in (LIBBPF_MAP_RODATA, LIBBPF_MAP_KCONFIG):
        ret = L.bpf_map_freeze(calls, m.fd)
        if ret < 0:
            raise _fail(ret, f"map '{m.name}': failed to freeze as read-only: {errno_name(-ret)}",
                        map=m.name)


def _init_slots(obj, calls, m, kind: str) -> None:
    """init_map_in_map_slots / init_prog_array_slots: slot by slot in index order, the fd of
    the map or program the ``.values`` initializer named (resolved at open)."""
    for slot, (what, name) in sorted(m.init_slots.items()):
        if what == "map":
            target = next((x for x in obj.maps if x.name == name), None)
        else:
            target = next((p for p in obj.progs if p.name == name and not p.is_subprog), None)
        fd = target.fd if target is not None else -1     # not created/loaded: -1, EBADF
        ret = L.bpf_map_update_elem(calls, m.fd, slot.to_bytes(4, "little"),
                                    fd.to_bytes(4, "little", signed=True), 0)
        if ret < 0:
            raise _fail(ret, f"map '{m.name}': failed to initialize slot [{slot}] to {kind} "
                        f"'{name}' fd={fd}: {errno_name(-ret)}", map=m.name, symbol=name)


# -- programs -------------------------------------------------------------------------------

def bpf_object_load(obj, task, *, log_level: int = 0, log_size: int = 0) -> None:
    """bpf_object__load_progs (after prepare) + prog-array slots. ``log_level`` (1, 2, ...)
    requests the verifier log even on success (``prog.log``)."""
    if obj.state != "prepared":
        raise BpfObjectError(errno.EINVAL, f"object '{obj.name}': load can't be attempted twice")
    calls = _Recorder(task, obj)
    obj.state = "failed"
    try:
        for p in obj.progs:
            if p.is_subprog or not p.autoload:
                continue
            _load_prog(obj, calls, p, log_level | p.log_level, log_size)
        for m in obj.maps:
            if m.init_slots and m.map_type == BpfMapType.BPF_MAP_TYPE_PROG_ARRAY and m.fd >= 0:
                _init_slots(obj, calls, m, "prog")
    except BaseException:
        bpf_object_unload(obj, task)
        raise
    obj.state = "loaded"


def find_attach_btf_id(kernel_btf, name: str, attach_type: int) -> int:
    """find_kernel_btf_id on the kernel's BTF (``vmlinux:func`` accepted; there are no modules):
    the BTF id, or -ESRCH / -ENOENT."""
    if ":" in name:
        mod, _, fn = name.partition(":")
        if mod != "vmlinux":
            return -errno.ESRCH
        name = fn
    if attach_type == A.BPF_TRACE_RAW_TP:
        prefix, kind = BTF_TRACE_PREFIX, BTF_KIND_TYPEDEF
    elif attach_type in (A.BPF_LSM_MAC, A.BPF_LSM_CGROUP):
        prefix, kind = BTF_LSM_PREFIX, BTF_KIND_FUNC
    elif attach_type == A.BPF_TRACE_ITER:
        prefix, kind = BTF_ITER_PREFIX, BTF_KIND_FUNC
    else:
        prefix, kind = "", BTF_KIND_FUNC
    full = prefix + name
    if len(full) >= 128:                         # BTF_MAX_NAME_SIZE
        return -errno.ENAMETOOLONG
    ids = kernel_btf.find_all_by_name_kind(full, kind)
    return ids[0] if ids else -errno.ESRCH


def _prepare_prog_load(obj, p) -> None:
    """libbpf_prepare_prog_load."""
    flags = p.sec_def.flags if p.sec_def else SecFlags.SEC_NONE
    if flags & SecFlags.SEC_SLEEPABLE:
        p.prog_flags |= BpfProgFlags.BPF_F_SLEEPABLE
    if p.prog_type == 6 and flags & SecFlags.SEC_XDP_FRAGS:     # BPF_PROG_TYPE_XDP
        p.prog_flags |= BpfProgFlags.BPF_F_XDP_HAS_FRAGS
    if flags & SecFlags.SEC_ATTACH_BTF and not p.attach_btf_id:
        target = p.attach_target or _sec_target(p.sec_name)
        if not target:
            raise BpfObjectError(errno.EINVAL, f"prog '{p.name}': no BTF-based attach target is "
                                 "specified, use bpf_program__set_attach_target()", prog=p.name,
                                 section=p.sec_name)
        tid = find_attach_btf_id(_target_btf(obj), target, p.expected_attach_type)
        if tid < 0:
            raise BpfObjectError(-tid, f"prog '{p.name}': failed to find kernel BTF type ID of "
                                 f"'{target}': -{errno_name(-tid)}", prog=p.name,
                                 section=p.sec_name, symbol=target)
        p.attach_btf_id = tid


def _sec_target(sec_name: str) -> str | None:
    _, sep, rest = sec_name.partition("/")
    return rest if sep and rest else None


def _load_prog(obj, calls, p, log_level: int, log_size: int) -> None:
    """bpf_object_load_prog."""
    where = dict(prog=p.name, section=p.sec_name)
    if p.prog_type == 0:
        raise BpfObjectError(errno.EINVAL, f"prog '{p.name}': missing BPF prog type, check ELF "
                             f"section name '{p.sec_name}'", **where)
    relocate_data(obj, p)
    _prepare_prog_load(obj, p)
    insns = encode_insns(p.insns)
    kw = dict(expected_attach_type=p.expected_attach_type, prog_flags=int(p.prog_flags),
              kern_version=obj.kern_version, attach_btf_id=p.attach_btf_id,
              attach_btf_obj_fd=p.attach_btf_obj_fd, attach_prog_fd=p.attach_prog_fd)
    if obj.btf_fd >= 0 and "btf_func_info" in obj.features:
        kw.update(prog_btf_fd=obj.btf_fd)
        if p.func_info:
            kw.update(func_info=b"".join(p.func_info), func_info_rec_size=p.func_info_rec_size)
        if p.line_info:
            kw.update(line_info=b"".join(p.line_info), line_info_rec_size=p.line_info_rec_size)
    size = log_size or BPF_LOG_BUF_SIZE
    level = log_level
    log = ""
    while True:
        fd, log, _ = L.bpf_prog_load(calls, p.prog_type, insns, obj.license or "", p.name,
                                     L.ProgLoadOpts(log_level=level, log_size=size if level else 0,
                                                    **kw))
        if fd >= 0:
            break
        if level == 0:
            level = 1
            continue
        if fd == -errno.ENOSPC and not log_size and size <= 0xFFFFFFFF // 2:
            size *= 2
            continue
        break
    if fd < 0:
        log = fixup_verifier_log(obj, p, log)
        p.log = log
        raise BpfObjectError(-fd, f"prog '{p.name}': BPF program load failed: {errno_name(-fd)}",
                             log=log or None, libbpf_errno=LIBBPF_ERRNO__LOAD, **where)
    p.fd = fd
    p.log = log if level else ""
    if obj.has_rodata:
        for m in obj.maps:
            if m.libbpf_type == LIBBPF_MAP_RODATA and m.fd >= 0:
                if L.bpf_prog_bind_map(calls, fd, m.fd) < 0:
                    obj.warnings.append(f"prog '{p.name}': failed to bind map '{m.real_name}'")


_CORE_POISON = re.compile(r"^(\d+): \(\d+\) call unknown#195896080\n"
                          r"invalid func unknown#195896080\n?", re.M)
_MAP_POISON = re.compile(r"^(\d+): \(\d+\) call unknown#(2001\d{6})\n"
                         r"invalid func unknown#\2\n?", re.M)


def fixup_verifier_log(obj, p, log: str) -> str:
    """libbpf fixup_verifier_log: explain poisoned CO-RE relocations and map references."""
    if not log:
        return log

    def core(mo):
        idx = int(mo.group(1))
        for r in p.relos:
            if r.type == RELO_CORE and r.insn_idx == idx:
                return (f"{idx}: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation "
                        f"{format_spec(r.core[1].local_spec)}\n")
        return mo.group(0)

    def map_ref(mo):
        idx, map_idx = int(mo.group(1)), int(mo.group(2)) - POISON_LDIMM64_MAP_BASE
        if not 0 <= map_idx < len(obj.maps):
            return mo.group(0)
        return (f"{idx}: <invalid BPF map reference>\nBPF map '{obj.maps[map_idx].name}' is "
                "referenced but wasn't created\n")

    return _MAP_POISON.sub(map_ref, _CORE_POISON.sub(core, log))


def bpf_object_unload(obj, task) -> None:
    """bpf_object_unload: close every fd the object holds (programs, maps, BTF)."""
    for p in obj.progs:
        if p.fd >= 0:
            task.close(p.fd)
            p.fd = -1
    for m in obj.maps:
        if m.fd >= 0:
            task.close(m.fd)
            m.fd = -1
    if obj.btf_fd >= 0:
        task.close(obj.btf_fd)
        obj.btf_fd = -1

