from __future__ import annotations

import struct
from ipaddress import ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    Flags,
    Segment,
    build_icmp_echo_reply,
    build_icmp_echo_request,
    build_ip,
    build_packet,
    parse_packet,
)

from . import refimpl


def test_ipv4_echo_request_bytes():
    raw = build_icmp_echo_request("198.18.0.1", "198.18.0.2", 0x1234, 7, b"ping")
    msg = raw[20:]
    assert msg[:2] == b"\x08\x00"
    assert msg[4:] == bytes.fromhex("12340007") + b"ping"
    assert refimpl.checksum(msg) == 0


def test_ipv4_echo_reply():
    request = parse_packet(build_icmp_echo_request("198.18.0.1", "198.18.0.2", 0x1234, 7, b"ping"))
    reply = parse_packet(build_icmp_echo_reply(request))
    assert (reply.version, reply.src, reply.dst, reply.protocol, reply.ttl) == (
        4,
        ip_address("198.18.0.2"),
        ip_address("198.18.0.1"),
        1,
        64,
    )
    assert reply.payload[:2] == b"\x00\x00"
    assert reply.payload[4:] == bytes.fromhex("12340007") + b"ping"
    assert refimpl.checksum(reply.payload) == 0


def test_ipv6_echo_reply():
    request = parse_packet(build_icmp_echo_request("fd00::1", "fd00::2", 99, 3, b"data"))
    assert request.protocol == 58 and request.payload[0] == 128
    reply = parse_packet(build_icmp_echo_reply(request))
    assert (reply.version, reply.src, reply.dst, reply.protocol, reply.hop_limit) == (
        6,
        ip_address("fd00::2"),
        ip_address("fd00::1"),
        58,
        64,
    )
    msg = reply.payload
    assert msg[:2] == b"\x81\x00"
    assert msg[4:] == struct.pack("!HH", 99, 3) + b"data"
    pseudo = refimpl.pseudo_header("fd00::2", "fd00::1", 58, len(msg))
    assert refimpl.checksum(pseudo + msg) == 0


def test_echo_reply_from_given_source():
    request = parse_packet(build_icmp_echo_request("fd00::1", "ff02::1", 1, 1))
    assert build_icmp_echo_reply(request) is None  # multicast cannot be a source
    reply = parse_packet(build_icmp_echo_reply(request, src="fd00::2"))
    assert reply.src == ip_address("fd00::2") and reply.dst == ip_address("fd00::1")
    pseudo = refimpl.pseudo_header("fd00::2", "fd00::1", 58, len(reply.payload))
    assert refimpl.checksum(pseudo + reply.payload) == 0


def test_no_reply_to_other_packets():
    tcp = parse_packet(build_packet("198.18.0.1", "198.18.0.2", Segment(1, 2, 3, 4, Flags.ACK, 5)))
    assert build_icmp_echo_reply(tcp) is None
    reply = parse_packet(build_icmp_echo_reply(parse_packet(build_icmp_echo_request("198.18.0.1", "198.18.0.2", 1, 1))))
    assert build_icmp_echo_reply(reply) is None  # an echo reply is not answered
    short = parse_packet(build_ip("198.18.0.1", "198.18.0.2", 1, b"\x08\x00\xf7\xff"))
    assert build_icmp_echo_reply(short) is None
    bad = bytearray(build_icmp_echo_request("198.18.0.1", "198.18.0.2", 1, 1, b"x"))
    bad[-1] ^= 1
    assert build_icmp_echo_reply(parse_packet(bytes(bad))) is None  # bad ICMP checksum
    # an ICMPv4 echo request carried in IPv6 (wrong protocol) is not answered
    v4msg = build_icmp_echo_request("198.18.0.1", "198.18.0.2", 1, 1)[20:]
    assert build_icmp_echo_reply(parse_packet(build_ip("fd00::1", "fd00::2", 1, v4msg))) is None
    assert build_icmp_echo_reply(parse_packet(build_ip("fd00::1", "fd00::2", 58, v4msg))) is None


@settings(max_examples=200)
@given(
    st.sampled_from([("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")]),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=100),
)
def test_echo_roundtrip(addrs, ident, seq, data):
    request = parse_packet(build_icmp_echo_request(*addrs, ident, seq, data))
    reply = parse_packet(build_icmp_echo_reply(request))
    assert reply.payload[4:] == struct.pack("!HH", ident, seq) + data
    assert (reply.src, reply.dst) == (request.dst, request.src)
