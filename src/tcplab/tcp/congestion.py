"""Congestion control: one interface, the algorithms behind it, chosen by name.

The engine tells its ``CongestionControl`` what happened — an ACK (``on_ack`` with an
``AckSample``), a loss detected (``enter_recovery``), a retransmission timeout (``on_rto``), an
ECN congestion echo (``enter_cwr``), a spurious episode (``undo``), a restart after idle — and
reads back the congestion window (``cwnd``, in bytes) that bounds what it may have in flight.
Which segments are lost, and which to retransmit, is decided elsewhere (``tcplab.tcp.loss``);
the RFC 9293 code never looks inside an algorithm, so adding one is adding a class here and a
name to ``ALGORITHMS`` (``Config.congestion_control`` picks it, as Linux's TCP_CONGESTION / the
sysctl net.ipv4.tcp_congestion_control do).

The base class holds what Linux keeps in tcp_input.c for every algorithm: the phase of a window
reduction (CWR after an ECN echo, Recovery after a loss, Loss after a timeout; Linux
icsk_ca_state), how the window shrinks during one — Proportional Rate Reduction (RFC 6937,
PRR-SSRB as Linux's tcp_cwnd_reduction) or, without PRR, straight to ssthresh (RFC 6675 5) — and
undoing a reduction that proved spurious. An algorithm supplies the growth (Linux cong_avoid)
and the ssthresh after a loss (Linux ssthresh()). Windows are in bytes; ``mss`` is the sender's
full-segment payload (SMSS of RFC 5681). ``Config.cwnd_counting`` says how they grow: "packets"
as Linux (the window a whole number of segments, grown by segments acknowledged and only while
the sender uses it all; CUBIC's congestion avoidance always counts so), "bytes" as RFC 5681 3.1.
"""

from __future__ import annotations

import abc
import enum
from typing import ClassVar

from tcplab.tcp import seq as sq
from tcplab.tcp.config import Config, shared_int

ARBITRARILY_HIGH = 1 << 30  # ssthresh before the first loss (RFC 5681 3.1)


class Phase(enum.Enum):
    """Where the sender stands (Linux icsk_ca_state; Open and Disorder are both OPEN here)."""

    OPEN = "open"
    CWR = "cwr"  # reducing after an ECN echo or a loss repaired by a probe (RFC 3168 6.1.2)
    RECOVERY = "recovery"  # fast recovery (RFC 5681 3.2, RFC 6675, RFC 6937)
    LOSS = "loss"  # after a retransmission timeout, until what was outstanding is acknowledged

    __hash__ = object.__hash__  # by identity, in C (as State: looked up in sets per segment)


_OPEN, _CWR, _RECOVERY = Phase.OPEN, Phase.CWR, Phase.RECOVERY


class AckSample:
    """What one ACK tells the congestion control."""

    __slots__ = (
        "acked",
        "advanced",
        "cwnd_limited",
        "delivered",
        "delivered_segs",
        "in_flight",
        "may_raise",
        "newly_lost",
        "rtt",
        "snd_nxt",
        "snd_una",
    )

    def __init__(  # (positional too: the engine makes one per ACK, and keywords cost 0.5 us)
        self,
        acked: int,
        delivered: int,
        in_flight: int,
        snd_una: int,
        snd_nxt: int,
        advanced: bool,
        delivered_segs: int = 0,
        newly_lost: bool = False,
        cwnd_limited: bool = True,
        rtt: float | None = None,
        may_raise: bool | None = None,
    ) -> None:
        self.acked = acked  # octets newly acknowledged cumulatively
        self.delivered = delivered  # octets newly delivered (RFC 6937 DeliveredData: + SACKed)
        self.delivered_segs = delivered_segs  # the same in segments, as Linux counts it
        self.in_flight = in_flight  # octets in flight after the ACK (RFC 6675 pipe)
        self.snd_una = snd_una  # after the ACK
        self.snd_nxt = snd_nxt
        self.advanced = advanced  # SND.UNA moved (Linux FLAG_SND_UNA_ADVANCED)
        self.newly_lost = newly_lost  # the ACK made the loss detector mark segments lost
        self.cwnd_limited = cwnd_limited  # RFC 7661 / Linux tcp_is_cwnd_limited
        self.rtt = rtt  # an RTT sample from this ACK (seconds), or None
        # the window may grow (Linux tcp_may_raise_cwnd): data acknowledged, or any forward
        # progress once reordering raised the threshold
        self.may_raise = advanced if may_raise is None else may_raise


