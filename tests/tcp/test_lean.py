"""What an idle connection keeps (issue 13, memory per idle ESTABLISHED endpoint): the parts most
connections never use are shared placeholders or absent until first needed, and then they appear
and work. Structure, not bytes (benchmarks/connections.py prints the bytes)."""

from __future__ import annotations

import pytest

from tcplab.net.pipe import Pipe
from tcplab.tcp import Config, State, ackpolicy, buffer, ecn, loss
from tcplab.tcp import connection as engine
from tcplab.tcp.ackpolicy import AckPolicy
from tcplab.tcp.congestion import AckSample, Cubic, NewReno, Phase
from tcplab.tcp.connection import OPENED, Connection, _Opening
from tcplab.tcp.ratelimit import OutOfWindowLimit
from tcplab.tcp.rtt import RTTEstimator
from tcplab.tcp.timers import STOPPED, Timer, Timers
from tcplab.wire.tcp import FLAGS, Segment

from .helpers import ISS, PEER_ISS, Peer, classic, seg
from .test_cubic import M, _sample, cubic


def idle_pipe(config: Config | None = None) -> Pipe:
    p = Pipe(config or Config().read_only(), delay=0.001)
    p.b.listen(0.0)
    p.a.connect(0.0)
    p.run(until=1.0)
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED
    return p


def _unused(conn) -> list[str]:
    """The lazy parts this connection has not made (an empty list: it made them all)."""
    shared = {
        "send buffer": conn._sndbuf is buffer.EMPTY,
        "receive buffer": conn._rcvbuf is buffer.EMPTY,
        "MSG_EOR records": conn._eor is engine._NO_RECORDS,
        "out-of-window limit": conn._oow is None,
        "loss queues": conn.loss._queue is loss._NOTHING_SENT and conn.loss._by_time is loss._NOTHING_SENT_BY_TIME,
        "ECN state": conn.ecn is ecn.NOT_NEGOTIATED,
        "handshake state": conn._opening is OPENED,
        "timer table": conn.timers is STOPPED,
        "event and segment lists": conn._events is conn._out is engine._NONE,
        "ACK policy": conn._acks.idle,
    }
    return [name for name, is_shared in shared.items() if is_shared]


ALL = [
    "send buffer",
    "receive buffer",
    "MSG_EOR records",
    "out-of-window limit",
    "loss queues",
    "ECN state",
    "handshake state",
    "timer table",
    "event and segment lists",
    "ACK policy",
]


def test_an_idle_established_connection_shares_or_lacks_every_lazy_part():
    p = idle_pipe()
    for conn in (p.a, p.b):
        assert _unused(conn) == ALL
    assert p.a._acks is p.b._acks  # one idle ACK policy for the configuration's connections
    # the sizes both computed at set-up are one int object, not one each
    assert p.a.cc.cwnd == p.b.cc.cwnd > 256 and p.a.cc.cwnd is p.b.cc.cwnd


def test_data_each_way_gives_both_their_own_buffers_and_loss_queues_and_they_work():
    p = idle_pipe()
    assert p.a.send(b"x" * 5000, p.now, eor=True) == 5000
    assert p.a.send(b"y" * 10, p.now) == 10
    p.run(until=2.0)
    assert p.b.receive(now=p.now) == b"x" * 5000 + b"y" * 10
    p.b.send(b"reply", p.now)
    p.run(until=3.0)
    assert p.a.receive(now=p.now) == b"reply"
    assert _unused(p.a) == [
        "out-of-window limit",
        "ECN state",
        "handshake state",
        "event and segment lists",
    ]
    assert "send buffer" not in _unused(p.b) and "loss queues" not in _unused(p.b)
    # the shared ones stayed as they were
    fresh_policy = AckPolicy(Config().read_only())
    idle_policy = ackpolicy.idle(p.a.config)
    assert idle_policy.idle and all(
        getattr(idle_policy, f) == getattr(fresh_policy, f) for f in AckPolicy.__slots__[2:]
    )
    assert len(buffer.EMPTY) == 0 and not loss._NOTHING_SENT and not loss._NOTHING_SENT_BY_TIME
    assert not engine._NO_RECORDS
    fresh = _Opening(None, None, 0, OPENED.isn)
    assert all(getattr(OPENED, f) == getattr(fresh, f) for f in _Opening.__slots__)


def test_the_out_of_window_limit_is_made_by_the_first_out_of_window_segment_and_limits():
    p = Peer(classic()).to_established()
    assert p.conn._oow is None
    beyond = seg(".", PEER_ISS + 10**7, ISS + 1)
    assert len(p.recv(beyond, at=1.0)) == 1  # answered: an ACK
    assert isinstance(p.conn._oow, OutOfWindowLimit)
    assert p.recv(beyond, at=1.1) == []  # within 500 ms: not again (RFC 5961 7)
    assert len(p.recv(beyond, at=1.6)) == 1


