"""The ladder diagram as a self-contained SVG picture.

Two vertical timelines (one per endpoint), one slanted arrow per segment from its send time on
the sender's line to its arrival time on the receiver's; dropped segments stop in the middle with
a red cross; duplicated segments are doubled, corrupted ones dashed; each endpoint's state is
written on its timeline where it changes; notes from the scenario sit between the lines.

Time runs down the page but is not to scale: rows at the same instant are packed tightly and long
silences (a retransmission timeout, TIME_WAIT) are compressed and marked with a break.
Drawn with the primitives of ``tcplab.trace.svg``.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tcplab.trace.ladder import (
    Event,
    connection_numbers,
    event_time,
    format_time,
    resolve_endpoints,
    retransmissions,
    segment_label,
    side_of,
    time_decimals,
)
from tcplab.trace.svg import (
    FONT_MONO,
    FONT_SANS,
    MONO_ADVANCE,
    SANS_ADVANCE,
    arrow_marker,
    element,
    svg_attr,
    svg_text,
)

__all__ = ["render_ladder_svg"]

COLORS = {
    "syn": "#2b8a3e",
    "fin": "#862e9c",
    "rst": "#c92a2a",
    "data": "#1864ab",
    "ack": "#495057",
    "drop": "#e03131",
    "rtx": "#e8590c",
    "state_fill": "#e7f5ff",
    "state_stroke": "#1c7ed6",
    "state_text": "#0b3d6e",
    "line": "#adb5bd",
    "text": "#212529",
    "muted": "#868e96",
    "note_fill": "#fff9db",
    "note_stroke": "#fcc419",
    "good": "#2b8a3e",
    "bad": "#c92a2a",
}


@dataclass
class _Item:
    kind: str  # state, dep, arr, note, outcome
    side: str | None
    t: float
    phase: int
    index: int
    text: str = ""
    row: int = -1


@dataclass
class _Row:
    t: float
    slots: set[str] = field(default_factory=set)
    y: float = 0.0
    height: float = 0.0  # extra height (notes)
    below: float = 0.0  # extra room under the row (an outcome under a state label)


def _collect(events: Sequence[Event], left: str, right: str) -> tuple[list[_Item], dict[int, str]]:
    items: list[_Item] = []
    direction: dict[int, str] = {}
    numbers = connection_numbers(events)
    for i, e in enumerate(events):
        kind = e.get("kind")
        t = event_time(e)
        if kind == "state":
            side = side_of(e.get("host"), left, right)
            if side:
                tag = f" #{numbers[i]}" if i in numbers else ""
                items.append(_Item("state", side, t, 1, i, str(e.get("to", "?")) + tag))
        elif kind == "segment":
            src = side_of(e.get("src"), left, right)
            dst = side_of(e.get("dst"), left, right)
            if src is None and dst is None:
                continue
            if src is None:
                src = "left" if dst == "right" else "right"
            dst = "right" if src == "left" else "left"
            direction[i] = src
            items.append(_Item("dep", src, t, 1, i))
            fate = e.get("fate", "delivered")
            t_arr = e.get("t_arrive")
            if fate != "dropped":
                if t_arr is None:
                    t_arr = t
                items.append(_Item("arr", dst, max(event_time(e, "t_arrive"), t), 0, i))
        elif kind == "outcome":
            side = side_of(e.get("host"), left, right) or "left"
            items.append(_Item("outcome", side, t, 1, i, str(e.get("outcome", "?"))))
        elif kind == "note":
            items.append(_Item("note", None, t, 1, i, str(e.get("text", ""))))
    items.sort(key=lambda it: (it.t, it.phase, it.index, it.kind != "dep"))
    return items, direction


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=max(width, 10)) or [""]


@dataclass
class _Layout:
    """Where everything goes: the columns, the rows (time runs down), the compressed silences."""

    left: str
    right: str
    x_time: float
    x_left: float
    x_right: float
    lane: float
    state_w: float
    width: float
    top: float
    rows: list[_Row]
    note_lines: dict[int, list[str]]
    breaks: list[tuple[float, float, float]]  # (y_from, y_to, dt)
    bottom: float
    height: float
    dep_y: dict[int, float]
    arr_y: dict[int, float]
    typical: float  # a typical flight's height: where a dropped segment stops

    def y(self, it: _Item) -> float:
        return self.rows[it.row].y

    def x(self, side: str | None) -> float:
        return self.x_left if side == "left" else self.x_right


def _columns(
    evs: list[Event], items: list[_Item], direction: dict[int, str], left: str, right: str
) -> tuple[float, float, float, float, float, float]:
    """``(x_time, x_left, x_right, lane, state_w, width)``: wide enough for the longest segment
    label between the timelines and the longest state name beside them."""
    labels = {i: segment_label(evs[i], options="short") for i in direction}
    longest = max((len(s) for s in labels.values()), default=20)
    fs_label = 11.0
    lane = min(max(560.0, longest * fs_label * MONO_ADVANCE + 150), 760.0)
    state_names = [it.text for it in items if it.kind in ("state", "outcome")]
    state_names += [str(e.get("from", "")) for e in evs if e.get("kind") == "state"]
    state_w = max([len(s) for s in state_names] + [len(left), len(right), 8]) * 7.2 + 34
    x_time = 58.0
    x_left = x_time + 14 + state_w
    x_right = x_left + lane
    width = x_right + state_w + 24
    return x_time, x_left, x_right, lane, state_w, width


def _pack_rows(items: list[_Item]) -> list[_Row]:
    """Rows: items that happen at the same instant share one when they do not collide."""
    rows: list[_Row] = []
    for it in items:
        if it.kind == "note":
            slot = "note"
        elif it.kind == "state":
            slot = f"{it.side}-label"
        elif it.kind == "outcome":
            slot = f"{it.side}-outcome"
        else:
            slot = f"{it.side}-{it.kind}"
        last = rows[-1] if rows else None
        if (
            last is not None
            and last.t == it.t
            and slot not in last.slots
            and "note" not in last.slots
            and slot != "note"
        ):
            last.slots.add(slot)
            it.row = len(rows) - 1
        else:
            rows.append(_Row(it.t, {slot}))
            it.row = len(rows) - 1
    for row in rows:
        for side in ("left", "right"):
            if f"{side}-label" in row.slots and f"{side}-outcome" in row.slots:
                row.below = 18.0
    return rows


def _place_rows(rows: list[_Row], top: float) -> tuple[list[tuple[float, float, float]], float]:
    """Give each row its height on the page: gaps grow with the log of the time between rows,
    long silences become breaks. Returns the breaks and the bottom of the last row."""
    positive = [b.t - a.t for a, b in itertools.pairwise(rows) if b.t - a.t > 1e-9]
    dt_ref = min(positive) if positive else 1.0
    y = top + 34.0  # first row below the initial states
    breaks: list[tuple[float, float, float]] = []
    prev: _Row | None = None
    for row in rows:
        if prev is not None:
            dt = row.t - prev.t
            gap = 24.0 if dt <= 1e-9 else 30.0 + min(56.0, 16.0 * math.log2(1.0 + dt / dt_ref))
            gap += prev.height / 2 + row.height / 2 + prev.below
            if dt > 1e-9 and dt / dt_ref > 24:
                breaks.append((prev.y + prev.height / 2, prev.y + gap - row.height / 2, dt))
            y = prev.y + gap
        else:
            y += row.height / 2
        row.y = y
        prev = row
    bottom = (rows[-1].y + rows[-1].height / 2 if rows else top + 34) + 36.0
    return breaks, bottom


def _layout(evs: list[Event], items: list[_Item], direction: dict[int, str], left: str, right: str) -> _Layout:
    x_time, x_left, x_right, lane, state_w, width = _columns(evs, items, direction, left, right)
    rows = _pack_rows(items)
    chars_per_line = int((lane - 40) / (11.5 * SANS_ADVANCE))
    note_lines: dict[int, list[str]] = {}
    for it in items:
        if it.kind == "note":
            note_lines[it.index] = _wrap(it.text, chars_per_line)
            rows[it.row].height = 15.0 * len(note_lines[it.index]) + 6
    top = 108.0
    breaks, bottom = _place_rows(rows, top)
    dep_y = {it.index: rows[it.row].y for it in items if it.kind == "dep"}
    arr_y = {it.index: rows[it.row].y for it in items if it.kind == "arr"}
    flights = [arr_y[i] - dep_y[i] for i in arr_y if i in dep_y]
    typical = max(statistics.median(flights) if flights else 30.0, 24.0)
    return _Layout(
        left,
        right,
        x_time,
        x_left,
        x_right,
        lane,
        state_w,
        width,
        top,
        rows,
        note_lines,
        breaks,
        bottom,
        bottom + 52.0,  # the legend
        dep_y,
        arr_y,
        typical,
    )


def render_ladder_svg(
    events: Iterable[Event],
    left: str = "client",
    right: str = "server",
    title: str | None = None,
) -> str:
    """Draw ``events`` between ``left`` and ``right`` as a standalone SVG document (a string)."""
    evs = list(events)
    left, right = resolve_endpoints(evs, left, right)
    items, direction = _collect(evs, left, right)
    lay = _layout(evs, items, direction, left, right)
    heading = title if title is not None else f"{left} ⇄ {right}"
    out = [
        *_heading_svg(evs, direction, lay, heading),
        *_timelines_svg(lay),
        *_breaks_svg(lay),
        *_initial_states_svg(evs, lay),
        *_time_labels_svg(evs, lay),
        *_notes_svg(items, lay),  # underneath the arrows
        *_segments_svg(evs, direction, lay),
        *_states_and_outcomes_svg(evs, items, lay),
        _legend(20, lay.height - 26),
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def _heading_svg(evs: list[Event], direction: dict[int, str], lay: _Layout, heading: str) -> list[str]:
    """The document's opening, the arrow markers, the background, the title and the summary."""
    width, height = lay.width, lay.height
    out: list[str] = []
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{svg_attr(FONT_SANS)}" '
        f'role="img" aria-label="{svg_attr("Ladder diagram: " + heading)}" class="tcplab-ladder">'
    )
    out.append(element("title", svg_text(f"Ladder diagram: {heading}")))
    out.append(
        element(
            "defs",
            "".join(arrow_marker(f"lad-{kind}", COLORS[kind], 8) for kind in ("syn", "fin", "rst", "data", "ack")),
        )
    )
    out.append(element("rect", x=0, y=0, width=f"{width:.0f}", height=f"{height:.0f}", fill="#ffffff"))
    # A long title gets a smaller font rather than running off the picture (bold sans is about
    # 0.6 em a character).
    title_size = max(11.0, min(20.0, (width - 40) / (0.6 * max(1, len(heading)))))
    out.append(
        element(
            "text",
            svg_text(heading),
            x=20,
            y=32,
            font_size=f"{title_size:.1f}",
            font_weight="bold",
            fill=COLORS["text"],
            class_="title",
        )
    )
    rows = lay.rows
    dec = time_decimals(event_time(e) for e in evs)
    n_seg = len(direction)
    n_drop = sum(1 for i in direction if evs[i].get("fate") == "dropped")
    rtx = retransmissions(evs)
    sub = f"{n_seg} segment{'s' if n_seg != 1 else ''}"
    if n_drop:
        sub += f", {n_drop} dropped"
    if rtx:
        sub += f", {len(rtx)} retransmitted"
    if rows:
        sub += f" · {format_time(rows[0].t, dec)} s – {format_time(rows[-1].t, dec)} s"
    out.append(element("text", svg_text(sub), x=20, y=52, font_size=12, fill=COLORS["muted"]))
    return out


