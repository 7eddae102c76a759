"""arm64 trampolines: an assembly listing laid out like prepare_trampoline
(arch/arm64/net/bpf_jit_comp.c), one 4-byte instruction per line.

Patched entry of a traced function: ``mov x9, lr; bl <trampoline>``, so x9 is the return address
into the caller and lr the one into the function. Frame (SP-relative, offsets grow up)::

    FP + 32 ...          stack arguments of the traced call
    FP + 16              parent frame record (FP, x9)
    FP + 0  = SP + stack_size   frame record of the patched function (FP, LR = self ip)
    SP + regs_off        saved x19 (prog), x20 (start time)
    SP + retval_off      return value                    CALL_ORIG
    SP + bargs_off ...   ctx[0 ..]                        (R1 = SP + bargs_off)
    SP + nfuncargs_off   ctx[-1] = argument slot count
    SP + ip_off          ctx[-2] = traced function        IP_ARG
    SP + run_ctx_off     struct bpf_tramp_run_ctx
    SP + 0 ...           stack arguments for the original (CALL_ORIG)

Limits (calc_arg_aux): arguments after the first that does not fit in x0-x7 go on the stack; a
struct on the stack -> ENOTSUPP. Sizes assume the BTI landing pad and no PLT.
"""

from .asm import Asm
from .callconv import place_args
from .defs import BPF_MAX_TRAMP_LINKS, ENOTSUPP, TrampolineError
from .records import ArchBuild, ArchTrampOps, ExecPlan, FrameSlot, TrampRequest

U64 = (1 << 64) - 1
RUN_CTX_SIZE = 16


def _blocks(val: int, inverse: bool) -> int:
    return sum(((val >> s) & 0xFFFF) != (0xFFFF if inverse else 0) for s in (0, 16, 32, 48))


