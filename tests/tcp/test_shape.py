"""The engine's collaborators: the timer table, congestion control, loss detection; and the
shape rules of the sans-IO core (time is an argument, no state hidden at class level)."""

from __future__ import annotations

import inspect
import types

import pytest

from tcplab.tcp import Config, Connection
from tcplab.tcp.congestion import ALGORITHMS, AckSample, CongestionControl, Cubic, NewReno, Phase, WindowUse, create
from tcplab.tcp.loss import LossDetector
from tcplab.tcp.timers import Timer, Timers

from .helpers import ISS, PEER_ISS, Peer, classic, seg

M = 1000  # segment size used with the congestion controls below


# ---------------------------------------------------------------------------- timers
def test_timers_arm_stop_earliest_due_in_order():
    t = Timers()
    assert t.earliest() is None and list(t.due(100.0)) == []
    t.arm(Timer.DELAYED_ACK, 5.0)
    t.arm(Timer.RETRANSMISSION, 3.0)
    t.arm(Timer.KEEPALIVE, 9.0)
    assert t.earliest() == 3.0
    t.arm_if_stopped(Timer.RETRANSMISSION, 1.0)  # already armed: unchanged
    assert t.deadline(Timer.RETRANSMISSION) == 3.0
    # Due timers come in Timer order (not deadline order), each stopped as it is yielded.
    assert list(t.due(5.0)) == [Timer.RETRANSMISSION, Timer.DELAYED_ACK]
    assert not t.armed(Timer.RETRANSMISSION) and t.earliest() == 9.0
    t.stop(Timer.KEEPALIVE)
    assert t.earliest() is None


def test_timers_due_is_judged_lazily():
    """A handler that stops a later timer (an ACK sent by a retransmission makes the delayed
    ACK moot) takes effect within the same round."""
    t = Timers()
    t.arm(Timer.RETRANSMISSION, 1.0)
    t.arm(Timer.DELAYED_ACK, 1.0)
    fired = []
    for timer in t.due(1.0):
        fired.append(timer)
        t.stop_all()
    assert fired == [Timer.RETRANSMISSION]


def test_connection_reports_its_timers_through_the_table():
    p = Peer().to_established()
    p.conn.send(b"x" * 10, p.now)
    p.out()
    assert p.conn.timers.armed(Timer.RETRANSMISSION)
    # The handshake took no time here: the RTO is the floor, 200 ms.
    assert p.conn.next_deadline() == p.conn.timers.earliest() == pytest.approx(0.2)
    assert p.conn.timer(p.now)[0] == "on"


# ---------------------------------------------------------------------------- congestion
def started(cc: CongestionControl) -> CongestionControl:
    cc.start(M)
    return cc


def sample(**kw) -> AckSample:
    base = dict(acked=M, delivered=M, delivered_segs=1, in_flight=0, snd_una=0, snd_nxt=0, advanced=True)
    base.update(kw)
    return AckSample(**base)


def reno(counting: str, initial_window: int = 10) -> CongestionControl:
    return started(NewReno(Config(initial_window=initial_window, cwnd_counting=counting)))


def test_newreno_slow_start_then_congestion_avoidance_in_bytes():
    cc = reno("bytes")
    assert cc.cwnd == 10 * M and cc.in_slow_start
    cc.on_ack(sample(delivered=2 * M, cwnd_limited=False), 0.0)  # RFC 5681 3.1 eq. 2: at most SMSS per ACK
    assert cc.cwnd == 11 * M
    cc.ssthresh = 11 * M
    cc.on_ack(sample(), 0.0)  # eq. 3: SMSS*SMSS/cwnd
    assert cc.cwnd == 11 * M + M * M // (11 * M)


def test_newreno_counts_segments_as_linux():
    cc = reno("packets")
    cc.on_ack(sample(delivered=2 * M, delivered_segs=2), 0.0)  # tcp_slow_start: + segments acknowledged
    assert cc.cwnd == 12 * M
    cc.on_ack(sample(delivered=2 * M, delivered_segs=2, cwnd_limited=False), 0.0)  # RFC 7661: no growth
    assert cc.cwnd == 12 * M
    cc.ssthresh = 13 * M
    cc.on_ack(sample(delivered=3 * M, delivered_segs=3), 0.0)  # one segment to ssthresh, two towards CA
    assert cc.cwnd == 13 * M
    for _ in range(5):  # tcp_cong_avoid_ai: one more segment per 13 acknowledged
        cc.on_ack(sample(delivered=2 * M, delivered_segs=2), 0.0)
    assert cc.cwnd == 13 * M
    cc.on_ack(sample(), 0.0)
    assert cc.cwnd == 14 * M


