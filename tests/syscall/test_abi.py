"""Pin the cffi layouts of syscall/abi.py and syscall/perf_abi.py to the real C headers.

A C program is generated from cffi's own type information (every leaf field, every named nested
struct/union, every enum constant), compiled with gcc against Debian's linux-libc-dev headers
(6.1, older than the 6.18 we claim) and run; its sizeof/offsetof/bit positions must equal cffi's.
Lines that do not compile against 6.1 (fields and constants added after it) are dropped and must be
exactly the ones pinned by hand in NEWER_THAN_6_1 below, each with the version that added it; the
sizes of the structs that grew are pinned by hand in SIZES_6_18. The 6.18 values were taken from the
v6.18 header with gcc once, and ``sizeof(union bpf_attr)`` is also probed on the running 6.18
kernel (tests/syscall/test_attr_realkernel.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from kernelsim import uapi
from syscall import abi, perf_abi

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or not os.path.exists(
    "/usr/include/linux/bpf.h"), reason="needs gcc and linux-libc-dev")

# (C type, field) -> (offset, size, kernel version that added it), from the v6.18 header; every
# entry is absent from the 6.1 uapi headers (the test checks that this is exactly what 6.1 lacks).
NEWER_THAN_6_1: dict[tuple[str, str], tuple[int, int, str]] = {
    # union bpf_attr
    ("union bpf_attr", "link_create.map_fd"): (0, 4, "6.4"),
    ("union bpf_attr", "prog_stream_read"): (0, 24, "6.17"),
    ("union bpf_attr", "prog_stream_read.stream_buf"): (0, 8, "6.17"),
    ("union bpf_attr", "query.target_ifindex"): (0, 4, "6.6"),
    ("union bpf_attr", "target_ifindex"): (0, 4, "6.6"),
    ("union bpf_attr", "token_create"): (0, 8, "6.9"),
    ("union bpf_attr", "token_create.flags"): (0, 4, "6.9"),
    ("union bpf_attr", "link_update.new_map_fd"): (4, 4, "6.4"),
    ("union bpf_attr", "token_create.bpffs_fd"): (4, 4, "6.9"),
    ("union bpf_attr", "prog_stream_read.stream_buf_len"): (8, 4, "6.17"),
    ("union bpf_attr", "fd_by_id_token_fd"): (12, 4, "6.15"),
    ("union bpf_attr", "link_update.old_map_fd"): (12, 4, "6.4"),
    ("union bpf_attr", "prog_stream_read.stream_id"): (12, 4, "6.17"),
    ("union bpf_attr", "link_create.cgroup"): (16, 16, "6.17"),
    ("union bpf_attr", "link_create.cgroup.relative_fd"): (16, 4, "6.17"),
    ("union bpf_attr", "link_create.cgroup.relative_id"): (16, 4, "6.17"),
    ("union bpf_attr", "link_create.netfilter"): (16, 16, "6.4"),
    ("union bpf_attr", "link_create.netfilter.pf"): (16, 4, "6.4"),
    ("union bpf_attr", "link_create.netkit"): (16, 16, "6.7"),
    ("union bpf_attr", "link_create.netkit.relative_fd"): (16, 4, "6.7"),
    ("union bpf_attr", "link_create.netkit.relative_id"): (16, 4, "6.7"),
    ("union bpf_attr", "link_create.tcx"): (16, 16, "6.6"),
    ("union bpf_attr", "link_create.tcx.relative_fd"): (16, 4, "6.6"),
    ("union bpf_attr", "link_create.tcx.relative_id"): (16, 4, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi"): (16, 48, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi.path"): (16, 8, "6.6"),
    ("union bpf_attr", "path_fd"): (16, 4, "6.5"),
    ("union bpf_attr", "prog_stream_read.prog_fd"): (16, 4, "6.17"),
    ("union bpf_attr", "raw_tracepoint.cookie"): (16, 8, "6.10"),
    ("union bpf_attr", "link_create.netfilter.hooknum"): (20, 4, "6.4"),
    ("union bpf_attr", "relative_fd"): (20, 4, "6.6"),
    ("union bpf_attr", "relative_id"): (20, 4, "6.6"),
    ("union bpf_attr", "expected_revision"): (24, 8, "6.6"),
    ("union bpf_attr", "link_create.cgroup.expected_revision"): (24, 8, "6.17"),
    ("union bpf_attr", "link_create.netfilter.priority"): (24, 4, "6.4"),
    ("union bpf_attr", "link_create.netkit.expected_revision"): (24, 8, "6.7"),
    ("union bpf_attr", "link_create.tcx.expected_revision"): (24, 8, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi.offsets"): (24, 8, "6.6"),
    ("union bpf_attr", "query.count"): (24, 4, "6.6"),
    ("union bpf_attr", "btf_log_true_size"): (28, 4, "6.4"),
    ("union bpf_attr", "link_create.netfilter.flags"): (28, 4, "6.4"),
    ("union bpf_attr", "btf_flags"): (32, 4, "6.9"),
    ("union bpf_attr", "link_create.uprobe_multi.ref_ctr_offsets"): (32, 8, "6.6"),
    ("union bpf_attr", "btf_token_fd"): (36, 4, "6.9"),
    ("union bpf_attr", "link_create.uprobe_multi.cookies"): (40, 8, "6.6"),
    ("union bpf_attr", "query.link_ids"): (40, 8, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi.cnt"): (48, 4, "6.6"),
    ("union bpf_attr", "query.link_attach_flags"): (48, 8, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi.flags"): (52, 4, "6.6"),
    ("union bpf_attr", "link_create.uprobe_multi.pid"): (56, 4, "6.6"),
    ("union bpf_attr", "query.revision"): (56, 8, "6.6"),
    ("union bpf_attr", "value_type_btf_obj_fd"): (72, 4, "6.9"),
    ("union bpf_attr", "map_token_fd"): (76, 4, "6.9"),
    ("union bpf_attr", "excl_prog_hash"): (80, 8, "6.18"),
    ("union bpf_attr", "excl_prog_hash_size"): (88, 4, "6.18"),
    ("union bpf_attr", "log_true_size"): (140, 4, "6.4"),
    ("union bpf_attr", "prog_token_fd"): (144, 4, "6.9"),
    ("union bpf_attr", "fd_array_cnt"): (148, 4, "6.14"),
    ("union bpf_attr", "signature"): (152, 8, "6.18"),
    ("union bpf_attr", "signature_size"): (160, 4, "6.18"),
    ("union bpf_attr", "keyring_id"): (164, 4, "6.18"),
    # struct bpf_map_info
    ("struct bpf_map_info", "btf_vmlinux_id"): (76, 4, "6.9"),
    ("struct bpf_map_info", "hash"): (88, 8, "6.18"),
    ("struct bpf_map_info", "hash_size"): (96, 4, "6.18"),
    # struct bpf_link_info
    ("struct bpf_link_info", "kprobe_multi"): (16, 32, "6.6"),
    ("struct bpf_link_info", "kprobe_multi.addrs"): (16, 8, "6.6"),
    ("struct bpf_link_info", "netfilter"): (16, 16, "6.4"),
    ("struct bpf_link_info", "netfilter.pf"): (16, 4, "6.4"),
    ("struct bpf_link_info", "netkit"): (16, 8, "6.7"),
    ("struct bpf_link_info", "netkit.ifindex"): (16, 4, "6.7"),
    ("struct bpf_link_info", "perf_event"): (16, 48, "6.6"),
    ("struct bpf_link_info", "perf_event.type"): (16, 4, "6.6"),
    ("struct bpf_link_info", "sockmap"): (16, 8, "6.10"),
    ("struct bpf_link_info", "sockmap.map_id"): (16, 4, "6.10"),
    ("struct bpf_link_info", "struct_ops"): (16, 4, "6.4"),
    ("struct bpf_link_info", "struct_ops.map_id"): (16, 4, "6.4"),
    ("struct bpf_link_info", "tcx"): (16, 8, "6.6"),
    ("struct bpf_link_info", "tcx.ifindex"): (16, 4, "6.6"),
    ("struct bpf_link_info", "uprobe_multi"): (16, 48, "6.8"),
    ("struct bpf_link_info", "uprobe_multi.path"): (16, 8, "6.8"),
    ("struct bpf_link_info", "netfilter.hooknum"): (20, 4, "6.4"),
    ("struct bpf_link_info", "netkit.attach_type"): (20, 4, "6.7"),
    ("struct bpf_link_info", "sockmap.attach_type"): (20, 4, "6.10"),
    ("struct bpf_link_info", "tcx.attach_type"): (20, 4, "6.6"),
    ("struct bpf_link_info", "kprobe_multi.count"): (24, 4, "6.6"),
    ("struct bpf_link_info", "netfilter.priority"): (24, 4, "6.4"),
    ("struct bpf_link_info", "perf_event.event"): (24, 24, "6.6"),
    ("struct bpf_link_info", "perf_event.event.config"): (24, 8, "6.6"),
    ("struct bpf_link_info", "perf_event.kprobe"): (24, 40, "6.6"),
    ("struct bpf_link_info", "perf_event.kprobe.func_name"): (24, 8, "6.6"),
    ("struct bpf_link_info", "perf_event.tracepoint"): (24, 24, "6.6"),
    ("struct bpf_link_info", "perf_event.tracepoint.tp_name"): (24, 8, "6.6"),
    ("struct bpf_link_info", "perf_event.uprobe"): (24, 32, "6.6"),
    ("struct bpf_link_info", "perf_event.uprobe.file_name"): (24, 8, "6.6"),
    ("struct bpf_link_info", "uprobe_multi.offsets"): (24, 8, "6.8"),
    ("struct bpf_link_info", "kprobe_multi.flags"): (28, 4, "6.6"),
    ("struct bpf_link_info", "netfilter.flags"): (28, 4, "6.4"),
    ("struct bpf_link_info", "kprobe_multi.missed"): (32, 8, "6.7"),
    ("struct bpf_link_info", "perf_event.event.type"): (32, 4, "6.6"),
    ("struct bpf_link_info", "perf_event.kprobe.name_len"): (32, 4, "6.6"),
    ("struct bpf_link_info", "perf_event.tracepoint.name_len"): (32, 4, "6.6"),
    ("struct bpf_link_info", "perf_event.uprobe.name_len"): (32, 4, "6.6"),
    ("struct bpf_link_info", "raw_tracepoint.cookie"): (32, 8, "6.17"),
    ("struct bpf_link_info", "tracing.cookie"): (32, 8, "6.17"),
    ("struct bpf_link_info", "uprobe_multi.ref_ctr_offsets"): (32, 8, "6.8"),
    ("struct bpf_link_info", "perf_event.kprobe.offset"): (36, 4, "6.6"),
    ("struct bpf_link_info", "perf_event.uprobe.offset"): (36, 4, "6.6"),
    ("struct bpf_link_info", "kprobe_multi.cookies"): (40, 8, "6.9"),
    ("struct bpf_link_info", "perf_event.event.cookie"): (40, 8, "6.9"),
    ("struct bpf_link_info", "perf_event.kprobe.addr"): (40, 8, "6.6"),
    ("struct bpf_link_info", "perf_event.tracepoint.cookie"): (40, 8, "6.9"),
    ("struct bpf_link_info", "perf_event.uprobe.cookie"): (40, 8, "6.9"),
    ("struct bpf_link_info", "uprobe_multi.cookies"): (40, 8, "6.8"),
    ("struct bpf_link_info", "perf_event.kprobe.missed"): (48, 8, "6.7"),
    ("struct bpf_link_info", "perf_event.uprobe.ref_ctr_offset"): (48, 8, "6.16"),
    ("struct bpf_link_info", "uprobe_multi.path_size"): (48, 4, "6.8"),
    ("struct bpf_link_info", "uprobe_multi.count"): (52, 4, "6.8"),
    ("struct bpf_link_info", "perf_event.kprobe.cookie"): (56, 8, "6.9"),
    ("struct bpf_link_info", "uprobe_multi.flags"): (56, 4, "6.8"),
    ("struct bpf_link_info", "uprobe_multi.pid"): (60, 4, "6.8"),
    # struct bpf_token_info
    ("struct bpf_token_info", "allowed_cmds"): (0, 8, "6.17"),
    ("struct bpf_token_info", "allowed_maps"): (8, 8, "6.17"),
    ("struct bpf_token_info", "allowed_progs"): (16, 8, "6.17"),
    ("struct bpf_token_info", "allowed_attachs"): (24, 8, "6.17"),
    # struct perf_event_attr
    ("struct perf_event_attr", "aux_action"): (116, 4, "6.13"),
    ("struct perf_event_attr", "config3"): (128, 8, "6.3"),
}

# Bit positions (from the start of the struct) and widths of bitfields newer than 6.1.
NEWER_BITS_6_1: dict[tuple[str, str], tuple[int, int]] = {
    ("struct perf_event_attr", "aux_pause"): (929, 1),  # 6.13
    ("struct perf_event_attr", "aux_resume"): (930, 1),  # 6.13
    ("struct perf_event_attr", "aux_start_paused"): (928, 1),  # 6.13
}

# Fields that exist in 6.1 with another shape: (bit position, width) in 6.18.
CHANGED_BITS_6_1 = {
    ("struct perf_event_attr", "__reserved_3"): (931, 29),  # 6.13 (a whole __u32 before)
}

# Enum sentinels (non-ABI, they move with every addition): their 6.18 values.
SENTINELS_6_18 = {
    "__MAX_BPF_CMD": 38, "__MAX_BPF_MAP_TYPE": 34, "__MAX_BPF_PROG_TYPE": 33,
    "__MAX_BPF_ATTACH_TYPE": 58, "__MAX_BPF_LINK_TYPE": 15, "__BPF_FUNC_MAX_ID": 212,
    "PERF_TYPE_MAX": 6, "PERF_COUNT_SW_MAX": 12,
}

# sizeof in 6.18 (taken from the v6.18 headers with gcc); the C program's 6.1 sizes are compared
# only for the types not listed here.
SIZES_6_18 = {
    "union bpf_attr": (168, 8),          # 6.1: 144 (grew with log_true_size, tokens, signatures)
    "struct bpf_prog_info": (232, 8),    # 6.1: 224
    "struct bpf_map_info": (104, 8),     # 6.1: 88
    "struct bpf_link_info": (64, 8),     # 6.1: 32
    "struct bpf_token_info": (32, 8),    # absent in 6.1
    "struct perf_event_attr": (136, 8),  # 6.1: 128 (PERF_ATTR_SIZE_VER8 = 136 with config3)
    # nested aggregates that grew
    "union bpf_attr.query": (64, 8),
    "union bpf_attr.raw_tracepoint": (24, 8),
    "union bpf_attr.link_create": (64, 8),
    "struct bpf_link_info.raw_tracepoint": (24, 8),
    "struct bpf_link_info.tracing": (24, 8),
}


def _c_name(ctype: str) -> str:
    return ctype


def _program_lines(types: list[str], ffi, enums: list[str]) -> list[tuple[str, str, str]]:
    """(kind, key, C statement) lines, one check per line so a compile error names one check."""
    out = []
    for t in types:
        out.append(("size", t, f'printf("size|{t}|%zu|%zu\\n", sizeof({t}), _Alignof({t}));'))
        for fl in abi.walk_members(ffi.typeof(t)) if ffi is abi.ffi else perf_abi.walk_members(t):
            if fl.bitsize >= 0:
                out.append(("bits", f"{t}|{fl.name}",
                            f'{{ {t} x; memset(&x, 0, sizeof x); x.{fl.name} = -1; '
                            f'bits("{t}|{fl.name}", &x, sizeof x); }}'))
            else:
                out.append(("field", f"{t}|{fl.name}",
                            f'printf("field|{t}|{fl.name}|%zu|%zu\\n", offsetof({t}, {fl.name}), '
                            f'sizeof((({t} *)0)->{fl.name}));'))
    for e in enums:
        for name, value in ffi.typeof(e).relements.items():
            out.append(("const", f"{e}|{name}",
                        f'printf("const|{e}|{name}|%lld\\n", (long long)({name}));'))
    return out


_PRELUDE = r"""
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <linux/perf_event.h>
static void bits(const char *key, const void *p, size_t n) {
    const unsigned char *b = p; int first = -1, count = 0;
    for (size_t i = 0; i < n * 8; i++)
        if (b[i / 8] >> (i % 8) & 1) { if (first < 0) first = i; count++; }
    printf("bits|%s|%d|%d\n", key, first, count);
}
int main(void) {
"""


def _run(lines, tmp_path, cflags=()):
    """Compile and run; drop lines that fail to compile. Returns (results, dropped keys)."""
    dropped: set[str] = set()
    live = list(lines)
    for _ in range(3):
        src = _PRELUDE + "\n".join(stmt for _, _, stmt in live) + "\nreturn 0;\n}\n"
        first_line = _PRELUDE.count("\n") + 1
        c = tmp_path / "layout.c"
        c.write_text(src)
        exe = tmp_path / "layout"
        r = subprocess.run(["gcc", "-w", *cflags, "-o", str(exe), str(c)], capture_output=True,
                           text=True)
        if r.returncode == 0:
            out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
            return out, dropped
        bad = {int(m) - first_line for m in re.findall(r"layout\.c:(\d+):\d+: error", r.stderr)}
        assert bad, r.stderr[:2000]
        dropped |= {live[i][1] for i in bad if 0 <= i < len(live)}
        live = [ln for i, ln in enumerate(live) if i not in bad]
    raise AssertionError("layout program does not compile:\n" + r.stderr[:2000])


def _parse(out):
    sizes, fields, bits, consts = {}, {}, {}, {}
    for line in out.splitlines():
        kind, *rest = line.split("|")
        if kind == "size":
            sizes[rest[0]] = (int(rest[1]), int(rest[2]))
        elif kind == "field":
            fields[(rest[0], rest[1])] = (int(rest[2]), int(rest[3]))
        elif kind == "bits":
            bits[(rest[0], rest[1])] = (int(rest[2]), int(rest[3]))
        elif kind == "const":
            consts[(rest[0], rest[1])] = int(rest[2])
    return sizes, fields, bits, consts


def _cffi_view(ffi, walk, types):
    sizes, fields, bits = {}, {}, {}
    for t in types:
        sizes[t] = (ffi.sizeof(t), ffi.alignof(t))
        for fl in walk(t):
            if fl.bitsize >= 0:
                bits[(t, fl.name)] = (fl.offset * 8 + fl.bitshift, fl.bitsize)
            else:
                fields[(t, fl.name)] = (fl.offset, fl.size)
                if fl.ctype.startswith(("struct ", "union ")):
                    sizes[f"{t}.{fl.name}"] = (fl.size, fl.align)
    return sizes, fields, bits


BPF_TYPES = [t for t in abi.STRUCTS]
PERF_TYPES = list(perf_abi.STRUCTS)


@pytest.fixture(scope="module")
def gcc_layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    lines = _program_lines(BPF_TYPES, abi.ffi, list(abi.ENUMS))
    lines += _program_lines(PERF_TYPES, perf_abi.ffi, list(perf_abi.ENUMS))
    out, dropped = _run(lines, tmp)
    return _parse(out), dropped


def test_only_the_pinned_fields_are_newer_than_6_1(gcc_layout):
    """What 6.1 lacks is exactly what NEWER_THAN_6_1 pins by hand (plus newer enum constants and
    the sizes of types 6.1 does not have)."""
    (_, _, _, _), dropped = gcc_layout
    dropped_fields = {tuple(k.split("|")) for k in dropped if not k.startswith("enum ")}
    dropped_fields -= {(k, "") for k in SIZES_6_18}
    dropped_fields = {k for k in dropped_fields if len(k) == 2}
    pinned = set(NEWER_THAN_6_1) | set(NEWER_BITS_6_1)
    assert dropped_fields == pinned, (
        f"unpinned: {sorted(dropped_fields - pinned)}; "
        f"pinned but in 6.1: {sorted(pinned - dropped_fields)}")


def _cffi_all():
    s1, f1, b1 = _cffi_view(abi.ffi, abi.walk_members, BPF_TYPES)
    s2, f2, b2 = _cffi_view(perf_abi.ffi, perf_abi.walk_members, PERF_TYPES)
    return {**s1, **s2}, {**f1, **f2}, {**b1, **b2}


def test_field_offsets_and_sizes_match_the_header(gcc_layout):
    (_, c_fields, _, _), _ = gcc_layout
    _, py_fields, _ = _cffi_all()
    mismatches = []
    for key, (off, size) in py_fields.items():
        if key in NEWER_THAN_6_1:
            want = NEWER_THAN_6_1[key][:2]
        elif f"{key[0]}.{key[1]}" in SIZES_6_18:      # a nested aggregate that grew
            want = (c_fields[key][0], SIZES_6_18[f"{key[0]}.{key[1]}"][0])
        elif key in c_fields:
            want = c_fields[key]
        else:
            continue   # a bitfield or a type 6.1 lacks: checked elsewhere
        if (off, size) != want:
            mismatches.append(f"{key}: cffi {(off, size)} C {want}")
    assert not mismatches, "\n".join(mismatches)
    # every cffi field was checked one way or the other
    unchecked = [k for k in py_fields if k not in NEWER_THAN_6_1 and k not in c_fields]
    assert not unchecked, unchecked


def test_bitfields_match_the_header(gcc_layout):
    (_, _, c_bits, _), _ = gcc_layout
    _, _, py_bits = _cffi_all()
    assert py_bits, "no bitfields seen"
    for key, want in py_bits.items():
        got = NEWER_BITS_6_1.get(key) or CHANGED_BITS_6_1.get(key) or c_bits.get(key)
        assert got == want, f"{key}: C {got} cffi {want}"
    assert py_bits[("struct bpf_insn", "dst_reg")] == (8, 4)
    assert py_bits[("struct bpf_insn", "src_reg")] == (12, 4)
    assert py_bits[("struct bpf_prog_info", "gpl_compatible")] == (84 * 8, 1)


def test_struct_sizes_match_the_header(gcc_layout):
    (c_sizes, _, _, _), _ = gcc_layout
    py_sizes, _, _ = _cffi_all()
    for name, got in py_sizes.items():
        if name in SIZES_6_18:
            assert got == SIZES_6_18[name], name
        elif name == "struct bpf_raw_tracepoint_args":
            assert c_sizes[name] == (0, 8) and got == (1, 8)   # cffi cannot express an empty struct
        elif "." in name:
            pass   # nested aggregates: their fields are pinned; whole sizes below
        else:
            assert got == c_sizes[name], f"{name}: cffi {got} C {c_sizes[name]}"


def test_nested_aggregate_sizes(gcc_layout):
    (_, c_fields, _, _), _ = gcc_layout
    py_sizes, _, _ = _cffi_all()
    for name, (size, _align) in py_sizes.items():
        if "." not in name:
            continue
        t, member = name.split(".", 1)
        if name in SIZES_6_18:
            assert (size, _align) == SIZES_6_18[name]
        elif (t, member) in NEWER_THAN_6_1:
            assert size == NEWER_THAN_6_1[(t, member)][1], name
        else:
            assert c_fields[(t, member)][1] == size, name


def test_enum_constants_match_the_header(gcc_layout):
    (_, _, _, c_consts), dropped = gcc_layout
    seen = 0
    for e in list(abi.ENUMS):
        for name, value in abi.ffi.typeof(e).relements.items():
            key = (e, name)
            if name in SENTINELS_6_18:
                assert value == SENTINELS_6_18[name], name
            elif key in c_consts:
                assert c_consts[key] == value, key
                seen += 1
            else:
                assert f"{e}|{name}" in dropped
    for e in list(perf_abi.ENUMS):
        for name, value in perf_abi.ffi.typeof(e).relements.items():
            if name in SENTINELS_6_18:
                assert value == SENTINELS_6_18[name], name
            elif (e, name) in c_consts:
                assert c_consts[(e, name)] == value
                seen += 1
    assert seen > 400


# Enum constants added after 6.1 (value, version that added it); exactly what 6.1 lacks.
NEWER_CONSTANTS_6_1 = {
    "BPF_TOKEN_CREATE": (36, "6.9"), "BPF_PROG_STREAM_READ_BY_FD": (37, "6.17"),
    "__MAX_BPF_CMD": (38, "6.9"), "__MAX_BPF_MAP_TYPE": (34, "6.9"),
    "__MAX_BPF_PROG_TYPE": (33, "6.9"), "__MAX_BPF_LINK_TYPE": (15, "6.9"),
    "BPF_MAP_TYPE_CGRP_STORAGE": (32, "6.2"), "BPF_MAP_TYPE_ARENA": (33, "6.9"),
    "BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED": (19, "6.2"),
    "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED": (21, "6.2"),
    "BPF_PROG_TYPE_NETFILTER": (32, "6.4"), "BPF_STRUCT_OPS": (44, "6.4"),
    "BPF_NETFILTER": (45, "6.4"), "BPF_TCX_INGRESS": (46, "6.6"), "BPF_TCX_EGRESS": (47, "6.6"),
    "BPF_TRACE_UPROBE_MULTI": (48, "6.6"), "BPF_CGROUP_UNIX_CONNECT": (49, "6.7"),
    "BPF_CGROUP_UNIX_SENDMSG": (50, "6.7"), "BPF_CGROUP_UNIX_RECVMSG": (51, "6.7"),
    "BPF_CGROUP_UNIX_GETPEERNAME": (52, "6.7"), "BPF_CGROUP_UNIX_GETSOCKNAME": (53, "6.7"),
    "BPF_NETKIT_PRIMARY": (54, "6.7"), "BPF_NETKIT_PEER": (55, "6.7"),
    "BPF_TRACE_KPROBE_SESSION": (56, "6.10"), "BPF_TRACE_UPROBE_SESSION": (57, "6.13"),
    "BPF_LINK_TYPE_NETFILTER": (10, "6.4"), "BPF_LINK_TYPE_TCX": (11, "6.6"),
    "BPF_LINK_TYPE_UPROBE_MULTI": (12, "6.6"), "BPF_LINK_TYPE_NETKIT": (13, "6.7"),
    "BPF_LINK_TYPE_SOCKMAP": (14, "6.10"),
    "BPF_FUNC_cgrp_storage_get": (210, "6.2"), "BPF_FUNC_cgrp_storage_delete": (211, "6.2"),
    "BPF_PERF_EVENT_UNSPEC": (0, "6.6"), "BPF_PERF_EVENT_UPROBE": (1, "6.6"),
    "BPF_PERF_EVENT_URETPROBE": (2, "6.6"), "BPF_PERF_EVENT_KPROBE": (3, "6.6"),
    "BPF_PERF_EVENT_KRETPROBE": (4, "6.6"), "BPF_PERF_EVENT_TRACEPOINT": (5, "6.6"),
    "BPF_PERF_EVENT_EVENT": (6, "6.6"),
}


def test_newer_constants_are_pinned(gcc_layout):
    _, dropped = gcc_layout
    values = {}
    for e in abi.ENUMS:
        values.update(abi.ffi.typeof(e).relements)
    for name, (value, _version) in NEWER_CONSTANTS_6_1.items():
        assert values[name] == value, name
    dropped_names = {k.split("|")[1] for k in dropped if k.startswith("enum ")}
    assert dropped_names == set(NEWER_CONSTANTS_6_1)


# ----------------------------------------------------------------------------------------------
# plain cffi facts (no compiler)

def test_attr_size_and_alignment():
    assert abi.attr_size() == abi.BPF_ATTR_SIZE == 168
    assert abi.ffi.alignof("union bpf_attr") == 8
    assert abi.offsetofend("union bpf_attr", "keyring_id") == 168
    assert abi.ffi.sizeof("struct bpf_insn") == 8


def test_new_attr_and_from_bytes():
    a = abi.new_attr()
    assert abi.to_bytes(a) == bytes(168)
    b = abi.attr_from_bytes(b"\x02\x00\x00\x00\x04")
    assert b.map_type == 2 and b.key_size == 4 and b.value_size == 0
    big = abi.attr_from_bytes(bytes(range(200)))
    assert abi.to_bytes(big) == bytes(range(168))
    b.link_create.uprobe_multi.pid = 7
    assert abi.to_bytes(b)[56:60] == (7).to_bytes(4, "little")


def test_enums_are_rendered_from_uapi():
    el = abi.ffi.typeof("enum bpf_cmd").relements
    for m in uapi.BpfCmd:
        assert el[m.name] == int(m)
    assert el["BPF_PROG_RUN"] == uapi.BPF_PROG_TEST_RUN and el["__MAX_BPF_CMD"] == 38
    assert abi.ffi.typeof("enum bpf_func_id").relements["__BPF_FUNC_MAX_ID"] == 212
    assert "enum bpf_prog_type {" in abi.CDEF and "BPF_PROG_TYPE_NETFILTER = 32," in abi.CDEF


def test_insn_bitfields():
    insn = abi.ffi.new("struct bpf_insn *", {"code": 0xb7, "dst_reg": 1, "src_reg": 2, "off": -1,
                                              "imm": 42})
    assert abi.to_bytes(insn) == bytes([0xb7, 0x21, 0xff, 0xff, 42, 0, 0, 0])


def test_field_lookup():
    assert abi.field("union bpf_attr", "info.info").offset == 8
    assert abi.offsetof("struct bpf_link_info", "perf_event.kprobe.cookie") == 56
    with pytest.raises(KeyError):
        abi.field("union bpf_attr", "nope")


# ----------------------------------------------------------------------------------------------
# perf_event.h macros (ioctls, flags, sample bits) against the header

PERF_MACROS = {
    "PERF_EVENT_IOC_ENABLE": perf_abi.PERF_EVENT_IOC_ENABLE,
    "PERF_EVENT_IOC_DISABLE": perf_abi.PERF_EVENT_IOC_DISABLE,
    "PERF_EVENT_IOC_REFRESH": uapi.PERF_EVENT_IOC_REFRESH,
    "PERF_EVENT_IOC_RESET": uapi.PERF_EVENT_IOC_RESET,
    "PERF_EVENT_IOC_PERIOD": uapi.PERF_EVENT_IOC_PERIOD,
    "PERF_EVENT_IOC_SET_OUTPUT": uapi.PERF_EVENT_IOC_SET_OUTPUT,
    "PERF_EVENT_IOC_SET_FILTER": uapi.PERF_EVENT_IOC_SET_FILTER,
    "PERF_EVENT_IOC_ID": uapi.PERF_EVENT_IOC_ID,
    "PERF_EVENT_IOC_SET_BPF": perf_abi.PERF_EVENT_IOC_SET_BPF,
    "PERF_EVENT_IOC_PAUSE_OUTPUT": uapi.PERF_EVENT_IOC_PAUSE_OUTPUT,
    **{m.name: int(m) for m in uapi.PerfFlag},
    **{m.name: int(m) for m in uapi.PerfEventSampleFormat},
    **{m.name: int(m) for m in uapi.PerfEventType},
    "PERF_ATTR_SIZE_VER0": perf_abi.PERF_ATTR_SIZE_VER0,
}


def test_perf_macros_match_the_header(tmp_path):
    src = "#include <stdio.h>\n#include <linux/perf_event.h>\nint main(void) {\n"
    src += "".join(f'printf("{n} %llu\\n", (unsigned long long)({n}));\n' for n in PERF_MACROS)
    src += "return 0;\n}\n"
    (tmp_path / "m.c").write_text(src)
    subprocess.run(["gcc", "-w", "-o", str(tmp_path / "m"), str(tmp_path / "m.c")], check=True)
    out = subprocess.run([str(tmp_path / "m")], capture_output=True, text=True, check=True).stdout
    got = dict(line.split() for line in out.splitlines())
    assert {n: int(v) for n, v in got.items()} == PERF_MACROS
    assert perf_abi.PERF_EVENT_IOC_SET_BPF == 0x40042408
    assert perf_abi.PERF_EVENT_IOC_ENABLE == 0x2400


def test_perf_layout_facts():
    assert perf_abi.PERF_EVENT_ATTR_SIZE == perf_abi.PERF_ATTR_SIZE_VER8 == 136
    assert (perf_abi.PERF_MMAP_PAGE_DATA_HEAD, perf_abi.PERF_MMAP_PAGE_DATA_TAIL,
            perf_abi.PERF_MMAP_PAGE_DATA_OFFSET, perf_abi.PERF_MMAP_PAGE_DATA_SIZE) == (
        1024, 1032, 1040, 1048)
    a = perf_abi.new_perf_event_attr(type=perf_abi.PERF_TYPE_SOFTWARE,
                                     config=perf_abi.PERF_COUNT_SW_BPF_OUTPUT,
                                     sample_type=perf_abi.PERF_SAMPLE_RAW, disabled=1,
                                     sample_id_all=1)
    raw = bytes(perf_abi.ffi.buffer(a))
    assert raw[4:8] == (136).to_bytes(4, "little")
    # the flags word at offset 40: disabled is bit 0, sample_id_all bit 18
    assert int.from_bytes(raw[40:48], "little") == 1 | 1 << 18


def test_pmu_types_on_this_machine():
    """The numbers perf_abi records from the oracle machine (skipped elsewhere)."""
    base = "/sys/bus/event_source/devices"
    if not os.path.exists(f"{base}/tracepoint/type"):
        pytest.skip("no perf sysfs")
    with open(f"{base}/tracepoint/type") as f:
        assert int(f.read()) == perf_abi.PERF_TYPE_TRACEPOINT == 2
    if os.path.exists(f"{base}/kprobe/type"):   # absent on the oracle (CONFIG_KPROBES=n)
        with open(f"{base}/kprobe/type") as f:
            assert int(f.read()) >= uapi.PERF_TYPE_MAX
