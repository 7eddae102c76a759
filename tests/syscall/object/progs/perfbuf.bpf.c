// bpf_perf_event_output into a perf event array, for the perf buffer consumer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} samples SEC(".maps");

struct sample {
	u32 len;
	u32 magic;
};

SEC("socket")
int out(struct __sk_buff *skb)
{
	struct sample s = { .len = skb->len, .magic = 0xfeed };

	bpf_perf_event_output(skb, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	return 0;
}