def _timelines_svg(lay: _Layout) -> list[str]:
    """The two hosts' headers and timelines, and the time axis's header."""
    out: list[str] = []
    top = lay.top
    line_top = top - 8
    for side, name, x in (("left", lay.left, lay.x_left), ("right", lay.right, lay.x_right)):
        bw = max(len(name) * 13 * SANS_ADVANCE + 28, 80)
        out.append(
            element(
                "line",
                x1=x,
                y1=line_top,
                x2=x,
                y2=lay.bottom,
                stroke=COLORS["line"],
                stroke_width=2.5,
                class_=f"timeline timeline-{side}",
            )
        )
        out.append(element("rect", x=x - bw / 2, y=top - 44, width=bw, height=28, rx=6, fill="#343a40"))
        out.append(
            element(
                "text",
                svg_text(name),
                x=x,
                y=top - 25,
                font_size=13,
                font_weight="bold",
                fill="#ffffff",
                text_anchor="middle",
                class_="host",
            )
        )
    out.append(
        element("text", "time (s)", x=lay.x_time, y=top - 25, font_size=11, fill=COLORS["muted"], text_anchor="end")
    )
    return out


def _breaks_svg(lay: _Layout) -> list[str]:
    """The marks of compressed silences (a zigzag on each timeline and the time skipped)."""
    out: list[str] = []
    for y0, y1, dt in lay.breaks:
        ym = (y0 + y1) / 2
        for x in (lay.x_left, lay.x_right):
            out.append(element("rect", x=x - 6, y=ym - 5, width=12, height=10, fill="#ffffff"))
            out.append(
                element(
                    "path",
                    d=f"M{x - 7:.1f},{ym - 2:.1f} l14,-5 M{x - 7:.1f},{ym + 5:.1f} l14,-5",
                    stroke=COLORS["muted"],
                    stroke_width=1.5,
                    fill="none",
                )
            )
        out.append(
            element(
                "text",
                svg_text(f"+{_human_dt(dt)}"),
                x=lay.x_time,
                y=ym + 4,
                font_size=10.5,
                font_style="italic",
                fill=COLORS["muted"],
                text_anchor="end",
                class_="break",
            )
        )
    return out


