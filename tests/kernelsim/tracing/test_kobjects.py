"""Kernel objects laid out by BTF (kernelsim/tracing/kobjects.py, stdobjects.py): offsets,
anonymous members, bitfields, nested initialisers, arrays, strings, the standard objects, and
reads by bpf_probe_read_kernel and by real programs' BTF-typed (PROBE_MEM) loads."""

import pytest

from kernelsim import Kernel
from kernelsim.bpf_run import BpfTraceRunCtx
from kernelsim.errors import BpfError
from kernelsim.helpers.trace import bpf_get_current_task, bpf_probe_read_kernel
from kernelsim.memory import MemoryFault

from tracing_progs import FENTRY, ArrayMap, attach, load, store_slot


@pytest.fixture
def k():
    k = Kernel()
    k.spawn(comm="kobj")
    return k


def _btf_offset(k, struct, *path):
    """Offset of a member path computed straight from the BTF records (anonymous members
    searched), independent of kobjects.py."""
    b = k.btf
    tid = b.find_by_name_kind(struct, 4)
    off = 0
    for name in path:
        def find(t, base):
            for m in b.members(t):
                if m.name == name:
                    return base + m.bit_offset // 8, b.skip_modifiers(m.type)
                if not m.name:
                    r = find(b.skip_modifiers(m.type), base + m.bit_offset // 8)
                    if r:
                        return r
            return None
        off, tid = find(tid, off)
    return off


def test_layout_matches_btf(k):
    ko = k.kobjects
    skb = ko.new("struct sk_buff")
    assert skb.size == k.btf.resolve_size(k.btf.find_by_name_kind("sk_buff", 4))
    for path in (("len",), ("dev",), ("sk",), ("protocol",), ("head",), ("data",), ("tail",),
                 ("mark",), ("cb",)):
        assert skb.offsetof(path[0]) == _btf_offset(k, "sk_buff", *path)
    sock = ko.new("struct sock")
    assert sock.offsetof("__sk_common.skc_dport") == _btf_offset(k, "sock", "__sk_common", "skc_dport")
    assert sock.offsetof("sk_protocol") == _btf_offset(k, "sock", "sk_protocol")


def test_fields_values(k):
    ko = k.kobjects
    dev = ko.netdev("eth0")
    skb = ko.new("struct sk_buff", len=60, dev=dev, protocol=0x0008, mark=0xFFFFFFFF)
    assert skb.len == 60 and skb["dev"] == dev.addr and skb.protocol == 8
    assert skb.mark == 0xFFFFFFFF                              # __u32: unsigned
    skb.skb_iif = -1
    assert skb.skb_iif == -1                                   # int: signed
    skb.len = 1 << 33
    assert skb.len == 0                                        # cut to 32 bits
    raw = k.mem.read(skb.addr_of("len"), 4)
    assert raw == bytes(4)


def test_bitfields(k):
    skb = k.kobjects.new("struct sk_buff")
    skb.pkt_type = 7
    skb.ip_summed = 3
    assert skb.pkt_type == 7 and skb.ip_summed == 3
    skb.pkt_type = 9                                           # 3 bits: 9 & 7
    assert skb.pkt_type == 1 and skb.ip_summed == 3
    byte = k.mem.read(skb.addr_of("pkt_type"), 1)[0]
    assert byte == 1 | (3 << 5)                                # pkt_type:3 at bit 0, ip_summed:2 at bit 5


def test_nested_init_and_container_layout(k):
    ko = k.kobjects
    sk = ko.new("struct tcp_sock", {"inet_conn.icsk_inet.sk.__sk_common": {"skc_dport": 0x901F,
                                                                             "skc_family": 2}},
                snd_cwnd=10)
    # tcp_sock contains inet_connection_sock contains inet_sock contains sock: same address
    sock = sk.cast("struct sock")
    assert sock.get("__sk_common.skc_dport") == 0x901F and sock.get("__sk_common.skc_family") == 2
    assert sk.snd_cwnd == 10
    assert isinstance(sk["inet_conn"], type(sk)) and sk["inet_conn"].addr == sk.addr
    t = ko.tcp_sock("10.0.0.1", 40000, "10.0.0.2", 80)
    c = t.cast("struct sock")
    assert k.mem.read(c.addr_of("__sk_common.skc_daddr"), 4) == bytes([10, 0, 0, 2])   # network order
    assert k.mem.read(c.addr_of("__sk_common.skc_dport"), 2) == (80).to_bytes(2, "big")
    assert c.get("__sk_common.skc_num") == 40000                                      # host order


def test_arrays_and_strings(k):
    ko = k.kobjects
    skb = ko.new("struct sk_buff")
    skb["cb[3]"] = 0x41
    assert skb.cb[3] == 0x41 and len(skb.cb) == 48
    dev = ko.new("struct net_device", name="veth0")
    assert dev.str("name") == "veth0" and dev.name[:6] == b"veth0\0"
    dev.name = "x" * 40                                        # truncated to IFNAMSIZ
    assert dev.str("name") == "x" * 16
    fn = ko.filename("/etc/passwd")
    assert fn.str("name") == "/etc/passwd"                     # char * followed
    with pytest.raises(BpfError):
        skb["cb[48]"]
    with pytest.raises(BpfError):
        skb.get("no_such_field")
    with pytest.raises(AttributeError):
        skb.no_such_field


def test_deref_and_views(k):
    ko = k.kobjects
    eth = ko.netdev("eth0")
    skb = ko.alloc_skb(b"abc", dev=eth)
    assert skb.deref("dev") == eth
    assert skb.deref("sk") is None
    assert skb.deref("dev").deref("nd_net.net") == ko.init_net
    assert ko.skb_data(skb) == b"abc"
    v = ko.view(skb.addr, "struct sk_buff")
    assert v == skb and v.len == 3


def test_standard_objects(k):
    ko = k.kobjects
    lo, eth = ko.netdev("lo"), ko.netdev("eth0")
    assert (lo.ifindex, eth.ifindex) == (1, 2)
    assert ko.init_net.loopback_dev == lo.addr
    assert k.mem.read(eth.dev_addr, 6) == bytes.fromhex("525400123456")
    assert ko.netdev_by_ifindex(2) == eth
    task = k.current()
    ts = ko.current()
    assert (ts.pid, ts.tgid, ts.str("comm")) == (task.pid, task.tgid, "kobj")
    assert ts.deref("cred").get("uid.val") == task.cred.uid
    assert ts.real_parent == ko.init_task.addr and ko.init_task.pid == 0
    assert ko.task_of(ts.addr) is task
    f = ko.open_file("/var/log/x", data=b"12345")
    assert ko.d_path(f.addr_of("f_path")) == "/var/log/x"
    assert f.deref("f_inode").i_size == 5
    assert f.deref("f_path.dentry").str("d_name.name") == "x"


def test_freed_objects_fault(k):
    ko = k.kobjects
    obj = ko.new("struct sk_buff")
    assert ko.free(obj)
    with pytest.raises(MemoryFault):
        obj.len
    assert not ko.free(ko.netdev("lo"))                        # standard objects are not kfree'd


def test_probe_read_kernel_and_current_task(k):
    ko = k.kobjects
    eth = ko.netdev("eth0")
    run = BpfTraceRunCtx(k)
    buf = k.mem.alloc(16, "dst").start
    assert bpf_probe_read_kernel(run, buf, 16, eth.addr_of("name")) == 0
    assert k.mem.read(buf, 5) == b"eth0\0"
    cur = bpf_get_current_task(run)
    assert cur == ko.current().addr
    assert bpf_probe_read_kernel(run, buf, 4, cur + ko.current().offsetof("tgid")) == 0
    assert k.mem.load(buf, 4) == k.current().tgid


def test_btf_typed_loads_by_a_real_program(k):
    """fentry/eth_type_trans reading skb->len, skb->dev->ifindex and skb->dev->name[0..7]
    through PTR_TO_BTF_ID loads (the verifier's PROBE_MEM), at the BTF offsets."""
    ko = k.kobjects
    task = k.current()
    m = ArrayMap(k, task)
    skb0 = ko.new("struct sk_buff")
    dev0 = ko.netdev("eth0")
    off_len, off_dev = skb0.offsetof("len"), skb0.offsetof("dev")
    off_ifindex, off_name = dev0.offsetof("ifindex"), dev0.offsetof("name")
    text = (f"r6 = *(u64 *)(r1 +0)\n"
            f"r7 = *(u32 *)(r6 +{off_len})\n" + store_slot(m.fd, 0, "r7") +
            f"r8 = *(u64 *)(r6 +{off_dev})\n"
            f"r7 = *(u32 *)(r8 +{off_ifindex})\n" + store_slot(m.fd, 1, "r7") +
            f"r7 = *(u64 *)(r8 +{off_name})\n" + store_slot(m.fd, 2, "r7") +
            "r0 = 0\nexit\n")
    prog = load(k, task, text, "eth_type_trans", FENTRY)
    assert prog.aux.probe_mem_insns                            # the verifier marked the loads
    link = attach(k, prog)
    skb = ko.alloc_skb(bytes(12) + b"\x08\x00" + bytes(46), dev=dev0)
    k.call("eth_type_trans", skb, dev0)
    assert m[0] == 60 and m[1] == 2
    assert m[2].to_bytes(8, "little") == b"eth0\0\0\0\0"
    link.put()


CORE_READ_SRC = r'''
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

__u64 skb_len = 0;
__u32 ifindex = 0;
char devname[16] = {};
__u64 ret_seen = 0;

SEC("fentry/eth_type_trans")
int BPF_PROG(on_entry, struct sk_buff *skb, struct net_device *dev)
{
	skb_len = skb->len;                              /* a BTF-typed load of the argument */
	ifindex = BPF_CORE_READ(skb, dev, ifindex);      /* CO-RE, bpf_probe_read_kernel */
	BPF_CORE_READ_STR_INTO(&devname, dev, name);
	return 0;
}

SEC("fexit/eth_type_trans")
int BPF_PROG(on_exit, struct sk_buff *skb, struct net_device *dev, __be16 ret)
{
	ret_seen = ret;
	return 0;
}
'''


def test_clang_compiled_core_read(tmp_path, k):
    """A real clang-compiled object, loaded by the ELF loader through bpf(2), attached with
    LINK_CREATE: skb->len, BPF_CORE_READ(skb, dev, ifindex), the device name, the return."""
    from syscall.object import find_clang
    if find_clang() is None:
        pytest.skip("no clang")
    src = tmp_path / "core_read.bpf.c"
    src.write_text(CORE_READ_SRC)
    task = k.current()
    obj = task.load_object(src)
    links = [p.attach() for p in obj.progs.values()]
    ko = k.kobjects
    eth = ko.netdev("eth0")
    skb = ko.alloc_skb(bytes.fromhex("525400123456") + bytes(6) + b"\x08\x00" + bytes(46), dev=eth)
    assert k.call("eth_type_trans", skb, eth) == 0x0008
    assert (obj.bss.skb_len, obj.bss.ifindex, obj.bss.ret_seen) == (60, 2, 8)
    assert obj.bss.devname.rstrip(b"\0") == b"eth0"
    for link in links:
        link.detach()
    assert k.functions["eth_type_trans"].direct is None
    obj.close()
