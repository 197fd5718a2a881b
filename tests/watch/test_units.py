"""Unit tests of the watcher's pieces: trace-line parser, netlink parser, mapping, pictures.

No root needed.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from tcplab.tcp.states import TRANSITIONS, Cause, State
from tcplab.watch import (
    KERNEL_STATE,
    KernelStateChange,
    KernelWatcher,
    SockEntry,
    TraceLineError,
    WatchError,
    format_table,
    parse_trace_line,
    rfc_transition,
    sequence,
    transitions_of,
)
from tcplab.watch.diag import parse_diag_messages
from tcplab.watch.render import _fallback_ladder, _fallback_svg, event_line, group_connections
from tcplab.watch.tracefs import filter_expression

V4 = (
    "          python3-6068    [001] ..s2.  1856.106443: inet_sock_set_state: family=AF_INET "
    "protocol=IPPROTO_TCP sport=9527 dport=56308 saddr=198.18.7.1 daddr=198.18.7.2 "
    "saddrv6=::ffff:198.18.7.1 daddrv6=::ffff:198.18.7.2 oldstate=TCP_LISTEN "
    "newstate=TCP_SYN_RECV\n"
)
V6 = (
    "<idle>-0 [000] ..s2. 12.5: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP "
    "sport=40000 dport=9527 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=fd00::1 daddrv6=fd00::2 "
    "oldstate=TCP_FIN_WAIT1 newstate=TCP_FIN_WAIT2"
)


def test_parse_ipv4_line() -> None:
    ch = parse_trace_line(V4)
    assert ch == KernelStateChange(
        ts=1856.106443,
        family=4,
        sport=9527,
        dport=56308,
        saddr="198.18.7.1",
        daddr="198.18.7.2",
        oldstate="TCP_LISTEN",
        newstate="TCP_SYN_RECV",
        task="python3-6068",
    )
    assert (ch.old, ch.new) == (State.LISTEN, State.SYN_RCVD)
    assert ch.local == "198.18.7.1:9527"
    assert ch.remote == "198.18.7.2:56308"
    assert ch.conn == "198.18.7.1:9527-198.18.7.2:56308"


def test_parse_ipv6_line_uses_v6_fields() -> None:
    ch = parse_trace_line(V6)
    assert ch is not None
    assert (ch.family, ch.saddr, ch.daddr, ch.ts) == (6, "fd00::1", "fd00::2", 12.5)
    assert (ch.old, ch.new) == (State.FIN_WAIT_1, State.FIN_WAIT_2)
    assert ch.conn == "[fd00::1]:40000-[fd00::2]:9527"


def test_parse_with_tgid_column_and_numeric_states() -> None:
    line = (
        "curl-77 (77) [003] d..1. 99.000001: inet_sock_set_state: family=AF_INET protocol=6 "
        "sport=0 dport=80 saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 "
        "daddrv6=::ffff:198.18.0.2 oldstate=7 newstate=0x2"
    )
    ch = parse_trace_line(line)
    assert ch is not None
    assert (ch.oldstate, ch.newstate, ch.sport, ch.ts) == ("TCP_CLOSE", "TCP_SYN_SENT", 0, 99.000001)


def test_kernel_state_names_map_to_tcplab_names() -> None:
    assert {k: v.value for k, v in KERNEL_STATE.items()} == {
        "TCP_ESTABLISHED": "ESTABLISHED",
        "TCP_SYN_SENT": "SYN_SENT",
        "TCP_SYN_RECV": "SYN_RCVD",
        "TCP_FIN_WAIT1": "FIN_WAIT_1",
        "TCP_FIN_WAIT2": "FIN_WAIT_2",
        "TCP_TIME_WAIT": "TIME_WAIT",
        "TCP_CLOSE": "CLOSED",
        "TCP_CLOSE_WAIT": "CLOSE_WAIT",
        "TCP_LAST_ACK": "LAST_ACK",
        "TCP_LISTEN": "LISTEN",
        "TCP_CLOSING": "CLOSING",
        "TCP_NEW_SYN_RECV": "SYN_RCVD",
    }


@pytest.mark.parametrize(
    "line",
    [
        "",
        "# tracer: nop",
        "bash-1 [000] ..... 5.0: sched_switch: prev_comm=bash",
        V4.replace("IPPROTO_TCP", "IPPROTO_SCTP"),
        V4.replace("IPPROTO_TCP", "IPPROTO_MPTCP"),
    ],
)
def test_other_lines_are_ignored(line: str) -> None:
    assert parse_trace_line(line) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("inet_sock_set_state: family=AF_INET", "no timestamp"),
        (V4.replace("newstate=TCP_SYN_RECV", "newstate=TCP_BOGUS"), "unknown TCP state"),
        (V4.replace("sport=9527", "sport=99999"), "is not a port"),
        (V4.replace("sport=9527", "sport=x"), "bad sport"),
        (V4.replace("saddr=198.18.7.1 ", "saddr=nowhere "), "bad saddr"),
        (V4.replace("family=AF_INET", "family=AF_UNIX"), "unknown family"),
        (V4.replace(" oldstate=TCP_LISTEN", ""), "no oldstate"),
        (V4.replace(" dport=56308", ""), "no dport"),
        (V4.replace("protocol=IPPROTO_TCP ", ""), "no protocol"),
        (V6.replace("saddrv6=fd00::1", "saddrv6=1.2.3.4"), "not an IPv6 address"),
        (V4.replace("daddr=198.18.7.2", "daddr=fd00::1"), "not an IPv4 address"),
    ],
)
def test_malformed_lines_raise_typed_error(line: str, message: str) -> None:
    with pytest.raises(TraceLineError, match=message):
        parse_trace_line(line)


def test_trace_line_error_is_a_value_error() -> None:
    assert issubclass(TraceLineError, ValueError)


def test_filter_expression() -> None:
    assert filter_expression() == "protocol == 6"
    assert filter_expression(9527) == "protocol == 6 && (sport == 9527 || dport == 9527)"


# ---- netlink ----------------------------------------------------------------------------------


def _diag_msg(
    seq: int, family: int, state: int, sport: int, dport: int, src: bytes, dst: bytes,
    timer: int = 0, expires: int = 0, rq: int = 0, wq: int = 0, inode: int = 0,
) -> bytes:  # fmt: skip
    body = struct.pack("=BBBB", family, state, timer, 0)
    body += struct.pack(">HH16s16s", sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"))
    body += struct.pack("=III", 0, 0, 0)
    body += struct.pack("=IIIII", expires, rq, wq, 0, inode)
    return struct.pack("=IHHII", 16 + len(body), 20, 2, seq, 0) + body


def test_parse_diag_messages() -> None:
    a = socket.inet_aton("198.18.7.1")
    b = socket.inet_aton("198.18.7.2")
    data = (
        _diag_msg(5, socket.AF_INET, 10, 9527, 0, a, bytes(4), rq=0, wq=128, inode=1234)
        + _diag_msg(5, socket.AF_INET, 6, 40000, 9527, a, b, timer=3, expires=59876)
        + _diag_msg(4, socket.AF_INET, 1, 1, 2, a, b)  # another request's answer: ignored
        + struct.pack("=IHHII", 20, 3, 2, 5, 0)
        + b"\0\0\0\0"
    )
    entries, done = parse_diag_messages(data, 5)
    assert done
    assert entries == [
        SockEntry(4, 10, "198.18.7.1", 9527, "0.0.0.0", 0, 0, 0, 0, 0, 128, 1234),
        SockEntry(4, 6, "198.18.7.1", 40000, "198.18.7.2", 9527, 3, 0, 59876, 0, 0, 0),
    ]
    assert entries[1].state is State.TIME_WAIT
    assert entries[1].timewait_minisock
    assert entries[1].timer_text() == "timewait,59.9s,0"
    assert entries[0].timer_text() == ""


def test_parse_diag_error_message() -> None:
    data = struct.pack("=IHHII", 36, 2, 0, 7, 0) + struct.pack("=i", -2) + bytes(16)
    with pytest.raises(OSError, match="No such file"):
        parse_diag_messages(data, 7)


def test_parse_diag_truncated_message() -> None:
    data = struct.pack("=IHHII", 200, 20, 2, 1, 0) + bytes(10)
    with pytest.raises(OSError, match="malformed"):
        parse_diag_messages(data, 1)


def test_format_table_like_ss() -> None:
    entries = [
        SockEntry(4, 10, "198.18.7.1", 9527, "0.0.0.0", 0, 0, 0, 0, 0, 128, 1),
        SockEntry(4, 6, "198.18.7.1", 40000, "198.18.7.1", 9527, 3, 0, 59500, 0, 0, 0),
        SockEntry(6, 1, "fd00::1", 22, "fd00::2", 50000, 2, 0, 7000000, 0, 36, 2),
    ]
    assert format_table(entries).splitlines() == [
        "State        Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer",
        "LISTEN            0     128  198.18.7.1:9527     0.0.0.0:0",
        "TIME_WAIT         0       0  198.18.7.1:40000    198.18.7.1:9527    timewait,59.5s,0",
        "ESTABLISHED       0      36  [fd00::1]:22        [fd00::2]:50000    keepalive,7000.0s,0",
    ]


# ---- mapping onto TRANSITIONS -------------------------------------------------------------------


def test_rfc_transition_unique_and_preferred_rows() -> None:
    S = State
    assert rfc_transition(S.SYN_SENT, S.ESTABLISHED).cause is Cause.RCV_SYN_ACK
    assert rfc_transition(S.LISTEN, S.SYN_RCVD).cause is Cause.RCV_SYN
    assert rfc_transition(S.SYN_SENT, S.CLOSED).cause is Cause.RCV_RST  # refused
    assert rfc_transition(S.LAST_ACK, S.CLOSED).cause is Cause.RCV_ACK_OF_FIN
    assert rfc_transition(S.TIME_WAIT, S.CLOSED).cause is Cause.TIMEOUT_2MSL
    assert rfc_transition(S.LISTEN, S.CLOSED).cause is Cause.CLOSE
    assert rfc_transition(S.FIN_WAIT_2, S.CLOSED, "timeout FIN_WAIT_2").cause is (Cause.TIMEOUT_FIN_WAIT_2)
    assert rfc_transition(S.FIN_WAIT_2, S.CLOSED, "no such cause").cause is Cause.RCV_RST
    assert rfc_transition(S.CLOSED, S.ESTABLISHED) is None
    assert rfc_transition(S.CLOSED, S.SYN_RCVD) is None


def test_every_kernel_pair_of_the_rfc_diagram_maps_to_a_row() -> None:
    for row in TRANSITIONS:
        found = rfc_transition(row.src, row.dst)
        assert found is not None and (found.src, found.dst) == (row.src, row.dst)


def test_transitions_of_lists_unknown_changes() -> None:
    events = [
        {"kind": "state", "from": "CLOSED", "to": "SYN_SENT"},
        {"kind": "note", "text": "x"},
        {"kind": "state", "from": "CLOSED", "to": "ESTABLISHED"},
        {"kind": "state", "from": "FIN_WAIT_2", "to": "TIME_WAIT", "rfc_cause": "rcv FIN"},
        {"kind": "state", "from": "NOPE", "to": "CLOSED"},
    ]
    taken, unknown = transitions_of(events)
    assert [t.label() for t in taken] == [
        "CLOSED -> SYN_SENT: connect",
        "FIN_WAIT_2 -> TIME_WAIT: rcv FIN",
    ]
    assert unknown == ["CLOSED -> ESTABLISHED", "NOPE -> CLOSED"]


# ---- pictures and lines -------------------------------------------------------------------------


def _ev(t: float, local: str, remote: str, src: str, dst: str, **extra: object) -> dict:
    return {"t": t, "kind": "state", "host": "kernel", "from": src, "to": dst, "cause": "kernel",
            "conn": f"{local}-{remote}", "local": local, "remote": remote, **extra}  # fmt: skip


C, S_, L = "198.18.0.1:40000", "198.18.0.2:9527", "0.0.0.0:0"
EVENTS = [
    _ev(0.0, S_, L, "CLOSED", "LISTEN"),
    _ev(0.1, C, S_, "CLOSED", "SYN_SENT"),
    _ev(0.2, S_, C, "LISTEN", "SYN_RCVD"),
    _ev(0.3, C, S_, "SYN_SENT", "ESTABLISHED"),
    _ev(0.4, S_, C, "SYN_RCVD", "ESTABLISHED"),
    _ev(0.5, "198.18.0.1:40001", "198.18.0.9:80", "CLOSED", "SYN_SENT"),
]


def test_event_line() -> None:
    assert event_line(EVENTS[1]) == (
        "    0.100000  198.18.0.1:40000           198.18.0.2:9527            CLOSED -> SYN_SENT"
    )
    tw = _ev(1.0, C, S_, "FIN_WAIT_2", "TIME_WAIT", timer=59.9, linux="x")
    assert event_line(tw).endswith("FIN_WAIT_2 -> TIME_WAIT  (timer 59.9s; linux: x)")
    note = {"t": 2.0, "kind": "note", "host": "kernel", "text": "hello"}
    assert event_line(note) == "    2.000000  note: hello"


def test_group_connections_matches_reversed_tuples() -> None:
    groups = group_connections(EVENTS)
    assert [g.title for g in groups] == [
        "listener 198.18.0.2:9527",
        "connection 198.18.0.1:40000 -> 198.18.0.2:9527",
        "connection 198.18.0.1:40001 -> 198.18.0.9:80",
    ]
    conn = groups[1]
    assert [e["to"] for e in conn.client_events] == ["SYN_SENT", "ESTABLISHED"]
    assert [e["to"] for e in conn.server_events] == ["SYN_RCVD", "ESTABLISHED"]
    assert groups[2].server_events == []


def test_group_connections_server_seen_first() -> None:
    groups = group_connections([EVENTS[2], EVENTS[1]])
    assert groups[0].client == C and groups[0].server == S_


def test_fallback_ladder_two_columns() -> None:
    conn = group_connections(EVENTS)[1]
    assert _fallback_ladder(conn).splitlines() == [
        "      time  client 198.18.0.1:40000          server 198.18.0.2:9527",
        "  0.100000  CLOSED -> SYN_SENT",
        "  0.200000                                   LISTEN -> SYN_RCVD",
        "  0.300000  SYN_SENT -> ESTABLISHED",
        "  0.400000                                   SYN_RCVD -> ESTABLISHED",
    ]


def test_fallback_svg_highlights_taken_edges() -> None:
    taken, _ = transitions_of(EVENTS)
    svg = _fallback_svg(taken, "seen")
    assert svg.startswith("<svg")
    # CLOSED -> LISTEN, CLOSED -> SYN_SENT, LISTEN -> SYN_RCVD, SYN_SENT/SYN_RCVD -> ESTABLISHED
    assert svg.count('class="taken"') == 5
    assert "seen" in svg


def test_sequence_helper() -> None:
    assert sequence(EVENTS, local=C) == ["SYN_SENT", "ESTABLISHED"]
    assert sequence(EVENTS, conn=f"{S_}-{C}") == ["SYN_RCVD", "ESTABLISHED"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 0}, "port must be"),
        ({"port": 70000}, "port must be"),
        ({"address": "nowhere"}, "not an IP address"),
        ({"mode": "magic"}, "mode must be"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
def test_watcher_argument_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(WatchError, match=message):
        KernelWatcher(**kwargs)


def test_watcher_not_started() -> None:
    with pytest.raises(WatchError, match="not running"):
        KernelWatcher().poll(0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "0"], "tcplab: --port must be 1..65535, not 0\n"),
        (["--port", "65536"], "tcplab: --port must be 1..65535, not 65536\n"),
        (["--address", "nowhere"], "tcplab: --address: not an IP address: 'nowhere'\n"),
        (["--duration", "0"], "tcplab: --duration must be a positive number of seconds\n"),
        (["--duration", "-3"], "tcplab: --duration must be a positive number of seconds\n"),
    ],
)
def test_cli_bad_arguments_are_one_line(argv: list[str], message: str, capsys) -> None:
    from tcplab.cli import main

    assert main(["watch", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == message
    assert captured.out == ""


# ---- the watcher fed with recorded trace lines (no root) ------------------------------------------


def _line(ts: str, sport: int, dport: int, saddr: str, daddr: str, old: str, new: str) -> str:
    return (
        f"   python3-6068 [001] ..... {ts}: inet_sock_set_state: family=AF_INET "
        f"protocol=IPPROTO_TCP sport={sport} dport={dport} saddr={saddr} daddr={daddr} "
        f"saddrv6=::ffff:{saddr} daddrv6=::ffff:{daddr} oldstate={old} newstate={new}"
    )


A = "198.18.7.1"
RECORDED = [  # a client-first close on one address, as this kernel printed it
    _line("100.000100", 9527, 0, A, "0.0.0.0", "TCP_CLOSE", "TCP_LISTEN"),
    _line("100.000200", 0, 9527, A, A, "TCP_CLOSE", "TCP_SYN_SENT"),  # no port yet
    _line("100.000300", 56308, 9527, A, A, "TCP_SYN_SENT", "TCP_ESTABLISHED"),
    _line("100.000310", 9527, 56308, A, A, "TCP_LISTEN", "TCP_SYN_RECV"),
    _line("100.000320", 9527, 56308, A, A, "TCP_SYN_RECV", "TCP_ESTABLISHED"),
    "CPU:1 [LOST 3 EVENTS]",
    _line("100.000400", 56308, 9527, A, A, "TCP_ESTABLISHED", "TCP_FIN_WAIT1"),
    "   x-1 [000] ..... 100.000401: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP",
    _line("100.000410", 56308, 9527, A, A, "TCP_FIN_WAIT1", "TCP_FIN_WAIT2"),
    _line("100.000420", 56308, 9527, A, A, "TCP_FIN_WAIT2", "TCP_CLOSE"),
    _line("100.000500", 1, 2, "198.18.9.9", "198.18.9.8", "TCP_CLOSE", "TCP_SYN_SENT"),
]


def test_feed_recorded_lines() -> None:
    w = KernelWatcher(port=9527, t0=100.0)
    events = w.feed_lines(RECORDED)
    states = [(e["t"], e["local"], e["remote"], e["from"], e["to"]) for e in events
              if e["kind"] == "state"]  # fmt: skip
    c, s, any_ = f"{A}:56308", f"{A}:9527", "0.0.0.0:0"
    assert states == [
        (0.0001, s, any_, "CLOSED", "LISTEN"),
        (0.0002, c, s, "CLOSED", "SYN_SENT"),  # held until its port was known
        (0.0003, c, s, "SYN_SENT", "ESTABLISHED"),
        (0.00031, s, c, "LISTEN", "SYN_RCVD"),
        (0.00032, s, c, "SYN_RCVD", "ESTABLISHED"),
        (0.0004, c, s, "ESTABLISHED", "FIN_WAIT_1"),
        (0.00041, c, s, "FIN_WAIT_1", "FIN_WAIT_2"),
        (0.00042, c, s, "FIN_WAIT_2", "CLOSED"),  # no sock_diag here: no TIME_WAIT to pair
    ]
    assert w.bad_lines == 1
    assert w.lost_events == 3
    notes = [e["text"] for e in events if e["kind"] == "note"]
    assert len(notes) == 2
    assert notes[0].startswith("Linux: a passive open lives as a request minisock")
    assert notes[1].startswith("the kernel's trace buffer overflowed: 3 state changes were lost")


def test_feed_filters_by_address_including_ipv4_mapped() -> None:
    w = KernelWatcher(address="198.18.9.9")
    events = w.feed_lines(RECORDED)
    assert [(e["local"], e["to"]) for e in events if e["kind"] == "state"] == [("198.18.9.9:1", "SYN_SENT")]
    mapped = V4.replace("family=AF_INET", "family=AF_INET6")
    w2 = KernelWatcher(address="198.18.7.2")
    assert [e["conn"] for e in w2.feed_lines([mapped]) if e["kind"] == "state"] == [
        "[::ffff:198.18.7.1]:9527-[::ffff:198.18.7.2]:56308"
    ]


def test_address_text_like_the_kernel() -> None:
    from tcplab.watch.traceline import address_text

    assert address_text(socket.inet_aton("198.18.0.1")) == "198.18.0.1"
    assert address_text(socket.inet_pton(socket.AF_INET6, "::ffff:198.18.0.1")) == ("::ffff:198.18.0.1")
    assert address_text(socket.inet_pton(socket.AF_INET6, "fd00:0:0::1")) == "fd00::1"


# ---- TIME_WAIT followed through a scripted sock_diag and clock (no root) ------------------------


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Trace:
    """A tracefs instance that hands out scripted lines once the clock reaches their time, and
    runs scripted changes of the socket table (callables) at theirs."""

    def __init__(self, clock: _Clock, script: list[tuple[float, Any]]) -> None:
        self.clock, self.script, self.path = clock, sorted(script, key=lambda step: step[0]), "scripted"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read_lines(self, timeout: float) -> list[str]:
        if not self.script or self.script[0][0] > self.clock.now:
            self.clock.now = min(self.clock.now + timeout, self.script[0][0] if self.script else float("inf"))
        lines = []
        while self.script and self.script[0][0] <= self.clock.now:
            _ts, step = self.script.pop(0)
            if callable(step):
                step()
            else:
                lines.append(step)
        return lines


class _Diag:
    """sock_diag as the kernel answers: timers count down, a dump filters a minisock by its
    *substate*."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.entries: dict[tuple, tuple[int, float, bool]] = {}  # key -> (state, timer end, minisock)
        self.hidden: set[tuple] = set()  # left out of dumps (a dump racing with the table)

    def put(self, state: int, sport: int, dport: int, until: float, *, minisock: bool = True) -> None:
        self.entries[(4, A, sport, A, dport)] = (state, until, minisock)

    def _entry(self, key: tuple) -> SockEntry:
        state, until, minisock = self.entries[key]
        expires = max(0, round((until - self.clock.now) * 1000))
        return SockEntry(4, state, A, key[2], A, key[4], 3 if minisock else 0, 0, expires, 0, 0, 0)

    def dump(self, states: int = (1 << 13) - 1) -> list[SockEntry]:
        return [self._entry(k) for k, (state, _until, _m) in self.entries.items()
                if states & (1 << state) and k not in self.hidden]  # fmt: skip

    def find(self, family: int, saddr: str, sport: int, daddr: str, dport: int) -> SockEntry | None:
        key = (family, saddr, sport, daddr, dport)
        return self._entry(key) if key in self.entries else None

    def close(self) -> None:
        pass


