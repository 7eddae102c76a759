"""Wiring of the tracing code into a machine: the lazily built catalogs and the hooks other
subsystems call through ``kernel.subsys`` (invented module; the kernel links these statically).

``install_tracing_hooks(kernel)`` (called by KernelState.__init__) sets:

* ``kernel.subsys["task_struct_addr"]``: task -> address of its BTF-laid-out task_struct
  (bpf_get_current_task, helpers/trace.py);
* ``kernel.subsys["kallsyms"]``: address -> (name, offset, size) or None (%pS in bpf_snprintf,
  helpers/bprintf.py);
* ``kernel.subsys["d_path"]``: address of a struct path -> its path string or None (bpf_d_path),
  computed by calling the simulated ``d_path`` so fentry/fexit on it fire.

Nothing is built until used: the catalog and the objects need the kernel BTF.
"""

from .kallsyms import FUNC_SLOT


def functions_of(kernel):
    fc = kernel.subsys.get("functions")
    if fc is None:
        from .functions import FunctionCatalog
        fc = kernel.subsys["functions"] = FunctionCatalog(kernel)
    return fc


def kobjects_of(kernel):
    ko = kernel.subsys.get("kobjects")
    if ko is None:
        from .stdobjects import KernelObjects
        ko = kernel.subsys["kobjects"] = KernelObjects(kernel)
    return ko


def install_tracing_hooks(kernel) -> None:
    subsys = kernel.subsys

    def task_struct_addr(task):
        return kobjects_of(kernel).task_struct_addr(task)

    def kallsyms(addr):
        sym = functions_of(kernel).lookup_addr(addr)
        return None if sym is None else (sym[0], sym[1], FUNC_SLOT)

    def d_path(path_addr):
        from .kfuncs_fs import d_path_string
        return d_path_string(kernel, path_addr)

    subsys.setdefault("task_struct_addr", task_struct_addr)
    subsys.setdefault("kallsyms", kallsyms)
    subsys.setdefault("d_path", d_path)
