"""Ring buffer consumer: callbacks over the records of BPF_MAP_TYPE_RINGBUF maps
(tools/lib/bpf/ringbuf.c ring_buffer__new, ring_buffer__add, ring_buffer__poll,
ring_buffer__consume, ringbuf_process_ring).

libbpf mmaps the map fd (consumer page read-write, producer page and data read-only) and walks
the records between consumer_pos and producer_pos. kernelsim's equivalent of that mmap is the map
the fd refers to (``task.files.get(fd)``): kernelsim/maps/ringbuf.py ``ringbuf_consume`` walks the
records exactly as ringbuf_process_ring does (busy record: stop; discarded: skip; a negative
callback return stops the walk and is returned).

    rb = obj.ringbuf("events", lambda data: seen.append(data))
    rb = obj.ringbuf("events", on_event, type="struct event")   # records decoded through BTF
    n = rb.poll()       # consume what is there (the simulation never blocks); -> records seen
"""

from __future__ import annotations

import errno

from btf import BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_UNION
from kernelsim.uapi import BpfMapType

from .errors import BpfObjectError
from .values import BtfCodec


def _record_codec(obj, type_name: str | None):
    if not type_name:
        return None
    btf = obj.btf
    if btf is None:
        raise BpfObjectError(errno.ENOENT, f"no BTF to decode ring buffer records as {type_name!r}")
    kind_of = {"struct": BTF_KIND_STRUCT, "union": BTF_KIND_UNION}
    word, _, name = type_name.partition(" ")
    if name and word in kind_of:
        ids = btf.find_all_by_name_kind(name, kind_of[word])
    else:
        name = type_name
        ids = (btf.find_all_by_name_kind(name, BTF_KIND_TYPEDEF)
               or btf.find_all_by_name_kind(name, BTF_KIND_STRUCT))
    if not ids:
        raise BpfObjectError(errno.ENOENT, f"type {type_name!r} not found in the object's BTF")
    return BtfCodec(btf, ids[0])


class _Ring:
    def __init__(self, kmap, callback, codec):
        self.kmap = kmap
        self.callback = callback
        self.codec = codec

    def sample(self, data: bytes):
        if self.codec is not None:
            value = self.codec.decode(data[: self.codec.size].ljust(self.codec.size, b"\0"))
        else:
            value = data
        ret = self.callback(value)
        return ret if isinstance(ret, int) and not isinstance(ret, bool) else None


class RingBuffer:
    """struct ring_buffer: one or more ring buffer maps, each with its callback."""

    def __init__(self, obj, map_, callback, type: str | None = None):
        self.obj = obj
        self._rings: list[_Ring] = []
        self.add(map_, callback, type)

    def add(self, map_, callback, type: str | None = None) -> None:
        """ring_buffer__add."""
        if isinstance(map_, str):
            map_ = self.obj.maps[map_]
        if map_.type != BpfMapType.BPF_MAP_TYPE_RINGBUF:
            raise BpfObjectError(errno.EINVAL, f"map '{map_.name}' is not a BPF_MAP_TYPE_RINGBUF "
                                 "map", map=map_.name)
        if map_.fd < 0:
            raise BpfObjectError(errno.EINVAL, f"map '{map_.name}' is not created", map=map_.name)
        kmap = self._kernel_map(map_)
        self._rings.append(_Ring(kmap, callback, _record_codec(self.obj, type)))

    def _kernel_map(self, map_):
        files = getattr(self.obj.task, "files", None)
        if files is None:
            raise BpfObjectError(errno.EOPNOTSUPP, "ring buffer consumers need a kernelsim task "
                                 "(the equivalent of mmap on the map fd)", map=map_.name)
        try:
            return files.get(map_.fd).obj
        except Exception as e:
            raise BpfObjectError(errno.EBADF, f"map '{map_.name}': fd {map_.fd}: {e}",
                                 map=map_.name) from e

    def consume(self) -> int:
        """ring_buffer__consume: every available record of every ring; the number consumed, or
        the first negative value a callback returned."""
        from kernelsim.maps.ringbuf import ringbuf_consume
        total = 0
        for ring in self._rings:
            n = ringbuf_consume(ring.kmap, ring.sample)
            if n < 0:
                return n
            total += n
        return total

    def poll(self, timeout_ms: int = 0) -> int:
        """ring_buffer__poll: the simulation never waits, so this is consume()."""
        return self.consume()

    def close(self) -> None:
        self._rings.clear()

    free = close
