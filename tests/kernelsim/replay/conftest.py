"""Helpers for the replay tests: write a scenario, run the command in-process."""

import io
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "scenarios"


@pytest.fixture
def scenario_file(tmp_path):
    """scenario_file(text, name="s.yaml") -> path of a file holding the dedented text."""
    def make(text: str, name: str = "s.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        return p
    return make


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """kernelsim <argv> in this process: (status, stdout, stderr)."""
    from kernelsim.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def cli():
    return run_cli
