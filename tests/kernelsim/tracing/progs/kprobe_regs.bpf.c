// kprobe + kretprobe reading the registers through libbpf's bpf_tracing.h, for every
// __TARGET_ARCH the tests compile it with (test_kprobes.py). vmlinux.h is the simulated kernel's
// for the machine's architecture: x86-64 BTF plus, elsewhere, the uapi register struct the
// PT_REGS_* macros cast to (arm64 user_pt_regs, riscv user_regs_struct, s390 user_pt_regs).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 args[5];
__u64 ip, sp, sp_word, func_ip, cookie;
__u64 ret, ret_ip, ret_func_ip;
__u64 hits, ret_hits;

SEC("kprobe/bpf_fentry_test5")
int BPF_KPROBE(kp, __u64 a, __u64 b, __u64 c, __u64 d, __u64 e)
{
	args[0] = a; args[1] = b; args[2] = c; args[3] = d; args[4] = e;
	ip = PT_REGS_IP(ctx);
	sp = PT_REGS_SP(ctx);
	bpf_probe_read_kernel(&sp_word, sizeof(sp_word), (void *)sp);
	func_ip = bpf_get_func_ip(ctx);
	cookie = bpf_get_attach_cookie(ctx);
	hits++;
	return 0;
}

SEC("kretprobe/bpf_fentry_test5")
int BPF_KRETPROBE(krp, long r)
{
	ret = r;
	ret_ip = PT_REGS_IP(ctx);
	ret_func_ip = bpf_get_func_ip(ctx);
	ret_hits++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
