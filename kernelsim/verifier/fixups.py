"""Rewrites after a successful verification (kernel/bpf/verifier.c bpf_check's tail:
opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops, sanitize_dead_code,
convert_ctx_accesses, do_misc_fixups, jit_subprogs' last pass, convert_pseudo_ld_imm64).

Two programs come out of here, as two come out of Linux (the xlated instructions and the JIT
image):

* ``env.xlated`` becomes ``prog.aux.xlated_insns``: the instructions Linux 6.18 (x86-64, JIT on)
  keeps in its prog->insnsi after its rewrites, which BPF_OBJ_GET_INFO_BY_FD dumps. For privileged loaders dead branches
  are hard-wired to ``goto``, unreached code and ``goto +0`` / ``may_goto +0`` removed
  (unprivileged: unreached code becomes ``goto -1``); ``nospec`` barriers go around stores the
  verifier flagged (Spectre v4, unprivileged); ctx accesses are converted into loads from the
  kernel's own structures (socket filters: struct sk_buff; perf_event: bpf_perf_event_data_kern);
  register divisions and modulos get their zero/-1 guards, LD_ABS/LD_IND become helper calls,
  may_goto the timed counter on the stack, map lookups of array / per-CPU array / hash / LRU
  hash / per-CPU hash maps are inlined as the map's map_gen_lookup emits them,
  bpf_get_smp_processor_id becomes a per-CPU load (6.18 does not inline bpf_get_current_task
  yet: checked on the oracle), bpf-to-bpf calls
  carry the subprogram number in ``imm`` and the original offset in ``off``.
  Kernel struct offsets come from layout.py; helper-call immediates keep the helper id (Linux
  writes a kernel address there, which dumps hide from readers without kallsyms access); calls
  the rewrites insert carry the id of the helper they stand for (0 when there is none: the
  LD_ABS loaders, arch_bpf_timed_may_goto).
* ``env.interp_insns`` becomes ``prog.insnsi``: what the interpreter runs (the execution
  tier's image, the counterpart of Linux's JIT image; our ``insnsi`` differs from Linux's here,
  on purpose): the verified instructions with unreached ones
  trapped (``goto -1``) and map loads turned into plain 64-bit immediates. The interpreter
  implements the semantics the rewrites above encode (division guards, LD_ABS, the __sk_buff
  mirror of kernelsim/skbuff.py, helper calls), so it runs the program as loaded.

Not rewritten (each is visible in a dump, documented in docs/verifier.md): pointer-arithmetic
masking for unprivileged loaders (alu_limit), the unprivileged tail-call index mask, bpf_loop
inlining, bpf_jiffies64 and get_func_arg/ret/ip inlining (tracing), bpf_fastcall spill removal,
kfunc fixups, tstamp/hwtstamp and socket-field ctx conversions (socket filters may not read them).

Patching (``_Patcher``): each pass maps every instruction to a replacement list, as the kernel's
bpf_patch_insn_data does one at a time; jumps are then re-aimed in one go. A jump that leaves its
replacement (or a one-for-one replacement) keeps its target instruction, and lands on the first
instruction of that target's replacement; jumps inside a replacement keep their offsets.
"""

from ..isa.insn import BpfInsn
from ..uapi import BpfMapType as MT, BpfProgType as PT
from . import layout
from .btf_info import adjust_btf_func, adjust_linfo

BPF_REG_AX = 11
BPF_JA_TRAP = BpfInsn(0x05, 0, 0, -1, 0)
BPF_JA_0 = BpfInsn(0x05, 0, 0, 0, 0)
BPF_MAY_GOTO_0 = BpfInsn(0xe5, 0, 0, 0, 0)
BPF_ST_NOSPEC = BpfInsn(0xc2, 0, 0, 0, 0)
BPF_MAX_TIMED_LOOPS = 0xffff
MIN_NAPI_ID = 256 + 1             # include/net/busy_poll.h: NR_CPUS + 1 (the oracle: CONFIG_NR_CPUS=256)
PKT_TYPE_MAX = 7
SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
MAP_HELPERS = frozenset({1, 2, 3, 12, 51, 87, 88, 89, 164, 195})   # record_func_map's helpers


