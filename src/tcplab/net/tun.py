"""tcplab on a Linux TUN device: the kernel's TCP (and curl, nc, ping) on one side, a tcplab host
on the other.

A TUN device is a point-to-point IP link with no link layer: what the kernel routes to it is read
from a file descriptor as a bare IP packet (``IFF_TUN | IFF_NO_PI``), and what is written to the
descriptor arrives in the kernel as if it came off a wire. The kernel side of the link gets one
address (``kernel_address``, e.g. 198.18.0.1/24), the tcplab host another in the same subnet
(``host_address``, 198.18.0.2/24); the connected route sends the host's address to the device.

Three pieces::

    link = TunLink("tlab0", "198.18.0.1/24", "198.18.0.2/24", netns="tcplab-t-x", pcap="s.pcap")
    link.open()                      # device, link up, kernel-side addresses (pyroute2 netlink)
    host = Host("tcplab", link.host_addresses())
    runtime = TunRuntime(link, host) # the I/O loop; also the host's runtime (real clock)
    runtime.run_until(lambda: done, timeout=10)

``TunRuntime`` is what ``host.runtime`` needs for blocking tcplab sockets (``now``,
``wait_until``, ``kick``, ``call_later``); ``runtime.attach_asyncio(loop)`` runs the same loop
inside an asyncio event loop (``add_reader`` on the TUN descriptor) for tcplab's asyncio streams.

ICMP echo (ping, ping -6) is answered by the host (``Host.deliver``); if the node attached is not
a ``Host`` with that behaviour, ``TunRuntime(answer_ping=True)`` answers echo requests to the
node's addresses itself. Other ICMPv6 the kernel sends on link up (router solicitations, MLD
reports) is dropped harmlessly by the host. Errors are :class:`TunError` subclasses with one-line
messages that say what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import heapq
import ipaddress
import itertools
import os
import selectors
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from tcplab.host.link import LinkOffloads
from tcplab.net import netns as _netns
from tcplab.net import vnet

__all__ = [
    "BadAddress",
    "DeviceBusy",
    "Impairment",
    "NotPermitted",
    "TunError",
    "TunLink",
    "TunMissing",
    "TunRuntime",
    "parse_interface_address",
]

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
IFA_F_NODAD = 0x02
IFNAMSIZ = 16
GSO_MAX = 65535  # the largest super-segment, headers included (an IPv4 packet's length field)
_READ_SIZE = 65536 + 128  # a super-segment of 64 KB, its IPv6 header and the virtio-net header
_READ_BATCH = 256  # packets read per readable event before timers and output get a turn


class TunError(OSError):
    """The TUN link could not be set up; ``str(exc)`` is one line saying what to do."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class NotPermitted(TunError):
    """Not root / no CAP_NET_ADMIN."""


class TunMissing(TunError):
    """/dev/net/tun does not exist (tun module not loaded)."""


class DeviceBusy(TunError):
    """The interface name is taken (another TUN user, or an interface of another kind)."""


class BadAddress(TunError, ValueError):
    """An address given for the link is not usable."""


def parse_interface_address(text: str, what: str = "address") -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """``"198.18.0.2/24"`` -> an interface (address + prefix). A bare address gets /24 or /64."""
    try:
        if "/" not in text:
            addr = ipaddress.ip_address(text)
            text = f"{text}/{24 if addr.version == 4 else 64}"
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise BadAddress(
            errno.EINVAL, f"bad {what} {text!r}: expected an address with a prefix such as 198.18.0.2/24 or fd00::2/64"
        ) from None
    ip = iface.ip
    if (
        ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or (
            ip.version == 4
            and iface.network.prefixlen < 32
            and ip in (iface.network.network_address, iface.network.broadcast_address)
        )
    ):
        raise BadAddress(errno.EINVAL, f"bad {what} {text!r}: not a usable host address")
    return iface


def _pair(kernel: str, host: str, what: str):
    k = parse_interface_address(kernel, f"kernel-side {what}")
    h = parse_interface_address(host, f"host {what}")
    if k.version != h.version:
        raise BadAddress(errno.EINVAL, f"{what}es {kernel} and {host} are of different IP versions")
    if h.ip not in k.network:
        raise BadAddress(
            errno.EINVAL,
            f"host {what} {h.ip} is not in the kernel side's subnet {k.network}: use an address in the same subnet",
        )
    if h.ip == k.ip:
        raise BadAddress(errno.EINVAL, f"host {what} and kernel-side {what} are both {h.ip}: they must differ")
    return k, h


