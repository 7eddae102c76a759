"""Simulated kernel functions: the catalog, the test_run.c bodies with C semantics, kallsyms, the
attach flags, the native codecs, the call path with ftrace hooks (kernelsim/tracing/functions.py,
kfuncs_*.py, call.py, ftrace.py, native.py)."""

import inspect

import pytest

from btf import btf_from_c
from kernelsim import Kernel
from kernelsim.memory import MemoryFault
from kernelsim.tracing import kallsyms
from kernelsim.tracing.ftrace import FtraceOps, register_ftrace_function, unregister_ftrace_function
from kernelsim.tracing.functions import FUNC_COST_NS
from kernelsim.tracing.native import make_call_path, make_codec
from trampoline import decode_call, encode_call, encode_ret
from tests.paths import VMLINUX_BTF

VMLINUX = VMLINUX_BTF


@pytest.fixture(scope="module")
def k():
    k = Kernel()
    k.spawn(comm="test")
    return k


def s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


# -- net/bpf/test_run.c ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,want", [
    ("bpf_fentry_test1", (1,), 2), ("bpf_fentry_test2", (2, 3), 5), ("bpf_fentry_test3", (4, 5, 6), 15),
    ("bpf_fentry_test4", (7, 8, 9, 10), 34), ("bpf_fentry_test5", (11, 12, 13, 14, 15), 65),
    ("bpf_fentry_test6", (16, 17, 18, 19, 20, 21), 111), ("bpf_fentry_test7", (0,), 0),
    ("bpf_fentry_test10", (0,), 0), ("bpf_fentry_shadow_test", (41,), 42),
])
def test_fentry_test_bodies(k, name, args, want):
    assert k.call(name, *args) == want


def test_c_semantics(k):
    # int truncation and wrap-around
    assert k.call("bpf_fentry_test1", 0x7FFFFFFF) == -(1 << 31)
    assert k.call("bpf_fentry_test1", -1) == 0
    assert k.call("bpf_fentry_test1", 1 << 32) == 1            # int a: the high bits are gone
    # char is unsigned (-funsigned-char, the 6.18 BTF), short is signed
    assert k.call("bpf_fentry_test3", 300, 0, 0) == 44
    assert k.call("bpf_fentry_test3", -1, 0, 0) == 255
    assert k.call("bpf_fentry_test5", 0, 0, -1, 0, 0) == -1
    assert k.call("bpf_fentry_test5", 0, 0, 0x18000, 0, 0) == -0x8000
    # u64 + int -> int: (long)a + b + c + d cut to 32 bits
    assert k.call("bpf_fentry_test4", 0xFFFFFFFF00000005, 0, 0, 0) == 5
    assert k.call("bpf_fentry_test2", 1, (1 << 64) - 2) == -1
    # the u32 return of test9 is unsigned
    buf = k.kobjects.alloc_bytes((0xFFFFFFFF).to_bytes(4, "little"))
    assert k.call("bpf_fentry_test9", buf) == 0xFFFFFFFF


def test_pointer_bodies_use_kernel_memory(k):
    t = k.kobjects.new("struct bpf_fentry_test_t")
    assert k.call("bpf_fentry_test8", t) == 0
    t.a = 0x1234
    assert k.call("bpf_fentry_test8", t) == 0x1234
    assert k.call("bpf_fentry_test7", t) == s32(t.addr)
    with pytest.raises(MemoryFault):
        k.call("bpf_fentry_test8", 0)                          # NULL dereference: an oops


def test_modify_return_bodies(k):
    b = k.kobjects.alloc_bytes((2).to_bytes(4, "little"))
    assert k.call("bpf_modify_return_test", 1, b) == 4
    assert k.mem.load(b, 4) == 3
    k.mem.store(b, 4, 2)
    assert k.call("bpf_modify_return_test2", 1, b, 3, 4, 5, 6, 7) == 29
    assert k.mem.load(b, 4) == 3


# -- the catalog -----------------------------------------------------------------------------------

