"""OBJ_GET_INFO_BY_FD: bpf_prog_info, bpf_map_info, bpf_btf_info, bpf_link_info
(kernel/bpf/syscall.c bpf_obj_get_info_by_fd and the four *_get_info_by_fd; kernel/bpf/btf.c
btf_get_info_by_fd).

Negotiation: ``info_len`` above 4096 is E2BIG, a user struct bigger than ours must be zero past our
size (E2BIG); then ``min(info_len, sizeof)`` bytes are copied in (programs, links, BTF and, in
6.18, maps: the structs carry input pointers and counts), filled, copied back, and ``info_len``
is written back. Array fields follow the kernel's pattern: the user passes a count and a pointer,
the kernel writes the real count and copies ``min(user count, real count)`` records.

Programs are not JIT-compiled here: ``jited_prog_len`` is 0 and the jited ksyms / func lens are 0
(their counts are as Linux reports them: one per function). The xlated dump is the verifier's
rewrite with map pointers turned back into map IDs (src_reg BPF_PSEUDO_MAP_FD / MAP_VALUE, imm =
map id, next imm = value offset), as bpftool shows it; helper call immediates are hidden unless
the reader may see kernel addresses (bpf_dump_raw_ok).
"""

from __future__ import annotations

import errno
import hashlib

from kernelsim.bpf_btf import BpfBtf
from kernelsim.bpf_link import link_op
from kernelsim.bpf_prog import BpfProg
from kernelsim.errors import BpfError
from kernelsim.isa.insn import BpfInsn, decode_insns, encode_insns
from kernelsim.maps import BpfMap
from kernelsim.uapi import BpfFuncId, BpfMapType, BpfPseudo

from . import abi, uaccess
from .attr import bpf_check_uarg_tail_zero
from .common import SysCtx, fdget

ffi = abi.ffi
SIZEOF_FUNC_INFO, SIZEOF_LINE_INFO, SIZEOF_JITED_LINE_INFO = 8, 16, 8
BPF_TAIL_CALL, BPF_CALL_ARGS = 0xF0, 0xE0
BPF_JMP, BPF_CALL, BPF_LD_IMM64 = 0x05, 0x80, 0x18
BPF_PROBE_MEM, BPF_PROBE_MEM32, BPF_MEM = 0x20, 0xA0, 0x60
SHA256_DIGEST_SIZE = 32


def _negotiate(ctx: SysCtx, ctype: str, copy_in: bool):
    """bpf_check_uarg_tail_zero + the copy-in: (info cdata, info_len, user address)."""
    uinfo = ctx.attr.info.info
    info_len = ctx.attr.info.info_len
    size = ffi.sizeof(ctype)
    bpf_check_uarg_tail_zero(uinfo, size, info_len)
    info_len = min(size, info_len)
    data = uaccess.copy_from_user(uinfo, info_len) if copy_in else b""
    return abi.new_struct(ctype, data), info_len, uinfo


def _finish(ctx: SysCtx, info, info_len: int, uinfo: int) -> None:
    uaccess.copy_to_user(uinfo, bytes(ffi.buffer(info))[:info_len])
    ctx.put_user("info.info_len", info_len)


def _name16(name: str) -> bytes:
    return name.encode("latin-1", "replace")[:15].ljust(16, b"\0")


def bpf_dump_raw_ok(ctx: SysCtx) -> bool:
    """kallsyms_show_value: kernel addresses are visible with kptr_restrict 0 and
    perf_event_paranoid <= 1, or kptr_restrict <= 1 and CAP_SYSLOG."""
    restrict = ctx.kernel.sysctl["kernel.kptr_restrict"]
    if restrict == 0 and ctx.kernel.sysctl["kernel.perf_event_paranoid"] <= 1:
        return True
    return restrict <= 1 and ctx.cred.capable("CAP_SYSLOG")


def bpf_obj_get_info_by_fd(ctx: SysCtx) -> int:
    """EBADFD: bpf_fd is not open; EINVAL: not a BPF object; then the kind's rules."""
    try:
        file = fdget(ctx, ctx.attr.info.bpf_fd)
    except BpfError:
        raise BpfError(errno.EBADFD, "info.bpf_fd is not open") from None
    obj = file.obj
    if isinstance(obj, BpfProg):
        return bpf_prog_get_info_by_fd(ctx, obj)
    if isinstance(obj, BpfMap):
        return bpf_map_get_info_by_fd(ctx, obj)
    if isinstance(obj, BpfBtf):
        return bpf_btf_get_info_by_fd(ctx, obj)
    if getattr(obj, "kind", None) == "link":
        return bpf_link_get_info_by_fd(ctx, obj)
    raise BpfError(errno.EINVAL, "not a BPF object fd")


