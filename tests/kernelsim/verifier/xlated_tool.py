"""Xlated instructions of the accepted corpus programs, from Linux (bpf_prog_info after a live
load) and from kernelsim (prog.insnsi through syscall/obj_info.py's bpf_insn_prepare_dump).

    python tests/kernelsim/verifier/xlated_tool.py [-v] [entry-name-prefix ...]
    python tests/kernelsim/verifier/xlated_tool.py --update      # refill data/xlated.json

prints the agreement figure against the live kernel (and, with -v, both listings side by side for
each difference); ``--update`` stores Linux's normalised xlated code of every accepted entry in
data/xlated.json (hex, 8 bytes an instruction) for the tests that run without bpf().

Normalisation (``normalise``), for fields whose value depends on where things are in memory:
* helper calls (``call``, src_reg 0): the immediate is the helper's address relative to
  __bpf_call_base on Linux (kallsyms-dependent) and is zeroed on both sides;
* ld_imm64 of a map (src_reg BPF_PSEUDO_MAP_FD / MAP_VALUE after the dump): the immediate is the
  map's id, replaced by the map's index in the program's map_ids (used_maps order);
* the per-CPU offset in the inlined bpf_get_smp_processor_id (``r0 = <&cpu_number>`` before a
  ``r0 = &(void __percpu *)(r0)``) is zeroed.
Nothing else is touched: jumps, registers, ctx offsets and inlined sequences must be identical.
"""

import json
import os
import pathlib
import sys

import corpus_tool as ct

DATA = pathlib.Path(__file__).resolve().parent / "data" / "xlated.json"


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def normalise(raw: bytes, map_ids: list[int]) -> list:
    from kernelsim.isa.insn import BpfInsn, decode_insns
    insns = decode_insns(raw)
    out = []
    i = 0
    while i < len(insns):
        x = insns[i]
        if x.code == 0x85 and x.src == 0:
            x = BpfInsn(x.code, x.dst, x.src, x.off, 0)
        elif x.code == 0xb7 and i + 1 < len(insns) and insns[i + 1].code == 0xbf \
                and insns[i + 1].off == -1 and insns[i + 1].dst == x.dst:
            x = BpfInsn(x.code, x.dst, x.src, x.off, 0)           # &cpu_number, a percpu offset
        elif x.code == 0x18 and x.src in (1, 2) and i + 1 < len(insns):
            mid = x.imm & 0xFFFFFFFF
            idx = map_ids.index(mid) if mid in map_ids else -1
            out += [BpfInsn(x.code, x.dst, x.src, x.off, idx), insns[i + 1]]
            i += 2
            continue
        out.append(x)
        i += 1
    return out


def linux_info(e: dict) -> dict | None:
    """Load ``e`` into Linux, return its bpf_prog_info (tag, xlated, map_ids) or None."""
    import harness
    import realbpf
    specs = ct.map_specs(e)
    fds = [realbpf.map_create(m["type"], m.get("key_size", 4), m.get("value_size", 8),
                              m.get("max_entries", 1), m.get("flags", 0), m.get("name", ""))
           for m in specs]
    try:
        for fd, m in zip(fds, specs):
            if m.get("freeze"):
                realbpf.map_freeze(fd)
        code = harness.insn_bytes(harness.patch_fds(ct.entry_insns(e), fds))
        args = dict(prog_type=ct.PROG_TYPES[e["prog_type"]], insns=code, license=e.get("license", "GPL"),
                    expected_attach_type=e.get("expected_attach_type", 0),
                    prog_flags=e.get("prog_flags", 0), keep_fd=True)
        if e.get("unpriv"):
            with realbpf.unprivileged_bpf_enabled():
                r = realbpf.prog_load_unpriv(**args)
        else:
            r = realbpf.prog_load(**args)
        if r["fd"] <= 0:
            return None
        try:
            return realbpf.prog_info(r["fd"])
        finally:
            os.close(r["fd"])
    finally:
        for fd in fds:
            os.close(fd)


def ks_info(e: dict) -> dict | None:
    """Load ``e`` into kernelsim's verifier, return the same three things or None."""
    import harness
    from kernelsim.cred import Cred
    from syscall.obj_info import bpf_insn_prepare_dump
    cred = Cred.make(65534, 65534) if e.get("unpriv") else None
    r = harness.ks_load(ct.PROG_TYPES[e["prog_type"]], ct.entry_insns(e), e.get("license", "GPL"),
                        0, 0, maps=ct.map_specs(e), expected_attach_type=e.get("expected_attach_type", 0),
                        cred=cred, prog_flags=e.get("prog_flags", 0))
    if r.errno:
        return None
    p = r.prog
    return {"tag": bytes(p.tag), "xlated": bpf_insn_prepare_dump(p, True),
            "map_ids": [m.id for m in p.aux.used_maps]}


def accepted(prefixes=()):
    for name, e in ct.load_corpus():
        if e["expect"]["result"] != "accept" or e.get("linux_insns", 0) > 300_000:
            continue
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        yield name, e


def listing(insns) -> list[str]:
    from kernelsim.isa.disasm import print_bpf_insn
    return [print_bpf_insn(x) for x in insns]


def normalised_hex(info: dict) -> str:
    from kernelsim.isa.insn import encode_insns
    return encode_insns(normalise(info["xlated"], info["map_ids"])).hex()


def stored() -> dict:
    """{entry name: Linux's normalised xlated code, hex}."""
    return json.loads(DATA.read_text())


def update() -> None:
    DATA.write_text(json.dumps({name: normalised_hex(linux_info(e)) for name, e in accepted()},
                               indent=1, sort_keys=True) + "\n")


def compare(e: dict, linux: dict | None = None) -> tuple[list[str], list[str]]:
    """(Linux's normalised listing, kernelsim's)."""
    linux = linux if linux is not None else linux_info(e)
    ks = ks_info(e)
    return (listing(normalise(linux["xlated"], linux["map_ids"])),
            listing(normalise(ks["xlated"], ks["map_ids"])))


if __name__ == "__main__":
    import itertools
    if "--update" in sys.argv:
        update()
    verbose = "-v" in sys.argv
    prefixes = [a for a in sys.argv[1:] if not a.startswith("-")]
    ok = total = 0
    for name, e in accepted(prefixes):
        a, b = compare(e)
        total += 1
        if a == b:
            ok += 1
            continue
        print("DIFF", name)
        if verbose:
            for x, y in itertools.zip_longest(a, b, fillvalue="-"):
                print(f"   {' ' if x == y else '*'} {x:44} | {y}")
    print(f"xlated identical: {ok}/{total}")
