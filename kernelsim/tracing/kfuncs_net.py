"""Bodies of simulated networking functions (net/ethernet/eth.c, net/core/dev.c,
net/core/skbuff.c, net/ipv4/ip_input.c, net/ipv4/tcp*.c), on sk_buffs, net_devices and sockets
laid out by BTF (stdobjects.py).

What each does, within reason:

* ``eth_type_trans(skb, dev)``: exactly eth.c: ``skb->dev = dev``, mac header reset, the
  Ethernet header pulled (``data += 14``, ``len -= 14``), ``pkt_type`` from the destination
  (host / broadcast / multicast / otherhost against ``dev->dev_addr``), and the protocol
  returned in network order: ``h_proto`` when >= 0x0600, else htons(ETH_P_802_3) for the IPX
  0xFFFF hack or htons(ETH_P_802_2).
* receive: ``netif_receive_skb`` -> ``__netif_receive_skb`` -> ``ip_rcv`` (IPv4: header checks,
  network/transport headers set) -> ``ip_local_deliver`` -> ``tcp_v4_rcv``; drops go through
  ``sk_skb_reason_drop`` (kfree_skb_reason's body in 6.18) with an skb_drop_reason.
* transmit: ``dev_queue_xmit`` -> ``dev_hard_start_xmit`` (counted per device), then the skb is
  consumed.
* TCP: ``tcp_v4_connect`` (AF_INET checks, the 4-tuple, an ephemeral port, SYN_SENT, then
  ``tcp_connect``), ``tcp_sendmsg`` (bytes_sent/write_seq/segs_out advance; ``__tcp_transmit_skb``
  per segment), ``tcp_retransmit_skb`` -> ``__tcp_retransmit_skb`` (total_retrans, bytes_retrans).

Return values are the kernel's: NET_RX_SUCCESS (0) / NET_RX_DROP (1), NETDEV_TX_OK (0), byte
counts, 0 or -errno.

Tracepoints fire where the 6.18 sources call them, so a program on the function and one on the
tracepoint see them in Linux's order (fentry, the tracepoint, fexit):

* ``trace_kfree_skb(skb, location, reason, rx_sk)`` / ``trace_consume_skb(skb, location)``: in
  ``sk_skb_reason_drop`` (its inlined ``__sk_skb_reason_drop``; consume_skb when the reason is
  SKB_CONSUMED) and ``consume_skb``, once the last reference is dropped (``skb_unref``), before
  ``__kfree_skb``; ``location`` is __builtin_return_address(0), the return address into the
  caller (kstack.return_address). ``kfree_skb`` / ``kfree_skb_reason`` are static inlines in
  6.18 (no symbol, no BTF FUNC): callers go to ``sk_skb_reason_drop`` directly.
* ``kfree_skb_list_reason(segs, reason)``: the same tracepoint for each skb of the ``->next``
  list whose last reference goes.
* ``trace_netif_receive_skb(skb)``: at the top of ``__netif_receive_skb_core`` (which
  ``__netif_receive_skb`` reaches through the inlined ``__netif_receive_skb_one_core``, then
  calling the matched ``packet_type``'s ``func``: ip_rcv for ETH_P_IP).
* ``trace_net_dev_xmit(skb, rc, dev, len)``: in ``dev_hard_start_xmit`` (its inlined
  ``xmit_one``), after the driver's start_xmit, with the length taken before it.
* ``trace_tcp_retransmit_skb(sk, skb, err)``: at the end of ``__tcp_retransmit_skb``, whatever
  ``err`` is (since 6.9 the tracepoint carries it; before, only successes were traced).
"""

from . import kstack
from .tracepoints import trace_hit

ETH_HLEN = 14
ETH_P_802_3 = 0x0001
ETH_P_802_2 = 0x0004
ETH_P_IP = 0x0800
ETH_P_802_3_MIN = 0x0600
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 1, 2, 3
NET_RX_SUCCESS, NET_RX_DROP = 0, 1
NETDEV_TX_OK = 0
IPPROTO_TCP = 6
AF_INET = 2
EINVAL, EAFNOSUPPORT, EPIPE = 22, 97, 32
TCP_ESTABLISHED, TCP_SYN_SENT = 1, 2
# enum skb_drop_reason (include/net/dropreason-core.h, 6.18)
SKB_CONSUMED = 1
SKB_DROP_REASON_NOT_SPECIFIED = 2
SKB_DROP_REASON_PKT_TOO_SMALL = 7
SKB_DROP_REASON_OTHERHOST = 16
SKB_DROP_REASON_IP_CSUM = 13
SKB_DROP_REASON_UNHANDLED_PROTO = 31
SKB_DROP_REASON_NO_SOCKET = 3
SKB_DROP_REASON_IP_INHDR = 17


