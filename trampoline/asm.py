"""A small listing assembler shared by the arch generators (invented; the kernel JITs emit into a
buffer with EMIT* macros and patch branches afterwards, which is what this records).

Each instruction is an ``Insn``: its offset, size, text (x86-64 text follows capstone's Intel
syntax so tests can compare it with a disassembly), optional machine-code bytes and a comment.
``note`` puts a section comment before the next instruction; ``patch`` rewrites an instruction in
place (same size), the way the JITs turn placeholder nops into branches once the target is known.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class Insn:
    """One emitted instruction (mutable until the image is finished)."""

    off: int            # offset from the image start
    size: int           # bytes
    text: str           # assembly
    comment: str = ""   # why
    data: bytes = b""   # machine code, when the generator encodes it (x86-64)


class Asm:
    """An instruction list with section notes, labels by offset and in-place patching."""

    def __init__(self, base: int = 0):
        self.base = base              # simulated address of offset 0
        self.insns: list[Insn] = []
        self.notes: dict[int, list[str]] = {}   # insn index -> section comments before it
        self.off = 0

    @property
    def ip(self) -> int:
        """Simulated address of the next instruction."""
        return self.base + self.off

    def note(self, text: str) -> None:
        self.notes.setdefault(len(self.insns), []).append(text)

    def emit(self, text: str, size: int, comment: str = "", data: bytes = b"") -> int:
        """Append an instruction; returns its index (for patch)."""
        if data and len(data) != size:
            raise AssertionError(f"{text}: {len(data)} bytes encoded, {size} declared")
        self.insns.append(Insn(self.off, size, text, comment, data))
        self.off += size
        return len(self.insns) - 1

    def patch(self, index: int, text: str, data: bytes = b"", comment: str | None = None) -> None:
        insn = self.insns[index]
        if data and len(data) != insn.size:
            raise AssertionError(f"patch of {insn.text}: size changes")
        insn.text = text
        if data:
            insn.data = data
        if comment is not None:
            insn.comment = comment

    def code(self) -> bytes:
        return b"".join(i.data for i in self.insns)

    def render(self, show_bytes: bool = False) -> list[str]:
        """The listing body: '  off: [bytes]  text  ; comment' with section comments."""
        out = []
        width = 30 if show_bytes else 0
        for n, insn in enumerate(self.insns):
            for text in self.notes.get(n, ()):
                out.append(f"        ; {text}")
            raw = insn.data.hex(" ") if show_bytes else ""
            if show_bytes and len(raw) > width:
                raw = raw[:width - 2] + ".."
            head = f"  {insn.off:04x}:  " + (f"{raw:<{width}}  " if show_bytes else "")
            line = f"{head}{insn.text:<36}"
            if insn.comment:
                line += f" ; {insn.comment}"
            out.append(line.rstrip())
        for text in self.notes.get(len(self.insns), ()):
            out.append(f"        ; {text}")
        return out


def hexs(v: int) -> str:
    """An immediate the way capstone prints it: decimal below 10, else 0x-hex."""
    if v < 0:
        return "-" + hexs(-v)
    return str(v) if v < 10 else hex(v)
