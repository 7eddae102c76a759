// The ten-line test's program (docs/objects.md): count vfs_read() calls per pid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("fentry/vfs_read")
int BPF_PROG(count_read, struct file *file)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1, *n = bpf_map_lookup_elem(&counts, &pid);

	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&counts, &pid, &one, 0);
	return 0;
}