def _htons(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


def _skb(k, addr):
    return k.kobjects.view(addr, "struct sk_buff")


def eth_type_trans(k, skb_addr, dev_addr):
    mem = k.mem
    skb = _skb(k, skb_addr)
    dev = k.kobjects.view(dev_addr, "struct net_device")
    skb.dev = dev_addr
    data, head = skb.data, skb.head
    skb.mac_header = data - head                            # skb_reset_mac_header
    eth = mem.read(data, ETH_HLEN)                          # struct ethhdr
    skb.len = skb.len - ETH_HLEN                            # skb_pull_inline
    skb.data = data + ETH_HLEN
    dest = eth[0:6]
    if dest != mem.read(dev.dev_addr, 6):
        if dest[0] & 1:                                     # is_multicast_ether_addr
            skb.pkt_type = PACKET_BROADCAST if dest == dev.broadcast[:6] else PACKET_MULTICAST
        else:
            skb.pkt_type = PACKET_OTHERHOST
    proto = int.from_bytes(eth[12:14], "little")            # __be16, as the kernel loads it
    if _htons(proto) >= ETH_P_802_3_MIN:                    # eth_proto_is_802_3
        return proto
    if skb.len >= 2 and mem.read(skb.data, 2) == b"\xff\xff":
        return _htons(ETH_P_802_3)                          # the IPX hack
    return _htons(ETH_P_802_2)


def netif_receive_skb(k, skb):
    return k.call("__netif_receive_skb", skb)


def ip_packet_type(k):
    """``ip_packet_type`` (net/ipv4/af_inet.c): the struct packet_type dev_add_pack registers
    for ETH_P_IP, whose ``func`` is ip_rcv. Built once per machine."""
    pt = k.subsys.get("ip_packet_type")
    if pt is None:
        pt = k.subsys["ip_packet_type"] = k.kobjects.new(
            "struct packet_type", label="ip_packet_type", type=_htons(ETH_P_IP),
            func=k.functions["ip_rcv"].addr)
    return pt


def __netif_receive_skb(k, skb_addr):
    # __netif_receive_skb_one_core (static, inlined): the core picks the packet_type through
    # **pskb / **ppt_prev, then this frame calls its func
    mem = k.mem
    ko = k.kobjects
    skb = _skb(k, skb_addr)
    orig_dev = skb.dev
    words = ko.alloc_bytes(skb_addr.to_bytes(8, "little") + bytes(8), "one_core locals")
    try:
        ret = k.call("__netif_receive_skb_core", words, 0, words + 8)
        pt_prev = mem.load(words + 8, 8)
        skb_addr = mem.load(words, 8)
    finally:
        ko.free(words)
    if pt_prev:
        pt = ko.view(pt_prev, "struct packet_type")
        func = k.functions.lookup_addr(pt.func)
        ret = k.call(func[0], skb_addr, _skb(k, skb_addr).dev, pt_prev, orig_dev)
    return ret


def __netif_receive_skb_core(k, pskb, pfmemalloc, ppt_prev):
    skb_addr = k.mem.load(pskb, 8)
    trace_hit(k, "netif_receive_skb", skb_addr)
    skb = _skb(k, skb_addr)
    skb.network_header = skb.data - skb.head                # skb_reset_network_header
    if skb.dev:
        skb.skb_iif = k.kobjects.view(skb.dev, "struct net_device").ifindex
    if skb.protocol == _htons(ETH_P_IP):                    # deliver_ptype_list_skb
        k.mem.store(ppt_prev, 8, ip_packet_type(k).addr)
        return NET_RX_SUCCESS
    k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_UNHANDLED_PROTO)
    return NET_RX_DROP


def ip_rcv(k, skb_addr, dev, pt, orig_dev):
    skb = _skb(k, skb_addr)
    if skb.pkt_type == PACKET_OTHERHOST:
        k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_OTHERHOST)
        return NET_RX_DROP
    if skb.len < 20:
        k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_PKT_TOO_SMALL)
        return NET_RX_DROP
    iph = k.mem.read(skb.data, 20)
    ihl = (iph[0] & 0xF) * 4
    if iph[0] >> 4 != 4 or ihl < 20 or skb.len < ihl:
        k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_IP_INHDR)
        return NET_RX_DROP
    skb.network_header = skb.data - skb.head
    skb.transport_header = skb.data - skb.head + ihl
    return k.call("ip_local_deliver", skb_addr)


