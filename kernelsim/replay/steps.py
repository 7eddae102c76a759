"""Scenario steps: frozen records built from a validated YAML document (invented module;
docs/scenarios.md describes every kind).

``build_scenario(doc)`` turns the plain value tree into a ``Scenario``: the machine
(``KernelSpec``), the declared tasks, maps, objects and programs, the setup attachments and the
ordered event stream of steps. Every record carries ``where`` (the ``Mark`` of its YAML node), so
a failure anywhere names file and line. Names are resolved here once (map and program types,
attach types, bpf commands, flag names, errnos), so a typo is a ScenarioError before anything
runs; references between things (a map named in assembly, a link to detach) are resolved by the
runner, which knows what exists at that moment.

Values that reach the kernel as data (call arguments, keys, values, attr fields) stay the plain
YAML values; the runner encodes them (values.py). Strings may contain ``${i}``: the index of the
innermost ``repeat`` (or the variable it names).
"""

from __future__ import annotations

import errno as _errno
import hashlib
import re
from dataclasses import dataclass, field, replace

from kernelsim import uapi

from .loader import Document, Mark, ScenarioError, field_name
from .schema import validate
from .values import CType, bytes_type, parse_type

# ---- name tables ------------------------------------------------------------------------------

ATTACH_ALIASES = {"fentry": "BPF_TRACE_FENTRY", "fexit": "BPF_TRACE_FEXIT",
                  "fmod_ret": "BPF_MODIFY_RETURN", "tp_btf": "BPF_TRACE_RAW_TP",
                  "raw_tp": "BPF_TRACE_RAW_TP"}
ERRNO_EXTRA = {"ENOTSUPP": uapi.ENOTSUPP}


def errno_number(name) -> int:
    """``"EPERM"`` or 1 -> 1. KeyError on an unknown name."""
    if isinstance(name, int):
        return name
    if name in ERRNO_EXTRA:
        return ERRNO_EXTRA[name]
    return getattr(_errno, name) if isinstance(getattr(_errno, name, None), int) else _raise(name)


# where Python's errno names a number differently from the kernel's headers
ERRNO_KERNEL_NAMES = {uapi.ENOTSUPP: "ENOTSUPP", _errno.EOPNOTSUPP: "EOPNOTSUPP"}


def errno_name(num: int) -> str:
    """1 -> "EPERM"; 95 -> "EOPNOTSUPP" (the kernel's spelling), 524 -> "ENOTSUPP"."""
    return ERRNO_KERNEL_NAMES.get(num) or _errno.errorcode.get(num, str(num))


def _raise(name):
    raise KeyError(name)


def _enum_lookup(enum, prefix: str, name, aliases=None):
    if isinstance(name, int):
        return enum(name)
    text = str(name)
    if aliases and text in aliases:
        text = aliases[text]
    for cand in (text, text.upper(), prefix + text.upper()):
        if cand in enum.__members__:
            return enum[cand]
    raise KeyError(text)


def short_name(member, prefix: str) -> str:
    """BPF_MAP_TYPE_HASH -> hash (bpftool's spelling)."""
    return member.name[len(prefix):].lower() if member.name.startswith(prefix) else member.name


FLAG_ENUMS = (uapi.BpfMapFlags, uapi.BpfProgFlags, uapi.BpfUpdateFlags, uapi.BpfTestRunFlags,
              uapi.BpfLinkUpdateFlags)


def constant(name: str):
    """A uapi constant by name (BPF_F_NO_PREALLOC, BPF_MAP_TYPE_HASH, BPF_TRACE_FENTRY ...)."""
    v = getattr(uapi, name, None)
    if isinstance(v, int):
        return int(v)
    for enum in (uapi.BpfMapType, uapi.BpfProgType, uapi.BpfAttachType, uapi.BpfLinkType,
                 uapi.BpfCmd, uapi.BpfStatsType, *FLAG_ENUMS):
        if name in enum.__members__:
            return int(enum[name])
    raise KeyError(name)


