"""Simulated kernel functions: the catalog ``kernel.functions`` (kernel/kallsyms.c, the FUNC
records of vmlinux BTF, and the attach lists of kernel/bpf/verifier.c bpf_check_attach_target).

Every FUNC of the kernel's BTF is a ``KernelFunction``: its BTF ids, its ``FuncModel`` as
``btf_distill_func_proto`` gives it for the machine's profile (or the distill error: such a
function is callable but not attachable), its kallsyms address (kallsyms.py), what
bpf_check_attach_target would allow on it (fmod_ret, sleepable programs, the deny lists) and a
Python body. Bodies live in the ``kfuncs_*`` modules, one per subsystem (``kfuncs_test``:
net/bpf/test_run.c; ``kfuncs_net``, ``kfuncs_fs``, ``kfuncs_sched``, ``kfuncs_mm``); a function
without one runs the default body, which returns ``fn.ret_value`` (0 unless ``set_return(v)``)
— so with ``Kernel(btf="vmlinux-6.18.btf")`` every function of that kernel is callable and
attachable. The catalog is lazy: a KernelFunction is built the first time its name is looked up.

A body is ``body(kernel, *args) -> value`` with the C arguments (ints in their C type's range,
pointers as addresses, struct-by-value arguments as bytes); its return value is cut to the C
return type by the caller. Bodies call other kernel functions with ``kernel.call(...)`` where the
kernel does, so nested tracing happens. How a call runs (ftrace hooks, the trampoline) is
call.py; the attach target checks are attach_target.py.

Flags (invented names; the kernel keeps these as BTF id sets and the error-injection list):

* ``KFUNC_F_FMODRET``: in a registered fmod_ret kfunc set (net/bpf/test_run.c
  ``bpf_test_modify_return_ids``: bpf_modify_return_test, bpf_modify_return_test2,
  bpf_modify_return_test_tp, bpf_fentry_test1 with ``KF_SLEEPABLE``);
* ``KFUNC_F_ERROR_INJECTION``: on the ALLOW_ERROR_INJECTION list (the syscall wrappers
  ``__<arch>_sys_*`` of arch/*/include/asm/syscall_wrapper.h, should_failslab,
  should_fail_alloc_page, __filemap_add_folio, should_fail_bio ...);
* ``KFUNC_F_SLEEPABLE``: a KF_SLEEPABLE member of an fmod_ret set;
* ``KFUNC_F_NON_SLEEPABLE_EI``: btf_non_sleepable_error_inject;
* ``KFUNC_F_DENY``: btf_id_deny (migrate_disable, migrate_enable, ___migrate_enable,
  __rcu_read_lock, __rcu_read_unlock with PREEMPT_RCU; rcu_read_unlock_strict otherwise);
* ``KFUNC_F_NORETURN``: noreturn_deny (do_exit, do_group_exit, make_task_dead, kthread_exit,
  kthread_complete_and_exit, __x64_sys_exit, __x64_sys_exit_group).
"""

from enum import IntFlag

from btf.errors import BtfError
from btf.func_model import FuncModel
from btf.types import BtfInt
from btf.uapi import BtfKind as K

from ..errors import BpfError
from . import kallsyms, kfuncs_fs, kfuncs_mm, kfuncs_net, kfuncs_sched, kfuncs_test
from .kobjects import KObject

EINVAL = 22
ENOENT = 2
U64 = (1 << 64) - 1

# One dict per subsystem (STYLE.md: registration is a literal); name -> body.
BODY_TABLES = (kfuncs_test.BODIES, kfuncs_net.BODIES, kfuncs_fs.BODIES, kfuncs_sched.BODIES,
               kfuncs_mm.BODIES)
# Functions the simulator has although the 6.18 BTF does not describe them (kallsyms only):
# name -> (C prototype for the record, (arg sizes), ret size, ret signed). Not attachable by
# fentry (no BTF id); callable, and kprobe-able through the ftrace hook list.
NON_BTF_FUNCS = {**kfuncs_sched.NON_BTF_FUNCS}

# Virtual time one body execution costs (clock.py: traced calls charge virtual time).
FUNC_COST_NS = 50


