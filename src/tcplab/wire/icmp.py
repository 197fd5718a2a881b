"""ICMP for IPv4 (RFC 792) and IPv6 (RFC 4443): echo (ping); the error messages a TCP host
reacts to (destination unreachable, time exceeded, parameter problem, packet too big): built with
:func:`build_icmp_error`, read with :func:`parse_icmp_error` (which returns the quoted packet's
addresses, ports and TCP sequence number, the part RFC 5927 4.1 checks); and the "fragment
reassembly time exceeded" error a host sends when a datagram's fragments stop coming."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .checksum import AddressLike, BytesLike, as_address, fold, icmpv4_checksum, icmpv6_checksum, raw_sum
from .ip import Packet, build_ip

__all__ = [
    "ICMPV6_PROTOCOL",
    "ICMP_PROTOCOL",
    "IcmpError",
    "build_icmp_echo_reply",
    "build_icmp_echo_request",
    "build_icmp_error",
    "build_icmp_reassembly_timeout",
    "icmpv4_checksum",
    "icmpv6_checksum",
    "parse_icmp_error",
]

ICMP_PROTOCOL = 1
ICMPV6_PROTOCOL = 58
_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence number


def _echo_message(
    version: int, type_: int, ident: int, seq: int, data: BytesLike, src: AddressLike, dst: AddressLike
) -> bytes:
    msg = _ECHO.pack(type_, 0, 0, ident, seq) + bytes(data)
    csum = icmpv4_checksum(msg) if version == 4 else icmpv6_checksum(src, dst, msg)
    return msg[:2] + csum.to_bytes(2, "big") + msg[4:]


def build_icmp_echo_request(
    src: AddressLike, dst: AddressLike, ident: int, seq: int, data: BytesLike = b"", ttl: int = 64
) -> bytes:
    """An echo request packet (ICMP type 8, or ICMPv6 type 128) from ``src`` to ``dst``."""
    s = as_address(src)
    d = as_address(dst)
    if s.version == 4:
        return build_ip(s, d, ICMP_PROTOCOL, _echo_message(4, 8, ident, seq, data, s, d), ttl)
    return build_ip(s, d, ICMPV6_PROTOCOL, _echo_message(6, 128, ident, seq, data, s, d), ttl)


def build_icmp_echo_reply(request: Packet, src: AddressLike | None = None, ttl: int = 64) -> bytes | None:
    """The echo reply to ``request`` (a parsed packet), or None if it is not a valid echo request.

    Answers ICMP type 8 code 0 with type 0, and ICMPv6 type 128 code 0 with type 129, copying the
    identifier, sequence number and data. The reply goes from the request's destination (or
    ``src`` if given) back to its source. Returns None for anything else: not ICMP, not an echo
    request, a bad ICMP checksum, a truncated message, or (without ``src``) a multicast or
    unspecified destination that cannot be a reply's source.
    """
    if request.tcp is not None:
        return None
    version = request.version
    msg = request.payload
    if len(msg) < 8:
        return None
    if version == 4:
        if request.protocol != ICMP_PROTOCOL or msg[0] != 8 or msg[1] != 0:
            return None
        if icmpv4_checksum(msg) != 0:
            return None
        reply_type = 0
    else:
        if request.protocol != ICMPV6_PROTOCOL or msg[0] != 128 or msg[1] != 0:
            return None
        if icmpv6_checksum(request.src, request.dst, msg) != 0:
            return None
        reply_type = 129
    reply_src = as_address(src) if src is not None else request.dst
    reply_dst = request.src
    if reply_src.version != version:
        return None
    if src is None and (
        reply_src.is_multicast or reply_src.is_unspecified or (version == 4 and reply_src == _BROADCAST)
    ):
        return None
    # Only the type and the checksum change: patch the checksum incrementally would work too,
    # but recomputing keeps it obviously right (and ICMPv6 addresses may differ with ``src``).
    if version == 4:
        body = bytes((reply_type, 0, 0, 0)) + msg[4:]
        csum = fold(raw_sum(body))
        reply = body[:2] + csum.to_bytes(2, "big") + body[4:]
        return build_ip(reply_src, reply_dst, ICMP_PROTOCOL, reply, ttl)
    body = bytes((reply_type, 0, 0, 0)) + msg[4:]
    csum = icmpv6_checksum(reply_src, reply_dst, body)
    reply = body[:2] + csum.to_bytes(2, "big") + body[4:]
    return build_ip(reply_src, reply_dst, ICMPV6_PROTOCOL, reply, ttl)


_BROADCAST = as_address("255.255.255.255")


# The error types: IPv4 destination unreachable, source quench, redirect, time exceeded, parameter
# problem (RFC 792); IPv6 destination unreachable, packet too big, time exceeded, parameter
# problem (RFC 4443).
ICMPV4_ERRORS = frozenset((3, 4, 5, 11, 12))
ICMPV6_ERRORS = frozenset((1, 2, 3, 4))


@dataclass(frozen=True, slots=True)
class IcmpError:
    """An ICMP error message and what it quotes of the packet that caused it."""

    version: int
    type: int
    code: int
    mtu: int  # next-hop MTU (IPv4 frag needed, RFC 1191) or the MTU of IPv6 packet too big; else 0
    src: str  # the quoted packet's source (our address) and destination
    dst: str
    protocol: int
    sport: int | None  # the quoted transport header's ports, when at least 4 bytes are quoted
    dport: int | None
    seq: int | None  # the quoted TCP sequence number, when 8 bytes are quoted


def build_icmp_error(
    src: AddressLike,
    dst: AddressLike,
    type_: int,
    code: int,
    quoted: BytesLike,
    *,
    mtu: int = 0,
    ident: int = 0,
    ttl: int = 64,
    tos: int = 0,
) -> bytes:
    """An ICMP message of ``type_``/``code`` from ``src`` to ``dst`` quoting ``quoted`` (the IP
    header and first bytes of the offending packet). ``mtu`` goes where RFC 1191 (IPv4) and RFC
    4443 3.2 (IPv6) put it; ``ident`` is an echo identifier."""
    s, d = as_address(src), as_address(dst)
    if s.version == 4:
        rest = struct.pack("!HH", ident, mtu & 0xFFFF) if mtu or ident else bytes(4)
        msg = struct.pack("!BBH", type_, code, 0) + rest + bytes(quoted)
        csum = icmpv4_checksum(msg)
        return build_ip(s, d, ICMP_PROTOCOL, msg[:2] + csum.to_bytes(2, "big") + msg[4:], ttl, tos=tos)
    rest = struct.pack("!I", mtu) if mtu else struct.pack("!HH", ident, 0)
    msg = struct.pack("!BBH", type_, code, 0) + rest + bytes(quoted)
    csum = icmpv6_checksum(s, d, msg)
    return build_ip(s, d, ICMPV6_PROTOCOL, msg[:2] + csum.to_bytes(2, "big") + msg[4:], ttl, tos=tos)


def parse_icmp_error(packet: Packet) -> IcmpError | None:
    """The ICMP error ``packet`` carries, or None (not ICMP, not an error type, a bad checksum,
    or too little of the offending packet quoted to know whose it was)."""
    msg = packet.payload
    version = packet.version
    if len(msg) < 8 or packet.protocol != (ICMP_PROTOCOL if version == 4 else ICMPV6_PROTOCOL):
        return None
    type_, code = msg[0], msg[1]
    if version == 4:
        if type_ not in ICMPV4_ERRORS or icmpv4_checksum(msg) != 0:
            return None
        mtu = int.from_bytes(msg[6:8], "big") if type_ == 3 and code == 4 else 0
        quoted = msg[8:]
        if len(quoted) < 20 or quoted[0] >> 4 != 4:
            return None
        hlen = (quoted[0] & 0x0F) * 4
        if hlen < 20 or len(quoted) < hlen:
            return None
        proto = quoted[9]
        qsrc, qdst = str(as_address(bytes(quoted[12:16]))), str(as_address(bytes(quoted[16:20])))
    else:
        if type_ not in ICMPV6_ERRORS or icmpv6_checksum(packet.src, packet.dst, msg) != 0:
            return None
        mtu = int.from_bytes(msg[4:8], "big") if type_ == 2 else 0
        quoted = msg[8:]
        if len(quoted) < 40 or quoted[0] >> 4 != 6:
            return None
        hlen, proto = 40, quoted[6]
        qsrc, qdst = str(as_address(bytes(quoted[8:24]))), str(as_address(bytes(quoted[24:40])))
    l4 = quoted[hlen:]
    sport = int.from_bytes(l4[0:2], "big") if len(l4) >= 4 else None
    dport = int.from_bytes(l4[2:4], "big") if len(l4) >= 4 else None
    seq = int.from_bytes(l4[4:8], "big") if len(l4) >= 8 else None
    return IcmpError(version, type_, code, mtu, qsrc, qdst, proto, sport, dport, seq)


def build_icmp_reassembly_timeout(first_fragment: BytesLike, ttl: int = 64) -> bytes:
    """ICMP Time Exceeded, "fragment reassembly time exceeded" (IPv4 type 11 code 1, RFC 792;
    ICMPv6 type 3 code 1, RFC 4443 3.3) about the datagram whose ``first_fragment`` (the packet
    as it came) never got its other fragments: from the address it was sent to, back to its
    source, quoting as much of it as fits in 576 bytes (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6)."""
    raw = bytes(first_fragment)
    if raw[0] >> 4 == 4:
        return build_icmp_error(raw[16:20], raw[12:16], 11, 1, raw[: 576 - 28], ttl=ttl)
    return build_icmp_error(raw[24:40], raw[8:24], 3, 1, raw[: 1280 - 48], ttl=ttl)