# -- instruction builders (include/linux/filter.h) ----------------------------------------------

def ldx(size, dst, src, off):
    return BpfInsn(0x61 & ~0x18 | SIZE_BITS[size], dst, src, off, 0)


def alu64_imm(op, dst, imm):
    return BpfInsn(0x07 | op, dst, 0, 0, imm)


def alu32_imm(op, dst, imm):
    return BpfInsn(0x04 | op, dst, 0, 0, imm)


def alu64_reg(op, dst, src):
    return BpfInsn(0x0f | op, dst, src, 0, 0)


def jmp_imm(op, dst, imm, off, cls=0x05):
    return BpfInsn(cls | op, dst, 0, off, imm)


def ja(off):
    return BpfInsn(0x05, 0, 0, off, 0)


def mov64_imm(dst, imm):
    return BpfInsn(0xb7, dst, 0, 0, imm)


def mov32_imm(dst, imm):
    return BpfInsn(0xb4, dst, 0, 0, imm)


def mov64_reg(dst, src):
    return BpfInsn(0xbf, dst, src, 0, 0)


def mov64_percpu_reg(dst, src):
    """BPF_MOV64_PERCPU_REG: dst = this CPU's address of the per-CPU pointer src (off -1)."""
    return BpfInsn(0xbf, dst, src, -1, 0)


def call_helper(func_id):
    return BpfInsn(0x85, 0, 0, 0, func_id)


ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0)
JEQ, JGT, JGE, JSET, JNE, JSGE, JLE = 0x10, 0x20, 0x30, 0x40, 0x50, 0x70, 0xb0


# -- the patcher ------------------------------------------------------------------------------


def _jump_field(insn):
    """'off' or 'imm': where the relative target of a jump-like insn is kept; None otherwise."""
    cls, op = insn.code & 7, insn.code & 0xf0
    if insn.code == 0x18 and insn.src == 4:          # ld_imm64 of a callback (BPF_PSEUDO_FUNC)
        return "imm"
    if cls not in (0x05, 0x06) or op == 0x90:         # not a jump, or exit
        return None
    if op == 0x80:
        return "imm" if insn.src == 1 else None       # only bpf-to-bpf calls are relative
    if insn.code == 0x06:                              # gotol
        return "imm"
    return "off"


class _Patcher:
    """One rewrite pass over (insns, auxs, subprog starts): ``replace(i, [(insn, aux) ...])``,
    ``remove(i)``, then ``finish()`` gives the new lists with jumps re-aimed."""

    def __init__(self, insns, auxs, starts):
        self.insns, self.auxs, self.starts = insns, auxs, starts
        self.repl = {}

    def replace(self, i, items):
        self.repl[i] = items

    def remove(self, i):
        self.repl[i] = []

    def finish(self):
        n = len(self.insns)
        first = [0] * (n + 1)         # new index of the first insn of each old insn's replacement
        pos = 0
        for i in range(n):
            first[i] = pos
            pos += len(self.repl.get(i, [None]))
        first[n] = pos
        out_insns, out_auxs = [], []
        for i in range(n):
            items = self.repl.get(i)
            if items is None:
                items = [(self.insns[i], self.auxs[i])]
            cnt = len(items)
            for k, (insn, aux) in enumerate(items):
                field = _jump_field(insn)
                if field is not None:
                    rel = getattr(insn, field)
                    p = k + 1 + rel                   # target, in the replacement's coordinates
                    if cnt > 1 and 0 <= p < cnt:
                        new_target = first[i] + p     # inside the replacement: unchanged
                    else:
                        old = i + p if p < 0 else i + 1 + (p - cnt)
                        new_target = first[min(max(old, 0), n)]
                    new_rel = new_target - (first[i] + k) - 1
                    insn = BpfInsn(insn.code, insn.dst, insn.src,
                                   new_rel if field == "off" else insn.off,
                                   new_rel if field == "imm" else insn.imm)
                out_insns.append(insn)
                out_auxs.append(aux)
        starts = [first[s] for s in self.starts]
        self.first = first
        return out_insns, out_auxs, starts


