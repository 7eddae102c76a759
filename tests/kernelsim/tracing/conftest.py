"""Fixtures of the tracing tests."""

import pytest

from kernelsim import Kernel
from tests.kernelsim.tracing.tp_support import Tracer
from tests.kernelsim.tracing.tracing_progs import ArrayMap


@pytest.fixture
def T():
    """A fresh machine with a root task current on CPU 0 (tp_support.Tracer)."""
    return Tracer()


@pytest.fixture
def env():
    """(kernel, task, ArrayMap of 64 u64 slots) for the trampoline, link and test_run tests
    (tracing_progs: programs loaded and attached through the kernel's own pieces)."""
    k = Kernel()
    t = k.spawn(comm="tracer")
    return k, t, ArrayMap(k, t, max_entries=64)
