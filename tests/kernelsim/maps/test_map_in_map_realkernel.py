"""Differential: ARRAY_OF_MAPS and HASH_OF_MAPS against the real bpf() (kernelsim/maps/map_in_map.py):
inner_map_fd at create, updates with map fds, ID lookups, deletes, template matching."""

import struct

import pytest

from kernelsim.uapi import BpfCmd as C, BpfMapFlags as F
from tests.realkernel import realkernel_marks
from tests.syscall.diffharness import run_both, assert_same

pytestmark = realkernel_marks

AOM, HOM = 12, 13
INNER_SPECS = {1: (4, 8, 4), 2: (4, 8, 4), 3: (4, 4, 4), 4: (4, 4, 4), 5: (4, 8, 4), 6: (4, 8, 4),
               7: (4, 8, 4), 9: (4, 8, 4), 10: (4, 8, 4), 22: (0, 8, 4), 23: (0, 8, 4),
               27: (0, 0, 4096), 30: (0, 8, 16)}


def mk(b, mt, ks, vs, me, fl=0, **kw):
    return b.call(C.BPF_MAP_CREATE, b.attr(map_type=mt, key_size=ks, value_size=vs, max_entries=me,
                                           map_flags=fl, **kw))


def upd(b, fd, key, val, flags=0):
    return b.call(C.BPF_MAP_UPDATE_ELEM, b.attr(map_fd=fd, key=b.buf(key), value=b.buf(val), flags=flags))


def lookup_id(b, fd, key):
    out = b.buf(4)
    r = b.call(C.BPF_MAP_LOOKUP_ELEM, b.attr(map_fd=fd, key=b.buf(key), value=out))
    return struct.unpack("<I", b.read(out, 4))[0] if r == 0 else None


def map_id(b, fd):
    info = b.buf(96)
    b.call(C.BPF_OBJ_GET_INFO_BY_FD, b.attr(info__bpf_fd=fd, info__info_len=96, info__info=info),
           record=False)
    return struct.unpack_from("<I", b.read(info, 8), 4)[0]


def k4(i):
    return struct.pack("<I", i)


def scen_create(b):
    """Which types can be inner maps; the inner_map_fd errors; the outer maps' own checks."""
    for mt, (ks, vs, me) in INNER_SPECS.items():
        inner = mk(b, mt, ks, vs, me)
        mk(b, AOM, 4, 4, 2, inner_map_fd=inner)
        mk(b, HOM, 4, 4, 2, inner_map_fd=inner)
    for ifd in (0, 999, 0xFFFFFFFF):
        mk(b, AOM, 4, 4, 2, inner_map_fd=ifd)
        mk(b, HOM, 4, 4, 2, inner_map_fd=ifd)
    prog_array = mk(b, 3, 4, 4, 4)
    mk(b, AOM, 4, 4, 2, inner_map_fd=prog_array)
    inner = mk(b, 2, 4, 8, 4)
    outer = mk(b, AOM, 4, 4, 2, inner_map_fd=inner)
    mk(b, AOM, 4, 4, 2, inner_map_fd=outer)              # two levels
    mk(b, HOM, 4, 4, 2, inner_map_fd=outer)
    for ks, vs, me, fl in [(4, 8, 2, 0), (8, 4, 2, 0), (4, 4, 0, 0), (4, 4, 2, F.BPF_F_RDONLY_PROG),
                           (4, 4, 2, F.BPF_F_MMAPABLE), (4, 4, 2, F.BPF_F_INNER_MAP)]:
        mk(b, AOM, ks, vs, me, fl, inner_map_fd=inner)
    for ks, vs, me, fl in [(4, 8, 2, 0), (8, 4, 2, 0), (4, 4, 0, 0), (4, 4, 2, F.BPF_F_RDONLY_PROG),
                           (4, 4, 2, F.BPF_F_NO_PREALLOC), (4, 4, 2, F.BPF_F_NO_COMMON_LRU)]:
        mk(b, HOM, ks, vs, me, fl, inner_map_fd=inner)
    mk(b, AOM, 4, 4, 2, inner_map_fd=inner, btf_fd=0, btf_key_type_id=1, btf_value_type_id=1)


