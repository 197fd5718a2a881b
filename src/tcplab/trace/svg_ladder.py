"""The ladder diagram as a self-contained SVG picture.

Two vertical timelines (one per endpoint), one slanted arrow per segment from its send time on
the sender's line to its arrival time on the receiver's; dropped segments stop in the middle with
a red cross; duplicated segments are doubled, corrupted ones dashed; each endpoint's state is
written on its timeline where it changes; notes from the scenario sit between the lines.

Time runs down the page but is not to scale: rows at the same instant are packed tightly and long
silences (a retransmission timeout, TIME_WAIT) are compressed and marked with a break.
Only presentation attributes are used (no CSS, no scripts, no external resources), so the file
renders the same in browsers, in ``rsvg-convert`` and inline in an HTML page.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from tcplab.trace.fold import LIMIT, fold_events
from tcplab.trace.ladder import (
    Event,
    connection_numbers,
    event_time,
    format_time,
    resolve_endpoints,
    retransmissions,
    segment_label,
    time_decimals,
)

__all__ = ["render_ladder_svg", "svg_attr", "svg_text"]

FONT_SANS = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
FONT_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# Per-character advance of the fonts at size 1 (DejaVu; close enough for the others).
MONO_ADVANCE = 0.602
SANS_ADVANCE = 0.62
BOLD_ADVANCE = 0.7

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


# Characters XML 1.0 does not allow (C0 controls but tab/newline/CR, surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: Any) -> str:
    """``str(value)`` with characters XML cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(value))


def svg_attr(value: Any) -> str:
    """An attribute value, escaped for use inside double quotes."""
    return escape(xml_safe(value), {'"': "&quot;"})


def svg_text(value: Any) -> str:
    return escape(xml_safe(value))


def _el(tag: str, content: str | None = None, **attrs: Any) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else int(value)
        parts.append(f'{name}="{svg_attr(value)}"')
    opening = f"<{tag} {' '.join(parts)}" if parts else f"<{tag}"
    if content is None:
        return opening + "/>"
    return f"{opening}>{content}</{tag}>"


def segment_color(flags: str, length: int = 0) -> str:
    if "R" in flags:
        return COLORS["rst"]
    if "S" in flags:
        return COLORS["syn"]
    if "F" in flags:
        return COLORS["fin"]
    if "P" in flags or length:
        return COLORS["data"]
    return COLORS["ack"]


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
    t_end: float | None = None  # a fold: the time its last folded segment was sent


def _side(name: Any, left: str, right: str) -> str | None:
    if name == left:
        return "left"
    if name == right:
        return "right"
    return None


