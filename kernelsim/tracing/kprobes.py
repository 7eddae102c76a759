"""kprobes, kretprobes and kprobe_multi: BPF_PROG_TYPE_KPROBE programs on the entry and return
of simulated kernel functions (kernel/kprobes.c, arch/x86/kernel/kprobes/ftrace.c
kprobe_ftrace_handler, kernel/trace/trace_kprobe.c create_local_trace_kprobe / kprobe_perf_func /
kretprobe_perf_func, kernel/trace/bpf_trace.c bpf_kprobe_multi_link_attach /
kprobe_multi_link_prog_run, kernel/trace/fprobe.c).

The pattern the fentry/fexit trampoline replaced: a probe sits on the function's ftrace site
(ftrace.py's entry hook list: ``register_ftrace_function``), so it runs before the trampoline's
fentry programs, and a kretprobe's return handler after the fexit programs. Its program gets a
``struct pt_regs`` (pt_regs.py) built from the call's native registers on the kernel's
architecture (``FtraceCall.regs``: the calling convention's argument registers, so
PT_REGS_PARM1..5 read arguments 1..5 on every architecture), with:

* ``ip``: x86-64 ``func + 5`` (ftrace-based kprobe: the ftrace site is func+4, after ENDBR64,
  and kprobe_ftrace_handler sets "regs->ip = ip + 1 as breakpoint hit"), i386 ``func + 1``;
  arm64 ``func`` (a BRK kprobe: pc at the probed instruction); riscv64 and s390x ``func``
  (their kprobe_ftrace_handler sets the ip to the site). A kretprobe's regs->ip is the return
  address (rethook_trampoline_handler sets it before calling the handler), its return register
  the function's return value (PT_REGS_RC).
* ``sp``: a per-CPU simulated kernel stack; at entry it points at the return address, with the
  call's stack-passed arguments above it (x86: [sp+8] ...), so BPF programs can read them.
* ``bpf_get_func_ip``: the function's address (get_func_ip_kprobe -> get_entry_ip strips the
  ENDBR), since every simulated kprobe is on a function entry (KPROBE_FLAG_ON_FUNC_ENTRY).

Recursion (the "programs randomly skip execution" of the seed commit): a kprobe hit while
another kprobe handler runs on the same CPU is a kprobe-level miss (``kp.nmissed``, the
``missed`` of link info; kprobe_running()); otherwise the programs run through
``trace_call_bpf``, which skips the whole array, counting a miss per program
(``recursion_misses``), while any kprobe or tracepoint program is running on the CPU
(``Cpu.bpf_prog_active``). kprobe_multi (fprobe) has no kprobe_running check but the same
bpf_prog_active rule. fentry/fexit programs only skip themselves (per-program ``active``).

bpf_override_return: a program that called it (``run.override_return``) makes the probed call
return that value without running it (the trampoline and body are skipped;
``FtraceCall.override_return``). Only allowed on error-injectable functions (checked at attach).

Attach paths: the kprobe PMU (perf_event.py ``perf_kprobe_event_init`` ->
``create_local_trace_kprobe``) + PERF_EVENT_IOC_SET_BPF or a perf link; BPF_LINK_CREATE with
BPF_TRACE_KPROBE_MULTI (``bpf_kprobe_multi_link_attach``). Refusals of
create_local_trace_kprobe: EINVAL both or neither of symbol and address, a non-zero offset (mid-
function probes are not simulated: a kprobe needs an instruction boundary the model does not
have), an address that is not a function entry, a blacklisted (NOKPROBE) function; ENOENT an
unknown symbol.
"""

import errno
import struct

from ..bpf_objects import BpfObject
from ..bpf_run import (BpfTraceRunCtx, _reset_run_ctx, _set_run_ctx, bpf_prog_inc_misses_counter,
                       bpf_prog_run, trace_call_bpf)
from ..errors import BpfError
from ..uapi import BpfAttachType as AT, BpfLinkType, BpfProgType as PT
from . import kstack
from .ftrace import FtraceOps, register_ftrace_function, unregister_ftrace_function
from .pt_regs import PT_REGS, pt_regs_bytes, regs_from_native