class _Prog:
    """The program being rewritten: instructions, the aux record of each (None for inserted
    ones) and the subprogram starts."""

    def __init__(self, insns, auxs, starts, linfo=()):
        self.insns, self.auxs, self.starts = list(insns), list(auxs), list(starts)
        self.linfo = [list(r) for r in linfo]      # line_info records, moved with the code

    def patcher(self):
        return _Patcher(self.insns, self.auxs, self.starts)

    def apply(self, p: _Patcher):
        if p.repl:
            n = len(self.insns)
            self.insns, self.auxs, self.starts = p.finish()
            if self.linfo:
                self.linfo = adjust_linfo(self.linfo, n, p.repl, p.first)


# -- dead code ---------------------------------------------------------------------------------


def insn_is_cond_jump(code: int) -> bool:
    cls, op = code & 7, code & 0xf0
    if cls == 0x06:
        return op != 0x00
    if cls != 0x05:
        return False
    return op not in (0x00, 0x90, 0x80)


def opt_hard_wire_dead_code_branches(prog: _Prog) -> None:
    """A conditional jump one of whose ways was never walked becomes a plain goto (or goto +0)."""
    for i, insn in enumerate(prog.insns):
        if not insn_is_cond_jump(insn.code):
            continue
        if not _seen(prog, i + 1):
            prog.insns[i] = ja(insn.off)
        elif not _seen(prog, i + 1 + insn.off):
            prog.insns[i] = BPF_JA_0


def _seen(prog, i) -> bool:
    aux = prog.auxs[i] if 0 <= i < len(prog.auxs) else None
    return aux is None or aux.seen


def opt_remove_dead_code(prog: _Prog) -> None:
    p = prog.patcher()
    for i in range(len(prog.insns)):
        if not _seen(prog, i):
            p.remove(i)
    prog.apply(p)


def opt_remove_nops(prog: _Prog) -> None:
    """``goto +0`` and ``may_goto +0`` go; removing one can make a ``may_goto +1`` before it a
    ``may_goto +0`` (the kernel steps back to catch that), so repeat until nothing changes."""
    while True:
        p = prog.patcher()
        for i, insn in enumerate(prog.insns):
            if insn == BPF_JA_0 or insn == BPF_MAY_GOTO_0:
                p.remove(i)
        if not p.repl:
            return
        prog.apply(p)


def sanitize_dead_code(prog: _Prog) -> None:
    for i in range(len(prog.insns)):
        if not _seen(prog, i):
            prog.insns[i] = BPF_JA_TRAP


# -- convert_ctx_accesses ----------------------------------------------------------------------


def _access_type(insn):
    code = insn.code
    cls, mode = code & 7, code & 0xe0
    if cls == 0x01 and mode in (0x60, 0x80):
        return 1
    if cls in (0x02, 0x03) and mode == 0x60:
        return 2
    return 0


def convert_ctx_accesses(env, prog: _Prog) -> None:
    from .reg_state import PTR_TO_CTX
    convert = CONVERT_CTX_ACCESS.get(env.prog.type)
    p = prog.patcher()
    for i, insn in enumerate(prog.insns):
        aux = prog.auxs[i]
        if aux is None:
            continue
        t = _access_type(insn)
        if not t:
            continue
        before = [(BPF_ST_NOSPEC, None)] if aux.nospec else []
        if t == 2 and aux.nospec_result:
            p.replace(i, before + [(insn, None), (BPF_ST_NOSPEC, aux)])
            continue
        if aux.ptr_type != PTR_TO_CTX or convert is None:
            if before:
                p.replace(i, before + [(insn, aux)])
            continue
        out = _convert_one(env, insn, aux, t, convert)
        p.replace(i, before + [(x, None) for x in out[:-1]] + [(out[-1], aux)])
    prog.apply(p)


def _convert_one(env, insn, aux, t, convert):
    size = {0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8}[insn.code & 0x18]
    ctx_field_size = aux.ctx_field_size
    narrower = size < ctx_field_size
    size_default = ctx_field_size
    off = insn.off
    si = insn
    if narrower:
        si = BpfInsn(0x61 & ~0x18 | SIZE_BITS[ctx_field_size], insn.dst, insn.src,
                     off & ~(size_default - 1), 0)
    out, target_size = convert(env, t, si)
    if narrower and size < target_size:
        shift = (off & (size_default - 1)) * 8         # little-endian
        if shift:
            out.append((alu32_imm if ctx_field_size <= 4 else alu64_imm)(RSH, insn.dst, shift))
        out.append(alu32_imm(AND, insn.dst, (1 << size * 8) - 1))
    if insn.code & 0xe0 == 0x80:                       # BPF_MEMSX: sign-extend the result
        out.append(BpfInsn(0xbf, insn.dst, insn.dst, size * 8, 0))
    return out