def _initial_states_svg(evs: list[Event], lay: _Layout) -> list[str]:
    """Each side's first state, at the top of its timeline."""
    init: dict[str, str] = {}
    for e in evs:
        if e.get("kind") == "state":
            where = side_of(e.get("host"), lay.left, lay.right)
            if where and where not in init:
                init[where] = str(e.get("from", ""))
    return [_state_pill(name, side, lay.x(side), lay.top + 6) for side, name in init.items()]


def _time_labels_svg(evs: list[Event], lay: _Layout) -> list[str]:
    """The time of each instant (once) and a faint guide line to the left timeline."""
    dec = time_decimals(event_time(e) for e in evs)
    out: list[str] = []
    last_t: float | None = None
    for row in lay.rows:
        if row.t != last_t:
            out.append(
                element(
                    "text",
                    svg_text(format_time(row.t, dec)),
                    x=lay.x_time,
                    y=row.y + 4,
                    font_size=11,
                    fill=COLORS["muted"],
                    text_anchor="end",
                    font_family=FONT_MONO,
                    class_="time",
                )
            )
            out.append(
                element(
                    "line",
                    x1=lay.x_time + 4,
                    y1=row.y,
                    x2=lay.x_left - lay.state_w + 4,
                    y2=row.y,
                    stroke="#e9ecef",
                    stroke_width=1,
                )
            )
            last_t = row.t
    return out


