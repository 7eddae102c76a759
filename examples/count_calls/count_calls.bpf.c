// SPDX-License-Identifier: GPL-2.0
// Count calls of the kernel's vfs_read() per process, with an fentry program.
//
//   vmlinux.h      kernelsim btf dump --format c > vmlinux.h
//   compile        clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -c count_calls.bpf.c
//   run            python run.py
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* pid -> number of vfs_read() calls */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

u64 total_calls;                       /* .bss: all calls, all processes */
const volatile u32 only_pid = 0;       /* .rodata: set before load to count one pid only */

SEC("fentry/vfs_read")
int BPF_PROG(count_vfs_read, struct file *file, char *buf, size_t count)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1, *n;

	if (only_pid && pid != only_pid)
		return 0;
	n = bpf_map_lookup_elem(&counts, &pid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_ANY);
	__sync_fetch_and_add(&total_calls, 1);
	bpf_printk("vfs_read by pid %d, %lu bytes", pid, count);
	return 0;
}
