"""The TCP state diagram as data.

RFC 9293 section 3.3.2 (Figure 5) draws the connection state diagram. Here it is a table:
every row is one transition ``(from, to, cause)``. The engine names the row of every state
change it makes (``Connection._enter``); tests, pictures and coverage read the same table, so a
transition that is not listed here is a bug.

The causes are short, stable strings. They are part of the public trace format
(``{"kind": "state", "from": ..., "to": ..., "cause": ...}``).
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class State(enum.Enum):
    """The eleven states of RFC 9293 section 3.3.2, named as in the RFC (with underscores)."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RCVD = "SYN_RCVD"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"

    # Members are singletons compared by identity: hashed by identity too, in C (Enum's own
    # __hash__, hash(name) in Python, runs each time a state is looked up in a set or a dict:
    # several times per segment).
    __hash__ = object.__hash__

    def __str__(self) -> str:
        return self.value

    @property
    def synchronized(self) -> bool:
        """RFC 9293 3.5.2: the states after the handshake completed (ESTABLISHED and later)."""
        return self in _SYNCHRONIZED


_SYNCHRONIZED = frozenset(
    {
        State.ESTABLISHED,
        State.FIN_WAIT_1,
        State.FIN_WAIT_2,
        State.CLOSE_WAIT,
        State.CLOSING,
        State.LAST_ACK,
        State.TIME_WAIT,
    }
)

# Linux's numbering of the states (include/net/tcp_states.h), used by tcp_info() and
# packetdrill's TCP_* constants.
LINUX_STATE_NUMBER: dict[State, int] = {
    State.ESTABLISHED: 1,
    State.SYN_SENT: 2,
    State.SYN_RCVD: 3,
    State.FIN_WAIT_1: 4,
    State.FIN_WAIT_2: 5,
    State.TIME_WAIT: 6,
    State.CLOSED: 7,
    State.CLOSE_WAIT: 8,
    State.LAST_ACK: 9,
    State.LISTEN: 10,
    State.CLOSING: 11,
}


class Cause(enum.StrEnum):
    """Why a transition happened. The value is what traces and pictures print."""

    LISTEN = "listen"  # passive OPEN
    CONNECT = "connect"  # active OPEN
    SEND = "send"  # SEND in LISTEN: RFC 9293 3.10.2
    CLOSE = "close"
    CLOSE_UNREAD = "close, unread data"  # RFC 1122 4.2.2.13: close with data unread sends RST
    ABORT = "abort"
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN-ACK"
    RCV_ACK_OF_SYN = "rcv ACK of SYN"
    RCV_FIN = "rcv FIN"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_FIN_ACK = "rcv FIN+ACK of FIN"  # FIN_WAIT_1 straight to TIME_WAIT
    RCV_RST = "rcv RST"
    TIMEOUT = "timeout"  # retransmission (R2), keepalive or user timeout gave up
    TIMEOUT_FIN_WAIT_2 = "timeout FIN_WAIT_2"  # Linux tcp_fin_timeout
    TIMEOUT_2MSL = "timeout 2MSL"
    REOPEN = "rcv SYN in TIME_WAIT"  # RFC 9293 3.10.7.4 / RFC 6191: new incarnation
    RCV_ICMP = "rcv ICMP error"  # RFC 1122 4.2.3.9, RFC 5927: an opening connection gives up

    def __str__(self) -> str:
        return self.value


class Transition(NamedTuple):
    src: State
    dst: State
    cause: Cause

    def label(self) -> str:
        return f"{self.src} -> {self.dst}: {self.cause}"


S = State
C = Cause

