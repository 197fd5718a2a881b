"""A retransmitted SYN answered with the SYN-ACK again is a retransmission, as Linux counts it
(tcp_rtx_synack: TcpRetransSegs and TCPSynRetrans go up, and the accepted socket's
tcpi_total_retrans starts at the request's num_retrans; tcpi_retransmits stays 0). Measured on
this kernel (notes/delack-ato.md): one and two duplicate SYNs, 600 ms apart, give
tcpi_total_retrans 1 and 2 and RetransSegs +1 and +2; a duplicate less than 500 ms after the
last answered one gets no answer (tcp_oow_rate_limited) and is not counted."""

from __future__ import annotations

import pytest

from tcplab.tcp import Config, State

from .helpers import ISS, PEER_ISS, Peer, seg
from .test_linux_profile import SYN_OPTS, M, ts


@pytest.mark.parametrize("dups", [1, 2])
def test_a_duplicate_syn_gets_the_syn_ack_again_counted_as_a_retransmission(dups):
    p = Peer(Config()).to_listen()
    assert [f for f, *_ in p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.0)] == ["S."]
    for i in range(dups):
        assert p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.6 * (i + 1)) == [("S.", ISS, PEER_ISS + 1, 65160, 0)]
    info = p.conn.tcp_info()
    assert (info["total_retrans"], info["retransmits"]) == (dups, 0)
    # The ACK echoes the first SYN-ACK's timestamp (as the kernel peer's did): established
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(1001, p.conn._opening.syn_tsval)), at=1.5)
    assert p.state is State.ESTABLISHED and p.conn.tcp_info()["total_retrans"] == dups


def test_syn_acks_sent_again_for_duplicate_syns_do_not_shrink_the_initial_window():
    """Linux tcp_init_transfer sets cwnd to 1 when total_retrans > 1 and undo_marker is set, which
    only a SYN-ACK timeout does (tcp_create_openreq_child: req->num_timeout): two duplicate SYNs
    and an ACK echoing the latest SYN-ACK still leave the initial window of 10 segments."""
    p = Peer(Config()).to_listen()
    p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.0)
    p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.6)
    p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=1.2)
    assert p.conn.tcp_info()["total_retrans"] == 2
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(1001, p.conn._ts_now(1.2))), at=1.25)
    p.conn.send(bytes(20 * M), p.now)
    assert [len(s.payload) for s in p.raw_out()] == [M] * 10


def test_duplicate_syns_are_answered_at_most_once_per_500ms():
    """Measured: three duplicate SYNs, the second 200 ms after the first: it is not answered."""
    p = Peer(Config()).to_listen()
    p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.0)
    assert [f for f, *_ in p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.2)] == ["S."]
    assert p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.4) == []
    assert [f for f, *_ in p.recv(seg("S", PEER_ISS, options=SYN_OPTS), at=0.9)] == ["S."]
    assert p.conn.tcp_info()["total_retrans"] == 2
