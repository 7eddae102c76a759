"""``kernelsim btf``: btf/cli.py's commands on files, plus bpftool's view of the BTF objects a
machine holds (tools/bpf/bpftool/btf.c; facade layer, docs/scenarios.md "Inspecting the end
state").

    kernelsim btf dump [FILE] [--format raw|c]          # a file, or the embedded kernel BTF
    kernelsim btf list --after SCENARIO                 # the BTF objects a replay left
    kernelsim btf dump --after SCENARIO [id N] [--format raw|c]

With ``--after`` the scenario is replayed first and, as bpftool does, a root "bpftool" task walks
BPF_BTF_GET_NEXT_ID, opens each object with BTF_GET_FD_BY_ID and reads it with
OBJ_GET_INFO_BY_FD (twice: the size, then the bytes into a buffer). ``list`` prints bpftool's
show_btf_plain lines (``1: name [vmlinux]  size 461708B``; user BTF with the programs and maps
that use it); ``dump`` without ``id`` dumps object 1, the kernel's BTF. Without ``--after`` every
command is btf/cli.py's (this module only adds the machine side, which btf/ cannot import).
"""

from __future__ import annotations

import argparse
import sys

from kernelsim.tools import userbpf


def _btf_bytes(task, fd: int):
    """(ret, info, raw BTF bytes) of a BTF fd: bpf_btf_info's size first, then the data."""
    from syscall import abi
    ret, info = userbpf.obj_get_info(task, fd, "btf")
    if ret < 0:
        return ret, info, b"", ""
    size = int(info.btf_size)
    buf = userbpf.Buf(size or 1)
    name = userbpf.Buf(64)
    info2 = abi.ffi.new("struct bpf_btf_info *")
    info2.btf, info2.btf_size = buf.addr, size
    info2.name, info2.name_len = name.addr, 64
    ret, info2 = userbpf.obj_get_info(task, fd, "btf", info2)
    if ret < 0:
        return ret, info, b"", ""
    return ret, info2, buf.bytes(size), name.cstr()


def _strerror(ret: int) -> str:
    from kernelsim.tools.bpftool_cmds import userbpf_strerror
    return userbpf_strerror(ret)


def _users(ins, kind: str) -> dict[int, list[int]]:
    """btf id -> ids of the programs or maps whose info names it (bpftool's btf_prog_table)."""
    out: dict[int, list[int]] = {}
    for obj_id in ins.ids(kind):
        fd = userbpf.get_fd_by_id(ins.task, kind, obj_id)
        if fd < 0:
            continue
        try:
            ret, info = userbpf.obj_get_info(ins.task, fd, kind)
            if ret >= 0 and int(info.btf_id):
                out.setdefault(int(info.btf_id), []).append(obj_id)
        finally:
            ins.task.close(fd)
    return out


def _read(ins, btf_id: int):
    fd = userbpf.get_fd_by_id(ins.task, "btf", btf_id)
    if fd < 0:
        raise RuntimeError(f"get btf by id ({btf_id}): {_strerror(fd)}")
    try:
        got = _btf_bytes(ins.task, fd)
    finally:
        ins.task.close(fd)
    if got[0] < 0:
        raise RuntimeError(f"can't get BTF object info: {_strerror(got[0])}")
    _, info, data, name = got
    return info, data, name


def btf_list(ins) -> str:
    progs, maps = _users(ins, "prog"), _users(ins, "map")
    lines = []
    for btf_id in ins.ids("btf"):
        try:
            info, _, name = _read(ins, btf_id)
        except RuntimeError:
            continue                       # freed between GET_NEXT_ID and GET_FD_BY_ID
        s = f"{btf_id}: "
        if int(info.kernel_btf):
            s += f"name [{name}]  "
        else:
            s += f"name {name}  " if name else "name <anon>  "
        s += f"size {int(info.btf_size)}B"
        for word, table in (("prog_ids", progs), ("map_ids", maps)):
            if table.get(btf_id):
                s += f"  {word} " + ",".join(str(i) for i in sorted(table[btf_id]))
        lines.append(s + "\n")
    return "".join(lines)


def btf_dump(ins, btf_id: int, fmt: str) -> str:
    from btf import Btf
    _, data, _ = _read(ins, btf_id)
    btf = Btf.parse(data)
    if fmt == "c":
        from btf.dump_c import btf_dump_c
        return btf_dump_c(btf)
    from btf.dump_raw import btf_dump_raw
    return btf_dump_raw(btf)


def _after_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kernelsim btf", description="the BTF objects a replay left")
    p.add_argument("command", choices=("list", "show", "dump"))
    p.add_argument("rest", nargs="*", help="dump: [id N]")
    p.add_argument("--after", metavar="FILE", required=True, help="replay this scenario first")
    p.add_argument("--format", choices=("raw", "c"), default="raw")
    p.add_argument("--seed", type=int, help="the replay's seed")
    p.add_argument("--scale", type=float, help="the replay's repeat scale")
    try:
        args = p.parse_intermixed_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    want = 1
    if args.rest:
        if args.command != "dump" or len(args.rest) != 2 or args.rest[0] != "id" or not args.rest[1].isdigit():
            print(f"Error: expected 'dump id ID', got {' '.join(args.rest)!r}", file=sys.stderr)
            return 2
        want = int(args.rest[1])
    from kernelsim.logging_setup import logging_configured
    from kernelsim.tools.bpftool_cmds import Inspector, _kernel
    with logging_configured():
        kernel, status = _kernel(args, sys.stderr)
        if kernel is None:
            return status
        ins = Inspector(kernel)
        try:
            text = btf_list(ins) if args.command in ("list", "show") else btf_dump(ins, want, args.format)
        except RuntimeError as e:
            print(f"Error: {e}", file=sys.stderr)
            return 1
    sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--after" or a.startswith("--after=") for a in argv):
        return _after_main(argv)
    from btf.cli import main as btf_main
    return btf_main(argv)
