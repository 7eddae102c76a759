"""kprobes and kretprobes: pt_regs per architecture read by clang-compiled programs with libbpf's
bpf_tracing.h (PT_REGS_PARM1..5, PT_REGS_RC, PT_REGS_IP, PT_REGS_SP), attached the way libbpf
attaches them (kprobe PMU perf_event_open + perf link, through the object loader), ip rules,
bpf_get_func_ip, stack, the order against fentry/fexit, override_return, refusals, link info."""

import errno
import struct
from pathlib import Path

import pytest

from kernelsim import Kernel
from kernelsim.tracing import kstack
from kernelsim.tracing.kprobes import KPROBE_IP_OFFSET
from kernelsim.tracing.pt_regs import PT_REGS, read_field
from kernelsim.uapi import PERF_PMU_TYPE_KPROBE, BpfAttachType as AT
from syscall.object import find_clang
from tests.kernelsim.tracing.tp_support import KPROBE, TRACING, Tracer, store_r6
from trampoline import encode_call

PROG = Path(__file__).parent / "progs" / "kprobe_regs.bpf.c"
needs_clang = pytest.mark.skipif(find_clang() is None, reason="clang not found")


@needs_clang
@pytest.mark.parametrize("arch", ["x86_64", "arm64", "riscv64", "s390x"])
def test_libbpf_pt_regs_macros(arch):
    """BPF_KPROBE's arguments are the calling convention's argument registers; PT_REGS_IP is
    func+5 on x86-64 (ftrace site + int3), func elsewhere; bpf_get_func_ip is the function;
    PT_REGS_SP points at the return address; a kretprobe sees the return value and returns to
    the caller."""
    k = Kernel(arch=arch)
    t = k.spawn(comm="loader", cpu=0)
    obj = t.load_object(PROG)
    obj.attach()
    fn = k.functions["bpf_fentry_test5"]
    caller = k.functions["bpf_prog_test_run_tracing"] if "bpf_prog_test_run_tracing" in k.functions \
        else k.functions["do_sys_openat2"]
    kstack.push_frame(k, caller.addr)
    try:
        assert k.call(fn, 11, 12, -13, 14, 15) == 39
    finally:
        kstack.pop_frame(k)
    b = obj.bss
    regs = encode_call(fn.model, arch, [11, 12, -13, 14, 15]).regs
    assert b.args == regs[:5]
    assert b.args[2] == (0xFFF3 if arch in ("x86_64", "arm64") else 2**64 - 13)
    assert b.ip == fn.addr + KPROBE_IP_OFFSET[arch]
    assert b.func_ip == b.ret_func_ip == fn.addr
    assert b.sp_word == caller.addr + kstack.RET_SITE
    assert b.ret == 39 and b.ret_ip == caller.addr + kstack.RET_SITE
    assert (b.hits, b.ret_hits) == (1, 1)


def store(m, key, value_insns):
    return value_insns + "\n" + store_r6(m, key)


def test_stack_arguments_and_pt_regs_image(T):
    """x86-64: the 7th argument of bpf_modify_return_test2 is on the stack at sp+8."""
    m = T.array(4)
    p = T.load(KPROBE, store(m, 0, "r6 = r1\nr7 = *(u64 *)(r1 +152)\nr1 = r10\nr1 += -24\n"
                                   "r2 = 8\nr3 = r7\nr3 += 8\ncall bpf_probe_read_kernel\n"
                                   "r6 = *(u64 *)(r10 -24)"))
    assert T.attach_perf(p, T.kprobe_event("bpf_modify_return_test2")) >= 0
    b = T.kernel.kobjects.alloc_bytes(struct.pack("<i", 2))
    assert T.kernel.call("bpf_modify_return_test2", 1, b, 3, 4, 5, 6, 7) == 29
    assert T.u64(m) == 7
    lay = PT_REGS["x86_64"]
    assert lay.size == 168 and lay.offset("di") == 112 and lay.offset("ip") == 128


def test_order_against_fentry_fexit(T):
    """kprobe before fentry, kretprobe after fexit (ftrace ops around the trampoline)."""
    m = T.array(4)
    stamp = "call bpf_ktime_get_ns\nr6 = r0"
    fid = T.btf_id("bpf_fentry_test1", "func")
    fentry = T.load(TRACING, store(m, 1, stamp), eat=AT.BPF_TRACE_FENTRY, attach_btf_id=fid)
    fexit = T.load(TRACING, store(m, 2, stamp), eat=AT.BPF_TRACE_FEXIT, attach_btf_id=fid)
    kp = T.load(KPROBE, store(m, 0, stamp))
    krp = T.load(KPROBE, store(m, 3, stamp))
    assert T.link(fentry, 0, AT.BPF_TRACE_FENTRY) >= 0 and T.link(fexit, 0, AT.BPF_TRACE_FEXIT) >= 0
    assert T.attach_perf(kp, T.kprobe_event("bpf_fentry_test1")) >= 0
    assert T.attach_perf(krp, T.kprobe_event("bpf_fentry_test1", retprobe=True)) >= 0
    assert T.kernel.call("bpf_fentry_test1", 1) == 2
    stamps = [T.u64(m, i) for i in range(4)]
    assert all(stamps) and stamps == sorted(stamps)


def test_override_return(T):
    """bpf_override_return on an error-injectable function (a syscall wrapper) skips it; other
    functions refuse such a program at attach."""
    p = T.load(KPROBE, "r2 = -12\ncall bpf_override_return\nr0 = 0\nexit")
    assert T.set_bpf(T.kprobe_event("do_sys_openat2"), p) == -errno.EINVAL
    assert T.set_bpf(T.kprobe_event("__x64_sys_openat"), p) == 0
    inner = T.kernel.functions["do_sys_openat2"]
    before = inner.nr_calls
    assert T.kernel.syscall(T.task, "openat", -100, "/tmp/f", 0o100, 0o644) == -12
    assert inner.nr_calls == before
    tp = T.load(2, "r2 = -12\ncall bpf_override_return\nr0 = 0\nexit")
    assert T.set_bpf(T.tp_event("sched/sched_wakeup"), tp) == -errno.EINVAL


def test_kprobe_pmu_refusals_and_sysfs(T):
    fs = T.kernel.tracefs
    assert fs.read("/sys/bus/event_source/devices/kprobe/type") == f"{PERF_PMU_TYPE_KPROBE}\n"
    assert fs.read("/sys/bus/event_source/devices/kprobe/format/retprobe") == "config:0\n"
    assert T.perf_open(T.kprobe_attr("no_such_function")) == -errno.ENOENT
    assert T.perf_open(T.kprobe_attr("do_sys_openat2", offset=8)) == -errno.EINVAL
    assert T.perf_open(T.kprobe_attr(None)) == -errno.EINVAL
    assert T.perf_open(T.kprobe_attr("trace_call_bpf")) in (-errno.EINVAL, -errno.ENOENT)
    fn = T.kernel.functions["do_sys_openat2"]
    assert T.perf_open(T.kprobe_attr(None, addr=fn.addr)) >= 0
    assert T.perf_open(T.kprobe_attr("", addr=fn.addr + 1)) == -errno.EINVAL
    user = T.kernel.spawn(comm="user", uid=1000)
    T.kernel.sysctl["kernel.perf_event_paranoid"] = -1
    assert user.perf_event_open(T.kprobe_attr("do_sys_openat2"), -1, 0, -1, 0) == -errno.EACCES
    attr = T.kprobe_attr("do_sys_openat2")
    attr.config1 = 8                                  # an unmapped user pointer
    assert T.perf_open(attr) == -errno.EFAULT
    import ctypes
    long_name = ctypes.create_string_buffer(b"x" * 600)
    attr.config1 = ctypes.addressof(long_name)
    assert T.perf_open(attr) == -errno.E2BIG


def test_kprobe_link_info_and_cookie(T):
    m = T.array(1)
    p = T.load(KPROBE, store(m, 0, "call bpf_get_attach_cookie\nr6 = r0"))
    lfd = T.attach_perf(p, T.kprobe_event("vfs_read", retprobe=False), cookie=0xC0FFEE)
    r = T.load(KPROBE, "r0 = 0\nexit")
    rfd = T.attach_perf(r, T.kprobe_event("vfs_read", retprobe=True))
    import ctypes
    buf = ctypes.create_string_buffer(16)

    def fill(info):
        info.perf_event.kprobe.func_name = ctypes.addressof(buf)
        info.perf_event.kprobe.name_len = 16
    ret, info = T.link_info_raw(lfd, fill)
    k = info.perf_event.kprobe
    assert ret == 0 and info.perf_event.type == 3 and buf.value == b"vfs_read"
    assert (k.name_len, k.offset, k.addr, k.cookie) == (9, 0, 0, 0xC0FFEE)
    ret, info = T.link_info_raw(rfd)
    assert ret == 0 and info.perf_event.type == 4 and info.perf_event.kprobe.name_len == 9
    f = T.kernel.kobjects.open_file("/etc/motd")
    T.kernel.call("vfs_read", f, 0, 0, 0)
    assert T.u64(m) == 0xC0FFEE


def test_i386_pt_regs_from_regparm(T):
    """i386 (-mregparm=3): PARM1..3 are ax, dx, cx (a u64 third argument does not fit in ecx
    alone and goes on the stack); ip is func+1."""
    k = Kernel(arch="i386")
    t = Tracer(kernel=k)
    m = t.array(4)
    p = t.load(KPROBE, "\n".join(
        [f"r{6 + i} = *(u32 *)(r1 +{off})" for i, off in enumerate((24, 8, 4))]
        + ["*(u64 *)(r10 -16) = r6", "*(u64 *)(r10 -24) = r7", "*(u64 *)(r10 -32) = r8"]
        + sum(([f"r1 = map_fd({m})", f"*(u32 *)(r10 -4) = {i}", "r2 = r10", "r2 += -4",
                "call bpf_map_lookup_elem", f"if r0 == 0 goto l{i}",
                f"r6 = *(u64 *)(r10 -{16 + 8 * i})", "*(u64 *)(r0 +0) = r6", f"l{i}:"]
               for i in range(3)), []) + ["r0 = 0", "exit"]))
    assert t.attach_perf(p, t.kprobe_event("bpf_fentry_test3")) >= 0
    assert k.call("bpf_fentry_test3", 4, 5, 6) == 15
    fn = k.functions["bpf_fentry_test3"]
    assert [t.u64(m, i) for i in range(3)] == [4, 5, 0] == encode_call(fn.model, "i386", [4, 5, 6]).regs
    assert PT_REGS["i386"].size == 68
    image = k.mem.read(__import__("kernelsim.tracing.tracepoints", fromlist=["x"]).percpu_buffer(
        k, 0, "kprobe pt_regs", 68, 0), 68)
    assert read_field("i386", image, "ip") == (k.functions["bpf_fentry_test3"].addr + 1) & 0xFFFFFFFF


def test_stackid_sees_the_kernel_call_stack(T):
    """bpf_get_stackid from a kprobe: the probed ip, then the return addresses of the nested
    kernel.call frames and of the syscall entry."""
    sm = T.map(7, 4, 8 * 8, 16)                            # BPF_MAP_TYPE_STACK_TRACE
    m = T.array(1)
    p = T.load(KPROBE, store(m, 0, f"r9 = r1\nr1 = r9\nr2 = map_fd({sm})\nr3 = 0\n"
                                   "call bpf_get_stackid\nr6 = r0"))
    T.attach_perf(p, T.kprobe_event("do_unlinkat"))
    T.kernel.syscall(T.task, "unlinkat", -100, "/none", 0)
    sid = T.u64(m)
    assert sid < 16
    ret, val = T.lookup(sm, sid.to_bytes(4, "little"), 64)
    ips = [ip for ip in struct.unpack("<8Q", val) if ip]
    fn = T.kernel.functions
    assert ips == [fn["do_unlinkat"].addr + 5, fn["__x64_sys_unlinkat"].addr + kstack.RET_SITE,
                   fn["do_syscall_64"].addr + kstack.RET_SITE]
