"""The base helper list: bpf_base_func_proto and its capability tiers (kernel/bpf/helpers.c).

Every program type's get_func_proto ends here for the helpers it does not handle itself. Three
tiers by the loader's capabilities (``prog.aux.cred``; reference/bpf-syscall.md 3.2): any loader,
then CAP_BPF, then CAP_PERFMON. Checked against Linux 6.18.44 (tests/kernelsim/test_prog_types.py):
per_cpu_ptr/this_cpu_ptr are CAP_PERFMON there, not CAP_BPF as older kernels had it.
"""

from .core import BASE_ANY_CORE, BASE_CAP_BPF_CORE, BASE_CAP_PERFMON_CORE, _cap
from .proto import BpfFuncProto
from .ringbuf import BASE_ANY_RINGBUF, BASE_CAP_BPF_RINGBUF
from .trace import BASE_CAP_PERFMON_TRACE

BASE_ANY = {**BASE_ANY_CORE, **BASE_ANY_RINGBUF}
BASE_CAP_BPF = {**BASE_CAP_BPF_CORE, **BASE_CAP_BPF_RINGBUF}
BASE_CAP_PERFMON = {**BASE_CAP_PERFMON_CORE, **BASE_CAP_PERFMON_TRACE}


def bpf_base_func_proto(func_id: int, prog) -> BpfFuncProto | None:
    """Called from the prog types' get_func_proto: the helpers every program type may call."""
    proto = BASE_ANY.get(func_id)
    if proto is not None:
        return proto
    if not _cap(prog, "CAP_BPF"):
        return None
    proto = BASE_CAP_BPF.get(func_id)
    if proto is not None:
        return proto
    if not _cap(prog, "CAP_PERFMON"):
        return None
    return BASE_CAP_PERFMON.get(func_id)
