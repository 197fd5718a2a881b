"""Packet-level tests of RFC 9293 section 3.10: every state, exact segments in and out."""

import errno

import pytest

from tcplab.tcp import State
from tcplab.tcp.events import Closed, Connected, PeerFinished, Reset, TimedOut
from tcplab.wire.tcp import MSS

from .helpers import ISS, PEER_ISS, WIN, Peer, classic, seg

S = State


# ------------------------------------------------------------------ opening the connection
def test_active_open_three_way_handshake():
    p = Peer()
    p.conn.connect(0.0)
    syn = p.raw_out()
    assert [(s.flags, s.seq, s.ack, s.window) for s in syn] == [(0x02, ISS, 0, WIN)]
    assert syn[0].options == (MSS(1460),)
    assert p.state is S.SYN_SENT
    assert p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),)), at=0.1) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.ESTABLISHED
    assert any(isinstance(e, Connected) for e in p.events())
    assert p.transitions == [("CLOSED", "SYN_SENT", "connect"), ("SYN_SENT", "ESTABLISHED", "rcv SYN-ACK")]


def test_passive_open_three_way_handshake():
    p = Peer().to_listen()
    out = p.recv(seg("S", PEER_ISS, options=(MSS(1460),)))
    assert out == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.SYN_RCVD
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1)) == []
    assert p.state is S.ESTABLISHED
    assert p.transitions == [
        ("CLOSED", "LISTEN", "listen"),
        ("LISTEN", "SYN_RCVD", "rcv SYN"),
        ("SYN_RCVD", "ESTABLISHED", "rcv ACK of SYN"),
    ]


def test_simultaneous_open():
    # RFC 9293 Figure 8: both send SYN; each answers the other's SYN with SYN,ACK.
    p = Peer().to_syn_sent()
    assert p.recv(seg("S", PEER_ISS, options=(MSS(1460),))) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.SYN_RCVD
    # The peer's SYN,ACK acknowledges our SYN.
    assert p.recv(seg("S.", PEER_ISS, ISS + 1)) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.ESTABLISHED
    assert [t[1] for t in p.transitions] == ["SYN_SENT", "SYN_RCVD", "ESTABLISHED"]


def test_simultaneous_open_completed_by_plain_ack():
    p = Peer().to_syn_sent()
    p.recv(seg("S", PEER_ISS))
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1)) == []
    assert p.state is S.ESTABLISHED


def test_listen_then_send_becomes_active_open():
    p = Peer()
    p.conn.listen(0.0)
    assert p.conn.send(b"hi", 0.0) == 2
    assert p.out() == [("S", ISS, 0, WIN, 0)]
    assert p.state is S.SYN_SENT
    assert p.transitions[-1] == ("LISTEN", "SYN_SENT", "send")
    # The queued data goes out once ESTABLISHED.
    assert p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),))) == [("P.", ISS + 1, PEER_ISS + 1, WIN, 2)]


def test_listen_without_remote_cannot_send():
    p = Peer(remote=None).to_listen()
    with pytest.raises(OSError) as e:
        p.conn.send(b"x", 0.0)
    assert e.value.errno == errno.ENOTCONN


def test_listen_close_and_abort():
    p = Peer().to_listen()
    p.conn.close(0.0)
    assert p.state is S.CLOSED and p.out() == []
    p = Peer().to_listen()
    p.conn.abort(0.0)
    assert p.state is S.CLOSED and p.out() == []
    assert p.transitions[-1] == ("LISTEN", "CLOSED", "abort")


def test_listen_ignores_rst_and_resets_ack():
    p = Peer().to_listen()
    assert p.recv(seg("R", 7)) == []
    # RFC 9293 3.10.7.2: an ACK in LISTEN draws <SEQ=SEG.ACK><CTL=RST>.
    assert p.recv(seg(".", 7, 4242)) == [("R", 4242, 0, 0, 0)]
    assert p.state is S.LISTEN
    assert p.recv(seg("F", 7)) == []  # other control or text: dropped


