"""Calls: helper calls and their argument checks, bpf-to-bpf calls, references, stack depth
(kernel/bpf/verifier.c check_helper_call, check_func_arg, check_reg_type, check_helper_mem_access,
check_mem_size_reg, check_map_func_compatibility, check_func_call, prepare_func_exit,
check_reference_leak, check_max_stack_depth; 6.18).

A helper's ``BpfFuncProto`` (kernelsim/helpers) says what each argument register must hold; the
program type's ``get_func_proto`` says whether the program may call it at all. After the call
R1-R5 are unreadable and R0 has the return type: a scalar, a map value that may be NULL (a fresh
id for the null check), ring buffer memory (an acquired reference that must be submitted or
discarded on every path: "Unreleased reference id=%d alloc_insn=%d").

bpf-to-bpf calls push a frame (at most 8) whose R1-R5 are the caller's; ``check_max_stack_depth``
then walks the static call graph adding each frame's stack rounded up (16 with the x86-64 JIT,
whose interpreter-free mode Linux 6.18 runs here) and refusing more than 512 bytes.
"""

import errno

from ..errors import BpfError
from ..helpers.names import func_id_name
from ..helpers.unsupported import NOT_MODELLED
from ..helpers.proto import BpfArgType as A, BpfReturnType as R, BpfTypeFlag as T
from ..uapi import BpfMapType as MT, BpfProgType as PT, BpfFuncId as F, ENOTSUPP
from . import mem
from .reg_state import (CONST_PTR_TO_DYNPTR, MEM_ALLOC, MEM_PERCPU, PTR_TO_SOCK_COMMON, PTR_TO_SOCKET,
                        PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK)
from .reg_state import (CONST_PTR_TO_MAP, MEM_RDONLY, MEM_RINGBUF, PTR_MAYBE_NULL, PTR_TO_BTF_ID,
                        PTR_TO_BUF, PTR_TO_CTX, PTR_TO_FUNC, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
                        PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_STACK, PTR_TRUSTED,
                        PTR_UNTRUSTED, MEM_RCU, SCALAR_VALUE, NOT_INIT, BpfRegState,
                        __mark_reg_known_zero, __mark_reg_not_init, __mark_reg_unknown, base_type,
                        reg_bounds_sync, reg_type_str, register_is_null, type_may_be_null)
from .states import BpfReferenceState, REF_TYPE_PTR, BpfFuncState
from .tnum import tnum_is_const

SRC_OP, DST_OP, DST_OP_NO_MARK = 0, 1, 2
BPF_READ, BPF_WRITE = 1, 2
MAX_CALL_FRAMES = 8
MAX_BPF_STACK = 512
BPF_PRIV_STACK_MIN_SIZE = 64
MAX_ERRNO = 4095

DYNPTR_FLAGS = int(T.DYNPTR_TYPE_LOCAL | T.DYNPTR_TYPE_RINGBUF | T.DYNPTR_TYPE_SKB | T.DYNPTR_TYPE_XDP)

_MEM_TYPES = (PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
              PTR_TO_MEM, PTR_TO_MEM | MEM_RINGBUF, PTR_TO_BUF, PTR_TO_BTF_ID | PTR_TRUSTED)
_SOCK_TYPES = (PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK)
COMPATIBLE = {
    A.ARG_PTR_TO_MAP_KEY: _MEM_TYPES,
    A.ARG_PTR_TO_MAP_VALUE: _MEM_TYPES,
    A.ARG_CONST_SIZE: (SCALAR_VALUE,),
    A.ARG_CONST_SIZE_OR_ZERO: (SCALAR_VALUE,),
    A.ARG_CONST_ALLOC_SIZE_OR_ZERO: (SCALAR_VALUE,),
    A.ARG_CONST_MAP_PTR: (CONST_PTR_TO_MAP,),
    A.ARG_PTR_TO_CTX: (PTR_TO_CTX,),
    A.ARG_PTR_TO_BTF_ID: (PTR_TO_BTF_ID, PTR_TO_BTF_ID | PTR_TRUSTED, PTR_TO_BTF_ID | MEM_RCU),
    A.ARG_PTR_TO_MEM: _MEM_TYPES,
    A.ARG_PTR_TO_RINGBUF_MEM: (PTR_TO_MEM | MEM_RINGBUF,),
    A.ARG_PTR_TO_FUNC: (PTR_TO_FUNC,),
    A.ARG_PTR_TO_STACK: (PTR_TO_STACK,),
    A.ARG_PTR_TO_CONST_STR: (PTR_TO_MAP_VALUE,),
    A.ARG_PTR_TO_TIMER: (PTR_TO_MAP_VALUE,),
    A.ARG_PTR_TO_SPIN_LOCK: (PTR_TO_MAP_VALUE, PTR_TO_BTF_ID | int(T.MEM_ALLOC)),
    A.ARG_PTR_TO_SOCK_COMMON: _SOCK_TYPES,
    A.ARG_PTR_TO_SOCKET: (PTR_TO_SOCKET,),
    A.ARG_PTR_TO_BTF_ID_SOCK_COMMON: _SOCK_TYPES + (PTR_TO_BTF_ID, PTR_TO_BTF_ID | PTR_TRUSTED),
    A.ARG_PTR_TO_PERCPU_BTF_ID: (PTR_TO_BTF_ID | MEM_PERCPU, PTR_TO_BTF_ID | MEM_PERCPU | MEM_RCU,
                                 PTR_TO_BTF_ID | MEM_PERCPU | PTR_TRUSTED),
    A.ARG_PTR_TO_DYNPTR: (PTR_TO_STACK, CONST_PTR_TO_DYNPTR),
    A.ARG_KPTR_XCHG_DEST: (PTR_TO_MAP_VALUE, PTR_TO_BTF_ID | MEM_ALLOC),
}
# compatible->btf_id of the types that have one (btf_id_sock_common_types)
COMPATIBLE_BTF_ID = {A.ARG_PTR_TO_BTF_ID_SOCK_COMMON: ("struct", "sock_common")}

# Helper arguments whose verification needs verifier state kernelsim does not model (dynptr
# stack slots, bpf_timer / kptr fields in map values): a program that gets this far is refused
# with ENOTSUPP and "kernelsim: ..." (Linux may accept it; docs/helpers.md lists them).
UNSUPPORTED_ARGS = {A.ARG_PTR_TO_DYNPTR: "dynptr", A.ARG_PTR_TO_TIMER: "bpf_timer",
                    A.ARG_KPTR_XCHG_DEST: "kptr"}


