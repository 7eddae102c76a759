"""``format c``: BTF -> a vmlinux.h that clang compiles BPF programs against (the idea of
tools/lib/bpf/btf_dump.c, behind ``bpftool btf dump file FILE format c``; our own code).

Order: types are visited in id order; before a named struct, union, enum or typedef is written,
everything it embeds is written first (a *strong* dependency needs the full definition), while a
type reached through a pointer or a function prototype only needs a forward declaration
(``struct foo;``, a *weak* dependency). Anonymous structs and unions are written inline where used;
anonymous enums referenced by some type are inline too, the others at top level (their constants).
Names that clash get libbpf's ``___N`` suffix (struct/union/enum tags in one namespace, typedefs
and enumerators in the other).

Layout is kept exact: a struct whose members sit at offsets C would not choose is either written
``__attribute__((packed))`` (misaligned members, or a size not a multiple of its alignment), or
given anonymous padding bitfields (``long: 64;``) before a member or at the end, as btf_dump does.
Enums of 1, 2 or 8 bytes get ``__attribute__((mode(...)))``. Records are wrapped in
``#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)``.
Type tags, DECL_TAGs, FUNCs, VARs and DATASECs are not written (bpftool's default output has no
functions either). Nesting deeper than MAX_DEPTH raises BtfError(E2BIG) instead of recursing on.
"""

import errno

from .errors import BtfError
from .uapi import BtfKind

K = BtfKind
MAX_DEPTH = 200
_QUALS = {K.BTF_KIND_CONST: "const", K.BTF_KIND_VOLATILE: "volatile", K.BTF_KIND_RESTRICT: "restrict"}
_COMPOSITE = (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION)
_ENUMS = (K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64)

