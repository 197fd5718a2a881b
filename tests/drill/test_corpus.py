"""Run the script corpus.

- scripts/ (Linux style, ``--profile linux``) and freebsd/ (FreeBSD style, ``--profile freebsd``):
  every script PASSes, under both comparison modes;
- negative/: every script FAILs at the stated line for the stated reason (the interpreter
  catches what is wrong);
- skips/: every script SKIPs, naming what tcplab lacks;
- broken/: every script is an ERROR at the stated line and column (typos never SKIP);
- differences/: scripts that state what Linux (or FreeBSD, under differences/freebsd/) does
  where tcplab behaves otherwise: each FAILs at the stated line for a named TCP reason. When
  tcplab learns the behaviour, the test says so and the script moves to scripts/.
"""

from __future__ import annotations

import pathlib

import pytest

from tcplab.drill import run_file

HERE = pathlib.Path(__file__).parent
SCRIPTS = sorted((HERE / "scripts").rglob("*.pkt"))
FREEBSD = sorted((HERE / "freebsd").rglob("*.pkt"))


def _profile(path: pathlib.Path) -> str:
    return "freebsd" if "freebsd" in path.parts else "linux"


def _report(outcome) -> str:
    lines = [
        f"{outcome.status} {outcome.path}:{outcome.line}: {outcome.reason}",
        f"  script: {outcome.expected}",
        f"  tcplab: {outcome.actual}",
    ]
    lines += [f"    {e}" for e in outcome.recent]
    return "\n".join(lines)


def test_corpus_is_there():
    groups = {p.parent.name for p in SCRIPTS}
    assert {
        "handshake",
        "close",
        "rst",
        "retransmit",
        "timewait",
        "window",
        "states",
        "arrivals",
        "conventions",
        "nosocket",
        "syscalls",
        "icmp",
        "linux",
    } <= groups
    assert len(SCRIPTS) >= 100
    assert {p.parent.name for p in FREEBSD} >= {
        "syn-sent",
        "established",
        "close-wait",
        "fin-wait-1",
        "fin-wait-2",
        "closing",
        "last-ack",
        "time-wait",
    }


@pytest.mark.parametrize("compare", ["strict", "portable"])
@pytest.mark.parametrize("path", SCRIPTS + FREEBSD, ids=lambda p: str(p.relative_to(HERE)))
def test_script_passes(path, compare):
    outcome = run_file(str(path), _profile(path), compare=compare)
    assert outcome.status == "PASS", _report(outcome)


# (file, line, words of the reason)
NEGATIVE = [
    ("wrong-flag.pkt", 6, "wrong flags: S., expected S"),
    ("wrong-seq.pkt", 10, "wrong sequence number: 1, expected 2"),
    ("unexpected-segment.pkt", 11, "wrong flags: P., expected F."),
    ("late.pkt", 7, "segment too late: sent at 1.000000"),
    ("early.pkt", 7, "segment too early: sent at 1.000000"),
    ("wrong-ack.pkt", 6, "wrong ack: 1, expected 2"),
    ("wrong-options.pkt", 6, "wrong options: <mss 1460,nop,wscale 10>, expected <mss 1460,nop,wscale 6>"),
    ("wrong-window.pkt", 6, "wrong window: 64240, expected 1000"),
    ("nothing-sent.pkt", 9, "tcplab sent nothing"),
    ("wrong-result.pkt", 8, "accept() returned -1 EAGAIN"),
    ("blocking-call-early.pkt", 3, "the call returned early: at 0.100000, expected 0.300000"),
    ("python-assert.pkt", 6, "assertion failed: 10"),
    ("wrong-errno-value.pkt", 11, "getsockopt(SO_ERROR) value 104 (ECONNRESET), expected 111 (ECONNREFUSED)"),
    ("wrong-ecn.pkt", 6, "wrong IP ECN field: [noecn], expected [ect0]"),
    ("syn-ack-ack-not-relative.pkt", 7, "wrong ack: 1000001, expected 1"),
    ("closed-port-rst-has-no-ack.pkt", 4, "wrong flags: R, expected R."),
    ("icmp-not-lowering.pkt", 14, "wrong payload length: 1148, expected 1448"),
    ("epoll-wrong-events.pkt", 11, "epoll_wait() events 0x1, expected 0x4"),
]

SKIPS = [
    ("shell-command.pkt", 1, "shell command 'tc qdisc add dev tun0 root pfifo' (drill never runs shell commands)"),
    ("defaults-script-with-a-command.pkt", 1, "shell command 'ip tcp_metrics flush all' (drill never runs"),
    ("udp.pkt", 2, "UDP packets (tcplab has TCP only)"),
    ("udp-socket.pkt", 1, "SOCK_DGRAM sockets (tcplab has TCP only)"),
    ("accecn-flags.pkt", 4, "AccECN (RFC 9768: the AE flag and the ACE counter) is not in tcplab"),
    ("gro-mss.pkt", 9, "--mss=1000 makes a segment larger than it a GRO aggregate; tcplab has no GRO"),
    ("freebsd/nopush.pkt", 2, "socket option TCP_NOPUSH (freebsd only): tcplab has Linux's options"),
    ("moderate-rcvbuf-off.pkt", 1, "sysctl net.ipv4.tcp_moderate_rcvbuf=0: tcplab has no switch for auto-tuning"),
    ("pipe.pkt", 1, "pipe(): tcplab has no pipes"),
]

