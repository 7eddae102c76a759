"""The BPF trampoline manager (kernel/bpf/trampoline.c): one ``BpfTrampoline`` per attach target,
refcounted, holding its links by kind, regenerating its image on every attach and detach.

    tr = bpf_trampoline_get(kernel, key, fn)        # lookup or create; a reference
    bpf_trampoline_link_prog(link, tr)              # E2BIG, EBUSY, EINVAL, ENOTSUPP
    bpf_trampoline_unlink_prog(link, tr)            # never fails
    bpf_trampoline_put(tr)

The rules (reference/btf-trampoline.md 5.1-5.5):

* key = ``bpf_trampoline_compute_key``: ``btf_obj_id << 32 | 0x80000000 | btf_id`` for a kernel
  function (the vmlinux BTF has object id 1), ``prog_id << 32 | btf_id`` for a BPF program
  target (prog_target.py); the 5.5 profile keys a kernel function on the bare btf_id.
* ``progs_hlist[kind]`` for BPF_TRAMP_FENTRY, _FEXIT, _MODIFY_RETURN, newest first (a new link
  goes to the head, as hlist_add_head); at most ``BPF_MAX_TRAMP_LINKS`` (38 on x86-64, 27 on
  s390x; 40 in 5.5) over all kinds: ``count >= limit`` before adding is E2BIG; a link already on
  a list, or another link of the same program in that kind's list, is EBUSY.
* ``bpf_trampoline_update`` after every change: no links -> unregister the direct call (the call
  site is a nop again; the trampoline object lives while referenced); else compute the flags
  (``trampoline.bpf_trampoline_flags``: CALL_ORIG|SKIP_FRAME with fexit/fmod_ret, RESTORE_REGS
  otherwise, IP_ARG when a program calls bpf_get_func_ip), build a new image with
  ``arch_prepare_bpf_trampoline`` for the target's FuncModel on the machine's architecture and
  point the function's entry at it (register / modify the ftrace direct call). 6.18 allocates a
  fresh image per update (the old one is retired); 5.5 builds into the free half of its page
  (``trampoline.TrampolinePage``) so a detach never allocates. An error leaves the old image.

The runtime protocol (docs/trampoline.md) over simulated memory: ctx frames come from a per-CPU
kernel stack Region (``KernelStackRuntime``: no allocation per call, frames nest); the enter and
exit hooks are bpf_run's ``__bpf_prog_enter_recur`` / ``__bpf_prog_exit_recur`` (per-CPU
``prog.active`` recursion check and ``recursion_misses``; run_cnt/run_time_ns while stats are on)
around ``bpf_prog_invoke`` with R1 = ctx, and the link's cookie in the run context for
bpf_get_attach_cookie. The 5.5 profile uses ``__bpf_prog_enter``/``__bpf_prog_exit`` (stats, no
recursion check) and no run ctx cookie, as the seed commit describes.
"""

import errno
import functools

from trampoline import (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN, PAGE_SIZE,
                        BpfTrampHooks, BpfTrampLink, TrampolineError, TrampolinePage,
                        arch_prepare_bpf_trampoline, bpf_max_tramp_links, bpf_trampoline_flags)

from ..bpf_run import (BpfTraceRunCtx, __bpf_prog_enter, __bpf_prog_enter_recur, __bpf_prog_exit,
                       __bpf_prog_exit_recur, bpf_prog_invoke, current_run_ctx)
from ..errors import BpfError
from ..uapi import BpfAttachType as AT
from . import ftrace

BTF_VMLINUX_OBJ_ID = 1              # the kernel's vmlinux BTF object id on Linux
TRAMPOLINE_HASH_BITS = 10
THREAD_SIZE = 16384                 # a kernel stack (x86-64)
# Where images go (bpf_jit_alloc_exec: the module area), per architecture.
IMAGE_BASE = {"x86_64": 0xFFFFFFFFA0000000, "arm64": 0xFFFF800000000000,
              "riscv64": 0xFFFFFFFF01000000, "s390x": 0x000003FF80000000, "i386": 0xF8000000}
