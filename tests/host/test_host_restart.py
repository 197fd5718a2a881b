"""Host.restart: a crash and reboot forgets every connection; with Config.quiet_time the host
then keeps quiet for MSL (RFC 9293 3.4.3)."""

from __future__ import annotations

from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import Config


def _connected(config: Config):
    net, client, server = two_hosts(config=config)
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    c = Socket(client)
    c.connect(("198.18.0.2", 9527))
    srv.accept()
    return net, client, server


def test_restart_forgets_everything_and_restarts_the_isn_clock():
    net, _client, server = _connected(Config())
    assert server.conns and server.listeners
    booted = server.isn  # the ISN generator since the host was made (its clock from 0)
    t = net.now
    server.restart(t)
    assert not server.conns and not server.listeners and not server.bound
    here, there = ("198.18.0.2", 9527), ("198.18.0.1", 40000)
    # Half a second after the restart the ISN is what it was half a second after the boot:
    # the clock started again (a host without stable storage).
    assert server.isn(here, there, t + 0.5) == booted(here, there, 0.5)
    assert server.isn(here, there, t + 0.5) != booted(here, there, t + 0.5)


def test_quiet_time_takes_nothing_and_sends_nothing_for_msl():
    net, client, server = two_hosts(config=Config(quiet_time=True, msl=30.0))
    server.restart(0.0)
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    c = Socket(client)
    c.settimeout(100.0)
    c.connect(("198.18.0.2", 9527))  # the SYNs go unanswered for 30 s, then the handshake
    assert net.now > 30.0
    assert server.counters["quiet_time_drops"] >= 5  # the SYN and its retransmissions
    conn, _ = srv.accept()
    c.sendall(b"after the quiet time")
    assert conn.recv(100) == b"after the quiet time"


def test_without_quiet_time_a_restarted_host_answers_at_once():
    net, client, server = two_hosts(config=Config(msl=30.0))
    server.restart(0.0)
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    c = Socket(client)
    c.connect(("198.18.0.2", 9527))
    assert net.now < 1.0 and server.counters["quiet_time_drops"] == 0
