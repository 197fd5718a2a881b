"""pcapng files: what Wireshark and tshark write by default, with per-packet comments and
interface names (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).

A file is a sequence of blocks, each ``type, total length, body, total length`` (32-bit words,
the machine's byte order, bodies padded to 4 bytes):

- Section Header Block (``0x0A0D0D0A``): byte-order magic ``0x1A2B3C4D``, version 1.0, options
  (``shb_userappl``);
- Interface Description Block (1): link type, snaplen, options ``if_name`` (2),
  ``if_description`` (3), ``if_tsresol`` (9; written as 9: nanoseconds);
- Enhanced Packet Block (6): interface id, 64-bit timestamp in the interface's units, captured
  and original length, the bytes, options ``opt_comment`` (1).

``PcapngWriter.write(packet, t, comment=None, interface=0)`` appends one packet; an interface
is declared with ``add_interface(name, description)`` or on first use by name (a writer given
none gets one "tcplab").
``PcapngReader`` reads pcapng files of either byte order (also Simple Packet Blocks and several
sections), the way tshark/dumpcap write them.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from tcplab.net.pcap import DEFAULT_SNAPLEN, LINKTYPE_RAW, CaptureWriter, PcapError, open_binary

__all__ = ["SHB_MAGIC", "CaptureInterface", "PcapngReader", "PcapngRecord", "PcapngWriter"]

SHB_TYPE = 0x0A0D0D0A
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"  # how every pcapng file starts, whatever its byte order
BYTE_ORDER_MAGIC = 0x1A2B3C4D
IDB_TYPE, SPB_TYPE, EPB_TYPE, OPB_TYPE = 1, 3, 6, 2
OPT_END, OPT_COMMENT = 0, 1
IF_NAME, IF_DESCRIPTION, IF_TSRESOL, IF_TSOFFSET = 2, 3, 9, 14
SHB_USERAPPL = 4
_NATIVE = "<" if sys.byteorder == "little" else ">"
_MAX_BLOCK = 1 << 28  # refuse absurd block lengths (a damaged file) instead of reading them


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(items: list[tuple[int, bytes]]) -> bytes:
    if not items:
        return b""
    out = b"".join(struct.pack(_NATIVE + "HH", code, len(value)) + _pad(value) for code, value in items)
    return out + struct.pack(_NATIVE + "HH", OPT_END, 0)


def _block(block_type: int, body: bytes) -> bytes:
    body = _pad(body)
    length = 12 + len(body)
    return struct.pack(_NATIVE + "II", block_type, length) + body + struct.pack(_NATIVE + "I", length)


@dataclass(frozen=True, slots=True)
class CaptureInterface:
    name: str
    linktype: int = LINKTYPE_RAW
    description: str = ""
    tsresol: int = 1_000_000  # timestamp units per second
    tsoffset: int = 0  # seconds added to every timestamp


class PcapngWriter(CaptureWriter):
    """Write packets to a pcapng file (a path, or a binary file object left open on close
    unless ``close_file``)."""

    def __init__(
        self,
        path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes],
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        application: str = "tcplab",
        close_file: bool | None = None,
    ) -> None:
        super().__init__(path_or_file, close_file)
        self.snaplen = snaplen
        self.interfaces: list[CaptureInterface] = []
        body = struct.pack(_NATIVE + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)  # section length unknown
        body += _options([(SHB_USERAPPL, application.encode())])
        self._file.write(_block(SHB_TYPE, body))

    def add_interface(self, name: str, description: str = "", linktype: int = LINKTYPE_RAW) -> int:
        """Declare an interface (its name shows in Wireshark's "Interface" column); its id."""
        opts = [(IF_NAME, name.encode())]
        if description:
            opts.append((IF_DESCRIPTION, description.encode()))
        opts.append((IF_TSRESOL, bytes([9])))  # nanoseconds
        body = struct.pack(_NATIVE + "HHI", linktype, 0, self.snaplen) + _options(opts)
        self._file.write(_block(IDB_TYPE, body))
        self.interfaces.append(CaptureInterface(name, linktype, description, 1_000_000_000))
        return len(self.interfaces) - 1

    def write(
        self, packet: bytes | bytearray | memoryview, t: float, comment: str | None = None, interface: int | str = 0
    ) -> None:
        """Append one packet seen at ``t`` (seconds since 1970) on ``interface`` (an id, or a
        name: declared on first use), with an optional comment (Wireshark: ``frame.comment``,
        shown in the packet details)."""
        if self.closed:
            raise ValueError("write to a closed PcapngWriter")
        index = self._interface_index(interface)
        if t < 0:
            raise ValueError(f"pcapng timestamps cannot be negative: {t}")
        ticks = round(t * self.interfaces[index].tsresol)
        length = len(packet)
        data = bytes(packet[: min(length, self.snaplen)])
        body = struct.pack(_NATIVE + "IIIII", index, ticks >> 32, ticks & 0xFFFFFFFF, len(data), length)
        body += _pad(data)
        if comment:
            body += _options([(OPT_COMMENT, comment.encode())])
        self._file.write(_block(EPB_TYPE, body))
        self.count += 1

    def _interface_index(self, interface: int | str) -> int:
        if isinstance(interface, str):
            for i, info in enumerate(self.interfaces):
                if info.name == interface:
                    return i
            return self.add_interface(interface)
        if not self.interfaces and interface == 0:
            self.add_interface("tcplab")
        if not 0 <= interface < len(self.interfaces):
            raise ValueError(f"no interface {interface} (declare it with add_interface)")
        return interface


@dataclass(frozen=True, slots=True)
class PcapngRecord:
    t: float
    data: bytes
    orig_len: int
    interface: CaptureInterface
    comments: tuple[str, ...] = ()


def _tsresol(value: bytes) -> int:
    if not value:
        return 1_000_000
    exp = value[0]
    return 2 ** (exp & 0x7F) if exp & 0x80 else 10**exp


class PcapngReader:
    """Read a pcapng file: ``for rec in PcapngReader(path): rec.t, rec.data, rec.comments``."""

    def __init__(self, path_or_file: str | os.PathLike[str] | BinaryIO | IO[bytes]) -> None:
        self._file, self._owns = open_binary(path_or_file, "rb", False)
        if self._file.read(4) != SHB_MAGIC:
            self.close()
            raise PcapError("not a pcapng file: no section header block")
        self._order = "<"
        self._pending_shb = True
        self.interfaces: list[CaptureInterface] = []

    def _read_block(self) -> tuple[int, bytes] | None:
        if self._pending_shb:
            self._pending_shb = False
            block_type = SHB_TYPE
        else:
            head = self._file.read(4)
            if not head:
                return None
            if len(head) < 4:
                raise PcapError("truncated pcapng block")
            block_type = struct.unpack(self._order + "I", head)[0]
        raw_len = self._file.read(4)
        if len(raw_len) < 4:
            raise PcapError("truncated pcapng block header")
        if block_type == SHB_TYPE:  # a new section may change the byte order
            magic = self._file.read(4)
            if len(magic) < 4:
                raise PcapError("truncated pcapng section header")
            self._order = "<" if struct.unpack("<I", magic)[0] == BYTE_ORDER_MAGIC else ">"
            if struct.unpack(self._order + "I", magic)[0] != BYTE_ORDER_MAGIC:
                raise PcapError("not a pcapng file: bad byte-order magic")
            length = struct.unpack(self._order + "I", raw_len)[0]
            if not 28 <= length <= _MAX_BLOCK:
                raise PcapError(f"bad pcapng section header length {length}")
            body = magic + self._file.read(length - 16)
            self._file.read(4)
            self.interfaces = []
            return block_type, body
        length = struct.unpack(self._order + "I", raw_len)[0]
        if length < 12 or length % 4 or length > _MAX_BLOCK:
            raise PcapError(f"bad pcapng block length {length}")
        body = self._file.read(length - 12)
        trailer = self._file.read(4)
        if len(body) < length - 12 or len(trailer) < 4:
            raise PcapError("truncated pcapng block")
        return block_type, body

    def _parse_options(self, data: bytes) -> list[tuple[int, bytes]]:
        out = []
        pos = 0
        while pos + 4 <= len(data):
            code, length = struct.unpack_from(self._order + "HH", data, pos)
            pos += 4
            if code == OPT_END:
                break
            out.append((code, data[pos : pos + length]))
            pos += length + (-length % 4)
        return out

    def _interface(self, body: bytes) -> CaptureInterface:
        if len(body) < 8:
            raise PcapError("truncated pcapng interface description")
        linktype, _reserved, _snaplen = struct.unpack_from(self._order + "HHI", body)
        name, description, tsresol, tsoffset = "", "", 1_000_000, 0
        for code, value in self._parse_options(body[8:]):
            if code == IF_NAME:
                name = value.decode("utf-8", "replace")
            elif code == IF_DESCRIPTION:
                description = value.decode("utf-8", "replace")
            elif code == IF_TSRESOL:
                tsresol = _tsresol(value)
            elif code == IF_TSOFFSET and len(value) == 8:
                tsoffset = struct.unpack(self._order + "q", value)[0]
        return CaptureInterface(name, linktype, description, tsresol, tsoffset)

    def __iter__(self) -> Iterator[PcapngRecord]:
        while True:
            block = self._read_block()
            if block is None:
                return
            block_type, body = block
            if block_type == IDB_TYPE:
                self.interfaces.append(self._interface(body))
            elif block_type == EPB_TYPE:
                if len(body) < 20:
                    raise PcapError("truncated pcapng packet block")
                iface, high, low, caplen, orig = struct.unpack_from(self._order + "IIIII", body)
                if iface >= len(self.interfaces) or 20 + caplen > len(body):
                    raise PcapError("pcapng packet block for an undeclared interface or too short")
                info = self.interfaces[iface]
                data = body[20 : 20 + caplen]
                opts = self._parse_options(body[20 + caplen + (-caplen % 4) :])
                comments = tuple(v.decode("utf-8", "replace") for code, v in opts if code == OPT_COMMENT)
                t = ((high << 32) | low) / info.tsresol + info.tsoffset
                yield PcapngRecord(t, data, orig, info, comments)
            elif block_type == SPB_TYPE:
                if not self.interfaces or len(body) < 4:
                    raise PcapError("pcapng simple packet block without an interface")
                (orig,) = struct.unpack_from(self._order + "I", body)
                data = body[4 : 4 + orig]
                yield PcapngRecord(0.0, data, orig, self.interfaces[0])
            # other blocks (name resolution, statistics, custom) carry nothing we draw

    def close(self) -> None:
        if self._owns:
            self._file.close()

    def __enter__(self) -> PcapngReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
