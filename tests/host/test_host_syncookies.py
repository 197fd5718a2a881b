"""SYN cookies (RFC 4987 3.6) with Linux's semantics (net.ipv4.tcp_syncookies 0/1/2, the MSS
table, window scale and SACK-permitted in the timestamp, SyncookiesSent/Recv/Failed), and the
flood they defend against. Linux facts measured on this machine: /work/notes/syncookies.md."""

from __future__ import annotations

import errno

import pytest

from tcplab.host import Host
from tcplab.net.simhost import two_hosts
from tcplab.socket import AF_INET, AF_INET6, Socket
from tcplab.tcp import State
from tcplab.tcp.syncookies import (
    MSS_TABLE_V4,
    MSS_TABLE_V6,
    SynCookies,
    decode_ts_options,
    encode_ts_options,
    mss_index,
)
from tcplab.trace.events import EventLog
from tcplab.wire import MSS, NOP, Flags, SackPermitted, Segment, Timestamps, WindowScale, build_packet, parse_packet

SERVER, CLIENT = "198.18.0.2", "198.18.0.1"
SERVER6, CLIENT6 = "fd00::2", "fd00::1"
PORT = 9527
S, A, R, F, P = Flags.SYN, Flags.ACK, Flags.RST, Flags.FIN, Flags.PSH
SYN_OPTIONS = (MSS(1400), SackPermitted(), Timestamps(1000, 0), NOP(), WindowScale(7))


def seg_packet(sport, seq, ack, flags, options=(), payload=b"", src=CLIENT, dst=SERVER, window=65535):
    return build_packet(src, dst, Segment(sport, PORT, seq, ack, flags, window, options=options, payload=payload))


def sent(host):
    return [parse_packet(p).tcp for p in host.poll_transmit()]


@pytest.fixture
def host():
    return Host("server", [SERVER, SERVER6], log=EventLog(), seed=1)


def listen(host, backlog=16, ip=""):
    sock = Socket(host, AF_INET6 if ":" in ip else AF_INET)
    sock.bind((ip, PORT))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


# ---- the codec ---------------------------------------------------------------------------------
def test_cookie_round_trip_and_mss_table():
    cookies = SynCookies(b"k" * 32)
    local, remote = (SERVER, PORT), (CLIENT, 40000)
    for peer_mss, table_mss in ((100, 536), (536, 536), (1299, 536), (1300, 1300), (1400, 1300), (1460, 1460)):
        cookie, got = cookies.make(local, remote, 5000, peer_mss, now=10.0)
        assert got == table_mss
        # the ACK: SEG.SEQ = client ISN + 1, SEG.ACK = cookie + 1
        assert cookies.check(local, remote, 5001, cookie + 1, now=10.0) == table_mss
        assert cookies.check(local, remote, 5001, cookie + 1, now=119.0) == table_mss  # the next minute
        assert cookies.check(local, remote, 5001, cookie + 1, now=120.0) is None  # two minutes on
        assert cookies.check(local, remote, 9001, cookie + 1, now=10.0) is None  # another client ISN
        assert cookies.check(local, (CLIENT, 40001), 5001, cookie + 1, now=10.0) is None  # another port
        assert cookies.check(local, remote, 5001, cookie + 5, now=10.0) is None  # index beyond the table
    # As in Linux, a cookie is checked through its MSS index: one off in the index is another
    # valid MSS (cookie + 2 for MSS 1300 reads as 1440), one off past the table is no cookie.
    cookie, _ = cookies.make(local, remote, 5000, 1300, now=10.0)
    assert cookies.check(local, remote, 5001, cookie + 2, now=10.0) == 1440
    cookie, _ = cookies.make(local, remote, 5000, 1460, now=10.0)
    assert cookies.check(local, remote, 5001, cookie + 2, now=10.0) is None
    assert SynCookies(b"j" * 32).make(local, remote, 5000, 1460, 10.0) != cookies.make(local, remote, 5000, 1460, 10.0)
    assert [mss_index(MSS_TABLE_V6, m) for m in (1000, 1220, 1400, 1440, 9000)] == [0, 0, 0, 2, 3]
    assert MSS_TABLE_V4 == (536, 1300, 1440, 1460)


def test_timestamp_carries_window_scale_sack_and_ecn():
    for tsval in (0, 63, 64, 1000, 0xFFFFFFFF, 0x12345678):
        for wscale, sack, ecn in ((7, True, False), (None, False, False), (14, False, True), (0, True, True)):
            ts = encode_ts_options(tsval, wscale, sack, ecn)
            assert decode_ts_options(ts) == (wscale, sack, ecn)
            assert (tsval - ts) % 2**32 < 64  # never ahead of the clock, at most 63 ticks behind