def _emit_store(si, size, off):
    """BPF_EMIT_STORE: the same store (ST or STX), resized, at a new offset."""
    return BpfInsn((si.code & 7) | SIZE_BITS[size] | 0x60, si.dst, si.src, off, si.imm)


def bpf_convert_ctx_access(env, t, si):
    """net/core/filter.c bpf_convert_ctx_access, for the __sk_buff fields a socket filter may
    touch: (insns, target_size)."""
    from ..skbuff import off as skb
    k = env.prog.kernel
    sk = lambda m: layout.offsetof(k, "sk_buff", m)
    d, s = si.dst, si.src
    o = si.off
    if o == skb("len"):
        return [ldx(4, d, s, sk("len"))], 4
    if o == skb("protocol"):
        return [ldx(2, d, s, sk("protocol"))], 2
    if o == skb("vlan_proto"):
        return [ldx(2, d, s, sk("vlan_proto"))], 2
    if o == skb("priority"):
        return [_emit_store(si, 4, sk("priority")) if t == 2 else ldx(4, d, s, sk("priority"))], 4
    if o == skb("ingress_ifindex"):
        return [ldx(4, d, s, sk("skb_iif"))], 4
    if o == skb("ifindex"):
        return [ldx(8, d, s, sk("dev")), jmp_imm(JEQ, d, 0, 1),
                ldx(4, d, d, layout.offsetof(k, "net_device", "ifindex"))], 4
    if o == skb("hash"):
        return [ldx(4, d, s, sk("hash"))], 4
    if o == skb("mark"):
        return [_emit_store(si, 4, sk("mark")) if t == 2 else ldx(4, d, s, sk("mark"))], 4
    if o == skb("pkt_type"):
        return [ldx(1, d, s, sk("__pkt_type_offset")), alu32_imm(AND, d, PKT_TYPE_MAX)], 1
    if o == skb("queue_mapping"):
        return [ldx(2, d, s, sk("queue_mapping"))], 2
    if o == skb("vlan_present"):
        return [ldx(4, d, s, sk("vlan_all")), jmp_imm(JEQ, d, 0, 1), mov32_imm(d, 1)], 4
    if o == skb("vlan_tci"):
        return [ldx(2, d, s, sk("vlan_tci"))], 2
    if skb("cb") <= o < skb("cb") + 20:
        off = o - skb("cb") + sk("cb") + layout.offsetof(k, "qdisc_skb_cb", "data")
        size = {0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8}[si.code & 0x18]
        return [_emit_store(si, size, off) if t == 2 else ldx(size, d, s, off)], 0
    if o == skb("tc_index"):
        return [_emit_store(si, 2, sk("tc_index")) if t == 2 else ldx(2, d, s, sk("tc_index"))], 2
    if o == skb("napi_id"):
        return [ldx(4, d, s, sk("napi_id")), jmp_imm(JGE, d, MIN_NAPI_ID, 1), mov64_imm(d, 0)], 4
    if o in (skb("gso_segs"), skb("gso_size")):
        member = "gso_segs" if o == skb("gso_segs") else "gso_size"
        return [ldx(4, BPF_REG_AX, s, sk("end")), ldx(8, d, s, sk("head")),
                alu64_reg(ADD, d, BPF_REG_AX),
                ldx(2, d, d, layout.offsetof(k, "skb_shared_info", member))], 2
    if o == skb("sk"):
        return [ldx(8, d, s, sk("sk"))], 0
    return [si], 0                                       # not reachable for socket filters


