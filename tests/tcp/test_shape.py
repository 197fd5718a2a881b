"""The engine's collaborators: the timer table, congestion control, loss detection; and the
shape rules of the sans-IO core (time is an argument, no state hidden at class level)."""

from __future__ import annotations

import inspect

import pytest

from tcplab.tcp import Config, Connection
from tcplab.tcp.congestion import ALGORITHMS, CongestionControl, NewReno, WindowUse, create
from tcplab.tcp.loss import DupAck, LossDetector
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


def reno(counting: str, initial_window: int = 10) -> CongestionControl:
    return started(NewReno(Config(initial_window=initial_window, cwnd_counting=counting)))


def test_newreno_slow_start_then_congestion_avoidance_in_bytes():
    cc = reno("bytes")
    assert cc.cwnd == 10 * M and cc.in_slow_start
    cc.on_ack(2 * M, 0, 0.0, cwnd_limited=False)  # RFC 5681 3.1 eq. 2: at most SMSS per ACK
    assert cc.cwnd == 11 * M
    cc.ssthresh = 11 * M
    cc.on_ack(M, 0, 0.0, cwnd_limited=True)  # eq. 3: SMSS*SMSS/cwnd
    assert cc.cwnd == 11 * M + M * M // (11 * M)


def test_newreno_counts_segments_as_linux():
    cc = reno("packets")
    cc.on_ack(2 * M, 0, 0.0, cwnd_limited=True)  # tcp_slow_start: + segments acknowledged
    assert cc.cwnd == 12 * M
    cc.on_ack(2 * M, 0, 0.0, cwnd_limited=False)  # RFC 7661: not cwnd-limited, no growth
    assert cc.cwnd == 12 * M
    cc.ssthresh = 13 * M
    cc.on_ack(3 * M, 0, 0.0, cwnd_limited=True)  # one segment to ssthresh, two towards CA
    assert cc.cwnd == 13 * M
    for _ in range(5):  # tcp_cong_avoid_ai: one more segment per 13 acknowledged
        cc.on_ack(2 * M, 0, 0.0, cwnd_limited=True)
    assert cc.cwnd == 13 * M
    cc.on_ack(M, 0, 0.0, cwnd_limited=True)
    assert cc.cwnd == 14 * M


def test_newreno_fast_recovery_windows_in_bytes():
    cc = reno("bytes")
    cc.on_enter_recovery(8 * M, 0.0)
    assert (cc.ssthresh, cc.cwnd) == (4 * M, 7 * M)  # FlightSize/2, then + 3 SMSS
    cc.on_recovery_dupack(0.0)
    assert cc.cwnd == 8 * M  # inflated
    cc.on_partial_ack(3 * M, 5 * M, 0.0)
    assert cc.cwnd == 6 * M  # deflated by what was acked, plus one SMSS (RFC 6582 3.2 step 5)
    cc.on_exit_recovery(2 * M, 0.0)
    assert cc.cwnd == 3 * M  # min(ssthresh, max(FlightSize, SMSS) + SMSS)


def test_newreno_loss_in_packets_halves_cwnd():
    cc = reno("packets")
    cc.on_enter_recovery(3 * M, 0.0)  # tcp_reno_ssthresh: cwnd / 2, whatever is in flight
    assert (cc.ssthresh, cc.cwnd) == (5 * M, 8 * M)
    cc.on_exit_recovery(M, 0.0)
    assert cc.cwnd == 5 * M  # tcp_end_cwnd_reduction: back to ssthresh


def test_newreno_rto_ecn_and_idle_restart_in_bytes():
    cc = reno("bytes", initial_window=4)
    cc.cwnd = 20 * M
    cc.on_ecn_echo(12 * M, 0.0)
    assert (cc.ssthresh, cc.cwnd) == (6 * M, 6 * M)  # RFC 3168 6.1.2: halve, no loss window
    cc.on_rto(3 * M, 0.0)
    assert (cc.ssthresh, cc.cwnd) == (2 * M, M)  # floor 2 SMSS; loss window 1 SMSS
    cc.cwnd = 9 * M
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
    assert set(ALGORITHMS) >= {"reno"}
    with pytest.raises(ValueError, match="unknown congestion control 'vegas'"):
        create(Config(congestion_control="vegas"))
    with pytest.raises(ValueError):
        Connection(Config(congestion_control="vegas"))
    p = Peer(classic(congestion_control="reno")).to_established()
    assert isinstance(p.conn.cc, NewReno) and p.conn.cwnd == 10 * 1460


def test_window_use_tracks_cwnd_limited_per_window():
    cc = reno("packets")
    use = WindowUse()
    assert not use.limited(cc)
    use.after_send(10 * M, cc.cwnd, M, 0, 10 * M, sent=True)  # the whole window went out
    assert use.limited(cc)
    cc.ssthresh = cc.cwnd  # out of slow start
    use.after_send(3 * M, cc.cwnd, M, 10 * M, 13 * M, sent=True)  # a new window, 3 of 10 used
    assert not use.limited(cc)


# ---------------------------------------------------------------------------- loss detection
def test_loss_detector_counts_duplicates_to_the_threshold():
    ld = LossDetector()
    assert ld.on_duplicate(0, plain=False, mss=M) is DupAck.NOT_DUPLICATE
    assert ld.on_duplicate(0, plain=True, mss=M) is DupAck.COUNTED
    assert ld.limited_transmit(M) == M
    assert ld.on_duplicate(0, plain=True, mss=M) is DupAck.COUNTED
    assert ld.on_duplicate(0, plain=True, mss=M) is DupAck.LOSS
    ld.enter_recovery(snd_max=10 * M, retransmitted_to=M)
    assert ld.in_recovery and ld.limited_transmit(M) == 0
    assert ld.on_duplicate(0, plain=True, mss=M) is DupAck.IN_RECOVERY
    assert not ld.recovery_ends(5 * M)  # partial ACK
    assert ld.recovery_ends(10 * M) and not ld.in_recovery


def test_loss_detector_sack_holes_and_rto():
    ld = LossDetector()
    # Three segments' worth SACKed above SND.UNA: loss at the first duplicate (RFC 6675 5).
    assert ld.on_sack([(2 * M, 5 * M)], 0, 10 * M) == 3 * M
    assert ld.on_duplicate(3 * M, plain=False, mss=M) is DupAck.LOSS
    ld.enter_recovery(10 * M, M)
    assert list(ld.holes(0, M)) == [(M, M)]  # from where the recovery got to
    ld.retransmitted(2 * M)
    assert list(ld.holes(0, M)) == []
    ld.on_rto()
    assert not ld.in_recovery and not ld.scoreboard and ld.dupacks == 0


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
        if not k.startswith("__") and not callable(v) and not isinstance(v, (property, staticmethod, classmethod))
    }
    assert data == {"_TIMEOUTS"}
    assert set(Connection._TIMEOUTS) <= set(Timer)


def test_receive_needs_the_time():
    p = Peer().to_established()
    p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"abc"))
    with pytest.raises(TypeError):
        p.conn.receive(10)  # type: ignore[call-arg]
    assert p.conn.receive(10, now=p.now) == b"abc"
