"""Helpers for the tracepoint, kprobe and perf tests (not tests): programs loaded, maps created and
attachments made through the task's real syscalls (task.bpf, task.perf_event_open, task.ioctl),
with the raw (-errno) bpf() wrappers of syscall/libbpf.py.

``Tracer(kernel=None, arch="x86_64")`` makes a machine and a root task current on CPU 0 and
offers: ``load(prog_type, asm_text, **opts) -> fd`` (assembled with kernelsim.isa.asm; raises
with the verifier log on failure), ``array(n)`` / ``hash(...)`` maps, ``u64(map_fd, key)``,
``raw_tp(name, fd, cookie)``, ``tp_btf(name, asm_text)``, ``tp_event(path)`` (a tracepoint perf
event fd), ``kprobe_event(func, retprobe=False)``, ``link(prog_fd, target_fd, attach_type,
...)``, ``prog_info(fd)``, ``link_info(fd)``, ``compile(c_source, arch)``.

Asm snippets shared by the tests: ``count_prog(m, key, ret)`` (map[key] += 1),
``store_stack(m, val_off, key)`` (map[key] = a stack u64), ``store_r6(m, key, ret)`` (map[key] =
r6), ``store_loads(m, loads, ret)`` (ctx fields into map[0..]). The ``T`` fixture (a fresh Tracer) is in conftest.py.
"""

from __future__ import annotations

import ctypes
import struct

from kernelsim import Kernel
from kernelsim.isa.asm import assemble
from kernelsim.isa.insn import encode_insns
from kernelsim.uapi import (PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, PERF_PMU_TYPE_KPROBE,
                            BpfAttachType as AT, BpfProgType as PT)
from syscall import abi, libbpf as L
from syscall.perf_abi import ffi as perf_ffi, new_perf_event_attr

KPROBE, TRACEPOINT, RAW_TP, TRACING = (PT.BPF_PROG_TYPE_KPROBE, PT.BPF_PROG_TYPE_TRACEPOINT,
                                       PT.BPF_PROG_TYPE_RAW_TRACEPOINT, PT.BPF_PROG_TYPE_TRACING)
ARRAY, HASH, PERF_EVENT_ARRAY, STACK_TRACE = 2, 1, 4, 7


def count_prog(m, key: int = 0, ret: int = 0) -> str:
    """Asm: map[key] += 1 (atomic), then return ``ret``."""
    return (f"r1 = map_fd({m})\n*(u32 *)(r10 -4) = {key}\nr2 = r10\nr2 += -4\n"
            f"call bpf_map_lookup_elem\nif r0 == 0 goto out\nr1 = 1\n"
            f"lock *(u64 *)(r0 +0) += r1\nout:\nr0 = {ret}\nexit\n")


def store_stack(m, val_off: int, key: int | None = 0, key_off: int = 4, label: str = "out") -> str:
    """Asm: map[key] = the u64 at r10 - ``val_off`` (``key`` is first stored at r10 - ``key_off``;
    None: the key is there already); a missing element jumps to ``label``, which ends the
    snippet."""
    lines = [f"r1 = map_fd({m})"]
    if key is not None:
        lines.append(f"*(u32 *)(r10 -{key_off}) = {key}")
    lines += ["r2 = r10", f"r2 += -{key_off}", "call bpf_map_lookup_elem", f"if r0 == 0 goto {label}",
              f"r1 = *(u64 *)(r10 -{val_off})", "*(u64 *)(r0 +0) = r1", f"{label}:"]
    return "\n".join(lines) + "\n"


def store_r6(m, key: int = 0, ret: int = 0) -> str:
    """Asm tail: map[key] = r6 (callee-saved: it survives the lookup), then return ``ret``."""
    return (f"r1 = map_fd({m})\n*(u32 *)(r10 -4) = {key}\nr2 = r10\nr2 += -4\n"
            f"call bpf_map_lookup_elem\nif r0 == 0 goto out\n*(u64 *)(r0 +0) = r6\nout:\n"
            f"r0 = {ret}\nexit\n")


def store_loads(m, loads, ret: int = 0) -> str:
    """Asm: each (size, ctx offset) of ``loads`` is read from the ctx (unrolled: the verifier
    wants constant ctx offsets) and stored at map[i]; then return ``ret``."""
    lines = ["r9 = r1"]
    for i, (size, off) in enumerate(loads):
        lines += [f"r6 = *({size} *)(r9 +{off})", f"*(u64 *)(r10 -{8 * (i + 2)}) = r6"]
    text = "\n".join(lines) + "\n"
    for i in range(len(loads)):
        text += store_stack(m, 8 * (i + 2), key=i, label=f"l{i}")
    return text + f"r0 = {ret}\nexit\n"


