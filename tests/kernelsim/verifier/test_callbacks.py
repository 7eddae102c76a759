"""bpf_loop callbacks (kernelsim only: Linux needs the program's BTF func_info for them, which the
corpus does not build; without it both sides say "missing btf func_info")."""

import errno

import pytest

import harness

FI = b"\x01"   # any func_info: the verifier only checks that BTF func info was given

CASES = [
    ("callback returns 0", "r1 = 10\nr2 = func(+6)\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\nr0 = 0\nexit", 0, None),
    ("callback returns 2", "r1 = 10\nr2 = func(+6)\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\nr0 = 2\nexit",
     errno.EINVAL, "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]"),
    ("callback counts in caller stack",
     "*(u64 *)(r10 -8) = 0\nr1 = 100\nr2 = func(+7)\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n"
     "r0 = *(u64 *)(r10 -8)\nexit\nr3 = *(u64 *)(r2 +0)\nr3 += 1\n*(u64 *)(r2 +0) = r3\nr0 = 0\nexit", 0, None),
    ("callback returns a stack pointer",
     "r1 = 10\nr2 = func(+6)\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\nr0 = r10\nexit",
     errno.EINVAL, "cannot return stack pointer to the caller"),
    ("unknown nr_loops", "call bpf_get_prandom_u32\nr1 = r0\nr2 = func(+6)\nr3 = 0\nr4 = 0\ncall bpf_loop\n"
     "r0 = 0\nexit\nr0 = 1\nexit", 0, None),
    ("callback derefs a NULL ctx", "r1 = 10\nr2 = func(+6)\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n"
     "r0 = *(u64 *)(r2 +0)\nexit", errno.EACCES, "R2 invalid mem access 'scalar'"),
]


@pytest.mark.parametrize("name,text,err,msg", CASES, ids=[c[0] for c in CASES])
def test_bpf_loop(name, text, err, msg):
    r = harness.ks_load(2, harness.asm(text), func_info=FI)
    assert r.errno == err, r.text[-800:]
    if msg:
        assert msg in r.text


def test_func_info_required():
    r = harness.ks_load(2, harness.asm(CASES[0][1]))
    assert r.errno == errno.EINVAL and "missing btf func_info" in r.text
