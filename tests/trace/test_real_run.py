"""The pictures and the pcap writer on a real simulated run (two tcplab hosts, lossy rule)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tcplab.host import Host
from tcplab.net import sim
from tcplab.net.pcap import PcapWriter, read_pcap
from tcplab.net.simhost import SimRuntime
from tcplab.socket import Socket
from tcplab.trace.diagram import coverage, render_state_diagram_svg, transitions_from_events
from tcplab.trace.events import EventLog
from tcplab.trace.ladder import render_ladder
from tcplab.trace.svg_ladder import render_ladder_svg
from tcplab.wire import parse_packet

NS = "{http://www.w3.org/2000/svg}"


def _run(pcap_path: Path) -> list[dict]:
    log = EventLog()
    net = sim.Network(seed=7, log=log)
    client = net.add(Host("client", ["198.18.0.1"], log=log))
    server = net.add(Host("server", ["198.18.0.2"], log=log))
    net.link(client, server, delay=0.05)
    net.add_rule(sim.Rule("drop", sim.Match(src="client", has_flags="S")))  # the first SYN
    SimRuntime.attach(net)
    with PcapWriter(pcap_path) as pcap:
        net.capture(pcap)
        ls = Socket(server)
        ls.bind(("198.18.0.2", 80))
        ls.listen(5)
        cs = Socket(client)
        cs.connect(("198.18.0.2", 80))
        conn, _ = ls.accept()
        cs.sendall(b"x" * 3000)
        got = b""
        while len(got) < 3000:
            got += conn.recv(4096)
        cs.close()
        assert conn.recv(10) == b""
        conn.close()
        net.run(until=net.now + 100)
        net.stop_capture(pcap)
    return log.events


def test_real_run_pictures_and_pcap(tmp_path: Path) -> None:
    pcap_path = tmp_path / "run.pcap"
    events = _run(pcap_path)
    segments = [e for e in events if e["kind"] == "segment"]
    delivered = [e for e in segments if e["fate"] != "dropped"]
    assert len(segments) - len(delivered) == 1

    text = render_ladder(events, color=False, width=100)
    assert text.count("✗ dropped") == 1
    assert text.count("(retransmission)") == 1
    assert "TIME_WAIT" in text and "CLOSE_WAIT" in text and "LAST_ACK" in text

    root = ET.fromstring(render_ladder_svg(events))
    groups = [g for g in root.iter(f"{NS}g") if "segment" in (g.get("class") or "").split()]
    assert len(groups) == len(segments)

    client = transitions_from_events(events, host="client")
    server = transitions_from_events(events, host="server")
    assert [(t.src.value, t.dst.value) for t in coverage(client)[0]] == [
        ("CLOSED", "SYN_SENT"),
        ("SYN_SENT", "ESTABLISHED"),
        ("ESTABLISHED", "FIN_WAIT_1"),
        ("FIN_WAIT_1", "TIME_WAIT"),  # the server's ACK of our FIN rides on its FIN
        ("TIME_WAIT", "CLOSED"),
    ]
    assert ("LAST_ACK", "CLOSED") in [(t.src.value, t.dst.value) for t in server]
    ET.fromstring(render_state_diagram_svg(client))

    records = read_pcap(pcap_path)  # every packet when it was sent, the dropped SYN too
    assert [round(r.t - sim.EPOCH, 6) for r in records] == [e["t"] for e in segments]
    assert [parse_packet(r.data).tcp.seq for r in records] == [e["abs_seq"] for e in segments]
    tshark = shutil.which("tshark")
    if tshark is None:
        return  # the pcap checks against tshark are in test_pcap.py (skipped there too)
    done = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(pcap_path),
            "-o",
            "tcp.check_checksum:TRUE",
            "-Y",
            "_ws.malformed || _ws.expert.severity >= error || tcp.checksum.status == 0",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
