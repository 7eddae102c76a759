"""trampoline: calling conventions per architecture and the BPF trampoline generator.

A function model plus the attached links become an image: an assembly listing, x86-64 machine code
and an executable form (kernel/bpf/trampoline.c, arch/*/net/bpf_jit_comp.c). Imports only btf/.
The design is in docs/trampoline.md.

Entry points (all raise ``TrampolineError(errno, message)``; ENOTSUPP is 524)::

    flags = bpf_trampoline_flags(tlinks, ip_arg_needed=False, profile="newest")
    image = arch_prepare_bpf_trampoline(model, tlinks, flags, arch="x86_64", *, orig=None,
                hooks=None, runtime=None, profile="newest", func_addr=..., image_addr=...,
                image_size=None, im=None, im_addr=..., name="")
    raw = image.run(regs, stack, mem)          # or image.call(encode_call(model, arch, values))

``tlinks``: ``{BPF_TRAMP_FENTRY: [...], BPF_TRAMP_FEXIT: [...], BPF_TRAMP_MODIFY_RETURN: [...]}``
(or a list of three), each a list of ``BpfTrampLink`` in run order, NEWEST FIRST (the kernel
core inserts a new link at index 0, like hlist_add_head).

The runtime protocol (what the kernel core implements; ``runtime.SimpleRuntime`` is a reference):

``runtime.ctx_frame(nwords) -> frame``
    Called once per traced call, before anything else. Returns ``frame = (base, words)``: ``base``
    is the simulated address of word 0 (8-byte aligned, in memory the BPF program can load from,
    valid until released), ``words`` a writable sequence of ``nwords`` u64 (a memoryview cast to
    'Q' over the region's bytes, or a list for a runtime without memory) that the image stores
    into. The frame is ``[IP][nr_slots][ctx slots...][return value]``: IP only with
    BPF_TRAMP_F_IP_ARG, nr_slots only in the newest profile, the return slot only with
    BPF_TRAMP_F_CALL_ORIG; ``image.ctx_index`` is the word of ctx[0], so programs get
    R1 = base + 8 * ctx_index and ctx[-1], ctx[-2] sit just below it. Words not listed here are
    not written; in the 5.5 profile narrow arguments only write their low bytes (the rest is
    whatever the frame held: stale stack).
``runtime.release(frame)``
    Called exactly once per ctx_frame, with the same object, when the image is done with it:
    after the fexit programs (CALL_ORIG), or before "returning into" the traced function
    (fentry-only images call the original after releasing). Frames nest like a stack.

The callables the image calls:

``link.bpf_func(ctx)`` (or ``bpf_func(ctx, insnsi)`` for a link with ``insnsi``) -> r0
    A program. Its return value matters only for fmod_ret (stored, as u64, in the return slot).
``hooks.enter(prog, run_ctx) -> start`` / ``hooks.exit(prog, start, run_ctx)``
    Around every program, as __bpf_prog_enter_recur/__bpf_prog_exit_recur; ``prog`` is
    ``link.prog``; ``run_ctx`` a fresh ``BpfTrampRunCtx`` whose ``bpf_cookie`` is the link's
    cookie (None in 5.5). ``start == 0`` skips the program (newest profile only; 5.5 never skips:
    ``image.recursion_check`` is False) but exit still runs. A link with its own ``enter`` uses
    it and its own ``exit`` (or none). ``hooks.enter is None`` (the default) calls the programs
    directly: no hook calls, no run ctx (a simulator fast path: stats off, no recursion check).
``hooks.tramp_enter(im)`` / ``hooks.tramp_exit(im)``
    Around a CALL_ORIG image's work (__bpf_tramp_enter/exit), if given.
``orig(regs, stack, mem) -> raw``
    The traced function's body in native form: the kernel core wraps its Python implementation
    with ``callconv.decode_call`` / ``encode_ret``. Called with the registers the trampoline
    restored (narrow 5.5 arguments come back zero-extended) and the caller's stack words.
"""

from .callconv import (CALLING_CONVENTIONS, ArgLocation, ArgPiece, CallingConvention, CallPlacement,
                       NativeCall, decode_call, decode_ret, encode_call, encode_ret, normalize_arch,
                       place_args)
from .core import (ARCH_TRAMP_OPS, arch_bpf_trampoline_size, arch_prepare_bpf_trampoline,
                   bpf_max_tramp_links, bpf_trampoline_flags)
from .defs import (BPF_MAX_TRAMP_LINKS, BPF_MAX_TRAMP_PROGS, BPF_TRAMP_F, BPF_TRAMP_F_CALL_ORIG,
                   BPF_TRAMP_F_IP_ARG, BPF_TRAMP_F_RESTORE_REGS, BPF_TRAMP_F_SKIP_FRAME,
                   BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, ENOTSUPP, PAGE_SIZE,
                   BpfTrampFlags, BpfTrampProgType, TrampolineError)
from .listing import dummy_tlinks, trampoline_listing
from .page import TrampolinePage
from .records import (PROFILES, BpfTrampHooks, BpfTrampImage, BpfTrampLink, BpfTrampRunCtx,
                      TrampolineImage)
from .runtime import SimpleRuntime

__all__ = [
    "arch_prepare_bpf_trampoline", "arch_bpf_trampoline_size", "bpf_trampoline_flags",
    "bpf_max_tramp_links", "trampoline_listing", "dummy_tlinks", "ARCH_TRAMP_OPS",
    "TrampolineImage", "BpfTrampImage", "BpfTrampLink", "BpfTrampHooks", "BpfTrampRunCtx",
    "TrampolinePage", "SimpleRuntime", "PROFILES", "TrampolineError",
    "BpfTrampFlags", "BPF_TRAMP_F", "BPF_TRAMP_F_RESTORE_REGS", "BPF_TRAMP_F_CALL_ORIG",
    "BPF_TRAMP_F_SKIP_FRAME", "BPF_TRAMP_F_IP_ARG", "BpfTrampProgType", "BPF_TRAMP_FENTRY",
    "BPF_TRAMP_FEXIT", "BPF_TRAMP_MODIFY_RETURN", "BPF_MAX_TRAMP_LINKS", "BPF_MAX_TRAMP_PROGS",
    "ENOTSUPP", "PAGE_SIZE",
    "CALLING_CONVENTIONS", "CallingConvention", "CallPlacement", "ArgLocation", "ArgPiece",
    "NativeCall", "place_args", "encode_call", "decode_call", "encode_ret", "decode_ret",
    "normalize_arch",
]
