"""Simulated memory: one flat 64-bit address space made of regions (mm/, include/linux/mm.h).

Every byte a BPF program can reach lives in a ``Region``: a ``bytearray`` mapped at a fixed
simulated address, with a kind (``stack``, ``ctx``, ``map_value``, ``kernel`` objects, ``buffer``,
``user`` memory) and permissions. Registers hold plain u64 addresses, so programs compute pointers
the way they do on Linux, and every load or store is checked here: an address outside every region,
an access that runs off a region's end, or a store into a read-only region raises ``MemoryFault``.
The interpreter turns that into a ``BpfRuntimeError`` for an unverified run; ``probe_read`` helpers
and PROBE_MEM loads turn it into -EFAULT or a zero.

Lookups are O(1): regions start on 4 KiB pages (the allocator guarantees it) and a dict maps each
page number a region covers to the region. Two regions never share a page.

Addresses follow x86-64's split: kernel memory from ``KERNEL_BASE`` (the direct map,
0xffff888000000000), user memory below ``TASK_SIZE``. A task's user memory is an ``AddressSpace`` of
its own (its mm); the kernel's is shared by all tasks.

Example::

    mem = AddressSpace("kernel", base=KERNEL_BASE)
    r = mem.alloc(16, "ctx", kind="ctx", writable=False)
    mem.region_of(r.start).buf[0:8] = (42).to_bytes(8, "little")
    mem.load(r.start, 8)        # -> 42
    mem.store(r.start, 8, 1)    # MemoryFault: store into read-only region 'ctx'
"""

import struct
from dataclasses import dataclass, field

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
KERNEL_BASE = 0xFFFF888000000000     # x86-64 direct map (page_offset_base)
TASK_SIZE = 0x00007FFFFFFFF000       # x86-64 user/kernel split
USER_BASE = 0x0000555555554000       # where a simulated task's user allocations start
U64_MASK = (1 << 64) - 1

# The scalar accesses (1, 2, 4, 8 bytes) through precompiled structs: faster than slicing and
# int.from_bytes/to_bytes; callers check bounds first, so the structs' own errors never show.
_FORMATS = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
UNPACK = {n: struct.Struct(f).unpack_from for n, f in _FORMATS.items()}   # size -> (buf, off)
PACK = {n: struct.Struct(f).pack_into for n, f in _FORMATS.items()}       # size -> (buf, off, v)
SIZE_MASK = {n: (1 << (8 * n)) - 1 for n in _FORMATS}


class MemoryFault(Exception):
    """An access no region allows. ``addr``/``size`` say what was tried, ``write`` which way."""

    def __init__(self, addr: int, size: int, write: bool, reason: str):
        self.addr, self.size, self.write, self.reason = addr, size, write, reason
        what = "store" if write else "load"
        super().__init__(f"invalid memory access: {what} of {size} bytes at {addr:#x}: {reason}")


@dataclass(eq=False, slots=True)
class Region:
    """A mapped piece of simulated memory."""

    start: int                 # simulated address of buf[0]
    buf: bytearray             # the bytes; its length is the region's size
    name: str                  # for messages: "stack", "map[3] value", "struct sk_buff"...
    kind: str = "kernel"       # stack | ctx | map_value | kernel | buffer | user | ringbuf
    writable: bool = True      # stores allowed (program stores and helpers writing into it)
    owner: object = None       # what the region belongs to (a map, a kernel object...)
    mapped: bool = field(default=True)

    @property
    def size(self) -> int:
        return len(self.buf)

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    def __repr__(self) -> str:
        return f"<Region {self.name!r} {self.kind} {self.start:#x}+{len(self.buf)}>"


