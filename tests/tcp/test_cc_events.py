"""The engine tells every change of cwnd/ssthresh (CongestionChanged) and of its RTT estimator
(RttChanged): what the graphs of ``tcplab graph`` draw."""

import pytest

from tcplab.tcp.events import CWND_REASONS, CongestionChanged, RttChanged

from .helpers import ISS, PEER_ISS, Peer, classic, seg

M = 1460


def _of(p: Peer, kind: type) -> list:
    return [e for e in p.events() if isinstance(e, kind)]


def test_initial_window_and_first_rtt_sample() -> None:
    p = Peer(classic(nodelay=True, initial_window=2))
    p.now = 0.0
    p.to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=()), at=0.1)  # no MSS option: 536 (RFC 9293 3.7.1)
    assert _of(p, CongestionChanged) == [CongestionChanged(2 * 536, None, "initial window")]
    # the SYN is timed with the initial RTO of 1 s (RFC 6298 2.1); the SYN-ACK gives the first
    # sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR (2.2), above the 200 ms floor
    assert _of(p, RttChanged) == [
        RttChanged(None, None, None, 1.0),
        RttChanged(pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.05), pytest.approx(0.3)),
    ]


def test_reasons_through_loss_and_timeout() -> None:
    # RFC 5681's byte counting (ssthresh = FlightSize / 2); Linux's halves cwnd instead.
    p = Peer(classic(nodelay=True, initial_window=4, cwnd_counting="bytes")).to_established()
    d = ISS + 1
    p.conn.send(bytes(12 * M), 0.0)
    assert len(p.out()) == 4
    sent = p.recv(seg(".", PEER_ISS + 1, d + M), at=0.2)  # one segment acked: slow start, +1 MSS
    cc = _of(p, CongestionChanged)
    assert cc[0].reason == "initial window" and cc[0].ssthresh is None
    assert cc[-1] == CongestionChanged(5 * M, None, "slow start")
    assert len(sent) == 2
    # Three duplicate ACKs: fast retransmit, ssthresh = FlightSize / 2, cwnd = ssthresh + 3 MSS;
    # in flight: the 5 segments plus the 2 that Limited Transmit (RFC 3042) sent on dupacks 1, 2.
    flight = 7 * M
    for _ in range(3):
        p.recv(seg(".", PEER_ISS + 1, d + M), at=0.3)
    assert _of(p, CongestionChanged)[-1] == CongestionChanged(flight // 2 + 3 * M, flight // 2, "fast retransmit")
    p.recv(seg(".", PEER_ISS + 1, d + M), at=0.31)  # a fourth: the window is inflated
    assert _of(p, CongestionChanged)[-1].reason == "recovery: inflated"
    # The retransmission timer fires: cwnd = 1 MSS, RTO doubled (RFC 5681 3.1, RFC 6298 5.5).
    before = p.conn.rtt.rto
    p.advance(p.conn.next_deadline() + 0.0001)
    last = _of(p, CongestionChanged)[-1]
    assert (last.cwnd, last.reason) == (M, "retransmission timeout")
    rtt = _of(p, RttChanged)[-1]
    assert rtt.sample is None and rtt.rto == pytest.approx(2 * before)
    assert {e.reason for e in _of(p, CongestionChanged)} <= set(CWND_REASONS)


def test_no_event_when_nothing_changes() -> None:
    p = Peer(classic(nodelay=True)).to_established()
    n = len(_of(p, CongestionChanged))
    p.recv(seg(".", PEER_ISS + 1, ISS + 1))  # an ACK of nothing new
    assert len(_of(p, CongestionChanged)) == n