def ip_local_deliver(k, skb_addr):
    skb = _skb(k, skb_addr)
    iph = k.mem.read(skb.head + skb.network_header, 20)
    ihl = (iph[0] & 0xF) * 4
    skb.len = skb.len - ihl                                 # __skb_pull to the transport header
    skb.data = skb.data + ihl
    if iph[9] == IPPROTO_TCP:
        k.call("tcp_v4_rcv", skb_addr)
        return NET_RX_SUCCESS
    k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_UNHANDLED_PROTO)
    return NET_RX_DROP


def tcp_v4_rcv(k, skb_addr):
    skb = _skb(k, skb_addr)
    sk = skb.sk
    if not sk:
        k.call("sk_skb_reason_drop", 0, skb_addr, SKB_DROP_REASON_NO_SOCKET)
        return 0
    tp = k.kobjects.view(sk, "struct tcp_sock")
    tp.bytes_received = tp.bytes_received + skb.len
    tp.rcv_nxt = (tp.rcv_nxt + skb.len) & 0xFFFFFFFF
    k.call("tcp_rcv_established", sk, skb_addr)
    k.call("consume_skb", skb_addr)
    return 0


def tcp_rcv_established(k, sk, skb):
    return None


def skb_unref(k, skb_addr) -> bool:
    """skb_unref: True when this was the last reference (users 1: no atomic needed), else the
    count drops by one and False unless it reached 0."""
    skb = _skb(k, skb_addr)
    users = skb.get("users.refs.counter")
    if users == 1:
        return True
    skb.set("users.refs.counter", users - 1)
    return users - 1 == 0


def sk_skb_reason_drop(k, sk, skb, reason):
    # __sk_skb_reason_drop (static __always_inline) then __kfree_skb
    if not skb_unref(k, skb):
        return None
    stats = k.subsys.setdefault("skb_drops", {})
    stats[reason] = stats.get(reason, 0) + 1
    if reason == SKB_CONSUMED:
        trace_hit(k, "consume_skb", skb, kstack.return_address(k))
    else:
        trace_hit(k, "kfree_skb", skb, kstack.return_address(k), reason, sk)
    k.call("__kfree_skb", skb)
    return None


def consume_skb(k, skb):
    if not skb or not skb_unref(k, skb):
        return None
    trace_hit(k, "consume_skb", skb, kstack.return_address(k))
    k.call("__kfree_skb", skb)
    return None


def __kfree_skb(k, skb):
    k.kobjects.free(skb)


def kfree_skb_list_reason(k, segs, reason):
    # each skb of the ->next list through the inlined __sk_skb_reason_drop (its tracepoint,
    # location = the return address into our caller), then freed (kfree_skb_add_bulk)
    location = kstack.return_address(k)
    while segs:
        skb = _skb(k, segs)
        nxt = skb.next
        if skb_unref(k, segs):
            if reason == SKB_CONSUMED:
                trace_hit(k, "consume_skb", segs, location)
            else:
                trace_hit(k, "kfree_skb", segs, location, reason, 0)
            k.kobjects.free(segs)
        segs = nxt
    return None


def __alloc_skb(k, size, gfp_mask, flags, node):
    return k.kobjects.alloc_skb(b"", headroom=0, tailroom=size).addr


def dev_queue_xmit(k, skb_addr):
    skb = _skb(k, skb_addr)
    k.call("dev_hard_start_xmit", skb_addr, skb.dev, 0, 0)
    k.call("consume_skb", skb_addr)
    return NETDEV_TX_OK


def dev_hard_start_xmit(k, first, dev, txq, ret):
    # xmit_one (inlined): the length before the driver, ndo_start_xmit, trace_net_dev_xmit
    length = _skb(k, first).len
    tx = k.subsys.setdefault("netdev_tx", {})
    tx[dev] = tx.get(dev, 0) + 1
    trace_hit(k, "net_dev_xmit", first, NETDEV_TX_OK, dev, length)
    if ret:
        k.mem.store(ret, 4, NETDEV_TX_OK)
    return 0


