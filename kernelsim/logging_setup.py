"""The simulator's own log: structlog configured in one place (STYLE.md, "Two kinds of log";
invented module — the kernel's counterpart would be printk's loglevel).

Every part of kernelsim logs structured events with ``structlog.get_logger("kernelsim...")``:
one ``bpf`` event per syscall (syscall/), ``prog_attach`` (tracing), ``prog_load``, ``attach``, ``detach``,
``kernel_call``, ``tracepoint_hit`` ... (the replay). Nothing is configured at import time: a
library user who configured structlog, or a test with ``structlog.testing.capture_logs``, keeps
theirs. The
``kernelsim`` commands call ``configure_logging`` once, and the first ``Kernel`` built while
structlog is still unconfigured configures the quiet default below:

* level WARNING by default (a replay that succeeds prints nothing on stderr), INFO with ``-v``,
  DEBUG with ``-vv``;
* ``console`` rendering for people (colours only on a terminal), or ``json``: one JSON object
  per line, keys sorted;
* to stderr, so stdout keeps the report. No timestamps: the output is deterministic (the
  virtual clock is in the events that need it).

``logging_configured(...)`` is the same as a context manager that puts the previous
configuration back (the CLI uses it, so running a command inside a test leaves no trace).
"""

from __future__ import annotations

import contextlib
import logging
import sys

import structlog

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("console", "json")
_METHOD_LEVELS = {**LEVELS, "warn": logging.WARNING, "exception": logging.ERROR,
                  "critical": logging.CRITICAL, "fatal": logging.CRITICAL}


def level_from_verbosity(verbose: int) -> int:
    """0 -> WARNING, 1 (-v) -> INFO, 2 or more (-vv) -> DEBUG."""
    return logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG


def _level_filter(level: int):
    """A processor that drops events below ``level``: the implicit default filters here rather
    than in the bound logger, so that ``structlog.testing.capture_logs`` (which replaces the
    processors and keeps the wrapper class) still sees every event."""
    def drop_below(logger, method_name, event_dict):
        if _METHOD_LEVELS.get(method_name, logging.INFO) < level:
            raise structlog.DropEvent
        return event_dict
    return drop_below


def configure_logging(level: int = logging.WARNING, fmt: str = "console", stream=None,
                      *, implicit: bool = False) -> None:
    """Configure structlog for the kernelsim commands (see the module docstring).

    ``implicit=True`` is the quiet default a ``Kernel`` installs when nobody configured structlog:
    the level is a processor, so a test's ``capture_logs`` is not filtered by it."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    stream = stream if stream is not None else sys.stderr
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        colors = bool(getattr(stream, "isatty", lambda: False)())
        renderer = structlog.dev.ConsoleRenderer(colors=colors,
                                                 exception_formatter=structlog.dev.plain_traceback)
    processors = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                  renderer]
    if implicit:
        processors.insert(0, _level_filter(level))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if implicit else level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


@contextlib.contextmanager
def logging_configured(level: int = logging.WARNING, fmt: str = "console", stream=None):
    """configure_logging for the duration of a ``with`` block."""
    old = structlog.get_config()
    configure_logging(level, fmt, stream)
    try:
        yield
    finally:
        structlog.configure(**old)
