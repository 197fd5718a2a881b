"""IP fragments: cutting a packet to fit an MTU, and rebuilding a datagram from its fragments'
data (RFC 791 3.2 for IPv4, RFC 8200 4.5 for IPv6). The parser recognises fragments
(``Packet.fragment``); keeping them until the datagram is whole is the host's business.
"""

from __future__ import annotations

from .checksum import BytesLike, fold
from .errors import MalformedPacket
from .ip import IPV6_FRAGMENT, IPV6_HOP_BY_HOP, IPV6_ROUTING

__all__ = ["build_datagram", "fragment_packet"]

_IPV4_MF = 0x2000
_IPV4_DF = 0x4000


def build_datagram(head: bytes, payload: BytesLike) -> bytes:
    """The datagram a first fragment's ``head`` and the reassembled ``payload`` make: lengths set,
    the IPv4 fragment fields cleared and its checksum computed again. Raises MalformedPacket
    when the result would not fit in 65535 bytes."""
    total = len(head) + len(payload)
    if head[0] >> 4 == 4:
        if total > 0xFFFF:
            raise MalformedPacket("reassembled datagram too long", f"{total} bytes")
        raw = bytearray(head)
        raw[2:4] = total.to_bytes(2, "big")
        raw[6:8] = (int.from_bytes(raw[6:8], "big") & _IPV4_DF).to_bytes(2, "big")
        raw[10:12] = b"\x00\x00"
        raw[10:12] = fold(int.from_bytes(raw, "big")).to_bytes(2, "big")
        return bytes(raw) + bytes(payload)
    if total - 40 > 0xFFFF:
        raise MalformedPacket("reassembled datagram too long", f"{total - 40} bytes of payload")
    return head[:4] + (total - 40).to_bytes(2, "big") + head[6:] + bytes(payload)


def fragment_packet(packet: bytes, mtu: int, identification: int) -> list[bytes]:
    """``packet`` cut into fragments of at most ``mtu`` bytes, as a sending host does (the whole
    packet when it fits). IPv4 fragments carry the options marked "copy" after the first one
    (the DF bit is cleared: this host chose to fragment); IPv6 fragments repeat the
    unfragmentable part (hop-by-hop and routing headers) before a fragment header."""
    if len(packet) <= mtu:
        return [packet]
    if packet[0] >> 4 == 4:
        return _fragment_v4(packet, mtu, identification & 0xFFFF)
    return _fragment_v6(packet, mtu, identification & 0xFFFFFFFF)


def _fragment_v4(packet: bytes, mtu: int, ident: int) -> list[bytes]:
    ihl = (packet[0] & 0x0F) * 4
    data = packet[ihl:]
    first_head = bytearray(packet[:ihl])
    first_head[4:6] = ident.to_bytes(2, "big")
    later_head = bytearray(first_head[:20]) + _copied_options(packet[20:ihl])
    later_head[0] = 0x40 | (len(later_head) // 4)
    out = []
    offset = 0
    while offset < len(data):
        head = first_head if offset == 0 else later_head
        room = (mtu - len(head)) & ~7
        if room <= 0:
            raise ValueError(f"MTU {mtu} leaves no room for data after a {len(head)}-byte IPv4 header")
        chunk = data[offset : offset + room]
        more = offset + len(chunk) < len(data)
        raw = bytearray(head) + chunk
        raw[2:4] = len(raw).to_bytes(2, "big")
        raw[6:8] = ((_IPV4_MF if more else 0) | (offset // 8)).to_bytes(2, "big")
        raw[10:12] = b"\x00\x00"
        raw[10:12] = fold(int.from_bytes(raw[: len(head)], "big")).to_bytes(2, "big")
        out.append(bytes(raw))
        offset += len(chunk)
    return out


def _copied_options(options: bytes) -> bytes:
    """RFC 791: the options whose type has the copy flag (0x80) go into every fragment."""
    out = bytearray()
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        length = options[i + 1] if i + 1 < len(options) else 0
        if length < 2:
            break
        if kind & 0x80:
            out += options[i : i + length]
        i += length
    return bytes(out + b"\x00" * (-len(out) % 4))


def _fragment_v6(packet: bytes, mtu: int, ident: int) -> list[bytes]:
    # The unfragmentable part: the fixed header, then hop-by-hop and routing headers (RFC 8200 4.5).
    nh_at, nh, off = 6, packet[6], 40
    while nh in (IPV6_HOP_BY_HOP, IPV6_ROUTING):
        nh_at, nh, off = off, packet[off], off + (packet[off + 1] + 1) * 8
    unfrag = bytearray(packet[:off])
    unfrag[nh_at] = IPV6_FRAGMENT
    data = packet[off:]
    room = (mtu - len(unfrag) - 8) & ~7
    if room <= 0:
        raise ValueError(f"MTU {mtu} leaves no room for data after {len(unfrag) + 8} bytes of IPv6 headers")
    out = []
    for offset in range(0, len(data), room):
        chunk = data[offset : offset + room]
        more = offset + len(chunk) < len(data)
        frag = bytes((nh, 0)) + (offset | int(more)).to_bytes(2, "big") + ident.to_bytes(4, "big")
        raw = bytearray(unfrag) + frag + chunk
        raw[4:6] = (len(raw) - 40).to_bytes(2, "big")
        out.append(bytes(raw))
    return out