def _notes_svg(items: list[_Item], lay: _Layout) -> list[str]:
    """The scenario's narration, in boxes between the timelines."""
    out: list[str] = []
    x_mid = (lay.x_left + lay.x_right) / 2
    for it in items:
        if it.kind != "note":
            continue
        lines = lay.note_lines[it.index]
        h = 15.0 * len(lines) + 8
        yc = lay.y(it)
        out.append(
            element(
                "rect",
                x=lay.x_left + 14,
                y=yc - h / 2,
                width=lay.lane - 28,
                height=h,
                rx=5,
                fill=COLORS["note_fill"],
                stroke=COLORS["note_stroke"],
                stroke_width=1,
            )
        )
        spans = "".join(
            element("tspan", svg_text(line), x=x_mid, dy=(0 if k == 0 else 15)) for k, line in enumerate(lines)
        )
        out.append(
            element(
                "text",
                spans,
                x=x_mid,
                y=yc - h / 2 + 16.5,
                font_size=11.5,
                font_style="italic",
                fill="#5c3c00",
                text_anchor="middle",
                class_="note",
            )
        )
    return out


def _segments_svg(evs: list[Event], direction: dict[int, str], lay: _Layout) -> list[str]:
    """One arrow per segment, then all their labels in one group (above every arrow)."""
    numbers = connection_numbers(evs)
    rtx = retransmissions(evs)
    crossing = _crossing(direction, lay.dep_y, lay.arr_y, lay.typical)
    placed: list[_Box] = []
    arrows: list[str] = []
    labels: list[str] = []
    for i, src in direction.items():
        prefix = f"#{numbers[i]} " if i in numbers else ""
        arrow, label = _segment_svg(evs[i], i, src, lay, i in rtx, placed, i in crossing, prefix)
        arrows.append(arrow)
        labels.append(label)
    return [*arrows, element("g", "".join(labels), class_="labels")]


