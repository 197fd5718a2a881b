"""tcplab.wire: bytes <-> IPv4 / IPv6 / TCP headers and options, checksums. Standard library only.

    from tcplab.wire import parse_packet, build_packet, MalformedPacket

    try:
        pkt = parse_packet(data)            # IPv4 or IPv6; checksums verified
    except MalformedPacket as exc:
        counters[exc.reason] += 1           # short stable reason, e.g. "bad tcp checksum"
    else:
        pkt.src, pkt.dst, pkt.protocol, pkt.ttl   # ipaddress objects, ints
        pkt.tcp                             # a Segment, or None for ICMP, UDP, ..., fragments
        pkt.fragment                        # a Fragment of a datagram (the host reassembles)
        pkt.payload                         # transport bytes (the ICMP message, ...)

    out = build_packet("198.18.0.1", "198.18.0.2", segment)   # bytes, checksums filled in
    reply = build_icmp_echo_reply(pkt)      # bytes or None

The one error raised for bad bytes is :class:`MalformedPacket` (a ValueError with ``.reason``);
no other exception escapes a parse function, whatever the bytes. Build functions raise
ValueError for values that do not fit their fields. ``Segment.payload`` from the parsers is
``bytes`` (a view of the packet with ``parse_packet(..., copy_payload=False)``); ``build_*``
accept any bytes-like payload.
"""

from .checksum import (
    as_address,
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
from .errors import MalformedPacket
from .fragment import build_datagram, fragment_packet
from .icmp import (
    ICMP_PROTOCOL,
    ICMPV6_PROTOCOL,
    IcmpError,
    build_icmp_echo_reply,
    build_icmp_echo_request,
    build_icmp_error,
    build_icmp_reassembly_timeout,
    parse_icmp_error,
)
from .ip import (
    IPV4_DONT_FRAGMENT,
    Fragment,
    IPv4Header,
    IPv6Header,
    Packet,
    build_ip,
    build_packet,
    parse_ip,
    parse_packet,
    parse_tcp_packet,
)
from .tcp import (
    ECN_CE,
    ECN_ECT0,
    ECN_ECT1,
    ECN_NOT_ECT,
    EOL,
    MSS,
    NONE,
    NOP,
    TCP_PROTOCOL,
    FastOpen,
    Flags,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WindowScale,
    build_tcp,
    encode_options,
    flags_str,
    format_option,
    format_option_bytes,
    format_options,
    options_length,
    parse_flags,
    parse_options,
    parse_tcp,
)

__all__ = [
    "ECN_CE",
    "ECN_ECT0",
    "ECN_ECT1",
    "ECN_NOT_ECT",
    "EOL",
    "ICMPV6_PROTOCOL",
    "ICMP_PROTOCOL",
    "IPV4_DONT_FRAGMENT",
    "MSS",
    "NONE",
    "NOP",
    "TCP_PROTOCOL",
    "FastOpen",
    "Flags",
    "Fragment",
    "IPv4Header",
    "IPv6Header",
    "IcmpError",
    "MalformedPacket",
    "Option",
    "Packet",
    "Sack",
    "SackPermitted",
    "Segment",
    "Timestamps",
    "UnknownOption",
    "WindowScale",
    "as_address",
    "build_datagram",
    "build_icmp_echo_reply",
    "build_icmp_echo_request",
    "build_icmp_error",
    "build_icmp_reassembly_timeout",
    "build_ip",
    "build_packet",
    "build_tcp",
    "encode_options",
    "flags_str",
    "fold",
    "format_option",
    "format_option_bytes",
    "format_options",
    "fragment_packet",
    "icmpv4_checksum",
    "icmpv6_checksum",
    "internet_checksum",
    "options_length",
    "parse_flags",
    "parse_icmp_error",
    "parse_ip",
    "parse_options",
    "parse_packet",
    "parse_tcp",
    "parse_tcp_packet",
    "pseudo_header_sum",
    "pseudo_header_v4",
    "pseudo_header_v6",
    "raw_sum",
    "transport_checksum",
]
