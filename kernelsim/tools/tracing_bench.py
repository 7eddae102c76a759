"""Tracing overhead scenarios, shared by the benchmarks (tests/benchmarks/test_bench_tracing.py)
and the plot script (kernelsim/tools/plot_overhead.py).

Each scenario builds a machine with N real BPF programs (an array map counter increment: 10
instructions) loaded as TRACING programs on ``bpf_fentry_test1`` and attached as fentry or fexit
links, then measures:

* ``traced(n, kind)``: one ``kernel.call("bpf_fentry_test1", 1)`` through the trampoline;
* ``direct(n)``: the same N programs run with ``bpf_prog_run`` on a prepared ctx (the baseline:
  what the programs cost by themselves), plus one untraced call of the function;
* ``attach_detach(n, profile)``: attaching one more link to a function that has N, and detaching
  it (two regenerations).

Programs are loaded with BPF_PROG_LOAD and attached with BPF_LINK_CREATE through ``task.bpf``
(the attach-target checks, the verifier, the interpreter tier, the trampoline attach); the map
is created directly.
"""

import dataclasses

from ..bpf_objects import File
from ..bpf_run import BpfTraceRunCtx, bpf_prog_run, bpf_prog_select_runtime
from ..facade import Kernel
from ..isa.asm import assemble
from ..uapi import BpfAttachType as AT, BpfProgType as PT

FUNC = "bpf_fentry_test1"
KINDS = {"fentry": AT.BPF_TRACE_FENTRY, "fexit": AT.BPF_TRACE_FEXIT}


def counter_text(fd: int, key: int = 0, ret: int = 0) -> str:
    """The benchmarks' program: value[key] += 1 (atomic add) in the array map ``fd``, return
    ``ret`` (the tracing tests use it too)."""
    return f"""
    *(u32 *)(r10 -4) = {key}
    r2 = r10
    r2 += -4
    r1 = map_fd({fd})
    call bpf_map_lookup_elem
    if r0 == 0 goto +2
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    r0 = {ret}
    exit
"""


class Scenario:
    """One machine with a counter map and N programs on FUNC (invented name)."""

    def __init__(self, n: int, kind: str = "fentry", profile: str = "6.18", attach: bool = True):
        from ..maps.arraymap import array_map_ops
        from ..maps.map import MapCreateAttr
        self.kernel = k = Kernel(profile=profile)
        self.task = t = k.spawn(comm="bench")
        attr = MapCreateAttr(map_type=2, key_size=4, value_size=8, max_entries=1, cred=t.cred,
                             ncpus=k.ncpus)
        self.map = array_map_ops.map_alloc(k, attr)
        if self.map.ops is None:
            self.map.ops = array_map_ops
        self.map.alloc_id()
        self.fd = t.files.install(File(self.map))
        self.kind = kind
        self.progs = [self.load(KINDS[kind]) for _ in range(n)]
        self.links = [self.attach(p) for p in self.progs] if attach else []
        self.ctx = k.mem.alloc(96, "bench ctx", kind="ctx").start

    def load(self, eat):
        """BPF_PROG_LOAD through task.bpf (syscall/libbpf.py: libbpf's attr layout)."""
        from syscall import libbpf as L
        from ..isa.insn import encode_insns
        k, t = self.kernel, self.task
        insns = encode_insns(assemble(counter_text(self.fd)))
        opts = L.ProgLoadOpts(expected_attach_type=eat, attach_btf_id=k.functions[FUNC].btf_id)
        fd, log, _ = L.bpf_prog_load(t, PT.BPF_PROG_TYPE_TRACING, insns, "GPL", "count", opts)
        if fd < 0:
            opts.log_level, opts.log_size = 1, 1 << 16
            fd, log, _ = L.bpf_prog_load(t, PT.BPF_PROG_TYPE_TRACING, insns, "GPL", "count", opts)
            raise RuntimeError(f"PROG_LOAD: {fd}: {log.strip().splitlines()[-1:] or ''}")
        prog = t.files.get(fd).obj
        if any(i.code == 0x18 and i.src in (1, 2) for i in prog.insnsi):
            # convert_pseudo_ld_imm64, while the verifier in the tree does not do it yet
            prog.insnsi = [dataclasses.replace(i, src=0) if i.code == 0x18 and i.src in (1, 2) else i
                           for i in prog.insnsi]
            bpf_prog_select_runtime(prog)
        prog.bench_fd = fd
        return prog

    def attach(self, prog):
        """BPF_LINK_CREATE through task.bpf; the link object (its fd in ``link.bench_fd``)."""
        from syscall import libbpf as L
        fd = L.bpf_link_create(self.task, prog.bench_fd, 0, prog.expected_attach_type)
        if fd < 0:
            raise RuntimeError(f"LINK_CREATE: {fd}")
        link = self.task.files.get(fd).obj
        link.bench_fd = fd
        return link

    def detach(self, link) -> None:
        self.task.close(link.bench_fd)

    @property
    def count(self) -> int:
        from ..maps.arraymap import array_map_lookup_elem
        return self.kernel.mem.load(array_map_lookup_elem(self.map, bytes(4)), 8)

    # -- the measured operations -----------------------------------------------------------

    def traced_call(self) -> int:
        return self.kernel.call(FUNC, 1)

    def direct_run(self) -> int:
        k, ctx = self.kernel, self.ctx
        for p in self.progs:
            bpf_prog_run(p, ctx, BpfTraceRunCtx(k, p))
        return k.call(FUNC, 1)

    def attach_detach(self) -> None:
        extra = self.load(KINDS[self.kind]) if not hasattr(self, "_extra") else self._extra
        self._extra = extra
        self.detach(self.attach(extra))
