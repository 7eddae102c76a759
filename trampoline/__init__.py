"""trampoline: calling conventions per architecture and the BPF trampoline generator.

A function model plus the attached links become an image: an assembly listing, x86-64 machine code
and an executable form (kernel/bpf/trampoline.c, arch/*/net/bpf_jit_comp.c). Imports only btf/.
"""

__all__: list[str] = []
