"""kernel/trace/bpf_trace.c helpers: probe reads/writes, trace_printk (cases checked against
Linux 6.18.44), the task_struct, the trampoline ctx helpers, stacks, perf output, signals."""

import errno

import pytest
from helper_support import make_kernel, make_prog, make_run

from kernelsim.errors import BpfError
from kernelsim.helpers import trace as t
from kernelsim.helpers.common import U64_MASK
from kernelsim.maps.map import BpfMap, MapCreateAttr
from kernelsim.maps.ops import BpfMapOps
from kernelsim.trace_pipe import trace_buffer
from kernelsim.uapi import BpfAttachType as AT, BpfMapType, BpfProgType as PT


@pytest.fixture
def env():
    kernel, task = make_kernel()
    run = make_run(kernel, make_prog(kernel))
    buf = kernel.mem.alloc(4096, "test stack", kind="stack")
    return kernel, task, run, buf


def test_probe_read_kernel_and_user(env):
    kernel, task, run, buf = env
    obj = kernel.mem.alloc(32, "object", writable=False, data=b"kernel-data\0")
    user = task.mm.alloc(32, "user", kind="user", data=b"user-data\0")
    dst = buf.start
    assert t.bpf_probe_read_kernel(run, dst, 6, obj.start) == 0
    assert kernel.mem.read(dst, 6) == b"kernel"
    assert t.bpf_probe_read_user(run, dst, 4, user.start) == 0
    assert kernel.mem.read(dst, 4) == b"user"
    kernel.mem.write(dst, b"\xaa" * 8)
    assert t.bpf_probe_read_kernel(run, dst, 8, obj.end + 8) == -errno.EFAULT     # guard page
    assert kernel.mem.read(dst, 8) == bytes(8)                                     # zero-filled
    assert t.bpf_probe_read_kernel(run, dst, 8, user.start) == -errno.ERANGE       # x86: user addr
    assert t.bpf_probe_read_user(run, dst, 8, obj.start) == -errno.EFAULT          # kernel addr
    assert t.bpf_probe_read_kernel(run, dst, 0, 0) == 0
    assert t.bpf_probe_read_compat(run, dst, 4, user.start) == 0 and kernel.mem.read(dst, 4) == b"user"
    assert t.bpf_probe_read_compat(run, dst, 6, obj.start) == 0 and kernel.mem.read(dst, 6) == b"kernel"


def test_probe_read_kernel_on_arm64_faults_instead_of_erange():
    kernel, task = make_kernel(arch="arm64")
    run = make_run(kernel)
    dst = kernel.mem.alloc(64, "dst").start
    user = task.mm.alloc(16, "u", data=b"x" * 16)
    assert t.bpf_probe_read_kernel(run, dst, 8, user.start) == -errno.EFAULT


def test_probe_read_str(env):
    kernel, task, run, buf = env
    obj = kernel.mem.alloc(16, "s", data=b"hello\0junk")
    user = task.mm.alloc(16, "u", data=b"abcdefgh")          # no NUL before the region's zeroes
    dst = buf.start
    assert t.bpf_probe_read_kernel_str(run, dst, 16, obj.start) == 6
    assert kernel.mem.read(dst, 6) == b"hello\0"
    assert t.bpf_probe_read_kernel_str(run, dst, 4, obj.start) == 4              # truncated
    assert kernel.mem.read(dst, 4) == b"hel\0"
    assert t.bpf_probe_read_user_str(run, dst, 32, user.start) == 9
    assert t.bpf_probe_read_user_str(run, dst, 0, user.start) == 0
    tail = kernel.mem.alloc(4, "tail", data=b"abcd")       # string runs into the guard page
    kernel.mem.write(dst, b"\xff" * 16)
    assert t.bpf_probe_read_kernel_str(run, dst, 16, tail.start) == -errno.EFAULT
    assert kernel.mem.read(dst, 16) == bytes(16)
    assert t.bpf_probe_read_compat_str(run, dst, 16, user.start) == 9