U64 = (1 << 64) - 1
KSYM_NAME_LEN = 512
MAX_KPROBE_MULTI_CNT = 1 << 20
BPF_F_KPROBE_MULTI_RETURN = 1 << 0
KPROBE_MAXACTIVE_DEFAULT_MIN = 10     # max(10, 2 * num_possible_cpus()) rethook instances
STACK_FRAME = 0x200                   # bytes of simulated stack per nesting level (invented)
# regs->ip of an entry kprobe, as an offset from the function (module doc).
KPROBE_IP_OFFSET = {"x86_64": 5, "i386": 1, "arm64": 0, "riscv64": 0, "s390x": 0}
# ftrace_regs ip of an fprobe (kprobe_multi) entry: after the ftrace call (x86 func+4+5).
FPROBE_IP_OFFSET = {"x86_64": 9, "i386": 5, "arm64": 8, "riscv64": 8, "s390x": 6}
# NOKPROBE_SYMBOL functions (a few of the kernel's list; within_kprobe_blacklist -> EINVAL).
KPROBE_BLACKLIST = frozenset({"trace_call_bpf", "bpf_prog_run", "kprobe_ftrace_handler",
                              "__rcu_read_lock", "__rcu_read_unlock", "preempt_count_add",
                              "preempt_count_sub", "do_int3", "exc_int3", "notify_die",
                              "rethook_trampoline_handler"})


# -- pt_regs for a probe ----------------------------------------------------------------------------


def _level(kernel, cpu: int, delta: int) -> int:
    percpu = kernel.cpus[cpu].percpu
    lvl = percpu.get("kprobe_regs_level", 0)
    percpu["kprobe_regs_level"] = lvl + delta
    return lvl


def stack_pointer(kernel, cpu: int) -> int:
    """Where the stack pointer is at the current call depth (per-CPU simulated stack)."""
    from .tracepoints import kernel_stack_top
    depth = len(kstack.frames(kernel, cpu)) + kernel.cpus[cpu].percpu.get("kprobe_regs_level", 0)
    return kernel_stack_top(kernel, cpu) - STACK_FRAME * (depth + 1)


def _native_args(call) -> list:
    if call.regs is not None:
        return list(call.regs)
    return [int(a) & U64 if isinstance(a, int) else 0 for a in call.args]


def return_address(kernel, cpu: int, fn) -> int:
    """The address the probed call returns to: into the innermost enclosing frame (not the
    function's own, if its frame is pushed), or 0 outside any known frame."""
    fr = kstack.frames(kernel, cpu)
    if fr and fr[-1] == fn.addr:
        fr = fr[:-1]
    return fr[-1] + kstack.RET_SITE if fr else 0


def build_regs(kernel, cpu: int, call, ip: int, ret=None, level: int = 0) -> tuple[int, int]:
    """Write a struct pt_regs for ``call`` into this CPU's per-level buffer; returns (regs
    address, sp). The stack words (return address, stack arguments) are written at sp."""
    from .tracepoints import percpu_buffer
    arch = kernel.arch
    lay = PT_REGS[arch]
    addr = percpu_buffer(kernel, cpu, "kprobe pt_regs", lay.size, level)
    sp = stack_pointer(kernel, cpu)
    word = lay.word
    ret_addr = return_address(kernel, cpu, call.fn)
    words = [ret_addr] + list(call.stack or ())
    fmt = "<Q" if word == 8 else "<I"
    kernel.mem.write(sp, b"".join(struct.pack(fmt, w & ((1 << (8 * word)) - 1)) for w in words))
    if ret is None:
        vals = regs_from_native(arch, _native_args(call), ip, sp)
    else:
        vals = regs_from_native(arch, [], ip, sp + word, ret=ret)
        if arch == "arm64":
            vals["regs[30]"] = ip
    if arch == "arm64":
        vals.setdefault("regs[30]", ret_addr)      # lr
    elif arch == "riscv64":
        vals.setdefault("ra", ret_addr)
    elif arch == "s390x":
        vals.setdefault("gprs[14]", ret_addr)
    kernel.mem.write(addr, pt_regs_bytes(arch, vals))
    return addr, sp


def native_return(fn, arch: str, retval) -> int:
    """The raw return register for a C return value (0 for void)."""
    if retval is None or fn.model is None or not fn.model.ret_size:
        return 0
    from trampoline import encode_ret
    try:
        return encode_ret(fn.model, arch, retval) & U64
    except Exception:                 # noqa: BLE001 - an aggregate return we cannot encode
        return 0


def kprobe_running(kernel, cpu: int):
    return kernel.cpus[cpu].percpu.get("current_kprobe")


