"""The program's own BTF in the verifier: func_info and line_info (kernel/bpf/verifier.c
check_abnormal_return, check_btf_func, check_btf_line, adjust_btf_func; kernel/bpf/log.c
bpf_find_linfo, verbose_linfo).

PROG_LOAD (syscall/prog_load.py, check_btf_func_early) has already copied the func_info records
and checked each against the BTF (first at 0, increasing offsets, FUNC type ids); the line_info
records are copied there too, checked here. What is left needs the subprograms, so bpf_check
calls ``check_btf_info`` right after check_subprogs:

* func_info: one record per subprogram (EINVAL "number of funcs in func_info doesn't match
  number of subprogs"), each at its subprogram's first instruction ("func_info BTF section
  doesn't match subprog layout in BPF program"); a subprogram with LD_ABS or a tail call must
  return an int or an enum. Each record gives its subprogram a name and a linkage (static,
  global, extern: the FUNC's vlen).
* line_info: offsets strictly increasing and inside the program, never on the second half of
  an ld_imm64 ("Invalid insn code at line_info[N].insn_off"), both strings resolving in the
  BTF, and every subprogram's first instruction carrying a record ("missing bpf_line_info for
  func#N"). Without func_info, LD_ABS and tail calls are refused in subprograms
  (check_abnormal_return).

At log level 1 or 2, do_check prints the source line of a record before the first instruction
it covers: ``; out = sub_a(skb->len); @ subprogs.bpf.c:41`` (verbose_linfo: the line text with
leading blanks dropped, the file's base name, the line number from the top 22 bits of
line_col), once per record and not again while the same record is current.

After the rewrites (fixups.py) the records follow the instructions: func_info offsets become the
subprograms' new starts (adjust_btf_func) and line_info offsets move with the patched code
(bpf_adj_linfo, bpf_adj_linfo_after_remove: fixups._Patcher).
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass


BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_FUNC, BTF_KIND_ENUM64 = 1, 6, 12, 19
MODIFIER_KINDS = (8, 9, 10, 11, 18)        # typedef, volatile, const, restrict, type_tag
BTF_FUNC_STATIC, BTF_FUNC_GLOBAL, BTF_FUNC_EXTERN = 0, 1, 2


def btf_type_skip_modifiers(btf, type_id: int):
    """kernel btf_type_skip_modifiers: follow typedef/qualifier chains; (type, id)."""
    t = btf.type_by_id(type_id)
    while t.kind in MODIFIER_KINDS:
        type_id = t.size_type
        t = btf.type_by_id(type_id)
    return t, type_id


def _scalar_return(btf, proto) -> bool:
    """btf_type_is_small_int(ret) || btf_is_any_enum(ret)."""
    if proto.size_type == 0:
        return False
    t, _ = btf_type_skip_modifiers(btf, proto.size_type)
    return (t.kind == BTF_KIND_INT and t.size <= 8) or t.kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64)


def check_abnormal_return(env) -> None:
    """Called without func_info: EINVAL for LD_ABS or a tail call outside the main program."""
    for sp in env.subprogs[1:]:
        if sp.has_ld_abs:
            env.fail(errno.EINVAL, "LD_ABS is not allowed in subprogs without BTF")
        if sp.has_tail_call:
            env.fail(errno.EINVAL, "tail_call is not allowed in subprogs without BTF")


def check_btf_info(env) -> None:
    """bpf_check_btf_info: called by bpf_check after check_subprogs (module doc)."""
    attr = env.attr
    env.func_info = []
    env.linfo = []
    env.prev_linfo = None
    if not attr.func_info_cnt:
        check_abnormal_return(env)
    if not attr.func_info_cnt and not attr.line_info_cnt:
        return
    if attr.func_info_cnt:
        check_btf_func(env)
    if attr.line_info_cnt:
        check_btf_line(env)


def _func_records(attr) -> list[tuple[int, int]]:
    rs = attr.func_info_rec_size or 8
    return [struct.unpack_from("<II", attr.func_info, i * rs) for i in range(attr.func_info_cnt)]


def check_btf_func(env) -> None:
    """check_btf_func: the records against the subprograms (module doc); EINVAL."""
    btf = env.attr.prog_btf.btf
    recs = _func_records(env.attr)
    if len(recs) != len(env.subprogs):
        env.fail(errno.EINVAL, "number of funcs in func_info doesn't match number of subprogs")
    for i, (insn_off, type_id) in enumerate(recs):
        sp = env.subprogs[i]
        if sp.start != insn_off:
            env.fail(errno.EINVAL,
                     "func_info BTF section doesn't match subprog layout in BPF program")
        func = btf.type_by_id(type_id)
        proto = btf.type_by_id(func.size_type)
        scalar = _scalar_return(btf, proto)
        if i and not scalar and sp.has_ld_abs:
            env.fail(errno.EINVAL, "LD_ABS is only allowed in functions that return 'int'.")
        if i and not scalar and sp.has_tail_call:
            env.fail(errno.EINVAL, "tail_call is only allowed in functions that return 'int'.")
        sp.name = func.name
        sp.linkage = func.vlen
        sp.btf_id = type_id
    env.func_info = [list(r) for r in recs]


def check_btf_line(env) -> None:
    """check_btf_line: offsets, codes, strings, a record at each subprogram's start; EINVAL."""
    attr = env.attr
    btf = attr.prog_btf.btf
    n = len(env.insns)
    subs = env.subprogs
    s = 0
    prev = 0
    out = []
    for i in range(attr.line_info_cnt):
        rec = list(struct.unpack_from("<IIII", attr.line_info, i * 16))
        off = rec[0]
        if (i and off <= prev) or off >= n:
            env.fail(errno.EINVAL, f"Invalid line_info[{i}].insn_off:{off} "
                                   f"(prev_offset:{prev} prog->len:{n})")
        if not env.insns[off].code:
            env.fail(errno.EINVAL, f"Invalid insn code at line_info[{i}].insn_off")
        if btf.str_by_offset(rec[2]) is None or btf.str_by_offset(rec[1]) is None:
            env.fail(errno.EINVAL, f"Invalid line_info[{i}].line_off or .file_name_off")
        if s != len(subs):
            if off == subs[s].start:
                s += 1
            elif subs[s].start < off:
                env.fail(errno.EINVAL, f"missing bpf_line_info for func#{s}")
        prev = off
        out.append(rec)
    if s != len(subs):
        env.fail(errno.EINVAL, f"missing bpf_line_info for {len(subs) - s} funcs starting "
                               f"from func#{s}")
    env.linfo = out


