"""The typed syntax tree of a packetdrill-language script.

Times are kept in integer microseconds. A script is a list of :class:`Event`; each event has a
:class:`Time` and one body: :class:`Syscall`, :class:`Packet` (TCP), :class:`Icmp`,
:class:`Udp`, :class:`Shell` or :class:`Python`. Nothing here knows tcplab: the tree is what the
script says, checked only for what the language itself forbids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


# ---- time ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Time:
    """When an event happens.

    kind: ``"abs"`` (``T``), ``"rel"`` (``+T``), ``"any"`` (``*``), ``"range"`` (``T1~T2``).
    ``usecs`` is T (or T1); ``end_usecs``/``end_relative`` the range's T2 (kind ``range``) or
    the end time E of a blocking call ``T...E`` (then ``blocking`` is true and E has the same
    base as T).
    """

    kind: str
    usecs: int = 0
    relative: bool = False
    end_usecs: int | None = None
    end_relative: bool = False
    blocking: bool = False


# ---- expressions (system-call arguments) -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Int:
    value: int


@dataclass(frozen=True, slots=True)
class Ellipsis_:
    """``...``: the obvious value (or "don't check")."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name (``SOCK_STREAM``, ``ECONNRESET``); where it was written, for messages."""

    name: str
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class String:
    """``"text"`` (``more=True`` for ``"text"...``: a prefix)."""

    value: str
    more: bool = False


@dataclass(frozen=True, slots=True)
class BitOr:
    """``A|B|C``."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Array:
    """``[n]`` (an integer passed by reference) or ``[a, b, ...]``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Struct:
    """``{onoff=1, linger=0}``; fields without a name (``{..., 10}``) get names ``"0"``, ``"1"``.
    A field written ``msg_iov(1)=[...]`` has its count in ``sizes``."""

    fields: tuple[tuple[str, Expr], ...]
    sizes: tuple[tuple[str, Expr], ...] = ()

    def get(self, name: str) -> Expr | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def size(self, name: str) -> Expr | None:
        for key, value in self.sizes:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Call:
    """``htons(8080)``, ``inet_addr("192.0.2.1")``: a helper written as a function."""

    name: str
    args: tuple[Expr, ...]


Expr = Union[Int, Ellipsis_, Symbol, String, BitOr, Array, Struct, Call]  # noqa: UP007


# ---- IP header settings ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IpInfo:
    """``[ect0]``, ``(tos 0x10)``, ``[ce, flowlabel 0x12]``, ``(ttl 32)``: what the IP header of a
    packet line says. ``ecn``: ``noecn``, ``ect0``, ``ect1``, ``ce`` or ``ect01`` (outbound only:
    either ECT codepoint)."""

    ecn: str | None = None
    tos: int | None = None
    ttl: int | None = None
    flowlabel: int | None = None


# ---- packet options ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OptNop:
    pass


@dataclass(frozen=True, slots=True)
class OptEol:
    pass


@dataclass(frozen=True, slots=True)
class OptMss:
    value: int


@dataclass(frozen=True, slots=True)
class OptWscale:
    shift: int


@dataclass(frozen=True, slots=True)
class OptSackOK:
    pass


@dataclass(frozen=True, slots=True)
class OptSack:
    blocks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class OptTimestamp:
    """``TS val N ecr N``; None where the script wrote ``...`` (not checked)."""

    val: int | None
    ecr: int | None


@dataclass(frozen=True, slots=True)
class OptFastOpen:
    """``FO cookie`` (kind 34, RFC 7413) or ``FOEXP cookie`` (kind 254, magic 0xF989); the cookie
    may be empty (a cookie request)."""

    cookie: bytes
    experimental: bool = False


@dataclass(frozen=True, slots=True)
class OptMd5:
    """``md5 digest`` (RFC 2385, kind 19)."""

    digest: bytes


PacketOption = OptNop | OptEol | OptMss | OptWscale | OptSackOK | OptSack | OptTimestamp | OptFastOpen | OptMd5


def option_length(opt: PacketOption) -> int:
    """Bytes the option takes on the wire."""
    if isinstance(opt, OptNop | OptEol):
        return 1
    if isinstance(opt, OptMss):
        return 4
    if isinstance(opt, OptWscale):
        return 3
    if isinstance(opt, OptSackOK):
        return 2
    if isinstance(opt, OptSack):
        return 2 + 8 * len(opt.blocks)
    if isinstance(opt, OptTimestamp):
        return 10
    if isinstance(opt, OptFastOpen):
        return (4 if opt.experimental else 2) + len(opt.cookie)
    return 2 + len(opt.digest)


# ---- event bodies ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    args: tuple[Expr, ...]
    result: Expr  # usually Int; ``...`` allowed
    errno: str | None = None
    errno_text: str | None = None
    name_column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Packet:
    """A TCP segment line."""

    direction: str  # "<" inbound (the script injects), ">" outbound (the stack must send)
    flags: str  # as written: "S.", "P.", "-", "SEW", "5." (an AccECN ACE value), ...
    start: int
    end: int
    length: int
    ack: int | None = None
    win: int | None = None
    urg: int | None = None
    options: tuple[PacketOption, ...] | None = None  # None: no option list written
    any_options: bool = False  # ``<...>``
    ip: IpInfo | None = None
    sport: int | None = None
    dport: int | None = None


@dataclass(frozen=True, slots=True)
class IcmpEchoed:
    """What an ICMP error quotes: ``[1:1461(1460)]`` (TCP), ``[udp (100)]``, ``[raw (64)]``."""

    protocol: str  # "tcp", "udp", "raw"
    start: int = 0
    length: int = 0


@dataclass(frozen=True, slots=True)
class Icmp:
    """``< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]``."""

    direction: str
    type_name: str
    code_name: str | None = None
    mtu: int | None = None
    echo_id: int | None = None
    echoed: IcmpEchoed | None = None
    ip: IpInfo | None = None


@dataclass(frozen=True, slots=True)
class OtherPacket:
    """A packet line tcplab cannot carry (``< udp (100)``, an encapsulated packet): kept with what
    it is, so the runner can say so."""

    direction: str
    what: str  # "UDP", "GRE", "MPLS", "IPv4 encapsulation", ...


@dataclass(frozen=True, slots=True)
class Shell:
    command: str


@dataclass(frozen=True, slots=True)
class Python:
    code: str


Body = Union[Syscall, Packet, Icmp, OtherPacket, Shell, Python]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Event:
    line: int
    column: int
    time: Time
    body: Body
    text: str  # the event's source text (first line), for messages


@dataclass(frozen=True, slots=True)
class Command:
    """An untimed `command` before the first event or after the last."""

    text: str
    line: int


@dataclass(slots=True)
class Script:
    path: str
    options: dict[str, str | None] = field(default_factory=dict)  # names with '_' (dashes folded)
    init_command: Command | None = None
    cleanup_command: Command | None = None
    events: list[Event] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # the source, for messages
