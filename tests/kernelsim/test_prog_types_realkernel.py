"""The per-type helper lists against the machine's real kernel: load ``call N; r0 = 0; exit``
for every helper id and program type, keep the ids whose verifier log does not say "program of
this type cannot use helper", and compare with kernelsim's get_func_proto. The host's kernel
configuration (kprobe override, lockdown of probe_write_user) is read off the real answers."""

import ctypes
import pathlib
import struct
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))

from helper_support import make_kernel, make_prog  # noqa: E402

from kernelsim.cred import Cred  # noqa: E402
from kernelsim.prog_types import get_func_proto  # noqa: E402
from kernelsim.uapi import BpfAttachType as AT, BpfProgType as PT  # noqa: E402

realkernel = pytest.importorskip("tests.realkernel")
pytestmark = [pytest.mark.realkernel,
              pytest.mark.skipif(not realkernel.realkernel_available(), reason="no usable bpf()")]

CAPS_ALL = {realkernel.CAP_BPF, realkernel.CAP_PERFMON, realkernel.CAP_SYS_ADMIN,
            realkernel.CAP_NET_ADMIN}


def _btf_id(name, kind):
    from btf.btf import Btf
    try:
        data = pathlib.Path("/sys/kernel/btf/vmlinux").read_bytes()
        return Btf.parse(data).find_by_name_kind(name, kind)
    except Exception:
        return None


def _probe(types):
    """In the child: {name: accepted ids} (None if the type does not load at all)."""
    log = ctypes.create_string_buffer(1 << 16)
    lic = ctypes.create_string_buffer(b"GPL")
    out = {}
    for name, (ptype, eat, btf_id) in types.items():
        accepted = []
        for n in range(1, 212):
            code = struct.pack("<BBhI", 0x85, 0, 0, n) + bytes.fromhex("b700000000000000" "9500000000000000")
            ib = ctypes.create_string_buffer(code)
            attr = bytearray(128)
            struct.pack_into("<IIQQIIQ", attr, 0, ptype, 3, ctypes.addressof(ib), ctypes.addressof(lic),
                             1, len(log), ctypes.addressof(log))
            struct.pack_into("<I", attr, 68, eat)
            struct.pack_into("<I", attr, 108, btf_id)
            log[0] = b"\0"
            ret, err, _ = realkernel.real_bpf(5, bytes(attr))
            text = log.value.decode(errors="replace")
            if ret < 0 and not text:
                accepted = None
                break
            if "cannot use helper" not in text and "unknown func" not in text:
                accepted.append(n)
        out[name] = accepted
    return out


def test_helper_lists_match_the_real_kernel():
    types = {"socket_filter": (PT.BPF_PROG_TYPE_SOCKET_FILTER, 0, 0), "kprobe": (PT.BPF_PROG_TYPE_KPROBE, 0, 0),
             "tracepoint": (PT.BPF_PROG_TYPE_TRACEPOINT, 0, 0), "perf_event": (PT.BPF_PROG_TYPE_PERF_EVENT, 0, 0),
             "raw_tp": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0),
             "raw_tp_w": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, 0)}
    tp = _btf_id("btf_trace_sched_switch", 8)
    it = _btf_id("bpf_iter_task", 12)
    if tp:
        types["tp_btf"] = (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP, tp)
    if it:
        types["iter"] = (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER, it)
    real = realkernel.run_as(0, 0, CAPS_ALL, lambda: _probe(types))
    real_bpf_only = realkernel.run_as(0, 0, {realkernel.CAP_BPF},
                                      lambda: _probe({"socket_filter": types["socket_filter"]}))
    kernel, _ = make_kernel()
    kernel.subsys["kconfig"] = {"CONFIG_BPF_KPROBE_OVERRIDE": 58 in real["kprobe"],
                                "CONFIG_SECURITY_LOCKDOWN_WRITE_USER": 36 not in real["kprobe"]}

    def sim(name, cred):
        ptype, eat, _ = types[name]
        prog = make_prog(kernel, ptype, eat, cred=cred)
        return [n for n in range(1, 212) if get_func_proto(n, prog) is not None]

    for name, ids in real.items():
        if ids is not None:
            assert sim(name, Cred.make(0)) == ids, name
    assert sim("socket_filter", Cred.make(1000, caps={"CAP_BPF"})) == real_bpf_only["socket_filter"]
