"""Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key).

M is a timer ticking every 4 microseconds (RFC 6528 section 3) taken from ``now``; F is a keyed
hash (BLAKE2s). The key is 32 bytes from ``os.urandom`` unless one is injected: a simulation or
a test injects one (with the clock, which is always injected) to replay a run exactly.
"""

from __future__ import annotations

import hashlib
import os


class ISNGenerator:
    def __init__(self, secret: bytes | None = None, *, clock_offset: float = 0.0) -> None:
        self.secret = secret if secret is not None else os.urandom(32)
        self.clock_offset = clock_offset

    def __call__(self, local: tuple[str, int], remote: tuple[str, int], now: float) -> int:
        h = hashlib.blake2s(key=self.secret[:32], digest_size=4)
        h.update(f"{local[0]}|{local[1]}|{remote[0]}|{remote[1]}".encode())
        f = int.from_bytes(h.digest(), "big")
        m = int((now + self.clock_offset) * 250_000)  # one tick per 4 microseconds
        return (m + f) & 0xFFFFFFFF


class FixedISN:
    """Always the same ISN: for tests that state exact sequence numbers."""

    def __init__(self, value: int) -> None:
        self.value = value & 0xFFFFFFFF

    def __call__(self, local: tuple[str, int], remote: tuple[str, int], now: float) -> int:
        return self.value