def test_time_wait_record_takes_a_limit_even_when_the_connection_never_made_one():
    p = idle_pipe()
    p.a.close(p.now)
    p.run(until=p.now + 0.1)
    p.b.close(p.now)
    p.run(until=p.now + 0.1)
    assert p.a.state is State.TIME_WAIT and p.a._oow is None
    record = p.a.time_wait_record()
    assert record is not None
    # a pure ACK beyond the window: one ACK in reply, then none within 500 ms (RFC 5961 7)
    beyond = Segment(9527, 40000, (p.b.snd_max + 10**7) & 0xFFFFFFFF, p.a.snd_max, FLAGS[0x10], 512)
    answers = []
    for t in (0.0, 0.1, 0.6):
        record.segment_arrives(beyond, p.now + t)
        answers.append(len(record.segments_to_send()))
    assert answers == [1, 0, 1]


def test_ecn_negotiated_keeps_its_own_state_and_marks_data():
    p = idle_pipe(Config(ecn=1))
    for conn in (p.a, p.b):
        assert conn.ecn is not ecn.NOT_NEGOTIATED and conn.ecn.ok
    assert not ecn.NOT_NEGOTIATED.ok and not ecn.NOT_NEGOTIATED.echo


def test_the_idle_ack_policy_refuses_a_change_and_a_private_config_gets_its_own():
    p = idle_pipe()
    with pytest.raises(TypeError):
        p.a._acks.quick = 3
    p.a.set_quickack(0, p.now)  # TCP_QUICKACK 0: ping-pong mode, in a policy of its own
    assert not p.a._acks.idle and not p.a.quickack and p.b._acks.idle and p.b.quickack
    own = Connection(Config())
    assert not own._acks.idle


def test_the_timer_table_is_one_object():
    t = Timers()
    t.arm(Timer.KEEPALIVE, 5.0)
    assert t.deadline(Timer.KEEPALIVE) == 5.0 and t.earliest() == 5.0
    assert list(t.due(6.0)) == [Timer.KEEPALIVE] and t.earliest() is None


def test_a_timer_armed_gives_the_connection_its_own_table_and_nobody_else_one():
    p = idle_pipe()  # the handshake's retransmission timer ran: the table went back at ESTABLISHED
    assert p.a.timers is STOPPED and p.a.next_deadline() is None
    p.a.set_keepalive(True, p.now)
    assert p.a.timers is not STOPPED and p.a.next_deadline() == p.now + 7200.0
    assert p.b.timers is STOPPED and STOPPED.earliest() is None  # nobody else's changed
    p.a.set_keepalive(False, p.now)
    assert p.a.timers.earliest() is None
    # data: the sender's probe timer runs, in its table
    p.a.send(b"x", p.now)
    assert p.a.timers.armed(Timer.TLP)  # (RFC 8985: a probe timer in place of the RTO)
    p.run(until=p.now + 1.0)
    assert p.b.receive(now=p.now) == b"x"
    assert p.a.timers is not STOPPED and p.b.timers.earliest() is None and STOPPED.earliest() is None
    with pytest.raises(TypeError):
        STOPPED.arm(Timer.KEEPALIVE, 1.0)  # the shared table takes no deadline


# -- the engine's collaborators: episode state only during the episode ---------------------------


def test_an_idle_connection_has_no_reduction_curve_or_hystart_round_and_shares_its_settings():
    p = idle_pipe()
    for conn in (p.a, p.b):
        cc = conn.cc
        assert isinstance(cc, Cubic) and cc.phase is Phase.OPEN
        assert cc._red is None and cc._curve is None and cc._round is None
        assert cc.config is conn.config and conn._rwin.config is conn.config  # read, not copied
    assert p.a.rtt._rules is p.b.rtt._rules  # one object for the estimator's fixed settings
    assert (p.a.rtt.rto_min, p.a.rtt.rto_max, p.a.rtt.linux) == (0.2, 120.0, True)


def test_a_loss_recovery_makes_the_reduction_record_an_undo_drops_it():
    cc = cubic(100)
    cc.enter_recovery(high_seq=5000)
    assert cc._red is not None and cc.phase is Phase.RECOVERY and cc.ssthresh == 70 * M
    cc.on_sent(M, 11.0)
    one = AckSample(acked=M, delivered=M, delivered_segs=1, in_flight=90 * M, snd_una=M, snd_nxt=5000, advanced=True)
    cc.on_ack(one, 11.0)  # PRR: in proportion, 70/100 of what was delivered
    assert cc.cwnd == 90 * M
    cc.end_if_acked(5000, 0)
    assert cc.phase is Phase.OPEN and cc.cwnd == 70 * M
    assert cc._red is not None  # an undo may still restore what the reduction began from
    cc.undo()
    assert (cc.cwnd, cc.ssthresh, cc._red) == (100 * M, 1 << 30, None)
    cc.undo()  # nothing left to undo
    assert (cc.cwnd, cc.phase) == (100 * M, Phase.OPEN)


