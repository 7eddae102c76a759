"""The executable form of an image: straight-line Python generated per image and compiled once.

It does what the machine code does, in the same order (fact sheet 5.4, invoke_bpf_prog 5.5):
take a ctx frame from the runtime, store the argument slots (from the registers and stack words
callconv placed), ctx[-1] and ctx[-2], run the fentry links, set the return slot to 0 and run the
fmod_ret links (a non-zero r0 jumps to do_fexit), call the original and store its return value,
run the fexit links, release the frame and return the return slot. A fentry-only image instead
restores the registers and "returns into" the traced function: it calls the original with them
after releasing its frame, as the real one pops its frame before the body runs.

Everything the code touches is bound once as a closure variable (programs, hooks, the runtime's
methods, constants are literals), so a call costs the frame, one call per program and, with hooks,
the enter/exit calls.
"""

import re

from .records import BpfTrampRunCtx, ExecPlan, TrampRequest

_SLOT = re.compile(r"\$(\d+|old)")


def frame_layout(req: TrampRequest, nr_slots: int) -> dict:
    """Word indexes of the simulated ctx frame: [IP][nr_regs][slots...][return]."""
    w = 0
    ip = nr = None
    if req.ip_arg:
        ip, w = w, w + 1
    if req.profile.nr_regs_slot:
        nr, w = w, w + 1
    a = w
    w += nr_slots
    ret = None
    if req.save_ret:
        ret, w = w, w + 1
    return {"ip": ip, "nr": nr, "a": a, "ret": ret, "nwords": w}


def _stop_on_orig_missing(regs, stack, mem=None):
    return 0


def _no_exit(prog, start, run_ctx):
    return None


def build_executable(req: TrampRequest, plan: ExecPlan, nr_slots: int, orig, runtime, im):
    """(source, function, layout) for one image (called by core.arch_prepare_bpf_trampoline)."""
    lay = frame_layout(req, nr_slots)
    a, R = lay["a"], lay["ret"]

    def sub(expr: str, slot: int | None = None) -> str:
        return _SLOT.sub(lambda m: f"w[{a + slot if m.group(1) == 'old' else a + int(m.group(1))}]", expr)

    hooks = req.hooks
    use_hooks = hooks.enter is not None or any(l.enter is not None for _k, _i, l in req.all_links())
    run_ctx = use_hooks and req.profile.run_ctx
    binds = {"_ctx_frame": runtime.ctx_frame, "_release": runtime.release,
             "_RunCtx": hooks.new_run_ctx or BpfTrampRunCtx, "_orig": orig or _stop_on_orig_missing, "_im": im,
             "_tenter": hooks.tramp_enter, "_texit": hooks.tramp_exit}
    body = []
    emit = body.append
    if lay["ip"] is not None:
        emit(f"w[{lay['ip']}] = {req.func_addr & ((1 << 64) - 1):#x}")
    if lay["nr"] is not None:
        emit(f"w[{lay['nr']}] = {nr_slots}")
    for stmt in plan.prelude:
        emit(sub(stmt))
    for k, expr in enumerate(plan.slot_exprs):
        emit(f"w[{a + k}] = {sub(expr, k)}")
    emit(f"ctx = base + {8 * a}" if a else "ctx = base")
    if run_ctx:
        emit("rc = _RunCtx()")
    if req.call_orig and hooks.tramp_enter is not None:
        emit("_tenter(_im)")

    def invoke(i, link, save_ret, ind=""):
        binds[f"_p{i}"] = link.prog
        binds[f"_f{i}"] = link.bpf_func
        if link.insnsi is not None:
            call = f"_f{i}(ctx, {link.insnsi:#x})"
        elif link.run_ctx_arg and run_ctx:
            call = f"_f{i}(ctx, rc)"
        else:
            call = f"_f{i}(ctx)"
        store = (f"w[{R}] = " + plan.ret_fixup.format(r=call)) if save_ret else call
        enter = link.enter or hooks.enter
        if enter is None:
            emit(ind + store)
            return
        binds[f"_e{i}"] = enter
        exit = link.exit if link.enter is not None else hooks.exit   # a link's enter brings its exit
        binds[f"_x{i}"] = exit or _no_exit
        rc = "rc" if run_ctx else "None"
        if run_ctx:
            emit(ind + f"rc.bpf_cookie = {link.cookie & ((1 << 64) - 1):#x}")
        emit(ind + f"start = _e{i}(_p{i}, {rc})")
        if req.profile.recursion_check:
            emit(ind + "if start:")
            emit(ind + "    " + store)
        else:
            emit(ind + store)
        emit(ind + f"_x{i}(_p{i}, start, {rc})")

    links = req.all_links()
    for kind, i, link in links:
        if kind == 0:
            emit(f"# fentry {req.link_label(i, link)}")
            invoke(i, link, False)
    orig_call = f"w[{R}] = _orig({sub(plan.orig_regs)}, {sub(plan.orig_stack)}, mem) & 0xFFFFFFFFFFFFFFFF"
    if req.fmod_ret:
        emit(f"w[{R}] = 0")
        emit("while True:    # break = goto do_fexit")
        for kind, i, link in links:
            if kind == 2:
                emit(f"    # fmod_ret {req.link_label(i, link)}")
                invoke(i, link, True, "    ")
                emit(f"    if w[{R}]:")
                emit("        break")
        if req.call_orig:
            emit("    " + orig_call)
        emit("    break")
    elif req.call_orig:
        emit(orig_call)
    for kind, i, link in links:
        if kind == 1:
            emit(f"# fexit {req.link_label(i, link)}")
            invoke(i, link, False)
    if req.call_orig:
        if hooks.tramp_exit is not None:
            emit("_texit(_im)")
        emit(f"return w[{R}]")
    else:
        emit(f"rr = {sub(plan.restore_regs) if req.restore_regs else 'regs'}")

    fname = "bpf_trampoline_" + re.sub(r"\W", "_", req.name or "func")
    names = ", ".join(binds)
    src = [f"def _bind({names}):",
           f"    def {fname}(regs, stack, mem=None):",
           f"        frame = _ctx_frame({lay['nwords']})",
           "        base, w = frame",
           "        try:"]
    src += ["            " + line for line in body]
    src += ["        finally:", "            _release(frame)"]
    if not req.call_orig:
        src.append("        return _orig(rr, stack, mem)    # return into the traced function")
    src.append(f"    return {fname}")
    source = "\n".join(src) + "\n"
    namespace = {}
    exec(compile(source, f"<{fname} {req.profile.name}>", "exec"), namespace)
    return source, namespace["_bind"](**binds), lay
