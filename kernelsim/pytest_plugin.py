"""The kernelsim pytest plugin: fixtures for testing BPF tracing programs against a simulated
kernel (registered as the ``kernelsim`` entry point of ``pytest11``; facade layer).

    def test_counts_reads(kernel, root_task, load_bpf):
        obj = load_bpf("progs/count_reads.bpf.c")        # compiled with clang, cached
        obj.progs["count_read"].attach()
        for _ in range(3):
            kernel.call("vfs_read", None, None, 16, None, ret=16)
        assert obj.maps["counts"][root_task.pid] == 3

Fixtures:

* ``kernel``: a fresh ``Kernel()`` per test. ``@pytest.mark.kernel(arch=..., profile=...,
  btf=..., ncpus=..., seed=...)`` sets its arguments.
* ``make_kernel``: a factory for more machines (``make_kernel(btf="vmlinux-6.18.btf")``).
* ``root_task``: a root task (every capability) spawned on ``kernel``; it is the current task.
* ``load_bpf``: ``load_bpf(source_or_object, task=None, **opts)`` compiles a ``.bpf.c`` (once per
  content, in a session cache directory), loads it through the task's bpf() like libbpf, and
  closes it at teardown. Relative paths are looked up next to the test file. Skips the test when
  clang is missing. ``load_bpf.open(...)`` opens without loading (set rodata, then ``.load()``).
* ``bpf_object``: the object named by ``@pytest.mark.bpf_object("x.bpf.c", **opts)``, loaded.
* ``trace_pipe``: the kernel's trace_pipe reader (``.messages()`` is what bpf_printk printed).

Importing this module must stay cheap (the project's own suite loads it too): everything heavy is
imported inside the fixtures.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel(**kwargs): arguments for the kernel fixture's "
                            "Kernel(...) (arch, btf, ncpus, seed, profile)")
    config.addinivalue_line("markers", "bpf_object(source, **opts): the object the bpf_object "
                            "fixture loads")


@pytest.fixture
def make_kernel():
    """A factory of fresh machines: ``make_kernel(arch="arm64", btf=...)``."""
    from kernelsim import Kernel
    made = []

    def make(**kwargs):
        k = Kernel(**kwargs)
        made.append(k)
        return k

    yield make
    made.clear()


@pytest.fixture
def kernel(request, make_kernel):
    """A fresh Kernel for this test (``@pytest.mark.kernel(...)`` gives its arguments)."""
    kwargs = {}
    for mark in reversed(list(request.node.iter_markers("kernel"))):
        kwargs.update(mark.kwargs)
    return make_kernel(**kwargs)


@pytest.fixture
def root_task(kernel):
    """A root task (uid 0, every capability), current on CPU 0."""
    task = kernel.spawn(comm="pytest", uid=0)
    kernel.switch_to(task, 0)
    return task


@pytest.fixture(scope="session")
def bpf_cache_dir(tmp_path_factory):
    """Where compiled objects are cached for this session ($KERNELSIM_BPF_CACHE wins)."""
    env = os.environ.get("KERNELSIM_BPF_CACHE")
    if env:
        return env
    return str(tmp_path_factory.mktemp("kernelsim-bpf"))


def _resolve(request, path):
    if isinstance(path, (bytes, bytearray, memoryview)):
        return path
    p = os.fspath(path)
    if not os.path.isabs(p) and not os.path.exists(p):
        candidate = os.path.join(os.path.dirname(str(request.node.fspath)), p)
        if os.path.exists(candidate):
            return candidate
    return p


class _Loader:
    """The ``load_bpf`` fixture's value: a callable plus ``.open`` and ``.compile``."""

    def __init__(self, request, task_getter, cache_dir):
        self._request = request
        self._task = task_getter
        self._cache = cache_dir
        self.objects = []

    def _prepare(self, path, opts):
        path = _resolve(self._request, path)
        opts.setdefault("cache_dir", self._cache)
        if isinstance(path, str) and path.endswith(".c"):
            from syscall.object import find_clang
            if find_clang(opts.get("clang")) is None:
                pytest.skip("clang is not installed (needed to compile BPF C sources)")
        return path, opts

    def __call__(self, path, task=None, **opts):
        """Compile (a .c) and load into ``task`` (default: root_task); closed at teardown."""
        from syscall.object import bpf_object_open_and_load
        path, opts = self._prepare(path, opts)
        obj = bpf_object_open_and_load(task or self._task(), path, **opts)
        self.objects.append(obj)
        return obj

    def open(self, path, task=None, **opts):
        """Open without loading (then ``obj.load()``); closed at teardown."""
        from syscall.object import bpf_object_open
        path, opts = self._prepare(path, opts)
        obj = bpf_object_open(task or self._task(), path, **opts)
        self.objects.append(obj)
        return obj

    def compile(self, path, **opts):
        """Just compile: the cached object's path."""
        from syscall.object import compile_bpf
        path, opts = self._prepare(path, opts)
        btf = opts.pop("btf", None)
        return compile_bpf(path, btf=btf, cache=opts.pop("cache_dir"), **opts)

    def close_all(self):
        for obj in reversed(self.objects):
            obj.close()
        self.objects.clear()


@pytest.fixture
def load_bpf(request, bpf_cache_dir):
    """Compile-and-load BPF objects into ``root_task`` (see the module docstring)."""
    loader = _Loader(request, lambda: request.getfixturevalue("root_task"), bpf_cache_dir)
    yield loader
    loader.close_all()


@pytest.fixture
def bpf_object(request, load_bpf):
    """The object of ``@pytest.mark.bpf_object(source, **opts)``, loaded into root_task."""
    mark = request.node.get_closest_marker("bpf_object")
    if mark is None or not mark.args:
        pytest.fail("the bpf_object fixture needs @pytest.mark.bpf_object('x.bpf.c', ...)")
    return load_bpf(mark.args[0], **mark.kwargs)


@pytest.fixture
def trace_pipe(kernel):
    """The kernel's trace_pipe (consuming reads: ``read()``, ``lines()``, ``messages()``)."""
    from syscall.object.tracepipe import TracePipe

    class _T:
        kernel = None
    t = _T()
    t.kernel = kernel
    return TracePipe(t)