class KernelFunctionFlags(IntFlag):
    """What bpf_check_attach_target knows about a function (invented name, see module doc)."""
    KFUNC_F_FMODRET = 1 << 0
    KFUNC_F_ERROR_INJECTION = 1 << 1
    KFUNC_F_SLEEPABLE = 1 << 2
    KFUNC_F_NON_SLEEPABLE_EI = 1 << 3
    KFUNC_F_DENY = 1 << 4
    KFUNC_F_NORETURN = 1 << 5


F = KernelFunctionFlags
KFUNC_F_FMODRET = F.KFUNC_F_FMODRET
KFUNC_F_ERROR_INJECTION = F.KFUNC_F_ERROR_INJECTION
KFUNC_F_SLEEPABLE = F.KFUNC_F_SLEEPABLE
KFUNC_F_NON_SLEEPABLE_EI = F.KFUNC_F_NON_SLEEPABLE_EI
KFUNC_F_DENY = F.KFUNC_F_DENY
KFUNC_F_NORETURN = F.KFUNC_F_NORETURN

# bpf_test_modify_return_ids (net/bpf/test_run.c, 6.18): name -> extra flags.
FMODRET_KFUNCS = {"bpf_modify_return_test": 0, "bpf_modify_return_test2": 0,
                  "bpf_modify_return_test_tp": 0, "bpf_fentry_test1": KFUNC_F_SLEEPABLE}
# ALLOW_ERROR_INJECTION outside the syscall wrappers (mm/failslab.c, mm/page_alloc.c,
# mm/filemap.c, block/blk-core.c, lib/fault-inject-usercopy.c, fs/btrfs).
ERROR_INJECTION_FUNCS = frozenset({"should_failslab", "should_fail_alloc_page",
                                   "__filemap_add_folio", "should_fail_bio", "should_fail_usercopy",
                                   "open_ctree", "btrfs_should_cancel_balance"})
SYSCALL_WRAPPER_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__riscv_sys_",
                            "__s390x_sys_", "__s390_sys_", "__se_sys_")
NON_SLEEPABLE_ERROR_INJECT = frozenset({"__filemap_add_folio", "should_fail_alloc_page",
                                        "should_failslab"})
BTF_ID_DENY = frozenset({"migrate_disable", "migrate_enable", "___migrate_enable",
                         "__rcu_read_lock", "__rcu_read_unlock"})
NORETURN_DENY = frozenset({"do_exit", "do_group_exit", "make_task_dead", "kthread_exit",
                           "kthread_complete_and_exit", "__x64_sys_exit", "__x64_sys_exit_group"})


def function_flags(name: str) -> KernelFunctionFlags:
    flags = F(0)
    if name in FMODRET_KFUNCS:
        flags |= KFUNC_F_FMODRET | FMODRET_KFUNCS[name]
    if name in ERROR_INJECTION_FUNCS or name.startswith(SYSCALL_WRAPPER_PREFIXES):
        flags |= KFUNC_F_ERROR_INJECTION
    if name in NON_SLEEPABLE_ERROR_INJECT:
        flags |= KFUNC_F_NON_SLEEPABLE_EI
    if name in BTF_ID_DENY:
        flags |= KFUNC_F_DENY
    if name in NORETURN_DENY:
        flags |= KFUNC_F_NORETURN
    return flags


class _ArgSpec:
    """How a Python argument becomes the C value of one parameter (sizes from BTF). ``mask``
    and ``sign`` (the sign bit of a signed type, else 0) let the hot paths cut an int without
    calling c_value."""

    __slots__ = ("size", "signed", "ptr", "aggregate", "char_ptr", "mask", "sign")

    def __init__(self, size, signed, ptr, aggregate, char_ptr):
        self.size, self.signed, self.ptr = size, signed, ptr
        self.aggregate, self.char_ptr = aggregate, char_ptr
        self.mask = (1 << (8 * size)) - 1
        self.sign = 1 << (8 * size - 1) if signed else 0


