"""The verifier: bpf_check and its main loop do_check (kernel/bpf/verifier.c, Linux 6.18).

Called from PROG_LOAD (syscall/) as ``bpf_check(prog, attr, log)`` once the attr checks and copies
are done. ``prog`` is a ``BpfProg`` with ``insns``, ``type``, ``expected_attach_type``,
``gpl_compatible`` and, for tracing programs, ``aux.attach_btf`` / ``attach_func_proto`` /
``fmodel`` filled in; ``attr`` is the ``BpfLoadAttr``; ``log`` the ``BpfVerifierLog`` built by
``bpf_vlog_init``. On success the prog gets its xlated instructions (``insnsi``), used maps (with
references), stack depths, ``verified_insns``, ``max_ctx_offset``, ``probe_mem_insns`` ...; on
failure ``BpfError(errno, message)`` is raised with the kernel's errno, the message being the last
line the kernel logs. Either way the log is finalized (which can turn success into ENOSPC).

The pipeline is the kernel's: subprograms and their jumps (cfg.py), resolve_pseudo_ldimm64 (map
fds -> maps, opcode table), check_cfg (cfg.py), static liveness, then the abstract interpretation
``do_check``: a depth-first walk over paths with a stack of pending branch states; at prune points
``is_state_visited`` compares the current state with states already proven safe there
(states.py) and stops the path on a match; bounded loops are unrolled until a state repeats
(pruning), an exact repeat while the loop is open is "infinite loop detected", and the walk is
capped at 1M processed instructions. Then the stack-depth check, the fixups (fixups.py) and the
statistics line.

Module map: reg_state.py (registers, bounds), scalar.py (scalar ALU), branches.py (conditional
jumps), states.py (states and pruning), mem.py (loads and stores), calls.py (helpers and
bpf-to-bpf calls), state_log.py (state text), log.py (the log buffer), fixups.py (rewrites).
"""

import errno
import hashlib
import time

from ..errors import BpfError
from ..isa.disasm import print_bpf_insn
from ..isa.insn import (BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_END, BPF_EXIT, BPF_JA,
                        BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM,
                        BPF_MEMSX, BPF_MODE, BPF_MOV, BPF_NEG, BPF_OP, BPF_SRC, BPF_ST, BPF_STX,
                        BPF_TO_LE, BPF_X, BPF_ABS, BPF_IND, BPF_IMM, BpfInsn)
from ..isa.opcodes import bpf_opcode_in_insntable
from ..uapi import BpfAttachType as AT, BpfProgType as PT, BpfMapType as MT, ENOTSUPP
from . import btf_info, cfg, global_func, mem, calls
from .branches import is_branch_taken, reg_not_null, reg_set_min_max
from .log import BpfVerifierLog
from .reg_state import (CONST_PTR_TO_MAP, NOT_INIT, PTR_MAYBE_NULL, PTR_TO_BTF_ID, PTR_TO_CTX,
                        PTR_TO_FLOW_KEYS, PTR_TO_FUNC, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
                        PTR_TO_MEM, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_STACK,
                        PTR_TO_TP_BUFFER, PTR_TO_BUF, CONST_PTR_TO_DYNPTR, PTR_UNTRUSTED,
                        SCALAR_VALUE, S32_MAX, S32_MIN, S64_MAX, S64_MIN, BpfRegState,
                        __mark_reg32_unbounded, __mark_reg_known, __mark_reg_known_zero,
                        __mark_reg_not_init, __mark_reg_unbounded, __mark_reg_unknown, _s32,
                        _s64, base_type, coerce_reg_to_size_sx, coerce_subreg_to_size_sx,
                        get_reg_width, is_reg_const, reg_bounds_sane, reg_bounds_sync,
                        reg_const_value, reg_type_str, register_is_null, type_may_be_null,
                        zext_32_to_64)
from .scalar import adjust_scalar_min_max_vals
from .state_log import print_insn_state, print_verifier_state
from .states import (BpfFuncState, BpfVerifierState, states_equal, states_maybe_looping)
from .tnum import U32, U64, tnum_add, tnum_const, tnum_is_const, tnum_strn, tnum_sub

BPF_MAX_VAR_OFF = 1 << 29
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192
BPF_COMPLEXITY_LIMIT_STATES = 64
MAX_BPF_STACK = 512
BPF_ADD_CONST64 = 1 << 31
BPF_ADD_CONST32 = 1 << 30
BPF_ADD_CONST = BPF_ADD_CONST64 | BPF_ADD_CONST32

BPF_ALU_STRING = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=",
                  "s>>=", "endian", "", ""]

REASON_BOUNDS, REASON_TYPE, REASON_PATHS, REASON_LIMIT, REASON_STACK = 1, 2, 3, 4, 5


class InsnAux:
    """struct bpf_insn_aux_data (the parts we use)."""

    __slots__ = ("ptr_type", "map_index", "map_off", "seen", "ctx_field_size", "probe_mem",
                 "alu_state", "call_imm", "nospec", "live_regs", "map_ptr", "pseudo_func",
                 "nospec_result", "call_map", "call_map_poisoned")

    def __init__(self):
        self.ptr_type = None
        self.map_index = -1
        self.map_off = 0
        self.seen = False
        self.ctx_field_size = 0
        self.probe_mem = False
        self.alu_state = 0
        self.call_imm = 0
        self.nospec = False
        self.live_regs = 0x3FF
        self.map_ptr = None
        self.pseudo_func = False
        self.nospec_result = False       # a barrier after this store (Spectre v4, unprivileged)
        self.call_map = None             # map_ptr_state of a map helper call (record_func_map)
        self.call_map_poisoned = False   # ... the call saw different maps on different paths


class _StackElem:
    __slots__ = ("st", "insn_idx", "prev_insn_idx", "log_pos")

    def __init__(self, st, insn_idx, prev_insn_idx, log_pos):
        self.st, self.insn_idx, self.prev_insn_idx, self.log_pos = st, insn_idx, prev_insn_idx, log_pos


class _Pruned(Exception):
    """Internal: the current path ended (exit reached or pruned)."""


def _mark_unknown(reg, bpf_capable=True):
    __mark_reg_unknown(reg, bpf_capable)


def _is_ptr(allow_ptr_leaks, reg):
    return __is_pointer_value(allow_ptr_leaks, reg)


class BpfVerifierEnv:
    """struct bpf_verifier_env."""

    def __init__(self, prog, attr, log: BpfVerifierLog):
        self.prog = prog
        self.attr = attr
        self.log = log
        self.log_level = log.level if log is not None else 0
        cred = attr.cred
        self.bpf_capable = cred.bpf_capable()
        perfmon = cred.perfmon_capable()
        self.allow_ptr_leaks = perfmon
        self.allow_uninit_stack = perfmon
        self.bypass_spec_v1 = perfmon
        self.bypass_spec_v4 = perfmon
        flags = getattr(attr, "prog_flags", 0) or getattr(prog, "prog_flags", 0)
        self.strict_alignment = bool(flags & 1) and not (flags & 2)
        self.test_state_freq = bool(flags & 8) and self.bpf_capable
        self.insns: list[BpfInsn] = list(prog.insns)
        self.insn_aux = [InsnAux() for _ in self.insns]
        self.subprogs: list = []
        self.prune_points: set[int] = set()
        self.jmp_points: set[int] = set()
        self.force_checkpoints: set[int] = set()
        self.used_maps: list = []
        self.used_btfs: list = []          # BTFs bound by a counted fd_array (references held)
        self.id_gen = 0
        self.insn_idx = 0
        self.prev_insn_idx = -1
        self.insn_processed = 0
        self.jmps_processed = 0
        self.prev_jmps_processed = 0
        self.prev_insn_processed = 0
        self.total_states = 0
        self.peak_states = 0
        self.explored_states_size = 0
        self.max_states_per_insn = 0
        self.explored: dict[int, list] = {}
        self.stack: list[_StackElem] = []
        self.cur_state: BpfVerifierState | None = None
        self.scratched_regs = 0
        self.scratched_stack = 0
        self.prev_log_pos = 0
        self.prev_insn_print_pos = 0
        self.verification_time = 0
        self.ops = None
        self.pt = None
        self.live = []
        self.max_ctx_offset = 0
        self.max_tp_access = 0             # highest byte of a writable raw_tp buffer touched
        self.call_get_func_ip = False
        self.call_get_stack = False
        self.has_tail_call = False
        self.tail_call_reachable = False
        self.func_info: list = []          # [insn_off, type_id] per subprogram (btf_info.py)
        self.linfo: list = []              # [insn_off, file_name_off, line_off, line_col]
        self.prev_linfo = None             # index of the last record verbose_linfo printed

    # -- log ----------------------------------------------------------------------------------

    def verbose(self, text: str) -> None:
        if self.log_level:
            self.log.write(text)

    def fail(self, err: int, msg: str):
        """verbose(env, msg) then return -err."""
        self.verbose(msg + "\n")
        raise BpfError(err, msg)

    def verbose_insn(self, insn_idx: int) -> str:
        insn = self.insns[insn_idx]
        nxt = self.insns[insn_idx + 1] if insn.code == 0x18 and insn_idx + 1 < len(self.insns) else None
        return print_bpf_insn(insn, nxt, None, self.allow_ptr_leaks)

    # -- registers ----------------------------------------------------------------------------

    def cur_regs(self) -> list[BpfRegState]:
        st = self.cur_state
        return st.frame[st.curframe].regs

    def mark_reg_scratched(self, regno: int) -> None:
        self.scratched_regs |= 1 << regno

    def mark_stack_slot_scratched(self, spi: int) -> None:
        self.scratched_stack |= 1 << spi

    def mark_all_scratched(self) -> None:
        self.scratched_regs = 0x7FF
        self.scratched_stack = (1 << 64) - 1

    def check_reg_arg(self, regno: int, t: int) -> None:
        """__check_reg_arg: t is SRC_OP, DST_OP or DST_OP_NO_MARK."""
        if regno >= 11:
            self.fail(errno.EINVAL, f"R{regno} is invalid")
        self.scratched_regs |= 1 << regno
        reg = self.cur_regs()[regno]
        if t == SRC_OP:
            if reg.type == NOT_INIT:
                self.fail(errno.EACCES, f"R{regno} !read_ok")
            return
        if regno == 10:
            self.fail(errno.EACCES, "frame pointer is read only")
        self.cur_state.written |= 1 << regno
        if t == DST_OP:
            _mark_unknown(reg, self.bpf_capable)

    def mark_reg_unknown(self, regs, regno: int) -> None:
        _mark_unknown(regs[regno], self.bpf_capable)

    def is_pointer_value(self, regno: int) -> bool:
        return _is_ptr(self.allow_ptr_leaks, self.cur_regs()[regno])

    def reg_state(self, regno: int) -> BpfRegState:
        return self.cur_regs()[regno]

    def func(self, reg: BpfRegState) -> BpfFuncState:
        return self.cur_state.frame[reg.frameno]

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    def assign_scalar_id_before_mov(self, src: BpfRegState) -> None:
        if src.type != SCALAR_VALUE:
            return
        if src.id & (3 << 30):        # BPF_ADD_CONST: a second "+= const" is not tracked
            src.id = 0
            src.off = 0
        if not src.id and not tnum_is_const(src.var_off):
            src.id = self.new_id()


