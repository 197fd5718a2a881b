"""Quick-ACK mode entered again by a duplicate (ackpolicy.py; Linux tcp_enter_quickack_mode in
tcp_send_dupack and tcp_data_queue), measured on this machine's kernel (notes/quickack-reentry.md):
after the 16 quick ACKs and a few delayed ones (tcpi_ato 196 ms), data received already arrives
again: it is acknowledged at once with a D-SACK block, tcpi_ato reads 40 ms, and the next new
segments are acknowledged at once: 15 when the duplicate ended at the window's last update
(its ACK uses one up), 16 when it ended before. A partial duplicate, out-of-order data, data
beyond the window and a bare old ACK do not re-enter the mode.

The connection under test plays the kernel's part (a passive open); the test is the peer."""

from __future__ import annotations

import pytest

from tcplab.tcp import Config, State, profile
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import Sack, parse_flags

from .helpers import ISS, PEER_ISS, Peer, seg
from .test_delayed_ack import server
from .test_linux_profile import SYN_OPTS, ack_delays, ts

QUICK16 = [0.0] * 16


def grown(config=None):
    """``server`` with three more 10-byte segments 50 ms apart (ACKs from the timer, ato
    grown past tcp_delack_max: tcpi_ato 196 ms)."""
    p = server(0.0, config)
    delays = ack_delays(p, [10] * 3, 0.05, 0.2)
    if p.conn.config.quickack:
        assert delays == pytest.approx([0.04] * 3)
        assert p.conn.tcp_info()["ato"] == pytest.approx(0.196)
    return p


def test_a_duplicate_of_the_last_segment_refills_the_quick_acks():
    p = grown()
    rcv = p.conn.rcv_nxt
    p.now = 0.36
    p.conn.segment_arrives(seg("P.", rcv - 10, ISS + 1, win=512, data=bytes(10), options=ts()), p.now)
    (ack,) = p.raw_out()
    assert (ack.seq, ack.ack, len(ack.payload)) == (ISS + 1, rcv, 0)
    assert ack.option(Sack) == Sack(((rcv - 10, rcv),))  # RFC 2883: the duplicate reported
    assert p.conn.tcp_info()["ato"] == 0.04  # tcp_enter_quickack_mode: TCP_ATO_MIN
    # its ACK was one of the 16 (tcp_data_queue schedules it): 15 more at once, then 40 ms
    assert ack_delays(p, [10] * 17, 0.05, 0.39) == [0.0] * 15 + [0.04, 0.04]


def test_an_older_duplicate_leaves_all_sixteen():
    """A duplicate ending before the last window update (rcv_wup) fails tcp_sequence:
    tcp_send_dupack sends its ACK unscheduled, so 16 quick ACKs remain."""
    p = grown()
    rcv = p.conn.rcv_nxt
    p.now = 0.36
    p.conn.segment_arrives(seg("P.", rcv - 150, ISS + 1, win=512, data=bytes(10), options=ts()), p.now)
    (ack,) = p.raw_out()
    assert (ack.ack, ack.option(Sack)) == (rcv, Sack(((rcv - 150, rcv - 140),)))
    assert ack_delays(p, [10] * 17, 0.05, 0.39) == [*QUICK16, 0.04]


def test_a_duplicate_ends_ping_pong_mode():
    """tcp_enter_quickack_mode leaves ping-pong mode (measured after TCP_QUICKACK 0: 15 quick)."""
    p = grown()
    p.conn.set_quickack(0, 0.35)
    assert not p.conn.quickack
    rcv = p.conn.rcv_nxt
    assert p.recv(seg("P.", rcv - 10, ISS + 1, win=512, data=bytes(10), options=ts()), at=0.36) == [
        (".", ISS + 1, rcv, 64, 0)
    ]
    assert p.conn.quickack
    assert ack_delays(p, [10] * 16, 0.05, 0.39) == [0.0] * 15 + [0.04]


