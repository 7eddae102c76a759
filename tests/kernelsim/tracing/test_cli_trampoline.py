"""``kernelsim trampoline show`` (kernelsim/tools/trampoline_cmd.py)."""

import pytest

from kernelsim.cli import main
from tests.paths import VMLINUX_BTF

VMLINUX = str(VMLINUX_BTF)


def run(capsys, *argv):
    rc = main(["trampoline", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_default_one_fentry(capsys):
    rc, out, err = run(capsys, "show", "eth_type_trans")
    assert rc == 0 and err == ""
    assert "; bpf_trampoline for eth_type_trans (arch x86_64, profile newest)" in out
    assert "links: fentry=1 fmod_ret=0 fexit=0" in out and "flags: RESTORE_REGS" in out
    assert "arg_size=[8, 8]" in out and "push rbp" in out


def test_kinds_arch_profile(capsys):
    rc, out, _ = run(capsys, "show", "bpf_modify_return_test", "--fexit", "2", "--fmod-ret", "1",
                     "--arch", "arm64")
    assert rc == 0 and "arch arm64" in out and "fentry=0 fmod_ret=1 fexit=2" in out
    assert "CALL_ORIG | SKIP_FRAME" in out
    rc, out, _ = run(capsys, "show", "tcp_retransmit_skb", "--profile", "5.5", "--fentry", "2",
                     "--fexit", "1")
    assert rc == 0 and "profile 5.5" in out and "half 0 of the trampoline page" in out
    rc, out, _ = run(capsys, "show", "vfs_read", "--ip-arg")
    assert rc == 0 and "IP_ARG" in out and "ctx[-2] = IP" in out


@pytest.mark.parametrize("argv,text", [
    (("show", "no_such_func"), "no_such_func: no such function in the kernel BTF"),
    (("show", "bpf_modify_return_test", "--fmod-ret", "1", "--profile", "5.5"), "EINVAL"),
    (("show", "bpf_modify_return_test2", "--profile", "5.5"), "at most 6"),
    (("show", "eth_type_trans", "--fentry", "39"), "E2BIG"),
    (("show", "eth_type_trans", "--arch", "mips"), "unknown architecture"),
    (("show", "eth_type_trans", "--btf", "/nonexistent.btf"), "/nonexistent.btf"),
    (("show", "eth_type_trans", "--fentry", "0"), "no programs"),
    (("list",), "invalid choice"),
    ((), "usage"),
])
def test_errors_one_line_exit_2(capsys, argv, text):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and text in err, err


def test_real_vmlinux_btf(capsys):
    import os
    if not os.path.exists(VMLINUX):
        pytest.skip("no vmlinux BTF fixture")
    rc, out, _ = run(capsys, "show", "tcp_v4_do_rcv", "--btf", VMLINUX, "--arch", "riscv64")
    assert rc == 0 and "tcp_v4_do_rcv (arch riscv64" in out
