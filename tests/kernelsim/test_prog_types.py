"""Program types: per-type helper availability (vs Linux 6.18.44), capability tiers, gpl_only,
and the ctx access rules of kprobe, tracepoint, raw_tp(_writable), perf_event, socket_filter and
tracing (btf_ctx_access)."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "helpers"))

from helper_matrix_618 import MATRIX_FULL_CAPS, SOCKET_FILTER_CAP_BPF_ONLY  # noqa: E402
from helper_support import make_kernel, make_prog  # noqa: E402

from btf.cdecl import btf_from_c  # noqa: E402
from kernelsim.cred import Cred  # noqa: E402
from kernelsim.ctx_access import BpfInsnAccessAux  # noqa: E402
from kernelsim.helpers import func_id_name  # noqa: E402
from kernelsim.helpers.proto import BPF_READ, BPF_WRITE, BpfRegType, BpfTypeFlag  # noqa: E402
from kernelsim.prog_types import PROG_TYPES, ctx_size, get_func_proto, is_valid_access  # noqa: E402
from kernelsim.uapi import BpfAttachType as AT, BpfFuncId as F, BpfProgType as PT  # noqa: E402

TYPES = {  # name in the recorded matrix -> (prog type, expected attach type)
    "socket_filter": (PT.BPF_PROG_TYPE_SOCKET_FILTER, 0), "kprobe": (PT.BPF_PROG_TYPE_KPROBE, 0),
    "tracepoint": (PT.BPF_PROG_TYPE_TRACEPOINT, 0), "perf_event": (PT.BPF_PROG_TYPE_PERF_EVENT, 0),
    "raw_tp": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT, 0),
    "raw_tp_w": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0),
    "tp_btf": (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP),
    "iter": (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER),
}
ALL_CAPS = Cred.make(0)
HOST_KCONFIG = {"CONFIG_BPF_KPROBE_OVERRIDE": False, "CONFIG_SECURITY_LOCKDOWN_WRITE_USER": True}


def offered(kernel, prog_type, eat, cred):
    prog = make_prog(kernel, prog_type, eat, cred=cred)
    return sorted(n for n in range(1, 212) if get_func_proto(n, prog) is not None)


@pytest.fixture(scope="module")
def host_kernel():
    kernel, _ = make_kernel()
    kernel.subsys["kconfig"] = dict(HOST_KCONFIG)
    return kernel


@pytest.mark.parametrize("name", sorted(MATRIX_FULL_CAPS))
def test_helper_matrix_matches_linux_618(host_kernel, name):
    prog_type, eat = TYPES[name]
    assert offered(host_kernel, prog_type, eat, ALL_CAPS) == MATRIX_FULL_CAPS[name]


def test_socket_filter_cap_bpf_tier_matches_linux_618(host_kernel):
    cred = Cred.make(1000, caps={"CAP_BPF"})
    assert offered(host_kernel, PT.BPF_PROG_TYPE_SOCKET_FILTER, 0, cred) == SOCKET_FILTER_CAP_BPF_ONLY


def test_unprivileged_socket_filter_gets_only_the_first_tier(host_kernel):
    got = set(offered(host_kernel, PT.BPF_PROG_TYPE_SOCKET_FILTER, 0, Cred.make(1000)))
    assert {F.BPF_FUNC_map_lookup_elem, F.BPF_FUNC_ktime_get_ns, F.BPF_FUNC_ringbuf_output,
            F.BPF_FUNC_get_current_uid_gid, F.BPF_FUNC_skb_load_bytes} <= got
    assert not got & {F.BPF_FUNC_loop, F.BPF_FUNC_spin_lock, F.BPF_FUNC_jiffies64,
                      F.BPF_FUNC_trace_printk, F.BPF_FUNC_probe_read_kernel, F.BPF_FUNC_skc_to_tcp_sock}


def test_trampoline_programs_add_func_arg_helpers(host_kernel):
    tp_btf = set(MATRIX_FULL_CAPS["tp_btf"])
    for eat in (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN):
        got = set(offered(host_kernel, PT.BPF_PROG_TYPE_TRACING, eat, ALL_CAPS))
        assert got == tp_btf | {F.BPF_FUNC_get_func_arg, F.BPF_FUNC_get_func_ret,
                                F.BPF_FUNC_get_func_arg_cnt}
    assert not tp_btf & {183, 184, 185}


def test_kconfig_and_sys_admin_tiers():
    kernel, _ = make_kernel()
    admin = offered(kernel, PT.BPF_PROG_TYPE_KPROBE, 0, ALL_CAPS)
    assert F.BPF_FUNC_override_return in admin and F.BPF_FUNC_probe_write_user in admin
    no_admin = offered(kernel, PT.BPF_PROG_TYPE_KPROBE, 0, Cred.make(1000, caps={"CAP_BPF", "CAP_PERFMON"}))
    assert F.BPF_FUNC_probe_write_user not in no_admin
    assert set(admin) - set(no_admin) == {F.BPF_FUNC_probe_write_user}
    raw_tp = offered(kernel, PT.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, ALL_CAPS)
    assert F.BPF_FUNC_override_return not in raw_tp


def test_compat_probe_read_needs_non_overlapping_address_spaces():
    for arch, present in (("x86_64", True), ("arm64", True), ("s390x", False)):
        kernel, _ = make_kernel(arch=arch)
        got = offered(kernel, PT.BPF_PROG_TYPE_KPROBE, 0, ALL_CAPS)
        assert (F.BPF_FUNC_probe_read in got) is present
        assert (F.BPF_FUNC_probe_read_str in got) is present


def test_variants_differ_by_type(host_kernel):
    kp = make_prog(host_kernel, PT.BPF_PROG_TYPE_KPROBE, cred=ALL_CAPS)
    fe = make_prog(host_kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY, cred=ALL_CAPS)
    km = make_prog(host_kernel, PT.BPF_PROG_TYPE_KPROBE, AT.BPF_TRACE_KPROBE_MULTI, cred=ALL_CAPS)
    ip_kp, ip_fe, ip_km = (get_func_proto(F.BPF_FUNC_get_func_ip, p) for p in (kp, fe, km))
    assert ip_kp is not ip_fe and ip_kp.gpl_only and ip_fe.gpl_only and not ip_km.gpl_only
    sf = make_prog(host_kernel, PT.BPF_PROG_TYPE_SOCKET_FILTER, cred=ALL_CAPS)
    assert get_func_proto(F.BPF_FUNC_perf_event_output, sf) is not get_func_proto(F.BPF_FUNC_perf_event_output, kp)


# reference/bpf-syscall.md 3.1
GPL_ONLY = {
    True: ["probe_read_user", "probe_read_user_str", "probe_read_kernel", "probe_read_kernel_str",
           "probe_read", "probe_read_str", "probe_write_user", "trace_printk", "trace_vprintk",
           "seq_printf", "seq_write", "seq_printf_btf", "perf_event_output", "perf_event_read",
           "perf_event_read_value", "perf_prog_read_value", "read_branch_records",
           "get_branch_snapshot", "get_stackid", "get_stack", "get_current_task",
           "get_current_task_btf", "task_pt_regs", "get_func_ip", "override_return",
           "copy_from_user_task", "snprintf"],
    False: ["map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem", "map_pop_elem",
            "map_peek_elem", "map_lookup_percpu_elem", "ktime_get_ns", "ktime_get_boot_ns",
            "ktime_get_coarse_ns", "ktime_get_tai_ns", "jiffies64", "get_current_pid_tgid",
            "get_current_uid_gid", "get_current_comm", "get_ns_current_pid_tgid",
            "get_smp_processor_id", "get_numa_node_id", "get_prandom_u32", "get_current_cgroup_id",
            "get_current_ancestor_cgroup_id", "spin_lock", "spin_unlock", "strtol", "strtoul",
            "strncmp", "copy_from_user", "ringbuf_output", "ringbuf_reserve", "ringbuf_submit",
            "ringbuf_discard", "ringbuf_query", "send_signal", "send_signal_thread", "d_path",
            "snprintf_btf", "get_attach_cookie", "get_func_arg", "get_func_ret", "get_func_arg_cnt",
            "loop", "tail_call", "skb_load_bytes"],
}


def _proto_anywhere(kernel, name):
    fid = getattr(F, "BPF_FUNC_" + name)
    for pt, eat in [(PT.BPF_PROG_TYPE_KPROBE, 0), (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY),
                    (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER), (PT.BPF_PROG_TYPE_PERF_EVENT, 0),
                    (PT.BPF_PROG_TYPE_SOCKET_FILTER, 0)]:
        proto = get_func_proto(fid, make_prog(kernel, pt, eat, cred=ALL_CAPS))
        if proto is not None:
            return proto
    raise AssertionError(f"no type offers {name}")


@pytest.mark.parametrize("gpl", [True, False])
def test_gpl_only_table(gpl):
    kernel, _ = make_kernel()
    for name in GPL_ONLY[gpl]:
        proto = _proto_anywhere(kernel, name)
        assert proto.gpl_only is gpl, name
        assert proto.name == func_id_name(getattr(F, "BPF_FUNC_" + name))


def test_func_id_name():
    assert func_id_name(0) == "bpf_unspec"
    assert func_id_name(183) == "bpf_get_func_arg"
    assert func_id_name(212) == "unknown" and func_id_name(-1) == "unknown"


# -- ctx access -----------------------------------------------------------------------------------


def acc(prog, off, size, t=BPF_READ, ldsx=False):
    info = BpfInsnAccessAux(is_ldsx=ldsx)
    log = []
    info.log = log.append
    return is_valid_access(off, size, t, prog, info), info, "".join(log)


@pytest.mark.parametrize("arch,size", [("x86_64", 168), ("i386", 68), ("arm64", 336)])
def test_kprobe_ctx_is_pt_regs_of_the_arch(arch, size):
    kernel, _ = make_kernel(arch=arch)
    p = make_prog(kernel, PT.BPF_PROG_TYPE_KPROBE)
    assert ctx_size(p) == size
    assert acc(p, size - 4, 4)[0] and not acc(p, size, 4)[0] and not acc(p, size - 2, 4)[0]
    if size % 8 == 0:
        assert acc(p, size - 8, 8)[0] and not acc(p, size, 8)[0]
    assert acc(p, 1, 1)[0] and not acc(p, 2, 4)[0] and not acc(p, 0, 8, BPF_WRITE)[0]
    assert not acc(p, -8, 8)[0]


def test_tracepoint_ctx():
    kernel, _ = make_kernel()
    p = make_prog(kernel, PT.BPF_PROG_TYPE_TRACEPOINT)
    assert not acc(p, 0, 8)[0] and not acc(p, 4, 4)[0] and acc(p, 8, 8)[0]
    assert acc(p, 8184, 8)[0] and acc(p, 8188, 4)[0] and not acc(p, 8192, 8)[0]
    assert not acc(p, 12, 8)[0] and not acc(p, 16, 8, BPF_WRITE)[0]


def test_raw_tp_and_writable():
    kernel, _ = make_kernel()
    p = make_prog(kernel, PT.BPF_PROG_TYPE_RAW_TRACEPOINT)
    assert acc(p, 88, 8)[0] and not acc(p, 96, 8)[0] and acc(p, 4, 4)[0] and acc(p, 1, 1)[0]
    ok, info, _ = acc(p, 0, 8)
    assert ok and info.reg_type == BpfRegType.SCALAR_VALUE
    w = make_prog(kernel, PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)
    ok, info, _ = acc(w, 0, 8)
    assert ok and info.reg_type == BpfRegType.PTR_TO_TP_BUFFER
    assert not acc(w, 0, 4)[0] and acc(w, 8, 4)[0]


def test_perf_event_ctx():
    kernel, _ = make_kernel()
    p = make_prog(kernel, PT.BPF_PROG_TYPE_PERF_EVENT)
    assert ctx_size(p) == 184
    assert acc(p, 176, 8)[0] and not acc(p, 184, 8)[0] and acc(p, 168, 4)[0] and acc(p, 172, 4)[0]
    assert acc(p, 176, 1)[0] and not acc(p, 0, 4)[0] and acc(p, 0, 8)[0]
    assert acc(p, 168, 4)[1].ctx_field_size == 8


def test_socket_filter_sk_buff_rules():
    kernel, _ = make_kernel()
    p = make_prog(kernel, PT.BPF_PROG_TYPE_SOCKET_FILTER)
    assert acc(p, 0, 4)[0] and acc(p, 0, 2)[0] and acc(p, 0, 1)[0] and not acc(p, 0, 8)[0]
    assert not acc(p, 0, 4, BPF_WRITE)[0]                      # len is read only
    assert acc(p, 48, 4, BPF_WRITE)[0] and acc(p, 64, 4, BPF_WRITE)[0] and acc(p, 48, 8, BPF_WRITE)[0]
    assert not acc(p, 64, 8)[0]                                # runs past cb[4]
    for field_off in (72, 76, 80, 88, 140, 152, 160, 184):    # tc_classid, data, ..., hwtstamp
        assert not acc(p, field_off, 4)[0] and not acc(p, field_off, 8)[0]
    ok, info, _ = acc(p, 168, 8)
    assert ok and info.reg_type == BpfRegType.PTR_TO_SOCK_COMMON | BpfTypeFlag.PTR_MAYBE_NULL
    assert not acc(p, 168, 4)[0] and not acc(p, 180, 1)[0] and not acc(p, 182, 1)[0]
    assert acc(p, 164, 4)[0] and acc(p, 176, 4)[0] and not acc(p, 192, 4)[0]
    assert acc(p, 8, 4)[1].ctx_field_size == 4


SRC = """
struct task_struct { int pid; int tgid; };
struct pair { long a; long b; };
typedef struct task_struct task_t;
int target(int a, const task_t *t, char *s, struct pair p, unsigned long long x);
void vtarget(struct task_struct *t);
struct task_struct *ptarget(int x);
typedef void (*btf_trace_sched_switch)(void *__data, _Bool preempt, struct task_struct *prev,
                                       struct task_struct *next, unsigned int prev_state);
