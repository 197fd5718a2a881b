"""IP fragments on the wire: IPv6 extension headers walked to the upper layer, fragments
recognised (RFC 791 3.2, RFC 8200 4.5), cut to an MTU and rebuilt."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    MSS,
    Flags,
    MalformedPacket,
    Segment,
    build_datagram,
    build_icmp_echo_request,
    build_icmp_reassembly_timeout,
    build_ip,
    build_packet,
    fragment_packet,
    parse_packet,
)

SEG = Segment(40000, 80, 1000, 0, Flags.ACK | Flags.PSH, 64240, options=(MSS(1460),), payload=bytes(range(256)) * 8)


def _reason(packet: bytes) -> str:
    with pytest.raises(MalformedPacket) as info:
        parse_packet(packet)
    return info.value.reason


def _reassemble(fragments: list[bytes]) -> bytes:
    """What a receiver does, in the simplest way (tests only): sort the pieces, glue the data."""
    parsed = sorted((parse_packet(f).fragment for f in fragments), key=lambda fr: fr.offset)
    data = bytearray()
    for fr in parsed:
        assert fr.offset == len(data)
        data += fr.data
    assert not parsed[-1].more and all(fr.more for fr in parsed[:-1])
    return build_datagram(parsed[0].head, data)


@settings(max_examples=100)
@given(st.sampled_from([("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")]), st.integers(0, 1800), st.integers(0, 8))
def test_fragment_then_rebuild_is_the_packet(addrs, size, mtu_step):
    src, dst = addrs
    seg = Segment(40000, 80, 7, 9, Flags.ACK, 1000, payload=bytes(i % 251 for i in range(size)))
    packet = build_packet(src, dst, seg)
    mtu = 576 + 100 * mtu_step if ":" not in src else 1280 + 50 * mtu_step
    pieces = fragment_packet(packet, mtu, identification=0x1234567)
    assert all(len(p) <= mtu for p in pieces)
    if len(pieces) == 1:
        assert pieces == [packet] and len(packet) <= mtu
        return
    keys = {parse_packet(p).fragment.key for p in pieces}
    assert len(keys) == 1
    whole = parse_packet(_reassemble(pieces))
    assert whole.tcp == parse_packet(packet).tcp  # checksums verified on the rebuilt datagram
    if ":" not in src:
        rebuilt = _reassemble(pieces)
        # the same header but for the identification, the flags (DF cleared) and the checksum
        assert rebuilt[:4] == packet[:4] and rebuilt[8:10] == packet[8:10] and rebuilt[12:] == packet[12:]


def test_ipv4_fragments_carry_only_copied_options():
    # option 0x94 (router alert, copied), 0x07 (record route, not copied), NOP padding
    options = bytes([0x94, 4, 0, 0]) + bytes([0x07, 7, 4]) + bytes(4) + bytes([1])
    head = bytearray(build_ip("198.18.0.1", "198.18.0.2", 17, b""))
    raw = bytearray(head[:20]) + options + bytes(1000)
    raw[0] = 0x40 | ((20 + len(options)) // 4)
    raw[2:4] = len(raw).to_bytes(2, "big")
    raw[10:12] = b"\x00\x00"
    from tcplab.wire import fold

    raw[10:12] = fold(int.from_bytes(raw[: 20 + len(options)], "big")).to_bytes(2, "big")
    first, second, *_ = fragment_packet(bytes(raw), 576, 77)
    assert first[0] & 0x0F == 8 and first[20:32] == options
    assert second[0] & 0x0F == 6 and second[20:24] == bytes([0x94, 4, 0, 0])
    assert parse_packet(second).fragment.offset == 576 - 32
    for piece in (first, second):
        assert struct.unpack("!H", piece[4:6])[0] == 77
        assert not piece[6] & 0x40  # DF cleared: we chose to fragment


def test_ipv6_extension_headers_are_walked_to_tcp():
    tcp = build_packet("fd00::1", "fd00::2", SEG)[40:]
    hop_by_hop = bytes([60, 0, 1, 4, 0, 0, 0, 0])  # next: destination options; PadN
    dest_opts = bytes([6, 0, 1, 4, 0, 0, 0, 0])  # next: TCP
    raw = bytearray(build_ip("fd00::1", "fd00::2", 0, hop_by_hop + dest_opts + tcp))
    pkt = parse_packet(bytes(raw))
    assert pkt.protocol == 6 and pkt.tcp == parse_packet(build_packet("fd00::1", "fd00::2", SEG)).tcp
    # a routing header with segments left: we route nothing (RFC 8200 4.4)
    routing = bytes([6, 0, 0, 1, 0, 0, 0, 0])
    assert _reason(build_ip("fd00::1", "fd00::2", 43, routing + tcp)) == "ipv6 routing header not supported"
    routing_done = bytes([6, 0, 0, 0, 0, 0, 0, 0])  # segments left 0: ignored
    assert parse_packet(build_ip("fd00::1", "fd00::2", 43, routing_done + tcp)).tcp is not None
    assert _reason(build_ip("fd00::1", "fd00::2", 0, bytes([6, 3]))) == "truncated ipv6 extension header"
    assert _reason(build_ip("fd00::1", "fd00::2", 0, bytes([6, 3, 0, 0, 0, 0, 0, 0]))) == (
        "truncated ipv6 extension header"
    )


def test_ipv6_fragment_rules():
    tcp = build_packet("fd00::1", "fd00::2", SEG)[40:]

    def frag(offset, more, data, nh=6):
        return build_ip(
            "fd00::1", "fd00::2", 44, bytes([nh, 0]) + (offset | more).to_bytes(2, "big") + b"\0\0\0\x05" + data
        )

    atomic = parse_packet(frag(0, 0, tcp))  # RFC 6946: an atomic fragment is processed as is
    assert atomic.fragment is None and atomic.tcp is not None
    first = parse_packet(frag(0, 1, tcp[:512]))
    assert first.fragment.key[0] == 6 and first.fragment.key[4] == 5 and first.fragment.head[6] == 6
    assert len(first.fragment.head) == 40
    assert _reason(frag(0, 1, tcp[:16])) == "ipv6 first fragment without the upper-layer header"
    assert _reason(frag(8, 1, tcp[:12])) == "bad ip fragment length"
    assert _reason(frag(0xFFF8, 0, tcp[:16])) == "ip fragment past 65535"


def test_reassembly_timeout_quotes_the_first_fragment():
    big = build_icmp_echo_request("198.18.0.1", "198.18.0.2", 1, 1, bytes(3000))
    first = fragment_packet(big, 1500, 9)[0]
    icmp = parse_packet(build_icmp_reassembly_timeout(first))
    assert (str(icmp.src), str(icmp.dst), icmp.protocol) == ("198.18.0.2", "198.18.0.1", 1)
    assert icmp.payload[:2] == bytes([11, 1]) and len(icmp.payload) == 576 - 20
    assert icmp.payload[8:] == first[: 576 - 28]
    big6 = build_icmp_echo_request("fd00::1", "fd00::2", 1, 1, bytes(3000))
    first6 = fragment_packet(big6, 1500, 9)[0]
    icmp6 = parse_packet(build_icmp_reassembly_timeout(first6))
    assert (str(icmp6.src), str(icmp6.dst), icmp6.protocol) == ("fd00::2", "fd00::1", 58)
    assert icmp6.payload[:2] == bytes([3, 1]) and len(icmp6.payload) == 1280 - 40
