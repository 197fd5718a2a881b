"""ECN (RFC 3168) segment by segment, as Linux does it (notes/linux-behaviour.md H): the
negotiation, ECT(0) on new data only, the receiver's echo until CWR, the sender's reduction."""

import pytest

from tcplab.tcp import Config
from tcplab.tcp.congestion import Phase
from tcplab.wire.tcp import ECN_CE, ECN_ECT0, ECN_NOT_ECT, MSS, NOP, SackPermitted, flags_str

from .helpers import ISS, PEER_ISS, Peer, seg

M = 1460
D = ISS + 1
A = PEER_ISS + 1


def plain(**changes) -> Config:
    base = dict(window_scaling=False, timestamps=False, rcv_buf=65535, snd_buf=65535, nodelay=True)
    base.update(changes)
    return Config(**base)


def marked(s, ecn: int):
    s.ecn = ecn
    return s


def client(ecn: int, answer: str) -> Peer:
    p = Peer(plain(ecn=ecn))
    p.conn.connect(p.now)
    [syn] = p.raw_out()
    p.syn = syn
    p.conn.segment_arrives(seg(answer, PEER_ISS, ISS + 1, options=(MSS(1460), NOP(), NOP(), SackPermitted())), 0.1)
    p.now = 0.1
    return p


def server(ecn: int, syn_flags: str, ip_ecn: int = ECN_NOT_ECT):
    p = Peer(plain(ecn=ecn)).to_listen()
    p.conn.segment_arrives(marked(seg(syn_flags, PEER_ISS, options=(MSS(1460),)), ip_ecn), p.now)
    [synack] = p.raw_out()
    return p, synack


# ---------------------------------------------------------------------------- negotiation
def test_tcp_ecn_1_asks_in_its_syn_and_marks_data_when_granted():
    p = client(1, "SE.")
    assert flags_str(p.syn.flags) == "SEW" and p.syn.ecn == ECN_NOT_ECT  # RFC 3168 6.1.1
    assert p.conn.ecn.ok and p.conn.tcp_info()["ecn"]
    [ack] = p.raw_out()
    assert flags_str(ack.flags) == "." and ack.ecn == ECN_NOT_ECT  # pure ACKs are not ECT
    p.conn.send(b"x" * 100, p.now)
    [data] = p.raw_out()
    assert flags_str(data.flags) == "P." and data.ecn == ECN_ECT0


def test_a_plain_syn_ack_means_no_ecn():
    p = client(1, "S.")
    assert not p.conn.ecn.ok
    p.out()
    p.conn.send(b"x" * 100, p.now)
    assert p.raw_out()[0].ecn == ECN_NOT_ECT


@pytest.mark.parametrize("ecn", [0, 2])
def test_tcp_ecn_0_and_2_do_not_ask(ecn):
    p = Peer(plain(ecn=ecn))
    p.conn.connect(p.now)
    assert flags_str(p.raw_out()[0].flags) == "S"


@pytest.mark.parametrize(
    ("ecn", "syn", "ip_ecn", "answer"),
    [
        (2, "SEW", ECN_NOT_ECT, "SE."),  # Linux's default accepts when asked
        (1, "SEW", ECN_NOT_ECT, "SE."),
        (0, "SEW", ECN_NOT_ECT, "S."),
        (2, "SE", ECN_NOT_ECT, "S."),  # ECE without CWR is no ECN-setup SYN
        (2, "SEW", ECN_ECT0, "S."),  # an ECN-capable SYN packet is refused (RFC 3168 6.1.1)
    ],
)
def test_the_server_answers_an_ecn_setup_syn(ecn, syn, ip_ecn, answer):
    p, synack = server(ecn, syn, ip_ecn)
    assert flags_str(synack.flags) == answer and synack.ecn == ECN_NOT_ECT
    assert p.conn.ecn.ok is (answer == "SE.")


