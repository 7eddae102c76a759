"""A faster execution tier: basic blocks compiled to Python source (ours; in the kernel the
counterpart is the JIT, arch/x86/net/bpf_jit_comp.c).

Same programs, same API, same results as the interpreter (interp.py): a decoded program gets a
second handler list in which the first instruction of every basic block is one generated function
that runs the whole block on local variables (registers loaded once, stored back at the end) and
returns the next pc. The dispatch loop, frames, calls, exits, tail calls, helpers and run-time
errors are the interpreter's own: instructions that are not plain ALU, jump, load, store or
LD_IMM64 (calls, exit, atomics, packet loads, invalid ones) keep their interpreter handler.
A block whose jump goes back to its own first instruction (a tight loop) runs as a ``while``
loop inside its function, registers kept in locals across iterations; it counts and checks the
budget exactly as if the dispatch loop called it once per iteration.

Select it with ``bpf_prog_decode(insns, bpf_func=bpf_fast_run)``; ``bpf_prog_run`` and the kernel
core's ``prog.bpf_func`` then use it. ``tests/kernelsim/isa/test_isa_fast.py`` runs random programs
through both tiers and compares R0, memory, instruction counts and errors.

One difference: the interpreter stops after exactly ``run.budget`` instructions; this tier
checks the budget at the end of a block that jumps backwards and at every non-compiled
instruction, so a run can go up to one basic block past it. Instruction counts
(``run.insn_cnt``) are exact, also when a fault stops a block half-way.

Example of a generated block (``r0 += r1; r1 += -1; if r1 != 0 goto -3``)::

    def b2(r):
        st = r[12]
        st.cnt += 3
        r0 = r[0]; r1 = r[1]
        r0 = (r0 + r1) & 0xffffffffffffffff
        r1 = (r1 + 18446744073709551615) & 0xffffffffffffffff
        r[0] = r0; r[1] = r1
        t = 2 if r1 != 0 else 5
        if st.cnt >= st.budget:
            _budget(st, t)
        return t
"""

from ..errors import BpfRuntimeError
from ..memory import MemoryFault
from ..uapi import BPF_PSEUDO_CALL, BpfPseudo
from . import interp as _interp
from .disasm import check_insn, ld_imm64_second_slots
from .insn import (BPF_ADD, BPF_AND, BPF_ARSH, BPF_CLASS, BPF_DIV, BPF_LSH, BPF_MOD, BPF_MOV,
                   BPF_MUL, BPF_OP, BPF_OR, BPF_RSH, BPF_SIZE, BPF_SRC, BPF_SUB, BPF_TO_BE,
                   BPF_X, BPF_XOR, SIZE_BYTES)
from .opcodes import OPCODES

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
_FUSED = {"alu", "alu64", "neg", "end", "bswap", "ldx", "ldxsx", "st", "stx", "ld_imm64", "jcond",
          "ja", "gotol", "jmp", "jmp32"}
_TERMINATORS = {"ja", "gotol", "jmp", "jmp32"}
_ALU_FN_NAMES = {  # (class, op, off) -> name of the interpreter's semantic function
    (7, BPF_DIV, 1): "_sdiv64", (7, BPF_MOD, 1): "_smod64", (7, BPF_ARSH, 0): "_arsh64",
    (4, BPF_DIV, 0): "_div32", (4, BPF_MOD, 0): "_mod32", (4, BPF_DIV, 1): "_sdiv32",
    (4, BPF_MOD, 1): "_smod32", (4, BPF_ARSH, 0): "_arsh32",
}
_JMP_PY = {0x10: "==", 0x50: "!=", 0x20: ">", 0x30: ">=", 0xA0: "<", 0xB0: "<=", 0x40: "&",
           0x60: ">", 0x70: ">=", 0xC0: "<", 0xD0: "<="}
_SIGNED = {0x60, 0x70, 0xC0, 0xD0}


def _budget(st, pc):
    raise BpfRuntimeError(f"instruction budget of {st.budget} exhausted at insn {pc}", pc)


def _counted(h, pc):
    """An interpreter handler that counts itself and checks the budget."""
    def w(r):
        st = r[12]
        if st.cnt >= st.budget:
            _budget(st, pc)
        st.cnt += 1
        return h(r)
    return w


# ---- code generation ---------------------------------------------------------------------------

