// The legacy map definition section of libbpf < 1.0.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") old_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 32,
};

struct bpf_map_def SEC("maps") old_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 4,
	.max_entries = 2,
};

SEC("socket")
int use_old(struct __sk_buff *skb)
{
	u32 k = 0;
	u64 one = 1;

	bpf_map_update_elem(&old_hash, &k, &one, 0);
	bpf_map_lookup_elem(&old_array, &k);
	return 0;
}