def _spec_of(btf, tid: int) -> _ArgSpec | None:
    if tid == 0:
        return None
    try:
        rt = btf.skip_modifiers(tid)
        t = btf.type_by_id(rt)
    except BtfError:
        return _ArgSpec(8, False, False, False, False)
    k = t.kind if rt else 0
    if k == K.BTF_KIND_PTR:
        try:
            pt = btf.type_by_id(btf.skip_modifiers(t.type))
            char_ptr = isinstance(pt, BtfInt) and pt.size == 1
        except BtfError:
            char_ptr = False
        return _ArgSpec(8, False, True, False, char_ptr)
    if isinstance(t, BtfInt):
        return _ArgSpec(t.size, t.is_signed, False, False, False)
    if k in (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64):
        return _ArgSpec(t.size, False, False, False, False)    # distill: enums carry no SIGNED flag
    if k in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION):
        return _ArgSpec(t.size, False, False, True, False)
    return _ArgSpec(8, False, False, False, False)


def c_value(spec: _ArgSpec | None, v):
    """A Python value cut to a C type (int truncation, sign of char/short/int...)."""
    if spec is None:
        return None
    if spec.aggregate:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        return (int(v) & ((1 << (8 * spec.size)) - 1)).to_bytes(spec.size, "little")
    bits = 8 * spec.size
    v = int(v) & ((1 << bits) - 1)
    if spec.signed and v >> (bits - 1):
        v -= 1 << bits
    return v


_NO_OVERRIDE = object()