def _fd(fd: int) -> int:
    return fd - (1 << 32) if fd & 0x80000000 else fd


# -- maps ----------------------------------------------------------------------------------------


def bpf_map_get_info_by_fd(ctx: SysCtx, map: BpfMap) -> int:
    """EINVAL: a hash pointer for a map without a hash (only arrays), or a bad hash_size; EPERM:
    the array is not frozen; EFAULT."""
    info, info_len, uinfo = _negotiate(ctx, "struct bpf_map_info", copy_in=True)
    uhash, hash_size = info.hash, info.hash_size
    info = abi.new_struct("struct bpf_map_info")
    info.type = map.map_type
    info.id = map.id
    info.key_size = map.key_size
    info.value_size = map.value_size
    info.max_entries = map.max_entries
    info.map_flags = map.map_flags
    info.map_extra = map.map_extra
    info.name = _name16(map.name)
    if map.btf is not None:
        info.btf_id = map.btf.id
        info.btf_key_type_id = map.btf_key_type_id
        info.btf_value_type_id = map.btf_value_type_id
    info.btf_vmlinux_value_type_id = map.btf_vmlinux_value_type_id
    if uhash:
        if map.map_type != BpfMapType.BPF_MAP_TYPE_ARRAY:
            raise BpfError(errno.EINVAL, "map has no hash")
        if hash_size != SHA256_DIGEST_SIZE:
            raise BpfError(errno.EINVAL, "hash_size must be 32")
        if not map.frozen:
            raise BpfError(errno.EPERM, "only a frozen map has a hash")   # array_map_get_hash
        uaccess.copy_to_user(uhash, hashlib.sha256(bytes(map.data.region.buf)).digest())
        info.hash, info.hash_size = uhash, hash_size
    elif hash_size:
        raise BpfError(errno.EINVAL, "hash_size without hash")
    _finish(ctx, info, info_len, uinfo)
    return 0


# -- BTF -----------------------------------------------------------------------------------------


def bpf_btf_get_info_by_fd(ctx: SysCtx, btf: BpfBtf) -> int:
    """The raw BTF (min of the two sizes), its real size, id, name, kernel_btf. EINVAL: name
    pointer without length or the reverse; ENOSPC: the name buffer is too small (it is still
    filled, NUL-terminated); EFAULT."""
    info, info_len, uinfo = _negotiate(ctx, "struct bpf_btf_info", copy_in=True)
    info.id = btf.id
    n = min(len(btf.data), info.btf_size)
    if n:
        uaccess.copy_to_user(info.btf, btf.data[:n])
    info.btf_size = len(btf.data)
    info.kernel_btf = int(btf.kernel_btf)
    uname, uname_len = info.name, info.name_len
    if bool(uname) != bool(uname_len):
        raise BpfError(errno.EINVAL, "name and name_len must be both set or both 0")
    name = btf.name.encode()
    info.name_len = len(name)
    ret = 0
    if uname:
        if uname_len >= len(name) + 1:
            uaccess.copy_to_user(uname, name + b"\0")
        else:
            uaccess.copy_to_user(uname, name[:uname_len - 1] + b"\0")
            ret = -errno.ENOSPC
    _finish(ctx, info, info_len, uinfo)
    if ret:
        raise BpfError(-ret, "BTF name buffer too small")
    return 0


# -- links ---------------------------------------------------------------------------------------


class LinkInfoView:
    """What a link type's ``fill_link_info`` gets: the kernel's struct bpf_link_info being filled
    (``get``/``set`` by dotted field name, e.g. "raw_tracepoint.tp_name_len") and user access
    for its string/array fields (``copy_to_user``, raising EFAULT)."""

    def __init__(self, info):
        self.info = info

    def get(self, dotted: str) -> int:
        obj = self.info
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj

    def set(self, dotted: str, value: int) -> None:
        parts = dotted.split(".")
        obj = self.info
        for part in parts[:-1]:
            obj = getattr(obj, part)
        setattr(obj, parts[-1], value)

    copy_to_user = staticmethod(uaccess.copy_to_user)


LINK_INFO_MEMBER = {1: "raw_tracepoint", 2: "tracing", 3: "cgroup", 4: "iter", 5: "netns", 6: "xdp",
                    7: "perf_event", 8: "kprobe_multi", 9: "struct_ops", 10: "netfilter", 11: "tcx",
                    12: "uprobe_multi", 13: "netkit", 14: "sockmap"}


