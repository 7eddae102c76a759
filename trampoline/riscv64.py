"""riscv64 trampolines: an assembly listing laid out like __arch_prepare_bpf_trampoline
(arch/riscv/net/bpf_jit_comp64.c). Sizes count 4-byte instructions (no RVC compression).

Patched entry: ``auipc t0, ..; jalr t0, ..`` so t0 is the return address into the function and ra
the one into its caller. Frame (FP-relative)::

    FP + 16 ...          stack arguments of the traced call (ctx slots 8 and up)
    FP + 8 / FP + 0      ra / fp of the parent (the traced function's frame)
    FP - 8 / FP - 16     t0 / fp of the traced function (the trampoline's frame record)
    FP - retval_off      return value (a0), then BPF R0 (a5)     CALL_ORIG
    FP - args_off ...    ctx[0 ..]                               (R1 = FP - args_off)
    FP - nregs_off       ctx[-1] = argument slot count
    FP - ip_off          ctx[-2] = traced function               IP_ARG
    FP - run_ctx_off     struct bpf_tramp_run_ctx
    FP - sreg_off        saved s1 (start time)
    FP - stk_arg_off     stack arguments for the original        CALL_ORIG, > 8 slots

Argument slots map one to one onto a0-a7 then the stack (store_args), so a 2-slot struct may be
split between a7 and the stack, as the psABI does.
"""

from .asm import Asm
from .callconv import place_args
from .defs import BPF_MAX_TRAMP_LINKS, E2BIG, TrampolineError
from .records import ArchBuild, ArchTrampOps, ExecPlan, FrameSlot, TrampRequest

RV_MAX_REG_ARGS = 8
RUN_CTX_SIZE = 16


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def emit_imm(rd: str, val: int) -> list[str]:
    """The lui/addiw/slli/addi sequence of emit_imm (arch/riscv/net/bpf_jit_comp64.c)."""
    val = _s64(val)
    upper = (val + (1 << 11)) >> 12
    lower = ((val & 0xFFF) ^ 0x800) - 0x800
    if -(1 << 31) <= val < (1 << 31):
        if not upper:
            return [f"li {rd}, {lower}"]
        return [f"lui {rd}, {upper & 0xFFFFF:#x}", f"addiw {rd}, {rd}, {lower}"]
    shift = (upper & -upper).bit_length() - 1
    upper >>= shift
    shift += 12
    out = emit_imm(rd, upper) + [f"slli {rd}, {rd}, {shift}"]
    if lower:
        out.append(f"addi {rd}, {rd}, {lower}")
    return out


class RV(Asm):
    def i(self, text: str, comment: str = "") -> int:
        return self.emit(text, 4, comment)

    def seq(self, texts, comment: str = "") -> None:
        for n, t in enumerate(texts):
            self.i(t, comment if n == 0 else "")

    def call(self, target: int, comment: str) -> None:
        """emit_call: auipc t1 + jalr ra (the size pass always reserves the pair)."""
        off = _s64(target - self.ip)
        hi = ((off + (1 << 11)) >> 12) & 0xFFFFF
        lo = ((off & 0xFFF) ^ 0x800) - 0x800
        self.i(f"auipc t1, {hi:#x}", comment)
        self.i(f"jalr ra, {lo}(t1)", f"-> {target & ((1 << 64) - 1):#x}")

    def sd(self, rs: str, off: int, base: str, comment: str = "") -> None:
        if not -2048 <= off < 2048:
            raise TrampolineError(E2BIG, "riscv64 trampoline frame too large")
        self.i(f"sd {rs}, {off}({base})", comment)

    def ld(self, rd: str, off: int, base: str, comment: str = "") -> None:
        self.i(f"ld {rd}, {off}({base})", comment)


