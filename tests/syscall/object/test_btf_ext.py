"""syscall/object/btf_ext.py: .BTF.ext parsing (func_info, line_info, core_relo) and its
malformed forms; what PROG_LOAD receives."""

import errno
import struct

import pytest

from syscall.object.btf_ext import btf_ext_parse
from syscall.object.elf import ElfObject
from syscall.object.errors import BpfObjectError

from fake_task import open_obj


def _ext(object_bytes, name):
    elf = ElfObject.parse(object_bytes(name), name)
    import btf as btflib
    b = btflib.Btf.parse(elf.section_by_name(".BTF").data)
    return elf, b, elf.section_by_name(".BTF.ext").data


def test_parse_compiled(object_bytes):
    elf, b, raw = _ext(object_bytes, "core")
    ext = btf_ext_parse(raw, b.str_at)
    assert ext.func_info.rec_size == 8 and ext.line_info.rec_size == 16
    assert ext.core_relo_info.rec_size == 16
    assert [s.sec_name for s in ext.func_info.secs] == ["raw_tp/sched_switch"]
    sec = ext.func_info.secs[0]
    assert sec.insn_off(0) == 0 and b.name_of(int.from_bytes(sec.records[0][4:8], "little")) == "read_task"
    relos = ext.core_relos("raw_tp/sched_switch")
    assert len(relos) >= 15 and all(r.insn_off % 8 == 0 for r in relos)
    assert {r.kind for r in relos} >= {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert b.str_at(relos[0].access_str_off) == "0:92"


def test_prog_load_gets_kernel_units(compiled, rtask):
    obj = open_obj(rtask, compiled("subprogs"))
    obj.load()
    for c, f in rtask.calls:
        if c != "BPF_PROG_LOAD":
            continue
        assert f["func_info_rec_size"] == 8 and f["line_info_rec_size"] == 16
        fi = [struct.unpack_from("<II", f["func_info"], 8 * i) for i in range(f["func_info_cnt"])]
        li = [struct.unpack_from("<IIII", f["line_info"], 16 * i) for i in range(f["line_info_cnt"])]
        assert fi[0][0] == 0 and all(off < f["insn_cnt"] for off, _ in fi)
        assert li[0][0] == 0 and all(r[0] < f["insn_cnt"] for r in li)
        assert f["prog_btf_fd"] == obj.btf_fd


def _hdr(fi_off=0, fi_len=0, li_off=0, li_len=0, magic=0xEB9F, version=1, flags=0, hdr_len=24):
    return struct.pack("<HBBIIIII", magic, version, flags, hdr_len, fi_off, fi_len, li_off, li_len)


@pytest.mark.parametrize("blob, err, text", [
    (b"\x9f\xeb", errno.EINVAL, "too short"),
    (_hdr(magic=0x1234) + bytes(8), errno.EINVAL, "Invalid BTF.ext magic"),
    (_hdr(version=2) + bytes(8), errno.EOPNOTSUPP, "version"),
    (_hdr(flags=1) + bytes(8), errno.EOPNOTSUPP, "flags"),
    (_hdr(), errno.EINVAL, "no data"),
    (_hdr(hdr_len=16) + bytes(8), errno.EINVAL, "missing func_info"),
    (_hdr(fi_off=2, fi_len=12) + bytes(16), errno.EINVAL, "not aligned"),
    (_hdr(fi_len=64) + bytes(16), errno.EINVAL, "beyond the end"),
    (_hdr(fi_len=4) + struct.pack("<I", 4), errno.EINVAL, "invalid record size"),
    (_hdr(fi_len=4) + struct.pack("<I", 8), errno.EINVAL, "no records"),
    (_hdr(fi_len=12) + struct.pack("<III", 8, 1, 0), errno.EINVAL, "incorrect num_records"),
    (_hdr(fi_len=12) + struct.pack("<III", 8, 1, 5), errno.EINVAL, "incorrect num_records"),
])
def test_malformed(blob, err, text):
    with pytest.raises(BpfObjectError) as ei:
        btf_ext_parse(blob, lambda off: "")
    assert ei.value.errno == err and text in str(ei.value)


def test_bigger_records_pass_through():
    recs = struct.pack("<III", 12, 7, 2) + struct.pack("<III", 16, 3, 99) * 2
    blob = _hdr(fi_len=len(recs)) + recs
    ext = btf_ext_parse(blob, lambda off: "sec" if off == 7 else "")
    assert ext.func_info.rec_size == 12 and ext.func_info.secs[0].sec_name == "sec"
    assert ext.func_info.secs[0].records[1] == struct.pack("<III", 16, 3, 99)


def test_broken_btf_ext_is_ignored(object_bytes, rtask):
    """libbpf: 'Error loading ELF section .BTF.ext ... Ignored and continue.'"""
    data = bytearray(object_bytes("minimal"))
    elf = ElfObject.parse(bytes(data), "m.o")
    sec = elf.section_by_name(".BTF.ext")
    shoff = int.from_bytes(data[0x28:0x30], "little")
    off = int.from_bytes(data[shoff + 64 * sec.idx + 24: shoff + 64 * sec.idx + 32], "little")
    data[off: off + 2] = b"\0\0"                       # bad magic
    obj = open_obj(rtask, bytes(data), name="minimal")
    assert any(".BTF.ext" in w and "Ignored" in w for w in obj.warnings)
    obj.load()
    load = [f for c, f in rtask.calls if c == "BPF_PROG_LOAD"][0]
    assert load["func_info_cnt"] == 0 and load["line_info_cnt"] == 0 and load["prog_btf_fd"]
