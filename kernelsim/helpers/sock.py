"""Socket casts: bpf_skc_to_* (net/core/filter.c), for socket filters and the BTF-aware tracing
types.

Each takes a socket pointer (a sock_common, a full sock, a timewait or request sock) and returns
the same pointer typed as the more specific struct when the socket is one, else NULL. The
socket's identity is read from its memory through ``kernel.btf``'s layout of struct sock
(skc_family, skc_state in sock_common; sk_type, sk_protocol in sock), so sockets built by the
tracing code (tracing/stdobjects.py) or by a test are recognised alike:

==========================  ===========================================================
skc_to_tcp_sock             a full sock (state neither TIME_WAIT nor NEW_SYN_RECV), TCP
skc_to_tcp6_sock            ... and AF_INET6
skc_to_udp6_sock            a full sock, UDP, SOCK_DGRAM, AF_INET6
skc_to_unix_sock            a full sock, AF_UNIX
skc_to_tcp_timewait_sock    TIME_WAIT, AF_INET or AF_INET6
skc_to_tcp_request_sock     NEW_SYN_RECV, AF_INET or AF_INET6
skc_to_mptcp_sock           a TCP subflow with tcp_sock.is_mptcp set: its MPTCP socket
                            (mptcp_subflow_ctx(sk)->conn through icsk_ulp_data)
==========================  ===========================================================

Linux tells timewait and request socks by ``sk_prot == &tcp_prot`` (or tcpv6_prot); kernelsim
has no protocol tables, so it takes the family instead: only TCP puts an inet socket into those
two states. A pointer that is no readable socket gives NULL. Also here: sock_gen_cookie, the socket
cookie behind bpf_get_socket_cookie of socket filters (skb->sk) and of tracing programs (a BTF
socket pointer).
"""

from ..memory import MemoryFault
from .common import btf_member
from .core import _proto
from .proto import RET_PTR_TO_BTF_ID_OR_NULL, BpfArgType as A, BpfReturnType as R, BpfTypeFlag as T

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_DGRAM = 2
IPPROTO_TCP, IPPROTO_UDP = 6, 17
TCP_TIME_WAIT, TCP_NEW_SYN_RECV = 6, 12

_FIELDS = {"family": ("sock", "__sk_common.skc_family", 2), "state": ("sock", "__sk_common.skc_state", 1),
           "type": ("sock", "sk_type", 2), "protocol": ("sock", "sk_protocol", 2)}


def _layout(kernel) -> dict:
    """{field: (offset, size)} of the fields above in kernel.btf, computed once per machine."""
    layout = kernel.subsys.get("bpf_sock_layout")
    if layout is None:
        layout = {}
        btf = kernel.btf
        for field, (struct, path, size) in _FIELDS.items():
            got = btf_member(btf, struct, path)
            if got is not None:
                layout[field] = (got[0], size)
        kernel.subsys["bpf_sock_layout"] = layout
    return layout


def sock_fields(run, sk: int) -> dict | None:
    """family/state/type/protocol of the socket at ``sk`` (a missing BTF field reads as 0), or
    None when the memory is unreadable."""
    if not sk:
        return None
    out = {}
    try:
        for field in _FIELDS:
            off, size = _layout(run.kernel).get(field, (None, 0))
            out[field] = run.mem.load(sk + off, size) if off is not None else 0
    except MemoryFault:
        return None
    return out


def sk_fullsock(f: dict) -> bool:
    return f["state"] not in (TCP_TIME_WAIT, TCP_NEW_SYN_RECV)


def bpf_skc_to_tcp_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    return r1 if f and sk_fullsock(f) and f["protocol"] == IPPROTO_TCP else 0


def bpf_skc_to_tcp6_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    return r1 if f and sk_fullsock(f) and f["protocol"] == IPPROTO_TCP and f["family"] == AF_INET6 else 0


def bpf_skc_to_udp6_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    ok = f and sk_fullsock(f) and f["protocol"] == IPPROTO_UDP and f["type"] == SOCK_DGRAM \
        and f["family"] == AF_INET6
    return r1 if ok else 0


def bpf_skc_to_unix_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    return r1 if f and sk_fullsock(f) and f["family"] == AF_UNIX else 0


def bpf_skc_to_tcp_timewait_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    return r1 if f and f["state"] == TCP_TIME_WAIT and f["family"] in (AF_INET, AF_INET6) else 0


