"""Issue 15, items 5, 6, 9, 10 and 13: what a hostile or broken peer could do to the engine.
Each test reproduces the attack or failure (it fails on the engine before the fix) and states
the segments and times as Linux behaves (notes/linux-behaviour.md D, I; linux-engine-notes.md).
"""

from __future__ import annotations

import contextlib
import errno
import random

import pytest

from tcplab.net.pipe import Pipe
from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import Config, State
from tcplab.tcp.events import TimedOut
from tcplab.tcp.ratelimit import ChallengeAckLimit, OutOfWindowLimit
from tcplab.tcp.rtt import RTTEstimator
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import MSS, NOP, SackPermitted, Timestamps, WindowScale

from .helpers import ISS, PEER_ISS, Peer, classic, seg

S = State
SYN_OPTS = (MSS(1460), SackPermitted(), Timestamps(100, 0), NOP(), WindowScale(7))


def ts(val: int, ecr: int = 0) -> tuple:
    return (NOP(), NOP(), Timestamps(val, ecr))


def established_with_timestamps(config: Config | None = None) -> Peer:
    """A passive open with timestamps; TS.Recent = 500 (the peer's last TSval)."""
    p = Peer(config or Config()).to_listen()
    p.conn.segment_arrives(seg("S", PEER_ISS, options=SYN_OPTS), 0.0)
    p.raw_out()
    p.conn.segment_arrives(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(500)), 0.0)
    assert p.conn.ts_recent == 500
    return p


# --------------------------------------------------------------------- 5. TS.Recent poisoning
FAR = 500 + (1 << 30)


@pytest.mark.parametrize(
    "spoof",
    [
        # an in-window segment whose ACK acknowledges data never sent
        seg(".", PEER_ISS + 1, ISS + 1 + 100_000, win=512, options=ts(FAR)),
        # ... whose ACK is older than SND.UNA - MAX.SND.WND (RFC 5961 5.2)
        seg(".", PEER_ISS + 1, ISS + 1 - 2**30, win=512, options=ts(FAR)),
        # an in-window RST, not exact (challenged)
        seg("R", PEER_ISS + 11, options=ts(FAR)),
        # an in-window SYN (challenged)
        seg("S", PEER_ISS + 11, options=(*SYN_OPTS[:2], Timestamps(FAR, 0), *SYN_OPTS[3:])),
        # no ACK bit at all
        seg("P", PEER_ISS + 1, data=b"x", options=ts(FAR)),
    ],
    ids=["ack-unsent", "ack-too-old", "rst-inexact", "syn", "no-ack"],
)
def test_spoofed_timestamp_does_not_poison_ts_recent(spoof):
    """RFC 7323 4.3 / Appendix D, Linux tcp_ack(): TS.Recent takes a TSval only from a segment
    that passed the sequence, RST, SYN and ACK checks. Before: one spoofed segment with a
    far-future TSval made PAWS drop all later data (the connection stalled)."""
    p = established_with_timestamps()
    p.recv(spoof, at=1.0)
    assert p.conn.ts_recent == 500
    # The peer's real data, with its real clock, is still accepted and acknowledged.
    got = p.recv(seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=b"hello", options=ts(510)), at=2.0)
    assert p.conn.receive(now=2.0) == b"hello"
    assert got and got[-1][2] == PEER_ISS + 6
    assert p.conn.ts_recent == 510


def test_valid_segment_still_updates_ts_recent_as_rfc7323():
    p = established_with_timestamps()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(600)), at=1.0)
    assert p.conn.ts_recent == 600
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=512, options=ts(550)), at=1.1)  # PAWS: older
    assert p.conn.ts_recent == 600


# --------------------------------------------------------------------- 6. ACK throttling
def _count(p: Peer, segments, start: float = 1.0, gap: float = 0.001) -> int:
    n = 0
    for i, s in enumerate(segments):
        n += len(p.recv(s, at=start + i * gap))
    return n


@pytest.mark.parametrize(
    ("what", "make", "answers"),
    [
        ("RST in window, not exact", lambda i: seg("R", PEER_ISS + 2 + i), 1),
        ("SYN in window", lambda i: seg("S", PEER_ISS + 100 + i), 1),
        ("pure ACK beyond the window", lambda i: seg(".", PEER_ISS + 10**7 + i, ISS + 1), 1),
        ("ACK of unsent data", lambda i: seg(".", PEER_ISS + 1, ISS + 1000 + i), 1),
        ("ACK too old", lambda i: seg(".", PEER_ISS + 1, ISS + 1 - 2**30), 1),
        ("data beyond the window", lambda i: seg(".", PEER_ISS + 10**7 + 100 * i, ISS + 1, data=bytes(100)), 10),
    ],
)
def test_ten_in_ten_ms_as_linux(what, make, answers):
    """notes/linux-behaviour.md D (10 segments in 10 ms): 1 challenge ACK for RSTs, SYNs, ACKs
    of unsent data or too old; 1 ACK for pure ACKs beyond the window; 10 dup ACKs for data."""
    p = Peer(classic()).to_established()
    assert _count(p, [make(i) for i in range(10)]) == answers


