"""One IP host: addresses, demultiplexing, listeners, ports, RST for segments that match nothing.

The host demultiplexes; the engine (``tcplab.tcp``) decides. It is a ``Node`` (``deliver``,
``poll_transmit``, ``next_deadline``, ``handle_timeout``) for whatever carries its packets, and
its user calls wait on a ``Runtime``. Applications reach it through ``Socket(host)``
(``tcplab.socket``) or the asyncio streams (``tcplab.aio``), which use the methods in the "for the
socket layer" section below. See docs/architecture.md ("The engine decides; the host
demultiplexes", "A segment's journey").
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import heapq
import ipaddress
import itertools
import operator
import os
import random
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from tcplab.host.fragments import COUNTER_NAMES as FRAGMENT_COUNTERS
from tcplab.host.fragments import Reassembler
from tcplab.host.link import LinkOffloads
from tcplab.host.ports import LINUX_EPHEMERAL_RANGE, EphemeralPorts
from tcplab.host.runtime import Runtime
from tcplab.tcp import events as E
from tcplab.tcp import seq as sq
from tcplab.tcp.arrivals import ListenVerdict, listen_verdict, reset_for
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.fastopen import SERVER, SERVER_ALL_LISTENERS, CookieKey
from tcplab.tcp.icmp import report as icmp_report
from tcplab.tcp.isn import ISNGenerator
from tcplab.tcp.ratelimit import ChallengeAckLimit
from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition
from tcplab.tcp.syncookies import VALID_AFTER_OVERFLOW, SynCookies, decode_ts_options, encode_ts_options
from tcplab.tcp.timewait import TimeWait
from tcplab.trace.events import EventLog
from tcplab.wire import (
    MalformedPacket,
    Packet,
    build_icmp_echo_reply,
    build_icmp_reassembly_timeout,
    build_packet,
    fragment_packet,
    parse_icmp_error,
    parse_packet,
)
from tcplab.wire.tcp import MSS, TCP_PROTOCOL, Flags, Option, SackPermitted, Segment, Timestamps, WindowScale

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ConnKey = tuple[str, int, str, int]  # (local ip, local port, remote ip, remote port)

# Linux net.core.somaxconn: listen() silently caps the backlog to this.
SOMAXCONN = 4096
EVENT_RING = 1000  # events a host keeps by default (EventLog(limit=...)): the latest 1000-2000

# The counters, in the order ``format_counters`` prints them (names after ``netstat -s``).
COUNTER_NAMES = (
    "active_opens",  # connect() sent a SYN (Linux ActiveOpens)
    "passive_opens",  # a SYN created a child connection (Linux PassiveOpens)
    "failed_attempts",  # SYN_SENT/SYN_RCVD -> CLOSED, SYN_RCVD -> LISTEN (Linux AttemptFails)
    "established_resets",  # ESTABLISHED/CLOSE_WAIT -> CLOSED by RST (Linux EstabResets)
    "segments_received",  # every parsed TCP segment (Linux InSegs)
    "segments_sent",  # every TCP segment built (Linux OutSegs)
    "segments_retransmitted",  # sum of the engine's tcp_info total_retrans (Linux RetransSegs)
    "resets_received",  # segments with RST that arrived
    "resets_sent",  # segments with RST sent, by connections or by the host (Linux OutRsts)
    "no_listener_resets",  # RSTs the host sent for segments that matched nothing
    "bad_checksums",  # packets dropped for a bad checksum (Linux InCsumErrors)
    "malformed",  # packets dropped as malformed (all reasons; per reason in host.malformed)
    "not_for_us",  # packets for an address this host does not own
    "martians",  # packets from a source no peer can have (LAND, loopback, multicast, ...) dropped
    "listen_overflows",  # accept queue full (Linux ListenOverflows)
    "listen_drops",  # SYNs / final ACKs dropped by a listener (Linux ListenDrops)
    "aborts_on_memory",  # closed connections reset because there were too many orphans (TCPAbortOnMemory)
    "syncookies_sent",  # SYN-ACKs carrying a SYN cookie (Linux SyncookiesSent)
    "syncookies_recv",  # ACKs that brought a valid cookie back (Linux SyncookiesRecv)
    "syncookies_failed",  # ACKs to a listener that sent cookies lately, with a bad one (SyncookiesFailed)
    "icmp_echo_replies",  # ping answered
    "icmp_errors",  # ICMP errors about our TCP segments, taken by a connection
    "icmp_out_of_window",  # ... quoting a sequence number out of window (Linux OutOfWindowIcmps)
    *FRAGMENT_COUNTERS,  # IP reassembly: fragments, datagrams rebuilt, failures, timeouts, overlaps
    "other_protocols",  # packets of protocols other than TCP / ICMP echo, dropped
    "internal_errors",  # exceptions caught at the host boundary (a bug; see host.errors)
    "quiet_time_drops",  # segments not sent during the quiet time after a restart (RFC 9293 3.4.3)
)

_TW = State.TIME_WAIT
_NO_CHANGES: Mapping[str, object] = {}
# Every field of a Config, as one tuple (conn_config's key); and how many shared configs a host keeps.
_config_values = operator.attrgetter(*(f.name for f in dataclasses.fields(Config)))
_CONN_CONFIGS_KEPT = 64


def _transition_counter(t: Transition) -> str | None:
    """The host counter a transition counts in (Linux's TCP MIB): a failed attempt, an
    established connection reset, or none."""
    if t.src in (State.SYN_SENT, State.SYN_RCVD) and t.dst in (State.CLOSED, State.LISTEN):
        return "failed_attempts"
    if t.src in (State.ESTABLISHED, State.CLOSE_WAIT) and t.cause is Cause.RCV_RST:
        return "established_resets"
    return None


# Per row of TRANSITIONS, worked out once: the "state" event's fields as traces print them (a
# connection takes five or six rows; each str() of an enum member is a Python-level call). The
# counter is not looked up so: hashing a row hashes its three enum members, in Python.
_ROW_FIELDS = {t: {"from": str(t.src), "to": str(t.dst), "cause": str(t.cause)} for t in TRANSITIONS}
# ... and the host counter each row counts in, by the row's identity (each state change names
# its row of TRANSITIONS, the very object): no hashing of enum members, ten a connection.
_ROW_COUNTERS = {id(t): _transition_counter(t) for t in TRANSITIONS}
_DEFAULT_MSS = Config().mss  # Config's default advertised MSS: the one for a 1500-byte MTU


def host_secret(name: str, seed: int | None) -> bytes:
    """The secret a host keys its ISNs and ephemeral ports with: derived from ``seed`` for a
    reproducible run (simulations, tests), else 32 bytes from ``os.urandom`` (RFC 6528 section 3:
    the key must be unknown outside the host; a name and a seed are easy to guess)."""
    if seed is None:
        return os.urandom(32)
    return hashlib.sha256(f"tcplab host {name} seed {seed}".encode()).digest()


def conn_label(local: tuple[str, int], remote: tuple[str, int] | None) -> str:
    def one(ep: tuple[str, int] | None) -> str:
        if ep is None:
            return "*:*"
        ip, port = ep
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    return f"{one(local)}-{one(remote)}"


@dataclass(eq=False, slots=True)
class Binding:
    """A port taken by bind() on a socket that is not (yet) connected or listening: a plain
    record the host checks new binds against. The socket layer owns it and drops it from
    ``host.bound`` when the socket connects, listens or closes."""

    ip: str  # "0.0.0.0" / "::" for the wildcard; an IPv4-mapped address is kept as IPv4
    port: int
    reuseaddr: bool = False  # SO_REUSEADDR, kept current by the socket
    dualstack: bool = False  # "::" with IPV6_V6ONLY 0: the IPv4 port too


class Traffic:
    """What passed through one connection, counted by the host (Linux's tcp_info counters:
    segs_in/out, data_segs_in/out, bytes_sent/retrans, last_data_sent/recv, last_ack_recv)."""

    __slots__ = (
        "bytes_retrans",
        "bytes_sent",
        "data_segs_in",
        "data_segs_out",
        "high_seq",
        "last_ack_recv",
        "last_data_recv",
        "last_data_sent",
        "segs_in",
        "segs_out",
    )

    def __init__(self) -> None:
        self.segs_in = self.segs_out = self.data_segs_in = self.data_segs_out = 0
        self.bytes_sent = self.bytes_retrans = 0
        self.high_seq: int | None = None  # end of the highest data sent (what is below is resent)
        self.last_data_sent = self.last_data_recv = self.last_ack_recv = 0.0

    def sent(self, seg: Segment, now: float) -> None:
        self.segs_out += 1
        n = len(seg.payload)
        if not n:
            return
        self.data_segs_out += 1
        self.bytes_sent += n
        self.last_data_sent = now
        end = (seg.seq + n) & 0xFFFFFFFF
        high = self.high_seq
        if high is not None and ((high - end) & 0xFFFFFFFF) < 0x80000000:
            self.bytes_retrans += n  # ends at or below the highest sent: a retransmission
        else:
            self.high_seq = end

    def received(self, seg: Segment, now: float) -> None:
        self.segs_in += 1
        if seg.payload:
            self.data_segs_in += 1
            self.last_data_recv = now
        if seg.has_ack:  # (Segment's flag properties: plain int tests, not IntFlag arithmetic)
            self.last_ack_recv = now


class Waker(Protocol):
    """Whoever holds an endpoint or a listener (a socket): told when something happened to it."""

    def wake(self) -> None: ...


class Endpoint(Traffic):
    """The host's record of one connection: the engine's ``Connection`` plus bookkeeping, and
    what passed through it (the ``Traffic`` counters, kept in the endpoint itself). A host
    holds one per connection, tens of thousands of them: every slot counts; what can be worked
    out (the label) is, when first asked for."""

    __slots__ = (
        "_label",
        "conn",
        "deadline",
        "finished",
        "key",
        "listener",
        "orphan",
        "outcome",
        "owner",
        "retrans_counted",
    )

    def __init__(self, conn: Connection, listener: Listener | None = None, key: ConnKey | None = None) -> None:
        Traffic.__init__(self)
        # The engine's connection; in TIME-WAIT, once the application has gone, the small
        # record that replaces it (Host._keep_time_wait_record).
        self.conn: Connection | TimeWait = conn
        self.listener = listener  # the listener a child belongs to until accept()
        self.key = key  # its key in host.conns, once registered
        self.deadline: float | None = None
        self.outcome: str | None = None  # reset / refused / timed out, recorded once
        self.finished = False  # CLOSED (or discarded): gone from the host's tables
        self.retrans_counted = 0  # the engine's total_retrans already added to the host's counter
        self.orphan = False  # counted among the host's orphans
        self.owner: Waker | None = None  # the socket holding it: woken after its events
        self._label: str | None = None

    @property
    def label(self) -> str:
        """``laddr:lport-raddr:rport``, as events name the connection: made when first asked
        for (only a host whose events someone listens to names every connection)."""
        label = self._label
        if label is None:
            label = self._label = conn_label(self.conn.local, self.conn.remote)
        return label

    @property
    def state(self) -> State:
        return self.conn.state

    def live(self) -> Connection:
        """The engine's connection, for an endpoint that cannot be a TIME-WAIT record (one an
        application holds, a listener's child)."""
        conn = self.conn
        assert isinstance(conn, Connection), f"{self!r}: a TIME-WAIT record, not a connection"
        return conn

    def __repr__(self) -> str:
        return f"<Endpoint {self.label} {self.conn.state}>"


class Listener:
    """A listening socket: a SYN queue (children in SYN_RCVD) and an accept queue (ESTABLISHED).

    Linux semantics (net/ipv4/tcp_input.c tcp_conn_request, tcp_minisocks.c tcp_check_req):
    - both queues are bounded by ``backlog`` (capped at somaxconn 4096);
    - the accept queue counts as full when it holds MORE than backlog connections
      (``sk_acceptq_is_full``: ``sk_ack_backlog > sk_max_ack_backlog``), so backlog 0 still
      accepts one connection;
    - the SYN queue counts as full when it holds MORE than backlog children too (measured on
      Linux 6.18: a backlog-1 listener answers two SYNs, then sends cookies or drops);
    - a SYN arriving while the SYN queue is full is answered with a SYN cookie
      (``Config.syncookies`` = net.ipv4.tcp_syncookies 1, the default; 2: every SYN), or
      dropped with tcp_syncookies=0 (ListenDrops);
    - a SYN arriving while the accept queue is full is dropped (ListenOverflows, ListenDrops),
      cookie or not, and so is a cookie's ACK;
    - the final ACK of a handshake arriving while the accept queue is full is dropped
      (net.ipv4.tcp_abort_on_overflow=0: ListenOverflows, ListenDrops); the child stays in
      SYN_RCVD, retransmits its SYN-ACK and is accepted when a later ACK finds room, or expires
      after synack_retries.
    """

    def __init__(self, conn: Connection, local_ip: str, port: int, backlog: int) -> None:
        self.conn = conn  # an engine Connection in LISTEN (its transitions are logged)
        self.local_ip = local_ip  # "0.0.0.0" / "::" for the wildcard
        self.port = port
        self.backlog = backlog
        self.syn_queue: dict[ConnKey, Endpoint] = {}
        self.accept_queue: collections.deque[Endpoint] = collections.deque()
        self.owner: Waker | None = None  # the listening socket: woken when a child is ready
        self.closed = False
        self.label = conn_label((local_ip, port), None)
        self.config: Config = conn.config.copy()  # what children are cloned from
        self.user_mss: int | None = None  # TCP_MAXSEG set on the listening socket
        self.last_cookie: float | None = None  # when it last answered with a SYN cookie
        self.flood_warned = False  # the "possible SYN flooding" note is written once
        self.dualstack = False  # "::" with IPV6_V6ONLY 0: IPv4 connections come here too

    @property
    def wildcard(self) -> bool:
        return ipaddress.ip_address(self.local_ip).is_unspecified

    def accept_queue_full(self) -> bool:
        return len(self.accept_queue) > self.backlog

    def syn_queue_full(self) -> bool:
        return len(self.syn_queue) > self.backlog

    def fastopen_room(self) -> bool:
        """TCP Fast Open on this listener (Linux: the server bit of net.ipv4.tcp_fastopen and a
        TCP_FASTOPEN queue, or the all-listeners bit), with fewer Fast Open children still in
        SYN-RECEIVED than the queue allows (Linux fastopenq, else a plain handshake)."""
        cfg = self.config
        if not cfg.fastopen & SERVER:
            return False
        qlen = cfg.fastopen_queue or (self.backlog if cfg.fastopen & SERVER_ALL_LISTENERS else 0)
        pending = sum(
            1
            for ep in (*self.syn_queue.values(), *self.accept_queue)
            if isinstance(ep.conn, Connection) and ep.conn.fastopen and ep.conn.state is State.SYN_RCVD
        )
        return pending < qlen

    def __repr__(self) -> str:
        return f"<Listener {self.label} backlog={self.backlog}>"


# An address as text, once per address: str() of an ipaddress object costs a microsecond and a
# new string each time, and every connection keeps its addresses in its key and its endpoints.
_text: Callable[[IPAddress], str] = functools.lru_cache(maxsize=4096)(str)


def address_text(ip: IPAddress) -> str:
    """``str(ip)``, the same string object for the same address (connections keep it)."""
    return _text(ip)


_SHARED_ADDRESSES = 1024  # (ip, port) tuples a host keeps for its connections to share


def _immutable(packet: bytes | memoryview) -> bool:
    """The packet cannot change under a view of it: the payload may be kept without a copy."""
    return type(packet) is bytes or (type(packet) is memoryview and type(packet.obj) is bytes)


def _parts(seg: Segment) -> int:
    """The segments on the wire a super-segment stands for (Linux counts them so: pcount)."""
    return max(1, -(-len(seg.payload) // seg.gso_size))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class Host:
    """An IP host running tcplab's TCP. See the module docstring."""

    def __init__(
        self,
        name: str,
        addresses: Iterable[str] = ("198.18.0.2", "fd00::2"),
        config: Config | None = None,
        *,
        seed: int | None = None,
        isn_secret: bytes | None = None,
        log: EventLog | None = None,
        ephemeral_range: tuple[int, int] = LINUX_EPHEMERAL_RANGE,
        link: LinkOffloads | None = None,
    ) -> None:
        """``isn_secret`` keys the ISNs (RFC 6528) and ephemeral ports (RFC 6056). Give it, or a
        ``seed`` to derive it from (the simulator does: the same seed, the same run); with
        neither the host draws its own from ``os.urandom``, as a real stack must."""
        self.name = name
        # What the link under the host does (MTU, checksum and segmentation offloads): set by
        # whatever drives the host (the TUN runtime); the simulator's links do nothing for it.
        self.link = link if link is not None else LinkOffloads()
        self._addresses: list[IPAddress] = [ipaddress.ip_address(a) for a in addresses]
        if not self._addresses:
            raise ValueError("a host needs at least one address")
        self._own = {str(a) for a in self._addresses}
        self.config = config.copy() if config is not None else Config()
        self._conn_configs: dict[tuple[object, ...], Config] = {}  # conn_config's, shared
        # Without a log asked for, a bounded ring: a long-running host (tcplab serve) must not
        # keep every event of every connection for ever. Pass EventLog() for a whole trace.
        self.log = log if log is not None else EventLog(limit=EVENT_RING)
        self.isn_secret = secret = host_secret(name, seed) if isn_secret is None else isn_secret
        self.seed = seed
        self._ip_ident = int.from_bytes(secret[:4], "big")  # IP identification of our fragments
        self.ports = EphemeralPorts(secret, *ephemeral_range)
        self.isn = ISNGenerator(secret)
        # TCP Fast Open (RFC 7413): the key of this host's cookies, and the cookies servers
        # gave us, by server address (Linux keeps them in its tcp_metrics per destination).
        self.fastopen_key = CookieKey(secret)
        self.fastopen_cookies: dict[str, bytes] = {}
        self.cookies = SynCookies(secret)
        # RFC 5961 section 7: the host-wide challenge-ACK budget its connections share (Linux
        # tcp_challenge_ack_limit, read from this host's config); seeded from the host's secret.
        self.challenge_acks = ChallengeAckLimit(self.config, random.Random(secret))
        self.quiet_until: float | None = None  # RFC 9293 3.4.3: no segment leaves before this
        self.runtime: Runtime | None = None  # set by the simulator's runtime / the TUN link
        self.now = 0.0  # the latest time the host has seen
        self.conns: dict[ConnKey, Endpoint] = {}
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.bound: set[Binding] = set()  # ports bound by sockets not (yet) connected/listening
        self._out: list[bytes] = []
        self._gso_at: dict[int, int] = {}  # index in _out -> gso_size, for super-segments
        self._timers: list[tuple[float, int, Endpoint]] = []
        self._tick = itertools.count()
        self._counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self.fragments = Reassembler(counters=self._counters)
        self.malformed: collections.Counter[str] = collections.Counter()
        self._martian_cache: dict[IPAddress, tuple[bool, bool]] = {}
        # The last packet's source and its verdict, the last two addresses and their text:
        # found by identity, not by hashing (see _address_text).
        self._last_source: tuple[object, tuple[bool, bool]] = (None, (False, False))
        self._last_texts: tuple[object, str, object, str] = (None, "", None, "")
        # The local-port index bind() and port picking read: local IP -> local port ->
        # connections. By address first: a host has a few addresses and thousands of ports, and
        # a port's entry is then a dict slot, not a dict of its own (~200 bytes a client port).
        self._ports_by_ip: dict[str, dict[int, int]] = {}
        self._conns_peak = 0  # the most connections the table held since it was last copied
        self._addresses_shared: dict[tuple[str, int], tuple[str, int]] = {}  # see _shared
        self.orphans = 0  # connections closed by their application and not gone yet
        self.errors: list[str] = []  # tracebacks of exceptions caught at the host boundary

    @property
    def mtu(self) -> int:
        """The link's MTU: the MSS a connection offers is this less the headers, and bigger IP
        packets of ours (ICMP replies) are fragmented to it."""
        return self.link.mtu

    # ---- Node --------------------------------------------------------------------------------
    def addresses(self) -> list[IPAddress]:
        return list(self._addresses)

    def deliver(
        self, packet: bytes, now: float, loopback: bool = False, *, checksum_ok: bool = False, gso_size: int = 0
    ) -> None:
        """An IP packet arrives (``loopback``: one this host sent to its own address, over its
        loopback). Never raises: what cannot be used is counted and dropped.

        From a link with offloads: ``checksum_ok``, the link vouches for its checksums (they
        are not verified again); ``gso_size``, it is a coalesced super-segment (GRO) of parts
        of that many payload bytes, handed to the engine as such."""
        if now > self.now:
            self.now = now
        pkt = self._parse(packet, checksum_ok, gso_size)
        if pkt is None:
            return
        src = pkt.src
        if src is not self._last_source[0]:
            self._last_source = (src, self._martian_verdict(src))
        impossible, local = self._last_source[1]
        if impossible or (local and not loopback):
            self._counters["martians"] += 1
            return
        try:
            self._dispatch(pkt, now)
        except Exception:
            self._internal_error("processing a segment")

    def _parse(self, packet: bytes, checksum_ok: bool = False, gso_size: int = 0) -> Packet | None:
        try:
            # A payload is kept as a view of the packet when the packet cannot change: the
            # engine's receive buffer then holds it without a copy (one 64 KB copy less a read).
            pkt = parse_packet(packet, not checksum_ok, copy_payload=not _immutable(packet))
            if gso_size and pkt.tcp is not None:
                pkt.tcp.gso_size = gso_size
            return pkt
        except MalformedPacket as exc:
            reason = exc.reason or type(exc).__name__
            self.malformed[reason] += 1
            self._counters["malformed"] += 1
            if "checksum" in reason:
                self._counters["bad_checksums"] += 1
        except Exception:
            self._internal_error("parsing a packet")
        return None

    def _dispatch(self, pkt: Packet, now: float) -> None:
        if pkt.fragment is not None:
            self._fragment_arrives(pkt, now)
        elif pkt.tcp is not None:
            self._segment_arrives(self._address_text(pkt.src), self._address_text(pkt.dst), pkt.tcp, now)
        else:
            self._other_protocol(pkt, now)

    def _fragment_arrives(self, pkt: Packet, now: float) -> None:
        """A fragment for us: kept until its datagram is whole (``tcplab.host.fragments``),
        which is then processed as if it had come in one piece."""
        if str(pkt.dst) not in self._own:
            self._counters["not_for_us"] += 1
            return
        assert pkt.fragment is not None
        datagram = self.fragments.add(pkt.fragment, pkt.raw, now)
        if datagram is not None:
            whole = self._parse(datagram)
            if whole is not None:
                self._dispatch(whole, now)

    def _send_ip(self, packet: bytes) -> None:
        """Our own IP packet (not TCP: segments fit the MSS), fragmented when it exceeds the MTU."""
        if len(packet) > self.mtu:
            self._ip_ident = (self._ip_ident + 1) & 0xFFFFFFFF
            self._out.extend(fragment_packet(packet, self.mtu, self._ip_ident))
        else:
            self._out.append(packet)

    def deliver_loopback(self, packet: bytes, now: float) -> None:
        """A packet this host sent to one of its own addresses (the simulator's loopback)."""
        self.deliver(packet, now, loopback=True)

    def _address_text(self, ip: IPAddress) -> str:
        """``address_text(ip)``; for the address of the packet before (most packets on a link
        come from one peer to one address, the very objects the parser keeps), without hashing
        it (an ipaddress object hashes in Python)."""
        texts = self._last_texts
        if texts[0] is ip:
            return texts[1]
        if texts[2] is ip:
            return texts[3]
        text = _text(ip)
        self._last_texts = (ip, text, texts[0], texts[1])
        return text

    def _martian_verdict(self, src: IPAddress) -> tuple[bool, bool]:
        """Whether a source address is one no packet from a link may have, as Linux's martian
        filter (ip_route_input_slow, ip6_rcv_core): ``(impossible, local)``. Impossible from
        anywhere: unspecified, multicast, the limited broadcast, an IPv4-mapped IPv6 address;
        local, impossible except over the loopback: this host's own (a LAND attack: a SYN from
        our own address and port answers itself forever) and loopback addresses."""
        verdict = self._martian_cache.get(src)
        if verdict is None:
            if len(self._martian_cache) > 4096:
                self._martian_cache.clear()
            impossible = (
                src.is_unspecified
                or src.is_multicast
                or (src.version == 4 and int(src) == 0xFFFFFFFF)
                or (isinstance(src, ipaddress.IPv6Address) and src.ipv4_mapped is not None)
            )
            local = str(src) in self._own or src.is_loopback
            verdict = self._martian_cache[src] = (impossible, local)
        return verdict

    def _other_protocol(self, pkt: Packet, now: float) -> None:
        """Not TCP: answer ICMP echo requests to our addresses, hand ICMP errors about our
        segments to their connection, drop the rest (counted)."""
        if str(pkt.dst) not in self._own:
            self._counters["not_for_us"] += 1
            return
        reply = build_icmp_echo_reply(pkt)
        if reply is not None:
            self._send_ip(reply)
            self._counters["icmp_echo_replies"] += 1
        elif not self._icmp_error_arrives(pkt, now):
            self._counters["other_protocols"] += 1

    def _icmp_error_arrives(self, pkt: Packet, now: float) -> bool:
        """An ICMP error quoting a TCP segment we sent: the connection decides (RFC 1122
        4.2.3.9, RFC 5927); the host only finds it by the quoted addresses and ports."""
        err = parse_icmp_error(pkt)
        if err is None or err.protocol != TCP_PROTOCOL or err.sport is None or err.seq is None:
            return False
        rep = icmp_report(err.version, err.type, err.code, err.mtu)
        ep = self.conns.get((err.src, err.sport, err.dst, err.dport or 0))
        if rep is None or ep is None or ep.finished:
            return rep is not None
        if ep.conn.icmp_arrives(rep, err.seq, now):
            self._counters["icmp_errors"] += 1
        else:
            self._counters["icmp_out_of_window"] += 1
        self.service(ep, now)
        return True

    def poll_transmit(self) -> list[bytes]:
        out, self._out = self._out, []
        self._gso_at = {}
        return out

    def poll_transmit_offloaded(self) -> tuple[list[bytes], dict[int, int]]:
        """For a link that segments (``link.segmentation``): the packets to send, and which of
        them are super-segments (index -> gso_size: the payload of each part). With
        ``link.checksum`` every TCP checksum is left partial for the link to finish."""
        gso_at = self._gso_at
        return self.poll_transmit(), gso_at

    def next_deadline(self) -> float | None:
        timers = self._timers
        when: float | None = None
        while timers:
            when, _, ep = timers[0]
            if ep.finished or ep.deadline != when:
                heapq.heappop(timers)  # stale entry
                when = None
                continue
            break
        frag = self.fragments.next_deadline()
        if frag is not None and (when is None or frag < when):
            return frag
        return when

    def handle_timeout(self, now: float) -> None:
        if now > self.now:
            self.now = now
        for first in self.fragments.expire(now):
            self._send_ip(build_icmp_reassembly_timeout(first))
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, ep = heapq.heappop(timers)
            if ep.finished or ep.deadline != when:
                continue
            ep.deadline = None
            try:
                ep.conn.handle_timeout(now)
                self.service(ep, now)
            except Exception:
                self._internal_error("running a timer")

    def restart(self, now: float) -> None:
        """A crash and reboot: every connection, listener and binding is forgotten (no RST
        goes out: the host was down), and the ISN clock starts again from zero, as a host's
        clock without stable storage would (RFC 9293 3.4.1). With ``Config.quiet_time`` the host
        then keeps quiet for MSL (3.4.3): until ``now + MSL`` it takes no arriving TCP segment
        (so no connection, no sequence number is assigned) and sends none (both counted as
        quiet_time_drops). (A local active open in that time still picks its ISN at once; its
        SYN waits for the end of the quiet time.)"""
        if now > self.now:
            self.now = now
        for ep in list(self.conns.values()):
            self._discard(ep)
        for listener in list(self.listeners.values()):
            listener.closed = True
        self.listeners.clear()
        self.bound.clear()
        self._timers.clear()
        self._out.clear()
        self.fastopen_cookies.clear()  # kept in memory (Linux tcp_metrics); the key is configured
        self.fragments = Reassembler(counters=self._counters)  # fragments are forgotten too
        self.isn = ISNGenerator(self.isn_secret, clock_offset=-now)
        self.quiet_until = now + self.config.msl if self.config.quiet_time else None
        quiet = f"; quiet until {self.quiet_until:g} s (MSL)" if self.quiet_until is not None else ""
        self._note(now, f"host restarted: all connections forgotten{quiet}")

    # ---- time and wake-ups -------------------------------------------------------------------
    def time(self) -> float:
        """Now, for user calls: the runtime's clock when there is one."""
        if self.runtime is not None:
            now = self.runtime.now()
            if now > self.now:
                self.now = now
        return self.now

    def kick(self) -> None:
        """After a user call: let the runtime send what the call queued."""
        if self.runtime is not None and (self._out or self._timers):
            self.runtime.kick()

    def _internal_error(self, what: str) -> None:
        self._counters["internal_errors"] += 1
        text = traceback.format_exc()
        self.errors.append(text)
        last = text.strip().splitlines()[-1]
        self._note(self.now, f"internal error {what}: {last}")

    # ---- counters ----------------------------------------------------------------------------
    @property
    def counters(self) -> dict[str, int]:
        """The counters, kept as things happen (reading them costs nothing per connection)."""
        return self._counters

    # ---- demultiplexing ----------------------------------------------------------------------
    def _segment_arrives(self, src: str, dst: str, seg: Segment, now: float) -> None:
        c = self._counters
        c["segments_received"] += _parts(seg) if seg.gso_size else 1
        if seg.rst:
            c["resets_received"] += 1
        if dst not in self._own:
            c["not_for_us"] += 1
            return
        if self._quiet():
            # 3.4.3: no sequence number is assigned in the quiet time, so no SYN is taken.
            c["quiet_time_drops"] += 1
            return
        key = (dst, seg.dst_port, src, seg.src_port)
        ep = self.conns.get(key)
        if ep is not None:
            conn = ep.conn
            state = conn.state
            if state is _TW and seg.syn and not (seg.has_ack or seg.rst):
                listener = self.find_listener(dst, seg.dst_port)
                if listener is not None and conn.time_wait_accepts_syn(seg, now):
                    # RFC 9293 3.6.1 / RFC 6191, as Linux (tcp_timewait_state_process,
                    # TCP_TW_SYN): a SYN beyond RCV.NXT (or with a newer timestamp) ends the
                    # TIME_WAIT incarnation and goes to the listener as a new connection,
                    # whose ISS follows the old one's sequence space.
                    iss = conn.reopen(now)
                    self.service(ep, now)
                    self._listener_arrives(listener, src, dst, seg, now, iss=iss)
                    return
            elif (
                ep.listener is not None
                and state is State.SYN_RCVD
                and seg.has_ack
                and not (seg.syn or seg.rst)
                and ep.listener.accept_queue_full()
            ):
                # The handshake's final ACK while the accept queue is full: dropped as Linux
                # does with tcp_abort_on_overflow=0 (the child keeps retransmitting SYN-ACK).
                c["listen_overflows"] += 1
                c["listen_drops"] += 1
                return
            ep.received(seg, now)
            conn.segment_arrives(seg, now)
            self.service(ep, now)
            return
        listener = self.find_listener(dst, seg.dst_port)
        if listener is not None:
            self._listener_arrives(listener, src, dst, seg, now)
            return
        # RFC 9293 3.10.7.1: no connection at all (CLOSED).
        if self._reply_rst(src, dst, seg):
            c["no_listener_resets"] += 1

    def find_listener(self, ip: str, port: int) -> Listener | None:
        listener = self.listeners.get((ip, port))
        if listener is not None:
            return listener
        v6 = ":" in ip
        listener = self.listeners.get(("::" if v6 else "0.0.0.0", port))
        if listener is None and not v6:
            dual = self.listeners.get(("::", port))
            if dual is not None and dual.dualstack:
                return dual  # an IPv6 wildcard listener that takes IPv4 too (IPV6_V6ONLY 0)
        return listener

    def _listener_arrives(
        self, listener: Listener, src: str, dst: str, seg: Segment, now: float, iss: int | None = None
    ) -> None:
        """RFC 9293 3.10.7.2, SEGMENT ARRIVES in LISTEN: the engine's rule decides; for a SYN
        the host makes the child connection (if the queues allow) and hands it the SYN. With
        SYN cookies (RFC 4987 3.6) it answers instead without keeping anything, and an ACK
        that brings a cookie back makes the child then (Linux tcp_conn_request, cookie_v4_check).
        A SYN that ends a TIME_WAIT incarnation comes with its ``iss`` and skips both queue checks
        and cookies, as in Linux ("TW buckets are converted to open requests without limitations")."""
        verdict = listen_verdict(seg, accept_syn_text=listener.config.accept_syn_text)
        if verdict is ListenVerdict.RESET:
            if not seg.syn and self._cookie_ack(listener, src, dst, seg, now):
                return
            self._reply_rst(src, dst, seg)
        if verdict is not ListenVerdict.SYN:
            return
        c = self._counters
        mode = self.config.syncookies
        want_cookie = False
        if iss is None and (mode == 2 or listener.syn_queue_full()):
            want_cookie = mode != 0
            if not want_cookie:
                c["listen_drops"] += 1
                self._flood_warning(listener, "Dropping request", now)
                return
        if listener.accept_queue_full():
            c["listen_overflows"] += 1
            c["listen_drops"] += 1
            return
        if want_cookie:
            if mode == 1:
                self._flood_warning(listener, "Sending cookies", now)
            self._send_cookie(listener, src, dst, seg, now)
            return
        ep = self._new_child(listener, src, dst, seg, now, iss)
        ep.received(seg, now)
        ep.conn.segment_arrives(seg, now)
        self.service(ep, now)

    def _new_child(
        self, listener: Listener, src: str, dst: str, syn: Segment, now: float, iss: int | None = None
    ) -> Endpoint:
        """A child connection of ``listener`` for the peer that sent ``syn``: in LISTEN, in the
        SYN queue, waiting for the SYN (or a cookie's rebuilt SYN) to be handed to it."""
        child = Connection(
            self.conn_config(dst, listener.config, listener.user_mss),
            local=self._shared((dst, listener.port)),
            remote=(src, syn.src_port),
            isn=self.isn,
            iss=iss,
            name=self.name,
            fastopen_key=self.fastopen_key if listener.fastopen_room() else None,
            challenge_acks=self.challenge_acks,
        )
        child.listen(now)
        # The child starts life as a copy of the listener (as in Linux): its own CLOSED -> LISTEN
        # is not part of the story, so the events of listen() are dropped.
        child.events()
        child.segments_to_send()
        key = (dst, listener.port, src, syn.src_port)
        ep = Endpoint(child, listener, key)
        self._remember(key, ep)
        listener.syn_queue[key] = ep
        self._counters["passive_opens"] += 1
        return ep

    def _flood_warning(self, listener: Listener, action: str, now: float) -> None:
        """Linux's once-per-listener "Possible SYN flooding on port ..." message (tcp_syn_flood_action)."""
        if not listener.flood_warned:
            listener.flood_warned = True
            self._note(now, f"possible SYN flooding on {listener.label}. {action}.")

    def _send_cookie(self, listener: Listener, src: str, dst: str, syn: Segment, now: float) -> None:
        """Answer ``syn`` with a cookie SYN-ACK and forget it. The SYN-ACK is the one the engine
        would send for this SYN (built by a child that is then thrown away), with the cookie as
        its ISS and the SYN's options in its TSval."""
        cfg = self.conn_config(dst, listener.config, listener.user_mss)
        mss_opt = syn.option(MSS)
        peer_mss = mss_opt.value if mss_opt is not None and mss_opt.value > 0 else cfg.default_peer_mss
        if listener.user_mss:
            peer_mss = min(peer_mss, listener.user_mss)  # Linux: the SYN's MSS clamped by TCP_MAXSEG
        cookie, _ = self.cookies.make((dst, listener.port), (src, syn.src_port), syn.seq, peer_mss, now)
        ts = syn.option(Timestamps)
        if ts is None or not cfg.timestamps:
            # Nowhere to keep window scale and SACK-permitted: offer neither (Linux
            # tcp_conn_request clears the options of a cookie SYN without timestamps).
            syn = dataclasses.replace(syn, options=(mss_opt,) if mss_opt is not None else (), data_offset=None)
        probe = Connection(cfg, local=(dst, listener.port), remote=(src, syn.src_port), iss=cookie, name=self.name)
        probe.listen(now)
        probe.segment_arrives(syn, now)
        for seg in probe.segments_to_send():
            if seg.syn:
                seg = dataclasses.replace(seg, options=tuple(self._cookie_ts(opt, syn) for opt in seg.options))
                self._emit(dst, src, seg)
        self._counters["syncookies_sent"] += 1
        listener.last_cookie = now

    @staticmethod
    def _cookie_ts(opt: Option, syn: Segment) -> Option:
        """The SYN-ACK's timestamp option with the SYN's window scale and SACK-permitted in it."""
        if not isinstance(opt, Timestamps):
            return opt
        ws = syn.option(WindowScale)
        sack = syn.option(SackPermitted) is not None
        return Timestamps(encode_ts_options(opt.val, ws.shift if ws is not None else None, sack, False), opt.ecr)

    def _cookie_ack(self, listener: Listener, src: str, dst: str, seg: Segment, now: float) -> bool:
        """An ACK to a listener that answered with cookies in the last two minutes: when it
        brings a valid cookie back, rebuild the SYN the cookie stands for, hand it to a new child
        (LISTEN -> SYN_RCVD, its SYN-ACK already sent) and then this ACK (-> ESTABLISHED, with
        any data or FIN it carries). False: not a cookie, answer as LISTEN does (RST)."""
        if self.config.syncookies == 0 or listener.last_cookie is None:
            return False
        if now - listener.last_cookie > VALID_AFTER_OVERFLOW:
            return False
        c = self._counters
        mss = self.cookies.check((dst, listener.port), (src, seg.src_port), seg.seq, seg.ack, now)
        if mss is None:
            c["syncookies_failed"] += 1
            return False
        c["syncookies_recv"] += 1
        if listener.accept_queue_full():
            c["listen_overflows"] += 1
            c["listen_drops"] += 1
            return True  # dropped (tcp_abort_on_overflow=0); the peer's next segment may retry
        options: list[Option] = [MSS(mss)]
        ts = seg.option(Timestamps)
        if ts is not None:
            wscale, sack, _ecn = decode_ts_options(ts.ecr)
            if sack:
                options.append(SackPermitted())
            options.append(Timestamps(ts.val, 0))
            if wscale is not None:
                options.append(WindowScale(wscale))
        syn = Segment(seg.src_port, seg.dst_port, sq.sub(seg.seq, 1), 0, Flags.SYN, seg.window, 0, tuple(options))
        cookie = sq.sub(seg.ack, 1)
        ep = self._new_child(listener, src, dst, syn, now, iss=cookie)
        self._note(now, f"a valid SYN cookie came back: the connection is made (MSS {mss})")
        child = ep.live()
        child.segment_arrives(syn, now)
        child.segments_to_send()  # its SYN-ACK went out when the cookie was made
        child.synack_untimed()
        ep.received(seg, now)
        child.segment_arrives(seg, now)
        self.service(ep, now)
        return True

    def _reply_rst(self, src: str, dst: str, seg: Segment) -> bool:
        """Send the engine's reset for a segment that reached no connection (RFC 9293 3.10.7.1);
        False when there is none to send (never a RST for a RST)."""
        rst = reset_for(seg)
        if rst is None:
            return False
        self._emit(dst, src, rst)
        return True

    # ---- the engine's output -------------------------------------------------------------------
    def _quiet(self) -> bool:
        """In the quiet time after a restart (RFC 9293 3.4.3)?"""
        if self.quiet_until is not None:
            if self.now < self.quiet_until:
                return True
            self.quiet_until = None
        return False

    def _emit(self, src: str, dst: str, seg: Segment) -> None:
        if self._quiet():
            self._counters["quiet_time_drops"] += 1
            return
        parts = 1
        if seg.gso_size:
            self._gso_at[len(self._out)] = seg.gso_size
            parts = _parts(seg)
        self._out.append(build_packet(src, dst, seg, partial_checksum=self.link.checksum))
        self._counters["segments_sent"] += parts
        if seg.rst:
            self._counters["resets_sent"] += 1

    def service(self, ep: Endpoint, now: float) -> None:
        """Drain a connection after any input: log its events, send its segments, re-arm timers."""
        conn = ep.conn
        events = conn.events()
        segments = conn.segments_to_send()
        retrans = conn.total_retrans - ep.retrans_counted
        if retrans:
            self._counters["segments_retransmitted"] += retrans
            ep.retrans_counted = conn.total_retrans
        if segments:
            local_ip = conn.local[0]
            assert conn.remote is not None  # a connection that sends knows its peer
            remote_ip = conn.remote[0]
            for seg in segments:
                ep.sent(seg, now)
                self._emit(local_ip, remote_ip, seg)
        if events:
            # One dict lookup by the event's type (an isinstance chain cost a microsecond each);
            # unheard, the events that only make a record are skipped (_EVENT_HANDLERS below).
            handlers = _EVENT_HANDLERS if self.log.listening else _UNHEARD_HANDLERS
            for ev in events:
                handler = handlers.get(type(ev))
                if handler is not None:
                    handler(self, ep, ev, now)
        if not ep.finished:
            deadline = conn.next_deadline()
            if deadline != ep.deadline:
                ep.deadline = deadline
                if deadline is not None:
                    heapq.heappush(self._timers, (deadline, next(self._tick), ep))
        if events and ep.owner is not None:
            ep.owner.wake()
        if ep.orphan != (conn.orphaned and not ep.finished):
            self._orphan_changed(ep, now)
        if conn.state is _TW and isinstance(conn, Connection):
            self._keep_time_wait_record(ep, conn)

    @staticmethod
    def _keep_time_wait_record(ep: Endpoint, conn: Connection) -> None:
        """A closed connection in TIME-WAIT: keep only the small record (tcplab.tcp.timewait,
        Linux's inet_timewait_sock) in the connection's place, and let the rest go."""
        record = conn.time_wait_record()
        if record is not None:
            ep.conn = record

    def _orphan_changed(self, ep: Endpoint, now: float) -> None:
        """Keep count of the orphans; one too many is reset at once, as Linux's tcp_close does
        when tcp_max_orphans is exceeded ("too many orphaned sockets", TCPAbortOnMemory)."""
        ep.orphan = not ep.orphan
        self.orphans += 1 if ep.orphan else -1
        if ep.orphan and self.orphans > self.config.max_orphans:
            self._counters["aborts_on_memory"] += 1
            self._note(now, f"too many orphaned sockets: {ep.label} reset")
            ep.conn.abort(now)
            self.service(ep, now)

    # Events are built only when the log is listening (it keeps them, or a trace, ``watch`` or
    # the control socket subscribes): a host nobody watches spends nothing on them, and one
    # that is watched records exactly the same events.
    def _note(self, now: float, text: str) -> None:
        if self.log.listening:
            self.log.record("note", now, host=self.name, text=text)

    def _log_state(self, label: str, ev: E.StateChanged, now: float) -> None:
        self.log.record("state", now, host=self.name, conn=label, **_ROW_FIELDS[ev.transition])

    def _outcome(self, ep: Endpoint, outcome: str, now: float) -> None:
        """Record how the connection ended (reset, refused, timed out, closed): once."""
        if ep.outcome is None:
            ep.outcome = outcome
            if self.log.listening:
                self.log.record("outcome", now, host=self.name, outcome=outcome, conn=ep.label)

    def _state_changed(self, ep: Endpoint, ev: E.StateChanged, now: float) -> None:
        if self.log.listening:
            self._log_state(ep.label, ev, now)
        self._count_transition(ev)
        if ev.dst is State.LISTEN and ep.listener is not None:
            self._discard(ep)  # a child reset in SYN_RCVD: back to LISTEN, thrown away
        elif ev.dst is State.CLOSED:
            self._finish(ep, now)

    def _connected(self, ep: Endpoint, ev: E.Connected, now: float) -> None:
        if self.log.listening:
            self.log.record("outcome", now, host=self.name, outcome="connected", conn=ep.label)
        self._handshake_done(ep, now)

    def _fastopen_accepted(self, ep: Endpoint, ev: E.FastOpenAccepted, now: float) -> None:
        self._handshake_done(ep, now)

    def _fastopen_cookie(self, ep: Endpoint, ev: E.FastOpenCookie, now: float) -> None:
        remote = ep.conn.remote
        if remote is not None:
            self.fastopen_cookies[remote[0]] = ev.cookie

    def _reset(self, ep: Endpoint, ev: E.Reset, now: float) -> None:
        self._outcome(ep, "refused" if ev.refused else "reset", now)

    def _timed_out(self, ep: Endpoint, ev: E.TimedOut, now: float) -> None:
        self._outcome(ep, "timed out", now)

    def _unreachable(self, ep: Endpoint, ev: E.Unreachable, now: float) -> None:
        self._outcome(ep, "unreachable", now)

    def _peer_finished(self, ep: Endpoint, ev: E.PeerFinished, now: float) -> None:
        self.log.record("outcome", now, host=self.name, outcome="peer closed", conn=ep.label)

    def _closed(self, ep: Endpoint, ev: E.Closed, now: float) -> None:
        self._finish(ep, now)

    def _congestion_changed(self, ep: Endpoint, ev: E.CongestionChanged, now: float) -> None:
        self.log.record("cwnd", now, host=self.name, conn=ep.label, cwnd=ev.cwnd, ssthresh=ev.ssthresh,
                        reason=ev.reason)  # fmt: skip

    def _rtt_changed(self, ep: Endpoint, ev: E.RttChanged, now: float) -> None:
        self.log.record("rtt", now, host=self.name, conn=ep.label, sample=_round(ev.sample),
                        srtt=_round(ev.srtt), rttvar=_round(ev.rttvar), rto=_round(ev.rto))  # fmt: skip

    def _count_transition(self, ev: E.StateChanged) -> None:
        t = ev.transition
        counter = _ROW_COUNTERS[id(t)] if id(t) in _ROW_COUNTERS else _transition_counter(t)
        if counter is not None:
            self._counters[counter] += 1

    def _handshake_done(self, ep: Endpoint, now: float) -> None:
        """A listener's child reached ESTABLISHED, or took Fast Open data (RFC 7413 4.2.2: it
        may be accepted in SYN-RECEIVED): from the SYN queue to the accept queue."""
        listener = ep.listener
        if listener is None or ep.key not in listener.syn_queue:
            return
        del listener.syn_queue[ep.key]
        if not listener.syn_queue:
            listener.syn_queue = {}  # give back what a flood made it grow to
        if listener.closed:
            ep.conn.abort(now)
        else:
            listener.accept_queue.append(ep)
            if listener.owner is not None:
                listener.owner.wake()

    def _finish(self, ep: Endpoint, now: float) -> None:
        if ep.finished:
            return
        self._outcome(ep, "closed", now)
        self._discard(ep)

    def _discard(self, ep: Endpoint) -> None:
        if ep.finished:
            return
        ep.finished = True
        if ep.orphan:
            ep.orphan = False
            self.orphans -= 1
        if ep.key is not None and self.conns.get(ep.key) is ep:
            self._forget(ep.key)
        listener = ep.listener
        if listener is not None and ep.key is not None:
            # A child reset while waiting in the accept queue stays there, as on Linux:
            # accept() returns it and the first recv() reports ECONNRESET.
            listener.syn_queue.pop(ep.key, None)
            if not listener.syn_queue:
                listener.syn_queue = {}

    # ---- for the socket layer ----------------------------------------------------------------
    def owns(self, ip: str) -> bool:
        return ip in self._own

    def default_address(self, family_v6: bool) -> str | None:
        for a in self._addresses:
            if (a.version == 6) == family_v6:
                return _text(a)  # one string per address, not one per connection
        return None

    def conn_config(
        self,
        local_ip: str,
        base: Config | None = None,
        user_mss: int | None = None,
        changes: Mapping[str, object] = _NO_CHANGES,
    ) -> Config:
        """A connection's Config: ``base`` (the host's) with ``changes`` (what socket options
        set); the MSS the link's MTU allows (1460 over IPv4, 1440 over IPv6 on the usual 1500),
        or less if the Config asks for less, or what TCP_MAXSEG asked for; and how large a
        segment the link splits itself (``gso_max``). Read-only and shared: connections made with
        the same settings get the same object (``Config.read_only``), not ~500 bytes each."""
        base = base or self.config
        ipv6 = ":" in local_ip
        link_mss = self.link.mss(ipv6)
        # Keyed by every value it is made of: a base changed in place (a sysctl, a listener's
        # socket option) simply makes another key.
        key = (_config_values(base), link_mss, self.link.segmentation, ipv6, user_mss, tuple(changes.items()))
        cfg = self._conn_configs.get(key)
        if cfg is not None:
            return cfg
        new = base.copy(**changes)
        if user_mss:
            new.mss = user_mss
        elif new.mss == _DEFAULT_MSS:
            new.mss = link_mss  # the default follows the link, as Linux's follows the route's MTU
        else:
            new.mss = min(new.mss, link_mss)
        if self.link.segmentation:
            # Payload room in the largest segment the link splits: less the IP and TCP headers.
            new.gso_max = self.link.segmentation - (40 if ipv6 else 20) - 60
        if len(self._conn_configs) >= _CONN_CONFIGS_KEPT:
            self._conn_configs.clear()
        cfg = self._conn_configs[key] = new.read_only()
        return cfg

    def new_connection(self, config: Config, local: tuple[str, int], remote: tuple[str, int] | None) -> Endpoint:
        if remote is not None:
            remote = self._shared(remote)
        conn = Connection(
            config, local=local, remote=remote, isn=self.isn, name=self.name, challenge_acks=self.challenge_acks
        )
        return Endpoint(conn)

    def _shared(self, address: tuple[str, int]) -> tuple[str, int]:
        """One ``(ip, port)`` tuple for the connections that have it in common (a client's
        server, a listener's own address), not one each (56 bytes a connection)."""
        shared = self._addresses_shared.get(address)
        if shared is None:
            if len(self._addresses_shared) >= _SHARED_ADDRESSES:
                self._addresses_shared.clear()
            shared = self._addresses_shared[address] = address
        return shared

    def register(self, ep: Endpoint) -> None:
        conn = ep.conn
        if conn.remote is None:
            raise ValueError(f"{ep!r} has no remote address: only connected endpoints are registered")
        key = (conn.local[0], conn.local[1], conn.remote[0], conn.remote[1])
        ep.key = key
        self._remember(key, ep)

    def _remember(self, key: ConnKey, ep: Endpoint) -> None:
        """A connection joins the table (and the index of local ports bind() checks)."""
        self.conns[key] = ep
        ports = self._ports_by_ip.get(key[0])
        if ports is None:
            ports = self._ports_by_ip[key[0]] = {}
        ports[key[1]] = ports.get(key[1], 0) + 1  # (a plain dict: a Counter costs 1 us to make)
        if len(self.conns) > self._conns_peak:
            self._conns_peak = len(self.conns)

    def _forget(self, key: ConnKey) -> None:
        del self.conns[key]
        ports = self._ports_by_ip[key[0]]
        left = ports[key[1]] - 1
        if left:
            ports[key[1]] = left
        else:
            del ports[key[1]]
        if self._conns_peak > 8 and len(self.conns) * 4 < self._conns_peak:
            # A dict never gives back the table it grew to: copy the tables once they hold a
            # quarter of their peak, so a host that had 100k connections is small again.
            self.conns = dict(self.conns)
            self._ports_by_ip = {ip: dict(ports) for ip, ports in self._ports_by_ip.items() if ports}
            self._conns_peak = len(self.conns)

    @staticmethod
    def overlap(a: str, b: str, a_dual: bool = False, b_dual: bool = False) -> bool:
        """Two local addresses that would share a port: equal, or either one a wildcard. An IPv4
        address and an IPv6 one overlap only when the IPv6 one is a dual-stack "::" (``a_dual``,
        ``b_dual``: IPV6_V6ONLY 0), which holds every IPv4 address too (Linux
        inet_rcv_saddr_equal: "::" dual conflicts with 0.0.0.0 and 198.18.0.2 alike)."""
        if (":" in a) != (":" in b):
            return (a == "::" and a_dual) or (b == "::" and b_dual)
        return a == b or ipaddress.ip_address(a).is_unspecified or ipaddress.ip_address(b).is_unspecified

    def listener_conflict(self, ip: str, port: int, dual: bool = False) -> bool:
        """A listener on ``port`` at an overlapping address (``dual``: ``ip`` is a dual "::")."""
        return any(
            lst.port == port and self.overlap(ip, lst.local_ip, dual, lst.dualstack) for lst in self.listeners.values()
        )

    def bind_conflict(self, ip: str, port: int, reuseaddr: bool, dual: bool = False) -> bool:
        """Linux's bind rules (inet_csk_bind_conflict), simplified to what TCP sockets do:

        - a listener on an overlapping address always conflicts (even with SO_REUSEADDR);
        - a connection (any state, TIME_WAIT included, orphans included) conflicts unless the
          new socket has SO_REUSEADDR (Linux additionally wants the old socket's flag; the
          accepted children of a listener inherit it, which is the common case);
        - another bound-only socket conflicts unless both have SO_REUSEADDR.
        """
        if self.listener_conflict(ip, port, dual):
            return True
        if not reuseaddr and any(
            port in ports and self.overlap(ip, used, dual) for used, ports in self._ports_by_ip.items()
        ):
            return True
        return any(
            b.port == port and self.overlap(ip, b.ip, dual, b.dualstack) and not (reuseaddr and b.reuseaddr)
            for b in self.bound
        )

    def _port_taken(self, port: int) -> bool:
        """A listener or a bound-only socket has ``port``."""
        if any(listener.port == port for listener in self.listeners.values()):
            return True
        return any(b.port == port for b in self.bound)

    def port_in_use(self, port: int) -> bool:
        return any(port in ports for ports in self._ports_by_ip.values()) or self._port_taken(port)

    def pick_bind_port(self) -> int | None:
        """bind() to port 0: a free port from the ephemeral range (Linux inet_csk_get_port)."""
        return self.ports.pick("bind", "", len(self.bound) + len(self.conns), lambda p: not self.port_in_use(p))

    def pick_connect_port(self, local_ip: str, remote: tuple[str, int]) -> int | None:
        """connect() on an unbound socket: RFC 6056 algorithm 3; the 4-tuple must be unused and
        the port not taken by a listener or a socket bound to it."""
        rip, rport = remote

        def suitable(p: int) -> bool:
            return (local_ip, p, rip, rport) not in self.conns and not self._port_taken(p)

        return self.ports.pick(local_ip, rip, rport, suitable)

    def _log_listener_events(self, listener: Listener, now: float) -> None:
        """A listener's own engine connection: log its state changes; it sends nothing."""
        conn = listener.conn
        for ev in conn.events():
            if isinstance(ev, E.StateChanged) and self.log.listening:
                self._log_state(listener.label, ev, now)
        conn.segments_to_send()

    def open_listener(self, ip: str, port: int, backlog: int, config: Config, now: float) -> Listener:
        conn = Connection(
            config, local=(ip, port), remote=None, isn=self.isn, name=self.name, challenge_acks=self.challenge_acks
        )
        listener = Listener(conn, ip, port, max(0, min(backlog, SOMAXCONN)))
        self.listeners[(ip, port)] = listener
        conn.listen(now)
        self._log_listener_events(listener, now)
        return listener

    def close_listener(self, listener: Listener, now: float) -> None:
        """close() of a listening socket, as Linux (inet_csk_listen_stop): children still in
        the SYN queue are freed silently; accepted-but-not-yet-accept()ed children are reset."""
        if listener.closed:
            return
        listener.closed = True
        if self.listeners.get((listener.local_ip, listener.port)) is listener:
            del self.listeners[(listener.local_ip, listener.port)]
        for ep in list(listener.syn_queue.values()):
            self._discard(ep)
        listener.syn_queue.clear()
        while listener.accept_queue:
            ep = listener.accept_queue.popleft()
            ep.listener = None
            ep.conn.abort(now)
            self.service(ep, now)
        listener.conn.close(now)
        self._log_listener_events(listener, now)

    def accept(self, listener: Listener) -> Endpoint | None:
        if not listener.accept_queue:
            return None
        ep = listener.accept_queue.popleft()
        ep.listener = None
        return ep

    def __repr__(self) -> str:
        return f"<Host {self.name} {' '.join(self._own)} conns={len(self.conns)}>"


# What the host does with each kind of engine event (the others, such as DataReadable and
# SendSpace, only wake the socket): Host.service looks the handler up by the event's type.
_EVENT_HANDLERS = cast(
    "dict[type, Callable[[Host, Endpoint, E.Event, float], None]]",  # each takes its own type
    {
        E.StateChanged: Host._state_changed,
        E.Connected: Host._connected,
        E.FastOpenAccepted: Host._fastopen_accepted,
        E.FastOpenCookie: Host._fastopen_cookie,
        E.Reset: Host._reset,
        E.TimedOut: Host._timed_out,
        E.Unreachable: Host._unreachable,
        E.PeerFinished: Host._peer_finished,
        E.Closed: Host._closed,
        E.CongestionChanged: Host._congestion_changed,
        E.RttChanged: Host._rtt_changed,
    },
)
# ... and when the log is not listening: without the events that would only make a record.
_RECORD_ONLY = (E.PeerFinished, E.CongestionChanged, E.RttChanged)
_UNHEARD_HANDLERS = {kind: h for kind, h in _EVENT_HANDLERS.items() if kind not in _RECORD_ONLY}
