"""Options (MSS, window scale, timestamps, SACK), retransmission, flow control, ACK policy."""

import errno

import pytest

from tcplab.tcp import Config, State
from tcplab.tcp.isn import ISNGenerator
from tcplab.tcp.rtt import RTTEstimator
from tcplab.wire.tcp import MSS, NOP, Sack, SackPermitted, Timestamps, WindowScale

from .helpers import ISS, PEER_ISS, WIN, Peer, classic, seg

S = State


# ---------------------------------------------------------------------------- negotiation
def test_syn_offers_options_in_linux_order():
    p = Peer(Config())
    p.conn.connect(2.0)
    (syn,) = p.raw_out()
    ts = p.conn._ts_now(2.0)
    # Measured on this kernel: the same layout, wscale 10 (tcp_rmem[2] 32 MiB: ilog2 - 15) and
    # the buffer's 65536 rounded down to whole segments: 44 * 1460 = 64240.
    assert syn.options == (MSS(1460), SackPermitted(), Timestamps(ts, 0), NOP(), WindowScale(10))
    assert syn.window == 64240


def test_syn_ack_answers_only_what_the_peer_offered():
    p = Peer(Config()).to_listen()
    assert p.raw_out() == []
    p.conn.segment_arrives(seg("S", PEER_ISS, options=(MSS(1400), WindowScale(2))), 0.0)
    (synack,) = p.raw_out()
    assert synack.options == (MSS(1460), NOP(), WindowScale(10))
    assert synack.window == 64240  # no timestamps: whole 1460-byte segments
    assert p.conn.snd_mss == 1400 and p.conn.snd_wscale == 2 and p.conn.rcv_wscale == 10
    assert not p.conn.ts_ok and not p.conn.sack_ok


def test_window_scaling_applied_both_ways():
    p = Peer(Config()).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, win=5000, options=(MSS(1460), NOP(), WindowScale(3))))
    assert p.conn.snd_wnd == 5000  # the SYN's own window is never scaled (RFC 7323 2.2)
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=1000))
    assert p.conn.snd_wnd == 8000
    p.conn.send(b"x", p.now)
    (data,) = p.raw_out()
    # We offered 10: the SYN's 64240 rounded up to whole 1024-byte units, 63 (as the kernel's
    # third ACK: `win 63`, notes/linux-behaviour.md B).
    assert data.window == 63


def test_no_window_scale_unless_both_offer_it():
    p = Peer(Config()).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, win=5000, options=(MSS(1460),)))
    assert p.conn.snd_wscale == 0 and p.conn.rcv_wscale == 0
    p.conn.send(b"x", p.now)
    (data,) = p.raw_out()
    assert data.window == 64240  # unscaled: the SYN's window, whole segments (measured)


def test_mss_defaults_to_536_when_absent_and_segments_follow():
    p = Peer(classic(nodelay=True)).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1))
    assert p.conn.snd_mss == 536
    p.conn.send(bytes(2000), p.now)
    assert [n for *_x, n in p.out()] == [536, 536, 536, 392]


def test_timestamps_echoed_and_used_for_rtt():
    p = Peer(Config(), iss=0).to_syn_sent()
    synack = seg(
        "S.",
        PEER_ISS,
        1,
        options=(MSS(1460), SackPermitted(), Timestamps(777, p.conn._ts_now(0.0)), NOP(), WindowScale(7)),
    )
    p.conn.segment_arrives(synack, 0.25)
    (ack,) = p.raw_out()
    assert ack.options == (NOP(), NOP(), Timestamps(p.conn._ts_now(0.25), 777))
    assert p.conn.rtt.srtt == pytest.approx(0.25, abs=0.002)
    assert p.conn.ts_ok and p.conn.sack_ok


def test_paws_drops_old_timestamp():
    p = Peer(Config()).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), Timestamps(1000, 0))))
    out = p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"old", options=(NOP(), NOP(), Timestamps(900, 0))))
    assert [o[0] for o in out] == ["."]
    assert p.conn.recv_buffered == 0


