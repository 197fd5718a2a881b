"""Two Connections back to back: 10 MB each way through a lossy, duplicating, reordering pipe."""

import hashlib
import random

import pytest

from tcplab.net.pipe import Pipe, gso_parts, lossy_hook
from tcplab.tcp import Config, State
from tcplab.wire.tcp import FLAGS, NOP, Segment, Timestamps, flags_str

MB = 1_000_000


def _transfer(p: Pipe, size: int, seed: int) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    data_a = rng.randbytes(size)
    data_b = rng.randbytes(size)
    got_a, got_b = bytearray(), bytearray()
    sent_a = sent_b = 0
    # Handshake first (a send() in LISTEN would turn the listener into an active opener).
    p.run(stop=lambda: p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED)
    for _ in range(5_000_000):
        if sent_a < size:
            sent_a += p.a.send(data_a[sent_a : sent_a + 65536], p.now)
            if sent_a == size:
                p.a.shutdown(p.now)
        if sent_b < size:
            sent_b += p.b.send(data_b[sent_b : sent_b + 65536], p.now)
            if sent_b == size:
                p.b.shutdown(p.now)
        got_a += p.a.receive(now=p.now)
        got_b += p.b.receive(now=p.now)
        if p.a.state is State.CLOSED and p.b.state is State.CLOSED:
            break
        if not p.step():
            break
    return bytes(got_b), bytes(got_a)  # what b received from a, what a received from b


@pytest.mark.parametrize("seed", [1, 2])
def test_ten_megabytes_each_way_through_a_lossy_pipe(seed):
    # ISNs just below 2**32 so that both directions wrap.
    p = Pipe(Config(), a_iss=2**32 - 5000, b_iss=2**32 - 100, hook=lossy_hook(seed, loss=0.03, dup=0.02, reorder=0.05))
    p.b.listen(0.0)
    p.a.connect(0.0)
    size = 10 * MB
    at_b, at_a = _transfer(p, size, seed)
    rng = random.Random(seed)
    want_a, want_b = rng.randbytes(size), rng.randbytes(size)
    assert hashlib.sha256(at_b).hexdigest() == hashlib.sha256(want_a).hexdigest()
    assert hashlib.sha256(at_a).hexdigest() == hashlib.sha256(want_b).hexdigest()
    # Both shut down, both saw the other's FIN: both end CLOSED (one via TIME_WAIT).
    p.run()
    assert p.a.state is State.CLOSED and p.b.state is State.CLOSED
    assert p.a.tcp_info()["total_retrans"] > 0 and p.b.tcp_info()["total_retrans"] > 0
    assert "TIME_WAIT" in p.states["a"] + p.states["b"]


def test_clean_pipe_transfer_has_no_retransmissions():
    p = Pipe(Config())
    p.b.listen(0.0)
    p.a.connect(0.0)
    at_b, at_a = _transfer(p, MB, 7)
    rng = random.Random(7)
    assert at_b == rng.randbytes(MB) and at_a == rng.randbytes(MB)
    assert p.a.total_retrans == 0 and p.b.total_retrans == 0
    p.run()
    # Both shut down as soon as their last byte is queued: the FINs cross (simultaneous close).
    assert p.states["a"] == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "CLOSED"]
    assert p.states["b"] == [
        "CLOSED",
        "LISTEN",
        "SYN_RCVD",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "CLOSING",
        "TIME_WAIT",
        "CLOSED",
    ]


def test_super_segments_through_a_lossy_pipe():
    # Both ends on links that segment (Config.gso_max): super-segments are lost, duplicated and
    # reordered whole, as a burst of their parts would be; recovery works in MSS units.
    p = Pipe(Config(gso_max=65000), hook=lossy_hook(3, loss=0.03, dup=0.02, reorder=0.05))
    p.b.listen(0.0)
    p.a.connect(0.0)
    at_b, at_a = _transfer(p, 4 * MB, 3)
    rng = random.Random(3)
    assert at_b == rng.randbytes(4 * MB) and at_a == rng.randbytes(4 * MB)
    mss = 1460 - 12  # less the timestamps option
    assert {s.gso_size for _, _, s in p.log} == {0, mss}
    assert max(len(s.payload) for _, _, s in p.log) > 10 * mss
    assert p.a.total_retrans > 0 and p.b.total_retrans > 0


def test_pipe_without_a_log_counts_what_the_logged_pipe_logs():
    # keep_log=False (benchmarks): no segment is kept, the count is the logged pipe's count.
    counts = []
    for keep in (True, False):
        p = Pipe(Config(), keep_log=keep)
        p.b.listen(0.0)
        p.a.connect(0.0)
        _transfer(p, MB, 5)
        p.run()
        counts.append(p.sent)
        assert len(p.log) == (p.sent if keep else 0)
    assert counts[0] == counts[1] > 2 * MB // 1460


def test_a_split_super_segment_is_its_parts_as_linux_gso_makes_them():
    # 3000 octets in parts of 1448: 1448, 1448, 104; CWR on the first only, PSH and FIN on the
    # last only, the same options on each (tcp_gso_segment).
    opts = (NOP(), NOP(), Timestamps(7, 9))
    seg = Segment(40000, 9527, 2**32 - 1000, 77, FLAGS[0x10 | 0x08 | 0x01 | 0x80], 500, 0, opts, bytes(3000))
    seg.gso_size = 1448
    parts = gso_parts(seg)
    assert [(p.seq, len(p.payload), flags_str(p.flags), p.gso_size) for p in parts] == [
        (2**32 - 1000, 1448, "W.", 0),
        ((2**32 - 1000 + 1448) % 2**32, 1448, ".", 0),
        ((2**32 - 1000 + 2896) % 2**32, 104, "FP.", 0),
    ]
    assert all(p.options == opts and p.ack == 77 and p.window == 500 for p in parts)