def bpf_link_get_info_by_fd(ctx: SysCtx, link) -> int:
    """type, id, prog_id, then the link type's fill_link_info (its errors pass through)."""
    info, info_len, uinfo = _negotiate(ctx, "struct bpf_link_info", copy_in=True)
    info.type = int(getattr(link, "type", 0))
    info.id = link.id
    prog = getattr(link, "prog", None)
    if prog is not None:
        info.prog_id = prog.id
    fill = link_op(link, "fill_link_info")
    if fill is not None:
        view = LinkInfoView(info)
        try:
            out = fill(view)
        except TypeError:
            out = fill()
        if isinstance(out, dict):
            member = LINK_INFO_MEMBER.get(info.type, "")
            for key, value in out.items():
                view.set(key if "." in key else f"{member}.{key}", value)
    _finish(ctx, info, info_len, uinfo)
    return 0


# -- programs ------------------------------------------------------------------------------------


def set_info_rec_size(info) -> None:
    """Record sizes must be ours (or 0 with a 0 count). EINVAL."""
    if (info.nr_func_info or info.func_info_rec_size) and info.func_info_rec_size != SIZEOF_FUNC_INFO:
        raise BpfError(errno.EINVAL, "func_info_rec_size must be 8")
    if (info.nr_line_info or info.line_info_rec_size) and info.line_info_rec_size != SIZEOF_LINE_INFO:
        raise BpfError(errno.EINVAL, "line_info_rec_size must be 16")
    if ((info.nr_jited_line_info or info.jited_line_info_rec_size)
            and info.jited_line_info_rec_size != SIZEOF_JITED_LINE_INFO):
        raise BpfError(errno.EINVAL, "jited_line_info_rec_size must be 8")
    info.func_info_rec_size = SIZEOF_FUNC_INFO
    info.line_info_rec_size = SIZEOF_LINE_INFO
    info.jited_line_info_rec_size = SIZEOF_JITED_LINE_INFO


def bpf_map_from_imm(prog, imm: int):
    """(map, off, type) for an ld_imm64 immediate that is a map pointer or a value address."""
    for m in prog.aux.used_maps:
        if imm == m.addr:
            return m, 0, BpfPseudo.BPF_PSEUDO_MAP_FD
        meta = m.ops.map_direct_value_meta
        if meta is not None:
            try:
                return m, meta(m, imm), BpfPseudo.BPF_PSEUDO_MAP_VALUE
            except BpfError:
                pass
    return None


def bpf_insn_prepare_dump(prog, raw_ok: bool) -> bytes:
    """The xlated instructions as user space sees them (the verifier's Linux-shaped rewrite,
    ``prog.aux.xlated_insns``, when it made one; else what runs)."""
    insns = list(getattr(prog.aux, "xlated_insns", None) or prog.insnsi)
    out = []
    i = 0
    while i < len(insns):
        ins = insns[i]
        code = ins.code
        if code == (BPF_JMP | BPF_TAIL_CALL):
            ins = BpfInsn(BPF_JMP | BPF_CALL, ins.dst, ins.src, ins.off, BpfFuncId.BPF_FUNC_tail_call)
            code = ins.code
        if code in (BPF_JMP | BPF_CALL, BPF_JMP | BPF_CALL_ARGS):
            ins = BpfInsn(BPF_JMP | BPF_CALL, ins.dst, ins.src, ins.off, ins.imm if raw_ok else 0)
        elif code & 0x07 == 0x01 and code & 0xE0 == BPF_PROBE_MEM:
            ins = BpfInsn(0x01 | (code & 0x18) | BPF_MEM, ins.dst, ins.src, ins.off, ins.imm)
        elif code & 0x07 in (0x01, 0x02, 0x03) and code & 0xE0 == BPF_PROBE_MEM32:
            ins = BpfInsn((code & 0x07) | (code & 0x18) | BPF_MEM, ins.dst, ins.src, ins.off, ins.imm)
        elif code == BPF_LD_IMM64 and i + 1 < len(insns):
            nxt = insns[i + 1]
            imm = ((nxt.imm & 0xFFFFFFFF) << 32) | (ins.imm & 0xFFFFFFFF)
            found = bpf_map_from_imm(prog, imm)
            if found is not None:
                m, off, typ = found
                out.append(BpfInsn(ins.code, ins.dst, int(typ), ins.off, _s32(m.id)))
                out.append(BpfInsn(nxt.code, nxt.dst, nxt.src, nxt.off, _s32(off)))
                i += 2
                continue
        out.append(ins)
        i += 1
    return encode_insns(out)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _put_array(uaddr: int, items: list[bytes]) -> None:
    if items:
        uaccess.copy_to_user(uaddr, b"".join(items))