SRC_OP, DST_OP, DST_OP_NO_MARK = 0, 1, 2


def __is_pointer_value(allow_ptr_leaks: bool, reg: BpfRegState) -> bool:
    if allow_ptr_leaks:
        return False
    return reg.type != SCALAR_VALUE


def is_pointer_value(env: BpfVerifierEnv, regno: int) -> bool:
    return __is_pointer_value(env.allow_ptr_leaks, env.cur_regs()[regno])


# -- the front door ---------------------------------------------------------------------------

def bpf_check(prog, attr, log: BpfVerifierLog | None) -> None:
    """Verify ``prog`` (see the module docstring). Raises BpfError; fills prog on success."""
    if log is None:
        log = BpfVerifierLog()
    start = time.perf_counter_ns()
    env = BpfVerifierEnv(prog, attr, log)
    if getattr(prog.aux, "cred", None) is None:
        try:
            prog.aux.cred = attr.cred
        except AttributeError:  # pragma: no cover - slotted aux
            pass
    err: BpfError | None = None
    try:
        _bpf_check(env)
    except BpfError as e:
        err = e
    except RecursionError as e:  # pragma: no cover - defensive
        err = BpfError(errno.E2BIG, f"verifier recursion: {e}")
    env.verification_time = time.perf_counter_ns() - start
    print_verification_stats(env)
    prog.aux.verified_insns = env.insn_processed
    try:
        log.bpf_vlog_finalize()
    except BpfError as e:
        err = e
    if err is not None:
        for m in env.used_maps + env.used_btfs:
            m.put()
        env.used_maps, env.used_btfs = [], []
        raise err
    _commit(env)


def _bpf_check(env: BpfVerifierEnv) -> None:
    from .. import prog_types
    prog = env.prog
    env.pt = prog_types.bpf_prog_type_ops(prog.type)
    if env.pt is None:
        raise BpfError(errno.EINVAL, "unsupported program type")
    env.ops = env.pt.verifier
    process_fd_array(env)
    cfg.add_subprog_and_kfunc(env)
    cfg.check_subprogs(env)
    btf_info.check_btf_info(env)
    resolve_pseudo_ldimm64(env)
    cfg.check_cfg(env)
    live = cfg.compute_live_registers(env, lambda fid: calls.helper_nargs(env, fid))
    env.live = live
    if env.log_level & 2:
        _print_live_regs(env, live)
    check_attach_btf_id(env)
    do_check_main(env)
    do_check_subprogs(env)
    calls.check_max_stack_depth(env)
    from . import fixups
    fixups.run_fixups(env)


def _print_live_regs(env, live) -> None:
    env.verbose("Live regs before insn:\n")
    i = 0
    n = len(env.insns)
    while i < n:
        regs = "".join(str(j) if (live[i] >> j) & 1 else "." for j in range(10))
        env.verbose(f"    {i:3d}: {regs} {env.verbose_insn(i)}\n")
        i += 2 if env.insns[i].code == 0x18 else 1


def check_attach_btf_id(env) -> None:
    """The part of check_attach_btf_id that concerns non-tracing types (sleepable flag) and the
    tracing attach types we support."""
    prog = env.prog
    if prog.prog_flags & 16 and prog.type not in (PT.BPF_PROG_TYPE_TRACING, PT.BPF_PROG_TYPE_LSM,
                                                    PT.BPF_PROG_TYPE_KPROBE,
                                                    PT.BPF_PROG_TYPE_STRUCT_OPS):
        env.fail(errno.EINVAL, "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops "
                               "programs can be sleepable")


def print_verification_stats(env) -> None:
    if env.log_level & 4:
        env.verbose(f"verification time {env.verification_time // 1000} usec\n")
        depths = [str(s.stack_depth) for s in env.subprogs] or ["0"]
        env.verbose("stack depth " + "+".join(depths) + "\n")
    env.verbose(f"processed {env.insn_processed} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) "
                f"max_states_per_insn {env.max_states_per_insn} total_states {env.total_states} "
                f"peak_states {env.peak_states} mark_read 0\n")


def _commit(env) -> None:
    prog, aux = env.prog, env.prog.aux
    aux.used_maps = list(env.used_maps)
    for b in env.used_btfs:
        if any(u is b for u in aux.used_btfs):
            b.put()
        else:
            aux.used_btfs.append(b)
    aux.stack_depth = env.subprogs[0].stack_depth if env.subprogs else 0
    aux.subprog_stack_depths = [s.stack_depth for s in env.subprogs]
    aux.subprog_starts = [s.start for s in env.subprogs]
    aux.max_ctx_offset = env.max_ctx_offset
    aux.max_tp_access = env.max_tp_access
    aux.call_get_func_ip = env.call_get_func_ip
    aux.call_get_stack = env.call_get_stack
    aux.tail_call_reachable = env.tail_call_reachable
    btf_info.commit_btf_info(env, aux)
    aux.probe_mem_insns = frozenset(i for i, a in enumerate(env.insn_aux) if a.probe_mem)
    # what runs (fixups.py: the execution image) and what Linux keeps as insnsi (the dump)
    prog.insnsi = env.interp_insns if hasattr(env, "interp_insns") else list(env.insns)
    aux.xlated_insns = env.xlated if hasattr(env, "xlated") else list(prog.insnsi)
    prog.len = len(aux.xlated_insns)


def bpf_prog_calc_tag(insns) -> bytes:
    """kernel/bpf/core.c bpf_prog_calc_tag, called by resolve_pseudo_ldimm64 before it rewrites
    anything: the digest of the instructions as loaded, with the immediates of map-fd and
    map-value ld_imm64 pairs zeroed (fds are not stable across loads; an fd_array *index*, src 5
    or 6, is kept). Linux 6.18 hashes with SHA-256 (the digest signed programs are checked
    against); earlier kernels used SHA-1. The tag is the digest's first 8 bytes (BPF_TAG_SIZE).
    Checked against the oracle in tests/kernelsim/verifier/test_xlated.py."""
    out = bytearray()
    was_ld_map = False
    for insn in insns:
        if not was_ld_map and insn.code == 0x18 and insn.src in (1, 2):
            was_ld_map = True
            insn = BpfInsn(insn.code, insn.dst, insn.src, insn.off, 0)
        elif was_ld_map and insn.code == 0 and insn.dst == 0 and insn.src == 0 and insn.off == 0:
            was_ld_map = False
            insn = BpfInsn(0, 0, 0, 0, 0)
        else:
            was_ld_map = False
        out += insn.encode()
    return hashlib.sha256(bytes(out)).digest()[:8]


# -- process_fd_array -------------------------------------------------------------------------