# ---- records -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InlineExpect:
    """What a syscall-like step must return. Nothing given: it must succeed."""

    where: Mark                 # the expect: node (or the step, when implicit)
    ok: bool | None = None      # True: must succeed; None: not said
    ret: object = None          # int or match dict: the return value
    errno: int | None = None    # the step must fail with this errno
    log: tuple = ()             # verifier log lines that must appear, exactly
    log_regex: tuple = ()       # regular expressions each matching some log line
    explicit: bool = False      # written in the file (reported even when it holds)

    @property
    def wants_failure(self) -> bool:
        return self.errno is not None


@dataclass(frozen=True, slots=True)
class KernelSpec:
    """The machine: Kernel(arch, btf, ncpus, seed, profile) and its sysctls."""

    arch: str = "x86_64"        # x86_64 arm64 i386 riscv64 s390x
    profile: str = "6.18"       # 6.18 or 5.5
    cpus: int = 2               # number of CPUs
    btf: str | None = None      # a vmlinux BTF file (absolute or relative to the scenario), None: embedded
    seed: int = 0               # the machine's seed (prandom, %p hashes, the replay's shuffles)
    sysctl: tuple = ()          # ((name, value), ...) written before anything else
    insn_cost_ns: int | None = None  # virtual ns charged per BPF instruction (None: the clock's default)
    declare: str | None = None  # C declarations added to the kernel BTF (Kernel(declare=...))
    returns: tuple = ()         # ((function, value), ...): what bodiless functions return


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A process of the scenario."""

    name: str                   # the scenario's name for it
    comm: str                   # task->comm
    uid: int                    # real and effective uid
    gid: int                    # gid
    caps: object                # None (uid 0: all, else none), or a frozenset of names
    cpu: int | None             # the CPU it is made current on (None: the current CPU if idle)
    where: Mark


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A map created with BPF_MAP_CREATE."""

    name: str                   # the scenario's name
    map_type: int               # BpfMapType
    kname: str                  # map_name given to the kernel (<= 15 chars)
    key: CType                  # key type (bytes[key_size] when only a size was given)
    value: CType                # value type
    max_entries: int
    flags: int                  # map_flags
    map_extra: int
    task: str | None            # who creates it (None: the default task)
    init: tuple                 # ((key, value, Mark), ...) written with MAP_UPDATE_ELEM after creation
    load: bool                  # created during setup (False: only by a later step)
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class ProgSpec:
    """A program: inline assembly, a .bpf.c/.o compiled and loaded as an object, or a program of
    a declared object."""

    name: str                   # the scenario's name
    prog_type: int | None       # BpfProgType (None for an object's program: from its section)
    attach_type: int | None     # expected_attach_type (BpfAttachType) or None
    attach_to: str | None       # a kernel function, tracepoint or kprobe target
    license: str                # "GPL" unless given
    kname: str                  # prog_name (<= 15 chars)
    task: str | None
    asm: str | None             # inline assembly (kernel or conformance dialect)
    dialect: str | None
    source: str | None          # a .bpf.c or .o file (loaded as a one-program object)
    object: str | None          # a declared object
    prog: str | None            # the program's name inside the object
    maps: tuple                 # map names the assembly may reference as map_fd(NAME)
    log_level: int              # 0: a log only when the load fails (retried with 1, like libbpf)
    log_size: int
    prog_flags: int
    load: bool
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """A BPF ELF object (or a .bpf.c compiled on the fly) loaded with task.load_object."""

    name: str
    path: str                   # as written (relative to the scenario's directory)
    task: str | None
    load: bool
    expect: InlineExpect
    where: Mark


# ---- steps -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Call:
    """kernel.call(func, *args): a call of a simulated kernel function."""

    func: str
    args: tuple                 # YAML values: ints, strings, None, $refs, kobject specs
    cpu: int | None
    task: str | None            # made current on that CPU first
    ret: int | None             # stub: skip the body and return this
    save_as: str | None         # keep the return value as $NAME
    expect: InlineExpect | None  # expect: {ret: ...}
    where: Mark


@dataclass(frozen=True, slots=True)
class TracepointHit:
    """A tracepoint fires with its arguments (kernel.tracepoint)."""

    name: str
    args: tuple
    cpu: int | None
    task: str | None
    where: Mark