def test_closed_connection_answers_with_rst():
    p = Peer()
    # RFC 9293 3.10.7.1: with ACK: <SEQ=SEG.ACK><CTL=RST>; without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    assert p.recv(seg(".", 7, 4242)) == [("R", 4242, 0, 0, 0)]
    assert p.recv(seg("S", 7)) == [("R.", 0, 8, 0, 0)]
    assert p.recv(seg("P.", 7, 9, data=b"abc")) == [("R", 9, 0, 0, 0)]
    assert p.recv(seg("F", 7, data=b"ab")) == [("R.", 0, 10, 0, 0)]
    assert p.recv(seg("R", 7)) == []


# --------------------------------------------------------------------------------- SYN-SENT
def test_syn_sent_unacceptable_ack_draws_rst():
    p = Peer().to_syn_sent()
    assert p.recv(seg("S.", PEER_ISS, ISS + 5)) == [("R", ISS + 5, 0, 0, 0)]
    assert p.recv(seg(".", PEER_ISS, ISS)) == [("R", ISS, 0, 0, 0)]
    assert p.state is S.SYN_SENT


def test_syn_sent_rst_with_acceptable_ack_is_connection_refused():
    p = Peer().to_syn_sent()
    assert p.recv(seg("R", 0)) == []  # no ACK: not acceptable, ignored
    assert p.state is S.SYN_SENT
    assert p.recv(seg("R.", 0, ISS + 1)) == []
    assert p.state is S.CLOSED
    assert p.conn.error == errno.ECONNREFUSED
    assert any(isinstance(e, Reset) and e.refused for e in p.events())
    assert p.transitions[-1] == ("SYN_SENT", "CLOSED", "rcv RST")


def test_syn_sent_close():
    p = Peer().to_syn_sent()
    p.conn.close(0.0)
    assert p.state is S.CLOSED and p.out() == []
    assert p.transitions[-1] == ("SYN_SENT", "CLOSED", "close")


def test_syn_sent_abort():
    p = Peer().to_syn_sent()
    p.conn.abort(0.0)
    assert p.state is S.CLOSED and p.out() == []  # no RST before the peer is synchronized


def test_syn_retransmitted_with_backoff_then_timed_out():
    p = Peer(classic(syn_retries=3)).to_syn_sent()
    sent = p.advance(100.0)
    # RFC 6298: initial RTO 1 s, doubled each time: retransmissions at 1, 3, 7; give up at 15.
    assert sent == [(1.0, "S", ISS, 0, WIN, 0), (3.0, "S", ISS, 0, WIN, 0), (7.0, "S", ISS, 0, WIN, 0)]
    assert p.state is S.CLOSED
    assert p.conn.error == errno.ETIMEDOUT
    assert any(isinstance(e, TimedOut) for e in p.events())
    assert p.transitions[-1] == ("SYN_SENT", "CLOSED", "timeout")
    assert p.conn.next_deadline() is None


# --------------------------------------------------------------------------------- SYN-RCVD
def test_syn_rcvd_rst_returns_passive_connection_to_listen():
    p = Peer().to_syn_rcvd()
    assert p.recv(seg("R", PEER_ISS + 1)) == []
    assert p.state is S.LISTEN
    assert p.transitions[-1] == ("SYN_RCVD", "LISTEN", "rcv RST")
    # ... and it can take a new SYN.
    assert p.recv(seg("S", 9000)) == [("S.", ISS, 9001, WIN, 0)]


def test_syn_rcvd_rst_closes_actively_opened_connection():
    p = Peer().to_syn_sent()
    p.recv(seg("S", PEER_ISS))
    assert p.recv(seg("R", PEER_ISS + 1)) == []
    assert p.state is S.CLOSED and p.conn.error == errno.ECONNREFUSED
    assert p.transitions[-1] == ("SYN_RCVD", "CLOSED", "rcv RST")


def test_syn_rcvd_close_sends_fin():
    p = Peer().to_syn_rcvd()
    p.conn.close(0.0)
    assert p.out() == [("F.", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.FIN_WAIT_1
    assert p.transitions[-1] == ("SYN_RCVD", "FIN_WAIT_1", "close")
    # The ACK of SYN and FIN together takes us to FIN_WAIT_2.
    p.recv(seg(".", PEER_ISS + 1, ISS + 2))
    assert p.state is S.FIN_WAIT_2


def test_syn_rcvd_retransmitted_syn_gets_syn_ack_again():
    p = Peer().to_syn_rcvd()
    assert p.recv(seg("S", PEER_ISS)) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.SYN_RCVD


def test_syn_rcvd_unacceptable_ack_draws_rst():
    p = Peer().to_syn_rcvd()
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 9)) == [("R", ISS + 9, 0, 0, 0)]
    assert p.state is S.SYN_RCVD


