"""The `linux` profile shows what this machine's kernel does (notes/linux-behaviour.md B, C, I, J
and notes/linux-engine-notes.md): quick ACKs, the window scale and windows, receive-buffer
auto-tuning, congestion-window counting, the restart after idle, the RTO after a lost SYN.

The connection under test plays the kernel's part; the test is the peer, whose SYN is
`<mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7>` as in the kernel experiments.
"""

from __future__ import annotations

import errno
import itertools

import pytest

from tcplab.net.pipe import Pipe
from tcplab.tcp import Config, State, profile
from tcplab.tcp.congestion import ARBITRARILY_HIGH
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import MSS, NOP, SackPermitted, Timestamps, WindowScale

from .helpers import ISS, PEER_ISS, Peer, seg

SYN_OPTS = (MSS(1460), SackPermitted(), Timestamps(1000, 0), NOP(), WindowScale(7))
M = 1448  # payload of a full segment with timestamps


def ts(val: int = 1001, ecr: int = 0) -> tuple:
    return (NOP(), NOP(), Timestamps(val, ecr))


def server(config: Config | None = None) -> Peer:
    """A passive open completed at t=0 (so the RTT is 0 and the RTO its 200 ms floor)."""
    p = Peer(config or Config()).to_listen()
    p.conn.segment_arrives(seg("S", PEER_ISS, options=SYN_OPTS), p.now)
    (synack,) = p.raw_out()
    p.synack = synack
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts()), p.now)
    assert p.raw_out() == []
    return p


def ack_delays(p: Peer, sizes: list[int], gap: float, start: float) -> list[float | None]:
    """Send segments of ``sizes`` every ``gap`` seconds from ``start`` (nobody reads); for each,
    how long its ACK took (None: none before the next segment)."""
    seq = p.conn.rcv_nxt
    out = []
    t = start
    for n in sizes:
        got = p.recv(seg("P.", seq, ISS + 1, win=512, data=bytes(n), options=ts()), at=t)
        seq += n
        if got:
            out.append(0.0)
        else:
            later = p.advance(t + gap - 1e-6)
            out.append(round(later[0][0] - t, 6) if later else None)
        t += gap
    return out


# --------------------------------------------------------------------------- windows
def test_syn_and_syn_ack_windows_and_scale_as_measured():
    """Kernel SYN: `win 64240 <mss 1460,sackOK,TS,nop,wscale 10>`; SYN-ACK to a TS SYN:
    `win 65160` (whole 1448-byte segments); without timestamps 64240 (notes B)."""
    p = Peer(Config())
    p.conn.connect(0.0)
    (syn,) = p.raw_out()
    assert (syn.window, syn.option(WindowScale)) == (64240, WindowScale(10))
    assert server().synack.window == 65160
    q = Peer(Config()).to_listen()
    q.conn.segment_arrives(seg("S", PEER_ISS, options=(MSS(1460), SackPermitted(), NOP(), WindowScale(7))), 0.0)
    (synack,) = q.raw_out()
    assert synack.window == 64240


def test_ipv6_windows():
    """IPv6 (MSS 1440): SYN 64800, SYN-ACK with timestamps 64260 (notes B)."""
    p = Peer(Config(mss=1440))
    p.conn.connect(0.0)
    assert p.raw_out()[0].window == 64800
    assert server(Config(mss=1440)).synack.window == 64260


@pytest.mark.parametrize(
    ("rmem_max_2", "shift"),
    [(65535, 7), (131072, 7), (1048576, 7), (4194304, 7), (6291456, 7), (8388608, 8), (16777216, 9), (33554432, 10)],
)
def test_window_scale_from_tcp_rmem_max(rmem_max_2, shift):
    """Measured table (notes B): wscale = ilog2(max(tcp_rmem[2], rmem_max)) - 15; the floor of 7
    is net.core.rmem_max = 4 MiB. So Linux's classic default 6291456 gives 7, this kernel's
    33554432 gives 10."""
    assert Config(rcv_buf_max=rmem_max_2).wscale == shift


