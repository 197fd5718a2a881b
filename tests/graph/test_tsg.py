"""The time-sequence graph: flows from traces and captures, and what the SVG draws."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tcplab.cli import main
from tcplab.graph.flows import Flow, Seg, TraceFileError, flows, load, segments_from_events
from tcplab.graph.tsg import GraphError, nice_ticks, render_tsg_svg
from tcplab.net.pcap import PcapWriter
from tcplab.net.pcapng import PcapngWriter
from tcplab.scenarios import SCENARIOS
from tcplab.wire import MSS, Flags, Sack, SackPermitted, Segment, WindowScale, build_packet

NS = {"svg": "http://www.w3.org/2000/svg"}


def _paths(svg: str, cls: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.get("d", "") for el in root.iter(f"{{{NS['svg']}}}path") if el.get("class") == cls]


def _bars(svg: str, cls: str) -> int:
    """I-beams drawn in the path(s) of class ``cls`` (one ``V`` each): in the first panel only."""
    paths = _paths(svg, cls)
    return paths[0].count("V") if paths else 0


def _crosses(svg: str, cls: str) -> int:
    paths = _paths(svg, cls)
    return paths[0].count("M") // 2 if paths else 0


@pytest.fixture(scope="module")
def lossy() -> list[dict]:
    return SCENARIOS["lossy-transfer"].run(seed=0, size=200_000).events


def _expected(events: list[dict], sender: str = "client") -> tuple[int, int, int]:
    """(new data segments, retransmissions, lost segments with data, SYN or FIN), counted from
    the trace."""
    top = None
    new = rtx = lost = 0
    for e in events:
        if e["kind"] != "segment" or e["src"] != sender:
            continue
        if e["fate"] == "dropped" and (e["len"] or "S" in e["flags"] or "F" in e["flags"]):
            lost += 1
        if not e["len"]:
            continue
        start = e["seq"]
        if top is not None and start < top:
            rtx += 1
        else:
            new += 1
        top = max(top or 0, start + e["len"])
    return new, rtx, lost


def test_lossy_story_every_segment_retransmission_and_loss_drawn(lossy: list[dict]) -> None:
    svg = render_tsg_svg(segments_from_events(lossy), lossy, title="lossy")
    new, rtx, lost = _expected(lossy)
    assert rtx > 0 and lost > 0
    assert (_bars(svg, "data"), _bars(svg, "rtx"), _crosses(svg, "dropped")) == (new, rtx, lost)
    root = ET.fromstring(svg)
    assert root.get("class") == "tcplab-tsg"
    texts = [el.text for el in root.iter(f"{{{NS['svg']}}}text")]
    assert "a closer look: the first loss" in " ".join(t or "" for t in texts)
    subtitle = next(t for t in texts if t and t.startswith("client:"))
    assert f"200,000 bytes in {new} segments" in subtitle and f"{rtx} retransmitted" in subtitle
    # the engine's own events: one step per cwnd change, one dot per RTT sample
    cwnd = [e for e in lossy if e["kind"] == "cwnd" and e["host"] == "client"]
    samples = [e for e in lossy if e["kind"] == "rtt" and e["host"] == "client" and e["sample"] is not None]
    assert len(re.findall(r"[HV]", _paths(svg, "cwnd")[0])) >= len({e["cwnd"] for e in cwnd}) - 1
    assert _paths(svg, "rtt-sample")[0].count("M") == len(samples)
    assert _paths(svg, "fast-retransmit") and _paths(svg, "ssthresh") and _paths(svg, "rto")


def test_ack_and_window_lines_follow_the_acks(lossy: list[dict]) -> None:
    svg = render_tsg_svg(segments_from_events(lossy), lossy, title="lossy", zoom=False)
    acks = [e for e in lossy if e["kind"] == "segment" and e["src"] == "server" and e["fate"] != "dropped"]
    ack_path = _paths(svg, "ack")[0]
    assert ack_path.count("H") == len(acks)  # one step per ACK that reached the sender (+ the tail)
    assert len(_paths(svg, "window")) == 1
    assert not _paths(svg, "sack")  # the classic profile has no SACK
    assert "a closer look" not in svg


def test_sack_blocks_and_window_scale(tmp_path: Path) -> None:
    from tcplab.tcp.config import profile

    run = SCENARIOS["lossy-transfer"].run(seed=1, size=150_000, config=profile("linux"))
    segs = segments_from_events(run.events)
    flow = flows(segs)[0]
    # the linux profile offers wscale 10 (tcp_rmem[2] 32 MiB, as this kernel)
    assert (flow.sender.split(":")[0], flow.wscale, flow.mss) == ("client", 10, 1460)
    svg = render_tsg_svg(segs, run.events, title="sack")
    blocks = sum(len(s.sack) for s in flow.acks if s.seen is not None)
    assert blocks > 0
    assert _paths(svg, "sack")[0].count("V") == blocks


def test_flow_numbers_relative_and_unwrapped_past_2_32() -> None:
    isn = 0xFFFFF000
    segs = [Seg(0.0, 0.05, "a:1", "b:2", "S", isn, 0, 0, 65535, wscale=2, mss=1000)]
    segs.append(Seg(0.05, 0.1, "b:2", "a:1", "S.", 77, isn + 1, 0, 65535, wscale=3, mss=1200))
    seq = isn + 1
    for i in range(6):  # 6 x 1000 bytes: past 2**32 after the fourth
        segs.append(Seg(0.1 + i * 0.01, 0.15, "a:1", "b:2", ".", seq & 0xFFFFFFFF, 78, 1000, 512))
        seq += 1000
    segs.append(Seg(0.2, 0.25, "b:2", "a:1", ".", 78, seq & 0xFFFFFFFF, 0, 100))
    flow = flows(segs)[0]
    assert isinstance(flow, Flow)
    assert (flow.sender, flow.receiver, flow.isn, flow.wscale, flow.mss) == ("a:1", "b:2", isn, 3, 1200)
    rel = []
    near = 0
    for s in flow.data[1:]:
        near = flow.rel(s.seq, near)
        rel.append(near)
    assert rel == [0, 1000, 2000, 3000, 4000, 5000]
    assert flow.rel(flow.acks[-1].ack, 5000) == 6000
    svg = render_tsg_svg(segs, title="wrap")
    assert _bars(svg, "data") == 6 and _bars(svg, "rtx") == 0
    # the window line: ACK 6000 + 100 << 3 (the receiver's shift)
    assert "6,000 bytes in 6 segments" in svg and "window scale 3" in svg


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 23.7, 10) == [0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 22.5]
    assert nice_ticks(0.0044, 0.0048, 4) == [0.0044, 0.0045, 0.0046, 0.0047, 0.0048]


def _capture_packets() -> list[tuple[float, bytes, str | None]]:
    """A small transfer: 4 segments, the third lost and sent again, SACK in between."""
    c, s = "198.18.0.1", "198.18.0.2"
    A = Flags.ACK
    iss, peer = 1000, 5000
    t0 = 1_700_000_000.0
    out = [
        (t0, build_packet(c, s, Segment(40000, 9000, iss, 0, Flags.SYN, 64240,
                                         options=(MSS(1460), SackPermitted(), WindowScale(7))))),
        (t0 + 0.05, build_packet(s, c, Segment(9000, 40000, peer, iss + 1, Flags.SYN | A, 65160,
                                          options=(MSS(1460), SackPermitted(), WindowScale(7))))),
    ]  # fmt: skip
    for i in range(4):
        out.append((t0 + 0.1 + i * 0.001, build_packet(c, s, Segment(40000, 9000, iss + 1 + i * 100, peer + 1, A, 502,
                                                                payload=bytes(100)))))  # fmt: skip
    out.append((t0 + 0.15, build_packet(s, c, Segment(9000, 40000, peer + 1, iss + 201, A, 509,
                                                 options=(Sack(((iss + 301, iss + 401),)),)))))  # fmt: skip
    out.append((t0 + 0.16, build_packet(c, s, Segment(40000, 9000, iss + 201, peer + 1, A, 502, payload=bytes(100)))))
    out.append((t0 + 0.21, build_packet(s, c, Segment(9000, 40000, peer + 1, iss + 401, A, 509))))
    fates = [None, None, None, None, "dropped (loss)", None, None, None, None]
    return [(t, p, fates[i]) for i, (t, p) in enumerate(out)]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_graph_cli_reads_captures(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"x.{fmt}"
    if fmt == "pcap":
        with PcapWriter(path) as w:
            for t, p, _fate in _capture_packets():
                w.write(p, t)
    else:
        with PcapngWriter(path) as w:
            w.add_interface("client-eth0")
            for t, p, fate in _capture_packets():
                w.write(p, t, comment=fate)
    out = tmp_path / "g.svg"
    assert main(["graph", str(path), "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    svg = out.read_text()
    assert (_bars(svg, "data"), _bars(svg, "rtx")) == (4, 1)
    assert _crosses(svg, "dropped") == (1 if fmt == "pcapng" else 0)  # the comment says it was lost
    assert _paths(svg, "sack")[0].count("V") == 1
    assert "198.18.0.1:40000 \u2192 198.18.0.2:9000" in svg
    assert "t = 0 at 2023-11-14 22:13:20.000000 UTC" in svg
    assert "a capture does not" in svg
    loaded = load(path)
    assert loaded.kind == fmt and loaded.events is None


def test_graph_cli_sender_choice_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            lossy: list[dict]) -> None:  # fmt: skip
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(json.dumps(e) + "\n" for e in lossy))
    out = tmp_path / "g.svg"
    assert main(["graph", str(trace), "-o", str(out), "--sender", "server"]) == 0
    assert "server:9527 \u2192 client:" in out.read_text()
    capsys.readouterr()
    cases = {
        "nope": "tcplab: cannot read {d}/nope: No such file or directory",
        "text.jsonl": "tcplab: {d}/text.jsonl is not a JSON Lines trace or a pcap/pcapng file "
        "(line 2: Expecting value)",
        "notes.jsonl": "tcplab: {d}/notes.jsonl has no TCP segments to draw",
        "list.jsonl": "tcplab: {d}/list.jsonl line 1 is not a tcplab event (an object with a 'kind')",
        "bad.pcap": "tcplab: {d}/bad.pcap: truncated pcap record",
    }
    (tmp_path / "text.jsonl").write_text('{"kind": "note"}\nhello\n')
    (tmp_path / "notes.jsonl").write_text('{"kind": "note", "t": 0}\n')
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    good = tmp_path / "good.pcap"
    with PcapWriter(good) as w:
        w.write(_capture_packets()[0][1], 1_700_000_000.0)
    (tmp_path / "bad.pcap").write_bytes(good.read_bytes()[:-5])
    for name, message in cases.items():
        assert main(["graph", str(tmp_path / name), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == message.format(d=tmp_path) + "\n"
    assert main(["graph", str(trace), "-o", str(out), "--sender", "198.51.100.7"]) == 2
    assert capsys.readouterr().err.startswith(f"tcplab: {trace}: no flow sent by '198.51.100.7' (senders: client:")
    with pytest.raises(TraceFileError):
        load(tmp_path / "text.jsonl")
    with pytest.raises(GraphError):
        render_tsg_svg([], title="nothing")


def test_demo_tsg_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.svg"
    assert main(["demo", "syn-timeout", "--tsg-svg", str(out)]) == 0
    svg = out.read_text()
    root = ET.fromstring(svg)
    assert root.get("class") == "tcplab-tsg"
    syns = [el for el in root.iter(f"{{{NS['svg']}}}path") if el.get("class") in ("syn", "syn_rtx")]
    events = SCENARIOS["syn-timeout"].run().events
    sent = [e for e in events if e["kind"] == "segment" and e["flags"] == "S"]
    assert [el.get("class") for el in syns] == ["syn"] + ["syn_rtx"] * (len(sent) - 1)
