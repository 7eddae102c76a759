"""kernelsim/tools/bpftool_cmds.py: bpftool's show/list/dump formats over a replay's end state,
compared with the real bpftool where this machine allows it."""

import json
import re
import shutil
import subprocess

import pytest

from kernelsim.tools import features
from kernelsim.tools.bpftool_cmds import boot_time, fprint_hex

pytestmark = pytest.mark.skipif(not features.has("syscall.dispatch", "sys_bpf"),
                                reason="the bpftool commands need the bpf() syscall (syscall/dispatch.py)")

SCENARIO = """\
name: bt
kernel: {seed: 1}
maps:
  counts: {type: hash, key: u32, value: u64, max_entries: 1024, init: [{key: 1, value: 5}]}
  wide: {type: array, key: u32, value: "u8[20]", max_entries: 1}
programs:
  foo:
    type: tracing
    attach_type: fentry
    attach_to: bpf_fentry_test1
    maps: [counts]
    asm: |
      *(u32 *)(r10 -4) = 1
      r1 = map_fd(counts)
      r2 = r10
      r2 += -4
      call bpf_map_lookup_elem
      r0 = 0
      exit
  nonfree: {type: socket_filter, license: Proprietary, asm: "r0 = 0\\nexit\\n"}
attach: [{prog: foo}]
"""


@pytest.fixture
def after(scenario_file):
    return ["--after", str(scenario_file(SCENARIO))]


def test_fprint_hex_and_boot_time():
    assert fprint_hex(bytes(range(1, 5))) == "01 02 03 04"
    assert fprint_hex(bytes(18)) == "00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n00 00"
    assert boot_time(5_000_000_000) == "2025-01-01T00:00:00+0000"


def test_prog_list(cli, after):
    rc, out, err = cli(["prog", "list", *after])
    assert rc == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"1: tracing  name foo  tag [0-9a-f]{16}  gpl", lines[0])
    assert lines[1] == "\tloaded_at 2025-01-01T00:00:00+0000  uid 0"
    assert lines[2] == "\txlated 80B  not jited  memlock 4096B  map_ids 1"     # lookup inlined
    assert re.fullmatch(r"2: socket_filter  name nonfree  tag [0-9a-f]{16}", lines[3])   # no "gpl"
    assert cli(["prog", "show", "id", "1", *after])[1] == "\n".join(lines[:3]) + "\n"


def test_prog_dump_xlated(cli, after):
    rc, out, _ = cli(["prog", "dump", "xlated", "id", "1", *after])
    assert rc == 0
    assert out.splitlines() == [
        "   0: (62) *(u32 *)(r10 -4) = 1",
        "   1: (18) r1 = map[id:1]",
        "   3: (bf) r2 = r10",
        "   4: (07) r2 += -4",
        "   5: (85) call bpf_map_lookup_elem#1",          # Linux: __htab_map_lookup_elem, inlined
        "   6: (15) if r0 == 0x0 goto pc+1",
        "   7: (07) r0 += 56",
        "   8: (b7) r0 = 0",
        "   9: (95) exit"]


def test_map_list_and_dump(cli, after):
    rc, out, _ = cli(["map", "list", *after])
    assert out.splitlines()[:2] == ["1: hash  name counts  flags 0x0",
                                    "\tkey 4B  value 8B  max_entries 1024"]
    rc, out, _ = cli(["map", "dump", "id", "1", *after])
    assert out == "key: 01 00 00 00  value: 05 00 00 00 00 00 00 00\nFound 1 element\n"
    rc, out, _ = cli(["map", "dump", "id", "2", *after])          # value > 16 bytes: broken lines
    assert out == ("key:\n00 00 00 00\nvalue:\n00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n"
                   "00 00 00 00\nFound 1 element\n")
    rc, out, _ = cli(["map", "dump", "id", "1", "-j", *after])
    assert json.loads(out) == [{"key": ["0x01", "0x00", "0x00", "0x00"],
                                "value": ["0x05"] + ["0x00"] * 7}]


def test_link_list(cli, after):
    rc, out, _ = cli(["link", "list", *after])
    lines = out.splitlines()
    assert lines[0] == "1: tracing  prog 1  "
    assert lines[1] == "\tprog_type tracing  attach_type trace_fentry  "
    assert re.fullmatch(r"\ttarget_obj_id 1  target_btf_id \d+  ", lines[2])
    rc, out, _ = cli(["link", "show", "-j", *after])
    assert json.loads(out)[0]["attach_type"] == "trace_fentry"


