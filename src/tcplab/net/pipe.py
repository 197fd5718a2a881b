"""Two engines back to back through an in-memory pipe, on a virtual clock.

A tool for tests and benchmarks (``benchmarks/engine.py``): two ``Connection`` objects, no host,
no bytes on a wire. Segments pass as objects, after ``delay`` seconds, through a ``hook`` that may
drop, duplicate, delay or reorder them (``lossy_hook``); super-segments (``Config.gso_max``)
travel whole, or with ``split=True`` as the parts a link's GSO makes of them (``gso_parts``).
``step()`` runs the next arrival or timer; ``run()`` runs until a time, a condition or quiet.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Callable

from tcplab.tcp import Config, Connection
from tcplab.tcp.events import StateChanged
from tcplab.wire.tcp import FLAGS, Segment

FIN, PSH, CWR = 0x01, 0x08, 0x80

Hook = Callable[[str, Segment], list[float] | None]


class Pipe:
    """``a`` (client, 198.18.0.1:40000) and ``b`` (server, 198.18.0.2:9527) joined by a link."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        delay: float = 0.01,
        a_iss: int = 1000,
        b_iss: int = 5000,
        hook: Hook | None = None,
        config_b: Config | None = None,
        keep_log: bool = True,
        split: bool = False,
    ) -> None:
        config = config or Config()
        self.now = 0.0
        self.delay = delay
        self.a = Connection(config, ("198.18.0.1", 40000), ("198.18.0.2", 9527), iss=a_iss, name="a")
        self.b = Connection(config_b or config, ("198.18.0.2", 9527), ("198.18.0.1", 40000), iss=b_iss, name="b")
        self.hook = hook
        self._sides = (("a", self.a), ("b", self.b))  # (what flush goes through, twice a step)
        # A super-segment (Config.gso_max) goes on the link whole, as GRO would hand it on, or
        # with ``split`` as the parts a NIC's TSO or the kernel's GSO makes of it.
        self.split = split
        self._queue: list[tuple[float, int, str, Segment]] = []
        self._n = 0
        # (send time, sender, segment) of every segment sent, and each side's events; a
        # benchmark that moves gigabytes passes keep_log=False: it reads only the count ``sent``
        # and the states, and the engines do not make the events that narrate each segment
        # (Connection.per_segment_events).
        self.log: list[tuple[float, str, Segment]] = []
        self.keep_log = keep_log
        self.a.per_segment_events = self.b.per_segment_events = keep_log
        self.sent = 0
        self.states: dict[str, list[str]] = {"a": [], "b": []}
        self.events: dict[str, list] = {"a": [], "b": []}

    def conn(self, name: str) -> Connection:
        return self.a if name == "a" else self.b

    def flush(self) -> None:
        for name, c in self._sides:
            segs = c.segments_to_send()
            if segs:
                self._enqueue(name, segs)
            events = c.events()
            if events:
                self._record(name, events)

    def _enqueue(self, name: str, segs: list[Segment]) -> None:
        """Put what ``name`` sent on the link (through the hook, if any)."""
        if self.split:
            segs = [part for seg in segs for part in (gso_parts(seg) if seg.gso_size else (seg,))]
        self.sent += len(segs)
        queue, now, hook = self._queue, self.now, self.hook
        if hook is None and not self.keep_log:  # (a benchmark's link: every segment arrives)
            for seg in segs:
                self._n += 1
                heapq.heappush(queue, (now + self.delay, self._n, name, seg))
            return
        for seg in segs:
            if self.keep_log:
                self.log.append((now, name, seg))
            delays = None if hook is None else hook(name, seg)
            if delays is None:
                self._n += 1
                heapq.heappush(queue, (now + self.delay, self._n, name, seg))
                continue
            for d in delays:
                self._n += 1
                heapq.heappush(queue, (now + d, self._n, name, seg))

    def _record(self, name: str, events: list) -> None:
        if self.keep_log:
            self.events[name].extend(events)
        for ev in events:
            if isinstance(ev, StateChanged):
                if not self.states[name]:
                    self.states[name].append(ev.src.value)
                self.states[name].append(ev.dst.value)

    def step(self) -> bool:
        """Run the next event (arrival or timer). False when nothing is left."""
        self.flush()
        a, b, queue = self.a, self.b, self._queue
        da, db = a.next_deadline(), b.next_deadline()
        t_tmr = db if da is None else da if db is None or da <= db else db
        if t_tmr is not None and (not queue or t_tmr < queue[0][0]):
            now = self.now = t_tmr if t_tmr > self.now else self.now
            if da is not None and da <= now:
                a.handle_timeout(now)
            if db is not None and db <= now:
                b.handle_timeout(now)
        elif queue:
            t, _, sender, seg = heapq.heappop(queue)
            now = self.now = t if t > self.now else self.now
            (b if sender == "a" else a).segment_arrives(seg, now)
        else:
            return False  # nothing to arrive, no timer armed
        self.flush()
        return True

    def run(
        self, until: float | None = None, max_steps: int = 10_000_000, stop: Callable[[], bool] | None = None
    ) -> None:
        for _ in range(max_steps):
            if stop is not None and stop():
                return
            if until is not None:
                nxt = self._next_time()
                if nxt is None or nxt > until:
                    self.now = max(self.now, until)
                    return
            if not self.step():
                return
        raise AssertionError("pipe did not settle")

    def _next_time(self) -> float | None:
        self.flush()
        times = [t for c in (self.a, self.b) if (t := c.next_deadline()) is not None]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times) if times else None


def gso_parts(seg: Segment) -> list[Segment]:
    """The segments a link makes of super-segment ``seg`` (Linux tcp_gso_segment): ``gso_size``
    octets of payload each, the same header and options, CWR on the first only, PSH and FIN on
    the last only."""
    flags = int(seg.flags)
    size, payload, n = seg.gso_size, seg.payload, len(seg.payload)
    parts = []
    for off in range(0, n, size):
        f = flags if off + size >= n else flags & ~(PSH | FIN)
        if off:
            f &= ~CWR
        seq = (seg.seq + off) & 0xFFFFFFFF
        parts.append(dataclasses.replace(seg, seq=seq, flags=FLAGS[f], payload=payload[off : off + size], gso_size=0))
    return parts


def lossy_hook(seed: int, loss: float = 0.05, dup: float = 0.02, reorder: float = 0.05, delay: float = 0.01) -> Hook:
    rng = random.Random(seed)

    def hook(sender: str, seg: Segment) -> list[float]:
        if rng.random() < loss:
            return []
        d = delay + (rng.random() * 0.02 if rng.random() < reorder else 0.0)
        if rng.random() < dup:
            return [d, d + 0.001]
        return [d]

    return hook
