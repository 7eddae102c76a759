"""trampoline/callconv.py: where arguments live on each architecture, and the value round trip."""

import pytest

from btf.func_model import BTF_FMODEL_SIGNED_ARG as SIGNED, BTF_FMODEL_STRUCT_ARG as STRUCT, FuncModel
from trampoline.callconv import (CALLING_CONVENTIONS, decode_call, decode_ret, encode_call, encode_ret,
                                 normalize_arch, place_args)

ARCHES = list(CALLING_CONVENTIONS)


def model(*args, ret=(8, 0)):
    sizes = tuple(a if isinstance(a, int) else a[0] for a in args)
    flags = tuple(0 if isinstance(a, int) else a[1] for a in args)
    return FuncModel(ret[0], ret[1], len(args), sizes, flags)


def names(pl, i):
    return [p.name for p in pl.args[i].pieces]


def test_fact_sheet_example_x86_64():
    """Five chars, a 12-byte struct, a char: args 1-5 and 7 in registers, arg 6 on the stack."""
    m = model(1, 1, 1, 1, 1, (12, STRUCT), 1)
    pl = place_args(m, "x86_64")
    assert [names(pl, i) for i in range(5)] == [["rdi"], ["rsi"], ["rdx"], ["rcx"], ["r8"]]
    assert pl.args[5].on_stack and names(pl, 5) == ["stack+0", "stack+8"]
    assert names(pl, 6) == ["r9"]
    assert pl.nr_reg_words == 6 and pl.nr_stack_words == 2


def test_same_example_arm64_and_i386_do_not_backfill():
    m = model(1, 1, 1, 1, 1, (12, STRUCT), 1)
    arm = place_args(m, "arm64")             # 8 registers: everything fits
    assert names(arm, 5) == ["x5", "x6"] and names(arm, 6) == ["x7"]
    m2 = model(8, 8, 8, 8, 8, 8, 8, (16, STRUCT), 8)
    arm = place_args(m2, "arm64")            # x7 left, the struct needs 2: it and the rest on the stack
    assert arm.args[7].on_stack and arm.args[8].on_stack and arm.nr_reg_words == 7
    i386 = place_args(model(4, 8, 4), "i386")  # eax; edx:ecx; then the stack
    assert names(i386, 0) == ["eax"] and names(i386, 1) == ["edx", "ecx"] and names(i386, 2) == ["stack+0"]
    i386 = place_args(model(4, 4, 8, 4), "i386")  # one register left: the pair spills, no back-fill
    assert names(i386, 2) == ["stack+0", "stack+4"] and names(i386, 3) == ["stack+8"]


def test_riscv_splits_a_struct_between_a7_and_the_stack():
    pl = place_args(model(8, 8, 8, 8, 8, 8, 8, (16, STRUCT), 8), "riscv64")
    assert names(pl, 7) == ["a7", "stack+0"] and names(pl, 8) == ["stack+8"]


def test_s390x_by_reference_and_five_registers():
    pl = place_args(model(8, (16, STRUCT), (4, STRUCT), (12, STRUCT), 1, 2), "s390x")
    assert [names(pl, i) for i in range(5)] == [["r2"], ["r3"], ["r4"], ["r5"], ["r6"]]
    assert pl.args[1].by_ref and not pl.args[2].by_ref and pl.args[3].by_ref
    assert names(pl, 5) == ["stack+0"]


def test_narrow_ints_extension_per_arch():
    m = model((1, SIGNED), 1, (4, 0), (2, SIGNED))
    vals = [-1, 0xFF, 0xFFFFFFFF, -2]
    g = 0xAAAAAAAAAAAAAAAA
    x = encode_call(m, "x86_64", vals, garbage=g).regs
    assert x[:4] == [0xAAAAAAAAAAAAAAFF, 0xAAAAAAAAAAAAAAFF, 0xAAAAAAAAFFFFFFFF, 0xAAAAAAAAAAAAFFFE]
    r = encode_call(m, "riscv64", vals, garbage=g).regs
    assert r[:4] == [2**64 - 1, 0xFF, 2**64 - 1, 2**64 - 2]        # u32 sign-extended too
    s = encode_call(m, "s390x", vals, garbage=g).regs
    assert s[:4] == [2**64 - 1, 0xFF, 0xFFFFFFFF, 2**64 - 2]       # by the C type
    i = encode_call(m, "i386", vals, garbage=g).regs
    assert i[:3] == [0xAAAAAAFF, 0xAAAAAAFF, 0xFFFFFFFF]


def test_i386_64_bit_pairs_low_word_first():
    m = model(8, 8)
    nc = encode_call(m, "i386", [0x1122334455667788, 0x99AABBCCDDEEFF00])
    assert nc.regs[:2] == [0x55667788, 0x11223344] and nc.stack == [0xDDEEFF00, 0x99AABBCC]
    assert decode_call(m, "i386", nc.regs, nc.stack) == [0x1122334455667788, 0x99AABBCCDDEEFF00]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("size", [9, 12, 16])
def test_struct_by_value_round_trip(arch, size):
    data = bytes(range(1, size + 1))
    m = model(4, (size, STRUCT), 8)
    nc = encode_call(m, arch, [7, data, 9], garbage=0x5A5A5A5A5A5A5A5A)
    assert decode_call(m, arch, nc.regs, nc.stack, nc.memory) == [7, data, 9]
    loc = place_args(m, arch).args[1]
    if arch == "s390x":
        assert loc.by_ref and nc.memory[nc.regs[1]] == data
    elif arch == "i386":
        assert len(loc.pieces) == (size + 3) // 4
    else:
        assert [p.loc for p in loc.pieces] == ["reg", "reg"]
        assert nc.regs[1] == int.from_bytes(data[:8], "little")


@pytest.mark.parametrize("arch", ARCHES)
def test_round_trip_mixed(arch):
    m = model((1, SIGNED), 2, (4, SIGNED), 8, (8, SIGNED), 1, 4, 8, (2, SIGNED), 8, 8, 1, ret=(4, SIGNED))
    vals = [-5, 65535, -70000, 2**64 - 1, -(2**63), 200, 123456, 42, -32768, 1, 2, 3]
    nc = encode_call(m, arch, vals, garbage=0x1234567890ABCDEF)
    assert decode_call(m, arch, nc.regs, nc.stack, nc.memory) == vals
    assert decode_ret(m, arch, encode_ret(m, arch, -7)) == -7


def test_return_registers_and_void():
    assert place_args(model(8, ret=(8, 0)), "i386").ret_regs == ("eax", "edx")
    assert place_args(model(8, ret=(4, 0)), "i386").ret_regs == ("eax",)
    v = model(8, ret=(0, 0))
    assert place_args(v, "x86_64").ret_regs == () and decode_ret(v, "x86_64", 5) is None
    assert encode_ret(model(ret=(4, SIGNED)), "riscv64", -1) == 2**64 - 1
    assert encode_ret(model(ret=(4, 0)), "x86_64", -1) == 0xFFFFFFFF


def test_arch_aliases_and_errors():
    assert normalize_arch("aarch64") == "arm64" and normalize_arch("x86-64") == "x86_64"
    with pytest.raises(ValueError):
        normalize_arch("mips")
    with pytest.raises(ValueError):
        encode_call(model(8), "x86_64", [1, 2])
