"""Ladders stay readable: long transfers fold, labels keep off the other arrows, titles fit."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from tcplab.scenarios import SCENARIOS
from tcplab.trace.fold import fold_events
from tcplab.trace.ladder import render_ladder
from tcplab.trace.svg_ladder import render_ladder_svg

NS = "{http://www.w3.org/2000/svg}"
MONO = 11 * 0.602  # the labels: 11 px DejaVu Sans Mono


@pytest.fixture(scope="module")
def lossy() -> list[dict]:
    return SCENARIOS["lossy-transfer"].run(seed=0).events  # 1 MB, 5 % loss


def test_short_stories_are_not_folded() -> None:
    events = SCENARIOS["timeout-everywhere"].run().events  # 92 segments, but many short acts
    shown, folded = fold_events(events, limit=40)
    assert folded == 0 and not any(e["kind"] == "fold" for e in shown)
    assert "folded" not in render_ladder_svg(events)
    assert fold_events(SCENARIOS["handshake"].run().events) == (SCENARIOS["handshake"].run().events, 0)


def test_a_lossy_megabyte_folds_and_says_so(lossy: list[dict]) -> None:
    segments = [e for e in lossy if e["kind"] == "segment"]
    shown, folded = fold_events(lossy)
    folds = [e for e in shown if e["kind"] == "fold"]
    drawn = [e for e in shown if e["kind"] == "segment"]
    assert folded > 1000 and folds
    assert len(drawn) + sum(f["segments"] for f in folds) == len(segments) and folded == len(segments) - len(drawn)
    lost = sum(1 for e in segments if e["fate"] == "dropped")
    assert sum(f["lost"] for f in folds) + sum(1 for e in drawn if e["fate"] == "dropped") == lost
    for f in folds:
        assert f["data"] + f["acks"] == f["segments"] and f["t"] <= f["t_end"]
        assert re.fullmatch(r"\u2026 \d+ data segments?(, \d+ ACKs?)?( \(.*\))? in [\d.]+ m?s \u2026", f["text"])
    # the state changes all stay, and the handshake and the close are drawn in full
    assert [e for e in shown if e["kind"] == "state"] == [e for e in lossy if e["kind"] == "state"]
    assert [e["flags"] for e in drawn[:3]] == ["S", "S.", "."] and "F." in [e["flags"] for e in drawn[-6:]]

    text = render_ladder(lossy, color=False)
    assert f"{len(drawn)} of {len(segments)} segments drawn; {folded} folded into the \u22ee lines" in text
    assert text.count(" \u22ee \u2026 ") == len(folds)
    assert len(text.splitlines()) < 150  # (unfolded: more than 1,400 lines)
    assert len(render_ladder(lossy, color=False, fold=False).splitlines()) > len(segments)


def test_a_lossy_megabyte_ladder_svg_is_under_5000_px(lossy: list[dict]) -> None:
    root = ET.fromstring(render_ladder_svg(lossy, title="lossy-transfer"))
    assert float(root.get("height")) < 5000
    texts = ["".join(t.itertext()) for t in root.iter(f"{NS}text")]
    assert any(re.match(r"\d+ of 1\d{3} segments drawn, \d+ folded into \d+ summary rows", t) for t in texts)
    folds = [g for g in root.iter(f"{NS}g") if g.get("class") == "fold"]
    assert folds and all("".join(g.itertext()).startswith("\u2026 ") for g in folds)


def _label_polygons(root: ET.Element) -> list[tuple[str | None, str, list[tuple[float, float]]]]:
    """Each segment label's outline (11 px mono text, rotated with its arrow)."""
    out = []
    for t in root.iter(f"{NS}text"):
        if t.get("class") != "label":
            continue
        text = "".join(t.itertext())
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        angle, cx, cy = (
            float(v) for v in re.match(r"rotate\(([-\d.]+) ([-\d.]+) ([-\d.]+)\)", t.get("transform", "")).groups()
        )  # type: ignore[union-attr]
        w = len(text) * MONO
        x0 = {"start": x, "end": x - w, "middle": x - w / 2}[t.get("text-anchor", "start")]
        a = math.radians(angle)
        corners = [(x0, y - 8.5), (x0 + w, y - 8.5), (x0 + w, y + 1.5), (x0, y + 1.5)]
        poly = [(cx + (px - cx) * math.cos(a) - (py - cy) * math.sin(a),
                 cy + (px - cx) * math.sin(a) + (py - cy) * math.cos(a)) for px, py in corners]  # fmt: skip
        out.append((t.get("data-index"), text, poly))
    return out


