"""tcplab hosts (the real stack) talking over the simulated network."""

from __future__ import annotations

from tcplab.host import Host
from tcplab.net.sim import Match, Network, Rule
from tcplab.net.simhost import SimRuntime
from tcplab.socket import Socket
from tcplab.trace.events import EventLog

C, S = "198.18.0.1", "198.18.0.2"


def setup(seed=0, **impairments):
    log = EventLog()
    net = Network(seed=seed, log=log)
    client = net.add(Host("client", [C], log=log, seed=seed))
    server = net.add(Host("server", [S], log=log, seed=seed))
    net.link(client, server, **impairments)
    SimRuntime.attach(net)
    listener = Socket(server)
    listener.bind((S, 80))
    listener.listen(8)
    return net, log, client, server, listener


def transfer(net, client, listener, data, chunk=32768):
    sock = Socket(client)
    sock.connect((S, 80))
    conn, _peer = listener.accept()
    got = bytearray()
    for i in range(0, len(data), chunk):
        sock.sendall(data[i : i + chunk])
        while len(got) < min(len(data), i + chunk):
            got += conn.recv(65536)
    return sock, conn, bytes(got)


def test_a_megabyte_over_a_lossy_link_arrives_intact_and_replays_exactly():
    data = bytes(range(256)) * 4096

    def run():
        net, log, client, _server, listener = setup(
            seed=4, delay=0.01, bandwidth=2_000_000, loss=0.02, duplicate=0.01, reorder=0.01
        )
        _sock, _conn, got = transfer(net, client, listener, data)
        return got, log.of_kind("segment"), net.stats.as_dict()

    got, segments, stats = run()
    assert got == data
    assert stats["dropped_loss"] > 0 and stats["duplicated"] > 0 and stats["reordered"] > 0
    assert run() == (got, segments, stats)


def test_dropped_fin_is_retransmitted_and_time_wait_passes_in_virtual_time():
    net, log, client, server, listener = setup(delay=0.05)
    rule = net.add_rule(Rule("drop", Match(src="server", has_flags="F")))
    sock, conn, _ = transfer(net, client, listener, b"hello")
    sock.close()
    assert conn.recv(100) == b""  # blocks in virtual time until the client's FIN arrives
    conn.close()
    net.run(until=net.now + 200)
    assert rule.hits == 1
    fins = [(e["src"], e["fate"]) for e in log.of_kind("segment") if "F" in e["flags"]]
    # The server closes within the delayed-ACK time of the client's FIN, so that FIN's ACK
    # rides on the server's FIN (Linux: tcp_fin only schedules it) and is lost with it: both
    # FINs go again on their retransmission timers.
    assert fins[:2] == [("client", "delivered"), ("server", "dropped")]
    assert sorted(fins[2:]) == [("client", "delivered"), ("server", "delivered")]
    assert log.states("client")[-3:] == ["FIN_WAIT_1", "TIME_WAIT", "CLOSED"]
    assert log.states("server")[-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert client.conns == {} and server.conns == {}
    assert net.now > 60  # the 2MSL wait happened, in no real time