def test_probe_write_user_and_copy_from_user(env):
    kernel, task, run, buf = env
    user = task.mm.alloc(16, "u")
    kernel.mem.write(buf.start, b"written!")
    assert t.bpf_probe_write_user(run, user.start, buf.start, 8) == 0
    assert task.mm.read(user.start, 8) == b"written!"
    assert t.bpf_probe_write_user(run, buf.start, buf.start, 8) == -errno.EFAULT
    assert t.bpf_probe_write_user(make_run(kernel, task=None), user.start, buf.start, 8) == -errno.EPERM
    assert t.bpf_copy_from_user(run, buf.start + 64, 8, user.start) == 0
    assert kernel.mem.read(buf.start + 64, 8) == b"written!"
    assert t.bpf_copy_from_user(run, buf.start + 64, 8, 0x1000) == -errno.EFAULT
    assert kernel.mem.read(buf.start + 64, 8) == bytes(8)
    task_addr = t.task_struct_addr(kernel, task)
    assert t.bpf_copy_from_user_task(run, buf.start, 8, user.start, task_addr, 0) == 0
    assert kernel.mem.read(buf.start, 8) == b"written!"
    assert t.bpf_copy_from_user_task(run, buf.start, 8, user.start, task_addr, 1) == -errno.EINVAL


def printk(env, fmt: bytes, args=(), size=None):
    kernel, _, run, buf = env
    kernel.mem.write(buf.start, fmt + b"\0")
    regs = list(args) + [0] * (3 - len(args))
    trace_buffer(kernel).clear()
    ret = t.bpf_trace_printk(run, buf.start, len(fmt) + 1 if size is None else size, *regs)
    lines = trace_buffer(kernel).entries()
    return ret, (lines[0].text.split(b"\0")[0] if lines else None)


# (format, args, return value, printed text) — each checked on Linux 6.18.44
PRINTK_CASES = [
    (b"hi %d\n", [42], 6, b"hi 42\n"),
    (b"no newline %u", [7], 12, b"no newline 7"),
    (b"%5d|%-5d|%05d", [42, 42, 42], 17, b"   42|42   |00042"),
    (b"%+d|% d|%x", [42, 42, -1], 16, b"+42| 42|ffffffff"),
    (b"%X|%llx|%c", [0xABC, -1, 65], 22, b"ABC|ffffffffffffffff|A"),
    (b"%s|%%|%%d", [0], 5, b"|%|%d"),
    (b"%-8s|", [0], 9, b"        |"),
    (b"%pks|", [0], 1, b"|"),
    (b"%u", [-1], 10, b"4294967295"),
    (b"%lld", [2**63], 20, b"-9223372036854775808"),
    (b"%llX", [0xDEADBEEF], 8, b"DEADBEEF"),
    (b"%c%c%c", [0x41, 0x142, 0], 3, b"AB"),
    (b"%05x|%-3c|", [0xAB, 66], 10, b"000ab|B  |"),
    (b"%lli", [-7], 2, b"-7"),
    (b"%i", [-9], 2, b"-9"),
    (b"%ld %li %lx", [-1, -2, -3], 22, b"-1 -2 fffffffffffffffd"),
    (b"%lu %d", [2**64 - 1, 2**32 + 5], 22, b"18446744073709551615 5"),
    (b"%pI4", [0], 7, b"0.0.0.0"),
    (b"%p|%pK|%px", [0, 0, 0], 50, b"0000000000000000|0000000000000000|0000000000000000"),
    (b"%pB", [0], 3, b"0x0"),
    (b"two\nlines\n", [], 10, b"two\nlines\n"),
]
PRINTK_EINVAL = [b"x=%x X=%X lld=%lld llu=%llu", b"%d %d %d %d", b"end %", b"%d%", b"%hd", b"%zu",
                 b"%.2d", b"\x01bad", b"%q", b"%#x", b"%sx"]


@pytest.mark.parametrize("fmt,args,ret,text", PRINTK_CASES)
def test_trace_printk_matches_linux(env, fmt, args, ret, text):
    assert printk(env, fmt, [a & U64_MASK for a in args]) == (ret, text)


@pytest.mark.parametrize("fmt", PRINTK_EINVAL)
def test_trace_printk_einval(env, fmt):
    assert printk(env, fmt, [1, 2, 3]) == (-errno.EINVAL, None)


def test_trace_printk_pointers_and_strings(env):
    kernel, task, run, buf = env
    ret, text = printk(env, b"%px|%pK", [0xFFFF888000001000, 1])
    assert ret == 33 and text.startswith(b"ffff888000001000|00000000") and len(text) == 33
    ret, text = printk(env, b"%10p", [1])
    assert ret == 10 and text.startswith(b"  ") and len(text.strip()) == 8
    assert printk(env, b"%-20p|", [5])[0] == 21
    assert printk(env, b"abc", size=3) == (-errno.EINVAL, None)          # no NUL in fmt_size
    s = kernel.mem.alloc(16, "str", data=b"hello\0")
    u = task.mm.alloc(16, "ustr", data=b"user\0")
    assert printk(env, b"%s/%s|%pus", [s.start, s.start + 2, u.start]) == (14, b"hello/llo|user")
    assert printk(env, b"%s!", [0xFFFF888000001000 + 2**40]) == (1, b"!")    # fault: empty string
    kernel.sysctl["kernel.kptr_restrict"] = 2
    assert printk(env, b"%pK", [0x1234])[1] == b"0" * 16


