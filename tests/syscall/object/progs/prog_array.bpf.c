// A prog array whose slot is filled by a .values initializer (init_prog_array_slots), used by
// a tail call (tests/syscall/object/test_map_in_map.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int tail_len(struct __sk_buff *skb)
{
	return skb->len + 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_len },
};

SEC("socket")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, skb->len & 1);    /* odd lengths jump to tail_len */
	return 7;
}