class KernelFunction:
    """One simulated kernel function (the catalog entry; mutable: its attachments live here).

    ``name``, ``btf_id`` (FUNC id, 0 without BTF), ``proto_id``, ``addr`` (kallsyms),
    ``model`` (FuncModel or None) and ``model_error`` (the BpfError distill raised), ``flags``,
    ``body``, ``ret_value`` (what the default body returns). Attach state: ``ftrace_ops``
    (ftrace.py: kprobe-style entry/return hooks), ``direct`` (the trampoline image's entry,
    the ftrace direct call), ``trampoline`` (the BpfTrampoline when one exists).
    """

    def __init__(self, catalog: "FunctionCatalog", name: str, btf_id: int, addr: int,
                 model: FuncModel | None, model_error, arg_specs, ret_spec, body, param_names=(),
                 proto_id: int = 0):
        self.catalog = catalog
        self.kernel = catalog.kernel
        self.name = name
        self.btf_id = btf_id
        self.proto_id = proto_id
        self.addr = addr
        self.model = model
        self.model_error = model_error
        self.arg_specs = tuple(arg_specs)
        self.ret_spec = ret_spec
        self.param_names = tuple(param_names)
        self.flags = function_flags(name)
        self.default_body = body is None
        self.body = body if body is not None else _default_body
        self.ret_value = 0
        self.cost_ns = FUNC_COST_NS
        self.ftrace_ops: list = []
        self.direct = None              # image.run of the current trampoline image, or None
        self.direct_addr = None         # the image's address (what the patched call targets)
        self.trampoline = None
        self.nr_calls = 0               # body executions
        self._override = _NO_OVERRIDE
        self._orig_native = None
        self._encode_raw = None         # native.make_call_path's encoder (traced calls)
        self._codec = None
        self._nargs = len(self.arg_specs)

    # -- what the attach checks ask ------------------------------------------------------

    @property
    def nr_args(self) -> int:
        return len(self.arg_specs)

    @property
    def fmod_ret_allowed(self) -> bool:
        """btf_kfunc_is_modify_return || check_attach_modify_return (error injection, security_)."""
        return bool(self.flags & (KFUNC_F_FMODRET | KFUNC_F_ERROR_INJECTION)) or \
            self.name.startswith("security_")

    @property
    def sleepable_allowed(self) -> bool:
        ei = self.flags & KFUNC_F_ERROR_INJECTION and not self.flags & KFUNC_F_NON_SLEEPABLE_EI
        return bool(ei) or bool(self.flags & KFUNC_F_FMODRET and self.flags & KFUNC_F_SLEEPABLE)

    @property
    def attachable(self) -> bool:
        return self.btf_id != 0 and self.model is not None

    def entry_text(self) -> bytes | None:
        """The modelled entry bytes: ENDBR + nop5, or the call into the trampoline image."""
        return kallsyms.entry_text(self.kernel.arch, self.addr, self.direct_addr)

    # -- the body ------------------------------------------------------------------------------

    def set_return(self, value) -> "KernelFunction":
        """Make the function return ``value`` from now on (the body is replaced by a constant;
        ``set_body(None)`` restores the catalog body)."""
        self.ret_value = value
        self.body = _default_body
        return self

    def set_body(self, body) -> "KernelFunction":
        """Install ``body(kernel, *args)``; None restores the catalog's body."""
        if body is None:
            body = self.catalog.body_of(self.name)
        self.default_body = body is None
        self.body = body if body is not None else _default_body
        return self

    def c_args(self, args) -> list:
        """Python arguments -> C values: KObject -> its address, None -> 0, str -> a kernel
        string (pointer parameters), bytes -> the struct by value or, for a pointer, a kernel
        copy; ints cut to the parameter's type. TypeError: wrong number of arguments."""
        if len(args) != self._nargs:
            raise TypeError(f"{self.name}() takes {len(self.arg_specs)} arguments, {len(args)} given")
        out = []
        for spec, v in zip(self.arg_specs, args):
            if v.__class__ is int and not spec.aggregate:      # the common case, c_value inline
                v &= spec.mask
                if v & spec.sign:
                    v -= spec.mask + 1
                out.append(v)
                continue
            if isinstance(v, KObject):
                v = v.addr
            elif v is None:
                v = 0
            elif isinstance(v, str):
                if not spec.ptr:
                    raise TypeError(f"{self.name}(): a str for a non-pointer parameter")
                v = self.kernel.kobjects.cstring(v)
            elif isinstance(v, (bytes, bytearray, memoryview)) and spec.ptr:
                v = self.kernel.kobjects.alloc_bytes(bytes(v))
            out.append(c_value(spec, v))
        return out

    def invoke_body(self, args):
        """Run the body on C arguments and return the C result (called by call.py directly,
        or as the trampoline's original function through ``orig_native``)."""
        self.nr_calls += 1
        self.kernel.clock.advance(self.cost_ns)
        override = self._override
        if override is not _NO_OVERRIDE:
            self._override = _NO_OVERRIDE
            return c_value(self.ret_spec, override) if self.ret_spec is not None else None
        body = self.body
        v = self.ret_value if body is _default_body else body(self.kernel, *args)
        spec = self.ret_spec
        if spec is None:
            return None
        if v.__class__ is int and not spec.aggregate:          # c_value inline
            v &= spec.mask
            return v - spec.mask - 1 if v & spec.sign else v
        if v is None:
            v = 0
        elif isinstance(v, KObject):
            v = v.addr
        return c_value(spec, v)

    def codec(self):
        """(encode, decode) of this function's native call on the machine (native.py)."""
        if self._codec is None:
            from .native import make_codec
            self._codec = make_codec(self.model, self.kernel.arch)
        return self._codec

    def orig_native(self):
        """The body in native form for the trampoline (``orig(regs, stack, mem) -> raw``)."""
        if self._orig_native is None:
            self._call_path()
        return self._orig_native

    def _call_path(self):
        """Build the native encoder and the native body (native.make_call_path) once."""
        from .native import make_call_path
        encode_raw, orig = make_call_path(self.model, self.kernel.arch, self.invoke_body)
        orig.__name__ = self.name
        self._orig_native = orig
        self._encode_raw = encode_raw
        return encode_raw

    def __call__(self, *args, **kw):
        from .call import kernel_call
        return kernel_call(self.kernel, self, *args, **kw)

    def __repr__(self) -> str:
        return f"<KernelFunction {self.name} btf_id={self.btf_id} @ {self.addr:#x}>"


def _default_body(kernel, *args):
    """Marks a function the simulator does not model: invoke_body returns ``ret_value``."""
    return 0  # pragma: no cover


