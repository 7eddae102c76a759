"""Ring buffer helpers (kernel/bpf/ringbuf.c): output, reserve, submit, discard, query.

Each goes through the ringbuf map's ops (kernelsim/maps/ops.py): ``ringbuf_reserve`` returns the
address of the record's data inside the ring's Region (0 when there is no room), submit and
discard take that address back. The map of a reserved record is the owner of the Region the
address lies in. The dynptr variants are offered to programs but not implemented (func None).
"""

import errno

from ..errors import BpfError
from ..uapi import BpfFuncId as F
from .common import U32_MASK, map_of, read_kernel
from .core import _proto
from .proto import (RET_PTR_TO_RINGBUF_MEM_OR_NULL, BpfArgType as A, BpfReturnType as R,
                    BpfTypeFlag as T)

BPF_RB_NO_WAKEUP = 1 << 0
BPF_RB_FORCE_WAKEUP = 1 << 1
_MAP = A.ARG_CONST_MAP_PTR


def bpf_ringbuf_output(run, r1, r2, r3, r4, r5=0):
    """0, -EINVAL (flags other than the wakeup bits) or -EAGAIN (no room)."""
    if r4 & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
        return -errno.EINVAL
    m = map_of(run, r1)
    if m is None or m.ops.ringbuf_output is None:
        return -errno.EINVAL
    data = read_kernel(run, r2, r3 & U32_MASK) if r3 else b""
    if data is None:
        return -errno.EFAULT
    try:
        m.ops.ringbuf_output(m, data, r4)
    except BpfError as e:
        return -e.errno
    return 0


def bpf_ringbuf_reserve(run, r1, r2, r3, r4=0, r5=0):
    """The record's data address, or 0 (NULL) for non-zero flags or a full ring."""
    if r3:
        return 0
    m = map_of(run, r1)
    if m is None or m.ops.ringbuf_reserve is None:
        return 0
    try:
        return m.ops.ringbuf_reserve(m, r2, r3) or 0
    except BpfError:
        return 0


def _record_map(run, addr):
    region = run.mem.region_of(addr)
    return region.owner if region is not None else None


def _commit(run, r1, r2, slot):
    m = _record_map(run, r1)
    fn = getattr(getattr(m, "ops", None), slot, None)
    if fn is not None:
        try:
            fn(m, r1, r2)
        except BpfError:
            pass
    return 0


def bpf_ringbuf_submit(run, r1, r2, r3=0, r4=0, r5=0):
    return _commit(run, r1, r2, "ringbuf_submit")


def bpf_ringbuf_discard(run, r1, r2, r3=0, r4=0, r5=0):
    return _commit(run, r1, r2, "ringbuf_discard")


def bpf_ringbuf_query(run, r1, r2, r3=0, r4=0, r5=0):
    m = map_of(run, r1)
    if m is None or m.ops.ringbuf_query is None:
        return 0
    try:
        return m.ops.ringbuf_query(m, r2)
    except BpfError:
        return 0


bpf_ringbuf_output_proto = _proto(bpf_ringbuf_output, "ringbuf_output", R.RET_INTEGER,
                                  (_MAP, A.ARG_PTR_TO_MEM | T.MEM_RDONLY, A.ARG_CONST_SIZE_OR_ZERO,
                                   A.ARG_ANYTHING))
bpf_ringbuf_reserve_proto = _proto(bpf_ringbuf_reserve, "ringbuf_reserve", RET_PTR_TO_RINGBUF_MEM_OR_NULL,
                                   (_MAP, A.ARG_CONST_ALLOC_SIZE_OR_ZERO, A.ARG_ANYTHING))
bpf_ringbuf_submit_proto = _proto(bpf_ringbuf_submit, "ringbuf_submit", R.RET_VOID,
                                  (A.ARG_PTR_TO_RINGBUF_MEM | T.OBJ_RELEASE, A.ARG_ANYTHING))
bpf_ringbuf_discard_proto = _proto(bpf_ringbuf_discard, "ringbuf_discard", R.RET_VOID,
                                   (A.ARG_PTR_TO_RINGBUF_MEM | T.OBJ_RELEASE, A.ARG_ANYTHING))
bpf_ringbuf_query_proto = _proto(bpf_ringbuf_query, "ringbuf_query", R.RET_INTEGER,
                                 (_MAP, A.ARG_ANYTHING))
_RB_DYNPTR = A.ARG_PTR_TO_DYNPTR | T.DYNPTR_TYPE_RINGBUF
bpf_ringbuf_reserve_dynptr_proto = _proto(None, "ringbuf_reserve_dynptr", R.RET_INTEGER,
                                          (_MAP, A.ARG_ANYTHING, A.ARG_ANYTHING,
                                           _RB_DYNPTR | T.MEM_UNINIT | T.MEM_WRITE))
bpf_ringbuf_submit_dynptr_proto = _proto(None, "ringbuf_submit_dynptr", R.RET_VOID,
                                         (_RB_DYNPTR | T.OBJ_RELEASE, A.ARG_ANYTHING))
bpf_ringbuf_discard_dynptr_proto = _proto(None, "ringbuf_discard_dynptr", R.RET_VOID,
                                          (_RB_DYNPTR | T.OBJ_RELEASE, A.ARG_ANYTHING))

BASE_ANY_RINGBUF = {
    F.BPF_FUNC_ringbuf_output: bpf_ringbuf_output_proto,
    F.BPF_FUNC_ringbuf_reserve: bpf_ringbuf_reserve_proto,
    F.BPF_FUNC_ringbuf_submit: bpf_ringbuf_submit_proto,
    F.BPF_FUNC_ringbuf_discard: bpf_ringbuf_discard_proto,
    F.BPF_FUNC_ringbuf_query: bpf_ringbuf_query_proto,
}
BASE_CAP_BPF_RINGBUF = {
    F.BPF_FUNC_ringbuf_reserve_dynptr: bpf_ringbuf_reserve_dynptr_proto,
    F.BPF_FUNC_ringbuf_submit_dynptr: bpf_ringbuf_submit_dynptr_proto,
    F.BPF_FUNC_ringbuf_discard_dynptr: bpf_ringbuf_discard_dynptr_proto,
}
