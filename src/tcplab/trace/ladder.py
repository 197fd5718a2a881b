"""Terminal ladder diagrams: two timelines, one arrow per segment, states where they change.

::

     time       client                                                   server
                CLOSED │                                               │ LISTEN
    0.000     SYN_SENT │── S 0:0(0) win 65535 <mss 1460> ─────────────▶│
    0.050              │                                               │ SYN_RCVD
                       │◀───────────── S. 0:0(0) ack 1 win 65535 <...> ──│

``render_ladder(events)`` returns the picture as a string: plain text when colour is off (stable,
golden-testable), ANSI colour (via rich) when on. ``color=None`` decides by looking at the
terminal: colour when standard output is a TTY and ``NO_COLOR`` is not set.

The input is the event list of :mod:`tcplab.trace.events` (``state``, ``segment``, ``outcome``,
``note``). Segment arrows are drawn at their send time; a state written on a timeline is the state
the endpoint entered at that row's time. Segments whose ``fate`` is ``dropped`` stop half way with
a cross; duplicated ones are drawn with a double line, corrupted ones with a dotted line.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tcplab.trace.events import Event
from tcplab.trace.fold import fold_events, retransmissions

__all__ = [
    "connection_numbers",
    "describe_event",
    "event_time",
    "format_time",
    "infer_endpoints",
    "print_ladder",
    "render_ladder",
    "resolve_endpoints",
    "retransmissions",
    "segment_label",
    "side_of",
    "want_color",
]

# ---- shared helpers (also used by the SVG ladder and the HTML report) -------------------------


def _options_text(options: Any) -> str:
    if not options:
        return ""
    text = str(options).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


def segment_label(event: Event, options: bool | str = True, max_len: int | None = None, ellipsis: str = "…") -> str:
    """The packetdrill/tcpdump style label of a segment event.

    ``S 0:0(0) win 65535 <mss 1460,sackOK,nop,wscale 7>``, ``S. 0:0(0) ack 1 win 65535``,
    ``. 1:1(0) ack 1 win 502``, ``P. 1:101(100) ack 1 win 502``. ``options``: True (as recorded),
    ``"short"`` (no NOPs, ``TS`` without its values) or False (none). With ``max_len`` the
    options are abbreviated first (``<mss 1460,...>``), then the label is cut with an ellipsis.
    """
    flags = str(event.get("flags", "?"))
    seq = event.get("seq", 0)
    length = event.get("len", 0) or 0
    if isinstance(seq, int):
        end: Any = (seq + length) % 2**32
    else:
        end = "?"
    base = f"{flags} {seq}:{end}({length})"
    if "." in flags and event.get("ack") is not None:
        base += f" ack {event.get('ack')}"
    if event.get("win") is not None:
        base += f" win {event.get('win')}"
    opts = _options_text(event.get("options")) if options else ""
    if opts and options == "short":
        opts = _short_options(opts, event)
    full = f"{base} <{opts}>" if opts else base
    if max_len is None or len(full) <= max_len:
        return full
    if opts:
        # Shorten the options step by step: no NOPs, "TS" without its values, then drop
        # options from the end.
        parts = [p.strip() for p in opts.split(",")]
        parts = [p for p in parts if p not in ("nop", "eol")]
        cand = f"{base} <{','.join(parts)}>" if parts else base
        if len(cand) <= max_len:
            return cand
        parts = ["TS" if p.startswith("TS val") else p for p in parts]
        cand = f"{base} <{','.join(parts)}>" if parts else base
        if len(cand) <= max_len:
            return cand
        while parts:
            parts.pop()
            cand = f"{base} <{','.join(parts)},...>" if parts else f"{base} <...>"
            if len(cand) <= max_len:
                return cand
        if len(base) <= max_len:
            return base
    if max_len <= len(ellipsis):
        return ellipsis[:max_len]
    return base[: max_len - len(ellipsis)] + ellipsis


_SACK = re.compile(r"^sack \d+ ((?:\{\d+:\d+\})+)$")
_BLOCK = re.compile(r"\{(\d+):(\d+)\}")


def _short_options(opts: str, event: Event | None = None) -> str:
    """No NOPs, ``TS`` without its values, SACK blocks relative to the acknowledged ISN (like
    the ``ack`` field) when the event carries both ``ack`` and ``abs_ack``."""
    base = None
    if event is not None:
        ack, abs_ack = event.get("ack"), event.get("abs_ack")
        if isinstance(ack, int) and isinstance(abs_ack, int):
            base = (abs_ack - ack) % 2**32
    out = []
    for part in (p.strip() for p in opts.split(",")):
        if part in ("nop", "eol"):
            continue
        if part.startswith("TS val"):
            part = "TS"
        else:
            m = _SACK.match(part)
            if m and base is not None:
                blocks = "".join(
                    f"{{{(int(a) - base) % 2**32}:{(int(b) - base) % 2**32}}}" for a, b in _BLOCK.findall(m.group(1))
                )
                part = f"sack {blocks}"
        out.append(part)
    return ",".join(out)


def event_time(e: Mapping[str, Any], key: str = "t") -> float:
    """``e[key]`` as a finite float; 0.0 when missing or unreadable (pictures never fail on a
    damaged trace line)."""
    value = e.get(key, 0.0)
    try:
        t = float(value)
    except (TypeError, ValueError):
        return 0.0
    return t if math.isfinite(t) else 0.0


def format_time(t: float, decimals: int = 3) -> str:
    return f"{t:.{decimals}f}"


def time_decimals(times: Iterable[float]) -> int:
    """3 decimals (milliseconds) unless some time needs microseconds."""
    for t in times:
        ms = t * 1000
        if math.isfinite(ms) and abs(ms - round(ms)) > 1e-6:
            return 6
    return 3


def infer_endpoints(events: Iterable[Event]) -> tuple[str, str]:
    """Guess (left, right) from a trace: the first segment's sender is on the left."""
    names: list[str] = []
    for e in events:
        if e.get("kind") == "segment":
            for key in ("src", "dst"):
                name = e.get(key)
                if name is not None and name not in names:
                    names.append(str(name))
        elif e.get("kind") == "state" and e.get("host") is not None and e["host"] not in names:
            names.append(str(e["host"]))
        if len(names) >= 2:
            break
    while len(names) < 2:
        names.append(["client", "server"][len(names)])
    return names[0], names[1]


