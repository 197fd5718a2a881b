"""The drill's virtual clock: time belongs to the script, nothing sleeps, no threads.

:class:`Clock` moves virtual time from one due thing to the next -- the host's timers, callbacks
the host asked for (``call_later``), the deadline of a parked system call -- and after each change
lets the runner collect what the host sent and retries the parked call. A system call that has to
wait raises :class:`Blocked` ("retry when ``ready()`` holds, or at ``deadline``"): it is parked
as a :class:`Call` and made again, the way the kernel restarts a blocked system call. Only one
call is parked at a time (packetdrill's rule: one blocking call in flight).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tcplab.drill import ast as A
from tcplab.trace.events import EPOCH


class Blocked(Exception):
    """A system call has to wait: park it until ``ready()`` holds or virtual time reaches
    ``deadline``, then make it again."""

    def __init__(self, ready: Callable[[], bool], deadline: float | None) -> None:
        super().__init__("blocked")
        self.ready = ready
        self.deadline = deadline


class Step:
    """The restartable rest of a system call (what a handler returns when the call may block)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


class Call:
    """One system call: made at once, and when it blocks, parked and made again as virtual time
    advances -- so a blocking call (``T...E``) returns exactly when the socket call would."""

    def __init__(self, make: Callable[[], Any], event: A.Event, start_base: float) -> None:
        self.make = make
        self.event = event
        self.start_base = start_base  # the base of its time (for E)
        self.step: Callable[[], Any] | None = None
        self.done = False
        self.result: Any = None
        self.exc: BaseException | None = None
        self.ready: Callable[[], bool] | None = None
        self.deadline: float | None = None

    def attempt(self) -> None:
        try:
            if self.step is None:
                out = self.make()
                if not isinstance(out, Step):
                    self.result, self.done = out, True
                    return
                self.step = out.fn
            self.result = self.step()
            self.done = True
        except Blocked as blocked:
            self.ready, self.deadline = blocked.ready, blocked.deadline
        except Exception as exc:
            self.exc, self.done = exc, True

    def can_go_on(self, now: float) -> bool:
        if self.deadline is not None and now >= self.deadline:
            return True
        return self.ready is not None and bool(self.ready())


class Clock:
    """Virtual time for one host. ``collect()`` takes what the host sent; ``finished(call)`` is
    told when a parked call completes."""

    def __init__(self, host: Any, collect: Callable[[], None], finished: Callable[[Call], None]) -> None:
        self.host = host
        self.collect = collect
        self.finished = finished
        self.now = 0.0
        self.pending: Call | None = None
        self._later: list[tuple[float, Callable[[], Any]]] = []

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        self._later.append((self.now + delay, callback))

    def next_time(self) -> float | None:
        times = []
        d = self.host.next_deadline()
        if d is not None:
            times.append(d)
        if self._later:
            times.append(min(t for t, _ in self._later))
        if self.pending is not None and self.pending.deadline is not None:
            times.append(self.pending.deadline)
        return min(times) if times else None

    def settle(self) -> None:
        """After a packet, timer or call: collect output, resume a parked call that can go on."""
        self.collect()
        call = self.pending
        if call is not None and not call.done and call.can_go_on(self.now):
            call.attempt()
            self.collect()
        if call is not None and call.done:
            self.pending = None
            self.finished(call)

    def advance_to(self, t: float, stop: Callable[[], bool] | None = None) -> bool:
        """Run everything due up to virtual time ``t``. With ``stop``, return True as soon as
        ``stop()`` holds (the clock then reads when it happened)."""
        if stop is not None and stop():
            return True
        while True:
            nxt = self.next_time()
            if nxt is None or nxt > t:
                break
            if nxt > self.now:
                self.now = nxt
            if self._later:
                due = [cb for when, cb in self._later if when <= self.now]
                self._later = [(w, cb) for w, cb in self._later if w > self.now]
                for cb in due:
                    cb()
            self.host.handle_timeout(self.now)
            self.settle()
            if stop is not None and stop():
                return True
        if t > self.now:
            self.now = t
        self.settle()
        return stop is not None and stop()

    def start(self, call: Call) -> bool:
        """Make a call now; park it when it blocks. True when it completed at once."""
        call.attempt()
        self.collect()
        if call.done:
            return True
        self.pending = call
        return False


class DrillRuntime:
    """``host.runtime`` for the drill: virtual time owned by the script. System calls never wait
    through it: the runner parks them (``Blocked``)."""

    virtual_time = True
    epoch = EPOCH  # virtual time, like the simulator's: t = 0 is 2000-01-01

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now

    def kick(self) -> None:
        pass  # the runner collects the host's output after every step

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        self.clock.call_later(delay, callback)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool:
        if predicate():
            return True
        raise RuntimeError(f"{what or 'a socket call'} waited outside the drill's call machinery")
