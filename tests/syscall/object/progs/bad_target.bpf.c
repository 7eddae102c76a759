// fentry on a function no kernel has.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/no_such_kernel_function")
int BPF_PROG(on_missing) { return 0; }
