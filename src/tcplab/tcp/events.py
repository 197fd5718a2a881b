"""What a Connection tells its user. Drain them with ``Connection.events()``."""

from __future__ import annotations

from dataclasses import dataclass

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The connection changed state; ``transition`` is its row of ``TRANSITIONS``."""

    transition: Transition

    @property
    def src(self) -> State:
        return self.transition.src

    @property
    def dst(self) -> State:
        return self.transition.dst

    @property
    def cause(self) -> Cause:
        return self.transition.cause


@dataclass(frozen=True, slots=True)
class Connected:
    """The three-way handshake completed (ESTABLISHED reached)."""


@dataclass(frozen=True, slots=True)
class DataReadable:
    """New in-order data is waiting in the receive buffer (``nbytes`` in all now)."""

    nbytes: int


@dataclass(frozen=True, slots=True)
class PeerFinished:
    """The peer's FIN arrived and all data before it is in the receive buffer (EOF)."""


@dataclass(frozen=True, slots=True)
class SendSpace:
    """Room opened up in the send buffer (``free`` bytes)."""

    free: int


@dataclass(frozen=True, slots=True)
class Reset:
    """The connection was reset by the peer. ``refused`` when it happened in SYN_SENT."""

    refused: bool
    errno: int


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Retransmission (R2), keepalive or user timeout gave up: ETIMEDOUT."""

    errno: int


@dataclass(frozen=True, slots=True)
class Unreachable:
    """An ICMP error ended the connection while it was opening (RFC 1122 4.2.3.9)."""

    errno: int


@dataclass(frozen=True, slots=True)
class FastOpenCookie:
    """The server gave us a TCP Fast Open cookie (RFC 7413 4.1.3): keep it for that server
    (Linux's tcp_fastopen_cache_set; the host keeps the cache)."""

    cookie: bytes


@dataclass(frozen=True, slots=True)
class FastOpenAccepted:
    """A listener's child accepted data in the peer's SYN (RFC 7413 4.2.2): it may be
    accepted before the handshake completes, and the data is readable now."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection reached CLOSED and its TCB is gone."""


@dataclass(frozen=True, slots=True)
class CongestionChanged:
    """The congestion window or the slow-start threshold changed (bytes). ``ssthresh`` is None
    while it is still "arbitrarily high" (RFC 5681 3.1: no loss seen yet). ``reason`` is one of
    ``CWND_REASONS``."""

    cwnd: int
    ssthresh: int | None
    reason: str


#: Why cwnd changed: RFC 5681 (slow start, congestion avoidance, fast retransmit, RTO), RFC 6937
#: (PRR during recovery) or RFC 6675 (cwnd = ssthresh without it), the end of a reduction
#: (RFC 6582's recovery point), RFC 3168 (an ECN echo), RFC 8985 7.4 (a loss a probe repaired),
#: RFC 2883 (a spurious reduction undone), RFC 5681 4.1 (restart after idle).
CWND_REASONS = (
    "initial window",
    "slow start",
    "congestion avoidance",
    "fast retransmit",
    "recovery: PRR",
    "recovery",
    "recovery done",
    "retransmission timeout",
    "ECN echo",
    "loss probe",
    "undo",
    "restart after idle",
)


@dataclass(frozen=True, slots=True)
class RttChanged:
    """The RTT estimator moved (RFC 6298): a new measurement ``sample`` (seconds), or an RTO
    backoff or its reset (``sample`` None). ``srtt``/``rttvar`` are None before the first
    sample; ``rto`` is the timeout now in force (backoff included)."""

    sample: float | None
    srtt: float | None
    rttvar: float | None
    rto: float


Event = (
    StateChanged
    | Connected
    | DataReadable
    | PeerFinished
    | SendSpace
    | Reset
    | TimedOut
    | FastOpenCookie
    | FastOpenAccepted
    | Unreachable
    | Closed
    | CongestionChanged
    | RttChanged
)


# The event of every row of TRANSITIONS, made once (an event is an immutable value): the engine
# names its row at each state change and tells this one (Connection._enter, TimeWait). A change
# that is not in the table is a KeyError, as states.lookup's.
STATE_CHANGES: dict[tuple[State, State, Cause], StateChanged] = {
    (t.src, t.dst, t.cause): StateChanged(t) for t in TRANSITIONS
}
CONNECTED_EVENT = Connected()
CLOSED_EVENT = Closed()
