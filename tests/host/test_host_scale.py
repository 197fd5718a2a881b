"""A host that runs for long: its event log is a bounded ring unless a trace is asked for, and
its counters and port checks cost nothing per open connection."""

from __future__ import annotations

import contextlib

import pytest

from tcplab.host import Host
from tcplab.host.host import EVENT_RING
from tcplab.net.sim import Network
from tcplab.net.simhost import SimRuntime, two_hosts
from tcplab.socket import Socket
from tcplab.trace.events import EventLog


def test_event_log_ring_keeps_the_latest():
    seen = []
    log = EventLog(limit=10)
    log.subscribe(seen.append)
    for k in range(100):
        log.record("note", k, text=str(k))
    assert 10 <= len(log) < 20
    assert log.dropped + len(log) == 100
    assert [e["text"] for e in log.events][-10:] == [str(k) for k in range(90, 100)]
    assert len(seen) == 100  # live views see everything
    with pytest.raises(ValueError):
        EventLog(limit=-1)


def test_event_log_without_a_ring_is_for_subscribers_only():
    log = EventLog(limit=0)
    assert not log.listening  # nothing kept, nobody subscribed: an event would reach no one
    seen: list[dict] = []
    log.subscribe(seen.append)
    assert log.listening
    log.record("note", 1.0, text="x")
    assert len(log) == 0 and [e["text"] for e in seen] == ["x"]
    log.unsubscribe(seen.append)
    assert not log.listening
    assert EventLog().listening and EventLog(limit=5).listening  # they keep what they get


def _bench():
    """Two hosts on a simulated link, built as an application would: no log asked for."""
    net = Network(seed=1)
    client = net.add(Host("client", ["198.18.0.1"], seed=1))
    server = net.add(Host("server", ["198.18.0.2"], seed=2))
    net.link(client, server, delay=0.001)
    SimRuntime.attach(net)
    return net, client, server


def test_a_host_without_a_trace_keeps_a_bounded_log():
    # Before: every event of every connection, for ever (about 4.9 KB per closed connection).
    net, client, server = _bench()
    srv = Socket(server)
    srv.bind(("", 80))
    srv.listen(128)
    for _ in range(300):
        c = Socket(client)
        c.connect(("198.18.0.2", 80))
        conn, _ = srv.accept()
        c.close()
        conn.close()
    net.run(until=net.now + 200)
    assert server.conns == {} and client.conns == {}
    for host in (client, server):
        assert len(host.log) < 2 * EVENT_RING
        assert host.log.dropped > 0
    # Asked for, the trace is whole.
    _net, c2, _s2 = two_hosts()
    assert c2.log.limit is None


class CountingDict(dict):
    """host.conns that counts every walk over all its entries."""

    walks = 0

    def values(self):
        CountingDict.walks += 1
        return super().values()

    def items(self):
        CountingDict.walks += 1
        return super().items()

    def __iter__(self):
        CountingDict.walks += 1
        return super().__iter__()


def test_connect_and_bind_do_not_walk_the_connection_table():
    # Before: connect() read host.counters, which summed every connection's retransmissions
    # (38 ms per connect at 4k connections); bind() to port 0 scanned every connection per port.
    _net, client, server = _bench()
    client.conns = CountingDict()
    server.conns = CountingDict()
    srv = Socket(server)
    srv.bind(("", 80))
    srv.listen(4096)
    socks = []
    for k in range(200):
        c = Socket(client)
        if k % 2:
            c.bind(("198.18.0.1", 0))
        c.connect(("198.18.0.2", 80))
        socks.append((c, srv.accept()[0]))
    assert CountingDict.walks == 0
    assert client.counters["active_opens"] == 200 and server.counters["passive_opens"] == 200
    # bind() still sees the ports connections use
    used = socks[1][0].getsockname()[1]
    b = Socket(client)
    with pytest.raises(OSError):
        b.bind(("198.18.0.1", used))


def test_retransmissions_are_counted_as_they_happen():
    net, client, server = two_hosts(seed=4, loss=0.1)
    srv = Socket(server)
    srv.bind(("", 80))
    srv.listen()
    c = Socket(client)
    c.connect(("198.18.0.2", 80))
    conn, _ = srv.accept()
    c.sendall(b"x" * 200_000)
    got = 0
    while got < 200_000:
        got += len(conn.recv(65536))
    engine = c.connection
    assert engine.total_retrans > 0
    assert client.counters["segments_retransmitted"] == engine.total_retrans
    c.close()
    conn.close()
    net.run(until=net.now + 200)
    assert client.conns == {}
    assert client.counters["segments_retransmitted"] == engine.total_retrans  # kept after it is gone


def test_the_tables_shrink_back_after_many_connections():
    # A dict keeps the table it grew to: a host that once had thousands of connections would
    # hold that memory for ever. The connection table is copied when it empties out.
    import sys

    net, client, server = _bench()
    srv = Socket(server)
    srv.bind(("", 80))
    srv.listen(4096)
    srv.setblocking(False)
    empty = sys.getsizeof(server.conns)
    socks = []
    for _ in range(3000):
        c = Socket(client)
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("198.18.0.2", 80))
        socks.append(c)
    net.run(until=net.now + 1)
    while True:
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            break
        socks.append(conn)
    assert sys.getsizeof(server.conns) > 50 * empty
    for sock in socks:
        sock.close()
    net.run(until=net.now + 200)
    assert client.conns == {} and server.conns == {}
    assert sys.getsizeof(server.conns) <= 1024 and sys.getsizeof(client.conns) <= 1024
