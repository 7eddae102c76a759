"""btf_check: what BPF_BTF_LOAD does to a blob before accepting it (kernel/bpf/btf.c btf_parse).

Order, as in the kernel: size (E2BIG past BTF_MAX_SIZE) -> btf_parse_hdr (with the header dump in
the log) -> btf_parse_str_sec -> btf_parse_type_sec = btf_check_all_metas (pass 1: every record's
check_meta, each type logged as ``[id] KIND name details``) then btf_check_all_types (pass 2:
resolve every type that refers to others, check every FUNC_PROTO) -> btf_check_type_tags. The
per-kind rules are the slots of btf/kinds.py (btf/check.py).

Resolving is the kernel's depth-first walk with an explicit stack of at most MAX_RESOLVE_DEPTH
vertices (``env_stack_push``): pushing past it is E2BIG ("Exceeded max resolving depth:32"), meeting
a vertex already on the walk is EEXIST ("Loop detected"), both logged against the type the walk
started from. Nothing here recurses on a type chain, so hostile blobs end in a BtfError.

The log is the kernel's text for ``log_level`` >= 1 (levels 1 and 2 print the same for BTF): lines
from ``btf_verifier_log_type`` end in a newline, the bare ``btf_verifier_log`` complaints do not.
Truncation to the user's buffer (and the ENOSPC for a truncated log) is the caller's: BPF_BTF_LOAD
in the kernelsim core. Not modelled: btf_parse_struct_metas (special fields such as bpf_spin_lock
in user structs are not checked here).
"""

import errno
from array import array

from .btf import Btf, btf_parse_hdr, btf_parse_str_sec
from .errors import BtfError
from .kinds import KIND_OPS
from . import check
from .uapi import BTF_INFO_MASK, BTF_MAX_SIZE, BTF_MAX_TYPE, KSYM_NAME_LEN, MAX_RESOLVE_DEPTH, BtfKind

K = BtfKind
NOT_VISITED, VISITED, RESOLVED = 0, 1, 2
RESOLVE_TBD, RESOLVE_PTR, RESOLVE_STRUCT_OR_ARRAY = 0, 1, 2
CHECK_META, CHECK_TYPE = 0, 1

_MODIFIERS = frozenset((K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST,
                        K.BTF_KIND_RESTRICT, K.BTF_KIND_TYPE_TAG))
_HAS_SIZE = frozenset((K.BTF_KIND_INT, K.BTF_KIND_STRUCT, K.BTF_KIND_UNION, K.BTF_KIND_ENUM,
                       K.BTF_KIND_DATASEC, K.BTF_KIND_FLOAT, K.BTF_KIND_ENUM64))
_NOSIZE = frozenset((K.BTF_KIND_UNKN, K.BTF_KIND_FWD, K.BTF_KIND_FUNC, K.BTF_KIND_FUNC_PROTO))
_SOURCE_ONLY = frozenset((K.BTF_KIND_VAR, K.BTF_KIND_DECL_TAG, K.BTF_KIND_DATASEC))
_NEEDS_RESOLVE = _MODIFIERS | frozenset((K.BTF_KIND_PTR, K.BTF_KIND_STRUCT, K.BTF_KIND_UNION,
                                         K.BTF_KIND_ARRAY, K.BTF_KIND_VAR, K.BTF_KIND_FUNC,
                                         K.BTF_KIND_DECL_TAG, K.BTF_KIND_DATASEC))
_COMPOSITE = frozenset((K.BTF_KIND_STRUCT, K.BTF_KIND_UNION))


def _ctype_tables():
    """lib/ctype.c: isalpha/isalnum, ASCII plus the Latin-1 letters the kernel's table marks."""
    alpha = set(range(ord("A"), ord("Z") + 1)) | set(range(ord("a"), ord("z") + 1))
    alpha |= set(range(0xC0, 0x100)) - {0xD7, 0xF7}
    alnum = alpha | set(range(ord("0"), ord("9") + 1))
    return frozenset(alpha), frozenset(alnum)


_ALPHA, _ALNUM = _ctype_tables()
_US, _DOT = ord("_"), ord(".")


class _PushRefused(Exception):
    """env_stack_push's -E2BIG / -EEXIST, caught by btf_resolve (our mechanism, not a kernel name)."""

    def __init__(self, err: int):
        self.err = err


