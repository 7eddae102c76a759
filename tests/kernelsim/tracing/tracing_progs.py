"""Loading real BPF tracing programs for the tracing tests (helpers, not tests).

Programs are assembled with kernelsim.isa.asm and go through the real pieces: the attach-target
checks (kernelsim/tracing/attach_target.py), the verifier (``bpf_check``), the interpreter tier.
Until the syscall's PROG_LOAD/LINK_CREATE accept tracing programs, the tests call those pieces
directly (``load`` and ``attach``); maps are real array maps with an fd in the task's table.
"""

from kernelsim.bpf_objects import File
from kernelsim.bpf_prog import BpfLoadAttr, BpfProg
from kernelsim.bpf_run import bpf_prog_select_runtime
from kernelsim.isa.asm import assemble
from kernelsim.tools.tracing_bench import counter_text
from kernelsim.tracing.attach_target import check_attach_btf_id_tracing
from kernelsim.tracing.links import tracing_link_attach
from kernelsim.uapi import BpfAttachType as AT, BpfProgType as PT
from kernelsim.verifier.verifier import bpf_check

FENTRY, FEXIT, FMOD_RET = AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT, AT.BPF_MODIFY_RETURN
counter = counter_text          # counter(fd, key, ret): value[key] += 1, return ret


def load(kernel, task, text: str, func: str, eat=FENTRY, name: str = "prog", sleepable: bool = False):
    """PROG_LOAD of a TRACING program attached (at load) to ``func``; returns the BpfProg
    (one reference, the caller's)."""
    prog = BpfProg(kernel, PT.BPF_PROG_TYPE_TRACING, eat, assemble(text), name=name,
                   license="GPL", gpl_compatible=True, prog_flags=16 if sleepable else 0)
    prog.aux.attach_btf = kernel.btf
    prog.aux.attach_btf_id = kernel.functions[func].btf_id
    prog.aux.cred = task.cred
    prog.aux.sleepable = sleepable
    check_attach_btf_id_tracing(kernel, prog)
    bpf_check(prog, BpfLoadAttr(task.cred, task.files), None)
    _convert_pseudo_ld_imm64(prog)
    bpf_prog_select_runtime(prog)
    prog.alloc_id()
    return prog


def _convert_pseudo_ld_imm64(prog) -> None:
    """verifier.c convert_pseudo_ld_imm64 (src_reg of a resolved map ld_imm64 back to 0), in case
    the verifier in the tree does not do it yet (note for the lead: remove once it does)."""
    import dataclasses
    out = []
    for insn in prog.insnsi:
        if insn.code == 0x18 and insn.src in (1, 2, 5, 6):
            insn = dataclasses.replace(insn, src=0)
        out.append(insn)
    prog.insnsi = out


def attach(kernel, prog, cookie: int = 0):
    """LINK_CREATE: a tracing link holding its own program reference."""
    prog.get()
    try:
        return tracing_link_attach(kernel, prog, cookie)
    except BaseException:
        prog.put()
        raise


def detach(link) -> None:
    """close(link_fd): the last reference."""
    link.put()


class ArrayMap:
    """A BPF_MAP_TYPE_ARRAY with u64 values and an fd in ``task``'s table."""

    def __init__(self, kernel, task, max_entries: int = 16, value_size: int = 8):
        from kernelsim.maps.arraymap import array_map_ops
        from kernelsim.maps.map import MapCreateAttr
        attr = MapCreateAttr(map_type=2, key_size=4, value_size=value_size, max_entries=max_entries,
                             cred=task.cred, ncpus=kernel.ncpus)
        array_map_ops.map_alloc_check(attr)
        self.map = array_map_ops.map_alloc(kernel, attr)
        if self.map.ops is None:             # find_and_alloc_map sets it (syscall side)
            self.map.ops = array_map_ops
        self.map.alloc_id()
        self.fd = task.files.install(File(self.map))
        self.kernel = kernel
        self.value_size = value_size

    def __getitem__(self, i: int) -> int:
        from kernelsim.maps.arraymap import array_map_lookup_elem
        addr = array_map_lookup_elem(self.map, i.to_bytes(4, "little"))
        return self.kernel.mem.load(addr, 8)

    def values(self, n: int) -> list[int]:
        return [self[i] for i in range(n)]


def lookup(fd: int, key: int) -> str:
    """Asm: r0 = &value[key] of the array map ``fd`` (or NULL)."""
    return f"""
    *(u32 *)(r10 -4) = {key}
    r2 = r10
    r2 += -4
    r1 = map_fd({fd})
    call bpf_map_lookup_elem
"""


def store_slot(fd: int, key: int, src: str) -> str:
    """Asm: value[key] = <src register or expression loaded into r7 before>."""
    return lookup(fd, key) + f"""
    if r0 == 0 goto +1
    *(u64 *)(r0 +0) = {src}
"""


def ctx_dump(fd: int, nslots: int, base: int = 0) -> str:
    """A program storing ctx[0..nslots-1] into map slots base.. (u64 loads of the ctx)."""
    body = "r6 = r1\n"
    for i in range(nslots):
        body += f"r7 = *(u64 *)(r6 +{8 * i})\n" + store_slot(fd, base + i, "r7")
    return body + "r0 = 0\nexit\n"


def seq_prog(fd: int, slot: int, ret: int = 0) -> str:
    """A program taking a ticket from value[0] (value[0]++) and storing it into value[slot]:
    the order programs ran in is readable afterwards."""
    return lookup(fd, 0) + """
    if r0 == 0 goto +12
    r7 = *(u64 *)(r0 +0)
    r8 = r7
    r8 += 1
    *(u64 *)(r0 +0) = r8
""" + lookup(fd, slot) + f"""
    if r0 == 0 goto +2
    r7 += 1
    *(u64 *)(r0 +0) = r7
    r0 = {ret}
    exit
"""
