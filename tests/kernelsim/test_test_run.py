"""BPF_PROG_TEST_RUN for socket filters and raw tracepoints: the errnos and write-backs of
net/bpf/test_run.c, each case also checked against Linux 6.18.44."""

import errno
import pathlib
import struct
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))

from helper_support import FakeUser, make_kernel  # noqa: E402

from kernelsim import bpf_run as br  # noqa: E402
from kernelsim.bpf_prog import BpfProg  # noqa: E402
from kernelsim.errors import BpfError  # noqa: E402
from kernelsim.isa.asm import assemble  # noqa: E402
from kernelsim.prog_types import PROG_TYPES  # noqa: E402
from kernelsim.test_run import TestRunAttr  # noqa: E402
from kernelsim.uapi import BpfProgType as PT  # noqa: E402

PKT = bytes(range(64))


def prog_of(kernel, text, prog_type, max_ctx_offset=0):
    prog = BpfProg(kernel, prog_type, 0, insns=assemble(text))
    prog.aux.max_ctx_offset = max_ctx_offset
    return br.bpf_prog_select_runtime(prog)


def run(prog, user, **kw):
    return PROG_TYPES[prog.type].prog.test_run(prog, TestRunAttr(**kw), user)


@pytest.fixture
def env():
    kernel, task = make_kernel()
    return kernel, FakeUser()


def errno_of(fn):
    with pytest.raises(BpfError) as e:
        fn()
    return e.value.errno


def test_skb_len_data_out_and_ctx_out(env):
    kernel, user = env
    p = prog_of(kernel, "r0 = *(u32 *)(r1 +0)\nexit", PT.BPF_PROG_TYPE_SOCKET_FILTER)
    din, dout, cout = user.put(PKT), user.alloc(128), user.alloc(192)
    cin = user.put(bytes(192))
    res = run(p, user, data_in=din, data_size_in=64, data_out=dout, ctx_in=cin, ctx_size_in=192,
              ctx_out=cout, ctx_size_out=192)
    assert (res.retval, res.data_size_out, res.ctx_size_out, res.errno) == (50, 64, 192, 0)
    assert user.copy_from_user(dout, 64) == bytes(14) + PKT[14:]
    ctx = user.copy_from_user(cout, 192)
    assert struct.unpack_from("<I", ctx, 40)[0] == 1 and struct.unpack_from("<I", ctx, 160)[0] == 50
    assert res.duration == 2 * kernel.clock.insn_cost_ns


def test_skb_program_sees_protocol_cb_and_writes_cb(env):
    kernel, user = env
    p = prog_of(kernel, """
        r2 = *(u32 *)(r1 +16)
        r3 = *(u32 *)(r1 +48)
        r3 += 1
        *(u32 *)(r1 +48) = r3
        r0 = r2
        exit""", PT.BPF_PROG_TYPE_SOCKET_FILTER)
    frame = bytes(12) + b"\x08\x00" + bytes(50)
    cin = user.put(bytes(48) + struct.pack("<I", 41) + bytes(140))
    cout = user.alloc(192)
    res = run(p, user, data_in=user.put(frame), data_size_in=64, ctx_in=cin, ctx_size_in=192,
              ctx_out=cout, ctx_size_out=192, repeat=3)
    assert res.retval == 0x0008                            # htons(ETH_P_IP) as the CPU reads it
    assert struct.unpack_from("<I", user.copy_from_user(cout, 192), 48)[0] == 42    # cb reset per run
    assert res.duration == 6 * kernel.clock.insn_cost_ns