def pe_prog_convert_ctx_access(env, t, si):
    """kernel/trace/bpf_trace.c pe_prog_convert_ctx_access: the sample fields through
    bpf_perf_event_data_kern->data, the registers through ->regs (always a long-sized load)."""
    from ..ctx_access import USER_PT_REGS_SIZE
    k = env.prog.kernel
    regs = USER_PT_REGS_SIZE[k.arch]
    kern = lambda m: layout.offsetof(k, "bpf_perf_event_data_kern", m)
    d, s = si.dst, si.src
    if si.off in (regs, regs + 8):
        member = "period" if si.off == regs else "addr"
        return [ldx(8, d, s, kern("data")),
                ldx(8, d, d, layout.offsetof(k, "perf_sample_data", member))], 8
    return [ldx(8, d, s, kern("regs")), ldx(8, d, d, si.off)], 0


CONVERT_CTX_ACCESS = {
    PT.BPF_PROG_TYPE_SOCKET_FILTER: bpf_convert_ctx_access,
    PT.BPF_PROG_TYPE_PERF_EVENT: pe_prog_convert_ctx_access,
}


# -- do_misc_fixups ----------------------------------------------------------------------------


def _div_guard(insn):
    """The zero (and -1) guards around a register division or modulo."""
    is64 = insn.code & 7 == 0x07
    jcls = 0x05 if is64 else 0x06
    alu_k = lambda op, dst, imm: BpfInsn((0x07 if is64 else 0x04) | op, dst, 0, 0, imm)
    isdiv = insn.code & 0xf0 == DIV
    signed = insn.off == 1
    d, s = insn.dst, insn.src
    if isdiv and signed:
        return [mov64_reg(BPF_REG_AX, s), alu_k(ADD, BPF_REG_AX, 1),
                jmp_imm(JGT, BPF_REG_AX, 1, 4, jcls), jmp_imm(JEQ, BPF_REG_AX, 0, 1, jcls),
                alu_k(MOV, d, 0), alu_k(NEG, d, 0), ja(1), insn]
    if signed:
        out = [mov64_reg(BPF_REG_AX, s), alu_k(ADD, BPF_REG_AX, 1),
               jmp_imm(JGT, BPF_REG_AX, 1, 3, jcls), jmp_imm(JEQ, BPF_REG_AX, 1, 3 + (0 if is64 else 1), jcls),
               mov32_imm(d, 0), ja(1), insn]
        if not is64:
            out += [ja(1), BpfInsn(0xbc, d, d, 0, 0)]
        return out
    if isdiv:
        return [jmp_imm(JNE, s, 0, 2, jcls), BpfInsn(0xac, d, d, 0, 0), ja(1), insn]
    out = [jmp_imm(JEQ, s, 0, 1 + (0 if is64 else 1), jcls), insn]
    if not is64:
        out += [ja(1), BpfInsn(0xbc, d, d, 0, 0)]
    return out


def bpf_gen_ld_abs(insn):
    """net/core/filter.c bpf_gen_ld_abs: a call to bpf_skb_load_helper_{8,16,32}_no_cache
    (named here by the helper-call immediate 0: the kernel writes their address), returning 0
    from the program when the load fails."""
    out = []
    if insn.code & 0xe0 == 0x20:                         # BPF_ABS
        out.append(mov64_imm(2, insn.imm))
    else:
        out.append(mov64_reg(2, insn.src))
        if insn.imm:
            out.append(alu64_imm(ADD, 2, insn.imm))
    out += [mov64_reg(1, 6), call_helper(0), jmp_imm(JSGE, 0, 0, 2), BpfInsn(0xac, 0, 0, 0, 0),
            BpfInsn(0x95, 0, 0, 0, 0)]
    return out


def _is_power_of_2(n):
    return n > 0 and n & (n - 1) == 0