@pytest.mark.parametrize(("so_rcvbuf", "shift", "syn_win"), [(2304, 0, 1460), (4096, 0, 2920), (65536, 1, 64240)])
def test_window_scale_and_syn_window_with_so_rcvbuf(so_rcvbuf, shift, syn_win):
    """With SO_RCVBUF (auto-tuning off) the scale and the SYN window come from that buffer
    (notes B: 2304 -> 1460/0, 4096 -> 2920/0, 65536 -> 64240/1)."""
    cfg = Config(rcv_buf=so_rcvbuf, rcv_autotune=False)
    assert cfg.wscale == shift
    p = Peer(cfg)
    p.conn.connect(0.0)
    assert p.raw_out()[0].window == syn_win


def test_first_ack_windows_are_64k_rounded_to_the_scale():
    """The kernel client's third ACK says `win 63` (64512 = 64240 rounded up to 1024-byte
    units); the server's first ACK of data `win 64` (65536, from 65160)."""
    p = Peer(Config()).to_syn_sent()
    p.conn.segment_arrives(seg("S.", PEER_ISS, ISS + 1, options=SYN_OPTS), 0.0)
    (ack,) = p.raw_out()
    assert ack.window == 63
    s = server()
    assert s.recv(seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=b"x", options=ts()), at=0.01) == [
        (".", ISS + 1, PEER_ISS + 2, 64, 0)
    ]


def test_window_opens_about_two_segments_per_segment_while_read():
    """tcp_grow_window and tcp_rcv_space_adjust: with the application reading, the window
    grows from 64 KiB by about two segments per full segment and the buffer follows what is
    read per round trip (the kernel reached 635 to 1878 units of 1024 by 1 MiB, notes B)."""
    pipe = Pipe(Config(), delay=0.01)
    pipe.a.connect(0.0)
    pipe.b.listen(0.0)
    pipe.run(until=0.1)
    data = bytes(1 << 20)
    sent = 0
    windows = []
    while pipe.now < 30 and len(windows) < 2000:
        if sent < len(data):
            sent += pipe.a.send(data[sent : sent + 65536], pipe.now)
        pipe.b.receive(now=pipe.now)
        if not pipe.step():
            break
        windows += [s.window for t, n, s in pipe.log[len(windows) :] if n == "b" and not s.syn]
    grown = [w for w in windows if w > 0]
    assert grown[0] in (63, 64)
    assert max(grown) > 300  # well beyond the initial 64 KiB
    assert all(b - a <= 3 for a, b in itertools.pairwise(grown[:31]))  # gradual


def test_window_does_not_open_when_nobody_reads():
    """Without reads the window closes as data piles up: each ACK offers less (3.8.6.2.2)."""
    p = server()
    seq = PEER_ISS + 1
    windows = []
    for i in range(40):
        p.conn.segment_arrives(seg("P.", seq, ISS + 1, win=512, data=bytes(M), options=ts()), 0.1 + 0.05 * i)
        seq += M
        windows += [s.window for s in p.raw_out()]
        windows += [w for _t, _f, _s, _a, w, _n in p.advance(0.1 + 0.05 * i + 0.049)]
    # Each 1448-byte segment takes one 1024-byte unit off: the right edge, which may not move
    # back, creeps forward by the rounding (Linux's tcp_select_window does the same; the sysctl
    # tcp_shrink_window exists because of it).
    assert windows == list(range(63, 23, -1))


# --------------------------------------------------------------------------- quick ACKs
def test_sixteen_quick_acks_then_delayed_40ms():
    """notes C: 100-byte segments every 50 ms, nobody reading: 16 immediate ACKs, then each
    ACK 40 ms (41-51 ms on the kernel, jiffies) after its segment."""
    p = server()
    assert ack_delays(p, [100] * 20, 0.05, 0.1) == [0.0] * 16 + [0.04] * 4