def emit_a64_mov_i64(reg: str, val: int) -> list[str]:
    """The movz/movn/movk sequence of emit_a64_mov_i64 for a 64-bit immediate."""
    val &= U64
    if not val >> 32:
        w = "w" + reg[1:]
        hi, lo = val >> 16, val & 0xFFFF
        if hi & 0x8000:
            if hi == 0xFFFF:
                return [f"movn {w}, #{~lo & 0xFFFF:#x}"]
            out = [f"movn {w}, #{~hi & 0xFFFF:#x}, lsl #16"]
            return out + ([f"movk {w}, #{lo:#x}"] if lo != 0xFFFF else [])
        return [f"movz {w}, #{lo:#x}"] + ([f"movk {w}, #{hi:#x}, lsl #16"] if hi else [])
    rev = ~val & U64
    inverse = _blocks(val, True) < _blocks(val, False)
    shift = max(((rev if inverse else val).bit_length() - 1) // 16 * 16, 0)
    out = [f"movn {reg}, #{(rev >> shift) & 0xFFFF:#x}, lsl #{shift}" if inverse else
           f"movz {reg}, #{(val >> shift) & 0xFFFF:#x}, lsl #{shift}"]
    shift -= 16
    while shift >= 0:
        part = (val >> shift) & 0xFFFF
        if part != (0xFFFF if inverse else 0):
            out.append(f"movk {reg}, #{part:#x}, lsl #{shift}")
        shift -= 16
    return out


def emit_addr_mov_i64(reg: str, val: int) -> list[str]:
    """Fixed movn/movk/movk for a kernel address (upper 16 bits all ones)."""
    val &= U64
    return [f"movn {reg}, #{~val & 0xFFFF:#x}", f"movk {reg}, #{(val >> 16) & 0xFFFF:#x}, lsl #16",
            f"movk {reg}, #{(val >> 32) & 0xFFFF:#x}, lsl #32"]


class A64(Asm):
    def i(self, text: str, comment: str = "") -> int:
        return self.emit(text, 4, comment)

    def seq(self, texts, comment: str = "") -> None:
        for n, t in enumerate(texts):
            self.i(t, comment if n == 0 else "")

    def call(self, target: int, comment: str) -> None:
        """emit_call: address into x10, blr x10."""
        self.seq(emit_addr_mov_i64("x10", target), comment)
        self.i("blr x10")

    def branch_to_here(self, index: int, op: str, comment: str) -> None:
        self.patch(index, f"{op}, {self.base + self.off:#x}", comment=comment)


def _arg_aux(req: TrampRequest):
    pl = place_args(req.model, "arm64")
    for loc in pl.args:
        # ENOTSUPP: "We can not know for sure about exact alignment needs for struct passed on
        # stack, so deny those" (calc_arg_aux).
        if loc.on_stack and loc.is_aggregate:
            raise TrampolineError(ENOTSUPP, f"arg{loc.index}: struct passed on the stack")
    return pl


def _invoke(a: A64, req, i, link, bargs_off, retval_off, run_ctx_off, save_ret, kind):
    label = req.link_label(i, link)
    a.note(f"{kind} {label}: cookie {link.cookie:#x}")
    if link.cookie == 0:
        a.i(f"str xzr, [sp, #{run_ctx_off:#x}]", "run_ctx.bpf_cookie = 0")
    else:
        a.seq(emit_a64_mov_i64("x10", link.cookie), "x10 = cookie")
        a.i(f"str x10, [sp, #{run_ctx_off:#x}]", "run_ctx.bpf_cookie")
    a.seq(emit_addr_mov_i64("x19", req.prog_addr(i, link)), f"x19 = struct bpf_prog *{label}")
    a.i("mov x0, x19", "arg1: prog")
    a.i(f"add x1, sp, #{run_ctx_off:#x}", "arg2: &run_ctx")
    a.call(req.hooks.enter_addr, req.hooks.enter_name)
    a.i("mov x20, x0", "x20 = start time")
    branch = a.i("nop")
    a.i(f"add x0, sp, #{bargs_off:#x}", "R1 = ctx")
    if link.insnsi is not None:
        a.seq(emit_addr_mov_i64("x1", link.insnsi), "arg2: insnsi (interpreter)")
    a.call(req.bpf_func_addr(i, link), f"{label}->bpf_func(ctx)")
    if save_ret:
        a.i(f"str x0, [sp, #{retval_off:#x}]", "return slot = r0")
    a.branch_to_here(branch, "cbz x0", "skip the program")
    a.i("mov x0, x19", "arg1: prog")
    a.i("mov x1, x20", "arg2: start")
    a.i(f"add x2, sp, #{run_ctx_off:#x}", "arg3: &run_ctx")
    a.call(req.hooks.exit_addr, req.hooks.exit_name)


def build(req: TrampRequest) -> ArchBuild:
    """The arm64 generator (called by core.arch_prepare_bpf_trampoline)."""
    pl = _arg_aux(req)
    regs_for_args = pl.nr_reg_words
    stack_slots = pl.nr_stack_words
    nfuncargs = regs_for_args + stack_slots
    stack_size = 0
    oargs_off = 0
    if req.call_orig:
        stack_size += 8 * stack_slots
    run_ctx_off = stack_size
    stack_size += RUN_CTX_SIZE
    ip_off = stack_size
    if req.ip_arg:
        stack_size += 8
    nfuncargs_off = stack_size
    stack_size += 8
    bargs_off = stack_size
    stack_size += 8 * nfuncargs
    retval_off = stack_size
    if req.save_ret:
        stack_size += 8
    regs_off = stack_size
    stack_size += 16
    stack_size = (stack_size + 15) & ~15
    retaddr_off = stack_size + 8

    a = A64(req.image_addr)
    a.note("prologue: two frame records, then the trampoline frame")
    a.i("bti jc", "landing pad for bl/br/blr")
    a.i("stp x29, x9, [sp, #-16]!", "frame for the parent (x9 = return into caller)")
    a.i("mov x29, sp")
    a.i("stp x29, x30, [sp, #-16]!", "frame for the patched function")
    a.i("mov x29, sp")
    a.i(f"sub sp, sp, #{stack_size:#x}", f"stack_size = {stack_size}")
    if req.ip_arg:
        a.seq(emit_addr_mov_i64("x10", req.func_addr), "IP_ARG: x10 = traced function")
        a.i(f"str x10, [sp, #{ip_off:#x}]", "ctx[-2]")
    a.i(f"movz x10, #{nfuncargs:#x}", "argument slot count")
    a.i(f"str x10, [sp, #{nfuncargs_off:#x}]", "ctx[-1]")
    a.note(f"save_args: ctx = sp + {bargs_off:#x}")
    exprs = []
    for r in range(regs_for_args):
        a.i(f"str x{r}, [sp, #{bargs_off + 8 * r:#x}]", f"ctx[{r}]")
        exprs.append(f"regs[{r}]")
    soff, doff = 32, bargs_off + 8 * regs_for_args
    for loc in pl.args:
        if not loc.on_stack:
            continue
        for n, piece in enumerate(loc.pieces):
            a.i(f"ldr x10, [x29, #{soff:#x}]", f"stack word {piece.index}")
            expr = f"stack[{piece.index}]"
            eff = loc.size % 8
            if n == len(loc.pieces) - 1 and eff:
                bits = 64 - 8 * eff
                a.i(f"lsl x10, x10, #{bits}", "clear_garbage")
                a.i(f"lsr x10, x10, #{bits}")
                expr += f" & {(1 << (8 * eff)) - 1:#x}"
            a.i(f"str x10, [sp, #{doff:#x}]", f"ctx[{len(exprs)}]")
            exprs.append(expr)
            soff += 8
            doff += 8
    a.i(f"str x19, [sp, #{regs_off:#x}]", "save callee-saved x19")
    a.i(f"str x20, [sp, #{regs_off + 8:#x}]", "save callee-saved x20")
    if req.call_orig:
        a.seq(emit_a64_mov_i64("x0", req.im_addr), "arg1: im")
        a.call(req.hooks.tramp_enter_addr, "__bpf_tramp_enter")
    links = req.all_links()
    for kind, i, link in links:
        if kind == 0:
            _invoke(a, req, i, link, bargs_off, retval_off, run_ctx_off, False, "fentry")
    branches = []
    if req.fmod_ret:
        a.i(f"str xzr, [sp, #{retval_off:#x}]", "fmod_ret: return slot = 0")
        for kind, i, link in links:
            if kind == 2:
                _invoke(a, req, i, link, bargs_off, retval_off, run_ctx_off, True, "fmod_ret")
                a.i(f"ldr x10, [sp, #{retval_off:#x}]", "return slot")
                branches.append(a.i("nop"))
    ip_after_call = None
    if req.call_orig:
        a.note("save_args(for_call_origin): registers from ctx, stack arguments re-pushed")
        for r in range(regs_for_args):
            a.i(f"ldr x{r}, [sp, #{bargs_off + 8 * r:#x}]")
        soff, doff = 32, oargs_off
        for _ in range(stack_slots):
            a.i(f"ldr x10, [x29, #{soff:#x}]")
            a.i(f"str x10, [sp, #{doff:#x}]")
            soff += 8
            doff += 8
        a.i(f"ldr x10, [sp, #{retaddr_off:#x}]", "x10 = return address into the function body")
        a.i("adr x30, #8", "lr = after the ret below")
        a.i("ret x10", f"call {req.name or 'func'} (its body)")
        a.i(f"str x0, [sp, #{retval_off:#x}]", "return slot = x0")
        ip_after_call = a.off
        a.i("nop", "im->ip_after_call")
    for b in branches:
        a.branch_to_here(b, "cbnz x10", "non-zero: goto do_fexit")
    if branches:
        a.note("do_fexit:")
    for kind, i, link in links:
        if kind == 1:
            _invoke(a, req, i, link, bargs_off, retval_off, run_ctx_off, False, "fexit")
    ip_epilogue = None
    if req.call_orig:
        ip_epilogue = a.off
        a.seq(emit_a64_mov_i64("x0", req.im_addr), "arg1: im")
        a.call(req.hooks.tramp_exit_addr, "__bpf_tramp_exit")
    if req.restore_regs:
        a.note("RESTORE_REGS")
        for r in range(regs_for_args):
            a.i(f"ldr x{r}, [sp, #{bargs_off + 8 * r:#x}]")
    a.note("epilogue")
    a.i(f"ldr x19, [sp, #{regs_off:#x}]")
    a.i(f"ldr x20, [sp, #{regs_off + 8:#x}]")
    if req.save_ret:
        a.i(f"ldr x0, [sp, #{retval_off:#x}]", "x0 = return slot")
    a.i("mov sp, x29")
    a.i("ldp x29, x30, [sp], #16")
    a.i("ldp x29, x9, [sp], #16")
    if req.skip_frame:
        a.i("mov x30, x9", "SKIP_FRAME: return to the caller")
        a.i("ret x9")
    else:
        a.i("mov x10, x30", "return into the patched function")
        a.i("mov x30, x9")
        a.i("ret x10")

    frame = [FrameSlot(stack_size + 32, 8 * stack_slots, "stack arguments")] if stack_slots else []
    frame += [FrameSlot(stack_size + 16, 16, "parent frame record (fp, x9)"),
              FrameSlot(stack_size, 16, "patched function's frame record (fp, lr)  <- x29"),
              FrameSlot(regs_off, 16, "saved x19, x20")]
    if req.save_ret:
        frame.append(FrameSlot(retval_off, 8, f"return value = ctx[{nfuncargs}]"))
    frame.append(FrameSlot(bargs_off, 8 * nfuncargs, f"ctx[0..{nfuncargs - 1}]  <- R1"))
    frame.append(FrameSlot(nfuncargs_off, 8, "ctx[-1] = slot count"))
    if req.ip_arg:
        frame.append(FrameSlot(ip_off, 8, "ctx[-2] = IP"))
    frame.append(FrameSlot(run_ctx_off, RUN_CTX_SIZE, "struct bpf_tramp_run_ctx"))
    if req.call_orig and stack_slots:
        frame.append(FrameSlot(0, 8 * stack_slots, "stack arguments for the original"))
    regs = "[" + ", ".join(f"${r}" for r in range(regs_for_args)) + "]"
    plan = ExecPlan(tuple(exprs), regs, "stack", regs)
    return ArchBuild(tuple(a.render()), a.off, None, tuple(frame), "sp", plan, ip_after_call, ip_epilogue)


arm64_tramp_ops = ArchTrampOps("arm64", BPF_MAX_TRAMP_LINKS["arm64"], build, True,
                               "arch/arm64/net/bpf_jit_comp.c prepare_trampoline")
