"""Every row of ``tcplab.tcp.TRANSITIONS`` in words, with the clause that defines it.

``explain(transition)`` returns ``(text, where)``: one or two sentences a learner can read, and
the section ("RFC 9293 3.10.7.4", "RFC 1122 4.2.2.13", "Linux") to look it up in. The lab shows
them under the state diagram; a test checks every row has one.
"""

from __future__ import annotations

from tcplab.tcp.states import Cause, State, Transition

__all__ = ["explain"]

S, C = State, Cause

_ROWS: dict[tuple[State, State, Cause], tuple[str, str]] = {
    (S.CLOSED, S.LISTEN, C.LISTEN): (
        "A passive OPEN: the endpoint waits for a SYN from any peer.",
        "RFC 9293 3.10.1",
    ),
    (S.CLOSED, S.SYN_SENT, C.CONNECT): (
        "An active OPEN: a SYN is sent with our initial sequence number; now we wait for the "
        "peer's SYN and the ACK of ours.",
        "RFC 9293 3.10.1",
    ),
    (S.LISTEN, S.SYN_RCVD, C.RCV_SYN): (
        "A SYN reached the listener: a SYN-ACK goes back (our SYN, the ACK of theirs); we wait for the ACK of our SYN.",
        "RFC 9293 3.10.7.2",
    ),
    (S.LISTEN, S.SYN_SENT, C.SEND): (
        "SEND on a listening endpoint that knows its peer: it sends a SYN itself, the passive "
        "open becomes an active one.",
        "RFC 9293 3.10.2",
    ),
    (S.LISTEN, S.CLOSED, C.CLOSE): (
        "CLOSE while listening: there is no peer to tell; the TCB is deleted.",
        "RFC 9293 3.10.4",
    ),
    (S.SYN_SENT, S.ESTABLISHED, C.RCV_SYN_ACK): (
        "The SYN-ACK acknowledges our SYN: we ACK the peer's SYN and the connection is open.",
        "RFC 9293 3.10.7.3",
    ),
    (S.SYN_SENT, S.SYN_RCVD, C.RCV_SYN): (
        "A SYN without an ACK while ours is unanswered: both ends opened at once (simultaneous "
        "open); a SYN-ACK is sent.",
        "RFC 9293 3.10.7.3",
    ),
    (S.SYN_SENT, S.CLOSED, C.CLOSE): (
        "CLOSE before the handshake finished: nothing was agreed, the TCB is deleted.",
        "RFC 9293 3.10.4",
    ),
    (S.SYN_RCVD, S.ESTABLISHED, C.RCV_ACK_OF_SYN): (
        "The ACK of our SYN: the three-way handshake is complete, data may flow both ways.",
        "RFC 9293 3.10.7.4 (fifth check)",
    ),
    (S.SYN_RCVD, S.FIN_WAIT_1, C.CLOSE): (
        "CLOSE before the handshake completed: a FIN is sent at once.",
        "RFC 9293 3.10.4",
    ),
    (S.SYN_RCVD, S.LISTEN, C.RCV_RST): (
        "An RST for a passively opened connection: it goes back to LISTEN, as if the SYN had never come.",
        "RFC 9293 3.10.7.4 (second check)",
    ),
    (S.SYN_RCVD, S.LISTEN, C.RCV_SYN): (
        "A SYN inside the window (without RFC 5961's challenge ACK): the passive connection is thrown back to LISTEN.",
        "RFC 9293 3.10.7.4 (fourth check)",
    ),
    (S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE): (
        "CLOSE: the application has nothing more to send; a FIN follows the last data.",
        "RFC 9293 3.10.4",
    ),
    (S.ESTABLISHED, S.CLOSE_WAIT, C.RCV_FIN): (
        "The peer's FIN: it has nothing more to send. We ACK it; our reader sees end of file, "
        "and we may still send until we close.",
        "RFC 9293 3.10.7.4 (eighth check)",
    ),
    (S.FIN_WAIT_1, S.FIN_WAIT_2, C.RCV_ACK_OF_FIN): (
        "Our FIN is acknowledged; we wait for the peer's FIN (it may still send data).",
        "RFC 9293 3.10.7.4 (fifth check)",
    ),
    (S.FIN_WAIT_1, S.CLOSING, C.RCV_FIN): (
        "The peer's FIN came before the ACK of ours: both closed at once (simultaneous close). "
        "We ACK it and wait for the ACK of our FIN.",
        "RFC 9293 3.10.7.4 (eighth check)",
    ),
    (S.FIN_WAIT_1, S.TIME_WAIT, C.RCV_FIN_ACK): (
        "The peer's FIN also acknowledges ours: straight to TIME_WAIT.",
        "RFC 9293 3.10.7.4 (eighth check)",
    ),
    (S.FIN_WAIT_2, S.TIME_WAIT, C.RCV_FIN): (
        "The peer's FIN: we ACK it and wait 2 MSL, so that a lost ACK can be sent again and the "
        "connection's old segments die out before the 4-tuple is used again.",
        "RFC 9293 3.10.7.4 (eighth check), 3.6",
    ),
    (S.CLOSE_WAIT, S.LAST_ACK, C.CLOSE): (
        "CLOSE after the peer's FIN: our FIN is sent; we wait for its ACK.",
        "RFC 9293 3.10.4",
    ),
    (S.CLOSING, S.TIME_WAIT, C.RCV_ACK_OF_FIN): (
        "Our FIN is acknowledged after the simultaneous close: TIME_WAIT, like the active closer.",
        "RFC 9293 3.10.7.4 (fifth check)",
    ),
    (S.LAST_ACK, S.CLOSED, C.RCV_ACK_OF_FIN): (
        "Our FIN is acknowledged: the connection is closed and the TCB deleted (the passive "
        "closer never waits in TIME_WAIT).",
        "RFC 9293 3.10.7.4 (fifth check)",
    ),
    (S.TIME_WAIT, S.CLOSED, C.TIMEOUT_2MSL): (
        "The 2 MSL timer ran out (60 s on Linux): the TCB is deleted, the 4-tuple is free again.",
        "RFC 9293 3.10.8",
    ),
    (S.TIME_WAIT, S.CLOSED, C.REOPEN): (
        "A new SYN on the same 4-tuple with a higher sequence number (or timestamp) ends "
        "TIME_WAIT early: a new incarnation of the connection begins.",
        "RFC 9293 3.10.7.4, RFC 6191",
    ),
    (S.SYN_SENT, S.CLOSED, C.RCV_RST): (
        "An RST that acknowledges our SYN: nobody listens on that port, the connection is refused (ECONNREFUSED).",
        "RFC 9293 3.10.7.3",
    ),
    (S.TIME_WAIT, S.CLOSED, C.RCV_RST): (
        'An RST in TIME_WAIT ends it early ("TIME-WAIT assassination"; Linux honours it unless '
        "net.ipv4.tcp_rfc1337 is 1).",
        "RFC 9293 3.10.7.4 (second check), RFC 1337",
    ),
    (S.FIN_WAIT_2, S.CLOSED, C.TIMEOUT_FIN_WAIT_2): (
        "Nothing from the peer for tcp_fin_timeout (60 s) after close(): Linux drops the orphaned "
        "FIN_WAIT_2 connection (the RFC would wait forever).",
        "Linux tcp_fin_timeout",
    ),
}

