"""The opcode table (kernelsim/isa/opcodes.py) against kernel/bpf/core.c bpf_opcode_in_insntable."""

from kernelsim.isa.opcodes import (FUNC_ID_STR, FUNC_NAME_ID, KERNEL_INSNTABLE, OPCODES, KINDS,
                                   bpf_opcode_in_insntable)

# Written out by hand from core.c's BPF_INSN_MAP, the cBPF carry-overs and JCOND.
KERNEL_CODES = {
    # ALU X, ALU K, NEG, END
    0x0c, 0x1c, 0x2c, 0x3c, 0x4c, 0x5c, 0x6c, 0x7c, 0x9c, 0xac, 0xbc, 0xcc,
    0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x94, 0xa4, 0xb4, 0xc4, 0x84, 0xd4, 0xdc,
    # ALU64 X, K, NEG, bswap
    0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x9f, 0xaf, 0xbf, 0xcf,
    0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x97, 0xa7, 0xb7, 0xc7, 0x87, 0xd7,
    # JMP: call, exit, ja, jcond, X, K
    0x85, 0x95, 0x05, 0xe5,
    0x1d, 0x2d, 0x3d, 0x4d, 0x5d, 0x6d, 0x7d, 0xad, 0xbd, 0xcd, 0xdd,
    0x15, 0x25, 0x35, 0x45, 0x55, 0x65, 0x75, 0xa5, 0xb5, 0xc5, 0xd5,
    # JMP32: gotol, X, K
    0x06,
    0x1e, 0x2e, 0x3e, 0x4e, 0x5e, 0x6e, 0x7e, 0xae, 0xbe, 0xce, 0xde,
    0x16, 0x26, 0x36, 0x46, 0x56, 0x66, 0x76, 0xa6, 0xb6, 0xc6, 0xd6,
    # STX atomic, STX mem, ST mem, LDX mem, LDX memsx, LD imm64, LD abs/ind
    0xd3, 0xcb, 0xc3, 0xdb, 0x73, 0x6b, 0x63, 0x7b, 0x72, 0x6a, 0x62, 0x7a,
    0x71, 0x69, 0x61, 0x79, 0x91, 0x89, 0x81, 0x18,
    0x30, 0x28, 0x20, 0x50, 0x48, 0x40,
}


def test_kernel_table_is_exactly_core_c():
    assert {c for c in range(256) if KERNEL_INSNTABLE[c]} == KERNEL_CODES
    assert len(KERNEL_CODES) == 128
    assert all(bpf_opcode_in_insntable(c) == (c in KERNEL_CODES) for c in range(256))


def test_callx_is_the_only_extension():
    extra = {c for c, info in OPCODES.items() if not info.kernel}
    assert extra == {0x8d}
    assert OPCODES[0x8d].kind == "callx" and OPCODES[0x8d].group == "callx"


def test_internal_and_invalid_opcodes_are_absent():
    # BPF_NOSPEC (ST|0xc0), LDX DW memsx, JMP32 call/exit, ALU64 END X, NEG X, JA X (gotox, >6.18)
    for code in (0xc2, 0x99, 0x86, 0x96, 0xdf, 0x8c, 0x8f, 0x0d, 0x00, 0xff):
        assert code not in OPCODES


def test_rows_are_consistent():
    for code, info in OPCODES.items():
        assert info.code == code and info.kind in KINDS
        assert info.group in ("base32", "base64", "atomic32", "atomic64", "divmul32", "divmul64",
                              "packet", "callx")
    assert OPCODES[0xbf].name == "mov" and OPCODES[0xb4].name == "mov32"
    assert OPCODES[0x61].name == "ldxw" and OPCODES[0x81].name == "ldxsw"
    assert OPCODES[0x06].name == "ja32" and OPCODES[0x06].kind == "gotol"
    assert OPCODES[0x3f].group == "divmul64" and OPCODES[0x34].group == "divmul32"
    assert OPCODES[0xdb].group == "atomic64" and OPCODES[0xc3].group == "atomic32"


def test_helper_names():
    assert FUNC_ID_STR[0] == "bpf_unspec"
    assert FUNC_ID_STR[1] == "bpf_map_lookup_elem"
    assert FUNC_ID_STR[6] == "bpf_trace_printk"
    assert FUNC_NAME_ID["bpf_ktime_get_ns"] == 5
    assert sorted(FUNC_ID_STR) == list(range(len(FUNC_ID_STR)))
