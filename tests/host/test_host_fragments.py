"""IP fragment reassembly at the host (RFC 791 3.2, RFC 8200 4.5, RFC 5722): a peer behind a
small MTU is served, overlapping fragments kill their datagram, memory and time are bounded.
Linux behaviour measured on this machine: /work/notes/fragments.md."""

from __future__ import annotations

import contextlib
import hashlib
import random

import pytest

from tcplab.host import Host
from tcplab.host.fragments import FRAGMENT_OVERHEAD, MEMORY_LIMIT
from tcplab.net.sim import Network
from tcplab.net.simhost import SimRuntime
from tcplab.socket import AF_INET6, Socket
from tcplab.trace.events import EventLog
from tcplab.wire import (
    MSS,
    Flags,
    Segment,
    build_icmp_echo_request,
    build_ip,
    build_packet,
    fragment_packet,
    parse_packet,
)

from .listening import PORT, SERVER, SERVER6, listening_host

CLIENT, CLIENT6 = "198.18.0.1", "fd00::1"


@pytest.fixture
def host():
    return listening_host()


def syn(src, dst, sport=40000, pad=0):
    # a SYN made big with NOP padding is not what peers send, but a SYN carrying data is:
    seg = Segment(sport, PORT, 5000, 0, Flags.SYN, 65535, options=(MSS(1460),), payload=bytes(pad))
    return build_packet(src, dst, seg)


def sent(host):
    return [parse_packet(p) for p in host.poll_transmit()]


@pytest.mark.parametrize(("src", "dst"), [(CLIENT, SERVER), (CLIENT6, SERVER6)])
@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled"])
def test_a_fragmented_segment_is_reassembled(host, src, dst, order):
    pieces = fragment_packet(syn(src, dst, pad=3000), 1280, identification=0xBEEF)
    assert len(pieces) == 3
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        random.Random(4).shuffle(pieces)
    for k, piece in enumerate(pieces):
        host.deliver(piece, 1.0 + k / 100)
        if k < len(pieces) - 1:
            assert host.poll_transmit() == []
    [synack] = sent(host)
    assert synack.tcp.flags == Flags.SYN | Flags.ACK and synack.tcp.ack == 5001  # SYN data is not ACKed
    c = host.counters
    assert (c["reasm_fragments"], c["reasm_ok"], c["reasm_fails"]) == (3, 1, 0)
    assert host.fragments.memory == 0 and len(host.fragments) == 0