BROKEN = [
    ("unknown-syscall.pkt", 2, 5, "unknown system call sokcet() (no packetdrill has it)"),
    ("unknown-constant.pkt", 2, 31, "unknown constant SO_REUSEADR (did you mean SO_REUSEADDR?)"),
    ("unknown-errno.pkt", 2, 27, "unknown errno ECONNRESETT (did you mean ECONNRESET?)"),
    ("unknown-option.pkt", 1, 1, "unknown option --tolerance_usec (no packetdrill has it)"),
    ("syntax-error.pkt", 3, 19, "expected 'ack' value, found end of file"),
    ("python-typo.pkt", 5, 15, "python snippet: unknown name tcpi_stat"),
    ("missing-shell-script.pkt", 1, None, "shell script ./no-such-defaults.sh: No such file or directory"),
]

DIFFERENCES = [
    ("freebsd/close-wait-rst-errno.pkt", 32, "write() failed with -1 EPIPE (Broken pipe), expected ECONNRESET"),
]


def _listed(directory: str, table: list) -> None:
    found = sorted(str(p.relative_to(HERE / directory)) for p in (HERE / directory).rglob("*.pkt"))
    assert found == sorted(row[0] for row in table)


@pytest.mark.parametrize("directory", ["negative", "skips", "broken", "differences"])
def test_every_script_is_listed(directory):
    _listed(directory, {"negative": NEGATIVE, "skips": SKIPS, "broken": BROKEN, "differences": DIFFERENCES}[directory])


@pytest.mark.parametrize(("name", "line", "reason"), NEGATIVE, ids=[n for n, _, _ in NEGATIVE])
def test_negative_script_fails(name, line, reason):
    outcome = run_file(str(HERE / "negative" / name))
    assert outcome.status == "FAIL", _report(outcome)
    assert outcome.line == line, _report(outcome)
    assert reason in outcome.reason, _report(outcome)
    assert outcome.expected  # the script line is quoted


@pytest.mark.parametrize(("name", "line", "reason"), SKIPS, ids=[n for n, _, _ in SKIPS])
def test_script_skips_naming_what_tcplab_lacks(name, line, reason):
    path = HERE / "skips" / name
    outcome = run_file(str(path), _profile(path))
    assert (outcome.status, outcome.line) == ("SKIP", line), _report(outcome)
    assert outcome.reason.startswith(reason), _report(outcome)


@pytest.mark.parametrize(("name", "line", "column", "reason"), BROKEN, ids=[n for n, *_ in BROKEN])
def test_broken_script_is_an_error_naming_the_place(name, line, column, reason):
    outcome = run_file(str(HERE / "broken" / name))
    assert (outcome.status, outcome.line, outcome.column) == ("ERROR", line, column), _report(outcome)
    assert outcome.reason.startswith(reason), _report(outcome)


@pytest.mark.parametrize(("name", "line", "reason"), DIFFERENCES, ids=[n for n, _, _ in DIFFERENCES])
def test_difference_from_the_reference_stack_is_a_named_failure(name, line, reason):
    path = HERE / "differences" / name
    outcome = run_file(str(path), _profile(path))
    assert outcome.status != "PASS", f"{name} passes now: tcplab behaves as the script says; move it to scripts/"
    assert (outcome.status, outcome.line) == ("FAIL", line), _report(outcome)
    assert reason in outcome.reason, _report(outcome)


# Rows of the transition table no BSD-socket script can reach: SEND on a listening socket
# (RFC 9293 3.10.2) has no socket call, and close() of a listener is CLOSE, never ABORT; RFC 793's
# reset on a SYN in TIME_WAIT needs Config(time_wait_rules="rfc", rfc5961=False), a TIME_WAIT no
# Linux or FreeBSD sysctl gives (both reopen or ACK; tests/tcp covers the row). ABORT in
# TIME_WAIT (RFC 9293 3.10.5): a Linux socket is closed once its connection is in TIME-WAIT, and
# close() with SO_LINGER {1, 0} cannot reach the timewait sock (states/time-wait-abort.pkt);
# tests/tcp covers the row.
UNREACHABLE = {
    ("LISTEN", "SYN_SENT", "send"),
    ("LISTEN", "CLOSED", "abort"),
    ("TIME_WAIT", "CLOSED", "rcv SYN"),
    ("TIME_WAIT", "CLOSED", "abort"),
}


def test_corpus_covers_every_transition_row():
    from tcplab.tcp.states import TRANSITIONS

    seen = set()
    # differences/ count too: what tcplab did up to where the reference stack differs
    for path in SCRIPTS + FREEBSD + sorted((HERE / "differences").rglob("*.pkt")):
        for e in run_file(str(path), _profile(path)).events:
            if e["kind"] == "state":
                seen.add((e["from"], e["to"], e["cause"]))
    rows = {(t.src.name, t.dst.name, str(t.cause)) for t in TRANSITIONS}
    assert seen <= rows  # every transition tcplab made is in the table
    assert rows - seen == UNREACHABLE
