"""The event loop: virtual time, timers, user actions, run/run_until, routing failures."""

from __future__ import annotations

import ipaddress
import random
import time

import pytest

from tcplab.net.sim import Network, Node, SimulationError
from tcplab.trace.events import EventLog

from .sim_fakes import Echo, Scripted, Sink, Ticker, tcp

A, B = "198.18.0.1", "198.18.0.2"
A6, B6 = "fd00::1", "fd00::2"


def test_fakes_satisfy_the_node_protocol():
    assert isinstance(Sink("x", A), Node)


def test_a_120_second_wait_costs_no_real_time(monkeypatch):
    def no_sleep(_seconds):
        raise AssertionError("the simulator must never sleep")

    monkeypatch.setattr(time, "sleep", no_sleep)
    net = Network()
    ticker = net.add(Ticker("t", A, at=120.0))
    assert net.run() == 1
    assert ticker.fired == [120.0]
    assert net.now == 120.0


def test_run_until_time_advances_the_clock_and_leaves_later_events():
    net = Network()
    ticker = net.add(Ticker("t", A, at=120.0))
    assert net.run(until=60.0) == 0
    assert net.now == 60.0 and ticker.fired == []
    assert net.next_event_time() == 120.0
    net.run(until=200.0)
    assert ticker.fired == [120.0] and net.now == 200.0


def test_call_at_runs_user_actions_then_polls_all_nodes():
    net = Network(log=EventLog())
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.5)
    net.call_at(2.0, lambda: a.outbox.append(tcp(A, B, "S")))
    net.call_later(1.0, lambda: b.outbox.append(tcp(B, A, "R")))
    net.run()
    assert [t for t, _ in b.received] == [2.5]
    assert [t for t, _ in a.received] == [1.5]
    assert net.now == 2.5


def test_same_time_events_run_in_insertion_order():
    net = Network()
    order: list[str] = []
    for name in ("first", "second", "third"):
        net.call_at(1.0, lambda name=name: order.append(name))
    net.call_at(0.5, lambda: order.append("earlier"))
    net.run()
    assert order == ["earlier", "first", "second", "third"]


def test_time_only_moves_forward():
    net = Network()
    net.run(until=5.0)
    with pytest.raises(SimulationError, match="time only moves forward"):
        net.call_at(4.0, lambda: None)
    with pytest.raises(SimulationError, match="delay >= 0"):
        net.call_later(-1, lambda: None)


def test_poll_after_direct_calls():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.25)
    net.run(until=1.0)
    a.outbox.append(tcp(A, B, "S"))  # a "direct user call" on the node
    net.poll()
    assert a.outbox == [] and net.stats.sent == 1
    net.run()
    assert [t for t, _ in b.received] == [1.25]


def test_run_polls_first():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.25)
    a.outbox.append(tcp(A, B, "S"))
    net.run()
    assert [t for t, _ in b.received] == [0.25]


def test_run_until_predicate():
    net = Network()
    a = net.add(Scripted("a", A, script=[(i * 1.0, tcp(A, B, "P.", seq=i)) for i in range(10)]))
    b = net.add(Sink("b", B))
    net.link(a, b, delay=0.5)
    assert net.run_until(lambda: len(b.received) == 3, timeout=100) is True
    assert net.now == 2.5
    assert net.run_until(lambda: True) is True and net.now == 2.5  # checked before any event


def test_run_until_times_out_in_virtual_time():
    net = Network()
    a = net.add(Scripted("a", A, script=[(i * 1.0, tcp(A, B, "P.", seq=i)) for i in range(10)]))
    b = net.add(Sink("b", B))
    net.link(a, b, delay=0.5)
    assert net.run_until(lambda: len(b.received) == 100, timeout=4.0) is False
    assert net.now == 4.0 and len(b.received) == 4
    # and when the events run out first
    assert net.run_until(lambda: len(b.received) == 100, timeout=1000.0) is False
    assert len(b.received) == 10 and net.now == 1004.0


def test_timer_rearmed_earlier_by_a_delivery():
    class Impatient(Sink):
        """A timer at 100 s; any packet moves it to 1 s after the packet."""

        def __init__(self, *args):
            super().__init__(*args)
            self.deadline = 100.0
            self.fired: list[float] = []

        def deliver(self, packet, now):
            super().deliver(packet, now)
            self.deadline = now + 1.0

        def next_deadline(self):
            return self.deadline

        def handle_timeout(self, now):
            self.fired.append(now)
            self.deadline = None

    net = Network()
    a = net.add(Scripted("a", A, script=[(2.0, tcp(A, B, "S"))]))
    b = net.add(Impatient("b", B))
    net.link(a, b, delay=0.5)
    net.run()
    assert b.fired == [3.5]  # the stale 100 s entry never fires
    assert net.now == 3.5


