"""i386 trampolines. Linux has NO x86-32 BPF trampoline (arch/x86/net/bpf_jit_comp32.c has no
arch_prepare_bpf_trampoline; ftrace direct calls are x86-64 only). This is a plausible one, built
in the style of the x86-64 generator, with real IA-32 machine code (capstone CS_MODE_32 decodes
it) for the listing and the size:

* entry like x86-64: the patched ``call <trampoline>`` at func+0 (5 bytes), so [ebp+4] returns
  into the function, [ebp+8] into its caller, stack arguments from [ebp+12];
* the kernel's -mregparm=3 convention (callconv: eax, edx, ecx; 64-bit values in a register pair,
  low word first; no back-filling after an argument went to the stack);
* the BPF ctx is still u64 slots (the BPF ISA is 64-bit even on 32-bit arches, as the seed commit
  says): a 32-bit argument fills the low half of its slot and the high half is zeroed, a 64-bit
  pair fills both halves, a struct is copied word by word;
* helpers are called with regparm too: enter(prog=eax, &run_ctx=edx) returns the u64 start time in
  edx:eax; exit(prog=eax, start=edx:ecx, &run_ctx pushed); programs get ctx in eax and return r0 in
  edx:eax.

Frame (below EBP): return value (8), ctx slots, ctx[-1], ctx[-2] (IP_ARG), saved ebx, start time
(8), run ctx (16). Limits as x86-64: at most 12 slots, no struct on the stack (ENOTSUPP).
"""

from btf.func_model import MAX_BPF_FUNC_ARGS

from .asm import Asm, hexs
from .callconv import place_args
from .defs import BPF_MAX_TRAMP_LINKS, ENOTSUPP, X86_PATCH_SIZE, TrampolineError
from .records import ArchBuild, ArchTrampOps, ExecPlan, FrameSlot, TrampRequest
from .x86_64 import NOP_TEXT, X86_NOPS

EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI = range(8)
R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
ARG_REGS = (EAX, EDX, ECX)
RUN_CTX_SIZE = 16


def _d(off: int) -> str:
    return f"[ebp - {hexs(-off)}]" if off < 0 else f"[ebp + {hexs(off)}]"


def _modrm(reg: int, off: int) -> bytes:
    if -128 <= off <= 127:
        return bytes([0x40 | reg << 3 | EBP, off & 0xFF])
    return bytes([0x80 | reg << 3 | EBP]) + (off & 0xFFFFFFFF).to_bytes(4, "little")


class I386(Asm):
    def raw(self, data: bytes, text: str, comment: str = "") -> int:
        return self.emit(text, len(data), comment, data)

    def st(self, reg: int, off: int, comment: str = "") -> int:
        return self.raw(b"\x89" + _modrm(reg, off), f"mov dword ptr {_d(off)}, {R32[reg]}", comment)

    def ld(self, reg: int, off: int, comment: str = "") -> int:
        return self.raw(b"\x8b" + _modrm(reg, off), f"mov {R32[reg]}, dword ptr {_d(off)}", comment)

    def st_imm(self, off: int, imm: int, comment: str = "") -> int:
        imm &= 0xFFFFFFFF
        return self.raw(b"\xc7" + _modrm(0, off) + imm.to_bytes(4, "little"),
                        f"mov dword ptr {_d(off)}, {hexs(imm)}", comment)

    def mov_imm(self, reg: int, imm: int, comment: str = "") -> int:
        imm &= 0xFFFFFFFF
        if imm == 0:
            return self.raw(bytes([0x31, 0xC0 | reg << 3 | reg]), f"xor {R32[reg]}, {R32[reg]}", comment)
        return self.raw(bytes([0xB8 + reg]) + imm.to_bytes(4, "little"), f"mov {R32[reg]}, {hexs(imm)}",
                        comment)

    def lea(self, reg: int, off: int, comment: str = "") -> int:
        return self.raw(b"\x8d" + _modrm(reg, off), f"lea {R32[reg]}, {_d(off)}", comment)

    def call(self, target: int, comment: str = "") -> int:
        target &= 0xFFFFFFFF
        rel = (target - (self.ip + 5)) & 0xFFFFFFFF
        return self.raw(b"\xe8" + rel.to_bytes(4, "little"), f"call {hexs(target)}", comment)

    def nops(self, n: int, comment: str = "") -> list[int]:
        out = []
        while n > 0:
            k = min(n, 8)
            out.append(self.raw(X86_NOPS[k], NOP_TEXT[k].replace("rax", "eax"), comment))
            n -= k
        return out