KINDS = (BPF_TRAMP_FENTRY, BPF_TRAMP_FEXIT, BPF_TRAMP_MODIFY_RETURN)


def bpf_trampoline_compute_key(tgt_prog=None, btf_obj_id: int = BTF_VMLINUX_OBJ_ID, btf_id: int = 0,
                               profile: str = "6.18") -> int:
    """include/linux/bpf_verifier.h bpf_trampoline_compute_key (5.5: the bare btf_id for a
    kernel function; a program target is ``prog id << 32 | btf_id`` in both)."""
    if tgt_prog is not None:
        return (tgt_prog.id << 32) | btf_id
    if profile == "5.5":
        return btf_id
    return (btf_obj_id << 32) | 0x80000000 | btf_id


def bpf_trampoline_unpack_key(key: int) -> tuple[int, int]:
    """(obj_id, btf_id) of a key (bpf_trampoline_unpack_key)."""
    return key >> 32, key & 0x7FFFFFFF


def bpf_attach_type_to_tramp(prog) -> int:
    """kernel/bpf/trampoline.c bpf_attach_type_to_tramp."""
    eat = prog.expected_attach_type
    if eat == AT.BPF_TRACE_FENTRY:
        return BPF_TRAMP_FENTRY
    if eat == AT.BPF_MODIFY_RETURN:
        return BPF_TRAMP_MODIFY_RETURN
    if eat == AT.BPF_TRACE_FEXIT:
        return BPF_TRAMP_FEXIT
    raise BpfError(errno.EINVAL, f"attach type {eat} has no trampoline list")


class KernelStackRuntime:
    """The trampoline runtime protocol over kernel.mem (invented name): each CPU has a kernel
    stack Region; a traced call's ctx frame is carved from it below the previous frame and
    released in LIFO order. ``words`` is a memoryview cast to u64 over the region's bytes, so
    what the image stores is what the program loads."""

    __slots__ = ("kernel", "stacks", "views", "sp", "live")

    def __init__(self, kernel):
        self.kernel = kernel
        self.stacks = {}            # cpu -> Region
        self.views = {}             # cpu -> (region start, its bytes as one u64 memoryview)
        self.sp = {}                # cpu -> offset of the current stack top in the region
        self.live = []              # (cpu, offset before) per live frame, innermost last

    def _stack(self, cpu: int):
        region = self.kernel.mem.alloc(THREAD_SIZE, f"kernel stack cpu{cpu}", kind="stack")
        self.stacks[cpu] = region
        # one view for the region's life (a stack Region is never resized): frames are slices
        view = self.views[cpu] = (region.start, memoryview(region.buf).cast("Q"))
        self.sp[cpu] = THREAD_SIZE
        return view

    def ctx_frame(self, nwords: int):
        cpu = self.kernel.current_cpu
        try:
            start, words = self.views[cpu]
        except KeyError:
            start, words = self._stack(cpu)
        top = self.sp[cpu]
        off = top - 8 * (nwords or 1)
        if off < 0:
            raise BpfError(errno.E2BIG, f"kernel stack overflow on cpu {cpu} (too deeply nested traced calls)")
        self.sp[cpu] = off
        self.live.append((cpu, top))
        return (start + off, words[off >> 3:(off >> 3) + nwords])

    def release(self, frame) -> None:
        cpu, top = self.live.pop()
        self.sp[cpu] = top


def _callchain(kernel) -> list:
    """The kernel stack a program in a trampoline sees: the return address into the traced
    function (after its patched call), then the callers (kstack.py)."""
    from . import kstack
    from .kallsyms import PATCH_SITE
    frames = kstack.frames(kernel)
    if not frames:
        return []
    site, size = PATCH_SITE[kernel.arch]
    return kstack.callchain(kernel, kernel.current_cpu, frames[-1] + site + size, skip_top=1)