def _states_and_outcomes_svg(evs: list[Event], items: list[_Item], lay: _Layout) -> list[str]:
    """A pill where a side's state changes; a line under it for how a connection ended."""
    numbers = connection_numbers(evs)
    out: list[str] = []
    for it in items:
        x = lay.x(it.side)
        if it.kind == "state":
            out.append(_state_pill(it.text, it.side or "left", x, lay.y(it)))
        elif it.kind == "outcome":
            e = evs[it.index]
            text = f"● {it.text}"
            if e.get("detail"):
                text += f" ({e.get('detail')})"
            if it.index in numbers:
                text += f" #{numbers[it.index]}"
            bad = it.text in ("refused", "reset", "timed out")
            dy = 23 if f"{it.side}-label" in lay.rows[it.row].slots else 4
            anchor = "end" if it.side == "left" else "start"
            xt = x - 10 if it.side == "left" else x + 10
            out.append(
                element(
                    "text",
                    svg_text(text),
                    x=xt,
                    y=lay.y(it) + dy,
                    font_size=11,
                    font_weight="bold",
                    fill=COLORS["bad" if bad else "good"],
                    text_anchor=anchor,
                    class_="outcome",
                )
            )
    return out


def _human_dt(dt: float) -> str:
    if dt >= 100:
        return f"{dt:.0f} s"
    if dt >= 1:
        return f"{dt:.1f} s".replace(".0 s", " s")
    return f"{dt * 1000:.0f} ms"


def _state_pill(name: str, side: str, x: float, y: float) -> str:
    w = len(name) * 7.2 + 14
    rx = x - 8 - w if side == "left" else x + 8
    return element(
        "g",
        element(
            "rect",
            x=rx,
            y=y - 10,
            width=w,
            height=20,
            rx=10,
            fill=COLORS["state_fill"],
            stroke=COLORS["state_stroke"],
            stroke_width=1.2,
        )
        + element(
            "text",
            svg_text(name),
            x=rx + w / 2,
            y=y + 4,
            font_size=11,
            font_weight="bold",
            fill=COLORS["state_text"],
            text_anchor="middle",
            font_family=FONT_MONO,
        ),
        class_=f"state state-{side}",
    )


def _segment_kind(flags: str, length: int) -> str:
    """What a segment is drawn as: ``rst``, ``syn``, ``fin``, ``data`` or ``ack``."""
    if "R" in flags:
        return "rst"
    if "S" in flags:
        return "syn"
    if "F" in flags:
        return "fin"
    if "P" in flags or length:
        return "data"
    return "ack"


def segment_color(flags: str, length: int = 0) -> str:
    return COLORS[_segment_kind(flags, length)]


_Spot = tuple[float, float, str, str, "_Box"]  # label anchor x, y, text-anchor, text, its box


