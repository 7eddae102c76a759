"""trampoline_listing: the text `kernelsim trampoline show FUNC --arch A [--fentry N] [--fexit M]
[--fmod-ret K]` prints (invented convenience; the lead wires the CLI). Dummy programs named
fentry0.., fmod_ret0.., fexit0.. are attached; the flags are what bpf_trampoline_update would use.
"""

from btf.func_model import FuncModel

from .core import arch_prepare_bpf_trampoline, bpf_trampoline_flags
from .defs import BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN
from .records import BpfTrampLink


def _noop(ctx, *insnsi):
    return 0


def dummy_tlinks(fentry: int = 1, fexit: int = 0, fmod_ret: int = 0) -> dict:
    """tlinks with N no-op programs per kind (newest first: the highest number runs first)."""
    def make(kind, n):
        return [BpfTrampLink(_noop, name=f"{kind}{k}") for k in reversed(range(n))]
    return {BPF_TRAMP_FENTRY: make("fentry", fentry), BPF_TRAMP_FEXIT: make("fexit", fexit),
            BPF_TRAMP_MODIFY_RETURN: make("fmod_ret", fmod_ret)}


def trampoline_listing(model: FuncModel, func_name: str, arch: str = "x86_64", fentry: int = 1,
                       fexit: int = 0, fmod_ret: int = 0, profile: str = "newest",
                       ip_arg: bool = False, **kw) -> str:
    """The commented listing of the image for ``func_name`` (called by the CLI). Raises
    TrampolineError as arch_prepare_bpf_trampoline does."""
    tlinks = dummy_tlinks(fentry, fexit, fmod_ret)
    flags = bpf_trampoline_flags(tlinks, ip_arg, profile)
    image = arch_prepare_bpf_trampoline(model, tlinks, flags, arch, profile=profile, name=func_name, **kw)
    return image.listing
