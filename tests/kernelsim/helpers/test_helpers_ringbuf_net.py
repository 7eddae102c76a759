"""Ring buffer helpers through the ringbuf ops, and the socket filter helpers on a real __sk_buff
mirror (kernelsim/skbuff.py)."""

import errno

import pytest
from helper_support import make_kernel, make_run

from kernelsim.errors import BpfError
from kernelsim.helpers import net, ringbuf as rb
from kernelsim.maps.map import BpfMap, MapCreateAttr
from kernelsim.maps.ops import BpfMapOps
from kernelsim.skbuff import eth_type_trans, skb_ctx_region
from kernelsim.uapi import BpfMapType


def _ring(kernel):
    def reserve(m, size, flags):
        if size > 64:
            return 0
        rec = m.area_alloc(size, "record")
        m.data["pending"].append(rec.start)
        return rec.start

    def submit(m, addr, flags):
        m.data["pending"].remove(addr)
        m.data["done"].append(kernel.mem.read(addr, 4))

    def discard(m, addr, flags):
        m.data["pending"].remove(addr)

    def output(m, data, flags):
        if len(data) > 64:
            raise BpfError(errno.EAGAIN, "full")
        m.data["done"].append(data)

    ops = BpfMapOps(ringbuf_reserve=reserve, ringbuf_submit=submit, ringbuf_discard=discard,
                    ringbuf_output=output, ringbuf_query=lambda m, f: len(m.data["done"]))
    m = BpfMap(kernel, MapCreateAttr(map_type=BpfMapType.BPF_MAP_TYPE_RINGBUF, max_entries=4096), ops)
    m.data = {"pending": [], "done": []}
    return m


def test_ringbuf_helpers():
    kernel, _ = make_kernel()
    run = make_run(kernel)
    m = _ring(kernel)
    buf = kernel.mem.alloc(128, "buf", data=b"abcd" * 32)
    assert rb.bpf_ringbuf_output(run, m.addr, buf.start, 4, 0) == 0
    assert rb.bpf_ringbuf_output(run, m.addr, buf.start, 100, 0) == -errno.EAGAIN
    assert rb.bpf_ringbuf_output(run, m.addr, buf.start, 4, 4) == -errno.EINVAL
    rec = rb.bpf_ringbuf_reserve(run, m.addr, 8, 0)
    assert rec and kernel.mem.region_of(rec).owner is m
    assert rb.bpf_ringbuf_reserve(run, m.addr, 8, 1) == 0                  # flags: NULL
    assert rb.bpf_ringbuf_reserve(run, m.addr, 1000, 0) == 0
    kernel.mem.write(rec, b"WXYZ")
    assert rb.bpf_ringbuf_submit(run, rec, 0) == 0
    rec2 = rb.bpf_ringbuf_reserve(run, m.addr, 8, 0)
    assert rb.bpf_ringbuf_discard(run, rec2, 0) == 0
    assert m.data["done"] == [b"abcd", b"WXYZ"] and m.data["pending"] == []
    assert rb.bpf_ringbuf_query(run, m.addr, 0) == 2


@pytest.fixture
def skb_env():
    kernel, task = make_kernel()
    frame = bytes.fromhex("ffffffffffff" "020000000001" "0800") + bytes(range(40))
    skb = eth_type_trans(frame)
    region = skb_ctx_region(kernel, skb)
    return kernel, make_run(kernel), skb, region, kernel.mem.alloc(64, "dst")


def test_skb_mirror_fields(skb_env):
    kernel, run, skb, region, _ = skb_env
    assert kernel.mem.load(region.start, 4) == 40                     # len
    assert kernel.mem.load(region.start + 4, 4) == 1                  # PACKET_BROADCAST
    assert kernel.mem.load(region.start + 16, 4) == 0x0008            # protocol
    assert kernel.mem.load(region.start + 40, 4) == 1                 # ifindex


def test_skb_load_bytes(skb_env):
    kernel, run, skb, region, dst = skb_env
    assert net.bpf_skb_load_bytes(run, region.start, 2, dst.start, 4) == 0
    assert kernel.mem.read(dst.start, 4) == bytes([2, 3, 4, 5])
    assert net.bpf_skb_load_bytes(run, region.start, 38, dst.start, 4) == -errno.EFAULT
    assert kernel.mem.read(dst.start, 4) == bytes(4)
    assert net.bpf_skb_load_bytes_relative(run, region.start, 0, dst.start, 2, net.BPF_HDR_START_MAC) == 0
    assert kernel.mem.read(dst.start, 2) == b"\xff\xff"
    assert net.bpf_skb_load_bytes_relative(run, region.start, 1, dst.start, 2, net.BPF_HDR_START_NET) == 0
    assert kernel.mem.read(dst.start, 2) == bytes([1, 2])
    assert net.bpf_skb_load_bytes_relative(run, region.start, 0, dst.start, 2, 7) == -errno.EFAULT


def test_socket_helpers_without_a_socket(skb_env):
    kernel, run, skb, region, dst = skb_env
    assert net.bpf_get_socket_cookie(run, region.start) == 0
    assert net.bpf_get_socket_uid(run, region.start) == net.OVERFLOWUID
    assert net.bpf_get_netns_cookie(run, 0) == net.INIT_NET_COOKIE


def test_skb_event_output(skb_env):
    kernel, run, skb, region, dst = skb_env
    got = []
    pm = BpfMap(kernel, MapCreateAttr(map_type=BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size=4,
                                      value_size=4, max_entries=2),
                BpfMapOps(map_perf_event_output=lambda m, flags, data: got.append((flags, data))))
    kernel.mem.write(dst.start, b"meta")
    assert net.bpf_skb_event_output(run, region.start, pm.addr, (3 << 32) | 1, dst.start, 4) == 0
    assert got == [(1, b"meta" + bytes([0, 1, 2]))]
    assert net.bpf_skb_event_output(run, region.start, pm.addr, 41 << 32, dst.start, 4) == -errno.EFAULT
    assert net.bpf_skb_event_output(run, region.start, pm.addr, 1 << 60, dst.start, 4) == -errno.EINVAL
