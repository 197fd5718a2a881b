"""The out-of-order queue under attack (SegmentSmack, CVE-2018-5390): bounded memory charged like
Linux's truesize, collapse and prune (tcp_collapse_ofo_queue, tcp_prune_ofo_queue), SACK blocks
kept as they change (RFC 2018 section 4)."""

from __future__ import annotations

from tcplab.tcp import Config, State
from tcplab.tcp.reassembly import COLLAPSE_UNIT, SEGMENT_OVERHEAD, Reassembly
from tcplab.wire.tcp import MSS, NOP, Sack, SackPermitted, WindowScale

from .helpers import ISS, PEER_ISS, Peer, seg

COST = 1 + SEGMENT_OVERHEAD  # what a one-byte segment is charged


def test_a_one_byte_segment_costs_its_truesize():
    r = Reassembly()
    assert r.add(101, b"x", 100)
    assert (r.bytes, r.truesize, len(r)) == (1, COST, 1)
    assert not r.add(101, b"x", 100)  # nothing new: dropped, not charged again
    assert r.truesize == COST


def test_collapse_before_prune_keeps_contiguous_data():
    r = Reassembly()
    for k in range(100):  # 100 contiguous 10-byte segments: one block charged 100 overheads
        r.add(1000 + 10 * k, b"a" * 10, 0)
    assert len(r) == 1 and r.truesize == 1000 + 100 * SEGMENT_OVERHEAD
    # Over the limit: the run is collapsed into one page (one overhead), nothing is lost.
    assert r.add(5000, b"b" * 10, 0, limit=1000 + 10 + 2 * SEGMENT_OVERHEAD)
    assert r.bytes == 1010 and r.pruned == 0
    assert r.truesize == 1000 + SEGMENT_OVERHEAD * (1000 // COLLAPSE_UNIT + 1) + 10 + SEGMENT_OVERHEAD


def test_prune_drops_from_the_highest_sequence_number_down():
    r = Reassembly()
    for k in range(10):
        assert r.add(100 + 2 * k, b"x", 99)  # blocks at 100, 102, ..., 118
    limit = 10 * COST
    # Above all of them, it may not displace them (tcp_prune_ofo_queue stops there): dropped.
    assert not r.add(1000, b"y", 99, limit=limit)
    assert (r.dropped, r.pruned, len(r)) == (1, 0, 10)
    assert r.sack_blocks(1) == [(118, 119)]
    # Below them, room is made by dropping the highest blocks: 118, 116, ...
    assert r.add(104, b"w" * 1000, 99, limit=limit)
    assert r.truesize <= limit
    assert r.pruned == 3  # 118, 116 and 114 went; the new block swallowed 104..112
    assert r.sack_blocks(4) == [(104, 1104)]  # the SACK state started over (tcp_sack_reset)
    assert r.pop(100) == b"x"  # 100 once RCV.NXT reaches it; the hole at 101 stays
    assert r.pop(102) == b"x"
    got = r.pop(104)  # bytes already queued win where they overlap
    assert got[:10] == b"xwxwxwxwxw" and len(got) == 1000 and r.bytes == 0


def test_sack_blocks_follow_rfc2018_and_linux_order():
    r = Reassembly()
    for start in (100, 200, 300, 400, 500):
        r.add(start, b"a" * 10, 0)
    assert r.sack_blocks(4) == [(500, 510), (400, 410), (300, 310), (200, 210)]
    r.add(210, b"b" * 5, 0)  # extends 200..210: it moves to the front
    assert r.sack_blocks(3) == [(200, 215), (500, 510), (400, 410)]
    assert r.pop(0) == b""
    r.add(50, b"c" * 50, 0)  # touches the block at 100: one block 50..110
    assert r.sack_blocks(2) == [(50, 110), (200, 215)]
    assert r.pop(50) == b"c" * 50 + b"a" * 10
    assert r.sack_blocks(4) == [(200, 215), (500, 510), (400, 410)]


def _sack_peer() -> Peer:
    cfg = Config(timestamps=False, window_scaling=True, sack=True, rcv_buf=131072)
    p = Peer(cfg)
    p.to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), NOP(), NOP(), SackPermitted(), NOP(), WindowScale(7))))
    assert p.state is State.ESTABLISHED
    return p


STREAM = bytes(i % 251 for i in range(13000))


def test_segmentsmack_every_other_byte_is_bounded():
    # 6000 one-byte segments at every other sequence number (before: 6000 blocks kept, each
    # segment costing a pass over all of them: ~20 s of CPU; a full window of them, an hour).
    p = _sack_peer()
    conn = p.conn
    nxt = PEER_ISS + 1
    limit = 2 * conn.config.rcv_buf
    for k in range(6000):
        off = 1 + 2 * k
        acks = p.recv(seg(".", nxt + off, ISS + 1, data=STREAM[off : off + 1]))
        assert [a[0] for a in acks] == ["."]  # every one gets its duplicate ACK
    queue = conn._ooo
    assert queue.truesize <= limit
    assert len(queue) == limit // COST  # what fits, the lowest blocks; the rest was refused
    assert queue.dropped == 6000 - limit // COST
    # The real data then arrives in order: everything is delivered intact, nothing stalls.
    for off in range(0, len(STREAM), 1000):
        p.recv(seg("P.", nxt + off, ISS + 1, data=STREAM[off : off + 1000]))
    assert conn.receive(now=p.now) == STREAM
    assert len(queue) == 0 and queue.truesize == 0 and queue.bytes == 0


def test_sack_options_in_the_acks_during_the_attack():
    p = _sack_peer()
    nxt = PEER_ISS + 1
    for k in range(6):
        p.conn.segment_arrives(seg(".", nxt + 1 + 2 * k, ISS + 1, data=b"x"), p.now)
    ack = p.raw_out()[-1]
    sack = ack.option(Sack)
    assert sack is not None
    # the latest segment's block first, then the most recently reported (3 of them: 4 without TS)
    assert sack.blocks == ((nxt + 11, nxt + 12), (nxt + 9, nxt + 10), (nxt + 7, nxt + 8), (nxt + 5, nxt + 6))


def test_connections_share_the_empty_queue_until_data_arrives_out_of_order():
    a, b = Peer().to_established(), Peer().to_established()
    assert a.conn._ooo is b.conn._ooo and not a.conn._ooo  # one empty queue, made once
    nxt = PEER_ISS + 1
    # A hole, then data after it: a duplicate ACK of RCV.NXT, and a queue of a's own.
    assert a.recv(seg("P.", nxt + 100, ISS + 1, data=b"x" * 10)) == [(".", ISS + 1, nxt, 65535, 0)]
    assert a.conn._ooo is not b.conn._ooo
    assert (a.conn._ooo.bytes, b.conn._ooo.bytes) == (10, 0) and not b.conn._ooo
    # The hole filled: everything is delivered; the shared empty queue never held anything.
    a.recv(seg("P.", nxt, ISS + 1, data=b"y" * 100))
    assert a.conn.receive(now=a.now) == b"y" * 100 + b"x" * 10
    assert not b.conn._ooo and Peer().conn._ooo is b.conn._ooo
