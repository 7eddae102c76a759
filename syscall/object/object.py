"""The loaded object as Python sees it: ``BpfObject`` with ``progs``, ``maps``, ``bss`` /
``data`` / ``rodata`` variables, ring and perf buffers, trace_pipe, links (our API; it follows
libbpf's bpf_object / bpf_program / bpf_map / bpf_link and the skeleton's global-data access).

    obj = task.load_object("count.bpf.o")              # open + load (or a .bpf.c: compiled)
    link = obj.progs["on_read"].attach()
    kernel.call("vfs_read", ...)
    obj.maps["counts"][pid]           # -> 3 (decoded through the map's BTF key/value types)
    obj.bss.hits                      # a global variable, read with BPF_MAP_LOOKUP_ELEM
    link.detach(); obj.close()

    obj = task.open_object("count.bpf.o")              # two phases, as libbpf:
    obj.rodata.target_pid = 42                         # .rodata is writable until load
    obj.progs["on_write"].autoload = False
    obj.load()

Every kernel interaction is a syscall of ``obj.task`` (map reads and writes are
BPF_MAP_LOOKUP_ELEM / UPDATE_ELEM / DELETE_ELEM / GET_NEXT_KEY); nothing reaches into the
simulated kernel's objects directly, so the same code runs against the real kernel.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping

from kernelsim.uapi import BpfMapType, BpfUpdateFlags

from . import attach as attach_mod
from .. import libbpf as L
from .errors import BpfObjectError, errno_name
from .loader import bpf_object_load, bpf_object_prepare, bpf_object_unload
from .maps import (LIBBPF_MAP_KCONFIG, LIBBPF_MAP_RODATA, MAP_IN_MAP, RINGBUFS,
                   adjust_ringbuf_sz)
from .values import BtfCodec, RawCodec, codec_for

PERCPU_TYPES = frozenset({BpfMapType.BPF_MAP_TYPE_PERCPU_HASH, BpfMapType.BPF_MAP_TYPE_PERCPU_ARRAY,
                          BpfMapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
                          BpfMapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE})
FD_VALUE_TYPES = frozenset({BpfMapType.BPF_MAP_TYPE_PROG_ARRAY,
                            BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
                            BpfMapType.BPF_MAP_TYPE_CGROUP_ARRAY,
                            BpfMapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
                            BpfMapType.BPF_MAP_TYPE_HASH_OF_MAPS})
NO_KEY_TYPES = frozenset({BpfMapType.BPF_MAP_TYPE_QUEUE, BpfMapType.BPF_MAP_TYPE_STACK})


def _corruption_errors():
    import struct as _struct
    from btf import BtfError
    return (BtfError, _struct.error, ValueError, KeyError, IndexError, TypeError, OverflowError,
            AttributeError, RecursionError, MemoryError, UnicodeDecodeError)


_CORRUPTION = _corruption_errors()


def _round8(x: int) -> int:
    return (x + 7) // 8 * 8


class Program:
    """struct bpf_program: one entry program of the object."""

    def __init__(self, obj: "BpfObject", pdef):
        self.obj = obj
        self._def = pdef

    name = property(lambda self: self._def.name)
    section = property(lambda self: self._def.sec_name)
    prog_type = property(lambda self: self._def.prog_type)
    expected_attach_type = property(lambda self: self._def.expected_attach_type)
    fd = property(lambda self: self._def.fd)
    log = property(lambda self: self._def.log)
    attach_btf_id = property(lambda self: self._def.attach_btf_id)

    @property
    def insns(self) -> list:
        """The instructions as loaded (after relocation), as kernelsim.isa BpfInsn records."""
        return list(self._def.insns)

    @property
    def func_info(self) -> list[tuple[int, int]]:
        """(insn_off, type_id) of each func_info record sent to the kernel."""
        return [(int.from_bytes(r[:4], "little"), int.from_bytes(r[4:8], "little"))
                for r in self._def.func_info]

    @property
    def line_info(self) -> list[tuple[int, int, int, int]]:
        """(insn_off, file_name_off, line_off, line_col) of each line_info record."""
        return [tuple(int.from_bytes(r[i:i + 4], "little") for i in (0, 4, 8, 12))
                for r in self._def.line_info]

    @property
    def autoload(self) -> bool:
        return self._def.autoload

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self.obj._before_load("autoload")
        self._def.autoload = bool(value)

    @property
    def attach_target(self) -> str | None:
        return self._def.attach_target

    def set_attach_target(self, name: str) -> None:
        """bpf_program__set_attach_target (before load): the BTF attach target's name."""
        self.obj._before_load("set_attach_target")
        self._def.attach_target = name

    @property
    def sleepable(self) -> bool:
        return bool(self._def.prog_flags & 16)

    def attach(self, **opts) -> attach_mod.Link:
        """bpf_program__attach: see syscall/object/attach.py for what each SEC does."""
        return attach_mod.attach_program(self, **opts)

    def test_run(self, *, ctx: bytes = b"", data: bytes = b"", data_size_out: int = 0,
                 ctx_size_out: int = 0, repeat: int = 0, flags: int = 0, cpu: int = 0):
        """BPF_PROG_TEST_RUN: a dict with retval, data_out, ctx_out, duration."""
        ret, out = L.bpf_prog_test_run(self.obj.task, self.fd, L.TestRunOpts(
            data_in=data, data_size_out=data_size_out, ctx_in=ctx, ctx_size_out=ctx_size_out,
            repeat=repeat, flags=flags, cpu=cpu))
        if ret < 0:
            raise BpfObjectError(-ret, f"prog '{self.name}': test run failed: {errno_name(-ret)}",
                                 prog=self.name, section=self.section)
        return {"retval": int(out.retval), "data_out": out.data_out, "ctx_out": out.ctx_out,
                "duration": int(out.duration)}

    def info(self):
        """BPF_OBJ_GET_INFO_BY_FD: a ``struct bpf_prog_info`` cdata."""
        ret, info = L.bpf_obj_get_info_by_fd(self.obj.task, self.fd, "prog")
        if ret < 0:
            raise BpfObjectError(-ret, f"prog '{self.name}': get info failed: {errno_name(-ret)}",
                                 prog=self.name)
        return info

    def __repr__(self):
        return f"<Program {self.name!r} SEC({self.section!r}) fd={self.fd}>"