class ResolveVertex:
    """struct resolve_vertex: a type on the resolve walk and the next member to look at."""

    __slots__ = ("t", "type_id", "next_member")

    def __init__(self, t, type_id):
        self.t, self.type_id, self.next_member = t, type_id, 0


class BtfVerifierEnv:
    """struct btf_verifier_env: the BTF being checked, the log, the resolve walk's state."""

    MODIFIERS = _MODIFIERS

    def __init__(self, btf: Btf, level: int):
        self.btf = btf
        self.level = level
        self.lines: list[str] = []
        self.phase = CHECK_META
        self.resolve_mode = RESOLVE_TBD
        self.stack: list[ResolveVertex] = []
        self.visit_states = bytearray()
        self.resolved_ids = array("I")
        self.resolved_sizes = array("I")

    # -- log ------------------------------------------------------------------------------------

    def log(self, text: str) -> None:
        if self.level:
            self.lines.append(text)

    def log_name(self, off: int) -> str:
        return self.btf._log_name(off)

    def _type_line(self, t, details: bool, msg: str | None) -> str:
        ops = KIND_OPS[(t.info >> 24) & 0x1F]
        line = f"[{t.id}] {ops.kind_str} {self.log_name(t.name_off)}"
        if details:
            line += " " + ops.log_details(self, t)
        if msg:
            line += " " + msg
        return line + "\n"

    def log_type(self, t, msg: str | None = None) -> None:
        """btf_verifier_log_type(env, t, NULL): the line every checked type gets."""
        if self.level:
            self.lines.append(self._type_line(t, True, msg))

    def fail(self, line: str, err: int = errno.EINVAL):
        """Write the complaint line and raise it (the message is the line, whitespace-stripped)."""
        self.lines.append(line)
        raise BtfError(err, line.strip(), self.text())

    def plain_error(self, msg: str, err: int = errno.EINVAL):
        """btf_verifier_log(env, msg) then return -err: no newline, as the kernel writes it."""
        self.fail(msg, err)

    def type_error(self, t, msg: str, err: int = errno.EINVAL):
        """btf_verifier_log_type(env, t, msg) then return -err."""
        self.fail(self._type_line(t, True, msg), err)

    def basic_error(self, t, msg: str, err: int = errno.EINVAL):
        """btf_verifier_log_basic(env, t, msg) then return -err."""
        self.fail(self._type_line(t, False, msg), err)

    def _member_line(self, struct, m, msg: str | None) -> str:
        if struct.kflag:
            line = (f"\t{self.log_name(m.name_off)} type_id={m.type} "
                    f"bitfield_size={m.offset >> 24} bits_offset={m.offset & 0xFFFFFF}")
        else:
            line = f"\t{self.log_name(m.name_off)} type_id={m.type} bits_offset={m.offset}"
        return line + (" " + msg if msg else "") + "\n"

    def log_member(self, struct, m) -> None:
        if self.level:
            self.lines.append(self._member_line(struct, m, None))

    def member_error(self, struct, m, msg: str):
        """btf_verifier_log_member: after pass 1 the struct's own line comes first."""
        if self.phase != CHECK_META:
            self.lines.append(self._type_line(struct, True, None))
        self.fail(self._member_line(struct, m, msg))

    def _vsi_line(self, v, msg: str | None) -> str:
        return f"\t type_id={v.type} offset={v.offset} size={v.size}" + (" " + msg if msg else "") + "\n"

    def log_vsi(self, datasec, v) -> None:
        if self.level:
            self.lines.append(self._vsi_line(v, None))

    def vsi_error(self, datasec, v, msg: str):
        """btf_verifier_log_vsi."""
        if self.phase != CHECK_META:
            self.lines.append(self._type_line(datasec, True, None))
        self.fail(self._vsi_line(v, msg))

    def text(self) -> str:
        return "".join(self.lines) if self.level else ""

    # -- names ----------------------------------------------------------------------------------

    def _name_bytes(self, off: int) -> bytes | None:
        btf = self.btf
        while off < btf.start_str_off:
            btf = btf.base
        local = off - btf.start_str_off
        strings = btf.strings
        if local >= len(strings):
            return None
        end = strings.find(b"\0", local)
        return strings[local:end if end >= 0 else len(strings)]

    def name_valid(self, off: int, dot_ok: bool = False) -> bool:
        """__btf_name_valid: a C identifier (dots too for sections), at most KSYM_NAME_LEN."""
        s = self._name_bytes(off)
        if not s or len(s) > KSYM_NAME_LEN:
            return False
        c = s[0]
        if c not in _ALPHA and c != _US and not (dot_ok and c == _DOT):
            return False
        for c in s[1:]:
            if c not in _ALNUM and c != _US and not (dot_ok and c == _DOT):
                return False
        return True

    def name_valid_identifier(self, off: int) -> bool:
        return self.name_valid(off, False)

    # -- type helpers ---------------------------------------------------------------------------

    def type_or_none(self, tid: int):
        """btf_type_by_id: the type, or None past the last id."""
        if tid < 0 or tid >= self.btf.nr_types:
            return None
        return self.btf.type_by_id(tid)

    @staticmethod
    def ops_of(t):
        return KIND_OPS[(t.info >> 24) & 0x1F]

    @staticmethod
    def nosize_or_null(t) -> bool:
        return t is None or t.id == 0 or t.kind in _NOSIZE

    @staticmethod
    def is_resolve_source_only(t) -> bool:
        return t.id != 0 and t.kind in _SOURCE_ONLY

    @staticmethod
    def needs_resolve(t) -> bool:
        return t.id != 0 and t.kind in _NEEDS_RESOLVE

    def is_resolve_sink(self, nt) -> bool:
        """env_type_is_resolve_sink: where the walk may stop, by mode."""
        k = nt.kind if nt.id else 0
        if self.resolve_mode == RESOLVE_TBD:
            return k not in _NEEDS_RESOLVE
        if self.resolve_mode == RESOLVE_PTR:
            return k not in _MODIFIERS and k != K.BTF_KIND_PTR
        return k not in _MODIFIERS and k != K.BTF_KIND_ARRAY and k not in _COMPOSITE

    def is_resolved(self, tid: int) -> bool:
        start = self.btf.start_id
        if tid < start:
            return self.btf.base is not None    # base BTF: void (id 0) is never "resolved"
        return self.visit_states[tid - start] == RESOLVED

    def resolved_id(self, tid: int) -> int:
        """btf_resolved_type_id; for a base type, computed the way the kernel resolved it."""
        start = self.btf.start_id
        if tid >= start:
            return self.resolved_ids[tid - start]
        base = self.btf.base
        if not tid or base is None:
            return 0
        t = base.type_by_id(tid)
        if t.kind == K.BTF_KIND_ARRAY:
            return base.skip_modifiers(t.elem_type)
        if t.kind in _MODIFIERS or t.kind == K.BTF_KIND_VAR:
            return base.skip_modifiers(t.type)
        return t.type if t.kind in (K.BTF_KIND_FUNC, K.BTF_KIND_DECL_TAG) else 0

    def resolved_size(self, tid: int) -> int:
        start = self.btf.start_id
        if tid >= start:
            return self.resolved_sizes[tid - start]
        if not tid or self.btf.base is None:
            return 0
        return self.btf.base.resolve_size(tid)

    def type_id_size(self, tid: int):
        """btf_type_id_size: (type, id, size) of what ``tid`` resolves to, or None if no size."""
        t = self.type_or_none(tid)
        if self.nosize_or_null(t):
            return None
        k = t.kind
        if k in _HAS_SIZE:
            return t, tid, t.size_type
        if k == K.BTF_KIND_ARRAY:
            return t, tid, self.resolved_size(tid)
        if k == K.BTF_KIND_PTR:
            return t, tid, 8
        if k not in _MODIFIERS and k != K.BTF_KIND_VAR:
            return None
        tid = self.resolved_id(tid)
        t = self.type_or_none(tid)
        if self.nosize_or_null(t):
            return None
        k = t.kind
        if k in _HAS_SIZE:
            return t, tid, t.size_type
        if k == K.BTF_KIND_ARRAY:
            return t, tid, self.resolved_size(tid)
        if k == K.BTF_KIND_PTR:
            return t, tid, 8
        return None

    # -- the resolve walk -------------------------------------------------------------------------

    def stack_push(self, t, tid: int) -> None:
        """env_stack_push: E2BIG past MAX_RESOLVE_DEPTH, EEXIST for a vertex already visited."""
        if len(self.stack) == MAX_RESOLVE_DEPTH:
            raise _PushRefused(errno.E2BIG)
        start = self.btf.start_id
        if tid < start or self.visit_states[tid - start] != NOT_VISITED:
            raise _PushRefused(errno.EEXIST)
        self.visit_states[tid - start] = VISITED
        self.stack.append(ResolveVertex(t, tid))
        if self.resolve_mode == RESOLVE_TBD:
            if t.kind == K.BTF_KIND_PTR:
                self.resolve_mode = RESOLVE_PTR
            elif t.kind in _COMPOSITE or t.kind == K.BTF_KIND_ARRAY:
                self.resolve_mode = RESOLVE_STRUCT_OR_ARRAY

    def stack_pop_resolved(self, resolved_id: int, resolved_size: int) -> None:
        """env_stack_pop_resolved."""
        v = self.stack.pop()
        local = v.type_id - self.btf.start_id
        self.resolved_sizes[local] = resolved_size & 0xFFFFFFFF
        self.resolved_ids[local] = resolved_id
        self.visit_states[local] = RESOLVED

    def resolve_valid(self, t, tid: int) -> bool:
        """btf_resolve_valid: the final sanity check of one resolve walk."""
        if not self.is_resolved(tid):
            return False
        k = t.kind
        if k in _COMPOSITE or k == K.BTF_KIND_DATASEC:
            return not self.resolved_id(tid) and not self.resolved_size(tid)
        if k in (K.BTF_KIND_DECL_TAG, K.BTF_KIND_FUNC):
            return bool(self.resolved_id(tid)) and not self.resolved_size(tid)
        if k in _MODIFIERS or k in (K.BTF_KIND_PTR, K.BTF_KIND_VAR):
            rt = self.type_or_none(self.resolved_id(tid))
            return rt is not None and (rt.id == 0 or (rt.kind not in _MODIFIERS and rt.kind not in
                                                      (K.BTF_KIND_VAR, K.BTF_KIND_DATASEC)))
        if k == K.BTF_KIND_ARRAY:
            res = self.type_id_size(t.elem_type)
            return (res is not None and res[0].kind not in _MODIFIERS
                    and (t.nelems * res[2]) & 0xFFFFFFFF == self.resolved_size(tid))
        return False

    def resolve(self, t, tid: int) -> None:
        """btf_resolve: walk from ``t`` until it and everything it needs are resolved."""
        self.resolve_mode = RESOLVE_TBD
        err = 0
        try:
            self.stack_push(t, tid)
            while self.stack:
                v = self.stack[-1]
                self.ops_of(v.t).resolve(self, v)
        except _PushRefused as e:
            err = e.err
        if err == errno.E2BIG:
            self.type_error(t, f"Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}", errno.E2BIG)
        elif err == errno.EEXIST:
            self.type_error(t, "Loop detected", errno.EEXIST)
        if not self.resolve_valid(t, tid):
            self.type_error(t, "Invalid resolve state")


