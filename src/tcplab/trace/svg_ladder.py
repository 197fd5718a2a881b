"""The ladder diagram as a self-contained SVG picture.

Two vertical timelines (one per endpoint), one slanted arrow per segment from its send time on
the sender's line to its arrival time on the receiver's; dropped segments stop in the middle with
a red cross; duplicated segments are doubled, corrupted ones dashed; each endpoint's state is
written on its timeline where it changes; notes from the scenario sit between the lines.

Time runs down the page but is not to scale: rows at the same instant are packed tightly and long
silences (a retransmission timeout, TIME_WAIT) are compressed and marked with a break. Long
transfers are folded (``tcplab.trace.fold``): a summary row stands for each stretch left out.
No label lies across another arrow (shortened, or left to the arrow's tooltip in a crowd); the
title wraps rather than run off. Drawn with the primitives of ``tcplab.trace.svg``.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tcplab.trace.fold import LIMIT, fold_events
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
    xml_safe,
)

__all__ = ["render_ladder_svg"]

BOLD_ADVANCE = 0.7  # DejaVu Sans Bold: at most about 0.7 em a character

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
    kind: str  # state, dep, arr, note, fold, outcome
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
    t_end: float | None = None  # a fold: when the last segment it stands for was sent


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
        elif kind in ("note", "fold"):
            items.append(_Item(str(kind), None, t, 1, i, str(e.get("text", ""))))
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
    title_lines: list[str]
    title_size: float
    sub_lines: list[str]

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
    # the time column as wide as its longest time
    dec = time_decimals(event_time(e) for e in evs)
    widest = max([len(format_time(event_time(e), dec)) for e in evs] + [7])
    x_time = max(58.0, widest * 11 * MONO_ADVANCE + 8)
    x_left = x_time + 14 + state_w
    x_right = x_left + lane
    width = x_right + state_w + 24
    return x_time, x_left, x_right, lane, state_w, width


def _pack_rows(items: list[_Item]) -> list[_Row]:
    """Rows: items that happen at the same instant share one when they do not collide."""
    rows: list[_Row] = []
    for it in items:
        if it.kind in ("note", "fold"):
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
    # The unit of the gaps: the shortest step, unless a few tiny ones (jitter) would make every
    # other step look long: then an eighth of the median step.
    dt_ref = max(min(positive), statistics.median(positive) / 8) if positive else 1.0
    y = top + 34.0  # first row below the initial states
    breaks: list[tuple[float, float, float]] = []
    prev: _Row | None = None
    for row in rows:
        if prev is not None:
            dt = row.t - (prev.t if prev.t_end is None else prev.t_end)  # a fold's rows: from its end
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


def _layout(
    evs: list[Event], items: list[_Item], direction: dict[int, str], left: str, right: str, heading: str, total: int
) -> _Layout:
    x_time, x_left, x_right, lane, state_w, width = _columns(evs, items, direction, left, right)
    rows = _pack_rows(items)
    chars_per_line = int((lane - 40) / (11.5 * SANS_ADVANCE))
    note_lines: dict[int, list[str]] = {}
    for it in items:
        if it.kind in ("note", "fold"):
            note_lines[it.index] = _wrap(it.text, chars_per_line)
            rows[it.row].height = 15.0 * len(note_lines[it.index]) + 6
            if it.kind == "fold":
                rows[it.row].t_end = float(evs[it.index].get("t_end", it.t))
    # A long title gets a smaller font, then more lines; so does the summary under it.
    title_size = max(13.0, min(20.0, (width - 40) / (BOLD_ADVANCE * max(1, len(heading)))))
    title_lines = _wrap(heading, int((width - 40) / (BOLD_ADVANCE * title_size)))
    sub_lines = _wrap(_summary(evs, items, direction, rows, total), int((width - 40) / (12 * SANS_ADVANCE)))
    top = 108.0 + (len(title_lines) - 1) * (title_size + 5) + (len(sub_lines) - 1) * 15
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
        title_lines,
        title_size,
        sub_lines,
    )


def _summary(evs: list[Event], items: list[_Item], direction: dict[int, str], rows: list[_Row], total: int) -> str:
    """The line under the title: how many segments (and how many folded), lost, sent again."""
    dec = time_decimals(event_time(e) for e in evs)
    n_seg = len(direction)
    n_drop = sum(1 for i in direction if evs[i].get("fate") == "dropped")
    rtx = retransmissions(evs)
    sub = f"{n_seg} segment{'s' if n_seg != 1 else ''}"
    if total > n_seg:
        folds = sum(1 for it in items if it.kind == "fold")
        sub = f"{n_seg} of {total} segments drawn, {total - n_seg} folded into {folds} summary rows"
    if n_drop:
        sub += f", {n_drop} dropped"
    if rtx:
        sub += f", {len(rtx)} retransmitted"
    if rows:
        sub += f" · {format_time(rows[0].t, dec)} s – {format_time(rows[-1].t, dec)} s"
    return sub


def render_ladder_svg(
    events: Iterable[Event],
    left: str = "client",
    right: str = "server",
    title: str | None = None,
    fold: bool = True,
) -> str:
    """Draw ``events`` between ``left`` and ``right`` as a standalone SVG document (a string).
    Beyond half of ``tcplab.trace.fold.LIMIT`` segments, runs of ordinary ones are folded into
    one summary row each (``fold=False`` draws them all)."""
    evs = list(events)
    total = sum(1 for e in evs if e.get("kind") == "segment")
    if fold:  # an arrow takes two rows here (one line in text): half the text ladder's budget
        evs, _folded = fold_events(evs, limit=LIMIT // 2, head=8, episode=20, tail=6)
    left, right = resolve_endpoints(evs, left, right)
    items, direction = _collect(evs, left, right)
    heading = xml_safe(title if title is not None else f"{left} ⇄ {right}")  # (before wrapping)
    lay = _layout(evs, items, direction, left, right, heading, total)
    folds = _folds_svg(items, lay)
    arrows, labels = _segments_svg(evs, direction, lay, [box for _, box in folds])
    out = [
        *_heading_svg(lay, heading),
        *_timelines_svg(lay),
        *_breaks_svg(lay),
        *_initial_states_svg(evs, lay),
        *_time_labels_svg(evs, lay),
        *_notes_svg(items, lay),  # underneath the arrows
        *arrows,
        *(svg for svg, _ in folds),  # over the arrows that fly across a folded stretch
        labels,
        *_states_and_outcomes_svg(evs, items, lay),
        _legend(20, lay.height - 26),
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def _heading_svg(lay: _Layout, heading: str) -> list[str]:
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
    y = 32.0
    for line in lay.title_lines:
        out.append(element("text", svg_text(line), x=20, y=y, font_size=f"{lay.title_size:.1f}", font_weight="bold",
                           fill=COLORS["text"], class_="title"))  # fmt: skip
        y += lay.title_size + 5
    y += 20 - lay.title_size
    for line in lay.sub_lines:
        out.append(element("text", svg_text(line), x=20, y=y, font_size=12, fill=COLORS["muted"]))
        y += 15
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


def _boxed_text(lay: _Layout, it: _Item, fill: str, stroke: str, text_fill: str, cls: str,
                dash: str | None = None) -> tuple[str, str, float, float]:  # fmt: skip
    """A box across the lane with a note's or a fold's lines in it: ``(box, text, centre y,
    height)``."""
    lines = lay.note_lines[it.index]
    h = 15.0 * len(lines) + 8
    yc = lay.y(it)
    x_mid = (lay.x_left + lay.x_right) / 2
    box = element("rect", x=lay.x_left + 14, y=yc - h / 2, width=lay.lane - 28, height=h, rx=5, fill=fill,
                  stroke=stroke, stroke_width=1, stroke_dasharray=dash)  # fmt: skip
    spans = "".join(element("tspan", svg_text(line), x=x_mid, dy=(0 if k == 0 else 15)) for k, line in enumerate(lines))
    text = element("text", spans, x=x_mid, y=yc - h / 2 + 16.5, font_size=11.5, font_style="italic",
                   fill=text_fill, text_anchor="middle", class_=cls)  # fmt: skip
    return box, text, yc, h


def _folds_svg(items: list[_Item], lay: _Layout) -> list[tuple[str, _Box]]:
    """Each fold's summary row, drawn over the arrows (a dashed box, dotted timelines), and the
    box the labels keep off."""
    out: list[tuple[str, _Box]] = []
    for it in items:
        if it.kind != "fold":
            continue
        box, text, yc, h = _boxed_text(lay, it, "#f1f3f5", COLORS["muted"], "#495057", "fold-text", "4 3")
        parts = [box]
        for x in (lay.x_left, lay.x_right):
            parts.append(element("line", x1=x, y1=yc - h / 2, x2=x, y2=yc + h / 2, stroke="#ffffff", stroke_width=4))
            parts.append(element("line", x1=x, y1=yc - h / 2, x2=x, y2=yc + h / 2, stroke=COLORS["muted"],
                                 stroke_width=2.5, stroke_dasharray="2 4"))  # fmt: skip
        parts.append(text)
        keep_off = _Box((lay.x_left + lay.x_right) / 2, yc, (lay.lane - 28) / 2, h / 2, 1.0, 0.0)
        out.append((element("g", "".join(parts), class_="fold"), keep_off))
    return out


def _notes_svg(items: list[_Item], lay: _Layout) -> list[str]:
    """The scenario's narration, in boxes between the timelines."""
    out: list[str] = []
    for it in items:
        if it.kind == "note":
            box, text, _yc, _h = _boxed_text(lay, it, COLORS["note_fill"], COLORS["note_stroke"], "#5c3c00", "note")
            out += [box, text]
    return out


