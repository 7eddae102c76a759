"""The embedded kernel BTF: kernelsim's default vmlinux BTF, so that it runs with no kernel at hand.

btf/data/kernelsim-6.18.btf is cut from a real 6.18 vmlinux BTF by ``python -m btf.gen_embedded``
(the roots are data: btf/data/embedded_roots.txt). ``embedded_btf()`` parses it once per process.
"""

from functools import lru_cache
from pathlib import Path

from .btf import Btf

EMBEDDED_BTF_PATH = Path(__file__).resolve().parent / "data" / "kernelsim-6.18.btf"


def embedded_btf_bytes() -> bytes:
    """The raw blob (what /sys/kernel/btf/vmlinux would hold)."""
    return EMBEDDED_BTF_PATH.read_bytes()


@lru_cache(maxsize=1)
def embedded_btf() -> Btf:
    """The parsed embedded BTF (shared: Btf objects are read-only)."""
    return Btf.parse(embedded_btf_bytes())