def map_gen_lookup(env, m):
    """ops->map_gen_lookup of the map types that have one (arraymap.c, hashtab.c), or None."""
    k = env.prog.kernel
    t = m.map_type
    inner = bool(m.map_flags & (1 << 12))                 # BPF_F_INNER_MAP
    bypass = getattr(m, "bypass_spec_v1", True)
    index_mask = (1 << max(m.max_entries - 1, 0).bit_length()) - 1
    if t == MT.BPF_MAP_TYPE_ARRAY and not inner:
        elem = (m.value_size + 7) & ~7
        out = [alu64_imm(ADD, 1, layout.offsetof(k, "bpf_array", "value")), ldx(4, 0, 2, 0)]
        if not bypass:
            out += [jmp_imm(JGE, 0, m.max_entries, 4), alu32_imm(AND, 0, index_mask)]
        else:
            out.append(jmp_imm(JGE, 0, m.max_entries, 3))
        out.append(alu64_imm(LSH, 0, elem.bit_length() - 1) if _is_power_of_2(elem)
                   else alu64_imm(MUL, 0, elem))
        return out + [alu64_reg(ADD, 0, 1), ja(1), mov64_imm(0, 0)]
    if t == MT.BPF_MAP_TYPE_PERCPU_ARRAY and not inner:
        out = [alu64_imm(ADD, 1, layout.offsetof(k, "bpf_array", "pptrs")), ldx(4, 0, 2, 0)]
        if not bypass:
            out += [jmp_imm(JGE, 0, m.max_entries, 6), alu32_imm(AND, 0, index_mask)]
        else:
            out.append(jmp_imm(JGE, 0, m.max_entries, 5))
        return out + [alu64_imm(LSH, 0, 3), alu64_reg(ADD, 0, 1), ldx(8, 0, 0, 0),
                      mov64_percpu_reg(0, 0), ja(1), mov64_imm(0, 0)]
    key_off = layout.offsetof(k, "htab_elem", "key") + ((m.key_size + 7) & ~7)
    # the hash maps call __htab_map_lookup_elem (the element, not the value): shown here as the
    # lookup helper's id, where Linux writes that function's address
    lookup = call_helper(1)
    if t == MT.BPF_MAP_TYPE_HASH:
        return [lookup, jmp_imm(JEQ, 0, 0, 1), alu64_imm(ADD, 0, key_off)]
    if t == MT.BPF_MAP_TYPE_LRU_HASH:
        ref = layout.offsetof(k, "htab_elem", "lru_node") + layout.offsetof(k, "bpf_lru_node", "ref")
        return [lookup, jmp_imm(JEQ, 0, 0, 4), ldx(1, 1, 0, ref), jmp_imm(JNE, 1, 0, 1),
                BpfInsn(0x72, 0, 0, ref, 1), alu64_imm(ADD, 0, key_off)]
    if t == MT.BPF_MAP_TYPE_PERCPU_HASH:
        return [lookup, jmp_imm(JEQ, 0, 0, 3), alu64_imm(ADD, 0, key_off),
                ldx(8, 0, 0, 0), mov64_percpu_reg(0, 0)]
    return None


def do_misc_fixups(env, prog: _Prog) -> None:
    p = prog.patcher()
    sub = 0
    starts = prog.starts
    may_goto_subprogs = set()
    for i, insn in enumerate(prog.insns):
        while sub + 1 < len(starts) and i >= starts[sub + 1]:
            sub += 1
        aux = prog.auxs[i]
        code = insn.code
        if code in (0x97, 0x37, 0x94, 0x34) and insn.off == 1 and insn.imm == -1:
            is64 = code & 7 == 0x07
            new = BpfInsn((0x07 if is64 else 0x04) | NEG, insn.dst, 0, 0, 0) if code & 0xf0 == DIV \
                else mov32_imm(insn.dst, 0)
            p.replace(i, [(new, aux)])
        elif code in (0x9f, 0x3f, 0x9c, 0x3c):
            out = _div_guard(insn)
            p.replace(i, [(x, None) for x in out[:-1]] + [(out[-1], aux)])
        elif code & 7 == 0 and code & 0xe0 in (0x20, 0x40):
            out = bpf_gen_ld_abs(insn)
            p.replace(i, [(x, None) for x in out[:-1]] + [(out[-1], aux)])
        elif code == 0xe5:                                   # may_goto, the timed counter
            depth = env.subprogs[sub].stack_depth if sub < len(env.subprogs) else 0
            cnt_off = -depth - 16
            jeq = insn.off + 5 if insn.off >= 0 else insn.off - 1
            out = [ldx(8, BPF_REG_AX, 10, cnt_off), jmp_imm(JEQ, BPF_REG_AX, 0, jeq),
                   alu64_imm(SUB, BPF_REG_AX, 1), jmp_imm(JNE, BPF_REG_AX, 0, 2),
                   mov64_imm(BPF_REG_AX, cnt_off), call_helper(0),
                   BpfInsn(0x7b, 10, BPF_REG_AX, cnt_off, 0)]
            p.replace(i, [(x, None) for x in out[:-1]] + [(out[-1], aux)])
            may_goto_subprogs.add(sub)
        elif code == 0x85 and insn.src == 0 and aux is not None:
            out = _fixup_helper_call(env, insn, aux)
            if out is not None:
                p.replace(i, [(x, None) for x in out[:-1]] + [(out[-1], aux)])
    prog.apply(p)
    if may_goto_subprogs:
        p = prog.patcher()
        for sub in sorted(may_goto_subprogs):
            depth = env.subprogs[sub].stack_depth
            start = prog.starts[sub]
            first = prog.insns[start]
            # the prologue goes in front of the subprogram's first insn; a jump to that insn
            # still lands on the prologue's start
            p.replace(start, [(BpfInsn(0x7a, 10, 0, -depth - 16, BPF_MAX_TIMED_LOOPS), None),
                              (BpfInsn(0x7a, 10, 0, -depth - 8, 0), None),
                              (first, prog.auxs[start])])
        prog.apply(p)


