"""The Internet checksum (RFC 1071) and the pseudo-header sums of TCP over IPv4 and IPv6.

How it is fast in pure Python: the one's complement sum of 16-bit big-endian words is congruent
to the sum modulo 0xFFFF (because 2**16 == 1 mod 0xFFFF), and so is the big-endian integer made of
all the bytes. ``int.from_bytes(data, "big") % 0xFFFF`` therefore computes the sum in C, in one
linear pass, with no Python-level loop. The only subtlety is that one's complement arithmetic
has two zeros: the running sum of words is 0 only if every word is 0, and 0xFFFF otherwise
(residue 0 of a non-zero sum). :func:`fold` handles it.

Sums of several byte strings may simply be added, as long as every piece starts at an even
offset of the checksummed data (an odd-length piece is padded with a zero byte, RFC 1071).
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

__all__ = [
    "as_address",
    "fold",
    "icmpv4_checksum",
    "icmpv6_checksum",
    "internet_checksum",
    "partial",
    "pseudo_header_sum",
    "pseudo_header_v4",
    "pseudo_header_v6",
    "raw_sum",
    "transport_checksum",
]

IPAddress = IPv4Address | IPv6Address
BytesLike = bytes | bytearray | memoryview
# What the functions here accept for an address: text, an ipaddress object, or 4/16 packed bytes.
AddressLike = str | bytes | bytearray | memoryview | IPv4Address | IPv6Address

_from_bytes = int.from_bytes


def raw_sum(data: BytesLike) -> int:
    """An integer congruent (mod 0xFFFF) to the one's complement sum of ``data``'s 16-bit words.

    ``data`` is any bytes-like object; odd lengths are padded with one zero byte. The result is 0
    exactly when every byte is 0.
    """
    if len(data) & 1:
        return _from_bytes(data, "big") << 8
    return _from_bytes(data, "big")


def fold(total: int) -> int:
    """The checksum field value for a sum from :func:`raw_sum` (plus pseudo-header sums).

    One's complement of the one's complement sum: 0xFFFF - (sum folded to 16 bits).
    """
    r = total % 0xFFFF
    if r == 0 and total:
        return 0  # the sum is "negative zero", 0xFFFF
    return 0xFFFF - r


def partial(total: int) -> int:
    """The one's complement sum of ``total`` folded to 16 bits, not complemented: what a packet
    whose checksum is left to the link carries in its checksum field (Linux CHECKSUM_PARTIAL,
    virtio-net NEEDS_CSUM): the pseudo-header sum, from which the link finishes the checksum."""
    r = total % 0xFFFF
    return r if r or not total else 0xFFFF


def internet_checksum(data: BytesLike, initial: int = 0) -> int:
    """RFC 1071 checksum of ``data`` (bytes-like), with ``initial`` added to the sum first.

    To compute a checksum, pass the data with the checksum field zeroed. To verify, pass the data
    as received: the result is 0 when the checksum is right.
    """
    return fold(initial + raw_sum(data))


# ---- addresses ----------------------------------------------------------------------------------
_addr_cache: dict[str | bytes, IPAddress] = {}


def as_address(addr: AddressLike) -> IPAddress:
    """An ``ipaddress`` object from a str, an address object, or 4/16 packed bytes (cached)."""
    if isinstance(addr, (IPv4Address, IPv6Address)):
        return addr
    key = addr if isinstance(addr, (str, bytes)) else bytes(addr)
    try:
        return _addr_cache[key]
    except KeyError:
        pass
    obj = ipaddress.ip_address(key)
    if len(_addr_cache) > 4096:
        _addr_cache.clear()
    _addr_cache[key] = obj
    return obj


# ---- pseudo-headers -----------------------------------------------------------------------------
def pseudo_header_v4(src: AddressLike, dst: AddressLike, protocol: int, length: int) -> bytes:
    """The 12-byte IPv4 pseudo-header of RFC 9293 3.1: src, dst, zero, PTCL, TCP length."""
    return as_address(src).packed + as_address(dst).packed + bytes((0, protocol)) + length.to_bytes(2, "big")


def pseudo_header_v6(src: AddressLike, dst: AddressLike, next_header: int, length: int) -> bytes:
    """The 40-byte IPv6 pseudo-header of RFC 8200 8.1: src, dst, upper-layer length (32 bits),
    three zero bytes, next header."""
    return as_address(src).packed + as_address(dst).packed + length.to_bytes(4, "big") + bytes((0, 0, 0, next_header))


def pseudo_header_sum(src: AddressLike, dst: AddressLike, protocol: int, length: int) -> int:
    """:func:`raw_sum` of the pseudo-header (IPv4 or IPv6, chosen by the address family).

    The integer value of an address is congruent to the sum of its 16-bit words, so no bytes are
    built: ``int(src) + int(dst) + protocol + length``.
    """
    s = as_address(src)
    d = as_address(dst)
    if s.version != d.version:
        raise ValueError(f"address families differ: {s} and {d}")
    return int(s) + int(d) + protocol + length


def transport_checksum(src: AddressLike, dst: AddressLike, protocol: int, data: BytesLike) -> int:
    """Checksum of a TCP/UDP/ICMPv6 message ``data`` (checksum field zeroed, or as received to
    verify: then 0 means correct) including the pseudo-header for ``src``/``dst``."""
    return fold(pseudo_header_sum(src, dst, protocol, len(data)) + raw_sum(data))


def icmpv4_checksum(data: BytesLike) -> int:
    """ICMP (IPv4) checksum: RFC 1071 over the ICMP message alone, no pseudo-header."""
    return fold(raw_sum(data))


def icmpv6_checksum(src: AddressLike, dst: AddressLike, data: BytesLike) -> int:
    """ICMPv6 checksum (RFC 4443 2.3): includes the IPv6 pseudo-header, next header 58."""
    return fold(pseudo_header_sum(src, dst, 58, len(data)) + raw_sum(data))
