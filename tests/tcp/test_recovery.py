"""Loss recovery, segment by segment: RACK (RFC 8985 6), tail loss probes (RFC 8985 7), PRR
(RFC 6937), RFC 6675 / NewReno without them, D-SACK (RFC 2883) both ways, reordering.

The connection under test sends; the test plays the receiver. Unless a test says otherwise the
handshake takes 100 ms (SRTT 100 ms, RTTVAR 50 ms: RTO 300 ms, min_RTT 100 ms), SACK is on and
timestamps are off, so segments read as (flags, seq, ack, win, len) and SACK blocks as tuples.
The times and segments are what Linux sends in the same situation (notes/linux-modern.md).
"""

import pytest

from tcplab.tcp import Config, State
from tcplab.tcp.congestion import Phase
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import MSS, NOP, Sack, SackPermitted

from .helpers import ISS, PEER_ISS, Peer, seg

M = 1460  # payload per segment: MSS 1460, no timestamps
D = ISS + 1  # our first data octet
A = PEER_ISS + 1  # the peer's RCV.NXT... and our ACK field
WIN = 64240  # the window we offer: Linux's, the 65535-octet buffer in whole segments (44 * 1460)


def linux(**changes) -> Config:
    """The linux profile, small and plain: SACK on, no timestamps or window scaling."""
    base = dict(window_scaling=False, timestamps=False, rcv_buf=65535, snd_buf=1 << 20, nodelay=True)
    base.update(changes)
    return Config(**base)


def rfc(**changes) -> Config:
    """NewReno with RFC 6675 SACK recovery: no PRR, RACK or TLP (the rfc profile's choice)."""
    return linux(congestion_control="reno", prr=False, rack=False, tlp=False, forget_sack_on_rto=True, **changes)


def sender(config: Config, rtt: float = 0.1, sack: bool = True) -> Peer:
    p = Peer(config).to_syn_sent()
    opts = (MSS(1460), NOP(), NOP(), SackPermitted()) if sack else (MSS(1460),)
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=opts), at=rtt)
    assert p.state is State.ESTABLISHED and p.conn.sack_ok is sack
    return p


def data(n: int, first: int = 0, written: int | None = None) -> list[tuple]:
    """Segments ``first`` .. ``first + n - 1``; the last of the ``written`` ones has PSH."""
    out = []
    for i in range(first, first + n):
        flags = "P." if written is not None and i == written - 1 else "."
        out.append((flags, D + i * M, A, WIN, M))
    return out


def ack(p: Peer, upto: int, *blocks: tuple[int, int], at: float | None = None) -> list[tuple]:
    """The receiver acknowledges segment ``upto`` (exclusive) and SACKs segment ranges."""
    sacks = tuple((D + a * M, D + b * M) for a, b in blocks)
    opts = (NOP(), NOP(), Sack(sacks)) if sacks else ()
    return p.recv(seg(".", A, D + upto * M, options=opts), at=at)


# ------------------------------------------------------------------------------- RACK (RFC 8985 6)
def test_rack_waits_a_quarter_min_rtt_before_calling_a_segment_lost():
    """One segment SACKed above a hole: the hole is lost only after RACK.rtt + min_RTT/4, plus
    Linux's two-jiffy timer slack (measured: 17-24 ms after the SACK at SRTT 50 ms)."""
    p = sender(linux(), rtt=0.05)
    p.conn.send(bytes(10 * M), p.now)
    assert p.out() == data(10, written=10)
    assert ack(p, 0, (1, 2), at=0.1) == []  # segment 0 may be merely late
    assert p.conn.timers.deadline(Timer.RACK_REORDER) == pytest.approx(0.1 + 0.05 / 4 + 0.008)
    # At the timer: the head is lost; PRR lets exactly the retransmission go (RFC 6937).
    assert p.advance(0.2) == [(pytest.approx(0.1205), ".", D, A, WIN, M)]
    assert p.conn.cc.phase is Phase.RECOVERY
    assert p.conn.ssthresh == 7 * M  # CUBIC: beta 0.7 of a 10-segment window


def test_rack_without_reordering_seen_is_a_duplicate_threshold_in_time():
    """Three segments SACKed and no reordering seen yet: the reordering window is 0 and the
    hole is lost at once (RFC 8985 6.2 step 4; measured: retransmitted 0.0 ms after the SACK)."""
    p = sender(linux(), rtt=0.05)
    p.conn.send(bytes(10 * M), p.now)
    p.out()
    assert ack(p, 0, (1, 4), at=0.1) == data(1)
    assert p.conn.cc.phase is Phase.RECOVERY


