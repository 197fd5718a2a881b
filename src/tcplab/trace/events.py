"""The event stream: everything observable, as plain dicts (the JSON Lines trace format).

One object per event: ``t`` in seconds, ``kind``, ``host``, then the kind's fields:

- ``state``:   ``from``, ``to``, ``cause`` (and ``conn``: "laddr:lport-raddr:rport")
- ``segment``: ``src``, ``dst`` (host names), ``flags`` ("S", "S.", ".", "P.", "F.", "R", "R."),
  ``seq``/``ack`` relative to each side's ISN, ``len``, ``win``, ``fate`` ("sent", "delivered",
  "dropped", "duplicated", "corrupted"), ``abs_seq``/``abs_ack``, ``options`` (tcpdump style),
  ``t_arrive`` (arrival time, None when it never arrived)
- ``outcome``: ``outcome`` ("connected", "refused", "reset", "timed out", "closed",
  "peer closed"), optional ``detail`` and ``conn``
- ``note``: ``text``: a line of narration from a scenario
- ``cwnd``: ``cwnd``, ``ssthresh`` (bytes; None while "arbitrarily high"), ``reason`` (the
  engine's CongestionChanged), ``conn``
- ``rtt``: ``sample`` (None for an RTO backoff), ``srtt``, ``rttvar``, ``rto`` (seconds; the
  engine's RttChanged), ``conn``
- ``clock``: ``epoch``, ``utc``, ``source``: what ``t == 0`` is in wall-clock time (written
  first by the tools that print traces: ``tcplab demo --json``, ``tcplab watch --json``,
  ``tcplab netstat --watch --json``)

Time. ``t`` is always seconds on the run's clock, from its start: virtual time on the simulator,
real time since the stack (or the watch) started on a real network. A capture of the same run
stamps each packet with ``epoch + t``: ``EPOCH`` (2000-01-01T00:00:00Z) on the simulator, the
wall-clock start on TUN, so a trace and its capture tell the same time.

This module is standard library only, so every layer may emit events.
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
    """An append-only list of events with subscribers (for live views like ``--watch``)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._subscribers: list[Callable[[Event], None]] = []

    def record(self, kind: str, t: float, host: str | None = None, **fields: Any) -> Event:
        event: Event = {"t": round(float(t), 6), "kind": kind}
        if host is not None:
            event["host"] = host
        event.update(fields)
        self.events.append(event)
        for callback in self._subscribers:
            callback(event)
        return event

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.remove(callback)

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
