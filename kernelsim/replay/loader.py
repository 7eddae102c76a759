"""Reading a scenario file: YAML -> plain values with the file, line and column of every node
(invented module; the user-space side of a replay, ARCHITECTURE.md flow 4).

``yaml.safe_load`` forgets where a value came from; a failed expectation must name its line. So
the text is *composed* (``yaml.SafeLoader.get_single_node``: the node tree, each node with its
start mark), scalars are constructed one by one by the same loader (so ``0x10`` is 16, ``yes`` is
True, as YAML 1.1 says), and every value is recorded under its *path* — the tuple of keys and
indexes from the root, ``("events", 3, "call", "args", 0)`` — in ``Document.marks``. The schema
validator reports paths, the step builder stamps each step with ``Mark``s looked up by path.

Duplicate keys are an error (plain YAML silently keeps the last one); merge keys (``<<: *base``)
are expanded as PyYAML does. Errors of any kind are ``ScenarioError``: one line,
``FILE:LINE:COL: FIELD: message``; the command exits 2 on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a node starts in its file (1-based line and column, as editors count)."""

    file: str       # the path as given on the command line (or "<string>")
    line: int       # 1-based line
    col: int        # 1-based column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def field_name(path: tuple) -> str:
    """``("events", 3, "call", "args")`` -> ``events[3].call.args`` (the report's spelling)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


class ScenarioError(Exception):
    """A scenario that cannot be replayed: bad YAML, a schema violation, an unknown name.
    ``mark`` says where, ``field`` which field (dotted path), ``message`` what is wrong."""

    def __init__(self, message: str, mark: Mark | None = None, field: str | None = None):
        super().__init__(message)
        self.message, self.mark, self.field = message, mark, field

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        fld = f"{self.field}: " if self.field else ""
        return f"{where}{fld}{self.message}"


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded scenario: the plain value tree, the marks by path, and where it came from."""

    value: object                 # dicts (insertion-ordered), lists, str, int, float, bool, None
    marks: dict                   # path tuple -> Mark of the node at that path
    file: str                     # the file as named by the caller
    base: Path                    # the directory relative paths in the scenario start from
    text: str                     # the source (hashed into the report)

    def mark(self, path: tuple) -> Mark:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, Mark(self.file, 1, 1))

    def key_mark(self, path: tuple) -> Mark:
        """The mark of the key naming ``path`` (``programs: {count: ...}`` -> the line of
        ``count:``), or of the node itself."""
        return self.marks.get(("<key>",) + tuple(path)) or self.mark(path)

    def error(self, path: tuple, message: str) -> ScenarioError:
        return ScenarioError(message, self.mark(path), field_name(path))


def _mark_of(file: str, node) -> Mark:
    m = node.start_mark
    return Mark(file, m.line + 1, m.column + 1)


def _build(loader: yaml.SafeLoader, node, path: tuple, marks: dict, file: str, active: set):
    marks[path] = _mark_of(file, node)
    if isinstance(node, yaml.MappingNode):
        if id(node) in active:
            raise ScenarioError("recursive alias", marks[path], field_name(path))
        active = active | {id(node)}
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)            # "<<" merge keys: merged pairs first, then ours
        merged = len(node.value) - explicit
        out: dict = {}
        for i, (knode, vnode) in enumerate(node.value):
            if not isinstance(knode, yaml.ScalarNode):
                raise ScenarioError("mapping keys must be scalars", _mark_of(file, knode),
                                    field_name(path))
            key = knode.value          # the key as written: "on", "0x10" and "1" stay strings
            if key in out and i >= merged:
                if any(k.value == key for k, _ in node.value[merged:i]):
                    raise ScenarioError(f"duplicate key {key!r}", _mark_of(file, knode),
                                        field_name(path))
                del out[key]                    # ours overrides the merged value
            out[key] = _build(loader, vnode, path + (key,), marks, file, active)
            marks[("<key>",) + path + (key,)] = _mark_of(file, knode)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, n, path + (i,), marks, file, active) for i, n in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, (bytes, bytearray)):           # !!binary
        return bytes(value)
    if not isinstance(value, (str, int, float, bool, type(None))):
        value = str(value)                              # timestamps and other exotic scalars
    return value


def load_text(text: str, file: str = "<string>", base: Path | None = None) -> Document:
    """Parse scenario text. ScenarioError on a YAML syntax error or an empty document."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            m = e.problem_mark or e.context_mark
            mark = Mark(file, m.line + 1, m.column + 1) if m else Mark(file, 1, 1)
            raise ScenarioError(f"invalid YAML: {e.problem or e.context}", mark) from None
        except yaml.YAMLError as e:
            raise ScenarioError(f"invalid YAML: {e}", Mark(file, 1, 1)) from None
        if node is None:
            raise ScenarioError("empty scenario", Mark(file, 1, 1))
        marks: dict = {}
        try:
            value = _build(loader, node, (), marks, file, set())
        except yaml.MarkedYAMLError as e:
            m = e.problem_mark
            raise ScenarioError(f"invalid YAML: {e.problem}",
                                Mark(file, m.line + 1, m.column + 1) if m else None) from None
    finally:
        loader.dispose()
    return Document(value, marks, file, base or Path("."), text)


def load_file(path) -> Document:
    """Read and parse a scenario file; relative paths inside it are relative to its directory."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"cannot read: {e.strerror}", Mark(str(path), 1, 1)) from None
    except UnicodeDecodeError as e:
        raise ScenarioError(f"not UTF-8 text: {e.reason}", Mark(str(path), 1, 1)) from None
    return load_text(text, str(path), p.parent)