def test_rack_retransmits_every_segment_sent_before_the_one_delivered():
    p = sender(linux(), rtt=0.05)
    p.conn.send(bytes(10 * M), p.now)
    p.out()
    # Segments 5-8 SACKed: 0-4, sent before them, are lost (9 was sent after: not yet).
    # pipe = 10 - 4 SACKed - 5 lost = 1 < ssthresh 7: PRR's slow start part, sndcnt =
    # min(ssthresh - pipe, delivered 4) = 4 retransmissions now, in order.
    assert ack(p, 0, (5, 9), at=0.1) == data(4)
    assert p.conn.loss.lost_out == 5 * M and p.conn.cwnd == 5 * M
    assert ack(p, 0, (5, 10), at=0.11) == data(1, 4)  # the fifth with the next delivery


def test_rack_finds_a_lost_retransmission_and_the_episode_goes_on():
    """RFC 8985 6.2: a retransmission is lost when a segment sent after it is delivered and its
    RTT has passed (Linux tcp_rack_detect_loss, counted as TCPLostRetransmit). It goes again at
    once, in the same recovery episode: no second reduction until SND.UNA reaches the recovery
    point (Linux tcp_fastretrans_alert only enters Recovery from Open, Disorder or CWR)."""
    p = sender(linux(congestion_control="reno", initial_window=10), rtt=0.05)
    p.conn.send(bytes(30 * M), p.now)
    assert p.out() == data(10)
    # Three SACKed: 0 is lost; PRR: ceil(ssthresh 5 * delivered 3 / RecoverFS 10) = 2 segments,
    # the retransmission of 0 and then new segment 10.
    assert ack(p, 0, (1, 4), at=0.1) == data(1) + data(1, 10)
    assert p.conn.ssthresh == 5 * M
    assert [ack(p, 0, (1, k), at=0.1) for k in range(5, 11)] == [[], data(1, 11), [], [], data(1, 12), data(1, 13)]
    # Segment 10, sent right after the retransmission, is SACKed one RTT later and 0 still is
    # not: the retransmission is lost. It goes again, then new data (PRR: one per delivery).
    assert ack(p, 0, (1, 11), at=0.155) == data(1) + data(1, 14)
    assert p.conn.cc.phase is Phase.RECOVERY and p.conn.ssthresh == 5 * M
    assert p.conn.loss.retrans_out == M and p.conn.loss.lost_out == M


# ------------------------------------------------------------------------------- TLP (RFC 8985 7)
def test_tail_loss_probe_resends_the_last_segment_after_two_rtts():
    """Three segments and silence: the probe is the last segment again at 2*SRTT + 2 ms (Linux
    tcp_schedule_loss_probe; measured 205 ms at SRTT 100 ms); the RTO follows a full RTO later."""
    p = sender(linux(), rtt=0.1)
    p.conn.send(bytes(3 * M), p.now)
    assert p.out() == data(3, written=3)
    sent = p.advance(1.0)
    assert sent[0] == (pytest.approx(0.1 + 0.202), "P.", D + 2 * M, A, WIN, M)
    assert sent[1] == (pytest.approx(0.302 + 0.3), ".", D, A, WIN, M)  # the RTO: the head
    assert p.conn.tcp_info()["backoff"] >= 1


def test_tail_loss_probe_carries_new_data_beyond_the_window():
    """With more data than the initial window, the probe is new data (measured: the 11th
    segment of the first flight leaves before any ACK)."""
    p = sender(linux(), rtt=0.1)
    p.conn.send(bytes(11 * M), p.now)
    assert p.out() == data(10)
    assert p.advance(0.31)[0] == (pytest.approx(0.302), "P.", D + 10 * M, A, WIN, M)


def test_tail_loss_probe_of_one_segment_waits_for_a_delayed_ack():
    """One segment in flight: PTO = 2*SRTT + rto_min, never later than the RTO (RFC 8985
    7.2 WCDelAckT; Linux adds tcp_rto_min)."""
    p = sender(linux(), rtt=0.05)
    p.conn.send(bytes(M), p.now)
    p.out()
    # 2*0.05 + 0.2 = 0.3 > RTO (0.25: Linux's SRTT + max(deviation, rto_min)): the probe goes
    # at the RTO's time, without backoff.
    assert p.advance(0.31) == [(pytest.approx(0.30), "P.", D, A, WIN, M)]
    assert p.conn.tcp_info()["backoff"] == 0