def _open_pcap(path: str) -> Any:
    from tcplab.net.capture import open_writer

    try:
        return open_writer(path)
    except OSError as exc:
        raise TunError(exc.errno or errno.EIO, f"cannot write pcap file {path}: {exc.strerror}") from None


class TunLink:
    """A TUN device with the kernel side addressed; reads and writes bare IP packets.

    ``kernel_address``/``host_address`` are IPv4 (``kernel_address6``/``host_address6`` IPv6,
    optional; IPv6 addresses are added with ``nodad`` so they are usable at once). ``netns``: the
    network namespace the device lives in (None: the current one). ``pcap``: a file capturing
    every packet crossing the link, pcapng (interface named after the device) unless the name
    ends in ``.pcap``; stamped by ``clock()``: wall-clock time (a ``TunRuntime`` sets it to its
    run's clock, so the capture and the host's events tell the same time).

    ``offload`` (default True): open the device with a virtio-net header and ask the kernel for
    checksum and segmentation offloads (``tcplab.net.vnet``); ``offloads`` then says what it
    granted (``LinkOffloads``: the host's ``link``) and ``offload_note`` says it in words, with
    the reason when the kernel refused. The capture records packets as they cross the device:
    super-segments whole (as ``tcpdump -i`` on the kernel side shows them, with a comment giving
    their parts) and checksums the kernel finishes left partial.
    """

    def __init__(
        self,
        name: str = "tlab0",
        kernel_address: str | None = "198.18.0.1/24",
        host_address: str | None = "198.18.0.2/24",
        *,
        kernel_address6: str | None = None,
        host_address6: str | None = None,
        netns: str | None = None,
        pcap: str | None = None,
        mtu: int = 1500,
        offload: bool = True,
    ) -> None:
        if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or " " in name:
            raise BadAddress(errno.EINVAL, f"bad device name {name!r}: at most 15 characters, no '/' or spaces")
        self.name = name
        self.pairs: list[tuple[Any, Any]] = []
        if (kernel_address is None) != (host_address is None):
            raise BadAddress(errno.EINVAL, "give both the host address and the peer (kernel) address, or neither")
        if kernel_address is not None and host_address is not None:
            self.pairs.append(_pair(kernel_address, host_address, "address"))
        if (kernel_address6 is None) != (host_address6 is None):
            raise BadAddress(
                errno.EINVAL, "give both the host IPv6 address and the peer (kernel) IPv6 address, or neither"
            )
        if kernel_address6 is not None and host_address6 is not None:
            self.pairs.append(_pair(kernel_address6, host_address6, "IPv6 address"))
        if not self.pairs:
            raise BadAddress(errno.EINVAL, "the link needs at least one address pair")
        if not 576 <= mtu <= 65535:
            raise BadAddress(errno.EINVAL, f"bad MTU {mtu}: 576..65535")
        self.netns = netns
        self.pcap_path = pcap
        self.mtu = mtu
        self.offload = offload
        self.offloads = LinkOffloads(mtu)  # what the kernel granted, once open
        self.vnet_header = False  # every packet on the descriptor starts with a virtio-net header
        self.offload_note = "offloads off (asked for none)"
        self.fd = -1
        self._pcap: Any = None
        self.clock: Callable[[], float] = time.time
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.write_drops = 0

    # ---- addresses ---------------------------------------------------------------------------
    def host_addresses(self) -> list[str]:
        """The tcplab host's addresses (no prefix), IPv4 first."""
        return [str(h.ip) for _, h in self.pairs]

    def kernel_addresses(self) -> list[str]:
        return [str(k.ip) for k, _ in self.pairs]

    def networks(self) -> list[Any]:
        """The subnets the link reaches (what goes through tcplab rather than the kernel)."""
        return [h.network for _, h in self.pairs]

    # ---- lifecycle ---------------------------------------------------------------------------
    def open(self) -> TunLink:
        if self.fd >= 0:
            return self
        pcap = _open_pcap(self.pcap_path) if self.pcap_path else None
        try:
            with _netns.entered(self.netns):
                fd = self._open_device()
                try:
                    self._configure()
                except BaseException:
                    os.close(fd)
                    raise
        except BaseException:
            if pcap is not None:
                pcap.close()
            raise
        self.fd = fd
        self._pcap = pcap
        return self

    def _open_device(self) -> int:
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise TunMissing(
                errno.ENOENT, "/dev/net/tun does not exist: load the tun module ('sudo modprobe tun')"
            ) from None
        except PermissionError:
            raise NotPermitted(
                errno.EPERM, "cannot open /dev/net/tun: a TUN device needs root or CAP_NET_ADMIN (run with sudo)"
            ) from None
        flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if self.offload else 0)
        try:
            try:
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", self.name.encode(), flags))
            except OSError as exc:
                if not flags & IFF_VNET_HDR or exc.errno != errno.EINVAL:
                    raise
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", self.name.encode(), IFF_TUN | IFF_NO_PI))
                self.offload_note = "offloads refused: the kernel has no virtio-net header for TUN (EINVAL)"
                return fd
        except OSError as exc:
            os.close(fd)
            if exc.errno == errno.EPERM:
                raise NotPermitted(
                    errno.EPERM, f"creating TUN device {self.name} needs root or CAP_NET_ADMIN (run with sudo)"
                ) from None
            if exc.errno == errno.EBUSY:
                raise DeviceBusy(
                    errno.EBUSY,
                    f"TUN device {self.name} is busy (another program has it open): choose another --tun name",
                ) from None
            if exc.errno == errno.EINVAL:
                raise DeviceBusy(
                    errno.EINVAL,
                    f"an interface named {self.name} exists and is not a TUN device: choose another --tun name",
                ) from None
            raise TunError(exc.errno, f"TUNSETIFF {self.name}: {exc.strerror}") from None
        if flags & IFF_VNET_HDR:
            self._enable_offloads(fd)
        return fd

    def _enable_offloads(self, fd: int) -> None:
        """Ask for checksum and TCP segmentation offloads, then checksum alone, then nothing:
        what the kernel grants goes into ``offloads``, and into ``offload_note`` in words."""
        fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", vnet.SIZE))
        self.vnet_header = True
        why = ""
        for features, granted in (
            (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, LinkOffloads(self.mtu, checksum=True, segmentation=GSO_MAX)),
            (TUN_F_CSUM, LinkOffloads(self.mtu, checksum=True)),
        ):
            try:
                fcntl.ioctl(fd, TUNSETOFFLOAD, features)
            except OSError as exc:
                why = errno.errorcode.get(exc.errno or 0, str(exc))
                continue
            self.offloads = granted
            refused = f" (segmentation refused by the kernel: {why})" if why else ""
            self.offload_note = f"offloads on: {granted}{refused}"
            return
        self.offload_note = f"offloads refused by the kernel ({why}): plain packets"

    def _configure(self) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            with IPRoute() as ipr:
                idx = ipr.link_lookup(ifname=self.name)[0]
                ipr.link("set", index=idx, mtu=self.mtu, state="up")
                existing = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx)}
                for k, _ in self.pairs:
                    if (str(k.ip), k.network.prefixlen) in existing:
                        continue
                    kwargs: dict[str, Any] = {}
                    if k.version == 6:
                        kwargs["flags"] = IFA_F_NODAD
                    ipr.addr("add", index=idx, address=str(k.ip), prefixlen=k.network.prefixlen, **kwargs)
        except NetlinkError as exc:
            code = exc.code if isinstance(exc.code, int) else errno.EIO
            if code == errno.EPERM:
                raise NotPermitted(
                    code, f"configuring {self.name} needs root or CAP_NET_ADMIN (run with sudo)"
                ) from None
            if code == errno.EEXIST:
                raise BadAddress(
                    code,
                    f"an address of {self.name}'s subnet is already used "
                    "elsewhere in this namespace: choose another subnet",
                ) from None
            raise TunError(code, f"configuring {self.name}: {os.strerror(code)}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the (non-persistent) device disappears with its last descriptor
            self.fd = -1
        if self._pcap is not None:
            with contextlib.suppress(Exception):
                self._pcap.close()
            self._pcap = None

    def __enter__(self) -> TunLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        return self.fd

    # ---- packets -----------------------------------------------------------------------------
    def read(self) -> bytes | None:
        """One packet the kernel sent (the IP packet alone), or None when none is waiting."""
        got = self.receive()
        return None if got is None else bytes(got[0])

    def receive(self) -> tuple[bytes | memoryview, vnet.RxInfo] | None:
        """One packet the kernel sent and what its virtio-net header says (checksum vouched
        for, super-segment), or None when none is waiting."""
        try:
            data = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return None
            raise
        if self.vnet_header:
            info = vnet.rx_info(data)
            pkt: bytes | memoryview = memoryview(data)[vnet.SIZE :]
        else:
            info, pkt = vnet.PLAIN_RX, data
        self.packets_in += 1
        self.bytes_in += len(pkt)
        if self._pcap is not None:
            self._capture(pkt, info.gso_size)
        return pkt, info

    def write(self, packet: bytes, gso_size: int = 0) -> None:
        """Hand one packet to the kernel (dropped and counted if the kernel refuses it).
        ``gso_size``: a super-segment for the kernel to split into parts of that much payload
        (only where ``offloads.segmentation`` allows it)."""
        if self._pcap is not None:
            self._capture(packet, gso_size)
        try:
            if self.vnet_header:
                os.writev(self.fd, (vnet.header_for(packet, gso_size, self.offloads.checksum), packet))
            else:
                os.write(self.fd, packet)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINVAL, errno.EIO, errno.ENOBUFS, errno.EMSGSIZE):
                self.write_drops += 1
                return
            raise
        self.packets_out += 1
        self.bytes_out += len(packet)

    def _capture(self, packet: bytes | memoryview, gso_size: int) -> None:
        comment = vnet.describe(packet, gso_size) if gso_size else None
        self._pcap.write(packet, self.clock(), comment=comment, interface=self.name)


