"""Capture files, pcap or pcapng: read any as IP packets, open the right writer for a name.

``read_capture(path)`` tells the format by its first bytes and yields one ``Captured`` per
packet: its time (seconds since 1970), the IP packet (the link layer taken off: Ethernet with
VLAN tags, Linux "cooked" SLL and SLL2 from ``tcpdump -i any``, BSD loopback, raw IP), the
interface's name and the packet's comments (pcapng). Packets that carry no IP (ARP, ...) come
with ``packet`` None. A file that is neither pcap nor pcapng, or is damaged, raises
``PcapError`` with one line saying so.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tcplab.net.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_RAW,
    MAGIC_NSEC,
    MAGIC_USEC,
    PcapError,
    PcapReader,
    PcapWriter,
)
from tcplab.net.pcapng import SHB_MAGIC, PcapngReader, PcapngWriter

__all__ = ["Captured", "capture_format", "open_writer", "read_capture"]

LINKTYPE_NULL = 0
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
_ETH_IPV4, _ETH_IPV6, _ETH_VLAN = 0x0800, 0x86DD, (0x8100, 0x88A8)
_BSD_INET6 = (24, 28, 30)  # AF_INET6 on the BSDs and macOS


@dataclass(frozen=True, slots=True)
class Captured:
    t: float
    packet: bytes | None
    interface: str = ""
    comments: tuple[str, ...] = ()


def capture_format(head: bytes) -> str | None:
    """ "pcapng", "pcap" or None, from a file's first four bytes."""
    if head[:4] == SHB_MAGIC:
        return "pcapng"
    for order in ("<", ">"):
        if len(head) >= 4 and struct.unpack(order + "I", head[:4])[0] in (MAGIC_USEC, MAGIC_NSEC):
            return "pcap"
    return None


def _ethertype_payload(ethertype: int, data: bytes) -> bytes | None:
    return data if ethertype in (_ETH_IPV4, _ETH_IPV6) else None


def ip_of(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside a link-layer frame; None if it carries no IP. PcapError for a link
    type this reader does not know."""
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return frame
    if linktype == LINKTYPE_ETHERNET:
        pos = 12
        while len(frame) >= pos + 2:
            ethertype = int.from_bytes(frame[pos : pos + 2], "big")
            if ethertype in _ETH_VLAN:
                pos += 4
                continue
            return _ethertype_payload(ethertype, frame[pos + 2 :])
        return None
    if linktype == LINKTYPE_LINUX_SLL:
        return _ethertype_payload(int.from_bytes(frame[14:16], "big"), frame[16:]) if len(frame) >= 16 else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return _ethertype_payload(int.from_bytes(frame[0:2], "big"), frame[20:]) if len(frame) >= 20 else None
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if family > 0xFFFF:  # NULL is in the capturing machine's byte order
            family = int.from_bytes(frame[:4], "big")
        return frame[4:] if family == 2 or family in _BSD_INET6 else None
    raise PcapError(f"link type {linktype} is not supported (raw IP, Ethernet, Linux SLL/SLL2, loopback are)")


def read_capture(path: str | os.PathLike[str]) -> Iterator[Captured]:
    """The packets of a pcap or pcapng file, as IP packets (see the module docstring)."""
    with open(path, "rb") as f:
        kind = capture_format(f.read(4))
    if kind is None:
        raise PcapError(f"{os.fspath(path)} is not a pcap or pcapng file")
    if kind == "pcap":
        with PcapReader(path) as reader:
            for old in reader:
                yield Captured(old.t, ip_of(reader.linktype, old.data))
        return
    with PcapngReader(path) as ng:
        for rec in ng:
            yield Captured(rec.t, ip_of(rec.interface.linktype, rec.data), rec.interface.name, rec.comments)


def open_writer(path: str | os.PathLike[str]) -> PcapWriter | PcapngWriter:
    """A capture writer for ``path``: classic pcap when the name ends in ``.pcap`` (no comments,
    no interface names), pcapng (Wireshark's own format, with both) otherwise."""
    if os.fspath(path).endswith(".pcap"):
        return PcapWriter(path)
    return PcapngWriter(path)
