"""BTF objects: struct btf as a refcounted BPF object (kernel/bpf/btf.c btf_new_fd, btf_get_by_fd,
btf_put, bpf_btf_get_info_by_fd).

A ``BpfBtf`` wraps a parsed ``btf.Btf`` and the raw bytes it came from. BPF_BTF_LOAD creates
user BTF objects; the kernel's own BTF (vmlinux) is one with ``kernel_btf`` set, registered lazily
in the btf ID registry the first time something needs its ID (programs attaching through it,
BTF_GET_NEXT_ID), as Linux gives vmlinux BTF an ID at boot. Maps hold a reference on their BTF,
programs on their prog_btf and attach_btf.
"""

from .bpf_objects import BpfObject


class BpfBtf(BpfObject):
    """struct btf (the object side): ``btf`` is the parsed btf.Btf, ``data`` its bytes."""

    kind = "btf"

    def __init__(self, kernel, btf, data: bytes, name: str = "", kernel_btf: bool = False):
        super().__init__(kernel)
        self.btf = btf
        self.data = bytes(data)
        self.name = name
        self.kernel_btf = kernel_btf

    def __repr__(self) -> str:
        return f"<BpfBtf id={self.id} name={self.name!r} kernel={self.kernel_btf}>"


def vmlinux_btf_object(kernel) -> BpfBtf:
    """The kernel BTF as a BPF object with an ID (created on first use, never freed: the kernel
    holds it). Called from syscall (BTF_GET_NEXT_ID, PROG_LOAD attach_btf_obj_id)."""
    obj = kernel.subsys.get("btf_vmlinux")
    if obj is None:
        kbtf = kernel.btf
        data = kbtf.to_bytes() if hasattr(kbtf, "to_bytes") else b""
        obj = BpfBtf(kernel, kbtf, data, name="vmlinux", kernel_btf=True)
        obj.alloc_id()
        kernel.subsys["btf_vmlinux"] = obj
    return obj