def _segment_svg(
    e: Event,
    index: int,
    src: str,
    lay: _Layout,
    rtx: bool,
    placed: list[_Box],
    crossed: bool = False,
    prefix: str = "",
) -> tuple[str, str]:
    """The arrow of one segment (a group) and its label (drawn later, above all arrows)."""
    flags = str(e.get("flags", "?"))
    length = int(e.get("len", 0) or 0)
    color = segment_color(flags, length)
    fate = str(e.get("fate", "delivered"))
    y0 = lay.dep_y[index]
    xs, xd = (lay.x_left, lay.x_right) if src == "left" else (lay.x_right, lay.x_left)
    # Labels already placed wholly above this arrow's start cannot collide with it (arrows come
    # in send order, so their starts only go down): forget them.
    placed[:] = [box for box in placed if box.ymax >= y0 - 30.0]
    tags: list[str] = []
    if rtx:
        tags.append("retransmission")
    if fate in ("dropped", "duplicated", "corrupted"):
        tags.append(fate)
    parts = [element("title", svg_text(_tooltip(e, tags)))]
    if fate == "dropped":
        x_end, y_end = _dropped_arrow(parts, e, xs, xd, y0, lay.typical, color, prefix)
    else:
        ye = lay.arr_y.get(index, y0)
        x_end, y_end = _delivered_arrow(parts, fate, src, xs, xd, y0, ye, color, flags, length)
    parts.append(element("circle", cx=xs, cy=y0, r=3, fill=color))
    shown_tags = [t for t in tags if t != "dropped"]
    tag_text = f" ({', '.join(shown_tags)})" if shown_tags else ""
    dx, dy = x_end - xs, y_end - y0
    if fate == "dropped":
        spot = _dropped_label_spot(e, src, xs, y0, dx, dy, lay, tag_text, prefix)
    else:
        spot = _label_spot(e, src, xs, y0, dx, dy, placed, crossed, tag_text, prefix)
    placed.append(spot[4])
    angle = math.degrees(math.atan2(dy, dx))
    if src == "right":
        angle -= 180.0
    label_svg = _label_svg(spot, angle, tag_text, color, rtx, index)
    cls = f"segment fate-{fate}" + (" retransmission" if rtx else "")
    return element("g", "".join(parts), class_=cls, data_index=index), label_svg


def _tooltip(e: Event, tags: list[str]) -> str:
    tooltip = f"t={e.get('t')} {e.get('src')} → {e.get('dst')}: {segment_label(e)}"
    if e.get("t_arrive") is not None:
        tooltip += f" (arrives t={e.get('t_arrive')})"
    if tags:
        tooltip += f" [{', '.join(tags)}]"
    if e.get("why"):
        tooltip += f" (why: {e.get('why')})"
    return tooltip


def _dropped_arrow(
    parts: list[str], e: Event, xs: float, xd: float, y0: float, typical: float, color: str, prefix: str
) -> tuple[float, float]:
    """A line that stops short with a red cross; returns where it ends."""
    # Far enough for the label to end before the cross, at most 85% of the way.
    lane_w = abs(xd - xs)
    label_w = (len(prefix + segment_label(e, options="short")) + 2) * 11 * MONO_ADVANCE
    frac = min(0.85, max(0.6, (label_w + 36) / lane_w))
    xe = xs + (xd - xs) * frac
    ye = y0 + typical / 2
    parts.append(element("line", x1=xs, y1=y0, x2=xe, y2=ye, stroke=color, stroke_width=1.8, stroke_linecap="round"))
    c = COLORS["drop"]
    parts.append(_cross(xe, ye, 6, 3, "drop-mark"))
    parts.append(
        element("text", "dropped", x=xe, y=ye + 20, font_size=10.5, font_weight="bold", fill=c, text_anchor="middle")
    )
    return xe, ye


def _cross(x: float, y: float, half: int, width: float, cls: str) -> str:
    """A red X centred on (x, y), ``2 * half`` wide: a drop or a corruption."""
    side = 2 * half
    return element(
        "path",
        d=f"M{x - half:.1f},{y - half:.1f} l{side},{side} M{x - half:.1f},{y + half:.1f} l{side},-{side}",
        stroke=COLORS["drop"],
        stroke_width=width,
        stroke_linecap="round",
        class_=cls,
    )


