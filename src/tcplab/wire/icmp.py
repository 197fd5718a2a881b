"""ICMP echo (ping) for IPv4 (RFC 792) and IPv6 (RFC 4443): enough for a host to answer ping; and
the "fragment reassembly time exceeded" error a host sends when a datagram's fragments stop
coming."""

from __future__ import annotations

import struct

from .checksum import AddressLike, BytesLike, as_address, fold, icmpv4_checksum, icmpv6_checksum, raw_sum
from .ip import Packet, build_ip

__all__ = [
    "ICMPV6_PROTOCOL",
    "ICMP_PROTOCOL",
    "build_icmp_echo_reply",
    "build_icmp_echo_request",
    "build_icmp_reassembly_timeout",
    "icmpv4_checksum",
    "icmpv6_checksum",
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


def build_icmp_reassembly_timeout(first_fragment: BytesLike, ttl: int = 64) -> bytes:
    """ICMP Time Exceeded, "fragment reassembly time exceeded" (IPv4 type 11 code 1, RFC 792;
    ICMPv6 type 3 code 1, RFC 4443 3.3) about the datagram whose ``first_fragment`` (the packet
    as it came) never got its other fragments: from the address it was sent to, back to its
    source, quoting as much of it as fits in 576 bytes (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6)."""
    raw = bytes(first_fragment)
    if raw[0] >> 4 == 4:
        src, dst = as_address(raw[16:20]), as_address(raw[12:16])
        body = bytes((11, 1, 0, 0, 0, 0, 0, 0)) + raw[: 576 - 28]
        csum = icmpv4_checksum(body)
        return build_ip(src, dst, ICMP_PROTOCOL, body[:2] + csum.to_bytes(2, "big") + body[4:], ttl)
    src6, dst6 = as_address(raw[24:40]), as_address(raw[8:24])
    body = bytes((3, 1, 0, 0, 0, 0, 0, 0)) + raw[: 1280 - 48]
    csum = icmpv6_checksum(src6, dst6, body)
    return build_ip(src6, dst6, ICMPV6_PROTOCOL, body[:2] + csum.to_bytes(2, "big") + body[4:], ttl)
