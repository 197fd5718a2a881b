"""Long runs folded, so a ladder of a 1 MB transfer stays a picture a person can read.

``fold_events(events)`` returns the events unchanged when they hold at most ``limit`` segments.
Beyond that, each long stretch of segments with no state change between them (a transfer) keeps
its beginning, its first loss episode (from the first segment lost, duplicated, corrupted or sent
again on) and its end, and each run of the rest becomes one ``fold`` event saying what it hid::

    {"t": 0.35, "kind": "fold", "t_end": 1.19, "segments": 618, "data": 412, "acks": 206,
     "lost": 3, "retransmitted": 4, "text": "… 412 data segments, 206 ACKs (3 lost, 4 sent
     again) in 0.84 s …"}

State changes, outcomes and notes are never folded. A kept segment that repeats a folded one is
marked ``"retransmission": true`` (the ladders cannot see the original any more).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["LIMIT", "fold_events", "fold_text", "retransmissions"]

Event = dict[str, Any]


def retransmissions(events: Sequence[Event]) -> set[int]:
    """Indexes (into ``events``) of segments that repeat an earlier one from the same sender:
    same flags, sequence number and length, carrying data, SYN or FIN (or that a fold marked
    ``"retransmission": true``)."""
    seen: set[tuple[Any, ...]] = set()
    out: set[int] = set()
    for i, e in enumerate(events):
        if e.get("kind") != "segment":
            continue
        if e.get("retransmission"):
            out.add(i)
            continue
        flags = str(e.get("flags", ""))
        if not (e.get("len") or "S" in flags or "F" in flags) or "R" in flags:
            continue
        seq = e.get("abs_seq", e.get("seq"))
        key = (e.get("src"), e.get("dst"), e.get("sport"), e.get("dport"), flags.replace("P", ""), seq, e.get("len"))
        if key in seen:
            out.add(i)
        else:
            seen.add(key)
    return out


LIMIT = 80  # segments a ladder draws in full before it folds
_SHOWN_KINDS = ("state", "outcome", "note")


def _telling(e: Event, rtx: bool) -> bool:
    flags = str(e.get("flags", ""))
    return rtx or any(f in flags for f in "SFR") or e.get("fate", "delivered") != "delivered"


def _duration(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    return f"{seconds * 1000:.0f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


def fold_text(data: int, acks: int, lost: int, again: int, seconds: float) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    parts = [plural(data, "data segment")] if data else []
    if acks:
        parts.append(plural(acks, "ACK"))
    extra = []
    if lost:
        extra.append(f"{lost} lost")
    if again:
        extra.append(f"{again} sent again")
    text = ", ".join(parts) or "segments"
    if extra:
        text += f" ({', '.join(extra)})"
    return f"\u2026 {text} in {_duration(seconds)} \u2026"


def _stretches(events: Sequence[Event]) -> list[list[int]]:
    """Runs of segment events with no state change, outcome or note between them."""
    out: list[list[int]] = []
    current: list[int] = []
    for i, e in enumerate(events):
        kind = e.get("kind")
        if kind == "segment":
            current.append(i)
        elif kind in _SHOWN_KINDS and current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def fold_events(
    events: Sequence[Event], limit: int = LIMIT, head: int = 12, episode: int = 30, tail: int = 10
) -> tuple[list[Event], int]:
    """The events with long runs folded, and how many segments were folded (0: none).

    Nothing is folded when the events hold at most ``limit`` segments. Beyond that, each long
    stretch without a state change (a transfer) keeps its first ``head`` segments, its first
    loss episode (``episode`` segments from the first one lost, duplicated, corrupted or sent
    again) and its last ``tail``; the rest of it folds into summary events."""
    evs = list(events)
    if sum(1 for e in evs if e.get("kind") == "segment") <= limit:
        return evs, 0
    rtx = retransmissions(evs)
    folded: dict[int, list[int]] = {}  # the first folded event's index -> the run's indexes
    for stretch in _stretches(evs):
        if len(stretch) <= head + episode + tail + 2:
            continue
        keep = set(stretch[:head]) | set(stretch[-tail:])
        first = next((n for n in range(head, len(stretch) - tail) if _telling(evs[stretch[n]], stretch[n] in rtx)),
                     None)  # fmt: skip
        if first is not None:
            keep.update(stretch[first : first + episode])
        run: list[int] = []
        for i in [*stretch, None]:
            if i is not None and i not in keep:
                run.append(i)
                continue
            if len(run) > 2:  # one or two segments are drawn rather than summed up
                folded[run[0]] = run
            run = []
    in_fold = {i for run in folded.values() for i in run}
    out: list[Event] = []
    count = 0
    for i, e in enumerate(evs):
        if i in folded:
            hid = [evs[j] for j in folded[i]]
            data = sum(1 for s in hid if s.get("len"))
            lost = sum(1 for s in hid if s.get("fate") == "dropped")
            again = sum(1 for j in folded[i] if j in rtx)
            t0, t1 = float(hid[0]["t"]), float(hid[-1]["t"])
            out.append({
                "t": t0, "kind": "fold", "t_end": t1, "segments": len(hid), "data": data,
                "acks": len(hid) - data, "lost": lost, "retransmitted": again,
                "text": fold_text(data, len(hid) - data, lost, again, t1 - t0),
            })  # fmt: skip
            count += len(hid)
        elif i in in_fold:
            continue
        elif e.get("kind") == "segment" and i in rtx:
            out.append({**e, "retransmission": True})
        elif e.get("kind") == "segment" or e.get("kind") in _SHOWN_KINDS:
            out.append(e)
    return out, count
