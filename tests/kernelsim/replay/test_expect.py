"""kernelsim/replay/expect.py and values.py: each expectation kind against plain observations."""

import pytest

from kernelsim.replay import expect as ex
from kernelsim.replay.loader import Mark
from kernelsim.replay.steps import (ExpectMap, ExpectProgStats, ExpectReturned, ExpectRingbuf,
                                    ExpectTracePipe, InlineExpect)
from kernelsim.replay.values import bytes_type, decode, encode, matches, parse_type, show

W = Mark("t.yaml", 7, 3)
U32, U64, S32 = parse_type("u32"), parse_type("u64"), parse_type("s32")


def test_types_and_encoding():
    st = parse_type({"struct": {"pid": "u32", "comm": "char[16]", "ts": "u64"}})
    assert st.size == 32 and [f[1] for f in st.fields] == [0, 4, 24]
    data = encode(st, {"pid": 7, "comm": "bash"})
    assert decode(st, data) == {"pid": 7, "comm": "bash", "ts": 0}
    assert matches(st, {"comm": "bash"}, data) and not matches(st, {"comm": "sh"}, data)
    assert encode(S32, -11) == (2**32 - 11).to_bytes(4, "little")
    assert encode(U32, 1, "big") == b"\0\0\0\1"
    assert encode(parse_type("u8[3]"), [1, 2]) == b"\1\2\0"
    assert encode(bytes_type(4), {"hex": "01 02 03 04"}) == b"\1\2\3\4"
    assert show(parse_type("u16[2]"), b"\1\0\2\0") == "[1, 2]"
    assert matches(U64, {"min": 3}, encode(U64, 5)) and not matches(U64, {"max": 3}, encode(U64, 5))
    for bad, t in ((256, "u8"), (-129, "u8"), ("toolongforthis!!!", "char[16]"), ([1, 2, 3], "u8[2]")):
        with pytest.raises(ValueError):
            encode(parse_type(t), bad)


@pytest.mark.parametrize("exp, ret, ok, kind", [
    (InlineExpect(W), 3, None, None),                               # implicit: nothing recorded
    (InlineExpect(W), -1, False, "ok"),
    (InlineExpect(W, errno=1, explicit=True), -1, True, "errno"),
    (InlineExpect(W, errno=1, explicit=True), 4, False, "errno"),
    (InlineExpect(W, errno=22, explicit=True), -1, False, "errno"),
    (InlineExpect(W, ret={"min": 3}, explicit=True), 4, True, "ret"),
    (InlineExpect(W, ok=True, explicit=True), 0, True, "ok"),
])
def test_check_result(exp, ret, ok, kind):
    outs = ex.check_result("load of 'p'", exp, ret)
    if ok is None:
        assert outs == []
    else:
        assert outs[0].ok is ok and outs[0].kind == kind and outs[0].where == W


def test_errno_outcome_says_what_happened():
    o = ex.check_result("load", InlineExpect(W, errno=22, explicit=True), -1)[0]
    assert o.expected == "fails with -EINVAL (-22)" and o.actual == "failed with -EPERM (-1)"
    o = ex.check_result("load", InlineExpect(W, errno=13, explicit=True), 5)[0]
    assert o.actual == "succeeded: success (5)"


def test_log_lines_exact_and_regex():
    log = "0: (85) call bpf_trace_printk#6\ncannot call GPL-restricted function from non-GPL compatible program\n"
    e = InlineExpect(W, errno=22, log=("cannot call GPL-restricted function from non-GPL compatible program",),
                     log_regex=(r"call bpf_\w+#6",), explicit=True)
    outs = ex.check_result("load", e, -22, log)
    assert [o.kind for o in outs] == ["errno", "log", "log"] and all(o.ok for o in outs)
    bad = ex.check_result("load", InlineExpect(W, log=("nope",), explicit=True), -22, log)
    assert not bad[-1].ok and "not in the log" in bad[-1].actual


def kv(k, v):
    return (k, v, W)


def test_check_map_exact_contains_absent_count():
    entries = [(encode(U32, 1), encode(U64, 5)), (encode(U32, 2), encode(U64, 7))]
    e = ExpectMap("m", None, (kv(1, 5), kv(2, 7)), (), (), None, W)
    assert ex.check_map(e, U32, U64, entries).ok
    e = ExpectMap("m", None, (kv(1, 5),), (), (), None, W)
    o = ex.check_map(e, U32, U64, entries)
    assert not o.ok and o.details == ("unexpected key 2 = 7",)
    e = ExpectMap("m", None, None, (kv(2, 8), kv(3, 1)), ((1, W),), 3, W)
    o = ex.check_map(e, U32, U64, entries)
    assert set(o.details) == {"key 2: expected 8, got 7", "missing key 3 (expected value 1)",
                              "key 1 present (= 5), expected absent", "2 entries, expected 3"}


def test_check_map_percpu_sum_or_list():
    v = encode(U64, 3) + encode(U64, 4)
    entries = [(encode(U32, 0), v)]
    assert ex.check_map(ExpectMap("m", None, (kv(0, 7),), (), (), None, W), U32, U64, entries, percpu=2).ok
    assert ex.check_map(ExpectMap("m", None, (kv(0, [3, 4]),), (), (), None, W), U32, U64, entries, percpu=2).ok
    assert not ex.check_map(ExpectMap("m", None, (kv(0, 8),), (), (), None, W), U32, U64, entries, percpu=2).ok


def test_check_ringbuf():
    e = ExpectRingbuf("rb", ((5, W), (6, W)), None, U32, True, W)
    assert ex.check_ringbuf(e, [encode(U32, 5), encode(U32, 6)]).ok
    o = ex.check_ringbuf(e, [encode(U32, 5)])
    assert not o.ok and "1 records, expected 2" in o.details


def test_check_trace_pipe():
    line = "             cat-12      [000] ...21     5.000001: bpf_trace_printk: len 60\n"
    got = [("len 60", line)]
    assert ex.check_trace_pipe(ExpectTracePipe(("len 60",), False, True, W), got).ok
    assert ex.check_trace_pipe(ExpectTracePipe((line,), False, True, W), got).ok
    assert ex.check_trace_pipe(ExpectTracePipe((r"cat-\d+ .*len \d+",), True, True, W), got).ok
    o = ex.check_trace_pipe(ExpectTracePipe(("len 60", "len 61"), False, True, W), got)
    assert not o.ok and "no more lines" in o.details[0]
    o = ex.check_trace_pipe(ExpectTracePipe((), False, True, W), got)
    assert not o.ok and o.details[0].startswith("unexpected line")


def test_check_prog_stats_and_returned():
    e = ExpectProgStats("p", (("run_cnt", 3), ("run_time_ns", {"min": 1})), W)
    assert ex.check_prog_stats(e, {"run_cnt": 3, "run_time_ns": 10}).ok
    o = ex.check_prog_stats(e, {"run_cnt": 2, "run_time_ns": 0})
    assert o.details == ("run_cnt: expected 3, got 2", "run_time_ns: expected >= 1, got 0")
    assert ex.check_returned(ExpectReturned("f", -11, W), -11).ok
    o = ex.check_returned(ExpectReturned("f", 0, W), ex.NOT_CALLED)
    assert not o.ok and o.actual == "it was never called"


def test_outcome_as_dict_is_plain():
    o = ex.check_returned(ExpectReturned("f", 1, W), 1)
    assert o.as_dict() == {"kind": "returned", "file": "t.yaml", "line": 7, "col": 3, "ok": True,
                           "what": "f()", "expected": "returned 1", "actual": "returned 1",
                           "details": [], "count": 1}