def find_linfo(env, insn_off: int):
    """bpf_find_linfo: the index of the last record at or before ``insn_off`` (None: none)."""
    linfo = env.linfo
    if not linfo or insn_off >= len(env.insns):
        return None
    i = 1
    while i < len(linfo) and insn_off >= linfo[i][0]:
        i += 1
    return i - 1


def verbose_linfo(env, insn_off: int, prefix: str) -> None:
    """verbose_linfo: ``prefix`` + the source line, " @ file:line" (module doc)."""
    idx = find_linfo(env, insn_off)
    if idx is None or idx == env.prev_linfo:
        return
    if env.prev_linfo is not None:
        prev = env.linfo[env.prev_linfo]
        if prev[1] == env.linfo[idx][1] and prev[3] >> 10 == env.linfo[idx][3] >> 10:
            return              # same file and line, another column: printed already
    btf = env.attr.prog_btf.btf
    _, file_off, line_off, line_col = env.linfo[idx]
    text = btf.str_at(line_off).lstrip(" \t\n\v\f\r")
    fname = btf.str_at(file_off).rsplit("/", 1)[-1]
    env.verbose(f"{prefix}{text} @ {fname}:{line_col >> 10}\n")
    env.prev_linfo = idx


def adjust_btf_func(env, starts) -> None:
    """adjust_btf_func: each func_info record at its subprogram's start after the rewrites."""
    for rec, start in zip(env.func_info, starts):
        rec[0] = start


def adjust_linfo(linfo, n: int, repl: dict, first: list) -> list:
    """bpf_adj_linfo / bpf_adj_linfo_after_remove for one rewrite pass (fixups._Patcher):
    ``repl`` maps an old instruction to its replacement list ([] = removed), ``first[i]`` is
    the new index of old instruction i's replacement. A record on a patched instruction stays
    on the replacement's first instruction; records in a removed run are dropped, except that
    the run's last one moves to the instruction after the run when that has no record of its
    own (and the run is not the program's tail)."""
    out = []
    recs = sorted(linfo, key=lambda r: r[0])
    k = 0
    while k < len(recs):
        off = recs[k][0]
        if repl.get(off) != []:
            out.append([first[off]] + list(recs[k][1:]))
            k += 1
            continue
        b = off
        while b < n and repl.get(b) == []:
            b += 1
        run = []
        while k < len(recs) and recs[k][0] < b:
            run.append(recs[k])
            k += 1
        next_has = k < len(recs) and recs[k][0] == b
        if b < n and not next_has:
            out.append([first[b]] + list(run[-1][1:]))
    return out


@dataclass(frozen=True, slots=True)
class BpfFuncInfoAux:
    """struct bpf_func_info_aux: what the verifier learnt about one subprogram's BTF."""

    linkage: int            # BTF_FUNC_STATIC / GLOBAL / EXTERN
    unreliable: bool        # its prototype does not describe what callers pass (or the main
                            # program's is not "one context pointer"): tracing then uses the
                            # conservative model (kernelsim/tracing/attach_target.py)
    called: bool            # a global function some verified code calls
    verified: bool          # ... verified on its own


def commit_btf_info(env, aux) -> None:
    """What bpf_check leaves in prog->aux: func_info (type ids, final offsets), func_info_aux
    and linfo."""
    aux.func_info = [tuple(r) for r in env.func_info]
    aux.line_info = [tuple(r) for r in env.linfo]
    aux.func_info_aux = [BpfFuncInfoAux(sp.linkage, sp.unreliable, sp.called, sp.verified)
                         for sp in env.subprogs] if env.func_info else []
