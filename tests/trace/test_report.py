"""HTML reports: files written, well-formed, escaped, SVGs inline and parseable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from tcplab.trace.report import slugify, write_report

from .samples import full_story, small_handshake

VOID = {"meta", "br", "img", "hr", "input", "link"}


class _Checker(HTMLParser):
    """Checks that tags nest properly and collects links, text and external references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for key, value in attrs:
            if key in ("href", "src") and value:
                if re.match(r"^[a-z]+:", value):
                    self.external.append(value)
                elif key == "href":
                    self.links.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <path .../> in the inline SVG

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check(path: Path) -> _Checker:
    checker = _Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert checker.scripts == 0
    assert checker.external == []
    return checker


SCENARIOS = [
    {
        "name": "Lost SYN",
        "description": "The first SYN is dropped; the client retransmits.",
        "explanation": "The client's SYN never arrives.\n\nAfter one second (the initial RTO) "
        "it sends it again & the handshake completes.",
        "events": small_handshake(),
        "left": "client",
        "right": "server",
    },
    {
        "name": "Close <script>alert('x')</script> & more",
        "description": 'Four-way close with "quotes" & <tags>.',
        "explanation": "Both ends close; the client waits in TIME_WAIT for 2 MSL.",
        "events": full_story(),
        "left": "client",
        "right": "server",
    },
]


def test_files_written_and_linked(tmp_path: Path) -> None:
    out = tmp_path / "report"
    written = write_report(out, SCENARIOS)
    names = [p.name for p in written]
    assert names == ["index.html", "lost-syn.html", "close-script-alert-x-script-more.html"]
    for p in written:
        assert p.exists() and p.stat().st_size > 0
    index = _check(out / "index.html")
    assert index.links == ["lost-syn.html", "close-script-alert-x-script-more.html"]
    assert "Close <script>alert('x')</script> & more" in "".join(index.text)
    page = _check(out / "lost-syn.html")
    assert "index.html" in page.links and "close-script-alert-x-script-more.html" in page.links


def test_page_contents(tmp_path: Path) -> None:
    write_report(tmp_path, SCENARIOS)
    html = (tmp_path / "lost-syn.html").read_text(encoding="utf-8")
    checker = _check(tmp_path / "lost-syn.html")
    text = "".join(checker.text)
    assert "The client's SYN never arrives." in text
    assert "it sends it again & the handshake completes." in text
    # Two paragraphs of explanation.
    assert html.count("<p>") >= 2
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == 3  # ladder + one state diagram per endpoint
    roots = [ET.fromstring(s) for s in svgs]
    assert roots[0].get("class") == "tcplab-ladder"
    assert [r.get("class") for r in roots[1:]] == ["tcplab-state-diagram"] * 2
    # The state diagram of the client highlights its transitions.
    ns = "{http://www.w3.org/2000/svg}"
    taken = [
        (g.get("data-from"), g.get("data-to"))
        for g in roots[1].iter(f"{ns}g")
        if "taken" in (g.get("class") or "").split()
    ]
    assert taken == [("CLOSED", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")]
    # Trace table: one row per event.
    table = html[html.index("<table") : html.index("</table>")]
    assert table.count("<tr") == len(small_handshake()) + 1
    assert "fate-dropped" in table
    # Text ladder included, escaped.
    pre = html[html.index("<pre>") : html.index("</pre>")]
    assert "│── S 0:0(0) win 65535 " in pre and "✗ dropped" in pre


def test_everything_escaped(tmp_path: Path) -> None:
    write_report(tmp_path, SCENARIOS)
    page = tmp_path / "close-script-alert-x-script-more.html"
    html = page.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    checker = _check(page)
    assert 'Four-way close with "quotes" & <tags>.' in "".join(checker.text)


def test_odd_scenarios(tmp_path: Path) -> None:
    scenarios = [
        {"name": "Same", "events": []},
        {
            "name": "Same",
            "events": [{"t": 0.0, "kind": "state", "host": "a", "from": "CLOSED", "to": "BOGUS", "cause": "?"}],
        },
        {"name": "***", "events": [{"t": 0.0, "kind": "custom", "x": 1}]},
    ]
    written = write_report(tmp_path, scenarios)
    assert [p.name for p in written] == ["index.html", "same.html", "same-2.html", "scenario.html"]
    for p in written:
        _check(p)


def test_slugify() -> None:
    assert slugify("Three-way handshake (IPv6)") == "three-way-handshake-ipv6"
    assert slugify("!!!") == "scenario"
