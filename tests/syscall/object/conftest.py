"""Fixtures of the object loader's tests: BPF sources compiled once per session, stand-in tasks.

The sources in progs/ are compiled with clang at test time (no prebuilt objects in the
repository) against a vmlinux.h made from the embedded kernel BTF; tests needing an object are
skipped when clang is missing (.ci/run installs it).
"""

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PROGS = HERE / "progs"
sys.path.insert(0, str(HERE))

from fake_task import RecordingTask  # noqa: E402
from tests.paths import VMLINUX_BTF


@pytest.fixture(scope="session")
def object_cache(tmp_path_factory):
    return os.environ.get("KERNELSIM_BPF_CACHE") or str(tmp_path_factory.mktemp("objcache"))


@pytest.fixture(scope="session")
def compiled(object_cache):
    """``compiled("core")`` -> path of progs/core.bpf.c's object (compiled once)."""
    from syscall.object import compile_bpf, find_clang
    if find_clang() is None:
        pytest.skip("clang is not installed")
    done = {}

    def get(name: str) -> str:
        if name not in done:
            done[name] = str(compile_bpf(PROGS / f"{name}.bpf.c", cache=object_cache))
        return done[name]
    return get


@pytest.fixture(scope="session")
def object_bytes(compiled):
    return lambda name: Path(compiled(name)).read_bytes()


@pytest.fixture
def rtask():
    return RecordingTask()


@pytest.fixture(scope="session")
def vmlinux_btf():
    import btf
    return btf.Btf.parse(VMLINUX_BTF.read_bytes()) \
        if VMLINUX_BTF.exists() else None