class CallArgMeta:
    """struct bpf_call_arg_meta."""

    def __init__(self, func_id: int):
        self.map_ptr = None
        self.map_uid = 0
        self.raw_mode = False
        self.release_regno = 0
        self.regno = 0
        self.access_size = 0
        self.mem_size = 0
        self.msize_max_value = 0
        self.ref_obj_id = 0
        self.func_id = func_id
        self.subprogno = 0
        self.const_map_key = -1
        self.ret_btf = None
        self.ret_btf_id = 0


def get_helper_proto(env, func_id: int):
    if func_id < 0 or func_id >= 212:
        return "range"
    if env.ops is None or env.ops.get_func_proto is None:
        return None
    return env.ops.get_func_proto(func_id, env.prog)


def helper_nargs(env, func_id: int) -> int:
    try:
        fn = get_helper_proto(env, func_id)
    except Exception:  # noqa: BLE001
        return -1
    if fn is None or fn == "range":
        return -1
    n = 0
    for i in range(5):
        if fn.arg(i) != A.ARG_DONTCARE:
            n = i + 1
    return n


def find_subprog(env, off: int) -> int:
    for i, s in enumerate(env.subprogs):
        if s.start == off:
            return i
    return -1


def acquire_reference(env, insn_idx: int) -> int:
    rid = env.new_id()
    env.cur_state.refs.append(BpfReferenceState(REF_TYPE_PTR, rid, insn_idx))
    return rid


def release_reference(env, ref_obj_id: int) -> bool:
    st = env.cur_state
    for i, r in enumerate(st.refs):
        if r.id == ref_obj_id and r.type == REF_TYPE_PTR:
            del st.refs[i]
            break
    else:
        return False
    for f in st.frame:
        for reg in f.regs:
            if reg.ref_obj_id == ref_obj_id:
                _mark_reg_invalid(env, reg)
        for s in f.stack:
            if s.slot_type[7] == 1 and s.spilled_ptr.ref_obj_id == ref_obj_id:
                _mark_reg_invalid(env, s.spilled_ptr)
    return True


def _mark_reg_invalid(env, reg: BpfRegState) -> None:
    if not env.allow_ptr_leaks:
        __mark_reg_not_init(reg)
    else:
        __mark_reg_unknown(reg, env.bpf_capable)


def check_resource_leak(env, exception_exit: bool, check_lock: bool, prefix: str) -> None:
    refs = [r for r in env.cur_state.refs if r.type == REF_TYPE_PTR]
    if refs:
        for r in refs:
            env.verbose(f"Unreleased reference id={r.id} alloc_insn={r.insn_idx}\n")
        env.fail(errno.EINVAL, f"{prefix} would lead to reference leak")


# -- helper calls -----------------------------------------------------------------------------

def check_helper_call(env, insn, insn_idx: int) -> None:
    func_id = insn.imm
    fn = get_helper_proto(env, func_id)
    if fn == "range":
        env.fail(errno.EINVAL, f"invalid func {func_id_name(func_id)}#{func_id}")
    if fn is None:
        env.fail(errno.EINVAL, f"program of this type cannot use helper {func_id_name(func_id)}#{func_id}")
    if not env.prog.gpl_compatible and fn.gpl_only:
        env.fail(errno.EINVAL, "cannot call GPL-restricted function from non-GPL compatible program")
    if fn.allowed is not None and not fn.allowed(env.prog):
        env.fail(errno.EINVAL, "helper call is not allowed in probe")
    if fn.might_sleep and not (env.prog.prog_flags & 16):
        env.fail(errno.EINVAL, "helper call might sleep in a non-sleepable prog")
    meta = CallArgMeta(func_id)
    for i in range(5):
        check_func_arg(env, i, meta, fn, insn_idx)
    record_func_map(env, meta, func_id)
    for i in range(meta.access_size):
        mem.check_mem_access(env, insn_idx, meta.regno, i, 0x10, BPF_WRITE, -1, False, False)
    regs = env.cur_regs()
    if meta.release_regno:
        ok = False
        if meta.ref_obj_id:
            ok = release_reference(env, meta.ref_obj_id)
        elif register_is_null(regs[meta.release_regno]):
            ok = True
        if not ok:
            env.fail(errno.EINVAL, f"func {func_id_name(func_id)}#{func_id} reference has not been acquired before")
    if fn.func is None:
        unsupported(env, fn, func_id, NOT_MODELLED.get(func_id, "an implementation"))
    if func_id == F.BPF_FUNC_tail_call:
        check_resource_leak(env, False, True, "tail_call")
        env.has_tail_call = True
        env.tail_call_reachable = True
    elif func_id == F.BPF_FUNC_loop:
        check_loop_call(env, insn_idx, meta)
    elif func_id == F.BPF_FUNC_find_vma:
        push_callback_call(env, insn_idx, meta, set_find_vma_callback_state)
    for r in range(6):
        __mark_reg_not_init(regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK)
    r0 = regs[0]
    ret = fn.ret_type
    rbase, rflag = ret & 0xFF, ret & ~0xFF
    if rbase == R.RET_INTEGER:
        __mark_reg_unknown(r0, env.bpf_capable)
    elif rbase == R.RET_VOID:
        r0.type = NOT_INIT
    elif rbase == R.RET_PTR_TO_MAP_VALUE:
        __mark_reg_known_zero(r0)
        if meta.map_ptr is None:
            raise BpfError(errno.EFAULT, "unexpected null map_ptr")
        m = meta.map_ptr
        if func_id == F.BPF_FUNC_map_lookup_elem and m.map_type in (MT.BPF_MAP_TYPE_ARRAY, MT.BPF_MAP_TYPE_PERCPU_ARRAY) \
                and 0 <= meta.const_map_key < m.max_entries:
            rflag &= ~PTR_MAYBE_NULL
        r0.map_ptr = m
        r0.map_uid = meta.map_uid
        r0.type = PTR_TO_MAP_VALUE | rflag
    elif rbase == R.RET_PTR_TO_MEM:
        __mark_reg_known_zero(r0)
        r0.type = PTR_TO_MEM | rflag
        r0.mem_size = meta.mem_size if not fn.ret_buf_size else fn.ret_buf_size
    elif rbase == R.RET_PTR_TO_BTF_ID:
        __mark_reg_known_zero(r0)
        r0.type = PTR_TO_BTF_ID | rflag
        btf, bid = _ret_btf(env, fn)
        r0.btf, r0.btf_id = btf, bid
    elif rbase == R.RET_PTR_TO_MEM_OR_BTF_ID:
        # bpf_per_cpu_ptr / bpf_this_cpu_ptr: the ksym's type (meta.ret_btf_id, from the
        # ARG_PTR_TO_PERCPU_BTF_ID argument): a struct gives PTR_TO_BTF_ID (MEM_RDONLY folded),
        # anything else PTR_TO_MEM of its size
        __mark_reg_known_zero(r0)
        btf, tid = meta.ret_btf, meta.ret_btf_id
        t = btf.skip_modifiers(tid)
        if btf.type_by_id(t).kind not in (4, 5):
            try:
                size = btf.resolve_size(t)
            except Exception:  # noqa: BLE001
                env.fail(errno.EINVAL, f"unable to resolve the size of type '{btf.name_of(t)}': -22")
            r0.type = PTR_TO_MEM | rflag
            r0.mem_size = size
        else:
            r0.type = PTR_TO_BTF_ID | (rflag & ~MEM_RDONLY)
            r0.btf, r0.btf_id = btf, tid
    else:
        __mark_reg_unknown(r0, env.bpf_capable)
    if type_may_be_null(r0.type):
        r0.id = env.new_id()
    if func_id in PTR_CAST_FUNCS:
        r0.ref_obj_id = meta.ref_obj_id           # is_ptr_cast_function: for release_reference
    if func_id == F.BPF_FUNC_ringbuf_reserve:
        rid = acquire_reference(env, insn_idx)
        r0.id = rid
        r0.ref_obj_id = rid
    do_refine_retval_range(env, r0, ret, func_id, meta)
    check_map_func_compatibility(env, meta.map_ptr, func_id)
    if func_id in (F.BPF_FUNC_get_stackid, F.BPF_FUNC_get_stack):
        env.call_get_stack = True
    if func_id == F.BPF_FUNC_get_func_ip:
        check_get_func_ip(env)
        env.call_get_func_ip = True
    if func_id == F.BPF_FUNC_tail_call and env.cur_state.curframe:
        # a tail call that succeeds leaves the whole program: from a subprogram, walk that
        # return to the caller now (R0 unknown), the fall-through later (6.18 check_helper_call)
        from .verifier import push_stack
        env.mark_reg_scratched(0)
        push_stack(env, env.insn_idx + 1, env.insn_idx)
        __mark_reg_unknown(env.cur_regs()[0], env.bpf_capable)
        prepare_func_exit(env)
        env.insn_idx -= 1


