// bpf_perf_event_output from a kprobe, consumed by perf buffers (test_perf_buffer.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} events SEC(".maps");

struct event { __u32 pid; __u32 cpu; __u64 arg; };

SEC("kprobe/bpf_fentry_test1")
int BPF_KPROBE(on_test1, int a)
{
	struct event e = {
		.pid = bpf_get_current_pid_tgid() >> 32,
		.cpu = bpf_get_smp_processor_id(),
		.arg = a,
	};
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
