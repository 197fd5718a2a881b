"""The delayed-ACK timeout as Linux adapts it (icsk_ack.ato; ackpolicy.py), measured on this
machine's kernel (notes/delack-ato.md): after the quick ACKs, a trickle of small segments 150 ms
apart gets its ACKs 41, 87, then 105-108 ms later over a 100 ms RTT; 42, 84, then 196-204 ms
over a 300 ms RTT; 42-46 ms over a sub-millisecond RTT. The rfc profile keeps a fixed delay.

The connection under test plays the kernel's part (a passive open); the test is the peer."""

from __future__ import annotations

import pytest

from tcplab.tcp import Config, State, profile
from tcplab.tcp.timers import Timer

from .helpers import ISS, PEER_ISS, Peer, seg
from .test_linux_profile import SYN_OPTS, ack_delays, ts


def server(rtt: float, config: Config | None = None) -> Peer:
    """A passive open whose final ACK comes ``rtt`` after the SYN-ACK (the SRTT, RTO 3 x rtt
    at least 200 ms + rtt), then the 16 quick ACKs used up by 10-byte segments 5 ms apart."""
    p = Peer(config or Config()).to_listen()
    p.conn.segment_arrives(seg("S", PEER_ISS, options=SYN_OPTS), 0.0)
    p.raw_out()
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts()), rtt)
    assert p.raw_out() == [] and p.state is State.ESTABLISHED
    if p.conn.config.quickack:
        assert p.conn.tcp_info()["ato"] == 0  # no data yet (Linux: ato 0 until the first)
        assert ack_delays(p, [10] * 16, 0.005, rtt + 0.01) == [0.0] * 16
        assert p.conn.tcp_info()["ato"] == 0.04  # quick-ACK mode over: TCP_ATO_MIN
    return p


@pytest.mark.parametrize(
    ("rtt", "gap", "delays"),
    [
        (0.1, 0.15, [0.04, 0.08, 0.1, 0.1, 0.1]),  # capped by the SRTT
        (0.3, 0.25, [0.04, 0.08, 0.16, 0.196, 0.196]),  # capped by tcp_delack_max
        (0.0, 0.15, [0.04] * 5),  # the SRTT cap is at least TCP_DELACK_MIN
    ],
)
def test_a_trickle(rtt, gap, delays):
    """Each ACK the timer sends doubles ato (40, 80, 160 ms, up to the RTO); a gap shorter than
    ato gives ato/2 + gap (80 + 150 = 230 ms); each use is capped. tcpi_ato shows ato capped
    at tcp_delack_max (measured: 196 ms in all three)."""
    p = server(rtt)
    assert ack_delays(p, [100] * 5, gap, rtt + 0.2) == pytest.approx(delays)
    assert p.conn.tcp_info()["ato"] == pytest.approx(0.196)


def test_ato_follows_a_gap_shorter_than_itself():
    """notes/delack-ato.md (100 ms RTT): the first segment's ACK comes from the timer after
    40 ms (ato doubles: 80 ms); the second segment, 44 ms after the first: ato = 80/2 + 44 =
    84 ms, its ACK 84 ms later (measured 88); the third, 88 ms after the second: 168/2 + 88 =
    172 ms, capped at the SRTT, 100 ms (measured 108)."""
    p = server(0.1)
    t = 0.3
    assert p.recv(seg("P.", p.conn.rcv_nxt, ISS + 1, win=512, data=bytes(100), options=ts()), at=t) == []
    assert [(when, a) for when, _f, _s, a, _w, _n in p.advance(t + 0.5)] == [(pytest.approx(t + 0.04), p.conn.rcv_nxt)]
    t += 0.044
    assert p.recv(seg("P.", p.conn.rcv_nxt, ISS + 1, win=512, data=bytes(100), options=ts()), at=t) == []
    assert [when for when, *_ in p.advance(t + 0.5)] == [pytest.approx(t + 0.084)]
    t += 0.088
    assert p.recv(seg("P.", p.conn.rcv_nxt, ISS + 1, win=512, data=bytes(100), options=ts()), at=t) == []
    assert [when for when, *_ in p.advance(t + 0.5)] == [pytest.approx(t + 0.1)]