def process_fd_array(env) -> None:
    """process_fd_array (6.14+): with ``fd_array_cnt`` the fd_array is read at once and every
    map in it is used by the program (ld_imm64 or not), every BTF kept; without it the array is
    only read when an ld_imm64 names an index. EINVAL: count too big, an fd of another kind;
    EBADF: no such fd; EFAULT: unreadable array; the map rules of __add_used_map (E2BIG past 64
    maps, check_map_prog_compatibility)."""
    cnt = getattr(env.attr, "fd_array_cnt", 0) or 0
    if not cnt:
        return
    if cnt >= U32 // 4:
        env.fail(errno.EINVAL, f"fd_array_cnt is too big ({cnt})")
    for i in range(cnt):
        add_fd_from_fd_array(env, env.attr.fd_array[i])


def add_fd_from_fd_array(env, fd: int) -> None:
    from ..bpf_btf import BpfBtf
    from ..maps.map import BpfMap
    files = env.attr.files
    try:
        f = files.get(fd) if files is not None else None
    except BpfError:
        f = None
    obj = getattr(f, "obj", None)
    if isinstance(obj, BpfMap):
        _add_used_map(env, obj)
        return
    if isinstance(obj, BpfBtf):
        if not any(b is obj for b in env.used_btfs):
            if len(env.used_btfs) >= 64:
                env.fail(errno.E2BIG, "The total number of btfs per program has reached the limit of 64")
            env.used_btfs.append(obj.get())
        return
    stdio = fd in (0, 1, 2) and (files is None or fd not in getattr(files, "fds", {}))
    env.fail(errno.EINVAL if f is not None or stdio else errno.EBADF,     # stdio: not a map
             f"fd {fd} is not pointing to valid bpf_map or btf")


# -- resolve_pseudo_ldimm64 -------------------------------------------------------------------

def _map_from_fd(env, fd: int):
    from ..maps.map import BpfMap
    files = env.attr.files
    f = None
    if fd in (0, 1, 2) and (files is None or fd not in getattr(files, "fds", {})):
        env.fail(errno.EINVAL, f"fd {fd} is not pointing to valid bpf_map")   # the task's stdio
    try:
        f = files.get(fd) if files is not None else None
    except BpfError:
        f = None
    if f is None:
        env.fail(errno.EBADF, f"fd {fd} is not pointing to valid bpf_map")
    if not isinstance(f.obj, BpfMap):
        env.fail(errno.EINVAL, f"fd {fd} is not pointing to valid bpf_map")
    return f.obj


def _add_used_map(env, m) -> int:
    for i, u in enumerate(env.used_maps):
        if u is m:
            return i
    if len(env.used_maps) >= 64:
        env.fail(errno.E2BIG, "The total number of maps per program has reached the limit of 64")
    check_map_prog_compatibility(env, m)
    m.get()
    env.used_maps.append(m)
    return len(env.used_maps) - 1


def check_map_prog_compatibility(env, m) -> None:
    prog = env.prog
    rec = getattr(m, "record", None) or {}
    tracing = prog.type in (PT.BPF_PROG_TYPE_KPROBE, PT.BPF_PROG_TYPE_TRACEPOINT,
                            PT.BPF_PROG_TYPE_PERF_EVENT, PT.BPF_PROG_TYPE_RAW_TRACEPOINT,
                            PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, PT.BPF_PROG_TYPE_TRACING)
    if isinstance(rec, dict) and tracing:
        if "spin_lock" in rec or "bpf_spin_lock" in rec:
            env.fail(errno.EINVAL, "tracing progs cannot use bpf_spin_lock yet")
    if prog.prog_flags & 16 and m.map_type not in (
            MT.BPF_MAP_TYPE_HASH, MT.BPF_MAP_TYPE_LRU_HASH, MT.BPF_MAP_TYPE_ARRAY,
            MT.BPF_MAP_TYPE_PERCPU_HASH, MT.BPF_MAP_TYPE_PERCPU_ARRAY,
            MT.BPF_MAP_TYPE_LRU_PERCPU_HASH, MT.BPF_MAP_TYPE_ARRAY_OF_MAPS,
            MT.BPF_MAP_TYPE_HASH_OF_MAPS, MT.BPF_MAP_TYPE_RINGBUF, MT.BPF_MAP_TYPE_USER_RINGBUF,
            MT.BPF_MAP_TYPE_INODE_STORAGE, MT.BPF_MAP_TYPE_SK_STORAGE,
            MT.BPF_MAP_TYPE_TASK_STORAGE, MT.BPF_MAP_TYPE_CGRP_STORAGE, MT.BPF_MAP_TYPE_QUEUE,
            MT.BPF_MAP_TYPE_STACK, MT.BPF_MAP_TYPE_ARENA):
        env.fail(errno.EINVAL, "Sleepable programs can only use array, hash, ringbuf and local storage maps")


def resolve_pseudo_ldimm64(env) -> None:
    """The instruction scan before check_cfg: the tag, reserved LDX fields, the opcode table, and
    every ld_imm64 with a pseudo source resolved (map fds and fd_array indexes to maps, with
    references, map values to addresses, BTF ids, callbacks)."""
    insns = env.insns
    env.prog.tag = bpf_prog_calc_tag(insns)
    n = len(insns)
    i = 0
    while i < n:
        insn = insns[i]
        code = insn.code
        if (code & 7) == BPF_LDX and ((BPF_MODE(code) not in (BPF_MEM, BPF_MEMSX)) or insn.imm != 0):
            env.fail(errno.EINVAL, "BPF_LDX uses reserved fields")
        if code == 0x18:
            if i == n - 1 or insns[i + 1].code != 0 or insns[i + 1].dst != 0 or \
                    insns[i + 1].src != 0 or insns[i + 1].off != 0:
                env.fail(errno.EINVAL, "invalid bpf_ld_imm64 insn")
            src = insn.src
            if src == 0:
                i += 2
                continue
            if src == 3:   # BPF_PSEUDO_BTF_ID
                calls.check_pseudo_btf_id(env, i)
                i += 2
                continue
            if src == 4:   # BPF_PSEUDO_FUNC
                env.insn_aux[i].pseudo_func = True
                i += 2
                continue
            if src in (2, 6):
                pass
            elif src in (1, 5) and insns[i + 1].imm == 0:
                pass
            else:
                env.fail(errno.EINVAL, "unrecognized bpf_ld_imm64 insn")
            if src in (5, 6):
                fda = env.attr.fd_array
                if fda is None:
                    env.fail(errno.EPROTO, "fd_idx without fd_array is invalid")
                if insn.imm < 0 or insn.imm >= len(fda):
                    raise BpfError(errno.EFAULT, "fd_array index out of range")
                fd = fda[insn.imm]
            else:
                fd = insn.imm
            m = _map_from_fd(env, fd)
            idx = _add_used_map(env, m)
            aux = env.insn_aux[i]
            aux.map_index = idx
            aux.map_ptr = m
            if src in (1, 5):
                addr = m.addr
            else:
                off = insns[i + 1].imm & U32
                if off >= BPF_MAX_VAR_OFF:
                    env.fail(errno.EINVAL, f"direct value offset of {off} is not allowed")
                if m.ops.map_direct_value_addr is None:
                    env.fail(errno.EINVAL, "no direct value access support for this map type")
                try:
                    base = m.ops.map_direct_value_addr(m, off)
                except BpfError as e:
                    env.verbose(f"invalid access to map value pointer, value_size={m.value_size} off={off}\n")
                    raise BpfError(e.errno, f"invalid access to map value pointer, value_size={m.value_size} off={off}") from e
                aux.map_off = off
                addr = base + off if base is not None else 0
            insns[i] = BpfInsn(insn.code, insn.dst, insn.src, insn.off, _s32(addr & U32))
            insns[i + 1] = BpfInsn(0, 0, 0, 0, _s32((addr >> 32) & U32))
            i += 2
            continue
        if not bpf_opcode_in_insntable(code):
            env.fail(errno.EINVAL, "unknown opcode %02x" % code)
        i += 1


# -- do_check ---------------------------------------------------------------------------------

def init_func_state(env, frameno: int, callsite: int, subprogno: int) -> BpfFuncState:
    f = BpfFuncState(frameno, callsite, subprogno)
    for r in f.regs:
        __mark_reg_not_init(r)
        r.frameno = frameno if False else 0
    fp = f.regs[10]
    __mark_reg_known_zero(fp)
    fp.type = PTR_TO_STACK
    fp.frameno = frameno
    return f


def do_check_main(env) -> None:
    global_func.prepare_main_args(env)
    do_check_common(env, 0)


def do_check_subprogs(env) -> None:
    """do_check_subprogs: each global function that verified code calls, on its own, until no
    new one is called (global_func.py)."""
    if not env.func_info:
        return
    while True:
        new = 0
        for i in range(1, len(env.subprogs)):
            sp = env.subprogs[i]
            if not global_func.subprog_is_global(env, i) or not sp.called or sp.verified:
                continue
            env.insn_idx = sp.start
            do_check_common(env, i)
            if env.log_level & 3:
                env.verbose(f"Func#{i} ('{sp.name}') is safe for any args that match its "
                            f"prototype\n")
            sp.verified = True
            new += 1
        if not new:
            return


