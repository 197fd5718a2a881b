"""Ephemeral port selection, RFC 6056 algorithm 3 ("simple hash-based port selection").

    offset = F(local_ip, remote_ip, remote_port, secret)      # keyed hash
    port   = min + (next_ephemeral + offset + i) mod num       # i = 0, 1, ... until suitable
    next_ephemeral += i + 1

Each destination gets its own unpredictable starting point in the range and consecutive
connections to the same destination walk through it, so ports are hard to guess from outside
yet a port is not reused for the same destination until the whole range has gone by.
The default range is Linux's ``net.ipv4.ip_local_port_range`` (32768 60999).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

LINUX_EPHEMERAL_RANGE = (32768, 60999)


class EphemeralPorts:
    def __init__(
        self, secret: bytes, low: int = LINUX_EPHEMERAL_RANGE[0], high: int = LINUX_EPHEMERAL_RANGE[1]
    ) -> None:
        if not (1 <= low <= high <= 65535):
            raise ValueError(f"bad ephemeral port range {low}-{high}: need 1 <= low <= high <= 65535")
        self.low = low
        self.high = high
        self._secret = hashlib.sha256(b"tcplab ephemeral ports|" + secret).digest()[:32]
        self.next_ephemeral = 0

    @property
    def count(self) -> int:
        return self.high - self.low + 1

    def offset(self, local_ip: str, remote_ip: str, remote_port: int) -> int:
        h = hashlib.blake2b(f"{local_ip}|{remote_ip}|{remote_port}".encode(), key=self._secret, digest_size=8)
        return int.from_bytes(h.digest(), "big")

    def pick(self, local_ip: str, remote_ip: str, remote_port: int, suitable: Callable[[int], bool]) -> int | None:
        """The first suitable port in this destination's sequence, or None when all are taken."""
        num = self.count
        offset = self.offset(local_ip, remote_ip, remote_port)
        for i in range(num):
            port = self.low + (self.next_ephemeral + offset + i) % num
            if suitable(port):
                self.next_ephemeral = (self.next_ephemeral + i + 1) % (1 << 32)
                return port
        return None
