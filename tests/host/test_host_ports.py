"""Ports: RFC 6056 ephemeral ports, Linux bind rules, TIME_WAIT and SO_REUSEADDR, reopening a
TIME_WAIT connection with a new SYN."""

from __future__ import annotations

import errno

import pytest

from tcplab.host import EphemeralPorts, Host
from tcplab.net.simhost import two_hosts
from tcplab.socket import AF_INET6, SO_REUSEADDR, SOL_SOCKET, Socket
from tcplab.tcp.states import State


def nb_connect(sock, addr):
    sock.setblocking(False)
    with pytest.raises(BlockingIOError) as exc:
        sock.connect(addr)
    assert exc.value.errno == errno.EINPROGRESS
    return sock.getsockname()[1]


def test_rfc6056_algorithm_3_sequence():
    ports = EphemeralPorts(b"secret", 32768, 60999)
    free = lambda p: True  # noqa: E731
    first = ports.pick("198.18.0.1", "198.18.0.2", 80, free)
    second = ports.pick("198.18.0.1", "198.18.0.2", 80, free)
    assert 32768 <= first <= 60999
    assert second == (first - 32768 + 1) % 28232 + 32768  # same destination: next in its walk
    offset = ports.offset("198.18.0.1", "198.18.0.2", 80)
    assert first == 32768 + offset % 28232
    # another destination starts somewhere else (keyed hash), another secret too
    assert ports.offset("198.18.0.1", "198.18.0.2", 81) != offset
    assert EphemeralPorts(b"other").offset("198.18.0.1", "198.18.0.2", 80) != offset
    # taken ports are skipped
    third = ports.pick("198.18.0.1", "198.18.0.2", 80, lambda p: p % 2 == 0)
    assert third % 2 == 0


def test_ephemeral_ports_in_configured_range_and_exhaustion():
    host = Host("client", ["198.18.0.1"], ephemeral_range=(50000, 50001))
    a = nb_connect(Socket(host), ("198.18.0.2", 80))
    b = nb_connect(Socket(host), ("198.18.0.2", 80))
    assert {a, b} == {50000, 50001}
    c = nb_connect(Socket(host), ("198.18.0.3", 80))  # another 4-tuple may reuse a port
    assert c in (50000, 50001)
    s = Socket(host)
    s.setblocking(False)
    with pytest.raises(OSError) as exc:
        s.connect(("198.18.0.2", 80))
    assert exc.value.errno == errno.EADDRNOTAVAIL


def test_bind_rules():
    host = Host("server", ["198.18.0.2", "fd00::2"])
    a = Socket(host)
    a.bind(("198.18.0.2", 8080))
    b = Socket(host)
    with pytest.raises(OSError) as exc:
        b.bind(("198.18.0.2", 8080))
    assert exc.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError) as exc:
        b.bind(("", 8080))  # the wildcard overlaps
    assert exc.value.errno == errno.EADDRINUSE
    b.bind(("198.18.0.2", 8081))
    v6 = Socket(host, AF_INET6)
    v6.bind(("fd00::2", 8080))  # IPv6 sockets are a separate space here
    c = Socket(host)
    with pytest.raises(OSError) as exc:
        c.bind(("198.18.0.9", 8080))
    assert exc.value.errno == errno.EADDRNOTAVAIL
    with pytest.raises(OSError) as exc:
        b.bind(("198.18.0.2", 8082))  # already bound
    assert exc.value.errno == errno.EINVAL
    # two SO_REUSEADDR sockets may share a bound port, only one may listen on it
    r1, r2 = Socket(host), Socket(host)
    for r in (r1, r2):
        r.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        r.bind(("198.18.0.2", 9000))
    r1.listen()
    with pytest.raises(OSError) as exc:
        r2.listen()
    assert exc.value.errno == errno.EADDRINUSE
    # SO_REUSEADDR never binds over a listener
    r3 = Socket(host)
    r3.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    with pytest.raises(OSError) as exc:
        r3.bind(("198.18.0.2", 9000))
    assert exc.value.errno == errno.EADDRINUSE
    # closing frees the port
    a.close()
    Socket(host).bind(("198.18.0.2", 8080))
    # port 0 picks a free ephemeral port
    z = Socket(host)
    z.bind(("", 0))
    assert 32768 <= z.getsockname()[1] <= 60999


