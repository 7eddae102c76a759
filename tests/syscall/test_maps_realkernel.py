"""Differential: the map commands, kernelsim against the real bpf() (tests/syscall/diffcases.py)."""

import pytest

from tests.realkernel import realkernel_marks
from tests.syscall.diffcases import SCENARIOS
from tests.syscall.diffharness import assert_same, run_both

pytestmark = realkernel_marks


@pytest.mark.parametrize("name", "map_create map_elems batch_info".split())
def test_same_as_linux(name):
    real, sim = run_both(SCENARIOS[name])
    assert_same(real, sim, name)
