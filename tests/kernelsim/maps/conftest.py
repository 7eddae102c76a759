"""Map tests build maps straight from the registry (no syscall): ``make_map``."""

import pytest

from kernelsim import Kernel
from tests.kernelsim.maps.mapkit import build_map


@pytest.fixture
def kernel():
    return Kernel(ncpus=2, seed=7)


@pytest.fixture
def make_map(kernel):
    def make(*args, **kw):
        return build_map(kernel, *args, **kw)
    return make