def _set_kprobe_running(kernel, cpu: int, kp) -> None:
    kernel.cpus[cpu].percpu["current_kprobe"] = kp


# -- one trace kprobe (struct trace_kprobe + kprobe / kretprobe) ------------------------------------


class Kprobe:
    """A local trace kprobe: the probe on one function and the trace_event_call its perf event
    uses (``prog_array``, ``perf_events``), as perf_event.py expects of a ``tp_event``."""

    is_kprobe = True

    def __init__(self, kernel, fn, symbol: str | None, offset: int, is_return: bool):
        self.kernel = kernel
        self.fn = fn
        self.symbol = symbol
        self.offset = offset
        self.addr = fn.addr + offset
        self.is_return = is_return
        self.name = symbol or f"{fn.addr:#x}"
        self.maxactive = max(KPROBE_MAXACTIVE_DEFAULT_MIN, 2 * kernel.ncpus)
        self.active_instances = 0
        self.nmissed = 0
        self.nhit = 0
        self.prog_array: list = []
        self.perf_events: list = []
        self.on_func_entry = True
        self.error_injectable = bool(fn.flags & _ERROR_INJECTION())
        self.ops = FtraceOps(func=self._entry, ret_func=self._return if is_return else None,
                             name="kretprobe" if is_return else "kprobe", private=self)

    @property
    def tp_name(self) -> str:
        return self.name

    @property
    def missed(self) -> int:
        """trace_kprobe_missed: kprobe misses plus (kretprobe) instance misses."""
        return self.nmissed

    def perf_head(self, cpu: int) -> list:
        return [e for e in self.perf_events if e.counts_on(cpu)]

    # -- the handlers ---------------------------------------------------------------------------

    def _entry(self, call) -> None:
        """kprobe_ftrace_handler -> (kretprobe: pre_handler_kretprobe) or kprobe_dispatcher."""
        kernel, cpu = self.kernel, call.cpu
        if kprobe_running(kernel, cpu) is not None:
            self.nmissed += 1
            if self.is_return:
                call.data[self] = None          # no instance: no return handler
            return
        _set_kprobe_running(kernel, cpu, self)
        try:
            self.nhit += 1
            if self.is_return:
                if self.active_instances >= self.maxactive:
                    self.nmissed += 1
                    call.data[self] = None
                else:
                    self.active_instances += 1
                    call.data[self] = True
                return
            if not self.prog_array and not self.perf_events:
                return
            level = _level(kernel, cpu, +1)
            try:
                ip = self.fn.addr + KPROBE_IP_OFFSET[kernel.arch]
                regs, _ = build_regs(kernel, cpu, call, ip, level=level)
                self._perf_func(call, regs, ip, cpu, entry=True)
            finally:
                _level(kernel, cpu, -1)
        finally:
            _set_kprobe_running(kernel, cpu, None)

    def _return(self, call, retval) -> None:
        """kretprobe_rethook_handler -> kretprobe_dispatcher -> kretprobe_perf_func."""
        kernel, cpu = self.kernel, call.cpu
        if not call.data.get(self):
            return
        self.active_instances -= 1
        if not self.prog_array and not self.perf_events:
            return
        prev = kprobe_running(kernel, cpu)
        _set_kprobe_running(kernel, cpu, self)
        level = _level(kernel, cpu, +1)
        try:
            ip = return_address(kernel, cpu, self.fn)
            regs, _ = build_regs(kernel, cpu, call, ip, native_return(self.fn, kernel.arch, retval),
                                 level=level)
            self._perf_func(call, regs, ip, cpu, entry=False)
        finally:
            _level(kernel, cpu, -1)
            _set_kprobe_running(kernel, cpu, prev)

    def _perf_func(self, call, regs: int, ip: int, cpu: int, entry: bool) -> None:
        """kprobe_perf_func / kretprobe_perf_func: the programs under trace_call_bpf, an
        override, then samples to the perf events counting on this CPU."""
        kernel = self.kernel
        chain = kstack.callchain(kernel, cpu, ip, skip_top=_own_frame(kernel, cpu, self.fn))
        items = self.prog_array
        if items:
            run = BpfTraceRunCtx(kernel, None, cpu=cpu, task=call.task, kstack=chain,
                                 func_ip=self.fn.addr, kprobe_on_func_entry=self.on_func_entry)
            ret = trace_call_bpf(list(items), regs, run)
            if entry and run.override_return is not None:
                call.override_return(run.override_return)
                return
            if not ret:
                return
        for event in self.perf_head(cpu):
            event.count += 1
            if event.is_sampling():
                event.emit_sample(None, ip, call.task, cpu, chain)


