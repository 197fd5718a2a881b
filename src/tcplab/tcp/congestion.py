"""Congestion control: one interface, the algorithms behind it, chosen by name.

The engine tells its ``CongestionControl`` what happened — data acknowledged, a loss detected,
a retransmission timeout, an ECN congestion echo, a restart after idle — and reads back the
congestion window (``cwnd``, in bytes) that bounds what it may have in flight. Which segments are
lost, and which to retransmit, is decided elsewhere (``tcplab.tcp.loss``); the RFC 9293 code
never looks inside an algorithm, so adding one is adding a class here and a name to
``ALGORITHMS`` (``Config.congestion_control`` picks it, as Linux's TCP_CONGESTION / the sysctl
net.ipv4.tcp_congestion_control do).

Every call gets ``now`` and the quantities it may need (bytes acknowledged, bytes in flight);
the object keeps only its own state. Windows are in bytes; ``mss`` is the sender's full-segment
payload (SMSS of RFC 5681). ``Config.cwnd_counting`` says how they are counted: "packets" as
Linux (the window is a whole number of segments, grown by segments acknowledged and only while
the sender uses it all), "bytes" as RFC 5681 3.1.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config

ARBITRARILY_HIGH = 1 << 30  # ssthresh before the first loss (RFC 5681 3.1)


class CongestionControl(abc.ABC):
    """The window of one connection's sender. Subclasses implement an algorithm."""

    name: ClassVar[str]

    __slots__ = ("cwnd", "initial_window", "mss", "packets", "ssthresh")

    def __init__(self, config: Config) -> None:
        self.initial_window = config.initial_window  # segments (RFC 6928 / Linux TCP_INIT_CWND)
        self.packets = config.cwnd_counting == "packets"  # Linux's counting, else RFC 5681's
        self.mss = 0
        self.cwnd = 0  # bytes; 0 until start(): no congestion limit before the handshake
        self.ssthresh = ARBITRARILY_HIGH  # RFC 5681 3.1: "arbitrarily high" at first

    def start(self, mss: int) -> None:
        """The handshake fixed the segment size: open the initial window (RFC 5681 3.1)."""
        self.mss = mss
        self.cwnd = self.initial_window * mss

    @property
    def in_slow_start(self) -> bool:
        return self.cwnd < self.ssthresh

    @abc.abstractmethod
    def on_ack(self, acked: int, in_flight: int, now: float, *, cwnd_limited: bool) -> None:
        """``acked`` bytes of new data were acknowledged outside loss recovery. ``cwnd_limited``:
        the sender was using the whole window (RFC 7661; Linux tcp_is_cwnd_limited)."""

    @abc.abstractmethod
    def on_enter_recovery(self, in_flight: int, now: float) -> None:
        """Loss detected (fast retransmit): reduce the window (RFC 5681 3.2 steps 2-3)."""

    @abc.abstractmethod
    def on_partial_ack(self, acked: int, in_flight: int, now: float) -> None:
        """During recovery, an ACK acknowledged ``acked`` bytes but not the recovery point."""

    @abc.abstractmethod
    def on_recovery_dupack(self, now: float) -> None:
        """During recovery, a duplicate ACK that the loss detector answered with nothing:
        one more segment has left the network."""

    @abc.abstractmethod
    def on_exit_recovery(self, in_flight: int, now: float) -> None:
        """The recovery point was acknowledged (RFC 6582 3.2 step 3)."""

    @abc.abstractmethod
    def on_rto(self, in_flight: int, now: float) -> None:
        """A retransmission timeout (RFC 5681 3.1, equation 4, and the loss window)."""

    @abc.abstractmethod
    def on_ecn_echo(self, in_flight: int, now: float) -> None:
        """The peer echoed a congestion experienced mark (RFC 3168 6.1.2): react as to a
        loss, at most once per window of data (the caller ensures that)."""

    def on_idle_restart(self, idle: float, rto: float, now: float) -> None:
        """The sender is about to send new data after ``idle`` seconds without sending, more
        than the RTO ``rto`` (``Config.slow_start_after_idle``). RFC 5681 4.1: cwnd = min(RW,
        cwnd) with the restart window RW = min(IW, cwnd). Linux (tcp_cwnd_restart): ssthresh
        keeps at least 3/4 of cwnd, and cwnd halves for every RTO of idleness, not below
        min(IW, cwnd). Algorithms with more state (an epoch) extend this."""
        restart = min(self.initial_window * self.mss, self.cwnd)
        if not self.packets:
            self.cwnd = restart
            return
        self.ssthresh = max(self.ssthresh, (self.cwnd >> 1) + (self.cwnd >> 2))
        cwnd = self.cwnd // self.mss
        while idle > rto and cwnd * self.mss > restart:
            idle -= rto
            cwnd >>= 1
        self.cwnd = max(cwnd * self.mss, restart)

    def on_sent(self, nbytes: int, now: float) -> None:  # noqa: B027 (an optional hook)
        """``nbytes`` of data left (new or retransmitted); algorithms that count it override."""


