"""The log buffer byte for byte against Linux 6.18: the same program, the same log_level and a
deliberately small, pre-filled buffer give the same bytes in the user's buffer (stale bytes after
the NUL included), the same errno (ENOSPC when truncated, even on success) and the same
log_true_size, in rotating and BPF_LOG_FIXED mode."""

import pytest

import harness
import realbpf

pytestmark = [pytest.mark.realkernel,
              pytest.mark.skipif(not realbpf.available(), reason="bpf() not available")]

PROGRAMS = {
    "ok3": "r0 = 0\nr2 = r1\nexit",
    "fail": "r6 = r1\nr0 = 5\nr0 += 7\nr1 = r0\nr0 = r3\nexit",
    "long_ok": "\n".join(f"r{i % 6} = {i * 1000}" for i in range(30)) + "\nr0 = *(u64 *)(r1 +8)\nr0 &= 255\nexit",
    "ctx_fail": "r6 = r1\nr0 = *(u64 *)(r6 +0)\nr0 <<= 3\nr0 = *(u64 *)(r6 +200)\nexit",
}
SIZES = [16, 50, 99, 100, 101, 137, 200, 333, 4096]


@pytest.mark.parametrize("level", [1, 9, 2, 10])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("size", SIZES)
def test_buffer_bytes(name, size, level):
    insns = harness.asm(PROGRAMS[name])
    fill = bytes((0xA0 + i) & 0xFF for i in range(size))
    ks = harness.ks_load(2, insns, "GPL", level, size, log_prefill=fill)
    lx = realbpf.prog_load(2, harness.insn_bytes(insns), "GPL", level, size, log_prefill=fill)
    assert (ks.errno, ks.log_true_size) == (lx["errno"], lx["log_true_size"])
    assert ks.log == lx["log"]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_no_buffer_true_size(name):
    insns = harness.asm(PROGRAMS[name])
    ks = harness.ks_load(2, insns, "GPL", 1, 0, has_log_buf=False)
    lx = realbpf.prog_load(2, harness.insn_bytes(insns), "GPL", 1, 0, has_log_buf=False)
    assert (ks.errno, ks.log_true_size) == (lx["errno"], lx["log_true_size"])