def scen_elems(b):
    """Updates with map fds, IDs back from lookups, template matching, deletes, next keys."""
    for outer_type in (AOM, HOM):
        tmpl = mk(b, 2, 4, 8, 4)
        outer = mk(b, outer_type, 4, 4, 2, inner_map_fd=tmpl)
        same = mk(b, 2, 4, 8, 4)
        other_entries = mk(b, 2, 4, 8, 8)
        other_value = mk(b, 2, 4, 16, 4)
        hash_inner = mk(b, 1, 4, 8, 4)
        upd(b, outer, k4(0), k4(tmpl))
        upd(b, outer, k4(1), k4(same))
        b.rec(lookup_id(b, outer, k4(0)) == map_id(b, tmpl))
        b.rec(lookup_id(b, outer, k4(1)) == map_id(b, same))
        upd(b, outer, k4(1), k4(other_entries))      # arrays: max_entries must match
        upd(b, outer, k4(1), k4(other_value))
        upd(b, outer, k4(1), k4(hash_inner))
        upd(b, outer, k4(1), k4(outer))               # not accepted as its own inner map
        upd(b, outer, k4(1), k4(0))                   # stdio
        upd(b, outer, k4(1), k4(999))                 # not open
        upd(b, outer, k4(2), k4(same))                # AOM: past the end; HOM: full
        upd(b, outer, k4(0), k4(same), flags=1)       # BPF_NOEXIST
        upd(b, outer, k4(3), k4(same), flags=2)       # BPF_EXIST
        upd(b, outer, k4(0), k4(same), flags=4)       # BPF_F_LOCK
        upd(b, outer, k4(0), k4(same), flags=8)
        lookup_id(b, outer, k4(3))
        nxt = b.buf(4)
        b.call(C.BPF_MAP_GET_NEXT_KEY, b.attr(map_fd=outer, key=0, next_key=nxt))
        b.call(C.BPF_MAP_DELETE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(1))))
        b.call(C.BPF_MAP_DELETE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(1))))
        lookup_id(b, outer, k4(1))
        b.call(C.BPF_MAP_LOOKUP_AND_DELETE_ELEM, b.attr(map_fd=outer, key=b.buf(k4(0)), value=b.buf(4)))
        b.call(C.BPF_MAP_FREEZE, b.attr(map_fd=outer))
    # BPF_F_INNER_MAP templates accept arrays of any size
    tmpl = mk(b, 2, 4, 8, 4, F.BPF_F_INNER_MAP)
    outer = mk(b, AOM, 4, 4, 2, inner_map_fd=tmpl)
    upd(b, outer, k4(0), k4(mk(b, 2, 4, 8, 100, F.BPF_F_INNER_MAP)))
    upd(b, outer, k4(1), k4(mk(b, 2, 4, 8, 100)))       # flags differ


def scen_lifetime(b):
    """An inner map stays alive (same ID) in its outer map after its fd is closed."""
    tmpl = mk(b, 1, 4, 8, 4)
    outer = mk(b, HOM, 4, 4, 4, inner_map_fd=tmpl)
    inner = mk(b, 1, 4, 8, 4)
    iid = map_id(b, inner)
    upd(b, outer, k4(7), k4(inner))
    b.close(inner)
    b.fds.remove(inner)
    got = lookup_id(b, outer, k4(7))
    b.rec(got == iid)
    fd = b.call(C.BPF_MAP_GET_FD_BY_ID, b.attr(map_id=got or 0))
    b.rec(fd >= 0)


@pytest.mark.parametrize("scenario", [scen_create, scen_elems, scen_lifetime], ids=lambda s: s.__name__)
def test_same_as_linux(scenario):
    real, sim = run_both(scenario)
    assert_same(real, sim, scenario.__name__)
