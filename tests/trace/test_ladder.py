"""The terminal ladder: exact text for a small trace, labels, fates, colour switching."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tcplab.trace.ladder import (
    infer_endpoints,
    print_ladder,
    render_ladder,
    retransmissions,
    segment_label,
    want_color,
)

from .samples import OPTS_SYN, full_story, seg, small_handshake, state

GOLDEN_SMALL = """\
 time      client                                                   server
           CLOSED │                                               │ CLOSED
0.000    SYN_SENT │── S 0:0(0) win 65535 ────✗ dropped            │ LISTEN
                  │ ✎ The first SYN is lost.                      │
1.000             │── S 0:0(0) win 65535 (retransmission) ───────▶│
1.050             │◀───────────────── S. 0:0(0) ack 1 win 64000 ──│ SYN_RCVD
1.100 ESTABLISHED │── . 1:1(0) ack 1 win 502 ────────────────────▶│
                  │ ● connected                                   │
1.150             │                                               │ ESTABLISHED
"""

GOLDEN_SMALL_ASCII = """\
 time      client                                           server
           CLOSED |                                       | CLOSED
0.000    SYN_SENT |-- S 0:0(0) win 65535 ----x dropped    | LISTEN
                  | # The first SYN is lost.              |
1.000             |-- S 0:0(0) win 65535 (rtx) ---------->|
1.050             |<--------- S. 0:0(0) ack 1 win 64000 --| SYN_RCVD
1.100 ESTABLISHED |-- . 1:1(0) ack 1 win 502 ------------>|
                  | * connected                           |
