"""Checking a scenario against kernelsim/replay/scenario.schema.json (invented module).

The schema is a JSON Schema (draft 2020-12) shipped as package data, so editors and other tools
can use it. The replay does not need the ``jsonschema`` package: ``validate`` below implements the
keywords the schema uses (type, enum, properties, required, additionalProperties, propertyNames,
items, minimum/maximum, minLength/maxLength, pattern, min/maxProperties, anyOf, oneOf, $ref) and
stops at the first violation, reported as a ``ScenarioError`` with the file, line and field.
The tests check that ``jsonschema`` agrees with it on every scenario.

Messages are written for the person who wrote the YAML: an unknown key names the keys allowed
there; a step with the wrong kind lists the kinds; ``anyOf`` reports the alternative whose type
matches the value (``advance: 10 parsecs`` -> "does not match ^[0-9]+...").
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from .loader import Document

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The scenario schema (package data)."""
    text = resources.files(__package__).joinpath("scenario.schema.json").read_text("utf-8")
    return json.loads(text)


def _type_name(v) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return type(v).__name__


class _Violation(Exception):
    def __init__(self, path: tuple, message: str, depth: int = 0):
        super().__init__(message)
        self.path, self.message = path, message


class _Validator:
    def __init__(self, root: dict):
        self.root = root

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref}")
            node = self.root
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def check(self, v, schema: dict, path: tuple) -> None:
        schema = self.resolve(schema)
        t = schema.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not any(_TYPES[x](v) for x in types):
                raise _Violation(path, f"expected {' or '.join(types)}, got {_type_name(v)} {_short(v)}")
        if "enum" in schema and v not in schema["enum"]:
            raise _Violation(path, f"{_short(v)} is not one of: {', '.join(map(str, schema['enum']))}")
        if "const" in schema and v != schema["const"]:
            raise _Violation(path, f"must be {schema['const']!r}")
        if isinstance(v, str):
            if "minLength" in schema and len(v) < schema["minLength"]:
                raise _Violation(path, f"{v!r} is shorter than {schema['minLength']} characters")
            if "maxLength" in schema and len(v) > schema["maxLength"]:
                raise _Violation(path, f"{v!r} is longer than {schema['maxLength']} characters")
            if "pattern" in schema and not re.search(schema["pattern"], v):
                raise _Violation(path, f"{v!r} does not match {schema['pattern']}")
        if _TYPES["number"](v):
            if "minimum" in schema and v < schema["minimum"]:
                raise _Violation(path, f"{v} is less than the minimum {schema['minimum']}")
            if "maximum" in schema and v > schema["maximum"]:
                raise _Violation(path, f"{v} is more than the maximum {schema['maximum']}")
        if isinstance(v, dict):
            self.check_object(v, schema, path)
        if isinstance(v, list):
            if "minItems" in schema and len(v) < schema["minItems"]:
                raise _Violation(path, f"needs at least {schema['minItems']} items")
            if "items" in schema:
                for i, item in enumerate(v):
                    self.check(item, schema["items"], path + (i,))
        if "anyOf" in schema:
            self.check_any(v, schema["anyOf"], path)
        if "oneOf" in schema:
            self.check_one(v, schema["oneOf"], path)

    def check_object(self, v: dict, schema: dict, path: tuple) -> None:
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties", True)
        if addl is False:
            for key in v:
                if key not in props:
                    allowed = ", ".join(props)
                    what = "step kind" if schema.get("maxProperties") == 1 else "field"
                    raise _Violation(path + (key,), f"unknown {what} {key!r}; expected one of: {allowed}")
        if "maxProperties" in schema and len(v) > schema["maxProperties"]:
            if schema["maxProperties"] == 1:
                raise _Violation(path, "a step is a mapping with exactly one key, its kind; found: "
                                 + ", ".join(map(str, v)) + " (indent the step's fields under its kind)")
            raise _Violation(path, f"at most {schema['maxProperties']} fields")
        if "minProperties" in schema and len(v) < schema["minProperties"]:
            raise _Violation(path, f"needs at least {schema['minProperties']} field(s)")
        for key in schema.get("required", ()):
            if key not in v:
                raise _Violation(path, f"missing required field {key!r}")
        pn = schema.get("propertyNames")
        for key, item in v.items():
            if pn is not None:
                try:
                    self.check(key, pn, path + (key,))
                except _Violation as e:
                    raise _Violation(e.path, f"bad name: {e.message}") from None
            if key in props:
                self.check(item, props[key], path + (key,))
            elif isinstance(addl, dict):
                self.check(item, addl, path + (key,))

    def check_any(self, v, branches: list, path: tuple) -> None:
        errors = []
        for b in branches:
            try:
                self.check(v, b, path)
                return
            except _Violation as e:
                errors.append((b, e))
        # The most useful complaint: from a branch whose type fits the value.
        for b, e in errors:
            rb = self.resolve(b)
            t = rb.get("type")
            if t is None or any(_TYPES[x](v) for x in (t if isinstance(t, list) else [t])):
                raise e
        kinds = []
        for b, _ in errors:
            t = self.resolve(b).get("type", "value")
            kinds.extend(t if isinstance(t, list) else [t])
        raise _Violation(path, f"expected {' or '.join(dict.fromkeys(kinds))}, got {_type_name(v)} {_short(v)}")

    def check_one(self, v, branches: list, path: tuple) -> None:
        keys = [self.resolve(b).get("required", [None])[0] for b in branches]
        if all(len(self.resolve(b)) == 1 and "required" in self.resolve(b) for b in branches) \
                and isinstance(v, dict):
            present = [k for k in keys if k in v]
            if len(present) != 1:
                found = f"found {', '.join(present)}" if present else "found none"
                raise _Violation(path, f"needs exactly one of the fields {', '.join(keys)} ({found})")
            return
        ok = 0
        last = None
        for b in branches:
            try:
                self.check(v, b, path)
                ok += 1
            except _Violation as e:
                last = e
        if ok == 0 and last is not None:
            raise last
        if ok > 1:
            raise _Violation(path, "matches more than one alternative")


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_value(value, schema: dict | None = None) -> tuple[tuple, str] | None:
    """The first violation of ``value`` as (path, message), or None."""
    schema = schema or load_schema()
    try:
        _Validator(schema).check(value, schema, ())
    except _Violation as e:
        return e.path, e.message
    return None


def validate(doc: Document) -> None:
    """Raise ScenarioError (file, line, field) on the first schema violation of ``doc``."""
    found = validate_value(doc.value)
    if found is not None:
        path, message = found
        raise doc.error(path, message)