def _scripted(
    monkeypatch: pytest.MonkeyPatch, clock: _Clock, diag: _Diag, script: list[tuple[float, Any]]
) -> KernelWatcher:
    import tcplab.watch.watcher as watcher_module

    monkeypatch.setattr(watcher_module, "time", clock)
    monkeypatch.setattr(watcher_module, "SockDiag", lambda netns=None: diag)
    monkeypatch.setattr(watcher_module, "TraceInstance", lambda port=None, root=None: _Trace(clock, script))
    w = KernelWatcher(port=9527, t0=100.0)
    w.start()
    return w


def _run_until(w: KernelWatcher, clock: _Clock, until: float) -> None:
    while clock.now < until:
        w.poll(0.05)


CL, SV = f"{A}:56308", f"{A}:9527"
CLIENT_CLOSE_LINES = [
    (100.10, _line("100.100000", 56308, 9527, A, A, "TCP_ESTABLISHED", "TCP_FIN_WAIT1")),
    (100.10, _line("100.100010", 9527, 56308, A, A, "TCP_ESTABLISHED", "TCP_CLOSE_WAIT")),
    (100.14, _line("100.140000", 56308, 9527, A, A, "TCP_FIN_WAIT1", "TCP_FIN_WAIT2")),
    (100.14, _line("100.140010", 56308, 9527, A, A, "TCP_FIN_WAIT2", "TCP_CLOSE")),  # orphan: minisock
    (100.60, _line("100.600000", 9527, 56308, A, A, "TCP_CLOSE_WAIT", "TCP_LAST_ACK")),
    (100.60, _line("100.600100", 9527, 56308, A, A, "TCP_LAST_ACK", "TCP_CLOSE")),
]


