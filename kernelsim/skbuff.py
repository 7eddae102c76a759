"""Socket buffers as socket filters see them: struct sk_buff reduced to what BPF reads, and the
``struct __sk_buff`` context (include/linux/skbuff.h, include/uapi/linux/bpf.h, net/core/filter.c
bpf_convert_ctx_access, net/bpf/test_run.c convert___skb_to_skb / convert_skb_to___skb).

The kernel lets a program address ``struct __sk_buff`` and rewrites every ctx access into a load
from the real ``struct sk_buff`` (convert_ctx_access). kernelsim keeps a *mirror* instead: before
a run the kernel side lays the fields out in a ``__sk_buff``-shaped Region (``skb_ctx_region``),
the program loads from it directly (the verifier's access rules are those of
sk_filter_is_valid_access, so nothing it can reach differs from the converted load), and after the
run the writable fields (``cb[]``) are copied back (``skb_ctx_sync``). This is the "equivalent
of convert_ctx_access" of prog_types.py; socket filters have no direct packet access, so no field
is a pointer into packet memory.
"""

import struct
from dataclasses import dataclass, field

SK_BUFF_CTX_SIZE = 192          # sizeof(struct __sk_buff)
ETH_HLEN = 14
ETH_P_802_3_MIN = 0x0600
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 1, 2, 3

# struct __sk_buff: name -> (offset, size)
SK_BUFF_FIELDS = {
    "len": (0, 4), "pkt_type": (4, 4), "mark": (8, 4), "queue_mapping": (12, 4),
    "protocol": (16, 4), "vlan_present": (20, 4), "vlan_tci": (24, 4), "vlan_proto": (28, 4),
    "priority": (32, 4), "ingress_ifindex": (36, 4), "ifindex": (40, 4), "tc_index": (44, 4),
    "cb": (48, 20), "hash": (68, 4), "tc_classid": (72, 4), "data": (76, 4), "data_end": (80, 4),
    "napi_id": (84, 4), "family": (88, 4), "remote_ip4": (92, 4), "local_ip4": (96, 4),
    "remote_ip6": (100, 16), "local_ip6": (116, 16), "remote_port": (132, 4),
    "local_port": (136, 4), "data_meta": (140, 4), "flow_keys": (144, 8), "tstamp": (152, 8),
    "wire_len": (160, 4), "gso_segs": (164, 4), "sk": (168, 8), "gso_size": (176, 4),
    "tstamp_type": (180, 1), "hwtstamp": (184, 8),
}


def off(name: str) -> int:
    return SK_BUFF_FIELDS[name][0]


def offend(name: str) -> int:
    o, s = SK_BUFF_FIELDS[name]
    return o + s


@dataclass
class SkBuff:
    """struct sk_buff, reduced. ``data`` holds the bytes from skb->data to the tail; ``mac_len``
    bytes before it (already pulled) are kept in ``head``."""

    data: bytearray
    head: bytes = b""                 # pulled link-layer header (mac header)
    protocol: int = 0                 # skb->protocol as the __be16 reads on a little-endian host
    pkt_type: int = PACKET_HOST
    mark: int = 0
    priority: int = 0
    skb_iif: int = 0
    ifindex: int = 1                  # skb->dev->ifindex (loopback)
    queue_mapping: int = 0
    vlan_present: int = 0
    vlan_tci: int = 0
    vlan_proto: int = 0
    tc_index: int = 0
    hash: int = 0
    napi_id: int = 0
    cb: bytearray = field(default_factory=lambda: bytearray(20))   # qdisc_skb_cb->data
    pkt_len: int = 0                  # qdisc_skb_cb->pkt_len (wire_len)
    tstamp: int = 0
    gso_segs: int = 0
    gso_size: int = 0
    hwtstamp: int = 0
    sk: int = 0                       # address of the socket (0: none)
    network_offset: int = 0           # network header, relative to data
    mac_header_set: bool = True

    @property
    def len(self) -> int:
        return len(self.data)


def eth_type_trans(frame: bytes, dev_addr: bytes = bytes(6)) -> SkBuff:
    """net/ethernet/eth.c eth_type_trans: pull the Ethernet header, set protocol and pkt_type."""
    dest, proto = frame[0:6], int.from_bytes(frame[12:14], "big")
    if dest[0] & 1:
        pkt_type = PACKET_BROADCAST if dest == b"\xff" * 6 else PACKET_MULTICAST
    elif dest != dev_addr:
        pkt_type = PACKET_OTHERHOST
    else:
        pkt_type = PACKET_HOST
    if proto < ETH_P_802_3_MIN:
        proto = 0x0004 if frame[14:16] != b"\xff\xff" else 0x0001   # ETH_P_802_2 / ETH_P_802_3
    skb = SkBuff(bytearray(frame[ETH_HLEN:]), head=bytes(frame[:ETH_HLEN]), pkt_type=pkt_type)
    skb.protocol = int.from_bytes(proto.to_bytes(2, "big"), "little")   # htons() as stored
    return skb


def skb_ctx_bytes(skb: SkBuff) -> bytes:
    """The __sk_buff a program sees for ``skb`` (bpf_convert_ctx_access's results)."""
    buf = bytearray(SK_BUFF_CTX_SIZE)
    u32 = {"len": skb.len, "pkt_type": skb.pkt_type, "mark": skb.mark,
           "queue_mapping": skb.queue_mapping, "protocol": skb.protocol,
           "vlan_present": skb.vlan_present, "vlan_tci": skb.vlan_tci, "vlan_proto": skb.vlan_proto,
           "priority": skb.priority, "ingress_ifindex": skb.skb_iif, "ifindex": skb.ifindex,
           "tc_index": skb.tc_index, "hash": skb.hash, "napi_id": skb.napi_id,
           "wire_len": skb.pkt_len, "gso_segs": skb.gso_segs, "gso_size": skb.gso_size}
    for name, v in u32.items():
        struct.pack_into("<I", buf, off(name), v & 0xFFFFFFFF)
    buf[off("cb"):offend("cb")] = bytes(skb.cb[:20])
    struct.pack_into("<Q", buf, off("tstamp"), skb.tstamp)
    struct.pack_into("<Q", buf, off("sk"), skb.sk)
    struct.pack_into("<Q", buf, off("hwtstamp"), skb.hwtstamp)
    return bytes(buf)


def skb_ctx_region(kernel, skb: SkBuff):
    """Map a __sk_buff mirror for ``skb`` in kernel memory (owner: the SkBuff); the caller unmaps
    it after the run (or reuses it with ``skb_ctx_refresh``)."""
    return kernel.mem.alloc(SK_BUFF_CTX_SIZE, "struct __sk_buff", kind="ctx", writable=True,
                            owner=skb, data=skb_ctx_bytes(skb))


def skb_ctx_refresh(region, skb: SkBuff) -> None:
    region.buf[:] = skb_ctx_bytes(skb)


def skb_ctx_sync(region, skb: SkBuff) -> None:
    """Copy back what a socket filter may write: cb[0..4]."""
    skb.cb[:] = region.buf[off("cb"):offend("cb")]
