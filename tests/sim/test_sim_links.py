"""Link timing and random impairments, in exact virtual time, with fixed seeds."""

from __future__ import annotations

import pytest

from tcplab.net.sim import LinkParams, Network
from tcplab.trace.events import EventLog

from .sim_fakes import Echo, Scripted, Sink, parse, tcp

A, B = "198.18.0.1", "198.18.0.2"


def pkt(size: int, seq: int = 0) -> bytes:
    """A 40-byte IPv4+TCP header plus payload, ``size`` bytes in all."""
    return tcp(A, B, "P.", seq=seq, payload=bytes(size - 40))


def pair(script, **impairments):
    net = Network(seed=0, log=EventLog())
    a = net.add(Scripted("a", A, script=script))
    b = net.add(Sink("b", B))
    link = net.link(a, b, **impairments)
    return net, a, b, link


def test_propagation_delay_is_exact():
    net, _a, b, _ = pair([(0.0, pkt(100)), (0.5, pkt(100, seq=60))], delay=0.25)
    net.run()
    assert [t for t, _ in b.received] == [0.25, 0.75]
    assert net.now == 0.75


def test_bandwidth_serialises_back_to_back_packets():
    # 250 bytes at 1000 B/s take 0.25 s each; three sent at once queue behind each other.
    script = [(0.0, pkt(250, seq=i * 210)) for i in range(3)]
    net, _a, b, _ = pair(script, delay=0.25, bandwidth=1000)
    net.run()
    assert [t for t, _ in b.received] == [0.5, 0.75, 1.0]
    segs = net.log.of_kind("segment")
    assert [(e["t"], e["t_arrive"]) for e in segs] == [(0.0, 0.5), (0.0, 0.75), (0.0, 1.0)]


def test_idle_link_does_not_bank_transmit_time():
    # the second packet is sent after the link went idle: it starts serialising at once
    net, _a, b, _ = pair([(0.0, pkt(500)), (2.0, pkt(500))], delay=0.0, bandwidth=1000)
    net.run()
    assert [t for t, _ in b.received] == [0.5, 2.5]


def test_queue_limit_tail_drops():
    script = [(0.0, pkt(250, seq=i)) for i in range(5)]
    net, _a, b, _ = pair(script, delay=0.0, bandwidth=1000, queue_limit=2)
    net.run()
    assert [t for t, _ in b.received] == [0.25, 0.5]
    assert net.stats.dropped_queue == 3
    assert [e["fate"] for e in net.log.of_kind("segment")] == ["delivered"] * 2 + ["dropped"] * 3
    assert [e.get("why") for e in net.log.of_kind("segment")][2:] == ["queue"] * 3


def test_queue_drains_over_time():
    script = [(0.0, pkt(250)), (0.0, pkt(250)), (0.3, pkt(250)), (0.3, pkt(250))]
    net, _a, b, _ = pair(script, delay=0.0, bandwidth=1000, queue_limit=2)
    net.run()
    # at 0.3 the first packet has left the queue: one more fits, the fourth is dropped
    assert [t for t, _ in b.received] == [0.25, 0.5, 0.75]
    assert net.stats.dropped_queue == 1


def test_asymmetric_link():
    net = Network()
    a = net.add(Scripted("a", A, script=[(0.0, tcp(A, B, "S"))]))
    b = net.add(Echo("b", B))
    net.link(a, b, LinkParams(delay=0.125), reverse=LinkParams(delay=0.5))
    net.run()
    assert [t for t, _ in b.received] == [0.125]
    assert [t for t, _ in a.received] == [0.625]


def test_keyword_impairments_override_params():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    link = net.link(a, b, LinkParams(delay=0.5, loss=0.1), delay=0.25)
    assert link.forward.params == LinkParams(delay=0.25, loss=0.1)
    assert link.reverse.params == LinkParams(delay=0.25, loss=0.1)
    link.set(loss=0.0)
    assert net.direction("b", "a").params == LinkParams(delay=0.25)


def test_loss_count_is_exact_for_a_seed():
    script = [(i * 0.001, pkt(60, seq=i)) for i in range(1000)]
    net, _a, b, _ = pair(script, delay=0.01, loss=0.1)
    net.run()
    assert net.stats.sent == 1000
    assert net.stats.dropped_loss == 91  # about 10 %, exactly this many for seed 0
    assert len(b.received) == 909
    assert net.stats.delivered == 909
    fates = [e["fate"] for e in net.log.of_kind("segment")]
    assert fates.count("dropped") == 91 and fates.count("delivered") == 909


def test_loss_one_drops_all_and_zero_none():
    script = [(0.0, pkt(60, seq=i)) for i in range(50)]
    net, _a, b, link = pair(script, loss=1.0)
    net.run()
    assert b.received == [] and net.stats.dropped_loss == 50
    assert link.forward.dropped == 50


def test_duplicate_probability_exact_for_seed():
    script = [(i * 0.001, pkt(60, seq=i)) for i in range(200)]
    net, _a, b, _ = pair(script, delay=0.01, duplicate=0.25)
    net.run()
    assert net.stats.duplicated == 40
    assert len(b.received) == 240
    # a duplicate arrives at the same instant as its original, right after it
    seqs = [parse(p).tcp.seq for _, p in b.received]
    assert len(set(seqs)) == 200