def test_a_probe_that_repaired_a_loss_reduces_the_window_once():
    p = sender(linux(), rtt=0.1)
    p.conn.send(bytes(3 * M), p.now)
    p.out()
    p.advance(0.31)  # the probe resends segment 2
    cwnd = p.conn.cwnd
    # The original of segment 2 was lost; the probe delivered it; 0 and 1 arrived too. The
    # episode is judged by an ACK beyond the probe (RFC 8985 7.4.2; Linux: after(ack,
    # tlp_high_seq)), here of new data.
    ack(p, 3, at=0.45)
    p.conn.send(bytes(M), p.now)
    assert p.out() == data(1, 3, written=4)
    ack(p, 4, at=0.55)
    assert p.conn.ssthresh == 7 * M and p.conn.cwnd < cwnd + M  # reduced once
    assert p.conn.cc.phase is Phase.OPEN


def test_no_probe_without_sack():
    p = sender(linux(), rtt=0.1, sack=False)
    p.conn.send(bytes(3 * M), p.now)
    p.out()
    assert p.advance(0.5) == [(pytest.approx(0.4), ".", D, A, WIN, M)]  # the RTO itself


# ------------------------------------------------------------------------------- PRR (RFC 6937)
def test_prr_sends_one_segment_for_every_two_delivered_with_reno():
    """RFC 6937's example: ssthresh is half the window, so during recovery PRR sends in
    proportion: one segment per two delivered (the first, the fast retransmit, at once)."""
    p = sender(linux(congestion_control="reno", initial_window=20), rtt=0.05)
    p.conn.send(bytes(40 * M), p.now)
    assert p.out() == data(20)
    t = 0.1
    # Before the loss is certain, each SACK lets one new segment go (the pipe fell by one).
    assert ack(p, 0, (1, 2), at=t) == data(1, 20)
    assert ack(p, 0, (1, 3), at=t) == data(1, 21)
    assert ack(p, 0, (1, 4), at=t) == data(1)  # lost (RACK, three SACKed): fast retransmit
    assert p.conn.ssthresh == 10 * M
    sent = [ack(p, 0, (1, k), at=t) for k in range(5, 13)]
    # sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out: every second ACK
    assert sent == [[], data(1, 22), [], data(1, 23), [], data(1, 24), [], data(1, 25)]


def test_rfc6675_without_prr_holds_the_window_at_ssthresh():
    p = sender(rfc(initial_window=20), rtt=0.05)
    p.conn.send(bytes(40 * M), p.now)
    p.out()
    assert ack(p, 0, (1, 2)) == data(1, 20)  # RFC 6675: the pipe fell by one
    assert ack(p, 0, (1, 3)) == data(1, 21)
    assert ack(p, 0, (1, 4)) == data(1)  # RFC 6675 IsLost: three SACKed segments above it
    assert p.conn.cwnd == p.conn.ssthresh == 10 * M
    # pipe = 22 - 3 SACKed - 1 lost + 1 retransmitted = 19: nothing until it is below 10.
    sent = [ack(p, 0, (1, k)) for k in range(5, 16)]
    assert sent[:9] == [[]] * 9
    assert sent[9:] == [data(1, 22), data(1, 23)]


def test_prr_ends_recovery_at_ssthresh():
    p = sender(linux(congestion_control="reno", initial_window=20), rtt=0.05)
    p.conn.send(bytes(20 * M), p.now)
    p.out()
    for k in (2, 3, 4):
        ack(p, 0, (1, k), at=0.1)
    ack(p, 20, at=0.15)  # the retransmission filled the hole: all acknowledged
    # cwnd = ssthresh (RFC 6937), and the same ACK may grow it as any ACK outside recovery:
    # 16 segments acknowledged at a window of 10 add one (Linux tcp_cong_avoid_ai)
    assert p.conn.cc.phase is Phase.OPEN and p.conn.cwnd == 11 * M


