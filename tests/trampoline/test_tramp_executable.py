"""The executable form: what a traced call does, with fake programs reading ctx through the runtime."""

import pytest

from btf.func_model import BTF_FMODEL_SIGNED_ARG as SIGNED, BTF_FMODEL_STRUCT_ARG as STRUCT, FuncModel
from trampoline import (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, BpfTrampHooks,
                        BpfTrampLink, BpfTrampRunCtx, SimpleRuntime, arch_prepare_bpf_trampoline,
                        bpf_trampoline_flags, decode_call, decode_ret, encode_call, encode_ret)

ARCHES = ["x86_64", "arm64", "i386", "riscv64", "s390x"]
M2 = FuncModel(8, SIGNED, 2, (8, 8), (0, 0))       # long f(void *a, void *b)


class Env:
    """A runtime, a trace log and helpers to build programs and the original."""

    def __init__(self, model=M2, arch="x86_64", body=None, **rt):
        self.rt = SimpleRuntime(**rt)
        self.model, self.arch, self.log = model, arch, []
        self.body = body or (lambda *a: sum(x for x in a if isinstance(x, int)) & 0x7FFFFFFF)

    def prog(self, name, ret=0, nslots=None):
        n = self.model.nr_slots() + 1 if nslots is None else nslots

        def bpf_func(ctx, *insnsi):
            self.log.append((name, [self.load(ctx + 8 * k) for k in range(n)], self.load(ctx - 8)))
            return ret
        return bpf_func

    def load(self, addr):
        try:
            return self.rt.load(addr)
        except LookupError:
            return None

    def orig(self, regs, stack, mem=None):
        args = decode_call(self.model, self.arch, regs, stack, mem)
        self.log.append(("orig", args, len(self.rt.live)))
        return encode_ret(self.model, self.arch, self.body(*args))

    def image(self, tlinks, ip=False, profile="newest", **kw):
        flags = bpf_trampoline_flags(tlinks, ip, profile)
        return arch_prepare_bpf_trampoline(self.model, tlinks, flags, self.arch, orig=self.orig,
                                           runtime=self.rt, profile=profile, name="f", **kw)

    def call(self, image, *values, garbage=0):
        raw = image.call(encode_call(self.model, self.arch, list(values), garbage))
        assert not self.rt.live, "ctx frame leaked"
        return decode_ret(self.model, self.arch, raw)


def L(fn, **kw):
    return BpfTrampLink(fn, **kw)


@pytest.mark.parametrize("arch", ARCHES)
def test_order_lifo_within_kind_and_kinds_in_order(arch):
    env = Env(arch=arch)
    attach = {BPF_TRAMP_FENTRY: [], BPF_TRAMP_FEXIT: [], BPF_TRAMP_MODIFY_RETURN: []}
    for kind, name in [(BPF_TRAMP_FEXIT, "fexit_a"), (BPF_TRAMP_FENTRY, "fentry_a"),
                       (BPF_TRAMP_MODIFY_RETURN, "fmod_a"), (BPF_TRAMP_FENTRY, "fentry_b"),
                       (BPF_TRAMP_FEXIT, "fexit_b"), (BPF_TRAMP_MODIFY_RETURN, "fmod_b")]:
        attach[kind].insert(0, L(env.prog(name)))      # hlist_add_head: newest first
    assert env.call(env.image(attach), 3, 4) == 7
    assert [e[0] for e in env.log] == ["fentry_b", "fentry_a", "fmod_b", "fmod_a", "orig", "fexit_b",
                                       "fexit_a"]


@pytest.mark.parametrize("arch", ARCHES)
def test_slots_nr_args_and_return_slot(arch):
    env = Env(arch=arch)
    image = env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe"))], BPF_TRAMP_FEXIT: [L(env.prog("fx"))]})
    assert env.call(image, 0x1000, 0x2000) == 0x3000
    (_, fe, fe_n), (_, args, live), (_, fx, fx_n) = env.log
    assert fe[:2] == [0x1000, 0x2000] and fe_n == 2 and fx_n == 2
    assert fx == [0x1000, 0x2000, 0x3000]                     # ctx[nr_args] = return value
    assert args == [0x1000, 0x2000] and live == 1             # the original runs inside the frame
    assert image.ctx_index == 1 and image.ret_slot == 2 and image.ctx_words == 4


