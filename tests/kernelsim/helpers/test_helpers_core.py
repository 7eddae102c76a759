"""kernel/bpf/helpers.c helpers on simulated memory: maps through map.ops, time, current task,
strings (strncmp, strtol, strtoul, snprintf), bpf_loop and for_each_map_elem callbacks."""

import errno

import pytest
from helper_support import make_hash, make_kernel, make_prog, make_run

from kernelsim.helpers import base, core as c
from kernelsim.helpers.common import U64_MASK


@pytest.fixture
def env():
    kernel, task = make_kernel(seed=7)
    run = make_run(kernel, make_prog(kernel))
    buf = kernel.mem.alloc(4096, "test stack", kind="stack")
    return kernel, task, run, buf


def put(kernel, addr, data):
    kernel.mem.write(addr, data)
    return addr


def test_map_helpers_through_ops(env):
    kernel, _, run, buf = env
    m = make_hash(kernel)
    key, val = put(kernel, buf.start, (5).to_bytes(4, "little")), put(kernel, buf.start + 64, b"A" * 8)
    assert c.bpf_map_lookup_elem(run, m.addr, key) == 0
    assert c.bpf_map_update_elem(run, m.addr, key, val, 0) == 0
    addr = c.bpf_map_lookup_elem(run, m.addr, key)
    assert addr and kernel.mem.read(addr, 8) == b"A" * 8
    assert kernel.mem.region_of(addr).owner is m
    assert c.bpf_map_update_elem(run, m.addr, key, val, 1) == -errno.EEXIST       # BPF_NOEXIST
    assert c.bpf_map_update_elem(run, m.addr, key, val, 8) == -errno.EINVAL
    assert c.bpf_map_delete_elem(run, m.addr, key) == 0
    assert c.bpf_map_delete_elem(run, m.addr, key) == -errno.ENOENT
    assert c.bpf_map_lookup_elem(run, m.addr, key) == 0
    assert c.bpf_map_push_elem(run, m.addr, val, 0) == -errno.EINVAL             # no push op
    assert c.bpf_map_lookup_elem(run, buf.start, key) == 0                        # not a map


def test_time_cpu_random(env):
    kernel, _, run, _ = env
    kernel.clock.advance(1234)
    ns = kernel.clock.ns
    assert c.bpf_ktime_get_ns(run) == ns == c.bpf_ktime_get_boot_ns(run)
    assert c.bpf_ktime_get_tai_ns(run) == ns + kernel.clock.tai_offset_ns
    assert c.bpf_ktime_get_coarse_ns(run) == ns - ns % 4_000_000
    assert c.bpf_jiffies64(run) == c.INITIAL_JIFFIES + ns // 4_000_000
    assert c.bpf_get_smp_processor_id(run) == 0 and c.bpf_get_numa_node_id(run) == 0
    a = [c.bpf_get_prandom_u32(run) for _ in range(3)]
    k2, _ = make_kernel(seed=7)
    assert a == [c.bpf_get_prandom_u32(make_run(k2)) for _ in range(3)]
    assert all(0 <= v < 2**32 for v in a)


def test_current_task_helpers(env):
    kernel, task, run, buf = env
    assert c.bpf_get_current_pid_tgid(run) == (task.tgid << 32) | task.pid
    assert c.bpf_get_current_uid_gid(run) == (1001 << 32) | 1000
    assert c.bpf_get_current_comm(run, buf.start, 16) == 0
    assert kernel.mem.read(buf.start, 16) == b"tester" + bytes(10)
    assert c.bpf_get_current_comm(run, buf.start, 4) == 0
    assert kernel.mem.read(buf.start, 4) == b"tes\0"
    idle = make_run(kernel, task=None)
    assert c.bpf_get_current_pid_tgid(idle) == 0
    c.bpf_get_current_comm(idle, buf.start, 16)
    assert kernel.mem.read(buf.start, 10) == b"swapper/0\0"


def test_get_ns_current_pid_tgid(env):
    kernel, task, run, buf = env
    assert c.bpf_get_ns_current_pid_tgid(run, 4, 0xEFFFFFFC, buf.start, 8) == 0
    assert kernel.mem.read(buf.start, 8) == task.pid.to_bytes(4, "little") * 2
    assert c.bpf_get_ns_current_pid_tgid(run, 5, 0xEFFFFFFC, buf.start, 8) == -errno.EINVAL
    assert kernel.mem.read(buf.start, 8) == bytes(8)
    assert c.bpf_get_ns_current_pid_tgid(run, 4, 0xEFFFFFFC, buf.start, 4) == -errno.EINVAL


