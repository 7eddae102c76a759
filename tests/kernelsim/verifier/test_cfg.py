"""Subprograms, the CFG check and static liveness (cfg.py) through bpf_check's messages."""

import errno

import pytest

import harness
from kernelsim.cred import Cred
from kernelsim.verifier import cfg


class _Env:
    def __init__(self, text, capable=True):
        self.insns = harness.asm(text)
        self.bpf_capable = capable
        self.prune_points, self.jmp_points, self.force_checkpoints = set(), set(), set()
        self.subprogs = []
        self.log = type("L", (), {"level": 0})()
        self.msgs = []

    def verbose(self, m):
        self.msgs.append(m)

    def fail(self, err, msg):
        from kernelsim.errors import BpfError
        raise BpfError(err, msg)


@pytest.mark.parametrize("text,err,msg", [
    ("r0 = 0\ngoto +5\nexit", errno.EINVAL, "jump out of range from insn 1 to 7"),
    ("r0 = 0", errno.EINVAL, "last insn is not an exit or jmp"),
    ("r0 = 0\nexit\nexit", errno.EINVAL, "unreachable insn 2"),
    ("call pc+5\nr0 = 0\nexit", errno.EINVAL, "call to invalid destination"),
    ("r0 = 0\nif r0 == 0x0 goto +1\nr1 = 0x1 ll\nexit", errno.EINVAL, "jump into the middle of ldimm64 insn 2"),
])
def test_cfg_errors(text, err, msg):
    r = harness.ks_load(2, harness.asm(text), log_level=1)
    assert r.errno == err
    assert msg in r.text


def test_back_edge_needs_cap_bpf():
    text = "r0 = 0\nr0 += 1\nif r0 < 0x5 goto -2\nexit"
    r = harness.ks_load(1, harness.asm(text), cred=Cred.make(65534, 65534))
    assert r.errno == errno.EINVAL and "back-edge from insn 2 to 1" in r.text
    assert harness.ks_load(1, harness.asm(text)).errno == 0


def test_prune_points_and_subprogs():
    env = _Env("call pc+3\nr0 = 0\nif r0 > 0x1 goto +0\nexit\nr0 = 1\nexit")
    cfg.add_subprog_and_kfunc(env)
    cfg.check_subprogs(env)
    cfg.check_cfg(env)
    assert [s.start for s in env.subprogs] == [0, 4]
    assert {1, 2, 3, 0} <= env.prune_points


def test_live_registers():
    env = _Env("r0 = 0\nr2 = r1\nexit")
    live = cfg.compute_live_registers(env, lambda fid: -1)
    assert live == [0b10, 0b11, 0b1]