@dataclass(frozen=True, slots=True)
class Syscall:
    """kernel.syscall(task, nr, *args): a system call with its sys_enter/sys_exit tracepoints."""

    nr: object                  # a name ("openat") or the architecture's number
    args: tuple
    task: str | None
    save_as: str | None
    expect: InlineExpect | None  # expect: {ret: ...} / {errno: ...}
    where: Mark


@dataclass(frozen=True, slots=True)
class BpfCall:
    """A raw bpf(cmd, attr, size) by a task; attr fields by name."""

    cmd: int                    # BpfCmd
    task: str | None
    attr: tuple                 # ((dotted field, YAML value, Mark), ...)
    size: int | None            # None: sizeof(union bpf_attr)
    save_as: str | None         # keep the returned fd as a named map/prog/link/fd
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class Load:
    """BPF_PROG_LOAD of a declared program (again, as a new instance when save_as is given)."""

    program: str
    save_as: str | None
    task: str | None
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class Attach:
    """Attach a loaded program: LINK_CREATE (tracing, tp_btf), RAW_TRACEPOINT_OPEN (raw_tp),
    perf_event_open + PERF_EVENT_IOC_SET_BPF (kprobe, tracepoint)."""

    prog: str
    save_as: str | None         # the link's name (default: the program's name)
    task: str | None
    target: str | None          # overrides the program's attach_to
    cookie: int
    retprobe: bool              # kretprobe
    via: str | None             # link, raw_tracepoint_open, perf_event (None: by program type)
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class Detach:
    """Close (or LINK_DETACH) links, in the given, reverse or a seeded random order."""

    links: tuple                # names or glob patterns
    order: str                  # given reverse random
    via: str                    # close link_detach
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class Close:
    """close(2) of a named fd."""

    fd: str
    task: str | None
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class MapUpdate:
    """BPF_MAP_UPDATE_ELEM."""

    map: str
    key: object
    value: object
    flags: int
    task: str | None
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class MapDelete:
    """BPF_MAP_DELETE_ELEM."""

    map: str
    key: object
    task: str | None
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class SysctlWrite:
    """A write to /proc/sys (as root unless a task is named)."""

    name: str
    value: int
    task: str | None
    expect: InlineExpect
    where: Mark


@dataclass(frozen=True, slots=True)
class Spawn:
    """A new process."""

    task: TaskSpec
    where: Mark


@dataclass(frozen=True, slots=True)
class Fork:
    """fork(2): the child shares the parent's open files."""

    task: str
    save_as: str
    comm: str | None
    where: Mark


@dataclass(frozen=True, slots=True)
class Exit:
    """exit(2): closes every fd of the task (its links detach)."""

    task: str
    code: int
    where: Mark


@dataclass(frozen=True, slots=True)
class Switch:
    """Run on another CPU (and make a task current there)."""

    cpu: int
    task: str | None
    where: Mark


@dataclass(frozen=True, slots=True)
class Advance:
    """Move the virtual clock forward."""

    ns: int
    where: Mark


@dataclass(frozen=True, slots=True)
class Repeat:
    """Run steps count times (times --scale when scale is true: a load knob); ${var} is the index."""

    count: int
    steps: tuple
    var: str
    scale: bool                 # count is multiplied by --scale (load repeats)
    where: Mark


@dataclass(frozen=True, slots=True)
class KObjectStep:
    """Create a named kernel object (kernel.kobjects) to pass as $NAME."""

    save_as: str | None
    spec: object                # the YAML mapping (one of new/netdev/tcp_sock/udp_sock/skb/...)
    where: Mark


# ---- expectations ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExpectMap:
    """Map contents read back through bpf() (GET_NEXT_KEY + LOOKUP_ELEM) by a task."""

    map: str
    task: str | None
    entries: tuple | None       # ((key, value, Mark), ...): exactly these entries
    contains: tuple             # ((key, value, Mark), ...): at least these
    absent: tuple               # ((key, Mark), ...): not these keys
    count: object               # int or match: the number of entries
    where: Mark


@dataclass(frozen=True, slots=True)
class ExpectRingbuf:
    """Records consumed from a ring buffer map."""

    map: str
    records: tuple | None       # ((value, Mark), ...) in order
    count: object
    type: CType | None          # the record type (None: bytes, compared as hex)
    consume: bool
    where: Mark


