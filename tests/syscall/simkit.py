"""Helpers for the kernelsim-only syscall tests: a machine, tasks and tiny programs."""

import ctypes

from kernelsim import Kernel
from syscall import abi

RET0 = bytes.fromhex("b700000000000000") + bytes.fromhex("9500000000000000")


def machine(sysctl: int = 0, ncpus: int = 2):
    k = Kernel(ncpus=ncpus, seed=1)
    k.sysctl["kernel.unprivileged_bpf_disabled"] = sysctl
    return k


def cbuf(data: bytes | int):
    """A ctypes buffer and its address."""
    if isinstance(data, int):
        b = ctypes.create_string_buffer(max(data, 1))
    else:
        b = ctypes.create_string_buffer(max(len(data), 1))
        b.raw = bytes(data).ljust(max(len(data), 1), b"\0")
    return b, ctypes.addressof(b)


def attr(**fields):
    a = abi.new_attr()
    for dotted, value in fields.items():
        parts = dotted.split("__")
        obj = a
        for p in parts[:-1]:
            obj = getattr(obj, p)
        setattr(obj, parts[-1], value)
    return a