def _segments_svg(
    evs: list[Event], direction: dict[int, str], lay: _Layout, obstacles: list[_Box]
) -> tuple[list[str], str]:
    """One arrow per segment, and all their labels in one group (drawn above every arrow): every
    arrow is known first, so that no label is put across one, nor across an ``obstacle``."""
    numbers = connection_numbers(evs)
    rtx = retransmissions(evs)
    crossing = _crossing(direction, lay.dep_y, lay.arr_y, lay.typical)
    shapes: list[tuple[int, _Box]] = []
    for i, src in direction.items():
        xs, xd = (lay.x_left, lay.x_right) if src == "left" else (lay.x_right, lay.x_left)
        y0 = lay.dep_y[i]
        if evs[i].get("fate") == "dropped":
            xe, ye = _drop_point(evs[i], xs, xd, y0, lay.typical, f"#{numbers[i]} " if i in numbers else "")
            shapes.append((i, _Box(xe, ye + 7, 28.0, 15.0, 1.0, 0.0)))  # the cross and "dropped"
        else:
            xe, ye = xd, lay.arr_y.get(i, y0)
        shapes.append((i, _line_box(xs, y0, xe, ye)))
    placed: list[_Box] = list(obstacles)
    arrows: list[str] = []
    labels: list[str] = []
    for i, src in direction.items():
        prefix = f"#{numbers[i]} " if i in numbers else ""
        arrow, label = _segment_svg(evs[i], i, src, lay, i in rtx, placed, i in crossing, prefix, shapes)
        arrows.append(arrow)
        labels.append(label)
    return arrows, element("g", "".join(labels), class_="labels")


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
            bad = it.text in ("refused", "reset", "timed out", "unreachable")
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
    shapes: Sequence[tuple[int, _Box]] = (),
) -> tuple[str, str]:
    """The arrow of one segment (a group) and its label (drawn later, above all arrows): where
    it meets neither a label already ``placed`` nor another arrow (``shapes``); an arrow with no
    such place is left unlabelled (its tooltip says what it is)."""
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
    lo, hi = min(y0, y_end) - 30.0, max(y0, y_end) + 30.0  # (labels stay near their arrow)
    others = [*placed, *(box for j, box in shapes if j != index and box.ymin <= hi and box.ymax >= lo)]
    if fate == "dropped":
        spots = _dropped_label_spots(e, src, xs, y0, dx, dy, lay, tag_text, prefix)
    else:
        spots = _label_spots(e, src, xs, y0, dx, dy, crossed, tag_text, prefix)
    free = [spot for spot in spots if not any(spot[4].overlaps(other) for other in others)]
    cls = f"segment fate-{fate}" + (" retransmission" if rtx else "")
    if not free:  # a crowded burst: no place that meets nothing
        return element("g", "".join(parts), class_=cls + " unlabelled", data_index=index), ""
    spot = max(free, key=lambda sp: len(sp[3]))  # the longest label that fits (the first of equals)
    placed.append(spot[4])
    angle = math.degrees(math.atan2(dy, dx))
    if src == "right":
        angle -= 180.0
    label_svg = _label_svg(spot, angle, tag_text, color, rtx, index)
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
    xe, ye = _drop_point(e, xs, xd, y0, typical, prefix)
    parts.append(element("line", x1=xs, y1=y0, x2=xe, y2=ye, stroke=color, stroke_width=1.8, stroke_linecap="round"))
    c = COLORS["drop"]
    parts.append(_cross(xe, ye, 6, 3, "drop-mark"))
    parts.append(
        element("text", "dropped", x=xe, y=ye + 20, font_size=10.5, font_weight="bold", fill=c, text_anchor="middle")
    )
    return xe, ye


