"""Loss recovery: SACK scoreboard (RFC 2018 / RFC 6675), Limited Transmit (RFC 3042)."""

from tcplab.tcp.sack import Scoreboard
from tcplab.wire.tcp import MSS, NOP, Sack, SackPermitted

from .helpers import ISS, PEER_ISS, WIN, Peer, classic, seg

M = 1460


def test_scoreboard_merges_prunes_and_finds_holes():
    sb = Scoreboard()
    una, top = 1000, 1000 + 10 * M
    assert sb.update([(1000 + 2 * M, 1000 + 3 * M)], una, top) == M
    assert sb.update([(1000 + 3 * M, 1000 + 4 * M), (1000 + 6 * M, 1000 + 7 * M)], una, top) == 2 * M
    assert sb.blocks == [[1000 + 2 * M, 1000 + 4 * M], [1000 + 6 * M, 1000 + 7 * M]]
    assert list(sb.holes(una, M)) == [(1000, M), (1000 + M, M), (1000 + 4 * M, M), (1000 + 5 * M, M)]
    # D-SACK below SND.UNA and blocks beyond what was sent are ignored.
    assert sb.update([(500, 900), (top, top + M)], una, top) == 0
    sb.prune(1000 + 3 * M)
    assert sb.blocks == [[1000 + 3 * M, 1000 + 4 * M], [1000 + 6 * M, 1000 + 7 * M]]
    assert sb.bytes == 2 * M
    sb.clear()
    assert not sb and sb.bytes == 0


def test_scoreboard_across_the_wrap():
    sb = Scoreboard()
    una = 2**32 - M
    sb.update([(0, M)], una, 2 * M)
    assert list(sb.holes(una, M)) == [(una, M)]


def _sack_established() -> Peer:
    p = Peer(classic(sack=True, nodelay=True)).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), NOP(), NOP(), SackPermitted())))
    assert p.conn.sack_ok
    return p


def _dupack(p: Peer, *blocks: tuple[int, int]):
    return p.recv(seg(".", PEER_ISS + 1, ISS + 1, options=(NOP(), NOP(), Sack(tuple(blocks)))))


def test_sack_recovery_retransmits_each_hole_once():
    p = _sack_established()
    p.conn.send(bytes(8 * M), 0.0)
    assert len(p.out()) == 8
    d = ISS + 1
    # Segments 1 and 4 are lost: the peer SACKs 2, 3, then 5, 6, 7.
    assert _dupack(p, (d + M, d + 2 * M)) == []  # dupack 1: Limited Transmit has no new data
    assert _dupack(p, (d + M, d + 3 * M)) == []
    # Third duplicate: fast retransmit of the head.
    assert _dupack(p, (d + M, d + 3 * M), (d + 4 * M, d + 5 * M)) == [(".", d, PEER_ISS + 1, WIN, M)]
    # The next duplicate SACKs more above the second hole: it is retransmitted at once, without
    # waiting for the partial ACK (NewReno alone would need another round trip).
    assert _dupack(p, (d + 4 * M, d + 6 * M), (d + M, d + 3 * M)) == [(".", d + 3 * M, PEER_ISS + 1, WIN, M)]
    # Nothing is sent twice: another duplicate finds no hole left below the highest SACK.
    assert _dupack(p, (d + 4 * M, d + 7 * M), (d + M, d + 3 * M)) == []
    # Both retransmissions arrive: everything is acknowledged, recovery ends.
    p.recv(seg(".", PEER_ISS + 1, d + 8 * M))
    assert p.conn.snd_una == d + 8 * M and not p.conn.loss.in_recovery
    assert p.conn.total_retrans == 2


def test_limited_transmit_sends_new_data_on_the_first_two_duplicates():
    p = Peer(classic(nodelay=True, initial_window=2)).to_established()
    p.conn.send(bytes(6 * M), 0.0)
    assert [n for *_x, n in p.out()] == [M, M]  # the initial window: two segments
    d = ISS + 1
    assert p.recv(seg(".", PEER_ISS + 1, d)) == [(".", d + 2 * M, PEER_ISS + 1, WIN, M)]
    assert p.recv(seg(".", PEER_ISS + 1, d)) == [(".", d + 3 * M, PEER_ISS + 1, WIN, M)]
    # The third duplicate: fast retransmit of the head; ssthresh = FlightSize / 2 = 2 MSS and
    # cwnd = ssthresh + 3 MSS = 5 MSS with 4 in flight, so one new segment may go too
    # (RFC 5681 3.2, steps 2-4).
    assert p.recv(seg(".", PEER_ISS + 1, d)) == [(".", d, PEER_ISS + 1, WIN, M), (".", d + 4 * M, PEER_ISS + 1, WIN, M)]
    assert p.conn.ssthresh == 2 * M and p.conn.cwnd == 5 * M


def test_retransmission_timeout_forgets_sack_information():
    p = _sack_established()
    p.conn.send(bytes(4 * M), 0.0)
    p.out()
    d = ISS + 1
    _dupack(p, (d + M, d + 2 * M))
    assert p.conn.loss.scoreboard.bytes == M
    p.advance(p.conn.next_deadline())
    assert p.conn.loss.scoreboard.bytes == 0  # RFC 2018 8: the receiver may have reneged
