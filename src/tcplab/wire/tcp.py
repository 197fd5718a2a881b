"""TCP segments and options: the objects the engine speaks, and their bytes.

``parse_tcp`` turns bytes into a :class:`Segment`, ``build_tcp`` (or ``Segment.build``) turns a
Segment into bytes with the checksum filled in. ``format_options`` writes options as tcpdump does.

Options on the wire, both ways:

- ``build_tcp`` emits ``seg.options`` exactly in the order given and pads the option area with
  zero bytes (EOL) to a multiple of 4 (RFC 9293 3.1: "The padding is composed of zeros").
  Options may take at most 40 bytes.
- ``parse_tcp`` reports every option up to and including an EOL (as ``EOL()``), and ignores the
  bytes after the EOL (padding). So ``parse(build(seg)).options == seg.options`` when the options
  fill a multiple of 4 bytes or already end with EOL; otherwise the parsed tuple has one more
  element, ``EOL()`` (the padding, which tcpdump also shows as ``eol``).
- ``Segment.payload`` from the parser is ``bytes`` (a copy; the engine may keep it), or a
  read-only view of the packet when ``parse_packet(..., copy_payload=False)`` asks for one.
  ``Segment.data_offset`` from the parser is the header's Data Offset field (32-bit words).
"""

from __future__ import annotations

import contextlib
import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .checksum import AddressLike, BytesLike, fold, partial, pseudo_header_sum, raw_sum
from .errors import MalformedPacket


class Flags(enum.IntFlag):
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


NONE = Flags(0)


# ---- options (RFC 9293 3.2, RFC 7323, RFC 2018) -------------------------------------------------
@dataclass(frozen=True, slots=True)
class EOL:
    kind = 0


@dataclass(frozen=True, slots=True)
class NOP:
    kind = 1


@dataclass(frozen=True, slots=True)
class MSS:
    value: int
    kind = 2


@dataclass(frozen=True, slots=True)
class WindowScale:
    shift: int
    kind = 3


@dataclass(frozen=True, slots=True)
class SackPermitted:
    kind = 4


@dataclass(frozen=True, slots=True)
class Sack:
    blocks: tuple[tuple[int, int], ...]
    kind = 5


@dataclass(frozen=True, slots=True)
class Timestamps:
    val: int
    ecr: int
    kind = 8


@dataclass(frozen=True, slots=True)
class FastOpen:
    """TCP Fast Open (RFC 7413 4.1.1): the cookie option, kind 34; an empty ``cookie`` is a cookie
    request. ``experimental``: the pre-RFC form, kind 254 with the magic 0xF989 (RFC 6994), which
    the parser also reads as a FastOpen (Linux accepts both and sends kind 34)."""

    cookie: bytes = b""
    experimental: bool = False

    @property
    def kind(self) -> int:
        return 254 if self.experimental else 34


@dataclass(frozen=True, slots=True)
class UnknownOption:
    """An option tcplab does not interpret, kept raw (``data`` excludes kind and length)."""

    opt_kind: int
    data: bytes

    @property
    def kind(self) -> int:
        return self.opt_kind


Option = EOL | NOP | MSS | WindowScale | SackPermitted | Sack | Timestamps | FastOpen | UnknownOption
_O = TypeVar("_O", EOL, NOP, MSS, WindowScale, SackPermitted, Sack, Timestamps, FastOpen, UnknownOption)

# The IP header's ECN field (RFC 3168 5), which a segment travels with (``Segment.ecn``).
ECN_NOT_ECT = 0  # not ECN-capable transport
ECN_ECT1 = 1  # ECT(1)
ECN_ECT0 = 2  # ECT(0): what Linux marks its data with
ECN_CE = 3  # congestion experienced


