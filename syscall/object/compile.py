"""Compiling a BPF C source the way a libbpf user does (``clang -O2 -g -target bpf``), with a
``vmlinux.h`` made from the simulated kernel's BTF (``kernelsim btf dump --format c``, i.e.
btf.btf_dump_c; bpftool btf dump file /sys/kernel/btf/vmlinux format c for a real kernel).

Objects are cached by a content hash of everything that goes into them: the source, the headers
next to it, the vmlinux.h (itself keyed by the BTF's bytes), the flags and the clang version. The
cache directory is ``$KERNELSIM_BPF_CACHE``, else ``$XDG_CACHE_HOME/kernelsim/bpf`` (or
``~/.cache/kernelsim/bpf``); files are written to a temporary name and renamed, so parallel test
runs share it safely.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from .errors import BpfObjectError

TARGET_ARCH = {"x86_64": "x86", "i386": "x86", "arm64": "arm64", "riscv64": "riscv",
               "s390x": "s390"}
DEFAULT_CFLAGS = ("-O2", "-g", "-target", "bpf", "-Wall", "-Wno-unused-function",
                  "-Wno-compare-distinct-pointer-types")


def find_clang(clang: str | None = None) -> str | None:
    """The clang to use: ``clang`` (or $KERNELSIM_CLANG / $CLANG) on PATH, else None."""
    name = clang or os.environ.get("KERNELSIM_CLANG") or os.environ.get("CLANG") or "clang"
    return shutil.which(name)


@lru_cache(maxsize=4)
def _clang_version(clang: str) -> str:
    try:
        out = subprocess.run([clang, "--version"], capture_output=True, text=True, timeout=60)
        return out.stdout.splitlines()[0] if out.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def cache_dir(path=None) -> Path:
    if path is not None:
        d = Path(path)
    elif os.environ.get("KERNELSIM_BPF_CACHE"):
        d = Path(os.environ["KERNELSIM_BPF_CACHE"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = Path(base) / "kernelsim" / "bpf"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _btf_bytes(btf) -> bytes:
    data = getattr(btf, "data", None)
    return bytes(data) if data is not None else btf.to_bytes()


def vmlinux_h(btf=None, cache=None, arch: str | None = None) -> Path:
    """The directory holding a ``vmlinux.h`` for ``btf`` (default: the embedded kernel BTF),
    generated once per BTF content and architecture (``arch`` adds the uapi register struct that
    libbpf's PT_REGS_* macros use there, btf.dump_c.ARCH_REGS_C, when the BTF lacks it)."""
    import btf as btflib
    from btf.dump_c import ARCH_REGS_C
    if btf is None:
        btf = btflib.embedded_btf()
    arch = arch if arch in ARCH_REGS_C else None
    digest = hashlib.sha256(_btf_bytes(btf)).hexdigest()[:16]
    d = cache_dir(cache) / (f"vmlinux-{digest}" + (f"-{arch}" if arch else ""))
    header = d / "vmlinux.h"
    if not header.exists():
        d.mkdir(parents=True, exist_ok=True)
        _atomic_write(header, btflib.btf_dump_c(btf, arch).encode("utf-8", "surrogateescape"))
    return d


def compile_bpf(source, *, out=None, cflags=(), btf=None, arch: str = "x86_64", cache=None,
                clang: str | None = None, include_dirs=()) -> Path:
    """Compile ``source`` (a path to a .bpf.c) into a BPF object; returns its path (in the cache
    unless ``out`` is given). BpfObjectError: ENOENT without clang or source, EINVAL with
    clang's diagnostics when it fails."""
    src = Path(source)
    if not src.is_file():
        raise BpfObjectError(errno.ENOENT, f"BPF source {src} not found")
    cc = find_clang(clang)
    if cc is None:
        raise BpfObjectError(errno.ENOENT, "clang not found (install clang, e.g. apt-get install "
                             "clang libbpf-dev)")
    inc = vmlinux_h(btf, cache, arch)
    flags = [*DEFAULT_CFLAGS, f"-D__TARGET_ARCH_{TARGET_ARCH.get(arch, 'x86')}", *cflags]
    h = hashlib.sha256()
    h.update(src.read_bytes())
    for hdr in sorted(src.parent.glob("*.h")):
        h.update(hdr.name.encode() + b"\0" + hdr.read_bytes())
    for d in include_dirs:
        for hdr in sorted(Path(d).glob("*.h")):
            h.update(hdr.name.encode() + b"\0" + hdr.read_bytes())
    h.update(inc.name.encode())
    h.update("\0".join(flags).encode())
    h.update(_clang_version(cc).encode())
    digest = h.hexdigest()[:20]
    stem = src.name[:-len(".c")] if src.name.endswith(".c") else src.stem
    cached = cache_dir(cache) / f"{stem}-{digest}.o"
    if not cached.exists():
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
            tmp_out = Path(tmp) / (stem + ".o")
            cmd = [cc, *flags, f"-I{src.parent}", *[f"-I{d}" for d in include_dirs], f"-I{inc}",
                   "-c", str(src), "-o", str(tmp_out)]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.SubprocessError) as e:
                raise BpfObjectError(errno.EINVAL, f"clang failed to run: {e}") from e
            if res.returncode != 0:
                raise BpfObjectError(errno.EINVAL, f"clang failed to compile {src}:\n"
                                     f"{res.stderr.strip()}", section=None)
            _atomic_write(cached, tmp_out.read_bytes())
    if out is not None:
        out = Path(out)
        out.write_bytes(cached.read_bytes())
        return out
    return cached


def object_name_for(source) -> str:
    """The object file name libbpf would see for a compiled source: ``x.bpf.c`` -> ``x.bpf.o``
    (so internal maps are named after ``x``, not after the cache file)."""
    name = Path(source).name
    return (name[:-2] if name.endswith(".c") else name) + ".o"
