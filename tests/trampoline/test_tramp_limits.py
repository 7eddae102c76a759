"""Limits and refusals: BPF_MAX_TRAMP_LINKS (38/27), 5.5's 40, E2BIG images, ENOTSUPP models."""

import pytest

from btf.func_model import BTF_FMODEL_STRUCT_ARG as STRUCT, FuncModel
from trampoline import (BPF_MAX_TRAMP_LINKS, BPF_MAX_TRAMP_PROGS, BPF_TRAMP_F_CALL_ORIG,
                        BPF_TRAMP_F_IP_ARG, BPF_TRAMP_F_RESTORE_REGS, BPF_TRAMP_F_SKIP_FRAME,
                        BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, ENOTSUPP,
                        BpfTrampFlags, BpfTrampLink, TrampolineError, arch_bpf_trampoline_size,
                        arch_prepare_bpf_trampoline, bpf_max_tramp_links, bpf_trampoline_flags)
from trampoline.defs import BPF_TRAMP_F_RET_FENTRY_RET

ARCHES = ["x86_64", "arm64", "i386", "riscv64", "s390x"]
M = FuncModel(8, 0, 2, (8, 8), (0, 0))


def links(n, kind=BPF_TRAMP_FENTRY, **kw):
    return {kind: [BpfTrampLink(lambda c, *a: 0, **kw) for _ in range(n)]}


def prep(m, tl, arch="x86_64", profile="newest", flags=None, **kw):
    flags = bpf_trampoline_flags(tl, False, profile) if flags is None else flags
    return arch_prepare_bpf_trampoline(m, tl, flags, arch, profile=profile, **kw)


def errno_of(fn, *a, **kw):
    with pytest.raises(TrampolineError) as e:
        fn(*a, **kw)
    return e.value.errno


def test_constants():
    assert BPF_MAX_TRAMP_LINKS == {"x86_64": 38, "arm64": 38, "riscv64": 38, "s390x": 27, "i386": 38}
    assert BPF_MAX_TRAMP_PROGS == 40 and bpf_max_tramp_links("x86_64", "5.5") == 40
    assert bpf_max_tramp_links("s390x") == 27 and bpf_max_tramp_links("aarch64") == 38
    assert ENOTSUPP == 524


@pytest.mark.parametrize("arch", ARCHES)
def test_link_limit_over_all_kinds(arch):
    n = bpf_max_tramp_links(arch)
    tl = {BPF_TRAMP_FENTRY: links(n - 2)[BPF_TRAMP_FENTRY], BPF_TRAMP_FEXIT: links(2)[BPF_TRAMP_FENTRY]}
    assert prep(M, tl, arch).nr_links == n
    tl[BPF_TRAMP_MODIFY_RETURN] = links(1)[BPF_TRAMP_FENTRY]
    assert errno_of(prep, M, tl, arch) == 7


def test_5_5_limit_is_40():
    tl = {BPF_TRAMP_FENTRY: links(20)[BPF_TRAMP_FENTRY], BPF_TRAMP_FEXIT: links(20)[BPF_TRAMP_FENTRY]}
    image = prep(M, tl, profile="5.5")
    assert image.nr_links == 40 and image.size <= 2048
    tl[BPF_TRAMP_FEXIT].append(tl[BPF_TRAMP_FEXIT][0])
    assert errno_of(prep, M, tl, profile="5.5") == 7


def test_e2big_image_does_not_fit():
    big = FuncModel(8, 0, 12, (8,) * 12, (0,) * 12)
    tl = links(38, BPF_TRAMP_MODIFY_RETURN, cookie=1 << 40, insnsi=0xFFFF888123456000)
    size = arch_bpf_trampoline_size(big, tl, bpf_trampoline_flags(tl, True))
    assert size > 4096
    assert errno_of(prep, big, tl, flags=bpf_trampoline_flags(tl, True)) == 7
    small = prep(M, links(1))
    assert arch_bpf_trampoline_size(M, links(1), BPF_TRAMP_F_RESTORE_REGS) == small.size + 64
    assert errno_of(prep, M, links(1), image_size=small.size + 63) == 7      # + BPF_INSN_SAFETY
    assert prep(M, links(1), image_size=small.size + 64).size == small.size
    for arch in ARCHES[1:]:
        s = prep(M, links(1), arch).size
        assert errno_of(prep, M, links(1), arch, image_size=s - 1) == 7


