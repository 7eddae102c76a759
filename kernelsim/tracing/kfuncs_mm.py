"""Bodies of simulated memory functions (mm/slub.c __kmalloc_noprof / kfree, mm/maccess.c
copy_from_kernel_nofault).

``__kmalloc_noprof`` maps a fresh kernel Region of the kmalloc size class (powers of two from
8 bytes) and returns its address (ZERO_SIZE_PTR, 16, for size 0; NULL past KMALLOC_MAX_SIZE);
``kfree`` unmaps it (NULL and ZERO_SIZE_PTR are no-ops; objects kernelsim did not allocate this
way are left alone), so a use after free faults. ``copy_from_kernel_nofault`` returns -ERANGE
for user addresses on x86 and -EFAULT for unmapped ones.
"""

from ..memory import PAGE_SIZE, TASK_SIZE, MemoryFault

ZERO_SIZE_PTR = 16
KMALLOC_MAX_SIZE = 1 << 22
EFAULT, ERANGE = 14, 34


def _size_class(size: int) -> int:
    n = 8
    while n < size:
        n <<= 1
    return n


def __kmalloc_noprof(k, size, flags):
    if size == 0:
        return ZERO_SIZE_PTR
    if size > KMALLOC_MAX_SIZE:
        return 0
    n = _size_class(size)
    return k.kobjects.alloc_bytes(b"", f"kmalloc-{n}", size=n)


def kfree(k, obj):
    if obj <= ZERO_SIZE_PTR:
        return None
    k.kobjects.free(obj)
    return None


def copy_from_kernel_nofault(k, dst, src, size):
    if k.arch in ("x86_64", "i386") and src < TASK_SIZE + PAGE_SIZE:
        return -ERANGE
    try:
        k.mem.write(dst, k.mem.read(src, size))
    except MemoryFault:
        return -EFAULT
    return 0


BODIES = {
    "__kmalloc_noprof": __kmalloc_noprof,
    "kfree": kfree,
    "copy_from_kernel_nofault": copy_from_kernel_nofault,
}