class FunctionCatalog:
    """``kernel.functions``: name -> KernelFunction, built lazily from the kernel BTF."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.btf = kernel.btf
        self._by_name: dict[str, KernelFunction] = {}
        self._bodies = {}
        for table in BODY_TABLES:
            self._bodies.update(table)
        self._non_btf = {}
        self.distill_profile = "5.5" if kernel.profile == "5.5" else "6.18"

    def body_of(self, name: str):
        return self._bodies.get(name)

    def __contains__(self, name: str) -> bool:
        try:
            self[name]
        except KeyError:
            return False
        return True

    def get(self, name: str, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __getitem__(self, name: str) -> KernelFunction:
        fn = self._by_name.get(name)
        if fn is not None:
            return fn
        if not isinstance(name, str):
            raise KeyError(name)
        ids = self.btf.find_all_by_name_kind(name, K.BTF_KIND_FUNC)
        if ids:
            fn = self._from_btf(name, ids[0])
        elif name in NON_BTF_FUNCS:
            fn = self._from_decl(name, NON_BTF_FUNCS[name])
        else:
            raise KeyError(f"no kernel function {name!r} (not in the kernel BTF)")
        self._by_name[name] = fn
        return fn

    def _from_btf(self, name: str, fid: int) -> KernelFunction:
        from btf.distill import btf_distill_func_proto
        b = self.btf
        proto_id = b.type_by_id(fid).type
        proto = b.type_by_id(proto_id)
        model, err = None, None
        try:
            model = btf_distill_func_proto(b, fid, self.distill_profile, name)
        except BtfError as e:
            err = BpfError(e.errno, e.message if hasattr(e, "message") else str(e))
        specs = [_spec_of(b, p.type) or _ArgSpec(8, False, False, False, False) for p in proto.params
                 if p.type != 0]
        ret = _spec_of(b, proto.ret_type)
        return KernelFunction(self, name, fid, kallsyms.kallsyms_addr(self.kernel.arch, fid), model,
                              err, specs, ret, self._bodies.get(name),
                              [p.name for p in proto.params], proto_id)

    def _from_decl(self, name: str, decl) -> KernelFunction:
        arg_sizes, ret_size, ret_signed = decl
        index = self.btf.nr_types + 1 + sorted(NON_BTF_FUNCS).index(name)
        specs = [_ArgSpec(s, False, True, False, False) for s in arg_sizes]
        ret = _ArgSpec(ret_size, ret_signed, False, False, False) if ret_size else None
        model = FuncModel(ret_size, 2 if ret_signed else 0, len(arg_sizes), tuple(arg_sizes),
                          (0,) * len(arg_sizes))
        return KernelFunction(self, name, 0, kallsyms.kallsyms_addr(self.kernel.arch, index), model,
                              None, specs, ret, self._bodies.get(name))

    def by_btf_id(self, btf_id: int) -> KernelFunction:
        """The function of FUNC ``btf_id``. ENOENT/EINVAL as BpfError when it is not a FUNC."""
        try:
            t = self.btf.type_by_id(btf_id)
        except BtfError as e:
            raise BpfError(EINVAL, f"attach_btf_id {btf_id} is invalid") from e
        if t.kind != K.BTF_KIND_FUNC:
            raise BpfError(EINVAL, f"attach_btf_id {btf_id} is not a function")
        fn = self._by_name.get(t.name)
        if fn is None or fn.btf_id != btf_id:
            fn = self._from_btf(t.name, btf_id)
            self._by_name.setdefault(t.name, fn)
        return fn

    def lookup_addr(self, addr: int):
        """kallsyms reverse lookup: (name, offset) or None (sprint_symbol for %pS)."""
        index, off = kallsyms.kallsyms_index(self.kernel.arch, addr)
        if index <= 0:
            return None
        if index < self.btf.nr_types:
            if self.btf.kind_of(index) != K.BTF_KIND_FUNC:
                return None
            return self.btf.name_of(index), off
        k = index - self.btf.nr_types - 1
        names = sorted(NON_BTF_FUNCS)
        return (names[k], off) if 0 <= k < len(names) else None

    def kallsyms_lookup_name(self, name: str) -> int:
        """The address of ``name`` (0 if unknown), as kallsyms_lookup_name."""
        fn = self.get(name)
        return fn.addr if fn is not None else 0

    def names(self):
        """Every function name of the kernel BTF (id order), then the non-BTF ones."""
        b = self.btf
        for tid in b.type_ids():
            if b.kind_of(tid) == K.BTF_KIND_FUNC:
                yield b.name_of(tid)
        yield from sorted(NON_BTF_FUNCS)

    def loaded(self) -> list[KernelFunction]:
        """The KernelFunctions built so far."""
        return list(self._by_name.values())

    def with_body(self) -> list[str]:
        """The functions the simulator has a Python body for (and the kernel BTF has)."""
        return [n for n in self._bodies if n in self]
