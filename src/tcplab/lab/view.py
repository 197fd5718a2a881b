"""What the lab page shows of a session, as one JSON-able dict (``describe``), and the cache of
built sessions (``Sessions``: a recipe one action longer than a cached one extends it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from tcplab.lab.session import HOSTS, PORT, Recipe, Session, states
from tcplab.tcp.states import Cause, State, lookup
from tcplab.trace.explain import explain

__all__ = ["Sessions", "describe"]


def _visible(session: Session) -> list[dict[str, Any]]:
    """The events to show: while a story is being stepped (paused, nothing done by hand), up
    to its ``at``-th segment exactly (the event that sent it may have sent more)."""
    events = session.events
    recipe = session.recipe
    if recipe.story is None or recipe.at is None or recipe.actions:
        return events
    seen = 0
    for i, e in enumerate(events):
        if e["kind"] == "segment":
            if seen == recipe.at:
                return events[:i]
            seen += 1
    return events


def _transition(e: dict[str, Any]) -> dict[str, Any]:
    out = {"t": e["t"], "host": e.get("host"), "conn": e.get("conn"), "from": e["from"], "to": e["to"],
           "cause": e["cause"]}  # fmt: skip
    try:
        text, where = explain(lookup(State(e["from"]), State(e["to"]), Cause(e["cause"])))
    except (KeyError, ValueError):
        text, where = "", ""
    out.update(text=text, rfc=where)
    return out


def describe(session: Session, total: int | None = None) -> dict[str, Any]:
    """The page's whole state: time, each host's connections and state, the ladder (SVG), the
    last transitions explained, what the actions answered, the story's progress, the link."""
    from tcplab.trace.svg_ladder import render_ladder_svg

    events = _visible(session)
    recipe = session.recipe
    per_host = states(events)
    hosts = {}
    for host in HOSTS:
        conns = per_host.get(host, [])
        live = [c for c in conns if c["state"] not in ("CLOSED", "LISTEN")]
        current = live[-1]["state"] if live else (conns[-1]["state"] if conns else "CLOSED")
        hosts[host] = {"state": current, "conns": conns}
    transitions = [_transition(e) for e in events if e["kind"] == "state"]
    segments = sum(1 for e in events if e["kind"] == "segment")
    params = session.bench.link.forward.params
    stepping = recipe.story is not None and recipe.at is not None and not recipe.actions
    return {
        "query": recipe.query(),
        "recipe": {"story": recipe.story, "seed": recipe.seed, "at": recipe.at, "actions": recipe.actions},
        "time": round(events[-1]["t"] if stepping and events else session.now, 6),
        "hosts": hosts,
        "port": PORT,
        "ladder": render_ladder_svg(events, "client", "server", title=None) if events else "",
        "transitions": transitions[-12:],
        "last": transitions[-1] if transitions else None,
        "messages": session.messages[-30:],
        "segments": segments,
        "story": _story(recipe, total, segments, session.story_ended and not stepping),
        "link": {"loss": round(params.loss * 100, 3), "latency": round(params.delay * 1000, 3)},
    }


def _story(recipe: Recipe, total: int | None, shown: int, ended: bool) -> dict[str, Any] | None:
    if recipe.story is None:
        return None
    from tcplab.scenarios import SCENARIOS

    sc = SCENARIOS[recipe.story]
    return {"name": sc.name, "description": sc.description, "explanation": sc.explanation,
            "total": total, "shown": shown, "ended": ended, "live": bool(recipe.actions)}  # fmt: skip


class Sessions:
    """Built sessions by recipe (the most recent few), and each story's length. Thread-safe."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._cache: OrderedDict[str, Session] = OrderedDict()
        self._totals: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def get(self, recipe: Recipe) -> Session:
        key = recipe.query()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            if recipe.actions:
                shorter = Recipe(recipe.story, recipe.seed, recipe.at, recipe.actions[:-1]).query()
                if shorter in self._cache:  # one more action: extend the cached world
                    session = self._cache.pop(shorter)
                    session.apply(recipe.actions[-1])
                    return self._keep(key, session)
            return self._keep(key, Session(recipe))

    def _keep(self, key: str, session: Session) -> Session:
        self._cache[key] = session
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return session

    def total(self, recipe: Recipe) -> int | None:
        """How many segments the whole story sends (None without a story)."""
        if recipe.story is None:
            return None
        key = (recipe.story, recipe.seed)
        with self._lock:
            if key not in self._totals:
                whole = Session(Recipe(recipe.story, recipe.seed))
                self._totals[key] = sum(1 for e in whole.events if e["kind"] == "segment")
            return self._totals[key]
