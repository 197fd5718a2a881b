from __future__ import annotations

import struct
from ipaddress import ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    Flags,
    IcmpError,
    Segment,
    build_icmp_echo_reply,
    build_icmp_echo_request,
    build_icmp_error,
    build_ip,
    build_packet,
    parse_icmp_error,
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


# ---- error messages (RFC 792, RFC 1191, RFC 4443) ------------------------------------------------
def _offending(src: str, dst: str) -> bytes:
    """A TCP segment we sent, as a router quotes it: the IP header and 8 bytes (RFC 792)."""
    raw = build_packet(src, dst, Segment(8080, 40001, 0x01020304, 5, Flags.ACK | Flags.PSH, 1000, payload=b"x" * 100))
    return raw[: (40 if ":" in src else 20) + 8]


def test_ipv4_frag_needed_carries_the_next_hop_mtu_and_quotes_the_segment():
    raw = build_icmp_error("198.18.0.1", "198.18.0.2", 3, 4, _offending("198.18.0.2", "198.18.0.1"), mtu=1200)
    msg = raw[20:]
    assert msg[:2] == b"\x03\x04" and msg[6:8] == (1200).to_bytes(2, "big")  # RFC 1191 4
    assert refimpl.checksum(msg) == 0
    err = parse_icmp_error(parse_packet(raw))
    assert err == IcmpError(4, 3, 4, 1200, "198.18.0.2", "198.18.0.1", 6, 8080, 40001, 0x01020304)


def test_ipv6_packet_too_big_and_unreachable():
    quoted = _offending("fd00::2", "fd00::1")
    err = parse_icmp_error(parse_packet(build_icmp_error("fd00::1", "fd00::2", 2, 0, quoted, mtu=1280)))
    assert err is not None and (err.type, err.mtu, err.sport, err.seq) == (2, 1280, 8080, 0x01020304)
    err = parse_icmp_error(parse_packet(build_icmp_error("fd00::1", "fd00::2", 1, 4, quoted)))
    assert err is not None and (err.type, err.code, err.mtu, err.dport) == (1, 4, 0, 40001)


def test_what_is_not_an_error_message_is_none():
    quoted = _offending("198.18.0.2", "198.18.0.1")
    echo = parse_packet(build_icmp_echo_request("198.18.0.1", "198.18.0.2", 1, 1))
    assert parse_icmp_error(echo) is None
    tcp = parse_packet(build_packet("198.18.0.1", "198.18.0.2", Segment(1, 2, 3, 4, Flags.ACK, 5)))
    assert parse_icmp_error(tcp) is None
    bad = bytearray(build_icmp_error("198.18.0.1", "198.18.0.2", 3, 3, quoted))
    bad[-1] ^= 1
    assert parse_icmp_error(parse_packet(bytes(bad))) is None  # bad checksum
    # too little quoted to know whose segment it was
    assert parse_icmp_error(parse_packet(build_icmp_error("198.18.0.1", "198.18.0.2", 3, 3, quoted[:12]))) is None
    # ports but no sequence number: still an error, the sequence number unknown
    err = parse_icmp_error(parse_packet(build_icmp_error("198.18.0.1", "198.18.0.2", 3, 3, quoted[:24])))
    assert err is not None and (err.sport, err.seq) == (8080, None)
