"""CUBIC (RFC 9438) as Linux's tcp_cubic.c computes it, with its HyStart; driven ACK by ACK."""

import pytest

from tcplab.tcp import Config
from tcplab.tcp.congestion import AckSample, Cubic, Phase

M = 1000


def cubic(cwnd: int, rtt: float = 0.1, **kw) -> Cubic:
    cc = Cubic(Config(initial_window=10), **kw)
    cc.start(M)
    cc.cwnd = cwnd * M
    cc.pkts_acked(_sample(rtt=rtt), 10.0)  # the minimum delay
    return cc


def _sample(segs: int = 1, rtt: float | None = None, una: int = 0, nxt: int = 0) -> AckSample:
    return AckSample(
        acked=segs * M,
        delivered=segs * M,
        delivered_segs=segs,
        in_flight=0,
        snd_una=una,
        snd_nxt=nxt,
        advanced=True,
        rtt=rtt,
    )


def rounds(cc: Cubic, start: float, rtt: float, n: int) -> list[int]:
    """``n`` round trips, each acknowledging the whole window one segment per ACK; the window
    (segments) after each."""
    out = []
    t = start
    for _ in range(n):
        w = cc.cwnd // M
        for i in range(w):
            cc.on_ack(_sample(), t + rtt * i / w)
        t += rtt
        out.append(cc.cwnd // M)
    return out


def test_the_linux_profile_uses_cubic():
    assert Config().congestion_control == "cubic"


def test_multiplicative_decrease_and_fast_convergence():
    cc = cubic(100)
    cc.enter_recovery(high_seq=1)
    assert cc.ssthresh == 70 * M  # RFC 9438 4.6: beta_cubic 0.7 (Linux 717/1024)
    assert cc.last_max_cwnd == 100
    cc.end_if_acked(1, 0)
    assert (cc.phase, cc.cwnd) == (Phase.OPEN, 70 * M)
    # A second loss below the last W_max: fast convergence releases bandwidth (RFC 9438 4.7)
    cc.cwnd = 80 * M
    cc.enter_recovery(high_seq=2)
    assert cc.last_max_cwnd == int(80 * (1 + 717 / 1024) / 2)
    assert cc.ssthresh == int(80 * 717 / 1024) * M


def test_concave_then_convex_growth_around_w_max():
    """After a loss at W_max = 100, cwnd = 71 grows fast, flattens near W_max at t = K
    (RFC 9438 4.2: K = cbrt((W_max - cwnd) / C)), then probes beyond it."""
    cc = cubic(100, rtt=0.1)
    cc.enter_recovery(high_seq=1)
    cc.end_if_acked(1, 0)
    start = cc.cwnd // M
    k = ((100 - start) / 0.4) ** (1 / 3)
    windows = rounds(cc, 11.0, 0.1, 80)
    gains = [b - a for a, b in zip([start, *windows], windows, strict=False)]
    at_k = windows[round(k / 0.1) - 1]  # W_cubic(t) is computed one RTT ahead
    assert 97 <= at_k <= 102
    assert sum(gains[:10]) > sum(gains[20:30])  # concave: slowing down towards W_max
    assert sum(gains[-10:]) > sum(gains[30:40])  # convex beyond it
    assert windows[-1] > 105


def test_reno_friendly_region_on_a_short_rtt():
    """With a 1 ms RTT the cubic curve is slow; CUBIC then grows at least as Reno would with
    alpha_cubic = 3(1-beta)/(1+beta), about 0.53 segment per RTT (RFC 9438 4.3)."""
    cc = cubic(20, rtt=0.001)
    cc.enter_recovery(high_seq=1)
    cc.end_if_acked(1, 0)
    start = cc.cwnd // M
    windows = rounds(cc, 11.0, 0.001, 200)
    per_rtt = (windows[-1] - start) / 200
    assert 0.4 < per_rtt < 0.7


def test_hystart_leaves_slow_start_when_the_delay_grows():
    """Linux HyStart's delay detector: once a round has had 8 RTT samples, its minimum above
    min_RTT + clamp(min_RTT/8, 4 ms, 16 ms) ends slow start at the current window (this is
    Linux's HyStart, not RFC 9406 HyStart++)."""
    cc = cubic(20, rtt=0.05)
    cc.ssthresh = 1 << 30
    t = 20.0
    # A round whose delays stay below 50 + 6.25 ms: slow start goes on.
    for i in range(12):
        cc.on_ack(_sample(rtt=0.056, una=100 + i, nxt=1000), t + i * 0.003)
    assert cc.in_slow_start
    # The next round (SND.UNA beyond the last one's SND.NXT): every sample 57 ms.
    for i in range(8):
        cc.on_ack(_sample(rtt=0.057, una=1001 + i, nxt=5000), t + 1 + i * 0.003)
    assert cc.in_slow_start  # the first 8 samples are only counted
    cc.on_ack(_sample(rtt=0.057, una=1010, nxt=5000), t + 1.03)
    assert not cc.in_slow_start and cc.ssthresh == cc.cwnd


def test_hystart_ack_train():
    """The ACK-train detector: closely spaced ACKs (< 2 ms apart) for longer than half the
    minimum RTT mean the pipe is full."""
    cc = cubic(20, rtt=0.04)
    cc.ssthresh = 1 << 30
    t = 30.0
    cc.on_ack(_sample(rtt=0.04, una=10, nxt=1000), t)  # starts a round
    i = 0
    while cc.in_slow_start and i < 100:
        i += 1
        cc.on_ack(_sample(rtt=0.04, una=10 + i, nxt=1000), t + i * 0.001)
    assert not cc.in_slow_start
    assert 0.02 <= i * 0.001 <= 0.025  # half of min_RTT


@pytest.mark.parametrize("hystart", [False])
def test_without_hystart_slow_start_runs_to_ssthresh(hystart):
    cc = cubic(20, rtt=0.05, hystart=hystart)
    cc.ssthresh = 1 << 30
    for i in range(50):
        cc.on_ack(_sample(rtt=0.1, una=i, nxt=1000), 40.0 + i * 0.001)
    assert cc.in_slow_start and cc.cwnd == 70 * M


def test_a_timeout_forgets_the_curve():
    cc = cubic(100)
    cc.on_rto(high_seq=1, in_flight=0)
    assert (cc.phase, cc.cwnd, cc.ssthresh) == (Phase.LOSS, M, 70 * M)
    assert cc.last_max_cwnd == 0  # Linux cubictcp_state(TCP_CA_Loss): bictcp_reset
