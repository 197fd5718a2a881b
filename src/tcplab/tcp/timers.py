"""A connection's timers as one table: a deadline per ``Timer``, absolute, in seconds.

The engine arms and stops timers by name; ``earliest()`` is what ``Connection.next_deadline``
reports, and ``due(now)`` yields the expired ones in the order ``Timer`` lists them (that order is
the order ``Connection.handle_timeout`` runs them in). Nothing here reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator


class Timer(enum.IntEnum):
    """The timers of one connection, in the order their expiries are handled."""

    TIME_WAIT = 0  # RFC 9293 3.10.8: 2 MSL, then delete the TCB
    FIN_WAIT_2 = 1  # Linux tcp_fin_timeout for an orphaned FIN-WAIT-2
    USER_TIMEOUT = 2  # RFC 9293 3.8.3 / RFC 5482 (TCP_USER_TIMEOUT): give up at this time
    RETRANSMISSION = 3  # RFC 6298
    TLP = 4  # RFC 8985 tail loss probe
    RACK_REORDER = 5  # RFC 8985 reordering window
    PERSIST = 6  # RFC 9293 3.8.6.1 zero-window probes
    KEEPALIVE = 7  # RFC 9293 3.8.4
    DELAYED_ACK = 8  # RFC 9293 3.8.6.3


_ORDER = tuple(Timer)
_ALL_STOPPED = (None,) * len(_ORDER)


class Timers(list[float | None]):
    """Deadlines keyed by ``Timer``; ``None`` is a stopped timer. The table is the object itself,
    a list indexed by ``Timer`` (one object per connection instead of an object and its list);
    the engine uses only the methods below."""

    __slots__ = ()

    def __init__(self) -> None:
        list.__init__(self, _ALL_STOPPED)  # (made per connection: no super() lookup, no temporary)

    def arm(self, timer: Timer, when: float) -> None:
        self[timer] = when

    def arm_if_stopped(self, timer: Timer, when: float) -> None:
        if self[timer] is None:
            self[timer] = when

    def stop(self, timer: Timer) -> None:
        self[timer] = None

    def stop_all(self) -> None:
        self[:] = [None] * len(_ORDER)  # in place: a running ``due`` sees it

    def deadline(self, timer: Timer) -> float | None:
        return self[timer]

    def armed(self, timer: Timer) -> bool:
        return self[timer] is not None

    def idle(self) -> bool:
        """No timer runs (a test in C: this is asked on every ACK that acknowledges all)."""
        return self.count(None) == len(_ORDER)

    def earliest(self) -> float | None:
        best: float | None = None
        for d in self:
            if d is not None and (best is None or d < best):
                best = d
        return best

    def due(self, now: float) -> Iterator[Timer]:
        """The timers expired at ``now``, in ``Timer`` order, each stopped as it is yielded.
        Lazy: a timer that the handling of an earlier one stopped or re-armed is judged by its
        deadline at that moment."""
        deadline = self
        for timer in _ORDER:
            d = deadline[timer]
            if d is not None and d <= now:
                deadline[timer] = None
                yield timer

    def __repr__(self) -> str:
        armed = ", ".join(f"{t.name}={d:g}" for t, d in zip(_ORDER, self, strict=True) if d is not None)
        return f"<Timers {armed or 'none'}>"


class _Stopped(Timers):
    """The table of every connection with no timer running (``STOPPED``), shared: an idle
    connection holds it instead of a table of its own (136 bytes). Stopping a timer in it
    changes nothing; arming one is a bug (the connection takes its own table first)."""

    __slots__ = ()

    def arm(self, timer: Timer, when: float) -> None:
        raise TypeError("arming a timer in the shared STOPPED table")

    arm_if_stopped = arm


STOPPED: Timers = _Stopped()
