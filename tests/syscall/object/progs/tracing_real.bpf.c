// kprobe, tracepoint and raw_tp programs with maps, global data, a subprogram and CO-RE reads:
// program types that load on the oracle machine's real kernel, to compare with libbpf.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

u64 total;
const volatile u32 scale = 3;

static __noinline u64 weight(u32 pid)
{
	return (u64)pid * scale + 1;
}

static void count(u32 pid)
{
	u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, 0);
	total += weight(pid);
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	count(BPF_CORE_READ(t, tgid));
	bpf_printk("unlink by %d", BPF_CORE_READ(t, pid));
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	count(bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("raw_tp/sched_switch")
int on_switch(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->comm))
		total++;
	return 0;
}
