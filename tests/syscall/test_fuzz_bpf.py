"""Bad input: hypothesis drives task.bpf with random commands, sizes and attr bytes (wild
pointers included). Only >= 0 or -errno may come back, never an exception (the dispatcher's
safety net is turned off so a simulator bug fails the test), and every fd and object is gone
again once the fds are closed."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kernelsim.uapi import BpfCmd
from syscall import dispatch
from syscall import libbpf as L
from tests.syscall.simkit import RET0, machine

CMDS = st.one_of(st.sampled_from(list(BpfCmd)), st.integers(-5, 64), st.integers(0, 2**32 - 1))
SIZES = st.one_of(st.integers(0, 200), st.sampled_from([168, 169, 4096, 4097, 2**32 - 1]))
POINTERS = st.sampled_from([0, 1, 8, 0x1000, 0xFFFF_FFFF_FFFF_F000, 0x7FFF_FFFF_F000, 2**63, 2**64 - 1])


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setattr(dispatch, "RAISE_INTERNAL_ERRORS", True)


def baseline(k):
    return {kind: len(idr) for kind, idr in k.idr.items()}


def settle(task, k, before_fds, before_ids):
    for fd in sorted(set(task.files.fds) - before_fds):
        task.close(fd)
    for path, _ in list(k.bpffs.walk_pins()):
        k.bpffs.unlink(path)
    after = baseline(k)
    after["btf"] = min(after["btf"], before_ids["btf"] + 1)   # vmlinux BTF may have been registered
    assert after == {**before_ids, "btf": after["btf"]}, (before_ids, after)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(cmd=CMDS, data=st.binary(max_size=200), size=SIZES)
def test_random_attrs(cmd, data, size):
    k = machine()
    task = k.spawn("fuzz")
    fds, ids = set(task.files.fds), baseline(k)
    buf = bytearray(data.ljust(max(size if size < 4200 else 0, len(data)), b"\0"))
    ret = task.bpf(cmd, buf, size)
    assert isinstance(ret, int) and (ret >= 0 or -ret in range(1, 600))
    settle(task, k, fds, ids)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(cmd=st.sampled_from(list(BpfCmd)), words=st.lists(st.one_of(st.integers(0, 2**32 - 1),
                                                                    st.integers(0, 40)), min_size=42, max_size=42),
       ptrs=st.lists(POINTERS, min_size=4, max_size=4))
def test_structured_attrs_with_live_objects(cmd, words, ptrs):
    """Attrs made of small numbers (so they name the live fds 3..6) and wild pointers."""
    k = machine()
    task = k.spawn("fuzz")
    L.map_create(task, 1, "h", 4, 4, 4)                         # fd 3: hash
    L.map_create(task, 2, "a", 4, 4, 4)                         # fd 4: array
    L.prog_load(task, 1, RET0)                                  # fd 5: socket filter
    L.map_create(task, 27, "r", 0, 0, 4096)                     # fd 6: ringbuf
    fds, ids = set(task.files.fds), baseline(k)
    raw = bytearray(struct.pack("<42I", *words))
    for i, p in enumerate(ptrs):                                 # pointer-sized slots
        raw[8 + 8 * i:16 + 8 * i] = struct.pack("<Q", p)
    ret = task.bpf(cmd, raw)
    assert isinstance(ret, int)
    settle(task, k, fds, ids)
