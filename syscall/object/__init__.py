"""syscall.object: loading BPF ELF objects the way libbpf does, every step through a task's bpf()
(tools/lib/bpf/libbpf.c, relo_core.c, btf.c). See docs/objects.md.

Front door:

- ``bpf_object_open(task, path_or_bytes, **opts) -> BpfObject`` (opened, not loaded: set
  ``obj.rodata.x``, ``prog.autoload``, then ``obj.load()``); a ``.c`` path is compiled first.
- ``bpf_object_open_and_load(task, path_or_bytes, **opts) -> BpfObject`` (what
  ``Task.load_object`` calls).
- ``BpfObject``, ``Program``, ``Map``, ``GlobalData``, ``Link``; ``BpfObjectError``.
- ``compile_bpf(source, ...)``, ``vmlinux_h(btf)``, ``find_clang()``.

Options: ``name`` (object name), ``rodata`` / ``data`` / ``bss`` (dicts of initial variable
values), ``kconfig`` (CONFIG_* values for .kconfig externs), ``pin_root_path``, ``target_btf``
(the BTF CO-RE relocations resolve against instead of the kernel's: a path, bytes or btf.Btf),
``log_level`` / ``log_size`` (verifier log on success too), ``autoload`` ({prog: bool}),
``attach_targets`` ({prog: func}), ``cflags`` / ``include_dirs`` / ``cache_dir`` (compiling a
source), ``features`` (libbpf feature names, for sanitization tests).
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

from .attach import Link
from .compile import compile_bpf, find_clang, object_name_for, vmlinux_h
from .errors import BpfObjectError
from .object import BpfObject, GlobalData, Map, Program

__all__ = ["bpf_object_open", "bpf_object_open_and_load", "BpfObject", "Program", "Map",
           "GlobalData", "Link", "BpfObjectError", "compile_bpf", "vmlinux_h", "find_clang"]

_OPEN_OPTS = {"name", "pin_root_path", "features"}
_COMPILE_OPTS = {"cflags", "include_dirs", "cache_dir", "clang", "vmlinux_btf"}
_LOAD_OPTS = {"rodata", "data", "bss", "kconfig", "target_btf", "log_level", "log_size",
              "autoload", "attach_targets", "autocreate", "max_entries"}


def _read_object(task, path, opts):
    """(bytes, path string, object name) for a path, a .c source or raw bytes."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        return bytes(path), "<buffer>", opts.get("name") or "buffer"
    p = Path(os.fspath(path))
    name = opts.get("name")
    if p.suffix == ".c":
        kernel = getattr(task, "kernel", None)
        btf = opts.get("vmlinux_btf")
        if btf is None and kernel is not None:
            btf = kernel.btf
        obj_path = compile_bpf(p, cflags=opts.get("cflags", ()), btf=btf,
                               arch=getattr(kernel, "arch", "x86_64"),
                               cache=opts.get("cache_dir"), clang=opts.get("clang"),
                               include_dirs=opts.get("include_dirs", ()))
        from .maps import object_name
        return obj_path.read_bytes(), str(p), name or object_name(object_name_for(p))
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BpfObjectError(e.errno or errno.ENOENT, f"failed to open {p}: {e.strerror}") from e
    return data, str(p), name


def bpf_object_open(task, path, **opts) -> BpfObject:
    """bpf_object__open_file: parse the object; nothing is loaded yet."""
    unknown = set(opts) - _OPEN_OPTS - _COMPILE_OPTS - _LOAD_OPTS
    if unknown:
        raise TypeError(f"unknown load_object option(s): {', '.join(sorted(unknown))}")
    from .open import bpf_object_open as _open
    data, where, name = _read_object(task, path, opts)
    try:
        model = _open(data, where, name=name, pin_root_path=opts.get("pin_root_path"),
                      features=opts.get("features"))
    except BpfObjectError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, OverflowError, AttributeError,
            RecursionError, UnicodeDecodeError, MemoryError, struct.error) as e:
        # Anything a corrupted object still manages to provoke below: never a bare traceback.
        raise BpfObjectError(errno.EINVAL, f"failed to open {where}: corrupted object "
                             f"({type(e).__name__}: {e})") from e
    except Exception as e:
        from btf import BtfError
        if isinstance(e, BtfError):
            raise BpfObjectError(e.errno or errno.EINVAL, f"failed to open {where}: {e}") from e
        raise
    obj = BpfObject(task, model, opts=opts)
    _apply_opts(obj, opts)
    return obj


def _apply_opts(obj: BpfObject, opts: dict) -> None:
    for sec in ("rodata", "data", "bss"):
        values = opts.get(sec)
        if values:
            gd = getattr(obj, sec)
            if gd is None:
                raise BpfObjectError(errno.ENOENT, f"object '{obj.name}' has no .{sec} section "
                                     f"(for {sorted(values)})")
            for k, v in values.items():
                setattr(gd, k, v)
    for prog, on in (opts.get("autoload") or {}).items():
        obj.progs[prog].autoload = on
    for prog, target in (opts.get("attach_targets") or {}).items():
        obj.progs[prog].set_attach_target(target)
    for m, on in (opts.get("autocreate") or {}).items():
        obj.maps[m].autocreate = on
    for m, n in (opts.get("max_entries") or {}).items():
        obj.maps[m].resize(n)


def bpf_object_open_and_load(task, path, **opts) -> BpfObject:
    """Open and load (the facade's ``Task.load_object``)."""
    obj = bpf_object_open(task, path, **opts)
    try:
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj
