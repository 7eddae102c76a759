"""kprobe_multi links (BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI): symbols or addresses from
user memory, cookies sorted with the addresses, bpf_get_func_ip, return probes, link info and
the refusals. (The oracle machine has no CONFIG_FPROBE: EOPNOTSUPP there, so no realkernel
comparison.)"""

import ctypes
import errno

from kernelsim import Kernel
from kernelsim.uapi import BpfAttachType as AT
from tests.kernelsim.tracing.tp_support import KPROBE, Tracer, store_r6, store_stack

MULTI = AT.BPF_TRACE_KPROBE_MULTI
FUNCS = ["vfs_write", "do_sys_openat2", "vfs_read"]

# map[cookie] = bpf_get_func_ip(ctx)
COOKIE_IP = ("r9 = r1\ncall bpf_get_attach_cookie\n*(u32 *)(r10 -4) = r0\nr1 = r9\n"
             "call bpf_get_func_ip\n*(u64 *)(r10 -16) = r0\n" + store_stack("{m}", 16, key=None)
             + "r0 = 0\nexit\n")

# map[0] = PT_REGS_RC(ctx) (x86-64 ax at 80)
RC = "r6 = *(u64 *)(r1 +80)\n" + store_r6("{m}")


def multi(T, prog_fd, **kw):
    return T.link(prog_fd, 0, MULTI, **kw)


def test_symbols_cookies_and_func_ip(T):
    m = T.array(8)
    p = T.load(KPROBE, COOKIE_IP.format(m=m), eat=MULTI)
    lfd = multi(T, p, kprobe_syms=FUNCS, kprobe_cookies=[1, 2, 3])
    assert lfd >= 0
    ko = T.kernel.kobjects
    f = ko.open_file("/etc/x", flags=2)
    T.kernel.call("vfs_read", f, 0, 0, 0)
    T.kernel.call("vfs_write", f, 0, 0, 0)
    fn = T.kernel.functions
    assert T.u64(m, 3) == fn["vfs_read"].addr and T.u64(m, 1) == fn["vfs_write"].addr
    assert T.u64(m, 2) == 0
    T.kernel.syscall(T.task, "openat", -100, "/etc/x", 0, 0)
    assert T.u64(m, 2) == fn["do_sys_openat2"].addr
    T.task.close(lfd)
    assert all(not any(o.name == "fprobe" for o in fn[n].ftrace_ops) for n in FUNCS)


def test_addresses_return_probe_and_link_info(T):
    m = T.array(1)
    p = T.load(KPROBE, RC.format(m=m), eat=MULTI)
    fn = T.kernel.functions
    addrs = [fn[n].addr for n in FUNCS]
    lfd = multi(T, p, kprobe_addrs=addrs, kprobe_cookies=[7, 8, 9], kprobe_flags=1)
    assert lfd >= 0
    assert T.kernel.call("bpf_fentry_test1", 1) == 2          # not probed
    T.kernel.syscall(T.task, "openat", -100, "/nonexistent", 0, 0)
    assert T.u64(m) == (-errno.ENOENT) & 0xFFFFFFFF        # int in eax (zero-extended to rax)
    order = sorted(range(3), key=lambda i: addrs[i])
    a_buf = (ctypes.c_uint64 * 3)()
    c_buf = (ctypes.c_uint64 * 3)()

    def fill(count):
        def f(info):
            info.kprobe_multi.addrs = ctypes.addressof(a_buf)
            info.kprobe_multi.cookies = ctypes.addressof(c_buf)
            info.kprobe_multi.count = count
        return f
    ret, info = T.link_info_raw(lfd, fill(3))
    assert ret == 0 and info.type == 8
    assert (info.kprobe_multi.count, info.kprobe_multi.flags) == (3, 1)
    assert list(a_buf) == [addrs[i] for i in order] and list(c_buf) == [[7, 8, 9][i] for i in order]
    ret, _ = T.link_info_raw(lfd, fill(2))
    assert ret == -errno.ENOSPC
    ret, _ = T.link_info_raw(lfd, lambda i: setattr(i.kprobe_multi, "count", 3))
    assert ret == -errno.EINVAL
    ret, info = T.link_info_raw(lfd)
    assert ret == 0 and info.kprobe_multi.count == 3
    link = T.task.files.get(lfd).obj
    assert link.show_fdinfo().startswith("kprobe_cnt:\t3\nmissed:\t0\n")


def test_refusals(T):
    p = T.load(KPROBE, "r0 = 0\nexit", eat=MULTI)
    plain = T.load(KPROBE, "r0 = 0\nexit")
    assert multi(T, p) == -errno.EINVAL                                   # neither syms nor addrs
    assert multi(T, p, kprobe_syms=["vfs_read"], kprobe_addrs=[1]) == -errno.EINVAL
    assert multi(T, p, kprobe_syms=["no_such_function_x"]) == -errno.ENOENT
    assert multi(T, p, kprobe_syms=["vfs_read"], kprobe_flags=2) == -errno.EINVAL
    assert multi(T, p, kprobe_syms=["vfs_read"], flags=1) == -errno.EINVAL
    assert multi(T, plain, kprobe_syms=["vfs_read"]) == -errno.EINVAL     # not loaded as multi
    assert T.attach_perf(p, T.kprobe_event("vfs_read")) == -errno.EINVAL  # multi prog, perf link
    assert multi(T, p, kprobe_syms=["x" * 600]) == -errno.E2BIG
    assert multi(T, p, kprobe_addrs=[T.kernel.functions["vfs_read"].addr + 4]) == -errno.EINVAL
    ov = T.load(KPROBE, "r2 = -1\ncall bpf_override_return\nr0 = 0\nexit", eat=MULTI)
    assert multi(T, ov, kprobe_syms=["vfs_read"]) == -errno.EINVAL
    assert multi(T, ov, kprobe_syms=["__x64_sys_read"]) >= 0
    t32 = Tracer(kernel=Kernel(arch="i386"))
    q = t32.load(KPROBE, "r0 = 0\nexit", eat=MULTI)
    assert multi(t32, q, kprobe_syms=["vfs_read"]) == -errno.EOPNOTSUPP
