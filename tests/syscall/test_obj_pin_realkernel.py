"""Differential: OBJ_PIN / OBJ_GET (a bpffs mounted in a temporary directory on the real side),
IDs, link and miscellaneous commands (tests/syscall/diffcases.py scen_pin)."""

from tests.realkernel import realkernel_marks
from tests.syscall.diffcases import bpffs_mounted, scen_pin
from tests.syscall.diffharness import assert_same, run_both

pytestmark = realkernel_marks


def test_pinning_ids_and_misc_same_as_linux():
    with bpffs_mounted():
        real, sim = run_both(scen_pin)
    assert_same(real, sim, "pin")
