"""The BPF ring buffer: the RINGBUF ops table, the program-side record API and a user-space
consumer (kernel/bpf/ringbuf.c; tools/lib/bpf/ringbuf.c for the consumer).

``max_entries`` is the data size: a power of two and a multiple of the page size. Positions are
free-running byte counters (``consumer_pos``, ``producer_pos``, ``pending_pos``); a record sits at
``pos & mask`` and starts with the kernel's 8-byte header::

    u32 len      # the sample size, | BPF_RINGBUF_BUSY_BIT (1<<31) while reserved,
                 #                  | BPF_RINGBUF_DISCARD_BIT (1<<30) once discarded
    u32 pg_off   # page offset of the header from the start of struct bpf_ringbuf
                 # (3 pages of metadata come first: the struct, the consumer and producer pages)

A record takes ``round_up(size + 8, 8)`` bytes. Reserving fails (NULL) when the producer would get
more than ``size - 1`` bytes ahead of the consumer or of the oldest still-busy record.

Memory: one Region (owner: the map) laid out as the part of struct bpf_ringbuf user space maps:
the consumer page (``consumer_pos``, a u64 at its start), the producer page (``producer_pos``),
then the data. Linux maps the data pages twice in a row so that a record wrapping past the end is
still contiguous; here the data part is ``2 * size`` bytes and a record is always read and written
at ``[pos & mask, (pos & mask) + len)`` in it, which gives the same contiguity: the bytes past
``size`` belong to the wrapped record that wrote them (a consumer reading each record at its
position sees what it would on Linux). The positions are read from and written to the pages, so
an ``mmap`` of the map fd (``ringbuf_map_mmap``: the consumer page writable at offset 0, the
producer page and the data read-only from offset PAGE_SIZE, as libbpf maps them) shares them with
the kernel. ``bpf_ringbuf_submit`` and ``discard`` find the map from the record address with
``kernel.mem.region_of(addr).owner``.

Syscall element commands are ENOTSUPP (524). User space reads records with ``ringbuf_consume`` /
``ringbuf_drain`` (Python handles) or through the mapped pages; every wakeup the kernel would send
(an irq_work) calls the functions in ``map.data.wakeup`` and counts in ``map.data.wakeups``.
"""

import errno

from ..errors import BpfError
from ..memory import PAGE_SIZE
from ..uapi import ENOTSUPP, BpfMapFlags
from .map import BpfMap, check_memory, round_up
from .map import bpf_map_meta_equal
from .ops import BpfMapOps

BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
RINGBUF_PGOFF = 1                  # pages of struct bpf_ringbuf before consumer_pos
RINGBUF_POS_PAGES = 2
RINGBUF_NR_META_PAGES = RINGBUF_PGOFF + RINGBUF_POS_PAGES
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4
BPF_RB_NO_WAKEUP = 1 << 0
BPF_RB_FORCE_WAKEUP = 1 << 1
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = 0, 1, 2, 3
RINGBUF_CREATE_FLAG_MASK = int(BpfMapFlags.BPF_F_NUMA_NODE)


RINGBUF_DATA_OFF = RINGBUF_POS_PAGES * PAGE_SIZE     # the data after the consumer and producer pages


