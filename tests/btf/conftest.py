"""Shared fixtures of the btf tests: the 5.5 MB vmlinux BTF is read and parsed once per session."""

import shutil
from pathlib import Path

import pytest

from btf.btf import Btf

from tests.paths import VMLINUX_BTF as VMLINUX
BPFTOOL = shutil.which("bpftool") or ("/usr/sbin/bpftool" if Path("/usr/sbin/bpftool").exists() else None)


@pytest.fixture(scope="session")
def vmlinux_bytes() -> bytes:
    if not VMLINUX.exists():
        pytest.skip(f"{VMLINUX} not present")
    return VMLINUX.read_bytes()


@pytest.fixture(scope="session")
def vmlinux(vmlinux_bytes) -> Btf:
    return Btf.parse(vmlinux_bytes)


@pytest.fixture(scope="session")
def bpftool() -> str:
    if BPFTOOL is None:
        pytest.skip("bpftool not installed")
    return BPFTOOL
