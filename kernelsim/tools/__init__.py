"""kernelsim.tools: user-space tools over the simulated kernel (facade layer): bpf() as a tool
issues it (userbpf), the bpftool-like commands (bpftool_cmds), which pieces exist (features),
``kernelsim trampoline show`` (trampoline_cmd), the tracing overhead scenarios and plot
(tracing_bench, plot_overhead)."""

__all__: list[str] = []