def test_a_reduction_has_phases_and_ends_at_ssthresh():
    cc = reno("packets")
    cc.enter_recovery(high_seq=10 * M, flight_size=3 * M)  # tcp_reno_ssthresh: cwnd / 2, whatever is in flight
    assert (cc.phase, cc.ssthresh) == (Phase.RECOVERY, 5 * M)
    cc.end_if_acked(5 * M, 4 * M)  # partial: still recovering
    assert cc.phase is Phase.RECOVERY
    cc.end_if_acked(10 * M, 0)
    assert (cc.phase, cc.cwnd) == (Phase.OPEN, 5 * M)  # RFC 6937 / tcp_end_cwnd_reduction: cwnd = ssthresh


def test_newreno_fast_recovery_windows_in_bytes():
    """RFC 5681 byte counting without PRR (the rfc profile): ssthresh = FlightSize / 2 and cwnd =
    ssthresh at once (RFC 6675 5, the pipe doing what RFC 5681's inflation did); at the end
    RFC 6582 3.2 step 3's min(ssthresh, max(FlightSize, SMSS) + SMSS)."""
    cc = started(NewReno(Config(cwnd_counting="bytes", prr=False)))
    cc.enter_recovery(high_seq=8 * M, flight_size=8 * M)
    assert (cc.ssthresh, cc.cwnd) == (4 * M, 4 * M)
    cc.end_if_acked(8 * M, 2 * M)
    assert cc.cwnd == 3 * M


def test_rto_ecn_undo_and_idle_restart():
    cc = reno("packets", initial_window=4)
    cc.cwnd = 20 * M
    cc.enter_cwr(high_seq=0)
    assert (cc.phase, cc.ssthresh) == (Phase.CWR, 10 * M)  # RFC 3168 6.1.2: halve, once
    cc.enter_cwr(high_seq=0)
    assert cc.ssthresh == 10 * M
    cc.undo()  # an ECN reduction is never undone
    assert cc.ssthresh == 10 * M
    cc.end_if_acked(1, 0)
    cc.on_rto(high_seq=5, in_flight=0)
    assert (cc.phase, cc.cwnd, cc.ssthresh) == (Phase.LOSS, M, 5 * M)  # loss window; cwnd/2
    cc.on_rto(high_seq=5, in_flight=0)  # a second timeout does not halve again (Linux)
    assert cc.ssthresh == 5 * M
    cc.cwnd = 9 * M
    cc.phase = Phase.OPEN
    cc.on_idle_restart(5.0, 1.0, 0.0)
    assert cc.cwnd == 4 * M  # RFC 5681 4.1: the restart window is min(IW, cwnd)


def test_idle_restart_as_linux_halves_per_rto():
    cc = reno("packets")
    cc.cwnd, cc.ssthresh = 80 * M, 50 * M
    cc.on_idle_restart(2.5, 1.0, 0.0)  # tcp_cwnd_restart: two RTOs elapsed: 80 -> 40 -> 20
    assert (cc.cwnd, cc.ssthresh) == (20 * M, 60 * M)  # ssthresh keeps 3/4 of the old cwnd
    cc.on_idle_restart(100.0, 1.0, 0.0)
    assert cc.cwnd == 10 * M  # never below min(IW, cwnd)


def test_congestion_control_is_chosen_by_name():
    assert isinstance(create(Config(congestion_control="reno")), NewReno)
    assert isinstance(create(Config(congestion_control="cubic")), Cubic)
    assert set(ALGORITHMS) >= {"reno", "cubic"}
    with pytest.raises(ValueError, match="unknown congestion control 'vegas'"):
        create(Config(congestion_control="vegas"))
    with pytest.raises(ValueError):
        Connection(Config(congestion_control="vegas"))
    p = Peer(classic(congestion_control="reno")).to_established()
    assert isinstance(p.conn.cc, NewReno) and p.conn.cwnd == 10 * 1460
    assert isinstance(Peer(Config()).conn.cc, Cubic)  # the linux profile's default


