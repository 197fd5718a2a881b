"""The virtio-net header of a TUN device with offloads (tcplab.net.vnet): what tcplab writes
before its packets, what it reads from the kernel's, and the software GSO the in-loop
impairment uses. No device needed: the headers are checked byte by byte."""

from __future__ import annotations

import struct

from tcplab.net import vnet
from tcplab.wire import Flags, Segment, Timestamps, build_icmp_echo_request, build_packet, parse_packet
from tcplab.wire.checksum import partial, pseudo_header_sum

A4, B4 = "198.18.0.2", "198.18.0.1"
A6, B6 = "fd00::2", "fd00::1"


def _seg(n: int, flags: Flags = Flags.ACK | Flags.PSH) -> Segment:
    return Segment(
        9527,
        40000,
        1000,
        2000,
        flags,
        502,
        options=(Timestamps(7, 8),),
        payload=bytes(range(256)) * (n // 256) + bytes(n % 256),
    )


def test_a_plain_packet_gets_the_empty_header():
    pkt = build_packet(A4, B4, _seg(100))
    assert vnet.header_for(pkt, 0, checksum_partial=False) == bytes(10)


def test_icmp_is_never_marked_for_checksumming():
    ping = build_icmp_echo_request(A4, B4, 1, 1, b"x")
    assert vnet.header_for(ping, 0, checksum_partial=True) == bytes(10)


def test_a_tcp_packet_with_a_partial_checksum_says_where_to_finish_it():
    for src, dst, ip_len in ((A4, B4, 20), (A6, B6, 40)):
        pkt = build_packet(src, dst, _seg(100), partial_checksum=True)
        # NEEDS_CSUM, no GSO, csum_start at the TCP header, csum_offset 16 (TCP's checksum field)
        assert vnet.header_for(pkt, 0, checksum_partial=True) == struct.pack("<BBHHHH", 1, 0, 0, 0, ip_len, 16)
        # The field holds the pseudo-header sum, as Linux leaves it for CHECKSUM_PARTIAL.
        tcp_len = len(pkt) - ip_len
        field = int.from_bytes(pkt[ip_len + 16 : ip_len + 18], "big")
        assert field == partial(pseudo_header_sum(src, dst, 6, tcp_len))


def test_a_super_segment_says_its_parts():
    for src, dst, ip_len, gso_type in ((A4, B4, 20, 1), (A6, B6, 40, 4)):
        pkt = build_packet(src, dst, _seg(10 * 1448), partial_checksum=True)
        hdr = vnet.header_for(pkt, 1448, checksum_partial=True)
        # TCP header: 20 + 12 bytes of NOP, NOP, timestamps -> hdr_len = IP + 32
        assert hdr == struct.pack("<BBHHHH", 1, gso_type, ip_len + 32, 1448, ip_len, 16)


def test_what_the_kernel_says_is_read():
    assert vnet.rx_info(bytes(10)) is vnet.PLAIN_RX
    trusted = vnet.rx_info(struct.pack("<BBHHHH", 1, 0, 0, 0, 20, 16))
    assert (trusted.checksum_ok, trusted.gso_size) == (True, 0)
    valid = vnet.rx_info(struct.pack("<BBHHHH", 2, 0, 0, 0, 0, 0))
    assert (valid.checksum_ok, valid.gso_size) == (True, 0)
    gro = vnet.rx_info(struct.pack("<BBHHHH", 1, 1 | 0x80, 52, 1448, 20, 16))
    assert (gro.checksum_ok, gro.gso_size) == (True, 1448)


def test_software_gso_cuts_a_super_segment_as_the_kernel_does():
    for src, dst in ((A4, B4), (A6, B6)):
        sup = _seg(3 * 1448 + 100, Flags.ACK | Flags.PSH | Flags.FIN | Flags.CWR)
        pkt = build_packet(src, dst, sup, identification=77, partial_checksum=True)
        parts = [parse_packet(p) for p in vnet.segment(pkt, 1448, partial_checksum=False)]  # checksums verified
        segs = [p.tcp for p in parts]
        assert [(s.seq, len(s.payload)) for s in segs] == [(1000, 1448), (2448, 1448), (3896, 1448), (5344, 100)]
        assert [int(s.flags) for s in segs] == [0x90, 0x10, 0x10, 0x19]  # CWR first, FIN+PSH last
        assert b"".join(s.payload for s in segs) == sup.payload
        assert all(s.option(Timestamps) == Timestamps(7, 8) and s.ack == 2000 and s.window == 502 for s in segs)
        if ":" not in src:
            assert [p.header.identification for p in parts] == [77, 78, 79, 80]
    # Left partial, each part's checksum field is its own pseudo-header sum.
    (first, *_) = vnet.segment(build_packet(A4, B4, _seg(2000), partial_checksum=True), 1448, partial_checksum=True)
    assert int.from_bytes(first[36:38], "big") == partial(pseudo_header_sum(A4, B4, 6, len(first) - 20))


def test_a_capture_comment_says_what_a_super_segment_stands_for():
    pkt = build_packet(A4, B4, _seg(3 * 1448 + 100))
    assert (
        vnet.describe(pkt, 1448) == "super-segment: 4 segments of up to 1448 bytes on the wire (GSO/GRO by the kernel)"
    )


def test_a_packet_rebuilt_whole_gets_its_checksum_completed():
    pkt = build_packet(A4, B4, _seg(1000), partial_checksum=True)
    (whole,) = vnet.segment(pkt, vnet.WHOLE, partial_checksum=False)
    assert whole == build_packet(A4, B4, _seg(1000))  # the same packet, checksum complete
    assert vnet.is_tcp(pkt) and not vnet.is_tcp(build_icmp_echo_request(A4, B4, 1, 1, b"x"))


def test_a_segment_without_payload_is_one_packet():
    syn = Segment(40000, 9527, 1, 0, Flags.SYN, 64240)
    pkt = build_packet(A4, B4, syn, partial_checksum=True)
    assert vnet.segment(pkt, vnet.WHOLE, partial_checksum=False) == [build_packet(A4, B4, syn)]
