"""print_bpf_insn against the kernel's text (reference/verifier-isa.md section 2, kernel/bpf/disasm.c)."""

import pytest

from kernelsim.isa.disasm import (ASM_CBS, BPFTOOL_CBS, BpfInsnCbs, BpfInsnError, check_insns,
                                  disasm_insns, print_bpf_insn)
from kernelsim.isa.insn import BpfInsn as I

# (instruction, next slot or None, the kernel's text): every row of the fact sheet's table.
CASES = [
    (I(0xbf, 6, 1), "(bf) r6 = r1"),
    (I(0x0f, 1, 2), "(0f) r1 += r2"),
    (I(0xbc, 0, 1), "(bc) w0 = w1"),
    (I(0xb7, 0, 0, 0, 0), "(b7) r0 = 0"),
    (I(0x07, 2, 0, 0, -8), "(07) r2 += -8"),
    (I(0xb4, 0, 0, 0, 1), "(b4) w0 = 1"),
    (I(0x77, 1, 0, 0, 32), "(77) r1 >>= 32"),
    (I(0x3f, 0, 1, 1), "(3f) r0 s/= r1"),
    (I(0x97, 0, 0, 1, 3), "(97) r0 s%= 3"),
    (I(0xc7, 3, 0, 0, 5), "(c7) r3 s>>= 5"),
    (I(0xbf, 0, 1, 8), "(bf) r0 = (s8)r1"),
    (I(0xbc, 0, 1, 16), "(bc) w0 = (s16)w1"),
    (I(0xbf, 2, 3, 32), "(bf) r2 = (s32)r3"),
    (I(0x87, 0), "(87) r0 = -r0"),
    (I(0x84, 1), "(84) w1 = -w1"),
    (I(0xdc, 1, 0, 0, 16), "(dc) r1 = be16 r1"),
    (I(0xd4, 0, 0, 0, 64), "(d4) r0 = le64 r0"),
    (I(0xd7, 2, 0, 0, 32), "(d7) r2 = bswap32 r2"),
    (I(0x79, 2, 1, 0), "(79) r2 = *(u64 *)(r1 +0)"),
    (I(0x61, 0, 10, -4), "(61) r0 = *(u32 *)(r10 -4)"),
    (I(0x91, 0, 1, 3), "(91) r0 = *(s8 *)(r1 +3)"),
    (I(0x7b, 10, 1, -8), "(7b) *(u64 *)(r10 -8) = r1"),
    (I(0x7a, 10, 0, -8, 0), "(7a) *(u64 *)(r10 -8) = 0"),
    (I(0x62, 10, 0, -4, 1), "(62) *(u32 *)(r10 -4) = 1"),
    (I(0xdb, 10, 1, -8, 0x00), "(db) lock *(u64 *)(r10 -8) += r1"),
    (I(0xc3, 1, 2, 0, 0x40), "(c3) lock *(u32 *)(r1 +0) |= r2"),
    (I(0xdb, 10, 1, -8, 0x01), "(db) r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)"),
    (I(0xc3, 3, 2, 0, 0xa1), "(c3) r2 = atomic_fetch_xor((u32 *)(r3 +0), r2)"),
    (I(0xdb, 0, 1, 0, 0xe1), "(db) r1 = atomic64_xchg((u64 *)(r0 +0), r1)"),
    (I(0xdb, 10, 2, -8, 0xf1), "(db) r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)"),
    (I(0xdb, 0, 1, 0, 0x11), "(db) r0 = load_acquire((u64 *)(r1 +0))"),
    (I(0xcb, 1, 2, 0, 0x22), "(cb) store_release((u16 *)(r1 +0), r2)"),
    (I(0x30, 0, 0, 0, 23), "(30) r0 = *(u8 *)skb[23]"),
    (I(0x48, 0, 3, 0, 4), "(48) r0 = *(u16 *)skb[r3 + 4]"),
    (I(0x85, 0, 0, 0, 1), "(85) call bpf_map_lookup_elem#1"),
    (I(0x85, 0, 0, 0, 6), "(85) call bpf_trace_printk#6"),
    (I(0x85, 0, 0, 0, 5000), "(85) call unknown#5000"),
    (I(0x85, 0, 1, 0, 5), "(85) call pc+5"),
    (I(0x85, 0, 1, 0, -3), "(85) call pc-3"),
    (I(0x85, 0, 2, 0, 51234), "(85) call kernel-function#51234"),
    (I(0x05, 0, 0, -3), "(05) goto pc-3"),
    (I(0x06, 0, 0, 0, 40000), "(06) gotol pc+40000"),
    (I(0xe5, 0, 0, 2), "(e5) may_goto pc+2"),
    (I(0x5d, 1, 2, -5), "(5d) if r1 != r2 goto pc-5"),
    (I(0x2e, 1, 3, 1), "(2e) if w1 > w3 goto pc+1"),
    (I(0x15, 2, 0, 1, 1), "(15) if r2 == 0x1 goto pc+1"),
    (I(0x55, 0, 0, 2, 0), "(55) if r0 != 0x0 goto pc+2"),
    (I(0x45, 1, 0, 1, 4), "(45) if r1 & 0x4 goto pc+1"),
    (I(0x25, 1, 0, 0, -1), "(25) if r1 > 0xffffffff goto pc+0"),
    (I(0xc6, 1, 0, 3, -7), "(c6) if w1 s< 0xfffffff9 goto pc+3"),
    (I(0xbd, 1, 2, 7), "(bd) if r1 <= r2 goto pc+7"),
    (I(0x7d, 1, 2, 7), "(7d) if r1 s>= r2 goto pc+7"),
    (I(0x95), "(95) exit"),
    (I(0x8d, 2), "(8d) callx r2"),   # ours; the kernel has no callx
]


