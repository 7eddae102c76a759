"""x86-64 trampolines: real machine code laid out like __arch_prepare_bpf_trampoline
(arch/x86/net/bpf_jit_comp.c), plus the 5.5 original (arch_prepare_bpf_trampoline of the seed
commit "bpf: Introduce BPF trampoline").

Newest frame (offsets below RBP, fact sheet 6.2)::

    RBP + 0x18 ...        stack arguments of the traced call (7th slot on)
    RBP + 16              return address into the traced function's caller (SKIP_FRAME returns here)
    RBP + 8               return address into the traced function (func + 5)
    RBP + 0               saved RBP
    RBP - 8               return value                       CALL_ORIG
    RBP - regs_off ...    ctx[0 .. nr_regs-1], ascending     always  (R1 = RBP - regs_off)
    RBP - nregs_off       nr_regs = ctx[-1]                  always
    RBP - ip_off          traced function address = ctx[-2]  IP_ARG
    RBP - rbx_off         saved RBX (start time across a program call)
    RBP - run_ctx_off     struct bpf_tramp_run_ctx (16 bytes: cookie, saved run ctx)
    RBP - arg_stack_off   copy of the stack arguments for calling the original (CALL_ORIG, > 6 slots)

5.5 frame: ``sub rsp, nr_args * 8 (+8 if CALL_ORIG); push rbx``; argument i at RBP - (stack_size -
8 i), return value at RBP - 8; no count, IP or run ctx slots; each argument stored with a store of
its own width (save_regs); __bpf_prog_enter() takes no argument and its result is not tested.

Not modelled (not used for fentry/fexit/fmod_ret of kernel functions): IBT ENDBR, call-depth
accounting, retpoline/return thunks (``ret`` is a plain ret), TAIL_CALL_CTX, ORIG_STACK,
struct_ops (RET_FENTRY_RET, INDIRECT).
"""

from btf.func_model import BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG, MAX_BPF_FUNC_ARGS

from .asm import Asm, hexs
from .callconv import place_args
from .defs import BPF_MAX_TRAMP_LINKS, EINVAL, ENOTSUPP, X86_PATCH_SIZE, TrampolineError
from .records import ArchBuild, ArchTrampOps, ExecPlan, FrameSlot, TrampRequest

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9 = 8, 9
R64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
       "r13", "r14", "r15")
R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi") + tuple(f"r{i}d" for i in range(8, 16))
R16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di") + tuple(f"r{i}w" for i in range(8, 16))
R8L = ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil") + tuple(f"r{i}b" for i in range(8, 16))
ARG_REGS = (RDI, RSI, RDX, RCX, R8, R9)    # BPF R1-R5 and X86_REG_R9
PTR = {1: "byte", 2: "word", 4: "dword", 8: "qword"}
RUN_CTX_SIZE = 16                          # sizeof(struct bpf_tramp_run_ctx), rounded to 8
BPF_INSN_SAFETY = 64

# x86_nops[1..8] (arch/x86/include/asm/nops.h), as emit_nops uses them.
X86_NOPS = {1: b"\x90", 2: b"\x66\x90", 3: b"\x0f\x1f\x00", 4: b"\x0f\x1f\x40\x00",
            5: b"\x0f\x1f\x44\x00\x00", 6: b"\x66\x0f\x1f\x44\x00\x00",
            7: b"\x0f\x1f\x80\x00\x00\x00\x00", 8: b"\x0f\x1f\x84\x00\x00\x00\x00\x00"}
NOP_TEXT = {1: "nop", 2: "nop", 3: "nop dword ptr [rax]", 4: "nop dword ptr [rax]",
            5: "nop dword ptr [rax + rax]", 6: "nop word ptr [rax + rax]",
            7: "nop dword ptr [rax]", 8: "nop dword ptr [rax + rax]"}


def is_imm8(v: int) -> bool:
    return -128 <= v <= 127


def is_simm32(v: int) -> bool:
    return -(1 << 31) <= v < (1 << 31)


def _s32(v: int) -> bytes:
    return (v & 0xFFFFFFFF).to_bytes(4, "little")