@dataclass(slots=True)
class Segment:
    """One TCP segment. Sequence numbers are plain ints in [0, 2**32)."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: Flags
    window: int
    urgent: int = 0
    options: tuple[Option, ...] = ()
    payload: bytes | memoryview = b""  # a view of the packet only when the parser is asked for one
    data_offset: int | None = field(default=None, compare=False)  # set by the parser
    # The IP header's ECN field the segment travels with (RFC 3168 5; ``ECN_*``): not part of the
    # TCP header, but the engine's word to the IP layer (``build_packet`` writes it into the IP
    # header) and the IP layer's to the engine (``parse_packet`` sets it).
    ecn: int = 0
    # A super-segment standing for parts of this many payload bytes each, which the link
    # splits (sending, TSO/GSO) or coalesced (receiving, GRO); 0: one segment on the wire.
    gso_size: int = field(default=0, compare=False)

    # -- conveniences the engine uses -------------------------------------------------------
    @property
    def syn(self) -> bool:
        return bool(int(self.flags) & 0x02)  # plain int arithmetic: IntFlag's & is slow

    @property
    def fin(self) -> bool:
        return bool(int(self.flags) & 0x01)

    @property
    def rst(self) -> bool:
        return bool(int(self.flags) & 0x04)

    @property
    def has_ack(self) -> bool:
        return bool(int(self.flags) & 0x10)

    @property
    def seg_len(self) -> int:
        """SEG.LEN of RFC 9293: payload length plus one for SYN and one for FIN."""
        f = int(self.flags)
        return len(self.payload) + (f & 0x01) + ((f >> 1) & 0x01)

    def option(self, cls: type[_O]) -> _O | None:
        """The first option of class ``cls`` (``seg.option(Timestamps)``), or None."""
        for opt in self.options:
            if isinstance(opt, cls):
                return opt
        return None

    # -- bytes --------------------------------------------------------------------------------
    def build(self, src_ip: AddressLike, dst_ip: AddressLike) -> bytes:
        """The segment's bytes (header, options, payload) with the checksum for src/dst."""
        return build_tcp(self, src_ip, dst_ip)

    @property
    def header_length(self) -> int:
        """Bytes of TCP header this segment has (parsed) or will have (built), options padded."""
        if self.data_offset is not None:
            return self.data_offset * 4
        return 20 + ((options_length(self.options) + 3) & ~3)


def flags_str(flags: Flags) -> str:
    """Flags the way packetdrill and tcpdump write them: ``S``, ``S.``, ``.``, ``P.``, ``F.``,
    ``R``."""
    out = ""
    for bit, ch in (
        (Flags.SYN, "S"),
        (Flags.FIN, "F"),
        (Flags.RST, "R"),
        (Flags.PSH, "P"),
        (Flags.URG, "U"),
        (Flags.ECE, "E"),
        (Flags.CWR, "W"),
    ):
        if flags & bit:
            out += ch
    if flags & Flags.ACK:
        out += "."
    return out or "-"


# tcpdump's and packetdrill's letters ("." is ACK; packetdrill also writes CWR as "C").
_FLAG_LETTERS = {
    "F": Flags.FIN,
    "S": Flags.SYN,
    "R": Flags.RST,
    "P": Flags.PSH,
    ".": Flags.ACK,
    "U": Flags.URG,
    "E": Flags.ECE,
    "W": Flags.CWR,
    "C": Flags.CWR,
}


def parse_flags(text: str) -> Flags:
    """The flags written as tcpdump and packetdrill write them (``S``, ``S.``, ``.``, ``P.``,
    ``F.``, ``R``, ``R.``): the inverse of :func:`flags_str`. ``-`` (alone) is no flag at all.
    Raises ValueError for any other letter."""
    if text == "-":
        return NONE
    out = NONE
    for ch in text:
        bit = _FLAG_LETTERS.get(ch)
        if bit is None:
            raise ValueError(f"unknown TCP flag letter {ch!r} in {text!r} (use S F R P U E W, and . for ACK)")
        out |= bit
    return out


# ---- bytes --------------------------------------------------------------------------------------
TCP_PROTOCOL = 6
MAX_OPTIONS_LENGTH = 40

_HDR = struct.Struct("!HHIIBBHHH")  # ports, seq, ack, data offset<<4, flags, window, csum, urgent
_U16 = struct.Struct("!H")
_U32X2 = struct.Struct("!II")
_FLAGS_TABLE = tuple(Flags(i) for i in range(256))
FLAGS = _FLAGS_TABLE  # FLAGS[n] is Flags(n) without the enum machinery
_SACK_STRUCTS = {n: struct.Struct("!" + "I" * (2 * n)) for n in range(1, 5)}

_EOL = EOL()
_NOP = NOP()
_SACKOK = SackPermitted()

# Option objects are frozen dataclasses; their generated __init__ goes through
# object.__setattr__, which costs about twice as much as setting the slots directly. Timestamps
# arrive on almost every segment, so build them the fast way (same object, same fields).
_new = object.__new__
_set_ts_val = Timestamps.__dict__["val"].__set__
_set_ts_ecr = Timestamps.__dict__["ecr"].__set__


def timestamps_option(val: int, ecr: int) -> Timestamps:
    """``Timestamps(val, ecr)`` in half the time (the same frozen object): for the hot paths
    that make one for every segment."""
    ts = _new(Timestamps)
    _set_ts_val(ts, val)
    _set_ts_ecr(ts, ecr)
    return ts


