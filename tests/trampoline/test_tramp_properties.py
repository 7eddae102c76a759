"""Hypothesis: random FuncModels x random link sets on every architecture and profile.

Generation raises nothing but TrampolineError; when it succeeds, the executable form stores each
argument's value in its ctx slots (native placement -> slots round trip), the original gets the
values back, and fexit sees the return value.
"""

import capstone
from hypothesis import HealthCheck, event, given, settings, strategies as st

from btf.func_model import (BTF_FMODEL_SIGNED_ARG as SIGNED, BTF_FMODEL_STRUCT_ARG as STRUCT,
                            BTF_FMODEL_UNION_ARG as UNION, FuncModel)
from trampoline import (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, BpfTrampLink,
                        SimpleRuntime, TrampolineError, arch_prepare_bpf_trampoline, bpf_trampoline_flags,
                        decode_call, decode_ret, encode_call, encode_ret)
from trampoline.callconv import place_args

ARCHES = ["x86_64", "arm64", "i386", "riscv64", "s390x"]
MD64 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)

arg = st.one_of(
    st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([0, SIGNED])),   # ints, pointers
    st.tuples(st.integers(1, 16), st.sampled_from([STRUCT, UNION])),          # by value
    st.just((16, 0)))                                                          # __int128
models = st.builds(
    lambda args, ret: FuncModel(ret[0], ret[1], len(args), tuple(a[0] for a in args), tuple(a[1] for a in args)),
    st.lists(arg, max_size=12), st.tuples(st.sampled_from([0, 1, 2, 4, 8]), st.sampled_from([0, SIGNED])))
counts = st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 3))


def value_for(draw, size, flags):
    if flags & (STRUCT | UNION):
        return draw(st.binary(min_size=size, max_size=size))
    if flags & SIGNED:
        return draw(st.integers(-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1))
    return draw(st.integers(0, (1 << (8 * size)) - 1))


def slot_bytes(arch, loc, slots):
    order = "big" if arch == "s390x" else "little"
    if arch == "s390x" and not loc.by_ref:           # one register, value right-justified
        return slots[0].to_bytes(8, "big")[8 - loc.size:] if loc.is_aggregate else \
            (slots[0] & ((1 << (8 * loc.size)) - 1)).to_bytes(loc.size, "little")
    data = b"".join(s.to_bytes(8, order) for s in slots)[:loc.size]
    return data


def expected_bytes(arch, loc, value):
    if loc.is_aggregate:
        return value
    order = "big" if loc.by_ref else "little"      # s390x copies a by-reference int128 from memory
    return (value & ((1 << (8 * loc.size)) - 1)).to_bytes(loc.size, order)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=models, arch=st.sampled_from(ARCHES), n=counts, ip=st.booleans(),
       profile=st.sampled_from(["newest", "newest", "newest", "5.5"]), cookie=st.integers(0, 2**64 - 1),
       garbage=st.integers(0, 2**64 - 1), interp=st.booleans(), data=st.data())
def test_generate_and_round_trip(m, arch, n, ip, profile, cookie, garbage, interp, data):
    rt = SimpleRuntime()
    seen = []
    nslots = m.nr_slots()

    def prog(ctx, *insnsi):
        seen.append([rt.load(ctx + 8 * k) for k in range(nslots + 1 if n[1] + n[2] else nslots)])
        return 0

    def orig(regs, stack, mem=None):
        got.append(decode_call(m, arch, regs, stack, mem))
        return encode_ret(m, arch, ret_value)

    link = dict(cookie=cookie, insnsi=0xFFFF888100200000 if interp else None)
    tl = {BPF_TRAMP_FENTRY: [BpfTrampLink(prog, **link) for _ in range(n[0])],
          BPF_TRAMP_FEXIT: [BpfTrampLink(prog, **link) for _ in range(n[1])],
          BPF_TRAMP_MODIFY_RETURN: [BpfTrampLink(prog, **link) for _ in range(n[2])]}
    try:
        image = arch_prepare_bpf_trampoline(m, tl, bpf_trampoline_flags(tl, ip, profile), arch,
                                            orig=orig, runtime=rt, profile=profile, name="h")
    except TrampolineError as e:
        event(f"refused {e.errno}")
        return
    event(f"built {arch} {profile}")
    if image.code is not None and arch == "x86_64":
        assert sum(i.size for i in MD64.disasm(image.code, image.image_addr)) == len(image.code)
    values = [value_for(data.draw, s, f) for s, f in zip(m.arg_size, m.arg_flags)]
    ret_value = value_for(data.draw, m.ret_size, m.ret_flags) if m.ret_size else None
    got = []
    raw = image.call(encode_call(m, arch, values, garbage))
    assert not rt.live
    assert got == [values]                                 # the original sees the arguments
    assert decode_ret(m, arch, raw) == ret_value
    assert len(seen) == sum(n)
    pl = place_args(m, arch)
    for slots in seen:
        k = 0
        for loc, v in zip(pl.args, values):
            w = (loc.size + 7) // 8
            assert slot_bytes(arch, loc, slots[k:k + w]) == expected_bytes(arch, loc, v), (loc, slots)
            k += w
    if n[1]:                                               # fexit sees the return slot
        mask = (1 << (8 * m.ret_size)) - 1
        assert seen[-1][nslots] & mask == encode_ret(m, arch, ret_value) & mask


int_args = st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([0, SIGNED])), max_size=6)


@settings(max_examples=150, deadline=None)
@given(args=int_args, n=st.tuples(st.integers(0, 4), st.integers(0, 4)), garbage=st.integers(0, 2**64 - 1),
       data=st.data())
def test_5_5_width_specific_slots(args, n, garbage, data):
    """5.5: each slot's low arg_size bytes hold the argument, the bytes above keep the frame's stale
    content; the original gets the values back (width-specific, zero-extending reloads)."""
    m = FuncModel(8, 0, len(args), tuple(a[0] for a in args), tuple(a[1] for a in args))
    poison = 0xA5A5A5A5A5A5A5A5
    rt = SimpleRuntime(poison=poison)
    seen, got = [], []
    prog = lambda ctx: seen.append([rt.load(ctx + 8 * k) for k in range(len(args))]) or 0
    tl = {BPF_TRAMP_FENTRY: [BpfTrampLink(prog) for _ in range(n[0])],
          BPF_TRAMP_FEXIT: [BpfTrampLink(prog) for _ in range(n[1])]}
    orig = lambda regs, stack, mem=None: got.append(decode_call(m, "x86_64", regs, stack)) or 0
    image = arch_prepare_bpf_trampoline(m, tl, bpf_trampoline_flags(tl, False, "5.5"), "x86_64",
                                        orig=orig, runtime=rt, profile="5.5")
    assert image.size <= 2048 and image.ctx_index == 0
    values = [value_for(data.draw, s, f) for s, f in zip(m.arg_size, m.arg_flags)]
    image.call(encode_call(m, "x86_64", values, garbage))
    assert got == [values]
    for slots in seen:
        for (size, _f), v, slot in zip(args, values, slots):
            mask = (1 << (8 * size)) - 1
            assert slot & mask == v & mask and slot & ~mask == poison & ~mask & (2**64 - 1)