class TrampRunCtx(BpfTraceRunCtx):
    """struct bpf_tramp_run_ctx as the kernel core fills it (invented name: the generator's
    plain record is trampoline.BpfTrampRunCtx) for the 6.18 image: one per image run (``new_run_ctx``), handed
    to each program's ``__bpf_prog_enter_recur``, to the program and to the exit hook, one
    program after the other as the kernel's on-stack struct is. The image stores each link's
    cookie into ``bpf_cookie``, which is what bpf_get_attach_cookie reads (``cookie``). The
    kernel stack a program sees (``kstack``: the return address into the traced function, then
    its callers) is walked when a helper asks for it, as bpf_get_stack walks the stack at the
    time of the call."""

    @property
    def cookie(self) -> int:
        return self.bpf_cookie

    @cookie.setter
    def cookie(self, value: int) -> None:
        self.bpf_cookie = value

    @property
    def kstack(self) -> list:
        return _callchain(self.kernel)

    @kstack.setter
    def kstack(self, value) -> None:
        pass                            # always the image's own stack


def _make_hooks(k):
    """The enter/exit hooks of both profiles (module level: a class body would mangle the
    kernel's double-underscore names).

    6.18: the image makes one ``TrampRunCtx`` per run and calls bpf_run's
    ``__bpf_prog_enter_recur`` / ``__bpf_prog_exit_recur`` with it directly. 5.5 has no run ctx
    in the image: enter makes one (no cookie), exit finds it as current->bpf_ctx."""

    def enter_55(prog, rc):
        chain = _callchain(k) if prog.aux.call_get_stack else ()
        return __bpf_prog_enter(prog, BpfTraceRunCtx(k, prog, kstack=chain))

    def exit_55(prog, start, rc):
        __bpf_prog_exit(prog, start, current_run_ctx(k))

    return (BpfTrampHooks(__bpf_prog_enter_recur, __bpf_prog_exit_recur,
                          new_run_ctx=functools.partial(TrampRunCtx, k)),
            BpfTrampHooks(enter_55, exit_55, enter_name="__bpf_prog_enter", exit_name="__bpf_prog_exit"))