def _invoke(a: RV, req, i, link, args_off, retval_off, run_ctx_off, save_ret, kind):
    label = req.link_label(i, link)
    a.note(f"{kind} {label}: cookie {link.cookie:#x}")
    if link.cookie:
        a.seq(emit_imm("t1", link.cookie), "t1 = cookie")
        a.sd("t1", -run_ctx_off, "fp", "run_ctx.bpf_cookie")
    else:
        a.sd("zero", -run_ctx_off, "fp", "run_ctx.bpf_cookie = 0")
    a.seq(emit_imm("a0", req.prog_addr(i, link)), f"arg1: struct bpf_prog *{label}")
    a.i(f"addi a1, fp, {-run_ctx_off}", "arg2: &run_ctx")
    a.call(req.hooks.enter_addr, req.hooks.enter_name)
    a.i("mv s1, a0", "s1 = start time")
    branch = a.i("nop")
    a.i(f"addi a0, fp, {-args_off}", "R1 = ctx")
    if link.insnsi is not None:
        a.seq(emit_imm("a1", link.insnsi), "arg2: insnsi (interpreter)")
    a.call(req.bpf_func_addr(i, link), f"{label}->bpf_func(ctx)")
    if save_ret:
        a.sd("a0", -retval_off, "fp", "return slot = a0")
        a.sd("a5", -(retval_off - 8), "fp", "and BPF R0")
    a.patch(branch, f"beq a0, zero, {a.base + a.off:#x}", comment="skip the program")
    a.seq(emit_imm("a0", req.prog_addr(i, link)), "arg1: prog")
    a.i("mv a1, s1", "arg2: start")
    a.i(f"addi a2, fp, {-run_ctx_off}", "arg3: &run_ctx")
    a.call(req.hooks.exit_addr, req.hooks.exit_name)


