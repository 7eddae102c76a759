// fentry on eth_type_trans: both arguments are BTF pointers, read as plain C (the verifier
// checks every access against the kernel's BTF); one ring buffer record per received frame.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 len;
	char dev[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("fentry/eth_type_trans")
int BPF_PROG(rx, struct sk_buff *skb, struct net_device *dev)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->len = skb->len;
	bpf_probe_read_kernel_str(e->dev, sizeof(e->dev), dev->name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