def test_fresh_kernel_is_empty_and_errors(cli):
    assert cli(["prog", "list"]) == (0, "", "")
    assert cli(["map", "list", "--arch", "arm64"]) == (0, "", "")
    rc, _, err = cli(["map", "dump", "id", "7"])
    assert rc == 1 and "can't get map by id (7)" in err
    rc, _, err = cli(["prog", "frobnicate"])
    assert rc == 2 and "unknown command" in err


def test_bpftool_front_reaches_every_object(cli, after, tmp_path):
    assert cli(["bpftool", "map", "list", *after])[1].startswith("1: hash  name counts")
    src = tmp_path / "p.s"
    src.write_text("r0 = 0\nexit\n")
    rc, _, _ = cli(["bpftool", "asm", "-o", tmp_path / "p.bin", src])
    assert rc == 0 and (tmp_path / "p.bin").read_bytes() == bytes.fromhex("b700000000000000 9500000000000000")
    rc, out, _ = cli(["bpftool", "btf", "dump"])
    assert rc == 0 and out.startswith("[1] ")
    rc, _, err = cli(["bpftool", "nothing"])
    assert rc == 2


def test_btf_list_and_dump_after_a_replay(cli, after):
    rc, out, err = cli(["btf", "list", *after])
    assert rc == 0, err
    assert re.fullmatch(r"1: name \[vmlinux\]  size \d+B\n", out)       # only the kernel's BTF
    rc, dumped, _ = cli(["btf", "dump", *after])                        # id 1 by default
    assert rc == 0 and dumped == cli(["btf", "dump"])[1]                 # the embedded BTF, read by bpf()
    rc, _, err = cli(["btf", "dump", *after, "id", "2"])
    assert rc == 1 and err == "Error: get btf by id (2): No such file or directory\n"
    assert cli(["bpftool", "btf", "list", *after])[1] == out


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is needed to compile the scenario's C")
def test_btf_of_a_loaded_object_after_a_replay(cli):
    from pathlib import Path
    sc = str(Path(__file__).resolve().parents[3] / "scenarios" / "eth_type_trans_c.yaml")
    rc, out, err = cli(["btf", "list", "--after", sc])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("1: name [vmlinux]  size ")
    assert re.fullmatch(r"2: name <anon>  size \d+B  prog_ids 1", lines[1])   # the object's BTF
    rc, c, _ = cli(["btf", "dump", "--after", sc, "id", "2", "--format", "c"])
    assert rc == 0 and "struct sk_buff {" in c and "int rx(" not in c   # the types the program used


def test_trampoline_show_after_a_replay(cli, after):
    rc, out, err = cli(["trampoline", "show", "bpf_fentry_test1", *after])
    assert rc == 0, err
    assert out.startswith("; bpf_trampoline for bpf_fentry_test1 (arch x86_64, profile newest)")
    assert "; links: fentry=1 fmod_ret=0 fexit=0" in out
    rc, _, err = cli(["trampoline", "show", "vfs_read", *after])
    assert rc == 2 and "no BPF trampoline is attached" in err


# ---- the real bpftool on this machine ---------------------------------------------------------

def _real_bpftool(*args) -> str:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.realkernel
def test_formats_match_the_real_bpftool(cli, scenario_file, tmp_path):
    """Create the same map with the real bpftool, put the same element, and compare show and
    dump output (ids and memlock masked: the kernel's memlock comes from fdinfo)."""
    if shutil.which("bpftool") is None:
        pytest.skip("no bpftool")
    pin = "/sys/fs/bpf/kernelsim_replay_test"
    try:
        subprocess.run(["rm", "-f", pin])
        _real_bpftool("map", "create", pin, "type", "hash", "key", "4", "value", "8",
                      "entries", "1024", "name", "counts")
    except (subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"real bpftool cannot create maps here: {e}")
    try:
        _real_bpftool("map", "update", "pinned", pin, "key", "1", "0", "0", "0",
                      "value", "5", "0", "0", "0", "0", "0", "0", "0")
        real_show = _real_bpftool("map", "show", "pinned", pin)
        real_dump = _real_bpftool("map", "dump", "pinned", pin)
        real_json = json.loads(_real_bpftool("map", "dump", "pinned", pin, "-j"))
    finally:
        subprocess.run(["rm", "-f", pin])
    f = scenario_file(SCENARIO)
    ours_show = cli(["map", "show", "id", "1", "--after", f])[1]
    mask = lambda s: re.sub(r"memlock \d+B", "memlock NB", re.sub(r"^\d+:", "ID:", s, flags=re.M))  # noqa: E731
    # ours has no memlock (no fdinfo): compare everything before it
    assert mask(real_show).split("  memlock")[0] == mask(ours_show).rstrip("\n")
    assert cli(["map", "dump", "id", "1", "--after", f])[1] == real_dump
    assert json.loads(cli(["map", "dump", "id", "1", "-j", "--after", f])[1]) == real_json
