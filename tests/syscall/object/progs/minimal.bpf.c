// The smallest object: one socket filter, a license, no maps.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("socket")
int accept_all(struct __sk_buff *skb)
{
	return skb->len;
}