def do_check_common(env, subprog: int) -> None:
    st = BpfVerifierState()
    f = init_func_state(env, 0, -1, subprog)
    st.frame = [f]
    st.curframe = 0
    if subprog:
        sp = env.subprogs[subprog]
        if env.log_level & 3:
            env.verbose(f"Validating {sp.name}() func#{subprog}...\n")
        global_func.btf_prepare_func_args(env, subprog)
        global_func.init_global_func_regs(env, subprog, f.regs)
    else:
        r1 = f.regs[1]
        __mark_reg_known_zero(r1)
        r1.type = PTR_TO_CTX
    env.cur_state = st
    env.mark_all_scratched()
    env.insn_idx = env.subprogs[subprog].start if env.subprogs else 0
    env.prev_insn_idx = -1
    try:
        do_check(env)
    finally:
        env.stack.clear()
    env.explored.clear()                  # free_states
    if env.log_level and not (env.log_level & 2):
        env.log.bpf_vlog_reset(0)


def push_stack(env, insn_idx: int, prev_insn_idx: int, speculative: bool = False) -> BpfVerifierState:
    cur = env.cur_state
    st = cur.copy()
    st.speculative = st.speculative or speculative
    st.branches = 1
    env.stack.append(_StackElem(st, insn_idx, prev_insn_idx, env.log.end_pos))
    if len(env.stack) > BPF_COMPLEXITY_LIMIT_JMP_SEQ:
        env.fail(errno.E2BIG, f"The sequence of {len(env.stack)} jumps is too complex.")
    if st.parent is not None:
        st.parent.branches += 1
    return st


def pop_stack(env, pop_log: bool) -> bool:
    if not env.stack:
        return False
    elem = env.stack.pop()
    env.cur_state = elem.st
    env.insn_idx = elem.insn_idx
    env.prev_insn_idx = elem.prev_insn_idx
    if pop_log:
        env.log.bpf_vlog_reset(elem.log_pos)
    return True


def update_branch_counts(st) -> None:
    while st is not None:
        st.branches -= 1
        if st.branches:
            break
        st = st.parent


def do_check(env) -> None:
    insns = env.insns
    n = len(insns)
    pop_log = not (env.log_level & 2)
    do_print_state = False
    prev_insn_idx = -1
    level = env.log_level
    prune_points = env.prune_points
    while True:
        env.prev_insn_idx = prev_insn_idx
        if env.insn_idx >= n:
            env.fail(errno.EFAULT, f"invalid insn idx {env.insn_idx} insn_cnt {n}")
        idx = env.insn_idx
        env.insn_processed += 1
        if env.insn_processed > BPF_COMPLEXITY_LIMIT_INSNS:
            env.fail(errno.E2BIG, f"BPF program is too large. Processed {env.insn_processed} insn")
        state = env.cur_state
        state.last_insn_idx = prev_insn_idx
        state.insn_idx = idx
        exited = False
        if idx in prune_points:
            if is_state_visited(env, idx):
                if level & 3:
                    if do_print_state:
                        env.verbose(f"\nfrom {env.prev_insn_idx} to {idx}"
                                    f"{' (speculative execution)' if state.speculative else ''}: safe\n")
                    else:
                        env.verbose(f"{idx}: safe\n")
                exited = True
        if not exited:
            if level & 2 and do_print_state:
                env.verbose(f"\nfrom {env.prev_insn_idx} to {idx}"
                            f"{' (speculative execution)' if state.speculative else ''}:")
                print_verifier_state(env, state, state.curframe, True)
                do_print_state = False
            if level & 3:
                if env.scratched_regs or env.scratched_stack:
                    print_insn_state(env, state, state.curframe)
                if env.linfo:
                    btf_info.verbose_linfo(env, idx, "; ")
                env.prev_log_pos = env.log.end_pos
                env.verbose(f"{idx}: {env.verbose_insn(idx)}\n")
                env.prev_insn_print_pos = env.log.end_pos - env.prev_log_pos
                env.prev_log_pos = env.log.end_pos
            env.insn_aux[idx].seen = True
            prev_insn_idx = idx
            r = do_check_insn(env)
            if r == PROCESS_BPF_EXIT:
                exited = True
            elif r == PRINT_STATE:
                do_print_state = True
        if exited:
            env.mark_all_scratched()
            update_branch_counts(env.cur_state)
            if not pop_stack(env, pop_log):
                break
            prev_insn_idx = env.prev_insn_idx
            do_print_state = True


PROCESS_BPF_EXIT = 1
PRINT_STATE = 2


def do_check_insn(env) -> int:
    idx = env.insn_idx
    insn = env.insns[idx]
    code = insn.code
    cls = code & 7
    if cls == BPF_ALU or cls == BPF_ALU64:
        check_alu_op(env, insn)
    elif cls == BPF_LDX:
        mem.check_load_mem(env, insn, BPF_MODE(code) == BPF_MEMSX)
    elif cls == BPF_STX:
        if BPF_MODE(code) == BPF_ATOMIC:
            mem.check_atomic(env, insn)
            env.insn_idx += 1
            return 0
        if BPF_MODE(code) != BPF_MEM or insn.imm != 0:
            env.fail(errno.EINVAL, "BPF_STX uses reserved fields")
        mem.check_store_reg(env, insn)
    elif cls == BPF_ST:
        if BPF_MODE(code) != BPF_MEM or insn.src != 0:
            env.fail(errno.EINVAL, "BPF_ST uses reserved fields")
        env.check_reg_arg(insn.dst, SRC_OP)
        t = env.cur_regs()[insn.dst].type
        mem.check_mem_access(env, idx, insn.dst, insn.off, code & 0x18, BPF_WRITE, -1, False, False)
        mem.save_aux_ptr_type(env, t, False)
    elif cls == BPF_JMP or cls == BPF_JMP32:
        op = BPF_OP(code)
        env.jmps_processed += 1
        if op == BPF_CALL:
            if (BPF_SRC(code) != BPF_K or (insn.src != 2 and insn.off != 0)
                    or insn.src not in (0, 1, 2) or insn.dst != 0 or cls == BPF_JMP32):
                env.fail(errno.EINVAL, "BPF_CALL uses reserved fields")
            if insn.src == 1:
                calls.check_func_call(env, insn)
            elif insn.src == 2:
                env.fail(errno.EINVAL, "calling kernel functions are not allowed in this program")
            else:
                record_func_map(env, insn, idx)
                calls.check_helper_call(env, insn, idx)
            env.mark_reg_scratched(0)
        elif op == BPF_JA:
            if (BPF_SRC(code) != BPF_K or insn.src != 0 or insn.dst != 0
                    or (cls == BPF_JMP and insn.imm != 0) or (cls == BPF_JMP32 and insn.off != 0)):
                env.fail(errno.EINVAL, "BPF_JA uses reserved fields")
            env.insn_idx += (insn.off if cls == BPF_JMP else insn.imm) + 1
            return 0
        elif op == BPF_EXIT:
            if (BPF_SRC(code) != BPF_K or insn.imm != 0 or insn.src != 0 or insn.dst != 0
                    or cls == BPF_JMP32):
                env.fail(errno.EINVAL, "BPF_EXIT uses reserved fields")
            return process_bpf_exit_full(env)
        else:
            check_cond_jmp_op(env, insn)
            return 0
    elif cls == BPF_LD:
        mode = BPF_MODE(code)
        if mode in (BPF_ABS, BPF_IND):
            mem.check_ld_abs(env, insn)
        elif mode == BPF_IMM:
            check_ld_imm(env, insn)
            env.insn_idx += 1
            env.insn_aux[env.insn_idx].seen = True
        else:
            env.fail(errno.EINVAL, "invalid BPF_LD mode")
    else:  # pragma: no cover - all classes covered
        env.fail(errno.EINVAL, f"unknown insn class {cls}")
    env.insn_idx += 1
    return 0


BPF_READ, BPF_WRITE = 1, 2


def record_func_map(env, insn, idx: int) -> None:
    """record_func_map: the map a map helper call works on, for do_misc_fixups' inlining; a call
    reached with different maps is poisoned (called before check_helper_call, which rejects a
    call whose map argument is not a map)."""
    from .fixups import MAP_HELPERS
    if insn.imm not in MAP_HELPERS:
        return
    reg = env.cur_regs()[2 if insn.imm == 12 else 1]
    if reg.type != CONST_PTR_TO_MAP or reg.map_ptr is None:
        return
    aux = env.insn_aux[idx]
    if aux.call_map is None:
        aux.call_map = reg.map_ptr
    elif aux.call_map is not reg.map_ptr:
        aux.call_map_poisoned = True


