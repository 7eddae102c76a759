"""BPF_PROG_TEST_RUN for socket filters and raw tracepoints (net/bpf/test_run.c
bpf_prog_test_run_skb, bpf_test_init, bpf_ctx_init, convert___skb_to_skb, bpf_test_run,
bpf_test_finish, bpf_ctx_finish, bpf_prog_test_run_raw_tp).

Called from the syscall's PROG_TEST_RUN through the prog type's ``test_run`` slot
(prog_types.py) after the generic checks (CHECK_ATTR, ctx_in/ctx_size_in both set or both zero,
ENOTSUPP for types without the slot). ``kattr`` is the decoded ``test`` part of union bpf_attr
plus the caller (``TestRunAttr``); ``user`` copies from and to the caller's memory
(maps/map.py ``UserAccess``: both raise BpfError(EFAULT)). Errors found before anything is
written back raise ``BpfError``; otherwise a ``TestRunResult`` says which fields of uattr the
syscall writes back (None: not written) and what it returns (0 or -ENOSPC: the kernel writes the
sizes, retval and duration and still fails).

Checked against Linux 6.18.44: a socket filter sees ``len`` = data_size_in - 14 (the Ethernet
header is pulled), data_out starts with 14 zero bytes, data_size_in must be 14..3712 on x86-64,
ctx_out gets ifindex 1 (loopback) and wire_len = len; raw_tp ignores unknown flags, refuses
repeat/data/ctx_out/duration/batch_size, needs ctx_size_in >= max_ctx_offset and <= 96, and a
bad BPF_F_TEST_RUN_ON_CPU cpu gives ENXIO.
"""

import errno
import struct
from dataclasses import dataclass

from .errors import BpfError
from .skbuff import (ETH_HLEN, SK_BUFF_CTX_SIZE, eth_type_trans, off, offend, skb_ctx_bytes,
                     skb_ctx_refresh, skb_ctx_region, skb_ctx_sync)
from .uapi import BpfTestRunFlags

NET_SKB_PAD = 64                  # max(32, L1_CACHE_BYTES)
SKB_SHARED_INFO_ALIGNED = 320     # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64
MAX_SKB_TEST_DATA = 4096 - NET_SKB_PAD - SKB_SHARED_INFO_ALIGNED     # 3712
GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535
MAX_BPF_FUNC_ARGS = 12


@dataclass
class TestRunAttr:
    """The ``test`` member of union bpf_attr (BPF_PROG_TEST_RUN), plus the calling task."""

    __test__ = False                  # not a pytest test class

    retval: int = 0
    data_size_in: int = 0
    data_size_out: int = 0
    data_in: int = 0                  # user addresses (0: NULL)
    data_out: int = 0
    repeat: int = 0
    duration: int = 0
    ctx_size_in: int = 0
    ctx_size_out: int = 0
    ctx_in: int = 0
    ctx_out: int = 0
    flags: int = 0
    cpu: int = 0
    batch_size: int = 0
    task: object = None               # current: the caller (None: the CPU's current task)


@dataclass
class TestRunResult:
    """What goes back to uattr.test (None: left alone) and the syscall's return value."""

    __test__ = False

    retval: int | None = None
    duration: int | None = None
    data_size_out: int | None = None
    ctx_size_out: int | None = None
    errno: int = 0                    # 0, or ENOSPC (returned after the write-back)


def bpf_check_uarg_tail_zero(data: bytes, expected: int) -> None:
    """E2BIG: bytes past ``expected`` that are not zero."""
    if len(data) > expected and any(data[expected:]):
        raise BpfError(errno.E2BIG, "non-zero bytes past the end of the kernel's struct")


def bpf_ctx_init(kattr: TestRunAttr, user, max_size: int) -> bytearray | None:
    if not kattr.ctx_in and not kattr.ctx_out:
        return None
    data = bytearray(max_size)
    if kattr.ctx_in:
        raw = user.copy_from_user(kattr.ctx_in, kattr.ctx_size_in)
        bpf_check_uarg_tail_zero(raw, max_size)
        n = min(max_size, kattr.ctx_size_in)
        data[:n] = raw[:n]
    return data