def _delivered_arrow(
    parts: list[str],
    fate: str,
    src: str,
    xs: float,
    xd: float,
    y0: float,
    ye: float,
    color: str,
    flags: str,
    length: int,
) -> tuple[float, float]:
    """An arrow across (doubled when duplicated, dashed and crossed when corrupted)."""
    marker = f"url(#lad-{_segment_kind(flags, length)})"
    dash = "5 4" if fate == "corrupted" else None
    if fate == "duplicated":
        parts.append(
            element(
                "line",
                x1=xs,
                y1=y0 + 5,
                x2=xd,
                y2=ye + 5,
                stroke=color,
                stroke_width=1.2,
                stroke_opacity=0.55,
                marker_end=marker,
            )
        )
    parts.append(
        element(
            "line",
            x1=xs,
            y1=y0,
            x2=xd,
            y2=ye,
            stroke=color,
            stroke_width=1.8,
            stroke_dasharray=dash,
            marker_end=marker,
        )
    )
    if fate == "corrupted":
        xm = xd - 14 if src == "left" else xd + 14
        ym = ye - (ye - y0) * 14 / abs(xd - xs)
        parts.append(_cross(xm, ym, 5, 2.5, "corrupt-mark"))
    return xd, ye


def _dropped_label_spot(
    e: Event, src: str, xs: float, y0: float, dx: float, dy: float, lay: _Layout, tag_text: str, prefix: str
) -> _Spot:
    """A dropped segment's label starts at the sender and may run on past the cross."""
    adv = 11 * MONO_ADVANCE
    seg_len = max(math.hypot(dx, dy), 1.0)
    ux, uy = dx / seg_len, dy / seg_len
    nx, ny = (uy, -ux) if src == "left" else (-uy, ux)  # the label sits above the line
    avail = int((abs(lay.x_right - lay.x_left) * 0.8) / adv)
    text = prefix + segment_label(e, options="short", max_len=max(avail - len(tag_text) - len(prefix), 8))
    cx, cy = xs + ux * 14, y0 + uy * 14
    anchor = "start" if src == "left" else "end"
    w = len(text + tag_text) * adv
    mid = (cx + ux * w / 2 + nx * 5, cy + uy * w / 2 + ny * 5)
    return (cx, cy, anchor, text, _Box(mid[0], mid[1], w / 2 + 2, 7.0, ux, uy))


# Where along an arrow its label may go (fraction of the way, above (1) or below (-1) the line),
# in order of preference.
_SPOTS: tuple[tuple[float, int], ...] = (
    (0.5, 1),
    (0.5, -1),
    (0.32, 1),
    (0.68, 1),
    (0.32, -1),
    (0.68, -1),
    (0.22, 1),
    (0.78, 1),
)
# An arrow crossed by one going the other way keeps its label near its sender first, so the two
# labels end up on opposite halves.
_CROSSED_SPOTS = ((0.27, 1), (0.27, -1), *_SPOTS)


def _label_spot(
    e: Event,
    src: str,
    xs: float,
    y0: float,
    dx: float,
    dy: float,
    placed: list[_Box],
    crossed: bool,
    tag_text: str,
    prefix: str,
) -> _Spot:
    """The spot along the arrow that shows the most of its label without covering a label
    already placed (crossing arrows); the middle when every spot collides."""
    adv = 11 * MONO_ADVANCE
    seg_len = max(math.hypot(dx, dy), 1.0)
    ux, uy = dx / seg_len, dy / seg_len
    nx, ny = (uy, -ux) if src == "left" else (-uy, ux)  # the label sits above the line
    best_len = -1
    choice: _Spot | None = None
    first: _Spot | None = None
    for frac, side in _CROSSED_SPOTS if crossed else _SPOTS:
        room = min(frac, 1 - frac) * seg_len * 2
        avail = int(min(room - 16, seg_len * 0.74 - 10) / adv)
        text = prefix + segment_label(e, options="short", max_len=max(avail - len(tag_text) - len(prefix), 8))
        cx, cy = xs + dx * frac, y0 + dy * frac
        w = len(text + tag_text) * adv
        off = 6.0 if side > 0 else -8.5
        box = _Box(cx + nx * off, cy + ny * off, w / 2 + 2, 7.0, ux, uy)
        cand = (cx, cy, "middle" if side > 0 else "middle-below", text, box)
        if first is None:
            first = cand
        if any(box.overlaps(other) for other in placed):
            continue
        if len(text) > best_len:
            best_len, choice = len(text), cand
    spot = choice if choice is not None else first
    assert spot is not None
    return spot