def test_window_use_tracks_cwnd_limited_per_window():
    cc = reno("packets")
    use = WindowUse()
    assert not use.limited(cc)
    use.after_send(10 * M, cc.cwnd, M, 0, 10 * M, sent=True)  # the whole window went out
    assert use.limited(cc)
    cc.ssthresh = cc.cwnd  # out of slow start
    use.after_send(3 * M, cc.cwnd, M, 10 * M, 13 * M, sent=True)  # a new window, 3 of 10 used
    assert not use.limited(cc)
    # Data held back to send a larger super-segment later (TSO deferral) is using it all.
    use.deferred()
    use.after_send(3 * M, cc.cwnd, M, 10 * M, 13 * M, sent=False)
    assert use.limited(cc)
    use.after_send(3 * M, cc.cwnd, M, 13 * M, 16 * M, sent=True)  # the next window: not deferred
    assert not use.limited(cc)


# ---------------------------------------------------------------------------- loss detection
def test_loss_detector_keeps_the_segments_and_what_the_peer_holds():
    ld = LossDetector()
    ld.sack_ok = True
    for i in range(10):
        ld.on_send(i * M, (i + 1) * M, 0.0)
    assert ld.in_flight(10 * M) == 10 * M and ld.packets_out() == 10
    d = ld.on_ack(0, [(2 * M, 5 * M)], 0, 0.1, M, 1 << 20)
    assert (d.acked, d.sacked, d.segments) == (0, 3 * M, 3)
    assert ld.in_flight(10 * M) == 7 * M and ld.disorder
    assert ld.detect(0.1, 0.1, False, 0.008) is None  # three SACKed: no reordering window
    assert ld.lost_out == 2 * M  # segments 0 and 1 (sent before the delivered ones)
    rec = ld.next_lost()
    assert rec is not None and rec.seq == 0
    ld.on_retransmit(rec, 0.2)
    assert ld.in_flight(10 * M) == 6 * M and ld.next_lost().seq == M
    d = ld.on_ack(5 * M, [], 0, 0.3, M, 1 << 20)
    assert d.acked == 2 * M and ld.in_flight(5 * M) == 5 * M and ld.lost_out == 0


def test_loss_detector_splits_a_segment_a_sack_block_cuts():
    ld = LossDetector()
    ld.sack_ok = True
    ld.on_send(0, 2 * M, 0.0)
    ld.on_ack(0, [(M, 2 * M)], 0, 0.1, M, 1 << 20)
    assert ld.sacked_out == M and ld.packets_out() == 2


def test_loss_detector_rto_marks_everything_lost():
    ld = LossDetector()
    ld.sack_ok = True
    for i in range(4):
        ld.on_send(i * M, (i + 1) * M, 0.0)
    ld.on_ack(0, [(2 * M, 3 * M)], 0, 0.1, M, 1 << 20)
    ld.on_rto()
    assert ld.lost_out == 3 * M and ld.sacked_out == M and ld.in_flight(4 * M) == 0


# ---------------------------------------------------------------------------- shape rules
PUBLIC_CALLS = (
    "listen",
    "connect",
    "send",
    "receive",
    "shutdown",
    "close",
    "abort",
    "reopen",
    "segment_arrives",
    "handle_timeout",
    "set_keepalive",
)


@pytest.mark.parametrize("name", PUBLIC_CALLS)
def test_time_is_an_argument_of_every_public_call(name):
    assert "now" in inspect.signature(getattr(Connection, name)).parameters


def test_no_instance_state_at_class_level():
    """Everything a connection remembers is set in ``__init__``: the class holds only methods,
    properties and the ClassVar timer dispatch table."""
    data = {
        k
        for k, v in vars(Connection).items()
        if not k.startswith("__")
        and not callable(v)
        and not isinstance(v, (property, staticmethod, classmethod, types.MemberDescriptorType))
    }
    assert data == {"_TIMEOUTS"}
    assert set(Connection._TIMEOUTS) <= set(Timer)
    # The TCB's fields are slots (Connection.__slots__), every one of them set by __init__.
    fresh = Connection()
    assert [name for name in Connection.__slots__ if not hasattr(fresh, name)] == []


def test_receive_needs_the_time():
    p = Peer().to_established()
    p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"abc"))
    with pytest.raises(TypeError):
        p.conn.receive(10)  # type: ignore[call-arg]
    assert p.conn.receive(10, now=p.now) == b"abc"
