"""arch_prepare_bpf_trampoline and the flag helper of bpf_trampoline_update (kernel/bpf/trampoline.c,
include/linux/bpf.h).

The kernel core (kernelsim/tracing/, our bpf_trampoline_update) collects the links of one target
by kind, computes the flags with ``bpf_trampoline_flags``, and calls
``arch_prepare_bpf_trampoline``; it gets a ``TrampolineImage`` or a ``TrampolineError``.

Link order: ``tlinks[kind]`` is taken in run order, newest first, exactly as the kernel hands it to
the arch code (bpf_trampoline_get_progs walks progs_hlist from the head, and links are added with
hlist_add_head). The kernel core keeps its lists that way (insert at index 0).
"""

from btf.func_model import MAX_BPF_FUNC_ARGS, FuncModel

from . import arm64, i386, riscv64, s390x, x86_64
from .callconv import normalize_arch
from .defs import (BPF_TRAMP_F_CALL_ORIG, BPF_TRAMP_F_IP_ARG,
                   BPF_TRAMP_F_RESTORE_REGS, BPF_TRAMP_F_SKIP_FRAME, BPF_TRAMP_FENTRY,
                   BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, E2BIG, EINVAL,
                   ENOTSUPP, MODELLED_FLAGS, BpfTrampFlags, TrampolineError)
from .executable import build_executable
from .records import (DEFAULT_FUNC_ADDR, DEFAULT_IM_ADDR, DEFAULT_IMAGE_ADDR, PROFILES,
                      BpfTrampHooks, TrampolineImage, TrampRequest, links_of)

# One line per architecture (STYLE.md: registration is one dict literal).
ARCH_TRAMP_OPS = {
    "x86_64": x86_64.x86_64_tramp_ops,
    "arm64": arm64.arm64_tramp_ops,
    "i386": i386.i386_tramp_ops,
    "riscv64": riscv64.riscv64_tramp_ops,
    "s390x": s390x.s390x_tramp_ops,
}


def bpf_max_tramp_links(arch: str, profile: str = "newest") -> int:
    """BPF_MAX_TRAMP_LINKS of ``arch`` (38; s390x 27), or BPF_MAX_TRAMP_PROGS (40) for 5.5
    (called by the kernel core at attach: `count >= limit` -> E2BIG)."""
    prof = PROFILES[profile]
    return prof.max_links if prof.max_links is not None else ARCH_TRAMP_OPS[normalize_arch(arch)].max_links


def bpf_trampoline_flags(tlinks, ip_arg_needed: bool = False, profile: str = "newest") -> BpfTrampFlags:
    """The flags bpf_trampoline_update computes (fact sheet 5.3 step 2), called by the kernel core
    before each regeneration: any fexit or fmod_ret link -> CALL_ORIG | SKIP_FRAME, else
    RESTORE_REGS; IP_ARG if some program calls bpf_get_func_ip (``ip_arg_needed``; not in 5.5)."""
    calls_orig = links_of(tlinks, BPF_TRAMP_FEXIT) or links_of(tlinks, BPF_TRAMP_MODIFY_RETURN)
    flags = (BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME) if calls_orig else BPF_TRAMP_F_RESTORE_REGS
    if ip_arg_needed and profile != "5.5":
        flags |= BPF_TRAMP_F_IP_ARG
    return BpfTrampFlags(flags)


def _check_flags(flags: BpfTrampFlags, prof, fexit, fmod_ret) -> None:
    extra = flags & ~prof.flags
    if extra & ~MODELLED_FLAGS:
        # ENOTSUPP: struct_ops / livepatch / freplace flags are not modelled.
        raise TrampolineError(ENOTSUPP, f"flags {BpfTrampFlags(extra & ~MODELLED_FLAGS)!r} not modelled")
    if extra:
        # EINVAL: a flag the profile's kernel does not have (IP_ARG in 5.5).
        raise TrampolineError(EINVAL, f"flag {BpfTrampFlags(extra)!r} does not exist in {prof.name}")
    # EINVAL: is_valid_bpf_tramp_flags: RESTORE_REGS and SKIP_FRAME together.
    if flags & BPF_TRAMP_F_RESTORE_REGS and flags & BPF_TRAMP_F_SKIP_FRAME:
        raise TrampolineError(EINVAL, "BPF_TRAMP_F_RESTORE_REGS with BPF_TRAMP_F_SKIP_FRAME")
    # EINVAL: fexit/fmod_ret need the original called and a return slot.
    if (fexit or fmod_ret) and not flags & BPF_TRAMP_F_CALL_ORIG:
        raise TrampolineError(EINVAL, "fexit/fmod_ret links need BPF_TRAMP_F_CALL_ORIG")