def bpf_prog_get_info_by_fd(ctx: SysCtx, prog: BpfProg) -> int:
    info, info_len, uinfo = _negotiate(ctx, "struct bpf_prog_info", copy_in=True)
    aux = prog.aux
    info.type = prog.type
    info.id = prog.id
    info.load_time = aux.load_time
    info.created_by_uid = aux.created_by_uid
    info.gpl_compatible = int(bool(prog.gpl_compatible))
    ffi.memmove(info.tag, bytes(prog.tag)[:8], 8)
    info.name = _name16(aux.name or prog.name)
    ulen = info.nr_map_ids
    info.nr_map_ids = len(aux.used_maps)
    ulen = min(info.nr_map_ids, ulen)
    if ulen:
        _put_array(info.map_ids, [m.id.to_bytes(4, "little") for m in aux.used_maps[:ulen]])
    set_info_rec_size(info)
    info.run_time_ns = prog.stats.nsecs
    info.run_cnt = prog.stats.cnt
    info.recursion_misses = prog.stats.misses
    info.verified_insns = aux.verified_insns
    if isinstance(aux.btf, BpfBtf):
        info.btf_id = aux.btf.id
    if not (ctx.cred.capable("CAP_BPF") or ctx.cred.capable("CAP_SYS_ADMIN")):
        info.jited_prog_len = 0
        info.xlated_prog_len = 0
        info.nr_jited_ksyms = 0
        info.nr_jited_func_lens = 0
        info.nr_func_info = 0
        info.nr_line_info = 0
        info.nr_jited_line_info = 0
        _finish(ctx, info, info_len, uinfo)
        return 0
    raw_ok = bpf_dump_raw_ok(ctx)
    ulen = info.xlated_prog_len
    info.xlated_prog_len = len(getattr(aux, "xlated_insns", None) or prog.insnsi) * 8
    if info.xlated_prog_len and ulen:
        dump = bpf_insn_prepare_dump(prog, raw_ok)
        uaccess.copy_to_user(info.xlated_prog_insns, dump[:min(info.xlated_prog_len, ulen)])
    info.jited_prog_len = 0                       # no JIT (module doc)
    func_cnt = len(aux.subprog_starts) if len(aux.subprog_starts) > 1 else 0
    nfuncs = func_cnt or 1
    ulen = info.nr_jited_ksyms
    info.nr_jited_ksyms = nfuncs
    if ulen:
        if raw_ok:
            _put_array(info.jited_ksyms, [bytes(8)] * min(ulen, nfuncs))
        else:
            info.jited_ksyms = 0
    ulen = info.nr_jited_func_lens
    info.nr_jited_func_lens = nfuncs
    if ulen:
        if raw_ok:
            _put_array(info.jited_func_lens, [bytes(4)] * min(ulen, nfuncs))
        else:
            info.jited_func_lens = 0
    info.attach_btf_id = aux.attach_btf_id
    attach = aux.dst_prog.aux.btf if aux.dst_prog is not None else aux.attach_btf  # get_target_btf
    if isinstance(attach, BpfBtf):
        info.attach_btf_obj_id = attach.id
    elif attach is not None and aux.attach_btf_id:
        from kernelsim.bpf_btf import vmlinux_btf_object
        info.attach_btf_obj_id = vmlinux_btf_object(ctx.kernel).id
    finfo = getattr(aux, "func_info_raw", b"") or b"".join(
        int(off).to_bytes(4, "little") + int(tid).to_bytes(4, "little") for off, tid in aux.func_info)
    ulen = info.nr_func_info
    info.nr_func_info = len(finfo) // SIZEOF_FUNC_INFO
    if info.nr_func_info and ulen:
        uaccess.copy_to_user(info.func_info, finfo[:SIZEOF_FUNC_INFO * min(ulen, info.nr_func_info)])
    linfo = getattr(aux, "line_info_raw", b"") or b"".join(
        b"".join(int(x).to_bytes(4, "little") for x in rec) for rec in aux.line_info)
    ulen = info.nr_line_info
    info.nr_line_info = len(linfo) // SIZEOF_LINE_INFO
    if info.nr_line_info and ulen:
        uaccess.copy_to_user(info.line_info, linfo[:SIZEOF_LINE_INFO * min(ulen, info.nr_line_info)])
    # Linux (JIT on) has one jited_linfo address per line_info record; like jited_ksyms above,
    # the count is the oracle's and the addresses are zero (kernelsim has no JIT image)
    ulen = info.nr_jited_line_info
    info.nr_jited_line_info = info.nr_line_info
    if info.nr_jited_line_info and ulen:
        if raw_ok:
            _put_array(info.jited_line_info, [bytes(8)] * min(ulen, info.nr_jited_line_info))
        else:
            info.jited_line_info = 0
    ulen = info.nr_prog_tags
    info.nr_prog_tags = nfuncs
    if ulen:
        tags = getattr(aux, "func_tags", None) or [prog.tag] * nfuncs
        _put_array(info.prog_tags, [bytes(t) for t in tags[:min(ulen, nfuncs)]])
    _finish(ctx, info, info_len, uinfo)
    return 0
