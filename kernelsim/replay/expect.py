"""Checking expectations: what was expected, what happened, as one ``Outcome`` each (invented
module).

The checks take what the runner observed as plain data (a return value and a log, the entries
read from a map, the records of a ring buffer, the trace_pipe lines, the fields of
bpf_prog_info), so they are tested without a kernel. An Outcome says where the expectation was
written (file and line), what was expected and what was seen, in words the report prints as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .loader import Mark
from .steps import (ExpectMap, ExpectProgStats, ExpectReturned, ExpectRingbuf, ExpectTracePipe,
                    InlineExpect, errno_name)
from .values import CType, ValueError_, decode, describe_match, encode, int_matches, matches, show, show_expected


@dataclass(frozen=True, slots=True)
class Outcome:
    """One checked expectation."""

    kind: str                   # ok, errno, ret, log, map, ringbuf, trace_pipe, prog_stats, returned
    where: Mark                 # where it was written (or the step, for an implicit "must succeed")
    ok: bool                    # it held
    what: str                   # what was checked: "load of program 'count'", "map 'counts'"
    expected: str               # in words
    actual: str                 # in words
    details: tuple = ()         # further lines (entry by entry differences)
    count: int = 1              # how many times it was checked with this result (repeats)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "file": self.where.file, "line": self.where.line,
                "col": self.where.col, "ok": self.ok, "what": self.what,
                "expected": self.expected, "actual": self.actual, "details": list(self.details),
                "count": self.count}


def describe_ret(ret: int) -> str:
    """-1 -> "EPERM (-1)", 4 -> "4"."""
    return f"{errno_name(-ret)} ({ret})" if ret < 0 else str(ret)


def check_result(what: str, exp: InlineExpect, ret: int, log: str | None = None,
                 success_text: str | None = None) -> list[Outcome]:
    """A syscall-like step's result against its inline expectation. Nothing expected means it
    must succeed (ret >= 0); only explicit expectations are reported when they hold."""
    out = []
    actual = describe_ret(ret) if ret < 0 else (success_text or f"success ({ret})")
    if exp.errno is not None:
        want = f"-{errno_name(exp.errno)} ({-exp.errno})"
        out.append(Outcome("errno", exp.where, ret == -exp.errno, what, f"fails with {want}",
                           "succeeded: " + actual if ret >= 0 else f"failed with -{actual}"))
    elif exp.ret is not None:
        out.append(Outcome("ret", exp.where, int_matches(exp.ret, ret), what,
                           f"returns {describe_match(exp.ret)}", f"returned {describe_ret(ret)}"))
    elif exp.ok is False:
        out.append(Outcome("ok", exp.where, ret < 0, what, "fails", actual))
    else:
        if ret < 0 or exp.explicit:
            detail = ()
            if ret < 0 and log:
                detail = tuple("log: " + ln for ln in log.splitlines()[-5:])
            out.append(Outcome("ok", exp.where, ret >= 0, what, "succeeds",
                               actual if ret >= 0 else f"failed with -{actual}", detail))
    if exp.log or exp.log_regex:
        lines = (log or "").splitlines()
        for want in exp.log:
            hit = want in lines or any(ln.strip() == want.strip() for ln in lines)
            out.append(Outcome("log", exp.where, hit, what, f"log line {want!r}",
                               "present" if hit else _log_excerpt(lines)))
        for pat in exp.log_regex:
            rx = re.compile(pat)
            hit = any(rx.search(ln) for ln in lines)
            out.append(Outcome("log", exp.where, hit, what, f"a log line matching /{pat}/",
                               "present" if hit else _log_excerpt(lines)))
    return out


def _log_excerpt(lines: list[str]) -> str:
    if not lines:
        return "the log is empty"
    tail = lines[-3:]
    return "not in the log; its last lines: " + " | ".join(tail)


def _percpu_value(expected, vtype: CType, data: bytes, ncpus: int, order: str) -> bool:
    """Per-CPU values: a list (one per CPU) or one value compared with the sum over CPUs."""
    step = (vtype.size + 7) // 8 * 8
    per = [data[i * step:i * step + vtype.size] for i in range(ncpus)]
    if isinstance(expected, list):
        return len(expected) == ncpus and all(matches(vtype, e, p, order) for e, p in zip(expected, per))
    total = sum(decode(vtype, p, order) for p in per) if vtype.kind == "int" else None
    if total is None:
        return False
    return int_matches(expected, total)


def _show_value(vtype: CType, data: bytes, percpu: int, order: str) -> str:
    if percpu:
        step = (vtype.size + 7) // 8 * 8
        return "[" + ", ".join(show(vtype, data[i * step:i * step + vtype.size], order)
                               for i in range(percpu)) + "] (per CPU)"
    return show(vtype, data, order)


def check_map(exp: ExpectMap, ktype: CType, vtype: CType, entries: list, order: str = "little",
              percpu: int = 0, resolve=lambda v: v) -> Outcome:
    """``entries``: (key bytes, value bytes) as read back. ``percpu``: the number of CPUs for a
    per-CPU map (values are round_up(size, 8) bytes per CPU), else 0. ``resolve`` expands $refs
    in expected keys and values."""
    what = f"map '{exp.map}'"
    actual = {k: v for k, v in entries}
    problems = []

    def value_ok(want, got: bytes) -> bool:
        if percpu:
            return _percpu_value(want, vtype, got, percpu, order)
        return matches(vtype, want, got, order)

    def key_bytes(k) -> bytes | None:
        try:
            return encode(ktype, resolve(k), order)
        except ValueError_ as e:
            problems.append(f"key {show_expected(k)}: {e}")
            return None

    wanted = []
    if exp.entries is not None:
        for k, v, _ in exp.entries:
            kb = key_bytes(k)
            if kb is None:
                continue
            wanted.append(kb)
            if kb not in actual:
                problems.append(f"missing key {show(ktype, kb, order)} (expected value {show_expected(v)})")
            elif not value_ok(resolve(v), actual[kb]):
                problems.append(f"key {show(ktype, kb, order)}: expected {show_expected(v)}, "
                                f"got {_show_value(vtype, actual[kb], percpu, order)}")
        for kb, vb in entries:
            if kb not in wanted:
                problems.append(f"unexpected key {show(ktype, kb, order)} = {_show_value(vtype, vb, percpu, order)}")
    for k, v, _ in exp.contains:
        kb = key_bytes(k)
        if kb is None:
            continue
        if kb not in actual:
            problems.append(f"missing key {show(ktype, kb, order)} (expected value {show_expected(v)})")
        elif not value_ok(resolve(v), actual[kb]):
            problems.append(f"key {show(ktype, kb, order)}: expected {show_expected(v)}, "
                            f"got {_show_value(vtype, actual[kb], percpu, order)}")
    for k, _ in exp.absent:
        kb = key_bytes(k)
        if kb is not None and kb in actual:
            problems.append(f"key {show(ktype, kb, order)} present (= {_show_value(vtype, actual[kb], percpu, order)}), expected absent")
    if exp.count is not None and not int_matches(exp.count, len(entries)):
        problems.append(f"{len(entries)} entries, expected {describe_match(exp.count)}")
    parts = []
    if exp.entries is not None:
        parts.append(f"exactly {len(exp.entries)} entr{'y' if len(exp.entries) == 1 else 'ies'}")
    if exp.contains:
        parts.append(f"{len(exp.contains)} given entr{'y' if len(exp.contains) == 1 else 'ies'}")
    if exp.absent:
        parts.append(f"{len(exp.absent)} key(s) absent")
    if exp.count is not None:
        parts.append(f"count {describe_match(exp.count)}")
    shown = ", ".join(f"{show(ktype, k, order)}: {_show_value(vtype, v, percpu, order)}"
                      for k, v in entries[:8])
    more = f" ... ({len(entries)} in all)" if len(entries) > 8 else ""
    return Outcome("map", exp.where, not problems, what, "; ".join(parts) or "readable",
                   f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}" + (f": {shown}{more}" if entries else ""),
                   tuple(problems))


def check_ringbuf(exp: ExpectRingbuf, records: list, order: str = "little", resolve=lambda v: v) -> Outcome:
    what = f"ring buffer '{exp.map}'"
    problems = []
    t = exp.type
    if exp.records is not None:
        if len(records) != len(exp.records):
            problems.append(f"{len(records)} records, expected {len(exp.records)}")
        for i, ((want, _), got) in enumerate(zip(exp.records, records)):
            want = resolve(want)
            ok = matches(t, want, got[:t.size], order) if t is not None else (
                encode(CType("bytes", len(got), 1, "bytes"), want, order) == got
                if not isinstance(want, dict) or "hex" in want else False)
            if not ok:
                got_s = show(t, got[:t.size], order) if t is not None else got.hex(" ")
                problems.append(f"record {i}: expected {show_expected(want)}, got {got_s}")
    if exp.count is not None and not int_matches(exp.count, len(records)):
        problems.append(f"{len(records)} records, expected {describe_match(exp.count)}")
    shown = ", ".join((show(t, r[:t.size], order) if t is not None else r.hex(" ")) for r in records[:5])
    more = " ..." if len(records) > 5 else ""
    expected = (f"{len(exp.records)} records" if exp.records is not None else "") + (
        f"{', ' if exp.records is not None else ''}count {describe_match(exp.count)}" if exp.count is not None else "")
    return Outcome("ringbuf", exp.where, not problems, what, expected or "readable",
                   f"{len(records)} record(s)" + (f": {shown}{more}" if records else ""), tuple(problems))


def check_trace_pipe(exp: ExpectTracePipe, entries: list) -> Outcome:
    """``entries``: (message text, whole line) in trace order. Exact lines equal the message or
    the whole line; regexes are searched in the whole line. The lines must be exactly these, in
    this order."""
    problems = []
    for i, want in enumerate(exp.lines):
        if i >= len(entries):
            problems.append(f"line {i + 1}: expected {want!r}, trace_pipe has no more lines")
            continue
        text, line = entries[i]
        ok = (re.search(want, line) is not None) if exp.regex else (want == text or want.strip() == line.strip())
        if not ok:
            problems.append(f"line {i + 1}: expected {'/' + want + '/' if exp.regex else repr(want)}, got {line.strip()!r}")
    for text, line in entries[len(exp.lines):]:
        problems.append(f"unexpected line {line.strip()!r}")
    expected = f"{len(exp.lines)} line(s)" + (" matching" if exp.regex else "")
    first = entries[0][1].strip() if entries else ""
    actual = f"{len(entries)} line(s)" + (f", first {first!r}" if first else "")
    return Outcome("trace_pipe", exp.where, not problems, "trace_pipe", expected, actual, tuple(problems[:20]))


def check_prog_stats(exp: ExpectProgStats, info: dict) -> Outcome:
    problems, seen = [], []
    for field, want in exp.checks:
        got = info.get(field)
        seen.append(f"{field} {got}")
        if got is None or not int_matches(want, got):
            problems.append(f"{field}: expected {describe_match(want)}, got {got}")
    expected = ", ".join(f"{f} {describe_match(w)}" for f, w in exp.checks)
    return Outcome("prog_stats", exp.where, not problems, f"program '{exp.prog}'", expected,
                   ", ".join(seen), tuple(problems))


NOT_CALLED = object()


def check_returned(exp: ExpectReturned, value) -> Outcome:
    what = f"{exp.func}()"
    if value is NOT_CALLED:
        return Outcome("returned", exp.where, False, what, f"returned {describe_match(exp.value)}",
                       "it was never called")
    ok = value is not None and int_matches(exp.value, int(value))
    return Outcome("returned", exp.where, ok, what, f"returned {describe_match(exp.value)}",
                   f"returned {value}")


def check_kobject(name: str, fields, got: list, where: Mark) -> Outcome:
    problems = []
    for (path, want), value in zip(fields, got):
        if isinstance(value, bytes):
            value = value.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
        ok = int_matches(want, value) if isinstance(value, int) and not isinstance(want, str) else value == want
        if not ok:
            problems.append(f"{path}: expected {show_expected(want)}, got {value!r}")
    expected = ", ".join(f"{p} {show_expected(w)}" for p, w in fields)
    actual = ", ".join(f"{p} {v!r}" for (p, _), v in zip(fields, got))
    return Outcome("kobject", where, not problems, f"${name}", expected, actual, tuple(problems))