def build(req: TrampRequest) -> ArchBuild:
    """The riscv64 generator (called by core.arch_prepare_bpf_trampoline)."""
    place_args(req.model, "riscv64")
    nr_arg_slots = sum((s + 7) // 8 for s in req.model.arg_size)
    stack_size = 16
    retval_off = 0
    if req.save_ret:
        stack_size += 16
        retval_off = stack_size
    stack_size += 8 * nr_arg_slots
    args_off = stack_size
    stack_size += 8
    nregs_off = stack_size
    ip_off = 0
    if req.ip_arg:
        stack_size += 8
        ip_off = stack_size
    stack_size += RUN_CTX_SIZE
    run_ctx_off = stack_size
    stack_size += 8
    sreg_off = stack_size
    nstack = max(nr_arg_slots - RV_MAX_REG_ARGS, 0)
    if req.call_orig and nstack:
        stack_size += 8 * nstack
    stack_size = (stack_size + 15) & ~15
    stk_arg_off = stack_size
    orig_call = req.func_addr + (8 if req.skip_frame else 0)

    a = RV(req.image_addr)
    a.note("prologue: frame records of the traced function and of the trampoline")
    a.i("addi sp, sp, -16")
    a.sd("ra", 8, "sp", "parent's return address")
    a.sd("fp", 0, "sp")
    a.i("addi fp, sp, 16")
    a.i(f"addi sp, sp, {-stack_size}", f"stack_size = {stack_size}")
    a.sd("t0", stack_size - 8, "sp", "return address into the traced function")
    a.sd("fp", stack_size - 16, "sp")
    a.i(f"addi fp, sp, {stack_size}")
    a.sd("s1", -sreg_off, "fp", "save s1")
    if req.ip_arg:
        a.seq(emit_imm("t1", req.func_addr), "IP_ARG")
        a.sd("t1", -ip_off, "fp", "ctx[-2]")
    a.i(f"li t1, {nr_arg_slots}", "argument slot count")
    a.sd("t1", -nregs_off, "fp", "ctx[-1]")
    a.note(f"store_args: ctx = fp - {args_off}")
    exprs = []
    off = args_off
    for s in range(nr_arg_slots):
        if s < RV_MAX_REG_ARGS:
            a.sd(f"a{s}", -off, "fp", f"ctx[{s}]")
            exprs.append(f"regs[{s}]")
        else:
            a.ld("t1", 16 + 8 * (s - RV_MAX_REG_ARGS), "fp", f"stack word {s - RV_MAX_REG_ARGS}")
            a.sd("t1", -off, "fp", f"ctx[{s}]")
            exprs.append(f"stack[{s - RV_MAX_REG_ARGS}]")
        off -= 8
    if req.call_orig:
        a.seq(emit_imm("a0", req.im_addr), "arg1: im")
        a.call(req.hooks.tramp_enter_addr, "__bpf_tramp_enter")
    links = req.all_links()
    for kind, i, link in links:
        if kind == 0:
            _invoke(a, req, i, link, args_off, retval_off, run_ctx_off, False, "fentry")
    branches = []
    if req.fmod_ret:
        a.sd("zero", -retval_off, "fp", "fmod_ret: return slot = 0")
        for kind, i, link in links:
            if kind == 2:
                _invoke(a, req, i, link, args_off, retval_off, run_ctx_off, True, "fmod_ret")
                a.ld("t1", -retval_off, "fp", "return slot")
                branches.append(a.i("nop"))
    ip_after_call = None
    nreg = min(nr_arg_slots, RV_MAX_REG_ARGS)
    if req.call_orig:
        a.note("restore_args + restore_stack_args, call the original body")
        for s in range(nreg):
            a.ld(f"a{s}", -(args_off - 8 * s), "fp")
        for k in range(nstack):
            a.ld("t1", -(args_off - 8 * RV_MAX_REG_ARGS - 8 * k), "fp")
            a.sd("t1", -(stk_arg_off - 8 * k), "fp", "outgoing stack argument")
        a.call(orig_call, f"{req.name or 'func'}+8 (its body)")
        a.sd("a0", -retval_off, "fp", "return slot = a0")
        a.sd("a5", -(retval_off - 8), "fp")
        ip_after_call = a.off
        a.i("nop", "im->ip_after_call (auipc)")
        a.i("nop", "(jalr)")
    for b in branches:
        a.patch(b, f"bne t1, zero, {a.base + a.off:#x}", comment="non-zero: goto do_fexit")
    if branches:
        a.note("do_fexit:")
    for kind, i, link in links:
        if kind == 1:
            _invoke(a, req, i, link, args_off, retval_off, run_ctx_off, False, "fexit")
    ip_epilogue = None
    if req.call_orig:
        ip_epilogue = a.off
        a.seq(emit_imm("a0", req.im_addr), "arg1: im")
        a.call(req.hooks.tramp_exit_addr, "__bpf_tramp_exit")
    if req.restore_regs:
        a.note("RESTORE_REGS")
        for s in range(nreg):
            a.ld(f"a{s}", -(args_off - 8 * s), "fp")
    a.note("epilogue")
    if req.save_ret:
        a.ld("a0", -retval_off, "fp", "a0 = return slot")
        a.ld("a5", -(retval_off - 8), "fp")
    a.ld("s1", -sreg_off, "fp")
    a.ld("t0", stack_size - 8, "sp")
    a.ld("fp", stack_size - 16, "sp")
    a.i(f"addi sp, sp, {stack_size}")
    a.ld("ra", 8, "sp")
    a.ld("fp", 0, "sp")
    a.i("addi sp, sp, 16")
    a.i("jalr zero, 0(ra)" if req.skip_frame else "jalr zero, 0(t0)",
        "return to the caller" if req.skip_frame else "return into the traced function")

    frame = [FrameSlot(16, 8 * nstack, "stack arguments")] if nstack else []
    frame += [FrameSlot(0, 16, "parent ra/fp"), FrameSlot(-16, 16, "t0/fp of the traced function")]
    if req.save_ret:
        frame.append(FrameSlot(-retval_off, 16, f"return value = ctx[{nr_arg_slots}], BPF R0"))
    if nr_arg_slots:
        frame.append(FrameSlot(-args_off, 8 * nr_arg_slots, f"ctx[0..{nr_arg_slots - 1}]  <- R1"))
    frame.append(FrameSlot(-nregs_off, 8, "ctx[-1] = slot count"))
    if req.ip_arg:
        frame.append(FrameSlot(-ip_off, 8, "ctx[-2] = IP"))
    frame.append(FrameSlot(-run_ctx_off, RUN_CTX_SIZE, "struct bpf_tramp_run_ctx"))
    frame.append(FrameSlot(-sreg_off, 8, "saved s1"))
    if req.call_orig and nstack:
        frame.append(FrameSlot(-stk_arg_off, 8 * nstack, "stack arguments for the original"))
    regs = "[" + ", ".join(f"${s}" for s in range(nreg)) + "]"
    stack = "[" + ", ".join(f"${RV_MAX_REG_ARGS + k}" for k in range(nstack)) + "]" if nstack else "stack"
    plan = ExecPlan(tuple(exprs), regs, stack, regs)
    return ArchBuild(tuple(a.render()), a.off, None, tuple(frame), "fp", plan, ip_after_call, ip_epilogue)


riscv64_tramp_ops = ArchTrampOps("riscv64", BPF_MAX_TRAMP_LINKS["riscv64"], build, True,
                                 "arch/riscv/net/bpf_jit_comp64.c __arch_prepare_bpf_trampoline")