def test_quick_acks_come_back_after_idle_longer_than_the_rto():
    """notes C: idle 0.14-0.20 s: all delayed; >= 0.21 s (RTO 204 ms): 16 immediate again.
    Here the RTO is its 200 ms floor."""
    p = server()
    ack_delays(p, [100] * 20, 0.05, 0.1)  # quick ACKs used up; last segment at t = 1.05
    assert ack_delays(p, [100] * 3, 0.05, 1.05 + 0.15) == [0.04] * 3
    assert ack_delays(p, [100] * 18, 0.05, 1.30 + 0.25) == [0.0] * 16 + [0.04] * 2


def test_small_window_means_fewer_quick_acks():
    """SO_RCVBUF 8192 (4096 usable... here 8192 usable, as SO_RCVBUF 8192 gives): the window,
    7300, allows RCV.WND / (2 * 536) = 6 quick ACKs (notes C: 6 immediate)."""
    p = server(Config(rcv_buf=8192, rcv_autotune=False))
    assert ack_delays(p, [100] * 8, 0.05, 0.1) == [0.0] * 6 + [0.04] * 2


def test_reading_a_pushed_segment_acks_at_once():
    """tcp_cleanup_rbuf: after the quick ACKs, a pushed segment waits for the delayed-ACK
    timer, unless the application reads it all first: then the ACK goes at once (notes C:
    "with a thread blocked in recv(), every segment was ACKed within ~1 ms")."""
    p = server()
    ack_delays(p, [100] * 16, 0.05, 0.1)  # the quick ACKs used up; the last segment at 0.85
    assert p.recv(seg("P.", p.conn.rcv_nxt, ISS + 1, win=512, data=b"hi", options=ts()), at=0.9) == []
    assert p.conn.timers.armed(Timer.DELAYED_ACK)
    assert p.conn.receive(now=0.901)[-2:] == b"hi"
    assert [(f, a) for f, _s, a, _w, _n in p.out()] == [(".", p.conn.rcv_nxt)]
    # Without the read, the ACK would have waited 40 ms: it is no longer pending.
    assert not p.conn.timers.armed(Timer.DELAYED_ACK)


# --------------------------------------------------------------------------- the ACK of a FIN
def test_fin_on_a_fresh_connection_is_acked_at_the_next_jiffy():
    """notes C: a bare FIN in ESTABLISHED before any data is ACKed 1.2-4.7 ms later: tcp_fin
    only schedules the ACK, in ping-pong mode; the delayed-ACK timeout (ato) is still 0, so
    the timer fires at the next jiffy (4 ms at HZ=250)."""
    p = server()
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1, win=512, options=ts()), at=0.1) == []
    assert p.state is State.CLOSE_WAIT
    assert p.advance(0.5) == [(0.104, ".", ISS + 1, PEER_ISS + 2, 64, 0)]


def test_fin_after_data_waits_the_delayed_ack_time():
    """notes C: after data (its ACKs were quick ones), a bare FIN's ACK comes 43 ms later: no
    quick ACK in the ping-pong mode tcp_fin enters, and ato is TCP_ATO_MIN (40 ms) now."""
    p = server()
    assert ack_delays(p, [10] * 3, 0.06, 0.1) == [0.0] * 3
    fin = PEER_ISS + 31
    assert p.recv(seg("F.", fin, ISS + 1, win=512, options=ts()), at=0.5) == []
    assert p.advance(1.0) == [(0.54, ".", ISS + 1, fin + 1, 64, 0)]


def test_data_with_fin_on_a_fresh_connection_is_acked_after_40ms():
    """notes C: data+FIN as the first data: 44 ms. The data would have had a quick ACK, but
    tcp_fin's ping-pong mode comes before __tcp_ack_snd_check decides."""
    p = server()
    assert p.recv(seg("FP.", PEER_ISS + 1, ISS + 1, win=512, data=b"bye", options=ts()), at=0.1) == []
    assert p.state is State.CLOSE_WAIT
    assert p.advance(0.5) == [(0.14, ".", ISS + 1, PEER_ISS + 5, 64, 0)]


