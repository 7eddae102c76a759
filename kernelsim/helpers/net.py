"""Socket filter helpers and list (net/core/filter.c sk_filter_func_proto, bpf_sk_base_func_proto):
skb_load_bytes(_relative), get_socket_cookie/uid, get_netns_cookie, the skb perf event output.

The program's ctx is the ``__sk_buff`` mirror of kernelsim/skbuff.py; its Region's owner is the
``SkBuff``, which is how these helpers reach the packet.
"""

import errno

from ..uapi import BpfFuncId as F
from .base import bpf_base_func_proto
from .common import U32_MASK, read_kernel, write_kernel, zero_fill
from .core import _cap, _proto, bpf_ktime_get_coarse_ns_proto
from .proto import ARG_PTR_TO_UNINIT_MEM, BpfArgType as A, BpfReturnType as R, BpfTypeFlag as T
from .sock import sock_gen_cookie
from .trace import (BPF_F_CTXLEN_MASK, BPF_F_INDEX_MASK, _perf_output, bpf_skc_to_mptcp_sock_proto,
                    bpf_skc_to_tcp6_sock_proto, bpf_skc_to_tcp_request_sock_proto,
                    bpf_skc_to_tcp_sock_proto, bpf_skc_to_tcp_timewait_sock_proto,
                    bpf_skc_to_udp6_sock_proto, bpf_skc_to_unix_sock_proto)

BPF_HDR_START_MAC, BPF_HDR_START_NET = 0, 1
OVERFLOWUID = 65534
INIT_NET_COOKIE = 1          # net->net_cookie of init_net (the first cookie handed out)


def skb_of(run, ctx):
    region = run.mem.region_of(ctx)
    owner = region.owner if region is not None else None
    return owner if hasattr(owner, "cb") and hasattr(owner, "data") else None


def bpf_skb_load_bytes(run, r1, r2, r3, r4, r5=0):
    """skb_header_pointer copy: 0, or -EFAULT with ``to`` zeroed."""
    size = r4 & U32_MASK
    skb, offset = skb_of(run, r1), r2 & U32_MASK
    if skb is None or offset > 0x7FFFFFFF or offset + size > skb.len:
        zero_fill(run, r3, size)
        return -errno.EFAULT
    return write_kernel(run, r3, bytes(skb.data[offset:offset + size]))


def bpf_skb_load_bytes_relative(run, r1, r2, r3, r4, r5):
    size, offset = r4 & U32_MASK, r2 & U32_MASK
    skb = skb_of(run, r1)
    start = None
    if skb is not None and offset <= 0xFFFF:
        if r5 == BPF_HDR_START_MAC and skb.mac_header_set:
            start = -len(skb.head)
        elif r5 == BPF_HDR_START_NET:
            start = skb.network_offset
    if start is None or start + offset + size > skb.len:
        zero_fill(run, r3, size)
        return -errno.EFAULT
    whole = skb.head + bytes(skb.data)
    pos = len(skb.head) + start + offset
    return write_kernel(run, r3, whole[pos:pos + size])


def bpf_get_socket_cookie(run, r1, r2=0, r3=0, r4=0, r5=0):
    """skb->sk ? sock_gen_cookie(sk) : 0 (helpers/sock.py)."""
    skb = skb_of(run, r1)
    return sock_gen_cookie(run, skb.sk) if skb is not None and skb.sk else 0


def bpf_get_socket_uid(run, r1, r2=0, r3=0, r4=0, r5=0):
    skb = skb_of(run, r1)
    if skb is None or not skb.sk:
        return OVERFLOWUID
    task = run.task
    return task.cred.uid if task is not None else 0


def bpf_get_netns_cookie(run, r1, r2=0, r3=0, r4=0, r5=0):
    return INIT_NET_COOKIE


def bpf_skb_event_output(run, r1, r2, r3, r4, r5):
    """bpf_skb_event_output(skb, map, flags, meta, meta_size): meta followed by the first
    (flags & BPF_F_CTXLEN_MASK) >> 32 bytes of the packet."""
    flags = r3
    if flags & ~(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK):
        return -errno.EINVAL
    skb = skb_of(run, r1)
    skb_size = (flags & BPF_F_CTXLEN_MASK) >> 32
    if skb is None or skb_size > skb.len:
        return -errno.EFAULT
    meta = read_kernel(run, r4, r5) if r5 else b""
    if meta is None:
        return -errno.EFAULT
    return _perf_output(run, r2, flags & BPF_F_INDEX_MASK, meta + bytes(skb.data[:skb_size]))


