"""TrampolinePage: the 5.5 design's one page per trampoline, split in two halves (kernel/bpf/
trampoline.c of the seed commit: tr->image and tr->selector).

"Detach of a BPF program from the trampoline should not fail. To avoid memory allocation in detach
path the half of the page is used as a reserve and flipped after each attach/detach." Each update
builds the new image in the half ``selector & 1`` while the other half keeps running; after a
successful switch ``selector`` goes up by one; the last detach resets it to 0. An image must fit in
PAGE_SIZE / 2 (E2BIG here; the 5.5 WARN_ON returned -EFAULT).

Mutable on purpose: it is the trampoline's state, like struct bpf_trampoline's selector.
"""

from .core import arch_prepare_bpf_trampoline
from .defs import PAGE_SIZE
from .records import TrampolineImage

HALF_PAGE = PAGE_SIZE // 2


class TrampolinePage:
    """Two image slots in one page (called by the kernel core's 5.5 bpf_trampoline_update)."""

    def __init__(self, base: int):
        if base % PAGE_SIZE:
            raise ValueError("the trampoline page must be page aligned")
        self.base = base              # simulated address of the page (bpf_jit_alloc_exec(PAGE_SIZE))
        self.selector = 0             # u64 in the kernel; only its low bit picks the half
        self.current: TrampolineImage | None = None   # the image the function entry calls

    @property
    def half(self) -> int:
        """The half the next image goes into."""
        return self.selector & 1

    def image_addr(self, half: int | None = None) -> int:
        return self.base + (self.half if half is None else half) * HALF_PAGE

    def update(self, model, tlinks, flags, arch: str = "x86_64", **kw) -> TrampolineImage:
        """Build the next image in the free half and flip; a TrampolineError leaves the page (and
        the running image) unchanged."""
        image = arch_prepare_bpf_trampoline(model, tlinks, flags, arch, profile="5.5",
                                            image_addr=self.image_addr(), image_size=HALF_PAGE, **kw)
        self.selector += 1
        self.current = image
        return image

    def reset(self) -> None:
        """The last link went away: unregister and start again from the first half."""
        self.selector = 0
        self.current = None