_ROWS.update(
    {
        (S.SYN_SENT, S.CLOSED, C.RCV_ICMP): (
            "An ICMP error about our SYN (port or host unreachable, ...) ends the attempt at once: "
            "connect() fails with its errno (ECONNREFUSED, EHOSTUNREACH), as Linux does.",
            "RFC 1122 4.2.3.9, RFC 5927",
        ),
        (S.SYN_RCVD, S.CLOSED, C.RCV_ICMP): (
            "An ICMP error about our SYN-ACK in a simultaneous open ends the connection, as in SYN_SENT.",
            "RFC 1122 4.2.3.9, RFC 5927",
        ),
        (S.SYN_RCVD, S.LISTEN, C.RCV_ICMP): (
            "Host or net unreachable about the SYN-ACK of a passive open: the half-open connection "
            "is dropped and the listener keeps listening (Linux tcp_req_err); the peer's SYN may "
            "come again.",
            "Linux, RFC 5927",
        ),
    }
)

_BY_CAUSE: dict[Cause, tuple[str, str]] = {
    C.RCV_RST: (
        "An acceptable RST: the peer reset the connection; it is gone at once (ECONNRESET for the application).",
        "RFC 9293 3.10.7.4 (second check)",
    ),
    C.ABORT: (
        "ABORT (close with SO_LINGER 0): an RST tells the peer where it may hold state; the TCB is deleted at once.",
        "RFC 9293 3.10.5",
    ),
    C.CLOSE_UNREAD: (
        "CLOSE with data still unread: an RST instead of a FIN tells the peer the data was lost, as Linux does.",
        "RFC 1122 4.2.2.13",
    ),
    C.TIMEOUT: (
        "Retransmissions went unanswered too long (R2), or keepalive or the user timeout gave up: "
        "the connection is dropped (ETIMEDOUT).",
        "RFC 9293 3.8.3",
    ),
    C.RCV_SYN: (
        "An in-window SYN on a TCP without RFC 5961 is an error: a reset, the queues flushed, the "
        "connection closed (ECONNRESET); with RFC 5961 it would only draw a challenge ACK.",
        "RFC 9293 3.10.7.4 (fourth check)",
    ),
}


def explain(transition: Transition) -> tuple[str, str]:
    """``(text, where)`` for a row of TRANSITIONS; KeyError for anything else."""
    key = (transition.src, transition.dst, transition.cause)
    if key in _ROWS:
        return _ROWS[key]
    return _BY_CAUSE[transition.cause]
