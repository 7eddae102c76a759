"""Helpers fed arbitrary register values never raise: they return values (-errno), as the
kernel's do. Registers are drawn from plain integers and from addresses in and around real
regions (stack-like buffers, a read-only ctx, a map object, user memory, a __sk_buff mirror)."""

import pytest
from helper_support import make_hash, make_kernel, make_run
from hypothesis import HealthCheck, given, settings, strategies as st

from kernelsim.helpers import core, net, ringbuf, trace
from kernelsim.helpers.proto import BpfFuncProto
from kernelsim.skbuff import eth_type_trans, skb_ctx_region
from kernelsim.trace_pipe import trace_buffer
from kernelsim.uapi import BpfAttachType as AT


def implemented():
    seen = {}
    for mod in (core, trace, ringbuf, net):
        for name, obj in vars(mod).items():
            if isinstance(obj, BpfFuncProto) and obj.func is not None:
                seen[obj.func.__name__] = obj.func
    return sorted(seen.items())


HELPERS = implemented()
KERNEL, TASK = make_kernel()
BUF = KERNEL.mem.alloc(512, "buf", kind="stack")
CTX = KERNEL.mem.alloc(256, "ctx", kind="ctx", writable=False, data=bytes(range(256)))
USER = TASK.mm.alloc(256, "user", kind="user", data=b"user string\0" * 8)
MAP = make_hash(KERNEL)
SKB = skb_ctx_region(KERNEL, eth_type_trans(bytes(64)))
BASES = [BUF.start, CTX.start + 16, USER.start, MAP.addr, SKB.start, 0, 1 << 63]

reg = st.one_of(
    st.integers(0, 2**64 - 1),
    st.integers(0, 4096),
    st.builds(lambda base, off: (base + off) % 2**64, st.sampled_from(BASES), st.integers(-64, 600)),
)


def test_every_implemented_helper_is_covered():
    assert len(HELPERS) >= 65


@pytest.mark.parametrize("name,func", HELPERS)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(regs=st.tuples(reg, reg, reg, reg, reg), idle=st.booleans(), fexit=st.booleans())
def test_helpers_never_raise(name, func, regs, idle, fexit):
    from helper_support import make_prog
    from kernelsim.uapi import BpfProgType as PT
    prog = make_prog(KERNEL, PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FEXIT if fexit else AT.BPF_TRACE_FENTRY)
    run = make_run(KERNEL, prog, task=None if idle else TASK, kstack=[1, 2, 3])
    ret = func(run, *regs)
    assert isinstance(ret, int)
    if len(trace_buffer(KERNEL)) > 1000:
        trace_buffer(KERNEL).clear()
