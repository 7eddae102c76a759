"""Differential: the permission model for several identities and both settable values of
kernel.unprivileged_bpf_disabled (0 and 2; 1 would lock the real sysctl until reboot and is
tested in kernelsim only, test_prog_load.py / test_dispatch.py)."""

import pytest

from tests.realkernel import realkernel_marks
from tests.syscall.diffcases import PERM_IDENTITIES, scen_perms
from tests.syscall.diffharness import assert_same, run_both

pytestmark = realkernel_marks


@pytest.mark.parametrize("sysctl", [0, 2])
@pytest.mark.parametrize("ident", PERM_IDENTITIES, ids=lambda i: f"uid{i[0]}-{'+'.join(i[2] or ('all',))}")
def test_permissions_same_as_linux(sysctl, ident):
    uid, gid, caps = ident
    if uid == 0 and sysctl == 0:
        pytest.skip("root is not affected by the sysctl; covered with 2")
    real, sim = run_both(scen_perms, uid, gid, caps, sysctl=sysctl)
    assert_same(real, sim, f"perms sysctl={sysctl} {ident}")