class Tracer:
    def __init__(self, kernel=None, arch: str = "x86_64", ncpus: int = 2, **kw):
        self.kernel = kernel or Kernel(arch=arch, ncpus=ncpus, **kw)
        self.task = self.kernel.spawn(comm="tracer", cpu=0)
        self._keep = []

    # -- programs and maps ------------------------------------------------------------------

    def load(self, prog_type: int, text, eat: int = 0, attach_btf_id: int = 0, name: str = "p",
             license: str = "GPL", expect_fail: bool = False):
        if isinstance(text, str):
            text = assemble(text)
        insns = bytes(text) if isinstance(text, (bytes, bytearray)) else encode_insns(text)
        fd, log, _ = L.bpf_prog_load(self.task, int(prog_type), insns, license, name,
                                     L.ProgLoadOpts(expected_attach_type=int(eat),
                                                    attach_btf_id=attach_btf_id,
                                                    log_level=1, log_size=1 << 16))
        if expect_fail:
            return fd, log
        assert fd >= 0, f"PROG_LOAD failed: {fd}\n{log}"
        return fd

    def prog(self, fd: int):
        return self.task.files.get(fd).obj

    def map(self, map_type: int, key_size: int, value_size: int, max_entries: int) -> int:
        fd = L.bpf_map_create(self.task, map_type, "m", key_size, value_size, max_entries)
        assert fd >= 0, fd
        return fd

    def array(self, n: int = 8, value_size: int = 8) -> int:
        return self.map(ARRAY, 4, value_size, n)

    def u64(self, map_fd: int, key: int = 0, key_size: int = 4) -> int:
        ret, val = L.bpf_map_lookup_elem(self.task, map_fd, key.to_bytes(key_size, "little"), 8)
        assert ret == 0, ret
        return struct.unpack("<Q", val[:8])[0]

    def lookup(self, map_fd: int, key: bytes, value_size: int):
        return L.bpf_map_lookup_elem(self.task, map_fd, key, value_size)

    # -- attachments ------------------------------------------------------------------------

    def raw_tp(self, name, prog_fd: int, cookie: int = 0) -> int:
        return L.bpf_raw_tracepoint_open(self.task, name, prog_fd, cookie)

    def btf_id(self, name: str, kind: str = "typedef") -> int:
        from btf.uapi import BtfKind
        k = {"typedef": BtfKind.BTF_KIND_TYPEDEF, "func": BtfKind.BTF_KIND_FUNC}[kind]
        return self.kernel.btf.find_by_name_kind(name, k)

    def tp_btf(self, tp: str, text: str, **kw) -> int:
        return self.load(TRACING, text, eat=AT.BPF_TRACE_RAW_TP,
                         attach_btf_id=self.btf_id(f"btf_trace_{tp}"), **kw)

    def link(self, prog_fd: int, target_fd: int, attach_type: int, *, flags: int = 0,
             target_btf_id: int = 0, cookie: int = 0, perf_cookie: int = 0, kprobe_syms=None,
             kprobe_addrs=None, kprobe_cookies=None, kprobe_flags: int = 0) -> int:
        opts = L.LinkCreateOpts(flags=flags, target_btf_id=target_btf_id,
                                cookie=perf_cookie or cookie, kprobe_multi_flags=kprobe_flags,
                                kprobe_multi_syms=kprobe_syms, kprobe_multi_addrs=kprobe_addrs,
                                kprobe_multi_cookies=kprobe_cookies)
        return L.bpf_link_create(self.task, prog_fd, target_fd, int(attach_type), opts)

    def perf_open(self, attr, pid: int = -1, cpu: int = 0, group_fd: int = -1, flags: int = 8):
        return self.task.perf_event_open(attr, pid, cpu, group_fd, flags)

    def tp_event(self, path: str, cpu: int = 0, **attr_fields) -> int:
        tid = int(self.kernel.tracefs.read(f"events/{path}/id"))
        attr = new_perf_event_attr(type=2, config=tid, **attr_fields)
        fd = self.perf_open(attr, cpu=cpu)
        assert fd >= 0, fd
        return fd

    def kprobe_attr(self, func: str | None, retprobe: bool = False, offset: int = 0, addr: int = 0):
        name = ctypes.create_string_buffer(func.encode()) if func else None
        self._keep.append(name)
        attr = new_perf_event_attr(type=PERF_PMU_TYPE_KPROBE, config=1 if retprobe else 0)
        attr.config1 = ctypes.addressof(name) if name is not None else 0
        attr.config2 = offset if func else addr
        return attr

    def kprobe_event(self, func: str, retprobe: bool = False, **kw) -> int:
        fd = self.perf_open(self.kprobe_attr(func, retprobe), **kw)
        assert fd >= 0, fd
        return fd

    def set_bpf(self, event_fd: int, prog_fd: int) -> int:
        return self.task.ioctl(event_fd, PERF_EVENT_IOC_SET_BPF, prog_fd)

    def enable(self, event_fd: int) -> int:
        return self.task.ioctl(event_fd, PERF_EVENT_IOC_ENABLE, 0)

    def attach_perf(self, prog_fd: int, event_fd: int, cookie: int = 0) -> int:
        return self.link(prog_fd, event_fd, AT.BPF_PERF_EVENT, perf_cookie=cookie)

    # -- info -------------------------------------------------------------------------------

    def prog_info(self, fd: int):
        return L.bpf_obj_get_info_by_fd(self.task, fd, "prog")

    def link_info_raw(self, fd: int, fill=None):
        """OBJ_GET_INFO_BY_FD on a link with a prepared struct bpf_link_info (``fill(info)``
        sets its input fields): (ret, info)."""
        info = abi.ffi.new("struct bpf_link_info *")
        if fill is not None:
            fill(info)
        return L.bpf_obj_get_info_by_fd(self.task, fd, "link", info=info)


def perf_attr_bytes(**fields) -> bytes:
    return bytes(perf_ffi.buffer(new_perf_event_attr(**fields)))
