"""Generic helpers (kernel/bpf/helpers.c, kernel/bpf/core.c, kernel/bpf/bpf_iter.c): maps, time,
the current task, strings, bpf_loop, tail calls, spin locks, and their share of the base list's
tiers (assembled in base.py).

Every helper here is ``bpf_<name>(run, r1, r2, r3, r4, r5) -> int`` plus its ``*_proto`` record.
Map helpers go through ``map.ops`` (kernelsim/maps/ops.py): keys and values are read out of
simulated memory as bytes, lookups return value addresses, an op's ``BpfError`` becomes -errno.
Helpers the kernel offers but kernelsim does not implement have a proto with ``func=None`` (the
arguments are still right, so the verifier checks them; it then refuses the load, see
docs/helpers.md).
"""

import errno
from dataclasses import replace

from ..errors import BpfError
from ..memory import MemoryFault
from ..uapi import BpfFuncId as F
from ..uapi import BpfMapType
from . import bprintf
from .common import (U32_MASK, U64_MASK, current_task, errno_of, map_of, read_kernel, s64,
                     task_comm, write_kernel, write_padded, zero_fill)
from .proto import (ARG_PTR_TO_MAP_VALUE_OR_NULL, ARG_PTR_TO_MEM_OR_NULL, ARG_PTR_TO_STACK_OR_NULL,
                    ARG_PTR_TO_UNINIT_MEM, ARG_PTR_TO_WRITABLE_U64, RET_PTR_TO_MAP_VALUE_OR_NULL,
                    BpfArgType as A, BpfFuncProto, BpfReturnType as R, BpfTypeFlag as T)

HZ = 250                                   # CONFIG_HZ of Debian's kernels
INITIAL_JIFFIES = (1 << 32) - 300 * HZ     # include/linux/jiffies.h: (unsigned int)(-300*HZ)
BPF_MAX_LOOPS = 1 << 23
NSFS_DEV = 4                               # st_dev of /proc/self/ns/* (0:4 on 6.18)
PROC_PID_INIT_INO = 0xEFFFFFFC             # init_pid_ns.ns.inum
ROOT_CGROUP_ID = 1                         # kernfs id of the cgroup v2 root
BPF_STRTOX_BASE_MASK = 0x1F

_MEM_RO = A.ARG_PTR_TO_MEM | T.MEM_RDONLY
_MAP = A.ARG_CONST_MAP_PTR


def _proto(func, name, ret=R.RET_INTEGER, args=(), gpl=False, **kw) -> BpfFuncProto:
    return BpfFuncProto(func=func, ret_type=ret, arg_types=tuple(args), gpl_only=gpl,
                        name="bpf_" + name, **kw)


# -- maps ----------------------------------------------------------------------------------------


def _map_call(run, map_addr, fn):
    m = map_of(run, map_addr)
    if m is None:
        return None, -errno.EINVAL
    try:
        return m, fn(m)
    except (BpfError, MemoryFault) as e:
        return m, errno_of(e)


def bpf_map_lookup_elem(run, r1, r2, r3=0, r4=0, r5=0):
    m = map_of(run, r1)
    if m is None:
        return 0
    lookup = m.ops.map_lookup_elem
    if lookup is None:
        return 0
    try:
        key = run.mem.read(r2, m.key_size)     # read_kernel, written out (every lookup's path)
    except MemoryFault:
        return 0
    try:
        return lookup(m, key) or 0
    except BpfError:
        return 0


def bpf_map_update_elem(run, r1, r2, r3, r4, r5=0):
    m = map_of(run, r1)
    if m is None:
        return -errno.EINVAL
    update = m.ops.map_update_elem
    if update is None:
        return -errno.EINVAL
    read = run.mem.read                          # read_kernel, written out
    try:
        key, value = read(r2, m.key_size), read(r3, m.value_size)
    except MemoryFault:
        return -errno.EFAULT
    try:
        update(m, key, value, r4)
    except BpfError as e:
        return -e.errno
    return 0


def bpf_map_delete_elem(run, r1, r2, r3=0, r4=0, r5=0):
    m = map_of(run, r1)
    if m is None or m.ops.map_delete_elem is None:
        return -errno.EINVAL
    key = read_kernel(run, r2, m.key_size)
    if key is None:
        return -errno.EFAULT
    try:
        m.ops.map_delete_elem(m, key)
    except BpfError as e:
        return -e.errno
    return 0


