"""Round-trip time and the retransmission timeout: RFC 6298, or Linux's estimator.

``Config.rtt_estimator`` chooses:

- "rfc": RFC 6298 2.2-2.5: SRTT and RTTVAR with gains 1/8 and 1/4, RTO = max(SRTT + 4 RTTVAR,
  RTO.min), at most RTO.max;
- "linux" (tcp_rtt_estimator, __tcp_set_rto): the same SRTT; the deviation gains 1/4 when the
  RTT grows but only 1/32 when it falls (a sudden drop must not inflate the timeout); the
  variance term of the RTO is the largest deviation seen over the last window of data, decayed
  once per window and never below RTO.min; RTO = SRTT + that term. So RTO.min is the floor of
  the variance term, not of the RTO: on a 4 ms path the kernel's RTO is 204 ms (measured,
  notes/linux-behaviour.md I), RFC 6298's would be 200 ms.

Both back off exponentially (RFC 6298 5.5) and keep the running minimum RTT over a window
(Linux tcp_update_rtt_min, net.ipv4.tcp_min_rtt_wlen = 300 s), which loss detection (RACK) uses.
"""

from __future__ import annotations

from tcplab.tcp import seq as sq

MIN_RTT_WINDOW = 300.0  # Linux net.ipv4.tcp_min_rtt_wlen


class _Rules:
    """The estimator's settings: one object for every estimator with the same (read-only: a
    change takes another)."""

    __slots__ = ("linux", "rto_initial", "rto_max", "rto_min")

    def __init__(self, rto_initial: float, rto_min: float, rto_max: float, linux: bool) -> None:
        self.rto_initial = rto_initial
        self.rto_min = rto_min
        self.rto_max = rto_max
        self.linux = linux


_RULES: dict[tuple[float, float, float, bool], _Rules] = {}


def _rules(rto_initial: float, rto_min: float, rto_max: float, linux: bool) -> _Rules:
    key = (rto_initial, rto_min, rto_max, linux)
    rules = _RULES.get(key)
    if rules is None:
        rules = _RULES[key] = _Rules(*key)
    return rules


