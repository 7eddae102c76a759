"""syscall: the bpf(2) ABI: union bpf_attr as cffi cdefs, copy_from_user/copy_to_user, the
multiplexer, permission gates, libbpf-like wrappers and the ELF object loader
(kernel/bpf/syscall.c, include/uapi/linux/bpf.h, tools/lib/bpf).

Front door: ``sys_bpf``, ``sys_close``, ``sys_dup`` (syscall/dispatch.py) and the libbpf-style
wrappers (syscall/libbpf.py, imported as ``syscall.libbpf``). Imported lazily: the dispatcher pulls
in every command module.
"""

__all__ = ["sys_bpf", "sys_close", "sys_dup"]


def __getattr__(name):
    if name in ("sys_bpf", "sys_close", "sys_dup"):
        from . import dispatch
        return getattr(dispatch, name)
    raise AttributeError(f"module 'syscall' has no attribute {name!r}")