def test_ip_slot_only_with_ip_arg():
    env = Env()
    seen = []
    prog = lambda ctx: seen.append((env.rt.load(ctx - 16), env.rt.load(ctx - 8))) or 0
    image = env.image({BPF_TRAMP_FENTRY: [L(prog)]}, ip=True, func_addr=0xFFFFFFFF81234560)
    env.call(image, 1, 2)
    assert seen == [(0xFFFFFFFF81234560, 2)] and image.ctx_index == 2
    image = env.image({BPF_TRAMP_FENTRY: [L(lambda ctx: env.rt.load(ctx - 16))]})
    with pytest.raises(LookupError):                          # no ctx[-2] without IP_ARG
        env.call(image, 1, 2)
    assert not env.rt.live                                    # released despite the fault


def test_fmod_ret_short_circuit_and_fexit_sees_the_override():
    env = Env()
    links = {BPF_TRAMP_MODIFY_RETURN: [L(env.prog("m2", 0)), L(env.prog("m1", -1)), L(env.prog("m0", 5))],
             BPF_TRAMP_FEXIT: [L(env.prog("fx"))], BPF_TRAMP_FENTRY: [L(env.prog("fe"))]}
    assert env.call(env.image(links), 10, 20) == -1
    names = [e[0] for e in env.log]
    assert names == ["fe", "m2", "m1", "fx"]                  # m0 and the original skipped
    assert env.log[1][1][2] == 0                              # the first fmod_ret sees 0
    assert env.log[2][1][2] == 0                              # the previous one's value (0)
    assert env.log[3][1][2] == 2**64 - 1                      # fexit sees the override, as u64
    env.log.clear()
    links[BPF_TRAMP_MODIFY_RETURN] = [L(env.prog("z", 0))]
    assert env.call(env.image(links), 10, 20) == 30           # all zero: the original runs
    assert [e[0] for e in env.log] == ["fe", "z", "orig", "fx"]


def test_enter_zero_skips_the_program_but_exit_runs():
    env = Env()
    calls = []

    def enter(prog, rc):
        calls.append(("enter", prog, rc.bpf_cookie))
        return 0 if prog == "busy" else 42

    def exit(prog, start, rc):
        calls.append(("exit", prog, start))

    links = {BPF_TRAMP_FENTRY: [L(env.prog("a"), prog="busy", cookie=7),
                                L(env.prog("b"), prog="ok", cookie=2**64 - 1)]}
    env.call(env.image(links, hooks=BpfTrampHooks(enter, exit)), 1, 2)
    assert [e[0] for e in env.log] == ["b", "orig"]
    assert calls == [("enter", "busy", 7), ("exit", "busy", 0), ("enter", "ok", 2**64 - 1), ("exit", "ok", 42)]


def test_cookie_visible_during_the_program_and_link_hooks_override():
    env = Env()
    current = []
    got = []

    def enter(prog, rc):
        assert isinstance(rc, BpfTrampRunCtx)
        current.append(rc)                                    # bpf_set_run_ctx
        return 1

    def exit(prog, start, rc):
        current.pop()

    prog = lambda ctx: got.append(current[-1].bpf_cookie) or 0
    own = []
    links = {BPF_TRAMP_FENTRY: [L(prog, cookie=11), L(prog, cookie=22),
                                L(prog, cookie=33, enter=lambda p, rc: own.append(p) or 0)]}
    env.call(env.image(links, hooks=BpfTrampHooks(enter, exit)), 1, 2)
    assert got == [11, 22] and own == [None] and current == []


