"""Kernel struct offsets that the verifier's rewrites write into a program (the xlated code):
offsetof() of struct sk_buff, skb_shared_info, qdisc_skb_cb, bpf_array, htab_elem,
bpf_lru_node, bpf_perf_event_data_kern and perf_sample_data members.

Called from fixups.py as ``offsetof(kernel, "sk_buff", "len")``. The offsets come from the
kernel's BTF when it describes the struct (the embedded kernel BTF has sk_buff, net_device and
skb_shared_info; a real vmlinux BTF has them all); structs it lacks fall back to FALLBACK, the
values of the oracle's Linux 6.18.44 x86-64 build (read from its /sys/kernel/btf/vmlinux;
tests/kernelsim/verifier/test_xlated.py checks the table against that file where it exists).
Nested members are written with dots (``"skb_shared_info", "hwtstamps"``); members of anonymous
unions and structs are found by their own names, as C does.
"""

FALLBACK = {
    ("sk_buff", "dev"): 16, ("sk_buff", "sk"): 24, ("sk_buff", "tstamp"): 32,
    ("sk_buff", "cb"): 40, ("sk_buff", "len"): 112, ("sk_buff", "queue_mapping"): 124,
    ("sk_buff", "__pkt_type_offset"): 128, ("sk_buff", "tc_index"): 132,
    ("sk_buff", "priority"): 140, ("sk_buff", "skb_iif"): 144, ("sk_buff", "hash"): 148,
    ("sk_buff", "vlan_all"): 152, ("sk_buff", "vlan_proto"): 152, ("sk_buff", "vlan_tci"): 154,
    ("sk_buff", "napi_id"): 156, ("sk_buff", "mark"): 164, ("sk_buff", "protocol"): 176,
    ("sk_buff", "end"): 188, ("sk_buff", "head"): 192, ("sk_buff", "data"): 200,
    ("net_device", "ifindex"): 224,
    ("skb_shared_info", "gso_size"): 4, ("skb_shared_info", "gso_segs"): 6,
    ("skb_shared_info", "hwtstamps"): 16,
    ("qdisc_skb_cb", "pkt_len"): 0, ("qdisc_skb_cb", "tc_classid"): 6, ("qdisc_skb_cb", "data"): 8,
    ("bpf_array", "value"): 312, ("bpf_array", "pptrs"): 312,
    ("htab_elem", "lru_node"): 16, ("htab_elem", "key"): 48, ("bpf_lru_node", "ref"): 19,
    ("bpf_perf_event_data_kern", "regs"): 0, ("bpf_perf_event_data_kern", "data"): 8,
    ("perf_sample_data", "period"): 8, ("perf_sample_data", "addr"): 184,
}

BTF_KIND_STRUCT, BTF_KIND_UNION = 4, 5


def _member_offset(btf, type_id: int, name: str) -> int | None:
    """Byte offset of member ``name`` in struct/union ``type_id``, looking into anonymous
    members; None when absent."""
    for m in btf.members(type_id):
        if m.name == name:
            return m.bit_offset // 8
        if not m.name:
            inner = btf.skip_modifiers(m.type)
            if btf.kind_of(inner) in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                off = _member_offset(btf, inner, name)
                if off is not None:
                    return m.bit_offset // 8 + off
    return None


def btf_offsetof(btf, struct: str, member: str) -> int | None:
    """offsetof(struct ``struct``, ``member``) from ``btf``, or None when it lacks either."""
    if btf is None:
        return None
    try:
        ids = btf.find_all_by_name_kind(struct, BTF_KIND_STRUCT)
    except Exception:  # noqa: BLE001 - a BTF without a name index
        return None
    if not ids:
        return None
    type_id, total = ids[0], 0
    for part in member.split("."):
        off = _member_offset(btf, type_id, part)
        if off is None:
            return None
        total += off
        for m in btf.members(type_id):
            if m.name == part:
                type_id = btf.skip_modifiers(m.type)
                break
    return total


_CACHE: dict = {}


def offsetof(kernel, struct: str, member: str) -> int:
    """offsetof() as the kernel ``kernel`` was built: its BTF, else FALLBACK (KeyError if
    neither knows the member: a rewrite asked for a layout nobody recorded)."""
    btf = getattr(kernel, "btf", None)
    key = (id(btf), struct, member)
    if key not in _CACHE:
        off = btf_offsetof(btf, struct, member)
        _CACHE[key] = FALLBACK[(struct, member)] if off is None else off
    return _CACHE[key]
