"""Bodies of the BPF_PROG_TEST_RUN targets (net/bpf/test_run.c, Linux 6.18).

Exactly the C of test_run.c, with C semantics: the caller (functions.py) hands the arguments in
their C types' ranges (``char`` is unsigned: the kernel builds with -funsigned-char, and the 6.18
BTF says so) and cuts the result to the return type, so ``(long)a + b + c + d`` returned as
``int`` behaves as in C. Pointers are simulated kernel addresses: ``*b += 1`` is a load and a
store in ``kernel.mem``; a NULL dereference raises ``MemoryFault`` (the kernel would oops).

    int bpf_fentry_test1(int a)                       { return a + 1; }
    int bpf_fentry_test2(int a, u64 b)                { return a + b; }
    int bpf_fentry_test3(char a, int b, u64 c)        { return a + b + c; }
    int bpf_fentry_test4(void *a, char b, int c, u64 d)            { return (long)a + b + c + d; }
    int bpf_fentry_test5(u64 a, void *b, short c, int d, u64 e)    { return a + (long)b + c + d + e; }
    int bpf_fentry_test6(u64 a, void *b, short c, int d, void *e, u64 f) { ... + (long)e + f; }
    int bpf_fentry_test7(struct bpf_fentry_test_t *arg) { return (long)arg; }
    int bpf_fentry_test8(struct bpf_fentry_test_t *arg) { return (long)arg->a; }
    u32 bpf_fentry_test9(u32 *a)                      { return *a; }
    int bpf_fentry_test10(const void *a)              { return (long)a; }
    void bpf_fentry_test_sinfo(struct skb_shared_info *sinfo) { }
    int bpf_modify_return_test(int a, int *b)         { *b += 1; return a + *b; }
    int bpf_modify_return_test2(int a, int *b, short c, int d, void *e, char f, int g)
                                                      { *b += 1; return a + *b + c + d + (long)e + f + g; }
    int bpf_modify_return_test_tp(int nonce)          { trace_bpf_trigger_tp(nonce); return nonce; }
    int bpf_fentry_shadow_test(int a)                 { return a + 1; }
"""


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def bpf_fentry_test1(k, a):
    return a + 1


def bpf_fentry_test2(k, a, b):
    return a + b


def bpf_fentry_test3(k, a, b, c):
    return a + b + c


def bpf_fentry_test4(k, a, b, c, d):
    return a + b + c + d


def bpf_fentry_test5(k, a, b, c, d, e):
    return a + b + c + d + e


def bpf_fentry_test6(k, a, b, c, d, e, f):
    return a + b + c + d + e + f


def bpf_fentry_test7(k, arg):
    return arg


def bpf_fentry_test8(k, arg):
    return k.mem.load(arg, 8)          # arg->a, the struct's only member (a pointer)


def bpf_fentry_test9(k, a):
    return k.mem.load(a, 4)


def bpf_fentry_test10(k, a):
    return a


def bpf_fentry_test_sinfo(k, sinfo):
    return None


def bpf_modify_return_test(k, a, b):
    v = _s32(k.mem.load(b, 4) + 1)
    k.mem.store(b, 4, v)
    return a + v


def bpf_modify_return_test2(k, a, b, c, d, e, f, g):
    v = _s32(k.mem.load(b, 4) + 1)
    k.mem.store(b, 4, v)
    return a + v + c + d + e + f + g


def bpf_modify_return_test_tp(k, nonce):
    # trace_bpf_trigger_tp(nonce): the tracepoint is the tracepoint catalog's business; a hook
    # there (kernel.subsys["tracepoint_hit"]) fires it when it exists.
    hit = k.subsys.get("tracepoint_hit")
    if callable(hit):
        hit("bpf_trigger_tp", nonce)
    return nonce


def bpf_fentry_shadow_test(k, a):
    return a + 1


BODIES = {
    "bpf_fentry_test1": bpf_fentry_test1,
    "bpf_fentry_test2": bpf_fentry_test2,
    "bpf_fentry_test3": bpf_fentry_test3,
    "bpf_fentry_test4": bpf_fentry_test4,
    "bpf_fentry_test5": bpf_fentry_test5,
    "bpf_fentry_test6": bpf_fentry_test6,
    "bpf_fentry_test7": bpf_fentry_test7,
    "bpf_fentry_test8": bpf_fentry_test8,
    "bpf_fentry_test9": bpf_fentry_test9,
    "bpf_fentry_test10": bpf_fentry_test10,
    "bpf_fentry_test_sinfo": bpf_fentry_test_sinfo,
    "bpf_modify_return_test": bpf_modify_return_test,
    "bpf_modify_return_test2": bpf_modify_return_test2,
    "bpf_modify_return_test_tp": bpf_modify_return_test_tp,
    "bpf_fentry_shadow_test": bpf_fentry_shadow_test,
}