# ---- packets -----------------------------------------------------------------------------------
def test_cookie_synack_exact_and_the_ack_rebuilds_the_connection(host):
    host.config.syncookies = 2  # every SYN
    lsock = listen(host)
    host.deliver(seg_packet(40000, 5000, 0, S, SYN_OPTIONS), 1.0)
    [synack] = sent(host)
    assert synack.flags == S | A and synack.ack == 5001
    mss, sackok, ts, nop, ws = synack.options  # Linux's order, our own MSS (not the table's)
    assert (mss, sackok, nop, ws) == (MSS(1460), SackPermitted(), NOP(), WindowScale(host.config.wscale))
    assert ts.ecr == 1000 and decode_ts_options(ts.val) == (7, True, False)
    # Nothing kept: no child, an empty SYN queue.
    assert host.conns == {} and host.listeners[("0.0.0.0", PORT)].syn_queue == {}
    assert host.counters["syncookies_sent"] == 1 and host.counters["passive_opens"] == 0

    cookie = synack.seq
    host.deliver(seg_packet(40000, 5001, cookie + 1, A | P, (NOP(), NOP(), Timestamps(1001, ts.val)), b"hello"), 1.1)
    assert [seg for seg in sent(host) if seg.rst] == []
    conn, peer = lsock.accept()
    assert peer == (CLIENT, 40000)
    assert conn.recv(100) == b"hello"  # data on the cookie's ACK is kept (Linux too)
    engine = conn.connection
    assert engine.state is State.ESTABLISHED
    assert (engine.iss, engine.irs) == (cookie, 5000)
    info = engine.tcp_info()
    assert info["snd_mss"] == 1300 - 12  # the table's 1300 for the SYN's 1400, less timestamps
    assert (info["snd_wscale"], info["sack"], info["timestamps"]) == (7, True, True)
    assert host.counters["syncookies_recv"] == 1 and host.counters["passive_opens"] == 1
    states = [(e["from"], e["to"], e["cause"]) for e in host.log.of_kind("state") if e["conn"].endswith(":40000")]
    assert states == [("LISTEN", "SYN_RCVD", "rcv SYN"), ("SYN_RCVD", "ESTABLISHED", "rcv ACK of SYN")]


def test_without_timestamps_the_cookie_keeps_only_the_mss(host):
    host.config.syncookies = 2
    lsock = listen(host)
    host.deliver(seg_packet(40000, 5000, 0, S, (MSS(100), SackPermitted(), NOP(), NOP(), NOP(), WindowScale(7))), 1.0)
    [synack] = sent(host)
    assert synack.options == (MSS(1460),)  # Linux: no window scale, no SACK without timestamps
    host.deliver(seg_packet(40000, 5001, synack.seq + 1, A), 1.1)
    conn, _ = lsock.accept()
    info = conn.connection.tcp_info()
    # MSS 100 is below the table: 536 (Linux sends 524-byte segments with TS, 536 without)
    assert info["snd_mss"] == 536
    assert conn.connection.rtt.samples == 0  # the cookie's SYN-ACK was not timed: no RTT sample
    assert (info["snd_wscale"], info["rcv_wscale"], info["sack"], info["timestamps"]) == (0, 0, False, False)


def test_ipv6_uses_the_ipv6_table(host):
    host.config.syncookies = 2
    lsock = listen(host, ip="::")
    host.deliver(seg_packet(40000, 7, 0, S, SYN_OPTIONS, src=CLIENT6, dst=SERVER6), 1.0)
    [synack] = sent(host)
    assert synack.option(MSS) == MSS(1440)
    echo = Timestamps(1001, synack.option(Timestamps).val)
    host.deliver(seg_packet(40000, 8, synack.seq + 1, A, (NOP(), NOP(), echo), src=CLIENT6, dst=SERVER6), 1.1)
    conn, _ = lsock.accept()
    assert conn.connection.tcp_info()["snd_mss"] == 1220 - 12  # IPV6_MIN_MTU - 60, less timestamps


def test_bad_cookie_gets_rst_and_counts_failed(host):
    host.config.syncookies = 2
    listen(host)
    # No cookie sent yet: an ACK to the listener is answered as in LISTEN, and not counted.
    host.deliver(seg_packet(39999, 5000, 12345, A), 0.5)
    [rst] = sent(host)
    assert (rst.flags, rst.seq) == (R, 12345)
    assert host.counters["syncookies_failed"] == 0
    host.deliver(seg_packet(40000, 5000, 0, S, (MSS(1460),)), 1.0)
    [synack] = sent(host)
    host.deliver(seg_packet(40000, 5001, synack.seq + 2, A), 1.1)  # one off: MSS index 4, none
    [rst] = sent(host)
    assert (rst.flags, rst.seq) == (R, synack.seq + 2)  # <SEQ=SEG.ACK><CTL=RST>, as Linux measured
    assert host.counters["syncookies_failed"] == 1 and host.conns == {}
    # The right cookie afterwards still works.
    host.deliver(seg_packet(40000, 5001, synack.seq + 1, A), 1.2)
    assert sent(host) == [] and host.counters["syncookies_recv"] == 1


