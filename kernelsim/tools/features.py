"""Which parts of the simulator this build has (invented module).

kernelsim is built piece by piece; the replay and the bpftool-like commands are written against
the documented contracts of pieces that may not have landed yet. When a step needs one that is
missing, the caller raises ``FeatureMissing`` naming it, instead of a traceback: the replay
reports "needs <feature>" and the tests mark such scenarios xfail with that reason.
"""

from __future__ import annotations

import importlib


class FeatureMissing(Exception):
    """A piece of the simulator this operation needs is not in this build."""

    def __init__(self, feature: str, detail: str = ""):
        super().__init__(f"{feature} is not available in this build" + (f" ({detail})" if detail else ""))
        self.feature, self.detail = feature, detail


# feature -> (module, attribute) whose presence means the piece landed
PROBES = {
    "bpf() syscall (syscall/dispatch.py sys_bpf)": ("syscall.dispatch", "sys_bpf"),
    "ELF object loader (syscall/object bpf_object_open_and_load)": ("syscall.object", "bpf_object_open_and_load"),
    "perf_event_open (syscall/perf.py sys_perf_event_open)": ("syscall.perf", "sys_perf_event_open"),
}


def has(module: str, attr: str | None = None) -> bool:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return attr is None or hasattr(mod, attr)


def missing_from_import_error(e: ImportError) -> FeatureMissing | None:
    """An ImportError raised inside a facade entry point (a module of syscall/ that is not there
    yet), mapped to the feature it means; None for an unrelated ImportError."""
    name = getattr(e, "name", None) or ""
    text = str(e)
    if not name.startswith("syscall") and "syscall" not in text:
        return None
    if name.startswith("syscall.object") or "bpf_object_open_and_load" in text:
        feature = "ELF object loader (syscall/object bpf_object_open_and_load)"
    elif name.startswith("syscall.perf") or "sys_perf_event_open" in text or "sys_ioctl" in text:
        feature = "perf_event_open (syscall/perf.py sys_perf_event_open)"
    else:
        feature = "bpf() syscall (syscall/dispatch.py sys_bpf)"
    return FeatureMissing(feature, text)


def available() -> dict[str, bool]:
    """feature -> present, for reports and tests."""
    return {f: has(m, a) for f, (m, a) in PROBES.items()}
