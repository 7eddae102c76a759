"""func_info / line_info cases for PROG_LOAD: one hand-made program BTF, small socket filters
with and without a subprogram, and good and bad records (kernel/bpf/verifier.c
check_btf_func_early, check_btf_func, check_btf_line; the info side: kernel/bpf/syscall.c
bpf_prog_get_info_by_fd).

``run(task, case)`` loads a case through the libbpf-like wrappers on any task (kernelsim's or
the real machine's) and returns what the two are compared on: errno, the whole log at the
case's level, and for a loaded program the info's func_info and line_info records (offsets
after the verifier's rewrites) and counts. ``ANSWERS`` keeps what Linux 6.18.44 answered
(errno, last complaint line), so the kernelsim-only test needs no bpf().
"""

from __future__ import annotations

import ctypes
import struct

from syscall import libbpf as L

# -- the BTF: [1] int, [2] int (void) proto, [3] main (global), [4] sub (static),
#    [5] void (void) proto, [6] vsub (static, returns void) --------------------------------
STRS = (b"\0int\0main\0sub\0/src/dir/prog.c\0    r0 = 0;\0\treturn 1;\0exit;\0vsub\0x\0gsc\0"
        b"gptr\0__sk_buff\0gctx\0gvoid\0gretptr\0g6\0gsc2\0")


def _str(s: bytes) -> int:
    return STRS.index(s + b"\0")


INT, MAIN, SUB, FILE = _str(b"int"), _str(b"main"), _str(b"sub"), _str(b"/src/dir/prog.c")
L0, L1, L2, VSUB = _str(b"    r0 = 0;"), _str(b"\treturn 1;"), _str(b"exit;"), _str(b"vsub")


def _btf() -> bytes:
    x = _str(b"x")

    def proto(ret: int, *params: int) -> bytes:
        return struct.pack("<III", 0, (13 << 24) | len(params), ret) + b"".join(
            struct.pack("<II", x, p) for p in params)

    def func(name: bytes, proto_id: int, linkage: int) -> bytes:
        return struct.pack("<III", _str(name), (12 << 24) | linkage, proto_id)

    t = struct.pack("<IIII", INT, 1 << 24, 4, (1 << 24) | 32)       # [1] INT int, signed 32
    t += proto(1)                                                     # [2] int (void)
    t += func(b"main", 2, 1)                                          # [3] main, global
    t += func(b"sub", 2, 0)                                           # [4] sub, static
    t += proto(0)                                                     # [5] void (void)
    t += func(b"vsub", 5, 0)                                          # [6] vsub, static
    t += struct.pack("<III", 0, 2 << 24, 1)                           # [7] int *
    t += proto(1, 1)                                                  # [8] int (int)
    t += func(b"gsc", 8, 1)                                           # [9] gsc, global
    t += proto(1, 7)                                                  # [10] int (int *)
    t += func(b"gptr", 10, 1)                                         # [11] gptr, global
    t += struct.pack("<III", _str(b"__sk_buff"), 4 << 24, 4)          # [12] struct __sk_buff {}
    t += struct.pack("<III", 0, 2 << 24, 12)                          # [13] struct __sk_buff *
    t += proto(1, 13)                                                 # [14] int (struct __sk_buff *)
    t += func(b"gctx", 14, 1)                                         # [15] gctx, global
    t += struct.pack("<III", 0, 2 << 24, 0)                           # [16] void *
    t += proto(1, 16)                                                 # [17] int (void *)
    t += func(b"gvoid", 17, 1)                                        # [18] gvoid, global
    t += proto(7)                                                     # [19] int *(void)
    t += func(b"gretptr", 19, 1)                                      # [20] gretptr, global
    t += proto(1, 1, 1, 1, 1, 1, 1)                                   # [21] int (int x 6)
    t += func(b"g6", 21, 1)                                           # [22] g6, global
    t += func(b"gsc2", 8, 1)                                          # [23] gsc2, global
    t += func(b"sub", 8, 0)                                           # [24] static sub(int)
    t += func(b"main", 14, 1)                                         # [25] main(struct __sk_buff *)
    t += func(b"main", 17, 1)                                         # [26] main(void *)
    t += func(b"gsc", 5, 1)                                           # [27] global void gsc(void)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(t), len(t), len(STRS))
    return hdr + t + STRS


