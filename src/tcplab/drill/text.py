"""How the drill writes packets down: in the script's own notation (for messages: ``0.100000 >
P. 1:11(10) ack 1 win 1024 <nop,nop,TS val 5 ecr 9>``), as tcpdump prints them (``-v``), and
one line per trace event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tcplab.drill.flows import Flow, mod32
from tcplab.wire import Packet
from tcplab.wire.tcp import Flags, Sack, Segment, flags_str, format_options

LOCAL_NAME = "tcplab"
REMOTE_NAME = "script"
_ECN = {0: "noecn", 1: "ect1", 2: "ect0", 3: "ce"}


@dataclass
class Sent:
    """A segment tcplab sent, as the runner keeps it until a script line consumes it."""

    t: float
    seg: Segment
    packet: Packet
    flow: Flow | None
    log_index: int = 0  # its event's place in the log


def ecn_word(packet: Packet) -> str:
    return _ECN[_tos(packet) & 3]


def _tos(packet: Packet) -> int:
    header = packet.header
    return int(header.tos if header.version == 4 else header.traffic_class)  # type: ignore[union-attr]


def _sack_text(opt: Sack, flow: Flow | None, syn: bool) -> str:
    blocks = [(a, b) if flow is None else (flow.outbound_ack(a, syn), flow.outbound_ack(b, syn)) for a, b in opt.blocks]
    return "sack " + " ".join(f"{a}:{b}" for a, b in blocks)


def options_text(options: Any, flow: Flow | None, syn: bool = False) -> str:
    """tcplab's options, SACK blocks in the script's numbers."""
    return ",".join(_sack_text(o, flow, syn) if type(o) is Sack else format_options((o,)) for o in options)


def script_notation(sent: Sent) -> str:
    """A segment tcplab sent, written as a script line would write it."""
    seg, flow = sent.seg, sent.flow
    syn = bool(seg.flags & Flags.SYN)
    s = seg.seq if flow is None else flow.outbound_seq(seg.seq, syn)
    n = len(seg.payload)
    ip = f"[{ecn_word(sent.packet)}] " if _tos(sent.packet) & 3 else ""
    text = f"{sent.t:.6f} > {ip}{flags_str(seg.flags)} {s}:{mod32(s + n)}({n})"
    if seg.flags & Flags.ACK:
        text += f" ack {seg.ack if flow is None else flow.outbound_ack(seg.ack, syn)}"
    text += f" win {seg.window}"
    if seg.urgent:
        text += f" urg {seg.urgent}"
    if seg.options:
        text += " <" + options_text(seg.options, flow, syn) + ">"
    return text


def _endpoint(addr: Any, port: int) -> str:
    return f"{addr}.{port}"


def tcpdump_line(t: float, direction: str, packet: Packet, flow: Flow | None, icmp: str = "") -> str:
    """One packet as ``tcpdump -n`` prints it (relative numbers as the script writes them)."""
    ip = "IP6" if packet.version == 6 else "IP"
    tos = _tos(packet)
    tos_text = f" (tos 0x{tos:x})" if tos else ""
    seg = packet.tcp
    if seg is None:
        return (
            f"{t:.6f} {direction} {ip}{tos_text} {packet.src} > {packet.dst}: {icmp or 'proto ' + str(packet.protocol)}"
        )
    syn = bool(seg.flags & Flags.SYN)
    inbound = direction == "<"
    if flow is None:
        seq, ack = seg.seq, seg.ack
    elif inbound:
        seq, ack = flow.inbound_script_seq(seg.seq, syn), flow.inbound_script_ack(seg.ack, syn)
    else:
        seq, ack = flow.outbound_seq(seg.seq, syn), flow.outbound_ack(seg.ack, syn)
    flags = flags_str(seg.flags).replace("-", "none")
    n = len(seg.payload)
    out = f"{t:.6f} {direction} {ip}{tos_text} {_endpoint(packet.src, seg.src_port)} > "
    out += f"{_endpoint(packet.dst, seg.dst_port)}: Flags [{flags}], seq {seq}"
    if n:
        out += f":{mod32(seq + n)}"
    if seg.flags & Flags.ACK:
        out += f", ack {ack}"
    out += f", win {seg.window}"
    if seg.urgent:
        out += f", urg {seg.urgent}"
    if seg.options:
        out += f", options [{format_options(seg.options)}]"
    return out + f", length {n}"


def describe(e: dict) -> str:
    """One line for an event of the trace."""
    t = e.get("t", 0.0)
    kind = e.get("kind")
    if kind == "segment":
        arrow = ">" if e.get("src") == LOCAL_NAME else "<"
        s = e.get("seq", 0)
        text = f"{t:.6f} {arrow} {e.get('flags')} {s}:{s + e.get('len', 0)}({e.get('len', 0)})"
        if "." in str(e.get("flags")):
            text += f" ack {e.get('ack')}"
        text += f" win {e.get('win')}"
        if e.get("options"):
            text += f" <{e['options']}>"
        return text
    if kind == "state":
        return f"{t:.6f} state {e.get('from')} -> {e.get('to')} ({e.get('cause')})"
    if kind == "outcome":
        return f"{t:.6f} {e.get('outcome')}"
    return f"{t:.6f} {kind} {e.get('text', '')}".rstrip()