def test_the_fin_ack_rides_on_our_fin_when_we_close_at_once():
    """Closing within the delay: one FIN+ACK, no ACK alone (the three-segment close Linux
    shows in captures: FIN, FIN+ACK, ACK)."""
    p = server()
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1, win=512, options=ts()), at=0.1) == []
    p.conn.close(0.101)
    assert p.out() == [("F.", ISS + 1, PEER_ISS + 2, 64, 0)]
    assert not p.conn.timers.armed(Timer.DELAYED_ACK)
    assert p.state is State.LAST_ACK


def test_fin_in_fin_wait_states_is_acked_at_once():
    """notes C: FIN_WAIT_1 (-> CLOSING) and FIN_WAIT_2 (-> TIME_WAIT): ACKed at once (tcp_fin:
    tcp_send_ack)."""
    p = server()
    p.conn.close(0.1)
    assert [f for f, *_ in p.out()] == ["F."]
    assert p.recv(seg("F.", PEER_ISS + 1, ISS + 1, win=512, options=ts()), at=0.2) == [
        (".", ISS + 2, PEER_ISS + 2, 64, 0)
    ]
    assert p.state is State.CLOSING
    q = server()
    q.conn.close(0.1)
    q.out()
    assert q.recv(seg(".", PEER_ISS + 1, ISS + 2, win=512, options=ts()), at=0.2) == []
    assert q.state is State.FIN_WAIT_2
    assert q.recv(seg("F.", PEER_ISS + 1, ISS + 2, win=512, options=ts()), at=0.3) == [
        (".", ISS + 2, PEER_ISS + 2, 64, 0)
    ]
    assert q.state is State.TIME_WAIT


def test_rfc_profile_acknowledges_a_fin_at_once():
    """RFC 9293 3.10.7.4, eighth step (ESTABLISHED): "acknowledge the FIN" -- no delay asked."""
    p = server(profile("rfc"))
    assert [f for f, *_ in p.recv(seg("F.", PEER_ISS + 1, ISS + 1, win=512, options=ts()), at=0.1)] == ["."]
    assert p.state is State.CLOSE_WAIT


def test_replies_carry_the_ack_in_ping_pong_mode():
    """A reply sent within the delayed-ACK time of a request makes the exchange interactive
    ("ping-pong"): the next request gets no quick ACK, its ACK rides on the reply. A request
    left unanswered gets its ACK from the timer, alone, which ends ping-pong mode."""
    p = server()
    req = seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=b"GET /", options=ts())
    assert [f for f, *_ in p.recv(req, at=0.1)] == ["."]  # the first data: a quick ACK
    p.conn.send(b"200 OK", 0.105)
    assert [(f, a, n) for f, _s, a, _w, n in p.out()] == [("P.", PEER_ISS + 6, 6)]
    req2 = seg("P.", PEER_ISS + 6, ISS + 7, win=512, data=b"GET /", options=ts())
    assert p.recv(req2, at=0.2) == []  # ping-pong: no quick ACK
    p.conn.send(b"200 OK", 0.205)
    assert [(f, a, n) for f, _s, a, _w, n in p.out()] == [("P.", PEER_ISS + 11, 6)]
    req3 = seg("P.", PEER_ISS + 11, ISS + 13, win=512, data=b"GET /", options=ts())
    assert p.recv(req3, at=0.3) == []
    assert p.advance(0.5) == [(0.34, ".", ISS + 13, PEER_ISS + 16, 64, 0)]  # the timer, alone
    req4 = seg("P.", PEER_ISS + 16, ISS + 13, win=512, data=b"GET /", options=ts())
    assert [f for f, *_ in p.recv(req4, at=0.4)] == ["."]  # quick ACKs again