# MSS and window-scale values repeat: share the (immutable) objects.
_mss_cache: dict[int, MSS] = {}
_WSCALES = tuple(WindowScale(i) for i in range(256))


def _mss(value: int) -> MSS:
    try:
        return _mss_cache[value]
    except KeyError:
        if len(_mss_cache) > 1024:
            _mss_cache.clear()
        opt = _mss_cache[value] = MSS(value)
        return opt


def parse_options(opts: BytesLike) -> tuple[Option, ...]:
    """Parse a TCP option area (bytes-like, the header bytes after the first 20).

    Stops after an EOL (reported as ``EOL()``); the rest is padding. Raises
    :class:`MalformedPacket` ("tcp option length invalid", "tcp option past header").
    """
    n = len(opts)
    # Fast path: Linux's data segments carry exactly "nop,nop,TS val x ecr y".
    if n == 12 and opts[0] == 1 and opts[1] == 1 and opts[2] == 8 and opts[3] == 10:
        val, ecr = _U32X2.unpack_from(opts, 4)
        return (_NOP, _NOP, timestamps_option(val, ecr))
    out: list[Option] = []
    append = out.append
    i = 0
    while i < n:
        kind = opts[i]
        if kind == 1:
            append(_NOP)
            i += 1
            continue
        if kind == 0:
            append(_EOL)
            break
        if i + 1 >= n:
            raise MalformedPacket("tcp option past header", f"kind {kind} at offset {i} has no length byte")
        length = opts[i + 1]
        if length < 2:
            raise MalformedPacket("tcp option length invalid", f"kind {kind} length {length}")
        end = i + length
        if kind == 8:
            if length != 10:
                raise MalformedPacket("tcp option length invalid", f"timestamps length {length}")
            if end > n:
                raise MalformedPacket("tcp option past header", "timestamps")
            val, ecr = _U32X2.unpack_from(opts, i + 2)
            append(timestamps_option(val, ecr))
        elif kind == 2:
            if length != 4:
                raise MalformedPacket("tcp option length invalid", f"mss length {length}")
            if end > n:
                raise MalformedPacket("tcp option past header", "mss")
            append(_mss(_U16.unpack_from(opts, i + 2)[0]))
        elif kind == 3:
            if length != 3:
                raise MalformedPacket("tcp option length invalid", f"wscale length {length}")
            if end > n:
                raise MalformedPacket("tcp option past header", "wscale")
            append(_WSCALES[opts[i + 2]])
        elif kind == 4:
            if length != 2:
                raise MalformedPacket("tcp option length invalid", f"sackOK length {length}")
            append(_SACKOK)
        elif kind == 5:
            nblocks, rem = divmod(length - 2, 8)
            if rem or not 1 <= nblocks <= 4:
                raise MalformedPacket("tcp option length invalid", f"sack length {length}")
            if end > n:
                raise MalformedPacket("tcp option past header", "sack")
            edges = _SACK_STRUCTS[nblocks].unpack_from(opts, i + 2)
            append(Sack(tuple(zip(edges[0::2], edges[1::2], strict=True))))
        else:
            if end > n:
                raise MalformedPacket("tcp option past header", f"kind {kind} length {length}")
            if kind == 34:
                append(FastOpen(bytes(opts[i + 2 : end])))
            elif kind == 254 and length >= 4 and opts[i + 2] == 0xF9 and opts[i + 3] == 0x89:
                append(FastOpen(bytes(opts[i + 4 : end]), experimental=True))
            else:
                append(UnknownOption(kind, bytes(opts[i + 2 : end])))
        i = end
    return tuple(out)


_NOP_BYTES = b"\x01"
_EOL_BYTES = b"\x00"
_SACKOK_BYTES = b"\x04\x02"
_MSS = struct.Struct("!BBH")
_WS = struct.Struct("!BBB")
_TS = struct.Struct("!BBII")
_NOP_NOP_TS = struct.Struct("!BBBBII")
_KNOWN_KINDS = frozenset((0, 1, 2, 3, 4, 5, 8, 34))
_TFO_MAGIC = b"\xf9\x89"  # RFC 6994 experiment identifier of TCP Fast Open


