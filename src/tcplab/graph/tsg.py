"""The time-sequence graph (Stevens, tcptrace) of one flow, and what the sender's engine did.

``render_tsg_svg(segments, events, title=...)`` draws, for the busiest data direction (or
``sender``), from the sender's side of the link:

- each data segment as a vertical bar from its first to its last byte at the time it was sent
  (retransmissions in orange; a red cross where one was lost, a ring where it arrived corrupted,
  a small square where the network duplicated it); SYN and FIN as diamonds;
- the ACK line (the highest acknowledgment the sender has received, as it arrives), the receive
  window line (ACK + window, scaled) and the SACK blocks (purple bars); lost ACKs as grey
  crosses at the time they were sent;
- from the engine's own events (``cwnd``/``rtt`` in a tcplab JSON trace): the congestion window,
  ssthresh and the bytes in flight, then the RTT samples, SRTT and RTO, on the same time axis,
  with the fast retransmits and retransmission timeouts marked. A capture has no such events:
  the graph says so.

Sequence numbers are relative to the sender's first data byte; time starts at the flow's first
segment. One self-contained SVG, presentation attributes only (as the ladder).
"""

from __future__ import annotations

import datetime
import itertools
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tcplab.graph.flows import Flow, Seg, flows
from tcplab.trace.svg import FONT_SANS, SANS_ADVANCE, element, svg_text
from tcplab.trace.svg_ladder import COLORS

__all__ = ["GraphError", "pick_flow", "render_tsg_svg"]

WIDTH = 1000
LEFT, RIGHT = 86, 34
TSG_HEIGHT, CWND_HEIGHT, RTT_HEIGHT = 430, 170, 150
GAP = 58
_ABSOLUTE = 365 * 86400.0  # times past 1971 are wall-clock times, not seconds since a start
INK = {
    "data": COLORS["data"],
    "rtx": COLORS["rtx"],
    "drop": COLORS["drop"],
    "ack": "#2b8a3e",
    "win": "#e67700",
    "sack": "#862e9c",
    "lost_ack": "#868e96",
    "syn": COLORS["syn"],
    "fin": COLORS["fin"],
    "cwnd": "#1864ab",
    "ssthresh": "#c92a2a",
    "flight": "#ced4da",
    "rtt": "#868e96",
    "srtt": "#1864ab",
    "rto": "#c92a2a",
    "grid": "#e9ecef",
    "axis": "#495057",
    "text": COLORS["text"],
    "muted": COLORS["muted"],
}


class GraphError(ValueError):
    """Nothing to draw (no flow carries data), or the asked-for sender is not in the trace."""


# ---- scales and axes ------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-6:
        out.append(round(v, 12))
        v += step
    return out


def _bytes_unit(top: float) -> tuple[float, str]:
    if top >= 10 * 1024 * 1024:
        return 1024 * 1024, "MB"
    if top >= 10 * 1024:
        return 1024, "KB"
    return 1, "bytes"


