"""The TIME-WAIT record (tcplab.tcp.timewait.TimeWait), at packet level: once the application has
closed a connection that reached TIME-WAIT, the host keeps a small record in its place (Linux's
inet_timewait_sock), and the record answers every segment exactly as the connection would.

Each test drives two server hosts with the same packets from a hand-made client: on one the
application closes its socket (the record takes over), on the other it only shuts down its
sending side and keeps the socket (the whole Connection stays in TIME-WAIT). What they send must
be the same bytes, and what each sends is stated segment by segment."""

from __future__ import annotations

import pytest

from tcplab.host import Host
from tcplab.netstat import rows
from tcplab.socket import SHUT_WR, Socket
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.states import State
from tcplab.tcp.timewait import TimeWait
from tcplab.trace.events import EventLog
from tcplab.wire import Flags, Segment, Timestamps, build_packet, parse_packet

SERVER = "198.18.0.2"
CLIENT = "198.18.0.1"
PORT = 9527
CPORT = 40000
KEY = (SERVER, PORT, CLIENT, CPORT)
A, S, R, F = Flags.ACK, Flags.SYN, Flags.RST, Flags.FIN
C_ISS = 1000
MSL = 30.0


def packet(seq, ack, flags, payload=b"", ts=None):
    options = (Timestamps(*ts),) if ts is not None else ()
    return build_packet(CLIENT, SERVER, Segment(CPORT, PORT, seq, ack, flags, 65535, options=options, payload=payload))


def sent(host):
    return [parse_packet(p).tcp for p in host.poll_transmit()]


class Server:
    """A server host, its listener and the accepted connection, closed by the server first."""

    def __init__(self, record: bool, timestamps: bool, rfc1337: bool = False) -> None:
        self.host = Host("server", [SERVER], config=Config(msl=MSL, rfc1337=rfc1337), log=EventLog(), seed=7)
        self.listener = Socket(self.host)
        self.listener.bind(("", PORT))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.record = record
        self.ts = timestamps
        self.now = 1.0
        syn_ts = (100, 0) if timestamps else None
        self.host.deliver(packet(C_ISS, 0, S, ts=syn_ts), self.now)
        [synack] = sent(self.host)
        assert synack.flags == S | A
        self.iss = synack.seq
        self.send(C_ISS + 1, self.iss + 1, A, ts_val=101)
        self.sock, _ = self.listener.accept()
        # The server closes first: FIN_WAIT_1; the client's ACK of it and its own FIN: TIME_WAIT.
        if record:
            self.sock.close()
        else:
            self.sock.shutdown(SHUT_WR)
        [fin] = sent(self.host)
        assert fin.flags == F | A and fin.seq == self.iss + 1
        self.send(C_ISS + 1, self.iss + 2, F | A, ts_val=102)
        [ack] = sent(self.host)
        assert (ack.flags, ack.seq, ack.ack) == (A, self.iss + 2, C_ISS + 2)
        self.window = ack.window
        assert self.host.conns[KEY].state is State.TIME_WAIT

    def send(self, seq, ack, flags, payload=b"", ts_val=None, at=None):
        if at is not None:
            self.now = at
        ts = (ts_val, 0) if self.ts and ts_val is not None else None
        self.host.deliver(packet(seq, ack, flags, payload, ts), self.now)

    def after(self, seconds):
        self.now += seconds
        self.host.handle_timeout(self.now)


def pair(timestamps=True, rfc1337=False):
    return Server(True, timestamps, rfc1337), Server(False, timestamps, rfc1337)


def both(servers, *args, **kw):
    """Send the same segment to both servers: what each answers (the same, byte for byte)."""
    assert isinstance(servers[0].host.conns[KEY].conn, TimeWait)
    assert isinstance(servers[1].host.conns[KEY].conn, Connection)
    out = []
    for s in servers:
        s.send(*args, **kw)
        out.append(s.host.poll_transmit())
    assert out[0] == out[1]
    return [parse_packet(p).tcp for p in out[0]]


def test_closed_connection_in_time_wait_is_a_small_record():
    rec, full = pair()
    ep = rec.host.conns[KEY]
    assert isinstance(ep.conn, TimeWait)
    assert isinstance(full.host.conns[KEY].conn, Connection)  # the application still holds it
    assert ep.conn.state is State.TIME_WAIT and ep.state is State.TIME_WAIT
    assert (ep.conn.local, ep.conn.remote) == ((SERVER, PORT), (CLIENT, CPORT))
    assert ep.conn.next_deadline() == pytest.approx(rec.now + 2 * MSL)
    assert not hasattr(ep.conn, "__dict__")


