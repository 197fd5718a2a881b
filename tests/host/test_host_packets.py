"""Packet-level tests of tcplab.host.Host: RST for segments that match nothing (RFC 9293
3.10.7.1), LISTEN checks (3.10.7.2), malformed packets, demultiplexing, counters, the log."""

from __future__ import annotations

import random

import pytest

from tcplab.host import Host
from tcplab.socket import Socket
from tcplab.tcp.states import State
from tcplab.trace.events import EventLog
from tcplab.wire import (
    MSS,
    Flags,
    Segment,
    build_icmp_echo_request,
    build_packet,
    parse_packet,
)

SERVER = "198.18.0.2"
CLIENT = "198.18.0.1"
A = Flags.ACK
S = Flags.SYN
R = Flags.RST
F = Flags.FIN


def packet(sport, dport, seq, ack, flags, payload=b"", src=CLIENT, dst=SERVER, options=()):
    return build_packet(src, dst, Segment(sport, dport, seq, ack, flags, 65535, options=options, payload=payload))


def sent(host):
    return [parse_packet(p) for p in host.poll_transmit()]


@pytest.fixture
def host():
    return Host("server", [SERVER, "fd00::2"], log=EventLog())


def listening(host, port=9527, backlog=8):
    sock = Socket(host)
    sock.bind(("", port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


# ---- RFC 9293 3.10.7.1: no connection, no listener ------------------------------------------------
def test_syn_to_closed_port_gets_rst_ack_seq_zero(host):
    host.deliver(packet(40000, 80, 1000, 0, S), 1.0)
    [p] = sent(host)
    assert (str(p.src), str(p.dst)) == (SERVER, CLIENT)
    seg = p.tcp
    assert (seg.src_port, seg.dst_port) == (80, 40000)
    assert seg.flags == R | A
    assert seg.seq == 0
    assert seg.ack == 1001  # SEG.SEQ + SEG.LEN (the SYN counts one)
    assert seg.window == 0
    assert seg.payload == b""
    assert host.counters["no_listener_resets"] == 1
    assert host.counters["resets_sent"] == 1


def test_data_without_ack_gets_ack_of_seq_plus_len(host):
    host.deliver(packet(40000, 80, 0xFFFFFFF0, 0, F, payload=b"x" * 20), 1.0)
    [p] = sent(host)
    assert p.tcp.flags == R | A
    assert p.tcp.seq == 0
    assert p.tcp.ack == (0xFFFFFFF0 + 20 + 1) % 2**32  # wraps: 5


def test_segment_with_ack_gets_rst_seq_seg_ack(host):
    host.deliver(packet(40000, 80, 5000, 777777, A, payload=b"hello"), 1.0)
    [p] = sent(host)
    seg = p.tcp
    assert seg.flags == R  # no ACK bit
    assert seg.seq == 777777  # SEG.ACK
    assert seg.ack == 0
    assert (seg.src_port, seg.dst_port) == (80, 40000)


@pytest.mark.parametrize("flags", [R, R | A])
def test_never_a_rst_for_a_rst(host, flags):
    host.deliver(packet(40000, 80, 5000, 1, flags), 1.0)
    assert host.poll_transmit() == []
    assert host.counters["resets_received"] == 1
    assert host.counters["resets_sent"] == 0


def test_ipv6_rst(host):
    host.deliver(packet(40000, 80, 9, 0, S, src="fd00::1", dst="fd00::2"), 1.0)
    [p] = sent(host)
    assert (str(p.src), str(p.dst)) == ("fd00::2", "fd00::1")
    assert p.tcp.flags == R | A and p.tcp.ack == 10


def test_packet_for_another_address_is_dropped(host):
    host.deliver(packet(40000, 80, 1, 0, S, dst="198.18.0.99"), 1.0)
    assert host.poll_transmit() == []
    assert host.counters["not_for_us"] == 1


# ---- RFC 9293 3.10.7.2: LISTEN -------------------------------------------------------------------
def test_listener_answers_ack_with_rst_and_ignores_rst(host):
    listening(host)
    host.deliver(packet(40000, 9527, 1, 4242, A), 1.0)
    [p] = sent(host)
    assert p.tcp.flags == R and p.tcp.seq == 4242
    host.deliver(packet(40000, 9527, 1, 0, R), 1.0)
    assert host.poll_transmit() == []
    assert host.conns == {}


def test_listener_drops_segment_without_syn_ack_rst(host):
    listening(host)
    host.deliver(packet(40000, 9527, 1, 0, F), 1.0)
    assert host.poll_transmit() == []


def test_syn_makes_child_in_syn_rcvd_and_syn_ack(host):
    listening(host)
    host.deliver(packet(40000, 9527, 1000, 0, S, options=(MSS(1460),)), 1.0)
    [p] = sent(host)
    seg = p.tcp
    assert seg.flags == S | A
    assert seg.ack == 1001
    assert (seg.src_port, seg.dst_port) == (9527, 40000)
    assert (str(p.src), str(p.dst)) == (SERVER, CLIENT)
    assert MSS(1460) in seg.options
    [ep] = host.conns.values()
    assert ep.conn.state is State.SYN_RCVD
    assert ep.key == (SERVER, 9527, CLIENT, 40000)
    assert host.counters["passive_opens"] == 1
    states = [(e["from"], e["to"], e["cause"], e["conn"]) for e in host.log.of_kind("state")]
    assert states == [
        ("CLOSED", "LISTEN", "listen", "0.0.0.0:9527-*:*"),
        ("LISTEN", "SYN_RCVD", "rcv SYN", "198.18.0.2:9527-198.18.0.1:40000"),
    ]


def test_ipv6_child_advertises_mss_1440(host):
    sock = Socket(host, 10)
    sock.bind(("fd00::2", 9527))
    sock.listen()
    host.deliver(packet(40000, 9527, 1, 0, S, src="fd00::1", dst="fd00::2"), 1.0)
    [p] = sent(host)
    assert MSS(1440) in p.tcp.options


def handshake(host, sport, isn=1000, t=1.0, port=9527, src=CLIENT):
    host.deliver(packet(sport, port, isn, 0, S, src=src), t)
    [p] = sent(host)
    assert p.tcp.flags == S | A
    iss = p.tcp.seq
    host.deliver(packet(sport, port, isn + 1, iss + 1, A, src=src), t + 0.01)
    return iss


def test_demux_by_four_tuple(host):
    listening(host)
    iss1 = handshake(host, 40001, isn=100)
    iss2 = handshake(host, 40002, isn=200)
    assert {ep.conn.state for ep in host.conns.values()} == {State.ESTABLISHED}
    host.deliver(packet(40002, 9527, 201, iss2 + 1, A | Flags.PSH, payload=b"two"), 2.0)
    host.deliver(packet(40001, 9527, 101, iss1 + 1, A | Flags.PSH, payload=b"one!"), 2.0)
    one = host.conns[(SERVER, 9527, CLIENT, 40001)].conn
    two = host.conns[(SERVER, 9527, CLIENT, 40002)].conn
    assert one.receive(now=2.0) == b"one!"
    assert two.receive(now=2.0) == b"two"
    # the same ports from another address is another connection: goes to the listener
    host.deliver(packet(40001, 9527, 5, 0, S, src="198.18.0.7"), 2.0)
    assert len(host.conns) == 3
    assert host.conns[(SERVER, 9527, "198.18.0.7", 40001)].conn.state is State.SYN_RCVD


# ---- bad input -----------------------------------------------------------------------------------
def test_malformed_counted_per_reason_and_dropped(host):
    good = bytearray(packet(40000, 80, 1, 0, S))
    bad_sum = bytearray(good)
    bad_sum[-1] ^= 0xFF  # a byte of the TCP header: the checksum fails
    host.deliver(bytes(bad_sum), 1.0)
    host.deliver(b"", 1.0)
    host.deliver(b"\x45\x00", 1.0)
    host.deliver(b"\x75" + bytes(40), 1.0)
    assert host.poll_transmit() == []
    assert host.malformed["bad tcp checksum"] == 1
    assert host.malformed["truncated ip header"] == 2
    assert host.malformed["bad ip version"] == 1
    assert host.counters["bad_checksums"] == 1
    assert host.counters["malformed"] == 4
    assert host.counters["segments_received"] == 0
    assert host.errors == []


def test_random_bytes_never_raise(host):
    listening(host)
    rng = random.Random(4)
    base = packet(40000, 9527, 1, 0, S)
    for _ in range(2000):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randrange(len(data) + 1)]
        host.deliver(bytes(data), 1.0)
    assert host.errors == []
    assert host.counters["internal_errors"] == 0


def test_icmp_echo_is_answered(host):
    host.deliver(build_icmp_echo_request(CLIENT, SERVER, 7, 1, b"ping"), 1.0)
    [p] = sent(host)
    assert (str(p.src), str(p.dst)) == (SERVER, CLIENT)
    assert p.payload[0] == 0  # echo reply
    assert host.counters["icmp_echo_replies"] == 1


def test_node_shape(host):
    assert [str(a) for a in host.addresses()] == [SERVER, "fd00::2"]
    assert host.next_deadline() is None
    listening(host)
    host.deliver(packet(40000, 9527, 1, 0, S), 1.0)
    host.poll_transmit()
    assert host.next_deadline() == pytest.approx(2.0)  # SYN-ACK retransmission (RTO 1 s)
    host.handle_timeout(2.0)
    [p] = sent(host)
    assert p.tcp.flags == S | A


def test_icmp_error_reaches_the_connection_it_quotes(host):
    """RFC 1122 4.2.3.9 / RFC 5927: the host finds the connection by the quoted addresses and
    ports; the connection checks the quoted sequence number."""
    from tcplab.wire import build_icmp_error

    sock = Socket(host)
    sock.setblocking(False)
    assert sock.connect_ex((CLIENT, 80)) != 0
    [syn] = host.poll_transmit()
    quoted = syn[:28]  # IP header and 8 bytes of TCP (RFC 792)
    bad = bytearray(quoted)
    bad[24:28] = ((parse_packet(syn).tcp.seq + 5000) % 2**32).to_bytes(4, "big")
    host.deliver(build_icmp_error(CLIENT, SERVER, 3, 3, bytes(bad)), 1.0)
    assert host.counters["icmp_out_of_window"] == 1
    host.deliver(build_icmp_error(CLIENT, SERVER, 3, 3, quoted), 1.0)
    assert host.counters["icmp_errors"] == 1
    assert sock.connect_ex((CLIENT, 80)) == 111  # ECONNREFUSED
    assert host.errors == []