def test_a_node_that_never_settles_is_reported():
    class Spinner(Sink):
        def next_deadline(self):
            return 0.0

        def handle_timeout(self, now):
            pass

    net = Network()
    net.add(Spinner("s", A))
    with pytest.raises(SimulationError, match="still busy after 1000 events"):
        net.run(max_events=1000)


def test_unroutable_and_unlinked_are_counted_and_noted():
    log = EventLog()
    net = Network(log=log)
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.add(Sink("c", "198.18.0.3"))
    net.link(a, b)
    a.outbox += [tcp(A, "198.18.0.99", "S"), tcp(A, "198.18.0.3", "S")]
    net.run()
    assert net.stats.unroutable == 2 and net.stats.sent == 2 and net.stats.delivered == 0
    assert [e["text"] for e in log.of_kind("note")] == [
        "network dropped a packet from a to 198.18.0.99: nobody owns that address",
        "network dropped a packet from a to 198.18.0.3: no link to c",
    ]
    assert log.of_kind("segment") == []


def test_addresses_added_later_are_found():
    net = Network()
    a = net.add(Sink("a", A))
    b = net.add(Sink("b", B))
    net.link(a, b, delay=0.0)
    b._addrs.append(ipaddress.ip_address("198.18.0.20"))
    a.outbox.append(tcp(A, "198.18.0.20", "S"))
    net.run()
    assert len(b.received) == 1


def test_loopback_to_own_address():
    net = Network(log=EventLog())
    net.run(until=3.0)
    a = net.add(Sink("a", A))
    a.outbox.append(tcp(A, A, "S"))
    net.run()
    assert [t for t, _ in a.received] == [3.0]
    assert [(e["src"], e["dst"], e["fate"]) for e in net.log.of_kind("segment")] == [("a", "a", "delivered")]


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x45",
        b"\x00" * 40,
        b"\x45" + b"\x00" * 10,
        b"\x4f" + b"\x00" * 30,
        b"\x60" + b"\x00" * 20,
        b"\x70" + b"\x00" * 60,
    ],
)
def test_malformed_packets_are_counted_not_raised(packet):
    log = EventLog()
    net = Network(log=log)
    a = net.add(Sink("a", A))
    a.outbox.append(packet)
    net.run()
    assert net.stats.malformed == 1
    assert "malformed" in log.of_kind("note")[0]["text"]


def test_random_garbage_never_raises():
    rng = random.Random(5)
    log = EventLog()
    net = Network(log=log)
    a = net.add(Sink("a", A))
    b = net.add(Echo("b", B))
    net.add(Sink("c", A6))
    link = net.link(a, b, delay=0.001, corrupt=0.5, duplicate=0.2)
    good = tcp(A, B, "S", options=())
    for _ in range(2000):
        kind = rng.randrange(3)
        if kind == 0:
            pkt = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
        else:
            pkt = bytearray(good)
            for _ in range(rng.randrange(1, 4)):
                pkt[rng.randrange(len(pkt))] = rng.randrange(256)
            pkt = bytes(pkt)[: rng.randrange(len(pkt) + 1)] if kind == 2 else bytes(pkt)
        net.inject(a, pkt)
    net.run()
    s = net.stats
    assert s.sent == 2000 + len(b.received)  # b echoes everything it gets
    # every packet was refused (malformed, unroutable) or put on the link
    assert s.sent == s.malformed + s.unroutable + link.forward.sent + link.reverse.sent
    assert s.malformed > 0 and s.unroutable > 0 and s.corrupted > 0 and len(b.received) > 0


def test_ipv6_routing_and_timing():
    net = Network()
    a = net.add(Scripted("a", A6, script=[(1.0, tcp(A6, B6, "S"))]))
    b = net.add(Echo("b", B6))
    net.link(a, b, delay=0.125)
    net.run()
    assert [t for t, _ in b.received] == [1.125]
    assert [t for t, _ in a.received] == [1.25]


def test_duplicate_node_names_and_addresses_are_refused():
    net = Network()
    net.add(Sink("a", A))
    with pytest.raises(ValueError, match="already in the network"):
        net.add(Sink("a", B))
    with pytest.raises(ValueError, match="belongs to both 'a' and 'b'"):
        net.add(Sink("b", A))
    assert list(net.nodes) == ["a"]


def test_unknown_node_names():
    net = Network()
    net.add(Sink("a", A))
    with pytest.raises(SimulationError, match="no node named 'zz'"):
        net.link("a", "zz")


def test_run_is_not_reentrant():
    net = Network()
    net.call_at(1.0, lambda: net.run())
    with pytest.raises(SimulationError, match="already running"):
        net.run()


