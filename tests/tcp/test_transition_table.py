"""Every row of ``TRANSITIONS`` proves itself: for each row an explicit way to reach it, played
on a fresh engine connection through its public API (user calls, segments, time), and the
connection's last state change must be that very row.

One test per row (parametrized over the table), so ``-k``, random order and parallel runs still
check every row; a row added to the table without a way to reach it fails
``test_every_row_has_a_way``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tcplab.tcp.icmp import report as icmp_report
from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition

from .helpers import ISS, PEER_ISS, Peer, classic, seg

S, C = State, Cause

# The ways into each state (CLOSED: a fresh connection).
INTO: dict[State, Callable[[Peer], object]] = {
    S.CLOSED: lambda p: p,
    S.LISTEN: Peer.to_listen,
    S.SYN_SENT: Peer.to_syn_sent,
    S.SYN_RCVD: Peer.to_syn_rcvd,
    S.ESTABLISHED: Peer.to_established,
    S.FIN_WAIT_1: Peer.to_fin_wait_1,
    S.FIN_WAIT_2: Peer.to_fin_wait_2,
    S.CLOSE_WAIT: Peer.to_close_wait,
    S.CLOSING: Peer.to_closing,
    S.LAST_ACK: Peer.to_last_ack,
    S.TIME_WAIT: Peer.to_time_wait,
}


def _rst_at_rcv_nxt(p: Peer) -> None:
    p.recv(seg("R", p.conn.rcv_nxt))


def _unacked_data(p: Peer) -> None:
    p.conn.send(b"data", p.now)
    p.out()


def _unread_data_then(state: State) -> Callable[[Peer], None]:
    """ESTABLISHED with received data nobody read, then on to ``state``, then close()."""

    def way(p: Peer) -> None:
        p.to_established()
        p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"unread"))
        if state is S.CLOSE_WAIT:
            p.recv(seg("F.", PEER_ISS + 7, ISS + 1))
        elif state is S.FIN_WAIT_1:
            p.conn.shutdown(p.now)
        elif state is S.FIN_WAIT_2:
            p.conn.shutdown(p.now)
            p.recv(seg(".", PEER_ISS + 7, ISS + 2))
        p.out()
        p.conn.close(p.now)

    return way


def _then(state: State, action: Callable[[Peer], object]) -> Callable[[Peer], None]:
    def way(p: Peer) -> None:
        INTO[state](p)
        action(p)

    return way


def _timeout(state: State, unacked: bool = False) -> Callable[[Peer], None]:
    def way(p: Peer) -> None:
        INTO[state](p)
        if unacked:
            _unacked_data(p)
        p.advance(10_000.0)

    return way


def _passive_syn_rcvd_then_syn(p: Peer) -> None:
    # RFC 9293 3.10.7.4 fourth, without RFC 5961: a SYN in the window sends the child back to LISTEN.
    p.conn.config.rfc5961 = False
    p.to_syn_rcvd()
    p.recv(seg("S", PEER_ISS + 1))


def _simultaneous_open_then_rst(p: Peer) -> None:
    p.to_syn_sent()
    p.recv(seg("S", PEER_ISS))
    _rst_at_rcv_nxt(p)


def _close(p: Peer) -> None:
    p.conn.close(p.now)


def _abort(p: Peer) -> None:
    p.conn.abort(p.now)


WAYS: dict[Transition, Callable[[Peer], None]] = {}


def _way(src: State, dst: State, cause: Cause, how: Callable[[Peer], None]) -> None:
    WAYS[Transition(src, dst, cause)] = how


# -- the edges of RFC 9293 Figure 5 --
_way(S.CLOSED, S.LISTEN, C.LISTEN, Peer.to_listen)
_way(S.CLOSED, S.SYN_SENT, C.CONNECT, Peer.to_syn_sent)
_way(S.LISTEN, S.SYN_RCVD, C.RCV_SYN, Peer.to_syn_rcvd)
_way(S.LISTEN, S.SYN_SENT, C.SEND, _then(S.LISTEN, lambda p: p.conn.send(b"hi", p.now)))
_way(S.LISTEN, S.CLOSED, C.CLOSE, _then(S.LISTEN, _close))
_way(S.SYN_SENT, S.ESTABLISHED, C.RCV_SYN_ACK, Peer.to_established)
_way(S.SYN_SENT, S.SYN_RCVD, C.RCV_SYN, _then(S.SYN_SENT, lambda p: p.recv(seg("S", PEER_ISS))))
_way(S.SYN_SENT, S.CLOSED, C.CLOSE, _then(S.SYN_SENT, _close))
_way(S.SYN_RCVD, S.ESTABLISHED, C.RCV_ACK_OF_SYN, lambda p: p.to_established(passive=True))
_way(S.SYN_RCVD, S.FIN_WAIT_1, C.CLOSE, _then(S.SYN_RCVD, _close))
_way(S.SYN_RCVD, S.LISTEN, C.RCV_RST, _then(S.SYN_RCVD, _rst_at_rcv_nxt))
_way(S.SYN_RCVD, S.LISTEN, C.RCV_SYN, _passive_syn_rcvd_then_syn)
_way(S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE, Peer.to_fin_wait_1)
_way(S.ESTABLISHED, S.CLOSE_WAIT, C.RCV_FIN, Peer.to_close_wait)
_way(S.FIN_WAIT_1, S.FIN_WAIT_2, C.RCV_ACK_OF_FIN, Peer.to_fin_wait_2)
_way(S.FIN_WAIT_1, S.CLOSING, C.RCV_FIN, Peer.to_closing)
_way(S.FIN_WAIT_1, S.TIME_WAIT, C.RCV_FIN_ACK, _then(S.FIN_WAIT_1, lambda p: p.recv(seg("F.", PEER_ISS + 1, ISS + 2))))
_way(S.FIN_WAIT_2, S.TIME_WAIT, C.RCV_FIN, Peer.to_time_wait)
_way(S.CLOSE_WAIT, S.LAST_ACK, C.CLOSE, Peer.to_last_ack)
_way(S.CLOSING, S.TIME_WAIT, C.RCV_ACK_OF_FIN, _then(S.CLOSING, lambda p: p.recv(seg(".", PEER_ISS + 2, ISS + 2))))
_way(S.LAST_ACK, S.CLOSED, C.RCV_ACK_OF_FIN, _then(S.LAST_ACK, lambda p: p.recv(seg(".", PEER_ISS + 2, ISS + 2))))
_way(S.TIME_WAIT, S.CLOSED, C.TIMEOUT_2MSL, _timeout(S.TIME_WAIT))
# -- RST --
_way(S.SYN_SENT, S.CLOSED, C.RCV_RST, _then(S.SYN_SENT, lambda p: p.recv(seg("R.", 0, ISS + 1))))
_way(S.SYN_RCVD, S.CLOSED, C.RCV_RST, _simultaneous_open_then_rst)
for _state in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
    _way(_state, S.CLOSED, C.RCV_RST, _then(_state, _rst_at_rcv_nxt))
# -- ABORT --
for _state in (S.LISTEN, S.SYN_SENT, S.SYN_RCVD, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _way(_state, S.CLOSED, C.ABORT, _then(_state, _abort))
for _state in (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
    _way(_state, S.CLOSED, C.ABORT, _then(_state, _abort))
# -- close with unread data --
for _state in (S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.FIN_WAIT_2):
    _way(_state, S.CLOSED, C.CLOSE_UNREAD, _unread_data_then(_state))
# -- timeouts --
for _state in (S.SYN_SENT, S.SYN_RCVD, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK):
    _way(_state, S.CLOSED, C.TIMEOUT, _timeout(_state))
for _state in (S.ESTABLISHED, S.CLOSE_WAIT):
    _way(_state, S.CLOSED, C.TIMEOUT, _timeout(_state, unacked=True))
_way(S.FIN_WAIT_2, S.CLOSED, C.TIMEOUT_FIN_WAIT_2, _timeout(S.FIN_WAIT_2))
# -- a new SYN ends TIME_WAIT --
_way(S.TIME_WAIT, S.CLOSED, C.REOPEN, _then(S.TIME_WAIT, lambda p: p.conn.reopen(p.now)))
# -- without RFC 5961, an in-window SYN is an error: RST and CLOSED --


def _syn_without_rfc5961(state: State) -> Callable[[Peer], None]:
    def way(p: Peer) -> None:
        p.conn.config.rfc5961 = False
        p.conn.config.time_wait_rules = "rfc"  # Linux's TIME_WAIT has rules of its own
        if state is S.SYN_RCVD:  # actively opened: a simultaneous open
            p.to_syn_sent()
            p.recv(seg("S", PEER_ISS))
        else:
            INTO[state](p)
        p.recv(seg("S", p.conn.rcv_nxt))

    return way


for _state in (S.SYN_RCVD, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    _way(_state, S.CLOSED, C.RCV_SYN, _syn_without_rfc5961(_state))
_way(S.TIME_WAIT, S.CLOSED, C.RCV_SYN, _syn_without_rfc5961(S.TIME_WAIT))


# -- an ICMP error while opening --
def _icmp(unreach_code: int) -> Callable[[Peer], None]:
    def way(p: Peer) -> None:
        rep = icmp_report(4, 3, unreach_code)
        assert rep is not None
        p.conn.icmp_arrives(rep, p.conn.snd_una, p.now)

    return way


def _simultaneous_open_then(action: Callable[[Peer], None]) -> Callable[[Peer], None]:
    def way(p: Peer) -> None:
        p.to_syn_sent()
        p.recv(seg("S", PEER_ISS))
        action(p)

    return way


_way(S.SYN_SENT, S.CLOSED, C.RCV_ICMP, _then(S.SYN_SENT, _icmp(3)))  # port unreachable
_way(S.SYN_RCVD, S.CLOSED, C.RCV_ICMP, _simultaneous_open_then(_icmp(3)))
_way(S.SYN_RCVD, S.LISTEN, C.RCV_ICMP, _then(S.SYN_RCVD, _icmp(1)))  # host unreachable


def test_every_row_has_a_way():
    assert set(WAYS) == set(TRANSITIONS)


@pytest.mark.parametrize("row", TRANSITIONS, ids=Transition.label)
def test_row_is_reached(row: Transition):
    p = Peer(classic(retries2=2, orphan_retries=2, syn_retries=2, synack_retries=2))
    WAYS[row](p)
    p.out()
    assert p.transitions, f"no state change at all on the way to {row.label()}"
    assert p.transitions[-1] == (row.src.value, row.dst.value, row.cause.value)