def _mem(off: int) -> str:
    if off == 0:
        return "[rbp]"
    return f"[rbp - {hexs(-off)}]" if off < 0 else f"[rbp + {hexs(off)}]"


def _modrm_rbp(reg: int, off: int) -> bytes:
    """ModRM (+disp) for [rbp + off] with `reg` in the reg field (emit_insn_suffix)."""
    if is_imm8(off):
        return bytes([0x40 | (reg & 7) << 3 | RBP, off & 0xFF])
    return bytes([0x80 | (reg & 7) << 3 | RBP]) + _s32(off)


class X86Emitter(Asm):
    """emit_* helpers of bpf_jit_comp.c, each producing bytes and capstone-style text."""

    def raw(self, data: bytes, text: str, comment: str = "") -> int:
        return self.emit(text, len(data), comment, data)

    def emit_stx(self, size: int, src: int, off: int, comment: str = "") -> int:
        """mov <size> ptr [rbp + off], src (emit_stx with dst = BPF_REG_FP)."""
        r = 4 if src >= 8 else 0
        if size == 1:
            pre = bytes([0x40 | r]) if (src >= 8 or src in (RSP, RBP, RSI, RDI)) else b""
            op, name = pre + b"\x88", R8L[src]
        elif size == 2:
            op, name = b"\x66" + (bytes([0x40 | r]) if r else b"") + b"\x89", R16[src]
        elif size == 4:
            op, name = (bytes([0x40 | r]) if r else b"") + b"\x89", R32[src]
        else:
            op, name = bytes([0x48 | r, 0x89]), R64[src]
        return self.raw(op + _modrm_rbp(src, off), f"mov {PTR[size]} ptr {_mem(off)}, {name}", comment)

    def emit_ldx(self, size: int, dst: int, off: int, comment: str = "") -> int:
        """dst = *(size *)(rbp + off), zero-extended (emit_ldx with src = BPF_REG_FP)."""
        r = 4 if dst >= 8 else 0
        if size == 1:
            op, text = bytes([0x48 | r, 0x0F, 0xB6]), f"movzx {R64[dst]}, byte ptr {_mem(off)}"
        elif size == 2:
            op, text = bytes([0x48 | r, 0x0F, 0xB7]), f"movzx {R64[dst]}, word ptr {_mem(off)}"
        elif size == 4:
            op, text = (bytes([0x40 | r]) if r else b"") + b"\x8b", f"mov {R32[dst]}, dword ptr {_mem(off)}"
        else:
            op, text = bytes([0x48 | r, 0x8B]), f"mov {R64[dst]}, qword ptr {_mem(off)}"
        return self.raw(op + _modrm_rbp(dst, off), text, comment)

    def emit_mov_imm64(self, dst: int, imm: int, comment: str = "") -> int:
        """emit_mov_imm64: xor / mov r32, imm32 / mov r64, simm32 / movabs."""
        imm &= (1 << 64) - 1
        b = 1 if dst >= 8 else 0
        if imm < (1 << 32):
            if imm == 0:
                pre = bytes([0x45]) if dst >= 8 else b""
                return self.raw(pre + bytes([0x31, 0xC0 | (dst & 7) << 3 | (dst & 7)]),
                                f"xor {R32[dst]}, {R32[dst]}", comment)
            pre = bytes([0x41]) if dst >= 8 else b""
            return self.raw(pre + bytes([0xB8 + (dst & 7)]) + imm.to_bytes(4, "little"),
                            f"mov {R32[dst]}, {hexs(imm)}", comment)
        if imm >= (1 << 64) - (1 << 31):
            return self.raw(bytes([0x48 | b, 0xC7, 0xC0 | (dst & 7)]) + (imm & 0xFFFFFFFF).to_bytes(4, "little"),
                            f"mov {R64[dst]}, {hexs(imm)}", comment)
        return self.raw(bytes([0x48 | b, 0xB8 + (dst & 7)]) + imm.to_bytes(8, "little"),
                        f"movabs {R64[dst]}, {hexs(imm)}", comment)

    def emit_mov_reg(self, dst: int, src: int, comment: str = "") -> int:
        """mov dst, src (64-bit)."""
        rex = 0x48 | (1 if dst >= 8 else 0) | (4 if src >= 8 else 0)
        return self.raw(bytes([rex, 0x89, 0xC0 | (src & 7) << 3 | (dst & 7)]),
                        f"mov {R64[dst]}, {R64[src]}", comment)

    def emit_lea(self, dst: int, off: int, comment: str = "") -> int:
        """lea dst, [rbp + off]."""
        return self.raw(bytes([0x48 | (4 if dst >= 8 else 0), 0x8D]) + _modrm_rbp(dst, off),
                        f"lea {R64[dst]}, {_mem(off)}", comment)

    def emit_call(self, target: int, comment: str = "") -> int:
        """call rel32 (emit_call / emit_rsb_call without call-depth tracking)."""
        rel = target - (self.ip + X86_PATCH_SIZE)
        if not is_simm32(rel):
            raise TrampolineError(EINVAL, f"call target {target:#x} out of rel32 range of {self.ip:#x}")
        return self.raw(b"\xe8" + _s32(rel), f"call {hexs(target & ((1 << 64) - 1))}", comment)

    def emit_nops(self, n: int, comment: str = "") -> list[int]:
        out = []
        while n > 0:
            k = min(n, 8)
            out.append(self.raw(X86_NOPS[k], NOP_TEXT[k], comment))
            n -= k
        return out

    def emit_sub_rsp(self, size: int, comment: str = "") -> int:
        if is_imm8(size):
            return self.raw(bytes([0x48, 0x83, 0xEC, size & 0xFF]), f"sub rsp, {hexs(size)}", comment)
        return self.raw(b"\x48\x81\xec" + _s32(size), f"sub rsp, {hexs(size)}", comment)

    def je_placeholder(self) -> int:
        """Two nops later replaced by `je skip` (invoke_bpf_prog)."""
        return self.emit_nops(2)[0]

    def patch_je(self, index: int) -> None:
        insn = self.insns[index]
        rel = self.off - (insn.off + 2)
        assert is_imm8(rel)
        self.patch(index, f"je {hexs(self.base + self.off)}", bytes([0x74, rel & 0xFF]))

    def patch_jne_near(self, index: int, target_off: int) -> None:
        """Six nops replaced by `jne do_fexit` (emit_cond_near_jump)."""
        insn = self.insns[index]
        rel = target_off - (insn.off + 6)
        self.patch(index, f"jne {hexs(self.base + target_off)}", b"\x0f\x85" + _s32(rel))


