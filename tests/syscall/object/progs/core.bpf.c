// CO-RE relocations of every kind clang 14 emits, against struct task_struct, sk_buff and an
// enum (TYPE_MATCHES needs clang >= 15; test_core.py covers it with hand-made relocations).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___old {
	int pid;
	long not_in_any_kernel;
} __attribute__((preserve_access_index));

struct core_out {
	int pid;
	int tgid;
	u64 exists_pid;
	u64 exists_missing;
	u64 size_pid;
	u64 size_comm;
	u64 signed_pid;
	u64 fclone;
	u64 type_exists;
	u64 type_size;
	u64 type_id_local;
	u64 type_id_target;
	u64 enum_exists;
	u64 enum_value;
	char comm[16];
};

struct core_out result;

SEC("raw_tp/sched_switch")
int read_task(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct task_struct___old *o = (void *)t;
	struct sk_buff *skb = *(struct sk_buff **)ctx;

	result.pid = BPF_CORE_READ(t, pid);
	result.tgid = BPF_CORE_READ(t, tgid);
	BPF_CORE_READ_STR_INTO(&result.comm, t, comm);
	result.exists_pid = bpf_core_field_exists(t->pid);
	result.exists_missing = bpf_core_field_exists(o->not_in_any_kernel);
	if (bpf_core_field_exists(o->not_in_any_kernel))
		result.tgid = BPF_CORE_READ(o, not_in_any_kernel);
	result.size_pid = bpf_core_field_size(t->pid);
	result.size_comm = bpf_core_field_size(t->comm);
	result.signed_pid = __builtin_preserve_field_info(t->pid, BPF_FIELD_SIGNED);
	if (result.pid == 0x7fffffff)          /* never true at run time, not dead code either */
		result.fclone = BPF_CORE_READ_BITFIELD_PROBED(skb, fclone);
	result.type_exists = bpf_core_type_exists(struct task_struct);
	result.type_size = bpf_core_type_size(struct task_struct);
	result.type_id_local = bpf_core_type_id_local(struct task_struct);
	result.type_id_target = bpf_core_type_id_kernel(struct task_struct);
	result.enum_exists = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	result.enum_value = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	return 0;
}