def test_one_run_ctx_per_image_run_from_the_factory_and_handed_to_run_ctx_arg_links():
    env = Env()
    made, seen = [], []

    class RunCtx:
        def __init__(self):
            self.bpf_cookie = 0
            made.append(self)

    def enter(prog, rc):
        seen.append(("enter", prog, rc, rc.bpf_cookie))
        return 1

    def exit(prog, start, rc):
        seen.append(("exit", prog, rc, rc.bpf_cookie))

    def prog(ctx, rc):
        seen.append(("prog", None, rc, rc.bpf_cookie))
        return 0
    links = {BPF_TRAMP_FENTRY: [L(prog, prog="a", cookie=1, run_ctx_arg=True)],
             BPF_TRAMP_FEXIT: [L(prog, prog="b", cookie=2, run_ctx_arg=True)]}
    im = env.image(links, hooks=BpfTrampHooks(enter, exit, new_run_ctx=RunCtx))
    env.call(im, 1, 2)
    env.call(im, 3, 4)
    assert len(made) == 2                                   # one per run, shared by its programs
    first = [(what, p, c) for what, p, rc, c in seen[:6] if rc is made[0]]
    assert first == [("enter", "a", 1), ("prog", None, 1), ("exit", "a", 1),
                     ("enter", "b", 2), ("prog", None, 2), ("exit", "b", 2)]
    assert all(rc is made[1] for _, _, rc, _ in seen[6:])
    # without a run ctx (the 5.5 profile) a run_ctx_arg link is called with the ctx alone
    calls = []
    links55 = {BPF_TRAMP_FENTRY: [L(lambda ctx, *rest: calls.append(rest) or 0, run_ctx_arg=True)]}
    env.call(env.image(links55, profile="5.5",
                       hooks=BpfTrampHooks(lambda p, rc: 1, lambda p, start, rc: None)), 1, 2)
    assert calls == [()]


def test_tramp_enter_exit_bracket_call_orig_images():
    env = Env()
    seen = []
    hooks = BpfTrampHooks(tramp_enter=lambda im: seen.append(("in", im)),
                          tramp_exit=lambda im: seen.append(("out", im)))
    env.call(env.image({BPF_TRAMP_FEXIT: [L(env.prog("fx"))]}, hooks=hooks, im="IM"), 1, 2)
    assert seen == [("in", "IM"), ("out", "IM")]
    seen.clear()
    env.call(env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe"))]}, hooks=hooks, im="IM"), 1, 2)
    assert seen == []                                          # fentry-only: no CALL_ORIG


def test_fentry_only_returns_into_the_function_after_releasing_the_frame():
    env = Env()
    image = env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe"))]})
    assert env.call(image, 5, 6) == 11
    assert env.log[-1] == ("orig", [5, 6], 0)                 # no live frame while the body runs
    assert image.ret_slot is None and image.ctx_words == 3


def test_regenerating_with_different_link_sets():
    env = Env()
    a, b = L(env.prog("a")), L(env.prog("b"))
    one = env.image({BPF_TRAMP_FENTRY: [a]})
    two = env.image({BPF_TRAMP_FENTRY: [b, a], BPF_TRAMP_FEXIT: [b]})
    none = env.image({})
    env.call(one, 1, 1)
    env.call(two, 1, 1)
    env.call(none, 1, 1)
    assert [e[0] for e in env.log] == ["a", "orig", "b", "a", "orig", "b", "orig"]
    assert one.run is not two.run and one.source != two.source


def test_nested_traced_call_from_a_program():
    env = Env()
    depth = []

    def prog(ctx):
        depth.append(len(env.rt.live))
        if len(depth) == 1:
            assert env.call.__self__ is env and image.call(encode_call(M2, "x86_64", [9, 9])) == 18
        return 0

    image = env.image({BPF_TRAMP_FEXIT: [L(prog)]})
    assert env.call(image, 1, 2) == 3
    assert depth == [1, 2] and env.rt.max_depth == 2


def test_programs_raising_propagate_and_release():
    env = Env()

    def bad(ctx):
        raise RuntimeError("oops")

    with pytest.raises(RuntimeError):
        env.image({BPF_TRAMP_FEXIT: [L(bad)]}).call(encode_call(M2, "x86_64", [1, 2]))
    assert not env.rt.live


def test_interpreter_links_get_insnsi():
    env = Env()
    got = []
    image = env.image({BPF_TRAMP_FENTRY: [L(lambda ctx, insnsi: got.append(insnsi) or 0, insnsi=0xABC)]})
    env.call(image, 1, 2)
    assert got == [0xABC]


def test_5_5_profile_semantics():
    """No recursion check (start == 0 still runs the program), no run ctx, no ctx[-1], narrow
    arguments stored with their own width (stale upper bytes) and reloaded zero-extended."""
    m = FuncModel(4, SIGNED, 3, (1, 4, 8), (SIGNED, SIGNED, 0))
    env = Env(model=m, body=lambda a, b, c: a + b, poison=0xDEADBEEFDEADBEEF)
    seen = []
    enter = lambda prog, rc: seen.append(rc) or 0
    image = env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe", nslots=3))],
                       BPF_TRAMP_FEXIT: [L(env.prog("fx", nslots=4))]},
                      profile="5.5", hooks=BpfTrampHooks(enter, lambda p, s, rc: None))
    assert image.recursion_check is False and image.ctx_index == 0 and image.half == 0
    assert env.call(image, -1, -2, 3, garbage=0x1111111111111111) == -3
    fe = env.log[0][1]
    assert fe[0] == 0xDEADBEEFDEADBEFF and fe[1] == 0xDEADBEEFFFFFFFFE and fe[2] == 3
    assert env.log[1] == ("orig", [-1, -2, 3], 1)
    assert env.log[2][1][3] == 2**32 - 3 and seen == [None, None]


