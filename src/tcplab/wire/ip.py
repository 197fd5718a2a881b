"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers, and whole packets.

``parse_packet(bytes) -> Packet`` is what a host calls for every packet it reads; it raises only
:class:`MalformedPacket`. ``build_packet(src, dst, seg)`` makes the bytes of a TCP packet, choosing
IPv4 or IPv6 from the address family; ``build_ip`` does the same for any other payload (ICMP).

IPv6 extension headers are walked (hop-by-hop, routing with no segments left, destination
options, fragment) to the upper-layer header; ``Packet.protocol`` is that header's number. A
fragment (IPv4 MF or offset, an IPv6 fragment header) comes back with ``tcp=None`` and its
``fragment`` set: the host puts fragments together (``tcplab.host.fragments``) and parses the
datagram ``tcplab.wire.fragment.build_datagram`` rebuilds (RFC 791 3.2, RFC 8200 4.5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from .checksum import AddressLike, BytesLike, as_address, fold
from .errors import MalformedPacket
from .tcp import TCP_PROTOCOL, Segment, _build_tcp, _parse_tcp

__all__ = [
    "IPV4_DONT_FRAGMENT",
    "IPV6_FRAGMENT",
    "Fragment",
    "IPv4Header",
    "IPv6Header",
    "Packet",
    "build_ip",
    "build_packet",
    "parse_ip",
    "parse_packet",
    "parse_tcp_packet",
]

IPV4_DONT_FRAGMENT = 0b010
IPV4_MORE_FRAGMENTS = 0b001
IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_DEST_OPTIONS = 0, 43, 44, 60
_IPV6_EXTENSIONS = frozenset((IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_DEST_OPTIONS))

_V4 = struct.Struct("!BBHHHBBH4s4s")
_V6 = struct.Struct("!IHBB16s16s")

# Parsed addresses, by their packed bytes: a packet stream has few distinct addresses.
_v4_cache: dict[bytes, IPv4Address] = {}
_v6_cache: dict[bytes, IPv6Address] = {}


def _v4addr(raw: bytes) -> IPv4Address:
    try:
        return _v4_cache[raw]
    except KeyError:
        if len(_v4_cache) > 4096:
            _v4_cache.clear()
        addr = _v4_cache[raw] = IPv4Address(raw)
        return addr


def _v6addr(raw: bytes) -> IPv6Address:
    try:
        return _v6_cache[raw]
    except KeyError:
        if len(_v6_cache) > 4096:
            _v6_cache.clear()
        addr = _v6_cache[raw] = IPv6Address(raw)
        return addr


@dataclass(slots=True)
class IPv4Header:
    """An IPv4 header. ``flags`` is the 3-bit field (0b010 = DF, 0b001 = MF); ``options`` raw.

    ``total_length`` and ``checksum`` are set by the parser and ignored by ``build``.
    """

    src: IPv4Address
    dst: IPv4Address
    protocol: int
    ttl: int = 64
    tos: int = 0
    identification: int = 0
    flags: int = IPV4_DONT_FRAGMENT
    fragment_offset: int = 0
    options: bytes = b""
    total_length: int | None = field(default=None, compare=False)
    checksum: int | None = field(default=None, compare=False)

    version = 4

    @property
    def header_length(self) -> int:
        return 20 + ((len(self.options) + 3) & ~3)

    @property
    def hop_limit(self) -> int:
        return self.ttl

    def build(self, payload_length: int) -> bytes:
        """The header bytes (checksum computed) for a payload of ``payload_length`` bytes.

        Options are zero-padded to a multiple of 4 bytes (at most 40). Raises ValueError for
        out-of-range fields.
        """
        options = bytes(self.options)
        if len(options) & 3:
            options += b"\x00" * (-len(options) & 3)
        if len(options) > 40:
            raise ValueError(f"IPv4 options take {len(options)} bytes, more than 40")
        hlen = 20 + len(options)
        if not 0 <= self.flags <= 7 or not 0 <= self.fragment_offset <= 0x1FFF:
            raise ValueError(f"bad IPv4 flags/fragment offset: {self.flags}/{self.fragment_offset}")
        try:
            hdr = _V4.pack(
                0x40 | (hlen >> 2),
                self.tos,
                hlen + payload_length,
                self.identification,
                (self.flags << 13) | self.fragment_offset,
                self.ttl,
                self.protocol,
                0,
                as_address(self.src).packed,
                as_address(self.dst).packed,
            )
        except struct.error as exc:
            raise ValueError(f"cannot build IPv4 header {self!r}: {exc}") from None
        if options:
            hdr += options
        csum = fold(int.from_bytes(hdr, "big"))
        return hdr[:10] + csum.to_bytes(2, "big") + hdr[12:]

    @classmethod
    def parse(cls, data: BytesLike, verify_checksum: bool = True) -> IPv4Header:
        """Parse and check the header at the start of ``data`` (the whole packet; may be longer
        than the total length). Raises only :class:`MalformedPacket`."""
        n = len(data)
        if n < 20:
            raise MalformedPacket("truncated ip header", f"{n} bytes")
        vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = _V4.unpack_from(data, 0)
        if vihl >> 4 != 4:
            raise MalformedPacket("bad ip version", f"version {vihl >> 4}")
        hlen = (vihl & 0x0F) << 2
        if hlen < 20:
            raise MalformedPacket("bad ip header length", f"IHL {hlen >> 2}")
        if hlen > n:
            raise MalformedPacket("truncated ip header", f"header {hlen} bytes, packet {n}")
        if total < hlen or total > n:
            raise MalformedPacket("ip total length inconsistent", f"total length {total}, header {hlen}, buffer {n}")
        if verify_checksum and int.from_bytes(data[:hlen], "big") % 0xFFFF:
            raise MalformedPacket("bad ip header checksum", f"checksum field 0x{csum:04x}")
        return cls(
            _v4addr(src),
            _v4addr(dst),
            proto,
            ttl,
            tos,
            ident,
            frag >> 13,
            frag & 0x1FFF,
            bytes(data[20:hlen]) if hlen > 20 else b"",
            total,
            csum,
        )


@dataclass(slots=True)
class IPv6Header:
    """The fixed IPv6 header. ``payload_length`` is set by the parser and ignored by ``build``."""

    src: IPv6Address
    dst: IPv6Address
    next_header: int
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    payload_length: int | None = field(default=None, compare=False)

    version = 6
    header_length = 40

    @property
    def protocol(self) -> int:
        return self.next_header

    @property
    def ttl(self) -> int:
        return self.hop_limit

    def build(self, payload_length: int) -> bytes:
        if not 0 <= self.traffic_class <= 0xFF or not 0 <= self.flow_label <= 0xFFFFF:
            raise ValueError(f"bad traffic class/flow label: {self.traffic_class}/{self.flow_label}")
        try:
            return _V6.pack(
                (6 << 28) | (self.traffic_class << 20) | self.flow_label,
                payload_length,
                self.next_header,
                self.hop_limit,
                as_address(self.src).packed,
                as_address(self.dst).packed,
            )
        except struct.error as exc:
            raise ValueError(f"cannot build IPv6 header {self!r}: {exc}") from None

    @classmethod
    def parse(cls, data: BytesLike) -> IPv6Header:
        """Parse and check the fixed header at the start of ``data`` (may be longer than the
        packet). Raises only :class:`MalformedPacket`."""
        n = len(data)
        if n < 40:
            raise MalformedPacket("truncated ip header", f"{n} bytes")
        vtf, plen, nh, hops, src, dst = _V6.unpack_from(data, 0)
        if vtf >> 28 != 6:
            raise MalformedPacket("bad ip version", f"version {vtf >> 28}")
        if 40 + plen > n:
            raise MalformedPacket("ip total length inconsistent", f"payload length {plen}, buffer {n}")
        return cls(_v6addr(src), _v6addr(dst), nh, hops, (vtf >> 20) & 0xFF, vtf & 0xFFFFF, plen)


IPHeader = IPv4Header | IPv6Header


@dataclass(frozen=True, slots=True)
class Fragment:
    """One fragment of an IP datagram (RFC 791 3.2, RFC 8200 4.5).

    ``key`` names the datagram: ``(version, source, destination, protocol, identification)``
    (IPv6: protocol 0; RFC 8200 keys by the addresses and the identification). ``offset`` is in
    bytes from the start of the fragmentable part; ``data`` is this fragment's share of it.
    ``head`` comes with the first fragment (offset 0) only: the header the whole datagram is
    rebuilt with (the IPv4 header; the IPv6 header and unfragmentable extension headers, their
    last Next Header already naming the fragmentable part's first header)."""

    key: tuple[int, bytes, bytes, int, int]
    offset: int
    more: bool
    data: bytes
    head: bytes | None = None

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class Packet:
    """A parsed IP packet: the header, and the TCP segment if it carries TCP.

    ``payload`` is the transport-layer bytes (for TCP: the whole TCP segment; for ICMP: the ICMP
    message), computed on first access; ``protocol`` is the upper-layer protocol (after any
    IPv6 extension headers). ``fragment`` is set (and ``tcp`` None) for a fragment. ``raw`` is
    the packet's bytes (without trailing bytes beyond the IP length).
    """

    __slots__ = ("_buf", "_end", "_payload", "_start", "fragment", "header", "protocol", "tcp")

    def __init__(
        self,
        header: IPHeader,
        tcp: Segment | None,
        buf: BytesLike,
        start: int,
        end: int,
        protocol: int | None = None,
        fragment: Fragment | None = None,
    ) -> None:
        self.header = header
        self.tcp = tcp
        self._buf = buf
        self._start = start
        self._end = end
        self._payload: bytes | None = None
        self.protocol = header.protocol if protocol is None else protocol
        self.fragment = fragment

    @property
    def version(self) -> int:
        return self.header.version

    @property
    def src(self) -> IPv4Address | IPv6Address:
        return self.header.src

    @property
    def dst(self) -> IPv4Address | IPv6Address:
        return self.header.dst

    @property
    def ttl(self) -> int:
        return self.header.ttl

    @property
    def hop_limit(self) -> int:
        return self.header.ttl

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = bytes(self._buf[self._start : self._end])
        return self._payload

    @property
    def raw(self) -> bytes:
        return bytes(self._buf[: self._end])

    def __repr__(self) -> str:
        what = f"tcp={self.tcp!r}" if self.tcp is not None else f"payload={len(self.payload)} bytes"
        return f"Packet(v{self.version} {self.src} > {self.dst} proto {self.protocol} ttl {self.ttl} {what})"


def _parse(packet: BytesLike, verify_checksum: bool, copy_payload: bool = True) -> Packet:
    try:
        first = packet[0]
    except IndexError:
        raise MalformedPacket("truncated ip header", "0 bytes") from None
    version = first >> 4
    if version == 4:
        hdr = IPv4Header.parse(packet, verify_checksum)
        start = (first & 0x0F) << 2
        end = hdr.total_length
        assert end is not None  # the parser sets it
        if hdr.flags & IPV4_MORE_FRAGMENTS or hdr.fragment_offset:
            return Packet(hdr, None, packet, start, end, fragment=_v4_fragment(packet, hdr, start, end))
        if hdr.protocol == TCP_PROTOCOL:
            data = memoryview(packet)[start:end]
            psum = int.from_bytes(packet[12:20], "big") + TCP_PROTOCOL + end - start if verify_checksum else None
            seg = _parse_tcp(data, psum, copy_payload)
            seg.ecn = hdr.tos & 3  # RFC 3168 5: the ECN field travels with the segment
            return Packet(hdr, seg, packet, start, end)
        return Packet(hdr, None, packet, start, end)
    if version == 6:
        hdr6 = IPv6Header.parse(packet)
        assert hdr6.payload_length is not None  # the parser sets it
        end = 40 + hdr6.payload_length
        nh, start = hdr6.next_header, 40
        if nh in _IPV6_EXTENSIONS:
            nh, start, frag = _v6_chain(packet, end)
            if frag is not None:
                return Packet(hdr6, None, packet, start, end, nh, frag)
        if nh == TCP_PROTOCOL:
            data = memoryview(packet)[start:end]
            psum = int.from_bytes(packet[8:40], "big") + TCP_PROTOCOL + end - start if verify_checksum else None
            seg = _parse_tcp(data, psum, copy_payload)
            seg.ecn = hdr6.traffic_class & 3
            return Packet(hdr6, seg, packet, start, end, nh)
        return Packet(hdr6, None, packet, start, end, nh)
    raise MalformedPacket("bad ip version", f"version {version}")


def _v4_fragment(packet: BytesLike, hdr: IPv4Header, start: int, end: int) -> Fragment:
    """RFC 791 3.2: every fragment but the last carries a multiple of 8 bytes, and none reaches
    past 65535."""
    offset = hdr.fragment_offset * 8
    more = bool(hdr.flags & IPV4_MORE_FRAGMENTS)
    size = end - start
    if (more and size % 8) or not size:
        raise MalformedPacket("bad ip fragment length", f"{size} bytes, MF {int(more)}")
    if start + offset + size > 0xFFFF:
        raise MalformedPacket("ip fragment past 65535", f"offset {offset} + {size} bytes")
    key = (4, bytes(packet[12:16]), bytes(packet[16:20]), hdr.protocol, hdr.identification)
    return Fragment(key, offset, more, bytes(packet[start:end]), bytes(packet[:start]) if not offset else None)


def _v6_chain(packet: BytesLike, end: int) -> tuple[int, int, Fragment | None]:
    """Walk the IPv6 extension headers (RFC 8200 4): ``(upper-layer protocol, its offset,
    the fragment if there is a fragment header)``. An atomic fragment (offset 0, M 0, RFC 6946)
    is no fragment: what follows it is processed as is."""
    nh, off, prev_nh_at = packet[6], 40, 6
    seen = 0
    while nh in _IPV6_EXTENSIONS:
        seen += 1
        if off + 8 > end or seen > 16:
            raise MalformedPacket("truncated ipv6 extension header", f"header {nh} at {off}, payload ends at {end}")
        if nh == IPV6_FRAGMENT:
            frag_nh, field, ident = (
                packet[off],
                int.from_bytes(packet[off + 2 : off + 4], "big"),
                packet[off + 4 : off + 8],
            )
            offset, more = field & ~7, bool(field & 1)
            data_at = off + 8
            if not offset and not more:
                nh, prev_nh_at, off = frag_nh, off, data_at
                continue
            return frag_nh, data_at, _v6_fragment(packet, prev_nh_at, off, frag_nh, offset, more, ident, end)
        if nh == IPV6_ROUTING and packet[off + 3]:
            # RFC 8200 4.4: a routing header with segments left names another hop; tcplab is
            # an end host and routes nothing (Linux drops type 0, RFC 5095).
            raise MalformedPacket("ipv6 routing header not supported", f"type {packet[off + 2]}, segments left")
        prev_nh_at, nh, off = off, packet[off], off + (packet[off + 1] + 1) * 8
    if off > end:
        raise MalformedPacket("truncated ipv6 extension header", f"upper layer at {off}, payload ends at {end}")
    return nh, off, None


def _v6_fragment(
    packet: BytesLike, prev_nh_at: int, frag_at: int, frag_nh: int, offset: int, more: bool, ident: BytesLike, end: int
) -> Fragment:
    data_at = frag_at + 8
    size = end - data_at
    if (more and size % 8) or not size:
        # RFC 8200 4.5: M set and a length not a multiple of 8 octets: discard.
        raise MalformedPacket("bad ip fragment length", f"{size} bytes, M {int(more)}")
    if offset + size > 0xFFFF - (frag_at - 40):
        raise MalformedPacket("ip fragment past 65535", f"offset {offset} + {size} bytes")
    head = None
    if not offset:
        if frag_nh == TCP_PROTOCOL and size < 20:
            # RFC 8200 4.5 / RFC 7112: the first fragment must hold the whole header chain.
            raise MalformedPacket("ipv6 first fragment without the upper-layer header", f"{size} bytes")
        raw = bytearray(packet[:frag_at])
        raw[prev_nh_at] = frag_nh
        head = bytes(raw)
    key = (6, bytes(packet[8:24]), bytes(packet[24:40]), 0, int.from_bytes(ident, "big"))
    return Fragment(key, offset, more, bytes(packet[data_at:end]), head)


def parse_packet(packet: BytesLike, verify_checksum: bool = True, *, copy_payload: bool = True) -> Packet:
    """Parse an IPv4 or IPv6 packet (bytes-like; trailing bytes past the IP length are ignored).

    Verifies the IPv4 header checksum and the TCP checksum unless ``verify_checksum`` is false.
    Non-TCP packets (ICMP, UDP, ...) come back with ``tcp=None`` and their ``payload``. Raises
    only :class:`MalformedPacket`. ``copy_payload=False``: the segment's payload is a view of
    ``packet`` instead of a copy (no 64 KB copy per super-segment); only for a packet that will
    not change (``bytes``, or a view of ``bytes``).
    """
    return _parse(packet, verify_checksum, copy_payload)


def parse_tcp_packet(packet: BytesLike, verify_checksum: bool = True) -> Packet:
    """Like :func:`parse_packet`, but a packet that does not carry TCP raises
    ``MalformedPacket("not tcp")``; the result's ``tcp`` is never None."""
    p = _parse(packet, verify_checksum)
    if p.tcp is None:
        raise MalformedPacket("not tcp", f"protocol {p.protocol}")
    return p


def parse_ip(packet: BytesLike, verify_checksum: bool = True) -> tuple[IPHeader, Segment | bytes]:
    """``(ip_header, segment)`` for TCP, ``(ip_header, payload_bytes)`` for anything else."""
    p = _parse(packet, verify_checksum)
    return p.header, (p.tcp if p.tcp is not None else p.payload)


# Headers for one (addresses, protocol, ttl, ...) differ only in length and checksum: keep a
# template per flow and patch those two fields in (the sum of a header is the template's sum plus
# the total length, so the checksum costs one addition).
_V4_PATCH = struct.Struct("!2sH6sH8s")
_V6_PATCH = struct.Struct("!4sH34s")
_TemplateKey = tuple[int, int, int, int, int, int]
_v4_templates: dict[_TemplateKey, tuple[bytes, bytes, bytes, int]] = {}
_v6_templates: dict[_TemplateKey, tuple[bytes, bytes]] = {}


# The addresses of a flow as the header and the pseudo-header need them, by the addresses as
# given (text or objects): (IPv4?, int(src), int(dst)). Worked out once: as_address, int() and
# .version are Python-level calls, several a packet otherwise.
_Flow = tuple[bool, int, int]
_flows: dict[tuple[AddressLike, AddressLike], _Flow] = {}


def _flow(src: AddressLike, dst: AddressLike) -> _Flow:
    if not isinstance(src, (str, bytes, IPv4Address, IPv6Address)) or not isinstance(dst, type(src)):
        src, dst = as_address(src), as_address(dst)  # a bytearray or a view: not a dict key
    flow = _flows.get((src, dst))
    if flow is None:
        s = as_address(src)
        d = as_address(dst)
        if s.version != d.version:
            raise ValueError(f"address families differ: {s} and {d}")
        if len(_flows) > 4096:
            _flows.clear()
        flow = _flows[(src, dst)] = (s.version == 4, int(s), int(d))
    return flow


def _ip_header(
    src: AddressLike,
    dst: AddressLike,
    protocol: int,
    ttl: int,
    tos: int,
    identification: int,
    payload_length: int,
) -> bytes:
    return _flow_header(_flow(src, dst), protocol, ttl, tos, identification, payload_length)


def _flow_header(flow: _Flow, protocol: int, ttl: int, tos: int, identification: int, payload_length: int) -> bytes:
    v4, si, di = flow
    key = (si, di, protocol, ttl, tos, identification)
    if v4:
        tmpl = _v4_templates.get(key)
        if tmpl is None:
            s, d = IPv4Address(si), IPv4Address(di)
            raw = IPv4Header(s, d, protocol, ttl, tos, identification).build(0)  # validates
            raw = raw[:2] + b"\x00\x00" + raw[4:10] + b"\x00\x00" + raw[12:]
            if len(_v4_templates) > 4096:
                _v4_templates.clear()
            tmpl = _v4_templates[key] = (raw[:2], raw[4:10], raw[12:], int.from_bytes(raw, "big"))
        total = 20 + payload_length
        if total > 0xFFFF:
            raise ValueError(f"IPv4 packet too long: {total} bytes")
        return _V4_PATCH.pack(tmpl[0], total, tmpl[1], fold(tmpl[3] + total), tmpl[2])
    tmpl6 = _v6_templates.get(key)
    if tmpl6 is None:
        raw = IPv6Header(IPv6Address(si), IPv6Address(di), protocol, ttl, tos).build(0)  # validates
        if len(_v6_templates) > 4096:
            _v6_templates.clear()
        tmpl6 = _v6_templates[key] = (raw[:4], raw[6:])
    if payload_length > 0xFFFF:
        raise ValueError(f"IPv6 payload too long: {payload_length} bytes (no jumbograms)")
    return _V6_PATCH.pack(tmpl6[0], payload_length, tmpl6[1])


def build_ip(
    src: AddressLike,
    dst: AddressLike,
    protocol: int,
    payload: BytesLike,
    ttl: int = 64,
    *,
    tos: int = 0,
    identification: int = 0,
) -> bytes:
    """An IP packet carrying ``payload`` (already complete, checksum included) as ``protocol``.

    IPv4 or IPv6 by the address family of ``src``/``dst`` (str or ipaddress objects). IPv4
    packets have DF set. ``tos`` is the IPv6 traffic class for IPv6.
    """
    return _ip_header(src, dst, protocol, ttl, tos, identification, len(payload)) + bytes(payload)


def build_packet(
    src: AddressLike,
    dst: AddressLike,
    seg: Segment,
    ttl: int = 64,
    *,
    tos: int = 0,
    identification: int = 0,
    partial_checksum: bool = False,
) -> bytes:
    """The IP packet carrying ``seg`` from ``src`` to ``dst`` (TCP checksum computed, or left
    partial for a link that computes it: ``partial_checksum``, see :func:`build_tcp`). The ECN
    field of the IP header is ``seg.ecn`` (RFC 3168 5); ``tos`` gives the DSCP bits above it."""
    flow = _flow(src, dst)
    tcp = _build_tcp(seg, flow[1] + flow[2] + TCP_PROTOCOL, partial_checksum)  # the pseudo-header's sum
    return _flow_header(flow, TCP_PROTOCOL, ttl, (tos & ~3) | seg.ecn, identification, len(tcp)) + tcp
