"""kernelsim/idr.py: cyclic allocation."""

from kernelsim.idr import Idr


def test_cyclic_and_wrap():
    idr = Idr("t", 1, 5)
    assert [idr.alloc_cyclic(object()) for _ in range(3)] == [1, 2, 3]
    idr.remove(1)
    assert idr.alloc_cyclic(object()) == 4
    assert idr.alloc_cyclic(object()) == 1                 # wrapped past the end
    assert idr.get_next_id(1) == 2 and idr.get_next_id(4) is None
    assert len(idr) == 4 and list(idr) == [1, 2, 3, 4]