# --------------------------------------------------------------------------- congestion window
def _sender(config: Config | None = None) -> Peer:
    """ESTABLISHED with the peer's window 1 MiB (wscale 7), RTT 0."""
    p = Peer(config or Config()).to_syn_sent()
    p.conn.segment_arrives(seg("S.", PEER_ISS, ISS + 1, win=65535, options=SYN_OPTS), 0.0)
    p.raw_out()
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, win=8192, options=ts()), 0.0)
    return p


def test_slow_start_counts_segments_acknowledged():
    """Linux tcp_slow_start: an ACK of two segments adds two (RFC 5681's byte counting would
    add one SMSS per ACK)."""
    p = _sender(Config(nodelay=True))
    p.conn.send(bytes(30 * M), 0.1)
    assert len(p.raw_out()) == 10 and p.conn.cwnd == 10 * M
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1 + 2 * M, win=8192, options=ts()), 0.2)
    assert p.conn.cwnd == 12 * M
    assert len(p.raw_out()) == 4  # two acknowledged, two more allowed
    rfc = _sender(Config(nodelay=True, cwnd_counting="bytes"))
    rfc.conn.send(bytes(30 * M), 0.1)
    rfc.raw_out()
    rfc.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1 + 2 * M, win=8192, options=ts()), 0.2)
    assert rfc.conn.cwnd == 11 * M


def test_no_growth_when_not_cwnd_limited():
    """RFC 7661 / Linux tcp_is_cwnd_limited: an application that sends two segments at a time
    never fills its window of ten, so the window does not grow."""
    p = _sender(Config(nodelay=True))
    seq = ISS + 1
    for i in range(20):
        t = 0.1 + i * 0.1
        p.conn.send(bytes(2 * M), t)
        assert len(p.raw_out()) == 2
        seq += 2 * M
        p.conn.segment_arrives(seg(".", PEER_ISS + 1, seq, win=8192, options=ts()), t + 0.01)
        p.raw_out()
    assert p.conn.cwnd == 10 * M


def test_cwnd_restarts_after_idle():
    """RFC 5681 4.1 / Linux tcp_cwnd_restart: 80 segments of window, then 2.5 RTOs without
    sending: halved twice, 20 segments; ssthresh keeps 3/4 of the old window."""
    p = _sender(Config(nodelay=True))
    p.conn.cc.cwnd, p.conn.cc.ssthresh = 80 * M, 1 << 30
    p.conn.send(bytes(M), 0.1)
    p.raw_out()
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1 + M, win=8192, options=ts()), 0.1)
    rto = p.conn.rtt.rto
    p.conn.send(bytes(M), 0.1 + 2.5 * rto)
    assert p.conn.cwnd == 20 * M
    q = _sender(Config(nodelay=True, slow_start_after_idle=False))
    q.conn.cc.cwnd = 80 * M
    q.conn.send(bytes(M), 10.0)
    assert q.conn.cwnd == 80 * M