def test_reorder_lets_later_packets_overtake():
    script = [(i * 0.001, pkt(60, seq=i)) for i in range(20)]
    net, _a, b, _ = pair(script, delay=0.01, reorder=0.2)
    net.run()
    order = [parse(p).tcp.seq for _, p in b.received]
    assert sorted(order) == list(range(20))
    assert net.stats.reordered == 3
    # packets 1, 9 and 16 got an extra 10 ms: the packets sent after them overtake them
    # (1 and 11 both arrive at 0.021; 1 was sent first so it is delivered first)
    assert order == [0, 2, 3, 4, 5, 6, 7, 8, 10, 1, 11, 12, 13, 14, 15, 17, 18, 9, 19, 16]


def test_reorder_delay_is_configurable():
    net, _a, b, _ = pair([(0.0, pkt(60))], delay=0.01, reorder=1.0, reorder_delay=0.5)
    net.run()
    assert [t for t, _ in b.received] == [0.51]


def test_jitter_stays_within_bounds():
    script = [(i * 0.1, pkt(60, seq=i)) for i in range(100)]
    net, _a, b, _ = pair(script, delay=0.05, jitter=0.02)
    net.run()
    extra = [
        round(t - i * 0.1 - 0.05, 9) for i, (t, _) in enumerate(sorted(b.received, key=lambda r: parse(r[1]).tcp.seq))
    ]
    assert all(0.0 <= x < 0.02 for x in extra)
    assert len(set(extra)) == 100  # every packet drew its own jitter


@pytest.mark.parametrize("version", [4, 6])
def test_ecn_marking_marks_ect_packets_and_drops_the_others(version):
    """An AQM's congestion signal (RFC 3168 5): CE on ECN-capable packets, a drop otherwise."""
    a_ip, b_ip = (A, B) if version == 4 else ("fd00::1", "fd00::2")
    net = Network(seed=0, log=EventLog())
    sender = net.add(
        Scripted(
            "a",
            a_ip,
            script=[(0.0, tcp(a_ip, b_ip, "P.", payload=b"x", ecn=2)), (0.1, tcp(a_ip, b_ip, "P.", payload=b"y"))],
        )
    )
    sink = net.add(Sink("b", b_ip))
    net.link(sender, sink, ecn_mark=1.0)
    net.run()
    [(_, got)] = sink.received
    pkt = parse(got)  # checksums verified: the IPv4 header checksum was updated
    assert pkt.tcp.payload == b"x" and pkt.tcp.ecn == 3
    segs = net.log.of_kind("segment")
    assert [(e["fate"], e.get("ecn"), e.get("why")) for e in segs] == [
        ("marked", "ECT(0)", None),
        ("dropped", None, "aqm"),
    ]
    assert (net.stats.marked_ce, net.stats.dropped_aqm, net.stats.dropped) == (1, 1, 1)


def test_ecn_marking_probability_draws_from_the_link_stream():
    script = [(i * 0.01, tcp(A, B, "P.", seq=i, payload=b"z", ecn=2)) for i in range(200)]
    net, _a, b, _ = pair(script, ecn_mark=0.1)
    net.run()
    marked = sum(1 for _, raw in b.received if parse(raw).tcp.ecn == 3)
    assert marked == net.stats.marked_ce and 5 <= marked <= 40 and len(b.received) == 200


@pytest.mark.parametrize(
    "bad",
    [
        {"ecn_mark": 2},
        {"delay": -1},
        {"loss": 1.5},
        {"duplicate": -0.1},
        {"bandwidth": 0},
        {"queue_limit": 0},
        {"jitter": -0.5},
        {"reorder_delay": -1},
    ],
)
def test_bad_link_params_are_rejected(bad):
    with pytest.raises(ValueError, match="link "):
        LinkParams(**bad)


def test_unknown_impairment_is_a_type_error():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    with pytest.raises(TypeError, match="unknown link impairment"):
        net.link(a, b, lossy=0.5)


def test_linking_twice_or_to_self_is_refused():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b)
    with pytest.raises(ValueError, match="already linked"):
        net.link(b, a)
    with pytest.raises(ValueError, match="itself"):
        net.link(a, a)


def lossy_run(seed: int):
    log = EventLog()
    net = Network(seed=seed, log=log)
    a = net.add(Scripted("a", A, script=[(i * 0.002, pkt(300, seq=i * 260)) for i in range(200)]))
    b = net.add(Echo("b", B))
    net.link(a, b, delay=0.01, jitter=0.005, bandwidth=200_000, loss=0.1, duplicate=0.05, reorder=0.1, corrupt=0.05)
    net.run()
    return log.events, [(t, p) for t, p in a.received], net.stats.as_dict()


def test_same_seed_same_run_byte_for_byte():
    first, second = lossy_run(1), lossy_run(1)
    assert first == second
    assert len(first[0]) > 300


def test_different_seed_different_run():
    assert lossy_run(1)[0] != lossy_run(2)[0]
    assert lossy_run(1)[2] != lossy_run(2)[2]
