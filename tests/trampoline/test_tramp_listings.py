"""Listings for every architecture (sanity of their sections) and the i386 machine code."""

import capstone
import pytest

from btf.func_model import BTF_FMODEL_STRUCT_ARG as STRUCT, FuncModel
from trampoline import TrampolineError, dummy_tlinks, trampoline_listing

ARCHES = ["x86_64", "arm64", "i386", "riscv64", "s390x"]
ETH = FuncModel(2, 0, 2, (8, 8), (0, 0))

# (arch) -> pieces each section must show
MARKERS = {
    "x86_64": {"prologue": "push rbp", "nr": "ctx[-1]", "ip": "ctx[-2]", "enter": "__bpf_prog_enter_recur",
               "call": "->bpf_func(ctx)", "fmod": "cmp qword ptr [rbp - 8], 0", "orig": "eth_type_trans+5",
               "ret": "return slot = rax", "epilogue": "leave"},
    "arm64": {"prologue": "stp x29, x9", "nr": "ctx[-1]", "ip": "ctx[-2]", "enter": "__bpf_prog_enter_recur",
              "call": "->bpf_func(ctx)", "fmod": "cbnz x10", "orig": "ret x10", "ret": "return slot = x0",
              "epilogue": "ldp x29, x9, [sp], #16"},
    "i386": {"prologue": "push ebp", "nr": "ctx[-1]", "ip": "ctx[-2]", "enter": "__bpf_prog_enter_recur",
             "call": "->bpf_func(ctx)", "fmod": "goto do_fexit", "orig": "eth_type_trans+5",
             "ret": "return slot = eax", "epilogue": "leave"},
    "riscv64": {"prologue": "addi sp, sp, -16", "nr": "ctx[-1]", "ip": "ctx[-2]", "enter": "__bpf_prog_enter_recur",
                "call": "->bpf_func(ctx)", "fmod": "bne t1, zero", "orig": "eth_type_trans+8",
                "ret": "return slot = a0", "epilogue": "jalr zero, 0(ra)"},
    "s390x": {"prologue": "aghi %r15,-", "nr": "ctx[-1]", "ip": "ctx[-2]", "enter": "__bpf_prog_enter_recur",
              "call": "->bpf_func", "fmod": "goto do_fexit", "orig": "eth_type_trans+6",
              "ret": "return slot = %r2", "epilogue": "br %r14"},
}


@pytest.mark.parametrize("arch", ARCHES)
def test_listing_sections(arch):
    text = trampoline_listing(ETH, "eth_type_trans", arch, fentry=2, fexit=1, fmod_ret=1, ip_arg=True)
    for what, marker in MARKERS[arch].items():
        assert marker in text, (arch, what)
    assert text.count("->bpf_func") == 4 and "fexit fexit0" in text
    assert text.index("fentry fentry1") < text.index("fentry fentry0") < text.index("fmod_ret fmod_ret0") \
        < text.index("fexit fexit0")                       # newest first within each kind
    header = text.split("\n;\n")[0]
    assert "frame (offsets from" in header and "<- R1" in header
    assert "ctx[-1] = slot count" in header and "ctx[-2] = IP" in header
    body = [l for l in text.splitlines() if l.startswith("  ") and l[6:7] == ":"]
    offs = [int(l[2:6], 16) for l in body]
    assert offs == sorted(offs) and len(set(offs)) == len(offs)


@pytest.mark.parametrize("arch", ARCHES)
def test_fentry_only_listing_returns_into_the_function(arch):
    text = trampoline_listing(ETH, "eth_type_trans", arch, fentry=1)
    assert "RESTORE_REGS" in text and "SKIP_FRAME" not in text.split("; frame")[0]
    assert "__bpf_tramp_enter" not in text


def test_i386_is_marked_invented_and_decodes():
    m = FuncModel(8, 0, 5, (4, 8, 4, 12, 2), (0, 0, 0, 0, 0))
    from trampoline import arch_prepare_bpf_trampoline, bpf_trampoline_flags
    tl = dummy_tlinks(2, 2, 2)
    image = arch_prepare_bpf_trampoline(m, tl, bpf_trampoline_flags(tl, True), "i386", name="g")
    assert "no upstream trampoline" in image.listing
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    base = image.image_addr & 0xFFFFFFFF
    ins = {i.address - base: f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(image.code, base)}
    assert sum(1 for _ in md.disasm(image.code, base)) == len(ins)
    assert max(ins) < len(image.code) and image.size == len(image.code)
    for line in image.listing.splitlines():
        if line.startswith("  ") and line[6:7] == ":":
            assert line[40:].split(" ; ")[0].strip() == ins[int(line[2:6], 16)], line


def test_listing_5_5_and_page_half():
    text = trampoline_listing(ETH, "eth_type_trans", "x86_64", fentry=1, fexit=1, profile="5.5",
                              image_addr=0xFFFFFFFFA0000800)
    assert "profile 5.5" in text and "half 1 of the trampoline page" in text
    assert "__bpf_prog_enter()" in text and "ctx[-1]" not in text


def test_listing_errors_propagate():
    with pytest.raises(TrampolineError):
        trampoline_listing(FuncModel(8, 0, 1, (16,), (STRUCT,)), "f", "x86_64", profile="5.5")
