"""btf_from_c: C declarations -> BTF (structs, unions, enums, typedefs, function prototypes), for
users who declare kernel functions and types of their own in scenarios and tests.

Parsed with pycparser (shipped with cffi); laid out as GCC lays out C on x86-64 (SysV: natural
alignment, a bitfield never straddles a storage unit of its type, ``__attribute__((packed))`` and
``__attribute__((aligned(N)))`` on a struct or union honoured). Over a ``base`` (the kernel's BTF)
the result is split BTF: ``struct sk_buff *`` and typedef names such as ``__u32`` or ``size_t``
refer to the base's types, and C base types reuse the base's INTs. A ``struct x`` that neither the
source nor the base defines becomes a FWD. Function declarations become FUNC (linkage global) +
FUNC_PROTO; ``...`` becomes the vararg marker.

Not supported: the preprocessor (``#include``/``#define``; comments are removed), member-level
attributes (ignored), ``__int128``, K&R declarations, initialisers. Errors raise
BtfError(EINVAL, "<source>:LINE: ...").
"""

import errno
import re
import struct

from .btf import Btf
from .builder import BtfBuilder
from .encode import btf_raw_header
from .errors import BtfError
from .uapi import BTF_INT_BOOL, BTF_INT_SIGNED, BtfKind, btf_info_enc, btf_member_offset_enc

K = BtfKind

# canonical (GCC/pahole) names of the C base types: sorted specifier words -> (name, size, encoding)
_BASE = {}
for words, name, size, enc in (
        ("char", "char", 1, 0), ("signed char", "signed char", 1, BTF_INT_SIGNED),
        ("unsigned char", "unsigned char", 1, 0),
        ("short", "short int", 2, BTF_INT_SIGNED), ("short int", "short int", 2, BTF_INT_SIGNED),
        ("signed short", "short int", 2, BTF_INT_SIGNED), ("signed short int", "short int", 2, BTF_INT_SIGNED),
        ("unsigned short", "short unsigned int", 2, 0), ("unsigned short int", "short unsigned int", 2, 0),
        ("int", "int", 4, BTF_INT_SIGNED), ("signed", "int", 4, BTF_INT_SIGNED),
        ("signed int", "int", 4, BTF_INT_SIGNED), ("unsigned", "unsigned int", 4, 0),
        ("unsigned int", "unsigned int", 4, 0),
        ("long", "long int", 8, BTF_INT_SIGNED), ("long int", "long int", 8, BTF_INT_SIGNED),
        ("signed long", "long int", 8, BTF_INT_SIGNED), ("signed long int", "long int", 8, BTF_INT_SIGNED),
        ("unsigned long", "long unsigned int", 8, 0), ("unsigned long int", "long unsigned int", 8, 0),
        ("long long", "long long int", 8, BTF_INT_SIGNED), ("long long int", "long long int", 8, BTF_INT_SIGNED),
        ("signed long long", "long long int", 8, BTF_INT_SIGNED),
        ("signed long long int", "long long int", 8, BTF_INT_SIGNED),
        ("unsigned long long", "long long unsigned int", 8, 0),
        ("unsigned long long int", "long long unsigned int", 8, 0),
        ("_Bool", "_Bool", 1, BTF_INT_BOOL)):
    _BASE[tuple(sorted(words.split()))] = (name, size, enc)
_FLOATS = {("float",): ("float", 4), ("double",): ("double", 8), ("double", "long"): ("long double", 16)}

_ATTR = re.compile(r"__attribute__\s*\(\(")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_PROLOGUE = "<kernelsim-typedefs>"
# an identifier in type position: followed by a declarator (an identifier, '*' or ')')
_TYPE_USE = re.compile(r"\b(struct\s+|union\s+|enum\s+)?([A-Za-z_]\w*)(?=\s*(?:\*|\s)\s*[\w*(])")
_C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while _Bool _Complex _Alignas _Alignof _Atomic _Noreturn
_Static_assert _Thread_local""".split())


def _strip_comments(src: str) -> str:
    """Remove /* */ and // comments, keeping newlines (so line numbers stay)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src[i] in "\"'":
            q = src[i]
            j = i + 1
            while j < n and src[j] != q:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def _balanced_end(src: str, i: int) -> int:
    """Index just past the ')' closing the '(' at ``i``."""
    depth = 0
    for j in range(i, len(src)):
        if src[j] == "(":
            depth += 1
        elif src[j] == ")":
            depth -= 1
            if not depth:
                return j + 1
    return len(src)


