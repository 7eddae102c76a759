// Traces a kernel function the scenario declares itself (kernel.declare): the declared struct
// is in the vmlinux.h generated from the simulated kernel's BTF, read through BTF pointers.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} bytes_by_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} failures SEC(".maps");

SEC("fentry/demo_submit")
int BPF_PROG(on_submit, struct demo_req *req, int flags)
{
	u32 queue = req->queue;
	u64 len = req->len, *sum;

	sum = bpf_map_lookup_elem(&bytes_by_queue, &queue);
	if (sum)
		__sync_fetch_and_add(sum, len);
	else
		bpf_map_update_elem(&bytes_by_queue, &queue, &len, BPF_NOEXIST);
	return 0;
}

SEC("fexit/demo_submit")
int BPF_PROG(after_submit, struct demo_req *req, int flags, int ret)
{
	u32 zero = 0;
	u64 *n;

	if (ret >= 0)
		return 0;
	n = bpf_map_lookup_elem(&failures, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