def test_the_limit_counts_500ms_from_the_last_ack_sent():
    p = Peer(classic()).to_established()
    assert _count(p, [seg("R", PEER_ISS + 2)], start=1.0) == 1
    assert _count(p, [seg("R", PEER_ISS + 3)], start=1.3) == 0
    assert _count(p, [seg("R", PEER_ISS + 4)], start=1.51) == 1  # 510 ms after the last ACK


def test_one_injected_segment_no_longer_starts_an_ack_loop():
    """Issue 15: one in-window segment injected into one end of an idle connection made the two
    ends send each other ACKs forever (each found the other's ACK unacceptable). The throttles
    end it at once."""
    pipe = Pipe(Config(), delay=0.01)
    pipe.a.connect(0.0)
    pipe.b.listen(0.0)
    pipe.run(until=1.0)
    before = len(pipe.log)
    # 10 bytes "from a" that a never sent: b takes them, then acknowledges data a never sent.
    pipe.b.segment_arrives(seg(".", pipe.b.rcv_nxt, pipe.b.snd_max, win=512, data=bytes(10)), pipe.now)
    pipe.run(until=60.0)
    assert len(pipe.log) - before <= 4


def test_challenge_ack_limit_per_host():
    """Linux tcp_challenge_ack_limit (measured, linux-engine-notes.md): per second a budget
    drawn from [L/2, L + L/2 - 1] shared by the host's connections; 2^31 - 1 means none."""
    cfg = Config(challenge_ack_limit=4)
    limit = ChallengeAckLimit(cfg, random.Random(1))
    for second in range(20):
        allowed = sum(limit.allow(second + i / 100) for i in range(12))
        assert 2 <= allowed <= 5
    cfg.challenge_ack_limit = 2**31 - 1
    assert all(limit.allow(30.0) for _ in range(1000))
    shared = ChallengeAckLimit(Config(challenge_ack_limit=1), random.Random(2))
    a = Peer(classic(), remote=("198.18.0.1", 40000), challenge_acks=shared)
    b = Peer(classic(), remote=("198.18.0.1", 40001), challenge_acks=shared)
    a.to_established()
    b.to_established()
    assert _count(a, [seg("R", PEER_ISS + 2)], start=5.2) == 1
    assert _count(b, [seg("R", PEER_ISS + 2)], start=5.3) == 0  # the host's budget is spent
    assert _count(b, [seg("R", PEER_ISS + 3)], start=6.1) == 1  # a new second


def test_out_of_window_limit_alone():
    lim = OutOfWindowLimit(0.5)
    assert [lim.allow(t) for t in (0.0, 0.1, 0.49, 0.5, 0.6, 1.0)] == [True, False, False, True, False, True]
    assert all(OutOfWindowLimit(0).allow(0.0) for _ in range(3))


def test_time_wait_throttles_its_acks():
    p = Peer(classic()).to_time_wait()
    old_acks = [seg(".", PEER_ISS - 100 - i, ISS + 2) for i in range(10)]
    assert _count(p, old_acks) == 1
    assert _count(p, [seg("F.", PEER_ISS + 1, ISS + 2)] * 3) == 3  # the FIN is never throttled


# --------------------------------------------------------------------- 9. keepalive
def test_keepalive_is_rearmed_only_by_acceptable_segments():
    """Before, any packet (out-of-window junk included) re-armed the keepalive, so a dead peer
    behind a junk source was never detected (issue 15)."""
    p = Peer(classic(keepalive=True, keepalive_idle=10.0)).to_established()
    assert p.conn.timers.deadline(Timer.KEEPALIVE) == pytest.approx(10.0)
    p.recv(seg(".", PEER_ISS + 10**7, ISS + 1), at=5.0)  # junk beyond the window
    p.recv(seg(".", PEER_ISS + 1, ISS + 10**6), at=6.0)  # an ACK of data never sent
    assert p.conn.timers.deadline(Timer.KEEPALIVE) == pytest.approx(10.0)
    p.recv(seg(".", PEER_ISS + 1, ISS + 1), at=7.0)  # the peer, alive
    assert p.conn.timers.deadline(Timer.KEEPALIVE) == pytest.approx(17.0)


# --------------------------------------------------------------------- 10. TCP_USER_TIMEOUT
def test_user_timeout_fires_at_the_set_time():
    """Before: 10 s set, ETIMEDOUT at 13.1 s (checked only when the RTO fired). Linux clamps its
    timer to the user timeout (tcp_clamp_rto_to_user_timeout)."""
    p = Peer(classic(user_timeout=10.0)).to_established()
    p.conn.send(b"data", 0.0)
    p.out()
    assert p.conn.timers.deadline(Timer.USER_TIMEOUT) == pytest.approx(10.0)
    p.advance(9.99)
    assert p.state is S.ESTABLISHED
    p.advance(10.0)
    assert p.state is S.CLOSED and p.conn.error == errno.ETIMEDOUT
    assert any(isinstance(e, TimedOut) for e in p.events())


