"""The peer's MSS is raised to tcp_min_snd_mss (48, CVE-2019-11479) before the timestamp option
is taken off, as measured on Linux 6.18 (/work/notes/linux-behaviour.md L)."""

from __future__ import annotations

import pytest

from tcplab.tcp import Config, State
from tcplab.wire.tcp import MSS, NOP, Timestamps

from .helpers import ISS, PEER_ISS, Peer, seg
from .pipe import Pipe


@pytest.mark.parametrize(
    ("peer_mss", "timestamps", "segment"),
    [(1, True, 36), (47, True, 36), (48, True, 36), (60, True, 48), (1, False, 48), (60, False, 60), (536, True, 524)],
)
def test_segment_size_for_a_tiny_peer_mss(peer_mss, timestamps, segment):
    p = Peer(Config(timestamps=True, sack=False, window_scaling=False))
    p.to_syn_sent()
    opts = (MSS(peer_mss), NOP(), NOP(), Timestamps(7, p.conn.iss)) if timestamps else (MSS(peer_mss),)
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=opts))
    assert p.state is State.ESTABLISHED
    p.conn.send(b"z" * 2000, p.now)
    sizes = [len(s.payload) for s in p.raw_out() if s.payload]
    assert sizes[0] == segment and max(sizes) == segment


def test_100_kb_to_a_peer_announcing_mss_1():
    # Before: 100,001 one-byte segments (11 s of CPU). Now 36 bytes a segment (timestamps on).
    pipe = Pipe(Config(), delay=0.001, config_b=Config(mss=1))  # b announces MSS 1 in its SYN-ACK
    pipe.b.listen(0.0)
    pipe.a.connect(0.0)
    pipe.run(until=0.1)
    data = bytes(range(256)) * 400
    sent = 0
    got = bytearray()
    while len(got) < len(data):
        if sent < len(data):
            sent += pipe.a.send(data[sent:], pipe.now)
        pipe.step()
        got += pipe.b.receive(now=pipe.now)
    assert bytes(got) == data
    sizes = {len(seg.payload) for _t, name, seg in pipe.log if name == "a" and seg.payload}
    assert max(sizes) == 36 and pipe.a.tcp_info()["snd_mss"] == 36
    assert sum(1 for _t, name, seg in pipe.log if name == "a" and seg.payload) < len(data) // 36 + 50
