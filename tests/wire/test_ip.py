from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    MSS,
    Flags,
    IPv4Header,
    IPv6Header,
    MalformedPacket,
    Packet,
    Segment,
    build_ip,
    build_packet,
    build_tcp,
    parse_ip,
    parse_packet,
    parse_tcp_packet,
)

from . import refimpl
from .strategies import address_pairs, expected_parsed_options, ipv4, ipv6, segments

SEG = Segment(40000, 80, 1000, 0, Flags.SYN, 64240, options=(MSS(1460),))


def _reason(fn, *args, **kw) -> str:
    with pytest.raises(MalformedPacket) as info:
        fn(*args, **kw)
    return info.value.reason


def _v4(
    total_length=None,
    ihl=5,
    version=4,
    flags_frag=0x4000,
    protocol=6,
    payload=b"",
    options=b"",
    ident=0x1234,
    fix_checksum=True,
) -> bytes:
    """An IPv4 packet written by hand from RFC 791's layout."""
    if total_length is None:
        total_length = ihl * 4 + len(payload)
    hdr = (
        struct.pack(
            "!BBHHHBBH4s4s",
            (version << 4) | ihl,
            0,
            total_length,
            ident,
            flags_frag,
            64,
            protocol,
            0,
            bytes([198, 18, 0, 1]),
            bytes([198, 18, 0, 2]),
        )
        + options
    )
    if fix_checksum:
        hdr = hdr[:10] + struct.pack("!H", refimpl.checksum(hdr)) + hdr[12:]
    return hdr + payload


# ---- known bytes --------------------------------------------------------------------------------
def test_ipv4_tcp_packet_bytes():
    pkt = build_packet("198.18.0.1", "198.18.0.2", SEG)
    tcp = build_tcp(SEG, "198.18.0.1", "198.18.0.2")
    assert pkt == _v4(payload=tcp, ident=0)
    assert pkt[:4] == bytes.fromhex("4500002c")
    assert pkt[6:10] == bytes.fromhex("40004006")  # DF, TTL 64, TCP


def test_ipv6_tcp_packet_bytes():
    pkt = build_packet("fd00::1", "fd00::2", SEG, ttl=33)
    tcp = build_tcp(SEG, "fd00::1", "fd00::2")
    assert pkt == (
        bytes.fromhex("60000000")
        + struct.pack("!HBB", len(tcp), 6, 33)
        + IPv6Address("fd00::1").packed
        + IPv6Address("fd00::2").packed
        + tcp
    )


def test_parse_ipv4_packet_fields():
    pkt = parse_packet(build_packet("198.18.0.1", "198.18.0.2", SEG, ttl=7))
    assert isinstance(pkt, Packet)
    assert pkt.version == 4
    assert pkt.src == IPv4Address("198.18.0.1")
    assert pkt.dst == IPv4Address("198.18.0.2")
    assert pkt.protocol == 6
    assert pkt.ttl == 7 and pkt.hop_limit == 7
    assert pkt.tcp == SEG
    assert pkt.payload == build_tcp(SEG, "198.18.0.1", "198.18.0.2")
    assert pkt.header.flags == 0b010 and pkt.header.total_length == 44


def test_parse_ipv6_packet_fields():
    raw = build_packet(IPv6Address("fd00::1"), IPv6Address("fd00::2"), SEG, ttl=9)
    pkt = parse_packet(raw)
    assert (pkt.version, pkt.src, pkt.dst, pkt.protocol, pkt.hop_limit, pkt.ttl) == (
        6,
        IPv6Address("fd00::1"),
        IPv6Address("fd00::2"),
        6,
        9,
        9,
    )
    assert pkt.tcp == SEG
    assert pkt.raw == raw


def test_trailing_bytes_ignored():
    for src, dst in (("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")):
        raw = build_packet(src, dst, SEG)
        pkt = parse_packet(raw + b"\x00" * 7)  # e.g. Ethernet minimum-size padding
        assert pkt.tcp == SEG
        assert pkt.raw == raw


def test_non_tcp_is_returned_with_payload():
    raw = build_ip("198.18.0.1", "198.18.0.2", 17, b"\x00\x35\x00\x35\x00\x0c\x00\x00abcd")
    pkt = parse_packet(raw)
    assert pkt.tcp is None
    assert pkt.protocol == 17
    assert pkt.payload == b"\x00\x35\x00\x35\x00\x0c\x00\x00abcd"
    assert parse_ip(raw) == (pkt.header, pkt.payload)
    assert _reason(parse_tcp_packet, raw) == "not tcp"
    raw6 = build_ip("fd00::1", "fd00::2", 0, b"\x3a\x00" + bytes(6) + b"icmp")  # hop-by-hop header
    pkt6 = parse_packet(raw6)
    # the extension header is walked: the upper layer is ICMPv6 (58), its message the payload
    assert pkt6.tcp is None and pkt6.protocol == 58 and pkt6.payload == b"icmp"
    assert _reason(parse_tcp_packet, raw6) == "not tcp"


