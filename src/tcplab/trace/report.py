"""HTML reports: one self-contained page per scenario, and an index linking them.

Each page holds the scenario's description and explanation, links to its files (``links``: the
capture, the JSON trace, the time-sequence graph, the lab), its ladder diagram (SVG, inline), its
time-sequence graph (``graph_svg``, inline, when given), the state diagram of each endpoint with
the transitions it took, the text ladder, and the trace as a table. No scripts, no external
resources: the directory can be copied anywhere, attached to an issue or opened from a file
manager.

    write_report("out/", [{"name": "Three-way handshake", "description": "...",
                           "explanation": "...", "events": log.events,
                           "left": "client", "right": "server"}])
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tcplab.trace.diagram import (
    coverage,
    render_state_diagram_svg,
    transitions_from_events,
    visited_states,
)
from tcplab.trace.ladder import (
    describe_event,
    event_time,
    format_time,
    infer_endpoints,
    render_ladder,
    time_decimals,
)
from tcplab.trace.svg import xml_safe
from tcplab.trace.svg_ladder import render_ladder_svg

__all__ = ["render_page", "slugify", "write_report"]

_CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, Helvetica, Arial, sans-serif; margin: 0;
       color: #212529; background: #f8f9fa; line-height: 1.5; }
header { background: #343a40; color: #fff; padding: 14px 32px; }
header a { color: #a5d8ff; text-decoration: none; }
header .crumbs { font-size: 13px; opacity: .85; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 32px 48px; }
h1 { margin: 4px 0 0; font-size: 26px; }
h2 { margin-top: 36px; font-size: 19px; border-bottom: 1px solid #dee2e6; padding-bottom: 4px; }
.description { font-size: 17px; color: #495057; }
.explanation { background: #fff; border-left: 4px solid #1c7ed6; padding: 10px 18px;
               border-radius: 4px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
figure { margin: 12px 0; background: #fff; border: 1px solid #dee2e6; border-radius: 6px;
         padding: 8px; overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 13px; color: #868e96; padding: 4px 8px; }
pre { background: #212529; color: #e9ecef; padding: 12px 16px; border-radius: 6px;
      overflow-x: auto; font-size: 12.5px; line-height: 1.35; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
th, td { border-bottom: 1px solid #e9ecef; padding: 3px 8px; text-align: left;
         vertical-align: top; }
th { background: #f1f3f5; position: sticky; top: 0; }
td.t { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; text-align: right;
       color: #868e96; white-space: nowrap; }
td.d { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
tr.kind-state td.d { color: #1864ab; font-weight: bold; }
tr.kind-note td.d { font-family: inherit; font-style: italic; color: #5c3c00;
                    background: #fff9db; }
tr.kind-outcome td.d { color: #2b8a3e; font-weight: bold; }
tr.fate-dropped td.d { color: #c92a2a; text-decoration: line-through; }
tr.fate-corrupted td.d, tr.fate-duplicated td.d { color: #e8590c; }
.summary { font-size: 14px; color: #495057; }
.missing { color: #868e96; font-size: 13px; }
ul.files { list-style: none; padding: 0; display: flex; gap: 18px; flex-wrap: wrap; }
ul.files a { font-weight: bold; color: #1864ab; }
ul.scenarios { list-style: none; padding: 0; }
ul.scenarios li { background: #fff; border: 1px solid #dee2e6; border-radius: 6px;
                  margin: 10px 0; padding: 10px 16px; }
ul.scenarios a { font-size: 18px; font-weight: bold; color: #1864ab; text-decoration: none; }
nav.pager { display: flex; justify-content: space-between; margin-top: 32px; }
nav.pager a { color: #1864ab; }
details summary { cursor: pointer; color: #1864ab; }
"""


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "scenario"


def _e(value: Any) -> str:
    return html.escape(xml_safe(value), quote=True)


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "".join(f"<p>{_e(p)}</p>" for p in parts)


def _page(title: str, crumbs: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header><div class="crumbs">{crumbs}</div></header>\n<main>\n{body}\n</main>\n'
        "</body>\n</html>\n"
    )


_TABLE_KINDS = ("segment", "state", "outcome", "note")