HEADER = """#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif

#ifndef __weak
#define __weak __attribute__((weak))
#endif

#ifndef __bpf_fastcall
#if __has_attribute(bpf_fastcall)
#define __bpf_fastcall __attribute__((bpf_fastcall))
#else
#define __bpf_fastcall
#endif
#endif

"""
FOOTER = """
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""

NOT_DONE, IN_PROGRESS, DONE = 0, 1, 2
_BUILTIN_TYPEDEFS = frozenset(("__builtin_va_list",))   # clang's own: never redefined (as libbpf)


class BtfDumpC:
    """One C dump of one BTF (struct btf_dump in libbpf)."""

    def __init__(self, btf):
        self.btf = btf
        self.out: list[str] = []
        self.state: dict[int, int] = {}
        self.declared: set[int] = set()
        self.names: dict[int, str] = {}
        self.idents: dict[str, int] = {}      # ordinary identifiers: typedefs, enumerators
        self.depth = 0
        self._align: dict[int, int] = {}
        self.anon_done: set[int] = set()
        self.writing: set[int] = set()     # anonymous bodies being written (a cycle guard)
        self._size: dict[int, int] = {}
        self._assign_names()
        self.inline_enums = self._referenced_anon_enums()

    # -- names ------------------------------------------------------------------------------------

    def _assign_names(self) -> None:
        btf = self.btf
        tags: dict[str, int] = {}
        first_tag: dict[str, int] = {}
        for tid in range(1, btf.nr_types):
            k = btf.kind_of(tid)
            if k not in _COMPOSITE and k not in _ENUMS and k not in (K.BTF_KIND_TYPEDEF, K.BTF_KIND_FWD):
                continue
            name = btf.name_of(tid)
            if not name:
                continue
            if k == K.BTF_KIND_TYPEDEF:
                self.names[tid] = self._unique(self.idents, name)
            elif k == K.BTF_KIND_FWD:
                self.names[tid] = name     # a forward declaration names the first such tag
            else:
                if name in first_tag:
                    n = tags[name] = tags[name] + 1
                    self.names[tid] = f"{name}___{n}"
                else:
                    first_tag[name] = tid
                    tags[name] = 1
                    self.names[tid] = name

    @staticmethod
    def _unique(space: dict[str, int], name: str) -> str:
        n = space.get(name, 0) + 1
        space[name] = n
        return name if n == 1 else f"{name}___{n}"

    def _referenced_anon_enums(self) -> set[int]:
        btf = self.btf
        found = set()
        for tid in range(1, btf.nr_types):
            k = btf.kind_of(tid)
            if k in _COMPOSITE:
                refs = [m.type for m in btf.type_by_id(tid).members]
            elif k in (K.BTF_KIND_TYPEDEF, K.BTF_KIND_PTR, K.BTF_KIND_CONST, K.BTF_KIND_VOLATILE,
                       K.BTF_KIND_RESTRICT, K.BTF_KIND_TYPE_TAG):
                refs = [btf.type_by_id(tid).type]
            elif k == K.BTF_KIND_ARRAY:
                refs = [btf.type_by_id(tid).elem_type]
            elif k == K.BTF_KIND_FUNC_PROTO:
                t = btf.type_by_id(tid)
                refs = [t.type] + [p.type for p in t.params]
            else:
                continue
            for r in refs:
                if r and r < btf.nr_types and btf.kind_of(r) in _ENUMS and not btf.name_of(r):
                    found.add(r)
        return found

    # -- ordering -----------------------------------------------------------------------------

    def _enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BtfError(errno.E2BIG, f"type nesting deeper than {MAX_DEPTH}")

    def visit(self, tid: int, strong: bool) -> None:
        """Write what a use of ``tid`` needs first (full definitions if strong, else declarations)."""
        btf = self.btf
        self._enter()
        try:
            for _ in range(MAX_DEPTH):
                if not tid or tid >= btf.nr_types:
                    return
                t = btf.type_by_id(tid)
                k = t.kind
                if k == K.BTF_KIND_PTR:
                    strong = False
                    tid = t.type
                elif k == K.BTF_KIND_ARRAY:
                    strong = True          # an array's element type must be complete
                    tid = t.elem_type
                elif k in _QUALS or k == K.BTF_KIND_TYPE_TAG:
                    tid = t.type
                elif k == K.BTF_KIND_TYPEDEF:
                    if self.names.get(tid) in _BUILTIN_TYPEDEFS:
                        return
                    self.define(tid)
                    if strong:
                        self.visit(t.type, True)
                    return
                elif k in _COMPOSITE:
                    if t.name:
                        self.define(tid) if strong else self.declare(tid)
                    elif tid not in self.anon_done:
                        self.anon_done.add(tid)     # its dependencies are written once
                        for m in t.members:
                            self.visit(m.type, True)
                    return
                elif k in _ENUMS:
                    if t.name:
                        self.define(tid)
                    return
                elif k == K.BTF_KIND_FWD:
                    self.declare(tid)
                    return
                elif k == K.BTF_KIND_FUNC_PROTO:
                    self.visit(t.type, False)
                    for p in t.params:
                        self.visit(p.type, False)
                    return
                else:
                    return
            raise BtfError(errno.ELOOP, f"[{tid}] type chain too long")
        finally:
            self.depth -= 1

    def declare(self, tid: int) -> None:
        if self.state.get(tid) == DONE or tid in self.declared:
            return
        self.declared.add(tid)
        t = self.btf.type_by_id(tid)
        kw = "union" if (t.kind == K.BTF_KIND_UNION or (t.kind == K.BTF_KIND_FWD and t.kflag)) else "struct"
        self.out.append(f"{kw} {self.names.get(tid, t.name)};\n\n")

    def define(self, tid: int) -> None:
        if self.state.get(tid, NOT_DONE) != NOT_DONE:
            return
        self.state[tid] = IN_PROGRESS
        self._enter()
        try:
            btf = self.btf
            t = btf.type_by_id(tid)
            k = t.kind
            if k == K.BTF_KIND_TYPEDEF:
                self.visit(t.type, False)
                self.out.append(f"typedef {self.decl(t.type, self.names[tid], 0)};\n\n")
            elif k in _COMPOSITE:
                for m in t.members:
                    self.visit(m.type, True)
                self.out.append(self.composite_body(t, 0) + ";\n\n")
            elif k in _ENUMS:
                self.out.append(self.enum_body(t, 0) + ";\n\n")
            elif k == K.BTF_KIND_FWD:
                self.declare(tid)
        finally:
            self.depth -= 1
        self.state[tid] = DONE

    # -- declarations ---------------------------------------------------------------------------

    def base_name(self, tid: int, lvl: int) -> str:
        btf = self.btf
        if not tid:
            return "void"
        t = btf.type_by_id(tid)
        k = t.kind
        if k in (K.BTF_KIND_INT, K.BTF_KIND_FLOAT):
            return t.name
        if k in _COMPOSITE:
            if t.name:
                return f"{'union' if k == K.BTF_KIND_UNION else 'struct'} {self.names[tid]}"
            return self.composite_body(t, lvl)
        if k in _ENUMS:
            if t.name:
                return f"enum {self.names[tid]}"
            return self.enum_body(t, lvl)
        if k == K.BTF_KIND_FWD:
            return f"{'union' if t.kflag else 'struct'} {t.name}"
        if k == K.BTF_KIND_TYPEDEF:
            return self.names[tid]
        return "void"

    def decl(self, tid: int, name: str, lvl: int) -> str:
        """A C declaration of ``name`` with type ``tid`` (declarator built inside out)."""
        btf = self.btf
        s = name
        quals: list[str] = []
        for _ in range(MAX_DEPTH):
            t = btf.type_by_id(tid) if tid and tid < btf.nr_types else None
            k = t.kind if t is not None else 0
            if k in _QUALS:
                quals.append(_QUALS[k])
                tid = t.type
            elif k == K.BTF_KIND_TYPE_TAG:
                tid = t.type
            elif k == K.BTF_KIND_PTR:
                q = " ".join(dict.fromkeys(quals))
                s = "*" + (f" {q} " if q else "") + s if not q else "* " + q + (" " + s if s else "")
                quals = []
                tid = t.type
            elif k == K.BTF_KIND_ARRAY:
                if s.startswith("*"):
                    s = f"({s})"
                s = f"{s}[{t.nelems}]"
                tid = t.elem_type
            elif k == K.BTF_KIND_FUNC_PROTO:
                if s.startswith("*"):
                    s = f"({s})"
                s = f"{s}({self.params(t, lvl)})"
                tid = t.type
            else:
                q = " ".join(dict.fromkeys(quals))
                base = self.base_name(tid, lvl)
                return (f"{q} " if q else "") + base + (f" {s}" if s else "")
        raise BtfError(errno.ELOOP, f"[{tid}] declarator chain too long")

    def params(self, t, lvl: int) -> str:
        if not t.params:
            return "void"
        parts = []
        for p in t.params:
            parts.append("..." if not p.type else self.decl(p.type, "", lvl))
        return ", ".join(parts)

    # -- bodies ---------------------------------------------------------------------------------

    def align_of(self, tid: int) -> int:
        a = self._align.get(tid)
        if a is None:
            try:
                a = self.btf.alignment(tid)
            except BtfError:
                a = 1
            self._align[tid] = a
        return a

    def size_of(self, tid: int) -> int:
        n = self._size.get(tid)
        if n is None:
            try:
                n = self.btf.resolve_size(tid)
            except BtfError:
                n = 0
            self._size[tid] = n
        return n

    def _natural_align(self, t) -> int:
        align = 1
        for m in t.members:
            align = max(align, self.align_of(m.type))
        return align

    def is_packed(self, t) -> bool:
        """btf_is_struct_packed: a size not a multiple of the natural alignment, or a member not at
        a multiple of its own alignment."""
        align = self._natural_align(t)
        if t.size % align:
            return True
        for m in self.btf.members(t.id):
            if m.bitfield_size:
                continue
            if m.bit_offset % (8 * self.align_of(m.type)):
                return True
        return False

    @staticmethod
    def _pad(cur: int, off: int, ind: str) -> list[str]:
        """Anonymous bitfields that move from bit ``cur`` to bit ``off``."""
        out = []
        while cur < off:
            gap = off - cur
            for name, bits in (("long", 64), ("int", 32), ("short", 16), ("char", 8)):
                if cur % bits == 0 and gap >= bits:
                    out.append(f"{ind}{name}: {bits};\n")
                    cur += bits
                    break
            else:
                n = min(gap, 8 - cur % 8)
                out.append(f"{ind}char: {n};\n")
                cur += n
        return out

    def composite_body(self, t, lvl: int) -> str:
        if t.id in self.writing:
            raise BtfError(errno.ELOOP, f"[{t.id}] {t.kind.name[9:]} contains itself")
        self.writing.add(t.id)
        self._enter()
        try:
            return self._composite_body(t, lvl)
        finally:
            self.depth -= 1
            self.writing.discard(t.id)

    def _composite_body(self, t, lvl: int) -> str:
        btf = self.btf
        is_union = t.kind == K.BTF_KIND_UNION
        kw = "union" if is_union else "struct"
        head = f"{kw} {self.names[t.id]}" if t.name else kw
        if not t.members and t.size == 0:
            return head + " {}"
        packed = self.is_packed(t)
        ind = "\t" * (lvl + 1)
        lines = [head + " {\n"]
        cur = 0
        for m in btf.members(t.id):
            msize = self.size_of(m.type)
            malign = 1 if packed else self.align_of(m.type)
            off = m.bit_offset
            if not is_union:
                if m.bitfield_size:
                    natural = cur
                else:
                    natural = -(-cur // (malign * 8)) * (malign * 8)
                if off > natural:
                    lines += self._pad(cur, off, ind)
            name = m.name
            decl = self.decl(m.type, name, lvl + 1)
            if m.bitfield_size:
                decl += f": {m.bitfield_size}"
                end = off + m.bitfield_size
            else:
                end = off + msize * 8
            lines.append(f"{ind}{decl};\n")
            cur = max(cur, end) if not is_union else max(cur, end)
        align = 1 if packed else self._natural_align(t)
        natural_end = -(-cur // (align * 8)) * (align * 8)
        if not is_union and t.size * 8 > natural_end:
            lines += self._pad(cur, t.size * 8, ind)
        elif is_union and t.size * 8 > natural_end:
            lines.append(f"{ind}struct {{ char __ksim_pad[{t.size}]; }};\n")
        lines.append("\t" * lvl + "}")
        if packed:
            lines.append(" __attribute__((packed))")
        return "".join(lines)

    def enum_body(self, t, lvl: int) -> str:
        head = f"enum {self.names[t.id]}" if t.name else "enum"
        if not t.values:
            return head + " {}" if not t.name else head
        ind = "\t" * (lvl + 1)
        is64 = t.kind == K.BTF_KIND_ENUM64
        lines = [head + " {\n"]
        for v in t.values:
            name = self._unique(self.idents, v.name)
            if is64:
                val = f"{v.val}LL" if t.kflag else f"{v.val & 0xFFFFFFFFFFFFFFFF}ULL"
            else:
                val = f"{v.val}" if t.kflag or v.val < 0x80000000 else f"{v.val}U"
            lines.append(f"{ind}{name} = {val},\n")
        lines.append("\t" * lvl + "}")
        mode = {1: "byte", 2: "word", 8: "DI"}.get(t.size)
        if mode:
            lines.append(f" __attribute__((mode({mode})))")
        return "".join(lines)

    # -- driver ---------------------------------------------------------------------------------

    def dump(self) -> str:
        btf = self.btf
        self.out.append(HEADER)
        for tid in range(1, btf.nr_types):
            k = btf.kind_of(tid)
            if k in _COMPOSITE or k == K.BTF_KIND_TYPEDEF:
                if btf.name_of(tid) and btf.name_of(tid) not in _BUILTIN_TYPEDEFS:
                    self.define(tid)
            elif k in _ENUMS:
                if btf.name_of(tid):
                    self.define(tid)
                elif tid not in self.inline_enums:
                    self.out.append(self.enum_body(btf.type_by_id(tid), 0) + ";\n\n")
            elif k == K.BTF_KIND_FWD:
                self.declare(tid)
        self.out.append(FOOTER)
        return "".join(self.out)


# The user-visible register structs libbpf's bpf_tracing.h casts a kprobe's ctx to on the
# architectures whose kernel BTF has them but the x86-64 BTF kernelsim runs every machine on does
# not (their uapi asm/ptrace.h layouts). Appended after the preserve_access_index block: they are
# read at fixed offsets, never relocated against the kernel BTF.
ARCH_REGS_C = {
    "arm64": ("user_pt_regs",
              "struct user_pt_regs {\n\t__u64 regs[31];\n\t__u64 sp;\n\t__u64 pc;\n"
              "\t__u64 pstate;\n};\n"),
    "riscv64": ("user_regs_struct",
                "struct user_regs_struct {\n\tunsigned long pc, ra, sp, gp, tp, t0, t1, t2, "
                "s0, s1, a0, a1, a2, a3, a4, a5, a6, a7;\n\tunsigned long s2, s3, s4, s5, s6, "
                "s7, s8, s9, s10, s11, t3, t4, t5, t6;\n};\n"),
    "s390x": ("user_pt_regs",
              "typedef struct {\n\tunsigned long mask;\n\tunsigned long addr;\n} psw_t;\n\n"
              "typedef struct {\n\tunsigned long args[1];\n\tpsw_t psw;\n"
              "\tunsigned long gprs[16];\n} user_pt_regs;\n"),
}


def btf_dump_c(btf, arch: str | None = None) -> str:
    """The vmlinux.h text for ``btf`` (base types included for split BTF). ``arch`` (arm64,
    riscv64, s390x) adds that architecture's uapi register struct when ``btf`` lacks it."""
    text = BtfDumpC(btf).dump()
    extra = ARCH_REGS_C.get(arch or "")
    if extra is None or btf.find_all_by_name_kind(extra[0], 4) or btf.find_all_by_name_kind(extra[0], 8):
        return text
    end = "#endif /* __VMLINUX_H__ */\n"
    cut = text.rindex(end)
    return (text[:cut] + f"/* {arch}: uapi asm/ptrace.h (not in this BTF) */\n" + extra[1] + "\n"
            + text[cut:])