class AddressSpace:
    """A set of non-overlapping regions and a bump allocator for new ones.

    Called from everywhere that touches simulated memory: the interpreter (``load``/``store``),
    helpers (``read``/``write``), maps (``alloc`` for values), kernel objects and tasks.
    """

    def __init__(self, name: str, base: int = KERNEL_BASE):
        self.name = name
        # page number -> the region on it: public so that hot paths (helpers' map_of) can
        # look a page up without a call; only this class changes it
        self.pages: dict[int, Region] = {}
        self._next = base
        self.base = base
        self.stack_pool: list[Region] = []   # free BPF stack regions (kernelsim/isa/interp.py)

    # -- mapping -----------------------------------------------------------------------------

    def alloc(self, size: int, name: str, kind: str = "kernel", writable: bool = True,
              owner: object = None, data: bytes | None = None) -> Region:
        """Map a new zero-filled region (or one holding ``data``) at the next free page(s).

        A zero-sized region still takes one page of address space, so its address is unique.
        A guard page is left after every region so that running off its end faults.
        """
        buf = bytearray(data) if data is not None else bytearray(size)
        if data is not None and size > len(buf):
            buf.extend(bytes(size - len(buf)))
        region = Region(self._next, buf, name, kind, writable, owner)
        npages = max(1, -(-len(buf) // PAGE_SIZE))
        self._next += (npages + 1) * PAGE_SIZE
        self._map(region)
        return region

    def map_at(self, start: int, buf: bytearray, name: str, kind: str = "kernel",
               writable: bool = True, owner: object = None) -> Region:
        """Map ``buf`` at a chosen page-aligned address (ValueError if taken or unaligned)."""
        if start % PAGE_SIZE:
            raise ValueError(f"region {name!r} at {start:#x} is not page-aligned")
        region = Region(start, buf, name, kind, writable, owner)
        for page in self._page_range(region):
            if page in self.pages:
                raise ValueError(f"region {name!r} at {start:#x} overlaps {self.pages[page]!r}")
        self._map(region)
        return region

    def unmap(self, region: Region) -> None:
        """Remove a region; later accesses to its addresses fault."""
        if not region.mapped:
            return
        for page in self._page_range(region):
            if self.pages.get(page) is region:
                del self.pages[page]
        region.mapped = False

    def _page_range(self, region: Region) -> range:
        first = region.start >> PAGE_SHIFT
        npages = max(1, -(-len(region.buf) // PAGE_SIZE))
        return range(first, first + npages)

    def _map(self, region: Region) -> None:
        for page in self._page_range(region):
            self.pages[page] = region

    # -- lookup ------------------------------------------------------------------------------

    def region_of(self, addr: int) -> Region | None:
        """The region containing ``addr``, or None."""
        region = self.pages.get(addr >> PAGE_SHIFT)
        if region is not None and region.start <= addr < region.start + len(region.buf):
            return region
        return None

    def check(self, addr: int, size: int, write: bool = False) -> tuple[Region, int]:
        """Return (region, offset) for an access of ``size`` bytes at ``addr`` or raise MemoryFault."""
        region = self.pages.get(addr >> PAGE_SHIFT)
        if region is None:
            raise MemoryFault(addr, size, write, "no memory mapped there")
        off = addr - region.start
        if off < 0 or off + size > len(region.buf):
            raise MemoryFault(addr, size, write,
                              f"outside region {region.name!r} ({region.start:#x}+{len(region.buf)})")
        if write and not region.writable:
            raise MemoryFault(addr, size, write, f"region {region.name!r} is read-only")
        return region, off

    # -- access ------------------------------------------------------------------------------

    def load(self, addr: int, size: int) -> int:
        """Little-endian unsigned load of 1, 2, 4 or 8 bytes (other sizes work too, slower)."""
        region = self.pages.get(addr >> PAGE_SHIFT)
        if region is not None:
            off = addr - region.start
            if 0 <= off and off + size <= len(region.buf):
                try:
                    return UNPACK[size](region.buf, off)[0]
                except KeyError:
                    return int.from_bytes(region.buf[off:off + size], "little")
        self.check(addr, size)
        raise AssertionError("unreachable")  # pragma: no cover

    def store(self, addr: int, size: int, value: int) -> None:
        """Little-endian store of the low ``size`` bytes of ``value``."""
        region = self.pages.get(addr >> PAGE_SHIFT)
        if region is not None and region.writable:
            off = addr - region.start
            if 0 <= off and off + size <= len(region.buf):
                try:
                    PACK[size](region.buf, off, value & SIZE_MASK[size])
                except KeyError:
                    region.buf[off:off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(
                        size, "little")
                return
        self.check(addr, size, write=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, addr: int, size: int) -> bytes:
        """Copy ``size`` bytes out. The range must lie inside one region (objects never straddle)."""
        region = self.pages.get(addr >> PAGE_SHIFT)
        if region is not None and size > 0:
            off = addr - region.start
            if 0 <= off and off + size <= len(region.buf):
                return bytes(region.buf[off:off + size])
        if size == 0:
            return b""
        region, off = self.check(addr, size)
        return bytes(region.buf[off:off + size])

    def write(self, addr: int, data: bytes, force: bool = False) -> None:
        """Copy ``data`` in. ``force`` writes into read-only regions (the kernel filling a ctx)."""
        if not data:
            return
        region, off = self.check(addr, len(data), write=not force)
        region.buf[off:off + len(data)] = data

    def read_cstr(self, addr: int, max_len: int) -> bytes:
        """Bytes up to (not including) the first NUL, at most ``max_len`` bytes read; faults like read."""
        region, off = self.check(addr, 1)
        end = min(len(region.buf), off + max_len)
        chunk = region.buf[off:end]
        nul = chunk.find(0)
        return bytes(chunk if nul < 0 else chunk[:nul])

    def regions(self) -> list[Region]:
        """All mapped regions, by address."""
        return sorted({id(r): r for r in self.pages.values()}.values(), key=lambda r: r.start)
