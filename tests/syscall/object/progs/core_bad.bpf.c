// An unguarded read of a field no kernel has: libbpf poisons the instruction and the verifier
// rejects it ("failed to resolve CO-RE relocation").
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___mine {
	long no_such_field;
} __attribute__((preserve_access_index));

long out;

SEC("raw_tp/sched_switch")
int bad_read(void *ctx)
{
	struct task_struct___mine *t = (void *)bpf_get_current_task();

	out = BPF_CORE_READ(t, no_such_field);
	return 0;
}