class Impairment:
    """netem-like impairment inside the loop, for kernels without ``sch_netem``: each packet is
    lost with probability ``loss``; the rest are held ``delay`` seconds, except that a fraction
    ``reorder`` goes at once (overtaking the held ones, as netem's reorder does). ``direction``:
    "in" (kernel -> tcplab), "out" (tcplab -> kernel) or "both". Seeded: runs are repeatable up
    to the real clock's jitter."""

    def __init__(
        self, loss: float = 0.0, reorder: float = 0.0, delay: float = 0.0, direction: str = "both", seed: int = 1
    ) -> None:
        import random

        if direction not in ("in", "out", "both"):
            raise ValueError("direction is 'in', 'out' or 'both'")
        self.loss = loss
        self.reorder = reorder
        self.delay = delay
        self.inbound = direction in ("in", "both")
        self.outbound = direction in ("out", "both")
        self.random = random.Random(seed)
        self.dropped = 0
        self.reordered = 0

    def fate(self) -> float | None:
        """None: drop; else the delay to apply."""
        r = self.random.random
        if self.loss and r() < self.loss:
            self.dropped += 1
            return None
        if self.reorder and r() < self.reorder:
            self.reordered += 1
            return 0.0
        return self.delay


_NO_GSO: dict[int, int] = {}
_TRUSTED = vnet.RxInfo(True, 0)


