"""`tcplab drill`: one line per script, failure details, summary, exit status, --json, --trace."""

from __future__ import annotations

import json
import pathlib

from tcplab.cli import main

HERE = pathlib.Path(__file__).parent
PASSING = HERE / "scripts" / "handshake" / "passive-open.pkt"
FAILING = HERE / "negative" / "wrong-seq.pkt"


def test_pass_and_summary(capsys):
    assert main(["drill", str(PASSING)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"PASS {PASSING}", "1 passed, 0 failed, 0 skipped"]


def test_failure_details_and_exit_status(capsys):
    assert main(["drill", str(PASSING), str(FAILING)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"PASS {PASSING}"
    assert out[1] == f"FAIL {FAILING}:10: wrong sequence number: 1, expected 2"
    assert out[2] == "    script:  +0  > P. 2:12(10) ack 1"
    assert out[3] == "    tcplab:  0.100000 > P. 1:11(10) ack 1 win 63"
    assert out[4] == "    last events:"
    assert "0.100000 > P. 1:11(10) ack 1 win 63" in out[-2]
    assert out[-1] == "1 passed, 1 failed, 0 skipped"


def test_directory_skip_and_defines(tmp_path, capsys):
    (tmp_path / "a.pkt").write_text("0 `sysctl -w net.ipv4.tcp_congestion_control=vegas`\n")
    (tmp_path / "b.pkt").write_text("#ifdef X\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = FD\n#endif\n")
    (tmp_path / "notes.txt").write_text("not a script")
    assert main(["drill", str(tmp_path), "-D", "X", "-D", "FD=3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"SKIP {tmp_path / 'a.pkt'}:1: sysctl net.ipv4.tcp_congestion_control=vegas: "
        "tcplab has no vegas congestion control",
        f"PASS {tmp_path / 'b.pkt'}",
        "1 passed, 0 failed, 1 skipped",
    ]


def test_a_broken_script_is_an_error_naming_file_line_and_column_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.pkt"
    bad.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > . 1:1(0) ack\n")
    typo = tmp_path / "typo.pkt"
    typo.write_text(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_REUSEADR, [1], 4) = 0\n"
    )
    assert main(["drill", str(PASSING), str(bad), str(typo), str(FAILING)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert f"ERROR {bad}:2:18: expected 'ack' value, found end of file" in out
    assert (
        f"ERROR {typo}:2:30: unknown constant SO_REUSEADR (did you mean SO_REUSEADDR?) (no packetdrill knows it)" in out
    )
    assert out[-1] == "1 passed, 1 failed, 0 skipped, 2 broken"


def test_skip_report_groups_and_counts_the_reasons(tmp_path, capsys):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.pkt").write_text("0 `sysctl -q net.ipv4.tcp_ecn=1`\n")
    (tmp_path / "d.pkt").write_text("0 pipe([3, 4]) = 0\n")
    assert main(["drill", "--skip-report", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-6:] == [
        "0 passed, 0 failed, 4 skipped",
        "skipped, by reason (4 scripts, 2 reasons):",
        "     3  sysctl net.ipv4.tcp_ecn=1: tcplab has no ECN (RFC 3168)",
        f"        {tmp_path / 'a.pkt'}:1, {tmp_path / 'b.pkt'}:1, {tmp_path / 'c.pkt'}:1",
        "     1  pipe(): tcplab has no pipes",
        f"        {tmp_path / 'd.pkt'}:1",
    ]


def test_verbose_prints_every_packet_as_tcpdump_would(capsys):
    assert main(["drill", "-v", str(PASSING)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{PASSING}:"
    assert out[1].startswith("  0.000000 < IP 198.18.0.1.40001 > 198.18.0.2.8080: Flags [S], seq 0, win 65535")
    assert out[2].startswith("  0.000000 > IP 198.18.0.2.8080 > 198.18.0.1.40001: Flags [S.], seq 0, ack 1,")
    assert out[-1] == "1 passed, 0 failed, 0 skipped"


def test_json_lines(capsys):
    assert main(["drill", "--json", str(PASSING), str(FAILING)]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["status"] for r in rows] == ["PASS", "FAIL"]
    assert rows[1]["line"] == 10
    assert rows[1]["expected"] == "+0  > P. 2:12(10) ack 1"
    assert captured.err.strip() == "1 passed, 1 failed, 0 skipped"


def test_profile_compare_and_tolerance_flags(tmp_path, capsys):
    script = tmp_path / "s.pkt"
    script.write_text(
        PASSING.read_text().replace(
            "> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 1000 ecr 100,nop,wscale 10>",
            "> S. 0:0(0) ack 1 <nop,wscale 10,sackOK,mss 1460,TS val 1000 ecr 100>",
        )
    )
    assert main(["drill", str(script)]) == 1
    assert main(["drill", "--compare", "portable", str(script)]) == 0
    capsys.readouterr()
    # the old spelling still works, and says what it is now
    assert main(["drill", "--profile", "portable", str(script)]) == 0
    assert "note: --profile portable is now --compare portable" in capsys.readouterr().err
    assert main(["drill", "--profile", "portable", "--compare", "strict", str(script)]) == 2
    assert "old spelling of --compare portable" in capsys.readouterr().err
    late = tmp_path / "late.pkt"
    late.write_text(PASSING.read_text().replace("+0  > . 1:1(0) ack 101", "+.01 > . 1:1(0) ack 101"))
    assert main(["drill", str(late)]) == 1
    assert main(["drill", "--tolerance-usecs", "20000", str(late)]) == 0
    assert main(["drill", "--tolerance_usecs=20000", str(late)]) == 0
    capsys.readouterr()


def test_freebsd_profile_numbers_constants_as_freebsd(tmp_path, capsys):
    script = tmp_path / "f.pkt"
    script.write_text(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n"
        "+0 fcntl(3, F_GETFL) = 0x6 (flags O_RDWR|O_NONBLOCK)\n"
    )
    assert main(["drill", "--profile", "freebsd", str(script)]) == 0
    assert main(["drill", str(script)]) == 1
    out = capsys.readouterr().out
    assert "fcntl() returned 0x802 (flags O_RDWR|O_NONBLOCK), expected 0x6 (flags O_RDWR|0x4)" in out


def test_trace_writes_svg_and_jsonl(tmp_path, capsys):
    out = tmp_path / "traces"
    assert main(["drill", "--trace", str(out), str(PASSING), str(FAILING)]) == 1
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [
        "passive-open.jsonl",
        "passive-open.svg",
        "wrong-seq.jsonl",
        "wrong-seq.svg",
    ]
    events = [json.loads(line) for line in (out / "passive-open.jsonl").read_text().splitlines()]
    assert events[0] == {
        "t": 0.0,
        "kind": "state",
        "host": "tcplab",
        "conn": "198.18.0.2:8080-*:*",
        "from": "CLOSED",
        "to": "LISTEN",
        "cause": "listen",
    }
    segs = [e for e in events if e["kind"] == "segment"]
    assert (segs[0]["src"], segs[0]["dst"], segs[0]["flags"]) == ("script", "tcplab", "S")
    assert (segs[1]["src"], segs[1]["dst"], segs[1]["flags"]) == ("tcplab", "script", "S.")
    svg = (out / "passive-open.svg").read_text()
    assert svg.startswith("<svg") or svg.startswith("<?xml")
    assert "S." in svg


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["drill", str(tmp_path / "missing.pkt")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["drill", str(tmp_path)]) == 2
    assert "no .pkt scripts" in capsys.readouterr().err
    assert main(["drill", "-D", "1X=2", str(PASSING)]) == 2
    assert "expected NAME or NAME=VALUE" in capsys.readouterr().err
