"""What the network records: segment events (relative seq/ack, options, fates), the pcap tap,
and corruption that makes checksums fail."""

from __future__ import annotations

import pytest

from tcplab.net.sim import EPOCH, Match, Network, Rule
from tcplab.trace.events import EventLog
from tcplab.wire import MSS, NOP, MalformedPacket, SackPermitted, Timestamps, WindowScale

from .sim_fakes import Echo, Scripted, Sink, parse, tcp

C, S = "198.18.0.1", "198.18.0.2"
C6, S6 = "fd00::1", "fd00::2"
ISN_C = 0xFFFF_FFF0  # near 2**32: relative numbers must wrap
ISN_S = 7


def handshake_and_data(c=C, s=S):
    client = Scripted(
        "client",
        c,
        script=[
            (
                0.0,
                tcp(
                    c,
                    s,
                    "S",
                    sport=40000,
                    dport=80,
                    seq=ISN_C,
                    window=64240,
                    options=(MSS(1460), SackPermitted(), Timestamps(1, 0), NOP(), WindowScale(7)),
                ),
            ),
            (0.2, tcp(c, s, ".", sport=40000, dport=80, seq=ISN_C + 1, ack=ISN_S + 1, window=502)),
            (0.2, tcp(c, s, "P.", sport=40000, dport=80, seq=ISN_C + 1, ack=ISN_S + 1, window=502, payload=b"x" * 100)),
            (
                0.4,
                tcp(
                    c,
                    s,
                    "P.",
                    sport=40000,
                    dport=80,
                    seq=(ISN_C + 101) % 2**32,
                    ack=ISN_S + 1,
                    window=502,
                    payload=b"y" * 50,
                ),
            ),
        ],
    )
    server = Scripted(
        "server",
        s,
        script=[
            (0.1, tcp(s, c, "S.", sport=80, dport=40000, seq=ISN_S, ack=ISN_C + 1, window=65160, options=(MSS(1460),))),
            (0.3, tcp(s, c, ".", sport=80, dport=40000, seq=ISN_S + 1, ack=(ISN_C + 101) % 2**32, window=509)),
        ],
    )
    return client, server


def test_segment_events_have_every_field():
    log = EventLog()
    net = Network(log=log)
    client, server = handshake_and_data()
    net.add(client)
    net.add(server)
    net.link(client, server, delay=0.05)
    net.add_rule(Rule("drop", Match(src="client", data=True, nth=2)))
    net.run()
    segs = log.of_kind("segment")
    assert segs[0] == {
        "t": 0.0,
        "kind": "segment",
        "host": "client",
        "src": "client",
        "dst": "server",
        "sport": 40000,
        "dport": 80,
        "flags": "S",
        "seq": 0,
        "ack": 0,
        "len": 0,
        "win": 64240,
        "fate": "delivered",
        "abs_seq": ISN_C,
        "abs_ack": 0,
        "options": "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7",
        "t_arrive": 0.05,
    }
    rows = [
        (e["t"], e["src"], e["flags"], e["seq"], e["ack"], e["len"], e["win"], e["fate"], e["t_arrive"]) for e in segs
    ]
    assert rows == [
        (0.0, "client", "S", 0, 0, 0, 64240, "delivered", 0.05),
        (0.1, "server", "S.", 0, 1, 0, 65160, "delivered", 0.15),
        (0.2, "client", ".", 1, 1, 0, 502, "delivered", 0.25),
        (0.2, "client", "P.", 1, 1, 100, 502, "delivered", 0.25),
        (0.3, "server", ".", 1, 101, 0, 509, "delivered", 0.35),
        (0.4, "client", "P.", 101, 1, 50, 502, "dropped", None),
    ]
    assert segs[1]["options"] == "mss 1460" and segs[2]["options"] == ""
    assert (segs[5]["abs_seq"], segs[5]["why"]) == ((ISN_C + 101) % 2**32, "rule")
    assert "why" not in segs[4]


def test_relative_numbers_in_ipv6_too():
    log = EventLog()
    net = Network(log=log)
    client, server = handshake_and_data(C6, S6)
    net.add(client)
    net.add(server)
    net.link(client, server, delay=0.05)
    net.run()
    assert [(e["flags"], e["seq"], e["ack"]) for e in log.of_kind("segment")] == [
        ("S", 0, 0),
        ("S.", 0, 1),
        (".", 1, 1),
        ("P.", 1, 1),
        (".", 1, 101),
        ("P.", 101, 1),
    ]


def test_without_a_syn_numbers_stay_absolute():
    log = EventLog()
    net = Network(log=log)
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b)
    a.outbox.append(tcp(C, S, "R.", seq=12345, ack=678))
    net.run()
    (e,) = log.of_kind("segment")
    assert (e["flags"], e["seq"], e["ack"], e["abs_seq"], e["abs_ack"]) == ("R.", 12345, 678, 12345, 678)


def test_a_new_syn_on_the_same_ports_resets_the_isn():
    log = EventLog()
    net = Network(log=log)
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b)
    a.outbox += [
        tcp(C, S, "S", seq=1000),
        tcp(C, S, "F.", seq=1001),
        tcp(C, S, "S", seq=5000),
        tcp(C, S, "F.", seq=5001),
    ]
    net.run()
    assert [e["seq"] for e in log.of_kind("segment")] == [0, 1, 0, 1]