def process_bpf_exit_full(env) -> int:
    st = env.cur_state
    calls.check_resource_leak(env, False, not st.curframe, "BPF_EXIT instruction in main prog")
    if st.curframe:
        calls.prepare_func_exit(env)
        return PRINT_STATE
    check_return_code(env, 0, "R0")
    return PROCESS_BPF_EXIT


# -- is_state_visited -------------------------------------------------------------------------

def _loop_key(st) -> tuple:
    return (st.curframe,) + tuple(r.key() for r in st.frame[st.curframe].regs)


def _quick_same(old, cur) -> bool:
    if old.curframe != cur.curframe:
        return False
    for k, r in zip(old.loop_key[1:], cur.frame[cur.curframe].regs):
        if k[0] != r.type or k[2] != r.var_off or k[1] != r.off:
            return False
    return True


def is_state_visited(env, insn_idx: int) -> bool:
    """Look for an explored state at this prune point that subsumes the current one (prune),
    detect an exactly repeating state inside an open loop (infinite loop), and maybe remember the
    current state (verifier.c is_state_visited; heuristics: add a state only after 2 jumps and 8
    insns, inside loops after 20 jumps or 100 insns; evict states that keep missing)."""
    cur = env.cur_state
    force_new_state = env.test_state_freq or insn_idx in env.force_checkpoints
    add_new_state = force_new_state
    if env.jmps_processed - env.prev_jmps_processed >= 2 and \
            env.insn_processed - env.prev_insn_processed >= 8:
        add_new_state = True
    live = env.live[insn_idx] if env.live else 0x3FF
    cur.live_regs = live
    lst = env.explored.get(insn_idx)
    is_may_goto = env.insns[insn_idx].code == 0xE5
    is_cb_call = insn_idx in env.force_checkpoints and not is_may_goto
    states_cnt = 0
    if lst:
        keep = []
        cur_key = None
        allow = env.allow_uninit_stack
        for sl in lst:
            states_cnt += 1
            if sl.branches:
                if is_may_goto and sl.may_goto_depth != cur.may_goto_depth and \
                        states_equal(sl, cur, allow, False):
                    sl.hit_cnt += 1
                    keep.append(sl)
                    keep.extend(lst[len(keep) + (len(lst) - len(lst)):] if False else [])
                    lst[:] = keep + lst[states_cnt:]
                    return True
                if is_cb_call:
                    if states_equal(sl, cur, allow, False):
                        sl.hit_cnt += 1
                        lst[:] = keep + lst[states_cnt - 1:]
                        return True
                elif _quick_same(sl, cur) and sl.loop_key == _loop_key(cur) and \
                        sl.may_goto_depth == cur.may_goto_depth and \
                        states_equal(sl, cur, allow, True):
                    env.verbose(f"infinite loop detected at insn {insn_idx}\n")
                    env.verbose("cur state:")
                    print_verifier_state(env, cur, cur.curframe, True)
                    env.verbose("old state:")
                    print_verifier_state(env, sl, cur.curframe, True)
                    raise BpfError(errno.EINVAL, f"infinite loop detected at insn {insn_idx}")
                if not force_new_state and env.jmps_processed - env.prev_jmps_processed < 20 and \
                        env.insn_processed - env.prev_insn_processed < 100:
                    add_new_state = False
            elif states_equal(sl, cur, allow, False):
                sl.hit_cnt += 1
                lst[:] = keep + lst[states_cnt - 1:]
                return True
            if add_new_state:
                sl.miss_cnt += 1
            nmiss = 64 if (insn_idx in env.force_checkpoints and sl.branches > 0) else 3
            if sl.miss_cnt > sl.hit_cnt * nmiss + nmiss:
                env.explored_states_size -= 1
                continue
            keep.append(sl)
        lst[:] = keep
    if env.max_states_per_insn < states_cnt:
        env.max_states_per_insn = states_cnt
    if not env.bpf_capable and states_cnt > BPF_COMPLEXITY_LIMIT_STATES:
        return False
    if not add_new_state:
        return False
    env.total_states += 1
    env.explored_states_size += 1
    if env.explored_states_size > env.peak_states:
        env.peak_states = env.explored_states_size
    env.prev_jmps_processed = env.jmps_processed
    env.prev_insn_processed = env.insn_processed
    new = cur.copy()
    new.insn_idx = insn_idx
    new.branches = 1
    new.live_regs = live
    new.parent = cur.parent
    new.loop_key = _loop_key(new)
    cur.written = 0
    cur.parent = new
    cur.first_insn_idx = insn_idx
    env.explored.setdefault(insn_idx, []).append(new)
    return False


# -- ALU --------------------------------------------------------------------------------------

def check_alu_op(env, insn) -> None:
    regs = env.cur_regs()
    code = insn.code
    opcode = BPF_OP(code)
    cls = code & 7
    if opcode == BPF_END or opcode == BPF_NEG:
        if opcode == BPF_NEG:
            if BPF_SRC(code) != BPF_K or insn.src != 0 or insn.off != 0 or insn.imm != 0:
                env.fail(errno.EINVAL, "BPF_NEG uses reserved fields")
        else:
            if (insn.src != 0 or insn.off != 0 or insn.imm not in (16, 32, 64)
                    or (cls == BPF_ALU64 and BPF_SRC(code) != BPF_TO_LE)):
                env.fail(errno.EINVAL, "BPF_END uses reserved fields")
        env.check_reg_arg(insn.dst, SRC_OP)
        if env.is_pointer_value(insn.dst):
            env.fail(errno.EACCES, f"R{insn.dst} pointer arithmetic prohibited")
        if opcode == BPF_NEG and regs[insn.dst].type == SCALAR_VALUE:
            env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
            dst = regs[insn.dst]
            adjust_scalar_min_max_vals(dst, dst.copy(), BPF_NEG, cls != BPF_ALU64, env.bpf_capable)
            dst.id = 0
        else:
            env.check_reg_arg(insn.dst, DST_OP)
    elif opcode == BPF_MOV:
        if BPF_SRC(code) == BPF_X:
            if cls == BPF_ALU:
                if insn.off not in (0, 8, 16) or insn.imm:
                    env.fail(errno.EINVAL, "BPF_MOV uses reserved fields")
            elif insn.off == 1:
                if insn.imm not in (1, 1 << 16):
                    env.fail(errno.EINVAL, "addr_space_cast insn can only convert between address space 1 and 0")
                env.fail(errno.EINVAL, "addr_space_cast insn can only be used in a program that has an associated arena")
            else:
                if insn.off not in (0, 8, 16, 32) or insn.imm:
                    env.fail(errno.EINVAL, "BPF_MOV uses reserved fields")
            env.check_reg_arg(insn.src, SRC_OP)
        else:
            if insn.src != 0 or insn.off != 0:
                env.fail(errno.EINVAL, "BPF_MOV uses reserved fields")
        env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
        dst = regs[insn.dst]
        if BPF_SRC(code) == BPF_X:
            src = regs[insn.src]
            if cls == BPF_ALU64:
                if insn.off == 0:
                    env.assign_scalar_id_before_mov(src)
                    dst.assign(src)
                else:
                    if env.is_pointer_value(insn.src):
                        env.fail(errno.EACCES, f"R{insn.src} sign-extension part of pointer")
                    elif src.type == SCALAR_VALUE:
                        no_sext = src.umax < (1 << (insn.off - 1))
                        if no_sext:
                            env.assign_scalar_id_before_mov(src)
                        dst.assign(src)
                        if not no_sext:
                            dst.id = 0
                        coerce_reg_to_size_sx(dst, insn.off >> 3)
                    else:
                        __mark_reg_unknown(dst, env.bpf_capable)
            else:
                if env.is_pointer_value(insn.src):
                    env.fail(errno.EACCES, f"R{insn.src} partial copy of pointer")
                elif src.type == SCALAR_VALUE:
                    if insn.off == 0:
                        is_u32 = get_reg_width(src) <= 32
                        if is_u32:
                            env.assign_scalar_id_before_mov(src)
                        dst.assign(src)
                        if not is_u32:
                            dst.id = 0
                    else:
                        no_sext = src.umax < (1 << (insn.off - 1))
                        if no_sext:
                            env.assign_scalar_id_before_mov(src)
                        dst.assign(src)
                        if not no_sext:
                            dst.id = 0
                        coerce_subreg_to_size_sx(dst, insn.off >> 3)
                else:
                    __mark_reg_unknown(dst, env.bpf_capable)
                zext_32_to_64(dst)
                reg_bounds_sync(dst)
        else:
            __mark_reg_unknown(dst, env.bpf_capable)
            dst.type = SCALAR_VALUE
            if cls == BPF_ALU64:
                __mark_reg_known(dst, insn.imm)
            else:
                __mark_reg_known(dst, insn.imm & U32)
    elif opcode > BPF_END:
        env.fail(errno.EINVAL, "invalid BPF_ALU opcode %x" % opcode)
    else:
        if BPF_SRC(code) == BPF_X:
            if insn.imm != 0 or insn.off not in (0, 1) or \
                    (insn.off == 1 and opcode not in (0x90, 0x30)):
                env.fail(errno.EINVAL, "BPF_ALU uses reserved fields")
            env.check_reg_arg(insn.src, SRC_OP)
        else:
            if insn.src != 0 or insn.off not in (0, 1) or \
                    (insn.off == 1 and opcode not in (0x90, 0x30)):
                env.fail(errno.EINVAL, "BPF_ALU uses reserved fields")
        env.check_reg_arg(insn.dst, SRC_OP)
        if opcode in (0x90, 0x30) and BPF_SRC(code) == BPF_K and insn.imm == 0:
            env.fail(errno.EINVAL, "div by zero")
        if opcode in (0x60, 0x70, 0xC0) and BPF_SRC(code) == BPF_K:
            size = 64 if cls == BPF_ALU64 else 32
            if insn.imm < 0 or insn.imm >= size:
                env.fail(errno.EINVAL, f"invalid shift {insn.imm}")
        env.check_reg_arg(insn.dst, DST_OP_NO_MARK)
        adjust_reg_min_max_vals(env, insn)
    dst = regs[insn.dst]
    if dst.type == SCALAR_VALUE and not reg_bounds_sane(dst):
        __mark_reg_unbounded(dst)
        dst.var_off = tnum_const(0) if False else dst.var_off