def resolve_endpoints(events: Sequence[Event], left: str, right: str) -> tuple[str, str]:
    """``(left, right)`` as given when the trace mentions either of them; otherwise the names the
    trace uses (so a TUN trace between, say, ``tcplab`` and ``kernel`` still draws)."""
    names: set[Any] = set()
    for e in events:
        names.update((e.get("host"), e.get("src"), e.get("dst")))
    if left in names or right in names:
        return left, right
    return infer_endpoints(events)


_CONN_PORT = re.compile(r":(\d+|\*)$")


def _conn_ports(conn: Any) -> frozenset[int] | None:
    """The two ports of a ``conn`` field ("198.18.0.1:40000-198.18.0.2:80"); None for a
    listener ("...:80-*:*") or anything unreadable."""
    if not isinstance(conn, str) or "-" not in conn:
        return None
    ports = []
    for half in conn.split("-", 1):
        m = _CONN_PORT.search(half)
        if m is None or m.group(1) == "*":
            return None
        ports.append(int(m.group(1)))
    return frozenset(ports)


def connection_numbers(events: Sequence[Event]) -> dict[int, int]:
    """Number the connections of a trace (1, 2, ...) in order of appearance: event index ->
    number, for segment, state and outcome events. Empty when the trace has one connection
    (nothing to tell apart). Connections are told apart by their pair of ports."""
    keys: dict[frozenset[int], int] = {}
    out: dict[int, int] = {}
    for i, e in enumerate(events):
        kind = e.get("kind")
        key: frozenset[int] | None = None
        if kind == "segment":
            sport, dport = e.get("sport"), e.get("dport")
            if isinstance(sport, int) and isinstance(dport, int):
                key = frozenset((sport, dport))
        elif kind in ("state", "outcome"):
            key = _conn_ports(e.get("conn"))
        if key is None:
            continue
        out[i] = keys.setdefault(key, len(keys) + 1)
    return out if len(keys) > 1 else {}