def _range_is_zero(buf, start: int, end: int) -> bool:
    return not any(buf[start:end])


def convert___skb_to_skb(skb, ctx) -> None:
    """EINVAL: a field test_run does not take is set, wire_len < len or too big, gso_segs too big."""
    if ctx is None:
        return
    for lo, hi in ((0, off("mark")), (offend("mark"), off("priority")),
                   (offend("ifindex"), off("cb")), (offend("cb"), off("tstamp")),
                   (offend("gso_segs"), off("gso_size")), (offend("gso_size"), off("hwtstamp")),
                   (offend("hwtstamp"), SK_BUFF_CTX_SIZE)):
        if not _range_is_zero(ctx, lo, hi):
            raise BpfError(errno.EINVAL, "__sk_buff field not supported by test_run is set")
    u32 = lambda name: struct.unpack_from("<I", ctx, off(name))[0]      # noqa: E731
    skb.mark, skb.priority, skb.skb_iif = u32("mark"), u32("priority"), u32("ingress_ifindex")
    skb.tstamp = struct.unpack_from("<Q", ctx, off("tstamp"))[0]
    skb.cb[:] = ctx[off("cb"):offend("cb")]
    wire_len = u32("wire_len")
    if wire_len == 0:
        skb.pkt_len = skb.len
    else:
        if wire_len < skb.len or wire_len > GSO_LEGACY_MAX_SIZE:
            raise BpfError(errno.EINVAL, "wire_len out of range")
        skb.pkt_len = wire_len
    if u32("gso_segs") > GSO_MAX_SEGS:
        raise BpfError(errno.EINVAL, "gso_segs too big")
    skb.gso_segs, skb.gso_size = u32("gso_segs"), u32("gso_size")
    skb.hwtstamp = struct.unpack_from("<Q", ctx, off("hwtstamp"))[0]


def convert_skb_to___skb(skb, ctx) -> None:
    if ctx is None:
        return
    full = skb_ctx_bytes(skb)
    for name in ("mark", "priority", "ingress_ifindex", "ifindex", "tstamp", "cb", "wire_len",
                 "gso_segs", "hwtstamp"):
        ctx[off(name):offend(name)] = full[off(name):offend(name)]


def bpf_test_run(prog, ctx_addr: int, repeat: int, run_factory, before_each=None) -> tuple[int, int]:
    """Run ``repeat`` times (at least once); (last retval as u32, average virtual ns per run
    capped at U32_MAX)."""
    from .bpf_run import bpf_prog_run
    repeat = max(1, repeat)
    kernel = prog.kernel
    start = kernel.clock.ns
    retval = 0
    for _ in range(repeat):
        if before_each is not None:
            before_each()
        retval = bpf_prog_run(prog, ctx_addr, run_factory())
    duration = (kernel.clock.ns - start) // repeat
    return retval, min(duration, 0xFFFFFFFF)


def bpf_test_finish(kattr: TestRunAttr, user, data: bytes, retval: int, duration: int) -> TestRunResult:
    size = len(data)
    res = TestRunResult(retval=retval, duration=duration, data_size_out=size)
    copy_size = size
    if kattr.data_size_out and copy_size > kattr.data_size_out:
        copy_size, res.errno = kattr.data_size_out, errno.ENOSPC
    if kattr.data_out:
        user.copy_to_user(kattr.data_out, bytes(data[:copy_size]))
    return res


def bpf_ctx_finish(kattr: TestRunAttr, user, ctx, res: TestRunResult) -> None:
    if ctx is None or not kattr.ctx_out:
        return
    copy_size = len(ctx)
    if copy_size > kattr.ctx_size_out:
        copy_size, res.errno = kattr.ctx_size_out, errno.ENOSPC
    user.copy_to_user(kattr.ctx_out, bytes(ctx[:copy_size]))
    res.ctx_size_out = len(ctx)


