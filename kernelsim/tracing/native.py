"""Per-function native-call codecs: ``trampoline.callconv``'s encode_call / decode_call,
specialised once per (FuncModel, architecture) so a traced call does not re-run ``place_args``
(invented; the kernel's compiler does this placement at build time).

``make_codec(model, arch)`` returns ``(encode, decode)``:

* ``encode(cargs, garbage=0) -> NativeCall`` places C argument values in registers and stack
  words exactly as ``callconv.encode_call`` does;
* ``decode(regs, stack, mem=None) -> list`` recovers them exactly as ``callconv.decode_call``.

``make_ret_encoder(model, arch)`` is ``callconv.encode_ret`` for one function: the return
register a body's C result leaves (a mask where the convention keeps the bits as they are).

``make_call_path(model, arch, invoke)`` fuses those for the traced-call hot path (call.py,
KernelFunction.orig_native): ``encode_raw(cargs, garbage) -> (regs, stack, memory)`` without
a NativeCall, and ``orig(regs, stack, mem) -> raw``, the body as the trampoline calls it
(decode, ``invoke(cargs)``, encode the return), in one Python call where the form is simple.

The fast form covers what most kernel functions are: every argument an integer or pointer that
fits one register word, on an architecture that leaves the bits above a narrow argument
undefined (x86-64, arm64: those bits come from ``garbage``). Anything else — struct arguments,
i386 register pairs, riscv64/s390x extension rules — uses callconv itself. Equality with
callconv is a test (tests/kernelsim/tracing/test_functions.py).
"""

from trampoline.callconv import (CALLING_CONVENTIONS, EXT_UNDEFINED, NativeCall, decode_call,
                                 encode_call, encode_ret, normalize_arch, place_args)
from btf.func_model import BTF_FMODEL_SIGNED_ARG


def make_codec(model, arch: str):
    arch = normalize_arch(arch)
    cc = CALLING_CONVENTIONS[arch]
    pl = place_args(model, arch)
    simple = cc.narrow_ext == EXT_UNDEFINED and all(
        not loc.by_ref and not loc.is_aggregate and loc.size <= cc.word and len(loc.pieces) == 1
        for loc in pl.args)
    if not simple:
        def encode_slow(cargs, garbage=0):
            return encode_call(model, arch, cargs, garbage)

        def decode_slow(regs, stack, mem=None):
            return decode_call(model, arch, regs, stack, mem)
        return encode_slow, decode_slow

    nregs = len(cc.arg_regs)
    nstack = pl.nr_stack_words
    wmask = (1 << (8 * cc.word)) - 1
    plan = tuple((p.loc == "reg", p.index, (1 << (8 * loc.size)) - 1, 8 * loc.size,
                  bool(loc.flags & BTF_FMODEL_SIGNED_ARG))
                 for loc in pl.args for p in loc.pieces)

    def encode_raw(cargs, garbage=0):
        regs = [0] * nregs
        stack = [0] * nstack
        g = garbage & wmask
        for (in_reg, idx, mask, _bits, _signed), v in zip(plan, cargs):
            w = (g & ~mask) | (v & mask)
            if in_reg:
                regs[idx] = w
            else:
                stack[idx] = w
        return regs, stack, {}

    def encode(cargs, garbage=0):
        return NativeCall(*encode_raw(cargs, garbage))
    encode.plan = plan
    encode.raw = encode_raw                 # (regs, stack, memory) without the record: the hot path

    def decode(regs, stack, mem=None):
        out = []
        for in_reg, idx, mask, bits, signed in plan:
            v = (regs[idx] if in_reg else stack[idx]) & mask
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
        return out

    return encode, decode


def make_ret_encoder(model, arch: str):
    """``value -> raw return register``, equal to ``callconv.encode_ret(model, arch, value)``."""
    arch = normalize_arch(arch)
    size = model.ret_size
    if size == 0:
        return lambda value: 0
    if size < 8 and arch in ("riscv64", "s390x"):       # narrow results are extended there
        return lambda value: encode_ret(model, arch, value)
    mask = (1 << (8 * size)) - 1

    def encode_ret_fast(value):
        return 0 if value is None else int(value) & mask
    return encode_ret_fast


def make_call_path(model, arch: str, invoke):
    """(encode_raw, orig) for one function whose body runs as ``invoke(cargs) -> C value``."""
    arch = normalize_arch(arch)
    encode, decode = make_codec(model, arch)
    encode_ret_of = make_ret_encoder(model, arch)
    plan = getattr(encode, "plan", None)
    if plan is None:
        def encode_raw_slow(cargs, garbage=0):
            n = encode(cargs, garbage)
            return n.regs, n.stack, n.memory

        def orig_slow(regs, stack, mem=None):
            return encode_ret_of(invoke(decode(regs, stack, mem)))
        return encode_raw_slow, orig_slow

    encode_raw = encode.raw
    size = model.ret_size
    rmask = None if size and size < 8 and arch in ("riscv64", "s390x") else (1 << (8 * size)) - 1

    def orig(regs, stack, mem=None):
        out = []
        for in_reg, idx, mask, bits, signed in plan:
            v = (regs[idx] if in_reg else stack[idx]) & mask
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
        v = invoke(out)
        if rmask is None:
            return encode_ret_of(v)
        return 0 if v is None else v & rmask
    return encode_raw, orig
