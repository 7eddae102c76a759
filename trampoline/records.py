"""The records the trampoline generator takes and returns (struct bpf_tramp_link, bpf_tramp_run_ctx,
bpf_tramp_image in include/linux/bpf.h), the two profiles, and the per-architecture ops table.

Names we invent (no kernel struct behind them) are said so in their docstrings: ``BpfTrampHooks``,
``TrampolineProfile``, ``FrameSlot``, ``ExecPlan``, ``TrampRequest``, ``ArchTrampOps``.
"""

from dataclasses import dataclass
from typing import Callable, Sequence

from btf.func_model import FuncModel

from .defs import (BPF_TRAMP_F_CALL_ORIG, BPF_TRAMP_F_IP_ARG, BPF_TRAMP_F_RESTORE_REGS,
                   BPF_TRAMP_F_SKIP_FRAME, BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT,
                   BPF_TRAMP_MODIFY_RETURN, PAGE_SIZE, BpfTrampFlags, BpfTrampProgType)

# Simulated addresses used when the caller gives none (x86-64 layout: kernel text, module/BPF
# area, direct map). They only matter for the machine code and the listings.
DEFAULT_FUNC_ADDR = 0xFFFFFFFF81000000        # the traced function
DEFAULT_IMAGE_ADDR = 0xFFFFFFFFA0000000       # the image (bpf_jit_alloc_exec area)
DEFAULT_IM_ADDR = 0xFFFF888100100000          # struct bpf_tramp_image (kmalloc)
DEFAULT_PROG_ADDR = 0xFFFF888101000000        # struct bpf_prog of link i: + 0x1000 * i
DEFAULT_BPF_FUNC_ADDR = 0xFFFFFFFFC0000000    # JITed image of link i: + 0x1000 * i
DEFAULT_INTERP_ADDR = 0xFFFFFFFF81300000      # __bpf_prog_run_interp (non-JITed programs)


@dataclass(frozen=True, slots=True, eq=False)
class BpfTrampLink:
    """One attachment as the generator sees it (struct bpf_tramp_link + the bpf_prog it holds)."""

    bpf_func: Callable[..., int]   # entry point: bpf_func(ctx_addr) -> r0, or
                                   # bpf_func(ctx_addr, insnsi) when insnsi is set (interpreter)
    prog: object = None            # opaque handle given to enter/exit (the kernel's BpfProg)
    cookie: int = 0                # bpf_cookie, stored into the run ctx before the call (5.17+)
    insnsi: int | None = None      # not JITed: the insnsi address, passed as a second argument
    prog_addr: int = 0             # simulated address of struct bpf_prog (0: a default per index)
    func_addr: int = 0             # simulated address of bpf_func (0: a default per index)
    enter: Callable[[object, object], int] | None = None   # overrides BpfTrampHooks.enter; then
    exit: Callable[[object, int, object], None] | None = None  # this exit is used (None: none)
    name: str = ""                 # for listing comments
    run_ctx_arg: bool = False      # bpf_func(ctx_addr, run_ctx): the executable form hands the
                                   # program the run ctx it just gave ``enter`` (invented: the
                                   # kernel's program finds it in current->bpf_ctx)


@dataclass(frozen=True, slots=True)
class BpfTrampHooks:
    """What the image calls around programs and the original (invented name: the kernel hard-codes
    __bpf_prog_enter*/exit* and __bpf_tramp_enter/exit in the generated code).

    ``enter(prog, run_ctx) -> start``: 0 means "skip this program" (recursion); the exit hook runs
    anyway, ``exit(prog, start, run_ctx)``, as invoke_bpf_prog does. ``enter=None`` is a simulator
    fast path: no hook calls and no run ctx (so no cookie), only the program calls.
    ``tramp_enter(im)`` / ``tramp_exit(im)`` bracket a CALL_ORIG image (the image refcount).
    ``new_run_ctx()`` makes the image's one run ctx (default ``BpfTrampRunCtx``): like the
    kernel's on-stack ``struct bpf_tramp_run_ctx``, a single object per image run serves its
    programs one after the other (the image stores each link's cookie into ``bpf_cookie``
    before that program's ``enter``).
    """

    enter: Callable[[object, object], int] | None = None
    exit: Callable[[object, int, object], None] | None = None
    tramp_enter: Callable[[object], None] | None = None
    tramp_exit: Callable[[object], None] | None = None
    enter_addr: int = 0xFFFFFFFF81200000        # __bpf_prog_enter_recur
    exit_addr: int = 0xFFFFFFFF81200100         # __bpf_prog_exit_recur
    tramp_enter_addr: int = 0xFFFFFFFF81200200  # __bpf_tramp_enter
    tramp_exit_addr: int = 0xFFFFFFFF81200300   # __bpf_tramp_exit
    enter_name: str = "__bpf_prog_enter_recur"
    exit_name: str = "__bpf_prog_exit_recur"
    new_run_ctx: Callable[[], object] | None = None