def test_retransmitted_fin_is_acknowledged_with_the_connections_ack():
    servers = pair()
    [ack] = both(servers, C_ISS + 1, servers[0].iss + 2, F | A, ts_val=103, at=2.0)
    assert (ack.flags, ack.seq, ack.ack, ack.window) == (A, servers[0].iss + 2, C_ISS + 2, servers[0].window)
    ts = ack.option(Timestamps)
    assert ts is not None and ts.ecr == 102  # TS.Recent stays: only a segment at RCV.NXT updates it
    # and the 2 MSL timer restarted: still there 2 MSL after the first FIN, gone 2 MSL after this one
    for s in servers:
        s.after(2 * MSL - 0.5)
        assert s.host.conns[KEY].state is State.TIME_WAIT
        s.after(1.0)
        assert KEY not in s.host.conns


def test_pure_ack_at_rcv_nxt_restarts_the_timer_silently():
    servers = pair()
    assert both(servers, C_ISS + 2, servers[0].iss + 2, A, ts_val=103, at=20.0) == []
    for s in servers:
        s.after(50.0)  # t=70: past the first deadline (1 + 2 MSL = 61), before the new one (80)
        assert s.host.conns[KEY].state is State.TIME_WAIT


def test_data_in_time_wait_is_answered_with_an_ack_of_rcv_nxt():
    servers = pair()
    [ack] = both(servers, C_ISS + 2, servers[0].iss + 2, A, payload=b"late", ts_val=104, at=3.0)
    assert (ack.flags, ack.seq, ack.ack) == (A, servers[0].iss + 2, C_ISS + 2)
    assert ack.payload == b""


def test_old_timestamp_fails_paws_and_is_acknowledged():
    servers = pair()
    [ack] = both(servers, C_ISS + 1, servers[0].iss + 2, F | A, ts_val=50, at=3.0)
    assert (ack.flags, ack.seq, ack.ack) == (A, servers[0].iss + 2, C_ISS + 2)
    assert ack.option(Timestamps).ecr == 102  # TS.Recent kept


def test_out_of_window_acks_are_rate_limited():
    servers = pair(timestamps=False)
    first = both(servers, C_ISS + 500, servers[0].iss + 2, A, at=3.0)
    second = both(servers, C_ISS + 501, servers[0].iss + 2, A, at=3.1)
    assert [(s.flags, s.seq, s.ack) for s in first] == [(A, servers[0].iss + 2, C_ISS + 2)]
    assert second == []  # within net.ipv4.tcp_invalid_ratelimit (500 ms)


def test_rst_at_rcv_nxt_ends_time_wait():
    servers = pair(timestamps=False)
    assert both(servers, C_ISS + 2, 0, R, at=3.0) == []
    for s in servers:
        assert KEY not in s.host.conns
        assert s.host.log.states("server")[-2:] == ["TIME_WAIT", "CLOSED"]


def test_rst_is_ignored_with_rfc1337():
    servers = pair(timestamps=False, rfc1337=True)
    assert both(servers, C_ISS + 2, 0, R, at=3.0) == []
    for s in servers:
        assert s.host.conns[KEY].state is State.TIME_WAIT


def test_new_syn_opens_a_new_incarnation_with_iss_beyond_the_old():
    servers = pair()
    [synack] = both(servers, C_ISS + 100_000, 0, S, ts_val=200, at=4.0)
    assert synack.flags == S | A
    assert synack.seq == servers[0].iss + 2 + 65537
    assert synack.ack == C_ISS + 100_001
    for s in servers:
        assert s.host.conns[KEY].state is State.SYN_RCVD


def test_old_syn_is_answered_with_an_ack():
    servers = pair()
    [ack] = both(servers, C_ISS - 10, 0, S, ts_val=90, at=4.0)  # old sequence number and timestamp
    assert (ack.flags, ack.seq, ack.ack) == (A, servers[0].iss + 2, C_ISS + 2)


def test_time_wait_timeout_removes_the_record_and_logs_the_transition():
    rec, _ = pair()
    rec.after(2 * MSL + 0.1)
    assert KEY not in rec.host.conns
    last = rec.host.log.of_kind("state")[-1]
    assert (last["from"], last["to"]) == ("TIME_WAIT", "CLOSED")
    assert rec.host.next_deadline() is None


def test_the_connection_table_shows_the_record_with_its_timer():
    rec, full = pair()
    for s in (rec, full):
        s.host.now = s.now + 10.0  # (the table's clock)
    [tw] = [r for r in rows(rec.host) if r.state == "TIME_WAIT"]
    assert [r for r in rows(full.host) if r.state == "TIME_WAIT"] == [tw]
    assert tw.timer.startswith("timewait")
