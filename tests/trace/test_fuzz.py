"""Damaged or unusual traces never make the pictures fail; the SVG always parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcplab.trace.diagram import render_state_diagram_svg, transitions_from_events
from tcplab.trace.ladder import describe_event, render_ladder
from tcplab.trace.report import render_page
from tcplab.trace.svg_ladder import render_ladder_svg

names = st.sampled_from(["client", "server", "other", None, "", "<&>"])
maybe_int = st.one_of(st.none(), st.integers(-5, 2**32 + 5), st.text(max_size=3))
maybe_time = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 100), st.text(max_size=3)
)
text = st.text(max_size=30)

event = st.fixed_dictionaries(
    {"kind": st.sampled_from(["segment", "state", "outcome", "note", "weird"])},
    optional={
        "t": maybe_time,
        "host": names,
        "src": names,
        "dst": names,
        "flags": st.one_of(st.sampled_from(["S", "S.", ".", "P.", "F.", "R", "R."]), text),
        "seq": maybe_int,
        "ack": maybe_int,
        "len": st.one_of(st.none(), st.integers(0, 70000)),
        "win": maybe_int,
        "fate": st.sampled_from(["sent", "delivered", "dropped", "duplicated", "corrupted", "odd"]),
        "t_arrive": maybe_time,
        "options": text,
        "abs_seq": maybe_int,
        "abs_ack": maybe_int,
        "sport": maybe_int,
        "dport": maybe_int,
        "from": text,
        "to": text,
        "cause": text,
        "outcome": text,
        "detail": text,
        "text": text,
        "conn": text,
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, max_size=12))
def test_pictures_never_fail(events: list[dict]) -> None:
    render_ladder(events, color=False)
    render_ladder(events, color=True, width=20, ascii_only=True)
    ET.fromstring(render_ladder_svg(events))
    for e in events:
        describe_event(e)
    taken = transitions_from_events(events, strict=False)
    ET.fromstring(render_state_diagram_svg(taken))
    render_page({"name": "fuzz", "events": events})