def _crosses(p: tuple[float, float], q: tuple[float, float], poly: list[tuple[float, float]]) -> bool:
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    def inside(pt):
        signs = {side(poly[i], poly[(i + 1) % 4], pt) > 0 for i in range(4)}
        return len(signs) == 1

    def cut(a, b, c, d):
        return (side(a, b, c) > 0) != (side(a, b, d) > 0) and (side(c, d, a) > 0) != (side(c, d, b) > 0)

    return inside(p) or inside(q) or any(cut(p, q, poly[i], poly[(i + 1) % 4]) for i in range(4))


def _labels_on_other_arrows(svg: str) -> list[tuple[str, str | None]]:
    root = ET.fromstring(svg)
    lines = []
    for g in root.iter(f"{NS}g"):
        if "segment" in (g.get("class") or "").split():
            for line in g.iter(f"{NS}line"):
                if line.get("stroke-opacity") is None:  # (not a duplicate's faint twin)
                    ends = [float(line.get(k, 0)) for k in ("x1", "y1", "x2", "y2")]
                    lines.append((g.get("data-index"), (ends[0], ends[1]), (ends[2], ends[3])))
    return [(text, j) for i, text, poly in _label_polygons(root) for j, p, q in lines
            if j != i and _crosses(p, q, poly)]  # fmt: skip


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_labels_never_lie_on_other_arrows(name: str) -> None:
    """Measured from the SVG itself: every label's outline against every other arrow's line.
    simultaneous-open's crossing SYNs and SYN-ACKs were the case that collided."""
    sc = SCENARIOS[name]
    svg = render_ladder_svg(sc.run().events, sc.left, sc.right, title=f"{name}: {sc.description}")
    assert _labels_on_other_arrows(svg) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_labels_keep_off_arrows_in_lossy_transfers(seed: int) -> None:
    """Unfolded, a burst can leave no room: such an arrow goes unlabelled (its tooltip says
    what it is) rather than have its label over another."""
    events = SCENARIOS["lossy-transfer"].run(seed=seed, size=200_000).events
    svg = render_ladder_svg(events, fold=False)
    assert _labels_on_other_arrows(svg) == []
    root = ET.fromstring(svg)
    groups = [g for g in root.iter(f"{NS}g") if "segment" in (g.get("class") or "").split()]
    unlabelled = [g for g in groups if "unlabelled" in (g.get("class") or "")]
    assert len(unlabelled) < len(groups) / 4  # most are labelled all the same
    assert all(g.find(f"{NS}title") is not None for g in unlabelled)


@pytest.mark.parametrize("title", ["x", "a title " * 40, "W" * 300, "lossy-transfer: 1 MB over a link with 5 % loss"])
def test_titles_never_run_off_the_picture(title: str) -> None:
    root = ET.fromstring(render_ladder_svg(SCENARIOS["handshake"].run().events, title=title))
    width = float(root.get("width", 0))
    lines = [t for t in root.iter(f"{NS}text") if t.get("class") == "title"]
    assert "".join("".join(t.itertext()) for t in lines).replace(" ", "") == title.replace(" ", "")  # all of it
    for t in lines:  # DejaVu Sans Bold: at most 0.7 em a character
        assert 20 + len("".join(t.itertext())) * 0.7 * float(t.get("font-size", 0)) <= width
