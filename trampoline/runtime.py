"""SimpleRuntime: a reference implementation of the trampoline runtime protocol (see
trampoline/__init__.py), for tests, listings and the benchmark (invented; the kernel core's runtime
carves ctx frames out of simulated kernel memory instead).

Frames are u64 word arrays (memoryview 'Q' over a bytearray) at simulated addresses that grow down
like a stack; ``load`` reads them back the way a BPF program's ctx loads would, and faults (raises
``LookupError``) outside a live frame.
"""

STACK_TOP = 0xFFFFC90000010000     # a vmalloc'ed kernel stack, say


class SimpleRuntime:
    """ctx_frame(nwords) -> (base, words); release(frame); load(addr, size) for fake programs."""

    def __init__(self, top: int = STACK_TOP, poison: int = 0):
        self.sp = top
        self.live: list[tuple[int, memoryview]] = []    # innermost last
        self.poison = poison                            # initial content of every word
        self.max_depth = 0

    def ctx_frame(self, nwords: int):
        self.sp -= 8 * max(nwords, 1)
        words = memoryview(bytearray(8 * nwords)).cast("Q")
        if self.poison:
            for i in range(nwords):
                words[i] = self.poison
        frame = (self.sp, words)
        self.live.append(frame)
        self.max_depth = max(self.max_depth, len(self.live))
        return frame

    def release(self, frame) -> None:
        top = self.live.pop()
        if top is not frame:
            raise AssertionError("ctx frames released out of order")
        self.sp = frame[0] + 8 * max(len(frame[1]), 1)

    def load(self, addr: int, size: int = 8) -> int:
        """A little-endian load of ``size`` bytes from a live frame."""
        for base, words in reversed(self.live):
            if base <= addr and addr + size <= base + 8 * len(words):
                raw = words.cast("B")[addr - base:addr - base + size]
                return int.from_bytes(raw, "little")
        raise LookupError(f"load of {size} bytes at {addr:#x}: not in a live ctx frame")


class ListRuntime:
    """The fastest runtime: frames are plain lists (no load support); used by the benchmark's
    baseline and as an example of the protocol's minimum."""

    __slots__ = ()

    @staticmethod
    def ctx_frame(nwords: int):
        return (0, [0] * nwords)

    @staticmethod
    def release(frame) -> None:
        pass
