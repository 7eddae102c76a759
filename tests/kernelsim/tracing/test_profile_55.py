"""Profile 5.5 (the seed commit's design) against 6.18 on the same scenarios: 40 programs, the
half-page image pair flipped on each attach and detach, fentry/fexit only, 6 arguments, no
recursion protection, narrow stores."""

import pytest

from kernelsim import Kernel
from kernelsim.errors import BpfError
from kernelsim.tracing.trampoline import bpf_trampoline_lookup

from tracing_progs import FENTRY, FEXIT, FMOD_RET, ArrayMap, attach, counter, ctx_dump, load

EINVAL, E2BIG, ENOTSUPP = 22, 7, 524


def machine(profile):
    k = Kernel(profile=profile)
    t = k.spawn(comm="cmp")
    return k, t, ArrayMap(k, t, max_entries=64)


def test_fmod_ret_does_not_exist():
    k, t, m = machine("5.5")
    with pytest.raises(BpfError) as e:
        load(k, t, "r0 = 0\nexit\n", "bpf_modify_return_test", FMOD_RET)
    assert e.value.errno == EINVAL
    k2, t2, _ = machine("6.18")
    load(k2, t2, "r0 = 0\nexit\n", "bpf_modify_return_test", FMOD_RET)


def test_six_arguments_at_most():
    k, t, m = machine("5.5")
    load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test6", FENTRY)
    with pytest.raises(BpfError) as e:
        load(k, t, "r0 = 0\nexit\n", "bpf_modify_return_test2", FENTRY)     # 7 arguments
    assert e.value.errno == ENOTSUPP
    k2, t2, _ = machine("6.18")
    load(k2, t2, "r0 = 0\nexit\n", "bpf_modify_return_test2", FENTRY)


@pytest.mark.parametrize("profile,limit", [("5.5", 40), ("6.18", 38)])
def test_link_limit(profile, limit):
    k, t, m = machine(profile)
    links = [attach(k, load(k, t, counter(m.fd, i), "bpf_fentry_test1", FENTRY if i % 2 else FEXIT))
             for i in range(limit)]
    with pytest.raises(BpfError) as e:
        attach(k, load(k, t, counter(m.fd, 63), "bpf_fentry_test1", FENTRY))
    assert e.value.errno == E2BIG
    assert k.call("bpf_fentry_test1", 1) == 2 and m.values(limit) == [1] * limit
    for l in links:
        l.put()


def test_half_page_flip():
    k, t, m = machine("5.5")
    fn = k.functions["bpf_fentry_test1"]
    links = []
    halves, addrs = [], set()
    for i in range(4):
        links.append(attach(k, load(k, t, counter(m.fd, i), "bpf_fentry_test1", FENTRY)))
        tr = fn.trampoline
        halves.append(tr.cur_image.half)
        addrs.add(tr.cur_image.image_addr)
    for l in links[:3]:
        l.put()
        halves.append(tr.cur_image.half)
        addrs.add(tr.cur_image.image_addr)
    assert halves == [0, 1, 0, 1, 0, 1, 0]
    assert addrs == {tr.page.base, tr.page.base + 2048}        # one page, never another allocation
    assert tr.page.selector == 7
    k.call("bpf_fentry_test1", 1)
    assert m.values(4) == [0, 0, 0, 1]                          # the one left still runs
    links[3].put()                                              # the last detach resets the page
    assert tr.page.selector == 0 and fn.direct is None


def test_key_is_the_bare_btf_id():
    k, t, m = machine("5.5")
    link = attach(k, load(k, t, "r0 = 0\nexit\n", "bpf_fentry_test1", FENTRY))
    fn = k.functions["bpf_fentry_test1"]
    assert bpf_trampoline_lookup(k, fn.btf_id) is fn.trampoline
    assert link.fill_link_info()["tracing.target_btf_id"] == fn.btf_id
    link.put()


@pytest.mark.parametrize("profile,runs,misses", [("5.5", 2, 0), ("6.18", 1, 1)])
def test_recursion_protection(profile, runs, misses):
    """5.5: "BPF trampoline doesn't provide builtin recursion prevention" — a program re-entered
    on the same CPU runs again; 6.18 skips it and counts a recursion miss."""
    k, t, m = machine(profile)
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FENTRY)
    inner = p.bpf_func
    depth = [0]

    def bpf_func(ctx, run):
        r0 = inner(ctx, run)
        if depth[0] == 0:
            depth[0] += 1
            k.call("bpf_fentry_test1", 7)         # re-enter the attach point
            depth[0] -= 1
        return r0
    p.bpf_func = bpf_func
    link = attach(k, p)
    k.call("bpf_fentry_test1", 1)
    assert m[0] == runs and p.stats.misses == misses
    link.put()


@pytest.mark.parametrize("profile", ["5.5", "6.18"])
def test_stats_in_both(profile):
    k, t, m = machine(profile)
    p = load(k, t, counter(m.fd, 0), "bpf_fentry_test1", FEXIT)
    link = attach(k, p)
    k.sysctl["kernel.bpf_stats_enabled"] = 1
    k.call("bpf_fentry_test1", 1)
    assert p.stats.cnt == 1 and p.stats.nsecs == 10
    link.put()


def test_narrow_arguments_in_the_slots():
    """6.18 stores whole registers (the caller's upper bits show); 5.5 stored the argument's
    own width, leaving the stack's bytes above (zero here: a fresh kernel stack)."""
    got = {}
    for profile in ("6.18", "5.5"):
        k, t, m = machine(profile)
        link = attach(k, load(k, t, ctx_dump(m.fd, 3), "bpf_fentry_test3", FENTRY))
        assert k.call("bpf_fentry_test3", 4, 5, 6, garbage=0xAAAAAAAAAAAAAAAA) == 15
        got[profile] = m.values(3)
        link.put()
    assert got["6.18"] == [0xAAAAAAAAAAAAAA04, 0xAAAAAAAA00000005, 6]
    assert got["5.5"] == [4, 5, 6]


def test_same_scenario_both_profiles():
    """The same fentry+fexit scenario gives the same results under both designs."""
    results = {}
    for profile in ("5.5", "6.18"):
        k, t, m = machine(profile)
        e = attach(k, load(k, t, ctx_dump(m.fd, 2), "bpf_fentry_test2", FENTRY))
        x = attach(k, load(k, t, ctx_dump(m.fd, 3, base=4), "bpf_fentry_test2", FEXIT))
        rets = [k.call("bpf_fentry_test2", a, b) for a, b in ((1, 2), (-5, 3), (7, 1 << 40))]
        results[profile] = (rets, m.values(7), e.trampoline.nr_images)
        e.put()
        x.put()
    assert results["5.5"] == results["6.18"]