def _request(model, tlinks, flags, arch, profile, func_addr, image_addr, im_addr, hooks, name):
    if not isinstance(model, FuncModel):
        raise TypeError("model must be a btf.FuncModel")
    try:
        arch = normalize_arch(arch)
    except ValueError as e:
        raise TrampolineError(ENOTSUPP, str(e)) from None
    if profile not in PROFILES:
        raise TrampolineError(EINVAL, f"unknown profile {profile!r}")
    prof = PROFILES[profile]
    ops = ARCH_TRAMP_OPS[arch]
    # ENOTSUPP: the weak arch_prepare_bpf_trampoline (no trampoline on this arch in that kernel).
    if arch not in prof.arches:
        raise TrampolineError(ENOTSUPP, f"{arch} has no BPF trampoline in {prof.name}")
    fentry = links_of(tlinks, BPF_TRAMP_FENTRY)
    fexit = links_of(tlinks, BPF_TRAMP_FEXIT)
    fmod_ret = links_of(tlinks, BPF_TRAMP_MODIFY_RETURN)
    # EINVAL: BPF_MODIFY_RETURN did not exist in 5.5 (no such attach type, the verifier refuses).
    if fmod_ret and BPF_TRAMP_MODIFY_RETURN not in prof.kinds:
        raise TrampolineError(EINVAL, f"fmod_ret does not exist in {prof.name}")
    if model.nr_args > MAX_BPF_FUNC_ARGS:
        raise TrampolineError(EINVAL, f"{model.nr_args} arguments (btf_distill_func_proto: max 12)")
    total = len(fentry) + len(fexit) + len(fmod_ret)
    limit = bpf_max_tramp_links(arch, profile)
    # E2BIG: BPF_MAX_TRAMP_LINKS (BPF_MAX_TRAMP_PROGS in 5.5) over all kinds.
    if total > limit:
        raise TrampolineError(E2BIG, f"{total} links, {arch} allows {limit} per trampoline")
    flags = BpfTrampFlags(int(flags))
    _check_flags(flags, prof, fexit, fmod_ret)
    return ops, TrampRequest(model, flags, fentry, fexit, fmod_ret, prof, func_addr, image_addr,
                             im_addr, hooks or BpfTrampHooks(), name)


def arch_bpf_trampoline_size(model: FuncModel, tlinks, flags, arch: str = "x86_64", *,
                             profile: str = "newest", func_addr: int = DEFAULT_FUNC_ADDR,
                             image_addr: int = DEFAULT_IMAGE_ADDR, hooks: BpfTrampHooks | None = None) -> int:
    """Bytes bpf_trampoline_update compares with PAGE_SIZE (step 3): the image plus the arch's
    reserve (x86-64 adds BPF_INSN_SAFETY, 64, as its arch_bpf_trampoline_size does). Raises
    TrampolineError."""
    ops, req = _request(model, tlinks, flags, arch, profile, func_addr, image_addr, DEFAULT_IM_ADDR,
                        hooks, "")
    build = ops.build(req)
    return build.size + build.reserve