def test_stats_as_dict():
    net = Network()
    assert net.stats.as_dict() == {
        "sent": 0,
        "delivered": 0,
        "dropped_loss": 0,
        "dropped_rule": 0,
        "dropped_queue": 0,
        "dropped_aqm": 0,
        "marked_ce": 0,
        "duplicated": 0,
        "corrupted": 0,
        "delayed": 0,
        "reordered": 0,
        "unroutable": 0,
        "malformed": 0,
    }
    assert net.stats.dropped == 0


def test_kick_inside_an_event_services_the_other_node_after_it():
    net = Network()
    a = net.add(Sink("a", A))
    relay_out = net.add(Sink("r", "198.18.0.3"))
    c = net.add(Sink("c", "198.18.0.4"))

    class Bridge(Sink):
        """An application on b that makes r send something whenever b receives a packet."""

        def deliver(self, packet, now):
            super().deliver(packet, now)
            assert net.running
            relay_out.outbox.append(tcp("198.18.0.3", "198.18.0.4", "P.", payload=b"relayed"))
            net.kick(relay_out)

    b = net.add(Bridge("b", B))
    net.link(a, b, delay=0.5)
    net.link(relay_out, c, delay=0.25)
    a.outbox.append(tcp(A, B, "S"))
    net.run()
    assert [t for t, _ in b.received] == [0.5]
    assert [t for t, _ in c.received] == [0.75]
    assert not net.running


def test_kick_outside_a_run_polls_at_once():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.5)
    a.outbox.append(tcp(A, B, "S"))
    net.kick(a)
    assert a.outbox == [] and net.stats.sent == 1
    b.outbox.append(tcp(B, A, "S."))
    net.kick()
    assert b.outbox == [] and net.stats.sent == 2


def test_an_address_claimed_twice_later_does_not_break_routing():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    c = net.add(Sink("c", "198.18.0.3"))
    net.link(a, b, delay=0.0)
    net.link(a, c, delay=0.0)
    c._addrs.append(ipaddress.ip_address(B))  # c now claims b's address too
    a.outbox += [tcp(A, "198.18.0.99", "S"), tcp(A, B, "S")]  # the first forces a re-read
    net.run()
    assert net.stats.unroutable == 1
    assert len(b.received) == 1 and c.received == []


def test_max_events_exactly_enough_is_not_an_error():
    net = Network()
    a = net.add(Scripted("a", A, script=[(1.0, tcp(A, B, "S")), (2.0, tcp(A, B, "S"))]))
    b = net.add(Sink("b", B))
    net.link(a, b, delay=0.5)
    assert net.run(max_events=4) == 4  # two timeouts, two arrivals
    assert len(b.received) == 2


def test_a_failing_user_action_leaves_the_network_usable():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.5)

    def boom():
        raise RuntimeError("user code failed")

    net.call_at(1.0, boom)
    with pytest.raises(RuntimeError, match="user code failed"):
        net.run()
    assert not net.running and net.now == 1.0
    a.outbox.append(tcp(A, B, "S"))
    net.run()
    assert [t for t, _ in b.received] == [1.5]


def test_rounding_arrivals_never_moves_time_backwards():
    net = Network()
    a, b = net.add(Sink("a", A)), net.add(Sink("b", B))
    net.link(a, b, delay=0.0)
    seen: list[float] = []
    b.deliver = lambda packet, now: seen.append(now)  # type: ignore[method-assign]
    t = 0.1 + 0.2  # 0.30000000000000004, not a whole nanosecond
    net.call_at(t, lambda: a.outbox.append(tcp(A, B, "S")))
    net.run()
    assert seen == [t] and net.now == t


def test_a_livelock_at_one_instant_is_an_error_not_a_hang():
    # Two nodes that answer each other with no delay keep the clock at t=0 for ever; a
    # blocking call (which runs with no event limit) used to spin there for good.
    net = Network(spin_limit=5000)
    a = net.add(Echo("a", A))
    b = net.add(Echo("b", B))
    net.link(a, b, delay=0.0)
    a.outbox.append(tcp(A, B, "S"))
    with pytest.raises(SimulationError) as exc:
        net.run_until(lambda: False, timeout=None, max_events=1 << 62)
    text = str(exc.value)
    assert "5000 events at t=0.000000 without the clock moving: a livelock" in text
    assert "packets to a" in text and "packets to b" in text
    assert net.now == 0.0


def test_many_events_at_one_instant_below_the_limit_are_fine():
    net = Network(spin_limit=5000)
    a = net.add(Sink("a", A))
    b = net.add(Sink("b", B))
    net.link(a, b, delay=0.0)
    a.outbox.extend(tcp(A, B, "S", seq=k) for k in range(4000))
    net.run()
    assert len(b.received) == 4000
