// Global data: .bss, .data, .rodata, a custom .data section, a string literal, .kconfig.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;

struct config {
	int threshold;
	char label[8];
};

u64 hits;                                /* .bss */
int seen_len;                            /* .bss */
int initial = 42;                        /* .data */
const volatile int max_len = 100;        /* .rodata */
const volatile struct config cfg = { .threshold = 5, .label = "abc" };
int custom_var SEC(".data.custom") = 7;  /* .data.custom */
__hidden int hidden_var = 3;             /* .data, made static by libbpf */
static int static_counter;               /* .bss, static */
int kver;
int hz;

SEC("socket")
int globals(struct __sk_buff *skb)
{
	hits++;
	static_counter++;
	kver = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	if (skb->len > max_len || skb->len < cfg.threshold)
		return 0;
	seen_len = skb->len + initial + custom_var + hidden_var + static_counter;
	bpf_printk("len %d label %s", skb->len, cfg.label);
	return 1;
}
