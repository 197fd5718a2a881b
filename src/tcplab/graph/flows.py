"""TCP segments of a tcplab trace or of a capture, as one kind of record, grouped into flows.

- ``segments_from_events(events)``: the ``segment`` events of a JSON trace (the simulator's:
  sent at ``t``, arrived at ``t_arrive`` or lost);
- ``segments_from_capture(path)``: the TCP packets of a pcap/pcapng file (tcplab's, tcpdump's,
  tshark's); a pcapng comment saying "dropped"/"duplicated"/"corrupted"/"delayed" (tcplab writes
  them) gives the packet's fate;
- ``load(path)``: either, told apart by the file's first bytes; ``TraceFileError`` (one line)
  for anything else;
- ``flows(segments)``: one ``Flow`` per direction of each connection, busiest first.

Sequence numbers stay absolute here (``Flow.rel`` makes them relative to the flow's ISN and
unwraps them past 2**32).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Flow", "Loaded", "Seg", "TraceFileError", "flows", "load", "segments_from_capture", "segments_from_events"]

FATES = ("delivered", "dropped", "duplicated", "corrupted", "delayed")
_SACK = re.compile(r"sack \d+ ((?:\{\d+:\d+\})+)")
_BLOCK = re.compile(r"\{(\d+):(\d+)\}")
_WSCALE = re.compile(r"wscale (\d+)")
_MSS = re.compile(r"mss (\d+)")


class TraceFileError(ValueError):
    """A file that is not a JSON Lines trace or a capture (the message is one line)."""


@dataclass(slots=True)
class Seg:
    """One TCP segment as the graphs need it."""

    t: float  # sent (a tcplab trace) or captured
    seen: float | None  # when the receiver got it (a capture: ``t``); None when it was lost
    src: str  # "client:51421" (a trace names hosts) or "198.18.0.1:51421"
    dst: str
    flags: str  # tcpdump style: "S", "S.", ".", "P.", "F.", "R."
    seq: int  # absolute
    ack: int
    length: int  # payload bytes
    win: int  # the raw window field
    fate: str = "delivered"
    wscale: int | None = None  # the window scale option (SYN segments)
    mss: int | None = None
    sack: tuple[tuple[int, int], ...] = ()  # absolute SACK blocks


@dataclass
class Loaded:
    segments: list[Seg]
    events: list[dict[str, Any]] | None  # the JSON trace (None for a capture)
    kind: str  # "trace", "pcap" or "pcapng"


def _options(text: str) -> tuple[int | None, int | None, tuple[tuple[int, int], ...]]:
    if not text:
        return None, None, ()
    ws = _WSCALE.search(text)
    mss = _MSS.search(text)
    sack = _SACK.search(text)
    blocks = tuple((int(a), int(b)) for a, b in _BLOCK.findall(sack.group(1))) if sack else ()
    return (int(ws.group(1)) if ws else None), (int(mss.group(1)) if mss else None), blocks


def segments_from_events(events: Iterable[dict[str, Any]]) -> list[Seg]:
    out = []
    for e in events:
        if e.get("kind") != "segment":
            continue
        wscale, mss, sack = _options(str(e.get("options") or ""))
        fate = str(e.get("fate") or "delivered")
        arrive = e.get("t_arrive", e.get("t"))
        out.append(
            Seg(
                t=float(e["t"]),
                seen=None if fate == "dropped" or arrive is None else float(arrive),
                src=f"{e.get('src', e.get('host', '?'))}:{e.get('sport', '?')}",
                dst=f"{e.get('dst', '?')}:{e.get('dport', '?')}",
                flags=str(e.get("flags", "")),
                seq=int(e.get("abs_seq", e.get("seq", 0))),
                ack=int(e.get("abs_ack", e.get("ack", 0))),
                length=int(e.get("len", 0)),
                win=int(e.get("win", 0)),
                fate=fate,
                wscale=wscale,
                mss=mss,
                sack=sack,
            )
        )
    return out


def _fate(comments: Sequence[str]) -> str:
    for comment in comments:
        word = comment.split(" ", 1)[0].strip(":,;").lower()
        if word in FATES:
            return word
    return "delivered"


def _endpoint(addr: Any, port: int) -> str:
    text = str(addr)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def segments_from_capture(path: str | os.PathLike[str]) -> list[Seg]:
    """The TCP segments of a capture. Checksums are not checked (a capture made on the sending
    host sees them before the NIC fills them in)."""
    from tcplab.net.capture import read_capture
    from tcplab.wire import MSS, Sack, WindowScale, flags_str, parse_packet
    from tcplab.wire.errors import MalformedPacket

    out: list[Seg] = []
    for rec in read_capture(path):
        if rec.packet is None:
            continue
        try:
            pkt = parse_packet(rec.packet, verify_checksum=False)
        except MalformedPacket:
            continue  # not a whole IP packet (snaplen), or damaged: nothing to draw
        seg = pkt.tcp
        if seg is None:
            continue
        ws, mss, sack = seg.option(WindowScale), seg.option(MSS), seg.option(Sack)
        fate = _fate(rec.comments)
        out.append(
            Seg(
                t=rec.t,
                seen=None if fate == "dropped" else rec.t,
                src=_endpoint(pkt.src, seg.src_port),
                dst=_endpoint(pkt.dst, seg.dst_port),
                flags=flags_str(seg.flags),
                seq=seg.seq,
                ack=seg.ack,
                length=len(seg.payload),
                win=seg.window,
                fate=fate,
                wscale=ws.shift if ws is not None else None,
                mss=mss.value if mss is not None else None,
                sack=tuple(sack.blocks) if sack is not None else (),
            )
        )
    return out


def _read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    events = []
    with open(path, encoding="utf-8", errors="strict") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TraceFileError(
                    f"{os.fspath(path)} is not a JSON Lines trace or a pcap/pcapng file (line {number}: {exc.msg})"
                ) from None
            if not isinstance(event, dict) or "kind" not in event:
                raise TraceFileError(f"{os.fspath(path)} line {number} is not a tcplab event (an object with a 'kind')")
            events.append(event)
    return events


def load(path: str | os.PathLike[str]) -> Loaded:
    """A JSON Lines trace or a capture, told apart by its first bytes. ``TraceFileError``: not
    one of them, or nothing to draw; ``OSError``: the file cannot be read."""
    from tcplab.net.capture import capture_format
    from tcplab.net.pcap import PcapError

    with open(path, "rb") as f:
        head = f.read(4)
    kind = capture_format(head)
    if kind is not None:
        try:
            segments = segments_from_capture(path)
        except PcapError as exc:
            raise TraceFileError(f"{os.fspath(path)}: {exc}") from None
        loaded = Loaded(segments, None, kind)
    else:
        try:
            events = _read_jsonl(path)
        except UnicodeDecodeError:
            raise TraceFileError(f"{os.fspath(path)} is not a JSON Lines trace or a pcap/pcapng file") from None
        loaded = Loaded(segments_from_events(events), events, "trace")
    if not loaded.segments:
        raise TraceFileError(f"{os.fspath(path)} has no TCP segments to draw")
    return loaded


# ---- flows ---------------------------------------------------------------------------------------


@dataclass
class Flow:
    """One direction of one connection: the data ``sender`` -> ``receiver`` and the segments
    coming back (the ACKs)."""

    sender: str
    receiver: str
    data: list[Seg] = field(default_factory=list)  # sender -> receiver
    acks: list[Seg] = field(default_factory=list)  # receiver -> sender
    isn: int | None = None  # the sender's ISN (from its SYN), else the first sequence number
    wscale: int = 0  # how the receiver's window field is scaled (both SYNs had the option)
    mss: int | None = None

    @property
    def payload_bytes(self) -> int:
        return sum(s.length for s in self.data)

    @property
    def base(self) -> int:
        """Sequence number 0 of the graph: the first data byte (ISN + 1)."""
        if self.isn is not None:
            return (self.isn + 1) & 0xFFFFFFFF
        first = next((s for s in self.data if s.length), self.data[0] if self.data else None)
        return first.seq if first is not None else 0

    def rel(self, seq: int, near: int = 0) -> int:
        """``seq`` relative to the first data byte, unwrapped to the value nearest ``near``."""
        off = (seq - self.base - near) & 0xFFFFFFFF
        if off >= 1 << 31:
            off -= 1 << 32
        return near + off


def flows(segments: Sequence[Seg]) -> list[Flow]:
    """One Flow per direction that carried data or SYN/FIN, the most payload bytes first."""
    by_dir: dict[tuple[str, str], Flow] = {}
    for s in segments:
        if (s.src, s.dst) not in by_dir:
            by_dir[(s.src, s.dst)] = Flow(s.src, s.dst)
        by_dir[(s.src, s.dst)].data.append(s)
    out = []
    for (src, dst), flow in by_dir.items():
        back = by_dir.get((dst, src))
        flow.acks = back.data if back is not None else []
        syn = next((s for s in flow.data if "S" in s.flags), None)
        peer_syn = next((s for s in flow.acks if "S" in s.flags), None)
        if syn is not None:
            flow.isn = syn.seq
            flow.mss = peer_syn.mss if peer_syn is not None and peer_syn.mss else syn.mss
        if syn is not None and peer_syn is not None and syn.wscale is not None and peer_syn.wscale is not None:
            flow.wscale = peer_syn.wscale  # RFC 7323 2.2: the receiver's windows, its shift
        out.append(flow)
    out.sort(key=lambda f: (-f.payload_bytes, f.data[0].t))
    return out
