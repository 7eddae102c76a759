"""examples/count_calls: the README's worked example, end to end (build with clang, load, attach
fentry, drive vfs_read from two tasks, check the counts)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).parents[2] / "examples" / "count_calls" / "run.py"


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")
def test_count_calls_example(tmp_path):
    res = subprocess.run([sys.executable, str(RUN), "--build", str(tmp_path)], capture_output=True,
                         text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "OK" in res.stdout
    assert "calls per pid:" in res.stdout and "total: 5" in res.stdout
    assert "vfs_read by pid" in res.stdout                       # bpf_printk via trace_pipe
