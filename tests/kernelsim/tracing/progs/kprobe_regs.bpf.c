// kprobe + kretprobe reading the registers through libbpf's bpf_tracing.h, for every
// __TARGET_ARCH the tests compile it with (test_kprobes.py). vmlinux.h is the simulated x86-64
// kernel's; the user-visible register structs of the other architectures are declared here as
// their uapi headers do (asm/ptrace.h).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#if defined(__TARGET_ARCH_arm64)
struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
#elif defined(__TARGET_ARCH_riscv)
struct user_regs_struct {
	unsigned long pc, ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7;
	unsigned long s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6;
};
#elif defined(__TARGET_ARCH_s390)
typedef struct { unsigned long mask; unsigned long addr; } psw_t;
typedef struct { unsigned long args[1]; psw_t psw; unsigned long gprs[16]; } user_pt_regs;
#endif

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
