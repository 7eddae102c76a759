"""x86-64 machine code (trampoline/x86_64.py), decoded with capstone."""

import itertools

import capstone
import pytest

from btf.func_model import BTF_FMODEL_SIGNED_ARG as SIGNED, BTF_FMODEL_STRUCT_ARG as STRUCT, FuncModel
from trampoline import (BPF_TRAMP_F_CALL_ORIG, BPF_TRAMP_F_IP_ARG, BPF_TRAMP_F_RESTORE_REGS,
                        BPF_TRAMP_F_SKIP_FRAME, BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT,
                        BPF_TRAMP_MODIFY_RETURN, BpfTrampHooks, BpfTrampLink, TrampolineError,
                        arch_prepare_bpf_trampoline, bpf_trampoline_flags)
from trampoline.records import DEFAULT_FUNC_ADDR, DEFAULT_IMAGE_ADDR

ETH_TYPE_TRANS = FuncModel(2, 0, 2, (8, 8), (0, 0))   # __be16 eth_type_trans(skb, dev)
MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


def noop(ctx, *insnsi):
    return 0


def tl(fentry=0, fexit=0, fmod_ret=0, **kw):
    return {BPF_TRAMP_FENTRY: [BpfTrampLink(noop, **kw) for _ in range(fentry)],
            BPF_TRAMP_FEXIT: [BpfTrampLink(noop, **kw) for _ in range(fexit)],
            BPF_TRAMP_MODIFY_RETURN: [BpfTrampLink(noop, **kw) for _ in range(fmod_ret)]}


def build(m, links, ip=False, profile="newest", **kw):
    return arch_prepare_bpf_trampoline(m, links, bpf_trampoline_flags(links, ip, profile), "x86_64",
                                       profile=profile, name="f", **kw)


def disasm(image):
    insns = list(MD.disasm(image.code, image.image_addr))
    assert sum(i.size for i in insns) == len(image.code), "undecodable bytes"
    return [(i.address - image.image_addr, i.mnemonic, i.op_str) for i in insns]


def text(insns):
    return [f"{m} {o}".strip() for _, m, o in insns]


@pytest.mark.parametrize("profile", ["newest", "5.5"])
def test_eth_type_trans_fentry_16_byte_save_area(profile):
    """The seed commit: 16 bytes of stack and two stores of %rdi and %rsi; R1 = rbp - 16."""
    image = build(ETH_TYPE_TRANS, tl(fentry=1), profile=profile)
    t = text(disasm(image))
    assert t[:3] == ["push rbp", "mov rbp, rsp", "sub rsp, 0x30" if profile == "newest" else "sub rsp, 0x10"]
    i = t.index("mov qword ptr [rbp - 0x10], rdi")
    assert t[i + 1] == "mov qword ptr [rbp - 8], rsi"
    assert "lea rdi, [rbp - 0x10]" in t                 # ctx = the 16-byte save area
    assert [x for x in t if x.startswith("mov qword ptr [rbp") and x.endswith(("rdi", "rsi"))][:2] == \
        ["mov qword ptr [rbp - 0x10], rdi", "mov qword ptr [rbp - 8], rsi"]
    assert t[-2:] == ["leave", "ret"] and "add rsp, 8" not in t          # returns into the function
    assert image.flags == BPF_TRAMP_F_RESTORE_REGS
    assert t.count("call 0xffffffff81000005") == 0                     # never calls the original
    # RESTORE_REGS: the registers are reloaded before returning
    assert t[-5:-3] == ["mov rdi, qword ptr [rbp - 0x10]", "mov rsi, qword ptr [rbp - 8]"]


def test_newest_frame_layout_fact_sheet():
    """Fact sheet 6.2 worked example: nr_regs at rbp-24, rbx at rbp-32, run_ctx at rbp-48; with
    an fexit the args move to rbp-24/-16 and the return value is at rbp-8."""
    t = text(disasm(build(ETH_TYPE_TRANS, tl(fentry=1))))
    assert "mov qword ptr [rbp - 0x18], rax" in t and "mov qword ptr [rbp - 0x20], rbx" in t
    assert "lea rsi, [rbp - 0x30]" in t
    t = text(disasm(build(ETH_TYPE_TRANS, tl(fexit=1))))
    assert "mov qword ptr [rbp - 0x18], rdi" in t and "mov qword ptr [rbp - 0x10], rsi" in t
    assert "lea rdi, [rbp - 0x18]" in t and "mov qword ptr [rbp - 8], rax" in t


