"""Any bytes at all: the parse functions return or raise MalformedPacket, nothing else."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    IPv4Header,
    IPv6Header,
    MalformedPacket,
    Packet,
    Segment,
    build_icmp_echo_reply,
    build_icmp_echo_request,
    build_packet,
    format_options,
    parse_ip,
    parse_options,
    parse_packet,
    parse_tcp,
    parse_tcp_packet,
)

from . import refimpl
from .strategies import address_pairs, segments

PARSERS = [
    ("parse_packet", parse_packet),
    ("parse_packet unverified", lambda b: parse_packet(b, verify_checksum=False)),
    ("parse_tcp_packet", parse_tcp_packet),
    ("parse_ip", parse_ip),
    ("parse_ip unverified", lambda b: parse_ip(b, verify_checksum=False)),
    ("parse_tcp", parse_tcp),
    ("parse_tcp v4", lambda b: parse_tcp(b, "198.18.0.1", "198.18.0.2")),
    ("parse_tcp v6", lambda b: parse_tcp(b, "fd00::1", "fd00::2")),
    ("parse_tcp at 20", lambda b: parse_tcp(b[20:])),
    ("parse_tcp at 40", lambda b: parse_tcp(b[40:])),
    ("parse_options", parse_options),
    ("parse_options at 20", lambda b: parse_options(b[20:60])),
    ("IPv4Header.parse", IPv4Header.parse),
    ("IPv6Header.parse", IPv6Header.parse),
]


def check_only_malformed(data: bytes) -> None:
    for view in (data, memoryview(data), bytearray(data)):
        for name, parse in PARSERS:
            try:
                result = parse(view)
            except MalformedPacket as exc:
                assert exc.reason and isinstance(exc.reason, str)
                continue
            # Whatever parses must be usable.
            if isinstance(result, Packet):
                repr(result)
                assert isinstance(result.payload, bytes)
                assert isinstance(result.raw, bytes)
                if result.tcp is not None:
                    assert isinstance(result.tcp.payload, bytes)
                    format_options(result.tcp.options)
                else:
                    reply = build_icmp_echo_reply(result)
                    assert reply is None or parse_packet(reply).tcp is None
            elif name.startswith("parse_options"):
                format_options(result)
            elif name.startswith("parse_ip"):
                header, body = result
                assert isinstance(header, (IPv4Header, IPv6Header))
                assert isinstance(body, (Segment, bytes))
            elif name.startswith("parse_tcp"):
                assert isinstance(result, Segment)


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_arbitrary_bytes(data):
    check_only_malformed(data)


@settings(max_examples=300)
@given(st.sampled_from([0x45, 0x46, 0x4F, 0x60, 0x6F, 0x40]), st.binary(max_size=100))
def test_arbitrary_bytes_with_plausible_first_byte(first, rest):
    check_only_malformed(bytes([first]) + rest)


def _fix_checksums(pkt: bytearray) -> None:
    """Make the IPv4 header and TCP checksums right again after a mutation, where the
    structure still allows finding them (so mutations reach the option parser)."""
    if len(pkt) < 20:
        return
    version = pkt[0] >> 4
    if version == 4:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack_from("!H", pkt, 2)[0]
        if ihl < 20 or ihl > len(pkt):
            return
        pkt[10:12] = b"\x00\x00"
        pkt[10:12] = struct.pack("!H", refimpl.checksum(bytes(pkt[:ihl])))
        start, end, pseudo_src = ihl, total, bytes(pkt[12:20])
    elif version == 6 and len(pkt) >= 40:
        start, end, pseudo_src = 40, 40 + struct.unpack_from("!H", pkt, 4)[0], bytes(pkt[8:40])
    else:
        return
    if pkt[9 if version == 4 else 6] != 6 or end > len(pkt) or end - start < 20:
        return
    seg = bytes(pkt[start:end])
    half = len(pseudo_src) // 2
    pseudo = refimpl.pseudo_header(
        ".".join(map(str, pseudo_src[:4])) if version == 4 else _v6(pseudo_src[:half]),
        ".".join(map(str, pseudo_src[4:])) if version == 4 else _v6(pseudo_src[half:]),
        6,
        len(seg),
    )
    csum = refimpl.checksum(pseudo + seg[:16] + b"\x00\x00" + seg[18:])
    pkt[start + 16 : start + 18] = struct.pack("!H", csum)


def _v6(raw: bytes) -> str:
    return ":".join(raw[i : i + 2].hex() for i in range(0, 16, 2))


valid_packets = st.one_of(
    st.builds(lambda seg, addrs: build_packet(addrs[0], addrs[1], seg), segments, address_pairs),
    st.builds(
        lambda addrs, data: build_icmp_echo_request(addrs[0], addrs[1], 1, 2, data),
        address_pairs,
        st.binary(max_size=20),
    ),
)

mutations = st.lists(
    st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, 200)),
        st.tuples(st.just("flip"), st.integers(0, 200), st.integers(0, 7)),
        st.tuples(st.just("set"), st.integers(0, 200), st.integers(0, 255)),
        st.tuples(st.just("tcp offset"), st.integers(0, 15)),
        st.tuples(st.just("ihl"), st.integers(0, 15)),
        st.tuples(st.just("option byte"), st.integers(0, 39), st.sampled_from([0, 1, 2, 3, 4, 5, 8, 10, 34, 40, 255])),
        st.tuples(st.just("append"), st.binary(min_size=1, max_size=8)),
    ),
    min_size=1,
    max_size=4,
)


def _mutate(pkt: bytearray, op: tuple) -> bytearray:
    tcp_at = 20 if pkt and pkt[0] >> 4 == 4 else 40
    what = op[0]
    if what == "truncate":
        return pkt[: op[1]]
    if what == "flip" and op[1] < len(pkt):
        pkt[op[1]] ^= 1 << op[2]
    elif what == "set" and op[1] < len(pkt):
        pkt[op[1]] = op[2]
    elif what == "tcp offset" and tcp_at + 12 < len(pkt):
        pkt[tcp_at + 12] = (op[1] << 4) | (pkt[tcp_at + 12] & 15)
    elif what == "ihl" and pkt:
        pkt[0] = (pkt[0] & 0xF0) | op[1]
    elif what == "option byte" and tcp_at + 20 + op[1] < len(pkt):
        pkt[tcp_at + 20 + op[1]] = op[2]
    elif what == "append":
        pkt += op[1]
    return pkt


@settings(max_examples=300)
@given(valid_packets, mutations, st.booleans())
def test_mutated_packets(packet, ops, fix):
    pkt = bytearray(packet)
    for op in ops:
        pkt = _mutate(pkt, op)
    if fix:
        _fix_checksums(pkt)
    check_only_malformed(bytes(pkt))


@settings(max_examples=300)
@given(st.binary(max_size=40), st.binary(max_size=8))
def test_arbitrary_option_areas_inside_valid_segments(options, payload):
    """Random option bytes with a right checksum: only option errors can come out."""
    options += b"\x00" * (-len(options) & 3)
    off = 5 + len(options) // 4
    seg = struct.pack("!HHIIBBHHH", 1, 2, 3, 4, off << 4, 0x10, 5, 0, 0) + options + payload
    csum = refimpl.tcp_checksum("198.18.0.1", "198.18.0.2", seg)
    seg = seg[:16] + struct.pack("!H", csum) + seg[18:]
    try:
        got = parse_tcp(seg, "198.18.0.1", "198.18.0.2")
    except MalformedPacket as exc:
        assert exc.reason in ("tcp option length invalid", "tcp option past header")
    else:
        assert got.ack == 4
        assert got.payload == payload
        format_options(got.options)
