"""Fault rules: the nth matching packet, by direction and TCP flags, dropped/delayed/duplicated."""

from __future__ import annotations

import pytest

from tcplab.net.sim import LinkParams, Match, Network, Rule, SimulationError
from tcplab.trace.events import EventLog
from tcplab.wire import MalformedPacket

from .sim_fakes import Scripted, Sink, parse, tcp

C, S = "198.18.0.1", "198.18.0.2"


def close_exchange():
    """client and server both send data, then FIN, then a retransmitted FIN, 0.1 s apart."""
    client = Scripted(
        "client",
        C,
        script=[
            (0.0, tcp(C, S, "S", seq=100)),
            (0.1, tcp(C, S, "P.", seq=101, ack=501, payload=b"hello")),
            (0.2, tcp(C, S, "F.", seq=106, ack=501)),
            (0.3, tcp(C, S, "F.", seq=106, ack=501)),
        ],
    )
    server = Scripted(
        "server",
        S,
        script=[
            (0.05, tcp(S, C, "S.", sport=2000, dport=1000, seq=500, ack=101)),
            (0.2, tcp(S, C, "F.", sport=2000, dport=1000, seq=501, ack=106)),
            (0.3, tcp(S, C, "F.", sport=2000, dport=1000, seq=501, ack=106)),
        ],
    )
    net = Network(seed=0, log=EventLog())
    net.add(client)
    net.add(server)
    net.link(client, server, delay=0.01)
    return net, client, server


def seg_events(net, src=None):
    return [(e["src"], e["flags"], e["fate"]) for e in net.log.of_kind("segment") if src is None or e["src"] == src]


def test_drop_the_servers_first_fin():
    net, client, _server = close_exchange()
    rule = net.add_rule(Rule("drop", Match(src="server", has_flags="F", nth=1)))
    net.run()
    assert seg_events(net, "server") == [
        ("server", "S.", "delivered"),
        ("server", "F.", "dropped"),
        ("server", "F.", "delivered"),
    ]
    assert [parse(p).tcp.flags for _, p in client.received] == [0x12, 0x11]
    assert [t for t, _ in client.received] == [0.06, 0.31]
    assert (rule.seen, rule.hits) == (2, 1)
    assert net.stats.dropped_rule == 1
    assert [e.get("why") for e in net.log.of_kind("segment") if e["fate"] == "dropped"] == ["rule"]


def test_drop_the_second_fin_in_either_direction():
    net, _client, _server = close_exchange()
    net.add_rule(Rule("drop", Match(has_flags="F", nth=2)))
    net.run()
    # FINs in send order: server 0.2, client 0.2, server 0.3, client 0.3 (at 0.2 the server's
    # timer goes first: it was armed at 0.05, the client's at 0.1) -> the client's first FIN
    assert [(s, f) for s, f, fate in seg_events(net) if fate == "dropped"] == [("client", "F.")]


def test_nth_and_count_select_a_run_of_matches():
    net, _client, _server = close_exchange()
    rule = net.add_rule(Rule("drop", Match(src="client", nth=2, count=2)))
    net.run()
    assert seg_events(net, "client") == [
        ("client", "S", "delivered"),
        ("client", "P.", "dropped"),
        ("client", "F.", "dropped"),
        ("client", "F.", "delivered"),
    ]
    assert (rule.seen, rule.hits) == (4, 2)


def test_count_none_means_every_match():
    net, _client, server = close_exchange()
    net.add_rule(Rule("drop", Match(dst="server", has_flags=".", count=None)))
    net.run()
    assert [parse(p).tcp.flags for _, p in server.received] == [0x02]


def test_exact_flags_do_not_match_supersets():
    net, _client, _server = close_exchange()
    syn = net.add_rule(Rule("drop", Match(flags="S")))
    synack = net.add_rule(Rule("drop", Match(flags="S.")))
    net.run()
    assert [(s, f) for s, f, fate in seg_events(net) if fate == "dropped"] == [("client", "S"), ("server", "S.")]
    assert (syn.seen, synack.seen) == (1, 1)


def test_data_criterion():
    net, _client, _server = close_exchange()
    with_data = net.add_rule(Rule("drop", Match(data=True, count=None)))
    without = net.add_rule(Rule("delay", Match(src="client", data=False, nth=3), delay=1.0))
    net.run()
    assert [(s, f) for s, f, fate in seg_events(net) if fate == "dropped"] == [("client", "P.")]
    assert (with_data.seen, without.seen, without.hits) == (1, 3, 1)
    delayed = [e for e in net.log.of_kind("segment") if e["t_arrive"] is not None and e["t_arrive"] - e["t"] > 0.5]
    assert [(e["src"], e["flags"], e["t"], e["t_arrive"]) for e in delayed] == [("client", "F.", 0.3, 1.31)]


def test_delay_both_fins_so_they_cross():
    net, client, server = close_exchange()
    net.add_rule(Rule("delay", Match(src="client", has_flags="F"), delay=0.2))
    net.add_rule(Rule("delay", Match(src="server", has_flags="F"), delay=0.2))
    net.run()
    # both first FINs are in flight from 0.2 to 0.41: each side's retransmission (0.3, 0.31)
    # arrives before the original
    assert [(t, parse(p).tcp.flags) for t, p in server.received] == [
        (0.01, 0x02),
        (0.11, 0x18),
        (0.31, 0x11),
        (0.41, 0x11),
    ]
    assert [(t, parse(p).tcp.flags) for t, p in client.received] == [(0.06, 0x12), (0.31, 0x11), (0.41, 0x11)]
    assert net.stats.delayed == 2