def test_program_call_sequence():
    links = tl(fentry=1, cookie=0x1122334455667788, prog_addr=0xFFFF888112345000,
               func_addr=0xFFFFFFFFC0123000)
    hooks = BpfTrampHooks()
    ins = disasm(build(ETH_TYPE_TRANS, links, hooks=hooks))
    t = text(ins)
    i = t.index("movabs rdi, 0x1122334455667788")
    assert t[i:i + 13] == [
        "movabs rdi, 0x1122334455667788", "mov qword ptr [rbp - 0x30], rdi",      # cookie -> run_ctx
        "movabs rdi, 0xffff888112345000", "lea rsi, [rbp - 0x30]", f"call {hooks.enter_addr:#x}",
        "mov rbx, rax", "test rax, rax", t[i + 7], "lea rdi, [rbp - 0x10]", "call 0xffffffffc0123000",
        "movabs rdi, 0xffff888112345000", "mov rsi, rbx", "lea rdx, [rbp - 0x30]"]
    assert t[i + 7].startswith("je ") and t[i + 13] == f"call {hooks.exit_addr:#x}"
    je_target = int(t[i + 7].split()[1], 16)
    assert je_target == ins[i + 10][0] + DEFAULT_IMAGE_ADDR            # skips only the program call


def test_call_targets_are_rel32_from_the_image_address():
    for addr in (DEFAULT_IMAGE_ADDR, DEFAULT_IMAGE_ADDR + 0x800):
        image = build(ETH_TYPE_TRANS, tl(fexit=1), image_addr=addr)
        calls = [o for _, m, o in disasm(image) if m == "call"]
        assert f"{DEFAULT_FUNC_ADDR + 5:#x}" in calls              # the body, after the patched call
    raw = build(ETH_TYPE_TRANS, tl(fexit=1), image_addr=DEFAULT_IMAGE_ADDR + 0x800).code
    assert raw != build(ETH_TYPE_TRANS, tl(fexit=1)).code           # rel32 depends on the address
    with pytest.raises(TrampolineError) as e:
        build(ETH_TYPE_TRANS, tl(fentry=1), image_addr=0x1000)
    assert e.value.errno == 22


def test_fmod_ret_and_call_orig_sequence():
    image = build(ETH_TYPE_TRANS, tl(fentry=1, fexit=1, fmod_ret=2))
    ins = disasm(image)
    t = text(ins)
    assert t.count("cmp qword ptr [rbp - 8], 0") == 2
    jnes = [int(x.split()[1], 16) for x in t if x.startswith("jne ")]
    assert len(jnes) == 2 and len(set(jnes)) == 1 and jnes[0] % 16 == 0      # do_fexit, aligned
    do_fexit = jnes[0] - DEFAULT_IMAGE_ADDR
    c = t.index(f"call {DEFAULT_FUNC_ADDR + 5:#x}")
    assert t[c + 1] == "mov qword ptr [rbp - 8], rax"                # return value store
    assert ins[c + 2][1] == "nop" and ins[c + 2][0] == image.ip_after_call
    assert MD.disasm(image.code[image.ip_after_call:image.ip_after_call + 5], 0).__next__().size == 5
    assert do_fexit > ins[c][0]                                       # fexit runs after the original
    # fmod_ret: the return slot is zeroed first and each program's r0 stored into it
    assert "xor eax, eax" in t and t.count("mov qword ptr [rbp - 8], rax") == 4   # zero, 2 progs, the original
    assert t[-5:] == ["mov rax, qword ptr [rbp - 8]", "mov rbx, qword ptr [rbp - 0x28]", "leave",
                      "add rsp, 8", "ret"]
    assert image.flags == BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME


def test_ip_arg_and_nr_regs_stores():
    m = FuncModel(8, 0, 3, (8, (16), 4), (0, STRUCT, 0))
    t = text(disasm(build(m, tl(fentry=1), ip=True)))
    assert "mov eax, 4" in t                                          # nr_regs counts struct slots
    assert f"mov rax, {DEFAULT_FUNC_ADDR:#x}" in t                    # simm32 form of the address
    assert t.count("mov qword ptr [rbp - 0x28], rax") == 1            # ctx[-2] just below ctx[-1]


