"""Replaying a scenario against a simulated kernel (ARCHITECTURE.md flow 4; invented module).

``Replay(scenario, seed=None, scale=1.0).run()`` builds the machine (``Kernel``), spawns the
tasks, creates the maps, loads the objects and programs, makes the setup attachments and then
runs the event stream in order, checking expectations where they are written. Everything a user
program would do goes through the syscalls of a task — bpf() with a ``union bpf_attr`` from
syscall/abi.py (kernelsim/tools/userbpf.py), perf_event_open and ioctl, close — and kernel
activity goes through ``kernel.call`` (a simulated kernel function, with whatever is attached
to it) and ``kernel.tracepoint``.

Rules of the stream:

* A task issuing a syscall is the running task on the current CPU, as in Linux (made current
  without a sched_switch event); ``switch`` steps and ``call``/``tracepoint`` steps with
  ``task:`` switch through ``kernel.switch_to`` (sched_switch fires), ``cpu:`` runs there.
* A step without an ``expect`` must succeed; when it fails the replay stops there (what it would
  have created does not exist), reported with its file and line. Failed expectations do not stop
  the replay.
* Deterministic: the kernel's clock is virtual, its random source seeded; the random detach
  order comes from ``random.Random(seed)``. Wall-clock time is measured only for the optional
  timing line.

Every scenario-level action is a structlog event (``task_spawn``, ``map_create``, ``prog_load``,
``attach``, ``detach``, ``kernel_call``, ``tracepoint_hit``, ``task_fork``,
``task_exit``, ``cpu_switch``, ``clock_advance``, ``sysctl_write``, ``expect_failed``); the
syscall layer logs its own ``bpf`` event per syscall.
"""

from __future__ import annotations

import fnmatch
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog

from kernelsim import uapi
from kernelsim.errors import BpfError, BpfRuntimeError
from kernelsim.tools import userbpf
from kernelsim.tools.features import FeatureMissing, missing_from_import_error
from kernelsim.tools.userbpf import Buf

from . import expect as ex
from .loader import Mark
from .steps import (Advance, Attach, BpfCall, Call, Close, Detach, Exit, ExpectMap, ExpectProgStats,
                    ExpectKObject, ExpectReturned, ExpectRingbuf, ExpectTracePipe, Fork, InlineExpect,
                    KObjectStep, Load, MapDelete, MapSpec, MapUpdate, ProgSpec, Repeat, Scenario,
                    Spawn, Syscall, SysctlWrite, Switch, TaskSpec, TracepointHit, constant, errno_name)
from .values import CType, ValueError_, bytes_type, encode

T = uapi.BpfProgType
A = uapi.BpfAttachType
M = uapi.BpfMapType
PERCPU_MAPS = {M.BPF_MAP_TYPE_PERCPU_HASH, M.BPF_MAP_TYPE_PERCPU_ARRAY, M.BPF_MAP_TYPE_LRU_PERCPU_HASH}
# programs whose attach target is a kernel FUNC (attach_btf_id) and how they attach
BTF_FUNC_ATTACH = {A.BPF_TRACE_FENTRY, A.BPF_TRACE_FEXIT, A.BPF_MODIFY_RETURN, A.BPF_LSM_MAC}
_TEMPLATE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAP_REF = re.compile(r"\b(map_fd|map_value)\(\s*([A-Za-z_][A-Za-z0-9_.\-]*(?:\$\{[a-z_]+\}[A-Za-z0-9_.\-]*)*)")
PROGRESS_EVERY = 4096
MAX_FAILURES_PER_PLACE = 5


class StepFailed(Exception):
    """A step that had to succeed did not; the replay stops (the Outcome is already recorded)."""

    def __init__(self, message: str, where: Mark | None = None):
        super().__init__(message)
        self.message, self.where = message, where


@dataclass
class Handle:
    """Something the scenario named: an fd of a task (map, prog, link, perf event, object)."""

    kind: str                   # map prog link perf object fd
    name: str
    task: object                # the Task whose fd table holds it
    fd: int
    spec: object = None         # MapSpec / ProgSpec / None
    key: CType | None = None    # maps
    value: CType | None = None  # maps
    map_type: int = 0           # maps
    prog_type: int | None = None      # progs
    attach_type: int | None = None    # progs
    attach_to: str | None = None      # progs
    obj: object = None          # objects: the loader's handle
    extra: dict = field(default_factory=dict)


@dataclass
class ReplayResult:
    """What a replay did: outcomes in order, an error if it stopped, counters, the machine."""

    scenario: Scenario
    seed: int
    scale: float
    outcomes: list
    error: str | None = None            # "FILE:LINE: message" when the replay stopped early
    error_where: Mark | None = None
    missing: FeatureMissing | None = None
    counts: dict = field(default_factory=dict)   # events, calls, tracepoints, syscalls, steps
    virtual_ns: int = 0                 # virtual time the event stream took
    wall_s: float = 0.0                 # wall-clock seconds (not part of the deterministic output)
    kernel: object = None
    tasks: dict = field(default_factory=dict)

    @property
    def failed(self) -> list:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return self.error is None and self.missing is None and not self.failed