def test_newest_x86_stores_the_full_register():
    m = FuncModel(4, 0, 2, (1, 4), (SIGNED, 0))
    env = Env(model=m)
    image = env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe", nslots=2))]})
    env.call(image, -1, 5, garbage=0xAAAAAAAAAAAAAAAA)
    assert env.log[0][1] == [0xAAAAAAAAAAAAAAFF, 0xAAAAAAAA00000005]


def test_x86_clean_stack_garbage_and_arm64_clear_garbage():
    m = FuncModel(8, 0, 7, (8,) * 6 + (4,), (0,) * 7)
    env = Env(model=m)
    env.call(env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe", nslots=7))]}), *range(7), garbage=-1)
    assert env.log[0][1][6] == 6                               # upper half zeroed
    m9 = FuncModel(8, 0, 9, (8,) * 8 + (2,), (0,) * 9)
    env = Env(model=m9, arch="arm64")
    env.call(env.image({BPF_TRAMP_FENTRY: [L(env.prog("fe", nslots=9))]}), *range(9), garbage=-1)
    assert env.log[0][1][8] == 8                               # clear_garbage (lsl/lsr)


def test_s390x_struct_by_reference_and_fmod_ret_extension():
    m = FuncModel(4, SIGNED, 2, (12, 8), (STRUCT, 0))
    data = bytes(range(1, 13))
    env = Env(model=m, arch="s390x", body=lambda s, x: len(s))
    links = {BPF_TRAMP_FENTRY: [L(env.prog("fe", nslots=3))],
             BPF_TRAMP_MODIFY_RETURN: [L(env.prog("m", 0xFFFFFFFF))], BPF_TRAMP_FEXIT: [L(env.prog("fx"))]}
    assert env.call(env.image(links), data, 77) == -1
    fe = env.log[0][1]
    assert fe[0] == int.from_bytes(data[:8], "big") and fe[1] == int.from_bytes(data[8:] + bytes(4), "big")
    assert fe[2] == 77 and env.log[0][2] == 3                 # 3 slots: the struct takes 2
    assert env.log[-1][1][3] == 2**64 - 1                      # sign-extended by the return type


@pytest.mark.parametrize("arch", ARCHES)
def test_fexit_on_void_function(arch):
    m = FuncModel(0, 0, 1, (8,), (0,))
    env = Env(model=m, arch=arch, body=lambda a: None)
    assert env.call(env.image({BPF_TRAMP_FEXIT: [L(env.prog("fx", nslots=2))]}), 4) is None
    assert env.log[-1][1][0] == 4