def test_e2big_half_page_in_5_5():
    assert errno_of(prep, M, links(3), profile="5.5", image_size=100) == 7


@pytest.mark.parametrize("arch,model,errno", [
    ("x86_64", FuncModel(8, 0, 7, (16,) * 6 + (8,), (STRUCT,) * 6 + (0,)), ENOTSUPP),     # 13 slots
    ("x86_64", FuncModel(8, 0, 7, (8,) * 5 + (16, 8), (0,) * 5 + (STRUCT, 0)), ENOTSUPP),  # struct on stack
    ("i386", FuncModel(8, 0, 4, (4, 4, 4, 8), (0, 0, 0, STRUCT)), ENOTSUPP),
    ("arm64", FuncModel(8, 0, 9, (8,) * 8 + (16,), (0,) * 8 + (STRUCT,)), ENOTSUPP),
    ("s390x", FuncModel(8, 0, 1, (6,), (STRUCT,)), ENOTSUPP),
])
def test_enotsupp_models(arch, model, errno):
    assert errno_of(prep, model, links(1), arch) == errno


def test_models_that_are_fine():
    assert prep(FuncModel(8, 0, 12, (8,) * 12, (0,) * 12), links(1, BPF_TRAMP_FEXIT)).nr_slots == 12
    assert prep(FuncModel(8, 0, 9, (8,) * 8 + (16,), (0,) * 8 + (STRUCT,)), links(1), "riscv64").nr_slots == 10
    assert prep(FuncModel(8, 0, 9, (8,) * 9, (0,) * 9), links(1), "arm64").nr_slots == 9
    assert prep(FuncModel(8, 0, 2, (16, 4), (STRUCT, STRUCT)), links(1), "s390x").nr_slots == 3


def test_5_5_refusals():
    seven = FuncModel(8, 0, 7, (8,) * 7, (0,) * 7)
    assert errno_of(prep, seven, links(1), profile="5.5") == ENOTSUPP         # > 6 arguments
    assert errno_of(prep, FuncModel(8, 0, 1, (16,), (STRUCT,)), links(1), profile="5.5") == 22
    assert errno_of(prep, M, links(1, BPF_TRAMP_MODIFY_RETURN), profile="5.5") == 22   # no fmod_ret
    assert errno_of(prep, M, links(1), profile="5.5",
                    flags=BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_IP_ARG) == 22      # no IP_ARG
    assert errno_of(prep, M, links(1), "arm64", profile="5.5") == ENOTSUPP      # x86-64 only
    assert bpf_trampoline_flags(links(1), True, "5.5") == BPF_TRAMP_F_RESTORE_REGS


def test_flag_checks():
    assert errno_of(prep, M, links(1), flags=BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_SKIP_FRAME) == 22
    assert errno_of(prep, M, links(1, BPF_TRAMP_FEXIT), flags=BPF_TRAMP_F_RESTORE_REGS) == 22
    assert errno_of(prep, M, links(1), flags=BPF_TRAMP_F_RET_FENTRY_RET) == ENOTSUPP
    assert errno_of(prep, M, links(1), "mips") == ENOTSUPP
    assert errno_of(prep, M, links(1), profile="4.19") == 22
    assert errno_of(prep, FuncModel(8, 0, 13, (8,) * 13, (0,) * 13), links(1)) == 22


def test_bpf_trampoline_flags():
    assert bpf_trampoline_flags(links(2)) == BPF_TRAMP_F_RESTORE_REGS
    co = BPF_TRAMP_F_CALL_ORIG | BPF_TRAMP_F_SKIP_FRAME
    assert bpf_trampoline_flags(links(1, BPF_TRAMP_FEXIT)) == co
    assert bpf_trampoline_flags([[], [], links(1)[BPF_TRAMP_FENTRY]]) == co      # list form, fmod_ret
    assert bpf_trampoline_flags(links(1), True) == BPF_TRAMP_F_RESTORE_REGS | BPF_TRAMP_F_IP_ARG
    assert isinstance(bpf_trampoline_flags({}), BpfTrampFlags)