def tcp_v4_connect(k, sk_addr, uaddr, addr_len):
    if addr_len < 16:                                       # sizeof(struct sockaddr_in)
        return -EINVAL
    sin = k.kobjects.view(uaddr, "struct sockaddr_in")
    if sin.sin_family != AF_INET:
        return -EAFNOSUPPORT
    sk = k.kobjects.view(sk_addr, "struct tcp_sock")
    c = "inet_conn.icsk_inet.sk.__sk_common."
    sk.set(c + "skc_daddr", sin.get("sin_addr.s_addr"))
    sk.set(c + "skc_dport", sin.sin_port)
    if not sk.get(c + "skc_num"):
        port = k.subsys.get("ephemeral_port", 32768)
        k.subsys["ephemeral_port"] = port + 1 if port < 60999 else 32768
        sk.set(c + "skc_num", port)
        sk.set("inet_conn.icsk_inet.inet_sport", _htons(port))
    sk.set(c + "skc_state", TCP_SYN_SENT)
    sk.write_seq = (0x1000 * (sk.get(c + "skc_num") or 1)) & 0xFFFFFFFF
    sk.snd_nxt = sk.write_seq
    return k.call("tcp_connect", sk_addr)


def tcp_connect(k, sk_addr):
    sk = k.kobjects.view(sk_addr, "struct tcp_sock")
    sk.segs_out = sk.segs_out + 1
    return 0


def tcp_sendmsg(k, sk_addr, msg, size):
    sk = k.kobjects.view(sk_addr, "struct tcp_sock")
    if sk.get("inet_conn.icsk_inet.sk.__sk_common.skc_state") != TCP_ESTABLISHED:
        return -EPIPE
    mss = sk.mss_cache or 1448
    segs = max(1, -(-size // mss)) if size else 0
    for _ in range(segs):
        k.call("__tcp_transmit_skb", sk_addr, 0, 1, 0xCC0, sk.rcv_nxt)
    sk.bytes_sent = sk.bytes_sent + size
    sk.write_seq = (sk.write_seq + size) & 0xFFFFFFFF
    sk.snd_nxt = sk.write_seq
    sk.data_segs_out = sk.data_segs_out + segs
    return size


def __tcp_transmit_skb(k, sk_addr, skb, clone_it, gfp_mask, rcv_nxt):
    sk = k.kobjects.view(sk_addr, "struct tcp_sock")
    sk.segs_out = sk.segs_out + 1
    return 0


def tcp_retransmit_skb(k, sk_addr, skb_addr, segs):
    err = k.call("__tcp_retransmit_skb", sk_addr, skb_addr, segs)
    if err == 0:
        sk = k.kobjects.view(sk_addr, "struct tcp_sock")
        sk.total_retrans = sk.total_retrans + segs
        if skb_addr:
            sk.bytes_retrans = sk.bytes_retrans + _skb(k, skb_addr).len
        icsk = "inet_conn.icsk_retransmits"
        sk.set(icsk, sk.get(icsk) + 1)
    return err


def __tcp_retransmit_skb(k, sk_addr, skb_addr, segs):
    err = k.call("__tcp_transmit_skb", sk_addr, skb_addr, 1, 0xCC0, 0)
    trace_hit(k, "tcp_retransmit_skb", sk_addr, skb_addr, err)
    return err


BODIES = {
    "eth_type_trans": eth_type_trans,
    "netif_receive_skb": netif_receive_skb,
    "__netif_receive_skb": __netif_receive_skb,
    "__netif_receive_skb_core": __netif_receive_skb_core,
    "ip_rcv": ip_rcv,
    "ip_local_deliver": ip_local_deliver,
    "tcp_v4_rcv": tcp_v4_rcv,
    "tcp_rcv_established": tcp_rcv_established,
    "sk_skb_reason_drop": sk_skb_reason_drop,
    "consume_skb": consume_skb,
    "__kfree_skb": __kfree_skb,
    "kfree_skb_list_reason": kfree_skb_list_reason,
    "__alloc_skb": __alloc_skb,
    "dev_queue_xmit": dev_queue_xmit,
    "dev_hard_start_xmit": dev_hard_start_xmit,
    "tcp_v4_connect": tcp_v4_connect,
    "tcp_connect": tcp_connect,
    "tcp_sendmsg": tcp_sendmsg,
    "__tcp_transmit_skb": __tcp_transmit_skb,
    "tcp_retransmit_skb": tcp_retransmit_skb,
    "__tcp_retransmit_skb": __tcp_retransmit_skb,
}
