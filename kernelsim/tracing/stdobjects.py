"""The standard objects of a simulated machine, laid out by the kernel BTF: init_net, the network
devices lo and eth0, a task_struct (and cred) per task, sockets, socket buffers with their data,
and a small VFS of dentries, inodes, files and filenames (net/core/net_namespace.c,
drivers/net/loopback.c, kernel/fork.c, net/core/skbuff.c __alloc_skb, fs/dcache.c, fs/namei.c
getname).

``kernel.kobjects`` is a ``KernelObjects``: the allocator of kobjects.py plus these. The
simulated kernel functions (kfuncs_*.py) create and consume them; tests and scenarios create
them to pass as arguments::

    ko = kernel.kobjects
    skb = ko.alloc_skb(frame, dev=ko.netdev("eth0"))       # data = the frame, len = its length
    sk = ko.tcp_sock(saddr="10.0.0.1", sport=40000, daddr="10.0.0.2", dport=80)
    f = ko.open_file("/etc/passwd")                          # struct file, f_path, f_inode ...

Addresses and ports are stored as the kernel stores them: ``skc_daddr`` and ``skc_dport`` in
network byte order, ``skc_num`` in host order. sk_buff's ``tail`` and ``end`` are offsets from
``head`` (NET_SKBUFF_DATA_USES_OFFSET, 64-bit); ``mac_header`` etc. too. A ``struct filename``
keeps its name inline in ``iname`` with ``name`` pointing at it, as getname does.
Invented names: ``KernelObjects`` and its methods.
"""

import socket

from ..cred import CAPABILITIES
from ..memory import MemoryFault
from .kobjects import KObject, KObjects

NET_SKB_PAD = 64
DEFAULT_PRIO = 120                  # MAX_PRIO - 20 (include/linux/sched/prio.h): nice 0
SCHED_NORMAL = 0
PF_KTHREAD = 0x00200000
TASK_DEAD = 0x80
SIGCHLD = 17
CAP_FULL_SET = (1 << (max(CAPABILITIES.values()) + 1)) - 1   # CAP_VALID_MASK, CAP_LAST_CAP 40
SKB_SHARED_INFO_SIZE = 320          # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), x86-64
ETH_HLEN = 14
AF_INET = 2
SOCK_STREAM = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_MULTICAST = 0x1000
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
INIT_NET_INUM = 4026531840          # net:[4026531840], init_net's namespace inode
S_IFREG = 0o100000
S_IFDIR = 0o040000
ETH0_MAC = bytes.fromhex("525400123456")


def ip4(addr) -> int:
    """A dotted IPv4 address (or an int in network order) as the u32 the kernel stores."""
    if isinstance(addr, str):
        return int.from_bytes(socket.inet_aton(addr), "little")
    return int(addr)


def htons(port: int) -> int:
    return int.from_bytes((port & 0xFFFF).to_bytes(2, "big"), "little")


ntohs = htons