def test_trace_vprintk(env):
    kernel, _, run, buf = env
    kernel.mem.write(buf.start, b"%d %d %d %d %s\0")
    arg_s = kernel.mem.alloc(8, "s", data=b"five\0").start
    kernel.mem.write(buf.start + 64, b"".join(v.to_bytes(8, "little") for v in (1, 2, 3, 4, arg_s)))
    trace_buffer(kernel).clear()
    assert t.bpf_trace_vprintk(run, buf.start, 15, buf.start + 64, 40) == 12
    assert trace_buffer(kernel).entries()[0].text == b"1 2 3 4 five"
    assert t.bpf_trace_vprintk(run, buf.start, 15, buf.start + 64, 36) == -errno.EINVAL
    assert t.bpf_trace_vprintk(run, buf.start, 15, buf.start + 64, 13 * 8) == -errno.EINVAL
    assert t.bpf_trace_vprintk(run, buf.start, 15, 0, 8) == -errno.EINVAL


def test_current_task_struct(env):
    kernel, task, run, _ = env
    addr = t.bpf_get_current_task(run)
    assert addr == t.bpf_get_current_task(run)           # one task_struct per task
    size, off_pid, off_tgid, off_comm = t._task_layout(kernel)
    assert kernel.mem.load(addr + off_pid, 4) == task.pid
    assert kernel.mem.read(addr + off_comm, 7) == b"tester\0"
    assert t.task_of_addr(kernel, addr) is task
    kernel.subsys["task_struct_addr"] = lambda tk: 0x1234
    assert t.bpf_get_current_task(run) == 0x1234


def tramp_ctx(kernel, args, ret=None, ip=0xFFFFFFFF81000000):
    """A trampoline ctx: [ip][nr_args][args...][ret]; returns the address of args[0]."""
    words = [ip, len(args)] + list(args) + ([ret] if ret is not None else [])
    region = kernel.mem.alloc(8 * len(words), "tramp ctx", kind="ctx", writable=False,
                              data=b"".join(w.to_bytes(8, "little") for w in words))
    return region.start + 16


def test_trampoline_ctx_helpers(env):
    kernel, _, _, buf = env
    fexit = make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FEXIT)
    run = make_run(kernel, fexit)
    ctx = tramp_ctx(kernel, [11, 22], ret=33)
    assert t.bpf_get_func_ip_tracing(run, ctx) == 0xFFFFFFFF81000000
    assert t.bpf_get_func_arg_cnt(run, ctx) == 2
    assert t.bpf_get_func_arg(run, ctx, 1, buf.start) == 0 and kernel.mem.load(buf.start, 8) == 22
    assert t.bpf_get_func_arg(run, ctx, 2, buf.start) == -errno.EINVAL
    assert t.bpf_get_func_ret(run, ctx, buf.start) == 0 and kernel.mem.load(buf.start, 8) == 33
    fentry = make_run(kernel, make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY))
    assert t.bpf_get_func_ret(fentry, ctx, buf.start) == -errno.EOPNOTSUPP


def test_cookie_func_ip_override(env):
    kernel, _, _, _ = env
    run = make_run(kernel, cookie=0xABCDEF, func_ip=0xFFFFFFFF81234560)
    assert t.bpf_get_attach_cookie(run, 0) == 0xABCDEF
    assert t.bpf_get_func_ip_kprobe(run, 0) == 0
    run.kprobe_on_func_entry = True
    assert t.bpf_get_func_ip_kprobe(run, 0) == 0xFFFFFFFF81234560
    assert t.bpf_override_return(run, 0, -errno.ENOMEM & U64_MASK) == 0
    assert run.override_return == -errno.ENOMEM & U64_MASK