class Replay:
    """One replay of one scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, scale: float = 1.0,
                 progress=None, log=None):
        self.sc = scenario
        self.seed = scenario.kernel.seed if seed is None else seed
        self.scale = scale
        self.progress = progress            # callable(label, done, total) or None
        self.log = (log or structlog.get_logger("kernelsim.replay")).bind(scenario=scenario.name)
        self.rng = random.Random(self.seed)
        self.kernel = None
        self.tasks: dict = {}
        self.handles: dict = {}
        self.vars: dict = {}                # $NAME -> kobject / int
        self.env: dict = {}                 # repeat variables
        self.returned: dict = {}            # func -> last return value
        self.outcomes: list = []
        self._seen: dict = {}
        self._restore = None                # (cpu, task) to put back after a step's syscalls
        self._fails: dict = {}
        self.counts = {"events": 0, "calls": 0, "tracepoints": 0, "syscalls": 0, "steps": 0}
        self.default_task = None
        self._dispatch = {
            Call: self.do_call, TracepointHit: self.do_tracepoint, Syscall: self.do_syscall,
            BpfCall: self.do_bpf,
            Load: self.do_load, Attach: self.do_attach, Detach: self.do_detach, Close: self.do_close,
            MapUpdate: self.do_map_update, MapDelete: self.do_map_delete,
            SysctlWrite: self.do_sysctl, Spawn: self.do_spawn, Fork: self.do_fork, Exit: self.do_exit,
            Switch: self.do_switch, Advance: self.do_advance, Repeat: self.do_repeat,
            KObjectStep: self.do_kobject, ExpectMap: self.expect_map,
            ExpectRingbuf: self.expect_ringbuf, ExpectTracePipe: self.expect_trace_pipe,
            ExpectProgStats: self.expect_prog_stats, ExpectReturned: self.expect_returned,
            ExpectKObject: self.expect_kobject,
        }

    # ---- the whole run ----------------------------------------------------------------------

    def run(self) -> ReplayResult:
        res = ReplayResult(self.sc, self.seed, self.scale, self.outcomes, counts=self.counts)
        t0 = time.perf_counter()
        start_ns = None
        try:
            self.boot()
            self.setup()
            start_ns = self.kernel.clock.ns
            self.run_steps(self.sc.events)
        except StepFailed as e:
            res.error, res.error_where = e.message, e.where
        except FeatureMissing as e:
            res.missing = e
        except BpfError as e:           # a kernel-side refusal outside any syscall
            res.error = f"kernel error {errno_name(e.errno)}: {e.message}"
        finally:
            res.wall_s = time.perf_counter() - t0
            if self.kernel is not None and start_ns is not None:
                res.virtual_ns = self.kernel.clock.ns - start_ns
            res.kernel, res.tasks = self.kernel, dict(self.tasks)
        if res.failed:
            for o in res.failed:
                self.log.warning("expect_failed", where=str(o.where), what=o.what,
                                 expected=o.expected, actual=o.actual)
        self.log.info("replay_end", ok=res.ok, outcomes=len(self.outcomes), failed=len(res.failed),
                      **self.counts)
        return res

    def boot(self) -> None:
        from kernelsim.facade import Kernel
        k = self.sc.kernel
        btf = k.btf
        if btf is not None and not Path(btf).is_absolute():
            btf = str(Path(self.sc.base) / btf)
        self.kernel = Kernel(arch=k.arch, btf=btf, ncpus=k.cpus, seed=self.seed, profile=k.profile,
                             declare=k.declare)
        for func, value in k.returns:
            try:
                self.kernel.functions[func].set_return(value)
            except KeyError:
                raise StepFailed(f"kernel.returns: no kernel function {func!r}",
                                 self.sc.doc.mark(("kernel", "returns", func))) from None
        if k.insn_cost_ns is not None:
            self.kernel.clock.insn_cost_ns = k.insn_cost_ns
        for name, value in k.sysctl:
            self.kernel.sysctl[name] = value
        self.log.info("replay_start", file=self.sc.file, seed=self.seed, arch=k.arch,
                      profile=k.profile, cpus=k.cpus, scale=self.scale)
        specs = self.sc.tasks or (TaskSpec("root", "kernelsim", 0, 0, None, None, Mark(self.sc.file, 1, 1)),)
        for spec in specs:
            self.spawn(spec)
        self.default_task = self.tasks[specs[0].name]

    def setup(self) -> None:
        for m in self.sc.maps:
            if m.load:
                self.create_map(m, m.name, None, m.expect)
        for o in self.sc.objects:
            if o.load:
                self.load_object(o)
        for p in self.sc.programs:
            if p.load:
                self.load_prog(p, p.name, None, p.expect, p.where)
        for a in self.sc.attach:
            self.do_attach(a)
        if self._restore is not None:
            self.end_syscalls()

    def run_steps(self, steps) -> None:
        dispatch = self._dispatch
        for s in steps:
            self.counts["steps"] += 1
            try:
                dispatch[type(s)](s)
            except StepFailed as e:
                if e.where is None:
                    e.where = s.where
                raise
            if self._restore is not None:
                self.end_syscalls()

    # ---- names, values, templates ----------------------------------------------------------------

    def expand(self, s):
        if not isinstance(s, str) or "$" not in s:
            return s

        def sub(m):
            if m.group(1) not in self.env:
                raise StepFailed(f"unknown variable ${{{m.group(1)}}} in {s!r}")
            return str(self.env[m.group(1)])
        return _TEMPLATE.sub(sub, s)

    def task(self, name, where: Mark):
        if name is None:
            return self.default_task
        name = self.expand(name)
        t = self.tasks.get(name)
        if t is None:
            raise StepFailed(f"no task {name!r} (tasks: {', '.join(self.tasks)})", where)
        if not t.alive:
            raise StepFailed(f"task {name!r} has exited", where)
        return t

    def handle(self, name, kinds, where: Mark) -> Handle:
        name = self.expand(name)
        h = self.handles.get(name)
        if h is None or h.kind not in kinds:
            have = ", ".join(n for n, x in self.handles.items() if x.kind in kinds) or "none"
            raise StepFailed(f"no {'/'.join(kinds)} named {name!r} (there are: {have})", where)
        return h

    def scaled(self, n: int) -> int:
        """A repeat count (or an expected total) under --scale."""
        if self.scale == 1.0 or not n:
            return n
        return max(1, round(n * self.scale))

    def order(self) -> str:
        return "big" if self.kernel.arch == "s390x" else "little"

    def resolve(self, v, where: Mark):
        """A YAML value used as data: $refs and ${i} expanded, kobject specs created."""
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, str):
            if v.startswith("$$"):
                return v[1:]
            if v.startswith("$") and not v.startswith("${"):
                name = self.expand(v[1:])
                if name in self.env:
                    return self.env[name]
                if name in self.vars:
                    return self.vars[name]
                if name in self.tasks:          # a task stands for its task_struct
                    return self.kernel.kobjects.task_struct(self.tasks[name])
                if name in self.handles:
                    return self.handles[name].fd
                raise StepFailed(f"unknown reference {v!r}", where)
            out = self.expand(v)
            if v.startswith("${") and _TEMPLATE.fullmatch(v):
                return int(out)
            return out
        if isinstance(v, list):
            return [self.resolve(x, where) for x in v]
        if isinstance(v, dict):
            if set(v) == {"hex"}:
                return v
            if set(v) == {"scaled"}:
                return self.scaled(v["scaled"])
            if any(k in v for k in ("new", "netdev", "tcp_sock", "udp_sock", "skb", "open_file",
                                    "filename", "task_struct")):
                return self.make_kobject(v, where)
            return {k: self.resolve(x, where) for k, x in v.items()}
        return v

    def arg(self, v, where: Mark):
        """A kernel function argument: ints, None, strings, KObjects; {hex} -> bytes."""
        r = self.resolve(v, where)
        if isinstance(r, dict) and set(r) == {"hex"}:
            return bytes.fromhex(re.sub(r"[\s:]", "", str(r["hex"])))
        return r

    def make_kobject(self, spec: dict, where: Mark):
        ko = self.kernel.kobjects
        r = lambda x: self.arg(x, where)      # noqa: E731
        try:
            if "new" in spec:
                fields = {k: r(x) for k, x in (spec.get("fields") or {}).items()}
                obj = ko.new(spec["new"], extra=spec.get("extra", 0))
                for path, value in fields.items():
                    obj.set(path, value)
                return obj
            if "netdev" in spec:
                return ko.netdev(spec["netdev"])
            if "tcp_sock" in spec or "udp_sock" in spec:
                kind = "tcp_sock" if "tcp_sock" in spec else "udp_sock"
                kw = {k: r(x) for k, x in (spec[kind] or {}).items()}
                return getattr(ko, kind)(**kw)
            if "skb" in spec:
                kw = {k: r(x) for k, x in (spec["skb"] or {}).items()}
                data = kw.pop("data", b"")
                if isinstance(data, str):
                    data = bytes.fromhex(re.sub(r"[\s:]", "", data))
                dev = kw.pop("dev", None)
                if isinstance(dev, str):
                    dev = ko.netdev(dev)
                fields = kw.pop("fields", None)
                skb = ko.alloc_skb(data, dev=dev, **kw)
                for path, value in (fields or {}).items():
                    skb.set(path, value)
                return skb
            if "open_file" in spec:
                return ko.open_file(spec["open_file"])
            if "filename" in spec:
                return ko.filename(spec["filename"])
            if "task_struct" in spec:
                return ko.task_struct(self.task(spec["task_struct"], where))
        except StepFailed:
            raise
        except (BpfError, KeyError, TypeError, ValueError) as e:
            raise StepFailed(f"cannot create the kernel object: {_why(e)}", where) from None
        raise StepFailed("unknown kernel object kind", where)

    def record(self, outcomes) -> list:
        """Keep outcomes; passing ones written at the same place are counted, not repeated (a
        repeat of a million steps with an expectation inside stays one line), and failures
        beyond MAX_FAILURES_PER_PLACE only counted."""
        for o in outcomes:
            key = (o.where, o.kind, o.ok)
            i = self._seen.get(key)
            if o.ok and i is not None:
                self.outcomes[i] = replace(self.outcomes[i], count=self.outcomes[i].count + 1)
                continue
            if not o.ok:
                n = self._fails.get(key, 0) + 1
                self._fails[key] = n
                if n > MAX_FAILURES_PER_PLACE:
                    self.outcomes[i] = replace(self.outcomes[i], count=self.outcomes[i].count + 1)
                    continue
            self._seen[key] = len(self.outcomes)
            self.outcomes.append(o)
        return outcomes

    def result(self, what: str, exp: InlineExpect, ret: int, where: Mark, log: str | None = None,
               must_succeed: bool = True) -> bool:
        """Check a syscall result; stop the replay when a step that had to succeed failed."""
        outs = self.record(ex.check_result(what, exp, ret, log))
        if ret < 0 and must_succeed and exp.errno is None and exp.ret is None and exp.ok is not False:
            raise StepFailed(f"{what} failed with {ex.describe_ret(ret)}", where)
        return all(o.ok for o in outs)

    def syscall_task(self, task) -> None:
        """The task issuing a syscall runs on the current CPU. It is made current quietly (no
        sched_switch), and the CPU's previous task is put back after the step (end_syscalls):
        the replay does not model the scheduling a syscall implies; ``switch`` steps and
        ``task:`` on calls and tracepoints do (kernel.switch_to)."""
        cpu = self.kernel.cpus[self.kernel.current_cpu]
        if cpu.current is not task:
            if self._restore is None:
                self._restore = (cpu, cpu.current)
            cpu.current = task
            task.cpu = self.kernel.current_cpu
        self.counts["syscalls"] += 1

    def end_syscalls(self) -> None:
        """After a step: the CPU runs what it ran before the step's syscalls (observing does
        not change ``current``)."""
        cpu, prev = self._restore
        self._restore = None
        if prev is None or getattr(prev, "alive", True):
            cpu.current = prev

    # ---- tasks -----------------------------------------------------------------------------------

    def spawn(self, spec: TaskSpec):
        t = self.kernel.spawn(comm=spec.comm, uid=spec.uid, gid=spec.gid, caps=spec.caps, cpu=spec.cpu)
        self.tasks[spec.name] = t
        self.log.info("task_spawn", task=spec.name, pid=t.pid, comm=t.comm, uid=spec.uid,
                      caps="default" if spec.caps is None else len(spec.caps))
        return t

    def do_spawn(self, s: Spawn) -> None:
        self.spawn(s.task)

    def do_fork(self, s: Fork) -> None:
        parent = self.task(s.task, s.where)
        child = parent.fork()
        if s.comm:
            child.comm = s.comm[:15]
        name = self.expand(s.save_as)
        self.tasks[name] = child
        self.counts["events"] += 1
        self.log.info("task_fork", parent=parent.pid, task=name, pid=child.pid)

    def do_exit(self, s: Exit) -> None:
        t = self.task(s.task, s.where)
        t.exit(s.code)
        for name in [n for n, h in self.handles.items() if h.task is t]:
            del self.handles[name]
        self.counts["events"] += 1
        self.log.info("task_exit", task=s.task, pid=t.pid, code=s.code)

    def do_switch(self, s: Switch) -> None:
        if not 0 <= s.cpu < self.kernel.ncpus:
            raise StepFailed(f"no CPU {s.cpu}: the machine has {self.kernel.ncpus}", s.where)
        task = self.task(s.task, s.where) if s.task is not None else self.kernel.cpus[s.cpu].current
        self.kernel.switch_to(task, s.cpu)
        self.log.info("cpu_switch", cpu=s.cpu, pid=getattr(task, "pid", 0))

    def do_advance(self, s: Advance) -> None:
        self.kernel.clock.advance(s.ns)
        self.log.info("clock_advance", ns=s.ns, now=self.kernel.clock.ns)

    def do_sysctl(self, s: SysctlWrite) -> None:
        cred = self.task(s.task, s.where).cred if s.task is not None else None
        try:
            self.kernel.sysctl.write(s.name, s.value, cred=cred)
            ret = 0
        except BpfError as e:
            ret = -e.errno
        self.log.info("sysctl_write", name=s.name, value=s.value, ret=ret)
        self.result(f"sysctl {s.name} = {s.value}", s.expect, ret, s.where)

    # ---- kernel activity ---------------------------------------------------------------------------

    def do_call(self, s: Call) -> None:
        func = self.expand(s.func)
        where = s.where
        args = [self.arg(a, where) for a in s.args]
        if s.task is not None:
            self.kernel.switch_to(self.task(s.task, where), s.cpu)
        try:
            ret = self.kernel.call(func, *args, ret=s.ret, cpu=s.cpu)
        except KeyError:
            raise StepFailed(f"no kernel function {func!r}", where) from None
        except (TypeError, ValueError) as e:
            raise StepFailed(f"call of {func}: {e}", where) from None
        except BpfError as e:
            raise StepFailed(f"call of {func}: {errno_name(e.errno)}: {e.message}", where) from None
        except BpfRuntimeError as e:
            raise StepFailed(f"call of {func}: a program stopped at run time (the kernel would "
                             f"have oopsed): {e}", where) from None
        self.counts["events"] += 1
        self.counts["calls"] += 1
        self.returned[func] = ret
        if s.save_as:
            self.vars[self.expand(s.save_as)] = ret
        self.log.info("kernel_call", func=func, ret=ret, cpu=self.kernel.current_cpu if s.cpu is None else s.cpu)
        if s.expect is not None and s.expect.ret is not None:
            self.record([ex.Outcome("ret", s.expect.where, ret is not None and ex.int_matches(s.expect.ret, ret),
                                    f"{func}()", f"returns {ex.describe_match(s.expect.ret)}", f"returned {ret}")])

    def do_tracepoint(self, s: TracepointHit) -> None:
        fire = getattr(type(self.kernel), "tracepoint", None)
        if fire is None:
            raise FeatureMissing("tracepoints (kernel.tracepoint)", "the tracepoints piece has not landed")
        name = self.expand(s.name)
        tp = name.replace(":", "/").split("/")[-1]     # "sched/sched_switch" -> sched_switch
        args = [self.arg(a, s.where) for a in s.args]
        kw = {"cpu": s.cpu}
        if s.task is not None:
            kw["task"] = self.task(s.task, s.where)
        try:
            self.kernel.tracepoint(tp, *args, **kw)
        except KeyError:
            raise StepFailed(f"no tracepoint {name!r}", s.where) from None
        except (TypeError, ValueError, BpfError, BpfRuntimeError) as e:
            raise StepFailed(f"tracepoint {name}: {_why(e)}", s.where) from None
        self.counts["events"] += 1
        self.counts["tracepoints"] += 1
        self.log.info("tracepoint_hit", tracepoint=tp, cpu=self.kernel.current_cpu if s.cpu is None else s.cpu)

    def do_syscall(self, s: Syscall) -> None:
        if getattr(type(self.kernel), "syscall", None) is None:
            raise FeatureMissing("simulated syscalls (kernel.syscall)")
        task = self.task(s.task, s.where)
        nr = self.expand(s.nr)
        args = [self.arg(a, s.where) for a in s.args]
        self.syscall_task(task)
        try:
            ret = self.kernel.syscall(task, nr, *args)
        except (TypeError, ValueError, KeyError, BpfError, BpfRuntimeError) as e:
            raise StepFailed(f"syscall {nr}: {_why(e)}", s.where) from None
        self.counts["events"] += 1
        if s.save_as:
            self.vars[self.expand(s.save_as)] = ret
        self.log.info("syscall", nr=nr, pid=task.pid, ret=ret)
        if s.expect is not None:
            self.result(f"{nr}()", s.expect, ret, s.where, must_succeed=False)

    def do_kobject(self, s: KObjectStep) -> None:
        obj = self.make_kobject(s.spec, s.where)
        if s.save_as:
            self.vars[self.expand(s.save_as)] = obj
        self.log.info("kobject_new", name=s.save_as, type=getattr(obj, "type_name", "?"), addr=int(obj))

    def do_repeat(self, s: Repeat) -> None:
        n = self.scaled(s.count) if s.scale else s.count
        saved = self.env.get(s.var)
        label = f"{self.sc.name}:{s.where.line}"
        steps, dispatch, prog = s.steps, self._dispatch, self.progress
        for i in range(n):
            self.env[s.var] = i
            for st in steps:
                try:
                    dispatch[type(st)](st)
                except StepFailed as e:
                    if e.where is None:
                        e.where = st.where
                    raise
                if self._restore is not None:
                    self.end_syscalls()
            if prog is not None and (i + 1) % PROGRESS_EVERY == 0:
                prog(label, i + 1, n)
        self.counts["steps"] += n * len(steps)
        if prog is not None and n >= PROGRESS_EVERY:
            prog(label, n, n)
        if saved is None:
            self.env.pop(s.var, None)
        else:
            self.env[s.var] = saved

    # ---- maps ---------------------------------------------------------------------------------------

    def create_map(self, m: MapSpec, name: str, task_name, exp: InlineExpect) -> None:
        task = self.task(task_name if task_name is not None else m.task, m.where)
        self.syscall_task(task)
        vsize = m.value.size
        fd = userbpf.map_create(task, m.map_type, m.key.size, vsize, m.max_entries, m.flags,
                                self.expand(m.kname), m.map_extra)
        self.log.info("map_create", map=name, fd=fd, type=M(m.map_type).name)
        if not self.result(f"creating map '{name}'", exp, fd, m.where) or fd < 0:
            return
        h = Handle("map", name, task, fd, m, m.key, m.value, m.map_type)
        self.handles[name] = h
        for key, value, where in m.init:
            self.update_elem(h, key, value, 0, InlineExpect(where), where)

    def encode_kv(self, h: Handle, key, value, where: Mark) -> tuple[bytes, bytes | None]:
        try:
            k = encode(h.key, self.resolve(key, where), self.order())
            v = None
            if value is not None:
                v = encode(h.value, self.resolve(value, where), self.order())
                if h.map_type in PERCPU_MAPS:
                    step = (h.value.size + 7) // 8 * 8
                    v = (v + bytes(step - len(v))) * self.kernel.ncpus
            return k, v
        except ValueError_ as e:
            raise StepFailed(f"map '{h.name}': {e}", where) from None

    def update_elem(self, h: Handle, key, value, flags: int, exp: InlineExpect, where: Mark) -> None:
        k, v = self.encode_kv(h, key, value, where)
        self.syscall_task(h.task)
        ret = userbpf.map_update(h.task, h.fd, k, v, flags)
        self.result(f"update of map '{h.name}'", exp, ret, where)

    def do_map_update(self, s: MapUpdate) -> None:
        h = self.handle(s.map, ("map",), s.where)
        self.update_elem(h, s.key, s.value, s.flags, s.expect, s.where)

    def do_map_delete(self, s: MapDelete) -> None:
        h = self.handle(s.map, ("map",), s.where)
        k, _ = self.encode_kv(h, s.key, None, s.where)
        self.syscall_task(h.task)
        self.result(f"delete from map '{h.name}'", s.expect, userbpf.map_delete(h.task, h.fd, k), s.where)

    # ---- programs -----------------------------------------------------------------------------------

    def assemble(self, p: ProgSpec, task, where: Mark) -> bytes:
        from kernelsim.isa import AsmError, assemble, encode_insns

        def sub(m):
            name = self.expand(m.group(2))
            h = self.handles.get(name)
            if h is None or h.kind != "map":
                raise StepFailed(f"program '{p.name}': no map {name!r} for {m.group(1)}()", where)
            if h.task is not task:
                raise StepFailed(f"program '{p.name}': map {name!r} is not open in the loading task", where)
            return f"{m.group(1)}({h.fd}"
        text = _MAP_REF.sub(sub, p.asm)
        try:
            return encode_insns(assemble(text, p.dialect))
        except AsmError as e:
            line = where.line + (e.lineno or 0)      # the asm block starts on the line after "asm: |"
            raise StepFailed(f"program '{p.name}': assembly line {e.lineno}: {e.message}",
                             Mark(where.file, line, 1)) from None

    def attach_btf_id(self, p: ProgSpec, target: str | None) -> tuple[int, int | None]:
        """(attach_btf_id, errno) as libbpf's libbpf_find_attach_btf_id resolves it."""
        from btf import BTF_KIND_FUNC, BTF_KIND_TYPEDEF, BtfError
        if p.prog_type != T.BPF_PROG_TYPE_TRACING and p.prog_type != T.BPF_PROG_TYPE_LSM or not target:
            return 0, None
        btf = self.kernel.btf
        try:
            if p.attach_type == A.BPF_TRACE_RAW_TP:
                return btf.find_by_name_kind("btf_trace_" + target, BTF_KIND_TYPEDEF), None
            return btf.find_by_name_kind(("bpf_lsm_" if p.prog_type == T.BPF_PROG_TYPE_LSM else "") + target,
                                         BTF_KIND_FUNC), None
        except BtfError:
            import errno
            return 0, errno.ESRCH       # libbpf: "failed to find kernel BTF type ID of '%s'"

    def load_prog(self, p: ProgSpec, name: str, task_name, exp: InlineExpect, where: Mark) -> None:
        task = self.task(task_name if task_name is not None else p.task, where)
        if p.asm is None:
            return self.load_object_prog(p, name, task, exp, where)
        insns = self.assemble(p, task, where)
        target = self.expand(p.attach_to) if p.attach_to else None
        btf_id, err = self.attach_btf_id(p, target)
        what = f"load of program '{name}'"
        if err is not None:
            self.log.info("prog_load", prog=name, ret=-err, reason=f"no BTF for {target!r}")
            self.result(what, exp, -err, where, f"libbpf: failed to find kernel BTF type ID of '{target}'")
            return
        kname = re.sub(r"[^A-Za-z0-9_.]", "_", self.expand(p.kname))[:15]
        self.syscall_task(task)
        args = dict(prog_type=p.prog_type, insns=insns, license=p.license, name=kname,
                    expected_attach_type=p.attach_type or 0, attach_btf_id=btf_id,
                    log_level=p.log_level, log_size=p.log_size, prog_flags=p.prog_flags)
        res = userbpf.prog_load(task, **args)
        if res.ret < 0 and p.log_level == 0:        # libbpf retries with a log to explain
            self.syscall_task(task)
            retry = userbpf.prog_load(task, **{**args, "log_level": 1})
            res = userbpf.LoadResult(res.ret if retry.ret < 0 else retry.ret, retry.log, retry.log_true_size)
            if retry.ret >= 0:
                res = retry
        self.log.info("prog_load", prog=name, ret=res.ret, type=T(p.prog_type).name,
                      attach_to=target, insns=len(insns) // 8)
        self.result(what, exp, res.ret, where, res.log)
        if res.ret >= 0:
            self.handles[name] = Handle("prog", name, task, res.ret, p, prog_type=p.prog_type,
                                        attach_type=p.attach_type, attach_to=target)

    def do_load(self, s: Load) -> None:
        spec = next((p for p in self.sc.programs if p.name == self.expand(s.program)), None)
        if spec is None:
            raise StepFailed(f"no program {s.program!r} declared in programs:", s.where)
        name = self.expand(s.save_as) if s.save_as else spec.name
        self.load_prog(spec, name, s.task, s.expect if s.expect.explicit else spec.expect, s.where)

    # ---- objects ------------------------------------------------------------------------------------

    def _load_object_path(self, path: str, name: str, task, exp: InlineExpect, where: Mark):
        full = Path(path) if Path(path).is_absolute() else Path(self.sc.base) / path
        self.syscall_task(task)
        try:
            obj = task.load_object(str(full))
            ret = 0
        except ImportError as e:
            fm = missing_from_import_error(e)
            raise (fm or FeatureMissing("ELF object loader", str(e))) from None
        except OSError as e:
            obj, ret = None, -(e.errno or 22)
        except BpfError as e:
            obj, ret = None, -e.errno
        except Exception as e:        # the loader's own error type (BpfObjectError ...)
            err = getattr(e, "errno", None) or 22
            obj, ret = None, -abs(err)
            self.log.info("object_load", object=name, ret=ret, error=str(e))
            self.result(f"load of object '{name}'", exp, ret, where, getattr(e, "log", None) or str(e))
            return None
        log = getattr(obj, "log", None) if obj is not None else None
        self.log.info("object_load", object=name, path=str(path), ret=ret)
        self.result(f"load of object '{name}'", exp, ret, where, log)
        if obj is not None:
            h = Handle("object", name, task, -1, obj=obj)
            self.handles[name] = h
            self._adopt_object_maps(h)
        return obj

    def load_object(self, o) -> None:
        self._load_object_path(o.path, o.name, self.task(o.task, o.where), o.expect, o.where)

    def _adopt_object_maps(self, h: Handle) -> None:
        """Name the object's maps "<object>.<map>" (and "<map>" when free) for expectations."""
        for mname, mfd, ksz, vsz, mtype in _object_maps(h.obj):
            hm = Handle("map", mname, h.task, mfd, None, bytes_type(ksz), bytes_type(vsz), mtype)
            self.handles.setdefault(f"{h.name}.{mname}", hm)
            self.handles.setdefault(mname, hm)

    def load_object_prog(self, p: ProgSpec, name: str, task, exp: InlineExpect, where: Mark) -> None:
        if p.source is not None:
            oname = f"{name}.obj"
            obj = self._load_object_path(p.source, oname, task, exp, where)
            if obj is None:
                return
        else:
            oh = self.handle(p.object, ("object",), where)
            obj = oh.obj
        prog = _object_prog(obj, p.prog)
        if prog is None:
            names = ", ".join(n for n, _ in _object_items(getattr(obj, "progs", None)))
            raise StepFailed(f"the object has no program {p.prog!r} (it has: {names})", where)
        fd = _fd_of(prog)
        sec = getattr(prog, "section", None) or getattr(prog, "sec_name", "") or ""
        ptype, atype, target = _section_attach(sec)
        ptype = getattr(prog, "prog_type", None) or ptype
        atype = getattr(prog, "expected_attach_type", None) if atype is None else atype
        target = getattr(prog, "attach_target", None) or target
        self.handles[name] = Handle("prog", name, task, fd, p, prog_type=p.prog_type or ptype,
                                    attach_type=p.attach_type if p.attach_type is not None else atype,
                                    attach_to=self.expand(p.attach_to) if p.attach_to else target,
                                    obj=obj, extra={"section": sec})

    # ---- attach and detach --------------------------------------------------------------------------

    def do_attach(self, s: Attach) -> None:
        h = self.handle(s.prog, ("prog",), s.where)
        task = self.task(s.task, s.where) if s.task is not None else h.task
        target = self.expand(s.target) if s.target else h.attach_to
        name = self.expand(s.save_as) if s.save_as else h.name + ".link"
        ptype, atype = h.prog_type, h.attach_type
        via = s.via or ("raw_tracepoint_open" if ptype in (T.BPF_PROG_TYPE_RAW_TRACEPOINT,
                                                            T.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)
                        else "perf_event" if ptype in (T.BPF_PROG_TYPE_KPROBE, T.BPF_PROG_TYPE_TRACEPOINT)
                        else "link")
        self.syscall_task(task)
        what = f"attach of '{h.name}'" + (f" to {target}" if target else "")
        kind = "link"
        if via == "link":
            fd = userbpf.link_create(task, h.fd, 0, atype or 0, 0, s.cookie)
        elif via == "raw_tracepoint_open":
            fd = userbpf.raw_tracepoint_open(task, target, h.fd, s.cookie)
        else:
            fd, kind = self.perf_attach(h, task, target, s), "perf"
        self.log.info("attach", prog=h.name, link=name, fd=fd, via=via, target=target,
                      attach_type=A(atype).name if atype is not None and atype in A._value2member_map_ else atype)
        self.result(what, s.expect, fd, s.where)
        if fd >= 0:
            self.handles[name] = Handle(kind, name, task, fd, extra={"prog": h.name, "target": target})

    def perf_attach(self, h: Handle, task, target: str | None, s: Attach) -> int:
        """perf_event_open of a kprobe/kretprobe or tracepoint event + PERF_EVENT_IOC_SET_BPF +
        ENABLE, as libbpf does without BPF links: the event fd stands for the attachment."""
        from syscall import perf_abi
        keep = None
        if h.prog_type == T.BPF_PROG_TYPE_KPROBE:
            keep = Buf((target or "").encode() + b"\0")
            attr = perf_abi.new_perf_event_attr(type=uapi.PERF_PMU_TYPE_KPROBE,
                                                config=1 if s.retprobe else 0, config1=keep.addr)
        else:
            tp_id = _tracepoint_id(self.kernel, target)
            attr = perf_abi.new_perf_event_attr(type=uapi.PERF_PMU_TYPE_TRACEPOINT, config=tp_id)
        attr.sample_period = 1
        attr.wakeup_events = 1
        try:
            pfd = task.perf_event_open(perf_abi.ffi.buffer(attr), -1, 0, -1, int(perf_abi.PERF_FLAG_FD_CLOEXEC))
            if pfd < 0:
                return pfd
            ret = task.ioctl(pfd, int(uapi.PERF_EVENT_IOC_SET_BPF), h.fd)
            if ret == 0:
                ret = task.ioctl(pfd, int(uapi.PERF_EVENT_IOC_ENABLE), 0)
        except ImportError as e:
            raise (missing_from_import_error(e) or FeatureMissing("perf_event_open", str(e))) from None
        del keep
        if ret < 0:
            task.close(pfd)
            return ret
        return pfd

    def do_detach(self, s: Detach) -> None:
        names = []
        for pat in s.links:
            pat = self.expand(pat)
            hits = [n for n, h in self.handles.items() if h.kind in ("link", "perf") and fnmatch.fnmatchcase(n, pat)]
            if not hits:
                raise StepFailed(f"no link matches {pat!r}", s.where)
            names += [n for n in hits if n not in names]
        if s.order == "reverse":
            names.reverse()
        elif s.order == "random":
            self.rng.shuffle(names)
        for n in names:
            h = self.handles[n]
            self.syscall_task(h.task)
            ret = 0
            if s.via == "link_detach" and h.kind == "link":
                ret = userbpf.link_detach(h.task, h.fd)
            if ret == 0:
                ret = h.task.close(h.fd)
                del self.handles[n]
            self.log.info("detach", link=n, fd=h.fd, via=s.via, ret=ret)
            self.result(f"detach of '{n}'", s.expect, ret, s.where)

    def do_close(self, s: Close) -> None:
        h = self.handle(s.fd, ("map", "prog", "link", "perf", "fd"), s.where)
        task = self.task(s.task, s.where) if s.task is not None else h.task
        self.syscall_task(task)
        ret = task.close(h.fd)
        self.log.info("fd_close", name=h.name, fd=h.fd, ret=ret)
        if task is h.task and ret == 0:
            del self.handles[h.name]
        self.result(f"close of '{h.name}'", s.expect, ret, s.where)

    # ---- raw bpf() ----------------------------------------------------------------------------------

    def do_bpf(self, s: BpfCall) -> None:
        from syscall import abi
        task = self.task(s.task, s.where)
        attr = abi.new_attr()
        keep = {}
        for fname, value, where in s.attr:
            v = self.attr_value(fname, value, where, task, keep)
            try:
                userbpf.set_field(attr, fname, v)
            except (TypeError, OverflowError, ValueError) as e:
                raise StepFailed(f"attr.{fname}: {e}", where) from None
        if "insns" in keep and not any(f == "insn_cnt" for f, _, _ in s.attr):
            attr.insn_cnt = keep["insns"].size // 8
        self.syscall_task(task)
        cmd = uapi.BpfCmd(s.cmd)
        ret = userbpf.sys_bpf(task, cmd, attr, s.size)
        log = keep["log_buf"].cstr() if "log_buf" in keep else None
        self.log.info("bpf_step", cmd=cmd.name, ret=ret, task=task.pid)
        self.counts["events"] += 1
        self.result(f"bpf({cmd.name})", s.expect, ret, s.where, log)
        if ret >= 0 and s.save_as:
            name = self.expand(s.save_as)
            if cmd == uapi.BpfCmd.BPF_MAP_CREATE:
                mtype = int(attr.map_type)
                self.handles[name] = Handle("map", name, task, ret, None, bytes_type(int(attr.key_size)),
                                            bytes_type(int(attr.value_size)), mtype)
            elif cmd == uapi.BpfCmd.BPF_PROG_LOAD:
                self.handles[name] = Handle("prog", name, task, ret, None, prog_type=int(attr.prog_type),
                                            attach_type=int(attr.expected_attach_type))
            elif cmd in (uapi.BpfCmd.BPF_LINK_CREATE, uapi.BpfCmd.BPF_RAW_TRACEPOINT_OPEN):
                self.handles[name] = Handle("link", name, task, ret)
            else:
                self.handles[name] = Handle("fd", name, task, ret)

    def attr_value(self, fname: str, value, where: Mark, task, keep: dict):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            if value.startswith("$"):
                r = self.resolve(value, where)
                return int(r)
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
                try:
                    return constant(value)
                except KeyError:
                    raise StepFailed(f"attr.{fname}: unknown constant {value!r}", where) from None
            return self.expand(value).encode()          # a char array (prog_name, map_name)
        if isinstance(value, list):
            b = Buf(bytes(value))
        elif isinstance(value, dict):
            if "str" in value:
                b = Buf(self.expand(str(value["str"])).encode() + b"\0")
            elif "hex" in value:
                b = Buf(bytes.fromhex(re.sub(r"[\s:]", "", str(value["hex"]))))
            elif "asm" in value:
                from kernelsim.isa import AsmError, assemble, encode_insns
                try:
                    b = Buf(encode_insns(assemble(value["asm"])))
                except AsmError as e:
                    raise StepFailed(f"attr.{fname}: {e}", where) from None
            elif "buf" in value:
                b = Buf(int(value["buf"]))
            elif "value" in value and "type" in value:
                from .values import parse_type
                try:
                    b = Buf(encode(parse_type(value["type"]), self.resolve(value["value"], where), self.order()))
                except (ValueError, ValueError_) as e:
                    raise StepFailed(f"attr.{fname}: {e}", where) from None
            else:
                raise StepFailed(f"attr.{fname}: a pointer is {{str}}, {{hex}}, {{asm}}, {{buf}} or {{value, type}}", where)
        else:
            raise StepFailed(f"attr.{fname}: cannot use {value!r}", where)
        keep[fname] = b
        return b

    # ---- expectations -------------------------------------------------------------------------------

    def expect_map(self, e: ExpectMap) -> None:
        h = self.handle(e.map, ("map",), e.where)
        task = self.task(e.task, e.where) if e.task is not None else h.task
        self.syscall_task(task)
        percpu = self.kernel.ncpus if h.map_type in PERCPU_MAPS else 0
        vsize = ((h.value.size + 7) // 8 * 8) * percpu if percpu else h.value.size
        ret, entries = userbpf.map_entries(task, h.fd, h.key.size, vsize)
        if ret < 0:
            self.record([ex.Outcome("map", e.where, False, f"map '{h.name}'", "readable",
                                    f"reading it failed with {ex.describe_ret(ret)}")])
            return
        if e.count is not None:
            e = replace(e, count=self.resolve(e.count, e.where))
        self.record([ex.check_map(e, h.key, h.value, entries, self.order(), percpu,
                                  lambda v: self.resolve(v, e.where))])

    def expect_ringbuf(self, e: ExpectRingbuf) -> None:
        h = self.handle(e.map, ("map",), e.where)
        records = _ringbuf_consume(h, e.consume)
        self.record([ex.check_ringbuf(e, records, self.order(), lambda v: self.resolve(v, e.where))])

    def expect_trace_pipe(self, e: ExpectTracePipe) -> None:
        from kernelsim.trace_pipe import format_trace_line, trace_buffer
        tb = trace_buffer(self.kernel)
        entries = tb.entries()
        got = [(en.text.decode("utf-8", "replace"), format_trace_line(en).decode("utf-8", "replace"))
               for en in entries]
        if e.consume:
            tb.read_pipe(len(entries))
        self.record([ex.check_trace_pipe(e, got)])

    def expect_prog_stats(self, e: ExpectProgStats) -> None:
        h = self.handle(e.prog, ("prog",), e.where)
        self.syscall_task(h.task)
        ret, info = userbpf.obj_get_info(h.task, h.fd, "prog")
        if ret < 0:
            self.record([ex.Outcome("prog_stats", e.where, False, f"program '{h.name}'", "its info",
                                    f"OBJ_GET_INFO_BY_FD failed with {ex.describe_ret(ret)}")])
            return
        fields = {f: int(getattr(info, f)) for f in ("run_cnt", "run_time_ns", "recursion_misses",
                                                      "verified_insns")}
        checks = tuple((f, self.resolve(w, e.where)) for f, w in e.checks)
        self.record([ex.check_prog_stats(replace(e, checks=checks), fields)])

    def expect_returned(self, e: ExpectReturned) -> None:
        e = replace(e, value=self.resolve(e.value, e.where))
        self.record([ex.check_returned(e, self.returned.get(self.expand(e.func), ex.NOT_CALLED))])

    def expect_kobject(self, e: ExpectKObject) -> None:
        obj = self.vars.get(self.expand(e.kobject))
        if obj is None or not hasattr(obj, "get"):
            raise StepFailed(f"no kernel object ${e.kobject}", e.where)
        got = []
        for path, _ in e.fields:
            try:
                got.append(obj.get(path))
            except (BpfError, KeyError, ValueError) as err:
                raise StepFailed(f"${e.kobject}: {_why(err)}", e.where) from None
        fields = tuple((p, self.resolve(w, e.where)) for p, w in e.fields)
        self.record([ex.check_kobject(e.kobject, fields, got, e.where)])


# ---- adapters to other pieces ---------------------------------------------------------------------

def _why(e: Exception) -> str:
    if isinstance(e, BpfError):
        return f"{errno_name(e.errno)}: {e.message}"
    return str(e) or type(e).__name__


def _tracepoint_id(kernel, name: str | None) -> int:
    """The id tracefs shows in events/<category>/<name>/id."""
    if getattr(type(kernel), "tracepoints", None) is None:
        raise FeatureMissing("tracepoints (kernel.tracepoints)", "the tracepoints piece has not landed")
    ev = kernel.tracepoints.event(name or "")
    if ev is None:
        raise StepFailed(f"no trace event {name!r} (give category/name: sched/sched_switch)")
    return int(ev.id)


def _object_items(coll):
    from collections.abc import Mapping
    if coll is None:
        return []
    if isinstance(coll, Mapping):
        return list(coll.items())
    return [(getattr(x, "name", None), x) for x in coll]


def _fd_of(x) -> int:
    for attr in ("fd", "prog_fd", "map_fd"):
        v = getattr(x, attr, None)
        if isinstance(v, int):
            return v
    if isinstance(x, int):
        return x
    return -1


def _object_prog(obj, name: str):
    """(fd, section name) of an object's program by function name."""
    for pname, p in _object_items(getattr(obj, "progs", None)):
        if pname == name:
            return p
    return None


def _object_maps(obj):
    """(name, fd, key_size, value_size, type) of an object's maps."""
    out = []
    for mname, m in _object_items(getattr(obj, "maps", None)):
        d = getattr(m, "def_", None) or getattr(m, "map_def", None) or m
        out.append((mname, _fd_of(m), int(getattr(d, "key_size", 0) or 0),
                    int(getattr(d, "value_size", 0) or 0), int(getattr(d, "type", getattr(d, "map_type", 0)) or 0)))
    return out


# libbpf's section_defs for the tracing kinds: prefix -> (prog type, attach type)
SECTION_DEFS = {
    "fentry": (T.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY),
    "fexit": (T.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT),
    "fmod_ret": (T.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN),
    "tp_btf": (T.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP),
    "raw_tp": (T.BPF_PROG_TYPE_RAW_TRACEPOINT, None),
    "raw_tracepoint": (T.BPF_PROG_TYPE_RAW_TRACEPOINT, None),
    "kprobe": (T.BPF_PROG_TYPE_KPROBE, None),
    "kretprobe": (T.BPF_PROG_TYPE_KPROBE, None),
    "tracepoint": (T.BPF_PROG_TYPE_TRACEPOINT, None),
    "tp": (T.BPF_PROG_TYPE_TRACEPOINT, None),
    "socket": (T.BPF_PROG_TYPE_SOCKET_FILTER, None),
}


def _section_attach(sec: str):
    """(prog type, attach type, target) from a libbpf section name ("fentry/tcp_retransmit_skb")."""
    base, _, target = (sec or "").partition("/")
    base = base.split(".", 1)[0]
    ptype, atype = SECTION_DEFS.get(base, (None, None))
    return ptype, atype, target or None


def _ringbuf_consume(h: Handle, consume: bool) -> list:
    """Records of a BPF ring buffer as user space reads them: kernelsim/maps/ringbuf.py
    ``ringbuf_consume`` (libbpf ring_buffer__consume over the map the fd refers to, which is what
    an mmap of the fd would show). ``consume=False`` puts the consumer position back."""
    try:
        from kernelsim.maps.ringbuf import ringbuf_consume
    except ImportError:
        raise FeatureMissing("ring buffer maps (kernelsim/maps/ringbuf.py ringbuf_consume)") from None
    try:
        bmap = h.task.files.get(h.fd).obj
    except BpfError as e:
        raise StepFailed(f"map '{h.name}': fd {h.fd}: {_why(e)}") from None
    if int(getattr(bmap, "map_type", getattr(bmap, "type", 0))) != M.BPF_MAP_TYPE_RINGBUF:
        raise StepFailed(f"map '{h.name}' is not a ring buffer")
    rb = getattr(bmap, "data", None)
    saved = getattr(rb, "consumer_pos", None)
    out: list = []
    ringbuf_consume(bmap, lambda data: (out.append(bytes(data)), 0)[1])
    if not consume and saved is not None:
        rb.consumer_pos = saved
    return out