def _collect(events: Sequence[Event], left: str, right: str) -> tuple[list[_Item], dict[int, str]]:
    items: list[_Item] = []
    direction: dict[int, str] = {}
    numbers = connection_numbers(events)
    for i, e in enumerate(events):
        kind = e.get("kind")
        t = event_time(e)
        if kind == "state":
            side = _side(e.get("host"), left, right)
            if side:
                tag = f" #{numbers[i]}" if i in numbers else ""
                items.append(_Item("state", side, t, 1, i, str(e.get("to", "?")) + tag))
        elif kind == "segment":
            src = _side(e.get("src"), left, right)
            dst = _side(e.get("dst"), left, right)
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
            side = _side(e.get("host"), left, right) or "left"
            items.append(_Item("outcome", side, t, 1, i, str(e.get("outcome", "?"))))
        elif kind in ("note", "fold"):
            items.append(_Item(str(kind), None, t, 1, i, str(e.get("text", ""))))
    items.sort(key=lambda it: (it.t, it.phase, it.index, it.kind != "dep"))
    return items, direction


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=max(width, 10)) or [""]


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
    folded = 0
    if fold:  # an arrow takes two rows here (one line in text): half the text ladder's budget
        evs, folded = fold_events(evs, limit=LIMIT // 2, head=8, episode=20, tail=6)
    left, right = resolve_endpoints(evs, left, right)
    items, direction = _collect(evs, left, right)
    numbers = connection_numbers(evs)
    rtx = retransmissions(evs)
    dec = time_decimals(event_time(e) for e in evs)

    # -- horizontal geometry ----------------------------------------------------------------
    labels = {i: segment_label(evs[i], options="short") for i in direction}
    longest = max((len(s) for s in labels.values()), default=20)
    fs_label = 11.0
    lane = min(max(560.0, longest * fs_label * MONO_ADVANCE + 150), 760.0)
    state_names = [it.text for it in items if it.kind in ("state", "outcome")]
    state_names += [str(e.get("from", "")) for e in evs if e.get("kind") == "state"]
    state_w = max([len(s) for s in state_names] + [len(left), len(right), 8]) * 7.2 + 34
    # the time column as wide as its longest time (and the "+23.1 s" of a break)
    widest = max([len(format_time(event_time(e), dec)) for e in evs] + [7])
    x_time = max(58.0, widest * 11 * MONO_ADVANCE + 8)
    x_left = x_time + 14 + state_w
    x_right = x_left + lane
    width = x_right + state_w + 24

    # -- rows: pack items that happen at the same instant and do not collide -----------------
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
    chars_per_line = int((lane - 40) / (11.5 * SANS_ADVANCE))
    note_lines: dict[int, list[str]] = {}
    for it in items:
        if it.kind in ("note", "fold"):
            note_lines[it.index] = _wrap(it.text, chars_per_line)
            rows[it.row].height = 15.0 * len(note_lines[it.index]) + 6
            if it.kind == "fold":  # the rows after it count their time from the fold's end
                rows[it.row].t_end = float(evs[it.index].get("t_end", it.t))

    positive = [b.t - a.t for a, b in itertools.pairwise(rows) if b.t - a.t > 1e-9]
    # The unit of the gaps: the shortest step, unless a few tiny ones (jitter) would make every
    # other step look long: then an eighth of the median step.
    dt_ref = max(min(positive), statistics.median(positive) / 8) if positive else 1.0
    heading = xml_safe(title if title is not None else f"{left} ⇄ {right}")  # (before wrapping)
    # A long title gets a smaller font, then more lines (DejaVu Sans Bold: at most about 0.7 em
    # a character).
    title_size = max(13.0, min(20.0, (width - 40) / (BOLD_ADVANCE * max(1, len(heading)))))
    title_lines = _wrap(heading, int((width - 40) / (BOLD_ADVANCE * title_size)))
    n_seg = len(direction)
    n_drop = sum(1 for i in direction if evs[i].get("fate") == "dropped")
    sub = f"{n_seg} segment{'s' if n_seg != 1 else ''}"
    if folded:
        n_folds = sum(1 for it in items if it.kind == "fold")
        sub = f"{n_seg} of {total} segments drawn, {folded} folded into {n_folds} summary rows"
    if n_drop:
        sub += f", {n_drop} dropped"
    if rtx:
        sub += f", {len(rtx)} retransmitted"
    if rows:
        sub += f" · {format_time(rows[0].t, dec)} s – {format_time(rows[-1].t, dec)} s"
    sub_lines = _wrap(sub, int((width - 40) / (12 * SANS_ADVANCE)))
    top = 108.0 + (len(title_lines) - 1) * (title_size + 5) + (len(sub_lines) - 1) * 15
    y = top + 34.0  # first row below the initial states
    breaks: list[tuple[float, float, float]] = []  # (y_from, y_to, dt)
    prev: _Row | None = None
    for row in rows:
        if prev is not None:
            dt = row.t - (prev.t if prev.t_end is None else prev.t_end)
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
    height = bottom + 52.0  # legend

    def row_y(it: _Item) -> float:
        return rows[it.row].y

    dep_y: dict[int, float] = {}
    arr_y: dict[int, float] = {}
    for it in items:
        if it.kind == "dep":
            dep_y[it.index] = row_y(it)
        elif it.kind == "arr":
            arr_y[it.index] = row_y(it)
    flights = [arr_y[i] - dep_y[i] for i in arr_y if i in dep_y]
    typical = statistics.median(flights) if flights else 30.0
    typical = max(typical, 24.0)

    out: list[str] = []
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{svg_attr(FONT_SANS)}" '
        f'role="img" aria-label="{svg_attr("Ladder diagram: " + heading)}" class="tcplab-ladder">'
    )
    out.append(_el("title", svg_text(f"Ladder diagram: {heading}")))
    out.append(
        _el(
            "defs",
            "".join(
                _marker(name, color)
                for name, color in (
                    ("syn", COLORS["syn"]),
                    ("fin", COLORS["fin"]),
                    ("rst", COLORS["rst"]),
                    ("data", COLORS["data"]),
                    ("ack", COLORS["ack"]),
                )
            ),
        )
    )
    out.append(_el("rect", x=0, y=0, width=f"{width:.0f}", height=f"{height:.0f}", fill="#ffffff"))
    # The title and the line under it, wrapped: nothing runs off the picture.
    y_text = 32.0
    for line in title_lines:
        out.append(_el("text", svg_text(line), x=20, y=y_text, font_size=f"{title_size:.1f}", font_weight="bold",
                       fill=COLORS["text"], class_="title"))  # fmt: skip
        y_text += title_size + 5
    y_text += 20 - title_size
    for line in sub_lines:
        out.append(_el("text", svg_text(line), x=20, y=y_text, font_size=12, fill=COLORS["muted"]))
        y_text += 15

    # Host headers and timelines.
    line_top = top - 8
    for side, name, x in (("left", left, x_left), ("right", right, x_right)):
        bw = max(len(name) * 13 * SANS_ADVANCE + 28, 80)
        out.append(
            _el(
                "line",
                x1=x,
                y1=line_top,
                x2=x,
                y2=bottom,
                stroke=COLORS["line"],
                stroke_width=2.5,
                class_=f"timeline timeline-{side}",
            )
        )
        out.append(_el("rect", x=x - bw / 2, y=top - 44, width=bw, height=28, rx=6, fill="#343a40"))
        out.append(
            _el(
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
    # Time axis header.
    out.append(_el("text", "time (s)", x=x_time, y=top - 25, font_size=11, fill=COLORS["muted"], text_anchor="end"))

    # Breaks for compressed silences.
    for y0, y1, dt in breaks:
        ym = (y0 + y1) / 2
        for x in (x_left, x_right):
            out.append(_el("rect", x=x - 6, y=ym - 5, width=12, height=10, fill="#ffffff"))
            out.append(
                _el(
                    "path",
                    d=f"M{x - 7:.1f},{ym - 2:.1f} l14,-5 M{x - 7:.1f},{ym + 5:.1f} l14,-5",
                    stroke=COLORS["muted"],
                    stroke_width=1.5,
                    fill="none",
                )
            )
        out.append(
            _el(
                "text",
                svg_text(f"+{_human_dt(dt)}"),
                x=x_time,
                y=ym + 4,
                font_size=10.5,
                font_style="italic",
                fill=COLORS["muted"],
                text_anchor="end",
                class_="break",
            )
        )

    # Initial states.
    init: dict[str, str] = {}
    for e in evs:
        if e.get("kind") == "state":
            where = _side(e.get("host"), left, right)
            if where and where not in init:
                init[where] = str(e.get("from", ""))
    for side, name in init.items():
        out.append(_state_pill(name, side, x_left if side == "left" else x_right, top + 6))

    # Time labels (once per instant) and faint guide lines.
    last_t: float | None = None
    for row in rows:
        if row.t != last_t:
            out.append(
                _el(
                    "text",
                    svg_text(format_time(row.t, dec)),
                    x=x_time,
                    y=row.y + 4,
                    font_size=11,
                    fill=COLORS["muted"],
                    text_anchor="end",
                    font_family=FONT_MONO,
                    class_="time",
                )
            )
            out.append(
                _el(
                    "line", x1=x_time + 4, y1=row.y, x2=x_left - state_w + 4, y2=row.y, stroke="#e9ecef", stroke_width=1
                )
            )
            last_t = row.t

    # Notes first (underneath the arrows); folds are drawn over the arrows, later.
    fold_boxes: list[tuple[str, _Box]] = []
    for it in items:
        if it.kind not in ("note", "fold"):
            continue
        lines = note_lines[it.index]
        h = 15.0 * len(lines) + 8
        yc = row_y(it)
        is_fold = it.kind == "fold"
        parts = [
            _el(
                "rect",
                x=x_left + 14,
                y=yc - h / 2,
                width=lane - 28,
                height=h,
                rx=5,
                fill="#f1f3f5" if is_fold else COLORS["note_fill"],
                stroke=COLORS["muted"] if is_fold else COLORS["note_stroke"],
                stroke_width=1,
                stroke_dasharray="4 3" if is_fold else None,
            )
        ]
        if is_fold:  # the folded stretch on both timelines: dotted
            for x in (x_left, x_right):
                parts.append(_el("line", x1=x, y1=yc - h / 2, x2=x, y2=yc + h / 2, stroke="#ffffff", stroke_width=4))
                parts.append(_el("line", x1=x, y1=yc - h / 2, x2=x, y2=yc + h / 2, stroke=COLORS["muted"],
                                 stroke_width=2.5, stroke_dasharray="2 4"))  # fmt: skip
        spans = "".join(
            _el("tspan", svg_text(line), x=(x_left + x_right) / 2, dy=(0 if k == 0 else 15))
            for k, line in enumerate(lines)
        )
        parts.append(
            _el(
                "text",
                spans,
                x=(x_left + x_right) / 2,
                y=yc - h / 2 + 16.5,
                font_size=11.5,
                font_style="italic",
                fill="#495057" if is_fold else "#5c3c00",
                text_anchor="middle",
                class_="fold-text" if is_fold else "note",
            )
        )
        if is_fold:
            box = _Box((x_left + x_right) / 2, yc, (lane - 28) / 2, h / 2, 1.0, 0.0)
            fold_boxes.append((_el("g", "".join(parts), class_="fold"), box))
        else:
            out.append("".join(parts))

    # Segments: every arrow first known, so that no label is put across one.
    crossing = _crossing(direction, dep_y, arr_y, typical)
    arrows: list[tuple[int, _Box]] = []
    for i, src in direction.items():
        xs, xd = (x_left, x_right) if src == "left" else (x_right, x_left)
        if evs[i].get("fate") == "dropped":
            xe, ye = _drop_point(evs[i], xs, xd, dep_y[i], typical, f"#{numbers[i]} " if i in numbers else "")
            arrows.append((i, _Box(xe, ye + 7, 28.0, 15.0, 1.0, 0.0)))  # the cross and "dropped"
        else:
            xe, ye = xd, arr_y.get(i, dep_y[i])
        arrows.append((i, _line_box(xs, dep_y[i], xe, ye)))
    placed: list[_Box] = [box for _, box in fold_boxes]
    label_svgs: list[str] = []
    for i, src in direction.items():
        e = evs[i]
        prefix = f"#{numbers[i]} " if i in numbers else ""
        arrow, label_svg = _segment_svg(
            e, i, src, dep_y[i], arr_y.get(i), x_left, x_right, typical, i in rtx, placed, i in crossing, prefix,
            arrows,
        )  # fmt: skip
        out.append(arrow)
        label_svgs.append(label_svg)
    out += [svg for svg, _ in fold_boxes]  # over the arrows that fly across a folded stretch
    out.append(_el("g", "".join(label_svgs), class_="labels"))

    # State labels and outcomes.
    for it in items:
        x = x_left if it.side == "left" else x_right
        if it.kind == "state":
            out.append(_state_pill(it.text, it.side or "left", x, row_y(it)))
        elif it.kind == "outcome":
            e = evs[it.index]
            text = f"● {it.text}"
            if e.get("detail"):
                text += f" ({e.get('detail')})"
            if it.index in numbers:
                text += f" #{numbers[it.index]}"
            bad = it.text in ("refused", "reset", "timed out")
            dy = 23 if f"{it.side}-label" in rows[it.row].slots else 4
            anchor = "end" if it.side == "left" else "start"
            xt = x - 10 if it.side == "left" else x + 10
            out.append(
                _el(
                    "text",
                    svg_text(text),
                    x=xt,
                    y=row_y(it) + dy,
                    font_size=11,
                    font_weight="bold",
                    fill=COLORS["bad" if bad else "good"],
                    text_anchor=anchor,
                    class_="outcome",
                )
            )

    # Legend.
    out.append(_legend(20, height - 26))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _human_dt(dt: float) -> str:
    if dt >= 100:
        return f"{dt:.0f} s"
    if dt >= 1:
        return f"{dt:.1f} s".replace(".0 s", " s")
    return f"{dt * 1000:.0f} ms"


def _marker(name: str, color: str) -> str:
    return (
        f'<marker id="lad-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse" markerUnits="userSpaceOnUse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
    )


def _marker_name(flags: str, length: int) -> str:
    if "R" in flags:
        return "rst"
    if "S" in flags:
        return "syn"
    if "F" in flags:
        return "fin"
    if "P" in flags or length:
        return "data"
    return "ack"


def _state_pill(name: str, side: str, x: float, y: float) -> str:
    w = len(name) * 7.2 + 14
    rx = x - 8 - w if side == "left" else x + 8
    return _el(
        "g",
        _el(
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
        + _el(
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


def _segment_svg(
    e: Event,
    index: int,
    src: str,
    y0: float,
    y1: float | None,
    x_left: float,
    x_right: float,
    typical: float,
    rtx: bool,
    placed: list[_Box],
    crossed: bool = False,
    prefix: str = "",
    arrows: Sequence[tuple[int, _Box]] = (),
) -> tuple[str, str]:
    """The arrow of one segment (a group) and its label (drawn later, above all arrows). The
    label goes where it overlaps neither a label already ``placed`` nor another of the
    ``arrows`` (index, box), shortened if it must be."""
    flags = str(e.get("flags", "?"))
    length = int(e.get("len", 0) or 0)
    color = segment_color(flags, length)
    fate = str(e.get("fate", "delivered"))
    xs, xd = (x_left, x_right) if src == "left" else (x_right, x_left)
    # Labels already placed wholly above this arrow's start cannot collide with it (arrows come
    # in send order, so their starts only go down): forget them.
    placed[:] = [box for box in placed if box.ymax >= y0 - 30.0]
    parts: list[str] = []
    full = segment_label(e)
    tags: list[str] = []
    if rtx:
        tags.append("retransmission")
    if fate in ("dropped", "duplicated", "corrupted"):
        tags.append(fate)
    tooltip = f"t={e.get('t')} {e.get('src')} → {e.get('dst')}: {full}"
    if e.get("t_arrive") is not None:
        tooltip += f" (arrives t={e.get('t_arrive')})"
    if tags:
        tooltip += f" [{', '.join(tags)}]"
    if e.get("why"):
        tooltip += f" (why: {e.get('why')})"
    parts.append(_el("title", svg_text(tooltip)))
    marker = f"url(#lad-{_marker_name(flags, length)})"
    if fate == "dropped":
        xe, ye = _drop_point(e, xs, xd, y0, typical, prefix)
        parts.append(_el("line", x1=xs, y1=y0, x2=xe, y2=ye, stroke=color, stroke_width=1.8, stroke_linecap="round"))
        c = COLORS["drop"]
        parts.append(
            _el(
                "path",
                d=f"M{xe - 6:.1f},{ye - 6:.1f} l12,12 M{xe - 6:.1f},{ye + 6:.1f} l12,-12",
                stroke=c,
                stroke_width=3,
                stroke_linecap="round",
                class_="drop-mark",
            )
        )
        parts.append(
            _el("text", "dropped", x=xe, y=ye + 20, font_size=10.5, font_weight="bold", fill=c, text_anchor="middle")
        )
        x_end, y_end = xe, ye
    else:
        ye = y1 if y1 is not None else y0
        dash = "5 4" if fate == "corrupted" else None
        if fate == "duplicated":
            parts.append(
                _el(
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
            _el(
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
            c = COLORS["drop"]
            xm = xd - 14 if src == "left" else xd + 14
            ym = ye - (ye - y0) * 14 / abs(xd - xs)
            parts.append(
                _el(
                    "path",
                    d=f"M{xm - 5:.1f},{ym - 5:.1f} l10,10 M{xm - 5:.1f},{ym + 5:.1f} l10,-10",
                    stroke=c,
                    stroke_width=2.5,
                    stroke_linecap="round",
                    class_="corrupt-mark",
                )
            )
        x_end, y_end = xd, ye
    parts.append(_el("circle", cx=xs, cy=y0, r=3, fill=color))
    # Label along the arrow, above it: in the middle unless that collides with a label already
    # placed (crossing arrows), then nearer one end.
    dx, dy = x_end - xs, y_end - y0
    seg_len = max(math.hypot(dx, dy), 1.0)
    angle = math.degrees(math.atan2(dy, dx))
    if src == "right":
        angle -= 180.0
    shown_tags = [t for t in tags if t != "dropped"]
    tag_text = f" ({', '.join(shown_tags)})" if shown_tags else ""
    adv = 11 * MONO_ADVANCE
    ux, uy = dx / seg_len, dy / seg_len
    # The label sits 5 px above the line: offset its centre along the line's normal.
    nx, ny = (uy, -ux) if src == "left" else (-uy, ux)
    lo, hi = min(y0, y_end) - 30.0, max(y0, y_end) + 30.0  # (labels stay near their arrow)
    others = [box for j, box in arrows if j != index and box.ymin <= hi and box.ymax >= lo]

    def clashes(box: _Box) -> int:
        return sum(1 for other in placed if box.overlaps(other)) + sum(1 for a in others if box.overlaps(a))

    def variants(room_chars: int) -> list[str]:
        """The label at most ``room_chars`` long, then shorter ones (no options, then cut)."""
        out: list[str] = []
        for n in (room_chars, 26, 18, 11, 6):
            text = prefix + segment_label(e, options="short", max_len=max(n - len(tag_text) - len(prefix), 8))
            if text not in out and (not out or len(text) < len(out[-1])):
                out.append(text)
        return out

    candidates: list[tuple[float, float, str, str, _Box]] = []
    if fate == "dropped":
        # The label starts at the sender (above the line, else below) and may run on past the
        # cross; if that meets another arrow, it sits in the middle of the drawn part.
        avail = int((abs(x_right - x_left) * 0.8) / adv)
        anchor = "start" if src == "left" else "end"
        for text in variants(avail):
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
                candidates.append((cx, cy, where if side > 0 else where + "-below", text, box))
    else:
        # An arrow crossed by one going the other way keeps its label near its sender, so the
        # two labels end up on opposite halves.
        spots: tuple[tuple[float, int], ...] = (
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
        if crossed:
            spots = ((0.27, 1), (0.27, -1), *spots)
        for frac, side in spots:
            room = min(frac, 1 - frac) * seg_len * 2
            avail = int(min(room - 16, seg_len * 0.74 - 10) / adv)
            cx, cy = xs + dx * frac, y0 + dy * frac
            for text in variants(avail):
                w = len(text + tag_text) * adv
                off = 6.0 if side > 0 else -8.5
                box = _Box(cx + nx * off, cy + ny * off, w / 2 + 2, 7.0, ux, uy)
                candidates.append((cx, cy, "middle" if side > 0 else "middle-below", text, box))
    # The longest label that meets nothing. Where every place meets another arrow or label (a
    # crowded burst), the arrow goes unlabelled: its tooltip still says what it is.
    free = [c for c in candidates if not clashes(c[4])]
    cls = f"segment fate-{fate}" + (" retransmission" if rtx else "")
    if not free:
        return _el("g", "".join(parts), class_=cls + " unlabelled", data_index=index), ""
    choice = max(free, key=lambda c: len(c[3]))
    cx, cy, anchor, text, box = choice
    placed.append(box)
    baseline = cy - 5
    if anchor.endswith("-below"):
        anchor, baseline = anchor.removesuffix("-below"), cy + 13
    spans = svg_text(text)
    if tag_text:
        tag_color = COLORS["rtx"] if rtx else COLORS["drop"]
        spans += _el("tspan", svg_text(tag_text.strip()), dx=6.6, fill=tag_color, font_weight="bold")
    label_svg = _el(
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
    return _el("g", "".join(parts), class_=cls, data_index=index), label_svg


def _drop_point(e: Event, xs: float, xd: float, y0: float, typical: float, prefix: str) -> tuple[float, float]:
    """Where a dropped segment's arrow stops: far enough for its label to end before the
    cross, at most 85% of the way."""
    lane_w = abs(xd - xs)
    label_w = (len(prefix + segment_label(e, options="short")) + 2) * 11 * MONO_ADVANCE
    frac = min(0.85, max(0.6, (label_w + 36) / lane_w))
    return xs + (xd - xs) * frac, y0 + typical / 2


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
        parts.append(_el("line", x1=cx, y1=y, x2=cx + 22, y2=y, stroke=color, stroke_width=2.5))
        parts.append(_el("text", svg_text(name), x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
        cx += 27 + len(name) * 7 + 20
    parts.append(
        _el(
            "path",
            d=f"M{cx + 2},{y - 5} l10,10 M{cx + 2},{y + 5} l10,-10",
            stroke=COLORS["drop"],
            stroke_width=2.5,
            stroke_linecap="round",
        )
    )
    parts.append(_el("text", "dropped", x=cx + 18, y=y + 4, font_size=11, fill=COLORS["text"]))
    cx += 18 + 56 + 16
    parts.append(
        _el("line", x1=cx, y1=y, x2=cx + 22, y2=y, stroke=COLORS["ack"], stroke_width=2, stroke_dasharray="5 4")
    )
    parts.append(_el("text", "corrupted", x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
    cx += 27 + 66 + 16
    parts.append(_el("line", x1=cx, y1=y - 2, x2=cx + 22, y2=y - 2, stroke=COLORS["ack"], stroke_width=1.8))
    parts.append(
        _el("line", x1=cx, y1=y + 3, x2=cx + 22, y2=y + 3, stroke=COLORS["ack"], stroke_width=1.2, stroke_opacity=0.55)
    )
    parts.append(_el("text", "duplicated", x=cx + 27, y=y + 4, font_size=11, fill=COLORS["text"]))
    return _el("g", "".join(parts), class_="legend")