def bpf_map_push_elem(run, r1, r2, r3, r4=0, r5=0):
    m = map_of(run, r1)
    if m is None or m.ops.map_push_elem is None:
        return -errno.EINVAL
    value = read_kernel(run, r2, m.value_size)
    if value is None:
        return -errno.EFAULT
    try:
        m.ops.map_push_elem(m, value, r3)
    except BpfError as e:
        return -e.errno
    return 0


def _pop_or_peek(run, r1, r2, slot):
    m = map_of(run, r1)
    fn = getattr(m.ops, slot, None) if m is not None else None
    if fn is None:
        return -errno.EINVAL
    try:
        if m.map_type == BpfMapType.BPF_MAP_TYPE_BLOOM_FILTER:
            value = read_kernel(run, r2, m.value_size)
            fn(m, value)                        # bloom peek: membership test, ENOENT if absent
            return 0
        data = fn(m)
    except BpfError as e:
        return -e.errno
    return write_kernel(run, r2, bytes(data[: m.value_size]))


def bpf_map_pop_elem(run, r1, r2, r3=0, r4=0, r5=0):
    return _pop_or_peek(run, r1, r2, "map_pop_elem")


def bpf_map_peek_elem(run, r1, r2, r3=0, r4=0, r5=0):
    return _pop_or_peek(run, r1, r2, "map_peek_elem")


def bpf_map_lookup_percpu_elem(run, r1, r2, r3, r4=0, r5=0):
    m = map_of(run, r1)
    if m is None or m.ops.map_lookup_percpu_elem is None or (r3 & U32_MASK) >= run.kernel.ncpus:
        return 0
    key = read_kernel(run, r2, m.key_size)
    if key is None:
        return 0
    try:
        return m.ops.map_lookup_percpu_elem(m, key, r3 & U32_MASK) or 0
    except BpfError:
        return 0


bpf_map_lookup_elem_proto = _proto(bpf_map_lookup_elem, "map_lookup_elem", RET_PTR_TO_MAP_VALUE_OR_NULL,
                                   (_MAP, A.ARG_PTR_TO_MAP_KEY), pkt_access=True)
bpf_map_update_elem_proto = _proto(bpf_map_update_elem, "map_update_elem", R.RET_INTEGER,
                                   (_MAP, A.ARG_PTR_TO_MAP_KEY, A.ARG_PTR_TO_MAP_VALUE, A.ARG_ANYTHING),
                                   pkt_access=True)
bpf_map_delete_elem_proto = _proto(bpf_map_delete_elem, "map_delete_elem", R.RET_INTEGER,
                                   (_MAP, A.ARG_PTR_TO_MAP_KEY), pkt_access=True)
bpf_map_push_elem_proto = _proto(bpf_map_push_elem, "map_push_elem", R.RET_INTEGER,
                                 (_MAP, A.ARG_PTR_TO_MAP_VALUE, A.ARG_ANYTHING), pkt_access=True)
bpf_map_pop_elem_proto = _proto(bpf_map_pop_elem, "map_pop_elem", R.RET_INTEGER,
                                (_MAP, A.ARG_PTR_TO_MAP_VALUE | T.MEM_UNINIT | T.MEM_WRITE))
bpf_map_peek_elem_proto = _proto(bpf_map_peek_elem, "map_peek_elem", R.RET_INTEGER,
                                 (_MAP, A.ARG_PTR_TO_MAP_VALUE | T.MEM_UNINIT | T.MEM_WRITE))
bpf_map_lookup_percpu_elem_proto = _proto(bpf_map_lookup_percpu_elem, "map_lookup_percpu_elem",
                                          RET_PTR_TO_MAP_VALUE_OR_NULL,
                                          (_MAP, A.ARG_PTR_TO_MAP_KEY, A.ARG_ANYTHING), pkt_access=True)


# -- cpu, time, randomness -------------------------------------------------------------------


