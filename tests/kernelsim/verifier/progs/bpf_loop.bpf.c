// bpf_loop with a callback: fentry on vfs_read sums 0 + 1 + ... over `count` iterations (at most
// 64), stopping early once the sum passes 100; the callback is a static function, so clang emits
// the ld_imm64 BPF_PSEUDO_FUNC and the func_info the verifier needs for it.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct loop_ctx {
	u64 sum;
	u64 steps;
};

u64 last_sum;
u64 last_steps;
u64 last_ret;

static int step(u32 index, void *data)
{
	struct loop_ctx *c = data;

	c->sum += index;
	c->steps++;
	return c->sum > 100 ? 1 : 0;
}

SEC("fentry/vfs_read")
int BPF_PROG(sum_loop, struct file *file, char *buf, size_t count)
{
	struct loop_ctx c = {};
	long ret = bpf_loop(count > 64 ? 64 : count, step, &c, 0);

	last_sum = c.sum;
	last_steps = c.steps;
	last_ret = ret;
	return 0;
}
