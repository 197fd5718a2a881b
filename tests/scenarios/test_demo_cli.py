"""``tcplab demo`` through ``tcplab.cli.main`` (and once as ``python -m tcplab``)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tcplab.cli import main
from tcplab.scenarios import SCENARIOS


def test_lists_scenarios_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = out[: len(SCENARIOS)]
    assert [line.split()[0] for line in listed] == list(SCENARIOS)
    for line, sc in zip(listed, SCENARIOS.values(), strict=True):
        assert line.endswith(sc.description)


def test_plays_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "simultaneous-close"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # not a terminal: plain text
    lines = out.splitlines()
    assert lines[0] == f"simultaneous-close: {SCENARIOS['simultaneous-close'].description}"
    assert any("CLOSING" in line and "│" in line for line in lines)  # the ladder, with states
    assert any(line.startswith("outcome: the FINs crossed") for line in lines)
    assert "transitions:" in lines
    text = " ".join(out.split())
    assert ("FIN_WAIT_1 -[rcv FIN]-> CLOSING -[rcv ACK of FIN]-> TIME_WAIT -[timeout 2MSL]-> CLOSED") in text


SEGMENT_FIELDS = {"t", "kind", "host", "src", "dst", "flags", "seq", "ack", "len", "win", "fate"}
STATE_FIELDS = {"t", "kind", "host", "from", "to", "cause"}


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "handshake", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events
    kinds = {e["kind"] for e in events}
    assert {"state", "segment", "outcome"} <= kinds
    for e in events:
        assert isinstance(e["t"], (int, float))
        if e["kind"] == "segment":
            assert set(e) >= SEGMENT_FIELDS
        elif e["kind"] == "state":
            assert set(e) >= STATE_FIELDS
    first = next(e for e in events if e["kind"] == "state" and e["host"] == "client")
    assert {k: first[k] for k in STATE_FIELDS} == {
        "t": 0.0,
        "kind": "state",
        "host": "client",
        "from": "CLOSED",
        "to": "SYN_SENT",
        "cause": "connect",
    }
    syn = next(e for e in events if e["kind"] == "segment")
    assert {k: syn[k] for k in SEGMENT_FIELDS} == {
        "t": 0.0,
        "kind": "segment",
        "host": "client",
        "src": "client",
        "dst": "server",
        "flags": "S",
        "seq": 0,
        "ack": 0,
        "len": 0,
        "win": 65535,
        "fate": "delivered",
    }


def test_same_seed_byte_identical_json(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for seed in (3, 3, 4):
        assert main(["demo", "lossy-transfer", "--json", "--seed", str(seed)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_options_change_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "handshake", "--json", "--delay", "10"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    synack = next(e for e in events if e["kind"] == "segment" and e["flags"] == "S.")
    assert synack["t"] == 0.01
    assert main(["demo", "lossy-transfer", "--json", "--loss", "0"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not [e for e in events if e["kind"] == "segment" and e["fate"] == "dropped"]


def test_svg_outputs_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ladder, diagram = tmp_path / "ladder.svg", tmp_path / "diagram.svg"
    assert main(["demo", "lost-final-ack", "--ladder-svg", str(ladder), "--diagram-svg", str(diagram)]) == 0
    capsys.readouterr()
    for path in (ladder, diagram):
        root = ET.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "LAST_ACK" in ladder.read_text() and "TIME_WAIT" in diagram.read_text()


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_pcap_read_by_tshark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "demo.pcap"
    assert main(["demo", "mss", "--pcap", str(pcap)]) == 0
    capsys.readouterr()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C"}

    def tshark(*args: str) -> str:
        done = subprocess.run(
            [TSHARK, "-n", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = tshark("-T", "fields", "-e", "tcp.flags.str", "-e", "tcp.len").splitlines()
    n_segments = len(SCENARIOS["mss"].run().log.of_kind("segment"))
    assert len(rows) == n_segments  # every delivered packet (nothing is dropped in this story)
    bad = "_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0"
    assert tshark("-Y", bad).strip() == ""
    lens = sorted({int(r.split("\t")[1]) for r in rows if r.split("\t")[1] not in ("", "0")})
    assert lens == [152, 392, 536, 1460]


def test_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "no-such-story"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scenario 'no-such-story'" in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["demo", "handshake", "--loss", "1.5"], "--loss must be a probability"),
        (["demo", "handshake", "--delay", "-3"], "--delay must be between"),
        (["demo", "--all"], "--all needs --report"),
        (["demo", "handshake", "--all", "--report", "x"], "not both"),
        (["demo", "--json"], "which scenario?"),
    ],
)
def test_bad_options(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_bad_option_value_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "handshake", "--seed", "many"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "x.svg"
    assert main(["demo", "handshake", "--ladder-svg", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the ladder SVG" in err


def test_all_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["demo", "--all", "--report", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    index = (out / "index.html").read_text()
    pages = sorted(p.name for p in out.glob("*.html") if p.name != "index.html")
    assert pages == sorted(f"{name}.html" for name in SCENARIOS)
    for name in SCENARIOS:
        assert f'href="{name}.html"' in index
        page = (out / f"{name}.html").read_text()
        assert SCENARIOS[name].description.replace("'", "&#x27;") in page
        assert "What happened in this run" in page and page.count("<svg") >= 3
        # each page links its capture, its trace, its time-sequence graph and the lab
        for href in (f"{name}.pcapng", f"{name}.jsonl"):
            assert f'href="{href}"' in page and (out / href).stat().st_size > 0
        if f'href="{name}-tsg.svg"' in page:
            assert ET.parse(out / f"{name}-tsg.svg").getroot().get("class") == "tcplab-tsg"
        lab = re.search(r'href="(http://127\.0\.0\.1:9580/\?[^"]+)">open in the lab<', page)
        assert lab is not None and html.unescape(lab.group(1)).endswith(f"?story={name}&seed=0&at=0")
    # the capture is the run's: its packets are the trace's segments, in order
    from tcplab.net.capture import read_capture
    from tcplab.wire import parse_packet

    trace = [json.loads(line) for line in (out / "lost-final-ack.jsonl").read_text().splitlines()]
    assert trace[0]["kind"] == "clock"
    sent = [(e["abs_seq"], e["fate"]) for e in trace if e["kind"] == "segment"]
    packets = list(read_capture(out / "lost-final-ack.pcapng"))
    assert [(parse_packet(r.packet).tcp.seq, (r.comments or ("delivered",))[0].split(" ")[0].rstrip(":"))
            for r in packets] == sent  # fmt: skip
    assert "lossy-transfer-tsg.svg" in (out / "lossy-transfer.html").read_text()


def test_subprocess_python_m_tcplab(tmp_path: Path) -> None:
    env = dict(os.environ, NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "demo", "handshake"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "SYN_SENT" in done.stdout and "outcome: SYN, SYN-ACK, ACK" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "tcplab", "demo", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("tcplab: unknown scenario")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_pcapng_shows_every_fate_to_tshark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default capture: pcapng, every segment when it was sent (the lost ones too), the
    sending host as the interface, a comment on each one the network did not simply deliver,
    stamped on the run's clock from 2000-01-01T00:00:00Z."""
    cap = tmp_path / "lossy.pcapng"
    assert main(["demo", "lossy-transfer", "--seed", "2", "--pcap", str(cap)]) == 0
    capsys.readouterr()
    done = subprocess.run(
        [TSHARK, "-n", "-r", str(cap), "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-e", "frame.time_epoch",
         "-e", "frame.interface_name", "-e", "tcp.seq_raw", "-e", "tcp.len", "-e", "frame.comment"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C"},
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "Running as user" not in line] == []
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    events = [e for e in SCENARIOS["lossy-transfer"].run(seed=2).events if e["kind"] == "segment"]
    assert len(rows) == len(events)
    for (when, iface, seq, length, comment), e in zip(rows, events, strict=True):
        assert abs(float(when) - 946684800.0 - e["t"]) < 1e-6  # the trace keeps microseconds
        assert (iface, int(seq), int(length)) == (e["src"], e["abs_seq"], e["len"])
        if e["fate"] in ("dropped", "duplicated", "corrupted"):
            assert comment.startswith(e["fate"]), (comment, e)
        elif comment:
            assert comment.startswith("delayed by ")  # reordered on the link
    assert sum(1 for r in rows if r[4].startswith("dropped")) == sum(e["fate"] == "dropped" for e in events) > 0
