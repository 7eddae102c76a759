"""BTF objects: struct btf as a refcounted BPF object (kernel/bpf/btf.c btf_new_fd, btf_get_by_fd,
btf_put, bpf_btf_get_info_by_fd).

A ``BpfBtf`` wraps a parsed ``btf.Btf`` and the raw bytes it came from. BPF_BTF_LOAD creates
user BTF objects; the kernel's own BTF (vmlinux) is a ``VmlinuxBtf`` (``kernel_btf`` set), made
and given BTF object ID 1 when the machine is built, as Linux does at boot, while its ``btf`` and
``data`` are only parsed / encoded when first read (``kernel.btf``). Maps hold a reference on
their BTF, programs on their prog_btf and attach_btf.
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


class VmlinuxBtf(BpfBtf):
    """The kernel's BTF object: ``btf`` is ``kernel.btf`` and ``data`` its bytes, both built on
    first use, so that reserving the ID costs nothing at boot. Never freed: the kernel holds it."""

    def __init__(self, kernel):
        BpfObject.__init__(self, kernel)
        self.name = "vmlinux"
        self.kernel_btf = True
        self._data = None

    @property
    def btf(self):
        return self.kernel.btf

    @property
    def data(self) -> bytes:
        if self._data is None:
            kbtf = self.kernel.btf
            self._data = kbtf.to_bytes() if hasattr(kbtf, "to_bytes") else b""
        return self._data


def register_vmlinux_btf(kernel) -> VmlinuxBtf:
    """Make the kernel BTF object and give it the first BTF ID (KernelState construction)."""
    obj = VmlinuxBtf(kernel)
    obj.alloc_id()
    kernel.subsys["btf_vmlinux"] = obj
    return obj


def vmlinux_btf_object(kernel) -> BpfBtf:
    """The kernel BTF as a BPF object (ID 1). Called from syscall (PROG_LOAD attach_btf_obj_id,
    link info) and the tracing links."""
    return kernel.subsys["btf_vmlinux"]
