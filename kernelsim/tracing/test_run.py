"""BPF_PROG_TEST_RUN for tracing programs (net/bpf/test_run.c bpf_prog_test_run_tracing,
Linux 6.18; reference/btf-trampoline.md 8.2), the TRACING prog type's ``test_run`` slot.

It does not run the program: it calls the kernel's own test targets through ``kernel.call``, so
the program runs only if it is attached to one of them.

* ``test.flags``, ``test.cpu``, ``test.batch_size`` must be 0: EINVAL.
* fentry/fexit: bpf_fentry_test1(1) == 2, test2(2, 3) == 5, test3(4, 5, 6) == 15,
  test4(7, 8, 9, 10) == 34, test5(11 .. 15) == 65, test6(16 .. 21) == 111, test7(NULL) == 0,
  test8(&arg) == 0 (a zeroed struct bpf_fentry_test_t), test9(&retval) == 0,
  test10(NULL) == 0; any other result (an fmod_ret program changed one, say): EFAULT.
* fmod_ret: ``ret`` (u16) = bpf_modify_return_test(1, &b) with b = 2, ``side_effect`` += 1 if
  b changed (the original body ran); b = 2 again; ``ret +=`` bpf_modify_return_test2(1, &b, 3, 4,
  (void *)5, 6, 7), same side-effect check; retval = side_effect << 16 | ret — 0x20021 with
  nothing attached.
* any other attach type: EFAULT. Only ``retval`` is written back (no duration, no data).

The locals (``arg``, ``b``, ``retval``) live in a kernel stack-like Region allocated once per
machine. The call runs as the calling task (``kattr.task``) on the current CPU. Profile 5.5 had
no test_run for tracing programs (it came with fmod_ret in 5.7): ENOTSUPP.
"""

import errno

from ..errors import BpfError
from ..test_run import TestRunResult
from ..uapi import ENOTSUPP, BpfAttachType as AT

FENTRY_TESTS = (("bpf_fentry_test1", (1,), 2), ("bpf_fentry_test2", (2, 3), 5),
                ("bpf_fentry_test3", (4, 5, 6), 15), ("bpf_fentry_test4", (7, 8, 9, 10), 34),
                ("bpf_fentry_test5", (11, 12, 13, 14, 15), 65),
                ("bpf_fentry_test6", (16, 17, 18, 19, 20, 21), 111))


def _locals(kernel):
    addr = kernel.subsys.get("test_run_tracing_locals")
    if addr is None:
        addr = kernel.subsys["test_run_tracing_locals"] = kernel.mem.alloc(
            64, "bpf_prog_test_run_tracing stack", kind="stack").start
    return addr


def _run(kernel, prog) -> int:
    call = kernel.call
    mem = kernel.mem
    base = _locals(kernel)
    arg, b, retval = base, base + 8, base + 12
    mem.write(base, bytes(16))
    eat = prog.expected_attach_type
    if eat in (AT.BPF_TRACE_FENTRY, AT.BPF_TRACE_FEXIT):
        for name, args, want in FENTRY_TESTS:
            if call(name, *args) != want:
                raise BpfError(errno.EFAULT, f"{name} returned an unexpected value")
        if (call("bpf_fentry_test7", 0) != 0 or call("bpf_fentry_test8", arg) != 0
                or call("bpf_fentry_test9", retval) != 0):
            raise BpfError(errno.EFAULT, "bpf_fentry_test7..9 returned an unexpected value")
        if "bpf_fentry_test10" in kernel.functions and call("bpf_fentry_test10", 0) != 0:
            raise BpfError(errno.EFAULT, "bpf_fentry_test10 returned an unexpected value")
        return 0
    if eat == AT.BPF_MODIFY_RETURN:
        side_effect = 0
        mem.store(b, 4, 2)
        ret = call("bpf_modify_return_test", 1, b) & 0xFFFF
        if mem.load(b, 4) != 2:
            side_effect += 1
        mem.store(b, 4, 2)
        ret = (ret + call("bpf_modify_return_test2", 1, b, 3, 4, 5, 6, 7)) & 0xFFFF
        if mem.load(b, 4) != 2:
            side_effect += 1
        return ((side_effect & 0xFFFF) << 16) | ret
    raise BpfError(errno.EFAULT, f"attach type {int(eat)} has no tracing test run")


def bpf_prog_test_run_tracing(prog, kattr, user) -> TestRunResult:
    """The TRACING ``test_run`` slot (called by PROG_TEST_RUN after the generic checks)."""
    kernel = prog.kernel
    if kernel.profile == "5.5":
        raise BpfError(ENOTSUPP, "no test_run for tracing programs in 5.5")
    if kattr.flags or kattr.cpu or kattr.batch_size:
        raise BpfError(errno.EINVAL, "flags, cpu and batch_size must be 0")
    cpu = kernel.cpus[kernel.current_cpu]
    saved = cpu.current
    task = getattr(kattr, "task", None)
    if task is not None:
        cpu.current = task
    try:
        retval = _run(kernel, prog)
    finally:
        cpu.current = saved
    return TestRunResult(retval=retval)