def test_parse_ip_returns_segment_for_tcp():
    hdr, seg = parse_ip(build_packet("fd00::1", "fd00::2", SEG))
    assert hdr == IPv6Header(IPv6Address("fd00::1"), IPv6Address("fd00::2"), 6)
    assert seg == SEG
    assert parse_tcp_packet(build_packet("fd00::1", "fd00::2", SEG)).tcp == SEG


def test_ipv4_options_kept():
    hdr = IPv4Header(
        IPv4Address("198.18.0.1"), IPv4Address("198.18.0.2"), 17, options=b"\x94\x04\x00\x00"
    )  # router alert
    raw = hdr.build(3) + b"abc"
    assert raw[0] == 0x46
    assert refimpl.checksum(raw[:24]) == 0
    pkt = parse_packet(raw)
    assert pkt.header == hdr and pkt.payload == b"abc"


def test_build_packet_rejects_mixed_families():
    with pytest.raises(ValueError):
        build_packet("198.18.0.1", "fd00::1", SEG)
    with pytest.raises(ValueError):
        build_packet("198.18.0.1", "198.18.0.2", SEG, ttl=256)


# ---- every IP MalformedPacket reason ------------------------------------------------------------
def test_truncated_ip_header():
    assert _reason(parse_packet, b"") == "truncated ip header"
    assert _reason(parse_packet, _v4()[:19]) == "truncated ip header"
    assert _reason(parse_packet, bytes.fromhex("6000000000000640") + bytes(20)) == "truncated ip header"
    assert _reason(parse_packet, _v4(ihl=6, total_length=24)[:21]) == "truncated ip header"


def test_bad_ip_version():
    for version in (0, 1, 5, 7, 15):
        assert _reason(parse_packet, _v4(version=version)) == "bad ip version"
    assert _reason(IPv4Header.parse, bytes(build_packet("fd00::1", "fd00::2", SEG))) == "bad ip version"
    assert _reason(IPv6Header.parse, build_packet("198.18.0.1", "198.18.0.2", SEG) + bytes(20)) == "bad ip version"


def test_bad_ip_header_length():
    for ihl in range(5):
        assert _reason(parse_packet, _v4(ihl=ihl, total_length=20)) == "bad ip header length"


def test_ip_total_length_inconsistent():
    assert _reason(parse_packet, _v4(total_length=19)) == "ip total length inconsistent"
    assert _reason(parse_packet, _v4(ihl=6, total_length=20, options=bytes(4))) == "ip total length inconsistent"
    full = build_packet("198.18.0.1", "198.18.0.2", SEG)
    assert _reason(parse_packet, full[:-1]) == "ip total length inconsistent"
    full6 = build_packet("fd00::1", "fd00::2", SEG)
    assert _reason(parse_packet, full6[:-1]) == "ip total length inconsistent"


def test_bad_ip_header_checksum():
    raw = bytearray(_v4(protocol=17, payload=b"x"))
    raw[10] ^= 1
    assert _reason(parse_packet, bytes(raw)) == "bad ip header checksum"
    assert parse_packet(bytes(raw), verify_checksum=False).payload == b"x"
    raw = bytearray(_v4(protocol=17, payload=b"x"))
    raw[8] = 63  # TTL changed without fixing the checksum
    assert _reason(parse_packet, bytes(raw)) == "bad ip header checksum"


@pytest.mark.parametrize("flags_frag", [0x2000, 0x0001, 0x2001, 0x1F00, 0x4001])
def test_ipv4_fragments_come_back_as_fragments(flags_frag):
    pkt = parse_packet(_v4(flags_frag=flags_frag, payload=b"12345678"))
    assert pkt.tcp is None and pkt.fragment is not None
    frag = pkt.fragment
    assert frag.key == (4, bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]), 6, 0x1234)
    assert (frag.offset, frag.more, frag.data) == ((flags_frag & 0x1FFF) * 8, bool(flags_frag & 0x2000), b"12345678")
    assert (frag.head is not None) == (frag.offset == 0)


def test_ipv4_fragment_rules():
    # RFC 791: all but the last fragment carry a multiple of 8 bytes; none ends past 65535.
    assert _reason(parse_packet, _v4(flags_frag=0x2000, payload=b"1234567")) == "bad ip fragment length"
    assert _reason(parse_packet, _v4(flags_frag=0x1FFF, payload=b"12345678" * 2)) == "ip fragment past 65535"


def test_bad_tcp_checksum_in_packet():
    raw = bytearray(build_packet("198.18.0.1", "198.18.0.2", SEG))
    raw[-1] ^= 0x10
    assert _reason(parse_packet, bytes(raw)) == "bad tcp checksum"
    assert parse_packet(bytes(raw), verify_checksum=False).tcp.options == (MSS(1460 ^ 0x10),)
    raw6 = bytearray(build_packet("fd00::1", "fd00::2", SEG))
    raw6[8] ^= 0x01  # source address: the pseudo-header no longer matches
    assert _reason(parse_packet, bytes(raw6)) == "bad tcp checksum"