def test_sack_blocks_sent_for_out_of_order_data():
    p = Peer(Config(timestamps=False)).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), NOP(), NOP(), SackPermitted())))
    p.out()
    (dup,) = p.conn.segment_arrives(seg(".", PEER_ISS + 101, ISS + 1, data=b"y" * 100), 0.0) or p.raw_out()
    assert dup.ack == PEER_ISS + 1
    assert dup.options == (NOP(), NOP(), Sack(((PEER_ISS + 101, PEER_ISS + 201),)))
    (ack,) = p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, data=b"x" * 100), 0.0) or p.raw_out()
    assert ack.ack == PEER_ISS + 201 and ack.options == ()
    assert p.conn.receive(now=p.now) == b"x" * 100 + b"y" * 100


# ------------------------------------------------------------------------- retransmission
def test_data_retransmitted_with_exponential_backoff():
    p = Peer(classic(nodelay=True)).to_established()
    p.conn.send(b"abc", 0.0)
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, WIN, 3)]
    sent = p.advance(7.5)
    # The handshake took no time here: SRTT 0, so the RTO is the 200 ms floor (Linux
    # TCP_RTO_MIN, RFC 6298 2.4), doubled at each expiry (5.5).
    assert sent == [
        (0.2, "P.", ISS + 1, PEER_ISS + 1, WIN, 3),
        (0.6, "P.", ISS + 1, PEER_ISS + 1, WIN, 3),
        (1.4, "P.", ISS + 1, PEER_ISS + 1, WIN, 3),
        (3.0, "P.", ISS + 1, PEER_ISS + 1, WIN, 3),
        (6.2, "P.", ISS + 1, PEER_ISS + 1, WIN, 3),
    ]
    info = p.conn.tcp_info()
    assert info["retransmits"] == 5 and info["total_retrans"] == 5 and info["backoff"] == 5
    # The ACK ends the backoff; Karn's rule: no RTT sample from retransmitted data.
    p.recv(seg(".", PEER_ISS + 1, ISS + 4), at=7.2)
    assert p.conn.rtt.samples == 1  # only the handshake's
    assert p.conn.next_deadline() is None


def test_fin_retransmitted():
    p = Peer().to_established()
    p.conn.close(0.0)
    p.out()
    assert p.advance(1.0) == [(0.2, "F.", ISS + 1, PEER_ISS + 1, WIN, 0), (0.6, "F.", ISS + 1, PEER_ISS + 1, WIN, 0)]


def test_rtt_measured_and_rto_computed_rfc6298():
    p = Peer(classic(nodelay=True)).to_syn_rcvd()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1), at=0.1)  # the SYN-ACK took 100 ms to be answered
    r = p.conn.rtt
    assert r.srtt == pytest.approx(0.1) and r.rttvar == pytest.approx(0.05)
    assert r.rto == pytest.approx(0.3)  # SRTT + 4 RTTVAR, above the 200 ms floor


def test_rtt_estimator_bounds():
    r = RTTEstimator(1.0, 0.2, 120.0)
    assert r.rto == 1.0
    r.sample(0.001)
    assert r.rto == 0.2
    r.backoff = 20
    assert r.rto == 120.0


def test_fast_retransmit_after_three_duplicate_acks():
    p = Peer(classic(nodelay=True)).to_established()
    p.conn.send(bytes(5 * 1460), 0.0)
    assert len(p.out()) == 5
    for _ in range(3):
        out = p.recv(seg(".", PEER_ISS + 1, ISS + 1), at=0.05)
    assert out == [(".", ISS + 1, PEER_ISS + 1, WIN, 1460)]


# ---------------------------------------------------------------------------- flow control
def test_zero_window_probe_with_persist_backoff():
    p = Peer(classic(nodelay=True)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))
    assert p.conn.send(b"hello", 0.0) == 5
    assert p.out() == []  # nothing may be sent into a zero window
    sent = p.advance(4.0)
    # One octet of new data (RFC 9293 3.8.6.1), then the same octet again, backed off from the
    # RTO (200 ms here).
    assert sent == [(t, ".", ISS + 1, PEER_ISS + 1, WIN, 1) for t in (0.2, 0.6, 1.4, 3.0)]
    # The window opens with the probe octet taken: the rest follows.
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 2, win=1000), at=4.0) == [("P.", ISS + 2, PEER_ISS + 1, WIN, 4)]
    assert p.state is S.ESTABLISHED