def _own_frame(kernel, cpu, fn) -> int:
    fr = kstack.frames(kernel, cpu)
    return 1 if fr and fr[-1] == fn.addr else 0


def _ERROR_INJECTION():              # noqa: N802 - a constant from functions.py, imported late
    from .functions import KFUNC_F_ERROR_INJECTION
    return KFUNC_F_ERROR_INJECTION


def _resolve(kernel, symbol: str | None, addr: int, offset: int):
    """_kprobe_addr + check_kprobe_address_safe: the KernelFunction probed (module doc)."""
    if (symbol and addr) or (not symbol and not addr):
        raise BpfError(errno.EINVAL, "exactly one of a symbol and an address")
    funcs = kernel.functions
    if symbol:
        fn = funcs.get(symbol)
        if fn is None:
            raise BpfError(errno.ENOENT, f"no symbol {symbol!r}")
    else:
        sym = funcs.lookup_addr(addr)
        if sym is None:
            raise BpfError(errno.EINVAL, f"{addr:#x} is not kernel text")
        fn = funcs.get(sym[0])
        if fn is None:
            raise BpfError(errno.EINVAL, f"{addr:#x} is not kernel text")
        offset += sym[1]
    if offset not in (0, 4 if kernel.arch == "x86_64" else 0):
        raise BpfError(errno.EINVAL, f"{fn.name}+{offset:#x}: only function-entry kprobes are simulated")
    if fn.name in KPROBE_BLACKLIST:
        raise BpfError(errno.EINVAL, f"{fn.name} is on the kprobe blacklist")
    return fn, offset


def create_local_trace_kprobe(kernel, func: str | None, addr: int, offset: int,
                              is_return: bool) -> Kprobe:
    """trace_kprobe.c create_local_trace_kprobe (called by the kprobe PMU's event_init)."""
    fn, offset = _resolve(kernel, func, addr, offset)
    kp = Kprobe(kernel, fn, func, offset, is_return)
    register_ftrace_function(fn, kp.ops)
    kernel.log.info("kprobe_register", func=fn.name, retprobe=is_return)
    return kp


def destroy_local_trace_kprobe(kp: Kprobe) -> None:
    unregister_ftrace_function(kp.fn, kp.ops)


# -- kprobe_multi (fprobe) links ----------------------------------------------------------------------