def _runner(prog, kattr: TestRunAttr, cpu: int | None = None):
    from .bpf_run import BpfTraceRunCtx
    kernel = prog.kernel
    if cpu is None:
        task = kattr.task if kattr.task is not None else kernel.current()
        return lambda: BpfTraceRunCtx(kernel, prog, task=task)
    return lambda: BpfTraceRunCtx(kernel, prog, cpu=cpu, task=kernel.cpus[cpu].current)


def bpf_prog_test_run_skb(prog, kattr: TestRunAttr, user) -> TestRunResult:
    """Socket filters (and other skb programs): data_in is an Ethernet frame."""
    if kattr.flags or kattr.cpu or kattr.batch_size:
        raise BpfError(errno.EINVAL, "flags, cpu and batch_size must be 0")
    size = kattr.data_size_in
    if size < ETH_HLEN or size > MAX_SKB_TEST_DATA:
        raise BpfError(errno.EINVAL, f"data_size_in {size} not in {ETH_HLEN}..{MAX_SKB_TEST_DATA}")
    frame = user.copy_from_user(kattr.data_in, size)
    ctx = bpf_ctx_init(kattr, user, SK_BUFF_CTX_SIZE)
    skb = eth_type_trans(frame)
    if ctx is not None:
        ifindex = struct.unpack_from("<I", ctx, off("ifindex"))[0]
        if ifindex > 1:
            raise BpfError(errno.ENODEV, f"no device with ifindex {ifindex}")
    convert___skb_to_skb(skb, ctx)
    region = skb_ctx_region(prog.kernel, skb)
    try:
        retval, duration = bpf_test_run(prog, region.start, kattr.repeat, _runner(prog, kattr),
                                        before_each=lambda: skb_ctx_refresh(region, skb))
        skb_ctx_sync(region, skb)
    finally:
        prog.kernel.mem.unmap(region)
    convert_skb_to___skb(skb, ctx)
    data = bytes(ETH_HLEN) + bytes(skb.data)          # the header is pushed back, zeroed
    res = bpf_test_finish(kattr, user, data, retval, duration)
    if not res.errno:
        bpf_ctx_finish(kattr, user, ctx, res)
    return res


def bpf_prog_test_run_raw_tp(prog, kattr: TestRunAttr, user) -> TestRunResult:
    """Raw tracepoint programs: ctx_in is the u64 argument array; run once, write retval."""
    if kattr.data_in or kattr.data_out or kattr.ctx_out or kattr.duration or kattr.repeat \
            or kattr.batch_size:
        raise BpfError(errno.EINVAL, "raw_tp test_run takes only ctx_in, flags and cpu")
    size = kattr.ctx_size_in
    if size < prog.aux.max_ctx_offset or size > MAX_BPF_FUNC_ARGS * 8:
        raise BpfError(errno.EINVAL, f"ctx_size_in {size} out of range")
    on_cpu = bool(kattr.flags & BpfTestRunFlags.BPF_F_TEST_RUN_ON_CPU)
    if not on_cpu and kattr.cpu != 0:
        raise BpfError(errno.EINVAL, "cpu without BPF_F_TEST_RUN_ON_CPU")
    data = user.copy_from_user(kattr.ctx_in, size) if size else None
    kernel = prog.kernel
    if on_cpu and kattr.cpu != kernel.current_cpu and kattr.cpu >= kernel.ncpus:
        raise BpfError(errno.ENXIO, f"cpu {kattr.cpu} is not online")
    cpu = kattr.cpu if on_cpu and kattr.cpu != kernel.current_cpu else None
    from .bpf_run import bpf_prog_run
    region = kernel.mem.alloc(max(size, 8), "raw_tp test args", kind="ctx", writable=False,
                              data=data) if data else None
    try:
        retval = bpf_prog_run(prog, region.start if region else 0, _runner(prog, kattr, cpu)())
    finally:
        if region is not None:
            kernel.mem.unmap(region)
    return TestRunResult(retval=retval)
