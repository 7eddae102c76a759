"""Imports only go down: kernelsim facade -> syscall -> kernelsim core -> trampoline -> btf.

ARCHITECTURE.md fixes the layers. This test reads every module's imports (absolute and relative)
with ``ast`` and fails on any import of a higher layer.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Modules of the kernelsim package that are the facade (layer 5); the rest of kernelsim is core.
FACADE = ("kernelsim/__init__.py", "kernelsim/facade.py", "kernelsim/cli.py",
          "kernelsim/pytest_plugin.py", "kernelsim/replay/", "kernelsim/tools/")

RANK = {"btf": 1, "trampoline": 2, "kernelsim-core": 3, "syscall": 4, "kernelsim-facade": 5}


def layer_of_path(rel: str) -> str | None:
    top = rel.split("/", 1)[0]
    if top == "kernelsim":
        return "kernelsim-facade" if any(rel == f or (f.endswith("/") and rel.startswith(f))
                                         for f in FACADE) else "kernelsim-core"
    return top if top in RANK else None


def layer_of_module(dotted: str) -> str | None:
    rel = dotted.replace(".", "/")
    for candidate in (rel + ".py", rel + "/__init__.py"):
        if (ROOT / candidate).exists():
            return layer_of_path(candidate)
    return None


def imports_of(path: pathlib.Path) -> list[tuple[int, str]]:
    rel_parts = path.relative_to(ROOT).with_suffix("").parts
    package = rel_parts[:-1] if path.name != "__init__.py" else rel_parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # "from pkg import sub" imports the submodule when there is one, else a name of pkg
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((node.lineno, sub if layer_of_module(sub) else mod))
    return out


def source_files():
    for top in ("btf", "trampoline", "kernelsim", "syscall"):
        yield from sorted((ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", list(source_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_imports(path):
    own = layer_of_path(str(path.relative_to(ROOT)))
    bad = []
    for lineno, mod in imports_of(path):
        target = layer_of_module(mod)
        if target and RANK[target] > RANK[own]:
            bad.append(f"line {lineno}: {mod} ({target}) from {own}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_layering_detects_an_upward_import(tmp_path):
    """The checker itself must see a violation (so the test above cannot pass vacuously)."""
    fake = ROOT / "btf" / "_layering_probe.py"
    fake.write_text("from kernelsim import memory\n")
    try:
        own = layer_of_path("btf/_layering_probe.py")
        targets = [layer_of_module(m) for _, m in imports_of(fake)]
        assert "kernelsim-core" in targets and own == "btf"
    finally:
        fake.unlink()
