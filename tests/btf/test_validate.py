"""btf_check: each case's errno and complaint line (checked against the real kernel, see
test_validate_realkernel.py), the log's shape, and the large BTFs accepted."""

import errno

import pytest

from btf import BtfError, btf_check
from btf.embedded import embedded_btf_bytes
from btf.errors import ENOTSUPP

from validate_cases import CASES


@pytest.mark.parametrize("desc,make,err,line", CASES, ids=[c[0] for c in CASES])
def test_case(desc, make, err, line):
    data = make()
    if err == 0:
        btf, log = btf_check(data, 1)
        if line is not None:
            assert log.strip().splitlines()[-1].strip() == line.strip()
        return
    with pytest.raises(BtfError) as e:
        btf_check(data, 1)
    assert e.value.errno == err
    if line is not None:
        assert e.value.message == line.strip()
        assert e.value.log.rstrip("\n").endswith(line.rstrip("\n").lstrip("\t") if not line.startswith("\t") else line)


def test_log_shape():
    make = dict((c[0], c[1]) for c in CASES)["bad magic"]
    with pytest.raises(BtfError) as e:
        btf_check(make(), 1)
    assert e.value.log.startswith("magic: 0x1234\nversion: 1\nflags: 0x0\nhdr_len: 24\n")
    assert e.value.log.endswith("btf_total_size: 45\nInvalid magic")      # no newline after it
    with pytest.raises(BtfError) as e:
        btf_check(make(), 0)
    assert e.value.log == "" and e.value.message == "Invalid magic"


def test_too_big():
    with pytest.raises(BtfError) as e:
        btf_check(b"\0" * (16 * 1024 * 1024 + 1), 1)
    assert e.value.errno == errno.E2BIG


def test_enotsupp_value():
    assert ENOTSUPP == 524


def test_embedded_accepted():
    btf, log = btf_check(embedded_btf_bytes(), 1)
    assert len(btf) > 1000 and log.startswith("magic: 0xeb9f\n")


def test_vmlinux_accepted(vmlinux_bytes):
    btf, log = btf_check(vmlinux_bytes, 0)
    assert btf.nr_types == 126566 and log == ""


def test_split_check(vmlinux):
    from btf.builder import BtfBuilder
    b = BtfBuilder(vmlinux)
    ptr = b.add_ptr(vmlinux.find_by_name_kind("sk_buff", 4))
    s = b.add_struct("mine", 16)
    b.add_field("skb", ptr, 0)
    b.add_field("len", vmlinux.find_by_name_kind("int", 1), 64)
    btf, _ = btf_check(b.to_bytes(), 1, base=vmlinux)
    assert btf.start_id == vmlinux.nr_types and btf.type_by_id(s).name == "mine"
