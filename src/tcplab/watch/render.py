"""What ``tcplab watch`` prints: event lines, per-connection ladders, the state diagram.

The ladder uses ``tcplab.trace.ladder.render_ladder`` and the diagram
``tcplab.trace.diagram.render_state_diagram_svg`` when they are there; otherwise small built-in
versions (a two-column text timeline, a plain SVG of RFC 9293 Figure 5) stand in.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tcplab.tcp.states import TRANSITIONS, State, Transition
from tcplab.trace.diagram import DIAGRAM_LAYOUT
from tcplab.watch.mapping import transitions_of

Event = dict[str, Any]

_COLS = (12, 26, 26)


def header_line() -> str:
    t, loc, rem = _COLS
    return f"{'time':>{t}}  {'local':<{loc}} {'peer':<{rem}} change"


def event_line(e: Event) -> str:
    """``    0.141634  198.18.7.1:33510  198.18.7.1:9527  SYN_SENT -> ESTABLISHED``."""
    t, loc, rem = _COLS
    stamp = f"{float(e.get('t', 0.0)):>{t}.6f}"
    if e.get("kind") == "note":
        return f"{stamp}  note: {e.get('text', '')}"
    line = f"{stamp}  {e.get('local', '?'):<{loc}} {e.get('remote', '?'):<{rem}} "
    extra = []
    if e.get("kind") == "still":
        line += f"still {e.get('state')} when the watch ended"
        if e.get("timer") is not None:
            line += f"  (timer {e['timer']:.1f}s left)"
        return line
    line += f"{e.get('from')} -> {e.get('to')}"
    if e.get("cause") not in (None, "kernel"):
        extra.append(str(e["cause"]))
    if e.get("timer") is not None:
        extra.append(f"timer {e['timer']:.1f}s")
    if e.get("linux"):
        extra.append(f"linux: {e['linux']}")
    if extra:
        line += "  (" + "; ".join(extra) + ")"
    return line


# ---- grouping by connection -------------------------------------------------------------------


@dataclass
class Connection:
    """One connection as seen from one or both ends (matched by reversed 4-tuples)."""

    client: str  # endpoint "addr:port" of the client side (or the only side seen)
    server: str
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    listener: bool = False

    @property
    def title(self) -> str:
        if self.listener:
            return f"listener {self.server}"
        return f"connection {self.client} -> {self.server}"


def _is_wildcard(endpoint: str) -> bool:
    return endpoint.endswith(":0") and endpoint.rsplit(":", 1)[0] in ("0.0.0.0", "[::]")


def _passive(events: Sequence[Event]) -> bool:
    return any(e.get("from") == "LISTEN" or e.get("to") == "SYN_RCVD" for e in events)


def group_connections(events: Iterable[Event]) -> list[Connection]:
    """State events grouped by connection, in order of first appearance."""
    by_side: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        if e.get("kind") == "state" and "local" in e and "remote" in e:
            by_side.setdefault((e["local"], e["remote"]), []).append(e)
    out: list[Connection] = []
    done: set[tuple[str, str]] = set()
    for key, evs in by_side.items():
        if key in done:
            continue
        local, remote = key
        done.add(key)
        if _is_wildcard(remote):
            out.append(Connection(client="", server=local, server_events=evs, listener=True))
            continue
        other = by_side.get((remote, local))
        if other is not None:
            done.add((remote, local))
        if _passive(evs) or (other is not None and not _passive(other) and _syn_sent(other)):
            conn = Connection(client=remote, server=local, server_events=evs)
            conn.client_events = other or []
        else:
            conn = Connection(client=local, server=remote, client_events=evs)
            conn.server_events = other or []
        out.append(conn)
    return out


def _syn_sent(events: Sequence[Event]) -> bool:
    return any(e.get("to") == "SYN_SENT" for e in events)


def _fallback_ladder(conn: Connection) -> str:
    """A two-column text timeline: time, client state change, server state change."""
    rows = [(e, 0) for e in conn.client_events] + [(e, 1) for e in conn.server_events]
    rows.sort(key=lambda r: float(r[0].get("t", 0.0)))
    width = 32
    left = f"client {conn.client}" if conn.client else "client"
    right = f"server {conn.server}"
    lines = [f"{'time':>10}  {left:<{width}} {right}"]
    for e, side in rows:
        text = f"{e.get('from')} -> {e.get('to')}"
        cells = [text, ""] if side == 0 else ["", text]
        lines.append(f"{float(e.get('t', 0.0)):>10.6f}  {cells[0]:<{width}} {cells[1]}".rstrip())
    return "\n".join(lines) + "\n"


def render_connection(conn: Connection, color: bool | None = False) -> str:
    """The ladder of one connection: its client side on the left, its server side on the right."""
    try:
        from tcplab.trace.ladder import render_ladder
    except ImportError:
        return _fallback_ladder(conn)
    left = f"client {conn.client}" if conn.client else "client"
    right = f"server {conn.server}"
    events = [{**e, "host": left} for e in conn.client_events]
    events += [{**e, "host": right} for e in conn.server_events]
    events.sort(key=lambda e: float(e.get("t", 0.0)))
    try:
        return render_ladder(events, left, right, color=color)
    except Exception:  # a picture problem must not lose the data: show the plain timeline
        return _fallback_ladder(conn)


def render_ladders(events: Iterable[Event], color: bool | None = False) -> str:
    parts = []
    for conn in group_connections(events):
        if conn.listener:
            steps = ", ".join(f"{e['from']} -> {e['to']}" for e in conn.server_events)
            parts.append(f"{conn.title}: {steps}\n")
            continue
        parts.append(f"{conn.title}\n{render_connection(conn, color)}")
    return "\n".join(parts)


# ---- the state diagram --------------------------------------------------------------------------


def diagram_svg(events: Iterable[Event], title: str | None = None) -> tuple[str, list[str]]:
    """The state diagram with the transitions seen highlighted, and the changes with no row."""
    taken, unknown = transitions_of(events)
    try:
        from tcplab.trace.diagram import render_state_diagram_svg
    except ImportError:
        return _fallback_svg(taken, title), unknown
    return render_state_diagram_svg(taken, title=title), unknown


def _fallback_svg(taken: Sequence[Transition], title: str | None) -> str:
    """A plain SVG of the state diagram (DIAGRAM_LAYOUT), the edges taken drawn thick and red."""
    cell_w, cell_h, box_w, box_h, top = 220, 90, 130, 34, 60
    counts: dict[tuple[State, State], int] = {}
    for row in taken:
        counts[(row.src, row.dst)] = counts.get((row.src, row.dst), 0) + 1

    def center(state: State) -> tuple[float, float]:
        col, row = DIAGRAM_LAYOUT[state]
        return 40 + col * cell_w + box_w / 2, top + row * cell_h + box_h / 2

    width = 40 * 2 + 2 * cell_w + box_w
    height = top + 6 * cell_h + box_h + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    if title:
        out.append(f'<text x="20" y="28" font-size="16">{html.escape(title)}</text>')
    seen_pairs: set[tuple[State, State]] = set()
    for row in TRANSITIONS:
        pair = (row.src, row.dst)
        if pair in seen_pairs or row.src is row.dst:
            continue
        seen_pairs.add(pair)
        (x1, y1), (x2, y2) = center(row.src), center(row.dst)
        hit = counts.get(pair, 0)
        style = 'stroke="#d00" stroke-width="3"' if hit else 'stroke="#bbb" stroke-width="1"'
        out.append(
            f'<line class="{"taken" if hit else "edge"}" x1="{x1:.0f}" y1="{y1:.0f}" '
            f'x2="{x2:.0f}" y2="{y2:.0f}" {style} marker-end="url(#a)">'
            f"<title>{html.escape(row.src.value)} -&gt; {html.escape(row.dst.value)}"
            f"{f' (seen {hit}x)' if hit else ''}</title></line>"
        )
    for state in State:
        x, y = center(state)
        out.append(
            f'<rect x="{x - box_w / 2:.0f}" y="{y - box_h / 2:.0f}" width="{box_w}" '
            f'height="{box_h}" rx="6" fill="#fff" stroke="#333"/>'
            f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{state.value}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