class BpfTrampRunCtx:
    """struct bpf_tramp_run_ctx: the on-stack run context of one program call. Mutable (it is a
    stack object the image fills in); ``enter`` typically installs it as current (the kernel's
    bpf_set_run_ctx) so bpf_get_attach_cookie can read ``bpf_cookie``."""

    __slots__ = ("bpf_cookie", "saved_run_ctx")

    def __init__(self):
        self.bpf_cookie = 0
        self.saved_run_ctx = None


@dataclass(frozen=True, slots=True)
class TrampolineProfile:
    """Which kernel's trampoline to build (invented name). See PROFILES."""

    name: str
    kinds: tuple[BpfTrampProgType, ...]   # the lists that exist
    flags: BpfTrampFlags                  # the flag bits that exist
    arches: tuple[str, ...]               # architectures with a trampoline in that kernel
    max_links: int | None                 # None: BPF_MAX_TRAMP_LINKS of the arch
    image_size: int                       # room for one image in bytes
    nr_regs_slot: bool                    # ctx[-1] holds the argument slot count
    run_ctx: bool                         # a bpf_tramp_run_ctx carries the cookie
    recursion_check: bool                 # enter() == 0 skips the program
    max_args: int                         # most C arguments (x86: 6 in 5.5)


PROFILES = {
    "newest": TrampolineProfile(
        "newest", (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN),
        BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME | BPF_TRAMP_F_IP_ARG,
        ("x86_64", "arm64", "riscv64", "s390x", "i386"), None, PAGE_SIZE, True, True, True, 12),
    "5.5": TrampolineProfile(
        "5.5", (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT),
        BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME,
        ("x86_64",), 40, PAGE_SIZE // 2, False, False, False, 6),
}


@dataclass(frozen=True, slots=True)
class FrameSlot:
    """One line of a frame diagram (invented name)."""

    offset: int          # bytes from the frame register (rbp, sp, fp, r15)
    size: int            # bytes
    what: str            # description


@dataclass(frozen=True, slots=True)
class ExecPlan:
    """How an architecture's image moves values, for the executable form (invented name).

    Expressions are Python over ``regs``, ``stack``, ``mem`` (the native call) and ``$k`` (ctx
    slot k, i.e. the frame word of argument slot k); ``$old`` is the slot being written.
    """

    slot_exprs: tuple[str, ...]   # value stored into each argument slot
    orig_regs: str                # register list the original is called with (CALL_ORIG)
    orig_stack: str               # stack list the original is called with
    restore_regs: str             # register list for returning into the function (RESTORE_REGS)
    ret_fixup: str = "{r} & 0xFFFFFFFFFFFFFFFF"   # an fmod_ret r0 -> the return slot
    prelude: tuple[str, ...] = ()                 # statements before the slot stores


@dataclass(frozen=True, slots=True)
class TrampRequest:
    """The normalized inputs of one generation (invented name), handed to the arch module."""

    model: FuncModel
    flags: BpfTrampFlags
    fentry: tuple[BpfTrampLink, ...]      # run order: newest first
    fexit: tuple[BpfTrampLink, ...]
    fmod_ret: tuple[BpfTrampLink, ...]
    profile: TrampolineProfile
    func_addr: int
    image_addr: int
    im_addr: int
    hooks: BpfTrampHooks
    name: str

    @property
    def call_orig(self) -> bool:
        return bool(self.flags & BPF_TRAMP_F_CALL_ORIG)

    @property
    def save_ret(self) -> bool:
        return bool(self.flags & BPF_TRAMP_F_CALL_ORIG)

    @property
    def ip_arg(self) -> bool:
        return bool(self.flags & BPF_TRAMP_F_IP_ARG)

    @property
    def restore_regs(self) -> bool:
        return bool(self.flags & BPF_TRAMP_F_RESTORE_REGS)

    @property
    def skip_frame(self) -> bool:
        return bool(self.flags & BPF_TRAMP_F_SKIP_FRAME)

    def all_links(self):
        """(kind, index, link) in image order: fentry, fmod_ret, fexit."""
        out, i = [], 0
        for kind, links in ((BPF_TRAMP_FENTRY, self.fentry), (BPF_TRAMP_MODIFY_RETURN, self.fmod_ret),
                            (BPF_TRAMP_FEXIT, self.fexit)):
            for link in links:
                out.append((kind, i, link))
                i += 1
        return out

    def prog_addr(self, i: int, link: BpfTrampLink) -> int:
        return link.prog_addr or DEFAULT_PROG_ADDR + 0x1000 * i

    def bpf_func_addr(self, i: int, link: BpfTrampLink) -> int:
        if link.insnsi is not None and not link.func_addr:
            return DEFAULT_INTERP_ADDR
        return link.func_addr or DEFAULT_BPF_FUNC_ADDR + 0x1000 * i

    def link_label(self, i: int, link: BpfTrampLink) -> str:
        return link.name or f"prog{i}"


@dataclass(frozen=True, slots=True)
class ArchBuild:
    """What an arch module produces (invented name)."""

    lines: tuple[str, ...]          # listing body (instructions with section comments)
    size: int                       # image bytes
    code: bytes | None              # machine code (x86-64 only)
    frame: tuple[FrameSlot, ...]    # the frame diagram
    frame_reg: str                  # the register the offsets are relative to
    plan: ExecPlan
    ip_after_call: int | None = None   # offset of the patchable nop after the call of the original
    ip_epilogue: int | None = None     # offset of the epilogue (retirement jump target)
    reserve: int = 0                   # bytes counted on top of size for the fit check
                                       # (x86-64: BPF_INSN_SAFETY, as arch_bpf_trampoline_size)


@dataclass(frozen=True, slots=True)
class ArchTrampOps:
    """One architecture's trampoline generator (invented name; the kernel has one
    arch_prepare_bpf_trampoline per arch/*/net/bpf_jit_comp*.c)."""

    arch: str
    max_links: int
    build: Callable[[TrampRequest], ArchBuild]   # raises TrampolineError
    upstream: bool                                # False: no upstream trampoline (i386)
    source: str                                   # the kernel file it follows


@dataclass(frozen=True, slots=True)
class TrampolineImage:
    """A generated trampoline (struct bpf_tramp_image plus what the simulator needs).

    ``run(regs, stack, mem=None) -> raw return`` is the executable form: it takes the native call
    state (callconv.encode_call) and returns the traced function's raw return register value
    (callconv.decode_ret turns it into the C value). ``source`` is its generated Python.
    """

    arch: str                      # canonical architecture name
    profile: str                   # "newest" or "5.5"
    model: FuncModel               # the traced function's model
    flags: BpfTrampFlags           # BPF_TRAMP_F_* the image was built with
    name: str                      # traced function name (for listings)
    nr_links: int                  # links over all kinds
    nr_fentry: int                 # per kind
    nr_fexit: int
    nr_fmod_ret: int
    size: int                      # bytes (x86-64: len(code))
    code: bytes | None             # x86-64 machine code; None elsewhere
    listing: str                   # the commented assembly listing
    source: str                    # the executable form's Python source
    run: Callable                  # the executable form, compiled once
    image_addr: int                # simulated address of the image
    func_addr: int                 # simulated address of the traced function
    half: int | None               # 5.5: 0 or 1, the half of the trampoline page; else None
    frame: tuple[FrameSlot, ...]   # the frame layout
    ctx_words: int                 # words of the simulated ctx frame
    ctx_index: int                 # frame word of ctx[0] (R1 = base + 8 * ctx_index)
    nr_slots: int                  # argument slots (what ctx[-1] says, when present)
    ret_slot: int | None           # ctx index of the return value slot (== nr_slots) or None
    recursion_check: bool          # False (5.5): enter's result never skips a program
    ip_after_call: int | None      # offset after the call of the original (x86-64)
    ip_epilogue: int | None        # offset of the epilogue (x86-64)

    def call(self, native) -> int:
        """Run the image on a callconv.NativeCall."""
        return self.run(native.regs, native.stack, native.memory)


BpfTrampImage = TrampolineImage     # the spelling used in issue 7


def links_of(tlinks, kind: BpfTrampProgType) -> Sequence[BpfTrampLink]:
    """tlinks[kind] for a sequence indexed by BpfTrampProgType or a mapping (missing kind: none)."""
    if hasattr(tlinks, "get"):
        return tuple(tlinks.get(kind, ()) or ())
    return tuple(tlinks[kind]) if int(kind) < len(tlinks) else ()

