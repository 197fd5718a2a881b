"""Every scenario: the exact state path of each endpoint (one list per connection, in order of
first appearance), the facts the story is about, and the union covering TRANSITIONS."""

from __future__ import annotations

import errno
from collections import Counter

import pytest

from tcplab.scenarios import SCENARIOS
from tcplab.trace.diagram import coverage, transitions_from_events

EST = "CLOSED SYN_SENT ESTABLISHED"  # the client's handshake
CHILD = "LISTEN SYN_RCVD ESTABLISHED"  # the server's child
LISTENING = "CLOSED LISTEN"

EXPECTED: dict[str, dict[str, list[str]]] = {
    "handshake": {"client": [EST], "server": [LISTENING, CHILD]},
    "active-close": {
        "client": [f"{EST} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "server-close": {
        "client": [f"{EST} CLOSE_WAIT LAST_ACK CLOSED"],
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED"],
    },
    "half-close": {
        "client": [f"{EST} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "fin-ack-together": {
        "client": [f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "simultaneous-open": {
        "client": ["CLOSED SYN_SENT SYN_RCVD ESTABLISHED"],
        "server": ["CLOSED SYN_SENT SYN_RCVD ESTABLISHED"],
    },
    "simultaneous-close": {
        "client": [f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED"],
    },
    "refused": {"client": ["CLOSED SYN_SENT CLOSED"]},
    "syn-timeout": {"client": ["CLOSED SYN_SENT CLOSED"]},
    "reset-in-syn-rcvd": {
        "client": [EST],
        "server": [LISTENING, "LISTEN SYN_RCVD LISTEN", CHILD],
    },
    "close-in-syn-rcvd": {
        "client": ["CLOSED SYN_SENT SYN_RCVD FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": ["CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "listen-then-send": {
        "client": ["CLOSED LISTEN SYN_SENT ESTABLISHED"],
        "server": [LISTENING, CHILD],
    },
    "lost-final-ack": {
        "client": [f"{EST} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "abort": {"client": [f"{EST} CLOSED"], "server": [LISTENING, f"{CHILD} CLOSED"]},
    "mss": {
        "client": [f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "lossy-transfer": {  # seed 0: the close itself goes through without loss
        "client": [f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "time-wait-restart": {
        "client": [f"{EST} CLOSE_WAIT LAST_ACK CLOSED", f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": [
            "CLOSED LISTEN CLOSED",
            f"{CHILD} FIN_WAIT_1 TIME_WAIT CLOSED",
            "CLOSED LISTEN CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
        ],
    },
    "backlog": {
        "client": [f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"] * 5,
        "server": ["CLOSED LISTEN CLOSED"] + [f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"] * 5,
    },
    "syn-flood": {
        "client": [f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": ["CLOSED LISTEN CLOSED"] + ["LISTEN SYN_RCVD CLOSED"] * 3 + [f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "rst-everywhere": {
        "client": [
            f"{EST} FIN_WAIT_1 CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED",
            f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED",
            "CLOSED SYN_SENT SYN_RCVD CLOSED",
        ],
        "server": [
            LISTENING,
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
            "CLOSED SYN_SENT SYN_RCVD CLOSED",
        ],
    },
    "abort-everywhere": {
        "client": [
            "CLOSED SYN_SENT CLOSED",
            "CLOSED SYN_SENT CLOSED",
            f"{EST} FIN_WAIT_1 CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED",
            f"{EST} CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING CLOSED",
            "CLOSED SYN_SENT SYN_RCVD CLOSED",
        ],
        "server": [
            "CLOSED LISTEN CLOSED",
            LISTENING,
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
            f"{CHILD} CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            "CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSED",
        ],
    },
    "timeout-everywhere": {
        "client": [
            f"{EST} CLOSED",
            f"{EST} FIN_WAIT_1 CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
        ],
        "server": [
            LISTENING,
            f"{CHILD} CLOSED",
            "LISTEN SYN_RCVD CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
        ],
    },
    "unread-data-close": {
        "client": [
            f"{EST} CLOSED",
            f"{EST} CLOSE_WAIT CLOSED",
            f"{EST} FIN_WAIT_1 CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
        ],
        "server": [
            LISTENING,
            f"{CHILD} CLOSED",
            f"{CHILD} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
        ],
    },
    "time-wait-reopen": {
        "client": [f"{EST} CLOSE_WAIT LAST_ACK CLOSED", f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED"],
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 TIME_WAIT CLOSED", f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED"],
    },
    "syn-in-syn-rcvd": {
        "client": [f"{EST} CLOSED"],
        "server": [LISTENING, "LISTEN SYN_RCVD LISTEN"],
    },
    "syn-everywhere": {
        "client": [
            f"{EST} CLOSED",
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{EST} FIN_WAIT_1 TIME_WAIT CLOSED",
            f"{EST} CLOSE_WAIT CLOSED",
            f"{EST} CLOSE_WAIT CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            f"{EST} CLOSE_WAIT LAST_ACK CLOSED",
            "CLOSED SYN_SENT SYN_RCVD CLOSED",
        ],
        "server": [
            LISTENING,
            f"{CHILD} CLOSED",
            f"{CHILD} CLOSE_WAIT CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSED",
            f"{CHILD} FIN_WAIT_1 FIN_WAIT_2 CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING CLOSED",
            f"{CHILD} FIN_WAIT_1 TIME_WAIT CLOSED",
            "CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSED",
        ],
    },
    "why-time-wait": {
        "client": [
            f"{EST} CLOSED",  # act 1: SO_LINGER 0, no TIME_WAIT
            f"{EST} CLOSED",  # the new incarnation, stale bytes unread at close: RST
            f"{EST} FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED",  # act 2: TIME_WAIT kept
            f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
        ],
        "server": [
            LISTENING,
            f"{CHILD} CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSED",
            f"{CHILD} CLOSE_WAIT LAST_ACK CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
        ],
    },
    "quiet-time": {
        "client": [f"{EST} CLOSED", f"{EST} CLOSED", f"{EST} CLOSED", f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED"],
        "server": [
            LISTENING,
            CHILD,  # forgotten in the crash
            f"{LISTENING} CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSED",
            LISTENING,
            CHILD,
            f"{LISTENING} CLOSED",
            f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
        ],
    },
    "icmp-errors": {
        "client": [
            "CLOSED SYN_SENT CLOSED",
            f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            "CLOSED SYN_SENT SYN_RCVD CLOSED",
        ],
        "server": [
            LISTENING,
            "LISTEN SYN_RCVD LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
            "CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSED",
        ],
    },
    "ecn": {
        "client": [f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT"],
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT"],
    },
    "fast-open": {
        "client": [f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT"] * 2,
        # the second child took the request from the SYN and closed before the final ACK
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT", "LISTEN SYN_RCVD FIN_WAIT_1 CLOSING TIME_WAIT"],
    },
    "tail-loss-probe": {
        "client": [f"{EST} FIN_WAIT_1 CLOSING TIME_WAIT"],
        "server": [LISTENING, f"{CHILD} FIN_WAIT_1 CLOSING TIME_WAIT"],
    },
}

_RUNS: dict[str, object] = {}


def run_of(name: str):
    if name not in _RUNS:
        _RUNS[name] = SCENARIOS[name].run()
    return _RUNS[name]


def causes(run, host: str) -> list[str]:
    return [f"{f} -> {t}: {c}" for f, t, c in run.transitions(host)]


def outcomes(run, host: str) -> list[str]:
    return [e["outcome"] for e in run.events if e["kind"] == "outcome" and e["host"] == host]


def test_every_scenario_has_an_expected_path() -> None:
    assert list(EXPECTED) == list(SCENARIOS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_state_paths(name: str) -> None:
    run = run_of(name)
    got = {host: [" ".join(p) for p in paths] for host, paths in run.paths().items()}
    assert got == EXPECTED[name]
    # Nothing went wrong inside the hosts, and every transition is a row of the table.
    for host in run.hosts.values():
        assert host.errors == []
    transitions_from_events(run.events, strict=True)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_record(name: str) -> None:
    sc = SCENARIOS[name]
    assert sc.name == name
    assert sc.description and "\n" not in sc.description
    assert len(sc.explanation) > 200 and "RFC" in sc.explanation
    assert (sc.left, sc.right) == ("client", "server")
    assert run_of(name).summary


def test_union_covers_the_transition_table() -> None:
    taken: Counter = Counter()
    for name in SCENARIOS:
        taken += transitions_from_events(run_of(name).events)
    _covered, missing = coverage(taken)
    assert [t.label() for t in missing] == []


def test_handshake_segments() -> None:
    segs = [
        (e["src"], e["flags"], e["seq"], e["ack"], e["len"], e["fate"])
        for e in run_of("handshake").log.of_kind("segment")
    ]
    assert segs == [
        ("client", "S", 0, 0, 0, "delivered"),
        ("server", "S.", 0, 1, 0, "delivered"),
        ("client", ".", 1, 1, 0, "delivered"),
    ]


def test_active_close_time_wait_lasts_2msl() -> None:
    run = run_of("active-close")
    tw = [
        e["t"]
        for e in run.events
        if e["kind"] == "state"
        and e["host"] == "client"
        and e["to"] in ("TIME_WAIT", "CLOSED")
        and e["from"] != "SYN_SENT"
    ]
    assert len(tw) == 2 and tw[1] - tw[0] == pytest.approx(60.0)


def test_fin_ack_together_causes() -> None:
    run = run_of("fin-ack-together")
    assert "FIN_WAIT_1 -> TIME_WAIT: rcv FIN+ACK of FIN" in causes(run, "client")
    fins = [e for e in run.log.of_kind("segment") if e["src"] == "server" and "F" in e["flags"]]
    assert [(e["flags"], e["ack"]) for e in fins] == [("F.", 2)]


def test_simultaneous_close_causes() -> None:
    run = run_of("simultaneous-close")
    for host in ("client", "server"):
        assert causes(run, host)[-3:] == [
            "FIN_WAIT_1 -> CLOSING: rcv FIN",
            "CLOSING -> TIME_WAIT: rcv ACK of FIN",
            "TIME_WAIT -> CLOSED: timeout 2MSL",
        ]


def test_refused() -> None:
    run = run_of("refused")
    assert run.data["errno"] == errno.ECONNREFUSED
    assert causes(run, "client") == ["CLOSED -> SYN_SENT: connect", "SYN_SENT -> CLOSED: rcv RST"]
    assert outcomes(run, "client") == ["refused"]
    assert [e["flags"] for e in run.log.of_kind("segment")] == ["S", "R."]


def test_syn_timeout_backoff() -> None:
    run = run_of("syn-timeout")
    assert run.data["errno"] == errno.ETIMEDOUT
    assert run.data["syn_times"] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert causes(run, "client")[-1] == "SYN_SENT -> CLOSED: timeout"
    assert outcomes(run, "client") == ["timed out"]


def test_reset_in_syn_rcvd_causes() -> None:
    run = run_of("reset-in-syn-rcvd")
    assert "SYN_RCVD -> LISTEN: rcv RST" in causes(run, "server")
    segs = [(e["src"], e["flags"]) for e in run.log.of_kind("segment")][:3]
    assert segs == [("client", "S"), ("server", "S."), ("client", "R")]


def test_close_in_syn_rcvd_cause() -> None:
    assert "SYN_RCVD -> FIN_WAIT_1: close" in causes(run_of("close-in-syn-rcvd"), "client")


def test_listen_then_send() -> None:
    run = run_of("listen-then-send")
    assert causes(run, "client")[:2] == ["CLOSED -> LISTEN: listen", "LISTEN -> SYN_SENT: send"]
    assert run.data["received"] == b"hello"


def test_lost_final_ack_restarts_2msl() -> None:
    run = run_of("lost-final-ack")
    fins = run.data["server_fins"]
    assert len(fins) == 2  # the FIN and its retransmission
    acks = [e for e in run.log.of_kind("segment") if e["src"] == "client" and e["t"] >= fins[0]]
    assert [e["fate"] for e in acks] == ["dropped", "delivered"]  # the second ACK gets through
    closed = [e["t"] for e in run.events if e["kind"] == "state" and e["host"] == "client" and e["to"] == "CLOSED"]
    # 2MSL counted again from the retransmitted FIN's arrival, not from the first one.
    assert closed == [pytest.approx(acks[1]["t"] + 60.0)]


def test_abort_sends_rst_and_no_time_wait() -> None:
    run = run_of("abort")
    assert causes(run, "client")[-1] == "ESTABLISHED -> CLOSED: abort"
    assert causes(run, "server")[-1] == "ESTABLISHED -> CLOSED: rcv RST"
    assert run.data["errno"] == errno.ECONNRESET
    assert [e["flags"] for e in run.log.of_kind("segment")][-1] == "R."  # Linux: with an ACK


def test_mss_sizes() -> None:
    run = run_of("mss")
    syn = run.log.of_kind("segment")[0]
    assert (syn["flags"], syn["options"]) == ("S", "")
    assert run.data["sizes"] == {"client": [1460, 1460, 152], "server": [536, 536, 536, 536, 536, 392]}


def test_lossy_transfer_intact() -> None:
    run = run_of("lossy-transfer")
    d = run.data
    assert d["sent_sha256"] == d["received_sha256"]
    assert d["dropped"] > 0 and d["retransmitted"] > 0 and d["reordered"] > 0


def test_time_wait_restart_errnos() -> None:
    run = run_of("time-wait-restart")
    assert run.data["first_errno"] == errno.EADDRINUSE
    assert run.data["second_bind"] == "ok"


def test_backlog_linux_behaviour() -> None:
    d = run_of("backlog").data
    # 5 first SYNs (3 fit the SYN queue, which is full above the backlog), 2 dropped and
    # retransmitted, dropped again by the full accept queue, and accepted at the third try.
    assert d["syns"] == 9
    assert d["listen_drops"] == 4
    assert d["listen_overflows"] == 2
    assert d["accept_times"] == [2.0, 2.5, 3.0, 3.5, 4.0]


def test_syn_flood_a_cookie_serves_the_client() -> None:
    run = run_of("syn-flood")
    d = run.data
    assert d["syn_queue"] == 3  # listen(2): full above the backlog
    assert (d["syncookies_sent"], d["syncookies_recv"]) == (2, 1)  # the 4th spoofed SYN and the client's
    assert d["received"] == b"served during a flood"
    # The cookie's SYN-ACK is stateless: the server's child appears only when the ACK comes back.
    segments = [e for e in run.events if e["kind"] == "segment"]
    client_syn = next(e for e in segments if e["flags"] == "S" and e["sport"] >= 32768)  # not a spoofed one
    synack = next(e for e in segments if e["flags"] == "S." and e["dport"] == client_syn["sport"])
    child = [
        e
        for e in run.events
        if e["kind"] == "state" and e["conn"].endswith(f":{client_syn['sport']}") and e["host"] == "server"
    ]
    assert child[0]["t"] > synack["t_arrive"]
    assert (child[0]["from"], child[0]["to"], child[1]["to"]) == ("LISTEN", "SYN_RCVD", "ESTABLISHED")


def test_rst_everywhere_causes() -> None:
    run = run_of("rst-everywhere")
    rst = {c for c in causes(run, "client") + causes(run, "server") if c.endswith("rcv RST")}
    assert rst == {
        f"{s} -> CLOSED: rcv RST"
        for s in ("FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "SYN_RCVD")
    }


def test_timeout_everywhere_causes() -> None:
    run = run_of("timeout-everywhere")
    all_causes = set(causes(run, "client") + causes(run, "server"))
    for state in ("ESTABLISHED", "SYN_RCVD", "FIN_WAIT_1", "CLOSING", "CLOSE_WAIT", "LAST_ACK"):
        assert f"{state} -> CLOSED: timeout" in all_causes
    assert "FIN_WAIT_2 -> CLOSED: timeout FIN_WAIT_2" in all_causes


def test_unread_data_close_causes() -> None:
    got = [c for c in causes(run_of("unread-data-close"), "client") if "unread" in c]
    assert got == [
        f"{s} -> CLOSED: close, unread data" for s in ("ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "FIN_WAIT_2")
    ]


def test_time_wait_reopen_cause() -> None:
    assert "TIME_WAIT -> CLOSED: rcv SYN in TIME_WAIT" in causes(run_of("time-wait-reopen"), "server")


def test_syn_in_syn_rcvd_cause() -> None:
    run = run_of("syn-in-syn-rcvd")
    assert causes(run, "server")[-1] == "SYN_RCVD -> LISTEN: rcv SYN"
    assert run.data["errno"] == errno.ECONNRESET


def test_syn_everywhere_causes() -> None:
    run = run_of("syn-everywhere")
    syn = [c for c in causes(run, "server") + causes(run, "client") if c.endswith("rcv SYN") and "CLOSED:" in c]
    assert syn == [
        f"{s} -> CLOSED: rcv SYN"
        for s in (
            "ESTABLISHED",
            "CLOSE_WAIT",
            "LAST_ACK",
            "FIN_WAIT_1",
            "FIN_WAIT_2",
            "CLOSING",
            "TIME_WAIT",
            "SYN_RCVD",
        )
    ]
    # Each SYN was answered <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK> (RFC 9293 3.5.2).
    rsts = [e for e in run.events if e["kind"] == "segment" and e["flags"] == "R." and e["abs_seq"] == 0]
    assert len(rsts) == 8


def test_why_time_wait_shows_the_old_duplicate_hazard() -> None:
    run = run_of("why-time-wait")
    # act 1 (no TIME_WAIT): the new connection's first bytes are the old incarnation's;
    # act 2 (TIME_WAIT kept): the old copy changed nothing.
    assert run.data["corrupted"] == [True, False]
    stale, fresh = run.data["read"]
    assert b"old incarnation data" in stale and fresh == b"fresh data of the new incarnation\n"
    notes = [e["text"] for e in run.events if e["kind"] == "note"]
    assert any("EADDRINUSE" in t for t in notes)  # act 2: the port is held by TIME_WAIT


def test_quiet_time_keeps_a_restarted_host_silent_for_msl() -> None:
    run = run_of("quiet-time")
    assert run.data["corrupted"] == [True, False]
    shift_now, shift_quiet = run.data["isn_shift"]
    assert shift_now < 100_000  # restarted at once: the old sequence space again
    assert shift_quiet > 30 * 250_000  # after MSL (30 s) of the ISN clock
    server = run.hosts["server"]
    assert server.counters["quiet_time_drops"] > 0
    # Nothing left the server during the quiet time of act 2.
    restart = max(e["t"] for e in run.events if e["kind"] == "note" and "quiet until" in e["text"])
    sent = [
        e for e in run.events if e["kind"] == "segment" and e["src"] == "server" and restart < e["t"] < restart + 30
    ]
    assert [e["len"] for e in sent] == [1460]  # only the late old copy the story put on the wire


def test_icmp_errors_end_an_opening_connection_at_once() -> None:
    run = run_of("icmp-errors")
    assert run.data["errno"] == errno.ECONNREFUSED
    assert "SYN_SENT -> CLOSED: rcv ICMP error" in causes(run, "client")
    assert "SYN_RCVD -> CLOSED: rcv ICMP error" in causes(run, "client")
    assert "SYN_RCVD -> LISTEN: rcv ICMP error" in causes(run, "server")
    # the rejected SYN was never sent again: connect() failed within the first RTO
    first = next(e for e in run.events if e["kind"] == "outcome" and e["outcome"] == "unreachable")
    assert first["t"] < 0.2


def test_same_seed_same_trace() -> None:
    a = SCENARIOS["lossy-transfer"].run(seed=7, size=100_000).events
    b = SCENARIOS["lossy-transfer"].run(seed=7, size=100_000).events
    c = SCENARIOS["lossy-transfer"].run(seed=8, size=100_000).events
    assert a == b
    assert a != c


def test_ecn_story_marks_echoes_and_reduces_without_loss() -> None:
    run = run_of("ecn")
    segs = run.log.of_kind("segment")
    assert [e["flags"] for e in segs[:2]] == ["SEW", "SE."]
    assert run.data["marked"] == 2 and run.data["cwr"] == 1 and run.data["retransmitted"] == 0
    assert run.data["echoes"] >= 1
    # the echo stops after the client's CWR: no ECE on the server's ACKs after it
    cwr_at = next(e["t_arrive"] for e in segs if e["src"] == "client" and e["flags"] == "W.")
    later = [e for e in segs if e["src"] == "server" and e["t"] > cwr_at]
    assert later and all("E" not in e["flags"] for e in later)
    reasons = [e["reason"] for e in run.log.of_kind("cwnd") if e["host"] == "client"]
    assert reasons.count("ECN echo") == 1


def test_fast_open_story_saves_a_round_trip() -> None:
    run = run_of("fast-open")
    first, second = run.data["times"]
    assert first == pytest.approx(0.2) and second == pytest.approx(0.1)  # 50 ms each way
    syns = [e for e in run.log.of_kind("segment") if e["flags"] == "S"]
    assert [e["len"] for e in syns] == [0, 18]
    assert "tfo  cookiereq" in syns[0]["options"] and "tfo  cookie " in syns[1]["options"]


def test_tail_loss_probe_story_repairs_without_a_timeout() -> None:
    run = run_of("tail-loss-probe")
    (probe_t, probe_seq), (rack_t, rack_seq) = run.data["retransmitted"]
    assert (probe_seq, rack_seq) == (7241, 5793)  # the last segment first, then the hole
    assert probe_t == pytest.approx(0.302)  # the ACK came 100 ms after; then 2 SRTT + 2 ms
    assert rack_t == pytest.approx(probe_t + 0.1)  # the SACK of the probe: RACK marks the hole
    assert run.data["rto"] == 0
