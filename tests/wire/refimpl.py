"""Tiny reference implementations, written straight from the RFCs, to check tcplab.wire against.

Deliberately naive: a word-by-word loop with end-around carry (RFC 1071 4.1) and pseudo-headers
packed field by field with struct (RFC 9293 3.1, RFC 8200 8.1).
"""

from __future__ import annotations

import ipaddress
import struct


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data = data + b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes) -> int:
    return ~ones_complement_sum(data) & 0xFFFF


def pseudo_header(src: str, dst: str, protocol: int, length: int) -> bytes:
    s = ipaddress.ip_address(src)
    d = ipaddress.ip_address(dst)
    if s.version == 4:
        return struct.pack("!4s4sBBH", s.packed, d.packed, 0, protocol, length)
    return struct.pack("!16s16sI3xB", s.packed, d.packed, length, protocol)


def tcp_checksum(src: str, dst: str, segment: bytes) -> int:
    """Checksum of ``segment`` whose checksum field (bytes 16-17) is taken as zero."""
    zeroed = segment[:16] + b"\x00\x00" + segment[18:]
    return checksum(pseudo_header(src, dst, 6, len(segment)) + zeroed)