class TunRuntime:
    """The I/O loop that drives a ``Node`` over a :class:`TunLink` with the real clock.

    It is also the node's ``runtime`` (installed as ``node.runtime`` when the node has that
    attribute): ``now()`` is the seconds since the runtime started (``time.monotonic()`` from
    then; ``epoch`` is that start as wall-clock time, which the link's capture adds),
    ``wait_until(predicate, timeout)`` runs the loop until the predicate holds, ``kick()`` sends
    what a user call queued, ``call_later`` runs a callback later (from inside the loop).
    ``add_reader(fd, callback)`` watches other descriptors (the control socket) in the same loop.

    ``busy_poll`` (seconds, 0 = off): before the loop sleeps in ``select``, it polls its
    descriptors without sleeping for up to that long, as Linux's ``net.core.busy_poll`` /
    ``SO_BUSY_POLL`` spins on a device queue: a packet that comes within that time is taken at
    once, without the sleep and the wake-up (a scheduler round trip) in between, at the price of
    a CPU kept busy while it waits. ``tcplab serve --busy-poll USEC``.

    Three ways to run it: in the caller's thread (``run``, ``run_until``, ``step``; blocking
    socket calls run the loop themselves), inside an asyncio loop (``attach_asyncio``), or in a
    thread of its own (``start()``) for programs with threads of their own: then every access to
    the node holds ``runtime.lock`` (tcplab's sockets take it) and a blocking call in another
    thread waits on a condition the loop signals after each round.
    """

    virtual_time = False  # real time: readiness may change while nobody calls in (fileno() works)

    def __init__(
        self,
        link: TunLink,
        node: Any,
        *,
        answer_ping: bool = False,
        install: bool = True,
        impairment: Impairment | None = None,
        busy_poll: float = 0.0,
    ) -> None:
        self.link = link
        self.busy_poll = busy_poll
        self.impairment = impairment
        self._held: list[tuple[float, int, bool, Any]] = []  # (due, tick, inbound, packet)
        self.node = node
        # A node that knows links (a Host) gets the link's offloads and its super-segments
        # whole; any other node gets plain packets, super-segments split here.
        self._offloads_known = hasattr(node, "link")
        self.answer_ping = answer_ping
        self._own = {str(a) for a in node.addresses()}
        self._sel = selectors.DefaultSelector()
        self._readers: dict[int, Callable[[], Any]] = {}
        self._sel.register(link.fileno(), selectors.EVENT_READ, None)
        self._calls: list[tuple[float, int, Callable[[], Any]]] = []
        self._tick = itertools.count()
        self._aio: Any = None
        self._aio_timer: Any = None
        self._busy = False
        self.stopped = False
        # The run's clock: 0 now; captures are stamped epoch + now() (wall-clock time).
        self._origin = time.monotonic()
        self.epoch = time.time()
        link.clock = lambda: self.epoch + self.now()
        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        if install and hasattr(node, "runtime"):
            node.runtime = self
        if self._offloads_known:
            node.link = link.offloads

    # ---- the runtime protocol ----------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self._origin

    def kick(self) -> None:
        if self._busy:
            return  # the loop flushes after the current callback
        if self._thread is not None:
            with self.lock:
                self._flush()
            self._wake_loop()  # its timers may have changed
            return
        self._flush()
        if self._aio is not None:
            self._aio_reschedule()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        heapq.heappush(self._calls, (self.now() + max(0.0, delay), next(self._tick), callback))
        if self._aio is not None:
            self._aio_reschedule()
        self._wake_loop()

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool:
        # A real peer may answer any time: no horizon.
        if self._thread is not None and threading.current_thread() is not self._thread:
            with self.lock:
                return self._cond.wait_for(predicate, timeout)
        return self.run_until(predicate, timeout)

    # ---- the loop in a thread of its own -------------------------------------------------------
    def start(self) -> None:
        """Run the loop in a background thread until :meth:`close` (see the class docstring)."""
        if self._thread is not None:
            return
        self.stopped = False
        self._thread = threading.Thread(target=self._serve, name="tcplab-tun", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            with self.lock:
                self._busy = True
                try:
                    self._flush()
                finally:
                    self._busy = False
                wake = self._next_wakeup()
            wait = 1.0 if wake is None else min(1.0, max(0.0, wake - self.now()))
            events = self._select(wait)
            with self.lock:
                self._busy = True
                try:
                    self._handle(events)
                finally:
                    self._busy = False
                self._cond.notify_all()

    def _wake_loop(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 512):
                pass

    # ---- extra descriptors -------------------------------------------------------------------
    def add_reader(self, fd: Any, callback: Callable[[], Any]) -> None:
        fileno = fd if isinstance(fd, int) else fd.fileno()
        self._readers[fileno] = callback
        self._sel.register(fileno, selectors.EVENT_READ, callback)
        if self._aio is not None:
            self._aio.add_reader(fileno, self._guarded, callback)

    def remove_reader(self, fd: Any) -> None:
        fileno = fd if isinstance(fd, int) else fd.fileno()
        if self._readers.pop(fileno, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(fileno)
            if self._aio is not None:
                self._aio.remove_reader(fileno)

    # ---- the loop ----------------------------------------------------------------------------
    def _deliver(self, pkt: Any, info: vnet.RxInfo, now: float) -> None:
        if self.answer_ping:
            reply = self._ping_reply(bytes(pkt))
            if reply is not None:
                self.link.write(reply)
                return
        if info is vnet.PLAIN_RX or not vnet.is_tcp(pkt):
            self.node.deliver(pkt, now)
        elif self._offloads_known:
            self.node.deliver(pkt, now, checksum_ok=info.checksum_ok, gso_size=info.gso_size)
        else:  # a node that knows no offloads gets wire packets: split, checksums complete
            for part in vnet.segment(pkt, info.gso_size or vnet.WHOLE, partial_checksum=False):
                self.node.deliver(part, now)

    def _ping_reply(self, pkt: bytes) -> bytes | None:
        from tcplab.wire import MalformedPacket, build_icmp_echo_reply, parse_packet

        if (
            not pkt
            or (pkt[0] >> 4 == 4 and len(pkt) > 9 and pkt[9] != 1)
            or (pkt[0] >> 4 == 6 and len(pkt) > 6 and pkt[6] != 58)
        ):
            return None
        try:
            parsed = parse_packet(pkt)
        except MalformedPacket:
            return None
        if str(parsed.dst) not in self._own:
            return None
        return build_icmp_echo_reply(parsed)

    def _read_ready(self) -> None:
        """Read what the kernel sent, until the device is empty (or a batch is done)."""
        receive = self.link.receive
        imp = self.impairment
        if imp is not None and not imp.inbound:
            imp = None
        for _ in range(_READ_BATCH):
            got = receive()
            if got is None:
                break
            pkt, info = got
            if imp is None:
                self._deliver(pkt, info, self.now())
            elif info.gso_size:  # loss strikes wire packets: the parts of a super-segment
                trusted = self._offloads_known
                for part in vnet.segment(pkt, info.gso_size, partial_checksum=trusted):
                    self._impair(imp, True, (part, _TRUSTED if trusted else vnet.PLAIN_RX))
            else:
                self._impair(imp, True, (bytes(pkt), info))

    def _impair(self, imp: Impairment, inbound: bool, item: Any) -> None:
        """``item``: (packet, RxInfo) coming in, (packet, gso_size) going out."""
        delay = imp.fate()
        if delay is None:
            return
        if delay <= 0:  # at once, overtaking the held packets (netem's reordering)
            self._carry(inbound, item, self.now())
            return
        heapq.heappush(self._held, (self.now() + delay, next(self._tick), inbound, item))

    def _carry(self, inbound: bool, item: Any, now: float) -> None:
        if inbound:
            self._deliver(item[0], item[1], now)
        else:
            self.link.write(*item)

    def _poll(self) -> tuple[list[bytes], dict[int, int]]:
        """The node's packets, and which are super-segments (index -> gso_size)."""
        if self.link.offloads.segmentation and self._offloads_known:
            out, gso_at = self.node.poll_transmit_offloaded()
            return out, gso_at
        return self.node.poll_transmit(), _NO_GSO

    def _flush(self) -> None:
        imp = self.impairment
        if imp is not None and not imp.outbound:
            imp = None
        write = self.link.write
        partial = self.link.offloads.checksum
        out, gso_at = self._poll()
        while out:
            if imp is not None:
                for i, pkt in enumerate(out):
                    gso_size = gso_at.get(i, 0)
                    for part in vnet.segment(pkt, gso_size, partial) if gso_size else (pkt,):
                        self._impair(imp, False, (part, 0))
            elif gso_at:
                for i, pkt in enumerate(out):
                    write(pkt, gso_at.get(i, 0))
            else:
                for pkt in out:
                    write(pkt)
            out, gso_at = self._poll()

    def _run_due(self, now: float) -> None:
        held = self._held
        while held and held[0][0] <= now:
            _, _, inbound, item = heapq.heappop(held)
            self._carry(inbound, item, now)
        node = self.node
        deadline = node.next_deadline()
        if deadline is not None and deadline <= now:
            node.handle_timeout(now)
        calls = self._calls
        while calls and calls[0][0] <= now:
            _, _, cb = heapq.heappop(calls)
            cb()

    def _next_wakeup(self) -> float | None:
        deadline = self.node.next_deadline()
        if self._calls:
            first = self._calls[0][0]
            deadline = first if deadline is None else min(deadline, first)
        if self._held:
            first = self._held[0][0]
            deadline = first if deadline is None else min(deadline, first)
        return deadline

    def step(self, timeout: float | None = None) -> None:
        """Wait for packets (at most ``timeout`` seconds, or until the next timer), process what
        arrived, fire due timers, send what the node queued."""
        self._busy = True
        try:
            self._flush()
            now = self.now()
            wake = self._next_wakeup()
            wait = timeout
            if wake is not None:
                until = max(0.0, wake - now)
                wait = until if wait is None else min(wait, until)
            self._handle(self._select(wait))
        finally:
            self._busy = False

    def _select(self, wait: float | None) -> list:
        """The descriptors that are ready, waiting at most ``wait`` seconds (None: no limit):
        with ``busy_poll``, polled without sleeping for up to that long first."""
        select = self._sel.select
        spin = self.busy_poll
        if spin <= 0 or wait == 0:
            return select(wait)
        clock = time.monotonic
        start = clock()
        end = start + (spin if wait is None else min(spin, wait))
        while True:
            events = select(0)
            if events:
                return events
            now = clock()
            if now >= end:
                break
        return select(None if wait is None else max(0.0, wait - (now - start)))

    def _handle(self, events: list) -> None:
        """What one round of the loop does with the descriptors that are ready: read packets
        (or run a reader's callback), fire due timers, send what the node queued."""
        for key, _ in events:
            if key.data is None:
                self._read_ready()
            else:
                key.data()
            self._flush()
        self._run_due(self.now())
        self._flush()

    def run_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Run the loop until ``predicate()`` is true (True) or ``timeout`` seconds pass."""
        if predicate():
            return True
        end = None if timeout is None else self.now() + timeout
        while True:
            left = None
            if end is not None:
                left = end - self.now()
                if left <= 0:
                    self._flush()
                    return predicate()
            self.step(left if left is None else min(left, 1.0))
            if predicate():
                return True
            if self.stopped:
                return predicate()

    def run(self, duration: float | None = None) -> None:
        """Run until :meth:`stop` is called (or ``duration`` seconds pass)."""
        self.stopped = False
        self.run_until(lambda: self.stopped, duration)

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        thread = self._thread
        if thread is not None:
            self.stopped = True
            self._wake_loop()
            if thread is not threading.current_thread():
                thread.join(5)
            self._thread = None
        self.detach_asyncio()
        self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ---- asyncio -----------------------------------------------------------------------------
    @property
    def threaded(self) -> bool:
        """The loop runs in a thread of its own (``start()``)."""
        return self._thread is not None

    @property
    def asyncio_loop(self) -> Any:
        """The asyncio loop the link is attached to (None: not attached)."""
        return self._aio

    def attach_asyncio(self, loop: Any) -> None:
        """Drive the link from an asyncio event loop (``loop.add_reader`` on the TUN descriptor;
        timers with ``loop.call_at``). Blocking ``wait_until`` must not be used while attached."""
        self._aio = loop
        loop.add_reader(self.link.fileno(), self._guarded, self._read_ready)
        for fileno, cb in self._readers.items():
            loop.add_reader(fileno, self._guarded, cb)
        self._aio_reschedule()

    def detach_asyncio(self) -> None:
        loop = self._aio
        if loop is None:
            return
        with contextlib.suppress(Exception):
            loop.remove_reader(self.link.fileno())
            for fileno in self._readers:
                loop.remove_reader(fileno)
        if self._aio_timer is not None:
            self._aio_timer.cancel()
            self._aio_timer = None
        self._aio = None

    def _guarded(self, callback: Callable[[], Any]) -> None:
        self._busy = True
        try:
            callback()
            self._run_due(self.now())
            self._flush()
        finally:
            self._busy = False
        self._aio_reschedule()

    def _aio_timeout(self) -> None:
        self._aio_timer = None
        self._guarded(lambda: None)

    def _aio_reschedule(self) -> None:
        loop = self._aio
        if loop is None:
            return
        wake = self._next_wakeup()
        timer = self._aio_timer
        if timer is not None:
            if wake is not None and timer.when() == wake + self._origin:
                return
            timer.cancel()
            self._aio_timer = None
        if wake is not None:
            # asyncio's clock is time.monotonic() (BaseEventLoop.time); ours starts at _origin.
            self._aio_timer = loop.call_at(wake + self._origin, self._aio_timeout)


def host_for_link(link: TunLink, name: str = "tcplab", **kwargs: Any) -> Any:
    """A ``tcplab.host.Host`` owning the link's host addresses."""
    from tcplab.host import Host

    return Host(name, link.host_addresses(), **kwargs)
