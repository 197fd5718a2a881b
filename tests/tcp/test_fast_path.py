"""The engine's fast paths change nothing but speed: header prediction (``Connection._predicted``)
and one loss record per super-segment (``loss.LAZY_SPLIT``). The same seeded workloads through a
lossy, duplicating, reordering pipe, once with both and once with every segment down the general
path and a record per part, give the very same segments (every field), states, events and final
``tcp_info``."""

import random

import pytest

from tcplab.net.pipe import Pipe, lossy_hook
from tcplab.tcp import Config, State, loss
from tcplab.tcp import connection as engine
from tcplab.tcp.events import CongestionChanged, DataReadable, RttChanged, SendSpace
from tcplab.wire.tcp import ECN_CE, ECN_ECT0, Segment

# (name, Config fields): timestamps and SACK on and off, ECN, Linux's and the RFC's receiver,
# a link that segments (super-segments on the pipe), CUBIC and NewReno.
CONFIGS = {
    "default": {},
    "no-timestamps": {"timestamps": False},
    "no-sack": {"sack": False},
    "neither": {"timestamps": False, "sack": False, "window_scaling": False},
    "ecn": {"ecn": 1},
    "rfc": {"quickack": 0, "rcv_window_rules": "rfc", "congestion_control": "reno", "rack": False, "tlp": False},
    "gso": {"gso_max": 65000, "rcv_buf": 1 << 18},
    # the link splits super-segments: ACKs and SACKs of some of their parts
    "gso-split": {"gso_max": 65000, "rcv_buf": 1 << 18, "split": True},
    "gso-split-no-sack": {"gso_max": 65000, "sack": False, "rcv_buf": 1 << 18, "split": True},
    "gso-split-dupthresh": {
        "gso_max": 20000,
        "rack": False,
        "timestamps": False,
        "congestion_control": "reno",
        "split": True,
    },
    "small-buffers": {"rcv_buf": 8192, "snd_buf": 16384, "mss": 536},
    # both sequence spaces wrap past 2**32 in the middle of the transfer, super-segments split
    "gso-split-wrap": {"gso_max": 65000, "rcv_buf": 1 << 18, "split": True, "iss": (1 << 32) - 100_000},
}


def _hook(seed: int, ce: float):
    """lossy_hook's loss, duplicates and reordering, and a CE mark on some ECN-capable data."""
    lossy = lossy_hook(seed, loss=0.01, dup=0.01, reorder=0.03, delay=0.02)
    rng = random.Random(seed + 1000)

    def hook(sender: str, seg: Segment):
        if seg.ecn == ECN_ECT0 and rng.random() < ce:
            seg.ecn = ECN_CE
        return lossy(sender, seg)

    return hook


def _record(seg: Segment) -> tuple:
    return (seg.src_port, seg.dst_port, seg.seq, seg.ack, int(seg.flags), seg.window, seg.urgent, seg.options,
            bytes(seg.payload), seg.ecn, seg.gso_size)  # fmt: skip


