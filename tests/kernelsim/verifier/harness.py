"""Running one program through kernelsim's verifier (and, with realbpf, through Linux) for the
verifier tests: build a kernel, create maps, patch map fds, call bpf_check, collect the log.

Map placeholders: the corpus writes ``r1 = map_fd(N)`` / ``map_value(N, off)`` with N the index of
the map in the entry's ``maps`` list; ``patch_fds`` swaps in the real fd on each side.
"""

from dataclasses import dataclass

from kernelsim.bpf_objects import FdTable  # noqa: F401 (re-exported for tests)
from kernelsim.bpf_prog import BpfLoadAttr, BpfProg
from kernelsim.cred import Cred
from kernelsim.errors import BpfError
from kernelsim.isa.asm import assemble
from kernelsim.isa.insn import BpfInsn, encode_insns
from kernelsim.kernel_state import KernelState
from kernelsim.uapi import BpfMapType as MT
from kernelsim.verifier import bpf_check, bpf_vlog_init

GPL_COMPATIBLE = {"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
                  "Dual MPL/GPL"}

_KERNEL = None


def kernel():
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = KernelState()
        # the oracle machine's kernel is built without CONFIG_BPF_KPROBE_OVERRIDE
        subsys = getattr(_KERNEL, "subsys", None)
        if isinstance(subsys, dict):
            subsys.setdefault("kconfig", {})["CONFIG_BPF_KPROBE_OVERRIDE"] = False
    return _KERNEL


def _stub_ops(map_type):
    from kernelsim.maps.ops import BpfMapOps

    def direct(m, off):
        if m.max_entries != 1:
            raise BpfError(524, "ENOTSUPP")   # array_map_direct_value_addr
        if off >= m.value_size:
            raise BpfError(22, "EINVAL")
        if not m.regions:
            m.regions.append(m.area_alloc(m.value_size))
        return m.regions[0].start

    if map_type in (MT.BPF_MAP_TYPE_ARRAY,):
        return BpfMapOps(map_direct_value_addr=direct)
    return BpfMapOps()


def create_map(k, files: FdTable, spec: dict) -> int:
    """A map on the kernelsim side; returns its fd in ``files``."""
    from kernelsim.maps.map import BpfMap, MapCreateAttr, MapFile
    attr = MapCreateAttr(map_type=spec["type"], key_size=spec.get("key_size", 4),
                         value_size=spec.get("value_size", 8), max_entries=spec.get("max_entries", 1),
                         map_flags=spec.get("flags", 0), ncpus=k.ncpus, cred=Cred.make())
    m = None
    try:
        from kernelsim.maps import BPF_MAP_TYPES     # the registry
        ops = BPF_MAP_TYPES.get(spec["type"])
        if ops is not None:
            if ops.map_alloc_check is not None:
                ops.map_alloc_check(attr)
            m = ops.map_alloc(k, attr)
            if m.ops is None:
                m.ops = ops
    except Exception:  # noqa: BLE001 - fall back to a stub map
        m = None
    if m is None:
        m = BpfMap(k, attr, _stub_ops(spec["type"]))
    m.name = spec.get("name", "")
    if spec.get("freeze"):
        m.frozen = True
    m.alloc_id()
    f = MapFile(m)
    fd = files.install(f)
    return fd


def patch_fds(insns: list[BpfInsn], fds: list[int]) -> list[BpfInsn]:
    out = []
    for i, insn in enumerate(insns):
        if insn.code == 0x18 and insn.src in (1, 2) and 0 <= insn.imm < len(fds):
            insn = BpfInsn(insn.code, insn.dst, insn.src, insn.off, fds[insn.imm])
        out.append(insn)
    return out


@dataclass
class Result:
    errno: int
    log: bytes               # the whole user buffer after the call
    log_true_size: int
    insn_processed: int = 0
    prog: object = None

    @property
    def text(self) -> str:
        nul = self.log.find(0)
        return (self.log if nul < 0 else self.log[:nul]).decode("utf-8", "replace")


def ks_load(prog_type: int, insns: list[BpfInsn], license: str = "GPL", log_level: int = 1,
            log_size: int = 1 << 20, log_prefill: bytes | None = None, expected_attach_type: int = 0,
            maps: list[dict] = (), cred: Cred | None = None, prog_flags: int = 0,
            has_log_buf: bool | None = None, files: FdTable | None = None, fds=None,
            func_info: bytes = b"") -> Result:
    k = kernel()
    files = files if files is not None else FdTable()
    if fds is None:
        fds = [create_map(k, files, m) for m in maps]
    insns = patch_fds(insns, fds)
    prog = BpfProg(k, prog_type, expected_attach_type, insns, license=license,
                   gpl_compatible=license in GPL_COMPATIBLE, prog_flags=prog_flags)
    cred = cred or Cred.make()
    attr = BpfLoadAttr(cred=cred, files=files, log_level=log_level, prog_flags=prog_flags,
                       func_info=func_info)
    if has_log_buf is None:
        has_log_buf = log_size > 0
    log = bpf_vlog_init(log_level, has_log_buf, log_size if has_log_buf else 0,
                        log_prefill if log_prefill is not None else None)
    err = 0
    try:
        bpf_check(prog, attr, log)
    except BpfError as e:
        err = e.errno
    return Result(err, log.user_image(), log.log_true_size, prog.aux.verified_insns, prog)


def asm(text: str) -> list[BpfInsn]:
    return assemble(text, "kernel", check=False)


def insn_bytes(insns) -> bytes:
    return encode_insns(insns)