class TrampolineTable:
    """The kernel's trampoline_table plus what every trampoline of a machine shares (invented):
    the runtime, the hooks of each profile, the image address allocator."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.by_key: dict[int, "BpfTrampoline"] = {}
        self.runtime = KernelStackRuntime(kernel)
        self.next_image = 0
        self.next_page = 0
        self.images_built = 0
        self.hooks, self.hooks_55 = _make_hooks(kernel)

    def image_addr(self) -> int:
        """A fresh page for an image (bpf_tramp_image_alloc -> arch_alloc_bpf_trampoline)."""
        addr = IMAGE_BASE[self.kernel.arch] + PAGE_SIZE * self.next_image
        self.next_image += 1
        return addr


def trampoline_table(kernel) -> TrampolineTable:
    table = kernel.subsys.get("bpf_trampolines")
    if table is None:
        table = kernel.subsys["bpf_trampolines"] = TrampolineTable(kernel)
    return table


class BpfTrampoline:
    """struct bpf_trampoline."""

    def __init__(self, table: TrampolineTable, key: int, fn):
        self.table = table
        self.kernel = table.kernel
        self.key = key
        self.func = fn                              # the KernelFunction (tr->func.addr / model)
        self.model = fn.model                       # tr->func.model (first user wins)
        self.refcnt = 1
        self.progs_hlist = [[], [], []]             # by BpfTrampProgType, newest first
        self.cur_image = None
        self.flags = 0
        self.nr_images = 0                          # images generated for this trampoline
        self.extension_prog = None
        self.profile = "5.5" if self.kernel.profile == "5.5" else "newest"
        self.page = None
        if self.profile == "5.5":
            # 5.5 bpf_trampoline_lookup: one page per trampoline, allocated up front
            base = IMAGE_BASE[self.kernel.arch] + 0x10000000 + PAGE_SIZE * table.next_page
            table.next_page += 1
            self.page = TrampolinePage(base)

    @property
    def progs_cnt(self) -> list[int]:
        return [len(lst) for lst in self.progs_hlist]

    def links(self, kind: int) -> list:
        return list(self.progs_hlist[kind])

    def __repr__(self) -> str:
        return (f"<BpfTrampoline {self.func.name} key={self.key:#x} refcnt={self.refcnt} "
                f"fentry={len(self.progs_hlist[0])} fexit={len(self.progs_hlist[1])} "
                f"fmod_ret={len(self.progs_hlist[2])}>")


def bpf_trampoline_lookup(kernel, key: int) -> "BpfTrampoline | None":
    return trampoline_table(kernel).by_key.get(key)


def bpf_trampoline_get(kernel, key: int, fn) -> BpfTrampoline:
    """bpf_trampoline_get: the trampoline of ``key`` with a new reference, created for ``fn``
    (a KernelFunction with a model) when it does not exist. Called at load (the verifier's
    check_attach_btf_id) or at attach (bpf_tracing_prog_attach)."""
    table = trampoline_table(kernel)
    tr = table.by_key.get(key)
    if tr is not None:
        tr.refcnt += 1
        return tr
    if fn.model is None:
        raise BpfError(errno.EINVAL, f"{fn.name} has no function model")
    tr = BpfTrampoline(table, key, fn)
    table.by_key[key] = tr
    fn.trampoline = tr
    return tr


def bpf_trampoline_put(tr: BpfTrampoline) -> None:
    """Drop a reference; the last one frees the trampoline (its lists must be empty)."""
    tr.refcnt -= 1
    if tr.refcnt > 0:
        return
    if any(tr.progs_hlist):  # pragma: no cover - a bookkeeping bug (the kernel WARNs)
        raise AssertionError(f"{tr!r}: freed with links attached")
    table = tr.table
    if table.by_key.get(tr.key) is tr:
        del table.by_key[tr.key]
    if tr.func.trampoline is tr:
        tr.func.trampoline = None


def _tramp_link(kernel, link) -> BpfTrampLink:
    """The generator's view of a link: its program's entry with R1 = ctx, the prog handle for
    the enter/exit hooks, the cookie."""
    tl = getattr(link, "_tramp_link", None)
    if tl is None:
        prog = link.prog
        if kernel.profile == "5.5":
            # no run ctx in the 5.5 image: the program's is current->bpf_ctx (enter_55 set it)
            def bpf_func(ctx, _invoke=bpf_prog_invoke, _cur=current_run_ctx, _k=kernel, _p=prog):
                return _invoke(_p, ctx, _cur(_k), __bpf_prog_exit)
            run_ctx_arg = False
        else:
            # bpf_func(ctx, rc): the image hands over the run ctx; a program stopped at run time
            # (BpfRuntimeError) is unwound with the exit hook (run ctx, prog.active), since the
            # image will not reach its exit call. A partial: no Python frame of its own.
            bpf_func = functools.partial(bpf_prog_invoke, prog, unwind=__bpf_prog_exit_recur)
            run_ctx_arg = True
        tl = BpfTrampLink(bpf_func, prog=prog, cookie=getattr(link, "cookie", 0) or 0,
                          name=(getattr(prog, "name", "") or f"prog{getattr(prog, 'id', 0)}"),
                          run_ctx_arg=run_ctx_arg)
        link._tramp_link = tl
    return tl


def bpf_trampoline_link_prog(link, tr: BpfTrampoline, tgt_prog=None) -> None:
    """__bpf_trampoline_link_prog: add ``link`` (anything with ``.prog`` and ``.cookie``) and
    regenerate. E2BIG: BPF_MAX_TRAMP_LINKS links already; EBUSY: this link or another link of
    the same program already there, or an extension attached; EINVAL: a kind the profile lacks;
    the update's errors (ENOTSUPP, E2BIG) leave everything as it was."""
    kind = bpf_attach_type_to_tramp(link.prog)
    if tr.profile == "5.5" and kind == BPF_TRAMP_MODIFY_RETURN:
        raise BpfError(errno.EINVAL, "fmod_ret does not exist in 5.5")
    if tr.extension_prog is not None:
        raise BpfError(errno.EBUSY, "an extension program replaces the target")
    cnt = sum(len(lst) for lst in tr.progs_hlist)
    limit = bpf_max_tramp_links(tr.kernel.arch, tr.profile)
    if cnt >= limit:
        raise BpfError(errno.E2BIG, f"{cnt} links on {tr.func.name} already (BPF_MAX_TRAMP_LINKS {limit})")
    if getattr(link, "_tr_linked", False):
        raise BpfError(errno.EBUSY, "link already attached")
    for other in tr.progs_hlist[kind]:
        if other.prog is link.prog:
            raise BpfError(errno.EBUSY, f"program {link.prog.id} already attached to {tr.func.name}")
    tr.progs_hlist[kind].insert(0, link)
    link._tr_linked = True
    try:
        bpf_trampoline_update(tr)
    except BaseException:
        tr.progs_hlist[kind].remove(link)
        link._tr_linked = False
        raise


