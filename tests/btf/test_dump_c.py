"""``--format c``: the vmlinux.h compiles a real fentry/kprobe/tp_btf program with libbpf's headers,
and the structs it declares have the sizes and member offsets of the BTF."""

import shutil
import subprocess
from pathlib import Path

import pytest

from btf import Btf
from btf.dump_c import BtfDumpC, btf_dump_c
from btf.embedded import embedded_btf

CLANG = shutil.which("clang")
HAVE_LIBBPF = Path("/usr/include/bpf/bpf_helpers.h").exists()
needs_clang = pytest.mark.skipif(not CLANG or not HAVE_LIBBPF, reason="clang or libbpf-dev missing")

PROG = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct event { __u32 pid; __u32 len; char comm[16]; };

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("fentry/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, struct sock *sk, struct sk_buff *skb, int segs)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->len = BPF_CORE_READ(skb, len);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	const char *p = BPF_CORE_READ(name, name);
	bpf_printk("unlink %s", p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(next, pid);
	e->len = BPF_CORE_READ(prev, tgid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
"""


def compile_prog(header: str, tmp_path: Path, source: str = PROG) -> Path:
    (tmp_path / "vmlinux.h").write_text(header)
    (tmp_path / "prog.c").write_text(source)
    obj = tmp_path / "prog.o"
    r = subprocess.run([CLANG, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", str(tmp_path),
                        "-c", str(tmp_path / "prog.c"), "-o", str(obj)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return obj


def layout_asserts(btf: Btf, skip=()) -> str:
    d = BtfDumpC(btf)
    d.dump()
    lines = ['#include "vmlinux.h"']
    for tid in btf.type_ids():
        k = btf.kind_of(tid)
        name = btf.name_of(tid)
        if k not in (4, 5) or not name or name in skip:
            continue
        kw = "struct" if k == 4 else "union"
        nm = d.names[tid]
        lines.append(f'_Static_assert(sizeof({kw} {nm}) == {btf.type_by_id(tid).size}, "{nm}");')
        for m in btf.members(tid):
            if m.name and not m.bitfield_size:
                lines.append(f"_Static_assert(__builtin_offsetof({kw} {nm}, {m.name}) == "
                             f'{m.bit_offset // 8}, "{nm}.{m.name}");')
    return "\n".join(lines) + "\n"


def test_shape():
    text = btf_dump_c(embedded_btf())
    assert text.startswith("#ifndef __VMLINUX_H__\n")
    assert "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)" in text
    assert "struct task_struct {" in text and "typedef unsigned int __u32;" in text
    assert "BPF_MAP_TYPE_RINGBUF = 27," in text


@needs_clang
def test_embedded_compiles_program(tmp_path):
    obj = compile_prog(btf_dump_c(embedded_btf()), tmp_path)
    assert obj.stat().st_size > 0


@needs_clang
def test_embedded_layout_exact(tmp_path):
    btf = embedded_btf()
    compile_prog(btf_dump_c(btf), tmp_path, layout_asserts(btf))


@needs_clang
def test_vmlinux_compiles_program_and_layout(tmp_path, vmlinux):
    header = btf_dump_c(vmlinux)
    compile_prog(header, tmp_path)
    # warn_args embeds a va_list: 24 bytes on x86-64, 8 with clang's BPF target (libbpf alike)
    compile_prog(header, tmp_path, layout_asserts(vmlinux, skip={"warn_args"}))


@needs_clang
def test_packed_bitfields_anonymous(tmp_path):
    from btf import btf_from_c
    src = """
    struct pk { char c; int i; } __attribute__((packed));
    struct bits { unsigned int a:3, b:7; unsigned long long c:40; char d; };
    struct outer { int x; struct { int y; union { char z; long w; }; }; struct pk p; struct bits b[2]; };
    enum small { S_A = 1 };
    typedef struct outer outer_t;
    struct big { long l; } __attribute__((aligned(64)));
    struct holder { char c; struct big b; };
    """
    btf = btf_from_c(src)
    text = btf_dump_c(btf)
    assert "__attribute__((packed))" in text
    compile_prog(text, tmp_path, layout_asserts(btf))


@pytest.mark.parametrize("arch,name", [("arm64", "struct user_pt_regs {"),
                                       ("riscv64", "struct user_regs_struct {"),
                                       ("s390x", "} user_pt_regs;")])
def test_arch_register_structs_follow_the_access_index_block(arch, name):
    from btf.dump_c import btf_dump_c
    from btf.embedded import embedded_btf
    text = btf_dump_c(embedded_btf(), arch)
    assert name in text and name not in btf_dump_c(embedded_btf())
    # outside the preserve_access_index block: read at fixed offsets, never CO-RE relocated
    assert text.index("#pragma clang attribute pop") < text.index(name)
    assert btf_dump_c(embedded_btf(), "x86_64") == btf_dump_c(embedded_btf())