@dataclass(frozen=True, slots=True)
class ExpectTracePipe:
    """Lines read from trace_pipe (the bpf_trace_printk text), exact or regex."""

    lines: tuple                # expected texts or patterns, in order
    regex: bool                 # patterns are regular expressions (re.search on the text)
    consume: bool               # read them out (like cat trace_pipe); False: peek
    where: Mark


@dataclass(frozen=True, slots=True)
class ExpectProgStats:
    """Program statistics from OBJ_GET_INFO_BY_FD (bpf_prog_info)."""

    prog: str
    checks: tuple               # ((field, int or match), ...): run_cnt, recursion_misses ...
    where: Mark


@dataclass(frozen=True, slots=True)
class ExpectReturned:
    """What the last call of a kernel function returned (after fmod_ret and stubs)."""

    func: str
    value: object
    where: Mark


@dataclass(frozen=True, slots=True)
class ExpectKObject:
    """Fields of a kernel object the scenario created (the kernel's own view, e.g. a socket's
    total_retrans next to what a program counted)."""

    kobject: str                # its $name (without the $)
    fields: tuple               # ((C path, int or match or value), ...)
    where: Mark


EXPECT_KINDS = (ExpectMap, ExpectRingbuf, ExpectTracePipe, ExpectProgStats, ExpectReturned,
                ExpectKObject)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario, ready to run."""

    name: str
    description: str
    file: str
    digest: str                 # sha256 of the file's text (in the JSON report)
    base: str                   # directory of the file (relative paths start here)
    kernel: KernelSpec
    tasks: tuple                # TaskSpec ...
    maps: tuple                 # MapSpec ...
    objects: tuple              # ObjectSpec ...
    programs: tuple             # ProgSpec ...
    attach: tuple               # Attach ... (setup)
    events: tuple               # steps
    doc: Document = field(repr=False, compare=False)
    arches: tuple = ()          # kernel.arch given as a list: one replay per architecture
    profiles: tuple = ()        # kernel.profile given as a list: one replay per profile

    def variants(self, profiles=None) -> list:
        """The scenario once per architecture of ``arches`` and per profile of ``profiles`` (the
        argument, e.g. ``kernelsim replay --profile``, overrides the file's): ``name[arch]``,
        ``name[profile]`` or ``name[arch,profile]`` in the report; itself when neither is a list."""
        profs = tuple(profiles) if profiles else self.profiles
        arches = self.arches or (self.kernel.arch,)
        if not self.arches and not profs:
            return [self]
        out = []
        for a in arches:
            for p in profs or (self.kernel.profile,):
                tag = ",".join(x for x, shown in ((a, bool(self.arches)), (p, bool(profs))) if shown)
                out.append(replace(self, name=f"{self.name}[{tag}]",
                                   kernel=replace(self.kernel, arch=a, profile=p), arches=(), profiles=()))
        return out


# ---- building ----------------------------------------------------------------------------------

_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc

    def err(self, path, message) -> ScenarioError:
        return self.doc.error(path, message)

    def mark(self, path) -> Mark:
        return self.doc.mark(path)

    def key_mark(self, path) -> Mark:
        return self.doc.key_mark(path)

    # -- small pieces --

    def errno(self, v, path) -> int:
        try:
            return errno_number(v)
        except (KeyError, AttributeError):
            raise self.err(path, f"unknown errno {v!r}") from None

    def flags(self, v, path, enums=FLAG_ENUMS) -> int:
        if v is None:
            return 0
        if isinstance(v, int):
            return v
        out = 0
        for i, f in enumerate(v):
            if isinstance(f, int):
                out |= f
                continue
            for enum in enums:
                if f in enum.__members__:
                    out |= int(enum[f])
                    break
            else:
                raise self.err(path + (i,), f"unknown flag {f!r}")
        return out

    def ctype(self, v, path) -> CType:
        try:
            return parse_type(v)
        except ValueError as e:
            raise self.err(path, str(e)) from None

    def inline(self, d: dict, path) -> InlineExpect:
        e = d.get("expect")
        if e is None:
            return InlineExpect(self.key_mark(path))
        p = path + ("expect",)
        lines = e.get("log", ())
        regex = e.get("log_regex", ())
        for pat_i, pat in enumerate([regex] if isinstance(regex, str) else regex):
            try:
                re.compile(pat)
            except re.error as ex:
                raise self.err(p + ("log_regex",) + ((pat_i,) if not isinstance(regex, str) else ()),
                               f"bad regular expression: {ex}") from None
        return InlineExpect(
            self.mark(p), ok=e.get("ok"), ret=e.get("ret"),
            errno=self.errno(e["errno"], p + ("errno",)) if "errno" in e else None,
            log=(lines,) if isinstance(lines, str) else tuple(lines),
            log_regex=(regex,) if isinstance(regex, str) else tuple(regex), explicit=True)

    def kvs(self, items, path) -> tuple:
        return tuple((kv["key"], kv["value"], self.mark(path + (i,))) for i, kv in enumerate(items or ()))

    def caps(self, v):
        if v is None:
            return None
        if v == "all":
            from kernelsim.cred import CAPABILITIES
            return frozenset(CAPABILITIES)
        if v == "none":
            return frozenset()
        return frozenset(v)

    def task_spec(self, name, t: dict, path) -> TaskSpec:
        caps = self.caps(t.get("caps"))
        if caps:
            from kernelsim.cred import normalize_caps
            try:
                caps = normalize_caps(caps)
            except ValueError as e:
                raise self.err(path + ("caps",), str(e)) from None
        return TaskSpec(name, t.get("comm", name[:15]), t.get("uid", 0), t.get("gid", t.get("uid", 0)),
                        caps, t.get("cpu"), self.key_mark(path))

    # -- sections --

    def kernel(self, k: dict) -> KernelSpec:
        sysctl = tuple((n, v) for n, v in (k.get("sysctl") or {}).items())
        from kernelsim.sysctl import Sysctl
        known = Sysctl()
        for n, _ in sysctl:
            if n not in known:
                raise self.err(("kernel", "sysctl", n), f"unknown sysctl {n!r}")
        arch = k.get("arch", "x86_64")
        profile = k.get("profile", "6.18")
        profile = str(profile if isinstance(profile, str) else profile[0])
        return KernelSpec(arch if isinstance(arch, str) else arch[0], profile, k.get("cpus", 2),
                          k.get("btf"), k.get("seed", 0), sysctl, k.get("insn_cost_ns"),
                          self.declarations(k), tuple((k.get("returns") or {}).items()))

    def declarations(self, k: dict) -> str | None:
        """kernel.declare, checked now against the kernel BTF it extends (a scenario error with
        the line in the YAML file of the declaration that cannot be built)."""
        text = k.get("declare")
        if not text:
            return None
        from pathlib import Path
        from btf import BtfError
        from btf.cdecl import btf_from_c
        from kernelsim.kernel_btf import load_kernel_btf
        btf = k.get("btf")
        if btf is not None and not Path(btf).is_absolute():
            btf = str(Path(self.doc.base) / btf)
        try:
            btf_from_c(text, load_kernel_btf(btf), "declare")
        except ValueError:
            return text                     # the BTF file itself is bad: the replay reports it
        except BtfError as e:
            m = re.match(r"declare:(\d+): (.*)", e.message)
            mark = self.mark(("kernel", "declare"))
            if not m:
                msg = e.message[len("declare: "):] if e.message.startswith("declare: ") else e.message
                raise self.err(("kernel", "declare"), msg) from None
            lines = self.doc.text.splitlines()
            here = lines[mark.line - 1][mark.col - 1:] if mark.line <= len(lines) else ""
            block = here[:1] in ("|", ">")  # a block scalar's text starts on the next line
            line = mark.line + int(m.group(1)) if block else mark.line
            raise ScenarioError(m.group(2), Mark(mark.file, line, 1), "kernel.declare") from None
        return text

    def map_spec(self, name, m: dict, path) -> MapSpec:
        try:
            mtype = _enum_lookup(uapi.BpfMapType, "BPF_MAP_TYPE_", m["type"])
        except (KeyError, ValueError):
            raise self.err(path + ("type",), f"unknown map type {m['type']!r}") from None
        if "key" in m and "key_size" in m:
            raise self.err(path, "give key or key_size, not both")
        if "value" in m and "value_size" in m:
            raise self.err(path, "give value or value_size, not both")
        key = self.ctype(m["key"], path + ("key",)) if "key" in m else bytes_type(m.get("key_size", 4))
        value = (self.ctype(m["value"], path + ("value",)) if "value" in m
                 else bytes_type(m.get("value_size", 8)))
        if mtype in (uapi.BpfMapType.BPF_MAP_TYPE_RINGBUF,) and "key" not in m and "key_size" not in m:
            key, value = bytes_type(0), bytes_type(0) if "value" not in m else value
        return MapSpec(name, int(mtype), m.get("name", name[:15]), key, value,
                       m.get("max_entries", 1), self.flags(m.get("flags"), path + ("flags",)),
                       m.get("map_extra", 0), m.get("task"), self.kvs(m.get("init"), path + ("init",)),
                       m.get("load", True), self.inline(m, path), self.key_mark(path))

    def prog_spec(self, name, p: dict, path) -> ProgSpec:
        ptype = atype = None
        if "type" in p:
            try:
                ptype = int(_enum_lookup(uapi.BpfProgType, "BPF_PROG_TYPE_", p["type"]))
            except (KeyError, ValueError):
                raise self.err(path + ("type",), f"unknown program type {p['type']!r}") from None
        elif "asm" in p:
            raise self.err(path, "an assembly program needs its type: (tracing, kprobe ...)")
        if "attach_type" in p:
            try:
                atype = int(_enum_lookup(uapi.BpfAttachType, "BPF_", p["attach_type"], ATTACH_ALIASES))
            except (KeyError, ValueError):
                raise self.err(path + ("attach_type",), f"unknown attach type {p['attach_type']!r}") from None
        if "object" in p and "prog" not in p:
            raise self.err(path, "a program of an object needs prog: (its function name)")
        return ProgSpec(name, ptype, atype, p.get("attach_to"), p.get("license", "GPL"),
                        p.get("name", name[:15]), p.get("task"), p.get("asm"), p.get("dialect"),
                        p.get("source"), p.get("object"), p.get("prog", name if "source" in p else None),
                        tuple(p.get("maps", ())), p.get("log_level", 0), p.get("log_size", 1 << 16),
                        self.flags(p.get("prog_flags"), path + ("prog_flags",))
                        | (int(uapi.BpfProgFlags.BPF_F_SLEEPABLE) if p.get("sleepable") else 0),
                        p.get("load", True), self.inline(p, path), self.key_mark(path))

    def attach(self, a: dict, path) -> Attach:
        return Attach(a["prog"], a.get("as"), a.get("task"), a.get("target"), a.get("cookie", 0),
                      a.get("retprobe", False), a.get("via"), self.inline(a, path), self.mark(path))

    # -- steps --

    def steps(self, items, path) -> tuple:
        return tuple(self.step(s, path + (i,)) for i, s in enumerate(items or ()))

    def step(self, s: dict, path):
        (kind, body), = s.items()
        p = path + (kind,)
        where = self.mark(path)
        if kind == "call":
            exp = self.inline(body, p) if "expect" in body else None
            return Call(body["func"], tuple(body.get("args", ())), body.get("cpu"), body.get("task"),
                        body.get("ret"), body.get("as"), exp, where)
        if kind == "tracepoint":
            return TracepointHit(body["name"], tuple(body.get("args", ())), body.get("cpu"),
                                 body.get("task"), where)
        if kind == "syscall":
            exp = self.inline(body, p) if "expect" in body else None
            return Syscall(body["nr"], tuple(body.get("args", ())), body.get("task"), body.get("as"),
                           exp, where)
        if kind == "bpf":
            try:
                cmd = int(_enum_lookup(uapi.BpfCmd, "BPF_", body["cmd"]))
            except (KeyError, ValueError):
                raise self.err(p + ("cmd",), f"unknown bpf command {body['cmd']!r}") from None
            from syscall import abi
            fields = {f.name for f in abi.walk_fields(abi.ffi.typeof("union bpf_attr"))}
            attr = []
            for k, v in (body.get("attr") or {}).items():
                if k not in fields:
                    close = [f for f in fields if f.endswith("." + k)]
                    hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
                    raise self.err(p + ("attr", k), f"union bpf_attr has no field {k!r}{hint}")
                attr.append((k, v, self.mark(p + ("attr", k))))
            return BpfCall(cmd, body.get("task"), tuple(attr), body.get("size"), body.get("as"),
                           self.inline(body, p), where)
        if kind == "load":
            if isinstance(body, str):
                return Load(body, None, None, InlineExpect(where), where)
            return Load(body["program"], body.get("as"), body.get("task"), self.inline(body, p), where)
        if kind == "attach":
            return self.attach(body, p)
        if kind == "detach":
            links = body.get("links", body.get("link"))
            links = (links,) if isinstance(links, str) else tuple(links)
            return Detach(links, body.get("order", "given"), body.get("via", "close"),
                          self.inline(body, p), where)
        if kind == "close":
            return Close(body["fd"], body.get("task"), self.inline(body, p), where)
        if kind == "map_update":
            return MapUpdate(body["map"], body["key"], body["value"],
                             self.flags(body.get("flags"), p + ("flags",)), body.get("task"),
                             self.inline(body, p), where)
        if kind == "map_delete":
            return MapDelete(body["map"], body["key"], body.get("task"), self.inline(body, p), where)
        if kind == "sysctl":
            from kernelsim.sysctl import Sysctl
            if body["name"] not in Sysctl():
                raise self.err(p + ("name",), f"unknown sysctl {body['name']!r}")
            return SysctlWrite(body["name"], body["value"], body.get("task"), self.inline(body, p), where)
        if kind == "spawn":
            return Spawn(self.task_spec(body["name"], body, p), where)
        if kind == "fork":
            return Fork(body["task"], body["as"], body.get("comm"), where)
        if kind == "exit":
            if isinstance(body, str):
                return Exit(body, 0, where)
            return Exit(body["task"], body.get("code", 0), where)
        if kind == "switch":
            return Switch(body["cpu"], body.get("task"), where)
        if kind == "advance":
            return Advance(self.duration(body, p), where)
        if kind == "repeat":
            return Repeat(body["count"], self.steps(body["steps"], p + ("steps",)), body.get("var", "i"),
                          body.get("scale", False), where)
        if kind == "kobject":
            return KObjectStep(body.get("as"), body, where)
        if kind == "expect":
            return self.expect(body, p)
        raise self.err(p, f"unknown step kind {kind!r}")      # the schema stops this first

    def duration(self, v, path) -> int:
        if isinstance(v, int):
            return v
        if isinstance(v, dict):
            return v["ns"]
        m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(ns|us|ms|s)", v)
        if not m:
            raise self.err(path, f"bad duration {v!r}")
        from decimal import Decimal
        return int(Decimal(m.group(1)) * _UNIT_NS[m.group(2)])

    def expect(self, e: dict, p):
        where = self.mark(p)
        if "map" in e:
            entries = self.kvs(e["entries"], p + ("entries",)) if "entries" in e else None
            absent = tuple((k, self.mark(p + ("absent", i))) for i, k in enumerate(e.get("absent", ())))
            self.only(e, p, {"map", "task", "entries", "contains", "absent", "count"})
            return ExpectMap(e["map"], e.get("task"), entries, self.kvs(e.get("contains"), p + ("contains",)),
                             absent, e.get("count"), where)
        if "ringbuf" in e:
            self.only(e, p, {"ringbuf", "records", "count", "type", "consume"})
            recs = (tuple((r, self.mark(p + ("records", i))) for i, r in enumerate(e["records"]))
                    if "records" in e else None)
            return ExpectRingbuf(e["ringbuf"], recs, e.get("count"),
                                 self.ctype(e["type"], p + ("type",)) if "type" in e else None,
                                 e.get("consume", True), where)
        if "trace_pipe" in e:
            self.only(e, p, {"trace_pipe", "regex", "consume"})
            lines = e["trace_pipe"]
            lines = (lines,) if isinstance(lines, str) else tuple(lines)
            if e.get("regex"):
                for i, pat in enumerate(lines):
                    try:
                        re.compile(pat)
                    except re.error as ex:
                        raise self.err(p + ("trace_pipe", i), f"bad regular expression: {ex}") from None
            return ExpectTracePipe(lines, bool(e.get("regex")), e.get("consume", True), where)
        if "prog" in e:
            stats = ("run_cnt", "recursion_misses", "run_time_ns", "verified_insns")
            self.only(e, p, {"prog", *stats})
            checks = tuple((k, e[k]) for k in stats if k in e)
            if not checks:
                raise self.err(p, "a prog expectation needs one of " + ", ".join(stats))
            return ExpectProgStats(e["prog"], checks, where)
        if "kobject" in e:
            self.only(e, p, {"kobject", "fields"})
            if not e.get("fields"):
                raise self.err(p, "a kobject expectation needs fields: {path: value}")
            return ExpectKObject(e["kobject"].lstrip("$"), tuple(e["fields"].items()), where)
        if "returned" in e:
            self.only(e, p, {"returned", "value"})
            if "value" not in e:
                raise self.err(p, "missing required field 'value'")
            return ExpectReturned(e["returned"], e["value"], where)
        raise self.err(p, "unknown expectation")

    def only(self, e, p, allowed):
        for k in e:
            if k not in allowed:
                raise self.err(p + (k,), f"field {k!r} does not belong to this expectation "
                               f"(allowed: {', '.join(sorted(allowed))})")


def build_scenario(doc: Document) -> Scenario:
    """Validate ``doc`` against the schema and build its records. ScenarioError on any problem."""
    validate(doc)
    v = doc.value
    b = _Builder(doc)
    kernel = b.kernel(v.get("kernel") or {})
    tasks = tuple(b.task_spec(n, t or {}, ("tasks", n)) for n, t in (v.get("tasks") or {}).items())
    maps = tuple(b.map_spec(n, m, ("maps", n)) for n, m in (v.get("maps") or {}).items())
    objects = tuple(ObjectSpec(n, o["path"], o.get("task"), o.get("load", True),
                               b.inline(o, ("objects", n)), b.key_mark(("objects", n)))
                    for n, o in (v.get("objects") or {}).items())
    programs = tuple(b.prog_spec(n, p, ("programs", n)) for n, p in (v.get("programs") or {}).items())
    attach = tuple(b.attach(a, ("attach", i)) for i, a in enumerate(v.get("attach") or ()))
    events = b.steps(v.get("events"), ("events",))
    names = [t.name for t in tasks]
    _check_refs(b, v, names, maps, programs, objects)
    name = v.get("name") or doc.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    arch = (v.get("kernel") or {}).get("arch")
    arches = tuple(dict.fromkeys(arch)) if isinstance(arch, list) else ()
    profile = (v.get("kernel") or {}).get("profile")
    profiles = tuple(dict.fromkeys(str(p) for p in profile)) if isinstance(profile, list) else ()
    return Scenario(name, v.get("description", "").strip(), doc.file,
                    hashlib.sha256(doc.text.encode()).hexdigest(), str(doc.base), kernel, tasks,
                    maps, objects, programs, attach, events, doc, arches, profiles)


def _check_refs(b: _Builder, v, tasks, maps, programs, objects) -> None:
    """Static references that must exist: tasks of declared things, objects of programs."""
    objnames = {o.name for o in objects}
    for section, items in (("maps", maps), ("programs", programs), ("objects", objects)):
        for item in items:
            if item.task is not None and item.task not in tasks:
                raise b.err((section, item.name, "task"), f"no task {item.task!r} (tasks: {', '.join(tasks) or 'none'})")
    for p in programs:
        if p.object is not None and p.object not in objnames:
            raise b.err(("programs", p.name, "object"), f"no object {p.object!r}")


def walk_steps(steps):
    """Every step, repeat bodies included (for static checks and tests)."""
    for s in steps:
        yield s
        if isinstance(s, Repeat):
            yield from walk_steps(s.steps)


__all__ = ["build_scenario", "Scenario", "field_name", "errno_name", "errno_number"]