def _rewrite_attributes(src: str) -> str:
    """Turn struct-level packed/aligned attributes into marker members (read back by the layout
    code) and drop every other attribute; newlines are kept."""
    while True:
        m = _ATTR.search(src)
        if not m:
            return src
        end = _balanced_end(src, m.start() + src[m.start():].index("("))
        body = src[m.end():end - 2]
        markers = []
        if re.search(r"\b__packed__\b|\bpacked\b", body):
            markers.append("int __ksim_packed__;")
        am = re.search(r"\baligned\s*\(\s*(\d+)\s*\)", body)
        if am:
            markers.append(f"int __ksim_aligned_{am.group(1)}__;")
        keep = "\n" * src.count("\n", m.start(), end)
        before = src[:m.start()].rstrip()
        if markers and before.endswith("}"):
            depth, k = 0, len(before) - 1
            while k >= 0:
                if before[k] == "}":
                    depth += 1
                elif before[k] == "{":
                    depth -= 1
                    if not depth:
                        break
                k -= 1
            src = before[:k + 1] + " ".join(markers) + before[k + 1:] + keep + src[end:]
        elif markers and re.search(r"\b(struct|union)\s*$", before):
            brace = src.find("{", end)
            if brace >= 0:
                src = src[:m.start()] + keep + src[end:brace + 1] + " ".join(markers) + src[brace + 1:]
            else:
                src = src[:m.start()] + keep + src[end:]
        else:
            src = src[:m.start()] + keep + src[end:]


def _preprocess(src: str) -> str:
    src = _strip_comments(src)
    for line in src.splitlines():
        if line.lstrip().startswith("#"):
            raise BtfError(errno.EINVAL, "btf_from_c: preprocessor directives are not supported "
                                         f"({line.strip()!r})")
    src = _rewrite_attributes(src)
    src = re.sub(r"\b__extension__\b", " ", src)
    src = re.sub(r"\b__(restrict|inline|const|volatile|signed)__\b", r"\1", src)
    src = re.sub(r"\b__restrict\b", "restrict", src)
    src = re.sub(r"\b__inline\b", "inline", src)
    src = re.sub(r"\b__asm__\s*\([^)]*\)", " ", src)
    return src


