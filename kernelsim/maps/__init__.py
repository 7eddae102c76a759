"""kernelsim.maps: the map types (kernel/bpf/*map*.c, include/linux/bpf_types.h).

``BPF_MAP_TYPES`` is the registry: one line per supported ``BpfMapType``, its ops table.
Adding a map type is one module plus one line here. Types absent from it are refused by
MAP_CREATE with EINVAL, as for a kernel built without them.
"""

from ..uapi import BpfMapType as T
from .arraymap import array_map_ops, percpu_array_map_ops
from .bloom_filter import bloom_filter_map_ops
from .bpf_task_storage import task_storage_map_ops
from .fd_array import perf_event_array_map_ops, prog_array_map_ops
from .hashtab import htab_lru_map_ops, htab_lru_percpu_map_ops, htab_map_ops, htab_percpu_map_ops
from .map_in_map import array_of_maps_map_ops, htab_of_maps_map_ops
from .map import BpfBatchArgs, BpfMap, MapCreateAttr, MapFile, bpf_map_value_size
from .ops import BpfMapOps
from .queue_stack_maps import queue_map_ops, stack_map_ops
from .ringbuf import ringbuf_map_ops
from .stackmap import stack_trace_map_ops

BPF_MAP_TYPES = {
    T.BPF_MAP_TYPE_HASH: htab_map_ops,
    T.BPF_MAP_TYPE_ARRAY: array_map_ops,
    T.BPF_MAP_TYPE_PROG_ARRAY: prog_array_map_ops,
    T.BPF_MAP_TYPE_PERF_EVENT_ARRAY: perf_event_array_map_ops,
    T.BPF_MAP_TYPE_PERCPU_HASH: htab_percpu_map_ops,
    T.BPF_MAP_TYPE_PERCPU_ARRAY: percpu_array_map_ops,
    T.BPF_MAP_TYPE_STACK_TRACE: stack_trace_map_ops,
    T.BPF_MAP_TYPE_LRU_HASH: htab_lru_map_ops,
    T.BPF_MAP_TYPE_LRU_PERCPU_HASH: htab_lru_percpu_map_ops,
    T.BPF_MAP_TYPE_QUEUE: queue_map_ops,
    T.BPF_MAP_TYPE_STACK: stack_map_ops,
    T.BPF_MAP_TYPE_RINGBUF: ringbuf_map_ops,
    T.BPF_MAP_TYPE_BLOOM_FILTER: bloom_filter_map_ops,
    T.BPF_MAP_TYPE_ARRAY_OF_MAPS: array_of_maps_map_ops,
    T.BPF_MAP_TYPE_HASH_OF_MAPS: htab_of_maps_map_ops,
    T.BPF_MAP_TYPE_TASK_STORAGE: task_storage_map_ops,
}

__all__ = ["BPF_MAP_TYPES", "BpfMapOps", "BpfMap", "MapCreateAttr", "MapFile", "BpfBatchArgs",
           "bpf_map_value_size"]