def server_closes_first(net, client, server, port=9527, reuse=False):
    """A connection where the server closes first, so the server ends in TIME_WAIT."""
    srv = Socket(server)
    if reuse:
        srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", port))
    srv.listen()
    cli = Socket(client)
    cli.connect(("198.18.0.2", port))
    conn, _ = srv.accept()
    conn.sendall(b"bye")
    conn.close()  # active close: FIN_WAIT_1 ... TIME_WAIT
    assert cli.recv(10) == b"bye"
    assert cli.recv(10) == b""
    cli.close()
    net.run(until=net.now + 1)
    srv.close()  # the server process exits
    [ep] = server.conns.values()
    assert ep.conn.state is State.TIME_WAIT
    return cli


def test_time_wait_holds_the_port_until_2msl_unless_so_reuseaddr():
    net, client, server = two_hosts()
    server_closes_first(net, client, server)
    restart = Socket(server)
    with pytest.raises(OSError) as exc:
        restart.bind(("198.18.0.2", 9527))
    assert exc.value.errno == errno.EADDRINUSE
    reuse = Socket(server)
    reuse.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    reuse.bind(("198.18.0.2", 9527))  # Linux: SO_REUSEADDR binds over TIME_WAIT
    reuse.listen()
    reuse.close()
    net.run(until=net.now + 60)  # 2 MSL (Linux TCP_TIMEWAIT_LEN)
    assert server.conns == {}
    restart.bind(("198.18.0.2", 9527))  # now free
    last = [e for e in net.log.of_kind("state") if e["host"] == "server"][-1]
    assert (last["from"], last["to"], last["cause"]) == ("TIME_WAIT", "CLOSED", "timeout 2MSL")


def test_new_syn_reopens_time_wait_connection():
    net, client, server = two_hosts()
    server_closes_first(net, client, server, reuse=True)
    old = next(iter(server.conns.values()))
    cport = old.conn.remote[1]
    srv = Socket(server)
    srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", 9527))
    srv.listen()
    net.run(until=net.now + 5)  # a later ISN (and timestamp) than the old incarnation's
    again = Socket(client)
    again.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    again.bind(("198.18.0.1", cport))  # the same 4-tuple as the connection in TIME_WAIT
    again.connect(("198.18.0.2", 9527))
    conn, peer = srv.accept()
    assert peer == ("198.18.0.1", cport)
    assert old.conn.state is State.CLOSED
    states = [
        (e["from"], e["to"], e["cause"])
        for e in net.log.of_kind("state")
        if e["host"] == "server" and e["conn"] == f"198.18.0.2:9527-198.18.0.1:{cport}"
    ]
    assert states[-4:] == [
        ("FIN_WAIT_1", "TIME_WAIT", "rcv FIN+ACK of FIN"),  # the ACK rides on the FIN
        ("TIME_WAIT", "CLOSED", "rcv SYN in TIME_WAIT"),
        ("LISTEN", "SYN_RCVD", "rcv SYN"),
        ("SYN_RCVD", "ESTABLISHED", "rcv ACK of SYN"),
    ]
    again.sendall(b"second life")
    assert conn.recv(100) == b"second life"


def test_a_port_connections_use_is_taken_on_their_address_only():
    # The local-port index is kept per local address: a port an IPv4 connection uses is taken
    # for that address and the wildcards that cover it, not for the host's IPv6 address.
    net, client, server = two_hosts()
    srv = Socket(server)
    srv.bind(("", 80))
    srv.listen()
    cli = Socket(client)
    cli.connect(("198.18.0.2", 80))
    port = cli.getsockname()[1]
    for ip in ("198.18.0.1", ""):
        with pytest.raises(OSError) as exc:
            Socket(client).bind((ip, port))
        assert exc.value.errno == errno.EADDRINUSE
    dual = Socket(client, AF_INET6)  # "::" with IPV6_V6ONLY 0 holds the IPv4 port too
    with pytest.raises(OSError) as exc:
        dual.bind(("::", port))
    assert exc.value.errno == errno.EADDRINUSE
    assert client.port_in_use(port) and not client.port_in_use(port + 1 if port < 60999 else port - 1)
    Socket(client, AF_INET6).bind(("fd00::1", port))
    cli.close()
    srv.accept()[0].close()
    net.run(until=net.now + 200)  # TIME_WAIT over
    assert not client.conns
    Socket(client).bind(("198.18.0.1", port))