def test_duplicated_and_corrupted_fates():
    log = EventLog()
    net = Network(log=log)
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b, delay=0.0)
    net.add_rule(Rule("duplicate", Match(flags="S")))
    net.add_rule(Rule("corrupt", Match(flags="F.")))
    net.add_rule(Rule("duplicate", Match(flags="R")))
    net.add_rule(Rule("corrupt", Match(flags="R")))
    a.outbox += [tcp(C, S, "S"), tcp(C, S, "F."), tcp(C, S, "R"), tcp(C, S, ".")]
    net.run()
    assert [(e["flags"], e["fate"]) for e in log.of_kind("segment")] == [
        ("S", "duplicated"),
        ("F.", "corrupted"),
        ("R", "corrupted"),
        (".", "delivered"),
    ]
    assert len(b.received) == 6
    assert (net.stats.duplicated, net.stats.corrupted) == (2, 2)


def test_non_tcp_packets_are_carried_but_not_recorded_as_segments():
    log = EventLog()
    net = Network(log=log)
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b)
    icmp = bytearray(tcp(C, S, "S"))
    icmp[9] = 1
    a.outbox.append(bytes(icmp))
    net.run()
    assert len(b.received) == 1 and log.of_kind("segment") == []


def test_no_log_no_events_same_behaviour():
    def run(log):
        net = Network(seed=3, log=log)
        client, server = handshake_and_data()
        net.add(client)
        net.add(server)
        net.link(client, server, delay=0.05, loss=0.3)
        net.run()
        return client.received, server.received, net.stats.as_dict()

    assert run(None) == run(EventLog())


class FakeCapture:
    def __init__(self):
        self.packets: list[tuple[float, bytes, str | None, str]] = []

    def write(self, packet: bytes, t: float, comment: str | None = None, interface: str = "") -> None:
        self.packets.append((t, packet, comment, interface))


def test_capture_sees_every_packet_when_sent_with_its_fate():
    net = Network()
    script = [(0.0, tcp(C, S, "S")), (0.1, tcp(C, S, ".")), (0.2, tcp(C, S, "F.")), (0.3, tcp(C, S, "R"))]
    a = net.add(Scripted("a", C, script=script))
    b = net.add(Echo("b", S))
    net.link(a, b, delay=0.25)
    cap = net.capture(FakeCapture())
    net.add_rule(Rule("drop", Match(flags=".")))
    net.add_rule(Rule("corrupt", Match(flags="F.")))
    net.add_rule(Rule("duplicate", Match(flags="R")))
    net.add_rule(Rule("delay", Match(src="b", flags="S"), delay=0.1))
    net.run()
    # at send time on the sender's clock (EPOCH + t), dropped ones too, intact as sent; the
    # comment says what the network did; the interface is the sender
    assert [(round(t - EPOCH, 6), p, c, i) for t, p, c, i in cap.packets] == [
        (0.0, script[0][1], None, "a"),
        (0.1, script[1][1], "dropped by a fault rule", "a"),
        (0.2, script[2][1], "corrupted: a byte flipped on the link, the receiver finds a bad checksum", "a"),
        (0.25, a.received[0][1], "delayed by 100 ms (a fault rule)", "b"),  # the SYN's echo
        (0.3, script[3][1], "duplicated: the network delivers it twice", "a"),
        (0.45, a.received[1][1], None, "b"),  # the corrupted FIN's echo, as it arrived
        (0.55, a.received[2][1], None, "b"),
        (0.55, a.received[3][1], None, "b"),
    ]
    assert EPOCH == 946684800.0  # 2000-01-01T00:00:00Z
    net.stop_capture(cap)
    a.outbox.append(tcp(C, S, "S"))
    net.run()
    assert len(cap.packets) == 8


def test_capture_of_unroutable_packets():
    net = Network()
    a = net.add(Sink("a", C))
    cap = net.capture(FakeCapture())
    a.outbox += [tcp(C, "198.18.9.9", "S"), b"\x00\x01"]
    net.run()
    assert [c for _t, _p, c, _i in cap.packets] == [
        "dropped: nobody owns that address",
        "dropped: malformed, no IP header to route by",
    ]


@pytest.mark.parametrize(("src", "dst"), [(C, S), (C6, S6)])
@pytest.mark.parametrize("payload", [b"", b"payload bytes " * 20])
def test_random_corruption_always_breaks_the_tcp_checksum(src, dst, payload):
    net = Network(seed=11)
    a, b = net.add(Sink("a", src)), net.add(Sink("b", dst))
    net.link(a, b, corrupt=1.0)
    good = [
        tcp(src, dst, "P.", seq=i, payload=payload, options=(Timestamps(i, 0),) if i % 2 else ()) for i in range(200)
    ]
    a.outbox += good
    net.run()
    assert net.stats.corrupted == 200 and len(b.received) == 200
    for original, (_, bad) in zip(good, b.received, strict=True):
        assert len(bad) == len(original)
        assert sum(x != y for x, y in zip(original, bad, strict=True)) == 1
        assert bad[: 20 if src == C else 40] == original[: 20 if src == C else 40]  # IP header intact
        with pytest.raises(MalformedPacket) as err:
            parse(bad)
        assert err.value.reason == "bad tcp checksum"
