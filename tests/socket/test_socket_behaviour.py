"""tcplab.socket behaviour: SO_LINGER 0, half-close through shutdown(), options, tcp_info,
readiness, netstat's view of sockets."""

from __future__ import annotations

import struct

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.netstat import rows
from tcplab.socket import (
    AF_INET6,
    IPPROTO_TCP,
    SHUT_RD,
    SHUT_WR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOL_SOCKET,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_MAXSEG,
    TCP_NODELAY,
    Socket,
    wait,
)
from tcplab.tcp.states import State


@pytest.fixture
def bench():
    return two_hosts()


def pair(bench, port=9527, family=2, server_ip="198.18.0.2", setup=None):
    _net, client, server = bench
    srv = Socket(server, family)
    srv.bind((server_ip, port))
    srv.listen()
    cli = Socket(client, family)
    if setup:
        setup(cli)
    cli.connect((server_ip, port))
    conn, _ = srv.accept()
    return srv, cli, conn


def segments(net, src):
    return [e for e in net.log.of_kind("segment") if e["src"] == src]


def test_so_linger_zero_close_sends_rst_and_leaves_no_time_wait(bench):
    net, client, _server = bench
    _srv, cli, conn = pair(bench)
    cli.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
    assert cli.getsockopt(SOL_SOCKET, SO_LINGER, 8) == struct.pack("ii", 1, 0)
    cli.sendall(b"data that will be lost")
    cli.close()
    net.run(until=net.now + 1)
    last = segments(net, "client")[-1]
    assert last["flags"] == "R"
    assert not any("F" in e["flags"] for e in segments(net, "client"))
    assert client.conns == {}  # no TIME_WAIT: the connection is gone at once
    assert [r.state for r in rows(client)] == []
    states = [(e["from"], e["to"], e["cause"]) for e in net.log.of_kind("state") if e["host"] == "client"]
    assert states[-1] == ("ESTABLISHED", "CLOSED", "abort")
    assert conn.recv(100) == b"data that will be lost"  # what arrived before the RST
    with pytest.raises(ConnectionResetError):
        conn.recv(100)
    outcomes = [(e["host"], e["outcome"]) for e in net.log.of_kind("outcome")]
    assert outcomes == [("client", "connected"), ("server", "connected"), ("client", "closed"), ("server", "reset")]


def test_normal_close_leaves_time_wait_on_the_side_that_closed_first(bench):
    net, client, server = bench
    _srv, cli, conn = pair(bench)
    cli.close()
    assert conn.recv(10) == b""
    conn.close()
    net.run(until=net.now + 1)
    assert [r.state for r in rows(client)] == ["TIME_WAIT"]
    assert [r.state for r in rows(server)] == ["LISTEN"]
    assert rows(client)[0].timer == "timewait 59s"
    net.run(until=net.now + 60)
    outcomes = [(e["host"], e["outcome"]) for e in net.log.of_kind("outcome")]
    assert outcomes == [
        ("client", "connected"),
        ("server", "connected"),
        ("server", "peer closed"),
        ("client", "peer closed"),
        ("server", "closed"),
        ("client", "closed"),
    ]


def test_half_close_with_shutdown(bench):
    net, _client, _server = bench
    _srv, cli, conn = pair(bench)
    cli.sendall(b"request")
    cli.shutdown(SHUT_WR)  # FIN after the data; we can still read
    assert conn.recv(100) == b"request"
    assert conn.recv(100) == b""  # the client's FIN
    assert conn.connection.state is State.CLOSE_WAIT
    conn.sendall(b"response after your FIN")
    assert cli.recv(100) == b"response after your FIN"
    assert cli.connection.state is State.FIN_WAIT_2
    conn.shutdown(SHUT_WR)
    assert cli.recv(100) == b""
    assert cli.connection.state is State.TIME_WAIT
    net.run(until=net.now + 1)
    states = [e["to"] for e in net.log.of_kind("state") if e["host"] == "server" and e["conn"] != "198.18.0.2:9527-*:*"]
    assert states == ["SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def test_shut_rd_reads_eof_and_sends_nothing(bench):
    net, _client, _server = bench
    _srv, cli, _conn = pair(bench)
    before = len(segments(net, "client"))
    cli.shutdown(SHUT_RD)
    net.run(until=net.now + 1)
    assert cli.recv(10) == b""
    assert len(segments(net, "client")) == before
    assert cli.connection.state is State.ESTABLISHED


def test_socket_options_values_as_linux(bench):
    _net, client, _server = bench
    s = Socket(client)
    assert s.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 0
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    assert s.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 1
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 10000)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 20000  # Linux doubles it
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 10000)
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 20000
    assert s.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 0
    s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    assert s.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 1
    assert s.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == 536  # Linux, before connecting
    assert s.getsockopt(SOL_SOCKET, SO_KEEPALIVE) == 0
    assert s.getsockopt(IPPROTO_TCP, TCP_KEEPIDLE) == 7200
    assert s.getsockopt(IPPROTO_TCP, TCP_KEEPINTVL) == 75
    assert s.getsockopt(IPPROTO_TCP, TCP_KEEPCNT) == 9
    assert s.getsockopt(SOL_SOCKET, SO_LINGER) == 0
    s.setsockopt(SOL_SOCKET, SO_LINGER, (1, 5))
    assert s.getsockopt(SOL_SOCKET, SO_LINGER, 8) == struct.pack("ii", 1, 5)
    assert s.getsockopt(SOL_SOCKET, SO_REUSEADDR, 4) == struct.pack("i", 1)
    with pytest.raises(OSError):
        s.setsockopt(SOL_SOCKET, 12345, 1)


