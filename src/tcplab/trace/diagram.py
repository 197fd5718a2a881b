"""The TCP state diagram (RFC 9293 Figure 5) with the transitions a run took.

Everything is read from :data:`tcplab.tcp.states.TRANSITIONS`: every row is drawn. The edges of
the RFC's figure are drawn as arrows between the state boxes, with their cause (and, in grey, what
TCP sends when it takes them); the exits straight to CLOSED (``rcv RST``, ``abort``,
``timeout``, close with unread data, a new SYN in TIME_WAIT) are drawn as small tags beside
each state, one tag per row. Transitions taken are highlighted with their count; states never
visited are greyed.

As in the RFC's figure, CLOSED appears twice: at the top (where connections start) and at the
bottom right (where LAST_ACK and TIME_WAIT end). Both boxes are the same state.

Public API:

- ``transitions_from_events(events, host=None) -> Counter[Transition]``
- ``render_state_diagram_svg(taken, title=None) -> str``
- ``render_state_summary(taken) -> str``
- ``coverage(taken) -> (covered_rows, missing_rows)``
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition, lookup
from tcplab.trace.svg import FONT_MONO, FONT_SANS, SANS_ADVANCE, arrow_marker, element, svg_attr, svg_text

__all__ = [
    "DIAGRAM_LAYOUT",
    "UnknownTransitionError",
    "coverage",
    "normalize_taken",
    "render_state_diagram_svg",
    "render_state_summary",
    "transitions_from_events",
]


# The classic layout of RFC 9293 Figure 5 (column, row) for pictures: the client (active) path on
# the left, the server (passive) path on the right.
DIAGRAM_LAYOUT: dict[State, tuple[int, int]] = {
    State.CLOSED: (1, 0),
    State.LISTEN: (1, 1),
    State.SYN_RCVD: (0, 2),
    State.SYN_SENT: (2, 2),
    State.ESTABLISHED: (1, 3),
    State.FIN_WAIT_1: (0, 4),
    State.CLOSE_WAIT: (2, 4),
    State.FIN_WAIT_2: (0, 5),
    State.CLOSING: (1, 5),
    State.LAST_ACK: (2, 5),
    State.TIME_WAIT: (1, 6),
}


class UnknownTransitionError(ValueError):
    """A state event names a transition that is not a row of TRANSITIONS."""


def _to_transition(src: Any, dst: Any, cause: Any) -> Transition:
    try:
        s = src if isinstance(src, State) else State(str(src))
        d = dst if isinstance(dst, State) else State(str(dst))
        c = cause if isinstance(cause, Cause) else Cause(str(cause))
        return lookup(s, d, c)
    except (ValueError, KeyError):
        raise UnknownTransitionError(f"not a transition of the state table: {src} -> {dst} ({cause})") from None


def transitions_from_events(
    events: Iterable[Mapping[str, Any]], host: str | None = None, strict: bool = True
) -> Counter[Transition]:
    """Count the transitions in the ``state`` events (of ``host`` only, when given).

    A transition that is not a row of the table raises :class:`UnknownTransitionError`
    (``strict=False`` skips it instead).
    """
    taken: Counter[Transition] = Counter()
    for e in events:
        if e.get("kind") != "state":
            continue
        if host is not None and e.get("host") != host:
            continue
        try:
            taken[_to_transition(e.get("from"), e.get("to"), e.get("cause"))] += 1
        except UnknownTransitionError:
            if strict:
                raise
    return taken


def normalize_taken(taken: Any) -> Counter[Transition]:
    """Accept a Counter/mapping of transitions (rows or ``(src, dst, cause)`` tuples of names) to
    counts, an iterable of transitions, or an iterable of state events."""
    if taken is None:
        return Counter()
    out: Counter[Transition] = Counter()
    if isinstance(taken, Mapping):
        for key, count in taken.items():
            if count:
                out[_to_transition(*key)] += int(count)
        return out
    for item in taken:
        if isinstance(item, Mapping):
            if item.get("kind") == "state":
                out[_to_transition(item.get("from"), item.get("to"), item.get("cause"))] += 1
        else:
            out[_to_transition(*item)] += 1
    return out


def coverage(taken: Any) -> tuple[list[Transition], list[Transition]]:
    """``(covered, missing)``: the rows of TRANSITIONS taken at least once, and the others, both
    in table order."""
    counts = normalize_taken(taken)
    covered = [t for t in TRANSITIONS if counts.get(t, 0) > 0]
    missing = [t for t in TRANSITIONS if counts.get(t, 0) == 0]
    return covered, missing


def visited_states(counts: Mapping[Transition, int]) -> set[State]:
    out: set[State] = set()
    for t, n in counts.items():
        if n:
            out.add(t.src)
            out.add(t.dst)
    return out


def render_state_summary(taken: Any) -> str:
    """The transitions taken, with counts, as plain text (table order)."""
    counts = normalize_taken(taken)
    covered, _missing = coverage(counts)
    lines = [f"Transitions taken: {len(covered)} of {len(TRANSITIONS)}"]
    if covered:
        w_src = max(len(str(t.src)) for t in covered)
        w_dst = max(len(str(t.dst)) for t in covered)
        w_cause = max(len(str(t.cause)) for t in covered)
        for t in covered:
            lines.append(f"  {t.src!s:<{w_src}} -> {t.dst!s:<{w_dst}}  {t.cause!s:<{w_cause}}  x{counts[t]}")
    visited = visited_states(counts)
    order = list(DIAGRAM_LAYOUT)
    never = [str(s) for s in order if s not in visited]
    lines.append(f"States visited: {len(visited)} of {len(State)}")
    if never:
        lines.append(f"  never visited: {', '.join(never)}")
    return "\n".join(lines) + "\n"


# ---- geometry ---------------------------------------------------------------------------------

BOX_W = 150.0
BOX_H = 46.0
HW, HH = BOX_W / 2, BOX_H / 2
COL_X = (250.0, 590.0, 930.0)
ROW_Y = (112.0, 228.0, 352.0, 490.0, 620.0, 750.0, 880.0)
WIDTH = 1180.0
HEIGHT = 1030.0

HIGHLIGHT = "#e8590c"
EDGE = "#868e96"
EDGE_NEUTRAL = "#495057"

# Where each state's box sits: DIAGRAM_LAYOUT's (column, row) on the grid above.
POS: dict[State, tuple[float, float]] = {s: (COL_X[c], ROW_Y[r]) for s, (c, r) in DIAGRAM_LAYOUT.items()}
# The second CLOSED box (bottom right), as in RFC 9293 Figure 5.
CLOSED_END = (COL_X[2], ROW_Y[6])

# Which side of each state its exit tags sit on.
EXIT_SIDE: dict[State, str] = {
    State.LISTEN: "right",
    State.SYN_SENT: "right",
    State.SYN_RCVD: "left",
    State.ESTABLISHED: "right",
    State.FIN_WAIT_1: "left",
    State.CLOSE_WAIT: "right",
    State.FIN_WAIT_2: "left",
    State.CLOSING: "right",
    State.LAST_ACK: "right",
    State.TIME_WAIT: "below",
    State.CLOSED: "right",
}

EXIT_TAG: dict[Cause, str] = {
    Cause.RCV_RST: "RST",
    Cause.ABORT: "abort",
    Cause.TIMEOUT: "timeout",
    Cause.TIMEOUT_FIN_WAIT_2: "timeout",
    Cause.CLOSE_UNREAD: "unread",
    Cause.REOPEN: "new SYN",
}


def _top(s: State, dx: float = 0.0) -> tuple[float, float]:
    x, y = POS[s]
    return x + dx, y - HH


def _bottom(s: State, dx: float = 0.0) -> tuple[float, float]:
    x, y = POS[s]
    return x + dx, y + HH


def _left(s: State, dy: float = 0.0) -> tuple[float, float]:
    x, y = POS[s]
    return x - HW, y + dy


def _right(s: State, dy: float = 0.0) -> tuple[float, float]:
    x, y = POS[s]
    return x + HW, y + dy


def _p(pt: tuple[float, float]) -> str:
    return f"{pt[0]:.1f},{pt[1]:.1f}"


def _vh(start: tuple[float, float], corner_y: float, end_x: float, r: float = 18.0) -> str:
    """Down/up from ``start`` to ``corner_y``, then across to ``end_x`` (rounded corner)."""
    x0, y0 = start
    sy = 1 if corner_y > y0 else -1
    sx = 1 if end_x > x0 else -1
    return (
        f"M{_p(start)} V{corner_y - sy * r:.1f} Q{x0:.1f},{corner_y:.1f} {x0 + sx * r:.1f},{corner_y:.1f} H{end_x:.1f}"
    )


def _hv(start: tuple[float, float], corner_x: float, end_y: float, r: float = 18.0) -> str:
    """Across from ``start`` to ``corner_x``, then down/up to ``end_y`` (rounded corner)."""
    x0, y0 = start
    sx = 1 if corner_x > x0 else -1
    sy = 1 if end_y > y0 else -1
    return (
        f"M{_p(start)} H{corner_x - sx * r:.1f} Q{corner_x:.1f},{y0:.1f} {corner_x:.1f},{y0 + sy * r:.1f} V{end_y:.1f}"
    )


def _vhv(start: tuple[float, float], mid_y: float, end: tuple[float, float], r: float = 14.0) -> str:
    """Down to ``mid_y``, across, down to ``end`` (two rounded corners)."""
    x0, _ = start
    x1, y1 = end
    sx = 1 if x1 > x0 else -1
    return (
        f"M{_p(start)} V{mid_y - r:.1f} Q{x0:.1f},{mid_y:.1f} {x0 + sx * r:.1f},{mid_y:.1f} "
        f"H{x1 - sx * r:.1f} Q{x1:.1f},{mid_y:.1f} {x1:.1f},{mid_y + r:.1f} V{y1:.1f}"
    )


@dataclass(frozen=True)
class _Edge:
    path: str
    label_at: tuple[float, float]
    anchor: str  # start, middle, end
    action: str = ""
    action_below_line: bool = False  # action under the line (horizontal edges)


def _main_edges() -> dict[tuple[State, State, Cause], _Edge]:
    S, C = State, Cause
    c0, c1, c2 = COL_X
    r0, r1, r2, r3, r4, r5, r6 = ROW_Y
    e: dict[tuple[State, State, Cause], _Edge] = {}
    e[(S.CLOSED, S.LISTEN, C.LISTEN)] = _Edge(
        f"M{_p(_bottom(S.CLOSED, -28))} V{_top(S.LISTEN)[1]:.1f}", (c1 - 38, (r0 + r1) / 2 - 2), "end", "create TCB"
    )
    e[(S.LISTEN, S.CLOSED, C.CLOSE)] = _Edge(
        f"M{_p(_top(S.LISTEN, 28))} V{_bottom(S.CLOSED)[1]:.1f}", (c1 + 38, (r0 + r1) / 2 - 2), "start", "delete TCB"
    )
    e[(S.CLOSED, S.SYN_SENT, C.CONNECT)] = _Edge(
        _hv(_right(S.CLOSED, -10), c2 + 28, _top(S.SYN_SENT)[1]), (c2 + 38, (r1 + r2) / 2 - 8), "start", "snd SYN"
    )
    e[(S.SYN_SENT, S.CLOSED, C.CLOSE)] = _Edge(
        _vh(_top(S.SYN_SENT, -28), r0 + 10, _right(S.CLOSED)[0]), (c2 - 38, (r1 + r2) / 2 - 8), "end", "delete TCB"
    )
    e[(S.LISTEN, S.SYN_RCVD, C.RCV_SYN)] = _Edge(
        _vh(_bottom(S.LISTEN, -40), r2 - 12, _right(S.SYN_RCVD)[0]), (c1 - 50, r1 + 50), "end", "snd SYN,ACK"
    )
    e[(S.LISTEN, S.SYN_SENT, C.SEND)] = _Edge(
        _vh(_bottom(S.LISTEN, 40), r2 - 12, _left(S.SYN_SENT)[0]), (c1 + 50, r1 + 50), "start", "snd SYN"
    )
    e[(S.SYN_SENT, S.SYN_RCVD, C.RCV_SYN)] = _Edge(
        f"M{_p(_left(S.SYN_SENT, 6))} H{_right(S.SYN_RCVD)[0]:.1f}", (c1, r2 + 1), "middle", "snd SYN,ACK", True
    )
    e[(S.SYN_RCVD, S.LISTEN, C.RCV_RST)] = _Edge(
        _vh(_top(S.SYN_RCVD, 14), r1 + 8, _left(S.LISTEN)[0]),
        ((c0 + 14 + c1 - HW) / 2 + 10, r1 + 25),
        "middle",
        "if passively opened",
    )
    # RFC 9293 3.10.7.4 fourth check (a SYN in SYN_RCVD, passive open, without RFC 5961).
    e[(S.SYN_RCVD, S.LISTEN, C.RCV_SYN)] = _Edge(
        _vh(_top(S.SYN_RCVD, -14), r1 - 12, _left(S.LISTEN)[0]),
        ((c0 - 14 + c1 - HW) / 2 + 10, r1 - 33),
        "middle",
        "if passively opened",
    )
    e[(S.SYN_RCVD, S.ESTABLISHED, C.RCV_ACK_OF_SYN)] = _Edge(
        _vhv(_bottom(S.SYN_RCVD, 48), r2 + 58, _top(S.ESTABLISHED, -48)), ((c0 + 48 + c1 - 48) / 2, r2 + 51), "middle"
    )
    e[(S.SYN_SENT, S.ESTABLISHED, C.RCV_SYN_ACK)] = _Edge(
        _vhv(_bottom(S.SYN_SENT, -48), r2 + 58, _top(S.ESTABLISHED, 48)),
        ((c2 - 48 + c1 + 48) / 2, r2 + 51),
        "middle",
        "snd ACK",
        True,
    )
    e[(S.SYN_RCVD, S.FIN_WAIT_1, C.CLOSE)] = _Edge(
        f"M{_p(_bottom(S.SYN_RCVD, -25))} V{_top(S.FIN_WAIT_1)[1]:.1f}", (c0 - 33, (r2 + r4) / 2 + 10), "end", "snd FIN"
    )
    e[(S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE)] = _Edge(
        _vh(_bottom(S.ESTABLISHED, -40), r4 - 10, _right(S.FIN_WAIT_1)[0]), (c1 - 50, r3 + 52), "end", "snd FIN"
    )
    e[(S.ESTABLISHED, S.CLOSE_WAIT, C.RCV_FIN)] = _Edge(
        _vh(_bottom(S.ESTABLISHED, 40), r4 - 10, _left(S.CLOSE_WAIT)[0]), (c1 + 50, r3 + 52), "start", "snd ACK"
    )
    e[(S.FIN_WAIT_1, S.FIN_WAIT_2, C.RCV_ACK_OF_FIN)] = _Edge(
        f"M{_p(_bottom(S.FIN_WAIT_1, -25))} V{_top(S.FIN_WAIT_2)[1]:.1f}", (c0 - 33, (r4 + r5) / 2 + 2), "end"
    )
    e[(S.FIN_WAIT_1, S.CLOSING, C.RCV_FIN)] = _Edge(
        _hv(_right(S.FIN_WAIT_1, 8), c1 - 30, _top(S.CLOSING)[1]),
        ((c0 + HW + c1 - 30) / 2 - 10, r4 + 24),
        "middle",
        "snd ACK",
    )
    e[(S.FIN_WAIT_1, S.TIME_WAIT, C.RCV_FIN_ACK)] = _Edge(
        f"M{_p(_bottom(S.FIN_WAIT_1, 48))} L{_p(_top(S.TIME_WAIT, -52))}",
        (c0 + 48 + (c1 - 52 - c0 - 48) * (42 / (r6 - r4 - BOX_H)) + 16, r4 + HH + 42),
        "start",
        "snd ACK",
    )
    e[(S.FIN_WAIT_2, S.TIME_WAIT, C.RCV_FIN)] = _Edge(
        _vh(_bottom(S.FIN_WAIT_2), r6, _left(S.TIME_WAIT)[0]),
        ((c0 + c1 - HW) / 2 + 8, r6 - 7),
        "middle",
        "snd ACK",
        True,
    )
    e[(S.CLOSE_WAIT, S.LAST_ACK, C.CLOSE)] = _Edge(
        f"M{_p(_bottom(S.CLOSE_WAIT, -25))} V{_top(S.LAST_ACK)[1]:.1f}", (c2 - 33, (r4 + r5) / 2 + 2), "end", "snd FIN"
    )
    e[(S.CLOSING, S.TIME_WAIT, C.RCV_ACK_OF_FIN)] = _Edge(
        f"M{_p(_bottom(S.CLOSING))} V{_top(S.TIME_WAIT)[1]:.1f}", (c1 + 10, (r5 + r6) / 2 + 2), "start"
    )
    e[(S.LAST_ACK, S.CLOSED, C.RCV_ACK_OF_FIN)] = _Edge(
        f"M{_p(_bottom(S.LAST_ACK))} V{CLOSED_END[1] - HH:.1f}", (c2 - 10, (r5 + r6) / 2 + 2), "end", "delete TCB"
    )
    e[(S.TIME_WAIT, S.CLOSED, C.TIMEOUT_2MSL)] = _Edge(
        f"M{_p(_right(S.TIME_WAIT))} H{CLOSED_END[0] - HW:.1f}",
        ((c1 + HW + c2 - HW) / 2, r6 - 7),
        "middle",
        "delete TCB",
        True,
    )
    return e


MAIN_EDGES = _main_edges()


def _clip_to_box(cx: float, cy: float, tx: float, ty: float) -> tuple[float, float]:
    """The point where the segment from the box centre toward (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(HW / abs(dx) if dx else math.inf, HH / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _generic_edge(t: Transition) -> _Edge:
    """A straight edge for a row the hand-made layout does not know (future table rows)."""
    (x0, y0), (x1, y1) = POS[t.src], POS[t.dst]
    a = _clip_to_box(x0, y0, x1, y1)
    b = _clip_to_box(x1, y1, x0, y0)
    return _Edge(f"M{_p(a)} L{_p(b)}", ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 - 6), "middle")


# ---- drawing ----------------------------------------------------------------------------------


def _text_width(text: str, size: float) -> float:
    return len(text) * size * SANS_ADVANCE


def _edge_svg(t: Transition, geo: _Edge, count: int, highlight_mode: bool) -> str:
    taken = count > 0
    if taken:
        color, width, marker, text_color = HIGHLIGHT, 3.2, "sd-hot", HIGHLIGHT
    elif highlight_mode:
        color, width, marker, text_color = EDGE, 1.4, "sd-cold", "#495057"
    else:
        color, width, marker, text_color = EDGE_NEUTRAL, 1.5, "sd-neutral", "#212529"
    parts = [element("title", svg_text(f"{t.label()}" + (f" (taken {count}×)" if taken else "")))]
    parts.append(
        element(
            "path",
            d=geo.path,
            fill="none",
            stroke=color,
            stroke_width=width,
            stroke_linejoin="round",
            marker_end=f"url(#{marker})",
        )
    )
    x, y = geo.label_at
    cause = str(t.cause)
    spans = svg_text(cause)
    if taken:
        spans += element("tspan", svg_text(f"×{count}"), dx=4, font_weight="bold", fill=HIGHLIGHT)
    halo = {"stroke": "#ffffff", "stroke_width": 4, "paint_order": "stroke", "stroke_linejoin": "round"}
    parts.append(
        element(
            "text",
            spans,
            x=x,
            y=y,
            font_size=12,
            text_anchor=geo.anchor,
            fill=text_color,
            font_weight="bold" if taken else None,
            class_="cause",
            **halo,
        )
    )
    if geo.action:
        ay = y + 22 if geo.action_below_line else y + 14
        parts.append(
            element(
                "text",
                svg_text(geo.action),
                x=x,
                y=ay,
                font_size=10.5,
                text_anchor=geo.anchor,
                fill="#868e96",
                font_style="italic",
                class_="action",
                **halo,
            )
        )
    cls = "edge taken" if taken else "edge"
    return element(
        "g", "".join(parts), class_=cls, data_from=t.src.value, data_to=t.dst.value, data_cause=cause, data_count=count
    )


def _state_box(s: State, pos: tuple[float, float], visited: bool, highlight_mode: bool, extra_class: str = "") -> str:
    x, y = pos
    if not highlight_mode:
        fill, stroke, text, cls, sw = "#e7f5ff", "#1c7ed6", "#0b3d6e", "state", 1.8
    elif visited:
        fill, stroke, text, cls, sw = "#e7f5ff", "#1c7ed6", "#0b3d6e", "state visited", 2.2
    else:
        fill, stroke, text, cls, sw = "#f1f3f5", "#ced4da", "#adb5bd", "state unvisited", 1.4
    name = s.value
    return element(
        "g",
        element("title", svg_text(name + ("" if visited or not highlight_mode else " (never visited)")))
        + element(
            "rect",
            x=x - HW,
            y=y - HH,
            width=BOX_W,
            height=BOX_H,
            rx=9,
            fill=fill,
            stroke=stroke,
            stroke_width=sw,
            stroke_dasharray=None if visited or not highlight_mode else "5 3",
        )
        + element(
            "text",
            svg_text(name),
            x=x,
            y=y + 5,
            font_size=14.5,
            font_weight="bold",
            fill=text,
            text_anchor="middle",
            font_family=FONT_MONO,
        ),
        class_=f"{cls} state-{name}{extra_class}",
        data_state=name,
    )


CHIP_W = 66.0
CHIP_H = 18.0
CHIP_GAP = 4.0


def _exits_svg(s: State, rows: list[Transition], counts: Mapping[Transition, int], highlight_mode: bool) -> str:
    side = EXIT_SIDE.get(s, "right")
    x, y = POS[s]
    n = len(rows)
    parts: list[str] = []
    if side == "below":
        total = n * CHIP_W + (n - 1) * CHIP_GAP
        x0 = x - total / 2
        y0 = y + HH + 14
        places = [(x0 + k * (CHIP_W + CHIP_GAP), y0) for k in range(n)]
        caption = (x0 - 8, y0 + 12.5, "end")
        stub = (f"M{x:.1f},{y + HH:.1f} V{y0:.1f}",)
    else:
        ncols = 1 if n == 1 else 2
        nrows = math.ceil(n / ncols)
        total_h = nrows * CHIP_H + (nrows - 1) * CHIP_GAP
        y0 = y - total_h / 2 + 4
        if side == "right":
            x0 = x + HW + 14
        else:
            x0 = x - HW - 14 - ncols * CHIP_W - (ncols - 1) * CHIP_GAP
        places = [(x0 + (k % ncols) * (CHIP_W + CHIP_GAP), y0 + (k // ncols) * (CHIP_H + CHIP_GAP)) for k in range(n)]
        width_all = ncols * CHIP_W + (ncols - 1) * CHIP_GAP
        caption = (x0 + width_all / 2, y0 - 5, "middle")
        edge_x = x + HW if side == "right" else x - HW
        near_x = x0 if side == "right" else x0 + width_all
        stub = (f"M{edge_x:.1f},{y + 4:.1f} H{near_x:.1f}",)
    any_taken = any(counts.get(t, 0) for t in rows)
    stub_color = HIGHLIGHT if any_taken else "#ced4da"
    parts.append(element("path", d=stub[0], stroke=stub_color, stroke_width=1.2, stroke_dasharray="3 3", fill="none"))
    cx, cy, anchor = caption
    parts.append(
        element(
            "text", "→ CLOSED", x=cx, y=cy, font_size=9.5, fill="#868e96", text_anchor=anchor, class_="exit-caption"
        )
    )
    for t, (px, py) in zip(rows, places, strict=True):
        count = counts.get(t, 0)
        tag = EXIT_TAG.get(t.cause, str(t.cause))
        text = f"{tag} ×{count}" if count else tag
        if count:
            fill, stroke, tc, cls = HIGHLIGHT, HIGHLIGHT, "#ffffff", "exit taken"
        elif highlight_mode:
            fill, stroke, tc, cls = "#ffffff", "#ced4da", "#868e96", "exit"
        else:
            fill, stroke, tc, cls = "#ffffff", "#868e96", "#343a40", "exit"
        # A tag pointing away from the state: a rounded box with a notch toward CLOSED.
        point = "right" if side in ("right", "below") else "left"
        if point == "right":
            d = f"M{px:.1f},{py:.1f} h{CHIP_W - 7:.1f} l7,{CHIP_H / 2:.1f} l-7,{CHIP_H / 2:.1f} h{-(CHIP_W - 7):.1f} z"
            tx = px + (CHIP_W - 7) / 2
        else:
            d = (
                f"M{px + CHIP_W:.1f},{py:.1f} h{-(CHIP_W - 7):.1f} l-7,{CHIP_H / 2:.1f} "
                f"l7,{CHIP_H / 2:.1f} h{CHIP_W - 7:.1f} z"
            )
            tx = px + 7 + (CHIP_W - 7) / 2
        size = 10.0 if _text_width(text, 10.0) < CHIP_W - 10 else 8.8
        parts.append(
            element(
                "g",
                element("title", svg_text(t.label() + (f" (taken {count}×)" if count else "")))
                + element("path", d=d, fill=fill, stroke=stroke, stroke_width=1.1)
                + element(
                    "text",
                    svg_text(text),
                    x=tx,
                    y=py + CHIP_H / 2 + 3.6,
                    font_size=size,
                    fill=tc,
                    text_anchor="middle",
                    font_weight="bold" if count else None,
                ),
                class_=cls,
                data_from=t.src.value,
                data_to=t.dst.value,
                data_cause=str(t.cause),
                data_count=count,
            )
        )
    return element("g", "".join(parts), class_=f"exits exits-{s.value}")


def render_state_diagram_svg(taken: Any = None, title: str | None = None) -> str:
    """The state diagram as a standalone SVG string.

    ``taken``: a Counter/mapping of transitions to counts, an iterable of transitions, an
    iterable of state events, or None for the plain diagram (nothing highlighted, nothing greyed).
    """
    highlight_mode = taken is not None
    counts = normalize_taken(taken)
    visited = visited_states(counts)
    heading = title if title is not None else "TCP connection states (RFC 9293, Figure 5)"

    main: list[tuple[Transition, _Edge]] = []
    exits: dict[State, list[Transition]] = {}
    for t in TRANSITIONS:
        geo = MAIN_EDGES.get((t.src, t.dst, t.cause))
        if geo is not None:
            main.append((t, geo))
        elif t.dst is State.CLOSED:
            exits.setdefault(t.src, []).append(t)
        else:
            main.append((t, _generic_edge(t)))

    out: list[str] = []
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" height="{HEIGHT:.0f}" '
        f'viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" font-family="{svg_attr(FONT_SANS)}" '
        f'role="img" aria-label="{svg_attr(heading)}" class="tcplab-state-diagram">'
    )
    out.append(element("title", svg_text(heading)))
    out.append(
        element(
            "defs",
            arrow_marker("sd-hot", HIGHLIGHT, 9)
            + arrow_marker("sd-cold", EDGE, 9)
            + arrow_marker("sd-neutral", EDGE_NEUTRAL, 9),
        )
    )
    out.append(element("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff"))
    out.append(
        element("text", svg_text(heading), x=24, y=36, font_size=20, font_weight="bold", fill="#212529", class_="title")
    )
    if highlight_mode:
        covered, _ = coverage(counts)
        sub = f"{len(covered)} of {len(TRANSITIONS)} transitions taken · {len(visited)} of {len(State)} states visited"
    else:
        sub = f"{len(TRANSITIONS)} transitions, {len(State)} states"
    out.append(element("text", svg_text(sub), x=24, y=58, font_size=12.5, fill="#868e96", class_="subtitle"))
    # Edges: not taken first, taken on top.
    ordered = sorted(main, key=lambda te: counts.get(te[0], 0) > 0)
    for t, geo in ordered:
        out.append(_edge_svg(t, geo, counts.get(t, 0), highlight_mode))
    for s in DIAGRAM_LAYOUT:
        if s in exits:
            out.append(_exits_svg(s, exits[s], counts, highlight_mode))
    for s in DIAGRAM_LAYOUT:
        out.append(_state_box(s, POS[s], s in visited, highlight_mode))
    out.append(_state_box(State.CLOSED, CLOSED_END, State.CLOSED in visited, highlight_mode, " closed-end"))

    # Legend.
    ly = HEIGHT - 58
    legend = []
    if highlight_mode:
        legend.append(element("line", x1=24, y1=ly, x2=56, y2=ly, stroke=HIGHLIGHT, stroke_width=3.2))
        legend.append(element("text", "transition taken (×count)", x=62, y=ly + 4, font_size=11.5, fill="#495057"))
        legend.append(
            element(
                "rect",
                x=250,
                y=ly - 9,
                width=40,
                height=18,
                rx=5,
                fill="#f1f3f5",
                stroke="#ced4da",
                stroke_dasharray="5 3",
            )
        )
        legend.append(element("text", "state never visited", x=298, y=ly + 4, font_size=11.5, fill="#495057"))
    legend.append(
        element(
            "text",
            svg_text(
                "Tags beside a state are its exits straight to CLOSED: RST = rcv RST · abort = ABORT "
                "(sends RST) · timeout = retransmission, keepalive or user timeout gave up"
            ),
            x=24,
            y=ly + 24,
            font_size=11.5,
            fill="#495057",
        )
    )
    legend.append(
        element(
            "text",
            svg_text(
                "unread = close with unread data (sends RST, RFC 1122) · new SYN = a SYN in TIME_WAIT "
                "starts a new connection (RFC 6191) · grey italics: what TCP sends"
            ),
            x=24,
            y=ly + 40,
            font_size=11.5,
            fill="#495057",
        )
    )
    out.append(element("g", "".join(legend), class_="legend"))
    out.append("</svg>")
    return "\n".join(out) + "\n"