# --------------------------------------------------------------------------- RFC 6298 5.7
@pytest.mark.parametrize("timestamps", [False, True])
def test_rto_is_3s_after_a_lost_syn_without_an_rtt_sample(timestamps):
    """RFC 6298 5.7; measured (notes I): TS off, a SYN lost: the first data RTO has base 3 s;
    TS on, the SYN-ACK's echo gives a sample, so the RTO is the usual one."""
    p = Peer(Config(timestamps=timestamps)).to_syn_sent()
    p.advance(1.0)  # the SYN is retransmitted
    options = SYN_OPTS if timestamps else (MSS(1460), SackPermitted(), NOP(), WindowScale(7))
    if timestamps:  # the peer echoes the retransmitted SYN's timestamp (as in the experiment)
        latest = p.conn._ts_now(1.0)
        options = (MSS(1460), SackPermitted(), Timestamps(1000, latest), NOP(), WindowScale(7))
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=options), at=1.05)
    p.conn.send(b"data", 1.1)
    p.out()
    timers = p.conn.timers
    if timestamps:
        # With a sample the first retransmission (a tail loss probe at the RTO's time) is due
        # after about 0.2 s.
        first = min(d for d in (timers.deadline(Timer.RETRANSMISSION), timers.deadline(Timer.TLP)) if d)
        assert first == pytest.approx(1.1 + 0.2, abs=0.06)
    else:
        # Without: the tail loss probe after 1 s (Linux TCP_TIMEOUT_INIT, measured +1.02 s),
        # then the retransmission timer with its base of 3 s (measured 3.04-3.17 s later).
        assert timers.deadline(Timer.TLP) == pytest.approx(1.1 + 1.0)
        assert [f for _t, f, *_ in p.advance(2.11)] == ["P."]
        assert timers.deadline(Timer.RETRANSMISSION) == pytest.approx(2.1 + 3.0, abs=0.06)


# ------------------------------------------------------------- the window after a lost SYN
def _client_after_lost_syns(config: Config, lost: int, echo_first: bool = False) -> Peer:
    """A client whose first ``lost`` SYNs went unanswered (1 s, 1 + 2 s); the SYN-ACK echoes the
    latest SYN's timestamp, or the first one's. Then it writes 40 segments."""
    p = Peer(config).to_syn_sent()
    first = p.conn._ts_now(0.0)
    p.advance(lost)  # tcp_syn_linear_timeouts: the first SYN timeouts are 1 s each
    assert p.conn.total_retrans == lost
    echo = first if echo_first else p.conn._ts_now(p.now)
    options = (MSS(1460), SackPermitted(), Timestamps(1000, echo), NOP(), WindowScale(7))
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=options), at=p.now + 0.05)
    p.conn.send(bytes(40 * M), p.now)
    return p


@pytest.mark.parametrize(
    ("lost", "echo_first", "flight"), [(0, False, 10), (1, False, 10), (2, False, 1), (3, False, 1), (2, True, 10)]
)
def test_window_after_lost_syns_is_one_segment_from_the_second_retransmission(lost, echo_first, flight):
    """Measured (notes/linux-engine-notes.md, t_syncwnd.py), client and server, cubic and reno:
    cwnd 10 after one lost SYN, 1 after two or more (tcp_init_transfer), 10 again when the
    SYN-ACK echoes the first SYN's timestamp (tcp_try_undo_spurious_syn); ssthresh unchanged."""
    p = _client_after_lost_syns(Config(), lost, echo_first)
    sent = p.raw_out()
    assert [(s.seq, len(s.payload)) for s in sent if s.payload] == [(ISS + 1 + i * M, M) for i in range(flight)]
    assert p.conn.cwnd == flight * M
    assert p.conn.ssthresh == ARBITRARILY_HIGH


def test_window_after_lost_syn_acks_on_the_server():
    """The server side, measured the same: two SYN-ACKs retransmitted, then the ACK: cwnd 1."""
    p = Peer(Config()).to_listen()
    p.recv(seg("S", PEER_ISS, options=SYN_OPTS))
    p.advance(3.0)  # SYN-ACKs again at 1 s and 3 s
    assert p.conn.total_retrans == 2
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(1001, p.conn._ts_now(3.0))), at=3.05)
    p.conn.send(bytes(20 * M), p.now)
    assert [len(s.payload) for s in p.raw_out()] == [M]


def test_window_after_one_lost_syn_is_one_segment_in_the_rfc_profile():
    """RFC 5681 3.1 / RFC 6928 2: after a lost SYN the initial window is one segment."""
    p = _client_after_lost_syns(profile("rfc").copy(nodelay=True), 1)
    assert [len(s.payload) for s in p.raw_out() if s.payload] == [M]


