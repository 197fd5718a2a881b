"""What became of a script (:class:`Outcome`) and the three ways a run stops early: a
:class:`Fail` (tcplab did something else than the script says), a :class:`Skip` (the script asks
for something tcplab lacks, named) and a :class:`Broken` script (an error of the script itself,
found only while it runs, e.g. a shell script it names is missing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tcplab.drill import ast as A

STATUSES = ("PASS", "FAIL", "SKIP", "ERROR")


@dataclass
class Outcome:
    """What became of one script. ``status``: PASS, FAIL, SKIP, or ERROR (a broken script:
    ``line``/``column`` name the place)."""

    path: str
    status: str
    reason: str = ""  # why it failed / was skipped / is broken
    line: int | None = None  # the script line concerned
    column: int | None = None
    expected: str | None = None  # that line's text
    actual: str | None = None  # what tcplab did instead
    recent: list[str] = field(default_factory=list)  # the last few events before the failure
    events: list[dict] = field(default_factory=list)  # the whole trace
    duration: float = 0.0  # virtual seconds the script ran

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason,
            "line": self.line,
            "column": self.column,
            "expected": self.expected,
            "actual": self.actual,
            "recent": self.recent,
            "virtual_seconds": round(self.duration, 6),
        }


class Fail(Exception):
    def __init__(self, event: A.Event | None, reason: str, actual: str | None = None, upto: int | None = None) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason
        self.actual = actual
        self.upto = upto  # the events up to the failure (for "last events")


class Skip(Exception):
    """The script needs something tcplab lacks. ``reason`` names it without a line number (so
    skips group by reason); ``line`` is where the script asked for it."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Broken(Exception):
    """An error of the script found while it runs (exit status 2)."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column