def _invoke(a: I386, req, i, link, regs_off, run_ctx_off, start_off, ret_off, save_ret, kind):
    label = req.link_label(i, link)
    prog = req.prog_addr(i, link) & 0xFFFFFFFF
    a.note(f"{kind} {label}: cookie {link.cookie:#x}")
    a.st_imm(-run_ctx_off, link.cookie, "run_ctx.bpf_cookie (low)")
    a.st_imm(-run_ctx_off + 4, link.cookie >> 32, "(high)")
    a.mov_imm(EAX, prog, f"arg1: struct bpf_prog *{label}")
    a.lea(EDX, -run_ctx_off, "arg2: &run_ctx")
    a.call(req.hooks.enter_addr, req.hooks.enter_name)
    a.st(EAX, -start_off, "start (low)")
    a.st(EDX, -start_off + 4, "start (high)")
    a.raw(b"\x09\xd0", "or eax, edx", "0: recursion, skip the program")
    je = a.nops(2)[0]
    a.lea(EAX, -regs_off, "R1 = ctx")
    if link.insnsi is not None:
        a.mov_imm(EDX, link.insnsi, "arg2: insnsi (interpreter)")
    a.call(req.bpf_func_addr(i, link), f"{label}->bpf_func(ctx)")
    if save_ret:
        a.st(EAX, -ret_off, "return slot = r0 (low)")
        a.st(EDX, -ret_off + 4, "(high)")
    rel = a.off - (a.insns[je].off + 2)
    a.patch(je, f"je {hexs((a.base + a.off) & 0xFFFFFFFF)}", bytes([0x74, rel]), "skip the program")
    a.mov_imm(EAX, prog, "arg1: prog")
    a.ld(EDX, -start_off, "arg2: start (edx:ecx)")
    a.ld(ECX, -start_off + 4)
    a.lea(EBX, -run_ctx_off)
    a.raw(b"\x53", "push ebx", "arg3: &run_ctx")
    a.call(req.hooks.exit_addr, req.hooks.exit_name)
    a.raw(b"\x83\xc4\x04", "add esp, 4")