def _client_steps(w: KernelWatcher) -> list[tuple[float, str, str, object]]:
    return [(e["t"], e["from"], e["to"], e.get("rfc_cause", "-")) for e in w.log
            if e["kind"] == "state" and e["conn"] == f"{CL}-{SV}"]  # fmt: skip


def test_orphan_minisock_waits_in_time_wait_until_its_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug of issue 12: a dump for TIME_WAIT leaves out a minisock whose substate is still
    FIN_WAIT2, and the watcher took that for its end 50 ms later."""
    clock = _Clock(100.0)
    diag = _Diag(clock)
    script = [
        *CLIENT_CLOSE_LINES,
        (100.14, lambda: diag.put(5, 56308, 9527, until=160.14)),  # FIN_WAIT2, tcp_fin_timeout
        (100.6, lambda: diag.put(6, 56308, 9527, until=160.6)),  # the server's FIN came
        (160.6, diag.entries.clear),  # the timer ran out
    ]
    w = _scripted(monkeypatch, clock, diag, script)
    _run_until(w, clock, 100.59)
    assert _client_steps(w)[-1][1:] == ("FIN_WAIT_1", "FIN_WAIT_2", "rcv ACK of FIN")
    _run_until(w, clock, 110.0)
    assert [(e["state"], e.get("timer")) for e in w.still_open()] == [("TIME_WAIT", round(160.6 - clock.now, 3))]
    _run_until(w, clock, 162.0)
    assert _client_steps(w)[1:] == [
        (0.14, "FIN_WAIT_1", "FIN_WAIT_2", "rcv ACK of FIN"),
        (0.6, "FIN_WAIT_2", "TIME_WAIT", "rcv FIN"),  # the timer's date, kept after the server's FIN
        (60.6, "TIME_WAIT", "CLOSED", "timeout 2MSL"),
    ]
    assert not w.still_open()
    w.close()


def test_dump_race_is_not_an_end_and_a_reused_tuple_is_a_reopen(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(100.0)
    diag = _Diag(clock)
    key = (4, A, 56308, A, 9527)
    script = [
        *CLIENT_CLOSE_LINES,
        (100.14, lambda: diag.put(5, 56308, 9527, until=160.14)),
        (100.6, lambda: diag.put(6, 56308, 9527, until=160.6)),
        (101.0, lambda: diag.hidden.add(key)),  # dumps miss it; the exact lookup finds it
        (104.0, lambda: diag.put(1, 56308, 9527, until=0, minisock=False)),  # a new SYN took it
    ]
    w = _scripted(monkeypatch, clock, diag, script)
    _run_until(w, clock, 103.0)
    assert [step[2] for step in _client_steps(w)][-1] == "TIME_WAIT"
    _run_until(w, clock, 106.0)
    end = [e for e in w.log if e["kind"] == "state" and e["conn"] == f"{CL}-{SV}"][-1]
    assert (end["from"], end["to"], end["rfc_cause"]) == ("TIME_WAIT", "CLOSED", "rcv SYN in TIME_WAIT")
    assert end["linux"].endswith("a new SYN reused the 4-tuple")
    assert 4.0 <= end["t"] <= 5.1
    w.close()
