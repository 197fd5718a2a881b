"""The options and flags that are TCP behaviour, segment by segment on the simulated network:
TCP_CORK, MSG_MORE, MSG_EOR, TCP_NOTSENT_LOWAT, SO_LINGER; and TCP_INFO's bytes against the
engine. (tests/socket/test_socket_kernel.py compares the same with the kernel.)"""

from __future__ import annotations

import errno

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import (
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_MORE,
    SHUT_WR,
    SO_LINGER,
    SO_RCVBUF,
    SO_RCVLOWAT,
    SOL_SOCKET,
    TCP_CORK,
    TCP_INFO,
    TCP_NOTSENT_LOWAT,
    Socket,
    tcpinfo,
    wait,
)
from tcplab.tcp.states import State

SERVER = ("198.18.0.2", 9527)


def bench(**kw):
    net, client, server = two_hosts(**kw)
    lst = Socket(server)
    lst.bind(SERVER)
    lst.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    srv, _ = lst.accept()
    net.run(until=net.now + 1)
    return net, cli, srv


def data_segments(net, src="client", after=0.0):
    """(time, flags, seq, len) of the data segments ``src`` sent after ``after``."""
    return [
        (round(e["t"], 6), e["flags"], e["seq"], e["len"])
        for e in net.log.of_kind("segment")
        if e["src"] == src and e["len"] and e["t"] >= after
    ]


def test_tcp_cork_holds_partial_segments_until_uncorked():
    net, cli, srv = bench()
    start = net.now
    cli.setsockopt(IPPROTO_TCP, TCP_CORK, 1)
    cli.send(b"a" * 100)
    cli.send(b"b" * 100)
    net.run(until=net.now + 0.1)
    assert data_segments(net, after=start) == []  # corked: nothing yet
    cli.setsockopt(IPPROTO_TCP, TCP_CORK, 0)
    net.run(until=net.now + 0.1)
    assert data_segments(net, after=start) == [(round(start + 0.1, 6), "P.", 1, 200)]
    assert srv.recv(1000) == b"a" * 100 + b"b" * 100


def test_corked_data_goes_out_after_one_rto_and_full_segments_are_not_held():
    net, cli, _srv = bench()
    rto = cli.tcp_info()["rto"]
    cli.setsockopt(IPPROTO_TCP, TCP_CORK, 1)
    start = net.now
    cli.send(b"x" * 3000)  # two full segments go at once, the 104-byte tail waits
    net.run(until=net.now + 2)
    mss = cli.tcp_info()["snd_mss"]
    segs = data_segments(net, after=start)
    assert [s[3] for s in segs] == [mss, mss, 3000 - 2 * mss]
    assert segs[0][0] == segs[1][0] == start
    # the tail goes when the persist (probe) timer fires: one RTO after nothing was in flight
    acked_at = start + 0.02
    assert segs[2][0] == pytest.approx(acked_at + rto, abs=1e-6)


def test_fin_flushes_corked_data():
    net, cli, _srv = bench()
    start = net.now
    cli.setsockopt(IPPROTO_TCP, TCP_CORK, 1)
    cli.send(b"z" * 10)
    cli.shutdown(SHUT_WR)
    net.run(until=net.now + 0.1)
    assert data_segments(net, after=start) == [(start, "FP.", 1, 10)]


def test_msg_more_holds_the_tail_until_a_send_without_it():
    net, cli, srv = bench()
    start = net.now
    cli.send(b"a" * 100, MSG_MORE)
    net.run(until=net.now + 0.1)
    assert data_segments(net, after=start) == []
    cli.send(b"b" * 50)
    net.run(until=net.now + 0.1)
    assert data_segments(net, after=start) == [(round(start + 0.1, 6), "P.", 1, 150)]
    assert srv.recv(1000) == b"a" * 100 + b"b" * 50


def test_msg_more_alone_goes_after_one_rto():
    net, cli, _srv = bench()
    rto = cli.tcp_info()["rto"]
    start = net.now
    cli.send(b"m" * 100, MSG_MORE)
    net.run(until=net.now + 2)
    [seg] = data_segments(net, after=start)
    assert seg[1:] == ("P.", 1, 100) and seg[0] == pytest.approx(start + rto, abs=1e-6)


