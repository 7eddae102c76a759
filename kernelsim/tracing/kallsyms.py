"""The simulated kallsyms: deterministic text addresses for kernel functions (kernel/kallsyms.c
kallsyms_lookup_name / sprint_symbol), and the modelled bytes of a traced function's entry.

Every function gets a fixed ``FUNC_SLOT``-byte slot of kernel text, placed by its BTF FUNC id:
``addr = TEXT_BASE[arch] + FUNC_SLOT * btf_id`` (16-byte aligned, stable for a given BTF, O(1) both
ways without a table). Functions the simulator defines without a BTF record (``__x64_sys_getpid``
is not in 6.18's BTF) are numbered after the BTF's last id. Invented layout: real kernels pack
functions by size; only alignment and uniqueness matter here.

The entry of an x86-64 function, as ftrace and the BPF trampoline see it with IBT
(arch/x86/kernel/ftrace.c, arch/x86/net/bpf_jit_comp.c)::

    func+0   f3 0f 1e fa          endbr64
    func+4   0f 1f 44 00 00       nop5        <- patched to `call <trampoline>` when attached
    func+9   ...                  the body    (the trampoline's CALL_ORIG calls func+9)

``entry_text(arch, patched_to=None)`` gives those bytes (the nop, or ``e8 rel32`` to the image).
Other architectures' entries are described, not encoded (arm64: ``bti c; mov x9, lr; nop``).
"""

KERNEL_TEXT_BASE = {
    "x86_64": 0xFFFFFFFF81000000,       # __START_KERNEL_map + 16 MiB
    "arm64": 0xFFFF800080000000,        # KIMAGE_VADDR (6.x)
    "riscv64": 0xFFFFFFFF80000000,      # KERNEL_LINK_ADDR
    "s390x": 0x000003FFE0000000,        # __kaslr_offset region of 6.10+ (approximate)
    "i386": 0xC1000000,                 # PAGE_OFFSET + 16 MiB
}
FUNC_SLOT = 0x40                        # bytes of text per function in the model
ENDBR64 = bytes.fromhex("f30f1efa")     # x86 IBT landing pad
NOP5 = bytes.fromhex("0f1f440000")      # x86 ideal 5-byte nop (ftrace's patch site)
ENDBR_SIZE = 4
PATCH_SIZE = 5
# Where the patch site is, per architecture: (offset of the site from the function, its size).
PATCH_SITE = {"x86_64": (ENDBR_SIZE, PATCH_SIZE), "i386": (0, PATCH_SIZE), "arm64": (4, 8),
              "riscv64": (0, 8), "s390x": (0, 6)}


def kallsyms_addr(arch: str, index: int) -> int:
    """The address of the function in slot ``index`` (its BTF FUNC id)."""
    return KERNEL_TEXT_BASE[arch] + FUNC_SLOT * index


def kallsyms_index(arch: str, addr: int) -> tuple[int, int]:
    """(slot index, offset into the function) for a text address (-1 below the text)."""
    off = addr - KERNEL_TEXT_BASE[arch]
    if off < 0:
        return -1, 0
    return off // FUNC_SLOT, off % FUNC_SLOT


def entry_text(arch: str, func_addr: int, patched_to: int | None = None) -> bytes | None:
    """The modelled bytes at a function's entry (x86-64 and i386): ENDBR (x86-64), then the
    5-byte nop or a ``call rel32`` to ``patched_to`` (the trampoline image). None elsewhere."""
    if arch not in ("x86_64", "i386"):
        return None
    site, size = PATCH_SITE[arch]
    head = ENDBR64 if arch == "x86_64" else b""
    if patched_to is None:
        return head + NOP5
    rel = (patched_to - (func_addr + site + size)) & 0xFFFFFFFF
    return head + b"\xe8" + rel.to_bytes(4, "little")