def test_catalog_bodies_match_btf(k):
    fc = k.functions
    names = fc.with_body()
    assert len(names) >= 50
    for name in names:
        fn = fc[name]
        nparams = len(inspect.signature(fn.body).parameters) - 1
        assert nparams == fn.nr_args, name
        if fn.btf_id:
            assert k.btf.name_of(fn.btf_id) == name
    for name in ("tcp_retransmit_skb", "__tcp_retransmit_skb", "eth_type_trans", "do_unlinkat",
                 "vfs_read", "vfs_write", "vfs_open", "do_sys_openat2", "sk_skb_reason_drop",
                 "__x64_sys_getpid", "tcp_sendmsg", "tcp_v4_connect", "ip_rcv", "__netif_receive_skb",
                 "dev_queue_xmit", "schedule", "wake_up_process", "kernel_clone", "do_exit",
                 "security_file_open", "getname_flags", "putname", "kfree", "__kmalloc_noprof"):
        assert name in names, name
    with pytest.raises(KeyError):
        fc["no_such_function"]


def test_kallsyms(k):
    fc = k.functions
    seen = set()
    for name in ("eth_type_trans", "vfs_read", "bpf_fentry_test1", "__x64_sys_getpid"):
        fn = fc[name]
        assert fn.addr % 16 == 0 and fn.addr >= kallsyms.KERNEL_TEXT_BASE["x86_64"]
        assert fn.addr not in seen
        seen.add(fn.addr)
        assert fc.lookup_addr(fn.addr + 9) == (name, 9)
        assert fc.kallsyms_lookup_name(name) == fn.addr
        assert k.subsys["kallsyms"](fn.addr) == (name, 0, kallsyms.FUNC_SLOT)
    assert fc.lookup_addr(0x1000) is None
    # the modelled entry: ENDBR64 then the 5-byte nop ftrace patches
    assert fc["vfs_read"].entry_text() == bytes.fromhex("f30f1efa0f1f440000")


def test_attach_flags(k):
    fc = k.functions
    assert fc["bpf_modify_return_test"].fmod_ret_allowed
    assert fc["bpf_modify_return_test2"].fmod_ret_allowed
    assert fc["security_file_open"].fmod_ret_allowed          # the security_ prefix
    assert fc["__x64_sys_openat"].fmod_ret_allowed            # ALLOW_ERROR_INJECTION
    assert not fc["eth_type_trans"].fmod_ret_allowed
    assert fc["bpf_fentry_test1"].sleepable_allowed           # KF_SLEEPABLE in the fmodret set
    assert fc["__x64_sys_openat"].sleepable_allowed
    assert not fc["bpf_modify_return_test"].sleepable_allowed
    assert not fc["vfs_read"].sleepable_allowed
    assert fc["do_exit"].flags & fc["do_exit"].flags.KFUNC_F_NORETURN
    assert fc["migrate_disable"].flags & fc["migrate_disable"].flags.KFUNC_F_DENY
    assert not fc["__x64_sys_getpid"].attachable               # no BTF: kallsyms only
    assert fc["__x64_sys_getpid"](0) == k.current().tgid


def test_arguments_conversion(k):
    ko = k.kobjects
    dev = ko.netdev("eth0")
    skb = ko.alloc_skb(bytes(14))
    assert k.call("eth_type_trans", skb, dev) == 0x0400       # KObject arguments
    fnm = k.call("getname_flags", "/tmp/abc", 0)               # str -> a kernel string
    assert ko.view(fnm, "struct filename").str("name") == "/tmp/abc"
    assert k.call("bpf_fentry_test7", None) == 0
    with pytest.raises(TypeError):
        k.call("bpf_fentry_test1", 1, 2)
    with pytest.raises(TypeError):
        k.call("bpf_fentry_test1", "x")


def test_default_body_and_ret_override(k):
    fc = k.functions
    assert k.call("security_socket_connect", 0, 0, 16) == 0    # no body: returns ret_value (0)
    assert k.call("vfs_read", 0, 0, 0, 0, ret=-5) == -5        # ret= skips the body once
    assert k.call("bpf_fentry_test1", 1, ret=7) == 7
    assert k.call("bpf_fentry_test1", 1) == 2
    fn = fc["bpf_fentry_test1"]
    fn.set_return(0x1FFFFFFFF)
    try:
        assert k.call("bpf_fentry_test1", 1) == -1            # cut to int
    finally:
        fn.set_body(None)
    assert k.call("bpf_fentry_test1", 1) == 2