def _drop_point(e: Event, xs: float, xd: float, y0: float, typical: float, prefix: str) -> tuple[float, float]:
    """Where a dropped segment's arrow stops: far enough for its label to end before the cross,
    at most 85% of the way."""
    lane_w = abs(xd - xs)
    label_w = (len(prefix + segment_label(e, options="short")) + 2) * 11 * MONO_ADVANCE
    frac = min(0.85, max(0.6, (label_w + 36) / lane_w))
    return xs + (xd - xs) * frac, y0 + typical / 2


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


def _label_texts(e: Event, room_chars: int, tag_text: str, prefix: str) -> list[str]:
    """The label at most ``room_chars`` long, then shorter ones (no options, then cut)."""
    out: list[str] = []
    for n in (room_chars, 26, 18, 11, 6):
        text = prefix + segment_label(e, options="short", max_len=max(n - len(tag_text) - len(prefix), 8))
        if not out or len(text) < len(out[-1]):
            out.append(text)
    return out


def _dropped_label_spots(
    e: Event, src: str, xs: float, y0: float, dx: float, dy: float, lay: _Layout, tag_text: str, prefix: str
) -> list[_Spot]:
    """A dropped segment's label starts at the sender (above the line, else below) and may run
    on past the cross; else it sits in the middle of the drawn part."""
    adv = 11 * MONO_ADVANCE
    seg_len = max(math.hypot(dx, dy), 1.0)
    ux, uy = dx / seg_len, dy / seg_len
    nx, ny = (uy, -ux) if src == "left" else (-uy, ux)  # the label sits above the line
    avail = int((abs(lay.x_right - lay.x_left) * 0.8) / adv)
    anchor = "start" if src == "left" else "end"
    spots: list[_Spot] = []
    for text in _label_texts(e, avail, tag_text, prefix):
        w = len(text + tag_text) * adv
        for frac, side in ((0.0, 1), (0.0, -1), (0.5, 1), (0.5, -1)):
            if frac:
                cx, cy, where = xs + dx * frac, y0 + dy * frac, "middle"
                mid = (cx, cy)
            else:
                cx, cy, where = xs + ux * 14, y0 + uy * 14, anchor
                mid = (cx + ux * w / 2, cy + uy * w / 2)
            off = 6.0 if side > 0 else -8.5
            box = _Box(mid[0] + nx * off, mid[1] + ny * off, w / 2 + 2, 7.0, ux, uy)
            spots.append((cx, cy, where if side > 0 else where + "-below", text, box))
    return spots


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
    (0.15, 1),
    (0.85, 1),
    (0.15, -1),
    (0.85, -1),
    (0.4, 1),
    (0.6, 1),
    (0.4, -1),
    (0.6, -1),
    (0.1, 1),
    (0.9, 1),
    (0.1, -1),
    (0.9, -1),
)
# An arrow crossed by one going the other way keeps its label near its sender first, so the two
# labels end up on opposite halves.
_CROSSED_SPOTS = ((0.27, 1), (0.27, -1), *_SPOTS)