def test_syn_rcvd_in_window_syn_without_rfc5961_returns_to_listen():
    p = Peer(classic(rfc5961=False)).to_syn_rcvd()
    assert p.recv(seg("S", PEER_ISS + 10)) == []
    assert p.state is S.LISTEN
    assert p.transitions[-1] == ("SYN_RCVD", "LISTEN", "rcv SYN")


def test_syn_rcvd_in_window_syn_with_rfc5961_draws_challenge_ack():
    p = Peer().to_syn_rcvd()
    assert p.recv(seg("S", PEER_ISS + 10)) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.SYN_RCVD


def test_syn_ack_retransmitted_then_timed_out():
    p = Peer(classic(synack_retries=2)).to_syn_rcvd()
    sent = p.advance(60.0)
    assert sent == [(1.0, "S.", ISS, PEER_ISS + 1, WIN, 0), (3.0, "S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.CLOSED
    assert p.transitions[-1] == ("SYN_RCVD", "CLOSED", "timeout")


@pytest.mark.parametrize(
    ("abort_rst", "rst"), [("linux", ("R.", ISS + 1, PEER_ISS + 1, WIN, 0)), ("rfc", ("R", ISS + 1, 0, 0, 0))]
)
def test_syn_rcvd_abort_sends_rst(abort_rst, rst):
    p = Peer(classic(abort_rst=abort_rst)).to_syn_rcvd()
    p.conn.abort(0.0)
    assert p.out() == [rst]
    assert p.state is S.CLOSED


def test_syn_rcvd_fin_after_ack_goes_to_close_wait():
    p = Peer().to_syn_rcvd()
    # Linux's choice (RFC 9293 3.10.7.4 asks for an ACK, not when): the delayed-ACK timer at
    # the next jiffy, no data having come (test_linux_profile's FIN tests).
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1)) == []
    assert p.advance(1.0) == [(0.004, ".", ISS + 1, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.CLOSE_WAIT
    assert [t[1] for t in p.transitions[-2:]] == ["ESTABLISHED", "CLOSE_WAIT"]


# ------------------------------------------------------------------------------ ESTABLISHED
def test_established_data_both_ways_and_ack():
    p = Peer(classic(delayed_ack=0.04, quickack=0)).to_established()
    assert p.conn.send(b"hello", 1.0) == 5
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, WIN, 5)]
    # The peer's data: acknowledged after the delayed-ACK time (one segment only).
    assert p.recv(seg("P.", PEER_ISS + 1, ISS + 6, data=b"world"), at=1.1) == []
    assert p.advance(1.2) == [(1.14, ".", ISS + 6, PEER_ISS + 6, WIN - 5, 0)]
    assert p.conn.receive(now=p.now) == b"world"


