"""Listener queues with Linux's backlog semantics, SYN_RCVD children (retransmission, expiry,
RST back to LISTEN), closing a listener."""

from __future__ import annotations

import errno

import pytest

from tcplab.host import Host
from tcplab.socket import Socket
from tcplab.tcp.states import State
from tcplab.trace.events import EventLog
from tcplab.wire import Flags, Segment, build_packet, parse_packet

SERVER = "198.18.0.2"
CLIENT = "198.18.0.1"
A, S, R = Flags.ACK, Flags.SYN, Flags.RST


def packet(sport, seq, ack, flags, dport=9527):
    return build_packet(CLIENT, SERVER, Segment(sport, dport, seq, ack, flags, 65535))


def sent(host):
    return [parse_packet(p).tcp for p in host.poll_transmit()]


def syn(host, sport, t=1.0):
    host.deliver(packet(sport, 1000, 0, S), t)
    out = sent(host)
    return out[0].seq if out else None  # the child's ISS, None when dropped


def ack(host, sport, iss, t=1.1):
    host.deliver(packet(sport, 1001, iss + 1, A), t)
    return sent(host)


@pytest.fixture
def host():
    return Host("server", [SERVER], log=EventLog())


def listen(host, backlog):
    sock = Socket(host)
    sock.bind((SERVER, 9527))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock, host.listeners[(SERVER, 9527)]


def test_syn_queue_full_drops_syn_without_cookies(host):
    host.config.syncookies = 0  # net.ipv4.tcp_syncookies=0
    _sock, lst = listen(host, 1)
    assert syn(host, 40001) is not None
    assert syn(host, 40002) is not None
    # The SYN queue holds backlog + 1 children, as Linux 6.18 measured (full when MORE than
    # backlog); the next SYN is dropped without an answer.
    assert syn(host, 40003) is None
    assert host.counters["listen_drops"] == 1
    assert host.counters["listen_overflows"] == 0
    assert host.counters["syncookies_sent"] == 0
    assert list(lst.syn_queue) == [(SERVER, 9527, CLIENT, 40001), (SERVER, 9527, CLIENT, 40002)]


def test_accept_queue_holds_backlog_plus_one_then_drops_syns(host):
    _sock, lst = listen(host, 1)
    ack(host, 40001, syn(host, 40001))
    ack(host, 40002, syn(host, 40002))
    assert len(lst.accept_queue) == 2  # Linux: full only when MORE than backlog
    assert syn(host, 40003) is None
    assert host.counters["listen_overflows"] == 1
    assert host.counters["listen_drops"] == 1
    assert (SERVER, 9527, CLIENT, 40003) not in host.conns


def test_final_ack_dropped_while_accept_queue_full_child_retransmits(host):
    sock, lst = listen(host, 2)
    ack(host, 40001, syn(host, 40001))
    ack(host, 40002, syn(host, 40002))
    iss3 = syn(host, 40003)  # accept queue 2, not full (full is > 2): a child in SYN_RCVD
    assert iss3 is not None
    ack(host, 40004, syn(host, 40004))  # another completes first: the queue is now full (3)
    assert len(lst.accept_queue) == 3
    child = host.conns[(SERVER, 9527, CLIENT, 40003)].conn
    out = ack(host, 40003, iss3, t=1.3)
    assert out == []  # the final ACK is dropped (tcp_abort_on_overflow=0), no RST
    assert child.state is State.SYN_RCVD
    assert host.counters["listen_overflows"] == 1
    assert host.counters["listen_drops"] == 1
    # the child retransmits its SYN-ACK on its timer
    deadline = host.next_deadline()
    assert deadline is not None
    host.handle_timeout(deadline)
    [again] = sent(host)
    assert again.flags == S | A and again.seq == iss3
    # accept() makes room: the next ACK completes the handshake
    _first, peer = sock.accept()
    assert peer == (CLIENT, 40001)
    ack(host, 40003, iss3, t=deadline + 0.1)
    assert child.state is State.ESTABLISHED
    assert [ep.conn.remote[1] for ep in lst.accept_queue] == [40002, 40004, 40003]


def test_syn_rcvd_child_expires_after_synack_retries(host):
    _sock, lst = listen(host, 4)
    syn(host, 40001)
    child = host.conns[(SERVER, 9527, CLIENT, 40001)]
    retransmits = 0
    while (deadline := host.next_deadline()) is not None:
        host.handle_timeout(deadline)
        retransmits += sum(1 for seg in sent(host) if seg.flags == S | A)
    assert retransmits == host.config.synack_retries  # 5, as Linux
    assert child.conn.state is State.CLOSED
    assert host.conns == {} and lst.syn_queue == {}
    last = host.log.of_kind("state")[-1]
    assert (last["from"], last["to"], last["cause"]) == ("SYN_RCVD", "CLOSED", "timeout")
    assert host.counters["failed_attempts"] == 1


def test_rst_to_syn_rcvd_child_back_to_listen_and_discarded(host):
    _sock, lst = listen(host, 4)
    iss = syn(host, 40001)
    host.deliver(packet(40001, 1001, iss + 1, R), 1.5)
    assert host.conns == {} and lst.syn_queue == {}
    last = host.log.of_kind("state")[-1]
    assert (last["from"], last["to"], last["cause"]) == ("SYN_RCVD", "LISTEN", "rcv RST")
    assert host.next_deadline() is None
    # the listener itself is untouched
    assert syn(host, 40002) is not None


def test_closing_listener_resets_unaccepted_children(host):
    sock, _lst = listen(host, 4)
    iss1 = syn(host, 40001)
    ack(host, 40001, iss1)  # in the accept queue
    syn(host, 40002)  # in the SYN queue
    sock.close()
    out = sent(host)
    # measured (notes/linux-behaviour.md I): `R. 1:1(0) ack 1 win 64 <TS>` to the accepted child
    assert [(seg.dst_port, seg.flags, seg.seq, seg.ack) for seg in out] == [(40001, R | A, iss1 + 1, 1001)]
    assert host.conns == {}
    assert host.listeners == {}
    # the port now answers with RST
    host.deliver(packet(40003, 5, 0, S), 2.0)
    [rst] = sent(host)
    assert rst.flags == R | A


def test_backlog_is_capped_at_somaxconn_and_relisten_updates_it(host):
    sock, lst = listen(host, 100000)
    assert lst.backlog == 4096
    sock.listen(3)
    assert lst.backlog == 3


def test_accept_nonblocking_empty_queue_is_eagain(host):
    sock, _lst = listen(host, 4)
    with pytest.raises(BlockingIOError) as exc:
        sock.accept()
    assert exc.value.errno == errno.EAGAIN


def test_child_reset_in_accept_queue_is_still_accepted_then_econnreset(host):
    sock, lst = listen(host, 4)
    iss = syn(host, 40001)
    ack(host, 40001, iss)
    host.deliver(packet(40001, 1001, iss + 1, R), 1.5)
    assert host.conns == {}
    assert len(lst.accept_queue) == 1  # Linux keeps it there
    conn, peer = sock.accept()
    assert peer == (CLIENT, 40001)
    with pytest.raises(ConnectionResetError):
        conn.recv(10)
    assert conn.recv(10) == b""


def test_syn_fin_to_a_listener_is_dropped(host):
    # Linux (tcp_rcv_state_process, LISTEN): a SYN+FIN is discarded silently, no child, no RST.
    _sock, lst = listen(host, 4)
    host.deliver(packet(40001, 1000, 0, S | Flags.FIN), 1.0)
    assert sent(host) == []
    assert lst.syn_queue == {} and host.conns == {}
    assert host.counters["passive_opens"] == 0