class KernelObjects(KObjects):
    """``kernel.kobjects``: kobjects.KObjects plus the machine's standard objects."""

    def __init__(self, kernel):
        super().__init__(kernel)
        self._init_net = None
        self._netdevs: dict[str, KObject] = {}
        self._tasks: dict[object, KObject] = {}
        self._init_task = None
        self._nsproxy = None
        self._next_ifindex = 3
        self._next_ino = 2
        self._freeable: set[int] = set()
        self.dentries: dict[str, KObject] = {}      # absolute path -> dentry
        self.file_data: dict[int, bytearray] = {}   # inode address -> contents
        self._root = None
        self._mnt = None

    # -- memory life cycle ---------------------------------------------------------------------

    def new(self, type_spec, init=None, *, extra: int = 0, label: str | None = None, **fields):
        obj = super().new(type_spec, init, extra=extra, label=label, **fields)
        self._freeable.add(obj.addr)
        return obj

    def alloc_bytes(self, data: bytes, name: str = "kernel buffer", size: int | None = None) -> int:
        addr = super().alloc_bytes(data, name, size)
        self._freeable.add(addr)
        return addr

    def free(self, addr) -> bool:
        """kfree: unmap an object allocated here (True), ignore anything else (False)."""
        addr = int(addr)
        if addr not in self._freeable or addr in self._strings.values():
            return False
        region = self.mem.region_of(addr)
        self._freeable.discard(addr)
        if region is not None and region.start == addr:
            self.mem.unmap(region)
            return True
        return False

    # -- namespaces and devices ---------------------------------------------------------------

    @property
    def init_net(self) -> KObject:
        if self._init_net is None:
            net = self._init_net = super().new("struct net", label="init_net")
            net.set("ns.inum", INIT_NET_INUM)
            net.set("net_cookie", 1)
            net.set("loopback_dev", self.netdev("lo"))
            net.set("ifindex", 2)
        return self._init_net

    @property
    def init_nsproxy(self) -> KObject:
        if self._nsproxy is None:
            self._nsproxy = super().new("struct nsproxy", label="init_nsproxy")
            self._nsproxy.set("net_ns", self.init_net)
        return self._nsproxy

    def netdev(self, name: str) -> KObject:
        """The net_device ``name``: "lo" is ifindex 1, "eth0" ifindex 2, others get the next
        free index (all ARPHRD_ETHER, up, in init_net)."""
        dev = self._netdevs.get(name)
        if dev is not None:
            return dev
        dev = super().new("struct net_device", label=f"net_device {name}")
        self._netdevs[name] = dev
        if name == "lo":
            ifindex, mtu, typ, flags, mac = 1, 65536, ARPHRD_LOOPBACK, IFF_UP | IFF_LOOPBACK | IFF_RUNNING, bytes(6)
        else:
            if name == "eth0":
                ifindex = 2
            else:
                ifindex = self._next_ifindex
                self._next_ifindex += 1
            mtu, typ = 1500, ARPHRD_ETHER
            flags = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST
            mac = ETH0_MAC[:5] + bytes([(ETH0_MAC[5] + ifindex - 2) & 0xFF])
        dev.update({"name": name, "ifindex": ifindex, "mtu": mtu, "type": typ, "flags": flags,
                    "addr_len": 6, "perm_addr": mac, "broadcast": b"\xff" * 6})
        # dev_addr is a pointer to the address (dev_addr_set copies it into dev->dev_addr_shadow)
        dev.set("dev_addr", super().alloc_bytes(mac + bytes(26), f"{name} dev_addr"))
        dev.set("nd_net.net", self.init_net)
        return dev

    def netdev_by_ifindex(self, ifindex: int) -> KObject | None:
        for dev in self._netdevs.values():
            if dev.ifindex == ifindex:
                return dev
        return None

    # -- tasks -------------------------------------------------------------------------------

    def _cred(self, cred, usage: int = 1) -> KObject:
        """A struct cred for ``cred``: the ids, and the capability sets as prepare_creds leaves
        them for a process that holds ``cred.caps`` (permitted = effective, the full bounding
        set, empty inheritable and ambient sets)."""
        c = super().new("struct cred", label="struct cred")
        for f in ("uid", "suid", "euid", "fsuid"):
            c.set(f"{f}.val", cred.uid)
        for f in ("gid", "sgid", "egid", "fsgid"):
            c.set(f"{f}.val", cred.gid)
        caps = 0
        for name in cred.caps:
            caps |= 1 << CAPABILITIES[name]
        c.update({"usage": usage, "cap_permitted.val": caps, "cap_effective.val": caps,
                  "cap_bset.val": CAP_FULL_SET})
        return c

    def _sched_defaults(self, t: KObject) -> None:
        """What every task starts with (init/init_task.c, sched_fork for SCHED_NORMAL at nice
        0): prio = static_prio = normal_prio = MAX_PRIO - 20 = 120, policy SCHED_NORMAL,
        every CPU allowed (cpus_ptr -> its own cpus_mask), two references (usage)."""
        ncpus = len(self.kernel.cpus)
        t.update({"prio": DEFAULT_PRIO, "static_prio": DEFAULT_PRIO, "normal_prio": DEFAULT_PRIO,
                  "policy": SCHED_NORMAL, "nr_cpus_allowed": ncpus, "usage.refs.counter": 2})
        mask = t.addr_of("cpus_mask")
        self.mem.store(mask, 8, (1 << ncpus) - 1)
        t.set("cpus_ptr", mask)

    @property
    def init_mm(self) -> KObject:
        """init_mm: the kernel's mm_struct, the active_mm of kernel threads."""
        mm = self.kernel.subsys.get("init_mm")
        if mm is None:
            mm = self.kernel.subsys["init_mm"] = super().new("struct mm_struct", label="init_mm")
        return mm

    @property
    def init_task(self) -> KObject:
        """init_task: swapper/0 (pid 0), the boot CPU's idle task and the parent of tasks
        without one, as init/init_task.c and init_idle set it up: PF_KTHREAD, prio 120, its own
        real_parent, parent and group_leader, init_cred (uid 0, usage 4, every capability),
        no mm (active_mm = init_mm), start_time 0."""
        if self._init_task is None:
            from ..cred import Cred
            t = self._init_task = super().new("struct task_struct", label="init_task")
            cred = self._cred(Cred.make(0, 0), usage=4)
            self._sched_defaults(t)
            t.update({"pid": 0, "tgid": 0, "comm": "swapper/0", "cred": cred, "real_cred": cred,
                      "real_parent": t, "parent": t, "group_leader": t, "flags": PF_KTHREAD,
                      "nsproxy": self.init_nsproxy, "mm": None, "active_mm": self.init_mm})
        return self._init_task

    def task_struct(self, task) -> KObject:
        """The task_struct of a TaskStruct (None: the current CPU's idle task), created on first
        use, refreshed (pid, tgid, comm, parent, exit code; TASK_DEAD once it exited) on each
        call. A live task's ``__state`` is left as it is (0, TASK_RUNNING, at creation), so a
        task marked blocked stays blocked until woken. Forked tasks have exit_signal SIGCHLD.
        The region's ``owner`` is the TaskStruct, so helpers can map the address back."""
        if task is None:
            return self.init_task
        t = self._tasks.get(task)
        if t is None:
            t = super().new("struct task_struct", label=f"task_struct {task.pid}")
            region = self.mem.region_of(t.addr)
            region.owner = task
            cred = self._cred(task.cred)
            mm = super().new("struct mm_struct", label=f"mm_struct {task.pid}")
            self._sched_defaults(t)
            t.update({"cred": cred, "real_cred": cred, "group_leader": t,
                      "nsproxy": self.init_nsproxy, "mm": mm, "active_mm": mm,
                      "start_time": self.kernel.clock.ns, "exit_signal": SIGCHLD})
            self._tasks[task] = t
        parent = getattr(task, "parent", None)
        ptask = self.task_struct(parent) if parent is not None else self.init_task
        comm = task.comm.encode()[:15]
        t.update({"pid": task.pid, "tgid": task.tgid, "comm": comm, "real_parent": ptask,
                  "parent": ptask, "exit_code": task.exit_code or 0})
        if not task.alive:
            t.set("__state", TASK_DEAD)
        return t

    def task_struct_addr(self, task) -> int:
        """The hook bpf_get_current_task uses (kernel.subsys["task_struct_addr"])."""
        return self.task_struct(task).addr

    def current(self) -> KObject:
        """current: the running task's task_struct."""
        return self.task_struct(self.kernel.current())

    def task_of(self, addr) -> object:
        """The TaskStruct whose task_struct is at ``addr`` (None: none, or the idle task)."""
        region = self.mem.region_of(int(addr))
        owner = region.owner if region is not None else None
        return owner if owner is not None and not isinstance(owner, KObject) and hasattr(owner, "pid") else None

    # -- socket buffers ------------------------------------------------------------------------

    def alloc_skb(self, data: bytes = b"", dev=None, sk=None, headroom: int = NET_SKB_PAD,
                  tailroom: int = 0, **fields) -> KObject:
        """An sk_buff whose linear data is ``data`` (__alloc_skb + skb_reserve + skb_put): head
        buffer of headroom + len + tailroom bytes followed by skb_shared_info; ``len`` = len(data);
        ``dev``, ``sk`` and any other field given as keywords."""
        data = bytes(data)
        size = headroom + len(data) + tailroom
        size = (size + 63) & ~63                     # SKB_DATA_ALIGN
        head = self.alloc_bytes(bytes(headroom) + data, "skb data", size=size + SKB_SHARED_INFO_SIZE)
        skb = self.new("struct sk_buff", label="struct sk_buff")
        skb.update({"head": head, "data": head + headroom, "tail": headroom + len(data),
                    "end": size, "len": len(data), "data_len": 0, "truesize": size + 256,
                    "users.refs.counter": 1, "mac_header": 0xFFFF, "network_header": headroom,
                    "transport_header": 0xFFFF})
        self.mem.store(head + size + self.types.field(self.types.type_id("struct skb_shared_info"),
                                                      "dataref").offset, 4, 1)
        if dev is not None:
            skb.set("dev", dev)
            skb.set("skb_iif", self.view(dev, "struct net_device").ifindex)
        if sk is not None:
            skb.set("sk", sk)
        skb.update(fields)
        return skb

    def skb_data(self, skb) -> bytes:
        """The linear data of an skb: len - data_len bytes from data."""
        skb = self.view(skb, "struct sk_buff")
        return self.mem.read(skb.data, skb.len - skb.data_len)

    # -- sockets -------------------------------------------------------------------------------

    def tcp_sock(self, saddr="127.0.0.1", sport: int = 0, daddr="0.0.0.0", dport: int = 0,
                 state: int = TCP_ESTABLISHED, **fields) -> KObject:
        """A struct tcp_sock (which contains inet_connection_sock, inet_sock, sock,
        sock_common at offset 0: the address is the sock's) with the 4-tuple set."""
        sk = self.new("struct tcp_sock", label="struct tcp_sock")
        self._sock_common(sk, saddr, sport, daddr, dport, state, SOCK_STREAM, IPPROTO_TCP)
        sk.update({"snd_cwnd": 10, "srtt_us": 8000, "mss_cache": 1448})
        sk.update(fields)
        return sk

    def udp_sock(self, saddr="127.0.0.1", sport: int = 0, daddr="0.0.0.0", dport: int = 0,
                 **fields) -> KObject:
        sk = self.new("struct udp_sock", label="struct udp_sock")
        self._sock_common(sk, saddr, sport, daddr, dport, TCP_CLOSE, 2, IPPROTO_UDP)
        sk.update(fields)
        return sk

    def _sock_common(self, sk, saddr, sport, daddr, dport, state, typ, proto) -> None:
        sock = sk.cast("struct inet_sock")
        sock.update({"sk.__sk_common.skc_family": AF_INET, "sk.__sk_common.skc_state": state,
                     "sk.__sk_common.skc_rcv_saddr": ip4(saddr), "sk.__sk_common.skc_daddr": ip4(daddr),
                     "sk.__sk_common.skc_num": sport, "sk.__sk_common.skc_dport": htons(dport),
                     "sk.__sk_common.skc_net.net": self.init_net, "sk.sk_type": typ,
                     "sk.sk_protocol": proto, "inet_sport": htons(sport), "inet_saddr": ip4(saddr),
                     "sk.sk_rcvbuf": 131072, "sk.sk_sndbuf": 16384})

    def sockaddr_in(self, addr, port: int) -> KObject:
        return self.new("struct sockaddr_in", sin_family=AF_INET, sin_port=htons(port),
                        **{"sin_addr": {"s_addr": ip4(addr)}})

    # -- the VFS -------------------------------------------------------------------------------

    def filename(self, name: str, uptr: int = 0) -> KObject:
        """getname's struct filename: the name inline (iname), ``name`` pointing at it."""
        data = name.encode()
        fn = self.new("struct filename", extra=len(data) + 1, label="struct filename")
        iname = fn.addr_of("iname")
        self.mem.write(iname, data + b"\0", force=True)
        fn.update({"name": iname, "uptr": uptr, "refcnt.counter": 1})
        return fn

    @property
    def root(self) -> KObject:
        if self._root is None:
            self._mnt = super().new("struct vfsmount", label="vfsmount /")
            self._root = self._new_dentry("/", None, S_IFDIR | 0o755)
        return self._root

    def _new_dentry(self, name: str, parent, mode: int) -> KObject:
        d = self.new("struct dentry", label=f"dentry {name}")
        inode = self.new("struct inode", label=f"inode {name}")
        inode.update({"i_ino": self._next_ino, "i_mode": mode, "i_nlink": 1})
        self._next_ino += 1
        nb = name.encode()
        if len(nb) < 40:
            d.set("d_shortname.string", nb)
            d.set("d_name.name", d.addr_of("d_shortname.string"))
        else:
            d.set("d_name.name", self.cstring(nb, cache=False))
        d.update({"d_name.len": len(nb), "d_name.hash": _full_name_hash(nb), "d_inode": inode,
                  "d_parent": parent if parent is not None else d, "d_flags": 0x00100000})
        self.file_data[inode.addr] = bytearray()
        return d

    def lookup(self, path: str, create: bool = False, mode: int = S_IFREG | 0o644,
               data: bytes | None = None) -> KObject | None:
        """The dentry of an absolute ``path`` (None if absent and not ``create``); missing
        directories are created along the way when ``create``."""
        path = "/" + "/".join(p for p in path.split("/") if p)
        root = self.root
        if path == "/":
            return root
        d = self.dentries.get(path)
        if d is None:
            if not create:
                return None
            parent_path, _, name = path.rpartition("/")
            parent = self.lookup(parent_path or "/", True, S_IFDIR | 0o755)
            d = self._new_dentry(name, parent, mode)
            self.dentries[path] = d
        if data is not None:
            self.file_data[d.d_inode][:] = data
            self.view(d.d_inode, "struct inode").i_size = len(data)
        return d

    def unlink(self, path: str) -> bool:
        d = self.dentries.pop("/" + "/".join(p for p in path.split("/") if p), None)
        if d is None:
            return False
        d.set("d_inode", 0)
        return True

    def d_path(self, path_addr: int) -> str | None:
        """The absolute path of a ``struct path`` (bpf_d_path's hook); None when its dentry is
        not one of ours."""
        try:
            p = self.view(path_addr, "struct path")
            d = p.deref("dentry")
        except MemoryFault:
            return None
        if d is None:
            return None
        parts = []
        try:
            for _ in range(64):
                parent = d.d_parent
                if parent == d.addr or not parent:
                    break
                parts.append(d.str("d_name.name"))
                d = self.view(parent, "struct dentry")
        except MemoryFault:
            return None
        return "/" + "/".join(reversed(parts))

    def path_of_dentry(self, dentry) -> str:
        for p, d in self.dentries.items():
            if d.addr == int(dentry):
                return p
        return "/"

    def open_file(self, path: str, flags: int = 0, mode: int = 0o644, create: bool = True,
                  data: bytes | None = None) -> KObject:
        """A struct file for ``path`` (created in the VFS with ``create``): f_path (mnt, dentry),
        f_inode, f_flags, f_mode (FMODE_READ | FMODE_WRITE), f_cred (current's)."""
        d = self.lookup(path, create=create, mode=S_IFREG | mode, data=data)
        if d is None:
            raise FileNotFoundError(path)
        return self.file_of_dentry(d, flags)

    def file_of_dentry(self, d, flags: int = 0) -> KObject:
        self.root
        cur = self.current()
        f = self.new("struct file", label="struct file")
        f.update({"f_path.mnt": self._mnt, "f_path.dentry": d, "f_inode": d.d_inode,
                  "f_flags": flags, "f_mode": 0x3 | 0x4 | 0x8, "f_cred": cur.cred,
                  "f_ref.refcnt.counter": 1})
        return f


def _full_name_hash(name: bytes) -> int:
    """A deterministic stand-in for full_name_hash (the real one depends on the salt)."""
    h = 0
    for c in name:
        h = (h * 31 + c) & 0xFFFFFFFF
    return h
