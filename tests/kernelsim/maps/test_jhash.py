"""kernelsim/maps/jhash.py: include/linux/jhash.h, bit for bit."""

from kernelsim.maps.jhash import jhash, jhash2, jhash_bytes_words


def test_known_values():
    # values computed with the kernel's C jhash (lookup3 hashlittle with the kernel's init)
    assert jhash(b"", 0) == 0xDEADBEEF
    assert jhash2([], 0) == 0xDEADBEEF
    assert jhash2([1], 0) == jhash(b"\1\0\0\0", 0)


def test_words_and_bytes_agree_for_aligned_keys():
    for n in (4, 8, 12, 16, 20):
        key = bytes(range(n))
        words = [int.from_bytes(key[i:i + 4], "little") for i in range(0, n, 4)]
        assert jhash_bytes_words(key, 5) == jhash2(words, 5)


def test_seed_changes_hash():
    assert jhash(b"abc", 0) != jhash(b"abc", 1)