def _label_spots(
    e: Event,
    src: str,
    xs: float,
    y0: float,
    dx: float,
    dy: float,
    crossed: bool,
    tag_text: str,
    prefix: str,
) -> list[_Spot]:
    """The places along the arrow its label may take, in order of preference, each with the
    label as long as the place allows and shorter ones."""
    adv = 11 * MONO_ADVANCE
    seg_len = max(math.hypot(dx, dy), 1.0)
    ux, uy = dx / seg_len, dy / seg_len
    nx, ny = (uy, -ux) if src == "left" else (-uy, ux)  # the label sits above the line
    spots: list[_Spot] = []
    for frac, side in _CROSSED_SPOTS if crossed else _SPOTS:
        room = min(frac, 1 - frac) * seg_len * 2
        avail = int(min(room - 16, seg_len * 0.74 - 10) / adv)
        cx, cy = xs + dx * frac, y0 + dy * frac
        for text in _label_texts(e, avail, tag_text, prefix):
            w = len(text + tag_text) * adv
            off = 6.0 if side > 0 else -8.5
            box = _Box(cx + nx * off, cy + ny * off, w / 2 + 2, 7.0, ux, uy)
            spots.append((cx, cy, "middle" if side > 0 else "middle-below", text, box))
    return spots


def _label_svg(spot: _Spot, angle: float, tag_text: str, color: str, rtx: bool, index: int) -> str:
    cx, cy, anchor, text, _box = spot
    baseline = cy - 5
    if anchor.endswith("-below"):
        anchor, baseline = anchor.removesuffix("-below"), cy + 13
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


def _line_box(x0: float, y0: float, x1: float, y1: float, half_width: float = 1.5) -> _Box:
    """An arrow as a thin box, for the labels to keep off."""
    length = max(math.hypot(x1 - x0, y1 - y0), 1.0)
    return _Box((x0 + x1) / 2, (y0 + y1) / 2, length / 2, half_width, (x1 - x0) / length, (y1 - y0) / length)


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

    @property
    def ymin(self) -> float:
        return self.cy - abs(self.hw * self.uy) - abs(self.hh * self.ux)

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
