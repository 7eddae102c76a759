"""Rewrites after a successful verification (kernel/bpf/verifier.c sanitize_dead_code,
opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops, do_misc_fixups).

What we do: instructions the walk never reached are replaced by ``goto pc-1`` (the kernel's
``sanitize_dead_code`` for unprivileged loaders, a trap that can never run), and the result is
``prog.insnsi`` (what ``bpftool prog dump xlated`` shows, map fds already replaced by map
addresses). What we do not do, by design (documented in docs/verifier.md): privileged loaders'
dead-code *removal* and nop removal (Linux shortens the program; we keep its length, so xlated
dumps of programs with dead code differ; map loads are converted to plain 64-bit immediates
as convert_pseudo_ld_imm64 does), the divide-by-zero and sdiv patches (the interpreter
implements the patched semantics directly), the inlining of bpf_get_func_arg / get_func_ret /
get_func_arg_cnt / get_func_ip and of bpf_loop (the interpreter calls the helpers, whose results
are the same), and the tail-call rewrite (the interpreter handles helper 12 itself).
"""

from ..isa.insn import BpfInsn

BPF_JA_TRAP = BpfInsn(0x05, 0, 0, -1, 0)


def sanitize_dead_code(env) -> list[BpfInsn]:
    out = list(env.insns)
    for i, aux in enumerate(env.insn_aux):
        if not aux.seen:
            out[i] = BPF_JA_TRAP
    return out


def convert_pseudo_ld_imm64(insns: list[BpfInsn]) -> list[BpfInsn]:
    """verifier.c convert_pseudo_ld_imm64: map (and ksym) loads become plain 64-bit immediates
    holding the resolved address; BPF_PSEUDO_FUNC stays (the interpreter resolves callbacks)."""
    out = list(insns)
    for i, insn in enumerate(out):
        if insn.code == 0x18 and insn.src not in (0, 4):
            out[i] = BpfInsn(insn.code, insn.dst, 0, insn.off, insn.imm)
    return out


def run_fixups(env) -> None:
    """Called by bpf_check after check_max_stack_depth; sets env.xlated."""
    env.xlated = convert_pseudo_ld_imm64(sanitize_dead_code(env))
