"""Building maps straight from the registry, without the syscall (tests of kernelsim/maps)."""

from kernelsim import Kernel
from kernelsim.cred import Cred
from kernelsim.maps import BPF_MAP_TYPES, MapCreateAttr


def build_map(kernel, map_type, key_size, value_size, max_entries, map_flags=0, map_extra=0,
              cred=None):
    attr = MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size,
                         max_entries=max_entries, map_flags=map_flags, map_extra=map_extra,
                         cred=cred or Cred.make(0), ncpus=kernel.ncpus)
    ops = BPF_MAP_TYPES[map_type]
    if ops.map_alloc_check:
        ops.map_alloc_check(attr)
    m = ops.map_alloc(kernel, attr)
    m.ops, m.map_type = ops, map_type
    return m