def test_a_retransmitted_syn_asks_no_more():
    p = Peer(plain(ecn=1))
    p.conn.connect(p.now)
    p.out()
    sent = p.advance(1.01)
    assert sent[0][1] == "S"  # Linux tcp_ecn_fallback: ECN-setup SYNs may be dropped


# ---------------------------------------------------------------------------- receiver
def test_ce_is_echoed_on_every_ack_until_cwr():
    p, _ = server(2, "SEW")
    p.recv(seg(".", A, D))
    assert p.conn.state.name == "ESTABLISHED"
    # Congestion experienced on a data segment: ECE at once (RFC 3168 6.1.3).
    assert [s[0] for s in p.recv(marked(seg("P.", A, D, data=b"a" * 100), ECN_CE))] == ["E."]
    # Every ACK carries ECE, also for data without CE, until a segment with CWR.
    later = p.recv(marked(seg("P.", A + 100, D, data=b"b" * 100), ECN_ECT0)) + [s[1:] for s in advance(p)]
    assert later and all(s[0] == "E." for s in later)
    after = p.recv(marked(seg("PW.", A + 200, D, data=b"c" * 100), ECN_ECT0)) + [s[1:] for s in advance(p)]
    assert after and all(s[0] == "." for s in after)


def advance(p: Peer) -> list[tuple]:
    return p.advance(p.now + 0.5)


def raw_until(p: Peer, to: float) -> list:
    """Run the timers until ``to``; the segments sent, as Segments."""
    out = []
    while (d := p.conn.next_deadline()) is not None and d <= to:
        p.now = d
        p.conn.handle_timeout(d)
        out += p.raw_out()
    return out


def test_ce_on_a_pure_ack_or_without_ecn_is_ignored():
    p, _ = server(2, "SEW")
    p.recv(seg(".", A, D))
    assert p.recv(marked(seg(".", A, D), ECN_CE)) == []
    q, _ = server(0, "SEW")
    q.recv(seg(".", A, D))
    q.recv(marked(seg("P.", A, D, data=b"a" * 100), ECN_CE))
    assert all("E" not in s[1] for s in q.advance(1.0))


# ---------------------------------------------------------------------------- sender
def test_an_echo_reduces_the_window_once_and_the_next_data_carries_cwr():
    p = client(1, "SE.")
    p.out()
    p.conn.send(bytes(10 * M), p.now)
    assert len(p.out()) == 10
    # The peer saw CE: its ACK of two segments carries ECE. CWR: ssthresh = 0.7 cwnd (CUBIC)
    # and PRR shrinks the window towards it (RFC 3168 6.1.2 with RFC 6937, as Linux).
    assert p.recv(seg("E.", A, D + 2 * M), at=0.2) == []  # nothing queued to send
    assert p.conn.cc.phase is Phase.CWR and p.conn.ssthresh == 7 * M
    # A second echo in the same window reduces nothing more.
    p.recv(seg("E.", A, D + 3 * M), at=0.21)
    assert p.conn.ssthresh == 7 * M
    # The first new data segment after the reduction carries CWR (PRR lets one go).
    p.conn.send(bytes(3 * M), p.now)
    new = p.raw_out()
    assert [flags_str(s.flags) for s in new] == ["W."] and new[0].ecn == ECN_ECT0
    # The window of data outstanding at the echo is acknowledged: CWR ends at ssthresh, and
    # the next segments carry no CWR.
    p.conn.segment_arrives(seg(".", A, D + 11 * M), 0.3)
    assert p.conn.cc.phase is Phase.OPEN and p.conn.cwnd >= 7 * M
    assert [flags_str(s.flags) for s in p.raw_out()] == [".", "P."]


def test_a_retransmission_is_not_ect():
    p = client(1, "SE.")
    p.out()
    p.conn.send(bytes(M), p.now)
    assert p.raw_out()[0].ecn == ECN_ECT0
    rexmit = [s for s in raw_until(p, 2.0) if s.payload]
    assert len(rexmit) >= 2  # the tail loss probe and the RTO
    assert all(s.ecn == ECN_NOT_ECT for s in rexmit)
