"""kernelsim/pytest_plugin.py: the fixtures a BPF developer uses (run in a pytester sandbox with
the plugin loaded by its entry point, as after ``pip install -e .``)."""

import importlib.metadata
import shutil
import sys
from pathlib import Path

pytest_plugins = ["pytester"]
PROGS = Path(__file__).parent / "progs"

TEN_LINE_TEST = '''
def test_counts_reads(kernel, root_task, load_bpf):
    obj = load_bpf("count_reads.bpf.c")
    obj.progs["count_read"].attach()
    for _ in range(3):
        kernel.call("vfs_read", None, None, 16, None, ret=16)
    assert obj.maps["counts"][root_task.pid] == 3
'''


def test_entry_point_is_registered():
    eps = importlib.metadata.entry_points(group="pytest11")
    assert any(e.name == "kernelsim" and e.value == "kernelsim.pytest_plugin" for e in eps)


def test_import_is_cheap():
    """The project's own suite loads the plugin: importing it must not pull in the kernel."""
    import subprocess
    code = ("import sys, kernelsim.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.startswith(('syscall', 'btf', 'kernelsim.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['kernelsim.pytest_plugin']"


FIXTURES_TEST = '''
import pytest

def test_kernel_and_task(kernel, root_task):
    assert root_task.cred.uid == 0 and kernel.current() is root_task
    assert kernel.arch == "x86_64"

@pytest.mark.kernel(arch="arm64", ncpus=3)
def test_marker(kernel):
    assert (kernel.arch, kernel.ncpus) == ("arm64", 3)

def test_factory(make_kernel):
    k = make_kernel(profile="5.5")
    assert k.profile == "5.5"

def test_trace_pipe(trace_pipe):
    assert trace_pipe.read() == b""

def test_needs_clang(load_bpf):
    load_bpf("x.bpf.c", clang="no-such-clang-binary")
'''

LOAD_TEST = '''
import os, pytest

SEEN = []

def test_load(load_bpf, root_task):
    obj = load_bpf("minimal.bpf.c")
    assert obj.loaded and obj.progs["accept_all"].fd >= 0
    SEEN.append((obj, root_task))

def test_closed_and_cached(load_bpf, bpf_cache_dir):
    obj, task = SEEN[0]
    assert obj.progs["accept_all"].fd == -1          # closed at teardown
    objs = [f for f in os.listdir(bpf_cache_dir) if f.endswith(".o")]
    load_bpf.compile("minimal.bpf.c")
    assert [f for f in os.listdir(bpf_cache_dir) if f.endswith(".o")] == objs

def test_open_then_load(load_bpf):
    obj = load_bpf.open("minimal.bpf.c")
    assert obj.state == "opened"
    obj.load()

@pytest.mark.bpf_object("minimal.bpf.c")
def test_marker(bpf_object):
    assert list(bpf_object.progs) == ["accept_all"]
'''


def test_fixtures_in_a_user_project(pytester):
    """One sandboxed pytest run: the fixtures, the markers, load_bpf (compiled once and cached,
    closed at teardown), a missing clang (skip), and the docs/objects.md ten-line test."""
    have_clang = shutil.which("clang") is not None
    for name in ("minimal.bpf.c", "count_reads.bpf.c"):
        shutil.copy(PROGS / name, pytester.path / name)
    (pytester.path / "x.bpf.c").write_text("int x;\n")
    pytester.makepyfile(test_fx=FIXTURES_TEST, test_lb=LOAD_TEST, test_ten=TEN_LINE_TEST)
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-rs")
    if have_clang:
        res.assert_outcomes(passed=9, skipped=1)
    else:
        res.assert_outcomes(passed=4, skipped=6)
    assert "clang is not installed" in res.stdout.str()