def bpf_get_prandom_u32(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    """bpf_user_rnd_u32: seeded from kernel.rng (the scenario's seed), never the host."""
    return run.kernel.rng.getrandbits(32)


def bpf_get_smp_processor_id(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return run.cpu


def bpf_get_numa_node_id(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return 0


def bpf_ktime_get_ns(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return run.kernel.clock.ktime_get_ns()


def bpf_ktime_get_boot_ns(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return run.kernel.clock.ktime_get_boot_ns()


def bpf_ktime_get_coarse_ns(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    """ktime_get_coarse_ns: the time of the last tick (jiffy granularity, HZ=250)."""
    ns = run.kernel.clock.ktime_get_ns()
    return ns - ns % (1_000_000_000 // HZ)


def bpf_ktime_get_tai_ns(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return run.kernel.clock.ktime_get_tai_ns()


def bpf_jiffies64(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return INITIAL_JIFFIES + run.kernel.clock.ktime_get_ns() // (1_000_000_000 // HZ)


bpf_get_prandom_u32_proto = _proto(bpf_get_prandom_u32, "get_prandom_u32")
bpf_get_smp_processor_id_proto = _proto(bpf_get_smp_processor_id, "get_smp_processor_id")
bpf_get_numa_node_id_proto = _proto(bpf_get_numa_node_id, "get_numa_node_id")
bpf_ktime_get_ns_proto = _proto(bpf_ktime_get_ns, "ktime_get_ns")
bpf_ktime_get_boot_ns_proto = _proto(bpf_ktime_get_boot_ns, "ktime_get_boot_ns")
bpf_ktime_get_coarse_ns_proto = _proto(bpf_ktime_get_coarse_ns, "ktime_get_coarse_ns")
bpf_ktime_get_tai_ns_proto = _proto(bpf_ktime_get_tai_ns, "ktime_get_tai_ns")
bpf_jiffies64_proto = _proto(bpf_jiffies64, "jiffies64")


# -- the current task ---------------------------------------------------------------------------


def bpf_get_current_pid_tgid(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    task = current_task(run)
    if task is None:
        return 0                         # the idle task: pid 0, tgid 0
    return (task.tgid << 32) | task.pid


def bpf_get_current_uid_gid(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    task = current_task(run)
    if task is None:
        return 0
    return ((task.cred.gid & U32_MASK) << 32) | (task.cred.uid & U32_MASK)


def bpf_get_current_comm(run, r1, r2, r3=0, r4=0, r5=0):
    """strscpy_pad(buf, current->comm, size): at most size - 1 bytes, NUL-padded."""
    size = r2 & U32_MASK
    comm = task_comm(run, current_task(run)).encode()[: max(size - 1, 0)]
    return write_padded(run, r1, comm, size)


def bpf_get_ns_current_pid_tgid(run, r1, r2, r3, r4, r5=0):
    """struct bpf_pidns_info {u32 pid; u32 tgid;}; only the initial pid namespace exists."""
    size = r4 & U32_MASK
    if size != 8 or r1 != NSFS_DEV or r2 != PROC_PID_INIT_INO:
        zero_fill(run, r3, size)
        return -errno.EINVAL
    task = current_task(run)
    pid, tgid = (task.pid, task.tgid) if task is not None else (0, 0)
    return write_kernel(run, r3, pid.to_bytes(4, "little") + tgid.to_bytes(4, "little"))


def bpf_get_current_cgroup_id(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return ROOT_CGROUP_ID


def bpf_get_current_ancestor_cgroup_id(run, r1, r2=0, r3=0, r4=0, r5=0):
    return ROOT_CGROUP_ID if (r1 & 0xFFFFFFFF) == 0 else 0


def bpf_get_cgroup_classid_curr(run, r1=0, r2=0, r3=0, r4=0, r5=0):
    return 0                             # no net_cls controller


bpf_get_current_pid_tgid_proto = _proto(bpf_get_current_pid_tgid, "get_current_pid_tgid")
bpf_get_current_uid_gid_proto = _proto(bpf_get_current_uid_gid, "get_current_uid_gid")
bpf_get_current_comm_proto = _proto(bpf_get_current_comm, "get_current_comm", R.RET_INTEGER,
                                    (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE))
bpf_get_ns_current_pid_tgid_proto = _proto(bpf_get_ns_current_pid_tgid, "get_ns_current_pid_tgid",
                                           R.RET_INTEGER, (A.ARG_ANYTHING, A.ARG_ANYTHING,
                                                           ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE))
bpf_get_current_cgroup_id_proto = _proto(bpf_get_current_cgroup_id, "get_current_cgroup_id")
bpf_get_current_ancestor_cgroup_id_proto = _proto(bpf_get_current_ancestor_cgroup_id,
                                                  "get_current_ancestor_cgroup_id", R.RET_INTEGER,
                                                  (A.ARG_ANYTHING,))
bpf_get_cgroup_classid_curr_proto = _proto(bpf_get_cgroup_classid_curr, "get_cgroup_classid")


# -- strings ------------------------------------------------------------------------------------


def bpf_strncmp(run, r1, r2, r3, r4=0, r5=0):
    """strncmp(s1, s2, s1_sz): -1, 0 or 1 (lib/string.c)."""
    n = r2 & U32_MASK
    s1 = read_kernel(run, r1, n)
    if s1 is None:
        return -errno.EFAULT
    try:
        s2 = run.mem.read_cstr(r3, n + 1)
    except MemoryFault:
        return -errno.EFAULT
    for k in range(n):
        c1 = s1[k] if k < len(s1) else 0
        c2 = s2[k] if k < len(s2) else 0
        if c1 != c2:
            return -1 if c1 < c2 else 1
        if not c1:
            break
    return 0


def _strtoull(buf: bytes, flags: int):
    """__bpf_strtoull: (consumed, value, negative) or -errno."""
    base = flags & BPF_STRTOX_BASE_MASK
    if not buf or base not in (0, 8, 10, 16) or flags & ~BPF_STRTOX_BASE_MASK:
        return -errno.EINVAL
    i = 0
    while i < len(buf) and buf[i] in b" \t\n\v\f\r":
        i += 1
    neg = i < len(buf) and buf[i] == ord("-")
    if neg:
        i += 1
    consumed = i
    rest = buf[i:i + 63].split(b"\0", 1)[0]
    if not buf[i:]:
        return -errno.EINVAL
    k = 0
    if base == 0:
        if rest[:1] == b"0":
            base = 16 if rest[1:2].lower() == b"x" and rest[2:3].isalnum() and \
                rest[2:3].lower() in b"0123456789abcdef" else 8
        else:
            base = 10
    if base == 16 and rest[:1] == b"0" and rest[1:2].lower() == b"x":
        k = 2
    val, start, overflow = 0, k, False
    while k < len(rest):
        ch = rest[k:k + 1].lower()
        d = b"0123456789abcdef".find(ch) if ch else -1
        if d < 0 or d >= base:
            break
        val = val * base + d
        if val > U64_MASK:
            overflow = True
        k += 1
    if overflow:
        return -errno.ERANGE
    if k == start:
        return -errno.EINVAL
    return consumed + k, val & U64_MASK, neg


def bpf_strtol(run, r1, r2, r3, r4, r5=0):
    write_kernel(run, r4, bytes(8))
    got = _strtoull(read_kernel(run, r1, r2 & U32_MASK) or b"", r3)
    if isinstance(got, int):
        return got
    consumed, val, neg = got
    if neg:
        if s64(-val) > 0:
            return -errno.ERANGE
        val = -val & U64_MASK
    elif s64(val) < 0:
        return -errno.ERANGE
    write_kernel(run, r4, val.to_bytes(8, "little"))
    return consumed


def bpf_strtoul(run, r1, r2, r3, r4, r5=0):
    write_kernel(run, r4, bytes(8))
    got = _strtoull(read_kernel(run, r1, r2 & U32_MASK) or b"", r3)
    if isinstance(got, int):
        return got
    consumed, val, neg = got
    if neg:
        return -errno.EINVAL
    write_kernel(run, r4, val.to_bytes(8, "little"))
    return consumed


def bpf_snprintf(run, r1, r2, r3, r4, r5):
    """bpf_snprintf(str, str_size, fmt, args, data_len): the formatted length + 1, or -errno."""
    data_len = r5 & U32_MASK
    if data_len % 8 or data_len > bprintf.MAX_BPRINTF_VARARGS * 8 or (data_len and not r4):
        return -errno.EINVAL
    args = read_u64_array(run, r4, data_len // 8)
    try:
        fmt = run.mem.read_cstr(r3, 1 << 16)
    except MemoryFault:
        return -errno.EFAULT
    pieces = bprintf.bpf_bprintf_prepare(run, fmt, args, data_len // 8)
    if isinstance(pieces, int):
        return pieces
    size = r2 & U32_MASK
    text, full = bprintf.bstr_printf(run, pieces, size)
    if size:
        write_kernel(run, r1, text + b"\0")
    return full + 1


def read_u64_array(run, addr: int, n: int) -> list[int]:
    raw = read_kernel(run, addr, 8 * n) if n else b""
    raw = raw or bytes(8 * n)
    return [int.from_bytes(raw[8 * k:8 * k + 8], "little") for k in range(n)]


bpf_strncmp_proto = _proto(bpf_strncmp, "strncmp", R.RET_INTEGER,
                           (_MEM_RO, A.ARG_CONST_SIZE, A.ARG_PTR_TO_CONST_STR))
bpf_strtol_proto = _proto(bpf_strtol, "strtol", R.RET_INTEGER,
                          (_MEM_RO, A.ARG_CONST_SIZE, A.ARG_ANYTHING, ARG_PTR_TO_WRITABLE_U64),
                          arg_size=(0, 0, 0, 8))
bpf_strtoul_proto = replace(bpf_strtol_proto, func=bpf_strtoul, name="bpf_strtoul")
bpf_snprintf_proto = _proto(bpf_snprintf, "snprintf", R.RET_INTEGER,
                            (ARG_PTR_TO_MEM_OR_NULL | T.MEM_WRITE, A.ARG_CONST_SIZE_OR_ZERO,
                             A.ARG_PTR_TO_CONST_STR, ARG_PTR_TO_MEM_OR_NULL | T.MEM_RDONLY,
                             A.ARG_CONST_SIZE_OR_ZERO), gpl=True)


# -- callbacks: bpf_loop, bpf_for_each_map_elem ---------------------------------------------------


def bpf_loop(run, r1, r2, r3, r4, r5=0):
    """bpf_iter.c bpf_loop: calls the callback (a PTR_TO_FUNC) with (i, ctx) until it returns
    non-zero; returns the number of iterations done. E2BIG past 1 << 23, EINVAL for flags."""
    nr_loops = r1 & U32_MASK
    if r4:
        return -errno.EINVAL
    if nr_loops > BPF_MAX_LOOPS:
        return -errno.E2BIG
    if nr_loops and not run.valid_bpf_func(r2):
        return -errno.EINVAL                  # not a subprogram (the verifier would refuse it)
    for i in range(nr_loops):
        if run.call_bpf_func(r2, i, r3, 0, 0, 0) & U64_MASK:
            return i + 1
    return nr_loops


def bpf_for_each_map_elem(run, r1, r2, r3, r4, r5=0):
    """callback(map, key, value, ctx) per element through map.ops.map_for_each_callback; the key
    is copied into a scratch buffer of the run context for the callback to read."""
    if r4:
        return -errno.EINVAL
    m = map_of(run, r1)
    if m is None or m.ops.map_for_each_callback is None or not run.valid_bpf_func(r2):
        return -errno.EINVAL
    key_addr = run.scratch(max(m.key_size, 8))

    def callback(key: bytes, value_addr: int) -> int:
        run.mem.write(key_addr, key)
        return run.call_bpf_func(r2, r1, key_addr, value_addr, r3, 0) & U64_MASK

    try:
        return m.ops.map_for_each_callback(m, callback)
    except BpfError as e:
        return -e.errno


bpf_loop_proto = _proto(bpf_loop, "loop", R.RET_INTEGER,
                        (A.ARG_ANYTHING, A.ARG_PTR_TO_FUNC, ARG_PTR_TO_STACK_OR_NULL, A.ARG_ANYTHING))
bpf_for_each_map_elem_proto = _proto(bpf_for_each_map_elem, "for_each_map_elem", R.RET_INTEGER,
                                     (_MAP, A.ARG_PTR_TO_FUNC, ARG_PTR_TO_STACK_OR_NULL,
                                      A.ARG_ANYTHING))


# -- tail calls and spin locks ------------------------------------------------------------------


def bpf_tail_call(run, r1, r2, r3, r4=0, r5=0):
    """kernel/bpf/core.c: never called (the verifier rewrites the call into the internal
    BPF_TAIL_CALL instruction; kernelsim's interpreter executes helper 12 as that instruction,
    through ``run.prog_array``). Reached only through ``callx``: falls through."""
    return 0


def bpf_spin_lock(run, r1, r2=0, r3=0, r4=0, r5=0):
    """One CPU runs at a time in the simulator, so taking the lock only marks it held."""
    write_kernel(run, r1, (1).to_bytes(4, "little"))
    return 0


def bpf_spin_unlock(run, r1, r2=0, r3=0, r4=0, r5=0):
    write_kernel(run, r1, bytes(4))
    return 0


bpf_tail_call_proto = _proto(bpf_tail_call, "tail_call", R.RET_VOID,
                             (A.ARG_PTR_TO_CTX, _MAP, A.ARG_ANYTHING))
bpf_spin_lock_proto = _proto(bpf_spin_lock, "spin_lock", R.RET_VOID, (A.ARG_PTR_TO_SPIN_LOCK,))
bpf_spin_unlock_proto = _proto(bpf_spin_unlock, "spin_unlock", R.RET_VOID, (A.ARG_PTR_TO_SPIN_LOCK,))


# -- task storage (kernel/bpf/bpf_task_storage.c) ------------------------------------------------


def task_storage_owner(run, addr: int):
    """The owner behind a task_struct pointer: its TaskStruct, ("idle", addr) for a CPU's idle
    task, None when ``addr`` is no task_struct (maps/bpf_task_storage.py)."""
    region = run.mem.region_of(addr) if addr else None
    if region is None or region.start != addr:
        return None
    if hasattr(region.owner, "mm"):
        return region.owner
    return ("idle", addr) if region.name == "struct task_struct" else None


def bpf_task_storage_get(run, r1, r2, r3, r4, r5=0):
    """bpf_task_storage_get(map, task, value, flags): the task's value, created (a copy of
    ``value``, or zeroes when it is NULL) with BPF_LOCAL_STORAGE_GET_F_CREATE; NULL for unknown
    flags, a NULL task or one that has exited."""
    m = map_of(run, r1)
    if m is None or m.ops.local_storage_get is None or r4 & ~1 or not r2:
        return 0
    owner = task_storage_owner(run, r2)
    if owner is None:
        return 0
    value = None
    if r3:
        value = read_kernel(run, r3, m.value_size)
        if value is None:
            return 0
    return m.ops.local_storage_get(m, owner, value, r4)


def bpf_task_storage_delete(run, r1, r2, r3=0, r4=0, r5=0):
    """bpf_task_storage_delete(map, task): 0, -EINVAL for a NULL task, -ENOENT without a value."""
    m = map_of(run, r1)
    if m is None or m.ops.local_storage_delete is None or not r2:
        return -errno.EINVAL
    owner = task_storage_owner(run, r2)
    if owner is None:
        return -errno.ENOENT
    try:
        m.ops.local_storage_delete(m, owner)
    except BpfError as e:
        return -e.errno
    return 0


_BTF_TASK = ("struct", "task_struct")
bpf_task_storage_get_proto = _proto(bpf_task_storage_get, "task_storage_get",
                                    RET_PTR_TO_MAP_VALUE_OR_NULL,
                                    (_MAP, A.ARG_PTR_TO_BTF_ID | T.PTR_MAYBE_NULL,
                                     ARG_PTR_TO_MAP_VALUE_OR_NULL, A.ARG_ANYTHING),
                                    arg_btf_ids=(None, _BTF_TASK))
bpf_task_storage_delete_proto = _proto(bpf_task_storage_delete, "task_storage_delete", R.RET_INTEGER,
                                       (_MAP, A.ARG_PTR_TO_BTF_ID | T.PTR_MAYBE_NULL),
                                       arg_btf_ids=(None, _BTF_TASK))


# -- offered by 6.18, not implemented by kernelsim (func None; see module docstring) -------------

bpf_per_cpu_ptr_proto = _proto(None, "per_cpu_ptr", R.RET_PTR_TO_MEM_OR_BTF_ID | T.PTR_MAYBE_NULL
                               | T.MEM_RDONLY, (A.ARG_PTR_TO_PERCPU_BTF_ID, A.ARG_ANYTHING))
bpf_this_cpu_ptr_proto = _proto(None, "this_cpu_ptr", R.RET_PTR_TO_MEM_OR_BTF_ID | T.MEM_RDONLY,
                                (A.ARG_PTR_TO_PERCPU_BTF_ID,))
bpf_timer_init_proto = _proto(None, "timer_init", R.RET_INTEGER,
                              (A.ARG_PTR_TO_TIMER, _MAP, A.ARG_ANYTHING))
bpf_timer_set_callback_proto = _proto(None, "timer_set_callback", R.RET_INTEGER,
                                      (A.ARG_PTR_TO_TIMER, A.ARG_PTR_TO_FUNC))
bpf_timer_start_proto = _proto(None, "timer_start", R.RET_INTEGER,
                               (A.ARG_PTR_TO_TIMER, A.ARG_ANYTHING, A.ARG_ANYTHING))
bpf_timer_cancel_proto = _proto(None, "timer_cancel", R.RET_INTEGER, (A.ARG_PTR_TO_TIMER,))
bpf_kptr_xchg_proto = _proto(None, "kptr_xchg", R.RET_PTR_TO_BTF_ID | T.PTR_MAYBE_NULL | T.OBJ_RELEASE,
                             (A.ARG_KPTR_XCHG_DEST, A.ARG_PTR_TO_BTF_ID | T.PTR_MAYBE_NULL
                              | T.OBJ_RELEASE))
bpf_user_ringbuf_drain_proto = _proto(None, "user_ringbuf_drain", R.RET_INTEGER,
                                      (_MAP, A.ARG_PTR_TO_FUNC, ARG_PTR_TO_STACK_OR_NULL,
                                       A.ARG_ANYTHING))
_DYNPTR = A.ARG_PTR_TO_DYNPTR
bpf_dynptr_from_mem_proto = _proto(None, "dynptr_from_mem", R.RET_INTEGER,
                                   (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING,
                                    _DYNPTR | T.DYNPTR_TYPE_LOCAL | T.MEM_UNINIT))
bpf_dynptr_read_proto = _proto(None, "dynptr_read", R.RET_INTEGER,
                               (ARG_PTR_TO_UNINIT_MEM, A.ARG_CONST_SIZE_OR_ZERO,
                                _DYNPTR | T.MEM_RDONLY, A.ARG_ANYTHING, A.ARG_ANYTHING))
bpf_dynptr_write_proto = _proto(None, "dynptr_write", R.RET_INTEGER,
                                (_DYNPTR | T.MEM_RDONLY, A.ARG_ANYTHING, _MEM_RO,
                                 A.ARG_CONST_SIZE_OR_ZERO, A.ARG_ANYTHING))
bpf_dynptr_data_proto = _proto(None, "dynptr_data", R.RET_PTR_TO_MEM | T.PTR_MAYBE_NULL,
                               (_DYNPTR | T.MEM_RDONLY, A.ARG_ANYTHING, A.ARG_CONST_ALLOC_SIZE_OR_ZERO))
bpf_cgrp_storage_get_proto = _proto(None, "cgrp_storage_get", RET_PTR_TO_MAP_VALUE_OR_NULL,
                                    (_MAP, A.ARG_PTR_TO_BTF_ID, ARG_PTR_TO_MAP_VALUE_OR_NULL,
                                     A.ARG_ANYTHING), arg_btf_ids=(None, ("struct", "cgroup")))
bpf_cgrp_storage_delete_proto = _proto(None, "cgrp_storage_delete", R.RET_INTEGER,
                                       (_MAP, A.ARG_PTR_TO_BTF_ID), arg_btf_ids=(None, ("struct", "cgroup")))
bpf_current_task_under_cgroup_proto = _proto(None, "current_task_under_cgroup", R.RET_INTEGER,
                                             (_MAP, A.ARG_ANYTHING))


def _cap(prog, cap: str) -> bool:
    """bpf_token_capable(prog->aux->token, cap) at load time: the loader's credentials, which
    PROG_LOAD records in ``prog.aux.cred`` (no cred recorded: the machine's administrator)."""
    cred = getattr(prog.aux, "cred", None)
    if cred is None:
        return True
    if cap == "CAP_BPF":
        return cred.bpf_capable()
    if cap == "CAP_PERFMON":
        return cred.perfmon_capable()
    return cred.capable(cap)


BASE_ANY_CORE = {
    F.BPF_FUNC_map_lookup_elem: bpf_map_lookup_elem_proto,
    F.BPF_FUNC_map_update_elem: bpf_map_update_elem_proto,
    F.BPF_FUNC_map_delete_elem: bpf_map_delete_elem_proto,
    F.BPF_FUNC_map_push_elem: bpf_map_push_elem_proto,
    F.BPF_FUNC_map_pop_elem: bpf_map_pop_elem_proto,
    F.BPF_FUNC_map_peek_elem: bpf_map_peek_elem_proto,
    F.BPF_FUNC_map_lookup_percpu_elem: bpf_map_lookup_percpu_elem_proto,
    F.BPF_FUNC_get_prandom_u32: bpf_get_prandom_u32_proto,
    F.BPF_FUNC_get_smp_processor_id: bpf_get_smp_processor_id_proto,
    F.BPF_FUNC_get_numa_node_id: bpf_get_numa_node_id_proto,
    F.BPF_FUNC_tail_call: bpf_tail_call_proto,
    F.BPF_FUNC_ktime_get_ns: bpf_ktime_get_ns_proto,
    F.BPF_FUNC_ktime_get_boot_ns: bpf_ktime_get_boot_ns_proto,
    F.BPF_FUNC_ktime_get_tai_ns: bpf_ktime_get_tai_ns_proto,
    F.BPF_FUNC_strncmp: bpf_strncmp_proto,
    F.BPF_FUNC_strtol: bpf_strtol_proto,
    F.BPF_FUNC_strtoul: bpf_strtoul_proto,
    F.BPF_FUNC_get_current_pid_tgid: bpf_get_current_pid_tgid_proto,
    F.BPF_FUNC_get_ns_current_pid_tgid: bpf_get_ns_current_pid_tgid_proto,
    F.BPF_FUNC_get_current_uid_gid: bpf_get_current_uid_gid_proto,
}

BASE_CAP_BPF_CORE = {
    F.BPF_FUNC_spin_lock: bpf_spin_lock_proto,
    F.BPF_FUNC_spin_unlock: bpf_spin_unlock_proto,
    F.BPF_FUNC_jiffies64: bpf_jiffies64_proto,
    F.BPF_FUNC_timer_init: bpf_timer_init_proto,
    F.BPF_FUNC_timer_set_callback: bpf_timer_set_callback_proto,
    F.BPF_FUNC_timer_start: bpf_timer_start_proto,
    F.BPF_FUNC_timer_cancel: bpf_timer_cancel_proto,
    F.BPF_FUNC_kptr_xchg: bpf_kptr_xchg_proto,
    F.BPF_FUNC_for_each_map_elem: bpf_for_each_map_elem_proto,
    F.BPF_FUNC_loop: bpf_loop_proto,
    F.BPF_FUNC_user_ringbuf_drain: bpf_user_ringbuf_drain_proto,
    F.BPF_FUNC_dynptr_from_mem: bpf_dynptr_from_mem_proto,
    F.BPF_FUNC_dynptr_read: bpf_dynptr_read_proto,
    F.BPF_FUNC_dynptr_write: bpf_dynptr_write_proto,
    F.BPF_FUNC_dynptr_data: bpf_dynptr_data_proto,
    F.BPF_FUNC_cgrp_storage_get: bpf_cgrp_storage_get_proto,
    F.BPF_FUNC_cgrp_storage_delete: bpf_cgrp_storage_delete_proto,
    F.BPF_FUNC_get_current_cgroup_id: bpf_get_current_cgroup_id_proto,
    F.BPF_FUNC_get_current_ancestor_cgroup_id: bpf_get_current_ancestor_cgroup_id_proto,
    F.BPF_FUNC_current_task_under_cgroup: bpf_current_task_under_cgroup_proto,
    F.BPF_FUNC_get_cgroup_classid: bpf_get_cgroup_classid_curr_proto,
    F.BPF_FUNC_task_storage_get: bpf_task_storage_get_proto,
    F.BPF_FUNC_task_storage_delete: bpf_task_storage_delete_proto,
}

BASE_CAP_PERFMON_CORE = {
    F.BPF_FUNC_get_current_comm: bpf_get_current_comm_proto,
    F.BPF_FUNC_snprintf: bpf_snprintf_proto,
    F.BPF_FUNC_per_cpu_ptr: bpf_per_cpu_ptr_proto,       # CAP_PERFMON on 6.18 (probed)
    F.BPF_FUNC_this_cpu_ptr: bpf_this_cpu_ptr_proto,
}