def _label_svg(spot: _Spot, angle: float, tag_text: str, color: str, rtx: bool, index: int) -> str:
    cx, cy, anchor, text, _box = spot
    baseline = cy - 5
    if anchor == "middle-below":
        anchor, baseline = "middle", cy + 13
    spans = svg_text(text)
    if tag_text:
        tag_color = COLORS["rtx"] if rtx else COLORS["drop"]
        spans += element("tspan", svg_text(tag_text.strip()), dx=6.6, fill=tag_color, font_weight="bold")
    return element(
        "text",
        spans,
        x=f"{cx:.1f}",
        y=f"{baseline:.1f}",
        font_size=11,
        fill=color,
        font_family=FONT_MONO,
        text_anchor=anchor,
        stroke="#ffffff",
        stroke_width=3,
        paint_order="stroke",
        stroke_linejoin="round",
        transform=f"rotate({angle:.2f} {cx:.1f} {cy:.1f})",
        class_="label",
        data_index=index,
    )


def _crossing(direction: dict[int, str], dep_y: dict[int, float], arr_y: dict[int, float], typical: float) -> set[int]:
    """Segments in flight at the same time as one going the other way (their arrows cross)."""
    spans = sorted((dep_y[i], arr_y.get(i, dep_y[i] + typical / 2), i, side) for i, side in direction.items())
    active: list[tuple[float, int, str]] = []
    out: set[int] = set()
    for start, end, i, side in spans:
        active = [a for a in active if a[0] > start]
        for _end, j, other in active:
            if other != side:
                out.add(i)
                out.add(j)
        active.append((end, i, side))
    return out


@dataclass(frozen=True)
class _Box:
    """An oriented rectangle: centre, half extents along (ux, uy) and its normal."""

    cx: float
    cy: float
    hw: float
    hh: float
    ux: float
    uy: float

    @property
    def ymax(self) -> float:
        return self.cy + abs(self.hw * self.uy) + abs(self.hh * self.ux)

    def _project(self, ax: float, ay: float) -> tuple[float, float]:
        c = self.cx * ax + self.cy * ay
        r = abs(self.hw * (self.ux * ax + self.uy * ay)) + abs(self.hh * (-self.uy * ax + self.ux * ay))
        return c - r, c + r

    def overlaps(self, other: _Box) -> bool:
        """Separating axis test for two oriented rectangles."""
        for box in (self, other):
            for ax, ay in ((box.ux, box.uy), (-box.uy, box.ux)):
                a0, a1 = self._project(ax, ay)
                b0, b1 = other._project(ax, ay)
                if a1 <= b0 or b1 <= a0:
                    return False
        return True


def _legend(x: float, y: float) -> str:
    items = [
        ("SYN", COLORS["syn"]),
        ("data", COLORS["data"]),
        ("ACK", COLORS["ack"]),
        ("FIN", COLORS["fin"]),
        ("RST", COLORS["rst"]),
    ]
    parts = []
    cx = x
    for name, color in items:
        parts.append(element("line", x1=cx, y1=y, x2=cx + 22, y2=y, stroke=color, stroke_width=2.5))
        parts.append(element("text", svg_text(name), x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
        cx += 27 + len(name) * 7 + 20
    parts.append(
        element(
            "path",
            d=f"M{cx + 2},{y - 5} l10,10 M{cx + 2},{y + 5} l10,-10",
            stroke=COLORS["drop"],
            stroke_width=2.5,
            stroke_linecap="round",
        )
    )
    parts.append(element("text", "dropped", x=cx + 18, y=y + 4, font_size=11, fill=COLORS["text"]))
    cx += 18 + 56 + 16
    parts.append(
        element("line", x1=cx, y1=y, x2=cx + 22, y2=y, stroke=COLORS["ack"], stroke_width=2, stroke_dasharray="5 4")
    )
    parts.append(element("text", "corrupted", x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
    cx += 27 + 66 + 16
    parts.append(element("line", x1=cx, y1=y - 2, x2=cx + 22, y2=y - 2, stroke=COLORS["ack"], stroke_width=1.8))
    parts.append(
        element(
            "line", x1=cx, y1=y + 3, x2=cx + 22, y2=y + 3, stroke=COLORS["ack"], stroke_width=1.2, stroke_opacity=0.55
        )
    )
    parts.append(element("text", "duplicated", x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
    return element("g", "".join(parts), class_="legend")