PTR_CAST_FUNCS = frozenset({F.BPF_FUNC_tcp_sock, F.BPF_FUNC_sk_fullsock, F.BPF_FUNC_skc_to_tcp_sock,
                            F.BPF_FUNC_skc_to_tcp6_sock, F.BPF_FUNC_skc_to_udp6_sock,
                            F.BPF_FUNC_skc_to_mptcp_sock, F.BPF_FUNC_skc_to_tcp_timewait_sock,
                            F.BPF_FUNC_skc_to_tcp_request_sock})


def unsupported(env, fn, func_id: int, what: str) -> None:
    """A helper Linux would go on verifying with machinery kernelsim lacks: ENOTSUPP (invented
    message, prefixed "kernelsim:" so that it is never mistaken for the kernel's)."""
    env.fail(ENOTSUPP, f"kernelsim: {func_id_name(func_id)}#{func_id} needs {what}, which the "
                       f"simulator does not model")


def btf_type_id(btf, spec) -> int:
    """A proto's BTF type (("struct", name), a name, or an id) in ``btf``; 0 when absent."""
    if btf is None or spec is None:
        return 0
    if isinstance(spec, int):
        return spec
    kind, name = spec if isinstance(spec, tuple) else ("struct", spec)
    try:
        return btf.find_by_name_kind(name, {"struct": 4, "union": 5, "typedef": 8}[kind]) or 0
    except Exception:  # noqa: BLE001 - a BTF without that type (the embedded subset)
        return 0


def _ret_btf(env, fn):
    btf = getattr(env.prog.kernel, "btf", None)
    return btf, btf_type_id(btf, fn.ret_btf_id)


def btf_struct_ids_match(btf, tid: int, off: int, need: int) -> bool:
    """btf.c btf_struct_ids_match (not strict): the object at ``off`` in struct ``tid`` is a
    ``need``, or starts with one (members at offset 0 walked down, as btf_struct_walk does):
    a struct sock is a sock_common, a tcp_sock is a sock."""
    try:
        tid = btf.skip_modifiers(tid)
        for _ in range(32):
            if off == 0 and tid == need:
                return True
            if btf.type_by_id(tid).kind not in (4, 5):
                return False
            for m in btf.members(tid):
                mtid = btf.skip_modifiers(m.type)
                if btf.type_by_id(mtid).kind not in (4, 5):
                    continue
                moff = m.bit_offset // 8
                if moff <= off < moff + btf.resolve_size(mtid):
                    tid, off = mtid, off - moff
                    break
            else:
                return False
    except Exception:  # noqa: BLE001 - incomplete BTF
        return False
    return False


def _btf_name(btf, tid: int) -> str:
    try:
        return btf.name_of(tid) if tid else ""
    except Exception:  # noqa: BLE001
        return ""


def check_get_func_ip(env) -> None:
    from ..helpers.trace_funcs import bpf_prog_has_trampoline
    t = env.prog.type
    name = f"{func_id_name(F.BPF_FUNC_get_func_ip)}#{int(F.BPF_FUNC_get_func_ip)}"
    if t == PT.BPF_PROG_TYPE_TRACING:
        if not bpf_prog_has_trampoline(env.prog):
            env.fail(ENOTSUPP, f"func {name} supported only for fentry/fexit/fmod_ret programs")
        return
    if t == PT.BPF_PROG_TYPE_KPROBE:
        return
    env.fail(ENOTSUPP, f"func {name} not supported for program type {int(t)}")


def do_refine_retval_range(env, r0: BpfRegState, ret_type: int, func_id: int, meta) -> None:
    if ret_type != R.RET_INTEGER:
        return
    if func_id in (F.BPF_FUNC_get_stack, F.BPF_FUNC_get_task_stack, F.BPF_FUNC_probe_read_str,
                   F.BPF_FUNC_probe_read_kernel_str, F.BPF_FUNC_probe_read_user_str):
        r0.smax = meta.msize_max_value if meta.msize_max_value < (1 << 63) else (1 << 63) - 1
        m32 = meta.msize_max_value & 0xFFFFFFFF
        r0.s32_max = m32 - (1 << 32) if m32 >> 31 else m32
        r0.smin = -MAX_ERRNO
        r0.s32_min = -MAX_ERRNO
        reg_bounds_sync(r0)
    elif func_id == F.BPF_FUNC_get_smp_processor_id:
        n = _nr_cpu_ids(env) - 1
        r0.umax = r0.u32_max = r0.smax = r0.s32_max = n
        r0.umin = r0.u32_min = r0.smin = r0.s32_min = 0
        reg_bounds_sync(r0)


def _nr_cpu_ids(env) -> int:
    k = getattr(env.prog, "kernel", None)
    return getattr(k, "nr_cpu_ids", None) or getattr(k, "ncpus", 1) or 1


