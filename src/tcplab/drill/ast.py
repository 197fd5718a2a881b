"""The typed syntax tree of a packetdrill-language script.

Times are kept in integer microseconds. A script is a list of :class:`Event`; each event has a
:class:`Time` and one body: :class:`Syscall`, :class:`Packet`, :class:`Shell` or
:class:`Python`.
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
    """``...``: the obvious value."""


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str


@dataclass(frozen=True, slots=True)
class String:
    value: str


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
    """``{onoff=1, linger=0}``; fields without a name (``{1, 2}``) get names ``"0"``, ``"1"``."""

    fields: tuple[tuple[str, Expr], ...]

    def get(self, name: str) -> Expr | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None


Expr = Union[Int, Ellipsis_, Symbol, String, BitOr, Array, Struct]  # noqa: UP007


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
    val: int
    ecr: int


@dataclass(frozen=True, slots=True)
class OptOther:
    """An option tcplab does not run (``md5``, ``FO``, ``ECN``, ...): kept as written."""

    name: str
    text: str
    length: int  # bytes on the wire, when known (for the multiple-of-4 check); 0 unknown


PacketOption = OptNop | OptEol | OptMss | OptWscale | OptSackOK | OptSack | OptTimestamp | OptOther


def option_length(opt: PacketOption) -> int:
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
    return opt.length


# ---- event bodies ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    args: tuple[Expr, ...]
    result: Expr  # usually Int; ``...`` allowed
    errno: str | None = None
    errno_text: str | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    direction: str  # "<" inbound (the script injects), ">" outbound (the stack must send)
    flags: str  # as written: "S.", "P.", "-", ...
    start: int
    end: int
    length: int
    ack: int | None = None
    win: int | None = None
    urg: int | None = None
    options: tuple[PacketOption, ...] | None = None  # None: no option list written
    any_options: bool = False  # ``<...>``
    ip_info: str | None = None  # the text of an ``(...)`` after the direction, if any
    ecn: str | None = None  # ``[ect0]`` and the like, as written
    sport: int | None = None
    dport: int | None = None


@dataclass(frozen=True, slots=True)
class Shell:
    command: str


@dataclass(frozen=True, slots=True)
class Python:
    code: str


Body = Union[Syscall, Packet, Shell, Python]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Event:
    line: int
    column: int
    time: Time
    body: Body
    text: str  # the event's source text (first line), for messages


@dataclass(slots=True)
class Script:
    path: str
    options: dict[str, str | None] = field(default_factory=dict)
    init_command: str | None = None
    cleanup_command: str | None = None
    events: list[Event] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # the source, for messages