def test_user_timeout_counts_from_the_oldest_unacknowledged_data():
    p = Peer(classic(user_timeout=3.0)).to_established()
    p.conn.send(b"a" * 100, 0.0)
    p.out()
    p.recv(seg(".", PEER_ISS + 1, ISS + 51), at=2.0)  # progress: half acknowledged
    assert p.conn.timers.deadline(Timer.USER_TIMEOUT) == pytest.approx(5.0)
    p.recv(seg(".", PEER_ISS + 1, ISS + 101), at=2.5)  # all acknowledged: no deadline
    assert not p.conn.timers.armed(Timer.USER_TIMEOUT)


def test_user_timeout_during_zero_window_probes():
    """notes I: TCP_USER_TIMEOUT 3000 ms, zero window, silent peer: ETIMEDOUT at 3.24 s, the
    first probe (0.2 s) plus the user timeout."""
    p = Peer(classic(user_timeout=3.0, nodelay=True)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0), at=0.0)
    p.conn.send(b"x", 0.0)
    p.out()
    first_probe = p.conn.timers.deadline(Timer.PERSIST)
    p.advance(first_probe + 2.99)
    assert p.state is S.ESTABLISHED
    p.advance(first_probe + 3.0)
    assert p.state is S.CLOSED and p.conn.error == errno.ETIMEDOUT


# --------------------------------------------------------------------- 13. 40 % loss
def test_an_echo_from_before_the_retransmission_gives_no_rtt_sample():
    """The peer's ACK echoes a timestamp older than our retransmission: it measures the RTO,
    not the path; taking it made the RTO grow to its 120 s ceiling at 40 % loss."""
    p = established_with_timestamps()
    first_tsval = p.conn._ts_now(1.0)
    p.conn.send(b"data", 1.0)
    p.out()
    p.advance(1.0 + p.conn.rtt.rto)  # the retransmission
    srtt, samples = p.conn.rtt.srtt, p.conn.rtt.samples
    p.recv(seg(".", PEER_ISS + 1, ISS + 5, win=512, options=ts(520, first_tsval)), at=5.0)
    assert p.conn.snd_una == ISS + 5
    assert (p.conn.rtt.srtt, p.conn.rtt.samples) == (srtt, samples)
    assert p.conn.rtt.backoff == 0  # progress ends the backoff all the same


def test_a_retransmission_of_acked_data_refreshes_ts_recent():
    """Our ACK was lost, the peer resends the data: RFC 7323 4.3 (SEG.SEQ <= Last.ACK.sent) and
    Linux (tcp_sequence accepts it for this) take its timestamp, so the duplicate ACK echoes
    the retransmission's TSval and the peer's RTT sample is the path's."""
    p = established_with_timestamps()
    assert p.recv(seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=b"abc", options=ts(510)), at=1.0)
    p.conn.segment_arrives(seg("P.", PEER_ISS + 1, ISS + 1, win=512, data=b"abc", options=ts(900)), 2.0)
    (ack,) = p.conn.segments_to_send()
    assert (ack.ack, ack.option(Timestamps).ecr) == (PEER_ISS + 4, 900)


def test_linux_rto_is_srtt_plus_at_least_rto_min():
    """notes I: RTT a few ms, the kernel's RTO 204 ms: SRTT + max(deviation, 200 ms); RFC 6298
    floors the sum instead (200 ms)."""
    linux, rfc = RTTEstimator(1.0, 0.2, 120.0, linux=True), RTTEstimator(1.0, 0.2, 120.0)
    for i in range(20):
        linux.sample(0.004, i * 0.01, i * 1000, i * 1000 + 1000)
        rfc.sample(0.004)
    assert linux.rto == pytest.approx(0.204, abs=0.001)
    assert rfc.rto == pytest.approx(0.2)
    assert linux.min_rtt == pytest.approx(0.004)


def test_one_megabyte_at_40_percent_loss_with_timestamps_finishes():
    """Issue 15 item 13: with timestamps, a 1 MB transfer over a link losing 40 % of the packets
    each way never finished (RTO stuck at 120 s). Deterministic seed; the simulator's clock."""
    net, client, server = two_hosts(seed=7, delay=0.01, config=Config(), loss=0.4)
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    c = Socket(client)
    c.connect(("198.18.0.2", 9527))
    conn, _ = srv.accept()
    data = random.Random(7).randbytes(1 << 20)
    c.setblocking(False)
    conn.setblocking(False)
    sent, got = 0, bytearray()
    while len(got) < len(data) and net.now < 3000:
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += c.send(data[sent : sent + 65536])
        with contextlib.suppress(BlockingIOError):
            got += conn.recv(1 << 20)
        net.run(until=net.now + 0.05)
    assert bytes(got) == data
    rtt = next(iter(client.conns.values())).conn.rtt
    assert rtt.srtt is not None and rtt.srtt < 0.1
