"""Link segmentation offload in the engine: super-segments sent when the link says it splits
them (``Config.gso_max``), coalesced ones received (``Segment.gso_size``) as if their parts had
arrived one by one. The MSS on the wire, cwnd, SACK and retransmissions stay in MSS units."""

from __future__ import annotations

import dataclasses

from tcplab.tcp import Config
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import MSS, Segment, Timestamps

from .helpers import ISS, PEER_ISS, Peer, seg

MSS_ = 1460


def _split(s: Segment) -> list[tuple[str, int, int]]:
    """The segments a super-segment stands for on the wire (as the kernel's GSO cuts it):
    (flags, seq, len); FIN and PSH on the last part only."""
    if not s.gso_size:
        return [(_flags(int(s.flags)), s.seq, len(s.payload))]
    out = []
    n = len(s.payload)
    for off in range(0, n, s.gso_size):
        last = off + s.gso_size >= n
        flags = int(s.flags) if last else int(s.flags) & ~0x09
        out.append((_flags(flags), s.seq + off, min(s.gso_size, n - off)))
    return out


def _flags(f: int) -> str:
    return ("P" if f & 0x08 else "") + ("F" if f & 0x01 else "") + ("." if f & 0x10 else "")


def _wire(segments: list[Segment]) -> list[tuple[str, int, int]]:
    return [part for s in segments for part in _split(s)]


def _established(**config) -> Peer:
    p = Peer(Config(window_scaling=False, timestamps=False, sack=False, rcv_buf=1 << 20, snd_buf=1 << 20, **config))
    p.to_established()
    p.out()
    return p


def test_initial_window_goes_as_one_super_segment_of_whole_mss_parts():
    plain, offload = _established(), _established(gso_max=65000)
    for p in (plain, offload):
        p.conn.send(bytes(100_000), p.now)
    sent_plain, sent_offload = plain.raw_out(), offload.raw_out()
    assert [len(s.payload) for s in sent_plain] == [MSS_] * 10  # IW 10
    assert len(sent_offload) == 1
    (sup,) = sent_offload
    assert (sup.seq, len(sup.payload), sup.gso_size) == (ISS + 1, 10 * MSS_, MSS_)
    # On the wire: the very segments the engine sends without offload.
    assert _wire(sent_offload) == _wire(sent_plain)


def test_a_remainder_smaller_than_an_mss_is_judged_by_nagle_as_without_offload():
    full = [(".", ISS + 1, MSS_), (".", ISS + 1 + MSS_, MSS_), (".", ISS + 1 + 2 * MSS_, MSS_)]
    for gso in (0, 65000):
        # RFC 9293 3.7.4: 3 full segments go (as one super-segment with offload); the 620-byte
        # tail waits for an ACK either way.
        p = _established(gso_max=gso, nagle_rules="rfc")
        p.conn.send(bytes(5000), p.now)
        sent = p.raw_out()
        assert _wire(sent) == full
        assert [s.gso_size for s in sent] == ([MSS_] if gso else [0, 0, 0])
        assert p.recv(seg(".", PEER_ISS + 1, ISS + 1 + 3 * MSS_, win=65535)) == [
            ("P.", ISS + 1 + 3 * MSS_, PEER_ISS + 1, 65535, 620)
        ]
        # Linux (Minshall): no small segment in flight, so the tail goes with them either way;
        # a second small write waits for the ACK of that tail.
        p = _established(gso_max=gso)
        p.conn.send(bytes(5000), p.now)
        sent = p.raw_out()
        assert _wire(sent) == [*full, ("P.", ISS + 1 + 3 * MSS_, 620)]
        assert [s.gso_size for s in sent] == ([MSS_, 0] if gso else [0, 0, 0, 0])
        p.conn.send(bytes(10), p.now)
        assert p.out() == []
        assert p.recv(seg(".", PEER_ISS + 1, ISS + 1 + 5000, win=65535)) == [
            ("P.", ISS + 1 + 5000, PEER_ISS + 1, 65535, 10)
        ]


