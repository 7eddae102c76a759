"""Where the test suite finds the data it shares with the project's steering repo.

``../shared/fixtures/vmlinux-6.18.btf`` (next to the checkout) is the BTF of a real Linux 6.18
kernel; ``KERNELSIM_SHARED`` / ``KERNELSIM_VMLINUX_BTF`` override it. Tests that need it skip when it is absent.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
def _shared() -> Path:
    if "KERNELSIM_SHARED" in os.environ:
        return Path(os.environ["KERNELSIM_SHARED"])
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared"


SHARED = _shared()
VMLINUX_BTF = Path(os.environ.get("KERNELSIM_VMLINUX_BTF", SHARED / "fixtures" / "vmlinux-6.18.btf"))
CONFORMANCE_DIR = SHARED / "conformance"