def test_an_ecn_reduction_drops_its_record_when_it_ends_it_cannot_be_undone():
    cc = cubic(100)
    cc.enter_cwr(high_seq=5000)
    assert cc._red is not None and cc.phase is Phase.CWR
    cc.end_if_acked(5000, 0)  # CWR holds until something above high_seq is acknowledged
    assert cc.phase is Phase.CWR
    cc.end_if_acked(5001, 0)
    assert (cc.phase, cc.cwnd, cc._red) == (Phase.OPEN, 70 * M, None)
    cc.undo()
    assert cc.cwnd == 70 * M


def test_the_cubic_curve_is_made_by_a_loss_or_growth_and_forgotten_by_a_timeout_as_linux_resets_it():
    cc = cubic(100, rtt=0.1)
    assert cc._curve is None  # no loss, no growth beyond slow start yet
    cc.enter_recovery(high_seq=1)
    cc.end_if_acked(1, 0)
    assert cc._curve is not None and cc.last_max_cwnd == 100 and cc._curve.epoch_start is None
    cc.on_ack(_sample(), 11.0)
    assert cc._curve.epoch_start == 11.0  # RFC 9438 4.2: the epoch began with this growth
    cc.on_rto(high_seq=2, in_flight=0)  # Linux cubictcp_state(TCP_CA_Loss): bictcp_reset
    assert cc._curve is None and cc.last_max_cwnd == 0
    fresh = cubic(1, rtt=0.1)
    fresh.ssthresh = cc.ssthresh
    cc.end_if_acked(2, 0)
    for t in range(200):  # both the same from here: the forgotten curve is a fresh one
        for c in (cc, fresh):
            c.on_ack(_sample(), 20.0 + t * 0.01)
        assert cc.cwnd == fresh.cwnd
    assert cc.cwnd > cc.ssthresh  # into congestion avoidance: the curve made again
    assert cc._curve is not None


def test_the_hystart_round_is_made_only_when_slow_start_reaches_its_low_window():
    cc = cubic(10, rtt=0.1)
    cc.pkts_acked(_sample(rtt=0.1, una=1, nxt=10 * M), 11.0)
    assert cc._round is None  # below 16 segments HyStart does not look
    cc.cwnd = 16 * M
    cc.pkts_acked(_sample(rtt=0.1, una=2, nxt=26 * M), 11.5)
    assert cc._round is not None and cc._round.end_seq == 26 * M and cc._round.sample_cnt == 1
    assert not cc._round.found
    for i in range(9):  # a new round whose delay grew by more than min_rtt/8: slow start ends
        cc.pkts_acked(_sample(rtt=0.2, una=26 * M + 1 + i, nxt=60 * M), 11.6 + i * 0.01)
        assert cc._round.found == (i == 8)  # judged once the round has 8 samples
    assert cc._round.found and cc.ssthresh == cc.cwnd == 16 * M
    cc.on_rto(high_seq=30 * M, in_flight=0)  # Linux: a timeout lets HyStart look again
    assert not cc._round.found and cc._round.end_seq == 0


def test_a_congestion_control_change_takes_over_the_window_and_its_use():
    p = idle_pipe(Config())
    a = p.a
    a.send(b"x" * 30000, p.now)
    p.run(until=p.now + 1.0)
    old = a.cc
    a.reconfigure(congestion_control="reno")
    a.send(b"y" * 1000, p.now)
    p.run(until=p.now + 1.0)
    assert isinstance(a.cc, NewReno) and a.cc is not old
    assert p.b.receive(now=p.now) == b"x" * 30000 + b"y" * 1000
    # what the old one knew of the window's use carries over (Linux keeps it in tcp_sock)
    old_cc = cubic(10)
    old_cc.after_send(10 * M, old_cc.cwnd, M, 0, 10 * M, sent=True)  # the whole window went out
    reno = NewReno(Config(congestion_control="reno"))
    assert not reno.limited(reno)
    reno.take_over(old_cc)
    assert reno.limited(reno) and (reno.cwnd, reno._max_out, reno._until) == (10 * M, 10 * M, 10 * M)


def test_the_rfc_estimator_keeps_rttvar_scaled_and_gives_rfc_6298():
    r = RTTEstimator(1.0, 0.2, 120.0)
    assert r.rttvar is None and r.rto == 1.0
    r.sample(0.1)
    assert (r.srtt, r.rttvar) == (0.1, 0.05)  # 2.2
    assert r.rto == 0.1 + 4 * 0.05  # max(SRTT + 4 RTTVAR, RTO.min)
    r.sample(0.2)
    assert r.rttvar == 0.75 * 0.05 + 0.25 * abs(0.1 - 0.2)  # 2.3, to the last bit
    assert r.srtt == 0.875 * 0.1 + 0.125 * 0.2


def test_estimators_share_their_settings_until_one_changes_its_initial_rto():
    a, b = RTTEstimator(1.0, 0.2, 120.0, linux=True), RTTEstimator(1.0, 0.2, 120.0, linux=True)
    assert a._rules is b._rules
    a.rto_initial = 3.0  # as after a lost SYN (Linux: 3 s, RFC 6298 5.7)
    assert (a.rto, b.rto, a.rto_initial, b.rto_initial) == (3.0, 1.0, 3.0, 1.0)
    assert (a.rto_min, a.rto_max, a.linux) == (0.2, 120.0, True)
