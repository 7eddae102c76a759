#!/usr/bin/env python3
"""Build count_calls.bpf.c against the simulated kernel, load it, attach it to vfs_read, make two
processes read, and check the counts.

    python examples/count_calls/run.py [--build DIR]       (default DIR: examples/count_calls/build)

Steps (what a libbpf user does on a real machine, with the simulator in place of the kernel):

1. ``kernelsim btf dump --format c > build/vmlinux.h``: the kernel's types as C;
2. ``clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -Ibuild -c count_calls.bpf.c -o build/...``;
3. ``Kernel()``, a loader task, ``task.load_object(...)``: BTF_LOAD, MAP_CREATE, PROG_LOAD ...
   through the task's bpf(), as libbpf issues them; ``prog.attach()``: BPF_LINK_CREATE;
4. ``kernel.call("vfs_read", ...)`` from two tasks on two CPUs: the fentry program runs;
5. read the ``counts`` map and ``total_calls``, and the bpf_printk lines from trace_pipe.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(build_dir: Path) -> Path:
    build_dir.mkdir(parents=True, exist_ok=True)
    vmlinux = build_dir / "vmlinux.h"
    with open(vmlinux, "wb") as out:
        subprocess.run([sys.executable, "-m", "kernelsim.cli", "btf", "dump", "--format", "c"],
                       stdout=out, check=True)
    obj = build_dir / "count_calls.bpf.o"
    clang = shutil.which("clang")
    if clang is None:
        sys.exit("clang is needed: apt-get install clang libbpf-dev")
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I{build_dir}",
                    "-c", str(HERE / "count_calls.bpf.c"), "-o", str(obj)], check=True)
    return obj


def main() -> int:
    from kernelsim import Kernel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=Path, default=HERE / "build", help="where vmlinux.h and the "
                    "object go")
    obj_path = build(ap.parse_args().build)
    kernel = Kernel(ncpus=2)
    loader = kernel.spawn(comm="loader")
    obj = loader.load_object(obj_path)                 # open + load, libbpf's order
    link = obj.progs["count_vfs_read"].attach()        # BPF_LINK_CREATE (fentry)
    print(f"loaded {obj.name}: progs {list(obj.progs)}, maps {list(obj.maps)}; {link}")

    reader_a = kernel.spawn(comm="reader-a", cpu=0)
    reader_b = kernel.spawn(comm="reader-b", cpu=1)
    for _ in range(3):
        kernel.call("vfs_read", None, None, 4096, None, ret=4096, cpu=0)
    for _ in range(2):
        kernel.call("vfs_read", None, None, 512, None, ret=512, cpu=1)

    counts = dict(obj.maps["counts"].items())
    print("calls per pid:", counts, "total:", obj.bss.total_calls)
    for line in obj.trace_pipe().lines():
        print("trace_pipe:", line.strip())

    link.detach()                                      # closing the link fd detaches it
    kernel.call("vfs_read", None, None, 1, None, ret=1, cpu=0)
    ok = counts == {reader_a.pid: 3, reader_b.pid: 2} and obj.bss.total_calls == 5
    obj.close()
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