def bpf_trampoline_unlink_prog(link, tr: BpfTrampoline, tgt_prog=None) -> None:
    """__bpf_trampoline_unlink_prog: remove and regenerate; never fails."""
    kind = bpf_attach_type_to_tramp(link.prog)
    if link in tr.progs_hlist[kind]:
        tr.progs_hlist[kind].remove(link)
    link._tr_linked = False
    bpf_trampoline_update(tr)


def bpf_trampoline_update(tr: BpfTrampoline) -> None:
    """Rebuild ``tr``'s image for its current links (the module docstring). Raises BpfError
    (from TrampolineError) and leaves the previous image in place on failure."""
    kernel = tr.kernel
    fn = tr.func
    total = sum(len(lst) for lst in tr.progs_hlist)
    if total == 0:
        if tr.cur_image is not None:
            ftrace.unregister_ftrace_direct(fn)            # unregister_fentry
        tr.cur_image = None
        tr.flags = 0
        if tr.page is not None:
            tr.page.reset()
        return
    tlinks = {kind: [_tramp_link(kernel, l) for l in tr.progs_hlist[kind]] for kind in KINDS}
    ip_arg = any(getattr(l.prog.aux, "call_get_func_ip", False)
                 for lst in tr.progs_hlist for l in lst)
    flags = bpf_trampoline_flags(tlinks, ip_arg, tr.profile)
    table = tr.table
    hooks = table.hooks_55 if tr.profile == "5.5" else table.hooks
    kw = dict(orig=fn.orig_native(), hooks=hooks, runtime=table.runtime, func_addr=fn.addr,
              im=tr, name=fn.name)
    try:
        if tr.page is not None:
            image = tr.page.update(tr.model, tlinks, flags, kernel.arch, **kw)
        else:
            image = arch_prepare_bpf_trampoline(tr.model, tlinks, flags, kernel.arch,
                                                profile=tr.profile, image_addr=table.image_addr(), **kw)
    except TrampolineError as e:
        raise BpfError(e.errno, e.message) from e
    if tr.cur_image is None:
        ftrace.register_ftrace_direct(fn, image)           # register_fentry: nop -> call
    else:
        ftrace.modify_ftrace_direct(fn, image)             # modify_fentry: old -> new image
    tr.cur_image = image
    tr.flags = flags
    tr.nr_images += 1
    table.images_built += 1