def _slot_map(req: TrampRequest):
    """(placement, [(reg_index or None, stack_word or None)] per ctx slot)."""
    pl = place_args(req.model, "x86_64")
    slots = []
    for loc in pl.args:
        n = (loc.size + 7) // 8
        for k in range(n):
            p = loc.pieces[k]
            slots.append((p.index, None) if p.loc == "reg" else (None, p.index))
    return pl, slots


def _check_newest(req: TrampRequest, pl) -> int:
    nr_regs = sum((s + 7) // 8 for s in req.model.arg_size)
    # ENOTSUPP: "x86-64 supports up to MAX_BPF_FUNC_ARGS arguments" (register slots, struct
    # arguments counted per 8 bytes).
    if nr_regs > MAX_BPF_FUNC_ARGS:
        raise TrampolineError(ENOTSUPP, f"{nr_regs} argument slots, x86-64 supports {MAX_BPF_FUNC_ARGS}")
    # ENOTSUPP: a struct passed on the stack (validate_args, 2025): its layout there is not known.
    for loc in pl.args:
        if loc.is_aggregate and loc.on_stack:
            raise TrampolineError(ENOTSUPP, f"arg{loc.index}: struct passed on the stack is not supported")
    return nr_regs


def _invoke_bpf_prog(a: X86Emitter, req: TrampRequest, i: int, link, regs_off: int,
                     run_ctx_off: int, save_ret: bool, kind: str) -> None:
    """invoke_bpf_prog (newest): cookie, enter, test/je, call, [save r0], exit."""
    label = req.link_label(i, link)
    a.note(f"{kind} {label}: cookie {link.cookie:#x}, {'interpreter' if link.insnsi is not None else 'JITed'}")
    a.emit_mov_imm64(RDI, link.cookie, "rdi = cookie")
    a.emit_stx(8, RDI, -run_ctx_off, "run_ctx.bpf_cookie = cookie")
    prog = req.prog_addr(i, link)
    a.emit_mov_imm64(RDI, prog, f"arg1: struct bpf_prog *{label}")
    a.emit_lea(RSI, -run_ctx_off, "arg2: &run_ctx")
    a.emit_call(req.hooks.enter_addr, f"{req.hooks.enter_name}(prog, &run_ctx)")
    a.emit_mov_reg(RBX, RAX, "rbx = start time")
    a.raw(b"\x48\x85\xc0", "test rax, rax", "0: recursion, skip the program")
    je = a.je_placeholder()
    a.emit_lea(RDI, -regs_off, "R1 = ctx")
    if link.insnsi is not None:
        a.emit_mov_imm64(RSI, link.insnsi, "arg2: prog->insnsi for the interpreter")
    a.emit_call(req.bpf_func_addr(i, link), f"{label}->bpf_func(ctx)")
    if save_ret:
        a.emit_stx(8, RAX, -8, "return slot = r0")
    a.patch_je(je)
    a.insns[je].comment = "skip the program"
    a.emit_mov_imm64(RDI, prog, "arg1: prog")
    a.emit_mov_reg(RSI, RBX, "arg2: start")
    a.emit_lea(RDX, -run_ctx_off, "arg3: &run_ctx")
    a.emit_call(req.hooks.exit_addr, f"{req.hooks.exit_name}(prog, start, &run_ctx)")


def _build_newest(req: TrampRequest) -> ArchBuild:
    pl, slots = _slot_map(req)
    nr_regs = _check_newest(req, pl)
    save_ret = req.save_ret
    stack_size = 8 if save_ret else 0
    stack_size += nr_regs * 8
    regs_off = stack_size
    stack_size += 8
    nregs_off = stack_size
    if req.ip_arg:
        stack_size += 8
    ip_off = stack_size
    stack_size += 8
    rbx_off = stack_size
    stack_size += RUN_CTX_SIZE
    run_ctx_off = stack_size
    nr_used = pl.nr_reg_words
    if nr_regs > 6 and req.call_orig:
        stack_size += (nr_regs - nr_used) * 8
        stack_size += 0 if stack_size % 16 else 8
    arg_stack_off = stack_size
    orig_call = req.func_addr + (X86_PATCH_SIZE if req.skip_frame else 0)

    a = X86Emitter(req.image_addr)
    a.note("prologue: frame of the trampoline")
    a.raw(b"\x55", "push rbp")
    a.raw(b"\x48\x89\xe5", "mov rbp, rsp")
    a.emit_sub_rsp(stack_size, f"stack_size = {stack_size}")
    a.emit_stx(8, RBX, -rbx_off, "save rbx")
    a.note("ctx[-1] = nr_regs (argument slots)")
    a.emit_mov_imm64(RAX, nr_regs)
    a.emit_stx(8, RAX, -nregs_off, "ctx[-1]")
    if req.ip_arg:
        a.note("IP_ARG: ctx[-2] = traced function")
        a.emit_mov_imm64(RAX, req.func_addr)
        a.emit_stx(8, RAX, -ip_off, "ctx[-2]")
    a.note(f"save_args: {nr_regs} slots at rbp-{regs_off:#x} (R1 = ctx)")
    off = regs_off
    nr_stack_slots, first_off = 0, 0
    for s, (reg, sw) in enumerate(slots):
        if reg is not None:
            a.emit_stx(8, ARG_REGS[reg], -off, f"ctx[{s}]")
        else:
            a.emit_ldx(8, RAX, 0x18 + 8 * sw, f"stack arg word {sw}")
            a.emit_stx(8, RAX, -off, f"ctx[{s}]")
            if not nr_stack_slots:
                first_off = off
            nr_stack_slots += 1
        off -= 8
    clean = nr_stack_slots == 1 and req.model.arg_size[-1] <= 4
    if clean:     # clean_stack_garbage: a single <= 4-byte stack argument
        a.raw(_clean_bytes(-(first_off - 4)), f"mov dword ptr {_mem(-(first_off - 4))}, 0",
              "clean_stack_garbage: upper half")
    if req.call_orig:
        a.note("__bpf_tramp_enter(im)")
        a.emit_mov_imm64(RDI, req.im_addr, "arg1: im")
        a.emit_call(req.hooks.tramp_enter_addr, "__bpf_tramp_enter")
    for i_kind, i, link in req.all_links():
        if i_kind == 0:
            _invoke_bpf_prog(a, req, i, link, regs_off, run_ctx_off, False, "fentry")
    branches = []
    if req.fmod_ret:
        a.note("fmod_ret: the return slot starts at 0")
        a.emit_mov_imm64(RAX, 0)
        a.emit_stx(8, RAX, -8, "return slot = 0")
        for i_kind, i, link in req.all_links():
            if i_kind == 2:
                _invoke_bpf_prog(a, req, i, link, regs_off, run_ctx_off, True, "fmod_ret")
                a.raw(b"\x48\x83\x7d\xf8\x00", "cmp qword ptr [rbp - 8], 0", "non-zero: skip the original")
                branches.append(a.emit_nops(6)[0])
    ip_after_call = None
    if req.call_orig:
        a.note("restore_regs, then call the original body")
        _restore_regs(a, slots, regs_off)
        off = arg_stack_off
        for s, (reg, sw) in enumerate(slots):
            if reg is None:
                a.emit_ldx(8, RAX, 0x18 + 8 * sw, f"stack arg word {sw}")
                a.emit_stx(8, RAX, -off, "outgoing stack argument")
                off -= 8
        a.emit_call(orig_call, f"{req.name or 'func'}+{orig_call - req.func_addr}")
        a.emit_stx(8, RAX, -8, "return slot = rax")
        ip_after_call = a.off
        a.emit_nops(X86_PATCH_SIZE, "im->ip_after_call (patched to jmp when retired)")
    if req.fmod_ret:
        pad = (-(a.off + a.base)) % 16
        if pad:
            a.emit_nops(pad, "align do_fexit to 16")
        a.note("do_fexit:")
        for b in branches:
            a.patch_jne_near(b, a.off)
            a.insns[b].comment = "goto do_fexit"
    for i_kind, i, link in req.all_links():
        if i_kind == 1:
            _invoke_bpf_prog(a, req, i, link, regs_off, run_ctx_off, False, "fexit")
    if req.restore_regs:
        a.note("RESTORE_REGS: the function body runs with its arguments")
        _restore_regs(a, slots, regs_off)
    ip_epilogue = None
    if req.call_orig:
        ip_epilogue = a.off
        a.note("__bpf_tramp_exit(im)")
        a.emit_mov_imm64(RDI, req.im_addr, "arg1: im")
        a.emit_call(req.hooks.tramp_exit_addr, "__bpf_tramp_exit")
    a.note("epilogue")
    if save_ret:
        a.emit_ldx(8, RAX, -8, "rax = return slot")
    a.emit_ldx(8, RBX, -rbx_off, "restore rbx")
    a.raw(b"\xc9", "leave")
    if req.skip_frame:
        a.raw(b"\x48\x83\xc4\x08", "add rsp, 8", "SKIP_FRAME: drop the return into the function")
    a.raw(b"\xc3", "ret")

    frame = [FrameSlot(8, 8, "return address into the traced function (func+5)"),
             FrameSlot(0, 8, "saved rbp")]
    if req.skip_frame or pl.nr_stack_words:
        frame.insert(0, FrameSlot(16, 8, "return address into the caller"))
    if pl.nr_stack_words:
        frame.insert(0, FrameSlot(0x18, 8 * pl.nr_stack_words, f"{pl.nr_stack_words} stack argument words"))
    if save_ret:
        frame.append(FrameSlot(-8, 8, f"return value = ctx[{nr_regs}]"))
    for s in range(nr_regs - 1, -1, -1):
        frame.append(FrameSlot(-(regs_off - 8 * s), 8, f"ctx[{s}]" + ("  <- R1" if s == 0 else "")))
    frame.append(FrameSlot(-nregs_off, 8, "ctx[-1] = nr_regs"))
    if req.ip_arg:
        frame.append(FrameSlot(-ip_off, 8, "ctx[-2] = traced function IP"))
    frame.append(FrameSlot(-rbx_off, 8, "saved rbx"))
    frame.append(FrameSlot(-run_ctx_off, RUN_CTX_SIZE, "struct bpf_tramp_run_ctx"))
    if arg_stack_off != run_ctx_off:
        frame.append(FrameSlot(-arg_stack_off, arg_stack_off - run_ctx_off, "outgoing stack arguments"))
    code = a.code()
    return ArchBuild(tuple(a.render(show_bytes=True)), len(code), code, tuple(frame), "rbp",
                     _plan_newest(req, pl, slots, clean), ip_after_call, ip_epilogue, BPF_INSN_SAFETY)


def _clean_bytes(off: int) -> bytes:
    if is_imm8(off):
        return bytes([0xC7, 0x45, off & 0xFF]) + b"\0\0\0\0"
    return bytes([0xC7, 0x85]) + _s32(off) + b"\0\0\0\0"


def _restore_regs(a: X86Emitter, slots, regs_off: int, sizes=None) -> None:
    off = regs_off
    for s, (reg, _sw) in enumerate(slots):
        if reg is not None:
            a.emit_ldx(8 if sizes is None else sizes[s], ARG_REGS[reg], -off, f"ctx[{s}]")
        off -= 8


def _plan_newest(req, pl, slots, clean: bool) -> ExecPlan:
    exprs = []
    for reg, sw in slots:
        exprs.append(f"regs[{reg}]" if reg is not None else f"stack[{sw}]")
    if clean:
        exprs[-1] += " & 0xFFFFFFFF"
    by_reg = {reg: s for s, (reg, _sw) in enumerate(slots) if reg is not None}
    regs = "[" + ", ".join(f"${by_reg[r]}" for r in range(pl.nr_reg_words)) + "]"
    return ExecPlan(tuple(exprs), regs, "stack", regs)


def _build_5_5(req: TrampRequest) -> ArchBuild:
    """arch_prepare_bpf_trampoline as merged for 5.5 (fentry/fexit, <= 6 arguments)."""
    m = req.model
    nr_args = m.nr_args
    # ENOTSUPP: "x86-64 supports up to 6 arguments. 7+ can be added in the future".
    if nr_args > 6:
        raise TrampolineError(ENOTSUPP, f"{nr_args} arguments; the 5.5 x86-64 trampoline supports 6")
    for i, (size, fl) in enumerate(zip(m.arg_size, m.arg_flags)):
        if fl & (BTF_FMODEL_STRUCT_ARG | BTF_FMODEL_UNION_ARG):
            raise TrampolineError(EINVAL, f"arg{i}: 5.5 has no struct arguments (btf_distill_kernel_func)")
        if size not in (1, 2, 4, 8):
            raise TrampolineError(ENOTSUPP, f"arg{i}: {size}-byte argument (5.5 stores 1/2/4/8 bytes)")
    stack_size = nr_args * 8 + (8 if req.call_orig else 0)
    orig_call = req.func_addr + X86_PATCH_SIZE
    a = X86Emitter(req.image_addr)
    a.note("prologue (5.5)")
    a.raw(b"\x55", "push rbp")
    a.raw(b"\x48\x89\xe5", "mov rbp, rsp")
    a.raw(bytes([0x48, 0x83, 0xEC, stack_size]), f"sub rsp, {hexs(stack_size)}",
          f"{nr_args} args" + (" + return value" if req.call_orig else ""))
    a.raw(b"\x53", "push rbx", "temp reg to pass the start time")
    a.note(f"save_regs: width-specific stores, ctx = rbp-{stack_size:#x}")
    for i in range(nr_args):
        a.emit_stx(m.arg_size[i], ARG_REGS[i], -(stack_size - 8 * i), f"ctx[{i}] ({m.arg_size[i]} bytes)")

    def invoke(i, link, kind):
        label = req.link_label(i, link)
        a.note(f"{kind} {label}")
        a.emit_call(req.hooks.enter_addr, "__bpf_prog_enter()")
        a.emit_mov_reg(RBX, RAX, "rbx = start time")
        a.emit_lea(RDI, -stack_size, "R1 = ctx")
        if link.insnsi is not None:
            a.emit_mov_imm64(RSI, link.insnsi, "arg2: prog->insnsi for the interpreter")
        a.emit_call(req.bpf_func_addr(i, link), f"{label}->bpf_func(ctx)")
        a.emit_mov_imm64(RDI, req.prog_addr(i, link), "arg1: prog")
        a.emit_mov_reg(RSI, RBX, "arg2: start")
        a.emit_call(req.hooks.exit_addr, "__bpf_prog_exit(prog, start)")

    for kind, i, link in req.all_links():
        if kind == 0:
            invoke(i, link, "fentry")
    sizes = list(m.arg_size)
    slots = [(i, None) for i in range(nr_args)]
    if req.call_orig:
        if req.fentry:
            a.note("restore_regs (width-specific, zero-extending loads)")
            _restore_regs(a, slots, stack_size, sizes)
        a.emit_call(orig_call, f"{req.name or 'func'}+5: the function body")
        a.emit_stx(8, RAX, -8, "return value")
    for kind, i, link in req.all_links():
        if kind == 1:
            invoke(i, link, "fexit")
    if req.restore_regs:
        a.note("RESTORE_REGS")
        _restore_regs(a, slots, stack_size, sizes)
    a.note("epilogue")
    if req.call_orig:
        a.emit_ldx(8, RAX, -8, "rax = return value")
    a.raw(b"\x5b", "pop rbx")
    a.raw(b"\xc9", "leave")
    if req.skip_frame:
        a.raw(b"\x48\x83\xc4\x08", "add rsp, 8", "skip the traced function's frame")
    a.raw(b"\xc3", "ret")
    frame = [FrameSlot(8, 8, "return address into the traced function"), FrameSlot(0, 8, "saved rbp")]
    if req.call_orig:
        frame.append(FrameSlot(-8, 8, f"return value = ctx[{nr_args}]"))
    for i in range(nr_args - 1, -1, -1):
        frame.append(FrameSlot(-(stack_size - 8 * i), 8, f"ctx[{i}]" + ("  <- R1" if i == 0 else "")))
    frame.append(FrameSlot(-(stack_size + 8), 8, "pushed rbx"))
    exprs = []
    for i, size in enumerate(sizes):
        mask = (1 << (8 * size)) - 1
        exprs.append(f"regs[{i}]" if size == 8 else
                     f"($old & {((1 << 64) - 1) ^ mask:#x}) | (regs[{i}] & {mask:#x})")
    loads = "[" + ", ".join(f"${i}" if sizes[i] == 8 else f"${i} & {(1 << (8 * sizes[i])) - 1:#x}"
                            for i in range(nr_args)) + "]"
    plan = ExecPlan(tuple(exprs), loads if req.fentry else "regs", "stack", loads)
    code = a.code()
    return ArchBuild(tuple(a.render(show_bytes=True)), len(code), code, tuple(frame), "rbp", plan)


def build(req: TrampRequest) -> ArchBuild:
    """The x86-64 generator (called by core.arch_prepare_bpf_trampoline)."""
    return _build_5_5(req) if req.profile.name == "5.5" else _build_newest(req)


x86_64_tramp_ops = ArchTrampOps("x86_64", BPF_MAX_TRAMP_LINKS["x86_64"], build, True,
                                "arch/x86/net/bpf_jit_comp.c __arch_prepare_bpf_trampoline")
