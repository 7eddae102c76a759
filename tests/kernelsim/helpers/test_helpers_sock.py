"""The bpf_skc_to_* casts (helpers/sock.py): socket filter programs that cast skb->sk, loaded
and run; Linux 6.18 gives the same verdicts, complaints and PROG_TEST_RUN results (its test_run
skb carries a dummy socket that is none of the specific kinds)."""

import pytest

from kernelsim.bpf_run import BpfTraceRunCtx
from kernelsim.helpers import sock as s
from tests.kernelsim.helpers.progkit import SOCKET_FILTER, load
from tests.realkernel import realkernel_available
from tests.syscall.diffharness import SimBackend, assert_same, run_both, run_sim

CASTS = ["tcp_sock", "tcp6_sock", "udp6_sock", "unix_sock", "tcp_timewait_sock",
         "tcp_request_sock", "mptcp_sock"]

CAST = """
    r1 = *(u64 *)(r1 +168)
    if r1 == 0 goto nosk
    call bpf_skc_to_{cast}
    if r0 == 0 goto null
    r0 = 1
    exit
null:
    r0 = 2
    exit
nosk:
    r0 = 2
    exit
"""

CAST_READ_FIELD = """
    r1 = *(u64 *)(r1 +168)
    if r1 == 0 goto out
    call bpf_skc_to_tcp_sock
    if r0 == 0 goto out
    r0 = *(u32 *)(r0 +{off})
    exit
out:
    r0 = 0
    exit
"""

CAST_NO_NULL_CHECK = """
    r1 = *(u64 *)(r1 +168)
    call bpf_skc_to_tcp_sock
    r0 = 0
    exit
"""

CAST_SCALAR = """
    r1 = 42
    call bpf_skc_to_tcp_sock
    r0 = 0
    exit
"""

CAST_RESULT_UNCHECKED = """
    r1 = *(u64 *)(r1 +168)
    if r1 == 0 goto out
    call bpf_skc_to_tcp_sock
    r0 = *(u32 *)(r0 +0)
    exit
out:
    r0 = 0
    exit
"""

PACKET = bytes(12) + b"\x08\x00" + bytes.fromhex("4500001c0000000040110000") + bytes(8) + bytes(8)


def scen_casts(b):
    for cast in CASTS:
        fd = load(b, SOCKET_FILTER, CAST.format(cast=cast))
        run_skb(b, fd)
    for text in (CAST_NO_NULL_CHECK, CAST_SCALAR, CAST_RESULT_UNCHECKED):
        load(b, SOCKET_FILTER, text)
    load(b, SOCKET_FILTER, CAST_READ_FIELD.format(off=0))
    load(b, SOCKET_FILTER, CAST_READ_FIELD.format(off=30000))


def run_skb(b, fd):
    from kernelsim.uapi import BpfCmd as C
    from tests.syscall.diffharness import ename
    out = b.buf(256)
    a = b.attr(test__prog_fd=fd, test__data_in=b.buf(PACKET), test__data_size_in=len(PACKET),
               test__data_out=out, test__data_size_out=256)
    r = b.call(C.BPF_PROG_TEST_RUN, a, record=False)
    b.rec(a.test.retval if r == 0 else ename(-r))


EXPECTED = ["fd", 2] * 7 + [
    "EACCES", "R1 type=sock_common_or_null expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
    "EACCES", "R1 type=scalar expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
    "EACCES", "R0 invalid mem access 'ptr_or_null_'", "fd",
    "EACCES", "access beyond struct tcp_sock at off 30000 size 4"]


def test_cast_programs_in_kernelsim():
    """Linux 6.18.44's answers for scen_casts (its dummy test_run socket is none of the kinds;
    kernelsim's test_run skb has no socket: both return 2)."""
    assert run_sim(scen_casts) == EXPECTED


def test_casts_of_kernelsim_sockets():
    """Each cast on sockets of each kind: the pointer back, or NULL."""
    b = SimBackend()
    k = b.kernel
    run = BpfTraceRunCtx(k, None, task=b.task)
    ko = k.kobjects
    tcp = ko.tcp_sock(sport=80).addr
    tcp6 = ko.tcp_sock(sport=81)
    tcp6.update({"inet_conn.icsk_inet.sk.__sk_common.skc_family": s.AF_INET6})
    udp = ko.udp_sock(sport=53)
    udp6 = ko.udp_sock(sport=54)
    udp6.update({"inet.sk.__sk_common.skc_family": s.AF_INET6})
    tw = ko.tcp_sock(sport=82, state=s.TCP_TIME_WAIT).addr
    req = ko.tcp_sock(sport=83, state=s.TCP_NEW_SYN_RECV).addr
    cases = {
        s.bpf_skc_to_tcp_sock: {tcp, tcp6.addr},
        s.bpf_skc_to_tcp6_sock: {tcp6.addr},
        s.bpf_skc_to_udp6_sock: {udp6.addr},
        s.bpf_skc_to_tcp_timewait_sock: {tw},
        s.bpf_skc_to_tcp_request_sock: {req},
        s.bpf_skc_to_unix_sock: set(),
        s.bpf_skc_to_mptcp_sock: set(),
    }
    every = [tcp, tcp6.addr, udp.addr, udp6.addr, tw, req]
    for cast, yes in cases.items():
        for sk in every:
            assert cast(run, sk) == (sk if sk in yes else 0), (cast.__name__, sk)
        assert cast(run, 0) == 0
        assert cast(run, 0x10) == 0                     # unreadable: NULL, no fault


def test_cast_program_runs_on_an_skb_with_a_socket():
    from kernelsim.skbuff import SkBuff
    from kernelsim.bpf_run import bpf_prog_run
    b = SimBackend()
    fd = load(b, SOCKET_FILTER, CAST.format(cast="tcp_sock"))
    prog = b.task.files.get(fd).obj
    tcp = b.kernel.kobjects.tcp_sock(sport=80).addr
    udp = b.kernel.kobjects.udp_sock(sport=53).addr
    from kernelsim.skbuff import skb_ctx_region
    for sk, want in ((tcp, 1), (udp, 2), (0, 2)):
        skb = SkBuff(data=bytearray(PACKET), sk=sk)
        region = skb_ctx_region(b.kernel, skb)
        assert bpf_prog_run(prog, region.start, BpfTraceRunCtx(b.kernel, prog, task=b.task)) == want


@pytest.mark.realkernel
@pytest.mark.skipif(not realkernel_available(), reason="no usable bpf()")
def test_same_as_linux():
    real, sim = run_both(scen_casts)
    assert_same(real, sim, "skc casts")


def test_socket_cookies_are_generated_once_and_stored():
    from kernelsim.helpers import net
    from kernelsim.skbuff import SkBuff, skb_ctx_region
    b = SimBackend()
    k = b.kernel
    run = BpfTraceRunCtx(k, None, task=b.task)
    a, c = k.kobjects.tcp_sock(sport=1), k.kobjects.udp_sock(sport=2)
    assert s.bpf_get_socket_ptr_cookie(run, 0) == 0
    first = s.bpf_get_socket_ptr_cookie(run, a.addr)
    assert first >= 1 and s.bpf_get_socket_ptr_cookie(run, a.addr) == first
    assert s.bpf_get_socket_ptr_cookie(run, c.addr) == first + 1
    off = s.btf_member(k.btf, "sock_common", "skc_cookie")[0]
    assert k.mem.load(a.addr + off, 8) == first                       # written into the socket
    region = skb_ctx_region(k, SkBuff(data=bytearray(PACKET), sk=c.addr))
    assert net.bpf_get_socket_cookie(run, region.start) == first + 1  # the same via skb->sk
