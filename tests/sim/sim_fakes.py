"""Tiny fake nodes and packet helpers for the simulator's tests (real IP/TCP bytes)."""

from __future__ import annotations

import ipaddress

from tcplab.wire import Segment, build_packet, parse_flags, parse_packet

__all__ = ["Echo", "Scripted", "Sink", "Ticker", "parse", "tcp"]


def tcp(
    src: str,
    dst: str,
    flags: str = ".",
    *,
    sport: int = 1000,
    dport: int = 2000,
    seq: int = 0,
    ack: int = 0,
    window: int = 65535,
    payload: bytes = b"",
    options: tuple = (),
    ecn: int = 0,
) -> bytes:
    """An IPv4 or IPv6 packet carrying one TCP segment; ``flags`` in tcpdump letters; ``ecn``
    the IP header's ECN field."""
    seg = Segment(
        src_port=sport,
        dst_port=dport,
        seq=seq,
        ack=ack,
        flags=parse_flags(flags),
        window=window,
        options=options,
        payload=payload,
        ecn=ecn,
    )
    return build_packet(src, dst, seg)


def parse(packet: bytes):
    """``tcplab.wire.parse_packet`` (verifies the checksums)."""
    return parse_packet(packet)


class _Base:
    def __init__(self, name: str, *addrs: str) -> None:
        self.name = name
        self._addrs = [ipaddress.ip_address(a) for a in addrs]
        self.received: list[tuple[float, bytes]] = []
        self.outbox: list[bytes] = []

    def addresses(self):
        return list(self._addrs)

    def deliver(self, packet: bytes, now: float) -> None:
        self.received.append((now, packet))

    def poll_transmit(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self):
        return None

    def handle_timeout(self, now: float) -> None:
        raise AssertionError(f"{self.name} has no timers but was called at {now}")


class Sink(_Base):
    """Records every packet it receives."""


class Echo(_Base):
    """Sends every packet back with the IP source and destination swapped (checksums stay valid:
    both sums are commutative)."""

    def deliver(self, packet: bytes, now: float) -> None:
        super().deliver(packet, now)
        b = bytearray(packet)
        if b[0] >> 4 == 4:
            b[12:16], b[16:20] = packet[16:20], packet[12:16]
        else:
            b[8:24], b[24:40] = packet[24:40], packet[8:24]
        self.outbox.append(bytes(b))


class Scripted(_Base):
    """Sends given packets at given virtual times (its timer), and records what it receives."""

    def __init__(self, name: str, *addrs: str, script: list[tuple[float, bytes]] = ()) -> None:
        super().__init__(name, *addrs)
        self.script = sorted(script, key=lambda item: item[0])
        self.timeouts: list[float] = []

    def next_deadline(self):
        return self.script[0][0] if self.script else None

    def handle_timeout(self, now: float) -> None:
        self.timeouts.append(now)
        while self.script and self.script[0][0] <= now:
            self.outbox.append(self.script.pop(0)[1])


class Ticker(_Base):
    """A node with one timer at ``at`` that counts how often it fires."""

    def __init__(self, name: str, *addrs: str, at: float | None = None) -> None:
        super().__init__(name, *addrs)
        self.at = at
        self.fired: list[float] = []

    def next_deadline(self):
        return self.at

    def handle_timeout(self, now: float) -> None:
        self.fired.append(now)
        self.at = None