def test_data_then_close_goes_on_the_wire_as_without_offload():
    wires = []
    for gso in (0, 65000):
        p = _established(gso_max=gso)
        p.conn.send(bytes(3 * MSS_ + 100), p.now)
        p.conn.close(p.now)
        wires.append(_wire(p.raw_out()))
    assert wires[0] == wires[1]
    # Three full segments and the tail, sent by send() (Linux's Nagle: no small segment in
    # flight), then the FIN alone, as Linux's tcp_send_fin when the tail has left.
    full = [(".", ISS + 1 + i * MSS_, MSS_) for i in range(3)]
    assert wires[1] == [*full, ("P.", ISS + 1 + 3 * MSS_, 100), ("F.", ISS + 1 + 3 * MSS_ + 100, 0)]


def test_retransmissions_stay_in_mss_units():
    resent = {}
    for gso in (0, 65000):
        p = _established(gso_max=gso)
        p.conn.send(bytes(10 * MSS_), p.now)
        assert [s.gso_size for s in p.raw_out()] == ([MSS_] if gso else [0] * 10)
        # Nothing is acknowledged: each RTO sends the first MSS again, never the super-segment.
        resent[gso] = (p.advance(1.5), p.conn.total_retrans)
    assert resent[0] == resent[65000]
    timeouts, total = resent[65000]
    assert [r[1:] for r in timeouts] == [(".", ISS + 1, PEER_ISS + 1, 65535, MSS_)] * len(timeouts)
    assert total == len(timeouts) > 0


def test_cwnd_grows_by_what_is_acknowledged_not_by_segments_sent():
    plain, offload = _established(), _established(gso_max=65000)
    for p in (plain, offload):
        p.conn.send(bytes(100_000), p.now)
        p.out()
        p.recv(seg(".", PEER_ISS + 1, ISS + 1 + 10 * MSS_, win=65535), at=0.1)
    assert plain.conn.cwnd == offload.conn.cwnd > 10 * MSS_
    assert plain.conn.tcp_info()["snd_mss"] == offload.conn.tcp_info()["snd_mss"] == MSS_


def _coalesced(seq: int, parts: int, gso: int = 1448, **kw) -> Segment:
    s = seg(".", seq, ISS + 1, data=bytes(parts * gso), **kw)
    return dataclasses.replace(s, gso_size=gso)


def test_a_coalesced_batch_is_acked_at_once_and_teaches_rcv_mss_its_parts():
    p = _established(quickack=0)  # (no quick-ACK mode: the every-second-segment rule alone)
    acks = p.recv(_coalesced(PEER_ISS + 1, 4))
    assert [(a[0], a[1], a[2], a[4]) for a in acks] == [(".", ISS + 1, PEER_ISS + 1 + 4 * 1448, 0)]
    assert p.conn.rcv_mss == 1448  # the parts' size (gso_size), not the 5792 bytes that came
    # One part alone is one full-sized segment: the ACK waits, as for a plain segment.
    assert p.recv(_coalesced(PEER_ISS + 1 + 4 * 1448, 1)) == []
    assert p.conn.timers.armed(Timer.DELAYED_ACK)


def test_a_plain_segment_after_a_batch_counts_against_the_parts_size():
    p = _established(quickack=0)
    p.recv(_coalesced(PEER_ISS + 1, 3))
    base = PEER_ISS + 1 + 3 * 1448
    assert p.recv(seg(".", base, ISS + 1, data=bytes(1448))) == []  # first full segment: delayed
    acks = p.recv(seg(".", base + 1448, ISS + 1, data=bytes(1448)))  # second: ACK now
    assert [a[2] for a in acks] == [base + 2 * 1448]


def test_super_segments_carry_timestamps_and_the_rtt_is_sampled_once_per_ack():
    p = Peer(Config(window_scaling=False, sack=False, rcv_buf=1 << 20, snd_buf=1 << 20, gso_max=65000))
    p.to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), Timestamps(100, p.conn._ts_now(0.0)))))
    p.out()
    p.conn.send(bytes(20_000), p.now)
    (sup,) = [s for s in p.raw_out() if s.payload]
    assert sup.gso_size == 1448 and len(sup.payload) == 10 * 1448  # 1460 - 12 bytes of timestamps
    assert sup.option(Timestamps) is not None