def test_skb_errnos(env):
    kernel, user = env
    p = prog_of(kernel, "r0 = 0\nexit", PT.BPF_PROG_TYPE_SOCKET_FILTER)
    din = user.put(bytes(3713))
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=13)) == errno.EINVAL
    assert run(p, user, data_in=din, data_size_in=14).data_size_out == 14
    assert run(p, user, data_in=din, data_size_in=3712).errno == 0
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=3713)) == errno.EINVAL
    for kw in ({"flags": 1}, {"cpu": 1}, {"batch_size": 1}):
        assert errno_of(lambda: run(p, user, data_in=din, data_size_in=64, **kw)) == errno.EINVAL
    bad_len = user.put(struct.pack("<I", 5) + bytes(188))
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=64, ctx_in=bad_len,
                                ctx_size_in=192)) == errno.EINVAL
    big = user.put(bytes(192) + b"\1")
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=64, ctx_in=big,
                                ctx_size_in=193)) == errno.E2BIG
    assert run(p, user, data_in=din, data_size_in=64, ctx_in=user.put(bytes(200)),
               ctx_size_in=200).errno == 0
    assert run(p, user, data_in=din, data_size_in=64, ctx_in=user.put(bytes(8)), ctx_size_in=8).errno == 0
    ifidx = user.put(bytes(40) + struct.pack("<I", 7) + bytes(148))
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=64, ctx_in=ifidx,
                                ctx_size_in=192)) == errno.ENODEV
    wire = user.put(bytes(160) + struct.pack("<I", 10) + bytes(28))
    assert errno_of(lambda: run(p, user, data_in=din, data_size_in=64, ctx_in=wire,
                                ctx_size_in=192)) == errno.EINVAL
    assert errno_of(lambda: run(p, user, data_in=0x999, data_size_in=64)) == errno.EFAULT


def test_skb_enospc_still_writes_back(env):
    kernel, user = env
    p = prog_of(kernel, "r0 = 9\nexit", PT.BPF_PROG_TYPE_SOCKET_FILTER)
    din, dout = user.put(PKT), user.alloc(10)
    res = run(p, user, data_in=din, data_size_in=64, data_out=dout, data_size_out=10)
    assert (res.errno, res.retval, res.data_size_out, res.ctx_size_out) == (errno.ENOSPC, 9, 64, None)
    cin, cout = user.put(bytes(192)), user.alloc(16)
    res = run(p, user, data_in=din, data_size_in=64, ctx_in=cin, ctx_size_in=192, ctx_out=cout,
              ctx_size_out=16)
    assert (res.errno, res.retval, res.ctx_size_out) == (errno.ENOSPC, 9, 192)


def test_raw_tp_test_run(env):
    kernel, user = env
    p = prog_of(kernel, "r0 = *(u64 *)(r1 +8)\nexit", PT.BPF_PROG_TYPE_RAW_TRACEPOINT, 16)
    args = user.put(struct.pack("<QQ", 1, 0x1234567890))
    res = run(p, user, ctx_in=args, ctx_size_in=16)
    assert res.retval == 0x34567890 and res.duration is None and res.data_size_out is None
    short = user.put(bytes(8))
    assert errno_of(lambda: run(p, user, ctx_in=short, ctx_size_in=8)) == errno.EINVAL
    assert run(p, user, ctx_in=args, ctx_size_in=16, flags=2).retval == 0x34567890   # unknown flags ok
    assert errno_of(lambda: run(p, user, ctx_in=args, ctx_size_in=16, cpu=1)) == errno.EINVAL
    assert errno_of(lambda: run(p, user, ctx_in=args, ctx_size_in=16, flags=1, cpu=999)) == errno.ENXIO
    for kw in ({"repeat": 1}, {"data_in": 5}, {"data_out": 5}, {"ctx_out": 5}, {"duration": 1},
               {"batch_size": 1}):
        assert errno_of(lambda: run(p, user, ctx_in=args, ctx_size_in=16, **kw)) == errno.EINVAL
    assert run(p, user, ctx_in=args, ctx_size_in=16, data_size_in=4, data_size_out=4).retval
    big = user.put(bytes(104))
    assert errno_of(lambda: run(p, user, ctx_in=big, ctx_size_in=104)) == errno.EINVAL
    assert run(p, user, ctx_in=big, ctx_size_in=96).retval == 0


def test_raw_tp_on_cpu_runs_there(env):
    kernel, user = env
    p = prog_of(kernel, "call bpf_get_smp_processor_id\nexit", PT.BPF_PROG_TYPE_RAW_TRACEPOINT)
    assert run(p, user, flags=1, cpu=1).retval == 1
    assert run(p, user).retval == 0
    kernel.sysctl["kernel.bpf_stats_enabled"] = 1
    run(p, user)
    assert p.stats.cnt == 1                       # bpf_prog_run counts test runs too


def test_types_without_test_run():
    assert PROG_TYPES[PT.BPF_PROG_TYPE_KPROBE].prog.test_run is None
    assert PROG_TYPES[PT.BPF_PROG_TYPE_TRACEPOINT].prog.test_run is None
    assert PROG_TYPES[PT.BPF_PROG_TYPE_PERF_EVENT].prog.test_run is None