def test_struct_by_value_and_distill_rejects():
    b = btf_from_c("""
        struct pair { long a; long b; };
        struct big { long a[3]; };
        long take_pair(struct pair p, int x);
        struct pair ret_pair(int x);
        int many(int a, int b, int c, int d, int e, int f, int g);
    """)
    k = Kernel(btf=b)
    fn = k.functions["take_pair"]
    assert fn.model.arg_size == (16, 4) and fn.attachable
    fn.set_body(lambda kk, p, x: int.from_bytes(p[:8], "little") + int.from_bytes(p[8:], "little") + x)
    pair = (5).to_bytes(8, "little") + (6).to_bytes(8, "little")
    assert k.call("take_pair", pair, 1) == 12
    bad = k.functions["ret_pair"]                               # struct return: distill refuses
    assert bad.model is None and bad.model_error.errno == 22 and not bad.attachable
    assert k.call("ret_pair", 1) == b"\0" * 16                  # callable all the same
    k55 = Kernel(btf=b, profile="5.5")
    assert k55.functions["many"].model is None and k55.functions["many"].model_error.errno == 524


@pytest.mark.skipif(not VMLINUX.exists(), reason="no vmlinux BTF fixture")
def test_every_vmlinux_func_is_callable():
    k = Kernel(btf=str(VMLINUX))
    fn = k.functions["tcp_v4_do_rcv"]                          # no simulated body
    assert fn.default_body and fn.attachable
    assert k.call("tcp_v4_do_rcv", 0, 0) == 0
    fn.set_return(7)
    assert k.call("tcp_v4_do_rcv", 0, 0) == 7
    assert k.call("tcp_v4_do_rcv", 0, 0, ret=-22) == -22
    assert k.call("eth_type_trans", k.kobjects.alloc_skb(bytes(12) + b"\x86\xdd" + bytes(40)),
                  k.kobjects.netdev("eth0")) == 0xDD86


# -- native codecs: exactly callconv --------------------------------------------------------------

@pytest.mark.parametrize("arch", ["x86_64", "arm64", "i386", "riscv64", "s390x"])
def test_native_codec_equals_callconv(k, arch):
    import random
    rnd = random.Random(arch)
    for name in k.functions.with_body():
        fn = k.functions[name]
        if fn.model is None:
            continue
        enc, dec = make_codec(fn.model, arch)
        for _ in range(3):
            args = [rnd.randrange(-(1 << 63), 1 << 64) for _ in range(fn.nr_args)]
            cargs = fn.c_args(args)
            garbage = rnd.randrange(1 << 64)
            a, b = enc(cargs, garbage), encode_call(fn.model, arch, cargs, garbage)
            assert (a.regs, a.stack) == (b.regs, b.stack), name
            assert dec(a.regs, a.stack, a.memory) == decode_call(fn.model, arch, a.regs, a.stack, a.memory)
            assert dec(a.regs, a.stack, a.memory) == cargs
            # the fused hot-path forms (native.make_call_path) agree with callconv too
            got = []
            encode_raw, orig = make_call_path(fn.model, arch, lambda c: got.append(c) or 0x1234)
            regs, stack, memory = encode_raw(cargs, garbage)
            assert (regs, stack) == (b.regs, b.stack), name
            assert orig(regs, stack, memory) == encode_ret(fn.model, arch, 0x1234) and got == [cargs]


# -- eth_type_trans (net/ethernet/eth.c) ------------------------------------------------------

def _frame(dst: bytes, proto: bytes, payload: bytes = bytes(46)) -> bytes:
    return dst + bytes.fromhex("020000000001") + proto + payload


@pytest.mark.parametrize("dst,proto,payload,want,pkt_type", [
    (bytes.fromhex("525400123456"), b"\x08\x00", bytes(46), 0x0008, 0),      # host, IPv4
    (b"\xff" * 6, b"\x08\x06", bytes(46), 0x0608, 1),                           # broadcast ARP
    (bytes.fromhex("01005e000001"), b"\x08\x00", bytes(46), 0x0008, 2),         # multicast
    (bytes.fromhex("525400999999"), b"\x86\xdd", bytes(46), 0xDD86, 3),         # other host
    (bytes.fromhex("525400123456"), b"\x00\x2e", b"\xff\xff" + bytes(44), 0x0100, 0),  # IPX hack
    (bytes.fromhex("525400123456"), b"\x00\x2e", b"\xaa\xaa" + bytes(44), 0x0400, 0),  # 802.2 LLC
])
def test_eth_type_trans(k, dst, proto, payload, want, pkt_type):
    ko = k.kobjects
    dev = ko.netdev("eth0")
    skb = ko.alloc_skb(_frame(dst, proto, payload))
    data = skb.data
    assert k.call("eth_type_trans", skb, dev) == want
    assert skb.pkt_type == pkt_type
    assert skb.dev == dev.addr
    assert skb.len == len(payload) and skb.data == data + 14
    assert skb.mac_header == data - skb.head