def _fixup_helper_call(env, insn, aux):
    func = insn.imm
    if func == 1 and aux.call_map is not None and not aux.call_map_poisoned:
        return map_gen_lookup(env, aux.call_map)
    if func == 8:                                         # bpf_get_smp_processor_id
        return [mov64_imm(0, 0), mov64_percpu_reg(0, 0), ldx(4, 0, 0, 0)]
    return None


# -- jit_subprogs' last pass and convert_pseudo_ld_imm64 -----------------------------------------


def jit_subprogs_dump_form(prog: _Prog) -> None:
    """With more than one function, the JIT leaves bpf-to-bpf calls as ``off`` = the original
    relative target and ``imm`` = the callee's subprogram number (callbacks: imm = the offset,
    the next imm = the subprogram number)."""
    if len(prog.starts) <= 1:
        return
    for i, insn in enumerate(prog.insns):
        if insn.code == 0x85 and insn.src == 1:
            target = i + 1 + insn.imm
            prog.insns[i] = BpfInsn(insn.code, insn.dst, insn.src, insn.imm, _subprog_at(prog, target))
        elif insn.code == 0x18 and insn.src == 4 and i + 1 < len(prog.insns):
            target = i + 1 + insn.imm
            nxt = prog.insns[i + 1]
            prog.insns[i + 1] = BpfInsn(nxt.code, nxt.dst, nxt.src, nxt.off, _subprog_at(prog, target))


def _subprog_at(prog, target):
    return prog.starts.index(target) if target in prog.starts else -1


def convert_pseudo_ld_imm64(insns: list[BpfInsn]) -> list[BpfInsn]:
    """verifier.c convert_pseudo_ld_imm64: map (and ksym) loads become plain 64-bit immediates
    holding the resolved address; BPF_PSEUDO_FUNC stays (the interpreter resolves callbacks)."""
    out = list(insns)
    for i, insn in enumerate(out):
        if insn.code == 0x18 and insn.src not in (0, 4):
            out[i] = BpfInsn(insn.code, insn.dst, 0, insn.off, insn.imm)
    return out


def run_fixups(env) -> None:
    """Called by bpf_check after check_max_stack_depth; sets env.xlated (Linux's view) and
    env.interp_insns (what the interpreter runs)."""
    starts = [s.start for s in env.subprogs] or [0]
    run = _Prog(env.insns, env.insn_aux, starts)
    sanitize_dead_code(run)
    env.interp_insns = convert_pseudo_ld_imm64(run.insns)
    x = _Prog(env.insns, env.insn_aux, starts, env.linfo)
    if env.bpf_capable:
        opt_hard_wire_dead_code_branches(x)
        opt_remove_dead_code(x)
        opt_remove_nops(x)
    else:
        sanitize_dead_code(x)
    convert_ctx_accesses(env, x)
    do_misc_fixups(env, x)
    jit_subprogs_dump_form(x)
    env.xlated = convert_pseudo_ld_imm64(x.insns)
    adjust_btf_func(env, x.starts)
    env.linfo = x.linfo
