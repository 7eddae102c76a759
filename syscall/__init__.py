"""syscall: the bpf(2) ABI: union bpf_attr as cffi cdefs, copy_from_user/copy_to_user, the
multiplexer, permission gates, libbpf-like wrappers and the ELF object loader
(kernel/bpf/syscall.c, include/uapi/linux/bpf.h, tools/lib/bpf).
"""

__all__: list[str] = []
