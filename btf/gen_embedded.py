"""Generate kernelsim's embedded kernel BTF: ``python -m btf.gen_embedded [VMLINUX_BTF] [-o OUT]``.

Reads the roots in btf/data/embedded_roots.txt (data: the tracing engineer adds a line and
regenerates), keeps those types of the source BTF (default: the shared vmlinux-6.18.btf) and their
closure under "refers to" (members, pointers, typedefs, prototypes, array elements and indexes,
variables), in the source's id order, renumbered from 1 with deduplicated strings, and writes
btf/data/kernelsim-6.18.btf. FUNC records are kept only for the listed functions. The output is a
function of the inputs only (deterministic). The embedded BTF passes btf_check.
"""

import argparse
import errno
import sys
from pathlib import Path

from .btf import Btf
from .builder import BtfBuilder
from .errors import BtfError
from .uapi import BtfKind

K = BtfKind
DATA = Path(__file__).resolve().parent / "data"
ROOTS = DATA / "embedded_roots.txt"
OUT = DATA / "kernelsim-6.18.btf"
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "vmlinux-6.18.btf"

_KINDS = {"func": (K.BTF_KIND_FUNC,), "typedef": (K.BTF_KIND_TYPEDEF,),
          "struct": (K.BTF_KIND_STRUCT,), "union": (K.BTF_KIND_UNION,),
          "enum": (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64), "int": (K.BTF_KIND_INT,),
          "enumerator": (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64)}


def _enumerator_index(src: Btf) -> dict[str, int]:
    """Enumerator name -> the first (often anonymous) enum of ``src`` that has it, in one walk.
    uapi constants such as BPF_ANY or BPF_F_CURRENT_CPU live in anonymous enums."""
    index: dict[str, int] = {}
    for tid in src.type_ids():
        if src.kind_of(tid) in _KINDS["enumerator"]:
            for v in src.type_by_id(tid).values:
                index.setdefault(v.name, tid)
    return index


def read_roots(path: Path = ROOTS) -> list[tuple[str, list[str], bool]]:
    """(kind, candidate names, optional) per root line."""
    roots = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        optional = line.endswith("?")
        line = line.rstrip("?").strip()
        kind, _, rest = line.partition(" ")
        if kind not in _KINDS or not rest.strip():
            raise ValueError(f"{path}:{lineno}: expected 'KIND NAME', got {line!r}")
        roots.append((kind, [n.strip() for n in rest.split("|")], optional))
    return roots


def find_roots(src: Btf, roots) -> list[int]:
    """The source ids of the roots. ENOENT: a required root is absent."""
    ids = []
    enumerators = None
    for kind, names, optional in roots:
        if kind == "int" and names == ["*"]:
            ids += [t for t in src.type_ids() if src.kind_of(t) == K.BTF_KIND_INT]
            continue
        for name in names:
            if kind == "enumerator":
                if enumerators is None:
                    enumerators = _enumerator_index(src)
                found = [enumerators[name]] if name in enumerators else []
            else:
                found = [i for k in _KINDS[kind] for i in src.find_all_by_name_kind(name, k)]
            if found:
                ids.append(min(found))
                break
        else:
            if not optional:
                raise BtfError(errno.ENOENT, f"root {kind} {' | '.join(names)} not found")
    return ids


def _refs(t) -> list[int]:
    """Type ids a record refers to (libbpf's btf_type_visit_type_ids)."""
    k = t.kind
    if k in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION):
        return [m.type for m in t.members]
    if k == K.BTF_KIND_FUNC_PROTO:
        return [t.type] + [p.type for p in t.params]
    if k == K.BTF_KIND_ARRAY:
        return [t.elem_type, t.index_type]
    if k == K.BTF_KIND_DATASEC:
        return [v.type for v in t.vars]
    if k in (K.BTF_KIND_INT, K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64, K.BTF_KIND_FWD, K.BTF_KIND_FLOAT):
        return []
    return [t.type]


def closure(src: Btf, root_ids: list[int]) -> list[int]:
    """Every id reachable from the roots, sorted (iterative: no recursion on type chains)."""
    seen = set()
    todo = list(root_ids)
    while todo:
        tid = todo.pop()
        if not tid or tid in seen:
            continue
        seen.add(tid)
        todo.extend(_refs(src.type_by_id(tid)))
    return sorted(seen)


def gen_embedded(src: Btf, roots=None) -> bytes:
    """The embedded BTF blob for ``src``."""
    roots = read_roots() if roots is None else roots
    keep = closure(src, find_roots(src, roots))
    new_id = {old: i + 1 for i, old in enumerate(keep)}
    new_id[0] = 0
    b = BtfBuilder()
    for old in keep:
        b.add_type(src, src.type_by_id(old), new_id.__getitem__)
    return b.to_bytes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m btf.gen_embedded", description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE), help="vmlinux BTF to cut from")
    ap.add_argument("-o", "--output", default=str(OUT))
    ap.add_argument("--roots", default=str(ROOTS))
    args = ap.parse_args(argv)
    src = Btf.parse(Path(args.source).read_bytes())
    blob = gen_embedded(src, read_roots(Path(args.roots)))
    Path(args.output).write_bytes(blob)
    out = Btf.parse(blob)
    print(f"{args.output}: {len(blob)} bytes, {len(out)} types "
          f"({sum(1 for t in out.type_ids() if out.kind_of(t) == K.BTF_KIND_FUNC)} FUNC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