class RTTEstimator:
    __slots__ = (
        "_backoff",
        "_mdev4",
        "_mdev_max4",
        "_min_time",
        "_rto",
        "_rtt_seq",
        "_rules",
        "_var4",
        "min_rtt",
        "samples",
        "srtt",
    )

    def __init__(self, rto_initial: float, rto_min: float, rto_max: float, *, linux: bool = False) -> None:
        # The timeout is read on nearly every segment and changes only with what it is
        # computed from (a sample, the backoff, the initial RTO): kept until then (None: to
        # compute). The attributes it depends on are written here only, or through setters.
        self._rto: float | None = None
        self._rules = _rules(rto_initial, rto_min, rto_max, linux)  # shared, read-only
        self.srtt: float | None = None
        self._backoff = 0
        self.samples = 0
        self.min_rtt: float | None = None  # the least RTT seen over the last MIN_RTT_WINDOW
        self._min_time = 0.0
        # The deviation scaled by 4 (RFC 6298's 4 * RTTVAR; Linux's mdev_us); Linux's other
        # variance terms, scaled alike (mdev_max_us, rttvar_us), and the end of the current
        # window of data (rtt_seq).
        self._mdev4 = 0.0
        self._mdev_max4 = 0.0
        self._var4 = 0.0
        self._rtt_seq = 0

    def sample(self, r: float, now: float = 0.0, snd_una: int = 0, snd_nxt: int = 0) -> None:
        """A new RTT measurement ``r`` at ``now``. ``snd_una``/``snd_nxt`` (after the ACK that
        gave it) delimit Linux's per-window decay of the variance term."""
        if r < 0.0:
            r = 0.0
        self._rto = None
        self.samples += 1
        min_rtt = self.min_rtt  # (update_min, written out: per ACK)
        if min_rtt is None or r <= min_rtt or now - self._min_time > MIN_RTT_WINDOW:
            self.min_rtt, self._min_time = r, now
        if self._rules.linux:
            self._sample_linux(r, snd_una, snd_nxt)
        elif self.srtt is None:
            self.srtt = r  # RFC 6298 2.2: RTTVAR = R/2
            self._mdev4 = 2 * r
        else:  # 2.3, K = 4, alpha 1/8, beta 1/4 (times 4: exact, a power of two)
            self._mdev4 = 0.75 * self._mdev4 + abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r

    def update_min(self, r: float, now: float) -> None:
        """An RTT candidate for the running minimum (Linux tcp_update_rtt_min, a window of
        MIN_RTT_WINDOW seconds): the RTT samples, and the delivery time of each segment sent
        once (loss detection's)."""
        if self.min_rtt is None or r <= self.min_rtt or now - self._min_time > MIN_RTT_WINDOW:
            self.min_rtt, self._min_time = r, now

    def _sample_linux(self, m: float, snd_una: int, snd_nxt: int) -> None:
        """tcp_rtt_estimator, in seconds (the ``4`` names are the kernel's 4x scaled terms)."""
        if self.srtt is None:
            self.srtt = m
            self._mdev4 = 2 * m  # "make sure rto = 3*rtt"
            self._var4 = self._mdev_max4 = max(self._mdev4, self._rules.rto_min)
            self._rtt_seq = snd_nxt
        else:
            err = m - self.srtt
            self.srtt += err / 8
            if err < 0:
                d = -err - self._mdev4 / 4
                if d > 0:
                    d /= 8  # the RTT fell: a much smaller gain (like Eifel, but gentler)
            else:
                d = err - self._mdev4 / 4
            self._mdev4 += d
            if self._mdev4 > self._mdev_max4:
                self._mdev_max4 = self._mdev4
                self._var4 = max(self._var4, self._mdev_max4)
            # A window of data went by (SND.UNA after rtt_seq, sq.gt written out): decay, start over.
            rtt_seq = self._rtt_seq
            if snd_una != rtt_seq and (snd_una - rtt_seq) & sq.MASK < sq.HALF:
                if self._mdev_max4 < self._var4:
                    self._var4 -= (self._var4 - self._mdev_max4) / 4
                self._rtt_seq = snd_nxt
                self._mdev_max4 = self._rules.rto_min

    @property
    def rttvar(self) -> float | None:
        """RFC 6298 RTTVAR (Linux: mdev), derived from the scaled term."""
        return None if self.srtt is None else self._mdev4 / 4

    @property
    def rto_min(self) -> float:
        return self._rules.rto_min

    @property
    def rto_max(self) -> float:
        return self._rules.rto_max

    @property
    def linux(self) -> bool:
        """Linux's estimator (tcp_rtt_estimator), else RFC 6298's."""
        return self._rules.linux

    @property
    def backoff(self) -> int:
        """RTO backoffs since the last forward progress (RFC 6298 5.5)."""
        return self._backoff

    @backoff.setter
    def backoff(self, n: int) -> None:
        self._backoff = n
        self._rto = None

    @property
    def rto_initial(self) -> float:
        return self._rules.rto_initial

    @rto_initial.setter
    def rto_initial(self, rto: float) -> None:
        r = self._rules
        self._rules = _rules(rto, r.rto_min, r.rto_max, r.linux)
        self._rto = None

    @property
    def base_rto(self) -> float:
        rules = self._rules
        if self.srtt is None:
            return min(max(rules.rto_initial, rules.rto_min), rules.rto_max)  # RFC 6298 2.1
        if rules.linux:
            return min(self.srtt + self._var4, rules.rto_max)  # __tcp_set_rto, tcp_bound_rto
        # RFC 6298 2.3 with G (clock granularity) taken as 1 ms; 2.4 floor, 2.5 ceiling.
        return min(max(self.srtt + max(0.001, self._mdev4), rules.rto_min), rules.rto_max)

    @property
    def rto(self) -> float:
        """The current timeout, backed off (RFC 6298 5.5: double on each expiry)."""
        rto = self._rto
        if rto is None:
            rto = self.base_rto  # not backed off: the same float, not a copy of it
            if self._backoff:
                rto = min(rto * (1 << min(self._backoff, 30)), self._rules.rto_max)
            self._rto = rto
        return rto