@pytest.mark.parametrize("case", ["partial", "out-of-order", "beyond", "bare-ack"])
def test_what_does_not_re_enter_quick_ack_mode(case):
    """Measured: a partial duplicate's new part is delayed as any (its ACK carries the D-SACK);
    out-of-order data and the segment filling the hole are acknowledged at once, but not the
    data after; data beyond the window and a bare ACK with an old sequence number get an ACK,
    nothing more. ato is not reset (the filling segment moves it: tcp_event_data_recv)."""
    p = grown()
    rcv = p.conn.rcv_nxt
    t = 0.36
    if case == "partial":
        assert p.recv(seg("P.", rcv - 5, ISS + 1, win=512, data=bytes(15), options=ts()), at=t) == []
        due = p.conn.next_deadline()
        assert due == pytest.approx(t + 0.04)
        p.conn.handle_timeout(due)
        (ack,) = p.raw_out()
        assert (ack.ack, ack.option(Sack)) == (rcv + 10, Sack(((rcv - 5, rcv),)))
        rcv += 10
    elif case == "out-of-order":
        assert p.recv(seg("P.", rcv + 10, ISS + 1, win=512, data=bytes(10), options=ts()), at=t) == [
            (".", ISS + 1, rcv, 64, 0)
        ]
        assert p.recv(seg("P.", rcv, ISS + 1, win=512, data=bytes(10), options=ts()), at=t + 0.03) == [
            (".", ISS + 1, rcv + 20, 64, 0)
        ]
        rcv += 20
    elif case == "beyond":
        assert p.recv(seg("P.", rcv + 200_000, ISS + 1, win=512, data=bytes(10), options=ts()), at=t) == [
            (".", ISS + 1, rcv, 64, 0)
        ]
    else:
        assert p.recv(seg(".", rcv - 10, ISS + 1, win=512, options=ts()), at=t) == [(".", ISS + 1, rcv, 64, 0)]
    assert p.conn.tcp_info()["ato"] > 0.04
    assert p.conn.rcv_nxt == rcv
    assert ack_delays(p, [10] * 3, 0.05, t + 0.06) == [0.04] * 3


def test_rfc_profile_acknowledges_a_duplicate_and_nothing_more():
    """RFC 9293 3.10.7.4: an unacceptable segment gets an ACK; the delay stays fixed."""
    p = grown(profile("rfc"))
    rcv = p.conn.rcv_nxt
    assert p.recv(seg("P.", rcv - 10, ISS + 1, win=512, data=bytes(10), options=ts()), at=1.0) == [
        (".", ISS + 1, rcv, 32752, 0)
    ]
    assert ack_delays(p, [10] * 2, 0.3, 1.1) == [0.2, 0.2]


# ------------------------------------------------------------ TCP_QUICKACK 0 before connect()
def client_delaying_its_ack():
    """An active open with TCP_QUICKACK 0 set before connect(); the SYN-ACK arrives at 10 ms."""
    p = Peer(Config())
    p.conn.set_quickack(0, 0.0)
    p.conn.connect(0.0)
    (syn,) = p.raw_out()
    assert syn.flags == parse_flags("S")
    assert p.recv(seg("S.", PEER_ISS, ISS + 1, win=512, options=SYN_OPTS), at=0.01) == []
    assert p.state is State.ESTABLISHED
    return p


def test_tcp_quickack_zero_before_connect_delays_the_ack_of_the_syn_ack():
    """tcp_rcv_synsent_state_process in ping-pong mode: the ACK waits on a TCP_DELACK_MAX
    timer (measured 204 ms: 200 ms and a jiffy), then quick-ACK mode (entered with it: ping-pong
    mode over, getsockopt reads 1) acknowledges the first data at once; the timer doubled ato
    (tcpi_ato 80 ms)."""
    p = client_delaying_its_ack()
    assert p.conn.quickack
    assert p.advance(1.0) == [(pytest.approx(0.21), ".", ISS + 1, PEER_ISS + 1, 63, 0)]
    assert p.conn.tcp_info()["ato"] == pytest.approx(0.08)
    assert p.recv(seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=bytes(10), options=ts()), at=1.5) == [
        (".", ISS + 1, PEER_ISS + 11, 63, 0)
    ]


def test_data_sent_meanwhile_carries_the_ack_of_the_syn_ack():
    """Measured: the application's 20 bytes 50 ms after connect() returned are the third
    segment, `P. 1:21(20) ack 1`; no bare ACK before or after."""
    p = client_delaying_its_ack()
    p.conn.send(bytes(20), 0.06)
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, 63, 20)]
    assert not p.conn.timers.armed(Timer.DELAYED_ACK)
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 21, win=512, options=ts()), at=0.07) == []
    # the quick ACKs of quick-ACK mode
    assert ack_delays(p, [10] * 3, 0.05, 0.1) == [0.0] * 3


def test_data_sent_at_once_enters_ping_pong_mode_again():
    """tcp_finish_connect set lrcvtime: data sent within ato (40 ms) of the SYN-ACK is a reply
    (tcp_event_data_sent): the first data's ACK waits for the timer (measured 44 ms), which
    leaves ping-pong mode; the next are quick."""
    p = client_delaying_its_ack()
    p.conn.send(bytes(20), 0.011)
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, 63, 20)]
    assert not p.conn.quickack
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 21, win=512, options=ts()), at=0.02) == []
    assert ack_delays(p, [10] * 3, 0.05, 0.03) == [0.04, 0.0, 0.0]


def test_without_tcp_quickack_zero_the_syn_ack_is_acknowledged_at_once():
    p = Peer(Config())
    p.conn.connect(0.0)
    p.raw_out()
    assert p.recv(seg("S.", PEER_ISS, ISS + 1, win=512, options=SYN_OPTS), at=0.01) == [
        (".", ISS + 1, PEER_ISS + 1, 63, 0)
    ]
