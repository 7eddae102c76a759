"""The kernel's own BTF (vmlinux): the embedded default or a real vmlinux BTF file
(kernel/bpf/btf.c btf_vmlinux, /sys/kernel/btf/vmlinux).

``Kernel(btf=None)`` runs on the embedded BTF that btf/gen_embedded.py cuts from a real 6.18 kernel;
``Kernel(btf="vmlinux-6.18.btf")`` (a path), raw bytes or an already parsed ``btf.Btf`` replace it.
Parsed files are cached per path and modification time, since a Btf is read-only and parsing a
5.5 MB vmlinux takes a noticeable fraction of a second.
"""

import os
from functools import lru_cache

import btf as btflib


@lru_cache(maxsize=8)
def _parse_file(path: str, mtime_ns: int, size: int):
    with open(path, "rb") as f:
        return btflib.Btf.parse(f.read())


def load_kernel_btf(source=None):
    """None: the embedded BTF; a path (str or os.PathLike); bytes; or a btf.Btf.

    Raises ValueError naming the file when it cannot be read or is not valid BTF."""
    if source is None:
        return btflib.embedded_btf()
    if isinstance(source, btflib.Btf):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            return btflib.Btf.parse(bytes(source))
        except btflib.BtfError as e:
            raise ValueError(f"kernel BTF: {e}") from e
    path = os.fspath(source)
    try:
        st = os.stat(path)
        return _parse_file(os.path.abspath(path), st.st_mtime_ns, st.st_size)
    except OSError as e:
        raise ValueError(f"kernel BTF {path}: {e.strerror}") from e
    except btflib.BtfError as e:
        raise ValueError(f"kernel BTF {path}: {e}") from e