#: Every transition the engine can make. Order: the diagram's edges first (client path, server
#: path, the special edges), then the RST, abort and timeout exits, then the SYN exits.
TRANSITIONS: tuple[Transition, ...] = tuple(
    Transition(*row)
    for row in (
        # -- the edges of RFC 9293 Figure 5 --
        (S.CLOSED, S.LISTEN, C.LISTEN),
        (S.CLOSED, S.SYN_SENT, C.CONNECT),
        (S.LISTEN, S.SYN_RCVD, C.RCV_SYN),
        (S.LISTEN, S.SYN_SENT, C.SEND),
        (S.LISTEN, S.CLOSED, C.CLOSE),
        (S.SYN_SENT, S.ESTABLISHED, C.RCV_SYN_ACK),
        (S.SYN_SENT, S.SYN_RCVD, C.RCV_SYN),  # simultaneous open
        (S.SYN_SENT, S.CLOSED, C.CLOSE),
        (S.SYN_RCVD, S.ESTABLISHED, C.RCV_ACK_OF_SYN),
        (S.SYN_RCVD, S.FIN_WAIT_1, C.CLOSE),
        (S.SYN_RCVD, S.LISTEN, C.RCV_RST),  # passively opened: back to LISTEN
        (S.SYN_RCVD, S.LISTEN, C.RCV_SYN),  # 3.10.7.4 fourth (only without RFC 5961)
        (S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE),
        (S.ESTABLISHED, S.CLOSE_WAIT, C.RCV_FIN),
        (S.FIN_WAIT_1, S.FIN_WAIT_2, C.RCV_ACK_OF_FIN),
        (S.FIN_WAIT_1, S.CLOSING, C.RCV_FIN),  # simultaneous close
        (S.FIN_WAIT_1, S.TIME_WAIT, C.RCV_FIN_ACK),
        (S.FIN_WAIT_2, S.TIME_WAIT, C.RCV_FIN),
        (S.CLOSE_WAIT, S.LAST_ACK, C.CLOSE),
        (S.CLOSING, S.TIME_WAIT, C.RCV_ACK_OF_FIN),
        (S.LAST_ACK, S.CLOSED, C.RCV_ACK_OF_FIN),
        (S.TIME_WAIT, S.CLOSED, C.TIMEOUT_2MSL),
        # -- RST: RFC 9293 3.10.7.3 (SYN_SENT) and 3.10.7.4 second check --
        (S.SYN_SENT, S.CLOSED, C.RCV_RST),  # "connection refused"
        (S.SYN_RCVD, S.CLOSED, C.RCV_RST),  # actively opened (simultaneous open)
        (S.ESTABLISHED, S.CLOSED, C.RCV_RST),
        (S.FIN_WAIT_1, S.CLOSED, C.RCV_RST),
        (S.FIN_WAIT_2, S.CLOSED, C.RCV_RST),
        (S.CLOSE_WAIT, S.CLOSED, C.RCV_RST),
        (S.CLOSING, S.CLOSED, C.RCV_RST),
        (S.LAST_ACK, S.CLOSED, C.RCV_RST),
        (S.TIME_WAIT, S.CLOSED, C.RCV_RST),
        # -- ABORT: RFC 9293 3.10.5 (RST sent in SYN_RCVD .. CLOSE_WAIT) --
        (S.LISTEN, S.CLOSED, C.ABORT),
        (S.SYN_SENT, S.CLOSED, C.ABORT),
        (S.SYN_RCVD, S.CLOSED, C.ABORT),
        (S.ESTABLISHED, S.CLOSED, C.ABORT),
        (S.FIN_WAIT_1, S.CLOSED, C.ABORT),
        (S.FIN_WAIT_2, S.CLOSED, C.ABORT),
        (S.CLOSE_WAIT, S.CLOSED, C.ABORT),
        (S.CLOSING, S.CLOSED, C.ABORT),
        (S.LAST_ACK, S.CLOSED, C.ABORT),
        (S.TIME_WAIT, S.CLOSED, C.ABORT),
        # -- close with unread data: RFC 1122 4.2.2.13, as Linux does (RST, no FIN) --
        (S.ESTABLISHED, S.CLOSED, C.CLOSE_UNREAD),
        (S.CLOSE_WAIT, S.CLOSED, C.CLOSE_UNREAD),
        (S.FIN_WAIT_1, S.CLOSED, C.CLOSE_UNREAD),  # after shutdown(SHUT_WR)
        (S.FIN_WAIT_2, S.CLOSED, C.CLOSE_UNREAD),
        # -- timeouts: RFC 9293 3.8.3 R2 and RFC 6298, keepalive, user timeout --
        (S.SYN_SENT, S.CLOSED, C.TIMEOUT),
        (S.SYN_RCVD, S.CLOSED, C.TIMEOUT),
        (S.ESTABLISHED, S.CLOSED, C.TIMEOUT),
        (S.FIN_WAIT_1, S.CLOSED, C.TIMEOUT),
        (S.CLOSE_WAIT, S.CLOSED, C.TIMEOUT),
        (S.CLOSING, S.CLOSED, C.TIMEOUT),
        (S.LAST_ACK, S.CLOSED, C.TIMEOUT),
        (S.FIN_WAIT_2, S.CLOSED, C.TIMEOUT_FIN_WAIT_2),
        # -- a new SYN ends a TIME_WAIT incarnation (RFC 9293 3.6.1, RFC 6191, Linux; the
        #    time_wait_rules="linux" choice) --
        (S.TIME_WAIT, S.CLOSED, C.REOPEN),
        # -- an ICMP error while opening (Linux tcp_v4_err, tcp_req_err) --
        (S.SYN_SENT, S.CLOSED, C.RCV_ICMP),
        (S.SYN_RCVD, S.CLOSED, C.RCV_ICMP),  # actively opened (simultaneous open)
        (S.SYN_RCVD, S.LISTEN, C.RCV_ICMP),  # passively opened: the request is dropped
        # -- an in-window SYN is an error without RFC 5961 (Config.rfc5961=False): RFC 9293
        #    3.10.7.4 fourth step, RFC 793's rule: send a reset, flush, enter CLOSED --
        (S.SYN_RCVD, S.CLOSED, C.RCV_SYN),  # actively opened (passively: back to LISTEN)
        (S.ESTABLISHED, S.CLOSED, C.RCV_SYN),
        (S.FIN_WAIT_1, S.CLOSED, C.RCV_SYN),
        (S.FIN_WAIT_2, S.CLOSED, C.RCV_SYN),
        (S.CLOSE_WAIT, S.CLOSED, C.RCV_SYN),
        (S.CLOSING, S.CLOSED, C.RCV_SYN),
        (S.LAST_ACK, S.CLOSED, C.RCV_SYN),
        (S.TIME_WAIT, S.CLOSED, C.RCV_SYN),
    )
)

_INDEX: dict[tuple[State, State, Cause], Transition] = {(t.src, t.dst, t.cause): t for t in TRANSITIONS}
assert len(_INDEX) == len(TRANSITIONS), "duplicate row in TRANSITIONS"


def lookup(src: State, dst: State, cause: Cause) -> Transition:
    """Return the row for this transition; raise ``KeyError`` when the table has no such row."""
    return _INDEX[(src, dst, cause)]
