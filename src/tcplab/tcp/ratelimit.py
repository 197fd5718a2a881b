"""RFC 5961 section 7: ACK throttling, as Linux does it.

Two limits, both from Linux (measured on this kernel: notes/linux-engine-notes.md):

- per connection (``OutOfWindowLimit``, tcp_invalid_ratelimit, 500 ms): at most one challenge ACK
  or one ACK for an out-of-window or PAWS-rejected segment per interval, so that a blind
  attacker gets little feedback and two confused ends cannot keep an ACK loop going
  (tcp_oow_rate_limited). Segments carrying data (without SYN) are exempt: their duplicate ACKs
  are how the sender learns what got lost;
- per host (``ChallengeAckLimit``, tcp_challenge_ack_limit): challenge ACKs of all connections
  together, per second. Linux draws each second's budget uniformly from
  [L/2, L + L/2 - 1] (rounded as its code does); the default on this kernel is 2^31 - 1, which
  turns the host-wide limit off.

The host owns one ``ChallengeAckLimit`` and hands it to every connection; each connection owns
its ``OutOfWindowLimit``. Neither reads a clock: ``now`` is an argument.
"""

from __future__ import annotations

import random

from tcplab.tcp.config import Config

NO_HOST_LIMIT = 2**31 - 1  # Linux INT_MAX: tcp_challenge_ack_limit off


class OutOfWindowLimit:
    """Linux __tcp_oow_rate_limited: one ACK per ``interval`` seconds (0: no limit)."""

    __slots__ = ("interval", "last")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: float | None = None  # when the last such ACK was allowed

    def allow(self, now: float) -> bool:
        last = self.last
        if self.interval > 0 and last is not None and 0 <= now - last < self.interval:
            return False
        self.last = now
        return True


class ChallengeAckLimit:
    """The host-wide budget of challenge ACKs per second (Linux tcp_challenge_ack_limit).

    ``config`` is the host's: its ``challenge_ack_limit`` is read at each use, so a change to
    the host's setting applies at once. ``rng`` draws each second's budget (the host seeds it,
    so a simulated run replays exactly)."""

    __slots__ = ("_count", "_rng", "_second", "config")

    def __init__(self, config: Config, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._second: int | None = None
        self._count = 0

    def allow(self, now: float) -> bool:
        limit = self.config.challenge_ack_limit
        if limit >= NO_HOST_LIMIT:
            return True
        second = int(now)
        if second != self._second:
            half = (limit + 1) >> 1
            self._second = second
            self._count = self._rng.randint(half, max(half, limit + half - 1))
        if self._count > 0:
            self._count -= 1
            return True
        return False