def btf_check_all_metas(env: BtfVerifierEnv, words, type_len: int) -> None:
    """Pass 1: walk the records, check each with its kind's check_meta and add it to the BTF."""
    btf = env.btf
    offs, cache = btf._offs, btf._cache
    tid = btf.start_id
    w = 0
    while (w << 2) < type_len:
        left = type_len - (w << 2)
        if left < 12:
            env.plain_error(f"[{tid}] meta_left:{left} meta_needed:12")
        name_off, info = words[w], words[w + 1]
        if info & ~BTF_INFO_MASK:
            env.plain_error(f"[{tid}] Invalid btf_info:{info:x}")
        kind = (info >> 24) & 0x1F
        ops = KIND_OPS[kind]
        if ops is None:
            env.plain_error(f"[{tid}] Invalid kind:{kind}")
        if not btf.name_offset_valid(name_off):
            env.plain_error(f"[{tid}] Invalid name_offset:{name_off}")
        need = ops.meta_size(info & 0xFFFF)
        if left - 12 < need:
            env.fail(f"[{tid}] {ops.kind_str} {env.log_name(name_off)} "
                     f"meta_left:{left - 12} meta_needed:{need}\n")
        if tid >= BTF_MAX_TYPE:
            env.plain_error("Exceeded max num of types", errno.E2BIG)
        t = ops.decode(btf, tid, words, w)
        ops.check_meta(env, t)
        offs.append(w)
        cache.append(t)
        w += 3 + (need >> 2)
        tid += 1


