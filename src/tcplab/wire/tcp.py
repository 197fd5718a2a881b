"""TCP segments and options: the objects the engine speaks.

Parsing and building bytes live in this module too (``parse_tcp`` / ``Segment.build``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


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
class UnknownOption:
    """An option tcplab does not interpret, kept raw (``data`` excludes kind and length)."""

    opt_kind: int
    data: bytes

    @property
    def kind(self) -> int:
        return self.opt_kind


Option = EOL | NOP | MSS | WindowScale | SackPermitted | Sack | Timestamps | UnknownOption


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
    payload: bytes = b""
    data_offset: int | None = field(default=None, compare=False)  # set by the parser

    # -- conveniences the engine uses -------------------------------------------------------
    @property
    def syn(self) -> bool:
        return bool(self.flags & Flags.SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & Flags.FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & Flags.RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & Flags.ACK)

    @property
    def seg_len(self) -> int:
        """SEG.LEN of RFC 9293: payload length plus one for SYN and one for FIN."""
        return len(self.payload) + (1 if self.flags & Flags.SYN else 0) + (1 if self.flags & Flags.FIN else 0)

    def option(self, cls: type) -> Option | None:
        for opt in self.options:
            if type(opt) is cls:
                return opt
        return None


def flags_str(flags: Flags) -> str:
    """Flags the way packetdrill and tcpdump write them: ``S``, ``S.``, ``.``, ``P.``, ``F.``, ``R``."""
    out = ""
    for bit, ch in ((Flags.SYN, "S"), (Flags.FIN, "F"), (Flags.RST, "R"), (Flags.PSH, "P"),
                    (Flags.URG, "U"), (Flags.ECE, "E"), (Flags.CWR, "W")):
        if flags & bit:
            out += ch
    if flags & Flags.ACK:
        out += "."
    return out or "-"