class BpfRingbuf:
    """struct bpf_ringbuf: ``region`` holds the consumer page, the producer page and the data."""

    def __init__(self, region, size: int):
        self.region = region
        self.mask = size - 1
        self.data_start = region.start + RINGBUF_DATA_OFF
        self.pending_pos = 0
        self.wakeups = 0
        self.wakeup: list = []          # callables(map) run on every wakeup

    @property
    def consumer_pos(self) -> int:
        return int.from_bytes(self.region.buf[0:8], "little")

    @consumer_pos.setter
    def consumer_pos(self, value: int) -> None:
        self.region.buf[0:8] = (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")

    @property
    def producer_pos(self) -> int:
        return int.from_bytes(self.region.buf[PAGE_SIZE:PAGE_SIZE + 8], "little")

    @producer_pos.setter
    def producer_pos(self, value: int) -> None:
        self.region.buf[PAGE_SIZE:PAGE_SIZE + 8] = (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")

    def hdr_len(self, pos: int) -> int:
        off = RINGBUF_DATA_OFF + (pos & self.mask)
        return int.from_bytes(self.region.buf[off:off + 4], "little")

    def set_hdr(self, pos: int, length: int, pg_off: int) -> None:
        off = RINGBUF_DATA_OFF + (pos & self.mask)
        self.region.buf[off:off + 8] = length.to_bytes(4, "little") + pg_off.to_bytes(4, "little")


def ringbuf_map_alloc(kernel, attr) -> BpfMap:
    """Called from syscall (after the capability checks: ringbuf has no alloc_check).
    EINVAL: flags other than NUMA_NODE, a key or value size, max_entries not a power of two or
    not page-aligned; ENOMEM: too large."""
    if attr.map_flags & ~RINGBUF_CREATE_FLAG_MASK:
        raise BpfError(errno.EINVAL, "invalid ringbuf flags")
    n = attr.max_entries
    if attr.key_size or attr.value_size or n == 0 or n & (n - 1) or n % PAGE_SIZE:
        raise BpfError(errno.EINVAL, "ringbuf size must be a power-of-2 multiple of the page size")
    check_memory(2 * n)
    map = BpfMap(kernel, attr, None)
    region = map.area_alloc(RINGBUF_DATA_OFF + 2 * n, "ringbuf")
    region.kind = "ringbuf"
    map.data = BpfRingbuf(region, n)
    return map


def ringbuf_map_enotsupp(map, *args) -> None:
    """Called from syscall: lookup/update/delete/get_next_key are ENOTSUPP on a ring buffer."""
    raise BpfError(ENOTSUPP, "ring buffers have no elements")


def _wakeup(map) -> None:
    rb = map.data
    rb.wakeups += 1
    for fn in list(rb.wakeup):
        fn(map)


def _reserve(map, size: int) -> int:
    """__bpf_ringbuf_reserve: the data address or 0."""
    rb = map.data
    if size > RINGBUF_MAX_RECORD_SZ:
        return 0
    length = round_up(size + BPF_RINGBUF_HDR_SZ, 8)
    if length > rb.mask + 1:
        return 0
    pend = rb.pending_pos
    while pend < rb.producer_pos:        # skip committed records at the head of the busy span
        hdr = rb.hdr_len(pend)
        if hdr & BPF_RINGBUF_BUSY_BIT:
            break
        pend += round_up((hdr & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ, 8)
    rb.pending_pos = pend
    prod = rb.producer_pos
    new_prod = prod + length
    if new_prod - rb.consumer_pos > rb.mask or new_prod - pend > rb.mask:
        return 0
    pg_off = RINGBUF_NR_META_PAGES + ((prod & rb.mask) >> 12)
    rb.set_hdr(prod, size | BPF_RINGBUF_BUSY_BIT, pg_off)
    rb.producer_pos = new_prod
    return rb.data_start + (prod & rb.mask) + BPF_RINGBUF_HDR_SZ


def ringbuf_reserve(map, size: int, flags: int) -> int:
    """Called from bpf_ringbuf_reserve: 0 for non-zero flags or no room."""
    if flags:
        return 0
    return _reserve(map, size)


def _commit(map, addr: int, flags: int, discard: bool) -> None:
    rb = map.data
    off = addr - BPF_RINGBUF_HDR_SZ - rb.data_start
    at = RINGBUF_DATA_OFF + off
    length = int.from_bytes(rb.region.buf[at:at + 4], "little") ^ BPF_RINGBUF_BUSY_BIT
    if discard:
        length |= BPF_RINGBUF_DISCARD_BIT
    rb.region.buf[at:at + 4] = length.to_bytes(4, "little")
    cons = rb.consumer_pos & rb.mask
    if flags & BPF_RB_FORCE_WAKEUP or (cons == off and not flags & BPF_RB_NO_WAKEUP):
        _wakeup(map)


def ringbuf_submit(map, addr: int, flags: int) -> None:
    """Called from bpf_ringbuf_submit with the address ringbuf_reserve returned."""
    _commit(map, addr, flags, False)


def ringbuf_discard(map, addr: int, flags: int) -> None:
    """Called from bpf_ringbuf_discard."""
    _commit(map, addr, flags, True)


def ringbuf_output(map, data: bytes, flags: int) -> None:
    """Called from bpf_ringbuf_output. EINVAL: flags other than the wakeup flags; EAGAIN: no room."""
    if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
        raise BpfError(errno.EINVAL, "unknown ringbuf_output flags")
    addr = _reserve(map, len(data))
    if not addr:
        raise BpfError(errno.EAGAIN, "ring buffer full")
    map.kernel.mem.write(addr, bytes(data))
    _commit(map, addr, flags, False)


def ringbuf_query(map, flags: int) -> int:
    """Called from bpf_ringbuf_query: available bytes, size, consumer or producer position."""
    rb = map.data
    return {BPF_RB_AVAIL_DATA: rb.producer_pos - rb.consumer_pos,
            BPF_RB_RING_SIZE: rb.mask + 1,
            BPF_RB_CONS_POS: rb.consumer_pos,
            BPF_RB_PROD_POS: rb.producer_pos}.get(flags, 0)


# -- user space ----------------------------------------------------------------------------------


def ringbuf_consume(map, sample_cb) -> int:
    """libbpf ring_buffer__consume: call ``sample_cb(data: bytes)`` for every committed record,
    skipping discarded ones, stopping at a busy one; a negative return from the callback stops
    and is returned. Returns the number of records passed to the callback."""
    rb = map.data
    cnt = 0
    while True:
        got_new = False
        while rb.consumer_pos < rb.producer_pos:
            length = rb.hdr_len(rb.consumer_pos)
            if length & BPF_RINGBUF_BUSY_BIT:
                return cnt
            got_new = True
            off = RINGBUF_DATA_OFF + (rb.consumer_pos & rb.mask) + BPF_RINGBUF_HDR_SZ
            size = length & ~BPF_RINGBUF_DISCARD_BIT
            rb.consumer_pos += round_up(size + BPF_RINGBUF_HDR_SZ, 8)
            if not length & BPF_RINGBUF_DISCARD_BIT:
                err = sample_cb(bytes(rb.region.buf[off:off + size]))
                if err is not None and err < 0:
                    return err
                cnt += 1
        if not got_new:
            return cnt


def ringbuf_map_mmap(map, writable: bool, offset: int = 0, length: int | None = None) -> memoryview:
    """Called from mmap of a ring buffer fd (ringbuf_map_mmap_kern): a view of the pages from
    ``offset``. EPERM: a writable mapping other than exactly the consumer page; EINVAL: past the
    producer page and the twice-mapped data."""
    rb = map.data
    total = RINGBUF_DATA_OFF + 2 * (rb.mask + 1)
    if length is None:
        length = total - offset
    if writable and (offset != 0 or length != PAGE_SIZE):
        raise BpfError(errno.EPERM, "only the consumer page can be mapped writable")
    if offset + length > total:
        raise BpfError(errno.EINVAL, "mapping past the end of the ring buffer")
    view = memoryview(rb.region.buf)[offset:offset + length]
    return view if writable else view.toreadonly()


def ringbuf_drain(map) -> list[bytes]:
    """Every committed record not yet consumed, in order (a convenience over ringbuf_consume)."""
    out: list[bytes] = []
    ringbuf_consume(map, out.append)
    return out


ringbuf_map_ops = BpfMapOps(
    map_meta_equal=bpf_map_meta_equal,
    map_alloc=ringbuf_map_alloc,
    map_get_next_key=ringbuf_map_enotsupp,
    map_delete_elem=ringbuf_map_enotsupp,
    map_copy_value=ringbuf_map_enotsupp,
    map_update_value=ringbuf_map_enotsupp,
    ringbuf_reserve=ringbuf_reserve,
    ringbuf_submit=ringbuf_submit,
    ringbuf_discard=ringbuf_discard,
    ringbuf_output=ringbuf_output,
    ringbuf_query=ringbuf_query,
    map_mmap=ringbuf_map_mmap,
)