def adjust_reg_min_max_vals(env, insn) -> None:
    regs = env.cur_regs()
    code = insn.code
    alu32 = (code & 7) != BPF_ALU64
    opcode = BPF_OP(code)
    dst = regs[insn.dst]
    ptr_reg = dst if dst.type != SCALAR_VALUE else None
    if BPF_SRC(code) == BPF_X:
        src = regs[insn.src]
        if src.type != SCALAR_VALUE:
            if dst.type != SCALAR_VALUE:
                if opcode == 0x10 and env.allow_ptr_leaks:
                    __mark_reg_unknown(dst, env.bpf_capable)
                    return
                env.fail(errno.EACCES, f"R{insn.dst} pointer {BPF_ALU_STRING[opcode >> 4]} pointer prohibited")
            return adjust_ptr_min_max_vals(env, insn, src, dst)
        if ptr_reg is not None:
            return adjust_ptr_min_max_vals(env, insn, dst, src)
        src_copy = src.copy()
    else:
        src_copy = BpfRegState()
        src_copy.type = SCALAR_VALUE
        __mark_reg_known(src_copy, insn.imm)
        if ptr_reg is not None:
            return adjust_ptr_min_max_vals(env, insn, ptr_reg, src_copy)
    adjust_scalar_min_max_vals(dst, src_copy, opcode, alu32, env.bpf_capable)
    # rX = rY; rX += K keeps rX linked to rY with a constant delta (BPF_ADD_CONST)
    if env.bpf_capable and opcode in (0x00, 0x10) and dst.id and is_reg_const(src_copy, alu32):
        val = reg_const_value(src_copy, alu32)
        sval = _s64(val)
        ok = True
        if not alu32 and not (S32_MIN <= sval <= S32_MAX):
            ok = False
        if alu32 and (dst.umin > U32 or dst.umax > U32):
            ok = False
        off = _s32(val)
        if ok and opcode == 0x10:
            if off == S32_MIN:
                ok = False
            off = -off
        if not ok or dst.id & BPF_ADD_CONST:
            dst.off = 0
            dst.id = 0
        else:
            dst.id |= BPF_ADD_CONST32 if alu32 else BPF_ADD_CONST64
            dst.off = off
    else:
        dst.id = 0
        dst.off = 0


def sanitize_needed(opcode: int) -> bool:
    return opcode in (0x00, 0x10)


def check_reg_sane_offset(env, reg: BpfRegState, t: int) -> None:
    known = tnum_is_const(reg.var_off)
    val = _s64(reg.var_off.value)
    smin = reg.smin
    if known and (val >= BPF_MAX_VAR_OFF or val <= -BPF_MAX_VAR_OFF):
        env.fail(errno.EINVAL, f"math between {reg_type_str(t)} pointer and {val} is not allowed")
    if reg.off >= BPF_MAX_VAR_OFF or reg.off <= -BPF_MAX_VAR_OFF:
        env.fail(errno.EINVAL, f"{reg_type_str(t)} pointer offset {reg.off} is not allowed")
    if smin == S64_MIN:
        env.fail(errno.EINVAL, f"math between {reg_type_str(t)} pointer and register with "
                               "unbounded min value is not allowed")
    if smin >= BPF_MAX_VAR_OFF or smin <= -BPF_MAX_VAR_OFF:
        env.fail(errno.EINVAL, f"value {smin} makes {reg_type_str(t)} pointer be out of bounds")


def _sanitize_err(env, insn, reason: int, off_is_dst: bool) -> None:
    err = "pointer arithmetic with it prohibited for !root"
    op = "add" if BPF_OP(insn.code) == 0x00 else "sub"
    dst, src = insn.dst, insn.src
    if reason == REASON_BOUNDS:
        env.fail(errno.EACCES, f"R{dst if off_is_dst else src} has unknown scalar with mixed signed bounds, {err}")
    if reason == REASON_TYPE:
        env.fail(errno.EACCES, f"R{src if off_is_dst else dst} has pointer with unsupported alu operation, {err}")
    if reason == REASON_PATHS:
        env.fail(errno.EACCES, f"R{dst} tried to {op} from different maps, paths or scalars, {err}")
    if reason == REASON_LIMIT:
        env.fail(errno.EACCES, f"R{dst} tried to {op} beyond pointer bounds, {err}")
    env.fail(errno.EACCES, f"R{dst} could not be pushed for speculative verification, {err}")


def _sanitize_ptr_alu(env, insn, ptr_reg, off_reg, dst_reg, commit_window: bool) -> None:
    """The unprivileged part of sanitize_ptr_alu that decides acceptance."""
    if env.bypass_spec_v1 or BPF_SRC(insn.code) == BPF_K:
        return
    if not commit_window:
        if not tnum_is_const(off_reg.var_off) and (off_reg.smin < 0) != (off_reg.smax < 0):
            _sanitize_err(env, insn, REASON_BOUNDS, off_reg is dst_reg)
    if base_type(ptr_reg.type) not in (PTR_TO_STACK, PTR_TO_MAP_VALUE):
        _sanitize_err(env, insn, REASON_TYPE, off_reg is dst_reg)


