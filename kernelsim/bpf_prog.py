"""BPF programs: struct bpf_prog and struct bpf_prog_aux (include/linux/bpf.h, include/linux/filter.h,
kernel/bpf/core.c).

A ``BpfProg`` is created by PROG_LOAD (syscall/), filled in by the verifier (``bpf_check`` writes
the rewritten instructions, used maps, stack depth, ctx bounds ...), given an execution tier by
``bpf_prog_select_runtime`` and then run by attach points through ``bpf_prog_run``. It is
refcounted like every BPF object (bpf_objects.py): fds, pins, links, prog-array slots and tracing
programs that target it hold references; it holds references on the maps it uses and on its BTF.
"""

from dataclasses import dataclass, field

from .bpf_objects import BpfObject


@dataclass
class BpfProgStats:
    """struct bpf_prog_stats, summed over CPUs."""

    cnt: int = 0          # run_cnt: runs counted while stats were enabled
    nsecs: int = 0        # run_time_ns
    misses: int = 0       # recursion_misses: runs skipped because the program was already active


@dataclass
class BpfProgAux:
    """struct bpf_prog_aux: what the verifier and the attach paths learn about a program."""

    used_maps: list = field(default_factory=list)        # BpfMap objects referenced (refs held)
    used_btfs: list = field(default_factory=list)        # BpfBtf objects referenced by ld_imm64 BTF ids
    btf: object = None                                   # the program's own BTF (prog_btf_fd), a BpfBtf
    func_info: list = field(default_factory=list)        # (insn_off, type_id) per subprogram
    line_info: list = field(default_factory=list)        # (insn_off, file_name_off, line_off, line_col)
    attach_btf: object = None                            # the BTF the target lives in (vmlinux Btf or a BpfBtf)
    attach_btf_id: int = 0
    attach_func_name: str = ""                           # target function / tracepoint name
    attach_func_proto: int = 0                           # BTF id of the target's FUNC_PROTO
    fmodel: object = None                                # btf.FuncModel of the target (tracing)
    dst_prog: object = None                              # target program (fentry on a BPF prog, EXT)
    max_ctx_offset: int = 0                              # highest ctx byte read (raw_tp attach check)
    max_tp_access: int = 0                               # writable raw_tp buffer bound
    max_rdonly_access: int = 0
    call_get_func_ip: bool = False                       # makes the trampoline store the IP
    call_get_stack: bool = False
    tail_call_reachable: bool = False
    stack_depth: int = 0                                 # main program's stack depth
    subprog_stack_depths: list = field(default_factory=list)
    subprog_starts: list = field(default_factory=list)   # insn index of each subprogram (0 first)
    probe_mem_insns: frozenset = frozenset()             # LDX insns rewritten to PROBE_MEM
    verified_insns: int = 0                              # insn_processed of the successful run
    load_time: int = 0                                   # boot-time ns at load
    created_by_uid: int = 0
    sleepable: bool = False
    jited: bool = False
    cred: object = None                                  # the loader's Cred: get_func_proto's capability tiers
    name: str = ""


class BpfProg(BpfObject):
    """struct bpf_prog. ``insns`` are as loaded; ``insnsi`` are what the interpreter runs (the
    verifier's rewrite of them that keeps ctx accesses on the simulator's ctx mirrors), and
    ``aux.xlated_insns`` Linux's own rewrite (ctx conversions, inlined lookups ...): what
    BPF_OBJ_GET_INFO_BY_FD's xlated_prog_insns and `prog dump xlated` show."""

    kind = "prog"

    def __init__(self, kernel, prog_type, expected_attach_type=0, insns=(), name: str = "",
                 license: str = "", gpl_compatible: bool = False, prog_flags: int = 0):
        super().__init__(kernel)
        self.type = prog_type
        self.expected_attach_type = expected_attach_type
        self.insns = list(insns)          # the instructions as the user submitted them
        self.insnsi = list(insns)         # after the verifier's fixups: what runs (see the class doc)
        self.len = len(self.insns)
        self.name = name
        self.license = license
        self.gpl_compatible = gpl_compatible
        self.prog_flags = prog_flags
        self.tag = b"\0" * 8              # bpf_prog_calc_tag
        self.aux = BpfProgAux(name=name)
        self.stats = BpfProgStats()
        self.active = [0] * kernel.ncpus  # per-CPU recursion counter (prog->active)
        self.bpf_func = None              # the execution tier: callable(ctx_addr, run) -> r0
        self.runtime = None               # tier-specific state (the interpreter's decoded program)

    def free(self) -> None:
        """__bpf_prog_put_noref: drop the maps, BTFs and target program this program holds."""
        for obj in self.aux.used_maps + self.aux.used_btfs:
            obj.put()
        self.aux.used_maps, self.aux.used_btfs = [], []
        for attr in ("btf", "dst_prog"):
            obj = getattr(self.aux, attr)
            if isinstance(obj, BpfObject):
                setattr(self.aux, attr, None)
                obj.put()
        if isinstance(self.aux.attach_btf, BpfObject):
            self.aux.attach_btf, obj = None, self.aux.attach_btf
            obj.put()

    def __repr__(self) -> str:
        return f"<BpfProg id={self.id} type={int(self.type)} name={self.name!r}>"


@dataclass
class BpfLoadAttr:
    """What BPF_PROG_LOAD hands ``bpf_check`` (kernelsim/verifier) after the syscall side of
    bpf_prog_load has copied and checked the attr (syscall/): everything is already out of user
    memory. Defined here so that syscall/ and the verifier share one record."""

    cred: object                        # the loader's Cred (bpf_capable, perfmon_capable ...)
    files: object                       # the loader's FdTable, to resolve map fds in ld_imm64
    log_level: int = 0
    fd_array: list | None = None        # attr.fd_array as a list of fds (None: not given)
    prog_btf: object = None             # BpfBtf from prog_btf_fd (reference held by the caller)
    func_info: bytes = b""              # raw records, func_info_cnt * func_info_rec_size bytes
    func_info_rec_size: int = 0
    func_info_cnt: int = 0
    line_info: bytes = b""
    line_info_rec_size: int = 0
    line_info_cnt: int = 0
    core_relos: bytes = b""
    core_relo_rec_size: int = 0
    core_relo_cnt: int = 0
    attach_btf: object = None           # the BTF the attach target is in (kernel Btf or a BpfBtf)
    attach_prog: object = None          # BpfProg target (attach_prog_fd)
    attach_btf_id: int = 0
    prog_flags: int = 0