def test_interpreter_program_gets_insnsi():
    t = text(disasm(build(ETH_TYPE_TRANS, tl(fentry=1, insnsi=0xFFFF888100200000))))
    i = t.index("movabs rsi, 0xffff888100200000")
    assert t[i - 1] == "lea rdi, [rbp - 0x10]" and t[i + 1].startswith("call ")


def test_stack_arguments_and_clean_stack_garbage():
    m = FuncModel(8, 0, 7, (8,) * 6 + (4,), (0,) * 7)     # one <= 4-byte stack argument
    t = text(disasm(build(m, tl(fentry=1, fexit=1))))
    assert "mov rax, qword ptr [rbp + 0x18]" in t
    assert "mov dword ptr [rbp - 0xc], 0" in t                      # upper half of ctx[6] cleared
    assert "push rbp" in t and t.count("mov rax, qword ptr [rbp + 0x18]") == 2   # + outgoing copy
    m8 = FuncModel(8, 0, 8, (8,) * 8, (0,) * 8)
    t = text(disasm(build(m8, tl(fexit=1))))
    assert not any(x.startswith("mov dword ptr [rbp") for x in t)


def test_5_5_width_specific_stores_and_loads():
    m = FuncModel(4, 0, 6, (1, 2, 4, 8, 1, 2), (0,) * 6)
    t = text(disasm(build(m, tl(fentry=1, fexit=1), profile="5.5")))
    assert t[:4] == ["push rbp", "mov rbp, rsp", "sub rsp, 0x38", "push rbx"]
    assert t[4:10] == ["mov byte ptr [rbp - 0x38], dil", "mov word ptr [rbp - 0x30], si",
                       "mov dword ptr [rbp - 0x28], edx", "mov qword ptr [rbp - 0x20], rcx",
                       "mov byte ptr [rbp - 0x18], r8b", "mov word ptr [rbp - 0x10], r9w"]
    assert "movzx rdi, byte ptr [rbp - 0x38]" in t and "mov edx, dword ptr [rbp - 0x28]" in t
    assert "test rax, rax" not in t and "pop rbx" in t                 # no recursion check in 5.5
    assert t[-3:] == ["leave", "add rsp, 8", "ret"]


MODELS = [FuncModel(0, 0, 0, (), ()), ETH_TYPE_TRANS, FuncModel(8, SIGNED, 6, (1, 2, 4, 8, 1, 2), (SIGNED,) * 6),
          FuncModel(8, 0, 3, (16, 8, 12), (STRUCT, 0, STRUCT)),
          FuncModel(8, 0, 7, (1, 1, 1, 1, 1, 8, 1), (0,) * 7),
          FuncModel(4, 0, 12, (8,) * 12, (0,) * 12), FuncModel(8, 0, 9, (4,) * 9, (0,) * 9)]


@pytest.mark.parametrize("m", MODELS, ids=lambda m: f"{m.nr_args}args")
def test_decodes_cleanly_and_matches_the_listing(m):
    """Every byte decodes, and each listing line's text is what capstone prints."""
    for (fe, fx, fm), ip, cookie, insnsi in itertools.product(
            [(1, 0, 0), (0, 1, 0), (2, 1, 3), (0, 0, 1), (5, 5, 5)], (False, True), (0, 7, 1 << 40),
            (None, 0xFFFF888100200000)):
        image = build(m, tl(fe, fx, fm, cookie=cookie, insnsi=insnsi), ip=ip)
        ins = dict((o, f"{mn} {op}".strip()) for o, mn, op in disasm(image))
        for line in image.listing.splitlines():
            if line.startswith("  ") and line[6:7] == ":":
                off = int(line[2:6], 16)
                assert line[40:].split(" ; ")[0].strip() == ins[off], line
    for m55 in [x for x in MODELS if x.nr_args <= 6 and all(s in (1, 2, 4, 8) for s in x.arg_size)]:
        disasm(build(m55, tl(3, 3), profile="5.5"))


def test_image_records():
    image = build(ETH_TYPE_TRANS, tl(fentry=2, fexit=1))
    assert image.size == len(image.code) and image.nr_links == 3 and image.nr_fentry == 2
    assert image.model is ETH_TYPE_TRANS and image.half is None and image.ret_slot == 2
    assert image.flags & BPF_TRAMP_F_IP_ARG == 0
    assert "bpf_trampoline_f" in image.source and image.listing.startswith("; bpf_trampoline for f")