def btf_check_all_types(env: BtfVerifierEnv) -> None:
    """Pass 2: resolve every type that needs it; check every FUNC_PROTO."""
    btf = env.btf
    n = len(btf._offs)
    env.visit_states = bytearray(n)
    env.resolved_ids = array("I", bytes(4 * n))
    env.resolved_sizes = array("I", bytes(4 * n))
    env.phase = CHECK_TYPE
    for tid in btf.type_ids():
        t = btf.type_by_id(tid)
        if t.kind in _NEEDS_RESOLVE and not env.is_resolved(tid):
            env.resolve(t, tid)
        if t.kind == K.BTF_KIND_FUNC_PROTO:
            check.func_proto_check(env, t)


def btf_check_type_tags(env: BtfVerifierEnv) -> None:
    """btf_check_type_tags: in a modifier chain, TYPE_TAGs come first (EINVAL "Type tags don't
    precede modifiers"); a chain longer than 32 is a cycle (ELOOP)."""
    btf = env.btf
    good_id = btf.start_id - 1
    n = btf.nr_types
    for i in btf.type_ids():
        t = btf.type_by_id(i)
        if t.kind not in _MODIFIERS:
            continue
        in_tags = t.kind == K.BTF_KIND_TYPE_TAG
        cur_id = i
        chain_limit = 32
        while cur_id and t.kind in _MODIFIERS:
            if not chain_limit:
                env.plain_error("Max chain length or cycle detected", errno.ELOOP)
            chain_limit -= 1
            if t.kind == K.BTF_KIND_TYPE_TAG:
                if not in_tags:
                    env.plain_error("Type tags don't precede modifiers")
            else:
                in_tags = False
            if cur_id <= good_id:
                break
            cur_id = t.type
            if cur_id >= n:
                raise BtfError(errno.EINVAL, "Invalid type id in a modifier chain", env.text())
            t = btf.type_by_id(cur_id)
        good_id = i