def test_zero_window_does_not_time_out_while_peer_answers():
    # RFC 1122 4.2.2.17: open as long as the receiver answers the probes (Linux resets its count
    # of unanswered probes with every ACK, measured: /work/notes/linux-behaviour.md I).
    p = Peer(classic(retries2=2)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))
    p.conn.send(b"x", 0.0)
    probes = 0
    while p.now < 24 * 3600:
        sent = p.advance(p.conn.next_deadline())
        assert [s[1:] for s in sent] == [(".", ISS + 1, PEER_ISS + 1, 65535, 1)]
        probes += 1
        p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))  # answered, the window still closed
    assert p.state is S.ESTABLISHED and probes > 700  # one a 120 s (the ceiling) for a day


def test_receiver_window_shrinks_with_unread_data_and_reopens():
    p = Peer(classic(rcv_buf=4000, quickack=0)).to_established()
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1, data=bytes(1460))) == []
    assert p.recv(seg(".", PEER_ISS + 1461, ISS + 1, data=bytes(1460))) == [(".", ISS + 1, PEER_ISS + 2921, 1080, 0)]
    p.recv(seg(".", PEER_ISS + 2921, ISS + 1, data=bytes(1080)))
    p.advance(1.0)
    assert p.conn.tcp_info()["rcv_wnd"] == 0
    # Data beyond the window is not accepted.
    assert p.recv(seg(".", PEER_ISS + 4001, ISS + 1, data=b"z")) == [(".", ISS + 1, PEER_ISS + 4001, 0, 0)]
    # The application reads: a window update goes out (it opened by more than one MSS).
    assert len(p.conn.receive(now=p.now)) == 4000
    assert p.out() == [(".", ISS + 1, PEER_ISS + 4001, 4000, 0)]


def test_receiver_sws_avoidance_holds_small_openings():
    p = Peer(classic(rcv_buf=4000)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, data=bytes(1460)))
    p.recv(seg(".", PEER_ISS + 1461, ISS + 1, data=bytes(1460)))
    p.recv(seg(".", PEER_ISS + 2921, ISS + 1, data=bytes(1080)))
    p.advance(1.0)
    p.conn.receive(100, now=p.now)  # 100 bytes free: less than an MSS, so no update
    assert p.out() == []


def test_nagle_holds_small_segment_while_data_unacked():
    p = Peer(classic()).to_established()
    p.conn.send(b"a", 0.0)
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, WIN, 1)]
    p.conn.send(b"b", 0.0)
    p.conn.send(b"c", 0.0)
    assert p.out() == []
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 2), at=0.1) == [("P.", ISS + 2, PEER_ISS + 1, WIN, 2)]


def test_nodelay_sends_small_segments_at_once():
    p = Peer(classic(nodelay=True)).to_established()
    p.conn.send(b"a", 0.0)
    p.conn.send(b"b", 0.0)
    assert p.out() == [("P.", ISS + 1, PEER_ISS + 1, WIN, 1), ("P.", ISS + 2, PEER_ISS + 1, WIN, 1)]


def test_send_buffer_limits_what_send_accepts():
    p = Peer(classic(snd_buf=3000)).to_established()
    assert p.conn.send(bytes(5000), 0.0) == 3000
    assert p.conn.send(b"more", 0.0) == 0


# ------------------------------------------------------------------------------ ACK policy
def test_delayed_ack_every_second_full_segment():
    p = Peer(classic(quickack=0)).to_established()
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1, data=bytes(1460))) == []
    assert p.recv(seg(".", PEER_ISS + 1461, ISS + 1, data=bytes(1460))) == [
        (".", ISS + 1, PEER_ISS + 2921, WIN - 2920, 0)
    ]