def adjust_ptr_min_max_vals(env, insn, ptr_reg: BpfRegState, off_reg: BpfRegState) -> None:
    regs = env.cur_regs()
    dst = insn.dst
    dst_reg = regs[dst]
    known = tnum_is_const(off_reg.var_off)
    smin_val, smax_val, umin_val, umax_val = off_reg.smin, off_reg.smax, off_reg.umin, off_reg.umax
    smin_ptr, smax_ptr, umin_ptr, umax_ptr = ptr_reg.smin, ptr_reg.smax, ptr_reg.umin, ptr_reg.umax
    opcode = BPF_OP(insn.code)
    off_is_dst = off_reg is dst_reg
    if (known and (smin_val != smax_val or umin_val != umax_val)) or smin_val > smax_val or \
            umin_val > umax_val:
        __mark_reg_unknown(dst_reg, env.bpf_capable)
        return
    if (insn.code & 7) != BPF_ALU64:
        if opcode == 0x10 and env.allow_ptr_leaks:
            __mark_reg_unknown(dst_reg, env.bpf_capable)
            return
        env.fail(errno.EACCES, f"R{dst} 32-bit pointer arithmetic prohibited")
    pt = ptr_reg.type
    if pt & PTR_MAYBE_NULL:
        env.fail(errno.EACCES, f"R{dst} pointer arithmetic on {reg_type_str(pt)} prohibited, null-check it first")
    if base_type(pt) == PTR_TO_MEM and pt & PTR_UNTRUSTED:
        return
    b = base_type(pt)
    if b in (PTR_TO_CTX, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY, PTR_TO_STACK, PTR_TO_PACKET_META,
             PTR_TO_PACKET, PTR_TO_TP_BUFFER, PTR_TO_BTF_ID, PTR_TO_MEM, PTR_TO_BUF, PTR_TO_FUNC,
             CONST_PTR_TO_DYNPTR):
        pass
    elif b == PTR_TO_FLOW_KEYS and known:
        pass
    elif b == CONST_PTR_TO_MAP and known and smin_val == 0 and opcode == 0x00:
        pass
    else:
        env.fail(errno.EACCES, f"R{dst} pointer arithmetic on {reg_type_str(pt)} prohibited")
    ptr = ptr_reg.copy()
    offr = off_reg.copy()
    dst_reg.type = ptr.type
    dst_reg.id = ptr.id
    check_reg_sane_offset(env, offr, ptr.type)
    check_reg_sane_offset(env, ptr, ptr.type)
    if sanitize_needed(opcode):
        _sanitize_ptr_alu(env, insn, ptr, offr, dst_reg, False)
    __mark_reg32_unbounded(dst_reg)
    if opcode == 0x00:
        if known and -(1 << 31) <= ptr.off + smin_val <= (1 << 31) - 1:
            dst_reg.smin, dst_reg.smax, dst_reg.umin, dst_reg.umax = smin_ptr, smax_ptr, umin_ptr, umax_ptr
            dst_reg.var_off = ptr.var_off
            dst_reg.off = ptr.off + smin_val
            _copy_raw(dst_reg, ptr)
        else:
            a, b2 = smin_ptr + smin_val, smax_ptr + smax_val
            if a < S64_MIN or a > S64_MAX or b2 < S64_MIN or b2 > S64_MAX:
                dst_reg.smin, dst_reg.smax = S64_MIN, S64_MAX
            else:
                dst_reg.smin, dst_reg.smax = a, b2
            a, b2 = umin_ptr + umin_val, umax_ptr + umax_val
            if a > U64 or b2 > U64:
                dst_reg.umin, dst_reg.umax = 0, U64
            else:
                dst_reg.umin, dst_reg.umax = a, b2
            dst_reg.var_off = tnum_add(ptr.var_off, offr.var_off)
            dst_reg.off = ptr.off
            _copy_raw(dst_reg, ptr)
            if base_type(ptr.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META):
                dst_reg.id = env.new_id()
                dst_reg.range = 0
    elif opcode == 0x10:
        if off_is_dst:
            env.fail(errno.EACCES, f"R{dst} tried to subtract pointer from scalar")
        if ptr.type == PTR_TO_STACK:
            env.fail(errno.EACCES, f"R{dst} subtraction from stack pointer prohibited")
        if known and -(1 << 31) <= ptr.off - smin_val <= (1 << 31) - 1:
            dst_reg.smin, dst_reg.smax, dst_reg.umin, dst_reg.umax = smin_ptr, smax_ptr, umin_ptr, umax_ptr
            dst_reg.var_off = ptr.var_off
            dst_reg.id = ptr.id
            dst_reg.off = ptr.off - smin_val
            _copy_raw(dst_reg, ptr)
        else:
            a, b2 = smin_ptr - smax_val, smax_ptr - smin_val
            if a < S64_MIN or a > S64_MAX or b2 < S64_MIN or b2 > S64_MAX:
                dst_reg.smin, dst_reg.smax = S64_MIN, S64_MAX
            else:
                dst_reg.smin, dst_reg.smax = a, b2
            if umin_ptr < umax_val:
                dst_reg.umin, dst_reg.umax = 0, U64
            else:
                dst_reg.umin, dst_reg.umax = umin_ptr - umax_val, umax_ptr - umin_val
            dst_reg.var_off = tnum_sub(ptr.var_off, offr.var_off)
            dst_reg.off = ptr.off
            _copy_raw(dst_reg, ptr)
            if base_type(ptr.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META):
                dst_reg.id = env.new_id()
                if smin_val < 0:
                    dst_reg.range = 0
    elif opcode in (0x50, 0x40, 0xA0):
        env.fail(errno.EACCES, f"R{dst} bitwise operator {BPF_ALU_STRING[opcode >> 4]} on pointer prohibited")
    else:
        env.fail(errno.EACCES, f"R{dst} pointer arithmetic with {BPF_ALU_STRING[opcode >> 4]} operator prohibited")
    check_reg_sane_offset(env, dst_reg, ptr.type)
    reg_bounds_sync(dst_reg)
    if not env.bypass_spec_v1:
        if dst_reg.type == PTR_TO_STACK:
            off = dst_reg.off + _s64(dst_reg.var_off.value)
            if not tnum_is_const(dst_reg.var_off):
                env.fail(errno.EACCES, f"R{dst} variable stack access prohibited for !root, "
                                       f"var_off={tnum_strn(dst_reg.var_off)} off={off}")
            if off >= 0 or off < -MAX_BPF_STACK:
                env.fail(errno.EACCES, f"R{dst} stack pointer arithmetic goes out of range, "
                                       f"prohibited for !root; off={off}")
        elif dst_reg.type == PTR_TO_MAP_VALUE:
            if not mem.map_access_ok(env, dst, dst_reg.off, 1):
                env.fail(errno.EACCES, f"R{dst} pointer arithmetic of map value goes out of range, "
                                       "prohibited for !root")
        if sanitize_needed(opcode):
            _sanitize_ptr_alu(env, insn, dst_reg, offr, dst_reg, True)


def _copy_raw(dst: BpfRegState, src: BpfRegState) -> None:
    dst.map_ptr, dst.map_uid, dst.btf, dst.btf_id = src.map_ptr, src.map_uid, src.btf, src.btf_id
    dst.mem_size, dst.range, dst.subprogno, dst.frameno = src.mem_size, src.range, src.subprogno, src.frameno
    dst.ref_obj_id = src.ref_obj_id


# -- conditional jumps ------------------------------------------------------------------------

def mark_ptr_or_null_reg(reg: BpfRegState, rid: int, is_null: bool) -> None:
    if type_may_be_null(reg.type) and reg.id == rid:
        if is_null:
            reg.type = SCALAR_VALUE
            __mark_reg_known_zero(reg)
            reg.type = SCALAR_VALUE
        else:
            reg.type &= ~PTR_MAYBE_NULL
            if base_type(reg.type) == PTR_TO_MAP_VALUE and getattr(reg.map_ptr, "inner_map_meta", None):
                reg.type, reg.map_ptr = CONST_PTR_TO_MAP, reg.map_ptr.inner_map_meta   # map-in-map
            if not reg.ref_obj_id:
                reg.id = 0


def mark_ptr_or_null_regs(env, vstate, regno: int, is_null: bool) -> None:
    regs = vstate.frame[vstate.curframe].regs
    rid = regs[regno].id
    ref_obj_id = regs[regno].ref_obj_id
    if ref_obj_id and ref_obj_id == rid and is_null:
        vstate.refs = [r for r in vstate.refs if r.id != rid]
    for f in vstate.frame:
        for r in f.regs:
            mark_ptr_or_null_reg(r, rid, is_null)
        for s in f.stack:
            if s.slot_type[7] == 1:
                mark_ptr_or_null_reg(s.spilled_ptr, rid, is_null)


def _all_regs(vstate):
    for f in vstate.frame:
        for r in f.regs:
            yield r
        for s in f.stack:
            if s.slot_type[7] == 1:
                yield s.spilled_ptr


def sync_linked_regs(vstate, known_reg: BpfRegState) -> None:
    """Registers sharing known_reg's id (copies, or copies plus a constant delta) learn its
    refined range (verifier.c sync_linked_regs)."""
    if not known_reg.id:
        return
    kid = known_reg.id & ~BPF_ADD_CONST
    from .scalar import scalar32_min_max_add, scalar_min_max_add
    for r in list(_all_regs(vstate)):
        if r is known_reg or r.type != SCALAR_VALUE or (r.id & ~BPF_ADD_CONST) != kid:
            continue
        if ((r.id ^ known_reg.id) & BPF_ADD_CONST) == BPF_ADD_CONST:
            continue
        saved_sub = r.subreg_def
        if (not (r.id & BPF_ADD_CONST) and not (known_reg.id & BPF_ADD_CONST)) or r.off == known_reg.off:
            r.assign(known_reg)
            r.subreg_def = saved_sub
        else:
            saved_off, saved_id = r.off, r.id
            fake = BpfRegState()
            fake.type = SCALAR_VALUE
            __mark_reg_known(fake, r.off - known_reg.off)
            r.assign(known_reg)
            r.off, r.id, r.subreg_def = saved_off, saved_id, saved_sub
            scalar32_min_max_add(r, fake)
            scalar_min_max_add(r, fake)
            r.var_off = tnum_add(r.var_off, fake.var_off)
            if (r.id & BPF_ADD_CONST32) and (known_reg.id & BPF_ADD_CONST32):
                zext_32_to_64(r)
            reg_bounds_sync(r)


