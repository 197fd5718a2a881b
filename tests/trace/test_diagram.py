"""The state diagram: every row drawn, taken rows highlighted with counts, coverage, summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition, lookup
from tcplab.trace.diagram import (
    UnknownTransitionError,
    coverage,
    normalize_taken,
    render_state_diagram_svg,
    render_state_summary,
    transitions_from_events,
)

from .samples import full_story, state

NS = "{http://www.w3.org/2000/svg}"
S, C = State, Cause


def T(src: State, dst: State, cause: Cause) -> Transition:
    return lookup(src, dst, cause)


CLIENT_ROWS = [
    T(S.CLOSED, S.SYN_SENT, C.CONNECT),
    T(S.SYN_SENT, S.ESTABLISHED, C.RCV_SYN_ACK),
    T(S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE),
    T(S.FIN_WAIT_1, S.FIN_WAIT_2, C.RCV_ACK_OF_FIN),
    T(S.FIN_WAIT_2, S.TIME_WAIT, C.RCV_FIN),
    T(S.TIME_WAIT, S.CLOSED, C.TIMEOUT_2MSL),
]
SERVER_ROWS = [
    T(S.CLOSED, S.LISTEN, C.LISTEN),
    T(S.LISTEN, S.SYN_RCVD, C.RCV_SYN),
    T(S.SYN_RCVD, S.ESTABLISHED, C.RCV_ACK_OF_SYN),
    T(S.ESTABLISHED, S.CLOSE_WAIT, C.RCV_FIN),
    T(S.CLOSE_WAIT, S.LAST_ACK, C.CLOSE),
    T(S.LAST_ACK, S.CLOSED, C.RCV_ACK_OF_FIN),
]


def test_transitions_from_events_per_host() -> None:
    events = full_story()
    assert transitions_from_events(events, host="client") == Counter(CLIENT_ROWS)
    assert transitions_from_events(events, host="server") == Counter(SERVER_ROWS)
    assert transitions_from_events(events) == Counter(CLIENT_ROWS + SERVER_ROWS)
    assert transitions_from_events(events, host="nobody") == Counter()


def test_unknown_transition_is_an_error() -> None:
    events = [state(0.0, "client", "CLOSED", "ESTABLISHED", "magic")]
    with pytest.raises(UnknownTransitionError, match="CLOSED -> ESTABLISHED"):
        transitions_from_events(events)
    assert transitions_from_events(events, strict=False) == Counter()
    with pytest.raises(UnknownTransitionError):
        transitions_from_events([state(0.0, "c", "NOWHERE", "CLOSED", "abort")])


def test_coverage_partitions_the_table_in_order() -> None:
    taken = Counter(CLIENT_ROWS)
    covered, missing = coverage(taken)
    assert covered == [t for t in TRANSITIONS if t in set(CLIENT_ROWS)]
    assert len(covered) == 6
    assert len(covered) + len(missing) == len(TRANSITIONS)
    assert not set(covered) & set(missing)
    assert missing[0] == T(S.CLOSED, S.LISTEN, C.LISTEN)
    # Zero counts are not coverage; events work as input too.
    assert coverage({CLIENT_ROWS[0]: 0}) == ([], list(TRANSITIONS))
    assert coverage(full_story())[0] == [t for t in TRANSITIONS if t in set(CLIENT_ROWS + SERVER_ROWS)]


def test_normalize_taken_accepts_names() -> None:
    assert normalize_taken({("ESTABLISHED", "CLOSED", "rcv RST"): 2}) == Counter(
        {T(S.ESTABLISHED, S.CLOSED, C.RCV_RST): 2}
    )
    assert normalize_taken([CLIENT_ROWS[0], CLIENT_ROWS[0]]) == Counter({CLIENT_ROWS[0]: 2})


def test_summary_text() -> None:
    taken = Counter({CLIENT_ROWS[0]: 1, CLIENT_ROWS[1]: 1, T(S.ESTABLISHED, S.CLOSED, C.RCV_RST): 3})
    assert render_state_summary(taken) == (
        f"Transitions taken: 3 of {len(TRANSITIONS)}\n"
        "  CLOSED      -> SYN_SENT     connect      x1\n"
        "  SYN_SENT    -> ESTABLISHED  rcv SYN-ACK  x1\n"
        "  ESTABLISHED -> CLOSED       rcv RST      x3\n"
        "States visited: 3 of 11\n"
        "  never visited: LISTEN, SYN_RCVD, FIN_WAIT_1, CLOSE_WAIT, FIN_WAIT_2, CLOSING, LAST_ACK, "
        "TIME_WAIT\n"
    )


def _rows_drawn(root: ET.Element) -> dict[tuple[str, str, str], ET.Element]:
    out = {}
    for g in root.iter(f"{NS}g"):
        if g.get("data-cause") is not None:
            key = (g.get("data-from"), g.get("data-to"), g.get("data-cause"))
            assert key not in out, f"row drawn twice: {key}"
            out[key] = g
    return out


def _states(root: ET.Element) -> dict[str, list[ET.Element]]:
    out: dict[str, list[ET.Element]] = {}
    for g in root.iter(f"{NS}g"):
        if g.get("data-state"):
            out.setdefault(g.get("data-state"), []).append(g)
    return out


def test_every_row_and_state_is_drawn_with_its_label() -> None:
    root = ET.fromstring(render_state_diagram_svg(Counter()))
    drawn = _rows_drawn(root)
    assert set(drawn) == {(t.src.value, t.dst.value, str(t.cause)) for t in TRANSITIONS}
    for t in TRANSITIONS:
        g = drawn[(t.src.value, t.dst.value, str(t.cause))]
        assert g.find(f"{NS}title").text == t.label()
        assert "".join(g.itertext()).strip()  # a visible label
    states = _states(root)
    assert set(states) == {s.value for s in State}
    assert len(states["CLOSED"]) == 2  # top and bottom right, as in the RFC's figure
    # The edges of Figure 5 carry the cause text itself.
    g = drawn[("ESTABLISHED", "FIN_WAIT_1", "close")]
    assert "edge" in g.get("class").split()
    assert [t.text for t in g.iter(f"{NS}text") if t.get("class") == "cause"] == ["close"]
    exit_rst = drawn[("ESTABLISHED", "CLOSED", "rcv RST")]
    assert "exit" in exit_rst.get("class").split()


def test_taken_rows_highlighted_with_counts_and_unvisited_greyed() -> None:
    taken = Counter(CLIENT_ROWS)
    taken[T(S.ESTABLISHED, S.FIN_WAIT_1, C.CLOSE)] = 2
    taken[T(S.ESTABLISHED, S.CLOSED, C.RCV_RST)] = 1
    svg = render_state_diagram_svg(taken, title="client")
    root = ET.fromstring(svg)
    drawn = _rows_drawn(root)
    hot = drawn[("ESTABLISHED", "FIN_WAIT_1", "close")]
    assert hot.get("class").split() == ["edge", "taken"]
    assert hot.get("data-count") == "2"
    assert hot.find(f".//{NS}tspan").text == "×2"
    path = hot.find(f"{NS}path")
    assert path.get("stroke") == "#e8590c" and float(path.get("stroke-width")) > 3
    cold = drawn[("ESTABLISHED", "CLOSE_WAIT", "rcv FIN")]
    assert cold.get("class") == "edge" and cold.get("data-count") == "0"
    assert float(cold.find(f"{NS}path").get("stroke-width")) < 2
    rst = drawn[("ESTABLISHED", "CLOSED", "rcv RST")]
    assert rst.get("class").split() == ["exit", "taken"]
    assert "RST ×1" in "".join(rst.itertext())
    assert drawn[("ESTABLISHED", "CLOSED", "abort")].get("class") == "exit"
    taken_rows = {k for k, g in drawn.items() if "taken" in g.get("class").split()}
    assert taken_rows == {(t.src.value, t.dst.value, str(t.cause)) for t in taken}

    states = _states(root)
    for name in ("CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"):
        for g in states[name]:
            assert "visited" in g.get("class").split()
    for name in ("LISTEN", "SYN_RCVD", "CLOSE_WAIT", "CLOSING", "LAST_ACK"):
        (g,) = states[name]
        assert "unvisited" in g.get("class").split()
        assert g.find(f"{NS}rect").get("fill") == "#f1f3f5"
    texts = ["".join(t.itertext()) for t in root.iter(f"{NS}text")]
    assert texts[0] == "client"
    assert f"7 of {len(TRANSITIONS)} transitions taken · 6 of 11 states visited" in texts


def test_events_as_input_and_plain_diagram() -> None:
    a = render_state_diagram_svg(transitions_from_events(full_story(), host="server"))
    b = render_state_diagram_svg([e for e in full_story() if e.get("host") == "server"])
    assert a == b
    plain = ET.fromstring(render_state_diagram_svg(None))
    assert not [g for g in plain.iter(f"{NS}g") if "unvisited" in (g.get("class") or "")]
    assert not [g for g in plain.iter(f"{NS}g") if "taken" in (g.get("class") or "").split()]


def test_title_is_escaped() -> None:
    root = ET.fromstring(render_state_diagram_svg(Counter(), title="<a & b>"))
    assert root.find(f"{NS}title").text == "<a & b>"