class Map:
    """struct bpf_map, and a mapping over its elements through the bpf() element commands."""

    def __init__(self, obj: "BpfObject", mdef):
        self.obj = obj
        self._def = mdef
        btf = obj._model.btf
        ks, vs = mdef.key_size, mdef.value_size
        self.key_codec = codec_for(btf, mdef.btf_key_type_id, ks) if ks else None
        self.value_codec = codec_for(btf, mdef.btf_value_type_id, vs)
        if mdef.map_type in FD_VALUE_TYPES:
            self.value_codec = RawCodec(4)
        if self.key_codec is None and ks:
            self.key_codec = RawCodec(ks)

    name = property(lambda self: self._def.name)
    real_name = property(lambda self: self._def.real_name)
    type = property(lambda self: self._def.map_type)
    key_size = property(lambda self: self._def.key_size)
    value_size = property(lambda self: self._def.value_size)
    max_entries = property(lambda self: self._def.max_entries)
    map_flags = property(lambda self: self._def.map_flags)
    fd = property(lambda self: self._def.fd)
    btf_key_type_id = property(lambda self: self._def.btf_key_type_id)
    btf_value_type_id = property(lambda self: self._def.btf_value_type_id)
    pin_path = property(lambda self: self._def.pin_path)

    @property
    def autocreate(self) -> bool:
        return self._def.autocreate

    @autocreate.setter
    def autocreate(self, value: bool) -> None:
        self.obj._before_load("autocreate")
        self._def.autocreate = bool(value)

    def set_inner_map_fd(self, fd: int) -> None:
        """bpf_map__set_inner_map_fd (before load): the template map of a map-in-map given by
        the caller's fd (it stays the caller's to close) instead of the ``__array(values, ...)``
        definition, which is dropped. EINVAL for another map type or a second call."""
        self.obj._before_load("set_inner_map_fd")
        if self._def.map_type not in MAP_IN_MAP:
            raise BpfObjectError(errno.EINVAL, f"map '{self.name}': unsupported map type",
                                 map=self.name)
        if self._def.inner_map_fd != -1:
            raise BpfObjectError(errno.EINVAL, f"map '{self.name}': inner_map_fd already "
                                 "specified", map=self.name)
        self._def.inner, self._def.inner_map_fd = None, int(fd)

    def resize(self, max_entries: int) -> None:
        """bpf_map__set_max_entries (before load; EBUSY after). A ring buffer's size is
        rounded up to a power-of-2 number of pages, as for its definition."""
        self.obj._before_load("set_max_entries")
        self._def.max_entries = int(max_entries)
        if self._def.map_type in RINGBUFS:
            self._def.max_entries = adjust_ringbuf_sz(self._def.max_entries)

    @property
    def percpu(self) -> bool:
        return self._def.map_type in PERCPU_TYPES

    @property
    def ncpus(self) -> int:
        k = self.obj.task.kernel
        return int(getattr(k, "ncpus", None) or os.cpu_count() or 1)

    # -- raw bytes ----------------------------------------------------------------------------

    def _key(self, key) -> bytes | None:
        if self._def.map_type in NO_KEY_TYPES or not self.key_size:
            return None
        if isinstance(key, (bytes, bytearray, memoryview)) and len(key) == self.key_size:
            return bytes(key)
        return self.key_codec.encode(key)

    def _value(self, value) -> bytes:
        if self.percpu:
            slot = _round8(self.value_size)
            raw_ok = isinstance(value, (bytes, bytearray, memoryview))
            if raw_ok and len(value) == slot * self.ncpus:
                return bytes(value)
            if not isinstance(value, (list, tuple)):
                value = [value] * self.ncpus
            if len(value) != self.ncpus:
                raise ValueError(f"map '{self.name}': per-CPU value needs {self.ncpus} entries")
            return b"".join(self.value_codec.encode(v).ljust(slot, b"\0") for v in value)
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == self.value_size:
            return bytes(value)
        if self._def.map_type in FD_VALUE_TYPES:
            fd = value.fd if hasattr(value, "fd") else int(value)
            return fd.to_bytes(4, "little")
        return self.value_codec.encode(value)

    def _vsize(self) -> int:
        return _round8(self.value_size) * self.ncpus if self.percpu else self.value_size

    def _decode_value(self, raw: bytes):
        if self.percpu:
            slot = _round8(self.value_size)
            return [self.value_codec.decode(raw[i * slot: i * slot + self.value_size])
                    for i in range(self.ncpus)]
        return self.value_codec.decode(raw)

    def _fail(self, ret: int, what: str) -> BpfObjectError:
        return BpfObjectError(-ret, f"map '{self.name}': {what}: {errno_name(-ret)}", map=self.name)

    def _need_fd(self):
        if self.fd < 0:
            raise BpfObjectError(errno.EINVAL, f"map '{self.name}' is not created (load the "
                                 "object first)", map=self.name)

    # -- element operations ---------------------------------------------------------------------

    def lookup(self, key, flags: int = 0, raw: bool = False):
        """BPF_MAP_LOOKUP_ELEM: the decoded value, or None when absent (ENOENT)."""
        self._need_fd()
        ret, data = L.bpf_map_lookup_elem(self.obj.task, self.fd, self._key(key), self._vsize(),
                                          flags)
        if ret == -errno.ENOENT:
            return None
        if ret < 0:
            raise self._fail(ret, "lookup failed")
        return data if raw else self._decode_value(data)

    def update(self, key, value, flags: int = BpfUpdateFlags.BPF_ANY) -> None:
        """BPF_MAP_UPDATE_ELEM (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK)."""
        self._need_fd()
        ret = L.bpf_map_update_elem(self.obj.task, self.fd, self._key(key), self._value(value),
                                    int(flags))
        if ret < 0:
            raise self._fail(ret, "update failed")

    def delete(self, key) -> None:
        """BPF_MAP_DELETE_ELEM. KeyError when absent."""
        self._need_fd()
        ret = L.bpf_map_delete_elem(self.obj.task, self.fd, self._key(key))
        if ret == -errno.ENOENT:
            raise KeyError(key)
        if ret < 0:
            raise self._fail(ret, "delete failed")

    def lookup_and_delete(self, key=None):
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM (also pop for queues and stacks); None when empty."""
        self._need_fd()
        ret, data = L.bpf_map_lookup_and_delete_elem(self.obj.task, self.fd, self._key(key),
                                                     self._vsize())
        if ret == -errno.ENOENT:
            return None
        if ret < 0:
            raise self._fail(ret, "lookup_and_delete failed")
        return self._decode_value(data)

    pop = lookup_and_delete

    def peek(self, value=None):
        """A queue/stack peek (the head, or None when empty); for a bloom filter, whether
        ``value`` may be in it (BPF_MAP_LOOKUP_ELEM with a NULL key and the value as input)."""
        self._need_fd()
        if self._def.map_type == BpfMapType.BPF_MAP_TYPE_BLOOM_FILTER:
            attr_value = self._value(value)
            ret, _ = L.bpf_map_lookup_elem(self.obj.task, self.fd, None, len(attr_value),
                                           value=attr_value)
            if ret == -errno.ENOENT:
                return False
            if ret < 0:
                raise self._fail(ret, "lookup failed")
            return True
        return self.lookup(None)

    def push(self, value, flags: int = 0) -> None:
        """A queue/stack push (BPF_MAP_UPDATE_ELEM with a NULL key)."""
        self.update(None, value, flags)

    def keys_raw(self):
        """BPF_MAP_GET_NEXT_KEY from NULL until ENOENT: the raw keys."""
        self._need_fd()
        key = None
        seen = 0
        limit = max(self.max_entries, 1) * 2 + 16
        while True:
            ret, nxt = L.bpf_map_get_next_key(self.obj.task, self.fd, key, self.key_size)
            if ret == -errno.ENOENT:
                return
            if ret < 0:
                raise self._fail(ret, "get_next_key failed")
            yield nxt
            key = nxt
            seen += 1
            if seen > limit:            # a kernel bug would otherwise loop forever
                raise BpfObjectError(errno.ELOOP, f"map '{self.name}': get_next_key does not end",
                                     map=self.name)

    def keys(self):
        return [self.key_codec.decode(k) for k in self.keys_raw()]

    def items(self):
        out = []
        for k in self.keys_raw():
            v = self.lookup(k)
            if v is not None:
                out.append((self.key_codec.decode(k), v))
        return out

    def values(self):
        return [v for _, v in self.items()]

    def __getitem__(self, key):
        v = self.lookup(key)
        if v is None:
            raise KeyError(key)
        return v

    def __setitem__(self, key, value):
        self.update(key, value)

    def __delitem__(self, key):
        self.delete(key)

    def get(self, key, default=None):
        v = self.lookup(key)
        return default if v is None else v

    def __contains__(self, key) -> bool:
        return self.lookup(key) is not None

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self.keys_raw())

    def clear(self) -> None:
        for k in list(self.keys_raw()):
            self.delete(k)

    def info(self):
        ret, info = L.bpf_obj_get_info_by_fd(self.obj.task, self.fd, "map")
        if ret < 0:
            raise self._fail(ret, "get info failed")
        return info

    def freeze(self) -> None:
        ret = L.bpf_map_freeze(self.obj.task, self.fd)
        if ret < 0:
            raise self._fail(ret, "freeze failed")

    def pin(self, path: str) -> None:
        ret = L.bpf_obj_pin(self.obj.task, self.fd, path)
        if ret < 0:
            raise self._fail(ret, f"pin at '{path}' failed")

    def __repr__(self):
        try:
            kind = BpfMapType(self.type).name
        except ValueError:
            kind = str(self.type)
        return f"<Map {self.name!r} type={kind} fd={self.fd}>"


class GlobalData:
    """The variables of one global-data section (.bss, .data, .rodata, .data.<x> ...) by name.

    Before load, reads and writes go to the initial image (what MAP_UPDATE_ELEM will write);
    after load they are BPF_MAP_LOOKUP_ELEM / read-modify-write BPF_MAP_UPDATE_ELEM of the
    whole value. .rodata and .kconfig are frozen at load: writing them afterwards raises EPERM
    (libbpf maps them read-only)."""

    def __init__(self, obj: "BpfObject", mdef):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_map", mdef)
        variables = {}
        btf = obj._model.btf
        if btf is not None and mdef.btf_value_type_id:
            sec = btf.type_by_id(mdef.btf_value_type_id)
            for vi in getattr(sec, "vars", ()):
                var = btf.type_by_id(vi.type)
                variables[var.name] = (vi.offset, vi.size, BtfCodec(btf, var.type, vi.size))
        object.__setattr__(self, "_vars", variables)

    @property
    def section(self) -> str:
        return self._map.real_name

    def names(self) -> list[str]:
        return list(self._vars)

    def _image(self) -> bytes:
        m = self._map
        if m.fd < 0:
            return bytes(m.data)
        ret, data = L.bpf_map_lookup_elem(self._obj.task, m.fd, b"\0\0\0\0", m.value_size)
        if ret < 0:
            raise BpfObjectError(-ret, f"map '{m.name}': lookup failed: {errno_name(-ret)}",
                                 map=m.name)
        return data

    @property
    def raw(self) -> bytes:
        """The whole section's bytes."""
        return self._image()

    def _var(self, name):
        try:
            return self._vars[name]
        except KeyError:
            raise AttributeError(f"no variable {name!r} in {self.section} (has: "
                                 f"{', '.join(self._vars) or 'none'})") from None

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        off, size, codec = self._var(name)
        return codec.decode(self._image()[off: off + size])

    def __setattr__(self, name, value):
        off, size, codec = self._var(name)
        data = codec.encode(value)
        m = self._map
        if m.fd < 0:
            if self._obj.loaded:
                raise BpfObjectError(errno.EINVAL, f"map '{m.name}' was not created", map=m.name)
            m.data[off: off + size] = data
            return
        if m.libbpf_type in (LIBBPF_MAP_RODATA, LIBBPF_MAP_KCONFIG):
            raise BpfObjectError(errno.EPERM, f"'{m.real_name}' is read-only after load (the map "
                                 f"'{m.name}' is frozen); set '{name}' before load()", map=m.name)
        image = bytearray(self._image())
        image[off: off + size] = data
        ret = L.bpf_map_update_elem(self._obj.task, m.fd, b"\0\0\0\0", bytes(image), 0)
        if ret < 0:
            raise BpfObjectError(-ret, f"map '{m.name}': update failed: {errno_name(-ret)}",
                                 map=m.name)

    __getitem__ = __getattr__
    __setitem__ = __setattr__

    def to_dict(self) -> dict:
        image = self._image()
        return {n: c.decode(image[o: o + s]) for n, (o, s, c) in self._vars.items()}

    def __repr__(self):
        return f"<GlobalData {self.section} {self.names()}>"


