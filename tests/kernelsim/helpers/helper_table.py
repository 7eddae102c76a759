"""The helper table of docs/helpers.md, computed from the prog types' get_func_proto and the
protos: which types offer each helper, the least capability that gets it, whether kernelsim
implements it or refuses it (helpers/unsupported.py). ``python -m tests.kernelsim.helpers.helper_table``
prints the table and the figures; test_helper_table.py checks that the doc has them."""

from __future__ import annotations

from kernelsim.cred import Cred
from kernelsim.helpers.names import func_id_name
from kernelsim.helpers.unsupported import NOT_MODELLED
from kernelsim.prog_types import get_func_proto
from kernelsim.uapi import BpfAttachType as AT, BpfProgType as PT

TYPES = {  # column name -> (prog type, expected attach type)
    "sf": (PT.BPF_PROG_TYPE_SOCKET_FILTER, 0), "kp": (PT.BPF_PROG_TYPE_KPROBE, 0),
    "tp": (PT.BPF_PROG_TYPE_TRACEPOINT, 0), "pe": (PT.BPF_PROG_TYPE_PERF_EVENT, 0),
    "rtp": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT, 0), "rtpw": (PT.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0),
    "fentry": (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_FENTRY),
    "tp_btf": (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_RAW_TP),
    "iter": (PT.BPF_PROG_TYPE_TRACING, AT.BPF_TRACE_ITER),
}
TIERS = [("-", Cred.make(1000)), ("BPF", Cred.make(1000, caps={"CAP_BPF"})),
         ("PERFMON", Cred.make(1000, caps={"CAP_BPF", "CAP_PERFMON"})), ("SYS_ADMIN", Cred.make(0))]
BEGIN, END = "<!-- helper-table begin -->", "<!-- helper-table end -->"


def _protos(kernel, cred):
    from kernelsim.bpf_prog import BpfProg
    out = {}
    for col, (ptype, eat) in TYPES.items():
        prog = BpfProg(kernel, ptype, eat)
        prog.aux.cred = cred
        out[col] = {n: p for n in range(1, 212) if (p := get_func_proto(n, prog)) is not None}
    return out


def compute():
    """rows: (id, name, gpl, cap, types, impl); figures: dict of counts."""
    from kernelsim import Kernel
    kernel = Kernel()
    full = _protos(kernel, Cred.make(0))
    tiers = [(name, _protos(kernel, cred)) for name, cred in TIERS]
    ids = sorted({n for per in full.values() for n in per})
    rows = []
    pairs = impl_pairs = 0
    for n in ids:
        cols = [c for c in TYPES if n in full[c]]
        protos = [full[c][n] for c in cols]
        cap = next(name for name, per in tiers if any(n in per[c] for c in TYPES))
        done = [c for c in cols if full[c][n].func is not None]
        pairs += len(cols)
        impl_pairs += len(done)
        if len(done) == len(cols):
            impl = "✓"
        else:
            why = NOT_MODELLED.get(n, "an implementation")
            impl = (f"✓ {' '.join(done)}; refused elsewhere: needs {why}" if done
                    else f"— needs {why}")
        types = "all" if len(cols) == len(TYPES) else " ".join(cols)
        gpl = "yes" if any(p.gpl_only for p in protos) else ""
        rows.append((n, func_id_name(n).removeprefix("bpf_"), gpl, cap, types, impl))
    figures = {"offered": len(ids), "implemented": sum(1 for r in rows if r[5] == "✓"),
               "partly": sum(1 for r in rows if r[5].startswith("✓ ")),
               "pairs": pairs, "impl_pairs": impl_pairs}
    tracing = [c for c in TYPES if c not in ("iter",)]
    t_ids = sorted({n for c in tracing for n in full[c]})
    figures["tracing_offered"] = len(t_ids)
    figures["tracing_implemented"] = sum(1 for n in t_ids
                                         if all(full[c][n].func is not None for c in tracing if n in full[c]))
    return rows, figures


def render() -> str:
    rows, f = compute()
    lines = [BEGIN,
             f"Figures: {f['implemented']} of the {f['offered']} helpers some type offers are implemented "
             f"for every type that offers them, {f['partly']} more for some of those types; "
             f"{f['impl_pairs']} of {f['pairs']} (type, helper) pairs. Without iterators (sf kp tp pe "
             f"rtp rtpw fentry tp_btf): {f['tracing_implemented']} of {f['tracing_offered']}.",
             "",
             "| id | name | gpl | cap | types | impl |", "|---:|---|:-:|---|---|---|"]
    lines += [f"| {n} | {name} | {gpl} | {cap} | {types} | {impl} |"
              for n, name, gpl, cap, types, impl in rows]
    lines.append(END)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
