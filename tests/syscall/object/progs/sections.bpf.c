// One program per section type the loader knows (tests/syscall/object/test_sections.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x061200;

SEC("fentry/vfs_read")
int BPF_PROG(on_fentry, struct file *file) { return 0; }

SEC("fexit/vfs_read")
int BPF_PROG(on_fexit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret) { return 0; }

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(on_fmod_ret, int a, int *b, int ret) { return 0; }

SEC("fentry.s/vfs_read")
int BPF_PROG(on_fentry_s, struct file *file) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(on_tp_btf, bool preempt) { return 0; }

SEC("raw_tp/sched_switch")
int on_raw_tp(void *ctx) { return 0; }

SEC("raw_tracepoint/sys_enter")
int on_raw_tracepoint(void *ctx) { return 0; }

SEC("tp/sched/sched_switch")
int on_tp(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_openat")
int on_tracepoint(void *ctx) { return 0; }

SEC("kprobe/do_unlinkat")
int on_kprobe(struct pt_regs *ctx) { return 0; }

SEC("kretprobe/do_unlinkat")
int on_kretprobe(struct pt_regs *ctx) { return 0; }

SEC("ksyscall/unlinkat")
int on_ksyscall(struct pt_regs *ctx) { return 0; }

SEC("kprobe.multi/vfs_*")
int on_kprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("kretprobe.multi/vfs_read")
int on_kretprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("perf_event")
int on_perf_event(void *ctx) { return 0; }

SEC("socket")
int on_socket(struct __sk_buff *skb) { return 0; }

SEC("?fentry/vfs_write")
int BPF_PROG(off_by_default, struct file *file) { return 0; }

SEC("uprobe//bin/true:main")
int on_uprobe(struct pt_regs *ctx) { return 0; }

SEC("iter/task")
int on_iter(void *ctx) { return 0; }

SEC("no_such_section_type")
int on_unknown(void *ctx) { return 0; }
