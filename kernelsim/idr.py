"""ID registries: one per object kind, handing out IDs cyclically (lib/idr.c idr_alloc_cyclic).

kernel/bpf/syscall.c keeps prog_idr, map_idr, link_idr (and btf.c btf_idr) and allocates with
``idr_alloc_cyclic(idr, obj, 1, INT_MAX)``: the next ID is the smallest free one above the last ID
handed out, wrapping to 1, so a freed ID is not reused until the counter comes round again. An ID
is removed the moment its object's last reference goes (GET_FD_BY_ID then gives ENOENT).

Example: alloc -> 1, alloc -> 2, remove(1), alloc -> 3 (not 1).
"""

import bisect
import errno

from .errors import BpfError

INT_MAX = 0x7FFFFFFF


class Idr:
    """Called from object creation (alloc), lookups (find, get_next_id) and freeing (remove)."""

    def __init__(self, name: str, start: int = 1, end: int = INT_MAX):
        self.name = name
        self._start, self._end = start, end          # IDs live in [start, end)
        self._objs: dict[int, object] = {}
        self._sorted: list[int] = []
        self._next = start

    def alloc_cyclic(self, obj) -> int:
        """ENOSPC when every ID is taken (not reachable in practice)."""
        if len(self._objs) >= self._end - self._start:
            raise BpfError(errno.ENOSPC, f"{self.name}: no free ID")
        candidate = self._next
        while True:
            if candidate >= self._end:
                candidate = self._start
            if candidate not in self._objs:
                break
            candidate += 1
        self._objs[candidate] = obj
        bisect.insort(self._sorted, candidate)
        self._next = candidate + 1
        return candidate

    def replace(self, id_: int, obj) -> None:
        """Point an allocated ID at an object (links reserve an ID before they settle)."""
        self._objs[id_] = obj

    def remove(self, id_: int) -> None:
        if id_ in self._objs:
            del self._objs[id_]
            del self._sorted[bisect.bisect_left(self._sorted, id_)]

    def find(self, id_: int):
        return self._objs.get(id_)

    def get_next_id(self, start_id: int) -> int | None:
        """The smallest ID strictly greater than start_id, or None."""
        i = bisect.bisect_right(self._sorted, start_id)
        return self._sorted[i] if i < len(self._sorted) else None

    def __len__(self) -> int:
        return len(self._objs)

    def __iter__(self):
        return iter(list(self._sorted))

    def objects(self) -> list:
        return [self._objs[i] for i in self._sorted]