def check_cond_jmp_op(env, insn) -> None:
    this_branch = env.cur_state
    regs = this_branch.frame[this_branch.curframe].regs
    code = insn.code
    opcode = BPF_OP(code)
    idx = env.insn_idx
    if opcode == BPF_JA or opcode > BPF_JCOND:
        env.fail(errno.EINVAL, "invalid BPF_JMP/JMP32 opcode %x" % opcode)
    if opcode == BPF_JCOND:
        if (code & 7) != BPF_JMP or insn.src != 0 or insn.dst != 0 or insn.imm != 0:
            env.fail(errno.EINVAL, "invalid may_goto imm %d" % insn.imm)
        return _may_goto(env, insn)
    env.check_reg_arg(insn.dst, SRC_OP)
    dst_reg = regs[insn.dst]
    if BPF_SRC(code) == BPF_X:
        if insn.imm != 0:
            env.fail(errno.EINVAL, "BPF_JMP/JMP32 uses reserved fields")
        env.check_reg_arg(insn.src, SRC_OP)
        src_reg = regs[insn.src]
        if not (base_type(dst_reg.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META) and
                base_type(src_reg.type) in (PTR_TO_PACKET, PTR_TO_PACKET_META)) and \
                env.is_pointer_value(insn.src):
            env.fail(errno.EACCES, f"R{insn.src} pointer comparison prohibited")
    else:
        if insn.src != 0:
            env.fail(errno.EINVAL, "BPF_JMP/JMP32 uses reserved fields")
        src_reg = BpfRegState()
        src_reg.type = SCALAR_VALUE
        __mark_reg_known(src_reg, insn.imm)
    is_jmp32 = (code & 7) == BPF_JMP32
    pred = is_branch_taken(dst_reg, src_reg, opcode, is_jmp32)
    if pred >= 0:
        if dst_reg.type == SCALAR_VALUE:
            mark_chain_precision(env, insn.dst)
        if BPF_SRC(code) == BPF_X and src_reg.type == SCALAR_VALUE:
            mark_chain_precision(env, insn.src)
    if pred == 1:
        if env.log_level & 3:
            print_insn_state(env, this_branch, this_branch.curframe)
        env.insn_idx += insn.off + 1
        return
    if pred == 0:
        if env.log_level & 3:
            print_insn_state(env, this_branch, this_branch.curframe)
        env.insn_idx += 1
        return
    other_branch = push_stack(env, idx + insn.off + 1, idx, False)
    other_regs = other_branch.frame[other_branch.curframe].regs
    if BPF_SRC(code) == BPF_X:
        reg_set_min_max(other_regs[insn.dst], other_regs[insn.src], dst_reg, src_reg, opcode, is_jmp32)
        _fix_insane(other_regs[insn.dst], other_regs[insn.src], dst_reg, src_reg)
    else:
        fake0 = src_reg
        fake1 = src_reg.copy()
        reg_set_min_max(other_regs[insn.dst], fake0, dst_reg, fake1, opcode, is_jmp32)
        _fix_insane(other_regs[insn.dst], dst_reg)
    if BPF_SRC(code) == BPF_X and src_reg.type == SCALAR_VALUE and src_reg.id:
        sync_linked_regs(this_branch, src_reg)
        sync_linked_regs(other_branch, other_regs[insn.src])
    if dst_reg.type == SCALAR_VALUE and dst_reg.id:
        sync_linked_regs(this_branch, dst_reg)
        sync_linked_regs(other_branch, other_regs[insn.dst])
    if (not is_jmp32 and BPF_SRC(code) == BPF_X and src_reg.type != SCALAR_VALUE and
            dst_reg.type != SCALAR_VALUE and
            type_may_be_null(src_reg.type) != type_may_be_null(dst_reg.type) and
            reg_not_null(dst_reg if type_may_be_null(src_reg.type) else src_reg) and
            base_type(src_reg.type) != PTR_TO_BTF_ID and base_type(dst_reg.type) != PTR_TO_BTF_ID):
        eq = other_regs if opcode == 0x10 else (regs if opcode == 0x50 else None)
        if eq is not None:
            r = eq[insn.src] if type_may_be_null(src_reg.type) else eq[insn.dst]
            r.type &= ~PTR_MAYBE_NULL
    if (not is_jmp32 and BPF_SRC(code) == BPF_K and insn.imm == 0 and opcode in (0x10, 0x50)
            and type_may_be_null(dst_reg.type)):
        mark_ptr_or_null_regs(env, this_branch, insn.dst, opcode == 0x50)
        mark_ptr_or_null_regs(env, other_branch, insn.dst, opcode == 0x10)
    elif env.is_pointer_value(insn.dst):
        env.fail(errno.EACCES, f"R{insn.dst} pointer comparison prohibited")
    if env.log_level & 3:
        print_insn_state(env, this_branch, this_branch.curframe)
    env.insn_idx += 1


def mark_chain_precision(env, regno: int) -> None:
    """An approximation of mark_chain_precision: the register is marked precise in the current
    state and in the checkpoints behind it for as long as it holds the same value there. Pruning
    treats every scalar as precise anyway (states.py); the mark only shows in the log ("P")."""
    st = env.cur_state
    reg = st.frame[st.curframe].regs[regno]
    if reg.type != SCALAR_VALUE:
        return
    frame = st.curframe
    bit = 1 << regno
    child, p = st, st.parent
    while p is not None and frame < len(p.frame) and p.curframe == frame and not (child.written & bit):
        r = p.frame[frame].regs[regno]
        if r.type != SCALAR_VALUE:
            break
        r.precise = True
        child, p = p, p.parent


def _fix_insane(*regs) -> None:
    for r in regs:
        if r.type == SCALAR_VALUE and not reg_bounds_sane(r):
            __mark_reg_unbounded(r)
            from .tnum import tnum_unknown
            r.var_off = tnum_unknown


def _may_goto(env, insn) -> None:
    """may_goto: the fall-through is explored with a budget (the kernel's hidden counter of
    8M iterations shows as a depth); the jump is always possible."""
    cur = env.cur_state
    idx = env.insn_idx
    queued = push_stack(env, idx + 1, idx, False)
    queued.may_goto_depth += 1
    env.insn_idx += insn.off + 1


# -- LD_IMM64 ---------------------------------------------------------------------------------

def check_ld_imm(env, insn) -> None:
    regs = env.cur_regs()
    if (insn.code & 0x18) != 0x18:
        env.fail(errno.EINVAL, "invalid BPF_LD_IMM insn")
    if insn.off != 0:
        env.fail(errno.EINVAL, "BPF_LD_IMM64 uses reserved fields")
    env.check_reg_arg(insn.dst, DST_OP)
    dst = regs[insn.dst]
    idx = env.insn_idx
    nxt = env.insns[idx + 1]
    imm = (insn.imm & U32) | ((nxt.imm & U32) << 32)
    if insn.src == 0:
        dst.type = SCALAR_VALUE
        __mark_reg_known(dst, imm)
        return
    aux = env.insn_aux[idx]
    __mark_reg_known(dst, 0)
    if insn.src == 3:
        t = aux.ptr_type
        dst.type = t[0]
        if base_type(t[0]) == PTR_TO_MEM:
            dst.mem_size = t[1]
        else:
            dst.btf, dst.btf_id = t[1], t[2]
        return
    if insn.src == 4:
        if not env.attr.func_info:
            env.fail(errno.EINVAL, "missing btf func_info")
        target = idx + insn.imm + 1
        sub = calls.find_subprog(env, target)
        if sub < 0:
            env.fail(errno.EFAULT, "missing subprog")
        dst.type = PTR_TO_FUNC
        dst.subprogno = sub
        return
    m = aux.map_ptr
    dst.map_ptr = m
    if insn.src in (2, 6):
        dst.type = PTR_TO_MAP_VALUE
        dst.off = aux.map_off
    else:
        dst.type = CONST_PTR_TO_MAP


# -- exit -------------------------------------------------------------------------------------

def check_return_code(env, regno: int, reg_name: str) -> None:
    prog = env.prog
    env.check_reg_arg(regno, SRC_OP)
    reg = env.cur_regs()[regno]
    if env.is_pointer_value(regno):
        env.fail(errno.EACCES, f"R{regno} leaks addr as return value")
    if env.cur_state.frame[0].subprogno:          # a global function verified on its own
        if reg.type != SCALAR_VALUE:
            env.fail(errno.EINVAL, f"At subprogram exit the register R{regno} is not a scalar "
                                   f"value ({reg_type_str(reg.type)})")
        return
    ptype = prog.type
    eat = prog.expected_attach_type
    rng = None
    if ptype == PT.BPF_PROG_TYPE_RAW_TRACEPOINT:
        if not getattr(prog.aux, "attach_btf_id", 0):
            return
        rng = (0, 0)
    elif ptype == PT.BPF_PROG_TYPE_TRACING:
        if eat in (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT):
            rng = (0, 0)
        elif eat in (AT.BPF_TRACE_RAW_TP, AT.BPF_MODIFY_RETURN):
            return
        elif eat == AT.BPF_TRACE_ITER:
            rng = (0, 1)
        else:
            raise BpfError(ENOTSUPP, "unsupported attach type")
    elif ptype == PT.BPF_PROG_TYPE_KPROBE:
        if eat in (getattr(AT, "BPF_TRACE_KPROBE_SESSION", -1), getattr(AT, "BPF_TRACE_UPROBE_SESSION", -1)):
            rng = (0, 1)
        else:
            return
    else:
        return
    exit_ctx = "At program exit"
    if reg.type != SCALAR_VALUE:
        env.fail(errno.EINVAL, f"{exit_ctx} the register R{regno} is not a known value ({reg_type_str(reg.type)})")
    if not (reg.smin >= rng[0] and reg.smax <= rng[1]):
        parts = []
        if reg.smin > S64_MIN:
            parts.append(f" smin={reg.smin}")
        if reg.smax < S64_MAX:
            parts.append(f" smax={reg.smax}")
        text = "".join(parts) or " unknown scalar value"
        env.fail(errno.EINVAL, f"{exit_ctx} the register {reg_name} has{text} should have been in [{rng[0]}, {rng[1]}]")