def describe_event(e: Event) -> str:
    """One line of text for any event (used by the trace table of the report)."""
    kind = e.get("kind")
    if kind == "segment":
        text = f"{e.get('src')} → {e.get('dst')}  {segment_label(e)}"
        fate = e.get("fate")
        if fate and fate not in ("sent", "delivered"):
            text += f"  [{fate}]"
        return text
    if kind == "state":
        text = f"{e.get('from')} → {e.get('to')}  ({e.get('cause')})"
        if e.get("conn"):
            text += f"  {e.get('conn')}"
        return text
    if kind == "outcome":
        text = str(e.get("outcome"))
        if e.get("detail"):
            text += f": {e.get('detail')}"
        return text
    if kind == "note":
        return str(e.get("text", ""))
    rest = {k: v for k, v in e.items() if k not in ("t", "kind", "host")}
    return ", ".join(f"{k}={v}" for k, v in rest.items())


def want_color(color: bool | None) -> bool:
    if color is not None:
        return color
    if os.environ.get("NO_COLOR", ""):
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# ---- layout ---------------------------------------------------------------------------------

Piece = tuple[str, str]  # (text, rich style)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_STATE_STYLE = "bold cyan"
_TIME_STYLE = "dim"
_LINE_STYLE = "bright_black"


def flag_style(flags: str, length: int = 0) -> str:
    """The colour of a segment: SYN green, FIN magenta, RST red, data blue, pure ACKs plain."""
    if "R" in flags:
        return "bold red"
    if "S" in flags:
        return "green"
    if "F" in flags:
        return "magenta"
    if "P" in flags or length:
        return "blue"
    return "white"


@dataclass
class _Row:
    t: float | None
    kind: str  # "state", "segment", "note", "outcome"
    left: str = ""
    right: str = ""
    event: Event | None = None
    index: int = -1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Glyphs:
    bar: str
    line: str
    dup: str
    corrupt: str
    head_r: str
    head_l: str
    cross: str
    note: str
    bullet: str
    ellipsis: str
    fold: str


_UNICODE = _Glyphs("│", "─", "═", "┈", "▶", "◀", "✗", "✎", "●", "…", "⋮")
_ASCII = _Glyphs("|", "-", "=", "~", ">", "<", "x", "#", "*", "...", ":")


def side_of(name: Any, left: str, right: str) -> str | None:
    """``"left"`` or ``"right"`` for the host ``name`` between ``left`` and ``right``, else None."""
    if name == left:
        return "left"
    if name == right:
        return "right"
    return None


def _build_rows(events: Sequence[Event], left: str, right: str) -> list[_Row]:
    order = sorted(range(len(events)), key=lambda i: (event_time(events[i]), i))
    numbers = connection_numbers(events)
    rows: list[_Row] = []
    for i in order:
        e = events[i]
        kind = e.get("kind")
        t = event_time(e)
        last = rows[-1] if rows else None
        if kind == "state":
            side = side_of(e.get("host"), left, right)
            if side is None:
                continue
            to = str(e.get("to", "?"))
            if i in numbers:
                to += f" #{numbers[i]}"
            if last is not None and last.t == t and last.kind in ("state", "segment") and not getattr(last, side):
                setattr(last, side, to)
            else:
                row = _Row(t, "state")
                setattr(row, side, to)
                rows.append(row)
        elif kind == "segment":
            src = side_of(e.get("src"), left, right)
            dst = side_of(e.get("dst"), left, right)
            if src is None and dst is None:
                continue
            direction = "lr" if (src == "left" or dst == "right") else "rl"
            k = len(rows) - 1
            while k >= 0 and rows[k].kind == "outcome" and rows[k].t == t:
                k -= 1  # an outcome at the same instant may sit below the segment
            if k >= 0 and k < len(rows) - 1 and rows[k].kind == "state" and rows[k].t == t:
                last = rows[k]
            extra: dict[str, Any] = {"dir": direction, "conn": numbers.get(i)}
            if last is not None and last.kind == "state" and last.t == t:
                last.kind = "segment"
                last.event = e
                last.index = i
                last.extra.update(extra)
            else:
                rows.append(_Row(t, "segment", event=e, index=i, extra=extra))
        elif kind == "outcome":
            side = side_of(e.get("host"), left, right) or "left"
            rows.append(_Row(t, "outcome", event=e, index=i, extra={"side": side, "conn": numbers.get(i)}))
        elif kind in ("note", "fold"):
            rows.append(_Row(t, str(kind), event=e, index=i))
    return rows


def _initial_states(events: Sequence[Event], left: str, right: str) -> tuple[str, str]:
    init = {"left": "", "right": ""}
    for e in sorted(events, key=lambda e: event_time(e)):
        if e.get("kind") != "state":
            continue
        side = side_of(e.get("host"), left, right)
        if side and not init[side]:
            init[side] = str(e.get("from", ""))
    return init["left"], init["right"]