def test_established_close_sends_fin():
    p = Peer().to_established()
    p.conn.close(0.0)
    assert p.out() == [("F.", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.FIN_WAIT_1


def test_established_rcv_fin_goes_to_close_wait():
    # After the FIN the window field is one less: the FIN took an octet of the window and
    # receiver SWS avoidance (RFC 9293 3.8.6.2.2) does not move the right edge by one octet.
    p = Peer().to_established()
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1)) == []  # on the delayed-ACK timer
    assert p.advance(1.0) == [(0.004, ".", ISS + 1, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.CLOSE_WAIT
    assert any(isinstance(e, PeerFinished) for e in p.events())
    assert p.conn.eof


SYNCHRONIZED_WAYS = {
    "ESTABLISHED": lambda p: p.to_established(),
    "FIN_WAIT_1": lambda p: p.to_fin_wait_1(),
    "FIN_WAIT_2": lambda p: p.to_fin_wait_2(),
    "CLOSE_WAIT": lambda p: p.to_close_wait(),
    "CLOSING": lambda p: p.to_closing(),
    "LAST_ACK": lambda p: p.to_last_ack(),
    "TIME_WAIT": lambda p: p.to_time_wait(),
}


def _rcv_nxt(p):
    return p.conn.rcv_nxt


@pytest.mark.parametrize("state", list(SYNCHRONIZED_WAYS))
def test_rst_at_rcv_nxt_closes_every_synchronized_state(state):
    p = Peer()
    SYNCHRONIZED_WAYS[state](p)
    assert p.recv(seg("R", _rcv_nxt(p))) == []
    assert p.state is S.CLOSED
    assert p.transitions[-1] == (state, "CLOSED", "rcv RST")
    # SO_ERROR as Linux's tcp_reset sets it (measured, notes/linux-behaviour.md F): EPIPE in
    # CLOSE_WAIT, ECONNRESET elsewhere (CLOSING and LAST_ACK too); a TIME_WAIT has no user.
    expected = {"CLOSE_WAIT": errno.EPIPE, "TIME_WAIT": 0}.get(state, errno.ECONNRESET)
    assert p.conn.error == expected
    resets = [e for e in p.events() if isinstance(e, Reset)]
    assert [(e.refused, e.errno) for e in resets] == ([(False, expected)] if expected else [])


@pytest.mark.parametrize("state", list(SYNCHRONIZED_WAYS))
@pytest.mark.parametrize("rules", ["linux", "rfc"])
def test_in_window_rst_draws_challenge_ack(state, rules):
    # RFC 5961 3.2: an RST in the window but not at RCV.NXT is answered with an ACK. Linux's
    # TIME_WAIT ignores it silently (tcp_timewait_state_process; measured).
    p = Peer(classic(time_wait_rules=rules))
    SYNCHRONIZED_WAYS[state](p)
    snd_nxt, rcv_nxt = p.conn.snd_nxt, _rcv_nxt(p)
    out = p.recv(seg("R", rcv_nxt + 100))
    if state == "TIME_WAIT" and rules == "linux":
        assert out == []
    else:
        assert [(f, s, a) for f, s, a, _w, _l in out] == [(".", snd_nxt, rcv_nxt)]
    assert p.state.value == state


@pytest.mark.parametrize("state", list(SYNCHRONIZED_WAYS))
def test_out_of_window_rst_is_ignored(state):
    p = Peer()
    SYNCHRONIZED_WAYS[state](p)
    assert p.recv(seg("R", _rcv_nxt(p) + 200_000)) == []
    assert p.recv(seg("R", _rcv_nxt(p) - 1)) == []
    assert p.state.value == state


@pytest.mark.parametrize("state", list(SYNCHRONIZED_WAYS))
def test_syn_in_synchronized_state_draws_challenge_ack(state):
    # RFC 5961 4.2 / RFC 9293 3.10.7.4 fourth: challenge ACK, drop.
    p = Peer()
    SYNCHRONIZED_WAYS[state](p)
    snd_nxt, rcv_nxt = p.conn.snd_nxt, _rcv_nxt(p)
    out = p.recv(seg("S", rcv_nxt + 10))
    assert [(f, s, a) for f, s, a, _w, _l in out] == [(".", snd_nxt, rcv_nxt)]
    assert p.state.value == state


def test_ack_of_unsent_data_is_answered_and_dropped():
    p = Peer().to_established()
    out = p.recv(seg("P.", PEER_ISS + 1, ISS + 500, data=b"xyz"))
    assert out == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.conn.recv_buffered == 0  # the text was dropped with the segment


def test_unacceptable_segment_is_acked():
    p = Peer().to_established()
    # Old duplicate data (entirely before RCV.NXT): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    assert p.recv(seg("P.", PEER_ISS - 10, ISS + 1, data=b"old")) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]


def test_segment_without_ack_is_dropped_in_established():
    p = Peer().to_established()
    assert p.recv(seg("P", PEER_ISS + 1, data=b"abc")) == []
    assert p.conn.recv_buffered == 0


@pytest.mark.parametrize("abort_rst", ["linux", "rfc"])
@pytest.mark.parametrize(
    "state,window",
    [
        ("ESTABLISHED", WIN),
        ("FIN_WAIT_1", WIN),
        ("FIN_WAIT_2", WIN),
        ("CLOSE_WAIT", WIN - 1),
        ("CLOSING", None),
        ("LAST_ACK", None),
        ("TIME_WAIT", None),
    ],
)
def test_abort_in_every_synchronized_state(state, window, abort_rst):
    p = Peer(classic(abort_rst=abort_rst))
    SYNCHRONIZED_WAYS[state](p)
    p.out()
    snd_nxt, rcv_nxt = p.conn.snd_nxt, p.conn.rcv_nxt
    p.conn.abort(p.now)
    # RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST> in ESTABLISHED..CLOSE-WAIT; nothing later on.
    # Linux (tcp_send_active_reset): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> and the window.
    rst = ("R.", snd_nxt, rcv_nxt, window, 0) if abort_rst == "linux" else ("R", snd_nxt, 0, 0, 0)
    assert p.out() == ([rst] if window is not None else [])
    assert p.state is S.CLOSED
    assert p.transitions[-1] == (state, "CLOSED", "abort")
    assert isinstance(p.events()[-1], Closed)


@pytest.mark.parametrize("state", ["ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "FIN_WAIT_2"])
def test_close_with_unread_data_sends_rst(state):
    # RFC 1122 4.2.2.13 (and Linux): closing with received data unread resets the connection.
    p = Peer().to_established()
    p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"unread"))
    if state == "CLOSE_WAIT":
        p.recv(seg("F.", PEER_ISS + 7, ISS + 1))
    elif state == "FIN_WAIT_1":
        p.conn.shutdown(p.now)
    elif state == "FIN_WAIT_2":
        p.conn.shutdown(p.now)
        p.recv(seg(".", PEER_ISS + 7, ISS + 2))
    p.out()
    assert p.state.value == state
    snd_nxt = p.conn.snd_nxt
    rcv_nxt = p.conn.rcv_nxt
    p.conn.close(p.now)
    # Linux's form (tcp_send_active_reset): RST+ACK with the window, here 6 octets unread
    assert p.out() == [("R.", snd_nxt, rcv_nxt, WIN - 6 - (state == "CLOSE_WAIT"), 0)]
    assert p.state is S.CLOSED
    assert p.transitions[-1] == (state, "CLOSED", "close, unread data")


# ------------------------------------------------------------------------- closing sequences
def test_fin_wait_1_ack_of_fin_goes_to_fin_wait_2_then_time_wait():
    p = Peer(classic(msl=30.0)).to_fin_wait_1()
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 2), at=1.0) == []
    assert p.state is S.FIN_WAIT_2
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 2), at=2.0) == [(".", ISS + 2, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.TIME_WAIT
    # 2 MSL later: CLOSED.
    assert p.conn.next_deadline() == pytest.approx(62.0)
    assert p.advance(100.0) == []
    assert p.state is S.CLOSED
    assert p.transitions[-1] == ("TIME_WAIT", "CLOSED", "timeout 2MSL")


def test_fin_wait_1_fin_that_acks_our_fin_goes_straight_to_time_wait():
    p = Peer().to_fin_wait_1()
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 2)) == [(".", ISS + 2, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.TIME_WAIT
    assert p.transitions[-1] == ("FIN_WAIT_1", "TIME_WAIT", "rcv FIN+ACK of FIN")


def test_simultaneous_close_through_closing():
    p = Peer().to_fin_wait_1()
    # The peer's FIN crosses ours: it does not acknowledge our FIN.
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1)) == [(".", ISS + 2, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.CLOSING
    assert p.recv(seg(".", PEER_ISS + 2, ISS + 2)) == []
    assert p.state is S.TIME_WAIT
    assert p.transitions[-2:] == [("FIN_WAIT_1", "CLOSING", "rcv FIN"), ("CLOSING", "TIME_WAIT", "rcv ACK of FIN")]


def test_passive_close_through_last_ack():
    p = Peer().to_close_wait()
    p.conn.close(0.0)
    assert p.out() == [("F.", ISS + 1, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.LAST_ACK
    assert p.recv(seg(".", PEER_ISS + 2, ISS + 2)) == []
    assert p.state is S.CLOSED
    assert p.transitions[-1] == ("LAST_ACK", "CLOSED", "rcv ACK of FIN")


def test_time_wait_reacks_retransmitted_fin_and_restarts_2msl():
    p = Peer(classic(msl=30.0)).to_time_wait()
    assert p.conn.next_deadline() == pytest.approx(60.0)
    out = p.recv(seg("F.", PEER_ISS + 1, ISS + 2), at=20.0)
    assert out == [(".", ISS + 2, PEER_ISS + 2, WIN - 1, 0)]
    assert p.state is S.TIME_WAIT
    assert p.conn.next_deadline() == pytest.approx(80.0)
    p.advance(79.0)
    assert p.state is S.TIME_WAIT
    p.advance(80.0)
    assert p.state is S.CLOSED


def test_time_wait_ignores_rst_with_rfc1337():
    p = Peer(classic(rfc1337=True)).to_time_wait()
    assert p.recv(seg("R", PEER_ISS + 2)) == []
    assert p.state is S.TIME_WAIT


def test_time_wait_reopened_by_new_syn():
    p = Peer().to_time_wait()
    assert p.conn.time_wait_accepts_syn(seg("S", PEER_ISS + 100_000), p.now)
    assert not p.conn.time_wait_accepts_syn(seg("S", PEER_ISS - 100), p.now)
    p.conn.reopen(p.now)
    assert p.state is S.CLOSED
    p.events()
    assert p.transitions[-1] == ("TIME_WAIT", "CLOSED", "rcv SYN in TIME_WAIT")


def test_fin_wait_2_timeout_for_closed_connection():
    p = Peer(classic(fin_wait_2_timeout=60.0)).to_fin_wait_2(close=True)
    assert p.advance(59.0) == [] and p.state is S.FIN_WAIT_2
    assert p.advance(61.0) == []
    assert p.state is S.CLOSED
    assert p.transitions[-1] == ("FIN_WAIT_2", "CLOSED", "timeout FIN_WAIT_2")


def test_fin_wait_2_after_shutdown_waits_for_the_peer():
    p = Peer(classic(fin_wait_2_timeout=60.0)).to_fin_wait_2(close=False)
    assert p.conn.next_deadline() is None
    assert p.state is S.FIN_WAIT_2


def test_half_close_receiving_goes_on_in_fin_wait_2():
    p = Peer().to_fin_wait_2(close=False)
    p.recv(seg("P.", PEER_ISS + 1, ISS + 2, data=b"more data"))
    assert p.conn.receive(now=p.now) == b"more data"
    p.recv(seg("F.", PEER_ISS + 10, ISS + 2))
    assert p.state is S.TIME_WAIT


def test_half_close_sending_goes_on_in_close_wait():
    p = Peer().to_close_wait()
    assert p.conn.send(b"reply", 0.0) == 5
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 2, WIN - 1, 5)]
    p.conn.close(0.0)
    assert p.out() == [("F.", ISS + 6, PEER_ISS + 2, WIN - 1, 0)]


def test_send_after_shutdown_is_epipe():
    p = Peer().to_established()
    p.conn.shutdown(0.0)
    with pytest.raises(OSError) as e:
        p.conn.send(b"x", 0.0)
    assert e.value.errno == errno.EPIPE


@pytest.mark.parametrize("state", ["ESTABLISHED", "FIN_WAIT_1", "CLOSE_WAIT", "CLOSING", "LAST_ACK"])
def test_retransmission_gives_up_after_r2(state):
    p = Peer(classic(retries2=2, orphan_retries=2))
    SYNCHRONIZED_WAYS[state](p)
    if state in ("ESTABLISHED", "CLOSE_WAIT"):
        p.conn.send(b"data", p.now)
        p.out()
    p.advance(1000.0)
    assert p.state is S.CLOSED
    assert p.conn.error == errno.ETIMEDOUT
    assert p.transitions[-1] == (state, "CLOSED", "timeout")


def test_each_state_change_tells_its_row_of_the_table_and_a_change_not_in_it_raises():
    from tcplab.tcp.events import StateChanged
    from tcplab.tcp.states import TRANSITIONS, Cause

    p = Peer()
    p.conn.connect(0.0)
    p.raw_out()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),)), at=0.1)
    rows = [e.transition for e in p.events() if isinstance(e, StateChanged)]
    assert [(r.src, r.dst, r.cause) for r in rows] == [
        (S.CLOSED, S.SYN_SENT, Cause.CONNECT),
        (S.SYN_SENT, S.ESTABLISHED, Cause.RCV_SYN_ACK),
    ]
    assert all(any(r is t for t in TRANSITIONS) for r in rows)  # the table's own rows
    with pytest.raises(KeyError):
        p.conn._enter(S.LISTEN, Cause.CLOSE, 0.2)  # ESTABLISHED -> LISTEN is no row
    assert p.state is S.ESTABLISHED and p.conn.events() == []
