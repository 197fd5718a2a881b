"""Retransmission timer computation per RFC 6298."""

from __future__ import annotations


class RTTEstimator:
    """SRTT/RTTVAR and the RTO of RFC 6298 section 2, with exponential backoff (5.5)."""

    __slots__ = ("backoff", "rto_initial", "rto_max", "rto_min", "rttvar", "samples", "srtt")

    def __init__(self, rto_initial: float, rto_min: float, rto_max: float) -> None:
        self.rto_initial = rto_initial
        self.rto_min = rto_min
        self.rto_max = rto_max
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.backoff = 0
        self.samples = 0

    def sample(self, r: float) -> None:
        """A new RTT measurement ``r`` (RFC 6298 2.2 and 2.3; K = 4, alpha 1/8, beta 1/4)."""
        r = max(r, 0.0)
        if self.srtt is None or self.rttvar is None:
            self.srtt = r
            self.rttvar = r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.samples += 1

    @property
    def base_rto(self) -> float:
        if self.srtt is None or self.rttvar is None:
            rto = self.rto_initial  # RFC 6298 2.1
        else:
            # RFC 6298 2.3 with G (clock granularity) taken as 1 ms.
            rto = self.srtt + max(0.001, 4 * self.rttvar)
        return min(max(rto, self.rto_min), self.rto_max)  # 2.4 floor, 2.5 ceiling

    @property
    def rto(self) -> float:
        """The current timeout, backed off (RFC 6298 5.5: double on each expiry)."""
        return min(self.base_rto * (1 << min(self.backoff, 30)), self.rto_max)
