"""s390x trampolines: an assembly listing laid out like __arch_prepare_bpf_trampoline
(arch/s390/net/bpf_jit_comp.c), with each instruction's real length (2, 4 or 6 bytes).

The traced function's 6-byte ``brasl %r0,<trampoline>`` leaves %r14 = return into its caller;
%r8 = func + 6 is the body. Frame (%r15-relative, after ``aghi %r15,-stack_size``)::

    stack_size + 160 ...   stack arguments of the traced call (orig_stack_args_off)
    152                    backchain
    stack_args_off         stack arguments for calling the original
    reg_args_off           copy of %r2-%r6 (restored for the original / RESTORE_REGS)
    ip_off                 ctx[-2] = traced function                 (slot always there)
    arg_cnt_off            ctx[-1] = argument slot count
    bpf_args_off ...       ctx[0 ..]                                 (R1 = %r15 + bpf_args_off)
    retval_off             return value
    r7_r8_off              saved %r7 (start time), %r8 (function body)
    run_ctx_off            struct bpf_tramp_run_ctx
    tccnt_off              tail call counter
    r14_off                saved %r14

Arguments: one register (r2-r6) or stack word per C argument; anything over 8 bytes is passed by
reference and copied into two ctx slots (mvc 16). A by-value struct of 3, 5, 6 or 7 bytes is also
by reference in the ABI but the JIT would store the pointer: we refuse it (ENOTSUPP, deliberate).
An fmod_ret r0 is sign- or zero-extended by the return type (sign_zero_extend). Indirect calls
use ``basr %r14,%r1`` (no expolines).
"""

from btf.func_model import BTF_FMODEL_SIGNED_ARG

from .asm import Asm
from .callconv import place_args
from .defs import BPF_MAX_TRAMP_LINKS, EINVAL, ENOTSUPP, TrampolineError
from .records import ArchBuild, ArchTrampOps, ExecPlan, FrameSlot, TrampRequest

STACK_FRAME_OVERHEAD = 160
MAX_NR_REG_ARGS = 5
MAX_NR_STACK_ARGS = 256 // 8
S390X_PATCH_SIZE = 6
RUN_CTX_SIZE = 16
U64 = (1 << 64) - 1


class S390(Asm):
    def i(self, text: str, size: int, comment: str = "") -> int:
        return self.emit(text, size, comment)

    def load_imm64(self, reg: str, val: int, comment: str = "") -> None:
        val &= U64
        self.i(f"llihf {reg},{val >> 32:#x}", 6, comment)
        self.i(f"oilf {reg},{val & 0xFFFFFFFF:#x}", 6)

    def call_r1(self, comment: str = "") -> None:
        self.i("basr %r14,%r1", 2, comment)


def _ext(size: int, signed: bool) -> str:
    return {1: ("lgbr", "llgcr"), 2: ("lghr", "llghr"), 4: ("lgfr", "llgfr")}[size][0 if signed else 1]