def _encode_option(opt: Option) -> bytes:
    try:
        if isinstance(opt, NOP):
            return _NOP_BYTES
        if isinstance(opt, Timestamps):
            return _TS.pack(8, 10, opt.val, opt.ecr)
        if isinstance(opt, MSS):
            return _MSS.pack(2, 4, opt.value)
        if isinstance(opt, WindowScale):
            return _WS.pack(3, 3, opt.shift)
        if isinstance(opt, SackPermitted):
            return _SACKOK_BYTES
        if isinstance(opt, EOL):
            return _EOL_BYTES
        if isinstance(opt, Sack):
            blocks = opt.blocks
            if not 1 <= len(blocks) <= 4:
                raise ValueError(f"a SACK option carries 1 to 4 blocks, not {len(blocks)}")
            edges = [edge for block in blocks for edge in block]
            if len(edges) != 2 * len(blocks):
                raise ValueError(f"SACK blocks must be (left, right) pairs: {blocks!r}")
            return bytes((5, 2 + 8 * len(blocks))) + _SACK_STRUCTS[len(blocks)].pack(*edges)
        if isinstance(opt, FastOpen):
            cookie = bytes(opt.cookie)
            if opt.experimental:
                cookie = _TFO_MAGIC + cookie
            if len(cookie) > MAX_OPTIONS_LENGTH - 2:
                raise ValueError(f"fast open cookie too long ({len(opt.cookie)} bytes)")
            return bytes((opt.kind, 2 + len(cookie))) + cookie
        if isinstance(opt, UnknownOption):
            if opt.opt_kind in _KNOWN_KINDS or not 0 <= opt.opt_kind <= 255:
                raise ValueError(f"UnknownOption cannot have kind {opt.opt_kind}")
            data = bytes(opt.data)
            if len(data) > MAX_OPTIONS_LENGTH - 2:
                raise ValueError(f"option kind {opt.opt_kind} data too long ({len(data)} bytes)")
            return bytes((opt.opt_kind, 2 + len(data))) + data
    except struct.error as exc:
        raise ValueError(f"cannot encode {opt!r}: {exc}") from None
    raise TypeError(f"not a TCP option: {opt!r}")


def encode_options(options: Sequence[Option]) -> bytes:
    """The option area for ``options``, in order, zero-padded to a multiple of 4 bytes.

    Raises ValueError when a value does not fit or the options exceed 40 bytes.
    """
    if not options:
        return b""
    if len(options) == 3 and type(options[2]) is Timestamps and type(options[0]) is NOP and type(options[1]) is NOP:
        # Fast path: what a connection with timestamps puts on almost every segment.
        with contextlib.suppress(struct.error):  # (a bad value: the general path says which)
            return _NOP_NOP_TS.pack(1, 1, 8, 10, options[2].val, options[2].ecr)
    data = b"".join([_encode_option(opt) for opt in options])
    pad = -len(data) & 3
    if pad:
        data += b"\x00" * pad
    if len(data) > MAX_OPTIONS_LENGTH:
        raise ValueError(f"TCP options take {len(data)} bytes, more than 40: {options!r}")
    return data


def options_length(options: Iterable[Option]) -> int:
    """Bytes ``options`` take on the wire, before padding."""
    total = 0
    for opt in options:
        if isinstance(opt, (NOP, EOL)):
            total += 1
        elif isinstance(opt, Timestamps):
            total += 10
        elif isinstance(opt, MSS):
            total += 4
        elif isinstance(opt, WindowScale):
            total += 3
        elif isinstance(opt, SackPermitted):
            total += 2
        elif isinstance(opt, Sack):
            total += 2 + 8 * len(opt.blocks)
        elif isinstance(opt, FastOpen):
            total += 2 + len(opt.cookie) + (2 if opt.experimental else 0)
        else:
            total += 2 + len(opt.data)
    return total


def parse_tcp(
    data: BytesLike, src_ip: AddressLike | None = None, dst_ip: AddressLike | None = None, verify_checksum: bool = True
) -> Segment:
    """Parse a TCP segment (header, options and payload) from bytes-like ``data``.

    The checksum is verified when both ``src_ip`` and ``dst_ip`` are given (str or ipaddress
    objects, same family) and ``verify_checksum`` is true. ``data`` must be exactly the segment
    (its length is the TCP length of the pseudo-header). Raises only :class:`MalformedPacket`
    for bad bytes (a ValueError for addresses that are not addresses of one family).
    """
    psum = None
    if verify_checksum and src_ip is not None and dst_ip is not None:
        psum = pseudo_header_sum(src_ip, dst_ip, TCP_PROTOCOL, len(data))
    return _parse_tcp(data, psum)


