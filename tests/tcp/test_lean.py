"""What an idle connection keeps (issue 13, memory per idle ESTABLISHED endpoint): the parts most
connections never use are shared placeholders or absent until first needed, and then they appear
and work. Structure, not bytes (benchmarks/connections.py prints the bytes)."""

from __future__ import annotations

from tcplab.net.pipe import Pipe
from tcplab.tcp import Config, State, buffer, ecn, loss
from tcplab.tcp import connection as engine
from tcplab.tcp.connection import OPENED, _Opening
from tcplab.tcp.ratelimit import OutOfWindowLimit
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import FLAGS, Segment

from .helpers import ISS, PEER_ISS, Peer, classic, seg


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
]


def test_an_idle_established_connection_shares_or_lacks_every_lazy_part():
    p = idle_pipe()
    for conn in (p.a, p.b):
        assert _unused(conn) == ALL
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
    assert _unused(p.a) == ["out-of-window limit", "ECN state", "handshake state"]
    assert "send buffer" not in _unused(p.b) and "loss queues" not in _unused(p.b)
    # the shared ones stayed as they were
    assert len(buffer.EMPTY) == 0 and not loss._NOTHING_SENT and not loss._NOTHING_SENT_BY_TIME
    assert not engine._NO_RECORDS
    fresh = _Opening(None, None, 0)
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


def test_the_timer_table_is_one_object():
    p = idle_pipe()
    t = p.a.timers
    t.arm(Timer.KEEPALIVE, 5.0)
    assert t.deadline(Timer.KEEPALIVE) == 5.0 and t.earliest() == 5.0
    assert list(t.due(6.0)) == [Timer.KEEPALIVE] and t.earliest() is None