def _v4_frag(ident, offset, more, data, src=CLIENT, dst=SERVER):
    raw = bytearray(build_ip(src, dst, 1, data))
    raw[4:6] = ident.to_bytes(2, "big")
    raw[6:8] = ((0x2000 if more else 0) | offset // 8).to_bytes(2, "big")
    raw[10:12] = b"\x00\x00"
    from tcplab.wire import fold

    raw[10:12] = fold(int.from_bytes(raw[:20], "big")).to_bytes(2, "big")
    return bytes(raw)


def _echo_parts(n=1000):
    msg = build_icmp_echo_request(CLIENT, SERVER, 0x77, 1, bytes(i % 7 for i in range(n)))[20:]
    return msg, msg[:400], msg[400:800], msg[800:]


def test_linux_rules_for_duplicates_and_overlaps(host):
    # Measured on Linux 6.18 with ICMP echoes cut in three (/work/notes/fragments.md).
    msg, a, b, c = _echo_parts()

    def answered(ident, parts):
        for off, more, data in parts:
            host.deliver(_v4_frag(ident, off, more, data), 1.0)
        return [p.payload[0] for p in sent(host)]  # ICMP types sent back

    assert answered(1, [(0, 1, a), (400, 1, b), (800, 0, c)]) == [0]
    assert answered(2, [(0, 1, a), (400, 1, b), (400, 1, b), (800, 0, c)]) == [0]  # exact duplicate
    assert answered(3, [(0, 1, a), (400, 1, b), (400, 1, b[:200]), (800, 0, c)]) == [0]  # inside a run
    assert answered(4, [(0, 1, a), (392, 1, msg[392:800]), (800, 0, c)]) == []  # overlap, same bytes
    assert answered(5, [(0, 1, a), (392, 1, bytes(408)), (400, 1, b), (800, 0, c)]) == []
    # The overlap killed datagram 5; a whole fresh set with the same id makes a new one.
    assert answered(5, [(0, 1, a), (400, 1, b), (800, 0, c)]) == [0]
    assert answered(6, [(0, 1, a), (800, 0, c), (800, 0, c[:100]), (400, 1, b)]) == []  # two lengths
    assert host.counters["reasm_overlaps"] == 2
    assert host.counters["reasm_ok"] == 4
    # What came after a datagram was killed starts a new one (as in Linux), without a first
    # fragment: those expire after 30 s, without an ICMP error.
    assert len(host.fragments) == 3
    host.handle_timeout(31.5)
    assert len(host.fragments) == 0 and host.poll_transmit() == []


def test_reassembly_times_out_with_icmp_time_exceeded(host):
    _msg, a, b, _c = _echo_parts()
    host.deliver(_v4_frag(20, 0, 1, a), 10.0)  # the first fragment only
    host.deliver(_v4_frag(22, 400, 1, b), 10.0)  # a datagram without its first fragment
    assert host.next_deadline() == pytest.approx(40.0)  # net.ipv4.ipfrag_time = 30 s
    host.handle_timeout(40.0)
    [icmp] = sent(host)  # only for the datagram whose first fragment came (Linux too)
    assert (str(icmp.src), str(icmp.dst)) == (SERVER, CLIENT)
    assert icmp.payload[:2] == bytes([11, 1])  # time exceeded, fragment reassembly
    assert icmp.payload[8:28] == _v4_frag(20, 0, 1, a)[:20]
    assert host.counters["reasm_timeouts"] == 2 and host.fragments.memory == 0
    assert host.next_deadline() is None


def test_ipv6_reassembly_times_out_after_60_s(host):
    big = build_icmp_echo_request(CLIENT6, SERVER6, 1, 1, bytes(3000))
    host.deliver(fragment_packet(big, 1280, 5)[0], 0.0)
    assert host.next_deadline() == pytest.approx(60.0)  # net.ipv6.ip6frag_time
    host.handle_timeout(60.0)
    [icmp] = sent(host)
    assert icmp.protocol == 58 and icmp.payload[:2] == bytes([3, 1])


def test_a_fragment_flood_is_bounded_in_memory(host):
    # First fragments of 20,000 datagrams that never complete: 4 MiB is all they may hold.
    for ident in range(20_000):
        host.deliver(_v4_frag(ident, 0, 1, bytes(1000)), 1.0)
    assert host.fragments.memory <= MEMORY_LIMIT + 1000 + FRAGMENT_OVERHEAD
    kept = len(host.fragments)
    assert kept == pytest.approx(MEMORY_LIMIT / (1000 + FRAGMENT_OVERHEAD), abs=2)
    assert host.counters["reasm_fails"] == 20_000 - kept
    # They expire; then fragments are taken again.
    host.handle_timeout(31.5)
    assert host.fragments.memory == 0 and len(host.fragments) == 0
    _msg, a, b, c = _echo_parts()
    for off, more, data in ((0, 1, a), (400, 1, b), (800, 0, c)):
        host.deliver(_v4_frag(9, off, more, data), 32.0)
    assert [p.payload[0] for p in sent(host) if p.protocol == 1 and p.payload[0] == 0] == [0]


@pytest.mark.parametrize(("src", "dst"), [(CLIENT, SERVER), (CLIENT6, SERVER6)])
def test_big_ping_is_answered_in_fragments(host, src, dst):
    request = build_icmp_echo_request(src, dst, 0x99, 3, bytes(i % 256 for i in range(3000)))
    for piece in fragment_packet(request, 1500, 11):
        host.deliver(piece, 1.0)
    replies = host.poll_transmit()
    assert len(replies) == 3 and all(len(r) <= host.mtu for r in replies)
    frags = sorted((parse_packet(r).fragment for r in replies), key=lambda f: f.offset)
    from tcplab.wire import build_datagram

    whole = parse_packet(build_datagram(frags[0].head, b"".join(f.data for f in frags)))
    assert whole.payload[0] in (0, 129) and whole.payload[4:] == parse_packet(request).payload[4:]


class SmallMtuPeer:
    """A host behind a link with a small MTU and no path MTU discovery: what it sends is cut
    into fragments on the way (an IPv4 router fragmenting, or an IPv6 source doing it)."""

    def __init__(self, host: Host, mtu: int) -> None:
        self.host, self.mtu, self.name = host, mtu, host.name
        self._ident = 0

    def addresses(self):
        return self.host.addresses()

    def deliver(self, packet, now):
        self.host.deliver(packet, now)

    def poll_transmit(self):
        out = []
        for packet in self.host.poll_transmit():
            self._ident += 1
            out += fragment_packet(packet, self.mtu, self._ident)
        return out

    def next_deadline(self):
        return self.host.next_deadline()

    def handle_timeout(self, now):
        self.host.handle_timeout(now)


@pytest.mark.parametrize(("server_ip", "mtu"), [(SERVER, 576), (SERVER6, 1280)])
def test_a_peer_behind_a_small_mtu_is_served(server_ip, mtu):
    net = Network(seed=6, log=EventLog())
    client = Host("client", [CLIENT, CLIENT6], seed=1)
    server = Host("server", [SERVER, SERVER6], seed=2)
    net.add(SmallMtuPeer(client, mtu))
    net.add(server)
    net.link("client", "server", delay=0.005, loss=0.01)
    SimRuntime.attach(net, client, server)
    family = AF_INET6 if ":" in server_ip else None
    srv = Socket(server, family) if family else Socket(server)
    srv.bind((server_ip, PORT))
    srv.listen()
    c = Socket(client, family) if family else Socket(client)
    c.connect((server_ip, PORT))
    conn, _ = srv.accept()
    data = random.Random(1).randbytes(1 << 20)
    c.setblocking(False)
    sent_n, got = 0, bytearray()
    while len(got) < len(data):
        if sent_n < len(data):
            with contextlib.suppress(BlockingIOError):
                sent_n += c.send(data[sent_n : sent_n + 65536])
        net.run(until=net.now + 0.05)
        conn.setblocking(False)
        try:
            while chunk := conn.recv(1 << 20):
                got += chunk
        except BlockingIOError:
            pass
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert server.counters["reasm_ok"] > 500  # every full-sized segment came in pieces
    assert server.counters["internal_errors"] == 0
