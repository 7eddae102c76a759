// BTF-defined maps of many shapes (tests/syscall/object/test_maps_btf.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct key_t {
	u32 pid;
	char comm[16];
};

struct val_t {
	u64 count;
	s32 last;
	u8 flags;
	u16 arr[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, struct key_t);
	__type(value, struct val_t);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, s64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 8);
	__uint(value_size, 4);
	__uint(numa_node, 0);
} sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 5000);          /* libbpf rounds this up to 8192 */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [1] = &inner_a },
};

SEC("socket")
int use_maps(struct __sk_buff *skb)
{
	u32 k = 0;
	u64 *c = bpf_map_lookup_elem(&counters, &k);
	s64 *p = bpf_map_lookup_elem(&per_cpu, &k);
	struct key_t key = {};
	struct val_t *v;

	if (c)
		__sync_fetch_and_add(c, 1);
	if (p)
		*p += 1;
	key.pid = skb->len;
	v = bpf_map_lookup_elem(&stats, &key);
	if (v)
		v->count++;
	bpf_map_lookup_elem(&sized, &key);
	bpf_map_lookup_elem(&pinned, &k);
	bpf_map_lookup_elem(&outer, &k);
	bpf_map_push_elem(&bloom, &k, 0);
	bpf_ringbuf_output(&events, &k, sizeof(k), 0);
	return 0;
}