def _num(v: float, step: float = 0.001) -> str:
    """``v`` with as many decimals as ticks ``step`` apart need."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if f"{step:.12g}".rstrip("0").endswith("5") else 0)
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


@dataclass
class Panel:
    """A plotting area: data coordinates to pixels, its axes and grid."""

    top: float
    height: float
    t0: float
    t1: float
    y0: float
    y1: float
    parts: list[str] = field(default_factory=list)

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.top + self.height - (v - self.y0) / (self.y1 - self.y0) * self.height

    def frame(self, title: str, y_label: str, y_ticks: list[float], fmt: Any, x_labels: bool) -> None:
        right = WIDTH - RIGHT
        bottom = self.top + self.height
        p = self.parts
        p.append(element("rect", x=LEFT, y=self.top, width=right - LEFT, height=self.height, fill="#ffffff",
                     stroke=INK["axis"], stroke_width=1))  # fmt: skip
        for v in y_ticks:
            yy = self.y(v)
            p.append(element("line", x1=LEFT, y1=yy, x2=right, y2=yy, stroke=INK["grid"], stroke_width=1))
            p.append(element("text", svg_text(fmt(v)), x=LEFT - 6, y=yy + 4, font_size=11, text_anchor="end",
                         fill=INK["axis"]))  # fmt: skip
        x_ticks = nice_ticks(self.t0, self.t1, 10)
        step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
        for t in x_ticks:
            if not self.t0 <= t <= self.t1:
                continue
            xx = self.x(t)
            p.append(element("line", x1=xx, y1=self.top, x2=xx, y2=bottom, stroke=INK["grid"], stroke_width=1))
            if x_labels:
                p.append(element("text", svg_text(_num(t, step)), x=xx, y=bottom + 15, font_size=11,
                                 text_anchor="middle", fill=INK["axis"]))  # fmt: skip
        p.append(element("text", svg_text(title), x=LEFT, y=self.top - 8, font_size=13, font_weight="bold",
                     fill=INK["text"]))  # fmt: skip
        p.append(element("text", svg_text(y_label), x=18, y=self.top + self.height / 2, font_size=11,
                     fill=INK["axis"], text_anchor="middle",
                     transform=f"rotate(-90 18 {self.top + self.height / 2:.1f})"))  # fmt: skip


def _path(points: Sequence[tuple[float, float]], step: bool = True) -> str:
    """An SVG path through ``points`` (a staircase when ``step``)."""
    if not points:
        return ""
    out = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for (_x0, y0), (x1, y1) in itertools.pairwise(points):
        if step:
            out.append(f"H{x1:.1f}V{y1:.1f}" if y1 != y0 else f"H{x1:.1f}")
        else:
            out.append(f"L{x1:.1f},{y1:.1f}")
    return "".join(out)


def _cross(x: float, y: float, r: float = 4.0) -> str:
    return f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"


# ---- the flow's series ------------------------------------------------------------------------------


@dataclass
class _Series:
    bars: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)  # kind -> (t, lo, hi)
    marks: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # kind -> (t, v)
    ack: list[tuple[float, float]] = field(default_factory=list)
    win: list[tuple[float, float]] = field(default_factory=list)
    sack: list[tuple[float, float, float]] = field(default_factory=list)
    flight: list[tuple[float, float]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    top: float = 0.0


def _series(flow: Flow) -> _Series:
    s = _Series()
    near = 0
    snd_max = 0
    snd_una = 0
    moments: list[tuple[float, int, Seg]] = [(seg.t, 0, seg) for seg in flow.data]
    moments += [(seg.seen, 1, seg) for seg in flow.acks if seg.seen is not None]
    moments.sort(key=lambda m: (m[0], m[1]))
    for seg in flow.acks:
        if seg.seen is None and "." in seg.flags:
            s.marks.setdefault("lost_ack", []).append((seg.t, flow.rel(seg.ack, snd_una)))
    for t, side, seg in moments:
        if side == 0:  # the sender sends
            lo = flow.rel(seg.seq, near)
            near = lo
            if "S" in seg.flags:
                again = "syn" in s.marks or "syn_rtx" in s.marks
                lo += 1  # the SYN takes the sequence number before the first data byte
                s.marks.setdefault("syn_rtx" if again else "syn", []).append((t, lo))
            hi = lo + seg.length
            if seg.length:
                kind = "rtx" if lo < snd_max else "data"
                s.bars.setdefault(kind, []).append((t, lo, hi))
                s.counts[kind] = s.counts.get(kind, 0) + 1
            if "F" in seg.flags:
                s.marks.setdefault("fin" if hi >= snd_max else "fin_rtx", []).append((t, hi))
            if seg.fate in ("dropped", "corrupted", "duplicated") and (
                seg.length or "S" in seg.flags or "F" in seg.flags
            ):
                s.marks.setdefault(seg.fate, []).append((t, hi))
                s.counts[seg.fate] = s.counts.get(seg.fate, 0) + 1
            if "F" in seg.flags:
                hi += 1
            snd_max = max(snd_max, hi)
            s.top = max(s.top, hi)
        else:  # an ACK arrives at the sender
            if "." not in seg.flags or "R" in seg.flags:
                continue
            ack = flow.rel(seg.ack, snd_una)
            if ack < snd_una - (1 << 30):
                continue  # an ACK of another incarnation
            snd_una = max(snd_una, ack)
            shift = 0 if "S" in seg.flags else flow.wscale  # RFC 7323 2.2: SYN windows unscaled
            s.ack.append((t, ack))
            s.win.append((t, ack + (seg.win << shift)))
            for left, right in seg.sack:
                s.sack.append((t, flow.rel(left, ack), flow.rel(right, ack)))
            s.top = max(s.top, ack + (seg.win << shift))
        s.flight.append((t, max(0, snd_max - snd_una)))
    return s


def pick_flow(segments: Sequence[Seg], sender: str | None = None) -> Flow:
    """The busiest data direction, or the one whose sender is ``sender`` ("client",
    "client:51421", "198.18.0.1:40000", "198.18.0.1")."""
    candidates = flows(segments)
    if sender is not None:
        want = sender.strip()
        candidates = [f for f in candidates if want in (f.sender, f.sender.rsplit(":", 1)[0].strip("[]"))]
        if not candidates:
            senders = ", ".join(sorted({f.sender for f in flows(segments)}))
            raise GraphError(f"no flow sent by {sender!r} (senders: {senders})")
    if not candidates:
        raise GraphError("no TCP segments to draw")
    return candidates[0]


# ---- the engine's events ----------------------------------------------------------------------------


def _engine_events(events: Sequence[dict[str, Any]] | None, flow: Flow) -> tuple[list[dict], list[dict]]:
    """The sender's ``cwnd`` and ``rtt`` events for this flow's connection."""
    if not events:
        return [], []
    host, _, port = flow.sender.rpartition(":")
    peer_port = flow.receiver.rpartition(":")[2]

    def mine(e: dict[str, Any]) -> bool:
        conn = str(e.get("conn", ""))
        local, _, remote = conn.partition("-")
        return e.get("host") == host and local.rpartition(":")[2] == port and remote.rpartition(":")[2] == peer_port

    cwnd = [e for e in events if e.get("kind") == "cwnd" and mine(e)]
    rtt = [e for e in events if e.get("kind") == "rtt" and mine(e)]
    return cwnd, rtt


# ---- drawing ------------------------------------------------------------------------------------------


def _title_lines(title: str, size: float) -> list[str]:
    chars = int((WIDTH - 40) / (size * SANS_ADVANCE))
    return textwrap.wrap(title, width=max(chars, 20)) or [""]


def _rtt_estimate(rtt_events: Sequence[dict[str, Any]], flow: Flow) -> float:
    """A typical round-trip time: the median RTT sample, else SYN to SYN-ACK, else 100 ms."""
    samples = sorted(float(e["sample"]) for e in rtt_events if e.get("sample") is not None)
    if samples:
        return max(samples[len(samples) // 2], 1e-4)
    syn = next((s for s in flow.data if "S" in s.flags), None)
    synack = next((s for s in flow.acks if "S" in s.flags and s.seen is not None), None)
    if syn is not None and synack is not None and synack.seen is not None and synack.seen > syn.t:
        return synack.seen - syn.t
    return 0.1


def _zoom_window(series: _Series, t0: float, t1: float, rtt: float) -> tuple[float, float] | None:
    """Around the first loss: about ten round trips (at least 5 % of the flow's duration), if
    that is a small part of the whole flow (else the whole graph already shows it)."""
    lost = series.marks.get("dropped") or [(t, hi) for t, _lo, hi in series.bars.get("rtx", [])]
    if not lost:
        return None
    first = min(t for t, _v in lost)
    width = max(9.5 * rtt, 0.05 * (t1 - t0))
    if width > 0.4 * (t1 - t0):
        return None
    a = max(t0, first - 0.15 * width)
    return a, min(t1, a + width)


def _in(window: tuple[float, float], t: float) -> bool:
    return window[0] <= t <= window[1]


def _seq_range(series: _Series, window: tuple[float, float]) -> tuple[float, float]:
    values = [v for t, lo, hi in (*series.bars.get("data", []), *series.bars.get("rtx", []))
              if _in(window, t) for v in (lo, hi)]  # fmt: skip
    values += [v for t, v in series.ack if _in(window, t)]
    values += [v for t, lo, hi in series.sack if _in(window, t) for v in (lo, hi)]
    if not values:
        return 0.0, max(series.top, 1.0)
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.08, 1.0)
    return max(0.0, lo - pad), hi + pad


class _Canvas:
    """The growing SVG: parts, clip paths, and the next free y."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.defs: list[str] = []
        self.y = 0.0

    def clipped(self, panel: Panel, parts: list[str]) -> None:
        cid = f"tsg-clip-{len(self.defs)}"
        self.defs.append(
            f'<clipPath id="{cid}">'
            + element("rect", x=LEFT, y=panel.top, width=WIDTH - LEFT - RIGHT, height=panel.height)
            + "</clipPath>"
        )
        self.parts.append(f'<g clip-path="url(#{cid})">' + "".join(parts) + "</g>")


def _tsg_layer(series: _Series, X: Any, Y: Any, t_end: float, cap: float) -> list[str]:
    """The flow's segments, ACK, window and SACK lines at scales X (time) and Y (sequence)."""
    out: list[str] = []
    if series.win:
        pts = [(X(t), Y(min(v, cap))) for t, v in series.win] + [(X(t_end), Y(min(series.win[-1][1], cap)))]
        out.append(element("path", d=_path(pts), fill="none", stroke=INK["win"], stroke_width=1.4, class_="window"))
    if series.ack:
        pts = [(X(t), Y(v)) for t, v in series.ack] + [(X(t_end), Y(series.ack[-1][1]))]
        out.append(element("path", d=_path(pts), fill="none", stroke=INK["ack"], stroke_width=1.6, class_="ack"))
    if series.sack:
        d = "".join(f"M{X(t) + 2:.1f},{Y(lo):.1f}V{Y(hi):.1f}" for t, lo, hi in series.sack)
        out.append(element("path", d=d, fill="none", stroke=INK["sack"], stroke_width=2.2, class_="sack"))
    for kind in ("data", "rtx"):
        bars = series.bars.get(kind, [])
        if bars:
            d = "".join(
                f"M{X(t):.1f},{Y(lo):.1f}V{Y(hi):.1f}M{X(t) - 2:.1f},{Y(hi):.1f}h4M{X(t) - 2:.1f},{Y(lo):.1f}h4"
                for t, lo, hi in bars
            )
            out.append(element("path", d=d, fill="none", stroke=INK[kind], stroke_width=1.3, class_=kind))
    marks = series.marks
    if marks.get("dropped"):
        d = "".join(_cross(X(t), Y(v) - 6) for t, v in marks["dropped"])
        out.append(element("path", d=d, fill="none", stroke=INK["drop"], stroke_width=2, class_="dropped"))
    if marks.get("lost_ack"):
        d = "".join(_cross(X(t), Y(v), 3) for t, v in marks["lost_ack"])
        out.append(element("path", d=d, fill="none", stroke=INK["lost_ack"], stroke_width=1.5, class_="lost-ack"))
    for t, v in marks.get("corrupted", []):
        out.append(element("circle", cx=X(t), cy=Y(v) - 6, r=4, fill="none", stroke=INK["drop"], stroke_width=1.6,
                       class_="corrupted"))  # fmt: skip
    for t, v in marks.get("duplicated", []):
        out.append(element("rect", x=X(t) - 3, y=Y(v) - 10, width=6, height=6, fill="none", stroke=INK["data"],
                       stroke_width=1.4, class_="duplicated"))  # fmt: skip
    labels: list[tuple[float, float, str, str]] = []
    for kind, text, color in (
        ("syn", "SYN", INK["syn"]),
        ("syn_rtx", "SYN again", INK["rtx"]),
        ("fin", "FIN", INK["fin"]),
        ("fin_rtx", "FIN again", INK["rtx"]),
    ):
        for t, v in marks.get(kind, []):
            x, yy = X(t), Y(v)
            out.append(element("path", d=f"M{x:.1f},{yy - 5:.1f}l5,5l-5,5l-5,-5z", fill=color, class_=kind))
            labels.append((x, yy, text, color))
    last: dict[float, float] = {}  # per text line (y): where the last label there ends
    for x, yy, text, color in sorted(labels):
        row = round(yy)
        width = len(text) * 10 * SANS_ADVANCE
        if x + 7 >= last.get(row, -1e9):  # a label only where it does not run into the previous
            if x + 7 + width > WIDTH - RIGHT:  # at the right edge: left of the mark
                out.append(element("text", text, x=x - 7, y=yy - 4, font_size=10, fill=color, text_anchor="end"))
            else:
                out.append(element("text", text, x=x + 7, y=yy - 4, font_size=10, fill=color))
            last[row] = x + 7 + width + 4
    return out


def _loss_ticks(cwnd_events: Sequence[dict[str, Any]], X: Any, panel: Panel, window: tuple[float, float]) -> list[str]:
    """Fast retransmits (FR) and timeouts (RTO) along the top of a panel; a label only where
    it does not run into the previous one."""
    out: list[str] = []
    last_label = -1e9
    for e in cwnd_events:
        label = {"fast retransmit": "FR", "retransmission timeout": "RTO"}.get(str(e.get("reason")))
        if not label or not _in(window, float(e["t"])):
            continue
        x = X(float(e["t"]))
        out.append(
            element("line", x1=x, y1=panel.top, x2=x, y2=panel.top + 7, stroke=INK["ssthresh"], stroke_width=1.5)
        )
        if x - last_label >= 26:
            out.append(element("text", label, x=x, y=panel.top + 17, font_size=9, text_anchor="middle",
                           fill=INK["ssthresh"], class_="loss-event"))  # fmt: skip
            last_label = x
    return out


def render_tsg_svg(
    segments: Sequence[Seg],
    events: Sequence[dict[str, Any]] | None = None,
    *,
    title: str = "time-sequence graph",
    sender: str | None = None,
    zoom: bool = True,
) -> str:
    """The graph as a standalone SVG document (GraphError when there is nothing to draw). Times
    are drawn from the flow's first segment; absolute ones (a capture's) are dated under the
    title. ``zoom``: add a close-up of the first loss when the whole flow is too long to show
    it."""
    flow = pick_flow(segments, sender)
    series = _series(flow)
    cwnd_events, rtt_events = _engine_events(events, flow)
    times = [seg.t for seg in flow.data] + [seg.seen for seg in flow.acks if seg.seen is not None]
    times += [float(e["t"]) for e in cwnd_events + rtt_events]
    t0, t1 = min(times), max(times)
    if t1 - t0 < 1e-6:
        t1 = t0 + 0.001
    pad = (t1 - t0) * 0.02
    whole = (t0 - pad, t1 + pad)
    c = _Canvas()
    out = c.parts
    y = 26.0
    for line in _title_lines(title, 16):
        out.append(element("text", svg_text(line), x=20, y=y, font_size=16, font_weight="bold", fill=INK["text"]))
        y += 20
    n = series.counts
    sent = max((hi for bars in series.bars.values() for _t, _lo, hi in bars), default=0)
    facts = [f"{flow.sender} \u2192 {flow.receiver}",
             f"{sent:,} bytes in {n.get('data', 0)} segments",
             f"{n.get('rtx', 0)} retransmitted"]  # fmt: skip
    if n.get("dropped"):
        facts.append(f"{n['dropped']} lost")
    if flow.mss:
        facts.append(f"MSS {flow.mss}")
    if flow.wscale:
        facts.append(f"window scale {flow.wscale}")
    out.append(element("text", svg_text(" \u00b7 ".join(facts)), x=20, y=y, font_size=12, fill=INK["muted"]))
    y += 16
    clock = next((e for e in events or () if e.get("kind") == "clock"), None)
    wall = t0 + float(clock["epoch"]) if clock is not None else t0 if t0 >= _ABSOLUTE else None
    if wall is not None:  # a capture's wall-clock times, or a trace's clock: say when t = 0 was
        when = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
        out.append(element("text", svg_text(f"t = 0 at {when:%Y-%m-%d %H:%M:%S.%f} UTC"), x=20, y=y, font_size=12,
                       fill=INK["muted"]))  # fmt: skip
        y += 16
    c.y = y + 30
    has_data = bool(series.bars)
    window = _zoom_window(series, t0, t1, _rtt_estimate(rtt_events, flow)) if zoom and has_data else None

    # -- the whole flow, then a close-up of the first loss ----------------------------------------------
    views = [(whole, "sequence number over time (the sender's view)")]
    if window is not None:
        a, b = window
        step = (b - a) / 10
        views.append(((a, b), f"a closer look: the first loss, {_num(a - t0, step)} to {_num(b - t0, step)} s"))
    for index, ((a, b), heading) in enumerate(views):
        if not has_data:  # SYNs and FINs only: one line of marks
            lo_v, hi_v, height = -1.0, max(series.top, 1) + 1.0, 110.0
        elif index == 0:
            lo_v, hi_v, height = 0.0, max(series.top, 1) * 1.04, TSG_HEIGHT
        else:
            (lo_v, hi_v), height = _seq_range(series, (a, b)), TSG_HEIGHT * 0.8
        unit, unit_name = _bytes_unit(hi_v if index == 0 else hi_v - lo_v)
        panel = Panel(c.y, height, a - t0, b - t0, lo_v, hi_v)
        ticks = [v * unit for v in nice_ticks(lo_v / unit, hi_v / unit, 8)] if has_data else [0.0]
        y_label = f"relative sequence number ({unit_name})" if has_data else "seq"
        panel.frame(heading, y_label, [v for v in ticks if lo_v <= v <= hi_v],
                    lambda v, unit=unit: _num(v / unit), x_labels=True)  # fmt: skip
        out += panel.parts
        X = lambda t, panel=panel: panel.x(t - t0)  # noqa: E731 - every panel counts time from t0
        c.clipped(panel, _tsg_layer(series, X, panel.y, whole[1], hi_v * 2))
        out += _loss_ticks(cwnd_events, X, panel, (a, b))
        if index == 0 and window is not None:
            out.append(element("rect", x=X(window[0]), y=panel.top, width=max(X(window[1]) - X(window[0]), 2),
                           height=panel.height, fill="#fab005", opacity=0.12, class_="zoom-region"))  # fmt: skip
        c.y = panel.top + panel.height + 26
        legend = [(key, text) for key, text, shown in (
            ("data", "data sent", "data" in series.bars), ("rtx", "retransmission", "rtx" in series.bars),
            ("ack", "ACK received", series.ack), ("win", "ACK + receive window", series.win)) if shown]  # fmt: skip
        if series.sack:
            legend.append(("sack", "SACK blocks"))
        if series.marks.get("dropped"):
            legend.append(("drop", "segment lost"))
        if series.marks.get("lost_ack"):
            legend.append(("lost_ack", "ACK lost (when sent)"))
        if index == len(views) - 1:
            _legend(c, legend)
        c.y += GAP - 20

    # -- cwnd / ssthresh / in flight, RTT / RTO -----------------------------------------------------------
    if cwnd_events:
        _cwnd_panel(c, series, cwnd_events, whole, t0)
    if rtt_events:
        _rtt_panel(c, rtt_events, whole, t0)
    if events is None:
        note = (
            "cwnd, ssthresh, RTT and RTO come from tcplab's engine events: a JSON trace has them, a capture does not."
        )
        out.append(element("text", svg_text(note), x=20, y=c.y, font_size=11, fill=INK["muted"]))
        c.y += 18
    height = math.ceil(c.y)
    label = svg_text("Time-sequence graph: " + title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT_SANS}" role="img" '
        f'aria-label="{label}" class="tcplab-tsg">'
    )
    body = [head, f"<title>{label}</title>", "<defs>" + "".join(c.defs) + "</defs>",
            element("rect", x=0, y=0, width=WIDTH, height=height, fill="#ffffff"), *out, "</svg>"]  # fmt: skip
    return "\n".join(body) + "\n"