def test_receive_path_nested_calls(k):
    ko = k.kobjects
    dev = ko.netdev("eth0")
    sk = ko.tcp_sock("10.0.0.2", 80, "10.0.0.1", 40000)
    ip = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    skb = ko.alloc_skb(_frame(bytes.fromhex("525400123456"), b"\x08\x00", ip + bytes(20)), sk=sk)
    skb.protocol = k.call("eth_type_trans", skb, dev)
    before = {n: k.functions[n].nr_calls for n in ("ip_rcv", "ip_local_deliver", "tcp_v4_rcv", "consume_skb")}
    assert k.call("netif_receive_skb", skb) == 0
    for n, c in before.items():
        assert k.functions[n].nr_calls == c + 1, n
    assert sk.bytes_received == 20


def test_fs_chain_and_security_override(k):
    ko = k.kobjects
    task = k.current()
    ko.lookup("/etc/hostname", create=True, data=b"sim\n")
    how = ko.new("struct open_how")
    fd = k.call("do_sys_openat2", -100, "/etc/hostname", how)
    assert fd >= 3
    buf = task.mm.alloc(16, "buf", kind="user").start
    assert k.call("ksys_read", fd, buf, 16) == 4 and task.mm.read(buf, 4) == b"sim\n"
    assert k.call("ksys_read", fd, buf, 16) == 0                      # at EOF
    assert k.call("do_sys_openat2", -100, "/missing", how) == -2
    k.functions["security_file_open"].set_return(-13)
    try:
        assert k.call("do_sys_openat2", -100, "/etc/hostname", how) == -13
    finally:
        k.functions["security_file_open"].set_body(None)
    assert k.call("do_unlinkat", -100, k.call("getname_flags", "/etc/hostname", 0)) == 0
    assert ko.lookup("/etc/hostname") is None
    assert k.call("do_unlinkat", -100, k.call("getname_flags", "/etc/hostname", 0)) == -2


def test_sched_and_mm(k):
    parent = k.current()
    pid = k.call("kernel_clone", 0)
    child = k.tasks[pid]
    assert child.parent is parent
    ts = k.kobjects.task_struct(child)
    assert ts.real_parent == k.kobjects.task_struct(parent).addr
    ts.set("__state", 1)
    assert k.call("wake_up_process", ts) == 1 and ts.get("__state") == 0
    assert k.call("wake_up_process", ts) == 0
    p = k.call("__kmalloc_noprof", 100, 0)
    k.mem.store(p, 8, 42)
    k.call("kfree", p)
    with pytest.raises(MemoryFault):
        k.mem.load(p, 8)
    assert k.call("__kmalloc_noprof", 0, 0) == 16


def test_virtual_time(k):
    t0 = k.clock.ns
    k.call("bpf_fentry_test1", 1)
    assert k.clock.ns - t0 == FUNC_COST_NS


def test_ftrace_ops_order_and_override(k):
    fn = k.functions["bpf_fentry_test2"]
    events = []
    ops = FtraceOps(func=lambda c: events.append(("entry", list(c.args), c.regs[:2], c.ip)),
                    ret_func=lambda c, r: events.append(("ret", r)), name="kprobe")
    register_ftrace_function(fn, ops)
    try:
        assert k.call("bpf_fentry_test2", 2, 3) == 5
        assert events == [("entry", [2, 3], [2, 3], fn.addr), ("ret", 5)]
        events.clear()
        ops2 = FtraceOps(func=lambda c: c.override_return(-22), name="override")
        register_ftrace_function(fn, ops2)
        calls = fn.nr_calls
        assert k.call("bpf_fentry_test2", 2, 3) == -22
        assert fn.nr_calls == calls                                  # the body was skipped
        assert events == [("entry", [2, 3], [2, 3], fn.addr), ("ret", -22)]
        unregister_ftrace_function(fn, ops2)
    finally:
        unregister_ftrace_function(fn, ops)
    assert fn.ftrace_ops == []
