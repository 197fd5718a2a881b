"""The event stream: everything observable, as plain dicts (the JSON Lines trace format).

One object per event: ``t`` in seconds on the run's clock, ``kind`` (``state``, ``segment``,
``outcome``, ``note``, ``cwnd``, ``rtt``, ``clock``), ``host``, then the kind's fields;
docs/architecture.md ("The event stream", "Time") lists them. The JSON Lines form is a public
interface. This module is standard library only, so every layer may emit events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

Event = dict[str, Any]

#: What ``t == 0`` of a simulated run is in wall-clock time: 2000-01-01T00:00:00Z. Fixed, so every
#: run (and its capture) is the same byte for byte; not 1970, so Wireshark shows a real date.
EPOCH = 946684800.0


def clock_event(epoch: float, source: str) -> Event:
    """The ``clock`` event: ``t == 0`` of this run is ``epoch`` (Unix seconds)."""
    import datetime

    utc = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
    return {"t": 0.0, "kind": "clock", "epoch": epoch, "utc": text, "source": source}


class EventLog:
    """An append-only list of events with subscribers (for live views like ``--watch``).

    ``EventLog()`` keeps every event: a trace. ``EventLog(limit=N)`` is a ring that keeps the
    latest ``N`` or more (at most ``2 N``; ``dropped`` counts what it let go): what a
    long-running host keeps when nobody asked for a trace. ``EventLog(limit=0)`` keeps none: its
    events are for its subscribers only (``tcplab serve``'s host, whose events only a watching
    ``tcplab netstat`` sees). Subscribers see every event either way.

    ``listening`` says whether an event recorded now would reach anyone (kept, or a subscriber):
    producers check it first and build no event when it would go nowhere.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"an event log limit is at least 0 events, got {limit!r}")
        self.events: list[Event] = []
        self.limit = limit
        self.dropped = 0
        # a tuple, replaced when it changes: a subscriber may unsubscribe while it is called
        self._subscribers: tuple[Callable[[Event], None], ...] = ()
        self.listening = limit != 0  # kept as subscribers come and go: a plain attribute to test

    def record(self, kind: str, t: float, host: str | None = None, **fields: Any) -> Event:
        event: Event = {"t": round(float(t), 6), "kind": kind}
        if host is not None:
            event["host"] = host
        event.update(fields)
        limit = self.limit
        if limit is None:
            self.events.append(event)
        elif limit:
            events = self.events
            events.append(event)
            if len(events) >= 2 * limit:
                self.dropped += len(events) - limit
                del events[: len(events) - limit]  # amortized: once per `limit` events
        else:
            self.dropped += 1
        for callback in self._subscribers:
            callback(event)
        return event

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers += (callback,)
        self.listening = True

    def unsubscribe(self, callback: Callable[[Event], None]) -> None:
        """Stop calling ``callback`` (ValueError if it is not subscribed)."""
        subscribers = list(self._subscribers)
        subscribers.remove(callback)
        self._subscribers = tuple(subscribers)
        self.listening = self.limit != 0 or bool(subscribers)

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["kind"] == kind]

    def states(self, host: str) -> list[str]:
        """The sequence of states ``host`` entered, starting with the first ``from``."""
        out: list[str] = []
        for e in self.events:
            if e["kind"] == "state" and e.get("host") == host:
                if not out:
                    out.append(e["from"])
                out.append(e["to"])
        return out

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def dumps(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), sort_keys=False)


def write_jsonl(events: Iterable[Event], out: TextIO) -> None:
    for event in events:
        out.write(dumps(event) + "\n")


def read_jsonl(lines: Iterable[str]) -> list[Event]:
    return [json.loads(line) for line in lines if line.strip()]