def _parse_tcp(data: BytesLike, psum: int | None, copy_payload: bool = True) -> Segment:
    n = len(data)
    if n < 20:
        raise MalformedPacket("truncated tcp header", f"{n} bytes")
    sport, dport, seq, ack, off, flags, window, _csum, urgent = _HDR.unpack_from(data, 0)
    off >>= 4
    if off < 5:
        raise MalformedPacket("tcp data offset too small", f"data offset {off}")
    hlen = off << 2
    if hlen > n:
        raise MalformedPacket("tcp data offset past end", f"header {hlen} bytes, segment {n}")
    if psum is not None:
        total = psum + (int.from_bytes(data, "big") << 8 if n & 1 else int.from_bytes(data, "big"))
        if total % 0xFFFF:
            raise MalformedPacket("bad tcp checksum", f"checksum field 0x{_csum:04x}")
    options = parse_options(data[20:hlen]) if hlen > 20 else ()
    payload = (bytes(data[hlen:]) if copy_payload else memoryview(data)[hlen:]) if hlen < n else b""
    return Segment(sport, dport, seq, ack, _FLAGS_TABLE[flags], window, urgent, options, payload, off)


def build_tcp(seg: Segment, src_ip: AddressLike, dst_ip: AddressLike, *, partial_checksum: bool = False) -> bytes:
    """The bytes of ``seg`` with its checksum computed for ``src_ip`` -> ``dst_ip``.

    Options are emitted in order and zero-padded to a multiple of 4. Raises ValueError when a
    field is out of range or the options exceed 40 bytes. ``partial_checksum``: for a link that
    computes checksums itself, the field holds only the pseudo-header sum (see
    :func:`~tcplab.wire.checksum.partial`) and the payload is not summed at all.
    """
    return _build_tcp(seg, pseudo_header_sum(src_ip, dst_ip, TCP_PROTOCOL, 0), partial_checksum)


def _build_tcp(seg: Segment, psum: int, partial_checksum: bool) -> bytes:
    """:func:`build_tcp` with the pseudo-header's sum less the TCP length (``psum``) worked out
    by the caller (once per flow: ``tcplab.wire.ip.build_packet``)."""
    opts = encode_options(seg.options) if seg.options else b""
    payload = seg.payload
    off = (20 + len(opts)) >> 2
    try:
        hdr = _HDR.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack, off << 4, seg.flags, seg.window, 0, seg.urgent)
    except struct.error as exc:
        raise ValueError(f"cannot build TCP header for {seg!r}: {exc}") from None
    if opts:
        hdr += opts
    hlen = len(hdr)
    plen = len(payload)
    if partial_checksum:
        csum = partial(psum + hlen + plen)
    else:
        total = psum + hlen + plen + int.from_bytes(hdr, "big")
        if plen:
            total += raw_sum(payload)
        csum = fold(total)
    hdr = hdr[:16] + _U16.pack(csum) + hdr[18:]
    if plen:
        return hdr + payload if type(payload) is bytes else hdr + bytes(payload)
    return hdr


def format_option(opt: Option) -> str:
    """One option the way tcpdump prints it."""
    if isinstance(opt, NOP):
        return "nop"
    if isinstance(opt, Timestamps):
        return f"TS val {opt.val} ecr {opt.ecr}"
    if isinstance(opt, MSS):
        return f"mss {opt.value}"
    if isinstance(opt, WindowScale):
        return f"wscale {opt.shift}"
    if isinstance(opt, SackPermitted):
        return "sackOK"
    if isinstance(opt, Sack):
        return f"sack {len(opt.blocks)} " + "".join(f"{{{a}:{b}}}" for a, b in opt.blocks)
    if isinstance(opt, EOL):
        return "eol"
    if isinstance(opt, FastOpen):
        name = "exp-tfo" if opt.experimental else "tfo"  # tcpdump's words (two spaces, as it prints)
        return f"{name}  cookie {bytes(opt.cookie).hex()}" if opt.cookie else f"{name}  cookiereq"
    if isinstance(opt, UnknownOption):
        return f"unknown-{opt.opt_kind}" + (f" 0x{bytes(opt.data).hex()}" if opt.data else "")
    return repr(opt)


def format_options(options: Iterable[Option]) -> str:
    """Options in tcpdump style: ``mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7``."""
    return ",".join([format_option(opt) for opt in options])


def format_option_bytes(raw: bytes) -> str:
    """An option area's bytes in tcpdump's words, for traces of packets that may be damaged:
    ``bad opts`` when they do not parse."""
    try:
        return format_options(parse_options(raw))
    except MalformedPacket:
        return "bad opts"