BTF = _btf()


def insn(code, dst=0, src=0, off=0, imm=0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


EXIT = insn(0x95)
# main: call sub; r0 = 0; exit / sub: r0 = 1; exit
CALLER = insn(0x85, src=1, imm=2) + insn(0xb7, 0, imm=0) + EXIT + insn(0xb7, 0, imm=1) + EXIT
# r0 = 0; if r0 == 0 goto +1 (always taken); r0 = 1 (dead); exit
DEAD = insn(0xb7, 0, imm=0) + insn(0x15, 0, off=1, imm=0) + insn(0xb7, 0, imm=1) + EXIT
# r0 = 0; if r0 != 0 goto +1 (never taken); exit; r0 = 1 (dead); exit (dead)
DEAD_TAIL = insn(0xb7, 0, imm=0) + insn(0x55, 0, off=1, imm=0) + EXIT + insn(0xb7, 0, imm=1) + EXIT
# r0 = skb->protocol (converted into two loads); r0 += 1; exit
CTX = insn(0x61, 0, 1, off=16) + insn(0x07, 0, imm=1) + EXIT
# r0 = 0 as an ld_imm64; exit
LDIMM = insn(0x18, 0, imm=0) + insn(0) + EXIT
# main: call sub; exit / sub: r6 = r1; ld_abs [0]; r0 = 0; exit (LD_ABS needs r6 = ctx)
LDABS = (insn(0x85, src=1, imm=1) + EXIT
         + insn(0xbf, 6, 1) + insn(0x30, imm=0) + insn(0xb7, 0, imm=0) + EXIT)
R0_0, R0_1 = insn(0xb7, 0, imm=0), insn(0xb7, 0, imm=1)
# main: r1 = 5; call +2; r0 = 0; exit / g: r0 = r1; r0 += 1; exit
G_SCALAR = insn(0xb7, 1, imm=5) + insn(0x85, src=1, imm=2) + R0_0 + EXIT \
    + insn(0xbf, 0, 1) + insn(0x07, 0, imm=1) + EXIT
# the same, passing the frame pointer
G_SCALAR_BAD = insn(0xbf, 1, 10) + G_SCALAR[8:]
# main: call +2 (r1 = ctx); r0 = 0; exit / g: r0 = *(u32 *)(r1 + 0); exit
G_CTX = insn(0x85, src=1, imm=2) + R0_0 + EXIT + insn(0x61, 0, 1) + EXIT
G_CTX_BAD = insn(0xb7, 1, imm=0) + insn(0x85, src=1, imm=2) + R0_0 + EXIT + insn(0x61, 0, 1) + EXIT
# main: *(u64 *)(r10 -8) = 0; r1 = r10; r1 += -8; call +2; r0 = 0; exit
_PASS_STACK = insn(0x7a, 10, off=-8, imm=0) + insn(0xbf, 1, 10) + insn(0x07, 1, imm=-8) \
    + insn(0x85, src=1, imm=2) + R0_0 + EXIT
# g: r0 = 0; if r1 == 0 goto +1; r0 = *(u32 *)(r1 + 0); exit
G_PTR = _PASS_STACK + R0_0 + insn(0x15, 1, off=1) + insn(0x61, 0, 1) + EXIT
G_PTR_NO_NULL_CHECK = _PASS_STACK + insn(0x61, 0, 1) + EXIT
G_PTR_OOB = _PASS_STACK + R0_0 + insn(0x15, 1, off=1) + insn(0x61, 0, 1, off=4) + EXIT
G_PTR_NULL = insn(0xb7, 1, imm=0) + insn(0x85, src=1, imm=2) + R0_0 + EXIT \
    + R0_0 + insn(0x15, 1, off=1) + insn(0x61, 0, 1) + EXIT
G_PTR_SHORT = (insn(0x62, 10, off=-4, imm=0) + insn(0xbf, 1, 10) + insn(0x07, 1, imm=-2)
               + insn(0x85, src=1, imm=2) + R0_0 + EXIT + R0_0 + EXIT)
# g returns the frame pointer
G_RET_FP = insn(0x85, src=1, imm=2) + R0_0 + EXIT + insn(0xbf, 0, 10) + EXIT
# main -> gsc -> gsc2
G_NESTED = insn(0xb7, 1, imm=5) + insn(0x85, src=1, imm=2) + R0_0 + EXIT \
    + insn(0x85, src=1, imm=1) + EXIT + insn(0xbf, 0, 1) + EXIT
# main calls g twice
G_TWICE = insn(0xb7, 1, imm=5) + insn(0x85, src=1, imm=4) + insn(0xbf, 1, 0) \
    + insn(0x85, src=1, imm=2) + R0_0 + EXIT + insn(0xbf, 0, 1) + EXIT


def fi(*recs, rec_size: int = 8, tail: bytes = b"") -> tuple[bytes, int]:
    return b"".join(struct.pack("<II", *r).ljust(rec_size - len(tail), b"\0") + tail
                    for r in recs), rec_size


def li(*offs, lines=(L0, L1, L2), file=FILE, rec_size: int = 16) -> tuple[bytes, int]:
    out = b""
    for k, off in enumerate(offs):
        line = lines[k % len(lines)]
        out += struct.pack("<IIII", off, file, line, ((10 + k) << 10) | (k + 1)).ljust(rec_size, b"\0")
    return out, rec_size


GOOD_FI = fi((0, 3), (3, 4))
GOOD_LI = li(0, 1, 3)

# name: (program, func_info, line_info, log_level)
CASES = {
    "good": (CALLER, GOOD_FI, GOOD_LI, 2),
    "good_level1": (CALLER, GOOD_FI, GOOD_LI, 1),
    "func_info_only": (CALLER, GOOD_FI, None, 2),
    "line_info_only": (DEAD[:8] + EXIT, None, li(0, 1), 2),
    "line_info_only_with_subprog": (CALLER, None, GOOD_LI, 2),
    "rec_size_4": (CALLER, fi((0, 3), (3, 4), rec_size=4), GOOD_LI, 1),
    "rec_size_12_zero_tail": (CALLER, fi((0, 3), (3, 4), rec_size=12), GOOD_LI, 1),
    "rec_size_12_nonzero_tail": (CALLER, fi((0, 3), (3, 4), rec_size=12, tail=b"\1\0\0\0"),
                                 GOOD_LI, 1),
    "rec_size_256": (CALLER, fi((0, 3), (3, 4), rec_size=256), GOOD_LI, 1),
    "first_not_zero": (CALLER, fi((1, 3), (3, 4)), GOOD_LI, 1),
    "not_increasing": (CALLER, fi((0, 3), (0, 4)), GOOD_LI, 1),
    "type_id_0": (CALLER, fi((0, 0), (3, 4)), GOOD_LI, 1),
    "type_id_int": (CALLER, fi((0, 3), (3, 1)), GOOD_LI, 1),
    "type_id_proto": (CALLER, fi((0, 2), (3, 4)), GOOD_LI, 1),
    "type_id_too_big": (CALLER, fi((0, 3), (3, 99)), GOOD_LI, 1),
    "type_id_negative": (CALLER, fi((0, 3), (3, 0xFFFFFFFF)), GOOD_LI, 1),
    "too_few_funcs": (CALLER, fi((0, 3)), GOOD_LI, 1),
    "too_many_funcs": (CALLER, fi((0, 3), (3, 4), (4, 4)), GOOD_LI, 1),
    "layout_mismatch": (CALLER, fi((0, 3), (2, 4)), GOOD_LI, 1),
    "li_rec_size_8": (CALLER, GOOD_FI, li(0, 1, 3, rec_size=8), 1),
    "li_rec_size_20": (CALLER, GOOD_FI, li(0, 1, 3, rec_size=20), 1),
    "li_not_increasing": (CALLER, GOOD_FI, li(0, 1, 1, 3), 1),
    "li_past_end": (CALLER, GOOD_FI, li(0, 1, 3, 5), 1),
    "li_missing_func1": (CALLER, GOOD_FI, li(0, 1, 4), 1),
    "li_missing_tail_funcs": (CALLER, GOOD_FI, li(0, 1), 1),
    "li_first_not_zero": (CALLER, GOOD_FI, li(1, 3), 1),
    "li_bad_line_off": (CALLER, GOOD_FI, li(0, 1, 3, lines=(L0, 9999)), 1),
    "li_bad_file_off": (CALLER, GOOD_FI, li(0, 1, 3, file=9999), 1),
    "li_ldimm64_second_half": (LDIMM, None, li(0, 1), 1),
    "dead_code_removed": (DEAD, None, li(0, 1, 2, 3), 2),
    "dead_code_inherits": (DEAD, None, li(0, 1, 2), 2),
    "dead_code_tail_record": (DEAD_TAIL, None, li(0, 1, 3), 2),
    "dead_code_tail_records": (DEAD_TAIL, None, li(0, 1, 2, 3, 4), 2),
    "dead_code_sparse_records": (DEAD, None, li(0, 2), 1),
    "ctx_conversion": (CTX, None, li(0, 1, 2), 2),
    "ld_abs_in_subprog_without_btf": (LDABS, None, None, 1),
    "ld_abs_in_int_subprog": (LDABS, fi((0, 3), (2, 4)), None, 1),
    "ld_abs_in_void_subprog": (LDABS, fi((0, 3), (2, 6)), None, 1),
    "ld_abs_in_subprog_line_info_only": (LDABS, None, li(0, 2), 1),
    "ld_abs_in_int_subprog_level2": (LDABS, fi((0, 3), (2, 4)), li(0, 1, 2, 3), 2),
    "ld_abs_main_level2": (LDABS[16:], None, None, 2),
    "global_scalar": (G_SCALAR, fi((0, 3), (4, 9)), None, 2),
    "global_scalar_level1": (G_SCALAR, fi((0, 3), (4, 9)), None, 1),
    "global_scalar_line_info": (G_SCALAR, fi((0, 3), (4, 9)), li(0, 1, 4, 5), 2),
    "global_scalar_gets_pointer": (G_SCALAR_BAD, fi((0, 3), (4, 9)), None, 2),
    "static_scalar_gets_pointer": (G_SCALAR_BAD, fi((0, 3), (4, 24)), None, 2),
    "global_ctx": (G_CTX, fi((0, 3), (3, 15)), None, 2),
    "global_ctx_gets_scalar": (G_CTX_BAD, fi((0, 3), (4, 15)), None, 2),
    "global_ptr": (G_PTR, fi((0, 3), (6, 11)), None, 2),
    "global_ptr_no_null_check": (G_PTR_NO_NULL_CHECK, fi((0, 3), (6, 11)), None, 2),
    "global_ptr_out_of_bounds": (G_PTR_OOB, fi((0, 3), (6, 11)), None, 1),
    "global_ptr_gets_null": (G_PTR_NULL, fi((0, 3), (4, 11)), None, 2),
    "global_ptr_short_stack": (G_PTR_SHORT, fi((0, 3), (6, 11)), None, 1),
    "global_void_ptr": (G_CTX, fi((0, 3), (3, 18)), None, 1),
    "global_returns_ptr_type": (G_RET_FP, fi((0, 3), (3, 20)), None, 1),
    "global_returns_fp": (G_RET_FP, fi((0, 3), (3, 9)), None, 2),
    "global_void_return": (G_SCALAR, fi((0, 3), (4, 27)), None, 1),
    "global_six_args": (G_SCALAR, fi((0, 3), (4, 22)), None, 1),
    "global_nested": (G_NESTED, fi((0, 3), (4, 9), (6, 23)), None, 2),
    "global_called_twice": (G_TWICE, fi((0, 3), (6, 9)), None, 2),
    "main_ctx_proto": (CALLER, fi((0, 25), (3, 4)), GOOD_LI, 2),
    "main_void_ptr_proto": (CALLER, fi((0, 26), (3, 4)), GOOD_LI, 2),
    "main_void_ptr_proto_level1": (CALLER, fi((0, 26), (3, 4)), GOOD_LI, 1),
}


def _records(task, fd: int, info: dict) -> dict:
    """The info's func_info, line_info and jited_line_info arrays, read with a second call."""
    nf, nl, nj = info["nr_func_info"], info["nr_line_info"], info["nr_jited_line_info"]
    fb = ctypes.create_string_buffer(max(8 * nf, 1))
    lb = ctypes.create_string_buffer(max(16 * nl, 1))
    jb = ctypes.create_string_buffer(max(8 * nj, 1))
    L.obj_get_info_by_fd(task, fd, "prog", nr_func_info=nf, func_info=ctypes.addressof(fb),
                         func_info_rec_size=8, nr_line_info=nl, line_info=ctypes.addressof(lb),
                         line_info_rec_size=16, nr_jited_line_info=nj,
                         jited_line_info=ctypes.addressof(jb), jited_line_info_rec_size=8)
    return {"func_info": [struct.unpack_from("<II", fb.raw, 8 * i) for i in range(nf)],
            "line_info": [struct.unpack_from("<IIII", lb.raw, 16 * i) for i in range(nl)]}


def run(task, name: str) -> dict:
    code, finfo, linfo, level = CASES[name]
    btf_fd, _ = L.btf_load(task, BTF)
    try:
        opts = L.ProgLoadOpts(prog_btf_fd=btf_fd, log_level=level, log_size=1 << 16)
        if finfo:
            opts.func_info, opts.func_info_rec_size = finfo
        if linfo:
            opts.line_info, opts.line_info_rec_size = linfo
        ret, log, _ = L.bpf_prog_load(task, 1, code, "GPL", "btf_info", opts)
        out = {"errno": -ret if ret < 0 else 0,
               "log": "\n".join(l for l in log.splitlines() if not l.startswith("verification time"))}
        if ret >= 0:
            info = L.prog_get_info(task, ret)
            out.update({k: info[k] for k in ("nr_func_info", "func_info_rec_size", "nr_line_info",
                                              "line_info_rec_size", "nr_jited_line_info",
                                              "xlated")})
            out.update(_records(task, ret, info))
            task.close(ret)
        return out
    finally:
        task.close(btf_fd)


def run_tail_call_in_subprog(task) -> tuple[bool, str]:
    """main calls sub, which tail-calls through a prog array: (loaded, level-2 log with the map
    address written as ADDR)."""
    import re
    mfd = L.map_create(task, 3, "pa", 4, 4, 4)             # BPF_MAP_TYPE_PROG_ARRAY
    btf_fd, _ = L.btf_load(task, BTF)
    try:
        prog = (insn(0x85, src=1, imm=1) + EXIT + insn(0x18, 2, 1, imm=mfd) + insn(0)
                + insn(0xb7, 3, imm=0) + insn(0x85, imm=12) + R0_0 + EXIT)
        finfo, rs = fi((0, 3), (2, 4))
        opts = L.ProgLoadOpts(prog_btf_fd=btf_fd, log_level=2, log_size=1 << 16,
                              func_info=finfo, func_info_rec_size=rs)
        ret, log, _ = L.bpf_prog_load(task, 1, prog, "GPL", "tail", opts)
        if ret >= 0:
            task.close(ret)
        return ret >= 0, re.sub(r"0x[0-9a-f]{12,16}", "ADDR", log)
    finally:
        task.close(btf_fd)
        task.close(mfd)


def complaint(log: str) -> str:
    """The last line before the statistics line (the kernel's complaint)."""
    text = log.split("processed ", 1)[0] if "processed " in log else log
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else ""


# what Linux 6.18.44 answered: (errno, complaint line); refreshed by the realkernel test's
# comparison (test_prog_load_btf_info_realkernel.py)
ANSWERS = {
    'good': (0, '2: (95) exit'),
    'good_level1': (0, ''),
    'func_info_only': (0, '2: (95) exit'),
    'line_info_only': (0, '1: (95) exit'),
    'line_info_only_with_subprog': (0, '2: (95) exit'),
    'rec_size_4': (22, 'invalid func info rec size 4'),
    'rec_size_12_zero_tail': (0, ''),
    'rec_size_12_nonzero_tail': (7, 'nonzero tailing record in func info'),
    'rec_size_256': (22, 'invalid func info rec size 256'),
    'first_not_zero': (22, 'nonzero insn_off 1 for the first func info record'),
    'not_increasing': (22, 'same or smaller insn offset (0) than previous func info record (0)'),
    'type_id_0': (22, 'invalid type id 0 in func info'),
    'type_id_int': (22, 'invalid type id 1 in func info'),
    'type_id_proto': (22, 'invalid type id 2 in func info'),
    'type_id_too_big': (22, 'invalid type id 99 in func info'),
    'type_id_negative': (22, 'invalid type id -1 in func info'),
    'too_few_funcs': (22, "number of funcs in func_info doesn't match number of subprogs"),
    'too_many_funcs': (22, "number of funcs in func_info doesn't match number of subprogs"),
    'layout_mismatch': (22, "func_info BTF section doesn't match subprog layout in BPF program"),
    'li_rec_size_8': (22, ''),
    'li_rec_size_20': (0, ''),
    'li_not_increasing': (22, 'Invalid line_info[2].insn_off:1 (prev_offset:1 prog->len:5)'),
    'li_past_end': (22, 'Invalid line_info[3].insn_off:5 (prev_offset:3 prog->len:5)'),
    'li_missing_func1': (22, 'missing bpf_line_info for func#1'),
    'li_missing_tail_funcs': (22, 'missing bpf_line_info for 1 funcs starting from func#1'),
    'li_first_not_zero': (22, 'missing bpf_line_info for func#0'),
    'li_bad_line_off': (22, 'Invalid line_info[1].line_off or .file_name_off'),
    'li_bad_file_off': (22, 'Invalid line_info[0].line_off or .file_name_off'),
    'li_ldimm64_second_half': (22, 'Invalid insn code at line_info[1].insn_off'),
    'dead_code_removed': (0, '3: (95) exit'),
    'dead_code_inherits': (0, '3: (95) exit'),
    'dead_code_tail_record': (0, '2: (95) exit'),
    'dead_code_tail_records': (0, '2: (95) exit'),
    'dead_code_sparse_records': (0, ''),
    'ctx_conversion': (0, '2: (95) exit'),
    'ld_abs_in_subprog_without_btf': (22, 'LD_ABS is not allowed in subprogs without BTF'),
    'ld_abs_in_int_subprog': (0, ''),
    'ld_abs_in_void_subprog': (22, "LD_ABS is only allowed in functions that return 'int'."),
    'ld_abs_in_subprog_line_info_only': (22, 'LD_ABS is not allowed in subprogs without BTF'),
    'ld_abs_in_int_subprog_level2': (0, '1: (95) exit'),
    'ld_abs_main_level2': (0, '3: (95) exit'),
    'global_scalar': (0, "Func#1 ('gsc') is safe for any args that match its prototype"),
    'global_scalar_level1': (0, "Func#1 ('gsc') is safe for any args that match its prototype"),
    'global_scalar_line_info': (0, "Func#1 ('gsc') is safe for any args that match its prototype"),
    'global_scalar_gets_pointer': (22, "Caller passes invalid args into func#1 ('gsc')"),
    'static_scalar_gets_pointer': (22, 'cannot return stack pointer to the caller'),
    'global_ctx': (0, "Func#1 ('gctx') is safe for any args that match its prototype"),
    'global_ctx_gets_scalar': (22, "Caller passes invalid args into func#1 ('gctx')"),
    'global_ptr': (0, "Func#1 ('gptr') is safe for any args that match its prototype"),
    'global_ptr_no_null_check': (13, "R1 invalid mem access 'mem_or_null'"),
    'global_ptr_out_of_bounds': (13, 'R1 min value is outside of the allowed memory range'),
    'global_ptr_gets_null': (0, "Func#1 ('gptr') is safe for any args that match its prototype"),
    'global_ptr_short_stack': (22, "Caller passes invalid args into func#1 ('gptr')"),
    'global_void_ptr': (22, "Caller passes invalid args into func#1 ('gvoid')"),
    'global_returns_ptr_type': (22, "Caller passes invalid args into func#1 ('gretptr')"),
    'global_returns_fp': (22, "Caller passes invalid args into func#1 ('gsc')"),
    'global_void_return': (22, "Caller passes invalid args into func#1 ('gsc')"),
    'global_six_args': (22, "Caller passes invalid args into func#1 ('g6')"),
    'global_nested': (0, "Func#2 ('gsc2') is safe for any args that match its prototype"),
    'global_called_twice': (0, "Func#1 ('gsc') is safe for any args that match its prototype"),
    'main_ctx_proto': (0, '2: (95) exit'),
    'main_void_ptr_proto': (0, '2: (95) exit'),
    'main_void_ptr_proto_level1': (0, ''),
}
