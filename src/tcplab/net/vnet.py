"""The virtio-net header of a TUN device opened with ``IFF_VNET_HDR``: how the kernel and tcplab
tell each other about super-segments and checksums (Linux include/uapi/linux/virtio_net.h).

With the header on, every packet read from or written to the TUN descriptor starts with ten
bytes (little-endian on every machine tcplab runs on; ``TUNSETVNETHDRSZ`` sets the size)::

    flags u8        NEEDS_CSUM (1): the TCP checksum is partial, fill it in from csum_start;
                    DATA_VALID (2): the checksum was checked already
    gso_type u8     NONE (0), TCPV4 (1), TCPV6 (4), | ECN (0x80)
    hdr_len u16     bytes of IP + TCP header (a hint for GSO packets)
    gso_size u16    the payload of each segment the super-segment stands for (its MSS)
    csum_start u16  where checksumming starts (the TCP header)
    csum_offset u16 where, from csum_start, the checksum goes (16 for TCP)

With ``TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)`` the kernel hands tcplab its TSO/GRO
super-segments (up to 64 KB, ``gso_size`` the MSS, the checksum left partial) and accepts them
from tcplab, segmenting them itself (GSO) and filling in every checksum. See
docs/architecture.md, "Link capabilities".
"""

from __future__ import annotations

import dataclasses
import struct

from tcplab.wire import build_packet, parse_tcp_packet

__all__ = [
    "DATA_VALID",
    "GSO_NONE",
    "GSO_TCPV4",
    "GSO_TCPV6",
    "HEADER",
    "NEEDS_CSUM",
    "PLAIN",
    "PLAIN_RX",
    "RxInfo",
    "describe",
    "header_for",
    "is_tcp",
    "rx_info",
    "segment",
]

NEEDS_CSUM = 1
DATA_VALID = 2
GSO_NONE = 0
GSO_TCPV4 = 1
GSO_TCPV6 = 4
GSO_ECN = 0x80

HEADER = struct.Struct("<BBHHHH")
SIZE = HEADER.size  # 10
PLAIN = bytes(SIZE)  # a packet complete in itself: no flags, no GSO
_TCP_CSUM_OFFSET = 16
_TCP = 6


class RxInfo:
    """What the header of a packet read from the device says, as the host wants it."""

    __slots__ = ("checksum_ok", "gso_size")

    def __init__(self, checksum_ok: bool, gso_size: int) -> None:
        self.checksum_ok = checksum_ok  # the kernel vouches for it (partial, or checked)
        self.gso_size = gso_size  # a GRO/TSO super-segment of parts this big; 0: one segment


PLAIN_RX = RxInfo(False, 0)
_TRUSTED_RX = RxInfo(True, 0)


def rx_info(header: bytes | memoryview) -> RxInfo:
    """The header at the start of a packet read from the device."""
    flags, gso_type, _hdr_len, gso_size, _start, _offset = HEADER.unpack_from(header)
    if gso_type & ~GSO_ECN:
        return RxInfo(True, gso_size)  # a super-segment comes with its checksum left partial
    if flags & (NEEDS_CSUM | DATA_VALID):
        return _TRUSTED_RX
    return PLAIN_RX


def header_for(packet: bytes, gso_size: int, checksum_partial: bool) -> bytes:
    """The header to write before ``packet`` (an IPv4 or IPv6 packet built by tcplab).

    ``checksum_partial``: its TCP checksum field holds only the pseudo-header sum (the kernel
    finishes it: NEEDS_CSUM). ``gso_size``: it is a super-segment the kernel must split into
    parts of ``gso_size`` bytes of payload (0: send it as it is)."""
    if not checksum_partial or not is_tcp(packet):
        return PLAIN  # complete checksums (ICMP is always complete)
    v6 = packet[0] >> 4 == 6
    ip_len = 40 if v6 else (packet[0] & 0x0F) << 2
    if not gso_size:
        return HEADER.pack(NEEDS_CSUM, GSO_NONE, 0, 0, ip_len, _TCP_CSUM_OFFSET)
    hdr_len = ip_len + ((packet[ip_len + 12] >> 4) << 2)
    return HEADER.pack(NEEDS_CSUM, GSO_TCPV6 if v6 else GSO_TCPV4, hdr_len, gso_size, ip_len, _TCP_CSUM_OFFSET)


WHOLE = 0x10000  # a gso_size no packet reaches: ``segment(packet, WHOLE, ...)`` rebuilds it whole


def is_tcp(packet: bytes | memoryview) -> bool:
    return bool(packet) and packet[6 if packet[0] >> 4 == 6 else 9] == _TCP


def _headers(packet: bytes | memoryview) -> int:
    """Bytes of IP and TCP header at the start of a TCP packet."""
    ip_len = 40 if packet[0] >> 4 == 6 else (packet[0] & 0x0F) << 2
    return ip_len + ((packet[ip_len + 12] >> 4) << 2)


def describe(packet: bytes | memoryview, gso_size: int) -> str:
    """A capture's comment on a super-segment: what it stands for on the wire."""
    payload = len(packet) - _headers(packet)
    parts = -(-payload // gso_size)
    return f"super-segment: {parts} segments of up to {gso_size} bytes on the wire (GSO/GRO by the kernel)"


def segment(packet: bytes | memoryview, gso_size: int, partial_checksum: bool) -> list[bytes]:
    """Split a super-segment into the packets it stands for, as the kernel's GSO does: each part
    ``gso_size`` bytes of payload (the last one the rest), its own sequence number and IPv4
    identification, FIN and PSH on the last part only, CWR on the first only; TCP checksums
    complete, or left partial (``partial_checksum``) as the host leaves its own for a link
    that finishes them. The in-loop impairment uses it, so that loss strikes wire packets."""
    pkt = parse_tcp_packet(packet, verify_checksum=False)
    seg = pkt.tcp
    assert seg is not None  # parse_tcp_packet guarantees it
    hdr = pkt.header
    tos = hdr.tos if hdr.version == 4 else hdr.traffic_class  # type: ignore[union-attr]
    ident = hdr.identification if hdr.version == 4 else 0  # type: ignore[union-attr]
    flags = int(seg.flags)
    payload = seg.payload
    out = []
    for i, off in enumerate(range(0, len(payload) or 1, gso_size)):  # (no payload: one packet)
        last = off + gso_size >= len(payload)
        part_flags = flags if last else flags & ~0x09  # FIN, PSH: on the last part only
        if off:
            part_flags &= ~0x80  # CWR: on the first part only
        part = dataclasses.replace(
            seg,
            seq=(seg.seq + off) & 0xFFFFFFFF,
            flags=type(seg.flags)(part_flags),
            payload=payload[off : off + gso_size],
            data_offset=None,
            gso_size=0,
        )
        ident_i = (ident + i) & 0xFFFF
        out.append(
            build_packet(
                hdr.src, hdr.dst, part, hdr.ttl, tos=tos, identification=ident_i, partial_checksum=partial_checksum
            )
        )
    return out