def test_tcp_errors_inside_packets():
    assert _reason(parse_packet, _v4(payload=bytes(19))) == "truncated tcp header"
    assert _reason(parse_packet, build_ip("fd00::1", "fd00::2", 6, bytes(10))) == "truncated tcp header"


def test_ecn_field_travels_with_the_segment():
    # RFC 3168 5: the two low bits of the IPv4 TOS / IPv6 traffic class are the ECN field.
    for src, dst in (("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")):
        for ecn in (0, 1, 2, 3):
            seg = Segment(40000, 80, 1000, 0, Flags.ACK, 512, ecn=ecn)
            raw = build_packet(src, dst, seg, tos=0xB8)  # DSCP EF stays above the ECN bits
            pkt = parse_packet(raw)
            assert pkt.tcp is not None and pkt.tcp.ecn == ecn
            hdr = pkt.header
            assert (hdr.tos if isinstance(hdr, IPv4Header) else hdr.traffic_class) == 0xB8 | ecn
            assert pkt.tcp == seg


# ---- roundtrips -------------------------------------------------------------------------------
@settings(max_examples=300)
@given(segments, address_pairs, st.integers(0, 255))
def test_build_packet_then_parse(seg, addrs, ttl):
    src, dst = addrs
    raw = build_packet(src, dst, seg, ttl=ttl)
    pkt = parse_packet(raw)
    assert (pkt.src, pkt.dst, pkt.ttl, pkt.protocol) == (src, dst, ttl, 6)
    assert pkt.version == src.version
    assert pkt.tcp == Segment(
        seg.src_port,
        seg.dst_port,
        seg.seq,
        seg.ack,
        seg.flags,
        seg.window,
        seg.urgent,
        expected_parsed_options(seg.options),
        seg.payload,
    )
    assert pkt.payload == build_tcp(seg, src, dst)
    assert parse_packet(memoryview(raw)).tcp == pkt.tcp
    assert parse_packet(bytearray(raw)).tcp == pkt.tcp


ipv4_headers = st.builds(
    IPv4Header,
    src=ipv4,
    dst=ipv4,
    protocol=st.integers(0, 255),
    ttl=st.integers(0, 255),
    tos=st.integers(0, 255),
    identification=st.integers(0, 0xFFFF),
    flags=st.integers(0, 7),
    fragment_offset=st.integers(0, 0x1FFF),
    options=st.integers(0, 10).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
)

ipv6_headers = st.builds(
    IPv6Header,
    src=ipv6,
    dst=ipv6,
    next_header=st.integers(0, 255),
    hop_limit=st.integers(0, 255),
    traffic_class=st.integers(0, 255),
    flow_label=st.integers(0, 0xFFFFF),
)


@settings(max_examples=300)
@given(ipv4_headers, st.binary(max_size=64))
def test_ipv4_header_roundtrip(hdr, payload):
    raw = hdr.build(len(payload)) + payload
    assert refimpl.checksum(raw[: hdr.header_length]) == 0
    got = IPv4Header.parse(raw)
    assert got == hdr
    assert got.total_length == len(raw)
    assert got.checksum == struct.unpack_from("!H", raw, 10)[0]


@settings(max_examples=300)
@given(ipv6_headers, st.binary(max_size=64))
def test_ipv6_header_roundtrip(hdr, payload):
    raw = hdr.build(len(payload)) + payload
    got = IPv6Header.parse(raw)
    assert got == hdr
    assert got.payload_length == len(payload)
    if hdr.next_header not in (6, 0, 43, 44, 60):  # TCP and the extension headers parse further
        pkt = parse_packet(raw)
        assert pkt.tcp is None and pkt.payload == payload and pkt.protocol == hdr.next_header


def test_header_template_reuse_keeps_checksums_right():
    # Packets of one flow share a header template; every length must get its own checksum.
    for src, dst in (("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")):
        for n in (0, 1, 2, 255, 1000, 1460):
            seg = Segment(1, 2, 3, 4, Flags.ACK, 5, payload=bytes(range(256)) * 6)
            seg.payload = seg.payload[:n]
            raw = build_packet(src, dst, seg, ttl=3)
            if src[0] != "f":
                assert struct.unpack_from("!H", raw, 2)[0] == 40 + n
                assert refimpl.checksum(raw[:20]) == 0
            else:
                assert struct.unpack_from("!H", raw, 4)[0] == 20 + n
            assert parse_packet(raw).tcp.payload == seg.payload


def test_too_long_packets_rejected():
    with pytest.raises(ValueError):
        build_ip("198.18.0.1", "198.18.0.2", 17, bytes(65516))
    assert len(build_ip("198.18.0.1", "198.18.0.2", 17, bytes(65515))) == 65535
    with pytest.raises(ValueError):
        build_ip("fd00::1", "fd00::2", 17, bytes(65536))
    assert len(build_ip("fd00::1", "fd00::2", 17, bytes(65535))) == 65575
