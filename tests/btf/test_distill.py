"""btf_distill_func_proto: today's rules and the 5.5 profile."""

import errno

import pytest

from btf import (BTF_FMODEL_SIGNED_ARG, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG, BtfError,
                 BtfKind, ENOTSUPP, FuncModel, btf_distill_func_proto)
from btf.builder import BtfBuilder
from btf.cli import main
from btf.embedded import embedded_btf


def proto_btf():
    b = BtfBuilder()
    i = b.add_int("int", 4, 1)            # 1
    u = b.add_int("unsigned char", 1)     # 2
    s16 = b.add_struct("s16", 16)         # 3
    b.add_field("a", i, 0)
    s24 = b.add_struct("s24", 24)         # 4
    b.add_field("a", i, 0)
    un = b.add_union("un", 8)             # 5
    b.add_field("a", i, 0)
    p = b.add_ptr(s24)                    # 6
    td = b.add_typedef("myint", i)        # 7
    tv = b.add_typedef("myvoid", 0)       # 8
    f = b.add_float("double", 8)          # 9

    def fn(name, ret, params):
        pr = b.add_func_proto(ret)
        for pt in params:
            b.add_func_param(None if pt == 0 else f"p{b.nr_types}", pt)
        return b.add_func(name, pr)

    ids = dict(
        ok=fn("ok", td, [u, p, s16, un]), many=fn("many", i, [i] * 13), twelve=fn("twelve", 0, [i] * 12),
        seven=fn("seven", i, [i] * 7), sret=fn("sret", s16, []), uret=fn("uret", un, []),
        big=fn("big", i, [s24]), var=fn("var", i, [i, 0]), void=fn("voidp", i, [0, i]),
        tvoid=fn("tvoid", i, [tv]), flt=fn("flt", f, []))
    return b.to_btf(), ids


def test_today():
    btf, ids = proto_btf()
    m = btf_distill_func_proto(btf, ids["ok"])
    assert m == FuncModel(4, BTF_FMODEL_SIGNED_ARG, 4, (1, 8, 16, 8), (0, 0, BTF_FMODEL_STRUCT_ARG, BTF_FMODEL_UNION_ARG))
    assert btf_distill_func_proto(btf, ids["twelve"]).nr_args == 12
    assert btf_distill_func_proto(btf, btf.type_by_id(ids["ok"]).type).nr_args == 4    # a FUNC_PROTO
    assert btf_distill_func_proto(btf, None) == FuncModel(8, 0, 5, (8,) * 5, (0,) * 5)


@pytest.mark.parametrize("key,msg", [
    ("many", "The function many has 13 arguments. Too many."),
    ("sret", "The function sret return type STRUCT is unsupported."),
    ("uret", "The function uret return type UNION is unsupported."),
    ("big", "The function big arg0 type STRUCT is unsupported."),
    ("var", "The function var with variable args is unsupported."),
    ("void", "The function voidp has malformed void argument."),
    ("tvoid", "The function tvoid arg0 type UNKNOWN is unsupported."),
    ("flt", "The function flt return type FLOAT is unsupported."),
])
def test_today_refusals(key, msg):
    btf, ids = proto_btf()
    with pytest.raises(BtfError) as e:
        btf_distill_func_proto(btf, ids[key])
    assert e.value.errno == errno.EINVAL and e.value.message == msg


def test_profile_5_5():
    btf, ids = proto_btf()
    with pytest.raises(BtfError) as e:
        btf_distill_func_proto(btf, ids["ok"], profile="5.5")
    assert e.value.message == "The function ok arg2 type STRUCT is unsupported."
    with pytest.raises(BtfError) as e:
        btf_distill_func_proto(btf, ids["seven"], profile="5.5")
    assert e.value.errno == ENOTSUPP
    with pytest.raises(BtfError) as e:
        btf_distill_func_proto(btf, ids["twelve"], profile="5.5")
    assert e.value.message == "The function twelve has 12 arguments. Too many."
    m = btf_distill_func_proto(btf, ids["var"], profile="5.5")     # no vararg check in 5.5
    assert m == FuncModel(4, 0, 2, (4, 0), (0, 0))


def test_kernel_functions():
    btf = embedded_btf()
    f = btf.find_by_name_kind("bpf_fentry_test1", BtfKind.BTF_KIND_FUNC)
    assert btf_distill_func_proto(btf, f) == FuncModel(4, 2, 1, (4,), (2,))
    f = btf.find_by_name_kind("bpf_fentry_test7", BtfKind.BTF_KIND_FUNC)
    assert btf_distill_func_proto(btf, f).arg_size == (8,)
    f = btf.find_by_name_kind("tcp_retransmit_skb", BtfKind.BTF_KIND_FUNC)
    assert btf_distill_func_proto(btf, f) == FuncModel(4, 2, 3, (8, 8, 4), (0, 0, 2))


def test_vmlinux_summary(vmlinux, capsys):
    from tests.paths import VMLINUX_BTF as VMLINUX
    assert main(["funcs", str(VMLINUX), "--summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("profile 6.18: 56251 functions, 55938 accepted, 313 refused\n")
    assert "139  EINVAL: The function %s with variable args is unsupported." in out
    assert main(["funcs", str(VMLINUX), "--summary", "--profile", "5.5"]) == 0
    assert capsys.readouterr().out.startswith("profile 5.5: 56251 functions, 54639 accepted, 1612 refused\n")


def test_cli_per_function(capsys):
    assert main(["funcs"]) == 0
    out = capsys.readouterr().out
    assert "tcp_retransmit_skb: ret_size=4 ret_flags=0x2 nr_args=3 args=[8, 8, 4/0x2]" in out