def build(req: TrampRequest) -> ArchBuild:
    """The i386 generator (called by core.arch_prepare_bpf_trampoline)."""
    m = req.model
    pl = place_args(m, "i386")
    nr_slots = sum((s + 7) // 8 for s in m.arg_size)
    # ENOTSUPP: as x86-64, at most MAX_BPF_FUNC_ARGS slots and no struct on the stack.
    if nr_slots > MAX_BPF_FUNC_ARGS:
        raise TrampolineError(ENOTSUPP, f"{nr_slots} argument slots")
    for loc in pl.args:
        if loc.is_aggregate and loc.on_stack:
            raise TrampolineError(ENOTSUPP, f"arg{loc.index}: struct passed on the stack")
    stack_size = 8 if req.save_ret else 0
    ret_off = 8
    stack_size += 8 * nr_slots
    regs_off = stack_size
    stack_size += 8
    nregs_off = stack_size
    if req.ip_arg:
        stack_size += 8
    ip_off = stack_size
    stack_size += 4
    ebx_off = stack_size
    stack_size += 8
    start_off = stack_size
    stack_size += RUN_CTX_SIZE
    run_ctx_off = stack_size

    a = I386(req.image_addr & 0xFFFFFFFF)
    a.note("prologue")
    a.raw(b"\x55", "push ebp")
    a.raw(b"\x89\xe5", "mov ebp, esp")
    a.raw(bytes([0x83, 0xEC, stack_size]) if stack_size <= 127 else b"\x81\xec" + stack_size.to_bytes(4, "little"),
          f"sub esp, {hexs(stack_size)}", f"stack_size = {stack_size}")
    a.st(EBX, -ebx_off, "save ebx")
    a.st_imm(-nregs_off, nr_slots, "ctx[-1] = slot count")
    a.st_imm(-nregs_off + 4, 0)
    if req.ip_arg:
        a.st_imm(-ip_off, req.func_addr, "ctx[-2] = IP")
        a.st_imm(-ip_off + 4, req.func_addr >> 32)
    a.note(f"save the arguments: ctx = ebp-{regs_off:#x}, u64 slots")
    exprs, reg_src, stack_moves = [], {}, []
    slot = 0
    for loc in pl.args:
        nw = len(loc.pieces)
        for s in range((loc.size + 7) // 8):
            parts = []
            for half in (0, 1):
                w = 2 * s + half
                off = -(regs_off - 8 * (slot + s)) + 4 * half
                if w >= nw:
                    a.st_imm(off, 0, f"ctx[{slot + s}] high = 0")
                    continue
                p = loc.pieces[w]
                if p.loc == "reg":
                    a.st(ARG_REGS[p.index], off, f"ctx[{slot + s}] {'high' if half else 'low'}")
                    parts.append(f"(regs[{p.index}] & 0xFFFFFFFF)" + (" << 32" if half else ""))
                    reg_src[p.index] = (slot + s, half)
                else:
                    stack_moves.append((p.index, off, slot + s, half))
                    parts.append(f"(stack[{p.index}] & 0xFFFFFFFF)" + (" << 32" if half else ""))
            exprs.append(" | ".join(f"({x})" for x in parts) if len(parts) > 1 else parts[0])
        slot += (loc.size + 7) // 8
    for sw, off, s, half in stack_moves:
        a.ld(EAX, 12 + 4 * sw, f"stack word {sw}")
        a.st(EAX, off, f"ctx[{s}] {'high' if half else 'low'}")

    def restore():
        for r in range(pl.nr_reg_words):
            s, half = reg_src[r]
            a.ld(ARG_REGS[r], -(regs_off - 8 * s) + 4 * half, f"ctx[{s}]")

    if req.call_orig:
        a.mov_imm(EAX, req.im_addr, "arg1: im")
        a.call(req.hooks.tramp_enter_addr, "__bpf_tramp_enter")
    links = req.all_links()
    for kind, i, link in links:
        if kind == 0:
            _invoke(a, req, i, link, regs_off, run_ctx_off, start_off, ret_off, False, "fentry")
    branches = []
    if req.fmod_ret:
        a.st_imm(-ret_off, 0, "fmod_ret: return slot = 0")
        a.st_imm(-ret_off + 4, 0)
        for kind, i, link in links:
            if kind == 2:
                _invoke(a, req, i, link, regs_off, run_ctx_off, start_off, ret_off, True, "fmod_ret")
                a.ld(EAX, -ret_off)
                a.raw(b"\x0b" + _modrm(EAX, -ret_off + 4), f"or eax, dword ptr {_d(-ret_off + 4)}")
                branches.append(a.nops(6)[0])
    ip_after_call = None
    if req.call_orig:
        a.note("push the stack arguments, restore the registers, call the original body")
        for sw in range(pl.nr_stack_words - 1, -1, -1):
            a.raw(b"\xff" + _modrm(6, 12 + 4 * sw), f"push dword ptr {_d(12 + 4 * sw)}")
        restore()
        a.call(req.func_addr + X86_PATCH_SIZE, f"{req.name or 'func'}+5")
        if pl.nr_stack_words:
            a.raw(bytes([0x83, 0xC4, 4 * pl.nr_stack_words]), f"add esp, {hexs(4 * pl.nr_stack_words)}")
        a.st(EAX, -ret_off, "return slot = eax")
        if m.ret_size > 4:
            a.st(EDX, -ret_off + 4, "and edx")
        else:
            a.st_imm(-ret_off + 4, 0)
        ip_after_call = a.off
        a.nops(5, "ip_after_call")
    for b in branches:
        rel = a.off - (a.insns[b].off + 6)
        a.patch(b, f"jne {hexs((a.base + a.off) & 0xFFFFFFFF)}",
                b"\x0f\x85" + (rel & 0xFFFFFFFF).to_bytes(4, "little"), "goto do_fexit")
    if branches:
        a.note("do_fexit:")
    for kind, i, link in links:
        if kind == 1:
            _invoke(a, req, i, link, regs_off, run_ctx_off, start_off, ret_off, False, "fexit")
    if req.restore_regs:
        a.note("RESTORE_REGS")
        restore()
    ip_epilogue = None
    if req.call_orig:
        ip_epilogue = a.off
        a.mov_imm(EAX, req.im_addr, "arg1: im")
        a.call(req.hooks.tramp_exit_addr, "__bpf_tramp_exit")
        a.ld(EAX, -ret_off, "eax = return slot")
        a.ld(EDX, -ret_off + 4, "edx = high half")
    a.note("epilogue")
    a.ld(EBX, -ebx_off, "restore ebx")
    a.raw(b"\xc9", "leave")
    if req.skip_frame:
        a.raw(b"\x83\xc4\x04", "add esp, 4", "SKIP_FRAME")
    a.raw(b"\xc3", "ret")

    frame = []
    if pl.nr_stack_words:
        frame.append(FrameSlot(12, 4 * pl.nr_stack_words, "stack arguments"))
    frame += [FrameSlot(8, 4, "return address into the caller"),
              FrameSlot(4, 4, "return address into the traced function"), FrameSlot(0, 4, "saved ebp")]
    if req.save_ret:
        frame.append(FrameSlot(-ret_off, 8, f"return value = ctx[{nr_slots}]"))
    if nr_slots:
        frame.append(FrameSlot(-regs_off, 8 * nr_slots, f"ctx[0..{nr_slots - 1}]  <- R1"))
    frame.append(FrameSlot(-nregs_off, 8, "ctx[-1] = slot count"))
    if req.ip_arg:
        frame.append(FrameSlot(-ip_off, 8, "ctx[-2] = IP"))
    frame += [FrameSlot(-ebx_off, 4, "saved ebx"), FrameSlot(-start_off, 8, "start time"),
              FrameSlot(-run_ctx_off, RUN_CTX_SIZE, "struct bpf_tramp_run_ctx")]
    regs = []
    for r in range(pl.nr_reg_words):
        s, half = reg_src[r]
        regs.append(f"${s} >> 32" if half else f"${s} & 0xFFFFFFFF")
    regs = "[" + ", ".join(regs) + "]"
    plan = ExecPlan(tuple(exprs), regs, "stack", regs)
    code = a.code()
    return ArchBuild(tuple(a.render(show_bytes=True)), len(code), code, tuple(frame), "ebp", plan,
                     ip_after_call, ip_epilogue)


i386_tramp_ops = ArchTrampOps("i386", BPF_MAX_TRAMP_LINKS["i386"], build, False,
                              "(none upstream) modelled on arch/x86/net/bpf_jit_comp.c")