_CTX = A.ARG_PTR_TO_CTX
bpf_skb_load_bytes_proto = _proto(bpf_skb_load_bytes, "skb_load_bytes", R.RET_INTEGER,
                                  (_CTX, A.ARG_ANYTHING, ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE))
bpf_skb_load_bytes_relative_proto = _proto(bpf_skb_load_bytes_relative, "skb_load_bytes_relative",
                                           R.RET_INTEGER, (_CTX, A.ARG_ANYTHING, ARG_PTR_TO_UNINIT_MEM,
                                                           A.ARG_CONST_SIZE, A.ARG_ANYTHING))
bpf_get_socket_cookie_proto = _proto(bpf_get_socket_cookie, "get_socket_cookie", R.RET_INTEGER, (_CTX,))
bpf_get_socket_uid_proto = _proto(bpf_get_socket_uid, "get_socket_uid", R.RET_INTEGER, (_CTX,))
bpf_get_netns_cookie_proto = _proto(bpf_get_netns_cookie, "get_netns_cookie", R.RET_INTEGER,
                                    (A.ARG_PTR_TO_CTX | T.PTR_MAYBE_NULL,))
bpf_skb_event_output_proto = _proto(bpf_skb_event_output, "perf_event_output", R.RET_INTEGER,
                                    (_CTX, A.ARG_CONST_MAP_PTR, A.ARG_ANYTHING,
                                     A.ARG_PTR_TO_MEM | T.MEM_RDONLY, A.ARG_CONST_SIZE_OR_ZERO),
                                    gpl=True)

SK_BASE_PERFMON = {
    F.BPF_FUNC_skc_to_tcp6_sock: bpf_skc_to_tcp6_sock_proto,
    F.BPF_FUNC_skc_to_tcp_sock: bpf_skc_to_tcp_sock_proto,
    F.BPF_FUNC_skc_to_tcp_timewait_sock: bpf_skc_to_tcp_timewait_sock_proto,
    F.BPF_FUNC_skc_to_tcp_request_sock: bpf_skc_to_tcp_request_sock_proto,
    F.BPF_FUNC_skc_to_udp6_sock: bpf_skc_to_udp6_sock_proto,
    F.BPF_FUNC_skc_to_unix_sock: bpf_skc_to_unix_sock_proto,
    F.BPF_FUNC_skc_to_mptcp_sock: bpf_skc_to_mptcp_sock_proto,
}


def bpf_sk_base_func_proto(func_id: int, prog):
    """filter.c bpf_sk_base_func_proto: the skc_to_* casts (CAP_PERFMON) and
    ktime_get_coarse_ns on top of the base list."""
    if func_id == F.BPF_FUNC_ktime_get_coarse_ns:
        return bpf_ktime_get_coarse_ns_proto
    proto = SK_BASE_PERFMON.get(func_id)
    if proto is None:
        return bpf_base_func_proto(func_id, prog)
    return proto if _cap(prog, "CAP_PERFMON") else None


SK_FILTER_PROTOS = {
    F.BPF_FUNC_skb_load_bytes: bpf_skb_load_bytes_proto,
    F.BPF_FUNC_skb_load_bytes_relative: bpf_skb_load_bytes_relative_proto,
    F.BPF_FUNC_get_socket_cookie: bpf_get_socket_cookie_proto,
    F.BPF_FUNC_get_netns_cookie: bpf_get_netns_cookie_proto,
    F.BPF_FUNC_get_socket_uid: bpf_get_socket_uid_proto,
    F.BPF_FUNC_perf_event_output: bpf_skb_event_output_proto,
}


def sk_filter_func_proto(func_id: int, prog):
    """filter.c sk_filter_func_proto (BPF_PROG_TYPE_SOCKET_FILTER)."""
    return SK_FILTER_PROTOS.get(func_id) or bpf_sk_base_func_proto(func_id, prog)