class NewReno(CongestionControl):
    """RFC 5681 slow start and congestion avoidance with RFC 6582's NewReno fast recovery.

    Counting bytes (RFC 5681 3.1): cwnd += min(N, SMSS) per ACK in slow start, SMSS*SMSS/cwnd
    after; ssthresh = FlightSize / 2. Counting packets (Linux tcp_reno_cong_avoid): only while
    cwnd-limited, slow start adds the segments acknowledged (tcp_slow_start) and congestion
    avoidance one segment per window acknowledged (tcp_cong_avoid_ai); ssthresh = cwnd / 2
    (tcp_reno_ssthresh)."""

    name = "reno"
    __slots__ = ("_cnt",)

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._cnt = 0  # Linux snd_cwnd_cnt: segments acknowledged towards the next increase

    def on_ack(self, acked: int, in_flight: int, now: float, *, cwnd_limited: bool) -> None:
        mss = self.mss
        if not self.packets:
            if self.cwnd < self.ssthresh:
                self.cwnd += min(acked, mss)  # RFC 5681 3.1, equation 2
            else:
                self.cwnd += max(1, mss * mss // max(self.cwnd, 1))  # equation 3
            return
        if not cwnd_limited:
            return  # RFC 7661: an application-limited sender does not grow its window
        segs = -(-acked // mss)
        cwnd, ssthresh = self.cwnd // mss, self.ssthresh // mss
        if cwnd < ssthresh:  # tcp_slow_start
            grown = min(cwnd + segs, ssthresh)
            segs -= grown - cwnd
            cwnd = grown
        if segs > 0:  # tcp_cong_avoid_ai(w = cwnd)
            if self._cnt >= cwnd:
                self._cnt = 0
                cwnd += 1
            self._cnt += segs
            if self._cnt >= cwnd:
                delta = self._cnt // cwnd
                self._cnt -= delta * cwnd
                cwnd += delta
        self.cwnd = cwnd * mss

    def _halve(self, in_flight: int) -> None:
        self._cnt = 0
        if self.packets:
            self.ssthresh = max(self.cwnd // self.mss >> 1, 2) * self.mss  # tcp_reno_ssthresh
        else:
            self.ssthresh = max(in_flight // 2, 2 * self.mss)  # RFC 5681 equation 4

    def on_enter_recovery(self, in_flight: int, now: float) -> None:
        self._halve(in_flight)
        self.cwnd = self.ssthresh + 3 * self.mss  # RFC 5681 3.2 step 3 / RFC 6582 3.2 step 2

    def on_partial_ack(self, acked: int, in_flight: int, now: float) -> None:
        # RFC 6582 3.2 step 5: deflate by the amount acknowledged, add back one SMSS.
        self.cwnd = max(self.cwnd - acked + self.mss, self.mss)

    def on_recovery_dupack(self, now: float) -> None:
        self.cwnd += self.mss  # RFC 5681 3.2 step 4: inflate

    def on_exit_recovery(self, in_flight: int, now: float) -> None:
        if self.packets:
            self.cwnd = self.ssthresh  # Linux tcp_end_cwnd_reduction
        else:
            # RFC 6582 3.2 step 3, option 2: min(ssthresh, max(FlightSize, SMSS) + SMSS).
            self.cwnd = min(self.ssthresh, max(in_flight, self.mss) + self.mss)

    def on_rto(self, in_flight: int, now: float) -> None:
        self._halve(in_flight)
        self.cwnd = self.mss  # RFC 5681 3.1: the loss window is one segment

    def on_ecn_echo(self, in_flight: int, now: float) -> None:
        self._halve(in_flight)
        self.cwnd = self.ssthresh  # RFC 3168 6.1.2: halve the window, no retransmission


class WindowUse:
    """Whether the sender has been using its whole congestion window (RFC 7661 section 2's
    "cwnd-limited"), tracked per window of data as Linux's tcp_cwnd_validate does: limited for
    the current window once a send found the window full; otherwise the most it had in flight."""

    __slots__ = ("_limited", "_max_out", "_until")

    def __init__(self) -> None:
        self._limited = False
        self._max_out = 0  # the most in flight (bytes) in the current window
        self._until = 0  # the current window ends when SND.UNA reaches this

    def after_send(self, in_flight: int, cwnd: int, mss: int, snd_una: int, snd_nxt: int, sent: bool) -> None:
        """The sender just sent what it could; ``in_flight`` bytes are now outstanding."""
        limited = cwnd > 0 and in_flight + mss > cwnd  # not one more full segment fits
        if not (sent or limited):
            return
        if sq.ge(snd_una, self._until) or limited or (not self._limited and in_flight > self._max_out):
            self._limited = limited
            self._max_out = in_flight
            self._until = snd_nxt

    def limited(self, cc: CongestionControl) -> bool:
        """Linux tcp_is_cwnd_limited: in slow start, also while cwnd < twice what was in flight."""
        if self._limited:
            return True
        return cc.in_slow_start and cc.cwnd < 2 * self._max_out


ALGORITHMS: dict[str, type[CongestionControl]] = {cls.name: cls for cls in (NewReno,)}


def create(config: Config) -> CongestionControl:
    """The algorithm ``config.congestion_control`` names (ValueError when there is none)."""
    name = config.congestion_control
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown congestion control {name!r}; choose from {', '.join(ALGORITHMS)}") from None
    return cls(config)
