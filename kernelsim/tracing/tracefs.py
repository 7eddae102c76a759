"""The simulated tracefs and the perf PMU sysfs files (kernel/trace/trace_events.c f_show /
event_id_read / show_available_events, kernel/trace/trace.c trace_pipe, kernel/events/core.c
the event_source devices' ``type`` and kernel/trace/trace_event_perf.c's ``format`` attributes).

    kernel.tracefs.read("events/sched/sched_switch/format")
    kernel.tracefs.read("/sys/kernel/tracing/available_events")
    kernel.tracefs.read("/sys/bus/event_source/devices/kprobe/type")        # "6\\n"
    kernelsim tracefs cat events/sched/sched_switch/format

Paths are relative to the tracefs mount or absolute under /sys/kernel/tracing,
/sys/kernel/debug/tracing or /sys/bus/event_source/devices. Files:

* ``available_events``: ``system:name`` per event, catalog order;
* ``events/<system>/<name>/format``: the format file, byte for byte as Linux prints it (name, ID,
  the common fields, a blank line, the event's fields, a blank line, the print fmt);
  ``.../id``; ``.../enable`` (always "0": ftrace's own event tracing is not simulated, only perf
  and BPF consumers);
* ``trace_pipe`` (consuming) and ``trace`` (not consuming): the trace buffer of trace_pipe.py,
  where bpf_trace_printk writes;
* ``/sys/bus/event_source/devices/{software,tracepoint,kprobe}/type`` (1, 2 and 6 =
  uapi.PERF_PMU_TYPE_KPROBE), ``kprobe/format/retprobe`` ("config:0").

``read`` raises FileNotFoundError for anything else; ``listdir`` lists a directory.
"""

from ..uapi import PERF_PMU_TYPE_KPROBE, PerfTypeId
from .tp_formats import COMMON_FIELDS
from .tracepoints import tracepoints_of

_PREFIXES = ("/sys/kernel/tracing/", "/sys/kernel/debug/tracing/")
PMU_SYSFS = "/sys/bus/event_source/devices/"
# /sys/bus/event_source/devices/<pmu>/... (data: what each PMU directory holds)
PMU_FILES = {
    "software/type": f"{int(PerfTypeId.PERF_TYPE_SOFTWARE)}\n",
    "tracepoint/type": f"{int(PerfTypeId.PERF_TYPE_TRACEPOINT)}\n",
    "kprobe/type": f"{PERF_PMU_TYPE_KPROBE}\n",
    "kprobe/format/retprobe": "config:0\n",
}


def _field_line(f) -> str:
    return f"\tfield:{f.decl};\toffset:{f.offset};\tsize:{f.size};\tsigned:{f.signed};\n"


def format_file(fmt) -> str:
    """events/<system>/<name>/format (f_show)."""
    out = [f"name: {fmt.name}\n", f"ID: {fmt.id}\n", "format:\n"]
    out += [_field_line(f) for f in COMMON_FIELDS]
    out.append("\n")
    out += [_field_line(f) for f in fmt.fields]
    out.append("\n")
    out.append(f"print fmt: {fmt.print_fmt}\n")
    return "".join(out)


class Tracefs:
    """``kernel.tracefs`` (invented name): the files above."""

    def __init__(self, kernel):
        self.kernel = kernel

    def _rel(self, path: str) -> str:
        for p in _PREFIXES:
            if path.startswith(p):
                return path[len(p):]
        return path.lstrip("/") if not path.startswith(PMU_SYSFS) else path

    def read(self, path: str) -> str:
        rel = self._rel(path)
        if rel.startswith(PMU_SYSFS):
            key = rel[len(PMU_SYSFS):]
            if key in PMU_FILES:
                return PMU_FILES[key]
            raise FileNotFoundError(path)
        cat = tracepoints_of(self.kernel)
        if rel == "available_events":
            return "".join(f"{ev.system}:{ev.name}\n" for ev in cat.events.values())
        if rel in ("trace_pipe", "trace"):
            from ..trace_pipe import trace_buffer
            buf = trace_buffer(self.kernel)
            data = buf.read_pipe() if rel == "trace_pipe" else buf.read_trace()
            return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == "events":
            ev = cat.events.get(f"{parts[1]}/{parts[2]}")
            if ev is not None:
                if parts[3] == "format":
                    return format_file(ev.fmt)
                if parts[3] == "id":
                    return f"{ev.id}\n"
                if parts[3] == "enable":
                    return "0\n"
        raise FileNotFoundError(path)

    def listdir(self, path: str = "") -> list[str]:
        rel = self._rel(path).rstrip("/")
        cat = tracepoints_of(self.kernel)
        if rel == "":
            return ["available_events", "events", "trace", "trace_pipe"]
        if rel == "events":
            return sorted({ev.system for ev in cat.events.values()})
        parts = rel.split("/")
        if parts[0] == "events" and len(parts) == 2:
            names = [ev.name for ev in cat.events.values() if ev.system == parts[1]]
            if names:
                return sorted(names)
        if parts[0] == "events" and len(parts) == 3 and f"{parts[1]}/{parts[2]}" in cat.events:
            return ["enable", "format", "id"]
        raise FileNotFoundError(path)


def tracefs_of(kernel) -> Tracefs:
    fs = kernel.subsys.get("tracefs")
    if fs is None:
        fs = kernel.subsys["tracefs"] = Tracefs(kernel)
    return fs