class _Names(Mapping):
    """A read-only name -> item mapping (maps are also found by their section name)."""

    def __init__(self, items: dict, aliases: dict | None = None):
        self._items = items
        self._aliases = aliases or {}

    def __getitem__(self, key):
        if key in self._items:
            return self._items[key]
        if key in self._aliases:
            return self._items[self._aliases[key]]
        raise KeyError(f"{key!r} (have: {', '.join(self._items)})")

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items or key in self._aliases


class BpfObject:
    """A BPF object opened (and usually loaded) into a task: libbpf's struct bpf_object."""

    def __init__(self, task, model, *, opts: dict | None = None):
        self.task = task
        self._model = model
        self._opts = dict(opts or {})
        self._links: list = []
        self._buffers: list = []
        self.progs = _Names({p.name: Program(self, p) for p in model.progs if not p.is_subprog})
        maps = {m.name: Map(self, m) for m in model.maps}
        self.maps = _Names(maps, {m.real_name: m.name for m in model.maps if m.is_internal})
        self._globals = {m.real_name: GlobalData(self, m) for m in model.maps if m.is_internal}

    # -- identity ------------------------------------------------------------------------------

    name = property(lambda self: self._model.name)
    path = property(lambda self: self._model.path)
    license = property(lambda self: self._model.license)
    kern_version = property(lambda self: self._model.kern_version)
    btf_fd = property(lambda self: self._model.btf_fd)
    warnings = property(lambda self: list(self._model.warnings))
    syscalls = property(lambda self: list(self._model.syscalls))
    state = property(lambda self: self._model.state)

    @property
    def loaded(self) -> bool:
        return self._model.state == "loaded"

    @property
    def btf(self):
        """The object's BTF (after libbpf's fix-ups), a btf.Btf."""
        return self._model.btf

    def _before_load(self, what: str) -> None:
        if self._model.state != "opened":
            raise BpfObjectError(errno.EBUSY, f"object '{self.name}': {what} is only possible "
                                 "before load")

    # -- global data -------------------------------------------------------------------------

    def global_data(self, section: str) -> GlobalData:
        """The variables of a global-data section by its ELF name (".data.custom")."""
        try:
            return self._globals[section]
        except KeyError:
            raise KeyError(f"no global data section {section!r} (have: "
                           f"{', '.join(self._globals) or 'none'})") from None

    bss = property(lambda self: self._globals.get(".bss"))
    data = property(lambda self: self._globals.get(".data"))
    rodata = property(lambda self: self._globals.get(".rodata"))
    kconfig = property(lambda self: self._globals.get(".kconfig"))

    # -- load ----------------------------------------------------------------------------------

    def load(self, *, log_level: int | None = None, log_size: int = 0) -> "BpfObject":
        """bpf_object__load: prepare (relocate, BTF_LOAD, MAP_CREATE ...) then PROG_LOAD each
        program. Raises BpfObjectError; everything opened is closed again on failure."""
        opts = self._opts
        kernel = getattr(self.task, "kernel", None)
        target = opts.get("target_btf")
        if target is not None and not hasattr(target, "type_by_id"):
            from kernelsim.kernel_btf import load_kernel_btf
            try:
                target = load_kernel_btf(target)
            except ValueError as e:
                raise BpfObjectError(errno.EINVAL, f"target BTF: {e}") from e
        if target is None and kernel is not None:
            try:
                target = kernel.btf
            except (ValueError, OSError) as e:
                raise BpfObjectError(errno.ESRCH, f"kernel BTF unavailable: {e}") from e
        profile = getattr(kernel, "profile", "6.18") or "6.18"
        level = opts.get("log_level", 0) if log_level is None else log_level
        try:
            bpf_object_prepare(self._model, self.task, target_btf=target,
                               kconfig=opts.get("kconfig"), profile=profile)
            bpf_object_load(self._model, self.task, log_level=level,
                            log_size=log_size or opts.get("log_size", 0))
        except BpfObjectError:
            raise
        except _CORRUPTION as e:
            # what a corrupted object still provokes below (bad BTF ids, sizes): never a bare
            # traceback; the loader has already closed what it opened
            raise BpfObjectError(getattr(e, "errno", None) or errno.EINVAL,
                                 f"object '{self.name}': failed to load: corrupted object "
                                 f"({type(e).__name__}: {e})") from e
        return self

    # -- attach ---------------------------------------------------------------------------------

    def _track(self, link):
        self._links.append(link)
        return link

    @property
    def links(self) -> list:
        return [lnk for lnk in self._links if lnk.attached]

    def attach(self) -> list:
        """The skeleton's attach: every loaded program whose section can be auto-attached."""
        links = []
        for p in self.progs.values():
            d = p._def
            if p.fd < 0 or d.sec_def is None or d.sec_def.attach is None:
                continue
            if d.sec_def.attach in ("trace", "lsm", "kprobe_multi") or attach_mod._target(p):
                links.append(p.attach())
        return links

    # -- consumers --------------------------------------------------------------------------

    def ringbuf(self, map_name: str, callback, type: str | None = None):
        """A ring buffer consumer over a BPF_MAP_TYPE_RINGBUF map (ring_buffer__new);
        ``type`` ("struct event") decodes each record through the object's BTF."""
        from .ringbuf import RingBuffer
        rb = RingBuffer(self, self.maps[map_name], callback, type)
        self._buffers.append(rb)
        return rb

    def perf_buffer(self, map_name: str, callback, lost_callback=None, page_cnt: int = 8):
        """A perf buffer consumer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (perf_buffer__new)."""
        from .perfbuf import PerfBuffer
        pb = PerfBuffer(self, self.maps[map_name], callback, lost_callback, page_cnt)
        self._buffers.append(pb)
        return pb

    def trace_pipe(self):
        """A reader of the kernel's trace_pipe (bpf_printk output)."""
        from .tracepipe import TracePipe
        return TracePipe(self.task)

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """bpf_object__close (+ the skeleton's destroy): detach the links made through this
        object, free buffers, close every program, map and BTF fd. Idempotent."""
        for b in self._buffers:
            try:
                b.close()
            except Exception:               # pragma: no cover - best effort at teardown
                pass
        self._buffers.clear()
        for lnk in self._links:
            lnk.detach()
        self._links.clear()
        bpf_object_unload(self._model, self.task)
        if self._model.state in ("loaded", "prepared", "opened"):
            self._model.state = "closed"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<BpfObject {self.name!r} {self._model.state} progs={list(self.progs)} "
                f"maps={list(self.maps)}>")