# ------------------------------------------------------------------------------- NewReno, no SACK
def test_newreno_without_sack_limited_transmit_fast_retransmit_partial_ack():
    p = sender(rfc(initial_window=4), sack=False)
    p.conn.send(bytes(10 * M), p.now)
    assert p.out() == data(4)
    # RFC 3042 (implicit in the pipe): the first two duplicates let one new segment each go.
    assert ack(p, 0) == data(1, 4, written=10)
    assert ack(p, 0) == data(1, 5, written=10)
    # The third: fast retransmit; ssthresh = cwnd/2 = 2 segments (RFC 5681 3.2 step 2).
    assert ack(p, 0) == data(1)
    assert p.conn.ssthresh == 2 * M
    # A partial ACK (RFC 6582 3.2 step 5): the next hole goes at once.
    assert ack(p, 2) == data(1, 2)
    assert p.conn.cc.phase is Phase.RECOVERY
    ack(p, 6)
    assert p.conn.cc.phase is Phase.OPEN


# ------------------------------------------------------------------------------- timeouts
def test_retransmission_timeout_keeps_sack_marks_as_linux_does():
    p = sender(linux(tlp=False), rtt=0.05)
    p.conn.send(bytes(4 * M), p.now)
    p.out()
    ack(p, 0, (2, 3))
    sent = p.advance(0.05 + 0.25 + 0.001)  # the RTO (Linux's: 50 + 200 ms): the head again
    assert sent == [(pytest.approx(0.30), ".", D, A, WIN, M)]
    assert p.conn.cc.phase is Phase.LOSS and p.conn.cwnd == M
    # Slow start resends the rest, skipping what the peer SACKed (segment 2).
    assert ack(p, 1, (2, 3)) == [data(1, 1)[0], data(1, 3, written=4)[0]]


def test_timeouts_during_recovery_keep_ssthresh_and_back_off_until_an_ack():
    """Linux tcp_enter_loss: a timeout inside a recovery episode takes no new ssthresh (it was
    set when the episode began), cwnd becomes what is in flight plus one (everything not SACKed
    is lost: one segment), the SACK marks stay; a second timeout with no progress doubles the
    RTO and still keeps ssthresh; the first ACK that advances SND.UNA resets the backoff
    (RFC 6298 5.5-5.7) and slow start resends what is lost."""
    p = sender(linux(congestion_control="reno", initial_window=10, tlp=False), rtt=0.05)
    p.conn.send(bytes(30 * M), p.now)
    p.out()
    assert ack(p, 0, (1, 4), at=0.1) == data(1) + data(1, 10)  # fast retransmit; ssthresh 5
    # RTO 250 ms (SRTT 50 ms + Linux's 200 ms floor) from the first transmission at 50 ms.
    assert p.advance(0.5) == [(pytest.approx(0.3), ".", D, A, WIN, M)]
    assert p.conn.cc.phase is Phase.LOSS and p.conn.cwnd == M and p.conn.ssthresh == 5 * M
    assert p.conn.loss.sacked_out == 3 * M
    assert p.advance(0.9) == [(pytest.approx(0.8), ".", D, A, WIN, M)]  # backed off: 500 ms
    assert p.conn.ssthresh == 5 * M and p.conn.rtt.backoff == 2
    # 0 arrives, 1-3 were SACKed: slow start (cwnd 2) resends 4 and 5, the backoff is gone.
    assert ack(p, 4, at=0.95) == data(2, 4)
    assert p.conn.rtt.backoff == 0 and p.conn.cwnd == 2 * M and p.conn.cc.phase is Phase.LOSS


def test_retransmission_timeout_forgets_sack_marks_in_the_rfc_profile():
    p = sender(rfc(), rtt=0.05)
    p.conn.send(bytes(4 * M), p.now)
    p.out()
    ack(p, 0, (2, 3))
    p.advance(0.05 + 0.25 + 0.001)  # RFC 2018 8: the receiver may have reneged
    assert p.conn.loss.sacked_out == 0
    assert ack(p, 1) == data(2, 1)  # segment 2 goes again too


def test_a_receiver_that_reneged_on_the_sacked_head_gets_it_again_at_the_timeout():
    # Segment 0 SACKed, then the cumulative ACK stays below it and the SACK is gone: the receiver
    # dropped that out-of-order data (RFC 2018 8). Linux tcp_timeout_mark_lost: at the RTO a
    # SACKed head means reneging, so every SACK mark is forgotten and the head goes again.
    p = sender(linux(tlp=False, rack=False), rtt=0.05)
    p.conn.send(bytes(2 * M), p.now)
    p.out()
    p.recv(seg(".", A, D, options=(NOP(), NOP(), Sack(((D, D + M),)))))
    assert p.conn.loss.sacked_out == M
    sent = p.advance(0.05 + 0.25 + 0.001)
    assert sent == [(pytest.approx(0.30), ".", D, A, WIN, M)]
    assert p.conn.loss.sacked_out == 0


