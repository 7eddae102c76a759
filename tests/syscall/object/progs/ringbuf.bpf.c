// A socket filter that sends events through a ring buffer (and keeps the last one).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	u32 pid;
	u32 seq;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

u32 seq;
struct event last;                    /* also puts struct event into the BTF */

SEC("socket")
int emit(struct __sk_buff *skb)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = skb->len;
	e->seq = ++seq;
	__builtin_memcpy(e->comm, "sock", 5);
	last = *e;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