1.150             |                                       | ESTABLISHED
"""


def test_golden_small_handshake() -> None:
    assert render_ladder(small_handshake(), "client", "server", color=False, width=80) == GOLDEN_SMALL


def test_golden_small_handshake_ascii() -> None:
    text = render_ladder(small_handshake(), color=False, width=72, ascii_only=True)
    assert text == GOLDEN_SMALL_ASCII
    assert text.isascii()


def test_plain_output_is_deterministic_and_has_no_trailing_spaces() -> None:
    a = render_ladder(full_story(), color=False)
    b = render_ladder(full_story(), color=False)
    assert a == b
    assert "\x1b" not in a
    for line in a.splitlines():
        assert line == line.rstrip()
        assert len(line) <= 100


def test_segment_labels_like_packetdrill() -> None:
    assert segment_label(seg(0, "client", "server", "S", 0, 0, options=OPTS_SYN)) == (
        "S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7>"
    )
    assert segment_label(seg(0, "server", "client", "S.", 0, 1, win=64000)) == ("S. 0:0(0) ack 1 win 64000")
    assert segment_label(seg(0, "client", "server", ".", 1, 1, win=502)) == ". 1:1(0) ack 1 win 502"
    assert segment_label(seg(0, "client", "server", "P.", 1, 1, length=100, win=502)) == ("P. 1:101(100) ack 1 win 502")
    assert segment_label(seg(0, "client", "server", "F.", 101, 1, win=502)) == ("F. 101:101(0) ack 1 win 502")
    assert segment_label(seg(0, "client", "server", "R", 7, 0, win=0)) == "R 7:7(0) win 0"


def test_segment_label_options_shortened() -> None:
    e = seg(0, "client", "server", "S", 0, 0, options=OPTS_SYN)
    assert segment_label(e, options="short") == "S 0:0(0) win 65535 <mss 1460,sackOK,TS,wscale 7>"
    assert segment_label(e, options=False) == "S 0:0(0) win 65535"
    assert segment_label(e, max_len=40) == "S 0:0(0) win 65535 <mss 1460,sackOK,...>"
    assert segment_label(e, max_len=20) == "S 0:0(0) win 65535"
    assert segment_label(e, max_len=10) == "S 0:0(0) …"
    assert segment_label(e, max_len=10, ellipsis="...") == "S 0:0(0..."


def test_segment_label_wraps_sequence_space() -> None:
    e = seg(0, "client", "server", "P.", 2**32 - 10, 1, length=20)
    assert segment_label(e, options=False).startswith(f"P. {2**32 - 10}:10(20)")


def _line_of(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_dropped_segment_stops_half_way() -> None:
    text = render_ladder(full_story(), color=False, width=100)
    line = _line_of(text, "dropped")
    bar_left = line.index("│")
    bar_right = line.rindex("│")
    cross = line.index("✗")
    assert bar_left < cross < bar_right
    assert "▶" not in line and "◀" not in line
    # Nothing but blanks between "dropped" and the receiver's timeline.
    assert line[line.index("dropped") + len("dropped") : bar_right].strip() == ""


def test_duplicated_corrupted_and_retransmitted_are_marked() -> None:
    text = render_ladder(full_story(), color=False, width=110)
    dup = _line_of(text, "P. 1:101(100)")
    assert "duplicated ×2" in dup and "═" in dup and dup.rstrip().endswith("▶│")
    bad = _line_of(text, "(corrupted)")
    assert "┈" in bad and "◀" in bad
    rtx = [line for line in text.splitlines() if "(retransmission)" in line]
    assert len(rtx) == 2  # the second SYN and the data resent after corruption
    assert "S 0:0(0)" in rtx[0] and "P. 1:21(20)" in rtx[1]


def test_states_are_written_on_their_own_timeline() -> None:
    text = render_ladder(full_story(), color=False, width=100)
    for line in text.splitlines():
        if "CLOSE_WAIT" in line or "LAST_ACK" in line:
            assert line.index("CLOSE_WAIT" if "CLOSE_WAIT" in line else "LAST_ACK") > line.rindex("│")
        if "FIN_WAIT_2" in line or "TIME_WAIT" in line:
            assert line.index("_WAIT") < line.index("│")


def test_direction_of_arrows() -> None:
    text = render_ladder(full_story(), color=False, width=100)
    assert _line_of(text, "S. 0:0(0)").split("│")[1].startswith("◀")
    assert _line_of(text, "F. 101:101(0)").split("│")[1].endswith("▶")


def test_outcomes_and_notes_are_text_lines() -> None:
    text = render_ladder(full_story(), color=False, width=100)
    assert "● peer closed │" in text  # the server's outcome, on its side
    assert "│ ● connected" in text  # the client's
    assert "✎ The client opens a connection" in text


def test_events_of_other_hosts_are_left_out() -> None:
    events = [
        *small_handshake(),
        seg(5.0, "router", "elsewhere", "R", 1, 0),
        state(5.0, "router", "CLOSED", "LISTEN", "listen"),
    ]
    assert render_ladder(events, color=False, width=80) == GOLDEN_SMALL


def test_retransmissions() -> None:
    events = full_story()
    idx = retransmissions(events)
    assert sorted(events[i]["t"] for i in idx) == [1.0, 1.4]


def test_infer_endpoints() -> None:
    assert infer_endpoints(full_story()) == ("server", "client")  # first state event: server
    assert infer_endpoints([seg(0, "a", "b", "S", 0, 0)]) == ("a", "b")
    assert infer_endpoints([]) == ("client", "server")


def test_color_output_has_ansi_and_same_text() -> None:
    colored = render_ladder(small_handshake(), color=True, width=80)
    assert "\x1b[" in colored
    import re

    stripped = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    assert stripped == GOLDEN_SMALL


def test_color_auto_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert want_color(None) is True
    assert "\x1b[" in render_ladder(small_handshake(), width=80)
    monkeypatch.setenv("NO_COLOR", "1")
    assert want_color(None) is False
    assert render_ladder(small_handshake(), width=80) == GOLDEN_SMALL
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert want_color(None) is False
    assert want_color(True) is True


def test_print_ladder_to_console() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=80, color_system=None, force_terminal=False)
    print_ladder(small_handshake(), console=console)
    assert buf.getvalue() == GOLDEN_SMALL


def test_sack_blocks_shown_relative() -> None:
    e = seg(
        0,
        "server",
        "client",
        ".",
        1,
        1449,
        win=1012,
        options="nop,nop,TS val 5 ecr 9,nop,nop,sack 2 {5001:6001}{8001:9001}",
    )
    # abs_ack = 1000 (client's ISN) + 1449; SACK blocks relative to the same ISN.
    assert e["abs_ack"] == 2449
    assert segment_label(e, options="short") == (". 1:1(0) ack 1449 win 1012 <TS,sack {4001:5001}{7001:8001}>")
    assert segment_label(e).endswith("<nop,nop,TS val 5 ecr 9,nop,nop,sack 2 {5001:6001}{8001:9001}>")


def test_endpoints_taken_from_the_trace_when_the_names_do_not_match() -> None:
    events = [
        state(0.0, "tcplab", "CLOSED", "SYN_SENT", "connect"),
        seg(0.0, "tcplab", "kernel", "S", 0, 0, fate="sent", t_arrive=None),
    ]
    events[1]["t_arrive"] = None
    text = render_ladder(events, color=False, width=60)
    assert text.splitlines()[0].split() == ["time", "tcplab", "kernel"]
    line = _line_of(text, "S 0:0(0)")
    assert line.endswith("▶│")  # fate "sent": drawn all the way (a real network)
    # Names that do appear are kept, even if only one side is in the trace.
    assert render_ladder(events, "tcplab", "peer", color=False).splitlines()[0].split() == ["time", "tcplab", "peer"]


def test_connections_numbered_when_a_trace_has_several() -> None:
    from tcplab.trace.ladder import connection_numbers

    def s(t, host, frm, to, cause, conn):
        e = state(t, host, frm, to, cause)
        e["conn"] = conn
        return e

    def sg(t, src, dst, flags, sport, dport):
        e = seg(t, src, dst, flags, 0, 0)
        e["sport"], e["dport"] = sport, dport
        return e

    events = [
        s(0.0, "server", "CLOSED", "LISTEN", "listen", "198.18.0.2:80-*:*"),
        s(0.0, "client", "CLOSED", "SYN_SENT", "connect", "198.18.0.1:40000-198.18.0.2:80"),
        sg(0.0, "client", "server", "S", 40000, 80),
        s(0.0, "client", "CLOSED", "SYN_SENT", "connect", "[fd00::1]:40001-[fd00::2]:80"),
        sg(0.0, "client", "server", "S", 40001, 80),
        {"t": 0.1, "kind": "outcome", "host": "client", "outcome": "refused", "conn": "[fd00::1]:40001-[fd00::2]:80"},
    ]
    assert connection_numbers(events) == {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
    assert connection_numbers(events[:3]) == {}  # one connection: no numbers
    text = render_ladder(events, color=False, width=80)
    assert "SYN_SENT #1 │── #1 S 0:0(0) win 65535" in text
    assert "SYN_SENT #2 │── #2 S 0:0(0) win 65535" in text
    assert "● refused #2" in text
    assert "│ LISTEN" in text  # the listener has no number


def test_no_control_codes_reach_the_terminal() -> None:
    events = [
        state(0.0, "client", "CLOSED", "SYN_SENT\x1b[2J", "connect"),
        seg(0.0, "client", "server", "S", 0, 0, options="mss 1460,\x1b]0;pwned\x07"),
        {"t": 0.0, "kind": "note", "text": "bell\x07 and \r return"},
    ]
    for color in (False, True):
        text = render_ladder(events, color=color, width=120)
        plain = text.replace("\x1b[", "")  # rich's own SGR codes only
        assert "\x1b" not in plain and "\x07" not in text and "\r" not in text
        assert "SYN_SENT\ufffd[2J" in text