def test_get_stack(env):
    kernel, _, _, buf = env
    run = make_run(kernel, kstack=[0x10, 0x20, 0x30], ustack=[0x400000])
    assert t.bpf_get_stack(run, 0, buf.start, 32, 0) == 24
    assert [kernel.mem.load(buf.start + 8 * i, 8) for i in range(4)] == [0x10, 0x20, 0x30, 0]
    assert t.bpf_get_stack(run, 0, buf.start, 16, 1) == 16                   # skip 1
    assert kernel.mem.load(buf.start, 8) == 0x20
    assert t.bpf_get_stack(run, 0, buf.start, 16, t.BPF_F_USER_STACK) == 8
    assert t.bpf_get_stack(run, 0, buf.start, 12, 0) == -errno.EINVAL
    assert t.bpf_get_stack(run, 0, buf.start, 16, 4) == -errno.EFAULT       # skip past the stack
    assert t.bpf_get_stack(run, 0, buf.start, 16, 1 << 12) == -errno.EINVAL
    assert kernel.mem.read(buf.start, 16) == bytes(16)


def _fake_map(kernel, map_type, value_size, ops):
    m = BpfMap(kernel, MapCreateAttr(map_type=map_type, key_size=4, value_size=value_size,
                                     max_entries=4), ops)
    m.data = []
    return m


def test_get_stackid_and_perf_output_through_ops(env):
    kernel, _, _, buf = env
    calls = []

    def get_stackid(m, ips, flags):
        calls.append((ips, flags))
        if flags & 0xFF >= len(ips):
            raise BpfError(errno.EFAULT, "short")
        return 3

    sm = _fake_map(kernel, BpfMapType.BPF_MAP_TYPE_STACK_TRACE, 16, BpfMapOps(map_get_stackid=get_stackid))
    run = make_run(kernel, kstack=[1, 2, 3, 4, 5])
    assert t.bpf_get_stackid(run, 0, sm.addr, 0) == 3
    assert calls[-1] == ([1, 2], 0)                       # max_depth = value_size / 8
    assert t.bpf_get_stackid(run, 0, sm.addr, 1) == 3 and calls[-1] == ([1, 2, 3], 1)
    assert t.bpf_get_stackid(run, 0, sm.addr, 1 << 11) == -errno.EINVAL
    assert t.bpf_get_stackid(run, 0, sm.addr, 5) == -errno.EFAULT

    def output(m, flags, data):
        if flags == 7:
            raise BpfError(errno.E2BIG, "index")
        m.data.append((flags, data))

    pm = _fake_map(kernel, BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, BpfMapOps(map_perf_event_output=output))
    kernel.mem.write(buf.start, b"event!")
    assert t.bpf_perf_event_output(run, 0, pm.addr, 0xFFFFFFFF, buf.start, 6) == 0
    assert pm.data == [(0xFFFFFFFF, b"event!")]
    assert t.bpf_perf_event_output(run, 0, pm.addr, 7, buf.start, 6) == -errno.E2BIG
    assert t.bpf_perf_event_output(run, 0, pm.addr, 1 << 32, buf.start, 6) == -errno.EINVAL
    assert t.bpf_perf_event_output(run, 0, sm.addr, 0, buf.start, 6) == -errno.EINVAL   # not a perf array


def test_send_signal(env):
    kernel, task, run, _ = env
    assert t.bpf_send_signal(run, 9) == 0 and task.pending_signals == [(9, "tgid")]
    assert t.bpf_send_signal_thread(run, 10) == 0 and task.pending_signals[-1] == (10, "pid")
    assert t.bpf_send_signal(run, 65) == -errno.EINVAL
    assert t.bpf_send_signal(make_run(kernel, task=None), 9) == -errno.EPERM


def test_d_path_and_allowlist(env):
    kernel, _, run, buf = env
    assert t.bpf_d_path(run, 0x1000, buf.start, 64) == -errno.EINVAL
    kernel.subsys["d_path"] = lambda addr: "/etc/passwd" if addr == 0x1000 else None
    assert t.bpf_d_path(run, 0x1000, buf.start, 64) == 12
    assert kernel.mem.read(buf.start, 12) == b"/etc/passwd\0"
    assert t.bpf_d_path(run, 0x1000, buf.start, 5) == -errno.ENAMETOOLONG
    assert t.bpf_d_path(run, 0x1000, buf.start, 0) == 0
    ok = make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY, attach_func_name="vfs_truncate")
    bad = make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY, attach_func_name="vfs_read")
    assert t.bpf_d_path_proto.allowed(ok) and not t.bpf_d_path_proto.allowed(bad)


def test_branch_snapshot(env):
    kernel, _, run, buf = env
    assert t.bpf_get_branch_snapshot(run, buf.start, 64, 0) == -errno.ENOENT
    assert t.bpf_get_branch_snapshot(run, buf.start, 64, 1) == -errno.EINVAL
