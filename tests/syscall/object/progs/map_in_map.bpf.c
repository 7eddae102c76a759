// Map-in-map in an object (tests/syscall/object/test_map_in_map.py): BTF-defined outer maps
// whose __array(values, ...) names the inner definition, slots pre-populated by .values
// initializers, and a perf event array left to libbpf's default size.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct inner_def {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
};

struct inner_def inner_a SEC(".maps");
struct inner_def inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct inner_def);
} outer_arr SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, u32);
	__array(values, struct inner_def);
} outer_hash SEC(".maps") = {
	.values = { [3] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

static __always_inline void add(void *outer, u32 slot, u32 idx, u64 delta)
{
	void *inner = bpf_map_lookup_elem(outer, &slot);
	u64 *v;

	if (!inner)
		return;
	v = bpf_map_lookup_elem(inner, &idx);
	if (v)
		__sync_fetch_and_add(v, delta);
}

SEC("socket")
int count_len(struct __sk_buff *skb)
{
	add(&outer_arr, 0, 0, skb->len);     /* inner_a[0] += len */
	add(&outer_arr, 1, 0, 1000);         /* slot 1 is empty: nothing */
	add(&outer_arr, 2, 1, 1);            /* inner_b[1] += 1 */
	add(&outer_hash, 3, 2, 100);         /* inner_b[2] += 100 */
	add(&outer_hash, 4, 2, 1000);        /* no key 4: nothing */
	return 0;
}