def _cwnd_panel(c: _Canvas, series: _Series, cwnd_events: Sequence[dict[str, Any]], whole: tuple[float, float],
                t0: float) -> None:  # fmt: skip
    values = [float(e["cwnd"]) for e in cwnd_events]
    values += [float(e["ssthresh"]) for e in cwnd_events if e.get("ssthresh") is not None]
    values += [v for _t, v in series.flight]
    top_v = max(values) * 1.1
    unit, unit_name = _bytes_unit(top_v)
    panel = Panel(c.y, CWND_HEIGHT, whole[0] - t0, whole[1] - t0, 0, top_v)
    panel.frame("congestion window (the sender's engine)", unit_name,
                [v * unit for v in nice_ticks(0, top_v / unit, 4) if v * unit <= top_v],
                lambda v: _num(v / unit), x_labels=True)  # fmt: skip
    c.parts += panel.parts
    X = lambda t: panel.x(t - t0)  # noqa: E731
    out: list[str] = []
    if series.flight:
        pts = [(X(t), panel.y(v)) for t, v in series.flight]
        area = _path(pts) + f"V{panel.y(0):.1f}H{pts[0][0]:.1f}Z"
        out.append(element("path", d=area, fill=INK["flight"], stroke="none", opacity=0.7, class_="flight"))
    pts = [(X(float(e["t"])), panel.y(float(e["cwnd"]))) for e in cwnd_events]
    pts.append((X(whole[1]), pts[-1][1]))  # the last value holds to the end
    out.append(element("path", d=_path(pts), fill="none", stroke=INK["cwnd"], stroke_width=1.8, class_="cwnd"))
    ss = [(X(float(e["t"])), panel.y(float(e["ssthresh"]))) for e in cwnd_events if e.get("ssthresh") is not None]
    if ss:
        ss.append((X(whole[1]), ss[-1][1]))
        out.append(element("path", d=_path(ss), fill="none", stroke=INK["ssthresh"], stroke_width=1.4,
                       stroke_dasharray="5 3", class_="ssthresh"))  # fmt: skip
    for e in cwnd_events:
        x, yy = X(float(e["t"])), panel.y(float(e["cwnd"]))
        if e.get("reason") == "fast retransmit":
            out.append(element("path", d=f"M{x:.1f},{yy:.1f}l4,-7h-8z", fill=INK["ssthresh"], class_="fast-retransmit"))
        elif e.get("reason") == "retransmission timeout":
            out.append(element("circle", cx=x, cy=yy, r=3.5, fill=INK["ssthresh"], class_="timeout"))
    c.clipped(panel, out)
    c.y = panel.top + panel.height + 26
    _legend(c, [("cwnd", "cwnd"), ("ssthresh", "ssthresh (dashed)"), ("flight", "bytes in flight"),
                ("fr", "\u25bc fast retransmit, \u25cf timeout")])  # fmt: skip
    c.y += GAP - 20


