// An outer map without __array(values, ...): its template comes from the caller through
// bpf_map__set_inner_map_fd (tests/syscall/object/test_map_in_map.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} by_pid SEC(".maps");

SEC("socket")
int count_len(struct __sk_buff *skb)
{
	u32 key = 7, idx = 0;
	void *inner = bpf_map_lookup_elem(&by_pid, &key);
	u64 *v;

	if (!inner)
		return 1;
	v = bpf_map_lookup_elem(inner, &idx);
	if (!v)
		return 2;
	*v += skb->len;
	return 0;
}