class BpfKprobeMultiLink(BpfObject):
    """struct bpf_kprobe_multi_link: one program on ``cnt`` functions (an fprobe), cookies
    per address, entry or return (BPF_F_KPROBE_MULTI_RETURN)."""

    kind = "link"
    type = BpfLinkType.BPF_LINK_TYPE_KPROBE_MULTI
    detach = None
    update_prog = None

    def __init__(self, kernel, prog, attach_type, addrs, cookies, flags, funcs):
        super().__init__(kernel)
        self.prog = prog
        self.attach_type = attach_type
        self.addrs = addrs                # sorted
        self.cookies = cookies            # sorted with the addresses, or None
        self.flags = flags
        self.funcs = funcs                # KernelFunction per address
        self.nmissed = 0                  # fprobe-level misses (fp.nmissed)
        self.ops = {}
        self.registered = False

    @property
    def link_type(self) -> int:
        return self.type

    @property
    def is_return(self) -> bool:
        return bool(self.flags & BPF_F_KPROBE_MULTI_RETURN)

    def register(self) -> None:
        for fn in self.funcs:
            if fn.name in self.ops:
                continue
            ops = FtraceOps(func=None if self.is_return else self._entry,
                            ret_func=self._exit if self.is_return else None,
                            name="fprobe", private=self)
            register_ftrace_function(fn, ops)
            self.ops[fn.name] = (fn, ops)
        self.registered = True

    def release(self) -> None:
        if self.registered:
            for fn, ops in self.ops.values():
                unregister_ftrace_function(fn, ops)
            self.ops = {}
            self.registered = False

    def free(self) -> None:
        self.release()
        if self.prog is not None:
            prog, self.prog = self.prog, None
            prog.put()

    def cookie_of(self, addr: int) -> int:
        """bpf_kprobe_multi_cookie: the cookie of ``addr`` (binary search of the sorted addrs)."""
        if not self.cookies:
            return 0
        import bisect
        i = bisect.bisect_left(self.addrs, addr)
        return self.cookies[i] if i < len(self.addrs) and self.addrs[i] == addr else 0

    def _entry(self, call) -> None:
        self._prog_run(call, None, entry=True)

    def _exit(self, call, retval) -> None:
        self._prog_run(call, retval, entry=False)

    def _prog_run(self, call, retval, entry: bool) -> None:
        """kprobe_multi_link_prog_run: bpf_prog_active, the pt_regs of the ftrace regs, the run
        ctx with entry_ip (bpf_get_func_ip) and the cookie."""
        kernel, cpu, fn = self.kernel, call.cpu, call.fn
        prog = self.prog
        cpustate = kernel.cpus[cpu]
        cpustate.bpf_prog_active += 1
        try:
            if cpustate.bpf_prog_active != 1:
                bpf_prog_inc_misses_counter(prog)
                return
            level = _level(kernel, cpu, +1)
            try:
                if entry:
                    ip = fn.addr + FPROBE_IP_OFFSET[kernel.arch]
                    regs, _ = build_regs(kernel, cpu, call, ip, level=level)
                else:
                    ip = return_address(kernel, cpu, fn)
                    regs, _ = build_regs(kernel, cpu, call, ip, native_return(fn, kernel.arch, retval),
                                         level=level)
                chain = kstack.callchain(kernel, cpu, ip, skip_top=_own_frame(kernel, cpu, fn))
                run = BpfTraceRunCtx(kernel, prog, cpu=cpu, task=call.task, kstack=chain,
                                     func_ip=fn.addr, kprobe_on_func_entry=True,
                                     cookie=self.cookie_of(fn.addr))
                _set_run_ctx(run)
                try:
                    bpf_prog_run(prog, regs, run)
                finally:
                    _reset_run_ctx(run)
            finally:
                _level(kernel, cpu, -1)
        finally:
            cpustate.bpf_prog_active -= 1

    def fill_link_info(self, view=None) -> dict:
        """bpf_kprobe_multi_link_fill_link_info: count, flags, missed; the addresses (zeros
        unless kallsyms_show_value) and cookies into the user's arrays. EINVAL: addrs without
        count or the reverse, cookies without count; ENOSPC (after copying ``count``
        entries): the user's count is smaller than the link's. ``view`` as for raw tp links."""
        from .perf_event import kallsyms_show_value
        get = view.get if view is not None else (lambda name: 0)
        km = "kprobe_multi."
        uaddrs, ucount, ucookies = get(km + "addrs"), get(km + "count"), get(km + "cookies")
        if bool(uaddrs) != bool(ucount):
            raise BpfError(errno.EINVAL, "addrs and count must be both set or both 0")
        if ucookies and not ucount:
            raise BpfError(errno.EINVAL, "cookies need a count")
        out = {km + "count": len(self.addrs), km + "flags": self.flags, km + "missed": self.nmissed}
        if not uaddrs:
            return out
        err = None
        if ucount < len(self.addrs):
            err = BpfError(errno.ENOSPC, "count too small")
        else:
            ucount = len(self.addrs)
        pack = lambda vals: b"".join(struct.pack("<Q", v & U64) for v in vals)  # noqa: E731
        if ucookies:
            view.copy_to_user(ucookies, pack((self.cookies or [0] * ucount)[:ucount]))
        show = kallsyms_show_value(self.kernel, getattr(view, "cred", None))
        view.copy_to_user(uaddrs, pack(self.addrs[:ucount] if show else [0] * ucount))
        if err is not None:
            raise err
        return out

    def show_fdinfo(self) -> str:
        lines = [f"kprobe_cnt:\t{len(self.addrs)}", f"missed:\t{self.nmissed}", "cookie\t func"]
        for a, fn in zip(self.addrs, self.funcs):
            lines.append(f"{self.cookie_of(a)}\t {fn.name}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"<BpfKprobeMultiLink id={self.id} cnt={len(self.addrs)} ret={self.is_return}>"


def _user_string(user, addr: int, max_len: int) -> bytes | None:
    """strncpy_from_user through ``user``: the bytes before the NUL, or None if none within
    ``max_len`` (the caller's E2BIG)."""
    if hasattr(user, "strncpy_from_user"):
        data = user.strncpy_from_user(addr, max_len)
        return None if len(data) >= max_len else bytes(data)
    out = bytearray()
    while len(out) < max_len:
        chunk = user.copy_from_user(addr + len(out), 1)
        if chunk == b"\0":
            return bytes(out)
        out += chunk
    return None


def bpf_kprobe_multi_link_attach(kernel, prog, attach_type: int, link_flags: int, flags: int,
                                 cnt: int, syms: int, addrs: int, cookies: int, user,
                                 alloc_id: bool = True) -> BpfKprobeMultiLink:
    """bpf_trace.c bpf_kprobe_multi_link_attach. ``syms``, ``addrs``, ``cookies`` are the user
    pointers of link_create.kprobe_multi, read through ``user.copy_from_user`` (BpfError
    EFAULT). EOPNOTSUPP on a 32-bit kernel; EINVAL: link_create.flags, a program not loaded as
    kprobe_multi, unknown kprobe_multi.flags, both or neither of syms/addrs, cnt 0, an override
    program on a function that is not error-injectable, an address that is not a function
    entry; E2BIG: cnt > MAX_KPROBE_MULTI_CNT, a name longer than KSYM_NAME_LEN; ENOENT: an
    unknown symbol. The link owns the caller's program reference."""
    from .perf_event import prog_calls_override_return
    if kernel.arch == "i386":
        raise BpfError(errno.EOPNOTSUPP, "kprobe_multi needs a 64-bit kernel")
    if link_flags:
        raise BpfError(errno.EINVAL, "link_create.flags must be 0")
    if prog.type != PT.BPF_PROG_TYPE_KPROBE or prog.expected_attach_type != AT.BPF_TRACE_KPROBE_MULTI:
        raise BpfError(errno.EINVAL, "not a kprobe_multi program")
    if flags & ~BPF_F_KPROBE_MULTI_RETURN:
        raise BpfError(errno.EINVAL, "unknown kprobe_multi flags")
    if bool(addrs) == bool(syms):
        raise BpfError(errno.EINVAL, "exactly one of syms and addrs")
    if not cnt:
        raise BpfError(errno.EINVAL, "cnt is 0")
    if cnt > MAX_KPROBE_MULTI_CNT:
        raise BpfError(errno.E2BIG, "cnt too large")
    size = 8 * cnt
    ucookies = None
    if cookies:
        ucookies = list(struct.unpack(f"<{cnt}Q", user.copy_from_user(cookies, size)))
    funcs = kernel.functions
    if addrs:
        uaddrs = list(struct.unpack(f"<{cnt}Q", user.copy_from_user(addrs, size)))
        fns = []
        for a in uaddrs:
            sym = funcs.lookup_addr(a)
            fn = funcs.get(sym[0]) if sym is not None and sym[1] == 0 else None
            if fn is None:
                raise BpfError(errno.ENOENT if sym is None else errno.EINVAL,
                               f"{a:#x} is not a traceable function entry")
            fns.append(fn)
    else:
        ptrs = struct.unpack(f"<{cnt}Q", user.copy_from_user(syms, size))
        names = []
        for p in ptrs:
            s = _user_string(user, p, KSYM_NAME_LEN)
            if s is None:
                raise BpfError(errno.E2BIG, "symbol name too long")
            names.append(s.decode("utf-8", "replace"))
        fns = []
        for n in names:
            fn = funcs.get(n)
            if fn is None:
                raise BpfError(errno.ENOENT, f"no symbol {n!r}")
            fns.append(fn)
        uaddrs = [fn.addr for fn in fns]
    if prog_calls_override_return(prog):
        for fn in fns:
            if not fn.flags & _ERROR_INJECTION():
                raise BpfError(errno.EINVAL, f"{fn.name} is not error-injectable")
    order = sorted(range(cnt), key=lambda i: uaddrs[i])
    s_addrs = [uaddrs[i] for i in order]
    s_cookies = [ucookies[i] for i in order] if ucookies is not None else None
    s_fns = [fns[i] for i in order]
    link = BpfKprobeMultiLink(kernel, prog, attach_type, s_addrs, s_cookies, flags, s_fns)
    if alloc_id:
        link.alloc_id()
    link.register()
    kernel.log.info("prog_attach", prog_id=prog.id, link_id=link.id, kprobe_multi=cnt,
                    retprobe=link.is_return)
    return link