def btf_check(data: bytes, log_level: int = 1, base: Btf | None = None) -> tuple[Btf, str]:
    """Validate ``data`` as BPF_BTF_LOAD does; return the parsed Btf and the verifier log.

    Called by BPF_BTF_LOAD in the kernelsim core (``base`` for a module's split BTF). Raises
    BtfError(errno, complaint line, log=the log up to it): E2BIG (blob > 16 MiB, non-zero extended
    header, resolve depth, too many types), EINVAL (most rules), ENOTSUPP (version, flags, INT
    encoding), EEXIST (a loop), ELOOP (a modifier cycle in the type-tag check).
    """
    data = bytes(data)
    if len(data) > BTF_MAX_SIZE:
        raise BtfError(errno.E2BIG, f"btf_data_size {len(data)} > BTF_MAX_SIZE")
    lines: list[str] = []

    def log(text):
        if log_level:
            lines.append(text)

    def fail(e: BtfError):
        lines.append(e.message)
        raise BtfError(e.errno, e.message, "".join(lines) if log_level else "") from None

    try:
        hdr = btf_parse_hdr(data, base, log)
        strings = btf_parse_str_sec(data, hdr, base)
    except BtfError as e:
        fail(e)
    if hdr.type_off & 3:
        fail(BtfError(errno.EINVAL, "Unaligned type_off"))
    if base is None and not hdr.type_len:
        fail(BtfError(errno.EINVAL, "No type found"))
    start = hdr.hdr_len + hdr.type_off
    words = memoryview(data)[start:start + (hdr.type_len & ~3)].cast("I")
    btf = Btf(data, hdr, strings, words, array("I"), base)
    btf._cache = []
    env = BtfVerifierEnv(btf, log_level)
    env.lines = lines
    btf_check_all_metas(env, words, hdr.type_len)
    btf_check_all_types(env)
    btf_check_type_tags(env)
    return btf, env.text()