def test_delayed_ack_timer():
    p = Peer(classic(delayed_ack=0.2, quickack=0)).to_established()
    assert p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"hi"), at=1.0) == []
    assert p.advance(1.3) == [(1.2, ".", ISS + 1, PEER_ISS + 3, WIN - 2, 0)]


def test_out_of_order_data_acked_at_once_and_reassembled():
    p = Peer(classic()).to_established()
    # The duplicate ACK keeps the right edge where it was (the window never shrinks).
    assert p.recv(seg(".", PEER_ISS + 4, ISS + 1, data=b"def")) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1, data=b"abc")) == [(".", ISS + 1, PEER_ISS + 7, WIN - 6, 0)]
    assert p.conn.receive(now=p.now) == b"abcdef"


def test_out_of_order_fin_processed_when_the_gap_fills():
    p = Peer(classic()).to_established()
    p.recv(seg("F.", PEER_ISS + 4, ISS + 1, data=b"def"))
    assert p.state is S.ESTABLISHED
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, data=b"abc"))
    assert p.state is S.CLOSE_WAIT
    assert p.conn.rcv_nxt == PEER_ISS + 8
    assert p.conn.receive(now=p.now) == b"abcdef"


def test_urgent_pointer_does_not_break_inline_delivery():
    p = Peer(classic()).to_established()
    p.recv(seg("P.U", PEER_ISS + 1, ISS + 1, data=b"abc", urgent=60000))
    assert p.conn.receive(now=p.now) == b"abc"
    assert p.state is S.ESTABLISHED


# ------------------------------------------------------------------------------ keepalive
def test_keepalive_probes_then_timeout():
    p = Peer(classic(keepalive=True, keepalive_idle=10.0, keepalive_interval=2.0, keepalive_count=3))
    p.to_established()
    sent = p.advance(30.0)
    assert [(t, f, s) for t, f, s, *_ in sent] == [(10.0, ".", ISS), (12.0, ".", ISS), (14.0, ".", ISS)]
    assert p.state is S.CLOSED and p.conn.error == errno.ETIMEDOUT


def test_keepalive_answered_keeps_connection():
    p = Peer(classic(keepalive=True, keepalive_idle=10.0, keepalive_interval=2.0, keepalive_count=3))
    p.to_established()
    p.advance(10.0)
    p.recv(seg(".", PEER_ISS + 1, ISS + 1), at=10.01)
    assert p.conn.timer(10.01)[0] == "keepalive"
    p.advance(19.0)
    assert p.state is S.ESTABLISHED


def test_user_timeout_gives_up_on_unacked_data():
    p = Peer(classic(user_timeout=5.0, retries2=100, nodelay=True)).to_established()
    p.conn.send(b"x", 0.0)
    p.advance(100.0)
    assert p.state is S.CLOSED and p.conn.error == errno.ETIMEDOUT
    assert p.now == 100.0


# ---------------------------------------------------------------------------------- ISN
def test_isn_rfc6528_keyed_and_clocked():
    gen = ISNGenerator(b"k" * 16)
    a = gen(("198.18.0.1", 1), ("198.18.0.2", 2), 0.0)
    b = gen(("198.18.0.1", 1), ("198.18.0.2", 3), 0.0)
    assert a != b
    assert (gen(("198.18.0.1", 1), ("198.18.0.2", 2), 1.0) - a) % 2**32 == 250_000  # 4 us ticks
    assert ISNGenerator(b"x" * 16)(("198.18.0.1", 1), ("198.18.0.2", 2), 0.0) != a


def test_sequence_numbers_wrap_around_2_32():
    iss = 2**32 - 3
    p = Peer(classic(nodelay=True), iss=iss).to_syn_sent()
    p.recv(seg("S.", 2**32 - 2, 2**32 - 2, options=(MSS(1460),)))
    assert p.state is S.ESTABLISHED
    p.conn.send(b"abcdef", 0.0)
    assert p.out() == [("P.", 2**32 - 2, 2**32 - 1, WIN, 6)]
    p.recv(seg("P.", 2**32 - 1, 4, data=b"0123"))
    assert p.conn.snd_una == 4 and p.conn.rcv_nxt == 3
    assert p.conn.receive(now=p.now) == b"0123"
