"""TCP Fast Open (RFC 7413) and ECN (RFC 3168) between two tcplab hosts on the simulator,
through the socket API: MSG_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_FASTOPEN; tcp_ecn and a link
whose AQM marks CE."""

from __future__ import annotations

import errno
import hashlib
import random

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import IPPROTO_TCP, MSG_FASTOPEN, TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, Socket, wait
from tcplab.tcp import Config
from tcplab.tcp.states import State

SERVER = ("198.18.0.2", 9000)


def _server(host, qlen: int = 16) -> Socket:
    srv = Socket(host)
    srv.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, qlen)
    srv.bind(SERVER)
    srv.listen(8)
    return srv


def _syns(net) -> list[dict]:
    return [e for e in net.log.of_kind("segment") if e["flags"] in ("S", "S.")]


def test_the_first_fast_open_asks_for_a_cookie_the_second_uses_it():
    net, client, server = two_hosts(config=Config(fastopen=3))
    srv = _server(server)
    first = Socket(client)
    assert first.sendto(b"hello", MSG_FASTOPEN, SERVER) == 5  # blocking: after the handshake
    conn, _ = srv.accept()
    assert conn.recv(100) == b"hello"
    syn, synack = _syns(net)
    assert syn["len"] == 0 and "tfo  cookiereq" in syn["options"]
    assert "tfo  cookie " in synack["options"]
    assert SERVER[0] in client.fastopen_cookies
    # The second connection: the data rides on the SYN; the server takes it at once and may
    # hand the connection to accept() before the handshake completes.
    second = Socket(client)
    second.setblocking(False)
    assert second.sendto(b"again", MSG_FASTOPEN, SERVER) == 5
    conn2, _ = srv.accept()
    syn2, synack2 = _syns(net)[2:]
    assert syn2["len"] == 5 and "tfo  cookie" in syn2["options"]
    assert synack2["ack"] == 6 and "tfo" not in synack2["options"]
    assert conn2.recv(100) == b"again"
    assert conn2.tcp_info()["fastopen"]
    conn2.sendall(b"reply")
    net.run(until=net.now + 1)
    assert second.recv(100) == b"reply"
    assert conn2.connection.state is State.ESTABLISHED


def test_fast_open_connect_defers_the_syn_to_the_first_write():
    net, client, server = two_hosts(config=Config(fastopen=3))
    srv = _server(server)
    client.fastopen_cookies[SERVER[0]] = server.fastopen_key.cookie("198.18.0.1", SERVER[0])
    sock = Socket(client)
    sock.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
    sock.connect(SERVER)  # returns at once: nothing sent yet
    assert _syns(net) == [] and sock.getsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT) == 1
    assert sock.send(b"GET / HTTP/1.0\r\n\r\n") == 18
    conn, _ = srv.accept()
    assert conn.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
    assert _syns(net)[0]["len"] == 18


def test_a_listener_without_tcp_fastopen_takes_no_syn_data():
    net, client, server = two_hosts(config=Config(fastopen=3))
    srv = _server(server, qlen=0)
    client.fastopen_cookies[SERVER[0]] = bytes(8)  # a stale cookie
    sock = Socket(client)
    assert sock.sendto(b"hello", MSG_FASTOPEN, SERVER) == 5
    conn, _ = srv.accept()
    assert conn.recv(100) == b"hello"  # sent again after the handshake
    syn, synack = _syns(net)
    assert syn["len"] == 5 and synack["ack"] == 1


def test_fast_open_needs_the_client_bit():
    _net, client, _server_host = two_hosts(config=Config(fastopen=0))
    with pytest.raises(OSError) as info:
        Socket(client).sendto(b"x", MSG_FASTOPEN, SERVER)
    assert info.value.errno == errno.EOPNOTSUPP
    with pytest.raises(OSError) as info:
        Socket(client).setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
    assert info.value.errno == errno.EOPNOTSUPP


def test_tcp_fastopen_is_refused_on_a_connected_socket():
    _net, client, server = two_hosts()
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen(1)
    sock = Socket(client)
    sock.connect(SERVER)
    with pytest.raises(OSError) as info:
        sock.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 5)
    assert info.value.errno == errno.EINVAL


def test_ecn_over_a_marking_link_reduces_without_loss():
    """tcp_ecn=1: SEW / SE.; the AQM marks CE instead of dropping; the receiver echoes, the
    sender halves once per window and sets CWR; no retransmission, every byte arrives."""
    net, client, server = two_hosts(config=Config(ecn=1), ecn_mark=0.02)
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen(1)
    cli = Socket(client)
    cli.connect(SERVER)
    conn, _ = srv.accept()
    data = random.Random(3).randbytes(300_000)
    cli.setblocking(False)
    conn.setblocking(False)
    sent, got = 0, bytearray()
    while len(got) < len(data):
        readers, writers = wait([conn], [cli] if sent < len(data) else [], 30)
        if cli in writers:
            sent += cli.send(data[sent : sent + 65536])
        if conn in readers:
            got += conn.recv(1 << 20)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    segs = net.log.of_kind("segment")
    assert [e["flags"] for e in segs[:2]] == ["SEW", "SE."]
    data_segs = [e for e in segs if e["src"] == "client" and e["len"]]
    assert all(e.get("ecn") == "ECT(0)" for e in data_segs)
    assert any(e["fate"] == "marked" for e in data_segs)
    assert any("E" in e["flags"] for e in segs if e["src"] == "server")  # the echo
    assert any("W" in e["flags"] for e in data_segs)  # the sender's CWR
    # ECN-capable data is marked, never dropped (the AQM drops only Not-ECT pure ACKs, which
    # later ACKs cover): nothing was retransmitted.
    assert all(e["fate"] != "dropped" for e in data_segs) and cli.tcp_info()["total_retrans"] == 0
    reasons = [e["reason"] for e in net.log.of_kind("cwnd") if e["host"] == "client"]
    assert "ECN echo" in reasons
