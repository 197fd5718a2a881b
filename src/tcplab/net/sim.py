"""A deterministic simulated network: hosts joined by impaired links, on a virtual clock.

Nodes (``tcplab.host`` hosts, or anything with the :class:`Node` shape) exchange raw IP packets.
The network is a discrete-event simulator: it keeps a heap of future events (packet arrivals,
node timers, user actions) and jumps the virtual clock ``net.now`` from one to the next, so a
60 s TIME_WAIT costs nothing in real time. Every random choice comes from a ``random.Random``
seeded from ``Network(seed=...)``, so the same seed and the same actions give the same run, packet
for packet.

Quick tour::

    net = Network(seed=1, log=EventLog())
    client, server = net.add(Host("client", ...)), net.add(Host("server", ...))
    net.link(client, server, delay=0.05, bandwidth=1_000_000, loss=0.01)
    net.call_at(0.0, lambda: client_sock.connect(...))
    net.run_until(lambda: conn.state is State.ESTABLISHED, timeout=10)
    net.run(until=net.now + 120)          # TIME_WAIT expires in no real time

Links
    ``net.link(a, b, **impairments)`` joins two nodes; each direction has its own
    :class:`LinkParams` (``net.link(a, b, LinkParams(delay=0.1), reverse=LinkParams(delay=0.3))``
    for an asymmetric link). A packet sent at ``now`` waits for the link to be free, takes
    ``len / bandwidth`` seconds to serialise, then ``delay`` (+ jitter, + reorder delay) to
    propagate; arrival times are rounded to whole nanoseconds (never before the send time).
    Impairments are decided when the packet is sent, in this order: queue overflow,
    loss, congestion marking (``ecn_mark``: CE for ECN-capable packets, a drop for others),
    corruption, duplication, reordering, jitter. A node may also send to its own address:
    that goes over an implicit loopback link with no delay and no impairments (and arrives
    through the node's ``deliver_loopback`` when it has one).

Routing
    A packet goes to the node that owns its destination address (``node.addresses()``). Only the
    IP header is peeked (version, destination). Packets that are too short or not IPv4/IPv6 are
    counted as ``malformed``; packets to an address nobody owns, or to a node with no link from
    the sender, are counted as ``unroutable``. Both are dropped with a ``note`` event; the network
    never raises because of a packet's bytes.

The loop
    ``net.run(until=None)`` processes events in time order (same-time events in the order they
    were scheduled) until none remain or the next is later than ``until``;
    ``net.run_until(predicate, timeout=...)`` stops as soon as ``predicate()`` holds. After every
    packet delivery or timeout the node concerned is drained (``poll_transmit()``) and its timer
    re-armed (``next_deadline()``); ``net.call_at(t, fn)`` / ``net.call_later(dt, fn)`` run user
    actions in virtual time and then poll every node. After calling a node directly outside a run,
    ``net.poll()`` (or ``net.kick(node)``) sends what the call queued; ``run`` polls on entry too.
    Inside an event (one node's callback touching another node) ``net.kick(node)`` has ``node``
    serviced right after the current event; ``net.running`` tells which case applies.

Fault rules force rare moments deterministically (see :class:`Match`)::

    net.add_rule(Rule("drop", Match(src="server", has_flags="F")))          # server's first FIN
    net.add_rule(Rule("delay", Match(src="client", has_flags="F"), delay=0.2))
    net.add_rule(Rule("delay", Match(src="server", has_flags="F"), delay=0.2))  # FINs cross
    net.add_rule(Rule("duplicate", Match(flags="S.")))                # the first SYN-ACK, twice
    net.add_rule(Rule("drop", Match(src="client", data=True, nth=3, count=2)))  # 3rd+4th data segs
    net.add_rule(Rule("drop", Match(flags=lambda seg: seg.window == 0, count=None)))
    net.add_rule(Rule("corrupt", Match(dst="server", data=True, nth=5)))  # a bad checksum

Observation
    With an :class:`~tcplab.trace.events.EventLog`, every TCP packet put on a link is recorded as
    a ``segment`` event at its send time (``host`` is the sender): ``src``/``dst`` (node names),
    ``sport``/``dport``, ``flags``, ``seq``/``ack`` relative to each direction's ISN (learnt from
    SYNs; absolute when the SYN was never seen; ``ack`` is 0 without the ACK flag),
    ``abs_seq``/``abs_ack``, ``len`` (payload bytes), ``win`` (raw window
    field), ``options`` (tcpdump style), ``fate`` (``delivered``, ``dropped``, ``duplicated``,
    ``corrupted``, ``marked``: arrived with CE), ``t_arrive`` (None when dropped), ``ecn`` (the IP
    ECN field as sent, when not Not-ECT) and, for drops, ``why`` (``loss``, ``rule``, ``queue``,
    ``aqm``). ``net.capture(writer)`` hands every packet a node sends to a capture writer
    when it is sent, dropped ones too, with a comment saying what the network did to it and the
    sender as the interface (``PcapngWriter``: per-packet comments and interface names that
    Wireshark shows; ``PcapWriter``: classic pcap, which has no room for them). Capture times
    are ``EPOCH + t`` (2000-01-01T00:00:00Z + virtual time). ``net.stats`` counts.

Standard library only (plus ``tcplab.trace.events`` and ``tcplab.wire``).
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol, runtime_checkable

from tcplab.trace.events import EPOCH, EventLog
from tcplab.wire.errors import MalformedPacket
from tcplab.wire.tcp import Flags, Segment, flags_str, format_option_bytes, parse_flags, parse_tcp

__all__ = [
    "EPOCH",
    "Link",
    "LinkDirection",
    "LinkParams",
    "Match",
    "NetStats",
    "Network",
    "Node",
    "Rule",
    "SimulationError",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@runtime_checkable
class Node(Protocol):
    """What the network needs from a node (a ``tcplab.host`` host, or a test's fake)."""

    name: str

    def addresses(self) -> list[IPAddress]:
        """The IP addresses this node owns; packets to them are delivered to it."""
        ...

    def deliver(self, packet: bytes, now: float) -> None:
        """An IP packet arrives (it may be corrupt: the node parses, counts and drops). A node
        may also have ``deliver_loopback(packet, now)``: then a packet it sent to its own
        address arrives there instead (a host accepts its own source address only so)."""
        ...

    def poll_transmit(self) -> list[bytes]:
        """Drain the IP packets the node wants to send now."""
        ...

    def next_deadline(self) -> float | None:
        """The node's earliest timer, or None."""
        ...

    def handle_timeout(self, now: float) -> None:
        """Called at (or after) ``next_deadline()``."""
        ...


class SimulationError(Exception):
    """Misuse of the simulator (time going backwards, a runaway run, unknown nodes)."""


# ---- link parameters -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LinkParams:
    """One direction of a link.

    - ``delay``: propagation delay in seconds.
    - ``jitter``: extra delay drawn uniformly from ``[0, jitter)`` per packet (may reorder).
    - ``bandwidth``: bytes per second; None is infinitely fast (no serialisation delay, no queue).
    - ``loss``, ``duplicate``, ``corrupt``: per-packet probabilities. A corrupted packet has one
      byte of its payload (or, without payload, of its TCP ports/numbers/window) inverted, so its
      transport checksum fails at the receiver.
    - ``reorder``: probability that a packet gets ``reorder_delay`` extra seconds (default:
      ``max(delay, 1 ms)``), so packets sent after it overtake it.
    - ``queue_limit``: packets the link buffers (including the one being serialised) before it
      tail-drops; only meaningful with a ``bandwidth``.
    - ``ecn_mark``: probability that a packet meets congestion at an active queue manager that
      signals it as RFC 3168 5 describes: an ECN-capable packet (ECT) is marked CE and delivered,
      any other is dropped.
    """

    delay: float = 0.01
    jitter: float = 0.0
    bandwidth: float | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    queue_limit: int | None = None
    reorder_delay: float | None = None
    ecn_mark: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay", "jitter"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"link {name} must be >= 0 seconds, got {value!r}")
        for name in ("loss", "duplicate", "reorder", "corrupt", "ecn_mark"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"link {name} is a probability in [0, 1], got {value!r}")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError(f"link bandwidth must be > 0 bytes/s or None, got {self.bandwidth!r}")
        if self.queue_limit is not None and self.queue_limit < 1:
            raise ValueError(f"link queue_limit must be >= 1 packet or None, got {self.queue_limit!r}")
        if self.reorder_delay is not None and not self.reorder_delay >= 0:
            raise ValueError(f"link reorder_delay must be >= 0 seconds, got {self.reorder_delay!r}")


_LINK_PARAM_NAMES = frozenset(f.name for f in fields(LinkParams))


def _make_params(base: LinkParams | None, changes: dict[str, Any]) -> LinkParams:
    unknown = set(changes) - _LINK_PARAM_NAMES
    if unknown:
        raise TypeError(
            f"unknown link impairment(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_LINK_PARAM_NAMES))})"
        )
    if base is None:
        return LinkParams(**changes)
    return replace(base, **changes) if changes else base


class LinkDirection:
    """One direction of a link: its parameters, its random stream, its queue and counters."""

    __slots__ = ("_queue", "busy_until", "delivered", "dropped", "dst", "params", "rng", "sent", "src")

    def __init__(self, src: str, dst: str, params: LinkParams, rng: random.Random) -> None:
        self.src = src
        self.dst = dst
        self.params = params
        self.rng = rng
        self.busy_until = 0.0  # when the transmitter finishes the last queued packet
        self._queue: deque[float] = deque()  # serialisation end times of queued packets
        self.sent = 0
        self.delivered = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return f"<LinkDirection {self.src}->{self.dst} {self.params}>"


class Link:
    """A link between two nodes: ``forward`` carries a -> b, ``reverse`` carries b -> a."""

    __slots__ = ("a", "b", "forward", "reverse")

    def __init__(self, a: str, b: str, forward: LinkDirection, reverse: LinkDirection) -> None:
        self.a = a
        self.b = b
        self.forward = forward
        self.reverse = reverse

    def set(self, **impairments: Any) -> None:
        """Change impairments on both directions from now on, e.g. ``link.set(loss=0.5)``."""
        self.forward.params = _make_params(self.forward.params, impairments)
        self.reverse.params = _make_params(self.reverse.params, impairments)

    def __repr__(self) -> str:
        return f"<Link {self.a}<->{self.b}>"


# ---- fault rules -----------------------------------------------------------------------------
def _name_of(node: Any) -> str | None:
    if node is None or isinstance(node, str):
        return node
    return node.name


class Match:
    """Which packets a :class:`Rule` applies to. All given criteria must hold.

    - ``src``, ``dst``: the sending / receiving node (a name or the node itself).
    - ``flags``: the exact TCP flags, written as tcpdump does: ``"S"``, ``"S."``, ``"."``,
      ``"P."``, ``"F."``, ``"R"``, ``"R."`` (``.`` is ACK; ECN's ``E``/``W`` count too).
      ``"-"`` is a segment with no flag at all. ``flags`` may instead be a predicate on the
      ``tcplab.wire`` Segment, same as ``where``.
    - ``has_flags``: these bits are set, whatever else is: ``has_flags="F"`` is any FIN.
      (``has_flag`` is accepted as a synonym.)
    - ``data``: True for segments carrying payload, False for segments without.
    - ``where``: a predicate ``f(segment) -> bool`` on the parsed ``tcplab.wire`` Segment.
    - ``nth``: the first matching packet to act on (1-based; each rule counts on its own).
    - ``count``: how many consecutive matching packets to act on from ``nth``; None for all.

    Any criterion about TCP (flags, has_flags, data, where) fails on packets that are not TCP.

    Examples::

        Match(src="server", has_flags="F")            # the server's first FIN
        Match(src="client", flags="S", nth=1, count=3)  # the client's first three SYNs
        Match(dst="server", data=True, nth=2)         # the second data segment to the server
        Match(has_flags="R", count=None)              # every RST, either way
    """

    __slots__ = ("_exact", "_has", "_tcp", "count", "data", "dst", "flags", "has_flags", "nth", "src", "where")

    def __init__(
        self,
        src: Any = None,
        dst: Any = None,
        *,
        flags: str | Callable[..., bool] | None = None,
        has_flags: str | None = None,
        has_flag: str | None = None,
        data: bool | None = None,
        where: Callable[..., bool] | None = None,
        nth: int = 1,
        count: int | None = 1,
    ) -> None:
        if has_flag is not None:
            if has_flags is not None:
                raise TypeError("give has_flags or has_flag, not both")
            has_flags = has_flag
        if callable(flags):
            if where is not None:
                raise TypeError("give a predicate as flags= or where=, not both")
            where, flags = flags, None
        if nth < 1:
            raise ValueError(f"nth counts from 1, got {nth!r}")
        if count is not None and count < 1:
            raise ValueError(f"count must be >= 1 or None (every match), got {count!r}")
        self.src = _name_of(src)
        self.dst = _name_of(dst)
        self.flags = flags
        self.has_flags = has_flags
        self.data = data
        self.where = where
        self.nth = nth
        self.count = count
        self._exact = int(parse_flags(flags)) if flags is not None else None
        self._has = int(parse_flags(has_flags)) if has_flags is not None else None
        self._tcp = flags is not None or has_flags is not None or data is not None or where is not None

    def __repr__(self) -> str:
        parts = []
        for name in ("src", "dst", "flags", "has_flags", "data", "where"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        parts.append(f"nth={self.nth}")
        parts.append(f"count={self.count}")
        return f"Match({', '.join(parts)})"


RULE_ACTIONS = ("drop", "delay", "duplicate", "corrupt")


class Rule:
    """An action on the packets a :class:`Match` selects.

    ``action`` is ``"drop"``, ``"delay"`` (by ``delay`` extra seconds), ``"duplicate"`` or
    ``"corrupt"``. Rules act at send time, after routing, before the link's random impairments
    (a rule-dropped packet does not occupy the link; a delayed one may still be lost at random).
    Every rule sees every packet; several may act on one packet. ``seen`` counts matching packets
    so far, ``hits`` the packets the rule acted on.
    """

    __slots__ = ("action", "delay", "hits", "match", "seen")

    def __init__(self, action: str, match: Match | None = None, *, delay: float = 0.0) -> None:
        if action not in RULE_ACTIONS:
            raise ValueError(f"unknown rule action {action!r} (use one of {', '.join(RULE_ACTIONS)})")
        if action == "delay" and not delay > 0:
            raise ValueError(f"a delay rule needs delay > 0 seconds, got {delay!r}")
        self.action = action
        self.match = match if match is not None else Match()
        self.delay = float(delay)
        self.seen = 0
        self.hits = 0

    def __repr__(self) -> str:
        extra = f", delay={self.delay}" if self.action == "delay" else ""
        return f"Rule({self.action!r}, {self.match!r}{extra}) seen={self.seen} hits={self.hits}"


# ---- counters ----------------------------------------------------------------------------------
@dataclass(slots=True)
class NetStats:
    """Packet counters for the whole network."""

    sent: int = 0  # packets nodes handed to the network
    delivered: int = 0  # packet arrivals at nodes (a duplicated packet arrives twice)
    dropped_loss: int = 0  # lost at random (LinkParams.loss)
    dropped_rule: int = 0  # dropped by a Rule
    dropped_queue: int = 0  # tail-dropped by a full link queue
    dropped_aqm: int = 0  # dropped by the AQM of ``ecn_mark`` (not ECN-capable)
    marked_ce: int = 0  # marked congestion experienced by that AQM instead
    duplicated: int = 0  # packets that were sent twice
    corrupted: int = 0  # packets with a byte flipped
    delayed: int = 0  # packets a delay rule held back
    reordered: int = 0  # packets given the reorder delay
    unroutable: int = 0  # no owner for the destination address, or no link to it
    malformed: int = 0  # not even an IP header to route by

    @property
    def dropped(self) -> int:
        return self.dropped_loss + self.dropped_rule + self.dropped_queue + self.dropped_aqm

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---- header peeks (the only parsing the hot path does) ------------------------------------------
_TCP_HEAD = struct.Struct("!HHIIBBH")
_IPV6_EXT = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_FLAGS_TEXT = [flags_str(Flags(bits)) for bits in range(256)]
# TCP header bytes whose damage only the checksum notices: ports, seq, ack, window, csum, urgent
_TCP_PLAIN_BYTES = (*range(12), *range(14, 20))


_ECN_TEXT = ("Not-ECT", "ECT(1)", "ECT(0)", "CE")  # tcpdump's words for the IP ECN field

_DROP_WHY = {
    "loss": "dropped: lost on the link",
    "rule": "dropped by a fault rule",
    "queue": "dropped: the link's queue was full",
    "aqm": "dropped: congestion at an AQM, and the packet is not ECN-capable",
}


def _fate_note(
    drop_why: str | None, dup: bool, corrupt: bool, extra: float, reordered_by: float, marked: bool = False
) -> str | None:
    """What the network did to a packet, for a capture's comment (None: a plain delivery). The
    first word is the fate, as in the segment events."""
    if drop_why is not None:
        return _DROP_WHY[drop_why]
    notes = []
    if marked:
        notes.append("marked CE: congestion experienced at an AQM (RFC 3168 5)")
    if corrupt:
        notes.append("corrupted: a byte flipped on the link, the receiver finds a bad checksum")
    if dup:
        notes.append("duplicated: the network delivers it twice")
    if extra:
        notes.append(f"delayed by {extra * 1000:g} ms (a fault rule)")
    if reordered_by:
        notes.append(f"delayed by {reordered_by * 1000:g} ms (reordered: later packets overtake it)")
    return "; ".join(notes) or None


def _ecn_field(packet: bytes) -> int:
    """The IP header's ECN field (RFC 3168 5): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE."""
    if packet[0] >> 4 == 4:
        return packet[1] & 3
    return (packet[1] >> 4) & 3


def _mark_ce(packet: bytes) -> bytes:
    """The packet with its ECN field set to CE (the IPv4 header checksum updated)."""
    out = bytearray(packet)
    if out[0] >> 4 == 4:
        out[1] |= 3
        ihl = (out[0] & 0x0F) * 4
        out[10:12] = b"\x00\x00"
        total = sum(struct.unpack_from(f"!{ihl // 2}H", out, 0))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        out[10:12] = struct.pack("!H", ~total & 0xFFFF)
    else:
        out[1] |= 0x30
    return bytes(out)


def _route_key(packet: bytes) -> bytes | None:
    """The packed destination address, or None when there is no IP header to read it from."""
    n = len(packet)
    if n < 20:
        return None
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or n < ihl:
            return None
        return packet[16:20]
    if version == 6 and n >= 40:
        return packet[24:40]
    return None


def _transport(packet: bytes) -> tuple[int, int, int]:
    """``(protocol, offset of the transport header, end of the IP payload)``; protocol -1 when
    the transport header cannot be found (fragments, truncated extension headers)."""
    n = len(packet)
    if packet[0] >> 4 == 4:
        ihl = (packet[0] & 0x0F) * 4
        total = (packet[2] << 8) | packet[3]
        end = total if ihl <= total <= n else n
        if (packet[6] & 0x1F) or packet[7]:  # not the first fragment: no transport header here
            return -1, ihl, end
        return packet[9], ihl, end
    total = 40 + ((packet[4] << 8) | packet[5])
    end = total if total <= n else n
    nh, off = packet[6], 40
    while nh in _IPV6_EXT:
        if off + 2 > end:
            return -1, 40, end
        nh, off = packet[off], off + (packet[off + 1] + 1) * 8
    if off > end:
        return -1, 40, end
    return nh, off, end


def _tcp_fields(packet: bytes, off: int, end: int) -> tuple[int, ...] | None:
    """``(sport, dport, seq, ack, flags, window, header_len, payload_len)`` or None."""
    if off + 20 > end:
        return None
    sport, dport, seq, ack, offb, flags, win = _TCP_HEAD.unpack_from(packet, off)
    hlen = (offb >> 4) * 4
    if hlen < 20 or off + hlen > end:
        return None
    return sport, dport, seq, ack, flags, win, hlen, end - off - hlen


def _parse_segment(packet: bytes) -> Segment | None:
    """The ``tcplab.wire`` Segment of a TCP packet (checksum not verified), or None."""
    proto, off, end = _transport(packet)
    if proto != 6:
        return None
    try:
        return parse_tcp(packet[off:end], verify_checksum=False)
    except MalformedPacket:
        return None


# ---- the simulator -----------------------------------------------------------------------------
_ARRIVE, _TIMER, _CALL, _LOOP = 0, 1, 2, 3  # _LOOP: an arrival over a node's own loopback
_LOOPBACK = LinkParams(delay=0.0)
SPIN_LIMIT = 200_000  # events at one instant before the network calls it a livelock


class _SpinGuard:
    """Who keeps the clock frozen: nodes that answer each other with zero delay for ever (an ACK
    war over a zero-delay link, a packet a node keeps answering itself) would run for ever at
    one instant. The loop counts events in a row at one instant; over its last 1000 before
    ``limit`` this tallies them, and at ``limit`` raises SimulationError naming the busiest."""

    __slots__ = ("busy", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy: dict[str, int] = {}

    def tally(self, count: int, t: float, kind: int, name: str) -> None:
        what = f"{_KIND_TEXT[kind]} {name}"
        self.busy[what] = self.busy.get(what, 0) + 1
        if count >= self.limit:
            top = sorted(self.busy.items(), key=lambda kv: -kv[1])[:3]
            raise SimulationError(
                f"{count} events at t={t:.6f} without the clock moving: a livelock (nodes "
                "answering each other with no delay); the last 1000 were "
                + ", ".join(f"{n} {w}" for w, n in top)
                + " (Network(spin_limit=...) sets the limit)"
            )


_KIND_TEXT = {_ARRIVE: "packets to", _TIMER: "timers of", _CALL: "calls", _LOOP: "loopback packets to"}


class _Slot:
    """The network's bookkeeping for one node."""

    __slots__ = ("name", "node", "timer_at", "timer_token")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.name = node.name
        self.timer_at: float | None = None
        self.timer_token = -1


class Network:
    """The simulated network. See the module docstring for a tour."""

    def __init__(self, seed: int = 0, log: EventLog | None = None, spin_limit: int = SPIN_LIMIT) -> None:
        self.seed = seed
        self.log = log
        self.spin_limit = spin_limit  # events in a row without the clock moving: SimulationError
        self.now = 0.0
        self.stats = NetStats()
        self.random = random.Random(f"tcplab.net.sim/{seed}")  # for callers' own choices
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.rules: list[Rule] = []
        self._slots: dict[str, _Slot] = {}
        self._owners: dict[bytes, _Slot] = {}
        self._dirs: dict[tuple[_Slot, _Slot], LinkDirection] = {}
        self._heap: list[tuple[Any, ...]] = []
        self._seq = 0
        self._taps: list[Any] = []
        self._isn: dict[tuple[bytes, int, bytes, int], int] = {}
        self._isn_ended: set[tuple[bytes, int, bytes, int]] = set()
        self._running = False
        self._interrupt: BaseException | None = None
        self._kicked: list[_Slot] | None = None  # nodes to service after the current event

    @property
    def running(self) -> bool:
        """True while ``run``/``run_until`` is processing events (user code runs inside one)."""
        return self._running

    # -- building the network ----------------------------------------------------------------
    def add(self, node: Node) -> Node:
        """Attach a node; its ``addresses()`` become routable. Returns the node."""
        name = node.name
        if name in self._slots:
            raise ValueError(f"a node named {name!r} is already in the network")
        slot = _Slot(node)
        owners = self._owners_with(slot)
        self._slots[name] = slot
        self.nodes[name] = node
        self._owners = owners
        return node

    def _owners_with(self, extra: _Slot | None = None, strict: bool = True) -> dict[bytes, _Slot]:
        """Address -> node. Two nodes claiming one address is an error when building the network
        (``strict``); later (nodes changed their addresses) the first-added node keeps it."""
        owners: dict[bytes, _Slot] = {}
        slots = list(self._slots.values()) + ([extra] if extra is not None else [])
        for slot in slots:
            for addr in slot.node.addresses():
                packed = ipaddress.ip_address(addr).packed
                other = owners.get(packed)
                if other is not None and other is not slot:
                    if not strict:
                        continue
                    raise ValueError(
                        f"address {ipaddress.ip_address(addr)} belongs to both {other.name!r} and {slot.name!r}"
                    )
                owners[packed] = slot
        return owners

    def refresh_addresses(self) -> None:
        """Re-read every node's ``addresses()`` (done by itself on an unknown destination)."""
        self._owners = self._owners_with(strict=False)

    def _slot(self, node: Node | str) -> _Slot:
        name = node if isinstance(node, str) else node.name
        slot = self._slots.get(name)
        if slot is None:
            raise SimulationError(f"no node named {name!r} in this network; add it with net.add()")
        return slot

    def link(
        self,
        a: Node | str,
        b: Node | str,
        params: LinkParams | None = None,
        *,
        reverse: LinkParams | None = None,
        **impairments: Any,
    ) -> Link:
        """Join ``a`` and ``b``. ``params`` (or the keyword impairments, or both: keywords override
        ``params``) apply to a -> b and, unless ``reverse`` is given, to b -> a as well."""
        sa, sb = self._slot(a), self._slot(b)
        if sa is sb:
            raise ValueError(f"cannot link {sa.name!r} to itself (its own addresses are loopback)")
        if (sa, sb) in self._dirs:
            raise ValueError(
                f"{sa.name!r} and {sb.name!r} are already linked; change the existing link with link.set(...)"
            )
        fwd_params = _make_params(params, impairments)
        rev_params = reverse if reverse is not None else fwd_params
        fwd = LinkDirection(
            sa.name, sb.name, fwd_params, random.Random(f"tcplab.net.sim/{self.seed}/{sa.name}>{sb.name}")
        )
        rev = LinkDirection(
            sb.name, sa.name, rev_params, random.Random(f"tcplab.net.sim/{self.seed}/{sb.name}>{sa.name}")
        )
        self._dirs[(sa, sb)] = fwd
        self._dirs[(sb, sa)] = rev
        link = Link(sa.name, sb.name, fwd, rev)
        self.links.append(link)
        return link

    def direction(self, src: Node | str, dst: Node | str) -> LinkDirection:
        """The link direction carrying ``src`` -> ``dst`` (assign its ``params`` to change it)."""
        d = self._dirs.get((self._slot(src), self._slot(dst)))
        if d is None:
            raise SimulationError(f"no link between {_name_of(src)!r} and {_name_of(dst)!r}")
        return d

    def add_rule(self, rule: Rule) -> Rule:
        """Install a fault rule (see :class:`Rule` and :class:`Match`). Returns it."""
        for end in (rule.match.src, rule.match.dst):
            if end is not None and end not in self._slots:
                raise SimulationError(f"rule names node {end!r}, which is not in this network")
        self.rules.append(rule)
        return rule

    def remove_rule(self, rule: Rule) -> None:
        self.rules.remove(rule)

    def capture(self, writer: Any) -> Any:
        """Tap every packet a node sends, when it is sent, whatever its fate:
        ``writer.write(packet, EPOCH + t, comment=..., interface=sender)`` (a ``PcapngWriter``
        or a ``PcapWriter``). ``comment`` says what the network did to it when that was not
        a plain delivery ("dropped: lost on the link", "duplicated: ...", "corrupted: ...",
        "delayed by 200 ms ...") and is None otherwise. Returns the writer."""
        self._taps.append(writer)
        return writer

    def stop_capture(self, writer: Any) -> None:
        self._taps.remove(writer)

    # -- scheduling ---------------------------------------------------------------------------
    def _push(self, t: float, kind: int, target: Any, data: Any) -> int:
        seq = self._seq
        self._seq = seq + 1
        heapq.heappush(self._heap, (t, seq, kind, target, data))
        return seq

    def call_at(self, t: float, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` at virtual time ``t``; afterwards every node is polled for packets."""
        if t < self.now:
            raise SimulationError(f"cannot schedule at t={t}: it is already t={self.now} (time only moves forward)")
        self._push(float(t), _CALL, None, fn)

    def call_later(self, delay: float, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` ``delay`` virtual seconds from now."""
        if delay < 0:
            raise SimulationError(f"call_later needs a delay >= 0, got {delay!r}")
        self._push(self.now + delay, _CALL, None, fn)

    def poll(self) -> None:
        """After calling nodes directly: drain their packets onto the links, re-arm their timers."""
        for slot in list(self._slots.values()):
            self._service(slot)

    def kick(self, node: Node | str | None = None) -> None:
        """A user call on ``node`` (None: on any node) queued packets or changed timers. Outside
        a run this polls at once, like :meth:`poll`; inside an event (a callback of one node
        touching another) the node is serviced right after the current event."""
        slots = list(self._slots.values()) if node is None else [self._slot(node)]
        if not self._running:
            for slot in slots:
                self._service(slot)
            return
        if self._kicked is None:
            self._kicked = []
        self._kicked.extend(slots)

    def interrupt(self, exc: BaseException) -> None:
        """Have the run in progress raise ``exc`` once the event it is processing is done (or
        the next run raise it before its first event): a clean point to stop a script that
        drives the network through blocking calls. Every packet the event produced is sent."""
        self._interrupt = exc

    def _raise_interrupt(self) -> None:
        if self._interrupt is not None:
            exc, self._interrupt = self._interrupt, None
            raise exc

    def inject(self, src: Node | str, packet: bytes) -> None:
        """Put ``packet`` on the network now as if node ``src`` had sent it."""
        self._transmit(self._slot(src), bytes(packet))

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and heap[0][2] == _TIMER and heap[0][3].timer_token != heap[0][4]:
            heapq.heappop(heap)

    def pending(self) -> int:
        """Events still scheduled (superseded timer entries deeper in the heap included)."""
        self._drop_stale()
        return len(self._heap)

    def next_event_time(self) -> float | None:
        """When the next event is due, or None when nothing is scheduled."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    # -- running ------------------------------------------------------------------------------
    def run(self, until: float | None = None, max_events: int = 1_000_000) -> int:
        """Poll every node (packets and timers from direct calls on them), then process events
        until none remain or the next is later than ``until`` (the clock then reads ``until``).
        Returns the number of events processed. Raises SimulationError after ``max_events``
        events (a node that re-arms a timer forever never runs dry)."""
        return self._loop(until, None, max_events)[1]

    def run_until(
        self, predicate: Callable[[], bool], timeout: float | None = 600.0, max_events: int = 1_000_000
    ) -> bool:
        """Run until ``predicate()`` is true (checked before the first and after every event);
        False if events run out or ``timeout`` virtual seconds pass first (the clock then reads
        now + timeout)."""
        if predicate():
            return True
        until = None if timeout is None else self.now + timeout
        return self._loop(until, predicate, max_events)[0]

    def _loop(self, until: float | None, predicate: Callable[[], bool] | None, max_events: int) -> tuple[bool, int]:
        if self._running:
            raise SimulationError("the network is already running (run() called from an event)")
        self._running = True
        heap = self._heap
        pop = heapq.heappop
        done = 0
        guard = _SpinGuard(self.spin_limit)
        watch_from = self.spin_limit - 1000
        instant, same = -1.0, 0  # the current instant and how many events it has had
        try:
            self.poll()  # whatever user calls made since the last event: their packets and timers
            self._raise_interrupt()
            while heap:
                if until is not None and heap[0][0] > until:
                    break
                t, _seq, kind, target, data = pop(heap)
                if t != instant:
                    instant, same = t, 0
                    if guard.busy:
                        guard.busy.clear()
                else:
                    same += 1
                    if same >= watch_from:
                        guard.tally(same, t, kind, target.name if target is not None else "")
                if kind in (_ARRIVE, _LOOP):
                    self.now = t
                    self.stats.delivered += 1
                    node = target.node
                    if kind == _LOOP and hasattr(node, "deliver_loopback"):
                        node.deliver_loopback(data, t)
                    else:
                        node.deliver(data, t)
                    self._service(target)
                elif kind == _TIMER:
                    if target.timer_token != data:
                        continue  # superseded by a later re-arm
                    self.now = t
                    target.timer_token = -1
                    target.timer_at = None
                    target.node.handle_timeout(t)
                    self._service(target)
                else:
                    self.now = t
                    data()
                    self.poll()
                if self._kicked is not None:
                    kicked, self._kicked = self._kicked, None
                    for slot in dict.fromkeys(kicked):
                        self._service(slot)
                done += 1
                self._raise_interrupt()
                if predicate is not None and predicate():
                    return True, done
                if done >= max_events:
                    self._drop_stale()
                    if not heap or (until is not None and heap[0][0] > until):
                        break
                    raise SimulationError(
                        f"still busy after {max_events} events at t={self.now:.6f}; "
                        "pass until=/timeout= or a larger max_events"
                    )
        finally:
            self._running = False
            if self._kicked is not None:  # an event raised: still send what it queued
                kicked, self._kicked = self._kicked, None
                for slot in dict.fromkeys(kicked):
                    self._service(slot)
        if until is not None and self.now < until:
            self.now = until
        return False, done

    # -- the per-packet path ------------------------------------------------------------------
    def _service(self, slot: _Slot) -> None:
        node = slot.node
        for packet in node.poll_transmit():
            self._transmit(slot, packet)
        deadline = node.next_deadline()
        if deadline is None:
            slot.timer_at = None
            slot.timer_token = -1
            return
        if deadline < self.now:
            deadline = self.now
        if deadline != slot.timer_at or slot.timer_token < 0:
            token = self._seq  # the entry's own sequence number identifies it
            self._push(deadline, _TIMER, slot, token)
            slot.timer_at = deadline
            slot.timer_token = token

    def _note(self, host: str, text: str) -> None:
        if self.log is not None:
            self.log.record("note", self.now, host=host, text=text)

    def _transmit(self, src: _Slot, packet: bytes) -> None:
        """Put a packet a node sent on its way: routing, the fault rules, the link's
        impairments, then the trace."""
        self.stats.sent += 1
        if type(packet) is not bytes:
            packet = bytes(packet)
        route = self._route(src, packet)
        if route is None:
            return
        dst, d = route
        d.sent += 1
        log = self.log
        tcp: tuple[int, ...] | None = None
        off = 0
        if log is not None or self.rules:
            proto, off, end = _transport(packet)
            if proto == 6:
                tcp = _tcp_fields(packet, off, end)
        arrive: float | None = None
        if self.rules:
            drop, extra, dup, corrupt = self._apply_rules(src.name, dst.name, tcp, packet)
        else:
            drop, extra, dup, corrupt = False, 0.0, False, False
        why: str | None = "rule" if drop else None
        held = 0.0
        marked = False
        if not drop:
            arrive, why, dup_here, corrupt_here, held, marked = self._impair(d, packet, extra)
            dup, corrupt = dup or dup_here, corrupt or corrupt_here
        if arrive is None:
            d.dropped += 1
            fate = "dropped"
        else:
            fate = self._carry(d, dst, _mark_ce(packet) if marked else packet, arrive, dup, corrupt)
            if marked and fate == "delivered":
                fate = "marked"
        if log is not None and tcp is not None:
            self._record(log, src.name, dst.name, packet, off, tcp, fate, arrive, why)
        if self._taps:
            self._tap(src.name, packet, _fate_note(why, dup, corrupt, extra, held, marked))

    def _tap(self, sender: str, packet: bytes, comment: str | None) -> None:
        """The capture writers get the packet as it was sent, with what happened to it."""
        t = EPOCH + self.now
        for tap in self._taps:
            tap.write(packet, t, comment=comment, interface=sender)

    def _route(self, src: _Slot, packet: bytes) -> tuple[_Slot, LinkDirection] | None:
        """The node that owns the destination address and the link direction to it (to the
        sender itself: the loopback); None, counted and noted, when there is none."""
        stats = self.stats
        key = _route_key(packet)
        if key is None:
            stats.malformed += 1
            self._tap(src.name, packet, "dropped: malformed, no IP header to route by")
            self._note(
                src.name,
                f"network dropped a malformed packet from {src.name} ({len(packet)} bytes, no IP header to route by)",
            )
            return None
        dst = self._owners.get(key)
        if dst is None:
            self.refresh_addresses()
            dst = self._owners.get(key)
        if dst is None:
            self._unroutable(src, packet, key, "nobody owns that address")
            return None
        d = self._dirs.get((src, dst))
        if d is None:
            if dst is not src:
                self._unroutable(src, packet, key, f"no link to {dst.name}")
                return None
            d = LinkDirection(src.name, src.name, _LOOPBACK, random.Random(0))
            self._dirs[(src, src)] = d
        return dst, d

    def _unroutable(self, src: _Slot, packet: bytes, key: bytes, why: str) -> None:
        self.stats.unroutable += 1
        self._tap(src.name, packet, f"dropped: {why}")
        self._note(src.name, f"network dropped a packet from {src.name} to {ipaddress.ip_address(key)}: {why}")

    def _apply_rules(
        self, src: str, dst: str, tcp: tuple[int, ...] | None, packet: bytes
    ) -> tuple[bool, float, bool, bool]:
        """Every rule sees the packet; ``(drop, extra delay, duplicate, corrupt)`` from those
        that act on it."""
        stats = self.stats
        drop = dup = corrupt = False
        extra = 0.0
        for rule in self.rules:
            if not self._matches(rule.match, src, dst, tcp, packet):
                continue
            rule.seen += 1
            m = rule.match
            if rule.seen < m.nth or (m.count is not None and rule.seen >= m.nth + m.count):
                continue
            rule.hits += 1
            action = rule.action
            if action == "drop":
                drop = True
            elif action == "delay":
                extra += rule.delay
            elif action == "duplicate":
                dup = True
            else:
                corrupt = True
        if drop:
            stats.dropped_rule += 1
        elif extra:
            stats.delayed += 1
        return drop, extra, dup, corrupt

    def _impair(
        self, d: LinkDirection, packet: bytes, extra: float
    ) -> tuple[float | None, str | None, bool, bool, float, bool]:
        """The link's own fate for a packet sent now, drawn from its random stream in a fixed
        order (queue, loss, AQM marking, corruption, duplication, reordering, jitter):
        ``(arrival time or None, why it was dropped, duplicate, corrupt, reorder delay, CE)``."""
        stats = self.stats
        now = self.now
        p = d.params
        rng = d.rng
        size = len(packet)
        tx_end = now
        if p.bandwidth is not None:
            if p.queue_limit is not None:
                queue = d._queue
                while queue and queue[0] <= now:
                    queue.popleft()
                if len(queue) >= p.queue_limit:
                    stats.dropped_queue += 1
                    return None, "queue", False, False, 0.0, False
            start = d.busy_until if d.busy_until > now else now
            tx_end = start + size / p.bandwidth
            d.busy_until = tx_end
            if p.queue_limit is not None:
                d._queue.append(tx_end)
        if p.loss and rng.random() < p.loss:
            stats.dropped_loss += 1
            return None, "loss", False, False, 0.0, False
        marked = False
        if p.ecn_mark and rng.random() < p.ecn_mark:
            if not _ecn_field(packet):
                stats.dropped_aqm += 1
                return None, "aqm", False, False, 0.0, False
            stats.marked_ce += 1
            marked = True
        corrupt = bool(p.corrupt) and rng.random() < p.corrupt
        dup = bool(p.duplicate) and rng.random() < p.duplicate
        arrive = tx_end + p.delay + extra
        held = 0.0
        if p.reorder and rng.random() < p.reorder:
            stats.reordered += 1
            rd = p.reorder_delay
            held = rd if rd is not None else (p.delay if p.delay > 0.001 else 0.001)
            arrive += held
        if p.jitter:
            arrive += rng.random() * p.jitter
        # whole nanoseconds: 0.05 + 0.01 arrives at 0.06, not 0.060000000000000005
        # (but never before now: time only moves forward)
        rounded = round(arrive, 9)
        return (rounded if rounded >= now else now), None, dup, corrupt, held, marked

    def _carry(self, d: LinkDirection, dst: _Slot, packet: bytes, arrive: float, dup: bool, corrupt: bool) -> str:
        """Schedule the packet's arrival (corrupted, twice if duplicated); return its fate."""
        stats = self.stats
        fate = "delivered"
        if corrupt:
            stats.corrupted += 1
            packet = self._corrupt(packet, d.rng)
            fate = "corrupted"
        d.delivered += 1
        kind = _LOOP if d.params is _LOOPBACK else _ARRIVE
        self._push(arrive, kind, dst, packet)
        if dup:
            stats.duplicated += 1
            self._push(arrive, kind, dst, packet)
            if not corrupt:
                fate = "duplicated"
        return fate

    @staticmethod
    def _matches(m: Match, src: str, dst: str, tcp: tuple[int, ...] | None, packet: bytes) -> bool:
        if m.src is not None and m.src != src:
            return False
        if m.dst is not None and m.dst != dst:
            return False
        if not m._tcp:
            return True
        if tcp is None:
            return False
        flags = tcp[4]
        if m._exact is not None and flags != m._exact:
            return False
        if m._has is not None and flags & m._has != m._has:
            return False
        if m.data is not None and (tcp[7] > 0) != m.data:
            return False
        if m.where is not None:
            segment = _parse_segment(packet)
            if segment is None or not m.where(segment):
                return False
        return True

    @staticmethod
    def _corrupt(packet: bytes, rng: random.Random) -> bytes:
        """Invert one byte so the transport checksum fails and nothing else looks wrong: a payload
        byte; for a TCP segment without payload a byte of its ports, sequence numbers, window,
        checksum or urgent pointer (not the data offset, flags or options, whose damage a
        receiver would report first). Inverting one byte changes one 16-bit word by a nonzero
        amount below 0xFFFF, so the one's-complement sum always breaks. A packet with nothing
        after its IP header gets a byte of the IP header inverted."""
        proto, off, end = _transport(packet)
        pos = -1
        if proto == 6:
            tcp = _tcp_fields(packet, off, end)
            if tcp is not None:
                if tcp[7] > 0:
                    pos = off + tcp[6] + rng.randrange(tcp[7])
                else:
                    pos = off + _TCP_PLAIN_BYTES[rng.randrange(len(_TCP_PLAIN_BYTES))]
        if pos < 0:
            if end > off:
                pos = off + rng.randrange(end - off)
            else:
                pos = rng.randrange(len(packet))
        out = bytearray(packet)
        out[pos] ^= 0xFF
        return bytes(out)

    def _record(
        self,
        log: EventLog,
        src: str,
        dst: str,
        packet: bytes,
        off: int,
        tcp: tuple[int, ...],
        fate: str,
        arrive: float | None,
        why: str | None,
    ) -> None:
        sport, dport, seq, ack, flags, win, hlen, plen = tcp
        if packet[0] >> 4 == 4:
            saddr, daddr = packet[12:16], packet[16:20]
        else:
            saddr, daddr = packet[8:24], packet[24:40]
        isn_table = self._isn
        key = (saddr, sport, daddr, dport)
        if flags & 0x02 and (key not in isn_table or key in self._isn_ended):
            # SYN: this direction's ISN. The first SYN of a conversation wins (as tcpdump's
            # relative numbers do): an injected or old duplicate SYN does not renumber it; a
            # SYN after a FIN or RST on the 4-tuple starts a new conversation.
            isn_table[key] = seq
            self._isn_ended.discard(key)
            self._isn_ended.discard((daddr, dport, saddr, sport))
        elif flags & 0x05:  # FIN or RST: the next SYN on this 4-tuple is a new conversation
            self._isn_ended.add(key)
            self._isn_ended.add((daddr, dport, saddr, sport))
        isn = isn_table.get((saddr, sport, daddr, dport))
        rel_seq = (seq - isn) & 0xFFFFFFFF if isn is not None else seq
        if flags & 0x10:
            peer_isn = isn_table.get((daddr, dport, saddr, sport))
            rel_ack = (ack - peer_isn) & 0xFFFFFFFF if peer_isn is not None else ack
        else:
            rel_ack = 0
        options = format_option_bytes(packet[off + 20 : off + hlen]) if hlen > 20 else ""
        fields_: dict[str, Any] = {
            "src": src,
            "dst": dst,
            "sport": sport,
            "dport": dport,
            "flags": _FLAGS_TEXT[flags],
            "seq": rel_seq,
            "ack": rel_ack,
            "len": plen,
            "win": win,
            "fate": fate,
            "abs_seq": seq,
            "abs_ack": ack,
            "options": options,
            "t_arrive": round(arrive, 6) if arrive is not None else None,
        }
        if why is not None:
            fields_["why"] = why
        ecn = _ecn_field(packet)
        if ecn:
            fields_["ecn"] = _ECN_TEXT[ecn]  # as sent; fate "marked": it arrived CE
        log.record("segment", self.now, host=src, **fields_)
