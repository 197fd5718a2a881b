"""What a Connection tells its user. Drain them with ``Connection.events()``."""

from __future__ import annotations

from dataclasses import dataclass

from tcplab.tcp.states import Cause, State, Transition


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


#: Why cwnd changed: RFC 5681 (slow start, congestion avoidance, fast retransmit, RTO, restart
#: after idle), RFC 6582 (NewReno's partial ACK and the end of recovery), RFC 6675 (window
#: inflation while in recovery).
CWND_REASONS = (
    "initial window",
    "slow start",
    "congestion avoidance",
    "fast retransmit",
    "recovery: inflated",
    "partial ACK",
    "recovery done",
    "retransmission timeout",
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
    | Unreachable
    | Closed
    | CongestionChanged
    | RttChanged
)
