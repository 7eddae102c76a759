// Subprograms called from several entry programs in different orders, a global (non-static)
// subprogram, a hidden one, and a callback passed by address (BPF_PSEUDO_FUNC).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

int out;

static __noinline int sub_b(int x)
{
	return x * 3 + out;
}

static __noinline int sub_a(int x)
{
	return sub_b(x + 1) + 1;
}

static __noinline int sub_c(int x)
{
	return sub_b(x) - 2;
}

__noinline int global_sub(int x)
{
	return x + 100;
}

__hidden __noinline int hidden_sub(int x)
{
	return x ^ 5;
}

static int loop_cb(u32 index, void *ctx)
{
	*(int *)ctx += index;
	return 0;
}

SEC("socket")
int main_a(struct __sk_buff *skb)
{
	out = sub_a(skb->len);
	return 0;
}

SEC("socket")
int main_b(struct __sk_buff *skb)
{
	int acc = 0;

	bpf_loop(4, loop_cb, &acc, 0);
	out = sub_c(skb->len) + global_sub(acc) + hidden_sub(acc);
	return 0;
}
