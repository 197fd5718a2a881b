"""The packets the script injects: a ``<`` line made into the IP packet that goes to the host.

TCP lines (numbers mapped by :mod:`tcplab.drill.flows`, options as written, the payload zeros,
the IP header's ECN field, TOS and TTL as the line says) and ICMP lines (the message quoting
tcplab's own packet: its addresses, ports and the sequence number the line writes, relative to
tcplab's ISN; ``mtu`` where RFC 1191 / RFC 4443 put it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tcplab.drill import ast as A
from tcplab.drill.flows import Flow, mod32
from tcplab.drill.matcher import line_flags
from tcplab.drill.outcome import Skip
from tcplab.drill.parser import ICMPV4_TYPES, ICMPV6_TYPES
from tcplab.wire import build_icmp_error, build_ip, build_packet
from tcplab.wire.tcp import (
    EOL,
    MSS,
    NOP,
    Flags,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WindowScale,
)

_ECN_BITS = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}
_TCP_PROTOCOL = 6


@dataclass(frozen=True)
class Endpoints:
    local_ip: str  # tcplab's address
    remote_ip: str  # the script's


def _tos(ip: A.IpInfo | None, line: int) -> tuple[int, int]:
    """(TOS / traffic class byte, TTL) an inbound line asks for."""
    if ip is None:
        return 0, 64
    if ip.flowlabel is not None:
        raise Skip("IPv6 flow labels (a script sets one; tcplab neither sets nor reads them)", line)
    tos = ip.tos or 0
    if ip.ecn is not None:
        tos = (tos & ~3) | _ECN_BITS[ip.ecn]
    return tos, 64 if ip.ttl is None else ip.ttl


def tcp_segment(line: A.Packet, ev: A.Event, flow: Flow, ecr_scaled: bool) -> Segment:
    """The segment of an inbound TCP line, numbers on the wire."""
    flags = line_flags(line.flags, ev.line)
    syn = bool(flags & Flags.SYN)
    seq = flow.inbound_seq(line.start, syn)
    ack = flow.inbound_ack(line.ack or 0, syn) if flags & Flags.ACK else (line.ack or 0)
    options = tuple(_wire_option(opt, flow, syn, bool(flags & Flags.ACK), ecr_scaled) for opt in line.options or ())
    sport = line.sport if line.sport is not None else flow.remote_port
    dport = line.dport if line.dport is not None else flow.local_port
    assert dport is not None  # an inbound flow knows its local port
    return Segment(sport, dport, seq, ack, flags, line.win or 0, line.urg or 0, options, bytes(line.length))


def tcp_packet(line: A.Packet, ev: A.Event, seg: Segment, ends: Endpoints) -> bytes:
    tos, ttl = _tos(line.ip, ev.line)
    return build_packet(ends.remote_ip, ends.local_ip, seg, ttl, tos=tos)


def _wire_option(opt: A.PacketOption, flow: Flow, syn: bool, ack: bool, ecr_scaled: bool) -> Option:
    if isinstance(opt, A.OptNop):
        return NOP()
    if isinstance(opt, A.OptEol):
        return EOL()
    if isinstance(opt, A.OptMss):
        return MSS(opt.value)
    if isinstance(opt, A.OptWscale):
        return WindowScale(opt.shift)
    if isinstance(opt, A.OptSackOK):
        return SackPermitted()
    if isinstance(opt, A.OptSack):
        return Sack(tuple((flow.inbound_ack(a, syn), flow.inbound_ack(b, syn)) for a, b in opt.blocks))
    if isinstance(opt, A.OptTimestamp):
        return Timestamps(opt.val or 0, _ecr(opt.ecr or 0, flow, ack, ecr_scaled))
    if isinstance(opt, A.OptFastOpen):
        return UnknownOption(254, b"\xf9\x89" + opt.cookie) if opt.experimental else UnknownOption(34, opt.cookie)
    return UnknownOption(19, opt.digest)


def _ecr(ecr: int, flow: Flow, ack: bool, scaled: bool) -> int:
    """packetdrill: an inbound ACK's ecr names a TS val of an outbound line; it becomes the value
    tcplab really sent there (interpolated with --tcp_ts_ecr_scaled; else taken as written)."""
    if not ack:
        return ecr
    if ecr in flow.ts_map:
        return flow.ts_map[ecr]
    if scaled and flow.first_ts is not None:
        first_script, first_actual = flow.first_ts
        return mod32(ecr - first_script + first_actual)
    return ecr


# ---- ICMP ---------------------------------------------------------------------------------------
def icmp_type_code(line: A.Icmp, v6: bool) -> tuple[int, int]:
    table = ICMPV6_TYPES if v6 else ICMPV4_TYPES
    if line.type_name.startswith("type_"):
        icmp_type, codes = int(line.type_name[5:]), dict[str, int]()
    elif line.type_name in table:
        icmp_type, codes = table[line.type_name]
    else:
        raise Skip(f"ICMP{'v6' if v6 else ''} has no '{line.type_name}' message")
    if line.code_name is None:
        return icmp_type, 0
    if line.code_name.startswith("code_"):
        return icmp_type, int(line.code_name[5:])
    if line.code_name not in codes:
        raise Skip(f"ICMP{'v6' if v6 else ''} {line.type_name} has no code '{line.code_name}'")
    return icmp_type, codes[line.code_name]


def icmp_packet(line: A.Icmp, ev: A.Event, flow: Flow | None, ends: Endpoints, v6: bool) -> bytes:
    """An inbound ICMP line: from the script's address, quoting a packet tcplab sent it."""
    icmp_type, code = icmp_type_code(line, v6)
    tos, ttl = _tos(line.ip, ev.line)
    echoed = line.echoed
    quoted = b""
    if echoed is not None and echoed.protocol != "raw":
        proto = _TCP_PROTOCOL if echoed.protocol == "tcp" else 17
        l4_header = 20 if proto == _TCP_PROTOCOL else 8
        sport = flow.local_port if flow is not None and flow.local_port is not None else 8080
        dport = flow.remote_port if flow is not None else 40001
        seq = mod32(echoed.start + (flow.local_isn or 0)) if flow is not None else echoed.start
        first8 = struct.pack("!HHI", sport, dport, seq if proto == _TCP_PROTOCOL else 0)
        length = l4_header + echoed.length
        header = build_ip(ends.local_ip, ends.remote_ip, proto, bytes(length))[: 40 if v6 else 20]
        quoted = header + first8
    elif echoed is not None:
        quoted = bytes(echoed.length)
    mtu = line.mtu or 0
    if line.echo_id is not None and line.echo_id > 0xFFFF:
        raise Skip("an ICMP echo id above 65535")
    return build_icmp_error(
        ends.remote_ip, ends.local_ip, icmp_type, code, quoted, mtu=mtu, ident=line.echo_id or 0, ttl=ttl, tos=tos
    )