@pytest.mark.parametrize("insn,text", CASES, ids=[t for _, t in CASES])
def test_kernel_text(insn, text):
    assert print_bpf_insn(insn) == text


def test_ld_imm64():
    lo, hi = I(0x18, 1, 0, 0, 0x2a), I(0)
    assert print_bpf_insn(lo, hi) == "(18) r1 = 0x2a"
    assert print_bpf_insn(I(0x18, 1, 0, 0, 0x01ad4000), I(0, 0, 0, 0, -0x777f)) \
        == "(18) r1 = 0xffff888101ad4000"
    # map fd / map value: hidden unless pointer leaks are allowed (the verifier log of a user)
    fd = I(0x18, 1, 1, 0, 3)
    assert print_bpf_insn(fd, I(0)) == "(18) r1 = 0x0"
    assert print_bpf_insn(fd, I(0), allow_ptr_leaks=True) == "(18) r1 = 0x3"
    assert print_bpf_insn(I(0x18, 1, 5, 0, 3), I(0)) == "(18) r1 = 0x3"


def test_callbacks():
    pair = (I(0x18, 1, 1, 0, 5), I(0))
    assert print_bpf_insn(*pair, BPFTOOL_CBS) == "(18) r1 = map[id:5]"
    assert print_bpf_insn(I(0x18, 1, 2, 0, 5), I(0, 0, 0, 0, 8), BPFTOOL_CBS) == \
        "(18) r1 = map[id:5][0]+8"
    assert print_bpf_insn(I(0x18, 1, 6, 0, 2), I(0, 0, 0, 0, 16), BPFTOOL_CBS) == \
        "(18) r1 = map[idx:2]+16"
    assert print_bpf_insn(I(0x18, 2, 4, 0, 7), I(0), BPFTOOL_CBS) == "(18) r2 = subprog[+7]"
    assert print_bpf_insn(*pair, ASM_CBS) == "(18) r1 = map_fd(5)"
    assert print_bpf_insn(I(0x18, 1, 3, 0, 9), I(0, 0, 0, 0, 4), ASM_CBS) == "(18) r1 = btf_id(9, 4)"
    # the helper table wins over cb_call; cb_call names kfuncs (the verifier's disasm_kfunc_name)
    cbs = BpfInsnCbs(cb_call=lambda insn: "bpf_rcu_read_lock" if insn.src == 2 else "nope")
    assert print_bpf_insn(I(0x85, 0, 2, 0, 51234), None, cbs) == "(85) call bpf_rcu_read_lock#51234"
    assert print_bpf_insn(I(0x85, 0, 0, 0, 1), None, cbs) == "(85) call bpf_map_lookup_elem#1"
    assert print_bpf_insn(I(0x85, 0, 2, 0, 7, ), None, ASM_CBS) == "(85) call kfunc(7)#7"
    assert print_bpf_insn(I(0x85, 0, 2, 3, 7, ), None, ASM_CBS) == "(85) call kfunc(7, 3)#7"


def test_bug_forms_and_holes():
    assert print_bpf_insn(I(0x21)) == "BUG_ldx_21"          # LDX with mode ABS
    assert print_bpf_insn(I(0x22)) == "BUG_st_22"
    assert print_bpf_insn(I(0x23)) == "BUG_23"
    assert print_bpf_insn(I(0xc3, 1, 2, 0, 0x99)) == "BUG_c3"  # bad atomic imm
    assert print_bpf_insn(I(0x08)) == "BUG_ld_08"
    assert print_bpf_insn(I(0xc2)) == "(c2) nospec"
    assert print_bpf_insn(I(0xf5, 1, 0, 2, 3)) == "(f5) if r1 (null) 0x3 goto pc+2"
    assert print_bpf_insn(I(0x96)) == "(96) if w0 exit 0x0 goto pc+0"
    assert print_bpf_insn(I(0xe4, 1, 0, 0, 3)) == "(e4) w1 (null) 3"


