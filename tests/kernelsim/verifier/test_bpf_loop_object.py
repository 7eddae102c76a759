"""A clang-compiled (``clang -target bpf -O2 -g``) object whose program calls bpf_loop with a
static callback loads through syscall/object (BTF, func_info for the callback, the
BPF_PSEUDO_FUNC ld_imm64) and runs: the callback's work and bpf_loop's return value are what the
C code says."""

from pathlib import Path

import pytest

PROG = Path(__file__).parent / "progs" / "bpf_loop.bpf.c"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from syscall.object import compile_bpf, find_clang
    if find_clang() is None:
        pytest.skip("clang is not installed")
    path = compile_bpf(PROG, cache=str(tmp_path_factory.mktemp("loopobj")))
    from kernelsim import Kernel
    kernel = Kernel()
    task = kernel.spawn(comm="loader")
    obj = task.load_object(str(path))
    yield kernel, task, obj
    obj.close()


def _expected(count):
    total = steps = 0
    for i in range(min(count, 64)):
        total += i
        steps += 1
        if total > 100:
            break
    return total, steps


def test_the_callback_is_a_pseudo_func_with_func_info(loaded):
    kernel, task, obj = loaded
    progs = [o for o in (f.obj for f in task.files.fds.values()) if type(o).__name__ == "BpfProg"]
    assert len(progs) == 1
    prog = progs[0]
    assert any(i.code == 0x18 and i.src == 4 for i in prog.insns)     # ld_imm64 of the callback
    assert len(prog.aux.subprog_starts) == 2                          # main + callback


def test_bpf_loop_object_runs(loaded):
    kernel, task, obj = loaded
    link = obj.progs["sum_loop"].attach()
    for count in (0, 1, 5, 16, 4096):
        kernel.call("vfs_read", None, None, count, None, ret=count)
        total, steps = _expected(count)
        assert (obj.bss.last_sum, obj.bss.last_steps, obj.bss.last_ret) == (total, steps, steps), count
    link.detach()