def _alu(insn, reads, writes) -> str:
    cls, op, d, s, off = BPF_CLASS(insn.code), BPF_OP(insn.code), insn.dst, insn.src, insn.off
    x = BPF_SRC(insn.code) == BPF_X
    wide = cls == 7
    mask = M64 if wide else M32
    reads.add(d)
    writes.add(d)
    if x:
        reads.add(s)
    b = f"r{s}" if x else str(insn.imm & mask)
    D = f"r{d}"
    name = _ALU_FN_NAMES.get((cls, op, off))
    if name:
        return f"{D} = {name}({D}, {b})"
    if op == BPF_MOV:
        if x and off:
            sign, m = 1 << (off - 1), (1 << off) - 1
            return f"{D} = ((({b} & {m}) ^ {sign}) - {sign}) & {mask}"
        return f"{D} = {b} & {mask}" if (x and not wide) else f"{D} = {b}"
    if op == BPF_ADD:
        return f"{D} = ({D} + {b}) & {mask}"
    if op == BPF_SUB:
        return f"{D} = ({D} - {b}) & {mask}"
    if op == BPF_MUL:
        return f"{D} = ({D} * {b}) & {mask}"
    if op == BPF_OR:
        return f"{D} = ({D} | {b}) & {mask}" if not wide else f"{D} |= {b}"
    if op == BPF_AND:
        return f"{D} = {D} & {b} & {mask}" if not wide else f"{D} &= {b}"
    if op == BPF_XOR:
        return f"{D} = ({D} ^ {b}) & {mask}" if not wide else f"{D} ^= {b}"
    sh = 63 if wide else 31
    if op == BPF_LSH:
        return f"{D} = ({D} << ({b} & {sh})) & {mask}"
    if op == BPF_RSH:
        return f"{D} = ({D} & {mask}) >> ({b} & {sh})"
    if op == BPF_DIV:   # unsigned, 64-bit here (32-bit goes through _div32): x / 0 = 0
        return f"{D} = {D} // {b} if {b} else 0"
    if op == BPF_MOD:   # x % 0 = x
        return f"{D} = {D} % {b} if {b} else {D}"
    raise AssertionError(hex(insn.code))   # pragma: no cover


def _cond(insn, reads) -> str:
    op, d, s = BPF_OP(insn.code), insn.dst, insn.src
    wide = BPF_CLASS(insn.code) != 6
    mask = M64 if wide else M32
    flip = ((1 << 63) if wide else (1 << 31)) if op in _SIGNED else 0
    x = BPF_SRC(insn.code) == BPF_X
    reads.add(d)
    if x:
        reads.add(s)
    py = _JMP_PY[op]
    if py == "&":
        return f"r{d} & r{s} & {mask}" if x else f"r{d} & {insn.imm & mask}"
    a = f"r{d}" if wide else f"(r{d} & {mask})"
    b = (f"r{s}" if wide else f"(r{s} & {mask})") if x else str((insn.imm & mask) ^ flip)
    if flip:
        a = f"{a} ^ {flip}"
        if x:
            b = f"{b} ^ {flip}"
    return f"{a} {py} {b}"


def _block(prog, start: int, end: int) -> tuple[str, str]:
    """Source of the function for slots start..end-1 (a basic block). Returns (name, source)."""
    insns = prog.insns
    body, reads, writes, mem_ops = [], set(), set(), {}
    pcs = []
    pc = start
    term = None
    while pc < end:
        insn = insns[pc]
        kind = OPCODES[insn.code].kind
        pcs.append(pc)
        if kind in ("alu", "alu64"):
            body.append(_alu(insn, reads, writes))
        elif kind == "neg":
            mask = M32 if BPF_CLASS(insn.code) == 4 else M64
            reads.add(insn.dst)
            writes.add(insn.dst)
            body.append(f"r{insn.dst} = -r{insn.dst} & {mask}")
        elif kind in ("end", "bswap"):
            d, width = insn.dst, insn.imm
            reads.add(d)
            writes.add(d)
            m = (1 << width) - 1
            if kind == "bswap" or BPF_SRC(insn.code) == BPF_TO_BE:
                body.append(f"r{d} = int.from_bytes((r{d} & {m}).to_bytes({width // 8}, "
                            f"'little'), 'big')")
            else:
                body.append(f"r{d} &= {m}")
        elif kind in ("ldx", "ldxsx"):
            d, s, size = insn.dst, insn.src, SIZE_BYTES[BPF_SIZE(insn.code)]
            reads.add(s)
            writes.add(d)
            mem_ops[pc] = len(pcs) - 1
            load = f"ld((r{s} + {insn.off}) & {M64}, {size})"
            if pc in prog.probe_mem:
                body += [f"p = {pc}", "try:", f"    v = {load}", "except MemoryFault:", "    v = 0"]
            else:
                body += [f"p = {pc}", f"v = {load}"]
            if kind == "ldxsx":
                sign = 1 << (8 * size - 1)
                body.append(f"r{d} = ((v ^ {sign}) - {sign}) & {M64}")
            else:
                body.append(f"r{d} = v")
        elif kind in ("st", "stx"):
            d, size = insn.dst, SIZE_BYTES[BPF_SIZE(insn.code)]
            reads.add(d)
            value = str(insn.imm & M64)
            if kind == "stx":
                reads.add(insn.src)
                value = f"r{insn.src}"
            mem_ops[pc] = len(pcs) - 1
            body += [f"p = {pc}", f"sto((r{d} + {insn.off}) & {M64}, {size}, {value})"]
        elif kind == "ld_imm64":
            writes.add(insn.dst)
            if insn.src == BpfPseudo.BPF_PSEUDO_FUNC:
                value = pc + 1 + insn.imm
            else:
                value = ((insns[pc + 1].imm & M32) << 32) | (insn.imm & M32)
            body.append(f"r{insn.dst} = {value}")
            pc += 2
            continue
        elif kind == "jcond":
            pass                                    # may_goto: not taken
        elif kind in _TERMINATORS:
            cond = _cond(insn, reads) if kind in ("jmp", "jmp32") else None
            term = (pc, insn, kind, cond)
            pc += 1
            break
        pc += 1
    nxt = pc
    count = len(pcs)
    target = back = dest = None
    if term is not None:
        tpc, tinsn, tkind, cond = term
        if tkind == "ja":
            dest = tpc + 1 + tinsn.off
            target = f"{dest}"
        elif tkind == "gotol":
            dest = tpc + 1 + tinsn.imm
            target = f"{dest}"
        else:
            dest = tpc + 1 + tinsn.off
            target = f"{dest} if {cond} else {tpc + 1}"
        back = dest <= start
    # A block that jumps back to its own start runs as a Python loop on its local registers:
    # the same steps as calling it again from the dispatch loop, without the call and the
    # register reload (the budget is checked at the same points).
    loop = dest == start
    ind = "        " if loop else "    "
    lines = [f"def b{start}(r):", "    st = r[12]"]
    regs = sorted(reads | writes)
    if regs:
        lines.append("    " + "; ".join(f"r{i} = r[{i}]" for i in regs))
    if mem_ops:
        lines.append("    ld = r[13]; sto = r[14]")
    if loop:
        lines.append("    while True:")
    lines.append(f"{ind}st.cnt += {count}")
    if mem_ops:
        lines.append(f"{ind}try:")
        lines += [f"{ind}    " + ln for ln in body or ["pass"]]
        remaining = {p: count - 1 - i for p, i in mem_ops.items()}
        lines += [f"{ind}except MemoryFault as e:", f"{ind}    e.bpf_pc = p",
                  f"{ind}    st.cnt -= {remaining}[p]", f"{ind}    raise"]
    else:
        lines += [f"{ind}" + ln for ln in body]
    if loop:
        lines += [f"        t = {target}",
                  f"        if t != {start} or st.cnt >= st.budget:", "            break"]
    if writes:
        lines.append("    " + "; ".join(f"r[{i}] = r{i}" for i in sorted(writes)))
    if term is None:
        lines.append(f"    return {nxt}")
    else:
        if not loop:
            lines.append(f"    t = {target}")
        if back:
            lines += ["    if st.cnt >= st.budget:", "        _budget(st, t)"]
        lines.append("    return t")
    return f"b{start}", "\n".join(lines)


