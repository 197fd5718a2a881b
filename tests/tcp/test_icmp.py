"""ICMP errors and TCP (RFC 1122 4.2.3.9, RFC 5927, RFC 1191/8201), as Linux reads them:
tcplab.tcp.icmp.report and Connection.icmp_arrives."""

from __future__ import annotations

import errno

from tcplab.tcp import State
from tcplab.tcp.events import Unreachable
from tcplab.tcp.icmp import report

from .helpers import ISS, PEER_ISS, Peer, classic, seg

PORT_UNREACHABLE = report(4, 3, 3)
HOST_UNREACHABLE = report(4, 3, 1)


def test_report_reads_types_and_codes_as_linux():
    assert (PORT_UNREACHABLE.errno, PORT_UNREACHABLE.fatal) == (errno.ECONNREFUSED, True)
    assert (HOST_UNREACHABLE.errno, HOST_UNREACHABLE.fatal, HOST_UNREACHABLE.drops_request) == (
        errno.EHOSTUNREACH,
        False,
        True,
    )
    frag = report(4, 3, 4, 1200)
    assert (frag.errno, frag.mtu) == (errno.EMSGSIZE, 1200)
    assert report(4, 4, 0) is None  # source quench: ignored (RFC 6633)
    assert report(4, 5, 1) is None  # redirect
    assert report(4, 11, 0).errno == errno.EHOSTUNREACH  # time exceeded
    assert report(6, 1, 4).errno == errno.ECONNREFUSED  # IPv6 port unreachable
    assert report(6, 2, 0, 1280).mtu == 1280  # packet too big


def test_syn_sent_ends_with_the_errno():
    p = Peer().to_syn_sent()
    assert p.conn.icmp_arrives(PORT_UNREACHABLE, ISS, 0.01)
    assert p.state is State.CLOSED and p.conn.error == errno.ECONNREFUSED
    assert any(isinstance(e, Unreachable) and e.errno == errno.ECONNREFUSED for e in p.events())
    assert ("SYN_SENT", "CLOSED", "rcv ICMP error") in p.transitions


def test_out_of_window_quote_is_ignored():
    """RFC 5927 4.1: the quoted sequence number must lie in SND.UNA..SND.NXT."""
    p = Peer().to_syn_sent()
    assert not p.conn.icmp_arrives(PORT_UNREACHABLE, ISS + 5000, 0.01)
    assert p.state is State.SYN_SENT


def test_established_keeps_a_soft_error_reported_once():
    p = Peer().to_established()
    assert p.conn.icmp_arrives(HOST_UNREACHABLE, ISS + 1, 0.01)
    assert p.state is State.ESTABLISHED
    assert p.conn.take_soft_error() == errno.EHOSTUNREACH
    assert p.conn.take_soft_error() == 0
    # even a hard error only informs a synchronized connection (RFC 1122 4.2.3.9)
    p.conn.icmp_arrives(PORT_UNREACHABLE, ISS + 1, 0.02)
    assert p.state is State.ESTABLISHED


def test_passive_syn_rcvd_goes_back_to_listen_on_host_unreachable_only():
    p = Peer().to_syn_rcvd()
    p.out()
    assert p.conn.icmp_arrives(PORT_UNREACHABLE, ISS, 0.01)
    assert p.state is State.SYN_RCVD  # Linux tcp_req_err leaves it
    assert p.conn.icmp_arrives(HOST_UNREACHABLE, ISS, 0.02)
    assert p.state is State.LISTEN
    p.events()
    assert ("SYN_RCVD", "LISTEN", "rcv ICMP error") in p.transitions


def test_fragmentation_needed_lowers_the_segment_size_and_resends_what_is_too_big():
    p = Peer(classic(snd_buf=100000)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1))  # the peer's window: 65535
    assert p.conn.send(b"x" * 2920, 0.0) == 2920
    assert [s[4] for s in p.out()] == [1460, 1460]
    assert p.conn.icmp_arrives(report(4, 3, 4, 1200), ISS + 1, 0.01)
    assert p.conn.path_mtu == 1200
    sent = p.out()
    assert [(s[0], s[1], s[4]) for s in sent] == [
        (".", ISS + 1, 1160),
        (".", ISS + 1161, 1160),
        ("P.", ISS + 2321, 600),
    ]
    # a report of a larger MTU, or one below the floor, does not raise it / goes to 552
    p.conn.icmp_arrives(report(4, 3, 4, 1400), ISS + 1, 0.02)
    assert p.conn.path_mtu == 1200
    p.conn.icmp_arrives(report(4, 3, 4, 300), ISS + 1, 0.03)
    assert p.conn.path_mtu == 552
