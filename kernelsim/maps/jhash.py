"""Bob Jenkins' lookup3 hash as the kernel has it (include/linux/jhash.h): jhash and jhash2.

Hash maps bucket their keys with ``jhash2`` (key_size a multiple of 4) or ``jhash`` and a
per-map seed (hashtab.c htab_map_hash); the bloom filter and the stack trace map use them too.
Reproducing them bit for bit means a BPF_F_ZERO_SEED hash map iterates in the same bucket order
as Linux's.
"""

JHASH_INITVAL = 0xDEADBEEF
M32 = 0xFFFFFFFF


def rol32(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & M32


def _mix(a, b, c):
    a = (a - c) & M32; a ^= rol32(c, 4); c = (c + b) & M32
    b = (b - a) & M32; b ^= rol32(a, 6); a = (a + c) & M32
    c = (c - b) & M32; c ^= rol32(b, 8); b = (b + a) & M32
    a = (a - c) & M32; a ^= rol32(c, 16); c = (c + b) & M32
    b = (b - a) & M32; b ^= rol32(a, 19); a = (a + c) & M32
    c = (c - b) & M32; c ^= rol32(b, 4); b = (b + a) & M32
    return a, b, c


def _final(a, b, c):
    c ^= b; c = (c - rol32(b, 14)) & M32
    a ^= c; a = (a - rol32(c, 11)) & M32
    b ^= a; b = (b - rol32(a, 25)) & M32
    c ^= b; c = (c - rol32(b, 16)) & M32
    a ^= c; a = (a - rol32(c, 4)) & M32
    b ^= a; b = (b - rol32(a, 14)) & M32
    c ^= b; c = (c - rol32(b, 24)) & M32
    return a, b, c


def jhash(key: bytes, initval: int = 0) -> int:
    """jhash(key, length, initval): any length, little-endian words (x86-64)."""
    length = len(key)
    a = b = c = (JHASH_INITVAL + length + initval) & M32
    k = 0
    while length > 12:
        a = (a + int.from_bytes(key[k:k + 4], "little")) & M32
        b = (b + int.from_bytes(key[k + 4:k + 8], "little")) & M32
        c = (c + int.from_bytes(key[k + 8:k + 12], "little")) & M32
        a, b, c = _mix(a, b, c)
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = key[k:k + length] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & M32
    b = (b + int.from_bytes(tail[4:8], "little")) & M32
    c = (c + int.from_bytes(tail[8:12], "little")) & M32
    a, b, c = _final(a, b, c)
    return c


def jhash2(words: list[int], initval: int = 0) -> int:
    """jhash2(k, length, initval): an array of u32."""
    length = len(words)
    a = b = c = (JHASH_INITVAL + (length << 2) + initval) & M32
    i = 0
    while length > 3:
        a = (a + words[i]) & M32
        b = (b + words[i + 1]) & M32
        c = (c + words[i + 2]) & M32
        a, b, c = _mix(a, b, c)
        length -= 3
        i += 3
    if length == 0:
        return c
    if length == 3:
        c = (c + words[i + 2]) & M32
    if length >= 2:
        b = (b + words[i + 1]) & M32
    a = (a + words[i]) & M32
    a, b, c = _final(a, b, c)
    return c


def jhash_bytes_words(key: bytes, initval: int = 0) -> int:
    """htab_map_hash: jhash2 over u32 words when the length is a multiple of 4, else jhash."""
    if len(key) & 3 == 0:
        return jhash2([int.from_bytes(key[i:i + 4], "little") for i in range(0, len(key), 4)], initval)
    return jhash(key, initval)
