"""Every aligned __sk_buff access a socket filter can try, on either side: loads (LDX, LDX
sign-extending), stores of a register and of an immediate, sizes 1/2/4/8, offsets -8 .. 199.

    python tests/kernelsim/verifier/skb_ctx_sweep.py --update    # refill the answers from Linux

Each case is ``r2 = 0; <access through r1 = ctx>; r0 = 0; exit``; the answer kept for it is the
errno and the complaint line, from Linux 6.18.44, kept in data/skb_ctx_sweep.json as the list of
accepted cases plus the rejections whose answer is not the usual EACCES "invalid bpf_context
access off=OFF size=SIZE". The rules under test are kernelsim/ctx_access.py's
sk_filter_is_valid_access and bpf_skb_is_valid_access.
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "data" / "skb_ctx_sweep.json"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2]))

SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
KINDS = {"ldx": 0x61, "ldsx": 0x81, "stx": 0x63, "st": 0x62}    # the W-sized opcode of each


def cases():
    for kind in KINDS:
        for size in (1, 2, 4, 8):
            if kind == "ldsx" and size == 8:
                continue                  # no 8-byte sign-extending load
            for off in range(-8, 200):
                if off % size == 0:
                    yield f"{kind}/{size}/{off}", kind, size, off


def insns(kind: str, size: int, off: int):
    from kernelsim.isa.insn import BpfInsn
    code = KINDS[kind] | SIZE_BITS[size]
    if kind in ("ldx", "ldsx"):
        access = BpfInsn(code, 0, 1, off, 0)
    elif kind == "stx":
        access = BpfInsn(code, 1, 2, off, 0)
    else:
        access = BpfInsn(code, 1, 0, off, 7)
    return [BpfInsn(0xb7, 2, 0, 0, 0), access, BpfInsn(0xb7, 0, 0, 0, 0), BpfInsn(0x95, 0, 0, 0, 0)]


def answer(err: int, text: str) -> list:
    import corpus_tool
    return [corpus_tool.ERRNO_NAMES.get(err, str(err)) if err else "", corpus_tool.complaint(text) if err else ""]


def run_kernelsim(kind, size, off) -> list:
    import harness
    r = harness.ks_load(1, insns(kind, size, off), log_size=1 << 16)
    return answer(r.errno, r.text)


def run_linux(kind, size, off) -> list:
    import harness
    import realbpf
    r = realbpf.prog_load(1, harness.insn_bytes(insns(kind, size, off)), log_level=1, log_size=1 << 16)
    return answer(r["errno"], r["log"].split(b"\0")[0].decode("utf-8", "replace"))


def usual_reject(size: int, off: int) -> list:
    return ["EACCES", f"invalid bpf_context access off={off} size={size}"]


def load() -> dict:
    """{case name: [errno name or "", complaint or ""]} for every case."""
    data = json.loads(DATA.read_text())
    accepted, other = set(data["accept"]), data["other_rejects"]
    return {name: ["", ""] if name in accepted else other.get(name, usual_reject(s, o))
            for name, _, s, o in cases()}


def save(answers: dict) -> None:
    data = {"accept": [n for n, _, _, _ in cases() if answers[n] == ["", ""]],
            "other_rejects": {n: answers[n] for n, _, s, o in cases()
                              if answers[n] not in (["", ""], usual_reject(s, o))}}
    DATA.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    if "--update" in sys.argv:
        save({name: run_linux(k, s, o) for name, k, s, o in cases()})
    stored = load()
    bad = [n for n, k, s, o in cases() if run_kernelsim(k, s, o) != stored[n]]
    print(f"{len(stored) - len(bad)}/{len(stored)}", *bad[:20])
