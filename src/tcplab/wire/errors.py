"""The one error the wire layer raises for bad bytes."""

from __future__ import annotations

__all__ = ["MalformedPacket"]


class MalformedPacket(ValueError):
    """Bytes that are not a packet tcplab can accept.

    ``reason`` is a short, stable string meant for counters and tests (for example
    ``"bad tcp checksum"`` or ``"tcp option length invalid"``); ``detail`` says more for humans
    (may be empty). ``str(exc)`` is ``"reason (detail)"`` or just ``"reason"``.

    Stable reasons: ``truncated ip header``, ``bad ip version``, ``bad ip header length``,
    ``ip total length inconsistent``, ``bad ip header checksum``, ``bad ip fragment length``,
    ``ip fragment past 65535``, ``truncated ipv6 extension header``, ``ipv6 routing header not
    supported``, ``ipv6 first fragment without the upper-layer header``, ``reassembled datagram
    too long``, ``not tcp``, ``truncated tcp header``, ``tcp data offset too small``,
    ``tcp data offset past end``, ``tcp option length invalid``, ``tcp option past header``,
    ``bad tcp checksum``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[MalformedPacket], tuple[str, str]]:  # pickling: two arguments
        return (type(self), (self.reason, self.detail))