def test_duplicate_rule_delivers_twice_at_the_same_time():
    net, client, server = close_exchange()
    net.add_rule(Rule("duplicate", Match(flags="S.")))
    net.run()
    synacks = [(t, p) for t, p in client.received if parse(p).tcp.flags == 0x12]
    assert [t for t, _ in synacks] == [0.06, 0.06]
    assert synacks[0][1] == synacks[1][1]
    assert ("server", "S.", "duplicated") in seg_events(net)
    assert net.stats.duplicated == 1
    assert net.stats.delivered == len(client.received) + len(server.received) == 8


def test_corrupt_rule_breaks_the_tcp_checksum():
    net, client, _server = close_exchange()
    net.add_rule(Rule("corrupt", Match(src="server", flags="S.")))
    net.run()
    bad = client.received[0][1]
    with pytest.raises(MalformedPacket) as err:
        parse(bad)
    assert err.value.reason == "bad tcp checksum"
    assert ("server", "S.", "corrupted") in seg_events(net)
    # the other packets are fine
    for _, p in client.received[1:]:
        parse(p)


def test_predicate_on_the_segment():
    net, _client, _server = close_exchange()
    rule = net.add_rule(Rule("drop", Match(where=lambda seg: seg.seq == 501, count=None)))
    net.run()
    assert [(s, f) for s, f, fate in seg_events(net) if fate == "dropped"] == [("server", "F."), ("server", "F.")]
    assert rule.hits == 2


def test_flags_may_be_a_predicate():
    m = Match(flags=lambda seg: seg.fin)
    assert m.where is not None and m.flags is None


def test_rules_by_node_object_and_has_flag_synonym():
    net, client, _server = close_exchange()
    rule = net.add_rule(Rule("drop", Match(src=client, has_flag="S")))
    assert rule.match.src == "client" and rule.match.has_flags == "S"
    net.run()
    assert seg_events(net, "client")[0] == ("client", "S", "dropped")


def test_rule_drop_happens_before_random_loss():
    net, _client, server = close_exchange()
    net.direction("client", "server").params = LinkParams(delay=0.01, loss=1.0)
    net.add_rule(Rule("drop", Match(src="client", flags="S")))
    net.run()
    assert server.received == []
    assert (net.stats.dropped_rule, net.stats.dropped_loss) == (1, 3)
    assert [e.get("why") for e in net.log.of_kind("segment") if e["src"] == "client"] == [
        "rule",
        "loss",
        "loss",
        "loss",
    ]


def test_remove_rule():
    net, _client, _server = close_exchange()
    rule = net.add_rule(Rule("drop", Match(count=None)))
    net.remove_rule(rule)
    net.run()
    assert net.stats.dropped_rule == 0


def test_non_tcp_packets_fail_tcp_criteria_but_match_directions():
    net = Network()
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b, delay=0.0)
    icmp = bytearray(tcp(C, S, "S"))
    icmp[9] = 1  # protocol ICMP (the header checksum is now wrong; the network does not care)
    by_flags = net.add_rule(Rule("drop", Match(has_flags="S")))
    by_dir = net.add_rule(Rule("delay", Match(src="a"), delay=1.0))
    net.inject(a, bytes(icmp))
    net.run()
    assert (by_flags.seen, by_dir.hits) == (0, 1)
    assert [t for t, _ in b.received] == [1.0]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("explode",), {}, "unknown rule action"),
        (("delay",), {}, "needs delay > 0"),
    ],
)
def test_bad_rules(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Rule(*args, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flags": "SX"}, "unknown TCP flag letter 'X'"),
        ({"nth": 0}, "nth counts from 1"),
        ({"count": 0}, "count must be >= 1"),
    ],
)
def test_bad_matches(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Match(**kwargs)


def test_rule_naming_an_unknown_node_is_refused():
    net, _client, _server = close_exchange()
    with pytest.raises(SimulationError, match="'sever'"):
        net.add_rule(Rule("drop", Match(src="sever")))


def test_flag_letters_cover_every_bit():
    net = Network(log=EventLog())
    a, b = net.add(Sink("a", C)), net.add(Sink("b", S))
    net.link(a, b, delay=0.0)
    bare = net.add_rule(Rule("drop", Match(flags="-")))
    ecn = net.add_rule(Rule("drop", Match(has_flags="EW")))
    urg = net.add_rule(Rule("drop", Match(flags="UP.")))
    a.outbox += [tcp(C, S, ""), tcp(C, S, "S")]
    syn_ecn = bytearray(tcp(C, S, "S"))
    syn_ecn[33] |= 0xC0  # ECE + CWR (the TCP checksum is now wrong; rules do not care)
    urgent = bytearray(tcp(C, S, "P."))
    urgent[33] |= 0x20
    a.outbox += [bytes(syn_ecn), bytes(urgent)]
    net.run()
    assert (bare.hits, ecn.hits, urg.hits) == (1, 1, 1)
    assert [e["flags"] for e in net.log.of_kind("segment")] == ["-", "S", "SEW", "PU."]