def _invoke(a: S390, req, i, link, tj, save_ret, kind):
    label = req.link_label(i, link)
    a.note(f"{kind} {label}: cookie {link.cookie:#x}")
    a.load_imm64("%r0", link.cookie, "%r0 = cookie")
    a.i(f"stg %r0,{tj['run_ctx_off']}(%r15)", 6, "run_ctx.bpf_cookie")
    a.load_imm64("%r1", req.hooks.enter_addr, req.hooks.enter_name)
    a.load_imm64("%r2", req.prog_addr(i, link), f"arg1: struct bpf_prog *{label}")
    a.i(f"la %r3,{tj['run_ctx_off']}(%r15)", 4, "arg2: &run_ctx")
    a.call_r1()
    a.i("ltgr %r7,%r2", 4, "%r7 = start time")
    branch = a.i("brcl 8,0", 6)
    a.load_imm64("%r1", req.bpf_func_addr(i, link), f"{label}->bpf_func")
    a.i(f"la %r2,{tj['bpf_args_off']}(%r15)", 4, "R1 = ctx")
    if link.insnsi is not None:
        a.load_imm64("%r3", link.insnsi, "insnsi (interpreter)")
    a.call_r1()
    if save_ret:
        m = req.model
        if m.ret_size in (1, 2, 4):
            a.i(f"{_ext(m.ret_size, bool(m.ret_flags & BTF_FMODEL_SIGNED_ARG))} %r2,%r2", 4,
                "sign_zero_extend by the return type")
        a.i(f"stg %r2,{tj['retval_off']}(%r15)", 6, "return slot = r0")
    a.patch(branch, f"brcl 8,{a.base + a.off:#x}", comment="0: skip the program")
    a.load_imm64("%r1", req.hooks.exit_addr, req.hooks.exit_name)
    a.load_imm64("%r2", req.prog_addr(i, link), "arg1: prog")
    a.i("lgr %r3,%r7", 4, "arg2: start")
    a.i(f"la %r4,{tj['run_ctx_off']}(%r15)", 4, "arg3: &run_ctx")
    a.call_r1()


