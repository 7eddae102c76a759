"""Kernel(declare=...) and the scenario's kernel.declare / kernel.returns: kernel functions and
types of the user's own, in the kernel BTF, traced like the others."""

import pytest

from kernelsim import Kernel
from kernelsim.replay import Replay, ScenarioError, load_scenario_text
from kernelsim.tools import features

DECL = """
struct demo_req { unsigned int queue; unsigned int flags; unsigned long long len; };
int demo_submit(struct demo_req *req, int flags);
"""


def test_declared_functions_are_kernel_functions():
    k = Kernel(declare=DECL)
    fn = k.functions["demo_submit"]
    assert fn.model.nr_args == 2 and fn.model.arg_size == (8, 4)
    assert fn.btf_id > Kernel().btf.nr_types - 1                    # after the kernel's own types
    assert k.call("demo_submit", 0, 1) == 0                       # no body: returns 0
    fn.set_return(-5)
    assert k.call("demo_submit", 0, 1) == -5
    req = k.kobjects.new("struct demo_req", queue=3, len=99)
    assert req.size == 16 and req.len == 99 and req.queue == 3
    assert "demo_submit" not in Kernel().functions                # per machine


def test_bad_declarations_are_refused_with_the_line():
    with pytest.raises(ValueError, match=r"kernel declarations: <declare>:3: unknown type name 'blk_t'"):
        Kernel(declare="struct a { int x; };\n\nint f(blk_t b);\n")


SCENARIO = """\
kernel:
  declare: |
    struct demo_req { unsigned int queue; unsigned int flags; unsigned long long len; };
    int demo_submit(struct demo_req *req, int flags);
  returns: {demo_submit: 7}
maps:
  lens: {type: array, key: u32, value: u64, max_entries: 1}
programs:
  p:
    type: tracing
    attach_type: fentry
    attach_to: demo_submit
    maps: [lens]
    asm: |
      r2 = *(u64 *)(r1 +0)
      r3 = *(u64 *)(r2 +8)
      *(u64 *)(r10 -16) = r3
      *(u32 *)(r10 -4) = 0
      r1 = map_fd(lens)
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      call bpf_map_update_elem
      r0 = 0
      exit
attach: [{prog: p}]
events:
  - kobject: {as: r, new: "struct demo_req", fields: {queue: 1, len: 4096}}
  - call: {func: demo_submit, args: [$r, 0], expect: {ret: 7}}
  - expect: {map: lens, entries: [{key: 0, value: 4096}]}
"""


@pytest.mark.skipif(not features.has("syscall.dispatch", "sys_bpf"), reason="needs bpf()")
def test_a_scenario_traces_its_own_function_through_btf():
    res = Replay(load_scenario_text(SCENARIO, "d.yaml")).run()
    assert res.ok, res.error or res.failed


def test_scenario_errors_name_the_yaml_line():
    bad = SCENARIO.replace("int demo_submit(struct demo_req *req, int flags);",
                           "int demo_submit(struct demo_rq *req, int flags);")
    load_scenario_text(bad, "d.yaml")             # an unknown struct is a forward declaration
    bad = SCENARIO.replace("int demo_submit(struct demo_req *req, int flags);",
                           "int demo_submit(demo_t *req, int flags);")
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(bad, "d.yaml")
    assert str(e.value) == "d.yaml:4:1: kernel.declare: unknown type name 'demo_t'"
    res = Replay(load_scenario_text(SCENARIO.replace("returns: {demo_submit: 7}", "returns: {nosuch: 7}"),
                                    "d.yaml")).run()
    assert not res.ok and res.error == "kernel.returns: no kernel function 'nosuch'"
