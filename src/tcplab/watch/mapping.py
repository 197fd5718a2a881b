"""Kernel state changes as rows of tcplab's TRANSITIONS table (for the state diagram).

The tracepoint says which states a socket went between, not why. For a pair with one row the row
is certain; for a pair with several rows (X -> CLOSED: close, RST, abort or timeout) the first row
of the table is taken, except SYN_SENT -> CLOSED, which on a real network is almost always a
refused connection (rcv RST). Events the watcher synthesized know their cause and carry it as
``rfc_cause``; ``"rfc_cause": null`` says the kernel did not tell which of several rows it was
(a TIME_WAIT ended early by an RST or by ``ss -K``): no row is claimed for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition

_PREFERRED: dict[tuple[State, State], Cause] = {
    (State.SYN_SENT, State.CLOSED): Cause.RCV_RST,
}

_FIRST: dict[tuple[State, State], Transition] = {}
for _row in TRANSITIONS:
    _FIRST.setdefault((_row.src, _row.dst), _row)
_BY_CAUSE = {(r.src, r.dst, r.cause): r for r in TRANSITIONS}


def rfc_transition(src: State, dst: State, cause: Cause | str | None = None) -> Transition | None:
    """The TRANSITIONS row for a kernel change from ``src`` to ``dst``; None if there is none."""
    if cause is not None:
        try:
            row = _BY_CAUSE.get((src, dst, Cause(cause)))
        except ValueError:
            row = None
        if row is not None:
            return row
    preferred = _PREFERRED.get((src, dst))
    if preferred is not None:
        return _BY_CAUSE[(src, dst, preferred)]
    return _FIRST.get((src, dst))


def transitions_of(events: Iterable[dict[str, Any]]) -> tuple[list[Transition], list[str]]:
    """The rows the state events took (in order, repeats kept) and the changes with no row."""
    taken: list[Transition] = []
    unknown: list[str] = []
    for event in events:
        if event.get("kind") != "state" or ("rfc_cause" in event and event["rfc_cause"] is None):
            continue
        try:
            src, dst = State(event["from"]), State(event["to"])
        except (KeyError, ValueError):
            unknown.append(f"{event.get('from')} -> {event.get('to')}")
            continue
        row = rfc_transition(src, dst, event.get("rfc_cause"))
        if row is None:
            unknown.append(f"{src} -> {dst}")
        else:
            taken.append(row)
    return taken, unknown