class WindowUse:
    """Whether the sender has been using its whole congestion window (RFC 7661 section 2's
    "cwnd-limited"), tracked per window of data as Linux's tcp_cwnd_validate does: limited for
    the current window once a send found the window full; otherwise the most it had in flight.
    Every ``CongestionControl`` is one (its state kept where the window is, as Linux keeps it in
    tcp_sock, not in an object of its own); it also stands alone."""

    __slots__ = ("_deferred", "_limited", "_max_out", "_until")

    def __init__(self) -> None:
        self._limited = False
        self._max_out = 0  # the most in flight (bytes) in the current window
        self._until = 0  # the current window ends when SND.UNA reaches this
        self._deferred = False  # this send held data back for the window (TSO deferral)

    def deferred(self) -> None:
        """The sender held data back to send a larger super-segment when the congestion window
        opens further (Linux tcp_tso_should_defer sets is_cwnd_limited): that is using it all."""
        self._deferred = True

    def after_send(self, in_flight: int, cwnd: int, mss: int, snd_una: int, snd_nxt: int, sent: bool) -> None:
        """The sender just sent what it could; ``in_flight`` bytes are now outstanding."""
        # not one more full segment fits, or data waits for the window to open further
        limited = cwnd > 0 and (in_flight + mss > cwnd or self._deferred)
        self._deferred = False
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
        return cc.cwnd < cc.ssthresh and cc.cwnd < 2 * self._max_out  # (cc.in_slow_start)