def test_strncmp(env):
    kernel, _, run, buf = env
    s1, s2 = put(kernel, buf.start, b"abcd"), put(kernel, buf.start + 16, b"abce\0")
    assert c.bpf_strncmp(run, s1, 3, s2) == 0
    assert c.bpf_strncmp(run, s1, 4, s2) == -1
    assert c.bpf_strncmp(run, s2, 4, s1 + 8) == 1           # s1+8 is "" (zeroes)


@pytest.mark.parametrize("text,flags,ret,val", [
    (b"123", 0, 3, 123), (b"  -42x", 0, 5, -42), (b"0x1f", 0, 4, 31), (b"0x1f", 16, 4, 31),
    (b"017", 0, 3, 15), (b"017", 10, 3, 17), (b"z", 0, -errno.EINVAL, 0), (b"+5", 0, -errno.EINVAL, 0),
    (b"", 0, -errno.EINVAL, 0), (b"5", 7, -errno.EINVAL, 0), (b"5", 0x20, -errno.EINVAL, 0),
    (b"9223372036854775807", 0, 19, 2**63 - 1), (b"9223372036854775808", 0, -errno.ERANGE, 0),
    (b"-9223372036854775808", 0, 20, -2**63), (b"99999999999999999999", 0, -errno.ERANGE, 0),
])
def test_strtol(env, text, flags, ret, val):
    kernel, _, run, buf = env
    s = put(kernel, buf.start, text + b"\0" * 8)
    res = buf.start + 256
    put(kernel, res, b"\xff" * 8)
    assert c.bpf_strtol(run, s, max(len(text), 1) if text else 0, flags, res) == ret
    assert int.from_bytes(kernel.mem.read(res, 8), "little", signed=True) == (val if ret >= 0 else 0)


def test_strtoul(env):
    kernel, _, run, buf = env
    s = put(kernel, buf.start, b"-1")
    assert c.bpf_strtoul(run, s, 2, 0, buf.start + 64) == -errno.EINVAL
    s = put(kernel, buf.start, b"18446744073709551615")
    assert c.bpf_strtoul(run, s, 20, 0, buf.start + 64) == 20
    assert kernel.mem.read(buf.start + 64, 8) == b"\xff" * 8


def test_snprintf(env):
    kernel, _, run, buf = env
    fmt = put(kernel, buf.start, b"%d-%s|\0")
    strarg = put(kernel, buf.start + 64, b"hey\0")
    args = put(kernel, buf.start + 128, (-3 & U64_MASK).to_bytes(8, "little") + strarg.to_bytes(8, "little"))
    out = buf.start + 512
    assert c.bpf_snprintf(run, out, 32, fmt, args, 16) == 8          # "-3-hey|" + NUL
    assert kernel.mem.read(out, 8) == b"-3-hey|\0"
    assert c.bpf_snprintf(run, out, 4, fmt, args, 16) == 8           # truncated, still full length
    assert kernel.mem.read(out, 4) == b"-3-\0"
    assert c.bpf_snprintf(run, out, 32, fmt, args, 12) == -errno.EINVAL
    assert c.bpf_snprintf(run, out, 32, fmt, args, 8) == -errno.EINVAL   # two specs, one arg
    assert c.bpf_snprintf(run, out, 32, fmt, 0, 8) == -errno.EINVAL


def test_bpf_loop_and_for_each_errors(env):
    """The callback paths run real programs: tests/kernelsim/test_bpf_run.py."""
    kernel, _, run, _ = env
    assert c.bpf_loop(run, 10, 1, 0, 1) == -errno.EINVAL
    assert c.bpf_loop(run, (1 << 23) + 1, 1, 0, 0) == -errno.E2BIG
    assert c.bpf_loop(run, 0, 1, 0, 0) == 0
    m = make_hash(kernel)
    assert c.bpf_for_each_map_elem(run, m.addr, 7, 99, 1) == -errno.EINVAL
    assert c.bpf_for_each_map_elem(run, 0, 7, 99, 0) == -errno.EINVAL


def test_spin_lock(env):
    kernel, _, run, buf = env
    assert c.bpf_spin_lock(run, buf.start) == 0 and kernel.mem.load(buf.start, 4) == 1
    assert c.bpf_spin_unlock(run, buf.start) == 0 and kernel.mem.load(buf.start, 4) == 0


def test_base_tiers_are_disjoint():
    tiers = [set(base.BASE_ANY), set(base.BASE_CAP_BPF), set(base.BASE_CAP_PERFMON)]
    assert not (tiers[0] & tiers[1]) and not (tiers[0] & tiers[2]) and not (tiers[1] & tiers[2])
