// One program per attachable section type; each counts its runs in hits[] (test_object_api.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

u64 hits[16];

#define HIT(i) __sync_fetch_and_add(&hits[i], 1)

SEC("fentry/vfs_read")
int BPF_PROG(h_fentry, struct file *file) { HIT(0); return 0; }

SEC("fexit/vfs_read")
int BPF_PROG(h_fexit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{ if (ret == 16) HIT(1); return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(h_tp_btf, bool preempt) { HIT(2); return 0; }

SEC("raw_tp/sched_switch")
int h_raw_tp(void *ctx) { HIT(3); return 0; }

SEC("tp/sched/sched_switch")
int h_tp(void *ctx) { HIT(4); return 0; }

SEC("kprobe/do_unlinkat")
int h_kprobe(struct pt_regs *ctx) { HIT(5); return 0; }

SEC("kretprobe/do_unlinkat")
int h_kretprobe(struct pt_regs *ctx) { HIT(6); return 0; }

SEC("kprobe.multi/vfs_rea*")
int h_kprobe_multi(struct pt_regs *ctx) { HIT(7); return 0; }

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(h_fmod_ret, int a, int *b, int ret) { HIT(8); return 0; }
