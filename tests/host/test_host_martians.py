"""Packets no peer can send: a SYN from the host's own address and port (LAND), and other martian
sources (Linux ip_route_input_slow / ip6_rcv_core) are counted and dropped; over the host's own
loopback its own address is fine."""

from __future__ import annotations

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.wire import Flags, Segment, build_icmp_echo_request, build_packet

from .listening import PORT, SERVER, SERVER6, listening_host


@pytest.mark.parametrize(
    "src",
    [
        SERVER,  # LAND: our own address (and port)
        "127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        SERVER6,
        "::1",
        "::",
        "ff02::1",
        "::ffff:198.18.0.1",
    ],
)
def test_martian_sources_are_dropped_silently(src):
    host = listening_host()
    dst = SERVER6 if ":" in src else SERVER
    host.deliver(build_packet(src, dst, Segment(PORT, PORT, 1000, 0, Flags.SYN, 65535)), 1.0)
    host.deliver(build_packet(src, dst, Segment(PORT, 80, 1000, 0, Flags.SYN, 65535)), 1.0)  # closed port
    assert host.poll_transmit() == []  # no SYN-ACK, no RST
    assert host.conns == {}
    assert host.counters["martians"] == 2
    assert host.counters["passive_opens"] == 0 and host.counters["resets_sent"] == 0


def test_no_echo_reply_to_a_broadcast_source():
    host = listening_host()
    host.deliver(build_icmp_echo_request("255.255.255.255", SERVER, ident=1, seq=1), 1.0)
    assert host.poll_transmit() == []
    assert host.counters["martians"] == 1 and host.counters["icmp_echo_replies"] == 0


def test_land_attack_does_not_freeze_the_simulation():
    # The attack of issue 15: one SYN with source = destination = the server's address and port.
    # Before: the server's child answered itself over the loopback at one frozen instant
    # (100,000 packets in 5 s of CPU) and no blocking call anywhere ever returned.
    net, client, server = two_hosts(seed=2)
    srv = Socket(server)
    srv.bind(("", PORT))
    srv.listen()
    land = build_packet(SERVER, SERVER, Segment(PORT, PORT, 1000, 0, Flags.SYN, 65535))
    net.inject("client", land)
    net.run(until=1.0)
    assert server.counters["martians"] == 1
    assert server.conns == {}
    assert net.stats.delivered == 1  # the LAND SYN, and nothing after it
    c = Socket(client)
    c.settimeout(5)
    c.connect((SERVER, PORT))  # and the server still serves
    conn, _ = srv.accept()
    c.sendall(b"ok")
    assert conn.recv(10) == b"ok"


def test_a_host_may_connect_to_itself_over_its_loopback():
    _net, _client, server = two_hosts(seed=2)
    srv = Socket(server)
    srv.bind(("", PORT))
    srv.listen()
    c = Socket(server)
    c.settimeout(5)
    c.connect((SERVER, PORT))
    conn, peer = srv.accept()
    assert peer == (SERVER, c.getsockname()[1])
    c.sendall(b"to myself")
    assert conn.recv(100) == b"to myself"
    assert server.counters["martians"] == 0