class _Converter:
    """Walks the pycparser AST and emits BTF into a BtfBuilder (our helper)."""

    def __init__(self, builder: BtfBuilder, base: Btf | None, filename: str, typedef_stubs):
        self.b = builder
        self.base = base
        self.filename = filename
        self.typedef_stubs = typedef_stubs    # base typedef names the parser was told about
        self.typedefs: dict[str, int] = {}
        self.tags: dict[tuple[str, str], int] = {}     # ('struct'|'union'|'enum', name) -> id
        self.defined: set[int] = set()
        self.enum_consts: dict[str, int] = {}
        self.layout: dict[int, tuple[int, int]] = {}   # own type id -> (size, align)
        self.cache: dict[tuple, int] = {}

    def error(self, node, msg: str):
        line = getattr(getattr(node, "coord", None), "line", None)
        where = f"{self.filename}:{line}" if line else self.filename
        raise BtfError(errno.EINVAL, f"{where}: {msg}")

    # -- sizes --------------------------------------------------------------------------------

    def size_align(self, tid: int, node) -> tuple[int, int]:
        if tid in self.layout:
            return self.layout[tid]
        btf_src = self.b if tid >= self.b.start_id else None
        if btf_src is None:
            if self.base is None or tid == 0:
                self.error(node, "void has no size")
            try:
                return self.base.resolve_size(tid), self.base.alignment(tid)
            except BtfError:
                self.error(node, f"incomplete type {self._tname(tid)}")
        self.error(node, f"incomplete type {self._tname(tid)}")

    def _tname(self, tid):
        if self.base is not None and tid < self.b.start_id:
            t = self.base.type_by_id(tid)
            return f"{t.kind.name[9:].lower()} {t.name}".strip()
        for (kind, name), t in self.tags.items():
            if t == tid:
                return f"{kind} {name}"
        return f"type [{tid}]"

    def _kind(self, tid: int) -> int:
        if tid >= self.b.start_id:
            return self.b._kinds[tid - self.b.start_id]
        return self.base.kind_of(tid) if self.base is not None else 0

    # -- types -----------------------------------------------------------------------------------

    def int_type(self, name: str, size: int, enc: int) -> int:
        key = ("int", name)
        if key in self.cache:
            return self.cache[key]
        tid = None
        if self.base is not None:
            for cand in self.base.find_all_by_name_kind(name, K.BTF_KIND_INT):
                if self.base.type_by_id(cand).size == size:
                    tid = cand
                    break
        if tid is None:
            tid = self.b.add_int(name, size, enc)
            self.layout[tid] = (size, size)
        self.cache[key] = tid
        return tid

    def float_type(self, name: str, size: int) -> int:
        key = ("float", name)
        if key not in self.cache:
            tid = None
            if self.base is not None:
                ids = self.base.find_all_by_name_kind(name, K.BTF_KIND_FLOAT)
                tid = ids[0] if ids else None
            if tid is None:
                tid = self.b.add_float(name, size)
                self.layout[tid] = (size, min(size, 16))
            self.cache[key] = tid
        return self.cache[key]

    def derived(self, kind: str, ref: int) -> int:
        key = (kind, ref)
        if key not in self.cache:
            tid = {"ptr": self.b.add_ptr, "const": self.b.add_const,
                   "volatile": self.b.add_volatile, "restrict": self.b.add_restrict}[kind](ref)
            if kind == "ptr":
                self.layout[tid] = (8, 8)
            elif ref in self.layout:
                self.layout[tid] = self.layout[ref]
            elif self.base is not None and ref and ref < self.b.start_id:
                try:
                    self.layout[tid] = (self.base.resolve_size(ref), self.base.alignment(ref))
                except BtfError:
                    pass
            self.cache[key] = tid
        return self.cache[key]

    def qualify(self, tid: int, quals) -> int:
        for q in ("volatile", "const", "restrict"):
            if q in quals:
                tid = self.derived(q, tid)
        return tid

    def identifier_type(self, node) -> int:
        names = [n for n in node.names]
        key = tuple(sorted(names))
        if names == ["void"]:
            return 0
        if key in _BASE:
            return self.int_type(*_BASE[key])
        if key in _FLOATS:
            return self.float_type(*_FLOATS[key])
        if len(names) == 1:
            name = names[0]
            if name in self.typedefs:
                return self.typedefs[name]
            if self.typedef_stubs.get(name, -1) >= 0:
                return self.typedef_stubs[name]
        self.error(node, f"unknown type name {' '.join(names)!r}")

    def tag_type(self, node, kind: str) -> int:
        """A struct/union/enum reference or definition."""
        name = node.name
        body = node.decls if kind != "enum" else node.values
        if body is None:
            if name is None:
                self.error(node, f"anonymous {kind} without a body")
            if (kind, name) in self.tags:
                return self.tags[(kind, name)]
            if self.base is not None:
                bkind = {"struct": K.BTF_KIND_STRUCT, "union": K.BTF_KIND_UNION,
                         "enum": K.BTF_KIND_ENUM}[kind]
                ids = self.base.find_all_by_name_kind(name, bkind)
                if not ids and kind == "enum":
                    ids = self.base.find_all_by_name_kind(name, K.BTF_KIND_ENUM64)
                if ids:
                    return ids[0]
            tid = self.b.add_fwd(name, kind)
            if kind == "enum":
                self.layout[tid] = (4, 4)
            self.tags[(kind, name)] = tid
            return tid
        if kind == "enum":
            return self.enum_def(node)
        return self.composite_def(node, kind)

    def _reserve(self, kind: str, name) -> int:
        """An id for a struct/union defined in the source (a FWD placeholder turned into the
        definition, so earlier pointers to it stay valid)."""
        if name is not None and (kind, name) in self.tags:
            tid = self.tags[(kind, name)]
            if tid in self.defined:
                return -1
            if tid >= self.b.start_id and self._kind(tid) == K.BTF_KIND_FWD:
                return tid
        tid = self.b.add_raw(0, btf_info_enc(K.BTF_KIND_FWD, kind == "union", 0), 0)
        if name is not None:
            self.tags[(kind, name)] = tid
        return tid

    def composite_def(self, node, kind: str) -> int:
        tid = self._reserve(kind, node.name)
        if tid < 0:
            self.error(node, f"redefinition of {kind} {node.name}")
        packed, forced_align = False, 0
        members = []   # (name, type id, bit offset, bitfield size)
        offset = 0     # in bits
        size_bits = 0
        max_align = 1
        for decl in node.decls or ():
            if decl.name == "__ksim_packed__":
                packed = True
                continue
            am = re.fullmatch(r"__ksim_aligned_(\d+)__", decl.name or "")
            if am:
                forced_align = int(am.group(1))
                continue
        for decl in node.decls or ():
            if decl.name and decl.name.startswith("__ksim_"):
                continue
            mtid = self.decl_type(decl.type, decl)
            msize, malign = self.size_align(mtid, decl)
            if packed:
                malign = 1
            if decl.align:
                malign = max(malign, self.const_expr(decl.align[0].alignment, decl))
            width = None
            if decl.bitsize is not None:
                width = self.const_expr(decl.bitsize, decl)
                if width < 0 or width > msize * 8:
                    self.error(decl, f"invalid bitfield width {width} for {decl.name}")
            if kind == "union":
                pos = 0
            elif width is not None:
                unit = msize * 8
                if width == 0:
                    offset = -(-offset // unit) * unit
                    continue
                if not packed and offset // unit != (offset + width - 1) // unit:
                    offset = -(-offset // unit) * unit
                pos = offset
                offset += width
            else:
                pos = -(-offset // (malign * 8)) * (malign * 8)
                offset = pos + msize * 8
            if width == 0:
                continue
            max_align = max(max_align, malign)
            members.append((decl.name, mtid, pos, width or 0))
            size_bits = max(size_bits, pos + (width if width is not None else msize * 8))
        if forced_align:
            max_align = max(max_align, forced_align)
        size = -(-size_bits // 8)
        size = -(-size // max_align) * max_align
        kflag = any(w for _, _, _, w in members)
        extra = []
        for name, mtid, pos, width in members:
            extra += (self.b._name(name), mtid, btf_member_offset_enc(width, pos) if kflag else pos)
        btf_kind = K.BTF_KIND_UNION if kind == "union" else K.BTF_KIND_STRUCT
        self.b.set_raw(tid, self.b._name(node.name), btf_info_enc(btf_kind, kflag, len(members)),
                       size, extra)
        self.layout[tid] = (size, max_align)
        self.defined.add(tid)
        return tid

    def const_expr(self, node, where) -> int:
        from pycparser import c_ast
        if isinstance(node, c_ast.Constant):
            text = node.value.rstrip("uUlL")
            try:
                if node.type == "char":
                    return ord(node.value.strip("'")[-1])
                return int(text, 0) if not re.fullmatch(r"0\d+", text) else int(text, 8)
            except ValueError:
                self.error(where, f"unsupported constant {node.value}")
        if isinstance(node, c_ast.ID):
            if node.name in self.enum_consts:
                return self.enum_consts[node.name]
            self.error(where, f"unknown constant {node.name}")
        if isinstance(node, c_ast.UnaryOp):
            v = self.const_expr(node.expr, where)
            ops = {"-": lambda x: -x, "+": lambda x: x, "~": lambda x: ~x, "!": lambda x: int(not x)}
            if node.op in ops:
                return ops[node.op](v)
        if isinstance(node, c_ast.BinaryOp):
            a, b = self.const_expr(node.left, where), self.const_expr(node.right, where)
            ops = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                   "/": lambda: int(a / b) if b else None, "%": lambda: a % b if b else None,
                   "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
                   "|": lambda: a | b, "^": lambda: a ^ b}
            if node.op in ops:
                v = ops[node.op]()
                if v is not None:
                    return v
        if isinstance(node, c_ast.Cast):
            return self.const_expr(node.expr, where)
        self.error(where, "unsupported constant expression")

    def enum_def(self, node) -> int:
        values = []
        nxt = 0
        for e in node.values.enumerators:
            v = self.const_expr(e.value, e) if e.value is not None else nxt
            self.enum_consts[e.name] = v
            values.append((e.name, v))
            nxt = v + 1
        wide = any(v < -(1 << 31) or v >= (1 << 32) for _, v in values)
        signed = any(v < 0 for _, v in values)
        if wide:
            tid = self.b.add_enum64(node.name, 8, signed)
        else:
            tid = self.b.add_enum(node.name, 4, signed)
        for name, v in values:
            self.b.add_enum_value(name, v)
        if node.name is not None:
            self.tags[("enum", node.name)] = tid
        self.layout[tid] = (8, 8) if wide else (4, 4)
        return tid

    def decl_type(self, node, where) -> int:
        """The BTF id for a declarator chain (TypeDecl, PtrDecl, ArrayDecl, FuncDecl)."""
        from pycparser import c_ast
        if isinstance(node, c_ast.TypeDecl):
            inner = node.type
            if isinstance(inner, c_ast.IdentifierType):
                tid = self.identifier_type(inner)
            elif isinstance(inner, c_ast.Struct):
                tid = self.tag_type(inner, "struct")
            elif isinstance(inner, c_ast.Union):
                tid = self.tag_type(inner, "union")
            elif isinstance(inner, c_ast.Enum):
                tid = self.tag_type(inner, "enum")
            else:
                self.error(where, f"unsupported type {type(inner).__name__}")
            return self.qualify(tid, node.quals)
        if isinstance(node, c_ast.PtrDecl):
            return self.qualify(self.derived("ptr", self.decl_type(node.type, where)), node.quals)
        if isinstance(node, c_ast.ArrayDecl):
            elem = self.decl_type(node.type, where)
            n = self.const_expr(node.dim, where) if node.dim is not None else 0
            if n < 0:
                self.error(where, f"negative array size {n}")
            key = ("array", elem, n)
            if key not in self.cache:
                index = self.int_type("int", 4, BTF_INT_SIGNED)
                tid = self.b.add_array(elem, index, n)
                esize, ealign = self.size_align(elem, where)
                self.layout[tid] = (esize * n, ealign)
                self.cache[key] = tid
            return self.cache[key]
        if isinstance(node, c_ast.FuncDecl):
            return self.func_proto(node, where)
        if isinstance(node, (c_ast.Struct, c_ast.Union, c_ast.Enum)):    # an anonymous member
            return self.tag_type(node, type(node).__name__.lower())
        self.error(where, f"unsupported declarator {type(node).__name__}")

    def func_proto(self, node, where, name_params: bool = False) -> int:
        """A FUNC_PROTO; for a FUNC (``name_params``) unnamed parameters are named argN, as the
        kernel refuses a FUNC with an unnamed parameter."""
        from pycparser import c_ast
        ret = self.decl_type(node.type, where)
        params = []
        for p in (node.args.params if node.args is not None else ()):
            if isinstance(p, c_ast.EllipsisParam):
                params.append((None, 0))
                continue
            if isinstance(p, c_ast.ID):
                self.error(p, "K&R parameter lists are not supported")
            ptid = self.decl_type(p.type, p)
            if isinstance(p.type, c_ast.ArrayDecl):      # arrays decay to pointers
                ptid = self.derived("ptr", self.decl_type(p.type.type, p))
            if ptid == 0 and p.name is None and len(node.args.params) == 1:
                break                                     # (void)
            params.append((p.name, ptid))
        tid = self.b.add_func_proto(ret)
        for i, (name, ptid) in enumerate(params):
            if name is None and ptid and name_params:
                name = f"arg{i}"
            self.b.add_func_param(name, ptid)
        return tid

    # -- top level -------------------------------------------------------------------------------

    def external(self, node) -> None:
        from pycparser import c_ast
        if isinstance(node, c_ast.Typedef):
            if node.name in self.typedefs and self.typedefs[node.name] in self.defined:
                self.error(node, f"redefinition of typedef {node.name}")
            ref = self.decl_type(node.type, node)
            tid = self.b.add_typedef(node.name, ref)
            try:
                self.layout[tid] = self.size_align(ref, node) if ref else (0, 1)
            except BtfError:
                pass
            self.typedefs[node.name] = tid
            self.defined.add(tid)
            return
        if isinstance(node, c_ast.Decl):
            if isinstance(node.type, c_ast.FuncDecl):
                proto = self.func_proto(node.type, node, name_params=True)
                self.b.add_func(node.name, proto)
                return
            if node.name is None:
                self.decl_type(c_ast.TypeDecl(None, [], None, node.type), node)
                return
            self.error(node, f"variable declarations are not supported ({node.name})")
        if isinstance(node, c_ast.FuncDef):
            self.error(node, "function definitions are not supported (declare a prototype)")
        self.error(node, f"unsupported declaration {type(node).__name__}")


def btf_from_c(source: str, base: Btf | None = None, filename: str = "<source>") -> Btf:
    """Declarations in ``source`` -> a Btf (split over ``base`` when given). Called by scenarios
    and tests that declare extra kernel functions and types. EINVAL: a parse error or an
    unsupported construct, with the line."""
    from pycparser import c_parser
    text = _preprocess(source)
    # Tell the parser which identifiers are typedef names of the base (it needs to know).
    stubs: dict[str, int] = {}
    defined_here = set(re.findall(r"\btypedef\b[^;]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*;", text))
    if base is not None:
        for ident in set(_IDENT.findall(text)) - _C_KEYWORDS - defined_here:
            ids = base.find_all_by_name_kind(ident, K.BTF_KIND_TYPEDEF)
            if ids:
                stubs[ident] = ids[0]
    # Identifiers used as type names that neither the source nor the base defines: declared to
    # the parser too, so the error can name them and their line instead of a bare parse error.
    for m in _TYPE_USE.finditer(text):
        ident = m.group(2)
        if (m.group(1) is None and ident not in _C_KEYWORDS and ident not in stubs
                and ident not in defined_here):
            stubs[ident] = -1
    prologue = "".join(f"typedef int {name};" for name in sorted(stubs))
    full = prologue + f'\n# 1 "{filename}"\n' + text
    try:
        ast = c_parser.CParser().parse(full, _PROLOGUE)
    except Exception as e:   # pycparser.c_parser.ParseError and lexer errors
        msg = str(e)
        m = re.match(r"[^:]*:(\d+):(\d+): (.*)", msg)
        if m:
            raise BtfError(errno.EINVAL, f"{filename}:{m.group(1)}: {m.group(3)}") from None
        if msg.startswith(f"{filename}: "):
            msg = msg[len(filename) + 2:]
        raise BtfError(errno.EINVAL, f"{filename}: {msg}") from None
    builder = BtfBuilder(base)
    conv = _Converter(builder, base, filename, stubs)
    for node in ast.ext:
        if node.coord is not None and node.coord.file == _PROLOGUE:
            continue
        conv.external(node)
    if not len(builder._records):
        return Btf.parse(builder.to_bytes(), base) if base is not None else _empty_error()
    return builder.to_btf()


def btf_with_c(base: Btf, source: str, filename: str = "<declarations>") -> Btf:
    """``base`` with the declarations of ``source`` appended: one standalone BTF (not split), the
    base's type ids unchanged and the new types after them, as if the declarations had been
    compiled into the kernel. It is what ``Kernel(declare=...)`` runs on. EINVAL as btf_from_c.

    A split BTF's string offsets already count from the start of the base's string section and
    its type ids from the base's last id, so the flat blob is the two type sections and the two
    string sections laid end to end under one header."""
    split = btf_from_c(source, base, filename)
    hdr_fmt = "<HBBIIIII"
    b_raw, s_raw = base.to_bytes(), split.to_bytes()
    _, _, _, bh, bto, btl, bso, bsl = struct.unpack_from(hdr_fmt, b_raw)
    _, _, _, sh, sto, stl, sso, ssl = struct.unpack_from(hdr_fmt, s_raw)
    types = b_raw[bh + bto:bh + bto + btl] + s_raw[sh + sto:sh + sto + stl]
    strings = b_raw[bh + bso:bh + bso + bsl] + s_raw[sh + sso:sh + sso + ssl]
    header = btf_raw_header(len(types), len(strings))
    return Btf.parse(header + types + strings)


def _empty_error():
    raise BtfError(errno.EINVAL, "btf_from_c: no declarations")