def _arrow(row: _Row, width: int, g: _Glyphs, rtx: bool) -> list[Piece]:
    """The middle part of a segment row, exactly ``width`` cells."""
    e = row.event or {}
    flags = str(e.get("flags", "?"))
    fate = str(e.get("fate", "delivered"))
    style = flag_style(flags, int(e.get("len", 0) or 0))
    line = g.line
    tags: list[tuple[str, str]] = []  # (long, short)
    if rtx:
        tags.append(("retransmission", "rtx"))
    if fate == "duplicated":
        line = g.dup
        tags.append(("duplicated ×2" if g is _UNICODE else "duplicated x2", "dup"))
    elif fate == "corrupted":
        line = g.corrupt
        tags.append(("corrupted", "bad"))
    lead = 2
    dropped = fate == "dropped"
    drop_text = f"{g.cross} dropped"
    # Room for the label: lead + spaces + head (+ the drop mark).
    room = width - lead - 5 - (len(drop_text) + 1 if dropped else 0)
    tag = f" ({', '.join(t[0] for t in tags)})" if tags else ""
    if tags and len(segment_label(e, options=False)) + len(tag) > room:
        tag = f" ({','.join(t[1] for t in tags)})"
    prefix = f"#{row.extra['conn']} " if row.extra.get("conn") else ""
    label = (
        prefix
        + segment_label(e, options="short", max_len=max(room - len(tag) - len(prefix), 4), ellipsis=g.ellipsis)
        + tag
    )
    if len(label) > room:
        label = label[: max(room - len(g.ellipsis), 0)] + g.ellipsis
    lr = row.extra.get("dir", "lr") == "lr"
    pieces: list[Piece] = []
    if dropped:
        drawn = max(width // 2, lead + len(label) + 3 + 4)
        drawn = min(drawn, width - len(drop_text) + 1)
        fill = drawn - lead - len(label) - 2 - 1  # spaces around label, cross at the end
        fill = max(fill, 0)
        if lr:
            pieces += [(line * lead + " ", style), (label, style + " bold"), (" " + line * fill, style)]
            pieces += [(g.cross, "bold red"), (" dropped", "red")]
        else:
            pieces += [("dropped ", "red"), (g.cross, "bold red")]
            pieces += [(line * fill + " ", style), (label, style + " bold"), (" " + line * lead, style)]
        used = sum(len(p[0]) for p in pieces)
        pad = (" " * (width - used), "")
        if lr:
            pieces.append(pad)
        else:
            pieces.insert(0, pad)
        return pieces
    fill = max(width - lead - len(label) - 2 - 1, 0)
    if lr:
        return [
            (line * lead + " ", style),
            (label, style + " bold"),
            (" " + line * fill, style),
            (g.head_r, style),
        ]
    return [
        (g.head_l, style),
        (line * fill + " ", style),
        (label, style + " bold"),
        (" " + line * lead, style),
    ]


def _layout(
    events: Sequence[Event], left: str, right: str, width: int, ascii_only: bool, fold: bool = True
) -> list[list[Piece]]:
    g = _ASCII if ascii_only else _UNICODE
    total = sum(1 for e in events if e.get("kind") == "segment")
    folded = 0
    if fold:
        events, folded = fold_events(events)
    rows = _build_rows(events, left, right)
    rtx = retransmissions(events)
    init_l, init_r = _initial_states(events, left, right)
    times = [event_time(e) for e in events]
    dec = time_decimals(times)
    tw = max([len("time")] + [len(format_time(t, dec)) for t in times])
    names = [left, right, init_l, init_r] + [r.left for r in rows] + [r.right for r in rows]
    sw = max(len(n) for n in names)
    mid = max(width - (tw + 1 + sw + 2 + 2 + sw + 1), 30)

    def frame(t: float | None, ls: str, rs: str, middle: list[Piece], show_time: bool) -> list[Piece]:
        ttext = format_time(t, dec) if (t is not None and show_time) else ""
        out: list[Piece] = [(f"{ttext:>{tw}} ", _TIME_STYLE), (f"{ls:>{sw}}", _STATE_STYLE)]
        out += [(" " + g.bar, _LINE_STYLE)]
        out += middle
        out += [(g.bar, _LINE_STYLE), (" " + rs if rs else "", _STATE_STYLE)]
        return out

    blank: list[Piece] = [(" " * mid, "")]
    lines: list[list[Piece]] = []
    header = f"{'time':>{tw}} {left:>{sw}}  {' ' * mid}  {right}"
    lines.append([(header.rstrip(), "bold")])
    if folded:
        lines.append(
            [(f"{'':>{tw}} {total - folded} of {total} segments drawn; {folded} folded into the {g.fold} lines", "dim")]
        )
    lines.append(frame(None, init_l, init_r, blank, False))
    prev_t: float | None = None
    for row in rows:
        show = row.t != prev_t
        prev_t = row.t
        if row.kind == "state":
            lines.append(frame(row.t, row.left, row.right, blank, show))
        elif row.kind == "segment":
            middle = _arrow(row, mid, g, row.index in rtx)
            lines.append(frame(row.t, row.left, row.right, middle, show))
        elif row.kind == "outcome":
            e = row.event or {}
            text = f"{g.bullet} {e.get('outcome', '?')}"
            if e.get("detail"):
                text += f" ({e.get('detail')})"
            if row.extra.get("conn"):
                text += f" #{row.extra['conn']}"
            text = text[: mid - 2]
            bad = str(e.get("outcome")) in ("refused", "reset", "timed out", "unreachable")
            style = "bold red" if bad else "bold green"
            if row.extra.get("side") == "right":
                middle = [(" " * (mid - len(text) - 1), ""), (text, style), (" ", "")]
            else:
                middle = [(" ", ""), (text, style), (" " * (mid - len(text) - 1), "")]
            lines.append(frame(row.t, "", "", middle, show))
        elif row.kind in ("note", "fold"):
            e = row.event or {}
            text = str(e.get("text", ""))
            if row.kind == "fold" and g is _ASCII:
                text = text.replace("\u2026", "...")
            wrapped = textwrap.wrap(text, width=mid - 4) or [""]
            glyph, style = (g.note, "yellow") if row.kind == "note" else (g.fold, "dim")
            for k, part in enumerate(wrapped):
                prefix = f" {glyph} " if k == 0 else "   "
                middle = [(prefix, style), (part, "italic " + style), (" " * (mid - 3 - len(part)), "")]
                lines.append(frame(row.t, "", "", middle, show and k == 0))
    # Text from a trace file must not reach the terminal as control codes (escape sequences).
    return [[(_CONTROL.sub("\ufffd", chunk), style) for chunk, style in line] for line in lines]


def render_ladder(
    events: Iterable[Event],
    left: str = "client",
    right: str = "server",
    color: bool | None = None,
    width: int = 100,
    ascii_only: bool = False,
    fold: bool = True,
) -> str:
    """The ladder diagram of ``events`` between ``left`` and ``right`` as text.

    ``width`` is the total width in characters (the arrow lane gets what the time and state
    columns leave, at least 30). ``ascii_only`` draws with ``| - > < x`` instead of box drawing
    characters. Plain output (``color=False``) has no trailing spaces and is deterministic.
    Beyond ``tcplab.trace.fold.LIMIT`` segments, runs of ordinary ones are folded into one
    summary line each (``fold=False`` draws them all).
    """
    evs = list(events)
    left, right = resolve_endpoints(evs, left, right)
    lines = _layout(evs, left, right, width, ascii_only, fold)
    if not want_color(color):
        return "\n".join("".join(p[0] for p in line).rstrip() for line in lines) + "\n"
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=True,
        color_system="standard",
        width=10_000,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )
    for line in lines:
        text = Text()
        for chunk, style in line:
            text.append(chunk, style=style or None)
        text.rstrip()
        console.print(text, soft_wrap=True)
    return buf.getvalue()


def print_ladder(
    events: Iterable[Event],
    left: str = "client",
    right: str = "server",
    console: Any = None,
    width: int | None = None,
    ascii_only: bool = False,
    fold: bool = True,
) -> None:
    """Print the ladder to a rich ``Console`` (colour when that console supports it)."""
    from rich.console import Console
    from rich.text import Text

    if console is None:
        console = Console(highlight=False)
    evs = list(events)
    left, right = resolve_endpoints(evs, left, right)
    lines = _layout(evs, left, right, width or console.width, ascii_only, fold)
    for line in lines:
        text = Text()
        for chunk, style in line:
            text.append(chunk, style=style or None)
        text.rstrip()
        console.print(text, soft_wrap=True, highlight=False, markup=False)