def _rtt_panel(c: _Canvas, rtt_events: Sequence[dict[str, Any]], whole: tuple[float, float], t0: float) -> None:
    values = [float(e["rto"]) for e in rtt_events]
    values += [float(e["sample"]) for e in rtt_events if e.get("sample") is not None]
    scale, unit = (1000.0, "ms") if max(values) < 5 else (1.0, "s")
    top_v = max(values) * scale * 1.1
    panel = Panel(c.y, RTT_HEIGHT, whole[0] - t0, whole[1] - t0, 0, top_v)
    panel.frame("round-trip time and retransmission timeout (RFC 6298)", unit,
                [v for v in nice_ticks(0, top_v, 4) if v <= top_v], _num, x_labels=True)  # fmt: skip
    c.parts += panel.parts
    X = lambda t: panel.x(t - t0)  # noqa: E731
    out: list[str] = []
    rto = [(X(float(e["t"])), panel.y(float(e["rto"]) * scale)) for e in rtt_events]
    rto.append((X(whole[1]), rto[-1][1]))
    out.append(element("path", d=_path(rto), fill="none", stroke=INK["rto"], stroke_width=1.4, stroke_dasharray="5 3",
                   class_="rto"))  # fmt: skip
    srtt = [(X(float(e["t"])), panel.y(float(e["srtt"]) * scale)) for e in rtt_events if e.get("srtt") is not None]
    if srtt:
        out.append(element("path", d=_path(srtt, step=False), fill="none", stroke=INK["srtt"], stroke_width=1.6,
                       class_="srtt"))  # fmt: skip
    d = "".join(
        f"M{X(float(e['t'])) - 2:.1f},{panel.y(float(e['sample']) * scale):.1f}a2,2 0 1,0 4,0a2,2 0 1,0 -4,0"
        for e in rtt_events
        if e.get("sample") is not None
    )
    if d:
        out.append(element("path", d=d, fill=INK["rtt"], stroke="none", class_="rtt-sample"))
    c.clipped(panel, out)
    c.y = panel.top + panel.height + 26
    has_samples = any(e.get("sample") is not None for e in rtt_events)
    _legend(c, [("rtt", "RTT sample"), ("srtt", "SRTT"), ("rto", "RTO (dashed)")][0 if has_samples else 2 :])
    c.y += GAP - 20


def _legend(c: _Canvas, entries: list[tuple[str, str]]) -> None:
    """One row of legend entries under the last panel (wrapped onto more rows when long)."""
    x, y = float(LEFT), c.y + 14
    for key, text in entries:
        width = len(text) * 11 * SANS_ADVANCE + (0 if key == "fr" else 24)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 18
        color = INK.get(key, INK["ssthresh"])
        if key == "fr":
            c.parts.append(element("text", svg_text(text), x=x, y=y + 4, font_size=11, fill=INK["ssthresh"]))
        else:
            if key == "flight":
                c.parts.append(element("rect", x=x, y=y - 5, width=18, height=10, fill=INK["flight"]))
            elif key in ("drop", "lost_ack"):
                c.parts.append(element("path", d=_cross(x + 9, y, 4), stroke=color, stroke_width=2, fill="none"))
            else:
                c.parts.append(element("line", x1=x, y1=y, x2=x + 18, y2=y, stroke=color, stroke_width=2.4))
            c.parts.append(element("text", svg_text(text), x=x + 24, y=y + 4, font_size=11, fill=INK["text"]))
        x += width + 18
    c.y = y + 18
