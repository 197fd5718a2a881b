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


def _established_after(rtt: float, **config) -> Peer:
    """Established when the SYN-ACK came ``rtt`` after the SYN: SRTT is ``rtt``."""
    p = Peer(Config(window_scaling=False, timestamps=False, sack=False, rcv_buf=1 << 20, snd_buf=1 << 20, **config))
    p.to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),)), at=rtt)
    p.out()
    return p


def _ack(p: Peer, ack: int, at: float) -> list[Segment]:
    p.now = at
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ack, win=65535), at)
    return p.raw_out()


def test_a_small_super_segment_waits_for_the_ack_due_within_a_millisecond():
    """Linux tcp_tso_should_defer (tcp_tso_win_divisor 3): while sending continuously, with the
    next ACK due within min(SRTT/2, 1 ms), data the windows let go in less than a third of a
    window waits for that ACK; without offload each ACK's segments go at once."""
    wires = {}
    for gso in (0, 65000):
        p = _established_after(0.010, gso_max=gso)
        assert p.conn.rtt.srtt == 0.010
        p.conn.send(bytes(100_000), p.now)  # t = 10 ms: IW 10
        assert _wire(p.raw_out()) == [(".", ISS + 1 + i * MSS_, MSS_) for i in range(10)]
        got = []
        # ACKs of one segment each, from 19.5 ms on (the first one's RTT is 9.5 ms): slow start
        # gives one segment more per ACK, so two may go each time.
        for k, t in enumerate((0.0195, 0.0198, 0.0200, 0.0201), start=1):
            got.append((t, [(len(s.payload), s.gso_size) for s in _ack(p, ISS + 1 + k * MSS_, t)]))
        wires[gso] = got
    # Without offload: two segments per ACK.
    assert [g for _, g in wires[0]] == [[(MSS_, 0), (MSS_, 0)]] * 4
    # With it: the first ACK comes 9.5 ms after the last send, so its two segments go (as one
    # super-segment). At 19.8 and 20.0 ms the head's ACK is due (sent at 10 ms, SRTT 10 ms) and
    # the last send was under 1 ms ago: 2 and then 4 segments (less than a third of cwnd 12,
    # 13) wait. At 20.1 ms six may go (a third of cwnd 14 is 4.7): one super-segment.
    assert wires[65000] == [
        (0.0195, [(2 * MSS_, MSS_)]),
        (0.0198, []),
        (0.0200, []),
        (0.0201, [(6 * MSS_, MSS_)]),
    ]


def test_no_deferral_in_recovery_or_once_a_third_of_the_window_may_go():
    p = _established_after(0.010, gso_max=65000)
    p.conn.send(bytes(100_000), p.now)
    p.out()
    # An ACK of five segments at 19.9 ms, 0.1 ms before the rest's ACK is due: cwnd 15, 5 in
    # flight, so 10 may go (more than 15 / 3): at once.
    sent = _ack(p, ISS + 1 + 5 * MSS_, 0.0199)
    assert [(s.seq, len(s.payload), s.gso_size) for s in sent] == [(ISS + 1 + 10 * MSS_, 10 * MSS_, MSS_)]
    # Three duplicate ACKs: fast recovery (NewReno without SACK). The retransmission goes, and
    # PRR's new data is never deferred, however small.
    base = ISS + 1 + 5 * MSS_
    out = [s for t in (0.0200, 0.0201, 0.0202) for s in _ack(p, base, t)]
    assert p.conn.tcp_info()["ca_state"] == "Recovery"
    assert [(s.seq, len(s.payload)) for s in out] == [(base, MSS_)]  # the fast retransmit
    # The next duplicate ACK: PRR lets one new segment go; the head's ACK is overdue and the
    # last send was 0.1 ms ago, which outside recovery would hold it back.
    assert [(s.seq, len(s.payload)) for s in _ack(p, base, 0.0203)] == [(ISS + 1 + 20 * MSS_, MSS_)]


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