def record_func_map(env, meta, func_id: int) -> None:
    if func_id not in (F.BPF_FUNC_tail_call, F.BPF_FUNC_map_lookup_elem, F.BPF_FUNC_map_update_elem,
                       F.BPF_FUNC_map_delete_elem, F.BPF_FUNC_map_push_elem, F.BPF_FUNC_map_pop_elem,
                       F.BPF_FUNC_map_peek_elem, F.BPF_FUNC_for_each_map_elem,
                       F.BPF_FUNC_redirect_map, F.BPF_FUNC_map_lookup_percpu_elem):
        return
    m = meta.map_ptr
    if m is None:
        raise BpfError(errno.EFAULT, "expected map for helper call")
    from ..uapi import BpfMapFlags as MF
    if m.map_flags & MF.BPF_F_RDONLY_PROG and func_id in (
            F.BPF_FUNC_map_delete_elem, F.BPF_FUNC_map_update_elem, F.BPF_FUNC_map_push_elem,
            F.BPF_FUNC_map_pop_elem):
        env.fail(errno.EACCES, "write into map forbidden")


_MAP_FUNCS = {
    MT.BPF_MAP_TYPE_TASK_STORAGE: {F.BPF_FUNC_task_storage_get, F.BPF_FUNC_task_storage_delete,
                                   F.BPF_FUNC_kptr_xchg},
    MT.BPF_MAP_TYPE_SK_STORAGE: {F.BPF_FUNC_sk_storage_get, F.BPF_FUNC_sk_storage_delete,
                                 F.BPF_FUNC_kptr_xchg},
    MT.BPF_MAP_TYPE_INODE_STORAGE: {F.BPF_FUNC_inode_storage_get, F.BPF_FUNC_inode_storage_delete,
                                    F.BPF_FUNC_kptr_xchg},
    MT.BPF_MAP_TYPE_CGRP_STORAGE: {F.BPF_FUNC_cgrp_storage_get, F.BPF_FUNC_cgrp_storage_delete,
                                   F.BPF_FUNC_kptr_xchg},
    MT.BPF_MAP_TYPE_PROG_ARRAY: {F.BPF_FUNC_tail_call},
    MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY: {F.BPF_FUNC_perf_event_read, F.BPF_FUNC_perf_event_output,
                                       F.BPF_FUNC_skb_output, F.BPF_FUNC_perf_event_read_value,
                                       F.BPF_FUNC_xdp_output},
    MT.BPF_MAP_TYPE_RINGBUF: {F.BPF_FUNC_ringbuf_output, F.BPF_FUNC_ringbuf_reserve,
                              F.BPF_FUNC_ringbuf_query, F.BPF_FUNC_ringbuf_reserve_dynptr,
                              F.BPF_FUNC_ringbuf_submit_dynptr, F.BPF_FUNC_ringbuf_discard_dynptr},
    MT.BPF_MAP_TYPE_USER_RINGBUF: {F.BPF_FUNC_user_ringbuf_drain},
    MT.BPF_MAP_TYPE_STACK_TRACE: {F.BPF_FUNC_get_stackid},
    MT.BPF_MAP_TYPE_CGROUP_ARRAY: {F.BPF_FUNC_skb_under_cgroup, F.BPF_FUNC_current_task_under_cgroup},
    MT.BPF_MAP_TYPE_ARRAY_OF_MAPS: {F.BPF_FUNC_map_lookup_elem},
    MT.BPF_MAP_TYPE_HASH_OF_MAPS: {F.BPF_FUNC_map_lookup_elem},
    MT.BPF_MAP_TYPE_QUEUE: {F.BPF_FUNC_map_peek_elem, F.BPF_FUNC_map_pop_elem, F.BPF_FUNC_map_push_elem},
    MT.BPF_MAP_TYPE_STACK: {F.BPF_FUNC_map_peek_elem, F.BPF_FUNC_map_pop_elem, F.BPF_FUNC_map_push_elem},
    MT.BPF_MAP_TYPE_BLOOM_FILTER: {F.BPF_FUNC_map_peek_elem, F.BPF_FUNC_map_push_elem},
}
_FUNC_MAPS = {
    F.BPF_FUNC_task_storage_get: {MT.BPF_MAP_TYPE_TASK_STORAGE},
    F.BPF_FUNC_task_storage_delete: {MT.BPF_MAP_TYPE_TASK_STORAGE},
    F.BPF_FUNC_sk_storage_get: {MT.BPF_MAP_TYPE_SK_STORAGE},
    F.BPF_FUNC_sk_storage_delete: {MT.BPF_MAP_TYPE_SK_STORAGE},
    F.BPF_FUNC_inode_storage_get: {MT.BPF_MAP_TYPE_INODE_STORAGE},
    F.BPF_FUNC_inode_storage_delete: {MT.BPF_MAP_TYPE_INODE_STORAGE},
    F.BPF_FUNC_cgrp_storage_get: {MT.BPF_MAP_TYPE_CGRP_STORAGE},
    F.BPF_FUNC_cgrp_storage_delete: {MT.BPF_MAP_TYPE_CGRP_STORAGE},
    F.BPF_FUNC_tail_call: {MT.BPF_MAP_TYPE_PROG_ARRAY},
    F.BPF_FUNC_perf_event_read: {MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    F.BPF_FUNC_perf_event_output: {MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    F.BPF_FUNC_perf_event_read_value: {MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    F.BPF_FUNC_skb_output: {MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    F.BPF_FUNC_xdp_output: {MT.BPF_MAP_TYPE_PERF_EVENT_ARRAY},
    F.BPF_FUNC_ringbuf_output: {MT.BPF_MAP_TYPE_RINGBUF},
    F.BPF_FUNC_ringbuf_reserve: {MT.BPF_MAP_TYPE_RINGBUF},
    F.BPF_FUNC_ringbuf_query: {MT.BPF_MAP_TYPE_RINGBUF},
    F.BPF_FUNC_get_stackid: {MT.BPF_MAP_TYPE_STACK_TRACE},
    F.BPF_FUNC_current_task_under_cgroup: {MT.BPF_MAP_TYPE_CGROUP_ARRAY},
    F.BPF_FUNC_skb_under_cgroup: {MT.BPF_MAP_TYPE_CGROUP_ARRAY},
    F.BPF_FUNC_map_pop_elem: {MT.BPF_MAP_TYPE_QUEUE, MT.BPF_MAP_TYPE_STACK},
    F.BPF_FUNC_map_peek_elem: {MT.BPF_MAP_TYPE_QUEUE, MT.BPF_MAP_TYPE_STACK, MT.BPF_MAP_TYPE_BLOOM_FILTER},
    F.BPF_FUNC_map_push_elem: {MT.BPF_MAP_TYPE_QUEUE, MT.BPF_MAP_TYPE_STACK, MT.BPF_MAP_TYPE_BLOOM_FILTER},
    F.BPF_FUNC_map_lookup_percpu_elem: {MT.BPF_MAP_TYPE_PERCPU_ARRAY, MT.BPF_MAP_TYPE_PERCPU_HASH,
                                        MT.BPF_MAP_TYPE_LRU_PERCPU_HASH},
}


def check_map_func_compatibility(env, m, func_id: int) -> None:
    if m is None:
        return
    allowed = _MAP_FUNCS.get(m.map_type)
    bad = allowed is not None and func_id not in allowed
    maps = _FUNC_MAPS.get(func_id)
    if maps is not None and m.map_type not in maps:
        bad = True
    if bad:
        env.fail(errno.EINVAL, f"cannot pass map_type {int(m.map_type)} into func {func_id_name(func_id)}#{func_id}")
    if func_id == F.BPF_FUNC_tail_call and len(env.subprogs) > 1 and not env.bpf_capable:
        env.fail(errno.EINVAL, "mixing of tail_calls and bpf-to-bpf calls is not supported")


def check_reg_type(env, regno: int, arg_type: int, meta, arg_btf_id=None) -> None:
    reg = env.cur_regs()[regno]
    t = reg.type
    compatible = COMPATIBLE.get(arg_type & 0xFF)
    if compatible is None:
        raise BpfError(errno.EFAULT, f"unsupported arg type {arg_type}")
    if arg_type & MEM_RDONLY:
        t &= ~MEM_RDONLY
    if arg_type & PTR_MAYBE_NULL:
        t &= ~PTR_MAYBE_NULL
    if (arg_type & 0xFF) == A.ARG_PTR_TO_MEM:
        t &= ~DYNPTR_FLAGS
    if t in compatible:
        if base_type(reg.type) != PTR_TO_BTF_ID:
            return
        if compatible is _MEM_TYPES:
            if not arg_type & MEM_RDONLY:
                env.fail(errno.EACCES, f"{func_id_name(meta.func_id)}() may write into memory pointed by "
                                       f"R{regno} type={reg_type_str(reg.type)}")
            return
        if reg.type & (MEM_PERCPU | MEM_ALLOC):
            return                                  # handled by the helper-specific checks
        if type_may_be_null(reg.type) and (not (arg_type & PTR_MAYBE_NULL) or arg_type & T.OBJ_RELEASE):
            env.fail(errno.EACCES, f"Possibly NULL pointer passed to helper arg{regno}")
        base = arg_type & 0xFF
        spec = arg_btf_id if arg_btf_id is not None else COMPATIBLE_BTF_ID.get(base)
        btf = reg.btf if reg.btf is not None else getattr(env.prog.kernel, "btf", None)
        need = btf_type_id(btf, spec)
        if spec is None or not need or not reg.btf_id:
            return          # no type to match against (or a BTF without it): not checked
        if not btf_struct_ids_match(btf, reg.btf_id, reg.off, need):
            env.fail(errno.EACCES, f"R{regno} is of type {_btf_name(btf, reg.btf_id)} but "
                                   f"{_btf_name(btf, need)} is expected")
        return
    exp = ", ".join(reg_type_str(x) for x in compatible)
    env.fail(errno.EACCES, f"R{regno} type={reg_type_str(reg.type)} expected={exp}")


def check_func_arg_reg_off(env, reg: BpfRegState, regno: int, arg_type: int) -> None:
    t = reg.type
    if arg_type & T.OBJ_RELEASE:
        if reg.off:
            env.fail(errno.EINVAL, f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc")
        mem.check_ptr_off_reg(env, reg, regno, False)
        return
    if t in (PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
             PTR_TO_MEM, PTR_TO_MEM | MEM_RDONLY, PTR_TO_MEM | MEM_RINGBUF, PTR_TO_BUF,
             PTR_TO_BUF | MEM_RDONLY, 18, SCALAR_VALUE):
        return
    if base_type(t) == PTR_TO_BTF_ID and not (t & PTR_UNTRUSTED):
        mem.check_ptr_off_reg(env, reg, regno, True)
        return
    mem.check_ptr_off_reg(env, reg, regno, False)


def check_helper_mem_access(env, regno: int, access_size: int, access_type: int,
                            zero_size_allowed: bool, meta) -> None:
    regs = env.cur_regs()
    reg = regs[regno]
    b = base_type(reg.type)
    if b in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        env.fail(errno.EACCES, "invalid access to packet")
    if b == PTR_TO_MAP_KEY:
        if access_type == BPF_WRITE:
            env.fail(errno.EACCES, f"R{regno} cannot write into {reg_type_str(reg.type)}")
        mem.check_mem_region_access(env, regno, reg.off, access_size, reg.map_ptr.key_size, False)
        return
    if b == PTR_TO_MAP_VALUE:
        mem.check_map_access_type(env, regno, reg.off, access_size, access_type)
        mem.check_map_access(env, regno, reg.off, access_size, zero_size_allowed)
        return
    if b == PTR_TO_MEM:
        if reg.type & MEM_RDONLY and access_type == BPF_WRITE:
            env.fail(errno.EACCES, f"R{regno} cannot write into {reg_type_str(reg.type)}")
        mem.check_mem_region_access(env, regno, reg.off, access_size, reg.mem_size, zero_size_allowed)
        return
    if b == PTR_TO_STACK:
        mem.check_stack_range_initialized(env, regno, reg.off, access_size, zero_size_allowed,
                                          access_type, meta)
        return
    if b == PTR_TO_BTF_ID:
        mem.check_ptr_to_btf_access(env, regs, regno, reg.off, access_size, BPF_READ, -1, env.insn_idx)
        return
    if b == PTR_TO_CTX and (env.ops is None or env.ops.convert_ctx_access is None) and False:
        return
    if zero_size_allowed and access_size == 0 and register_is_null(reg):
        return
    env.fail(errno.EACCES, f"R{regno} type={reg_type_str(reg.type)} expected={reg_type_str(PTR_TO_STACK)}")


def check_mem_size_reg(env, reg: BpfRegState, regno: int, access_type: int,
                       zero_size_allowed: bool, meta) -> None:
    meta.msize_max_value = reg.umax
    if not tnum_is_const(reg.var_off):
        meta = None
    if reg.smin < 0:
        env.fail(errno.EACCES, f"R{regno} min value is negative, either use unsigned or 'var &= const'")
    if reg.umin == 0 and not zero_size_allowed:
        env.fail(errno.EACCES, f"R{regno} invalid zero-sized read: u64=[{reg.umin},{reg.umax}]")
    if reg.umax >= mem.BPF_MAX_VAR_SIZ:
        env.fail(errno.EACCES, f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
    check_helper_mem_access(env, regno - 1, reg.umax, access_type, zero_size_allowed, meta)


def check_reg_const_str(env, reg: BpfRegState, regno: int) -> None:
    from ..uapi import BpfMapFlags as MF
    m = reg.map_ptr
    if reg.type != PTR_TO_MAP_VALUE:
        raise BpfError(errno.EINVAL, "not a map value")
    if not (m.map_flags & MF.BPF_F_RDONLY_PROG and getattr(m, "frozen", False)):
        env.fail(errno.EACCES, f"R{regno} does not point to a readonly map'")
    if not tnum_is_const(reg.var_off):
        env.fail(errno.EACCES, f"R{regno} is not a constant address'")
    if m.ops.map_direct_value_addr is None:
        env.fail(errno.EACCES, "no direct value access support for this map type")
    mem.check_map_access(env, regno, reg.off, m.value_size - reg.off, False)
    map_off = reg.off + reg.var_off.value
    try:
        addr = m.ops.map_direct_value_addr(m, 0)
        data = m.kernel.mem.read(addr, m.value_size)
    except BpfError as e:
        env.verbose("direct value access on string failed\n")
        raise
    if 0 not in data[map_off:]:
        env.fail(errno.EINVAL, "string is not zero-terminated")


def check_func_arg(env, arg: int, meta, fn, insn_idx: int) -> None:
    regno = 1 + arg
    regs = env.cur_regs()
    reg = regs[regno]
    arg_type = fn.arg(arg)
    if arg_type == A.ARG_DONTCARE:
        return
    env.check_reg_arg(regno, SRC_OP)
    if arg_type == A.ARG_ANYTHING:
        if env.is_pointer_value(regno):
            env.fail(errno.EACCES, f"R{regno} leaks addr into helper function")
        return
    if base_type(reg.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META) and not fn.pkt_access:
        env.fail(errno.EACCES, "helper access to the packet is not allowed")
    base = arg_type & 0xFF
    if base == A.ARG_PTR_TO_MAP_VALUE:
        if meta.map_ptr is None:
            raise BpfError(errno.EFAULT, "invalid map_ptr to access map->type")
        if meta.map_ptr.map_type == MT.BPF_MAP_TYPE_BLOOM_FILTER and meta.func_id == F.BPF_FUNC_map_peek_elem:
            arg_type |= T.MEM_UNINIT
    skip = register_is_null(reg) and (arg_type & PTR_MAYBE_NULL)
    if not skip:
        btf_spec = fn.arg_btf_ids[arg] if arg < len(fn.arg_btf_ids) else None
        check_reg_type(env, regno, arg_type, meta, btf_spec)
        check_func_arg_reg_off(env, reg, regno, arg_type)
    if arg_type & T.OBJ_RELEASE:
        if not reg.ref_obj_id and not register_is_null(reg):
            env.fail(errno.EINVAL, f"R{regno} must be referenced when passed to release function")
        meta.release_regno = regno
    if reg.ref_obj_id:
        if meta.ref_obj_id:
            env.fail(errno.EACCES, f"verifier internal error: more than one arg with ref_obj_id "
                                   f"R{regno} {reg.ref_obj_id} {meta.ref_obj_id}")
        meta.ref_obj_id = reg.ref_obj_id
    if base == A.ARG_CONST_MAP_PTR:
        if meta.func_id == F.BPF_FUNC_tail_call and reg.map_ptr.map_type != MT.BPF_MAP_TYPE_PROG_ARRAY:
            env.verbose("expected prog array map for tail call")      # sic: no newline in 6.18
            raise BpfError(errno.EINVAL, "expected prog array map for tail call")
        if meta.map_ptr is not None and (meta.map_ptr is not reg.map_ptr or meta.map_uid != reg.map_uid):
            env.fail(errno.EINVAL, f"timer pointer in R1 map_uid={meta.map_uid} doesn't match map "
                                   f"pointer in R2 map_uid={reg.map_uid}")
        meta.map_ptr = reg.map_ptr
        meta.map_uid = reg.map_uid
    elif base == A.ARG_PTR_TO_MAP_KEY:
        if meta.map_ptr is None:
            raise BpfError(errno.EFAULT, "invalid map_ptr to access map->key")
        key_size = meta.map_ptr.key_size
        check_helper_mem_access(env, regno, key_size, BPF_READ, False, None)
        if meta.map_ptr.map_type in (MT.BPF_MAP_TYPE_ARRAY, MT.BPF_MAP_TYPE_PERCPU_ARRAY):
            meta.const_map_key = get_constant_map_key(env, reg, key_size)
    elif base == A.ARG_PTR_TO_MAP_VALUE:
        if (arg_type & PTR_MAYBE_NULL) and register_is_null(reg):
            return
        if meta.map_ptr is None:
            raise BpfError(errno.EFAULT, "invalid map_ptr to access map->value")
        meta.raw_mode = bool(arg_type & T.MEM_UNINIT)
        check_helper_mem_access(env, regno, meta.map_ptr.value_size,
                                BPF_WRITE if arg_type & T.MEM_WRITE else BPF_READ, False, meta)
    elif base == A.ARG_PTR_TO_FUNC:
        meta.subprogno = reg.subprogno
    elif base == A.ARG_PTR_TO_MEM:
        meta.raw_mode = bool(arg_type & T.MEM_UNINIT)
        if arg_type & T.MEM_FIXED_SIZE:
            size = fn.arg_size[arg] if arg < len(fn.arg_size) else 0
            check_helper_mem_access(env, regno, size, BPF_WRITE if arg_type & T.MEM_WRITE else BPF_READ,
                                    False, meta)
            if arg_type & T.MEM_ALIGNED:
                mem.check_ptr_alignment(env, reg, 0, size, True)
    elif base in (A.ARG_CONST_SIZE, A.ARG_CONST_SIZE_OR_ZERO):
        prev = fn.arg(arg - 1)
        check_mem_size_reg(env, reg, regno, BPF_WRITE if prev & T.MEM_WRITE else BPF_READ,
                           base == A.ARG_CONST_SIZE_OR_ZERO, meta)
    elif base == A.ARG_CONST_ALLOC_SIZE_OR_ZERO:
        if not tnum_is_const(reg.var_off):
            env.fail(errno.EACCES, f"R{regno} is not a known constant'")
        meta.mem_size = reg.var_off.value
    elif base == A.ARG_PTR_TO_CONST_STR:
        check_reg_const_str(env, reg, regno)
    elif base == A.ARG_PTR_TO_PERCPU_BTF_ID:
        if not reg.btf_id:
            env.fail(errno.EACCES, f"Helper has invalid btf_id in R{regno}")
        meta.ret_btf, meta.ret_btf_id = reg.btf, reg.btf_id
    elif base == A.ARG_PTR_TO_TIMER:
        process_timer_func(env, regno, meta)
        unsupported(env, fn, meta.func_id, "bpf_timer support")
    elif base in UNSUPPORTED_ARGS:
        unsupported(env, fn, meta.func_id, f"{UNSUPPORTED_ARGS[base]} support")


def get_constant_map_key(env, key: BpfRegState, key_size: int) -> int:
    from .states import STACK_SPILL, STACK_ZERO, is_spilled_scalar_reg
    if not env.bpf_capable or key.type != PTR_TO_STACK or not tnum_is_const(key.var_off):
        return -1
    state = env.func(key)
    v = key.var_off.value
    stack_off = key.off + (v - (1 << 64) if v >> 63 else v)
    slot = -stack_off - 1
    spi = slot // 8
    off = slot % 8
    if spi >= len(state.stack):
        return -1
    stype = state.stack[spi].slot_type
    zero = 0
    i = off
    while i >= 0 and stype[i] == STACK_ZERO:
        zero += 1
        i -= 1
    if zero >= key_size:
        return 0
    if not is_spilled_scalar_reg(state.stack[spi]):
        return -1
    spill = 0
    i = off
    while i >= 0 and stype[i] == STACK_SPILL:
        spill += 1
        i -= 1
    if spill != key_size:
        return -1
    reg = state.stack[spi].spilled_ptr
    if not tnum_is_const(reg.var_off):
        return -1
    return reg.var_off.value


def check_loop_call(env, insn_idx: int, meta) -> None:
    """bpf_loop (push_callback_call + set_loop_callback_state): while the caller frame's
    callback_depth is below nr_loops' umax, a state entering the callback (R1 = the index, an
    unknown scalar; R2 = callback_ctx) is pushed; the callback's exit returns to the call insn,
    which is visited again; the forced checkpoint there lets is_state_visited prune once the
    iterations converge. The current path goes on after the call with R0 unknown."""
    from .verifier import init_func_state, push_stack, mark_chain_precision
    st = env.cur_state
    caller = st.frame[st.curframe]
    regs = caller.regs
    mark_chain_precision(env, 1)
    if caller.callback_depth < regs[1].umax:
        cb = push_stack(env, env.subprogs[meta.subprogno].start, insn_idx, False)
        if cb.curframe + 1 >= MAX_CALL_FRAMES:
            env.fail(errno.E2BIG, f"the call stack of {cb.curframe + 2} frames is too deep")
        callee = init_func_state(env, cb.curframe + 1, insn_idx, meta.subprogno)
        __mark_reg_unknown(callee.regs[1], env.bpf_capable)
        callee.regs[2].assign(cb.frame[cb.curframe].regs[3])
        callee.in_callback_fn = True
        cb.frame.append(callee)
        cb.curframe += 1
        cb.frame[cb.curframe - 1].callback_depth += 1
        caller.callback_depth = 0
    else:
        caller.callback_depth = 0
        if env.log_level & 2:
            env.verbose(f"frame{st.curframe} bpf_loop iteration limit reached\n")


def push_callback_call(env, insn_idx: int, meta, set_callee_state) -> None:
    """push_callback_call for a synchronous callback other than bpf_loop's (bpf_find_vma): a
    state entering the callback is pushed every time the call is reached; the callback returns
    to the call insn (a forced checkpoint, cfg.py), so the exploration stops when a revisit is
    pruned. The current path goes on after the call with R0 unknown."""
    from .verifier import init_func_state, push_stack
    st = env.cur_state
    caller = st.frame[st.curframe]
    cb = push_stack(env, env.subprogs[meta.subprogno].start, insn_idx, False)
    if cb.curframe + 1 >= MAX_CALL_FRAMES:
        env.fail(errno.E2BIG, f"the call stack of {cb.curframe + 2} frames is too deep")
    callee = init_func_state(env, cb.curframe + 1, insn_idx, meta.subprogno)
    set_callee_state(env, cb.frame[cb.curframe], callee)
    callee.in_callback_fn = True
    cb.frame.append(callee)
    cb.curframe += 1
    cb.frame[cb.curframe - 1].callback_depth += 1
    caller.callback_depth = 0


def set_find_vma_callback_state(env, caller, callee) -> None:
    """(callback_fn)(struct task_struct *task, struct vm_area_struct *vma, void *callback_ctx):
    R1 = the caller's R1, R2 = a vm_area_struct pointer, R3 = the caller's R4."""
    callee.regs[1].assign(caller.regs[1])
    r2 = callee.regs[2]
    __mark_reg_known_zero(r2)
    r2.type = PTR_TO_BTF_ID
    r2.btf = getattr(env.prog.kernel, "btf", None)
    r2.btf_id = btf_type_id(r2.btf, ("struct", "vm_area_struct"))
    callee.regs[3].assign(caller.regs[4])


def process_timer_func(env, regno: int, meta) -> None:
    """check_map_field_pointer(..., BPF_TIMER): a constant offset into a map value whose BTF
    has a struct bpf_timer exactly there."""
    reg = env.cur_regs()[regno]
    m = reg.map_ptr
    if not tnum_is_const(reg.var_off):
        env.fail(errno.EINVAL, f"R{regno} doesn't have constant offset. bpf_timer has to be at the "
                               f"constant offset")
    name = getattr(m, "name", "") or ""
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    if getattr(m, "btf", None) is None:
        env.fail(errno.EINVAL, f"map '{name}' has to have BTF in order to use bpf_timer")
    record = getattr(m, "record", None) or {}
    if "timer" not in record:
        env.fail(errno.EINVAL, f"map '{name}' has no valid bpf_timer")
    off = reg.var_off.value + reg.off
    if record["timer"] != off:
        env.fail(errno.EINVAL, f"off {off} doesn't point to 'struct bpf_timer' that is at {record['timer']}")
    if meta.map_ptr is not None:
        raise BpfError(errno.EFAULT, "verifier bug. Two map pointers in a timer helper")
    meta.map_uid = reg.map_uid
    meta.map_ptr = m


# -- bpf-to-bpf calls -------------------------------------------------------------------------

def check_func_call(env, insn) -> None:
    state = env.cur_state
    idx = env.insn_idx
    target = idx + insn.imm + 1
    sub = find_subprog(env, target)
    if sub < 0:
        raise BpfError(errno.EFAULT, f"target of func call at insn {target} is not a program")
    if state.curframe + 1 >= MAX_CALL_FRAMES:
        env.fail(errno.E2BIG, f"the call stack of {state.curframe + 2} frames is too deep")
    caller = state.frame[state.curframe]
    from . import global_func
    err = global_func.btf_check_subprog_call(env, sub, caller.regs)
    if err == errno.EFAULT:
        raise BpfError(err, "BTF of a subprogram is broken")
    if global_func.subprog_is_global(env, sub):
        global_func.check_global_func_call(env, sub, caller, err)
        return
    from .verifier import init_func_state
    callee = init_func_state(env, state.curframe + 1, idx, sub)
    for r in range(1, 6):
        callee.regs[r].assign(caller.regs[r])
    state.frame.append(callee)
    state.curframe += 1
    for r in range(6):
        __mark_reg_not_init(caller.regs[r])
        env.check_reg_arg(r, DST_OP_NO_MARK) if False else None
    env.insn_idx = env.subprogs[sub].start - 1
    if env.log_level & 3:
        from .state_log import print_verifier_state
        env.verbose("caller:\n")
        print_verifier_state(env, state, caller.frameno, True)
        env.verbose("callee:\n")
        print_verifier_state(env, state, state.curframe, True)
    env.mark_all_scratched()         # the callee's first insn shows its whole state (oracle)


def prepare_func_exit(env) -> None:
    state = env.cur_state
    callee = state.frame[state.curframe]
    r0 = callee.regs[0]
    if r0.type == PTR_TO_STACK:
        env.fail(errno.EINVAL, "cannot return stack pointer to the caller")
    caller = state.frame[state.curframe - 1]
    if callee.in_callback_fn:
        if r0.type != SCALAR_VALUE:
            env.fail(errno.EACCES, "R0 not a scalar value")
        if not (r0.smin >= 0 and r0.smax <= 1):
            parts = []
            if r0.smin > -(1 << 63):
                parts.append(f" smin={r0.smin}")
            if r0.smax < (1 << 63) - 1:
                parts.append(f" smax={r0.smax}")
            text = "".join(parts) or " unknown scalar value"
            env.fail(errno.EINVAL, f"At callback return the register R0 has{text} should have been in [0, 1]")
        env.insn_idx = callee.callsite
    else:
        caller.regs[0].assign(r0)
        env.insn_idx = callee.callsite + 1
    if env.log_level & 3:
        from .state_log import print_verifier_state
        env.verbose("returning from callee:\n")
        print_verifier_state(env, state, callee.frameno, True)
        env.verbose(f"to caller at {env.insn_idx}:\n")
        print_verifier_state(env, state, caller.frameno, True)
    state.frame.pop()
    state.curframe -= 1


def round_up_stack_depth(env, depth: int) -> int:
    """JIT on (x86-64, bpf_jit_enable=1 on the oracle): 16; interpreter: max(depth, 1) to 32."""
    if getattr(env, "jit_requested", True):
        return (depth + 15) // 16 * 16
    return (max(depth, 1) + 31) // 32 * 32


def _priv_stack_supported(env) -> bool:
    """Private stacks (6.13+, PRIV_STACK_ADAPTIVE for kprobe/tp/perf/raw_tp) need JIT support that
    the oracle's 6.18 kernel does not report: its kprobes get the combined-stack check (checked:
    "combined stack size of 2 calls is 608. Too large"). Kept for other machine profiles."""
    return False and env.prog.type in (PT.BPF_PROG_TYPE_KPROBE, PT.BPF_PROG_TYPE_TRACEPOINT,
                             PT.BPF_PROG_TYPE_PERF_EVENT, PT.BPF_PROG_TYPE_RAW_TRACEPOINT)


def check_max_stack_depth(env) -> None:
    subs = env.subprogs
    insns = env.insns
    priv = _priv_stack_supported(env) and not any(s.has_tail_call for s in subs)
    priv_mode = [None] * len(subs)
    depth = 0
    frame = 0
    idx = 0
    i = subs[0].start
    ret_insn = [0] * MAX_CALL_FRAMES
    ret_prog = [0] * MAX_CALL_FRAMES
    starts = [s.start for s in subs] + [len(insns)]

    def enter(idx_: int, depth_: int) -> int:
        if idx_ and subs[idx_].has_tail_call and depth_ >= 256:
            env.fail(errno.EACCES, f"tail_calls are not allowed when call stack of previous frames "
                                   f"is {depth_} bytes. Too large")
        sd = round_up_stack_depth(env, subs[idx_].stack_depth)
        if priv and priv_mode[idx_] is None and sd >= BPF_PRIV_STACK_MIN_SIZE:
            priv_mode[idx_] = "adaptive"
        if priv_mode[idx_] == "adaptive":
            if sd > MAX_BPF_STACK:
                env.fail(errno.EACCES, f"stack size of subprog {idx_} is {sd}. Too large")
            return depth_
        depth_ += sd
        if depth_ > MAX_BPF_STACK:
            env.fail(errno.EACCES, f"combined stack size of {frame + 1} calls is {depth_}. Too large")
        return depth_

    depth = enter(0, 0)
    while True:
        end = starts[idx + 1]
        called = False
        while i < end:
            ins = insns[i]
            if not ((ins.code == 0x85 and ins.src == 1) or (ins.code == 0x18 and ins.src == 4)):
                i += 1
                continue
            ret_insn[frame] = i + 1
            ret_prog[frame] = idx
            nxt = i + ins.imm + 1
            sidx = find_subprog(env, nxt)
            if sidx < 0:
                raise BpfError(errno.EFAULT, f"callee not found at insn {nxt}")
            i = nxt
            idx = sidx
            frame += 1
            if frame >= MAX_CALL_FRAMES:
                env.fail(errno.E2BIG, f"the call stack of {frame} frames is too deep !")
            depth = enter(idx, depth)
            called = True
            break
        if called:
            continue
        if frame == 0:
            return
        if priv_mode[idx] != "adaptive":
            depth -= round_up_stack_depth(env, subs[idx].stack_depth)
        frame -= 1
        i = ret_insn[frame]
        idx = ret_prog[frame]


def check_pseudo_btf_id(env, i: int) -> None:
    """ld_imm64 of a kernel variable (ksym) by BTF id: resolved against the kernel's BTF."""
    insn = env.insns[i]
    btf = getattr(env.prog.kernel, "btf", None)
    tid = insn.imm
    kind = None
    try:
        if btf is not None and 0 <= tid < btf.nr_types:
            kind = btf.type_by_id(tid).kind if tid else 0
    except Exception:  # noqa: BLE001
        kind = None
    if kind is None:
        env.fail(errno.EINVAL, f"ldimm64 insn specifies invalid btf_id {tid}.")
    if kind not in (14, 12):   # VAR, FUNC
        env.fail(errno.EINVAL, f"pseudo btf_id {tid} in ldimm64 isn't KIND_VAR or KIND_FUNC")
    name = btf.name_of(tid)
    env.fail(errno.ENOENT, f"ldimm64 failed to find the address for kernel symbol '{name}'.")
