"""The SVG ladder: well-formed, self-contained, one arrow per segment, slanted, fates drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tcplab.trace.svg_ladder import render_ladder_svg

from .samples import full_story, seg, small_handshake, state

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if cls in (g.get("class") or "").split()]


def _texts(el: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{NS}text")]


def test_parses_and_is_self_contained() -> None:
    svg = render_ladder_svg(full_story(), "client", "server")
    root = _parse(svg)
    assert root.get("width") and root.get("viewBox")
    for el in root.iter():
        for key, value in el.attrib.items():
            assert "href" not in key
            assert "http" not in value
    assert "<script" not in svg and "<image" not in svg and "<style" not in svg
    assert "@import" not in svg


def test_title_and_host_names() -> None:
    root = _parse(render_ladder_svg(small_handshake(), "client", "server", title="Lost SYN"))
    texts = _texts(root)
    assert texts[0] == "Lost SYN"
    assert root.find(f"{NS}title").text == "Ladder diagram: Lost SYN"
    hosts = [t for t in root.iter(f"{NS}text") if t.get("class") == "host"]
    assert ["".join(h.itertext()) for h in hosts] == ["client", "server"]
    default = _parse(render_ladder_svg(small_handshake()))
    assert _texts(default)[0] == "client ⇄ server"


def test_one_group_per_segment_with_its_fate() -> None:
    events = full_story()
    root = _parse(render_ladder_svg(events))
    segs = _groups(root, "segment")
    want = [e for e in events if e["kind"] == "segment"]
    assert len(segs) == len(want)
    fates = [next(c for c in g.get("class").split() if c.startswith("fate-")) for g in segs]
    assert fates == [f"fate-{e['fate']}" for e in want]
    rtx = [g for g in segs if "retransmission" in g.get("class").split()]
    assert len(rtx) == 2


def test_arrows_are_slanted_from_send_to_arrival() -> None:
    events = small_handshake()
    root = _parse(render_ladder_svg(events))
    segs = _groups(root, "segment")
    left_x = right_x = None
    for g in root.iter(f"{NS}line"):
        if g.get("class") == "timeline timeline-left":
            left_x = float(g.get("x1"))
        if g.get("class") == "timeline timeline-right":
            right_x = float(g.get("x1"))
    assert left_x is not None and right_x is not None and left_x < right_x
    # The retransmitted SYN (index 1): from the left line down to the right line.
    line = segs[1].find(f"{NS}line")
    x1, y1, x2, y2 = (float(line.get(k)) for k in ("x1", "y1", "x2", "y2"))
    assert (x1, x2) == (left_x, right_x)
    assert y2 > y1
    assert line.get("marker-end", "").startswith("url(#lad-")
    # The SYN-ACK goes the other way.
    line = segs[2].find(f"{NS}line")
    assert float(line.get("x1")) == right_x and float(line.get("x2")) == left_x


def test_dropped_segment_ends_mid_way_with_a_cross() -> None:
    root = _parse(render_ladder_svg(small_handshake()))
    dropped = _groups(root, "fate-dropped")
    assert len(dropped) == 1
    g = dropped[0]
    line = g.find(f"{NS}line")
    assert line.get("marker-end") is None  # no arrowhead: it never arrives
    segs = _groups(root, "segment")
    full = segs[1].find(f"{NS}line")
    assert float(full.get("x1")) < float(line.get("x2")) < float(full.get("x2"))
    assert any(p.get("class") == "drop-mark" for p in g.iter(f"{NS}path"))
    assert "dropped" in _texts(g)
    labels = [t for t in root.iter(f"{NS}text") if t.get("class") == "label"]
    assert len(labels) == len(segs)
    (label,) = [t for t in labels if t.get("data-index") == g.get("data-index")]
    assert "".join(label.itertext()) == "S 0:0(0) win 65535"


def test_corrupted_and_duplicated_drawn_differently() -> None:
    root = _parse(render_ladder_svg(full_story()))
    bad = _groups(root, "fate-corrupted")[0]
    assert bad.find(f"{NS}line").get("stroke-dasharray")
    assert any(p.get("class") == "corrupt-mark" for p in bad.iter(f"{NS}path"))
    dup = _groups(root, "fate-duplicated")[0]
    assert len(dup.findall(f"{NS}line")) == 2


def test_state_labels_on_the_right_timeline() -> None:
    root = _parse(render_ladder_svg(full_story()))
    left = ["".join(g.itertext()) for g in _groups(root, "state-left")]
    right = ["".join(g.itertext()) for g in _groups(root, "state-right")]
    # Initial state first, then every state entered.
    assert left == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    assert right == ["CLOSED", "LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def test_notes_outcomes_and_long_silence() -> None:
    root = _parse(render_ladder_svg(full_story()))
    notes = [t for t in root.iter(f"{NS}text") if t.get("class") == "note"]
    assert len(notes) == 1
    assert "".join(notes[0].itertext()).startswith("The client opens a connection;")
    outcomes = ["".join(t.itertext()) for t in root.iter(f"{NS}text") if t.get("class") == "outcome"]
    assert outcomes == ["● connected", "● peer closed", "● closed", "● closed"]
    breaks = ["".join(t.itertext()) for t in root.iter(f"{NS}text") if t.get("class") == "break"]
    assert breaks == ["+60 s"]  # TIME_WAIT, compressed


def test_escaping_of_names_and_notes() -> None:
    events = [
        state(0.0, "a<b&c", "CLOSED", "SYN_SENT", "connect"),
        seg(0.0, "a<b&c", 'd"e', "S", 0, 0, options="mss 1460,<weird>&"),
        {"t": 0.0, "kind": "note", "text": "</svg> & <script>alert(1)</script>"},
    ]
    svg = render_ladder_svg(events, "a<b&c", 'd"e')
    root = _parse(svg)
    assert "<script>" not in svg
    hosts = ["".join(t.itertext()) for t in root.iter(f"{NS}text") if t.get("class") == "host"]
    assert hosts == ["a<b&c", 'd"e']
    notes = ["".join(t.itertext()) for t in root.iter(f"{NS}text") if t.get("class") == "note"]
    assert notes == ["</svg> & <script>alert(1)</script>"]


def test_empty_trace_is_still_a_picture() -> None:
    root = _parse(render_ladder_svg([]))
    assert _groups(root, "segment") == []


def test_crossing_arrows_keep_their_labels_apart() -> None:
    # Simultaneous close: both FINs in flight at once.
    events = [
        state(1.0, "client", "ESTABLISHED", "FIN_WAIT_1", "close"),
        seg(1.0, "client", "server", "F.", 101, 21, win=502),
        state(1.0, "server", "ESTABLISHED", "FIN_WAIT_1", "close"),
        seg(1.0, "server", "client", "F.", 21, 101, win=509),
    ]
    root = _parse(render_ladder_svg(events))
    labels = [t for t in root.iter(f"{NS}text") if t.get("class") == "label"]
    assert len(labels) == 2
    xs = [float(t.get("x")) for t in labels]
    segs = _groups(root, "segment")
    left_x = float(segs[0].find(f"{NS}line").get("x1"))
    right_x = float(segs[1].find(f"{NS}line").get("x1"))
    middle = (left_x + right_x) / 2
    assert xs[0] < middle < xs[1]  # each label on its sender's half


def test_deterministic() -> None:
    assert render_ladder_svg(full_story()) == render_ladder_svg(full_story())


def test_control_characters_cannot_break_the_xml() -> None:
    events = [seg(0.0, "client", "server", "S", 0, 0, options="mss 1460,\x08\x00\x1b[31m")]
    root = _parse(render_ladder_svg(events, title="a\x0cb"))
    assert _texts(root)[0] == "a\ufffdb"