def build(req: TrampRequest) -> ArchBuild:
    """The s390x generator (called by core.arch_prepare_bpf_trampoline)."""
    m = req.model
    pl = place_args(m, "s390x")
    nr_reg_args = min(m.nr_args, MAX_NR_REG_ARGS)
    nr_stack_args = m.nr_args - nr_reg_args
    # ENOTSUPP: more stack arguments than one mvc can copy.
    if nr_stack_args > MAX_NR_STACK_ARGS:
        raise TrampolineError(ENOTSUPP, f"{nr_stack_args} stack arguments")
    nr_bpf_args = 0
    for loc in pl.args:
        # ENOTSUPP: arguments over 16 bytes (cannot come from distill).
        if loc.size > 16:
            raise TrampolineError(ENOTSUPP, f"arg{loc.index}: {loc.size} bytes")
        # ENOTSUPP (ours, deliberate): a by-reference struct of <= 8 bytes.
        if loc.by_ref and loc.size <= 8:
            raise TrampolineError(ENOTSUPP, f"arg{loc.index}: {loc.size}-byte struct is passed by "
                                            "reference on s390x")
        nr_bpf_args += 1 if loc.size <= 8 else 2
    # EINVAL: sign_zero_extend has no case for this return size (fmod_ret stores r0).
    if req.fmod_ret and m.ret_size not in (1, 2, 4, 8):
        raise TrampolineError(EINVAL, f"fmod_ret with a {m.ret_size}-byte return value")
    tj = {}
    size = STACK_FRAME_OVERHEAD

    def alloc(name, n):
        nonlocal size
        tj[name] = size
        size += n

    tj["backchain_off"] = size - 8
    alloc("stack_args_off", 8 * nr_stack_args)
    alloc("reg_args_off", 8 * nr_reg_args)
    alloc("ip_off", 8)
    alloc("arg_cnt_off", 8)
    alloc("bpf_args_off", 8 * nr_bpf_args)
    alloc("retval_off", 8)
    alloc("r7_r8_off", 16)
    alloc("run_ctx_off", RUN_CTX_SIZE)
    alloc("tccnt_off", 8)
    alloc("r14_off", 16)
    stack_size = size - (STACK_FRAME_OVERHEAD - 8)
    orig_stack_args_off = stack_size + STACK_FRAME_OVERHEAD

    a = S390(req.image_addr)
    a.note("prologue")
    a.i("lgr %r1,%r15", 4)
    a.i(f"aghi %r15,-{stack_size}", 4, f"stack_size = {stack_size}")
    a.i(f"stg %r1,{tj['backchain_off']}(%r15)", 6, "backchain")
    a.i(f"mvc {tj['tccnt_off']}(4,%r15),{stack_size}+STK_OFF_TCCNT(%r15)", 6, "tail call counter")
    if nr_reg_args:
        a.i(f"stmg %r2,%r{1 + nr_reg_args},{tj['reg_args_off']}(%r15)", 6, "copy of the argument registers")
    a.note(f"ctx = %r15 + {tj['bpf_args_off']}")
    exprs, prelude = [], []
    j = 0
    for loc in pl.args:
        off = tj["bpf_args_off"] + 8 * j
        p = loc.pieces[0]
        src = f"regs[{p.index}]" if p.loc == "reg" else f"stack[{p.index}]"
        where = f"%r{2 + p.index}" if p.loc == "reg" else f"{orig_stack_args_off + 8 * p.index}(%r15)"
        if loc.size <= 8:
            if p.loc == "reg":
                a.i(f"stg {where},{off}(%r15)", 6, f"ctx[{j}]")
            else:
                a.i(f"mvc {off}(8,%r15),{where}", 6, f"ctx[{j}]")
            exprs.append(src)
            j += 1
        else:
            if p.loc == "reg":
                a.i(f"mvc {off}(16,%r15),0({where})", 6, f"ctx[{j}..{j + 1}] = *arg{loc.index}")
            else:
                a.i(f"lg %r1,{where}", 6, f"pointer to arg{loc.index}")
                a.i(f"mvc {off}(16,%r15),0(%r1)", 6, f"ctx[{j}..{j + 1}]")
            prelude.append(f"b{loc.index} = mem[{src}]")
            exprs.append(f"int.from_bytes(b{loc.index}[0:8].ljust(8, b'\\0'), 'big')")
            exprs.append(f"int.from_bytes(b{loc.index}[8:16].ljust(8, b'\\0'), 'big')")
            j += 2
    a.i(f"stmg %r7,%r8,{tj['r7_r8_off']}(%r15)", 6, "save %r7, %r8")
    a.i(f"stg %r14,{tj['r14_off']}(%r15)", 6, "save %r14")
    a.load_imm64("%r8", req.func_addr + S390X_PATCH_SIZE, "%r8 = function body")
    if req.ip_arg:
        a.load_imm64("%r0", req.func_addr, "IP_ARG")
        a.i(f"stg %r0,{tj['ip_off']}(%r15)", 6, "ctx[-2]")
    a.i(f"lghi %r0,{nr_bpf_args}", 4, "argument slot count")
    a.i(f"stg %r0,{tj['arg_cnt_off']}(%r15)", 6, "ctx[-1]")
    if req.call_orig:
        a.load_imm64("%r1", req.hooks.tramp_enter_addr, "__bpf_tramp_enter")
        a.load_imm64("%r2", req.im_addr, "arg1: im")
        a.call_r1()
    links = req.all_links()
    for kind, i, link in links:
        if kind == 0:
            _invoke(a, req, i, link, tj, False, "fentry")
    branches = []
    if req.fmod_ret:
        a.i(f"xc {tj['retval_off']}(8,%r15),{tj['retval_off']}(%r15)", 6, "fmod_ret: return slot = 0")
        for kind, i, link in links:
            if kind == 2:
                _invoke(a, req, i, link, tj, True, "fmod_ret")
                a.i(f"ltg %r0,{tj['retval_off']}(%r15)", 6, "return slot")
                branches.append(a.i("brcl 7,do_fexit", 6, "non-zero: goto do_fexit"))
    ip_after_call = None
    if req.call_orig:
        a.note("call the original body")
        if nr_reg_args:
            a.i(f"lmg %r2,%r{1 + nr_reg_args},{tj['reg_args_off']}(%r15)", 6, "argument registers")
        if nr_stack_args:
            a.i(f"mvc {tj['stack_args_off']}({8 * nr_stack_args},%r15),{orig_stack_args_off}(%r15)", 6,
                "stack arguments")
        a.i(f"mvc STK_OFF_TCCNT(4,%r15),{tj['tccnt_off']}(%r15)", 6)
        a.i("lgr %r1,%r8", 4)
        a.call_r1(f"{req.name or 'func'}+6")
        a.i(f"stg %r2,{tj['retval_off']}(%r15)", 6, "return slot = %r2")
        ip_after_call = a.off
        a.i("brcl 0,ip_epilogue", 6, "im->ip_after_call (nop)")
    for b in branches:
        a.patch(b, f"brcl 7,{a.base + a.off:#x}", comment="non-zero: goto do_fexit")
    a.note("do_fexit:")
    for kind, i, link in links:
        if kind == 1:
            _invoke(a, req, i, link, tj, False, "fexit")
    ip_epilogue = None
    if req.call_orig:
        ip_epilogue = a.off
        a.load_imm64("%r1", req.hooks.tramp_exit_addr, "__bpf_tramp_exit")
        a.load_imm64("%r2", req.im_addr, "arg1: im")
        a.call_r1()
    a.note("epilogue")
    if req.restore_regs and nr_reg_args:
        a.i(f"lmg %r2,%r{1 + nr_reg_args},{tj['reg_args_off']}(%r15)", 6, "RESTORE_REGS")
    if not req.skip_frame:
        a.i("lgr %r1,%r8", 4, "return into the body")
    a.i(f"lmg %r7,%r8,{tj['r7_r8_off']}(%r15)", 6)
    a.i(f"lg %r14,{tj['r14_off']}(%r15)", 6)
    if req.save_ret:
        a.i(f"lg %r2,{tj['retval_off']}(%r15)", 6, "%r2 = return slot")
    a.i(f"mvc {stack_size}+STK_OFF_TCCNT(4,%r15),{tj['tccnt_off']}(%r15)", 6)
    a.i(f"aghi %r15,{stack_size}", 4)
    a.i("br %r14" if req.skip_frame else "br %r1", 2,
        "return to the caller" if req.skip_frame else "into the traced function")

    frame = []
    if nr_stack_args:
        frame.append(FrameSlot(orig_stack_args_off, 8 * nr_stack_args, "stack arguments of the call"))
    frame.append(FrameSlot(stack_size, 8, "caller's frame (backchain)"))
    names = [("r14_off", "saved %r14"), ("tccnt_off", "tail call counter"),
             ("run_ctx_off", "struct bpf_tramp_run_ctx"), ("r7_r8_off", "saved %r7, %r8"),
             ("retval_off", f"return value = ctx[{nr_bpf_args}]"),
             ("bpf_args_off", f"ctx[0..{nr_bpf_args - 1}]  <- R1"), ("arg_cnt_off", "ctx[-1] = slot count"),
             ("ip_off", "ctx[-2] = IP"), ("reg_args_off", "copy of %r2-%r6"),
             ("stack_args_off", "stack arguments for the original")]
    for key, what in names:
        frame.append(FrameSlot(tj[key], 8, what))
    frame.append(FrameSlot(tj["backchain_off"], 8, "backchain"))
    if m.ret_size in (1, 2, 4):
        bits = 8 * m.ret_size
        if m.ret_flags & BTF_FMODEL_SIGNED_ARG:
            fix = f"(((({{r}}) & {(1 << bits) - 1:#x}) ^ {1 << (bits - 1):#x}) - {1 << (bits - 1):#x}) & {U64:#x}"
        else:
            fix = f"({{r}}) & {(1 << bits) - 1:#x}"
    else:
        fix = "{r} & 0xFFFFFFFFFFFFFFFF"
    plan = ExecPlan(tuple(exprs), "regs", "stack", "regs", fix, tuple(prelude))
    return ArchBuild(tuple(a.render()), a.off, None, tuple(frame), "%r15", plan, ip_after_call, ip_epilogue)


s390x_tramp_ops = ArchTrampOps("s390x", BPF_MAX_TRAMP_LINKS["s390x"], build, True,
                               "arch/s390/net/bpf_jit_comp.c __arch_prepare_bpf_trampoline")
