"""bpftool's show/list/dump commands over a simulated kernel (tools/bpf/bpftool/prog.c, map.c,
link.c; facade layer, docs/scenarios.md "Inspecting the end state").

Like bpftool, these only use bpf(): ``*_GET_NEXT_ID`` to walk the ids, ``*_GET_FD_BY_ID`` to open
each object, ``OBJ_GET_INFO_BY_FD`` for what to print (twice for programs: sizes, then map ids
and instructions into buffers), ``MAP_GET_NEXT_KEY`` + ``MAP_LOOKUP_ELEM`` for dumps — issued
by a "bpftool" task (uid 0, every capability) on the kernel being inspected:

* ``--after FILE``: replay the scenario FILE first and inspect the machine it leaves (its
  tasks still hold their fds, so what they created is still there);
* otherwise a fresh machine (``--arch``), which has nothing loaded.

Plain output follows bpftool v7.1's print_prog_plain, show_map_close_plain,
show_link_close_plain and print_entry_plain, including their double spaces and trailing
blanks; ``-j`` gives bpftool's JSON field names. Deviations (docs/scenarios.md): ``loaded_at``
is the virtual boot time plus a fixed epoch (2025-01-01T00:00:00Z boot), programs are never
jited ("not jited"), map memlock is printed only when the map can say it (no fdinfo), BTF-typed
map dumps are the plain hex form, and there is no ``pids`` line (no procfs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kernelsim import uapi
from kernelsim.tools import userbpf
from kernelsim.tools.features import FeatureMissing

BOOT_EPOCH = 1735689600 - 5          # 2025-01-01T00:00:00Z minus the clock's 5 s uptime at boot
PAGE_SIZE = 4096
BPF_PROG_HEADER = 72                 # offsetof(struct bpf_prog, insns) on x86-64 (bpf_prog_size)


def _enum_str(enum, value: int, prefix: str) -> str | None:
    """libbpf_bpf_*_type_str: the uapi name lowercased without its prefix, or None."""
    try:
        name = enum(value).name
    except ValueError:
        return None
    return name[len(prefix):].lower() if name.startswith(prefix) else name.lower()


def prog_type_str(v: int):
    return _enum_str(uapi.BpfProgType, v, "BPF_PROG_TYPE_")


def map_type_str(v: int):
    return _enum_str(uapi.BpfMapType, v, "BPF_MAP_TYPE_")


def link_type_str(v: int):
    return _enum_str(uapi.BpfLinkType, v, "BPF_LINK_TYPE_")


def attach_type_str(v: int):
    return _enum_str(uapi.BpfAttachType, v, "BPF_")


def fprint_hex(data: bytes) -> str:
    """bpftool's fprint_hex with sep " ": two spaces every 8 bytes, a newline every 16."""
    out = []
    for i, b in enumerate(data):
        if i:
            out.append("\n" if i % 16 == 0 else "  " if i % 8 == 0 else " ")
        out.append(f"{b:02x}")
    return "".join(out)