def bpf_skc_to_tcp_request_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    f = sock_fields(run, r1)
    return r1 if f and f["state"] == TCP_NEW_SYN_RECV and f["family"] in (AF_INET, AF_INET6) else 0


def bpf_skc_to_mptcp_sock(run, r1, r2=0, r3=0, r4=0, r5=0):
    """bpf_mptcp_sock_from_subflow: NULL unless a TCP full sock with is_mptcp; then the
    subflow context's ``conn`` (0 when the BTF or the memory does not have it)."""
    f = sock_fields(run, r1)
    if not (f and sk_fullsock(f) and f["protocol"] == IPPROTO_TCP):
        return 0
    btf = run.kernel.btf
    flag = btf_member(btf, "tcp_sock", "is_mptcp")
    ulp = btf_member(btf, "inet_connection_sock", "icsk_ulp_data")
    conn = btf_member(btf, "mptcp_subflow_context", "conn")
    if flag is None or ulp is None or conn is None:
        return 0
    try:
        if not run.mem.load(r1 + flag[0], 1) & 1:
            return 0
        ctx = run.mem.load(r1 + ulp[0], 8)
        return run.mem.load(ctx + conn[0], 8) if ctx else 0
    except MemoryFault:
        return 0


def sock_gen_cookie(run, sk: int) -> int:
    """net/core/sock_diag.c sock_gen_cookie: the socket's skc_cookie, given one from the
    machine's counter (1, 2, ... in order of first use; Linux hands them out in per-CPU
    batches) the first time it is asked for, and written back into the socket."""
    kernel = run.kernel
    known = kernel.subsys.setdefault("sock_cookies", {})
    got = btf_member(kernel.btf, "sock_common", "skc_cookie")
    off = got[0] if got is not None else None
    if off is not None:
        try:
            cookie = run.mem.load(sk + off, 8)
            if cookie:
                return cookie
        except MemoryFault:
            off = None
    cookie = known.get(sk)
    if cookie is None:
        cookie = known[sk] = kernel.subsys["sock_cookie_next"] = kernel.subsys.get("sock_cookie_next", 0) + 1
    if off is not None:
        try:
            run.mem.write(sk + off, cookie.to_bytes(8, "little"))
        except MemoryFault:
            pass                             # a read-only object keeps its cookie in ``known``
    return cookie


def bpf_get_socket_ptr_cookie(run, r1, r2=0, r3=0, r4=0, r5=0):
    """Tracing programs: sk ? sock_gen_cookie(sk) : 0."""
    return sock_gen_cookie(run, r1) if r1 else 0


bpf_get_socket_ptr_cookie_proto = _proto(bpf_get_socket_ptr_cookie, "get_socket_cookie", R.RET_INTEGER,
                                         (A.ARG_PTR_TO_BTF_ID_SOCK_COMMON | T.PTR_MAYBE_NULL,))

_SKC = A.ARG_PTR_TO_BTF_ID_SOCK_COMMON


def _skc_to(func, name, struct, arg=_SKC):
    return _proto(func, name, RET_PTR_TO_BTF_ID_OR_NULL, (arg,), ret_btf_id=("struct", struct))


bpf_skc_to_tcp6_sock_proto = _skc_to(bpf_skc_to_tcp6_sock, "skc_to_tcp6_sock", "tcp6_sock")
bpf_skc_to_tcp_sock_proto = _skc_to(bpf_skc_to_tcp_sock, "skc_to_tcp_sock", "tcp_sock")
bpf_skc_to_tcp_timewait_sock_proto = _skc_to(bpf_skc_to_tcp_timewait_sock, "skc_to_tcp_timewait_sock",
                                             "tcp_timewait_sock")
bpf_skc_to_tcp_request_sock_proto = _skc_to(bpf_skc_to_tcp_request_sock, "skc_to_tcp_request_sock",
                                            "tcp_request_sock")
bpf_skc_to_udp6_sock_proto = _skc_to(bpf_skc_to_udp6_sock, "skc_to_udp6_sock", "udp6_sock")
bpf_skc_to_unix_sock_proto = _skc_to(bpf_skc_to_unix_sock, "skc_to_unix_sock", "unix_sock")
bpf_skc_to_mptcp_sock_proto = _skc_to(bpf_skc_to_mptcp_sock, "skc_to_mptcp_sock", "mptcp_sock",
                                      A.ARG_PTR_TO_SOCK_COMMON)