def _leaders(prog) -> tuple[set[int], set[int]]:
    insns = prog.insns
    n = len(insns)
    second = ld_imm64_second_slots(list(insns))
    leaders, fusable = {0}, set()
    for pc, insn in enumerate(insns):
        if pc in second:
            continue
        info = OPCODES.get(insn.code)
        ok = info is not None and info.kind in _FUSED and check_insn(
            list(insns), pc, second, max_reg=11) is None
        size = 2 if insn.is_ld_imm64() else 1
        if ok:
            fusable.add(pc)
        else:
            leaders.update((pc, pc + size))
        kind = info.kind if info else None
        if kind in _TERMINATORS or kind == "jcond":
            leaders.add(pc + 1)
            leaders.add(pc + 1 + (insn.imm if kind == "gotol" else insn.off))
        if (kind == "call" and insn.src == BPF_PSEUDO_CALL) or (
                kind == "ld_imm64" and insn.src == BpfPseudo.BPF_PSEUDO_FUNC):
            leaders.add(pc + 1 + insn.imm)
    return {p for p in leaders if 0 <= p <= n}, fusable


def fast_ops(prog) -> list:
    """The fast tier's handler list of ``prog``, generated on first use and kept in
    ``prog.tiers``. Called by ``bpf_fast_run`` (and on a tail call into ``prog``)."""
    ops = prog.tiers.get("fast")
    if ops is not None:
        return ops
    leaders, fusable = _leaders(prog)
    ops = [_counted(h, pc) for pc, h in enumerate(prog.ops)]
    sources, names = [], []
    ordered = sorted(leaders)
    for i, start in enumerate(ordered):
        if start not in fusable:
            continue
        end = ordered[i + 1] if i + 1 < len(ordered) else len(prog.insns)
        stop = start
        while stop < end and stop in fusable:
            info = OPCODES[prog.insns[stop].code]
            stop += 2 if info.kind == "ld_imm64" else 1
            if info.kind in _TERMINATORS:
                break
        name, src = _block(prog, start, stop)
        sources.append(src)
        names.append((start, name))
    namespace = {"MemoryFault": MemoryFault, "_budget": _budget,
                 **{n: getattr(_interp, n) for n in set(_ALU_FN_NAMES.values())}}
    if sources:
        exec(compile("\n\n".join(sources), f"<bpf fast tier {id(prog):#x}>", "exec"), namespace)
    for start, name in names:
        ops[start] = namespace[name]
    prog.tiers["fast"] = ops
    return ops


def bpf_fast_run(prog, run, ctx: int = 0, *args: int) -> int:
    """``bpf_func`` of the fast tier: as ``interp.bpf_interp_run``, full 64-bit R0."""
    return _interp.bpf_interp_run(prog, run, ctx, *args, tier=fast_ops)