def test_cookies_expire_after_two_minutes(host):
    host.config.syncookies = 2
    listen(host)
    host.deliver(seg_packet(40000, 5000, 0, S), 10.0)
    [old] = sent(host)
    host.deliver(seg_packet(40001, 9000, 0, S), 125.0)  # a recent cookie keeps cookie checks on
    sent(host)
    host.deliver(seg_packet(40000, 5001, old.seq + 1, A), 130.0)
    [rst] = sent(host)
    assert rst.flags == R and host.counters["syncookies_failed"] == 1


def test_mode_1_sends_cookies_only_when_the_syn_queue_is_full(host):
    listen(host, backlog=1)
    answers = []
    for port in (41000, 41001, 41002, 41003):
        host.deliver(seg_packet(port, 7000, 0, S, SYN_OPTIONS), 1.0)
        [synack] = sent(host)
        answers.append(synack.flags)
    assert answers == [S | A] * 4
    # backlog 1: two children in the SYN queue (full above the backlog), then cookies
    assert len(host.listeners[("0.0.0.0", PORT)].syn_queue) == 2
    assert host.counters["syncookies_sent"] == 2 and host.counters["listen_drops"] == 0
    notes = [e["text"] for e in host.log.of_kind("note")]
    assert notes == ["possible SYN flooding on 0.0.0.0:9527-*:*. Sending cookies."]


def test_cookie_ack_dropped_while_the_accept_queue_is_full(host):
    host.config.syncookies = 2
    listen(host, backlog=0)
    host.deliver(seg_packet(40000, 5000, 0, S), 1.0)
    [a] = sent(host)
    host.deliver(seg_packet(40001, 6000, 0, S), 1.0)
    [b] = sent(host)
    host.deliver(seg_packet(40000, 5001, a.seq + 1, A), 1.1)
    assert sent(host) == []  # accepted into the queue (backlog 0 still takes one)
    host.deliver(seg_packet(40001, 6001, b.seq + 1, A), 1.1)
    assert sent(host) == []  # the queue is full: dropped, no RST (tcp_abort_on_overflow=0)
    assert host.counters["listen_overflows"] == 1
    assert (SERVER, PORT, CLIENT, 40001) not in host.conns


def test_syncookies_off_drops(host):
    host.config.syncookies = 0
    listen(host, backlog=0)
    host.deliver(seg_packet(40000, 5000, 0, S), 1.0)
    assert len(sent(host)) == 1
    host.deliver(seg_packet(40001, 5000, 0, S), 1.0)
    assert sent(host) == []
    assert host.counters["listen_drops"] == 1
    assert [e["text"] for e in host.log.of_kind("note")] == [
        "possible SYN flooding on 0.0.0.0:9527-*:*. Dropping request."
    ]


# ---- the flood ---------------------------------------------------------------------------------
def _flood(net, server, n, t):
    """``n`` spoofed SYNs (sources nobody owns: the SYN-ACKs go nowhere)."""
    for i in range(n):
        src = f"203.0.113.{i % 250 + 1}"
        packet = build_packet(src, SERVER, Segment(1024 + i, PORT, 1000 * i, 0, S, 65535, options=SYN_OPTIONS))
        net.call_at(t, lambda p=packet: net.inject("client", p))


def test_a_legitimate_client_is_served_during_a_syn_flood():
    # The attack of issue 15: 128 spoofed SYNs every 63 s (2 packets/s) fill a backlog-128 SYN
    # queue for good; before SYN cookies every legitimate client timed out (ETIMEDOUT, 127 s).
    net, client, server = two_hosts(seed=3)
    srv = Socket(server)
    srv.bind(("", PORT))
    srv.listen(128)
    for k in range(4):
        _flood(net, server, 129, 63.0 * k)
    net.run(until=30.0)
    assert len(server.listeners[("0.0.0.0", PORT)].syn_queue) == 129  # full (above 128)
    c = Socket(client)
    c.settimeout(200)
    t0 = net.now
    c.connect((SERVER, PORT))
    assert net.now - t0 == pytest.approx(0.02, abs=1e-6)  # one round trip: no retransmitted SYN
    conn, _ = srv.accept()
    c.sendall(b"ping")
    assert conn.recv(10) == b"ping"
    conn.sendall(b"pong" * 1000)
    got = b""
    while len(got) < 4000:
        got += c.recv(4096)
    assert got == b"pong" * 1000
    assert server.counters["syncookies_recv"] == 1
    assert server.counters["syncookies_sent"] >= 1
    c.close()
    conn.close()


def test_without_cookies_the_flood_denies_service():
    # The same flood with tcp_syncookies=0 (what tcplab did before): the client times out.
    net, client, server = two_hosts(seed=3)
    server.config.syncookies = 0
    srv = Socket(server)
    srv.bind(("", PORT))
    srv.listen(128)
    for k in range(4):
        _flood(net, server, 129, 63.0 * k)
    net.run(until=30.0)
    c = Socket(client)
    c.settimeout(300)
    with pytest.raises(OSError) as exc:
        c.connect((SERVER, PORT))
    assert exc.value.errno == errno.ETIMEDOUT
