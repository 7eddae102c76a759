"""A BPF program as a trampoline target: fentry/fexit on another program (attach_prog_fd;
kernel/bpf/trampoline.c with a tgt_prog, arch/x86/net/bpf_jit_comp.c's patchable program
entry, bpf_arch_text_poke).

On Linux the JIT starts every program with a 5-byte nop; attaching an fentry/fexit program to
it makes that nop a call into a trampoline image built for the target's BTF prototype (the
main program's ``int prog(struct __sk_buff *skb)``: one pointer argument, the ctx). kernelsim
interprets programs, so the patchable entry is ``prog.bpf_func``: ``bpf_prog_func_get`` puts
an entry in front of the target's execution tier that, while the trampoline has an image, hands
the ctx (R1) to the image as the first native argument register (any further argument of the
model, e.g. the 5-u64 fallback, is 0: the interpreter's entry has only the ctx); the image saves them as the u64 ctx array, runs the fentry programs, the original
program (``BpfProgFunc.orig_native``) and the fexit programs, which see its R0 as the return
value. Tail calls into the target do not come through here, as on Linux (they jump past the
nop).

``BpfProgFunc`` stands for the KernelFunction of a kernel target in BpfTrampoline (invented
name): ``name``, ``model``, ``addr``, ``orig_native``, ``direct``/``direct_addr`` (ftrace.py's
direct call), ``trampoline``. Its address is invented too (programs have no kallsyms address
here): ``BPF_PROG_TEXT`` plus a page per program ID, what bpf_get_func_ip returns.

Only the main program's entry can be patched: the interpreter calls subprograms inside one run
(no per-subprogram entry), so attaching to a subprogram is ENOTSUPP (a known limitation,
docs/tracing.md).
"""

import errno

from ..errors import BpfError

ENOTSUPP = 524
# Invented: where program text would sit (the x86-64 module area, above the trampoline images).
BPF_PROG_TEXT = {"x86_64": 0xFFFFFFFFC0000000, "arm64": 0xFFFF800040000000,
                 "riscv64": 0xFFFFFFFF41000000, "s390x": 0x000003FFC0000000, "i386": 0xFA000000}
PROG_TEXT_STRIDE = 0x1000


def bpf_prog_func_addr(kernel, prog, subprog: int = 0) -> int:
    """The (invented) text address of ``prog``'s subprogram ``subprog``: tgt_prog->bpf_func,
    or aux->func[subprog]->bpf_func (8 bytes per instruction from the program's page)."""
    starts = prog.aux.subprog_starts or [0]
    off = starts[subprog] * 8 if subprog < len(starts) else 0
    base = BPF_PROG_TEXT.get(kernel.arch, BPF_PROG_TEXT["x86_64"])
    return base + PROG_TEXT_STRIDE * prog.id + off


class BpfProgFunc:
    """The target of a trampoline keyed on ``tgt_prog->aux->id << 32 | btf_id`` (module doc)."""

    def __init__(self, kernel, prog, subprog: int, name: str, btf_id: int, model, addr: int):
        self.kernel = kernel
        self.prog = prog                  # the target program (a link holds its reference)
        self.subprog = subprog
        self.name = name                  # the FUNC's name in the target's BTF
        self.btf_id = btf_id
        self.model = model
        self.addr = addr
        self.direct = None                # image.run while the trampoline has an image
        self.direct_addr = None
        self.trampoline = None
        self.ftrace_ops = []              # no kprobes on program text
        self.tier = prog.bpf_func         # the execution tier the entry stands in front of
        self._runs = []                   # the target's run ctx per live traced run, innermost last
        self._encode_raw = self._orig = None

    def _call_path(self):
        from .native import make_call_path
        encode_raw, orig = make_call_path(self.model, self.kernel.arch, self._invoke)
        orig.__name__ = self.name
        self._encode_raw, self._orig = encode_raw, orig
        return encode_raw

    def orig_native(self):
        """The original program in native form for the image (``orig(regs, stack, mem)``)."""
        if self._orig is None:
            self._call_path()
        return self._orig

    def _invoke(self, cargs):
        """The original program on its C arguments: R1 (the ctx) is the first; the target's
        own run ctx is the one its entry was called with."""
        return self.tier(cargs[0] if cargs else 0, self._runs[-1])

    def entry(self, ctx: int, run) -> int:
        """The patched ``prog.bpf_func(ctx, run)``: through the image when there is one."""
        direct = self.direct
        if direct is None:
            return self.tier(ctx, run)
        from .call import TRAMPOLINE_COST_NS
        encode_raw = self._encode_raw or self._call_path()
        nargs = self.model.nr_args
        regs, stack, memory = encode_raw(([ctx] + [0] * (nargs - 1))[:nargs], 0)
        self.kernel.clock.advance(TRAMPOLINE_COST_NS)
        self._runs.append(run)
        try:
            return direct(regs, stack, memory)
        finally:
            self._runs.pop()

    def __repr__(self) -> str:
        return f"<BpfProgFunc {self.name} of prog {self.prog.id}>"


def bpf_prog_func_get(kernel, tgt_prog, tgt) -> BpfProgFunc:
    """A BpfProgFunc for a trampoline about to be created on ``tgt_prog`` (called by
    bpf_tracing_prog_attach; ``tgt`` is bpf_check_attach_target's answer), with the program's
    entry patched. ENOTSUPP: a subprogram (module doc)."""
    subprog = tgt.subprog
    if subprog != 0:
        raise BpfError(ENOTSUPP, f"fentry/fexit on subprogram {tgt.tgt_name} of prog "
                                 f"{tgt_prog.id} is not simulated (only the main program's entry)")
    if tgt_prog.bpf_func is None:
        raise BpfError(errno.EINVAL, "Can attach to only JITed progs")
    fn = BpfProgFunc(kernel, tgt_prog, subprog, tgt.tgt_name, 0, tgt.fmodel, tgt.tgt_addr)
    tgt_prog.bpf_func = fn.entry
    return fn


def bpf_prog_func_put(fn: BpfProgFunc) -> None:
    """The trampoline is gone: the program's entry calls its tier directly again."""
    if fn.prog.bpf_func == fn.entry:
        fn.prog.bpf_func = fn.tier