class CongestionControl(WindowUse, abc.ABC):
    """The window of one connection's sender. Subclasses implement an algorithm."""

    name: ClassVar[str]

    __slots__ = ("_cwnd_cnt", "_red", "config", "cwnd", "mss", "packets", "phase", "ssthresh")

    def __init__(self, config: Config) -> None:
        super().__init__()  # WindowUse
        # The settings it was made with (the connection's, read-only: a change makes a new
        # one), read where needed rather than copied, but for the counting every ACK reads.
        self.config = config
        self.packets = config.cwnd_counting == "packets"  # Linux's counting, else RFC 5681's
        self.mss = 0
        self.cwnd = 0  # bytes; 0 until start(): no congestion limit before the handshake
        self.ssthresh = ARBITRARILY_HIGH  # RFC 5681 3.1: "arbitrarily high" at first
        self.phase = Phase.OPEN
        # The latest window reduction (``_Reduction``), made when the first begins and dropped
        # once nothing of it can be needed again: None stands for one that never began.
        self._red: _Reduction | None = None
        self._cwnd_cnt = 0  # segments acknowledged towards the next increment (Linux snd_cwnd_cnt)

    def start(self, mss: int) -> None:
        """The handshake fixed the segment size: open the initial window (RFC 5681 3.1)."""
        self.mss = shared_int(mss)  # (set-up sizes: one int object for all connections)
        self.cwnd = shared_int(self.initial_window * mss)

    def take_over(self, old: CongestionControl) -> None:
        """Continue where ``old`` was (a TCP_CONGESTION change on a live connection: Linux
        tcp_reinit_congestion_control keeps the window, the threshold and the phase)."""
        for name in (*WindowUse.__slots__, *CongestionControl.__slots__):
            setattr(self, name, getattr(old, name))

    @property
    def initial_window(self) -> int:
        """Segments (RFC 6928 / Linux TCP_INIT_CWND)."""
        return self.config.initial_window

    @property
    def prr(self) -> bool:
        """RFC 6937 during reductions (Linux); else RFC 6675's cwnd = ssthresh."""
        return self.config.prr

    @property
    def in_slow_start(self) -> bool:
        return self.cwnd < self.ssthresh

    @property
    def reducing(self) -> bool:
        """In a window reduction (Linux tcp_in_cwnd_reduction: CWR or Recovery)."""
        phase = self.phase
        return phase is _CWR or phase is _RECOVERY  # (module names: an enum lookup costs 150 ns)

    # ---- what an algorithm supplies ----------------------------------------------------------
    @abc.abstractmethod
    def grow(self, sample: AckSample, now: float) -> None:
        """Outside a reduction, an ACK delivered data: grow the window (Linux cong_avoid)."""

    @abc.abstractmethod
    def loss_ssthresh(self, flight_size: int) -> int:
        """The slow start threshold after a congestion signal (Linux ssthresh()); ``flight_size``
        is what was outstanding (RFC 5681's FlightSize)."""

    def pkts_acked(self, sample: AckSample, now: float) -> None:  # an optional hook
        """Every ACK, first (Linux pkts_acked); algorithms that watch delay override."""

    def on_loss_state(self) -> None:  # an optional hook
        """A retransmission timeout made the phase LOSS (Linux set_state(TCP_CA_Loss))."""

    def on_tx_start(self, idle: float, now: float) -> None:  # an optional hook
        """Sending resumes after ``idle`` seconds with nothing in flight (CA_EVENT_TX_START)."""

    @property
    def _ongoing(self) -> _Reduction:
        """The record of the reduction under way (asked for only while the phase is not OPEN)."""
        r = self._red
        assert r is not None
        return r

    # ---- per ACK (Linux tcp_cong_control) ---------------------------------------------------------
    def end_if_acked(self, snd_una: int, in_flight: int) -> None:
        """Before loss detection: a reduction or loss phase whose data is all acknowledged
        ends (Linux tcp_fastretrans_alert, "check state exit conditions"); CWR is held until
        something *above* high_seq is acknowledged, so that the CWR flag has reached the peer."""
        if self.phase is _OPEN or sq.lt(snd_una, self._ongoing.high_seq):
            return
        if self.phase is not Phase.CWR or snd_una != self._ongoing.high_seq:
            self._exit(in_flight)

    def on_ack(self, sample: AckSample, now: float) -> None:
        """After the loss detector has judged the ACK: shrink during a reduction (PRR), grow
        outside one."""
        self.pkts_acked(sample, now)
        phase = self.phase
        if phase is _CWR or phase is _RECOVERY:  # (self.reducing, per ACK)
            self._reduce(sample)
        elif sample.may_raise and sample.delivered and self.cwnd:
            self.grow(sample, now)

    def _exit(self, in_flight: int) -> None:
        """The data outstanding when the reduction began is acknowledged (RFC 6582 3.2 step 3,
        RFC 6937, Linux tcp_end_cwnd_reduction): cwnd = ssthresh. A LOSS phase just ends:
        slow start has been rebuilding the window."""
        if self.reducing:
            if self.prr:
                self.cwnd = self.ssthresh
            else:
                # RFC 6582 3.2 step 3, option 2: min(ssthresh, max(FlightSize, SMSS) + SMSS).
                self.cwnd = min(self.ssthresh, max(in_flight, self.mss) + self.mss)
        self.phase = Phase.OPEN
        if not self._ongoing.prior_ssthresh:
            self._red = None  # nothing to undo: what is left is set again before it is read

    def _reduce(self, s: AckSample) -> None:
        """RFC 6937 PRR-SSRB as Linux tcp_cwnd_reduction, in segments as Linux counts: send in
        proportion to what was delivered while above ssthresh; then slow start (one extra
        segment per ACK that advanced SND.UNA without new loss) up to ssthresh. Without PRR:
        cwnd = ssthresh."""
        if not self.prr:
            self.cwnd = self.ssthresh
            return
        r = self._ongoing
        delivered = s.delivered_segs or (1 if s.delivered else 0)
        if delivered <= 0 or not r.prior_cwnd:
            return
        mss = self.mss
        in_flight = -(-s.in_flight // mss)
        ssthresh = self.ssthresh // mss
        r.prr_delivered += delivered
        delta = ssthresh - in_flight
        if delta < 0:
            # RFC 6937 3: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
            sndcnt = -(-ssthresh * r.prr_delivered // (r.prior_cwnd // mss)) - r.prr_out
        else:
            sndcnt = max(r.prr_delivered - r.prr_out, delivered)
            if s.advanced and not s.newly_lost:
                sndcnt += 1  # SSRB: one extra segment
            sndcnt = min(delta, sndcnt)
        if not r.prr_out:
            sndcnt = max(sndcnt, 1)  # the fast retransmit goes whatever the window
        self.cwnd = (in_flight + max(sndcnt, 0)) * mss

    def on_sent(self, nbytes: int, now: float) -> None:
        """``nbytes`` of data left (new or retransmitted): PRR counts the segments a reduction
        sent."""
        if self.reducing and self.mss:
            self._ongoing.prr_out += -(-nbytes // self.mss)

    # ---- congestion signals -------------------------------------------------------------------
    def _reduction(self) -> _Reduction:
        """The reduction's record, made when the first begins."""
        r = self._red
        if r is None:
            r = self._red = _Reduction()
        return r

    def _begin_reduction(self, prior_ssthresh: int, high_seq: int, flight_size: int | None) -> None:
        """Linux tcp_init_cwnd_reduction: remember the window (and ``prior_ssthresh``, what an
        undo restores; 0: no undo), take the new ssthresh."""
        r = self._reduction()
        r.prior_ssthresh = prior_ssthresh
        r.high_seq = high_seq
        r.prior_cwnd = self.cwnd
        r.prr_delivered = r.prr_out = 0
        self._cwnd_cnt = 0
        self.ssthresh = self.loss_ssthresh(self.cwnd if flight_size is None else flight_size)

    def _current_ssthresh(self) -> int:
        """Linux tcp_current_ssthresh: what an undo restores."""
        if self.reducing:
            return self.ssthresh
        return max(self.ssthresh, self.cwnd * 3 // 4)

    def enter_recovery(self, high_seq: int, *, flight_size: int | None = None, ecn: bool = False) -> None:
        """A loss was detected: fast recovery until ``high_seq`` (SND.NXT now) is acknowledged
        (RFC 5681 3.2 / RFC 6675 5 / RFC 6937; Linux tcp_enter_recovery). From CWR the window
        is already reducing; ``ecn``: the same ACK echoed congestion, no undo then."""
        if not self.reducing:
            self._begin_reduction(0 if ecn else self._current_ssthresh(), high_seq, flight_size)
            if not self.prr:
                self.cwnd = self.ssthresh
        self._ongoing.high_seq = high_seq
        self.phase = Phase.RECOVERY

    def enter_cwr(self, high_seq: int, flight_size: int | None = None) -> None:
        """Congestion without loss (an ECN echo, RFC 3168 6.1.2; a loss a probe repaired, RFC
        8985 7.4): reduce once for this window of data (Linux tcp_enter_cwr)."""
        if self.phase is not Phase.OPEN:
            return
        self._begin_reduction(0, high_seq, flight_size)
        self.phase = Phase.CWR
        if not self.prr:
            self.cwnd = self.ssthresh  # RFC 3168 6.1.2: halve at once

    def reduce_now(self, high_seq: int, flight_size: int | None = None) -> None:
        """A reduction begun and ended at once (Linux, a loss repaired by a tail loss probe:
        tcp_init_cwnd_reduction + tcp_end_cwnd_reduction)."""
        if self.phase is Phase.OPEN:
            self._begin_reduction(0, high_seq, flight_size)
            self.cwnd = self.ssthresh

    def on_rto(
        self, high_seq: int, in_flight: int, flight_size: int | None = None, *, renew_in_loss: bool = False
    ) -> None:
        """A retransmission timeout (RFC 5681 3.1 equation 4 and the loss window; Linux
        tcp_enter_loss): ssthresh is taken again when not already reducing, the window is
        what is in flight (``in_flight``, the pipe after everything outstanding was marked lost)
        plus one segment, and slow start rebuilds it. ``flight_size``: what was outstanding.
        ``renew_in_loss`` (Config.recovery_rules "linux": an ACK advanced SND.UNA since the last
        timeout, icsk_retransmits 0): a timeout in LOSS takes a new ssthresh too, from the
        window slow start rebuilt (tcp_enter_loss: ``icsk_ca_state == TCP_CA_Loss &&
        !icsk_retransmits``)."""
        r = self._reduction()
        if self.phase is Phase.OPEN or (renew_in_loss and self.phase is Phase.LOSS):
            r.prior_ssthresh = self._current_ssthresh()
            r.prior_cwnd = self.cwnd
            self.ssthresh = self.loss_ssthresh(self.cwnd if flight_size is None else flight_size)
        self.cwnd = in_flight + self.mss
        self._cwnd_cnt = 0
        r.high_seq = high_seq
        self.phase = Phase.LOSS
        self.on_loss_state()

    def undo(self) -> None:
        """The reduction was spurious (every retransmission came back as a D-SACKed duplicate,
        RFC 2883; Linux tcp_undo_cwnd_reduction): restore the window and the threshold."""
        r = self._red
        if r is None or not r.prior_ssthresh:
            return  # an ECN echo's reduction is never undone
        self.cwnd = max(self.cwnd, r.prior_cwnd)
        if r.prior_ssthresh > self.ssthresh:
            self.ssthresh = r.prior_ssthresh
        self._red = None  # undone: what is left is set again before it is read
        self.phase = Phase.OPEN

    def on_idle_restart(self, idle: float, rto: float, now: float) -> None:
        """The sender is about to send new data after ``idle`` seconds without sending, more
        than the RTO ``rto`` (``Config.slow_start_after_idle``). RFC 5681 4.1: cwnd = min(RW,
        cwnd) with the restart window RW = min(IW, cwnd). Linux (tcp_cwnd_restart): ssthresh
        keeps at least 3/4 of cwnd, and cwnd halves for every RTO of idleness, not below
        min(IW, cwnd)."""
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

    # ---- Linux's counting, for the algorithms --------------------------------------------------
    def _slow_start(self, segs: int) -> int:
        """Linux tcp_slow_start: one segment per segment acknowledged, up to ssthresh; returns
        the segments left over for congestion avoidance."""
        mss = self.mss
        cwnd = self.cwnd // mss
        cap = self.ssthresh // mss  # (min and max written out: per ACK in slow start)
        if cap < cwnd:
            cap = cwnd
        new = cwnd + segs if cwnd + segs < cap else cap
        self.cwnd = new * mss
        return segs - (new - cwnd)

    def _cong_avoid_ai(self, w: int, segs: int) -> None:
        """Linux tcp_cong_avoid_ai: one segment more per ``w`` segments acknowledged."""
        if self._cwnd_cnt >= w:
            self._cwnd_cnt = 0
            self.cwnd += self.mss
        self._cwnd_cnt += segs
        if self._cwnd_cnt >= w:
            delta = self._cwnd_cnt // w
            self._cwnd_cnt -= delta * w
            self.cwnd += delta * self.mss


class NewReno(CongestionControl):
    """RFC 5681 slow start and congestion avoidance; loss recovery as RFC 6582 / RFC 6675 with
    PRR (the base class).

    Counting bytes (RFC 5681 3.1): cwnd += min(N, SMSS) per ACK in slow start, SMSS*SMSS/cwnd
    after; ssthresh = FlightSize / 2. Counting packets (Linux tcp_reno_cong_avoid): only while
    cwnd-limited, slow start adds the segments acknowledged (tcp_slow_start) and congestion
    avoidance one segment per window acknowledged (tcp_cong_avoid_ai); ssthresh = cwnd / 2
    (tcp_reno_ssthresh)."""

    name = "reno"
    __slots__ = ()

    def grow(self, sample: AckSample, now: float) -> None:
        mss = self.mss
        if not self.packets:
            if self.cwnd < self.ssthresh:
                self.cwnd += min(sample.delivered, mss)  # RFC 5681 3.1, equation 2
            else:
                self.cwnd += max(1, mss * mss // max(self.cwnd, 1))  # equation 3
            return
        if not sample.cwnd_limited:
            return  # RFC 7661: no growth while the application leaves the window unused
        segs = sample.delivered_segs or -(-sample.delivered // mss)
        if self.in_slow_start:
            segs = self._slow_start(segs)
        if segs > 0:
            self._cong_avoid_ai(self.cwnd // mss, segs)

    def loss_ssthresh(self, flight_size: int) -> int:
        if self.packets:
            # Linux tcp_reno_ssthresh: half the window in segments (cwnd standing for
            # FlightSize: they are equal while the sender is cwnd-limited), at least 2.
            return max(self.cwnd // self.mss // 2, 2) * self.mss
        return max(flight_size // 2, 2 * self.mss)  # RFC 5681 equation 4


_NO_RTT = float("inf")  # no RTT sample in this round yet (one float all connections share)


class Cubic(CongestionControl):
    """CUBIC (RFC 9438) as Linux's tcp_cubic.c computes it: beta 717/1024, C 0.4, fast
    convergence and the Reno-friendly region on, the window counted in segments, the cubic
    target recomputed at most once per 1/32 s of the Linux clock's HZ (here: once per call with
    a changed window or after 1/32 s).

    Slow start exit by HyStart (Ha & Rhee, "Taming the elephants", 2008) with both of its
    detectors, as Linux's tcp_cubic.c does by default (hystart=1, hystart_detect=3,
    hystart_low_window=16): an ACK train lasting more than half the minimum RTT, or an RTT
    increase of min_rtt/8 (clamped to 4..16 ms) over 8 samples of a round. This is Linux's
    HyStart, *not* RFC 9406's HyStart++ (no conservative slow start phase): Linux's CUBIC does
    not implement HyStart++."""

    name = "cubic"
    __slots__ = ("_curve", "_delay_min", "_round", "hystart")

    BETA = 717 / 1024  # RFC 9438 4.6 beta_cubic = 0.7 (Linux beta = 717 of 1024)
    C = 0.4  # RFC 9438 4.2 (Linux bic_scale 41 / 1024 * 10)
    FRIENDLY_ACKS = 15  # Linux beta_scale: 8 * (1024 + 717) / 3 / (1024 - 717), in 1/8 cwnd
    HYSTART_LOW_WINDOW = 16  # segments
    HYSTART_ACK_DELTA = 0.002  # seconds between ACKs of one train
    HYSTART_MIN_SAMPLES = 8

    def __init__(self, config: Config, *, hystart: bool = True) -> None:
        super().__init__(config)
        self.hystart = hystart
        self._reset()
        self._delay_min = 0.0
        # HyStart's current round and whether it found the exit (``_Round``), made by the first
        # ACK HyStart looks at: None stands for a fresh one (an idle or small-window connection
        # never needs it).
        self._round: _Round | None = None

    def _reset(self) -> None:
        """Linux bictcp_reset: forget the curve; a new epoch starts at the next growth. The
        curve (``_Curve``) is made by the first growth in congestion avoidance or the first
        loss: None stands for a fresh one (Linux's values after bictcp_reset)."""
        self._curve: _Curve | None = None

    def _the_curve(self) -> _Curve:
        c = self._curve
        if c is None:
            c = self._curve = _Curve()
        return c

    @property
    def last_max_cwnd(self) -> int:
        """W_max (RFC 9438 4.2), segments; 0 while unknown."""
        c = self._curve
        return 0 if c is None else c.last_max_cwnd

    # ---- growth --------------------------------------------------------------------------
    def grow(self, sample: AckSample, now: float) -> None:
        """Linux cubictcp_cong_avoid."""
        if not sample.cwnd_limited:
            return
        segs = -(-sample.delivered // self.mss) or 1  # (delivered > 0: on_ack checked)
        if self.cwnd < self.ssthresh:  # (self.in_slow_start)
            if not self.packets:  # RFC 9438 4.10: RFC 5681's slow start, as it counts
                self.cwnd += min(sample.delivered, self.mss)
                return
            segs = self._slow_start(segs)
            if not segs:
                return
        cwnd = self.cwnd // self.mss
        curve = self._the_curve()
        self._update(curve, cwnd, segs, now)
        self._cong_avoid_ai(curve.cnt, segs)

    def _update(self, c: _Curve, cwnd: int, acked: int, now: float) -> None:
        """Linux bictcp_update: how many segments must be acknowledged per segment of growth
        (``c.cnt``) to follow W_cubic(t) = C*(t-K)^3 + W_max (RFC 9438 4.2), never slower than
        the Reno estimate W_est (4.3)."""
        c.ack_cnt += acked
        if not (c.last_cwnd == cwnd and now - c.last_time <= 1 / 32):
            c.last_cwnd = cwnd
            c.last_time = now
            if c.epoch_start is None:
                c.epoch_start = now  # RFC 9438 4.2: the epoch begins
                c.ack_cnt = acked
                c.tcp_cwnd = cwnd
                if c.last_max_cwnd <= cwnd:
                    c.k = 0.0
                    c.origin = cwnd
                else:
                    c.k = ((c.last_max_cwnd - cwnd) / self.C) ** (1 / 3)
                    c.origin = c.last_max_cwnd
            # t is the time since the epoch plus the minimum RTT: the target one RTT ahead
            t = now - c.epoch_start + self._delay_min
            target = int(c.origin + self.C * (t - c.k) ** 3)
            if target > cwnd:
                c.cnt = max(1, int(cwnd / (target - cwnd)))
            else:
                c.cnt = 100 * cwnd  # very small increment
            if c.last_max_cwnd == 0 and c.cnt > 20:
                c.cnt = 20  # the first epoch: grow 5 % per RTT while W_max is unknown
        # RFC 9438 4.3 Reno-friendly region (Linux tcp_friendliness).
        delta = cwnd * self.FRIENDLY_ACKS >> 3
        if delta:
            while c.ack_cnt > delta:
                c.ack_cnt -= delta
                c.tcp_cwnd += 1
        if c.tcp_cwnd > cwnd:
            max_cnt = cwnd // (c.tcp_cwnd - cwnd)
            c.cnt = min(c.cnt, max_cnt)
        c.cnt = max(c.cnt, 2)  # at most 1.5x per RTT

    def loss_ssthresh(self, flight_size: int) -> int:
        """RFC 9438 4.6/4.7 (Linux cubictcp_recalc_ssthresh): W_max with fast convergence,
        ssthresh = cwnd * beta_cubic."""
        cwnd = self.cwnd // self.mss
        c = self._the_curve()
        c.epoch_start = None
        if cwnd < c.last_max_cwnd:
            c.last_max_cwnd = int(cwnd * (1 + self.BETA) / 2)  # RFC 9438 4.7 fast convergence
        else:
            c.last_max_cwnd = cwnd
        return max(int(cwnd * self.BETA), 2) * self.mss

    def on_loss_state(self) -> None:
        """Linux cubictcp_state(TCP_CA_Loss): a timeout forgets the curve and restarts HyStart."""
        self._reset()
        r = self._round
        if r is not None:
            r.found = False
            r.end_seq = 0

    def undo(self) -> None:
        super().undo()
        if self._curve is not None:
            self._curve.epoch_start = None

    def on_tx_start(self, idle: float, now: float) -> None:
        """Linux cubictcp_cwnd_event(CA_EVENT_TX_START): an idle sender does not grow, so the
        epoch is shifted by the idle time."""
        c = self._curve
        if c is not None and c.epoch_start is not None and idle > 0:
            c.epoch_start = min(c.epoch_start + idle, now)

    # ---- HyStart -------------------------------------------------------------------------
    def pkts_acked(self, sample: AckSample, now: float) -> None:
        """Linux cubictcp_acked: track the minimum delay; HyStart in slow start."""
        if sample.rtt is None:
            return
        c = self._curve
        if c is not None and c.epoch_start is not None and now - c.epoch_start < 1.0:
            return  # samples right after a reduction are not trusted
        rtt = sample.rtt
        if rtt < 1e-6:
            rtt = 1e-6
        if not self._delay_min or rtt < self._delay_min:
            self._delay_min = rtt
        r = self._round
        if (
            self.hystart
            and (r is None or not r.found)
            and self.cwnd < self.ssthresh  # (self.in_slow_start)
            and self.cwnd >= self.HYSTART_LOW_WINDOW * self.mss
        ):
            self._hystart_update(rtt, sample, now)

    def _hystart_update(self, rtt: float, sample: AckSample, now: float) -> None:
        """Linux hystart_update."""
        r = self._round
        if r is None:
            r = self._round = _Round()
        snd_una, end_seq = sample.snd_una, r.end_seq
        if snd_una != end_seq and (snd_una - end_seq) & sq.MASK < sq.HALF:  # (sq.gt: per ACK)
            r.begin(sample.snd_nxt, now)
        # ACK train: ACKs closely spaced for longer than half the minimum RTT.
        if now - r.last_ack <= self.HYSTART_ACK_DELTA:
            r.last_ack = now
            if now - r.start > self._delay_min / 2:
                self._exit_slow_start()
                return
        # Delay increase: the round's minimum RTT above min_rtt + clamp(min_rtt/8, 4, 16 ms).
        if rtt < r.curr_rtt:
            r.curr_rtt = rtt
        if r.sample_cnt < self.HYSTART_MIN_SAMPLES:
            r.sample_cnt += 1
        elif r.curr_rtt > self._delay_min + min(max(self._delay_min / 8, 0.004), 0.016):
            self._exit_slow_start()

    def _exit_slow_start(self) -> None:
        assert self._round is not None  # (slow start is left in a HyStart round)
        self._round.found = True  # (HyStart looks no more until a timeout: on_loss_state)
        self.ssthresh = self.cwnd


class _Reduction:
    """A window reduction (CWR, Recovery, Loss): where it ends, what it began from (kept after
    it ends while an undo may restore it), and PRR's counts (RFC 6937)."""

    __slots__ = ("high_seq", "prior_cwnd", "prior_ssthresh", "prr_delivered", "prr_out")

    def __init__(self) -> None:
        self.high_seq = 0  # the reduction ends when this is acknowledged (RFC 6582 "recover")
        self.prior_cwnd = 0
        self.prior_ssthresh = 0  # what an undo restores (0: nothing to undo)
        self.prr_delivered = 0
        self.prr_out = 0


class _Curve:
    """The CUBIC curve (what Linux's bictcp_reset resets in struct bictcp), made by the first
    growth in congestion avoidance or the first loss: bictcp_reset's values until then."""

    __slots__ = ("ack_cnt", "cnt", "epoch_start", "k", "last_cwnd", "last_max_cwnd", "last_time", "origin", "tcp_cwnd")

    def __init__(self) -> None:
        self.last_max_cwnd = 0  # W_max, segments
        self.epoch_start: float | None = None  # None: a new epoch starts at the next growth
        self.cnt = 0  # segments acknowledged per segment of growth
        self.last_cwnd = 0
        self.last_time = -1.0
        self.origin = 0  # W_max of the current epoch's curve
        self.k = 0.0  # RFC 9438 4.2 K, seconds
        self.ack_cnt = 0
        self.tcp_cwnd = 0  # RFC 9438 4.3 W_est, segments


class _Round:
    """One round of HyStart (Linux bictcp_hystart_reset's fields) and whether HyStart found
    where slow start ends (Linux's ``found``), made by the first ACK that HyStart looks at."""

    __slots__ = ("curr_rtt", "end_seq", "found", "last_ack", "sample_cnt", "start")

    def __init__(self) -> None:
        self.found = False
        self.start = self.last_ack = 0.0
        self.end_seq = 0
        self.curr_rtt = _NO_RTT
        self.sample_cnt = 0

    def begin(self, snd_nxt: int, now: float) -> None:
        """Linux bictcp_hystart_reset: a new round of slow start begins."""
        self.start = self.last_ack = now
        self.end_seq = snd_nxt
        self.curr_rtt = _NO_RTT
        self.sample_cnt = 0


# Upstream Linux's default is CUBIC (CONFIG_DEFAULT_TCP_CONG="cubic"), and it is the `linux`
# profile's. The kernel measured for tcplab (notes/linux-behaviour.md J) was built with bbr as
# its default; BBR is not implemented here.
ALGORITHMS: dict[str, type[CongestionControl]] = {cls.name: cls for cls in (NewReno, Cubic)}


def create(config: Config) -> CongestionControl:
    """The algorithm ``config.congestion_control`` names (ValueError when there is none)."""
    name = config.congestion_control
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown congestion control {name!r}; choose from {', '.join(ALGORITHMS)}") from None
    return cls(config)