def _run(fields: dict, seed: int, fast: bool, monkeypatch, events: bool = True) -> dict:
    monkeypatch.setattr(engine, "HEADER_PREDICTION", fast)
    monkeypatch.setattr(loss, "LAZY_SPLIT", fast)
    rng = random.Random(seed)
    fields = dict(fields)
    split = fields.pop("split", False)
    iss = fields.pop("iss", None)
    hook = _hook(seed, 0.02 if fields.get("ecn") else 0.0)
    isses = {} if iss is None else {"a_iss": iss, "b_iss": iss + 7}
    p = Pipe(Config(**fields), delay=0.02, hook=hook, split=split, **isses)
    p.a.per_segment_events = p.b.per_segment_events = events
    p.b.listen(0.0)
    p.a.connect(0.0)
    p.run(stop=lambda: p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED)
    # Each side writes 300 KB in writes of 1 byte to 64 KB, and reads (or leaves unread for a
    # while: the window closes) at random; then both shut down, read to the end and close.
    size = 300_000
    data = {name: rng.randbytes(size) for name in "ab"}
    sent = dict.fromkeys("ab", 0)
    got = {"a": bytearray(), "b": bytearray()}
    deadlines = []  # each side's next timer after every step: timers set alike, not only segments
    for _ in range(500_000):
        for name in "ab":
            conn = p.conn(name)
            if sent[name] < size and rng.random() < 0.7:
                n = rng.choice((1, 100, 1000, 1448, 5000, 65536))
                sent[name] += conn.send(data[name][sent[name] : sent[name] + n], p.now)
                if sent[name] == size:
                    conn.shutdown(p.now)
            if rng.random() < 0.8 and conn.state is not State.CLOSED:
                got[name] += conn.receive(rng.choice((None, 500, 10_000)), now=p.now)
                if conn.eof and not conn.recv_buffered and sent[name] == size:
                    conn.close(p.now)
        if p.a.state is State.CLOSED and p.b.state is State.CLOSED:
            break
        stepped = p.step()
        deadlines.append((p.a.next_deadline(), p.b.next_deadline()))
        if not stepped and sent["a"] == sent["b"] == size:
            break
    p.run()
    for name in "ab":
        got[name] += p.conn(name).receive(now=p.now)  # what was left unread when it closed
    assert bytes(got["b"]) == data["a"] and bytes(got["a"]) == data["b"], (
        p.states,
        len(got["a"]),
        len(got["b"]),
        p.now,
    )
    return {
        "segments": [(t, name, _record(seg)) for t, name, seg in p.log],
        "states": p.states,
        "events": p.events,
        "info": (p.a.tcp_info(), p.b.tcp_info()),
        "received": (len(got["a"]), len(got["b"])),
        "deadlines": deadlines,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", CONFIGS)
def test_the_fast_path_changes_nothing(name, seed, monkeypatch):
    fast = _run(CONFIGS[name], seed, True, monkeypatch)
    slow = _run(CONFIGS[name], seed, False, monkeypatch)
    assert fast["received"] == slow["received"]
    assert fast["states"] == slow["states"]
    assert len(fast["segments"]) == len(slow["segments"])
    for i, (f, s) in enumerate(zip(fast["segments"], slow["segments"], strict=True)):
        assert f == s, f"segment {i} differs"
    assert fast["events"] == slow["events"]
    assert fast["info"] == slow["info"]
    assert fast["deadlines"] == slow["deadlines"]


@pytest.mark.parametrize("name", ["default", "ecn", "no-sack"])
def test_without_per_segment_events_the_segments_are_the_same(name, monkeypatch):
    """Connection.per_segment_events = False (the benchmark's pipe) leaves out the events that
    narrate each segment, and changes nothing else."""
    told = _run(CONFIGS[name], 4, True, monkeypatch)
    quiet = _run(CONFIGS[name], 4, True, monkeypatch, events=False)
    assert quiet["segments"] == told["segments"]
    assert quiet["states"] == told["states"]
    assert quiet["info"] == told["info"]
    narrating = (DataReadable, SendSpace, RttChanged, CongestionChanged)
    for side in "ab":
        kept = [ev for ev in told["events"][side] if not isinstance(ev, narrating)]
        assert quiet["events"][side] == kept
        assert len(kept) < len(told["events"][side])


def test_the_workload_takes_both_paths(monkeypatch):
    """The comparison means something: the workload sends many segments down each path."""
    calls = {"predicted": 0, "all": 0}
    predicted = engine.Connection._predicted

    def counting(self, seg, now):
        calls["all"] += 1
        done = predicted(self, seg, now)
        calls["predicted"] += done
        return done

    monkeypatch.setattr(engine.Connection, "_predicted", counting)
    _run(CONFIGS["default"], 1, True, monkeypatch)
    assert calls["all"] // 5 < calls["predicted"] < calls["all"] * 4 // 5
