"""The verifier corpus: reading the YAML files, loading an entry on either side, comparing.

    python tests/kernelsim/verifier/corpus_tool.py --update     # refill "expect" from Linux
    python tests/kernelsim/verifier/corpus_tool.py --compare    # kernelsim vs the stored answers

Entry fields (tests/kernelsim/verifier/corpus/<topic>.yaml, a list):

* ``description``; ``prog_type`` (name: kprobe, tracepoint, raw_tracepoint,
  raw_tracepoint_writable, socket_filter, perf_event); ``expected_attach_type`` (number, default 0); ``license`` (default GPL);
  ``unpriv`` (load as uid 65534 without capabilities; socket filters); ``prog_flags``.
* ``maps``: ``{type: hash|array|..., key_size, value_size, max_entries, flags, name, freeze}``;
  instructions refer to map i as ``map_fd(i)`` / ``map_value(i, off)``.
* ``insns``: one instruction per line in the kernel assembler syntax (kernelsim/isa/asm.py), jumps
  as ``goto +N`` / ``if ... goto +N``; ``raw <16 hex digits>`` gives one raw 8-byte slot (for
  reserved-field and opcode tests).
* ``expect``: what Linux 6.18 did: ``{result: accept}`` or ``{result: reject, errno: EACCES,
  complaint: "<last log line before the statistics line>"}``; ``linux_insns``: its processed count.

Complaint lines are compared after replacing kernel addresses (``0xffff...``) by ``ADDR``.
"""

import errno as _errno
import os
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2]))

PROG_TYPES = {"socket_filter": 1, "kprobe": 2, "tracepoint": 5, "perf_event": 7,
              "raw_tracepoint": 17, "raw_tracepoint_writable": 24, "tracing": 26}
MAP_TYPES = {"hash": 1, "array": 2, "prog_array": 3, "perf_event_array": 4, "percpu_hash": 5,
             "percpu_array": 6, "stack_trace": 7, "lru_hash": 9, "queue": 22, "stack": 23,
             "ringbuf": 27}
ADDR_RE = re.compile(r"0xffff[0-9a-f]{12}")
ERRNO_NAMES = {**_errno.errorcode, 524: "ENOTSUPP"}
ERRNO_VALUES = {v: k for k, v in ERRNO_NAMES.items()}


def normalise(line: str) -> str:
    return ADDR_RE.sub("ADDR", line)


def load_corpus() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for i, e in enumerate(yaml.safe_load(path.read_text()) or []):
            out.append((f"{path.stem}[{i}] {e['description']}", e))
    return out


def entry_insns(e: dict):
    from kernelsim.isa.asm import assemble
    from kernelsim.isa.insn import decode_insns
    out = []
    for line in e["insns"].strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("raw "):
            out += decode_insns(bytes.fromhex(line[4:].replace(" ", "")))
        else:
            out += assemble(line, "kernel", check=False)
    return out


def map_specs(e: dict) -> list[dict]:
    specs = []
    for m in e.get("maps", []) or []:
        s = dict(m)
        s["type"] = MAP_TYPES[m["type"]] if isinstance(m["type"], str) else m["type"]
        specs.append(s)
    return specs


def complaint(text: str) -> str:
    lines = [ln for ln in text.split("\n") if ln != ""]
    for i, ln in enumerate(lines):
        if ln.startswith("processed ") and " insns (limit " in ln:
            return normalise(lines[i - 1]) if i else ""
    return normalise(lines[-1]) if lines else ""


def processed(text: str) -> int:
    m = re.search(r"processed (\d+) insns", text)
    return int(m.group(1)) if m else 0


def outcome(err: int, text: str) -> dict:
    if err == 0:
        return {"result": "accept"}
    return {"result": "reject", "errno": ERRNO_NAMES.get(err, str(err)), "complaint": complaint(text)}


def run_kernelsim(e: dict, log_level: int = 1) -> tuple[dict, int, str]:
    import harness
    from kernelsim.cred import Cred
    cred = Cred.make(65534, 65534) if e.get("unpriv") else None
    r = harness.ks_load(PROG_TYPES[e["prog_type"]], entry_insns(e), e.get("license", "GPL"),
                        log_level, 1 << 22, maps=map_specs(e),
                        expected_attach_type=e.get("expected_attach_type", 0), cred=cred,
                        prog_flags=e.get("prog_flags", 0))
    return outcome(r.errno, r.text), processed(r.text), r.text


def run_linux(e: dict, log_level: int = 1) -> tuple[dict, int, str]:
    import harness
    import realbpf
    fds = [realbpf.map_create(m["type"], m.get("key_size", 4), m.get("value_size", 8),
                              m.get("max_entries", 1), m.get("flags", 0), m.get("name", ""))
           for m in map_specs(e)]
    try:
        for fd, m in zip(fds, map_specs(e)):
            if m.get("freeze"):
                realbpf.map_freeze(fd)
        code = harness.insn_bytes(harness.patch_fds(entry_insns(e), fds))
        args = dict(prog_type=PROG_TYPES[e["prog_type"]], insns=code, license=e.get("license", "GPL"),
                    log_level=log_level, log_size=1 << 22,
                    expected_attach_type=e.get("expected_attach_type", 0),
                    prog_flags=e.get("prog_flags", 0))
        if e.get("unpriv"):
            with realbpf.unprivileged_bpf_enabled():
                r = realbpf.prog_load_unpriv(**args)
        else:
            r = realbpf.prog_load(**args)
    finally:
        for fd in fds:
            os.close(fd)
    text = r["log"].split(b"\0")[0].decode("utf-8", "replace")
    return outcome(r["errno"], text), processed(text), text


def update() -> None:
    for path in sorted(CORPUS.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text()) or []
        for e in entries:
            out, n, _ = run_linux(e)
            e["expect"] = out
            e["linux_insns"] = n
        path.write_text(yaml.safe_dump(entries, sort_keys=False, width=120, allow_unicode=True))
        print(path.name, len(entries))


def compare() -> None:
    ok = total = 0
    for name, e in load_corpus():
        total += 1
        got, n, text = run_kernelsim(e)
        if got == e["expect"]:
            ok += 1
        else:
            print("DIFF", name, "\n   linux:", e["expect"], "\n   ks:   ", got)
    print(f"{ok}/{total}")


if __name__ == "__main__":
    if "--update" in sys.argv:
        update()
    else:
        compare()
