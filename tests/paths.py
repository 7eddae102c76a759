"""Where the test suite finds the data it shares with the project's steering repo.

``../shared/fixtures/vmlinux-6.18.btf`` (next to the checkout) is the BTF of a real Linux 6.18
kernel; ``KERNELSIM_VMLINUX_BTF`` overrides it. Tests that need it skip when it is absent.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KERNELSIM_SHARED", REPO.parent / "shared"))
VMLINUX_BTF = Path(os.environ.get("KERNELSIM_VMLINUX_BTF", SHARED / "fixtures" / "vmlinux-6.18.btf"))
CONFORMANCE_DIR = SHARED / "conformance"
