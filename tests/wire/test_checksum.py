from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    fold,
    icmpv4_checksum,
    icmpv6_checksum,
    internet_checksum,
    pseudo_header_sum,
    pseudo_header_v4,
    pseudo_header_v6,
    raw_sum,
    transport_checksum,
)

from . import refimpl

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


def test_rfc1071_numerical_example():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement).
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert refimpl.ones_complement_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0xFFFF - 0xDDF2 == 0x220D


def test_zero_and_negative_zero():
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(bytes(10)) == 0xFFFF
    # A non-zero sum that folds to 0xFFFF has checksum 0, as the word-loop computes.
    assert internet_checksum(b"\xff\xff") == 0 == refimpl.checksum(b"\xff\xff")
    assert internet_checksum(b"\x12\x34\xed\xcb") == 0 == refimpl.checksum(b"\x12\x34\xed\xcb")


def test_odd_length_padded_with_zero():
    assert internet_checksum(b"\x01") == 0xFFFF - 0x0100
    assert internet_checksum(b"\x01\x02\x03") == refimpl.checksum(b"\x01\x02\x03\x00")


def test_ipv4_header_checksum_known_value():
    # A classic header: 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert internet_checksum(hdr) == 0xB861
    assert internet_checksum(hdr[:10] + b"\xb8\x61" + hdr[12:]) == 0


@settings(max_examples=300)
@given(st.binary(max_size=300), st.binary(max_size=3))
def test_matches_reference(data, more):
    assert internet_checksum(data) == refimpl.checksum(data)
    assert internet_checksum(memoryview(data)) == refimpl.checksum(data)
    assert internet_checksum(bytearray(data + more)) == refimpl.checksum(data + more)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_verification_yields_zero(data):
    if len(data) % 2:
        data += b"\x00"
    csum = internet_checksum(data)
    assert internet_checksum(data + csum.to_bytes(2, "big")) == 0


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=40).map(lambda b: b + b"\x00" * (len(b) % 2)), max_size=5))
def test_sums_of_even_pieces_add(pieces):
    assert fold(sum(raw_sum(p) for p in pieces)) == refimpl.checksum(b"".join(pieces))


@settings(max_examples=200)
@given(st.one_of(st.tuples(ipv4, ipv4), st.tuples(ipv6, ipv6)), st.integers(0, 255), st.integers(0, 0xFFFF))
def test_pseudo_header_matches_rfc_layout(addrs, protocol, length):
    src, dst = addrs
    expected = refimpl.pseudo_header(src, dst, protocol, length)
    built = (pseudo_header_v4 if ":" not in src else pseudo_header_v6)(src, dst, protocol, length)
    assert built == expected
    assert fold(pseudo_header_sum(src, dst, protocol, length)) == refimpl.checksum(expected)


def test_pseudo_header_v4_bytes():
    assert pseudo_header_v4("198.18.0.1", "198.18.0.2", 6, 40) == bytes.fromhex("c6120001c612000200060028")


def test_pseudo_header_v6_bytes():
    assert pseudo_header_v6("fd00::1", "fd00::2", 6, 40) == bytes.fromhex(
        "fd000000000000000000000000000001fd0000000000000000000000000000020000002800000006"
    )


# A 20-byte SYN from port 1 to port 2, seq 0, ack 0, window 0: its words are 0001 0002, then
# 5002 (data offset 5, SYN); all others zero. Sum 0x5005.
BARE_SYN = bytes.fromhex("0001000200000000000000005002000000000000")


def test_tcp_ipv6_pseudo_header_checksum_known_value():
    # By hand: pseudo-header ::1, ::1, length 20, next header 6 sums to 1 + 1 + 0x14 + 6 = 0x1c;
    # 0x5005 + 0x1c = 0x5021; checksum = ~0x5021 = 0xafde.
    assert transport_checksum("::1", "::1", 6, BARE_SYN) == 0xAFDE
    assert refimpl.tcp_checksum("::1", "::1", BARE_SYN) == 0xAFDE


def test_tcp_ipv4_pseudo_header_checksum_known_value():
    # By hand: 7f00 + 0001 + 7f00 + 0001 + 0006 + 0014 = 0xfe1c; + 0x5005 = 0x14e21 -> 0x4e22;
    # checksum = ~0x4e22 = 0xb1dd.
    assert transport_checksum("127.0.0.1", "127.0.0.1", 6, BARE_SYN) == 0xB1DD
    assert refimpl.tcp_checksum("127.0.0.1", "127.0.0.1", BARE_SYN) == 0xB1DD


def test_icmp_checksums():
    echo = bytes.fromhex("0800000012340001") + b"ping"
    assert icmpv4_checksum(echo) == refimpl.checksum(echo)
    echo6 = bytes.fromhex("8000000012340001") + b"ping"
    expected = refimpl.checksum(refimpl.pseudo_header("fd00::1", "fd00::2", 58, len(echo6)) + echo6)
    assert icmpv6_checksum("fd00::1", "fd00::2", echo6) == expected