# ------------------------------------------------------------- giving up: tcp_retries2 by time
def _silent_peer_after_a_slow_handshake(retries_by: str) -> Peer:
    """A client whose handshake took 1 s (RTO 3 s: Linux's first sample gives SRTT + 2 SRTT)
    writes 100 bytes at t=1 that the peer never acknowledges (no SACK, so no loss probe)."""
    p = Peer(Config(timestamps=False, retries_by=retries_by)).to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),)), at=1.0)
    assert p.conn.rtt.base_rto == pytest.approx(3.0)
    p.conn.send(b"x" * 100, 1.0)
    p.out()
    return p


def test_retries2_is_a_time_as_linux_counts_it():
    """Linux retransmits_timed_out: tcp_retries2 = 15 means the 924.6 s that 15 doublings of
    TCP_RTO_MIN (200 ms, capped at 120 s) take, from the first transmission of the data
    retransmitted. With an RTO of 3 s that is 12 retransmissions; the connection ends at the
    first timeout past 924.6 s (t = 1 + 1029), not after 15 retransmissions (1269 s)."""
    p = _silent_peer_after_a_slow_handshake("time")
    sent = p.advance(1030.0 - 1e-6)
    assert [t for t, *_ in sent] == [4, 10, 22, 46, 94, 190, 310, 430, 550, 670, 790, 910]
    assert all(s[1:] == ("P.", ISS + 1, PEER_ISS + 1, 64240, 100) for s in sent)
    assert p.state is State.ESTABLISHED
    assert p.advance(1030.0) == []  # no segment: a timeout abort sends no RST (measured)
    assert p.state is State.CLOSED and p.transitions[-1] == ("ESTABLISHED", "CLOSED", "timeout")
    assert p.conn.error == errno.ETIMEDOUT


def test_retries2_as_a_count():
    """Config.retries_by="count" (RFC 9293 3.8.3 R2 read literally): 15 retransmissions."""
    p = _silent_peer_after_a_slow_handshake("count")
    sent = p.advance(2000.0)
    assert len(sent) == 15 and sent[-1][0] == 1270
    assert p.state is State.CLOSED


@pytest.mark.parametrize(("boundary", "seconds"), [(15, 924.6), (8, 102.2), (5, 12.6), (2, 1.4)])
def test_model_timeout(boundary, seconds):
    """tcp_model_timeout: ((2 << n) - 1) * 200 ms up to the 120 s cap, then 120 s each."""
    assert Peer(Config()).conn._model_timeout(boundary) == pytest.approx(seconds)


def test_rfc_profile_keeps_the_rfc_rules():
    cfg = profile("rfc")
    assert (cfg.quickack, cfg.rcv_window_rules, cfg.cwnd_counting) == (0, "rfc", "bytes")


def test_syn_linear_timeouts_then_doubling_then_etimedout():
    """Linux 6.x tcp_syn_linear_timeouts=4 (this kernel's default; tcp_retransmit_timer,
    tcp_write_timeout): SYNs again at 1, 2, 3, 4, 5 s, then the RTO doubles (7, 11, 19, 35, 67 s),
    and after tcp_syn_retries 6 + 4 retransmissions connect() fails at 67 + 64 = 131 s."""
    p = Peer(Config()).to_syn_sent()
    sent = p.advance(200.0)
    assert [t for t, flags, *_ in sent] == [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    assert {flags for _, flags, *_ in sent} == {"S"}
    assert p.state is State.CLOSED and p.conn.error == errno.ETIMEDOUT
    assert p.transitions[-1] == ("SYN_SENT", "CLOSED", "timeout")


def test_syn_timeouts_double_from_the_first_in_the_rfc_profile():
    """RFC 6298 5.5: every timeout doubles the RTO; tcp_syn_retries retransmissions, no more."""
    p = Peer(profile("rfc")).to_syn_sent()
    sent = p.advance(200.0)
    assert [t for t, *_ in sent] == [1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert p.state is State.CLOSED and p.conn.error == errno.ETIMEDOUT