def test_tcp_maxseg_sets_the_mss_option(bench):
    net, _client, _server = bench
    _srv, cli, _conn = pair(bench, setup=lambda s: s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1000))
    syn = segments(net, "client")[0]
    assert syn["flags"] == "S"
    assert "mss 1000" in syn["options"]
    assert cli.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == cli.tcp_info()["snd_mss"]


def test_ipv6_uses_mss_1440(bench):
    net, _client, _server = bench
    _srv, cli, conn = pair(bench, family=AF_INET6, server_ip="fd00::2")
    syn = segments(net, "client")[0]
    assert "mss 1440" in syn["options"]
    assert cli.getpeername() == ("fd00::2", 9527, 0, 0)
    assert conn.getsockname() == ("fd00::2", 9527, 0, 0)
    cli.sendall(b"six")
    assert conn.recv(10) == b"six"


def test_keepalive_probes_then_etimedout(bench):
    net, _client, _server = bench
    _srv, cli, _conn = pair(bench)
    cli.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 10)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 2)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 3)
    [row] = rows(_client)
    assert row.timer == "keepalive 10s"
    net.links[0].set(loss=1.0)
    start = net.now
    with pytest.raises(TimeoutError) as exc:
        cli.recv(10)
    assert exc.value.errno == 110  # ETIMEDOUT (an OSError, not the socket timeout)
    assert net.now - start == pytest.approx(10 + 3 * 2)


def test_tcp_info_snapshot(bench):
    _net, _client, _server = bench
    _srv, cli, _conn = pair(bench)
    info = cli.tcp_info()
    assert info["state"] == "ESTABLISHED"
    for key in ("rto", "snd_mss", "rcv_mss", "cwnd", "unacked", "retransmits", "rtt"):
        assert key in info
    assert info["unacked"] == 0
    assert info["rtt"] > 0


def test_wait_and_readiness(bench):
    net, _client, _server = bench
    srv, cli, conn = pair(bench)
    assert wait([conn, srv], [], timeout=0) == ([], [])
    assert wait([], [cli], timeout=0) == ([], [cli])
    cli.send(b"ping")
    r, w = wait([conn, srv], [], timeout=5)
    assert r == [conn] and w == []
    assert conn.readable()
    other = Socket(_client)
    other.connect(("198.18.0.2", 9527))
    r, _ = wait([srv], [], timeout=5)
    assert r == [srv]
    start = net.now
    assert wait([cli], [], timeout=3) == ([], [])
    assert net.now - start == pytest.approx(3)


def test_recv_into_context_manager_and_names(bench):
    _net, _client, _server = bench
    srv, cli, conn = pair(bench)
    with cli:
        cli.sendall(b"abcdef")
        buf = bytearray(4)
        assert conn.recv_into(buf) == 4
        assert bytes(buf) == b"abcd"
        assert conn.recv(10) == b"ef"
        assert cli.getpeername() == ("198.18.0.2", 9527)
        assert conn.getpeername() == cli.getsockname()
        assert srv.getsockname() == ("198.18.0.2", 9527)
    assert cli._closed
    assert "closed" in repr(cli)


def test_retransmission_timer_in_netstat(bench):
    net, client, _server = bench
    _srv, cli, _conn = pair(bench)
    net.links[0].set(loss=1.0)
    cli.send(b"lost")
    net.run(until=net.now + 0.1)
    [row] = rows(client)
    assert row.state == "ESTABLISHED"
    assert row.send_q == 4
    assert row.timer.startswith("on ") and row.timer.endswith("/0")
    conn = client.conns[next(iter(client.conns))].conn
    # With SACK (the linux profile) a tail loss probe comes first (RFC 8985 7): a
    # retransmission that leaves the backoff alone, as ss shows it on Linux ("on", /0).
    net.run(until=net.now + conn.timer(net.now)[1] + 0.001)
    assert client.counters["segments_retransmitted"] == 1
    assert rows(client)[0].timer.endswith("/0")
    net.run(until=net.now + conn.timer(net.now)[1] + 0.001)  # the RTO fires: backoff 1
    [row] = rows(client)
    assert row.timer.startswith("on ") and row.timer.endswith("/1")
    assert client.counters["segments_retransmitted"] == 2


def test_so_linger_positive_close_waits_for_the_ack_of_fin(bench):
    net, client, _server = bench
    _srv, cli, _conn = pair(bench)
    cli.setsockopt(SOL_SOCKET, SO_LINGER, (1, 5))
    ep = next(iter(client.conns.values()))
    start = net.now
    cli.close()  # blocks (virtual time) until the FIN is acknowledged
    assert ep.conn.state is State.FIN_WAIT_2
    # one round trip on a 10 ms link, plus the jiffy (4 ms) the peer's ACK of a FIN waits on
    # a connection that has had no data (Linux tcp_fin: the delayed-ACK timer with ato 0)
    assert net.now - start == pytest.approx(0.024)


def test_sendall_timeout_bounds_the_whole_call(bench):
    net, _client, _server = bench
    _srv, cli, conn = pair(bench)
    cli.settimeout(3)
    start = net.now
    with pytest.raises(TimeoutError):
        cli.sendall(b"z" * 10_000_000)  # the peer never reads: its window closes
    assert net.now - start == pytest.approx(3)
    assert conn.connection.recv_buffered > 0
