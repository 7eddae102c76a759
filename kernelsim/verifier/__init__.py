"""kernelsim.verifier: the BPF verifier and its log (kernel/bpf/verifier.c, kernel/bpf/log.c).

Front door: ``bpf_check(prog, attr, log)`` (PROG_LOAD), ``BpfVerifierLog`` / ``bpf_vlog_init``
(PROG_LOAD and BTF_LOAD logs), ``bpf_prog_calc_tag`` (the tag bpf_check gives a program). See docs/verifier.md.
"""

from .log import BpfVerifierLog, bpf_verifier_log_attr_valid, bpf_vlog_init
from .verifier import bpf_check, bpf_prog_calc_tag

__all__ = ["bpf_check", "bpf_prog_calc_tag", "BpfVerifierLog", "bpf_vlog_init", "bpf_verifier_log_attr_valid"]