"""


@pytest.fixture(scope="module")
def tbtf():
    return btf_from_c(SRC)


def tracing_prog(tbtf, func, eat):
    kernel, _ = make_kernel()
    if func.startswith("btf_trace_"):
        typedef = tbtf.find_by_name_kind(func, 8)
        proto = tbtf.type_by_id(tbtf.type_by_id(typedef).type).type
        name = func[len("btf_trace_"):]
    else:
        fid = tbtf.find_by_name_kind(func, 12)
        proto, name = tbtf.type_by_id(fid).type, func
    return make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, eat, attach_btf=tbtf,
                     attach_func_proto=proto, attach_func_name=name)


def test_btf_ctx_access_fentry(tbtf):
    p = tracing_prog(tbtf, "target", AT.BPF_TRACE_FENTRY)
    ok, info, _ = acc(p, 0, 4)                      # int a: a narrow read of a scalar slot
    assert ok and info.reg_type == BpfRegType.SCALAR_VALUE
    ok, info, log = acc(p, 8, 8)                    # const task_t *: PTR_TO_BTF_ID, untrusted
    assert ok and info.reg_type == BpfRegType.PTR_TO_BTF_ID
    assert tbtf.name_of(info.btf_id) == "task_struct" and info.btf is tbtf
    assert "func 'target' arg1 has btf_id" in log and "STRUCT 'task_struct'" in log
    assert acc(p, 8, 4)[2] == "func 'target' size 4 must be 8\n"
    ok, info, _ = acc(p, 16, 8)                     # char *: a scalar
    assert ok and info.reg_type == BpfRegType.SCALAR_VALUE
    assert acc(p, 24, 8)[0] and acc(p, 32, 8)[0]    # struct pair by value: two slots
    assert acc(p, 40, 8)[0]                         # x
    assert acc(p, 4, 4)[2] == "func 'target' offset 4 is not multiple of 8\n"
    ok, _, log = acc(p, 48, 8)                      # the return slot: not for fentry
    assert not ok and log == "func 'target' doesn't have 6-th argument\n"
    ok, _, log = acc(p, 56, 8)
    assert not ok and log == "func 'target' doesn't have 7-th argument\n"
    assert not acc(p, 96, 8)[0] and not acc(p, 0, 8, BPF_WRITE)[0]


def test_btf_ctx_access_fexit_and_fmod_ret(tbtf):
    fexit = tracing_prog(tbtf, "target", AT.BPF_TRACE_FEXIT)
    ok, info, _ = acc(fexit, 48, 8)
    assert ok and info.reg_type == BpfRegType.SCALAR_VALUE
    assert acc(tracing_prog(tbtf, "target", AT.BPF_MODIFY_RETURN), 48, 8)[0]
    # a void return takes no slot in btf_ctx_arg_idx, so the offset is past the end
    ok, _, log = acc(tracing_prog(tbtf, "vtarget", AT.BPF_TRACE_FEXIT), 8, 8)
    assert not ok and log == "func 'vtarget' doesn't have 3-th argument\n"
    ok, _, log = acc(tracing_prog(tbtf, "ptarget", AT.BPF_MODIFY_RETURN), 8, 8)
    assert not ok and log == "ret type PTR not allowed for fmod_ret\n"
    ok, info, _ = acc(tracing_prog(tbtf, "ptarget", AT.BPF_TRACE_FEXIT), 8, 8)
    assert ok and info.reg_type == BpfRegType.PTR_TO_BTF_ID


def test_btf_ctx_access_tp_btf_trusted(tbtf):
    p = tracing_prog(tbtf, "btf_trace_sched_switch", AT.BPF_TRACE_RAW_TP)
    assert acc(p, 0, 1)[0]                                     # preempt
    ok, info, _ = acc(p, 8, 8)                                 # prev
    assert ok and info.reg_type == BpfRegType.PTR_TO_BTF_ID | BpfTypeFlag.PTR_TRUSTED
    assert acc(p, 8, 4)[2] == "func 'sched_switch' size 4 must be 8\n"
    assert acc(p, 24, 8)[0]
    assert acc(p, 32, 8)[2] == "func 'sched_switch' doesn't have 5-th argument\n"
    assert acc(p, 4, 4)[2] == "func 'sched_switch' offset 4 is not multiple of 8\n"


def test_btf_ctx_access_without_btf():
    kernel, _ = make_kernel()
    fexit = make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FEXIT, attach_func_name="f")
    assert all(acc(fexit, 8 * i, 8)[0] for i in range(6)) and not acc(fexit, 48, 8)[0]
    fmod = make_prog(kernel, PT.BPF_PROG_TYPE_TRACING, AT.BPF_MODIFY_RETURN, attach_func_name="f")
    assert acc(fmod, 32, 8)[0] and not acc(fmod, 40, 8)[0]


def test_registration_table_shape():
    for ops in PROG_TYPES.values():
        assert ops.verifier.get_func_proto is not None and ops.verifier.is_valid_access is not None
    assert PROG_TYPES[PT.BPF_PROG_TYPE_KPROBE].prog.test_run is None
    assert PROG_TYPES[PT.BPF_PROG_TYPE_RAW_TRACEPOINT].prog.test_run is not None
    assert PT.BPF_PROG_TYPE_XDP not in PROG_TYPES