def test_listing_prefixes():
    prog = [I(0xb7, 0, 0, 0, 0), I(0x18, 1, 0, 0, 1), I(0), I(0x95)]
    assert disasm_insns(prog) == ["0: (b7) r0 = 0", "1: (18) r1 = 0x1", "3: (95) exit"]
    assert disasm_insns(prog, bpftool=True) == ["   0: (b7) r0 = 0", "   1: (18) r1 = 0x1",
                                                "   3: (95) exit"]


@pytest.mark.parametrize("insns,index,message", [
    ([I(0xff), I(0x95)], 0, "unknown opcode ff"),
    ([I(0xb7, 0, 1, 0, 0), I(0x95)], 0, "BPF_MOV uses reserved fields"),
    ([I(0x0f, 0, 1, 0, 1), I(0x95)], 0, "BPF_ALU uses reserved fields"),
    ([I(0x3f, 0, 1, 2), I(0x95)], 0, "BPF_ALU uses reserved fields"),
    ([I(0xbc, 0, 1, 32), I(0x95)], 0, "BPF_MOV uses reserved fields"),
    ([I(0xbf, 0, 1, 1), I(0x95)], 0,
     "addr_space_cast insn can only be used in a program that has an associated arena"),
    ([I(0x87, 0, 0, 0, 1), I(0x95)], 0, "BPF_NEG uses reserved fields"),
    ([I(0xd4, 0, 0, 0, 8), I(0x95)], 0, "BPF_END uses reserved fields"),
    ([I(0x95, 0, 0, 0, 1)], 0, "BPF_EXIT uses reserved fields"),
    ([I(0x85, 1, 0, 0, 1), I(0x95)], 0, "BPF_CALL uses reserved fields"),
    ([I(0x05, 0, 0, 0, 1), I(0x95)], 0, "BPF_JA uses reserved fields"),
    ([I(0x06, 0, 0, 1, 0), I(0x95)], 0, "BPF_JA uses reserved fields"),
    ([I(0x1d, 0, 1, 0, 5), I(0x95)], 0, "BPF_JMP/JMP32 uses reserved fields"),
    ([I(0x61, 0, 1, 0, 5), I(0x95)], 0, "BPF_LDX uses reserved fields"),
    ([I(0x62, 0, 1, 0, 5), I(0x95)], 0, "BPF_ST uses reserved fields"),
    ([I(0x63, 0, 1, 0, 5), I(0x95)], 0, "BPF_STX uses reserved fields"),
    ([I(0xc3, 0, 1, 0, 0x02), I(0x95)], 0, "BPF_ATOMIC uses invalid atomic opcode 02"),
    ([I(0xd3, 0, 1, 0, 0x00), I(0x95)], 0, "invalid atomic operand size"),
    ([I(0xb7, 11, 0, 0, 0), I(0x95)], 0, "R11 is invalid"),
    ([I(0x0f, 1, 12), I(0x95)], 0, "R12 is invalid"),
    ([I(0x18, 1, 0, 0, 0)], 0, "invalid bpf_ld_imm64 insn"),
    ([I(0x18, 1, 0, 0, 0), I(0x95), I(0x95)], 0, "invalid bpf_ld_imm64 insn"),
    ([I(0x18, 1, 9, 0, 0), I(0), I(0x95)], 0, "unrecognized bpf_ld_imm64 insn"),
    ([I(0x18, 1, 1, 0, 3), I(0, 0, 0, 0, 1), I(0x95)], 0, "unrecognized bpf_ld_imm64 insn"),
    ([I(0x05, 0, 0, 5), I(0x95)], 0, "jump out of range from insn 0 to 6"),
    ([I(0x95), I(0x05, 0, 0, -3)], 1, "jump out of range from insn 1 to -1"),
    ([I(0x05, 0, 0, 1), I(0x18), I(0), I(0x95)], 0, "jump into the middle of ldimm64 insn 1"),
    ([I(0x85, 0, 1, 0, 9), I(0x95)], 0, "call to invalid destination"),
    ([I(0xe5, 1, 0, 0), I(0x95)], 0, "invalid may_goto imm 0"),
    ([], 0, "empty program"),
])
def test_check_insns(insns, index, message):
    with pytest.raises(BpfInsnError) as e:
        check_insns(insns)
    assert e.value.index == index and e.value.message == message and e.value.errno == 22


def test_check_insns_accepts():
    check_insns([I(0x18, 1, 0, 0, 5), I(0, 0, 0, 0, 7), I(0x05, 0, 0, -3), I(0x95)])
    check_insns([I(0xb7, 11, 0, 0, 0), I(0x95)], max_reg=11)   # AX, for rewritten programs