def test_a_pending_ack_close_to_its_timeout_goes_with_the_next_segment():
    """tcp_send_delayed_ack with the timer running: when it would fire within a quarter of ato
    of the new segment, the ACK goes now; otherwise the earlier deadline stays."""
    p = server(0.0)
    rcv = p.conn.rcv_nxt
    assert p.recv(seg("P.", rcv, ISS + 1, win=512, data=bytes(100), options=ts()), at=0.2) == []
    assert p.conn.timers.deadline(Timer.DELAYED_ACK) == pytest.approx(0.24)
    # 20 ms later: 0.24 > 0.22 + 40/4 ms: the deadline stays
    assert p.recv(seg("P.", rcv + 100, ISS + 1, win=512, data=bytes(100), options=ts()), at=0.22) == []
    assert p.conn.timers.deadline(Timer.DELAYED_ACK) == pytest.approx(0.24)
    # 15 ms later: 0.24 <= 0.235 + 10 ms: one ACK for all three, now
    assert p.recv(seg("P.", rcv + 200, ISS + 1, win=512, data=bytes(100), options=ts()), at=0.235) == [
        (".", ISS + 1, rcv + 300, 64, 0)
    ]
    assert not p.conn.timers.armed(Timer.DELAYED_ACK)


def test_the_timer_in_ping_pong_mode_leaves_it_and_resets_ato():
    """tcp_delack_timer_handler: a delayed ACK that goes out alone in ping-pong mode ends the
    mode and sets ato back to 40 ms (measured: tcpi_ato 40 ms after it, then 80, 160, 196 as
    the following unanswered requests' ACKs come from the timer)."""
    p = server(0.0)
    rcv = p.conn.rcv_nxt
    assert p.recv(seg("P.", rcv, ISS + 1, win=512, data=bytes(100), options=ts()), at=0.2) == []
    p.conn.send(b"reply", 0.21)  # within ato of the request: ping-pong mode
    assert [(f, a, n) for f, _s, a, _w, n in p.out()] == [("P.", rcv + 100, 5)]
    assert not p.conn.quickack
    for i, ato in enumerate([0.04, 0.08, 0.16, 0.196]):
        t = 0.3 + 0.15 * i
        assert p.recv(seg("P.", rcv + 100 * (i + 1), ISS + 6, win=512, data=bytes(100), options=ts()), at=t) == []
        assert [when for when, *_ in p.advance(t + 0.149)] == [pytest.approx(t + 0.04)]
        assert p.conn.tcp_info()["ato"] == pytest.approx(ato)
    assert p.conn.quickack


def test_tcp_quickack_zero_delays_the_next_ack_once():
    """notes/linux-behaviour.md C: TCP_QUICKACK 0 on a fresh connection delays the next
    segment's ACK (45 ms), later ones are quick again and getsockopt reads 1: the timer that
    had to send it left ping-pong mode."""
    p = Peer(Config()).to_listen()
    p.conn.segment_arrives(seg("S", PEER_ISS, options=SYN_OPTS), 0.0)
    p.raw_out()
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts()), 0.0)
    p.conn.set_quickack(0, 0.05)
    assert not p.conn.quickack
    assert ack_delays(p, [10] * 3, 0.06, 0.1) == [0.04, 0.0, 0.0]
    assert p.conn.quickack


def test_tcp_quickack_one_sends_a_pending_ack_once_everything_was_read():
    """__tcp_sock_set_quickack: non-zero leaves ping-pong mode and runs tcp_cleanup_rbuf with
    the pending ACK marked pushed: it goes when the application has read everything (measured:
    not while the data waits unread)."""
    p = server(0.0)
    rcv = p.conn.rcv_nxt
    assert p.recv(seg(".", rcv, ISS + 1, win=512, data=bytes(100), options=ts()), at=0.2) == []
    p.conn.set_quickack(1, 0.201)
    assert p.out() == [] and p.conn.timers.armed(Timer.DELAYED_ACK)
    p.conn.set_quickack(0, 0.202)  # ping-pong: a read does not send it ...
    p.conn.receive(now=0.203)
    assert p.out() == []
    p.conn.set_quickack(1, 0.204)  # ... TCP_QUICKACK 1 does
    assert p.out() == [(".", ISS + 1, rcv + 100, 64, 0)]


def test_rfc_profile_keeps_a_fixed_delay():
    """RFC 9293 3.8.6.3: an ACK may wait, less than 0.5 s; the rfc profile waits 200 ms, every
    time, whatever the gaps (and acknowledges every second full-sized segment at once)."""
    p = server(0.1, profile("rfc"))
    assert ack_delays(p, [100] * 4, 0.3, 0.3) == pytest.approx([0.2] * 4)
    assert p.conn.tcp_info()["ato"] == 0.2
    p.conn.set_quickack(0, 2.0)
    assert p.conn.quickack  # no ping-pong mode to enter
