"""32-bit modular sequence arithmetic (RFC 9293 3.4), the only place it is written.

Comparisons are "serial number" comparisons (RFC 1982): ``a`` is before ``b`` when the
distance from ``a`` forward to ``b`` is less than 2**31.
"""

from __future__ import annotations

MOD = 1 << 32
MASK = MOD - 1
HALF = 1 << 31


def add(a: int, n: int) -> int:
    return (a + n) & MASK


def sub(a: int, b: int) -> int:
    """Distance from ``b`` forward to ``a`` (``a - b`` modulo 2**32), in [0, 2**32)."""
    return (a - b) & MASK


def diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` in [-2**31, 2**31)."""
    d = (a - b) & MASK
    return d - MOD if d >= HALF else d


def lt(a: int, b: int) -> bool:
    return a != b and ((b - a) & MASK) < HALF


def le(a: int, b: int) -> bool:
    return ((b - a) & MASK) < HALF


def gt(a: int, b: int) -> bool:
    return a != b and ((a - b) & MASK) < HALF  # lt(b, a), written out: called per segment


def ge(a: int, b: int) -> bool:
    return ((a - b) & MASK) < HALF  # le(b, a)


def in_window(x: int, start: int, size: int) -> bool:
    """``start <= x < start + size`` modulo 2**32."""
    return ((x - start) & MASK) < size


def seq_max(a: int, b: int) -> int:
    return b if a != b and ((b - a) & MASK) < HALF else a  # lt(a, b)