def boot_time(load_time_ns: int) -> str:
    """print_boot_time: %FT%T%z of boot + load_time (the simulated boot epoch, UTC)."""
    t = time.gmtime(BOOT_EPOCH + load_time_ns // 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", t)


class Inspector:
    """bpftool's view of one kernel: a root task issuing the syscalls."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.task = kernel.spawn(comm="bpftool", uid=0)
        self.out: list[str] = []

    def close(self) -> None:
        self.task.exit(0)

    def _open(self, kind: str, obj_id: int) -> int:
        return userbpf.get_fd_by_id(self.task, kind, obj_id)

    def ids(self, kind: str) -> list[int]:
        ret, out = userbpf.ids(self.task, kind)
        if ret < 0:
            raise RuntimeError(f"can't get next {kind}: {userbpf_strerror(ret)}")
        return out

    # -- programs --

    def prog_record(self, prog_id: int):
        fd = self._open("prog", prog_id)
        if fd < 0:
            return None, f"can't get prog by id ({prog_id}): {userbpf_strerror(fd)}"
        try:
            ret, info, extra = userbpf.prog_info_full(self.task, fd)
            if ret < 0:
                return None, f"can't get prog info: {userbpf_strerror(ret)}"
            return (info, extra, self._prog_memlock(fd, info)), None
        finally:
            self.task.close(fd)

    def _prog_memlock(self, fd: int, info) -> int:
        """fdinfo memlock: prog->pages * PAGE_SIZE for bpf_prog_size(insn_cnt)."""
        n = int(info.xlated_prog_len) // 8
        try:
            n = len(self.task.files.get(fd).obj.insns)
        except Exception:
            pass
        size = BPF_PROG_HEADER + 8 * n
        return (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE

    def prog_plain(self, info, extra, memlock) -> str:
        t = prog_type_str(int(info.type))
        s = f"{int(info.id)}: " + (f"{t}  " if t else f"type {int(info.type)}  ")
        name = userbpf.cstr(info.name)
        if name:
            s += f"name {name}  "
        s += "tag " + bytes(info.tag).hex()
        if info.gpl_compatible:
            s += "  gpl"
        if int(info.run_time_ns):
            s += f" run_time_ns {int(info.run_time_ns)} run_cnt {int(info.run_cnt)}"
        if int(info.recursion_misses):
            s += f" recursion_misses {int(info.recursion_misses)}"
        s += "\n"
        if int(info.load_time):
            s += f"\tloaded_at {boot_time(int(info.load_time))}  uid {int(info.created_by_uid)}\n"
        s += f"\txlated {int(info.xlated_prog_len)}B"
        s += f"  jited {int(info.jited_prog_len)}B" if int(info.jited_prog_len) else "  not jited"
        s += f"  memlock {memlock}B"
        if extra.get("map_ids"):
            s += "  map_ids " + ",".join(str(i) for i in extra["map_ids"])
        if int(info.btf_id):
            s += f"\n\tbtf_id {int(info.btf_id)}"
        return s + "\n"

    def prog_json(self, info, extra, memlock) -> dict:
        d = {"id": int(info.id), "type": prog_type_str(int(info.type)) or int(info.type)}
        name = userbpf.cstr(info.name)
        if name:
            d["name"] = name
        d["tag"] = bytes(info.tag).hex()
        d["gpl_compatible"] = bool(info.gpl_compatible)
        if int(info.run_time_ns):
            d["run_time_ns"], d["run_cnt"] = int(info.run_time_ns), int(info.run_cnt)
        if int(info.recursion_misses):
            d["recursion_misses"] = int(info.recursion_misses)
        if int(info.load_time):
            d["loaded_at"] = BOOT_EPOCH + int(info.load_time) // 1_000_000_000
            d["uid"] = int(info.created_by_uid)
        d["orphaned"] = bool(getattr(info, "orphaned", 0))
        d["bytes_xlated"] = int(info.xlated_prog_len)
        d["jited"] = bool(int(info.jited_prog_len))
        if int(info.jited_prog_len):
            d["bytes_jited"] = int(info.jited_prog_len)
        d["bytes_memlock"] = memlock
        if extra.get("map_ids"):
            d["map_ids"] = extra["map_ids"]
        if int(info.btf_id):
            d["btf_id"] = int(info.btf_id)
        return d

    def dump_xlated(self, prog_id: int) -> str:
        from kernelsim.isa import BPFTOOL_CBS, decode_insns, disasm_insns
        rec, err = self.prog_record(prog_id)
        if rec is None:
            raise RuntimeError(err)
        _, extra, _ = rec
        if not extra.get("xlated"):
            return "no instructions returned\n"
        return "\n".join(disasm_insns(decode_insns(extra["xlated"]), BPFTOOL_CBS, bpftool=True)) + "\n"

    # -- maps --

    def map_record(self, map_id: int):
        fd = self._open("map", map_id)
        if fd < 0:
            return None, f"can't get map by id ({map_id}): {userbpf_strerror(fd)}"
        try:
            ret, info = userbpf.obj_get_info(self.task, fd, "map")
            if ret < 0:
                return None, f"can't get map info: {userbpf_strerror(ret)}"
            return (info, self._map_memlock(fd)), None
        finally:
            self.task.close(fd)

    def _map_memlock(self, fd: int):
        try:
            m = self.task.files.get(fd).obj
        except Exception:
            return None
        usage = getattr(getattr(m, "ops", None), "map_mem_usage", None)
        if callable(usage):
            return int(usage(m))
        v = getattr(m, "memlock", None)
        return int(v) if isinstance(v, int) else None

    def map_plain(self, info, memlock) -> str:
        t = map_type_str(int(info.type))
        s = f"{int(info.id)}: " + (f"{t}  " if t else f"type {int(info.type)}  ")
        name = userbpf.cstr(info.name)
        if name:
            s += f"name {name}  "
        s += f"flags 0x{int(info.map_flags):x}\n"
        s += f"\tkey {int(info.key_size)}B  value {int(info.value_size)}B  max_entries {int(info.max_entries)}"
        if memlock is not None:
            s += f"  memlock {memlock}B"
        if int(info.btf_id):
            s += f"\n\tbtf_id {int(info.btf_id)}"
        return s + "\n"

    def map_json(self, info, memlock) -> dict:
        d = {"id": int(info.id), "type": map_type_str(int(info.type)) or int(info.type)}
        name = userbpf.cstr(info.name)
        if name:
            d["name"] = name
        d.update(flags=int(info.map_flags), bytes_key=int(info.key_size),
                 bytes_value=int(info.value_size), max_entries=int(info.max_entries))
        if memlock is not None:
            d["bytes_memlock"] = memlock
        if int(info.btf_id):
            d["btf_id"] = int(info.btf_id)
        return d

    def map_dump(self, map_id: int, as_json: bool = False):
        fd = self._open("map", map_id)
        if fd < 0:
            raise RuntimeError(f"can't get map by id ({map_id}): {userbpf_strerror(fd)}")
        try:
            ret, info = userbpf.obj_get_info(self.task, fd, "map")
            if ret < 0:
                raise RuntimeError(f"can't get map info: {userbpf_strerror(ret)}")
            ksz, vsz, mtype = int(info.key_size), int(info.value_size), int(info.type)
            percpu = map_type_str(mtype) in ("percpu_hash", "percpu_array", "lru_percpu_hash")
            ncpus = self.kernel.ncpus
            step = (vsz + 7) // 8 * 8
            ret, entries = userbpf.map_entries(self.task, fd, ksz, step * ncpus if percpu else vsz)
            if ret < 0:
                raise RuntimeError(f"can't get next key: {userbpf_strerror(ret)}")
        finally:
            self.task.close(fd)
        if as_json:
            rows = []
            for k, v in entries:
                row = {"key": [f"0x{b:02x}" for b in k]}
                if percpu:
                    row["values"] = [{"cpu": i, "value": [f"0x{b:02x}" for b in v[i * step:i * step + vsz]]}
                                     for i in range(ncpus)]
                else:
                    row["value"] = [f"0x{b:02x}" for b in v]
                rows.append(row)
            return rows
        out = []
        for k, v in entries:
            if not percpu:
                break_names = ksz > 16 or vsz > 16
                single = ksz + vsz <= 24 and not break_names
                line = ""
                if ksz:
                    line += f"key:{chr(10) if break_names else ' '}{fprint_hex(k)}" + ("  " if single else "\n")
                if vsz:
                    line += f"value:{chr(10) if break_names else ' '}{fprint_hex(v)}"
                out.append(line + "\n")
            else:
                line = f"key:\n{fprint_hex(k)}\n" if ksz else ""
                for i in range(ncpus):
                    line += f"value (CPU {i:02d}):{chr(10) if vsz > 16 else ' '}{fprint_hex(v[i * step:i * step + vsz])}\n"
                out.append(line)
        n = len(entries)
        out.append(f"Found {n} element{'' if n == 1 else 's'}\n")
        return "".join(out)

    # -- links --

    def link_record(self, link_id: int):
        fd = self._open("link", link_id)
        if fd < 0:
            return None, f"can't get link by id ({link_id}): {userbpf_strerror(fd)}"
        try:
            ret, info = userbpf.obj_get_info(self.task, fd, "link")
            if ret < 0:
                return None, f"can't get link info: {userbpf_strerror(ret)}"
            extra = {}
            ltype = link_type_str(int(info.type))
            if ltype == "raw_tracepoint":
                buf = userbpf.Buf(256)
                info2 = userbpf.abi.ffi.new("struct bpf_link_info *")
                info2.raw_tracepoint.tp_name = buf.addr
                info2.raw_tracepoint.tp_name_len = 256
                if userbpf.obj_get_info(self.task, fd, "link", info2)[0] == 0:
                    extra["tp_name"] = buf.cstr()
            elif ltype == "tracing":
                pfd = self._open("prog", int(info.prog_id))
                if pfd >= 0:
                    r, pinfo = userbpf.obj_get_info(self.task, pfd, "prog")
                    self.task.close(pfd)
                    if r == 0:
                        extra["prog_type"] = int(pinfo.type)
            return (info, extra), None
        finally:
            self.task.close(fd)

    def link_plain(self, info, extra) -> str:
        t = link_type_str(int(info.type))
        s = f"{int(info.id)}: " + (f"{t}  " if t else f"type {int(info.type)}  ")
        if t != "struct_ops":
            s += f"prog {int(info.prog_id)}  "
        if t == "raw_tracepoint":
            s += f"\n\ttp '{extra.get('tp_name', '')}'  "
        elif t == "tracing":
            pt = extra.get("prog_type")
            if pt is not None:
                pts = prog_type_str(pt)
                s += f"\n\tprog_type {pts}  " if pts else f"\n\tprog_type {pt}  "
            at = int(info.tracing.attach_type)
            ats = attach_type_str(at)
            s += f"attach_type {ats}  " if ats else f"attach_type {at}  "
            if int(info.tracing.target_obj_id) or int(info.tracing.target_btf_id):
                s += (f"\n\ttarget_obj_id {int(info.tracing.target_obj_id)}  "
                      f"target_btf_id {int(info.tracing.target_btf_id)}  ")
        return s + "\n"

    def link_json(self, info, extra) -> dict:
        t = link_type_str(int(info.type))
        d = {"id": int(info.id), "type": t or int(info.type), "prog_id": int(info.prog_id)}
        if t == "raw_tracepoint":
            d["tp_name"] = extra.get("tp_name", "")
        elif t == "tracing":
            if extra.get("prog_type") is not None:
                d["prog_type"] = prog_type_str(extra["prog_type"]) or extra["prog_type"]
            d["attach_type"] = attach_type_str(int(info.tracing.attach_type)) or int(info.tracing.attach_type)
            d["target_obj_id"] = int(info.tracing.target_obj_id)
            d["target_btf_id"] = int(info.tracing.target_btf_id)
        return d


def userbpf_strerror(ret: int) -> str:
    import os
    return os.strerror(-ret) if ret < 0 else "Success"


# ---- argument handling ---------------------------------------------------------------------------

def _common(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, add_help=True)
    p.add_argument("--after", metavar="FILE", help="replay this scenario first and inspect its end state")
    p.add_argument("--seed", type=int, help="the replay's seed (with --after)")
    p.add_argument("--scale", type=float, help="the replay's repeat scale (with --after)")
    p.add_argument("--arch", default="x86_64", help="architecture of a fresh machine (without --after)")
    p.add_argument("-j", "--json", action="store_true", help="JSON output")
    p.add_argument("-p", "--pretty", action="store_true", help="pretty JSON (implies -j)")
    return p


def _kernel(args, err):
    """The machine to inspect: a replay's end state, or a fresh one. (kernel, status message)."""
    if args.after:
        from kernelsim.replay import ScenarioError, load_scenario
        from kernelsim.replay.runner import Replay
        try:
            sc = load_scenario(args.after)
        except ScenarioError as e:
            print(f"kernelsim: {e}", file=err)
            return None, 2
        res = Replay(sc, seed=args.seed, scale=args.scale or 1.0).run()
        if not res.ok:
            from kernelsim.replay.report import summary_line
            print(f"kernelsim: note: the replay did not succeed: {summary_line(res)}", file=err)
        if res.kernel is None:
            return None, 1
        return res.kernel, 0
    from kernelsim.facade import Kernel
    return Kernel(arch=args.arch), 0


def _run(kind: str, argv: list[str], out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    p = _common(f"kernelsim {kind}")
    p.add_argument("command", nargs="?", default="show")
    p.add_argument("rest", nargs="*")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    cmd, rest = args.command, args.rest
    valid = {"prog": ("show", "list", "dump", "help"), "map": ("show", "list", "dump", "help"),
             "link": ("show", "list", "help")}[kind]
    if cmd not in valid:
        print(f"Error: unknown command '{cmd}' (kernelsim {kind} {'|'.join(valid)})", file=err)
        return 2
    if cmd == "help":
        print(f"Usage: kernelsim {kind} {{ {' | '.join(v for v in valid if v != 'help')} }} [id ID] "
              "[--after FILE] [-j]", file=out)
        return 0
    want_id = None
    if cmd == "dump" and kind == "prog":
        if not rest or rest[0] != "xlated":
            print("Error: expected 'xlated' (kernelsim prog dump xlated id N)", file=err)
            return 2
        rest = rest[1:]
    if rest:
        if len(rest) != 2 or rest[0] != "id" or not rest[1].isdigit():
            print(f"Error: expected 'id ID', got {' '.join(rest)!r}", file=err)
            return 2
        want_id = int(rest[1])
    elif cmd == "dump":
        print(f"Error: {kind} dump needs 'id ID'", file=err)
        return 2
    from kernelsim.logging_setup import logging_configured
    with logging_configured():
        try:
            kernel, status = _kernel(args, err)
            if kernel is None:
                return status
            ins = Inspector(kernel)
            text = _command(ins, kind, cmd, want_id, args.json or args.pretty)
        except FeatureMissing as e:
            print(f"kernelsim {kind}: {e}", file=err)
            return 1
        except RuntimeError as e:
            print(f"Error: {e}", file=err)
            return 1
    if isinstance(text, (list, dict)):
        text = json.dumps(text, indent=4 if args.pretty else None, separators=None if args.pretty else (",", ":")) + "\n"
    out.write(text)
    return 0


def _command(ins: Inspector, kind: str, cmd: str, want_id, as_json: bool):
    if cmd == "dump":
        if kind == "prog":
            return ins.dump_xlated(want_id)
        return ins.map_dump(want_id, as_json)
    ids = [want_id] if want_id is not None else ins.ids(kind)
    plain, js = [], []
    for i in ids:
        rec, err = getattr(ins, f"{kind}_record")(i)
        if rec is None:
            if want_id is not None:
                raise RuntimeError(err)
            continue            # vanished between GET_NEXT_ID and GET_FD_BY_ID
        if as_json:
            js.append(getattr(ins, f"{kind}_json")(*rec))
        else:
            plain.append(getattr(ins, f"{kind}_plain")(*rec))
    if as_json:
        return js[0] if want_id is not None and js else js
    return "".join(plain)


def prog_main(argv: list[str]) -> int:
    """kernelsim prog { show | list } [id ID] | dump xlated id ID   [--after FILE] [-j]"""
    return _run("prog", argv)


def map_main(argv: list[str]) -> int:
    """kernelsim map { show | list } [id ID] | dump id ID   [--after FILE] [-j]"""
    return _run("map", argv)


def link_main(argv: list[str]) -> int:
    """kernelsim link { show | list } [id ID]   [--after FILE] [-j]"""
    return _run("link", argv)


# object -> (module, function) of the bpftool front (only imported when used)
BPFTOOL_OBJECTS = {
    "prog": ("kernelsim.tools.bpftool_cmds", "prog_main"),
    "map": ("kernelsim.tools.bpftool_cmds", "map_main"),
    "link": ("kernelsim.tools.bpftool_cmds", "link_main"),
    "btf": ("kernelsim.tools.btf_cmd", "main"),
    "trampoline": ("kernelsim.tools.trampoline_cmd", "main"),
    "asm": ("kernelsim.isa.cli", "asm_main"),
    "disasm": ("kernelsim.isa.cli", "disasm_main"),
}


def bpftool_main(argv: list[str]) -> int:
    """kernelsim bpftool OBJECT ...: the same commands under bpftool's object words."""
    import importlib
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage: kernelsim bpftool { " + " | ".join(BPFTOOL_OBJECTS) + " } ...")
        return 0 if argv else 2
    obj, rest = argv[0], argv[1:]
    if obj not in BPFTOOL_OBJECTS:
        print(f"Error: unknown object '{obj}' ({', '.join(BPFTOOL_OBJECTS)})", file=sys.stderr)
        return 2
    module, func = BPFTOOL_OBJECTS[obj]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        print(f"kernelsim bpftool {obj}: not available in this build ({module})", file=sys.stderr)
        return 1
    return int(getattr(mod, func)(rest) or 0)