def arch_prepare_bpf_trampoline(model: FuncModel, tlinks, flags, arch: str = "x86_64", *,
                                orig=None, hooks: BpfTrampHooks | None = None, runtime=None,
                                profile: str = "newest", func_addr: int = DEFAULT_FUNC_ADDR,
                                image_addr: int = DEFAULT_IMAGE_ADDR, image_size: int | None = None,
                                im=None, im_addr: int = DEFAULT_IM_ADDR,
                                name: str = "") -> TrampolineImage:
    """Generate the trampoline of one target (called by the kernel core's bpf_trampoline_update on
    every attach and detach).

    ``tlinks``: BpfTrampLink sequences indexed by BpfTrampProgType (a list of 3, or a mapping),
    newest first. ``orig(regs, stack, mem) -> raw`` is the original function in native form (see
    callconv.decode_call / encode_ret); None means a body that returns 0 (listings). ``runtime``
    provides ctx frames (see trampoline/__init__.py); None means a private SimpleRuntime.
    ``image_size`` is the room (image_end - image), PAGE_SIZE or, for 5.5, PAGE_SIZE / 2.

    Errors: ENOTSUPP (the arch cannot handle the model or a flag), E2BIG (too many links, or the
    image does not fit ``image_size``), EINVAL (inconsistent flags, a kind the profile lacks).
    """
    ops, req = _request(model, tlinks, flags, arch, profile, func_addr, image_addr, im_addr, hooks, name)
    build = ops.build(req)
    room = req.profile.image_size if image_size is None else image_size
    # E2BIG: bpf_trampoline_update's `size > PAGE_SIZE` (5.5: the half page; the kernel's WARN
    # there returned -EFAULT, we use E2BIG as later kernels do).
    if build.size + build.reserve > room:
        raise TrampolineError(E2BIG, f"image of {build.size} (+{build.reserve}) bytes does not fit in {room}")
    if runtime is None:
        from .runtime import SimpleRuntime
        runtime = SimpleRuntime()
    nr_slots = len(build.plan.slot_exprs)
    source, run, lay = build_executable(req, build.plan, nr_slots, orig, runtime, im)
    half = (image_addr >> 11) & 1 if req.profile.name == "5.5" else None
    header = _header(req, ops, build, lay, nr_slots, half)
    return TrampolineImage(
        arch=ops.arch, profile=req.profile.name, model=model, flags=req.flags, name=name,
        nr_links=len(req.fentry) + len(req.fexit) + len(req.fmod_ret), nr_fentry=len(req.fentry),
        nr_fexit=len(req.fexit), nr_fmod_ret=len(req.fmod_ret), size=build.size, code=build.code,
        listing="\n".join(header + list(build.lines)) + "\n", source=source, run=run,
        image_addr=image_addr, func_addr=func_addr, half=half, frame=build.frame,
        ctx_words=lay["nwords"], ctx_index=lay["a"], nr_slots=nr_slots,
        ret_slot=nr_slots if req.save_ret else None, recursion_check=req.profile.recursion_check,
        ip_after_call=build.ip_after_call, ip_epilogue=build.ip_epilogue)


def _header(req, ops, build, lay, nr_slots, half) -> list[str]:
    m = req.model
    name = req.name or "func"
    out = [f"; bpf_trampoline for {name} (arch {ops.arch}, profile {req.profile.name})",
           f"; follows {ops.source}" + ("" if ops.upstream else "  [no upstream trampoline: a plausible one]"),
           f"; model: ret_size={m.ret_size} nr_args={m.nr_args} arg_size={list(m.arg_size)}"
           f" arg_flags={list(m.arg_flags)}",
           f"; flags: {_flag_names(req.flags)}",
           f"; links: fentry={len(req.fentry)} fmod_ret={len(req.fmod_ret)} fexit={len(req.fexit)}"
           " (run order: newest first)",
           f"; image @ {req.image_addr & (0xFFFFFFFF if ops.arch == 'i386' else (1 << 64) - 1):#x},"
           f" {build.size} bytes"
           + (f", half {half} of the trampoline page" if half is not None else ""),
           f"; ctx: {nr_slots} argument slots" + (", ctx[-1] = slot count" if lay["nr"] is not None else "")
           + (", ctx[-2] = IP" if lay["ip"] is not None else "")
           + (f", ctx[{nr_slots}] = return value" if req.save_ret else ""),
           f"; frame (offsets from {build.frame_reg}):"]
    for slot in sorted(build.frame, key=lambda s: -s.offset):
        out.append(f";   {build.frame_reg}{slot.offset:+#06x}  {slot.size:3d}  {slot.what}")
    out.append(";")
    return out


def _flag_names(flags: BpfTrampFlags) -> str:
    names = [f.name.removeprefix("BPF_TRAMP_F_") for f in BpfTrampFlags if f in flags]
    return " | ".join(names) or "0"