def _trace_table(events: Sequence[Mapping[str, Any]]) -> str:
    dec = time_decimals(event_time(e) for e in events)
    rows = []
    for e in events:
        if e.get("kind") not in _TABLE_KINDS:
            continue  # the engine's cwnd/rtt events: the JSON trace and the graph have them
        kind = str(e.get("kind", ""))
        cls = f"kind-{slugify(kind)}"
        if kind == "segment":
            cls += f" fate-{slugify(str(e.get('fate', '')))}"
        t = format_time(event_time(e), dec)
        rows.append(
            f'<tr class="{_e(cls)}"><td class="t">{_e(t)}</td><td>{_e(e.get("host", ""))}'
            f'</td><td>{_e(kind)}</td><td class="d">{_e(describe_event(dict(e)))}</td></tr>'
        )
    return (
        '<table class="trace"><thead><tr><th>t (s)</th><th>host</th><th>kind</th>'
        "<th>what</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def render_page(
    scenario: Mapping[str, Any],
    index_href: str = "index.html",
    prev: tuple[str, str] | None = None,
    nxt: tuple[str, str] | None = None,
) -> str:
    """One scenario's HTML page (a string)."""
    name = str(scenario.get("name", "scenario"))
    events = [dict(e) for e in scenario.get("events", [])]
    guess_left, guess_right = infer_endpoints(events)
    left = str(scenario.get("left") or guess_left)
    right = str(scenario.get("right") or guess_right)
    body: list[str] = [f"<h1>{_e(name)}</h1>"]
    if scenario.get("description"):
        body.append(f'<p class="description">{_e(scenario["description"])}</p>')
    if scenario.get("explanation"):
        body.append(f'<div class="explanation">{_paragraphs(str(scenario["explanation"]))}</div>')

    links = scenario.get("links") or []
    if links:
        items = "".join(
            f'<li><a href="{_e(href)}">{_e(label)}</a> <span class="missing">{_e(note)}</span></li>'
            for label, href, note in links
        )
        body.append(f'<ul class="files">{items}</ul>')

    body.append("<h2>Ladder diagram</h2>")
    body.append(
        f'<figure class="ladder">{render_ladder_svg(events, left, right, title=name)}'
        f"<figcaption>Time runs down (not to scale: long silences are compressed). "
        f"Hover over an arrow for the full segment.</figcaption></figure>"
    )

    if scenario.get("graph_svg"):
        body.append("<h2>Time-sequence graph</h2>")
        body.append(
            f'<figure class="tsg">{scenario["graph_svg"]}<figcaption>Sequence numbers over time from the '
            "sender's side, with the ACK and window lines; then its congestion window and RTT/RTO "
            "from the engine's own events.</figcaption></figure>"
        )

    body.append("<h2>State diagram</h2>")
    for host in (left, right):
        taken = transitions_from_events(events, host=host, strict=False)
        covered, _missing = coverage(taken)
        visited = visited_states(taken)
        svg = render_state_diagram_svg(taken, title=f"{host}: states and transitions")
        body.append(
            f'<figure class="state-diagram" id="states-{_e(slugify(host))}">{svg}'
            f"<figcaption>{_e(host)}: {len(covered)} transition"
            f"{'s' if len(covered) != 1 else ''} taken, {len(visited)} state"
            f"{'s' if len(visited) != 1 else ''} visited.</figcaption></figure>"
        )

    body.append("<h2>Text ladder</h2>")
    body.append(
        "<details><summary>As <code>tcplab</code> prints it in a terminal</summary>"
        f"<pre>{_e(render_ladder(events, left, right, color=False, width=110))}</pre>"
        "</details>"
    )

    shown = sum(1 for e in events if e.get("kind") in _TABLE_KINDS)
    body.append(f"<h2>Trace ({shown} events)</h2>")
    body.append(_trace_table(events))

    pager = ['<nav class="pager">']
    pager.append(f'<a href="{_e(prev[0])}">← {_e(prev[1])}</a>' if prev else "<span></span>")
    pager.append(f'<a href="{_e(index_href)}">all scenarios</a>')
    pager.append(f'<a href="{_e(nxt[0])}">{_e(nxt[1])} →</a>' if nxt else "<span></span>")
    pager.append("</nav>")
    body.append("".join(pager))
    crumbs = f'<a href="{_e(index_href)}">tcplab scenarios</a> › {_e(name)}'
    return _page(f"{name} — tcplab", crumbs, "\n".join(body))


def write_report(
    directory: str | os.PathLike[str], scenarios: Iterable[Mapping[str, Any]], title: str = "tcplab scenarios"
) -> list[Path]:
    """Write ``index.html`` and one page per scenario into ``directory`` (created if needed).

    Each scenario is a mapping with ``name``, ``description``, ``explanation``, ``events``,
    ``left`` and ``right``. Returns the paths written, index first.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    items = list(scenarios)
    files: list[str] = []
    used: set[str] = {"index"}
    for sc in items:
        base = slugify(str(sc.get("name", "scenario")))
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        files.append(f"{slug}.html")
    written: list[Path] = []
    index_items = []
    for k, (sc, fname) in enumerate(zip(items, files, strict=True)):
        prev = (files[k - 1], str(items[k - 1].get("name", ""))) if k > 0 else None
        nxt = (files[k + 1], str(items[k + 1].get("name", ""))) if k + 1 < len(items) else None
        page = render_page(sc, "index.html", prev, nxt)
        path = out / fname
        path.write_text(page, encoding="utf-8")
        written.append(path)
        n_seg = sum(1 for e in sc.get("events", []) if e.get("kind") == "segment")
        index_items.append(
            f'<li><a href="{_e(fname)}">{_e(sc.get("name", ""))}</a>'
            f"<div>{_e(sc.get('description', ''))}</div>"
            f'<div class="missing">{n_seg} segments</div></li>'
        )
    body = (
        f'<h1>{_e(title)}</h1>\n<p class="description">Each page shows one TCP story: '
        "the segments on the wire, the states each end went through, and why.</p>\n"
        '<ul class="scenarios">\n' + "\n".join(index_items) + "\n</ul>"
    )
    index = out / "index.html"
    index.write_text(_page(title, _e(title), body), encoding="utf-8")
    return [index, *written]
