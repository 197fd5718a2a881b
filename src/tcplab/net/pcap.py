"""pcap files: the classic libpcap format, readable by tcpdump, tshark and Wireshark.

File header (24 bytes): magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0,
sigfigs 0, snaplen, link type. Then one record per packet: seconds, microseconds, captured length,
original length (16 bytes), then the captured bytes. Everything is written in the machine's byte
order, as libpcap does; the reader accepts both byte orders and the nanosecond magic 0xa1b23c4d.

The default link type is ``LINKTYPE_RAW`` (101): each record is a bare IPv4 or IPv6 packet, which
is exactly what a TUN device and the simulator carry.

    with PcapWriter("run.pcap") as pcap:
        pcap.write(packet_bytes, t=0.25)

``PcapWriter.write(packet, t)`` matches what :meth:`tcplab.net.sim.Network.capture` calls.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Self

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_RAW",
    "CaptureWriter",
    "PcapError",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "read_pcap",
]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
VERSION = (2, 4)
DEFAULT_SNAPLEN = 262144

_NATIVE = "<" if sys.byteorder == "little" else ">"


class PcapError(ValueError):
    """A pcap file that cannot be read (bad magic, truncated header)."""


def open_binary(
    path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes], mode: str, close_file: bool | None
) -> tuple[Any, bool]:
    """``(file, owned)``: a path is opened in ``mode`` (owned: closed with the reader or writer);
    a file object is used as it is (owned only if ``close_file``)."""
    if isinstance(path_or_file, (str, os.PathLike)):
        return open(path_or_file, mode), True
    return path_or_file, bool(close_file)


class CaptureWriter:
    """What every capture writer shares: its file (a path, opened here and closed by
    ``close()``; or a binary file object, left open unless ``close_file``), ``count`` packets
    written, ``flush``, ``close`` and use as a context manager."""

    def __init__(self, path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes], close_file: bool | None) -> None:
        self._file, self._owns = open_binary(path_or_file, "wb", close_file)
        self.count = 0
        self.closed = False

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._file.flush()
        if self._owns:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapWriter(CaptureWriter):
    """Write packets to a pcap file (a path, or a binary file object that stays open on close
    unless ``close_file`` is true)."""

    def __init__(
        self,
        path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes],
        linktype: int = LINKTYPE_RAW,
        snaplen: int = DEFAULT_SNAPLEN,
        close_file: bool | None = None,
    ) -> None:
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen out of range: {snaplen}")
        super().__init__(path_or_file, close_file)
        self.linktype = linktype
        self.snaplen = snaplen
        self._record = struct.Struct(_NATIVE + "IIII")
        self._file.write(struct.pack(_NATIVE + "IHHiIII", MAGIC_USEC, VERSION[0], VERSION[1], 0, 0, snaplen, linktype))

    def write(
        self, packet: bytes | bytearray | memoryview, t: float, comment: str | None = None, interface: object = None
    ) -> None:
        """Append one packet captured at time ``t`` (seconds since 1970; negative times are
        refused). Classic pcap has no room for a comment or an interface name: they are
        dropped (``PcapngWriter`` keeps them)."""
        if self.closed:
            raise ValueError("write to a closed PcapWriter")
        if t < 0:
            raise ValueError(f"pcap timestamps cannot be negative: {t}")
        usec_total = round(t * 1_000_000)
        sec, usec = divmod(usec_total, 1_000_000)
        if sec > 0xFFFFFFFF:
            raise ValueError(f"pcap timestamp too large: {t}")
        length = len(packet)
        caplen = min(length, self.snaplen)
        self._file.write(self._record.pack(sec, usec, caplen, length))
        self._file.write(packet[:caplen] if caplen < length else packet)
        self.count += 1


@dataclass(frozen=True, slots=True)
class PcapRecord:
    t: float
    data: bytes
    orig_len: int


class PcapReader:
    """Read a classic pcap file: ``for rec in PcapReader(path): rec.t, rec.data``."""

    def __init__(self, path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes]) -> None:
        self._file, self._owns = open_binary(path_or_file, "rb", False)
        head = self._file.read(24)
        if len(head) < 24:
            self.close()
            raise PcapError("not a pcap file: shorter than the 24-byte header")
        for order in ("<", ">"):
            magic = struct.unpack(order + "I", head[:4])[0]
            if magic in (MAGIC_USEC, MAGIC_NSEC):
                break
        else:
            self.close()
            raise PcapError(f"not a pcap file: magic {head[:4].hex()}")
        self._order = order
        self.nanosecond = magic == MAGIC_NSEC
        (_, self.version_major, self.version_minor, self.thiszone, _sigfigs, self.snaplen, self.linktype) = (
            struct.unpack(order + "IHHiIII", head)
        )
        self._record = struct.Struct(order + "IIII")

    def __iter__(self) -> Iterator[PcapRecord]:
        divisor = 1_000_000_000 if self.nanosecond else 1_000_000
        while True:
            head = self._file.read(16)
            if not head:
                return
            if len(head) < 16:
                raise PcapError("truncated pcap record header")
            sec, frac, caplen, orig = self._record.unpack(head)
            data = self._file.read(caplen)
            if len(data) < caplen:
                raise PcapError("truncated pcap record")
            yield PcapRecord((sec * divisor + frac) / divisor, data, orig)

    def close(self) -> None:
        if self._owns:
            self._file.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_pcap(path: str | os.PathLike[str]) -> list[PcapRecord]:
    with PcapReader(path) as reader:
        return list(reader)