def test_msg_eor_ends_a_segment_at_the_record_boundary():
    net, cli, _srv = bench()
    mss = cli.tcp_info()["snd_mss"]
    start = net.now
    cli.send(b"r" * 2000, MSG_EOR)  # record 1: 2000 bytes
    cli.send(b"s" * 2000)  # record 2 begins in a segment of its own
    net.run(until=net.now + 1)
    lengths = [s[3] for s in data_segments(net, after=start)]
    assert lengths[:2] == [mss, 2000 - mss]
    assert sum(lengths) == 4000 and lengths[2] == mss  # no segment mixes the two records
    seqs = [s[2] for s in data_segments(net, after=start)]
    assert 2001 in seqs  # a segment starts exactly at the boundary


def test_tcp_notsent_lowat_stops_queueing_and_writability():
    net, client, server = two_hosts()
    lst = Socket(server)
    lst.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)  # a small window that the peer never reads
    lst.bind(SERVER)
    lst.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    srv, _ = lst.accept()
    cli.setsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 10000)
    cli.setblocking(False)
    sent = 0
    with pytest.raises(BlockingIOError) as exc:
        while True:
            sent += cli.send(b"n" * 3000)
            net.run(until=net.now + 0.05)
    assert exc.value.errno == errno.EAGAIN
    unsent = cli.connection.unsent
    assert unsent >= 10000 > unsent - 3000  # the last send was admitted below the mark
    assert sent < cli.connection.config.snd_buf  # the send buffer is far from full
    assert wait([], [cli], 0) == ([], [])
    srv.setblocking(False)
    while cli.connection.unsent * 2 >= 10000:
        srv.recv(100_000)
        net.run(until=net.now + 0.5)
    assert wait([], [cli], 0) == ([], [cli])  # writable again below half the mark
    info = tcpinfo.unpack(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
    assert info["notsent_bytes"] == cli.connection.unsent


def test_so_linger_close_waits_its_time_then_leaves_an_orphan():
    net, cli, _srv = bench()
    cli.setsockopt(SOL_SOCKET, SO_LINGER, (1, 3))
    cli.setblocking(False)  # Linux lingers whatever O_NONBLOCK says
    net.links[0].set(loss=1.0)
    conn = cli.connection
    start = net.now
    cli.close()
    assert net.now - start == pytest.approx(3)
    assert conn.state is State.FIN_WAIT_1  # not acknowledged: the FIN goes on being retransmitted


def test_tcp_info_bytes_match_the_engine():
    net, cli, srv = bench()
    cli.sendall(b"d" * 5000)
    net.run(until=net.now + 1)
    srv.recv(10_000)
    raw = cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512)
    assert len(raw) == 280
    info = tcpinfo.unpack(raw)
    eng = cli.tcp_info()
    assert info["state"] == 1
    assert info["rto"] == round(eng["rto"] * 1e6)
    assert info["snd_mss"] == eng["snd_mss"] and info["rcv_mss"] == eng["rcv_mss"]
    assert info["snd_cwnd"] == eng["cwnd"]
    assert info["rtt"] == round(eng["rtt"] * 1e6)
    assert info["options"] == 7  # TS, SACK, window scaling
    assert (info["snd_wscale"], info["rcv_wscale"]) == (eng["snd_wscale"], eng["rcv_wscale"])
    assert info["bytes_acked"] == 5001 and info["bytes_sent"] == 5000
    assert info["data_segs_out"] == 4 and info["bytes_retrans"] == 0
    assert info["snd_wnd"] == eng["snd_wnd"] and info["rcv_wnd"] == eng["rcv_wnd"]
    last = data_segments(net)[-1][0]
    assert info["last_data_sent"] == round((net.now - last) * 1000)  # milliseconds ago


def test_so_rcvlowat_above_the_receive_buffer_still_lets_select_see_a_full_buffer():
    net, cli, srv = bench()
    srv.setsockopt(SOL_SOCKET, SO_RCVLOWAT, 10_000_000)  # more than the 128 KiB buffer holds
    assert srv.getsockopt(SOL_SOCKET, SO_RCVLOWAT) == 10_000_000  # (Linux caps at tcp_rmem[2]/2)
    cli.sendall(b"q" * 200_000)  # more than the window: the rest stays in cli's send buffer
    net.run(until=net.now + 1)
    # Linux tcp_epollin_ready: a window down to one segment makes the socket readable anyway
    assert wait([srv], [], 0) == ([srv], [])
    got = srv.recv(1 << 20, MSG_DONTWAIT)
    assert len(got) >= srv.connection.config.rcv_buf - srv.connection.rcv_mss