# ------------------------------------------------------------------------------- D-SACK, reordering
def test_dsack_of_every_retransmission_undoes_the_reduction():
    """RFC 2883: the peer reports the retransmission as a duplicate, so the original was only
    late: the window comes back (Linux tcp_try_undo_dsack)."""
    p = sender(linux(congestion_control="reno", initial_window=20), rtt=0.05)
    p.conn.send(bytes(20 * M), p.now)
    p.out()
    ack(p, 0, (1, 4), at=0.1)  # segment 0 "lost", retransmitted
    assert p.conn.cc.phase is Phase.RECOVERY and p.conn.ssthresh == 10 * M
    ack(p, 20, at=0.12)  # the original arrived after all
    cwnd_before_undo = p.conn.cwnd
    p.recv(seg(".", A, D + 20 * M, options=(NOP(), NOP(), Sack(((D, D + M),)))), at=0.15)
    assert p.conn.cwnd == 20 * M > cwnd_before_undo
    assert p.conn.tcp_info()["dsack_dups"] == 1


def test_data_delivered_below_the_highest_sack_raises_the_threshold():
    p = sender(rfc(), rtt=0.05)
    p.conn.send(bytes(10 * M), p.now)
    p.out()
    ack(p, 0, (2, 3))
    ack(p, 0, (2, 4))
    ack(p, 4)  # segments 0 and 1 arrived late: reordering of 4 segments
    assert p.conn.loss.reordering == 4 and p.conn.loss.reord_seen == 1
    assert p.conn.total_retrans == 0


def test_rack_widens_its_window_after_dsacks():
    p = sender(linux(), rtt=0.05)
    loss = p.conn.loss
    loss.reord_seen = 1  # reordering seen before
    assert loss.reo_wnd(0.05, False) == pytest.approx(0.05 / 4)
    loss._dsack_seen = True
    loss.update_reo_wnd(p.conn.snd_una, p.conn.snd_nxt)
    assert loss.reo_wnd_steps == 2 and loss.reo_wnd(0.05, False) == pytest.approx(0.05 / 2)
    assert loss.reo_wnd(0.02, False) == pytest.approx(0.02)  # never beyond SRTT


# ------------------------------------------------------------------------------- D-SACK sent
def _receiver() -> Peer:
    return sender(linux(), rtt=0.05)


def test_a_duplicate_segment_is_reported_with_a_dsack_block():
    p = _receiver()
    p.recv(seg("P.", A, D, data=b"x" * 100))
    p.conn.segment_arrives(seg("P.", A, D, data=b"x" * 100), p.now)  # the same again
    [dup_ack] = p.raw_out()
    assert dup_ack.ack == A + 100
    assert dup_ack.option(Sack) == Sack(((A, A + 100),))  # RFC 2883 4.1.1


def test_an_out_of_order_duplicate_is_reported_before_the_sack_blocks():
    p = _receiver()
    p.recv(seg("P.", A + 200, D, data=b"y" * 100))  # out of order
    p.conn.segment_arrives(seg("P.", A + 200, D, data=b"y" * 100), p.now)
    [dup_ack] = p.raw_out()
    # RFC 2883 4.2.1: the D-SACK block first, then the block it belongs to.
    assert dup_ack.option(Sack) == Sack(((A + 200, A + 300), (A + 200, A + 300)))
    # reported once: the next ACK has only the SACK block
    p.conn.segment_arrives(seg("P.", A + 400, D, data=b"z" * 10), p.now)
    [nxt] = p.raw_out()
    assert nxt.option(Sack) == Sack(((A + 400, A + 410), (A + 200, A + 300)))


def test_no_dsack_without_sack_or_with_tcp_dsack_off():
    p = sender(linux(dsack=False), rtt=0.05)
    p.recv(seg("P.", A, D, data=b"x" * 100))
    p.out()
    p.conn.segment_arrives(seg("P.", A, D, data=b"x" * 100), p.now)
    [dup_ack] = p.raw_out()
    assert dup_ack.option(Sack) is None
