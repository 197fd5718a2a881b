"""SYN cookies (RFC 4987 section 3.6), made and checked as Linux does (net/ipv4/syncookies.c).

A listener whose SYN queue is full (or always, with ``tcp_syncookies=2``) keeps no state for a
SYN: it answers with a SYN-ACK whose sequence number *is* the state, and rebuilds the connection
when the handshake's ACK brings that number back (``ACK - 1``). The cookie is

    ISS = H0(addrs, ports) + client ISN + (count << 24) + ((H1(addrs, ports, count) + mss index) mod 2^24)

where ``count`` is the minute (a cookie is good for two) and the mss index picks one of four MSS
values from a table: what the ACK returns is enough to check the cookie and recover the MSS.
H0 and H1 are keyed hashes (BLAKE2s; Linux uses SipHash) under the host's secret.

Everything else the SYN offered would be lost; when both ends use timestamps, Linux keeps the
peer's window scale, SACK-permitted and ECN in the low 6 bits of the SYN-ACK's TSval, which the
peer echoes in TSecr::

    | 31 ... 6  |  5  |  4   | 3 2 1 0 |
    | timestamp | ECN | SACK | WScale  |     (WScale 0xf: the SYN had no window scale)

Without timestamps the connection goes on with the table's MSS only: no window scaling, no SACK
(so the cookie SYN-ACK offers neither: Linux clears them when it answers with a cookie).
Standard library only.
"""

from __future__ import annotations

import hashlib

from tcplab.tcp import seq as sq

# Linux net/ipv4/syncookies.c msstab and net/ipv6/syncookies.c msstab (IPV6_MIN_MTU - 60, ...).
MSS_TABLE_V4 = (536, 1300, 1440, 1460)
MSS_TABLE_V6 = (1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60)

COOKIE_BITS = 24  # the low 24 bits carry the hash plus the MSS index, the top 8 the minute
COOKIE_MASK = (1 << COOKIE_BITS) - 1
MAX_AGE = 2  # minutes (Linux MAX_SYNCOOKIE_AGE)
VALID_AFTER_OVERFLOW = 120.0  # s: cookie ACKs are checked this long after the last cookie sent
# (Linux TCP_SYNCOOKIE_VALID, tcp_synq_no_recent_overflow)

TS_BITS = 6
TS_WSCALE_MASK = 0x0F  # 0xf: no window scale
TS_SACK = 0x10
TS_ECN = 0x20

Address = tuple[str, int]


def mss_table(ip: str) -> tuple[int, ...]:
    return MSS_TABLE_V6 if ":" in ip else MSS_TABLE_V4


def mss_index(table: tuple[int, ...], mss: int) -> int:
    """The largest table entry not above ``mss`` (the first entry for anything smaller, as
    Linux: a peer asking for MSS 100 gets 536-byte segments)."""
    for index in range(len(table) - 1, 0, -1):
        if mss >= table[index]:
            return index
    return 0


class SynCookies:
    """Makes and checks cookies under one host's secret."""

    __slots__ = ("_keys",)

    def __init__(self, secret: bytes) -> None:
        self._keys = tuple(
            hashlib.blake2s(secret, digest_size=32, person=f"cookie{c}".encode()).digest() for c in (0, 1)
        )

    def _hash(self, local: Address, remote: Address, count: int, c: int) -> int:
        h = hashlib.blake2s(key=self._keys[c], digest_size=4)
        h.update(f"{remote[0]}|{remote[1]}|{local[0]}|{local[1]}|{count}".encode())
        return int.from_bytes(h.digest(), "big")

    def make(self, local: Address, remote: Address, peer_isn: int, peer_mss: int, now: float) -> tuple[int, int]:
        """The cookie (our ISS) for a SYN from ``remote`` with sequence number ``peer_isn``
        asking for ``peer_mss``; and the MSS the table gives (what the connection will use)."""
        table = mss_table(local[0])
        index = mss_index(table, peer_mss)
        count = int(now // 60)
        cookie = (
            self._hash(local, remote, 0, 0)
            + peer_isn
            + (count << COOKIE_BITS)
            + ((self._hash(local, remote, count, 1) + index) & COOKIE_MASK)
        )
        return cookie & sq.MASK, table[index]

    def check(self, local: Address, remote: Address, seg_seq: int, seg_ack: int, now: float) -> int | None:
        """The MSS a returning ACK's cookie carries (``SEG.ACK - 1``, the client's ISN being
        ``SEG.SEQ - 1``), or None when it is not one of ours or older than two minutes."""
        cookie = sq.sub(sq.sub(seg_ack, 1), (self._hash(local, remote, 0, 0) + sq.sub(seg_seq, 1)) & sq.MASK)
        count = int(now // 60)
        age = (count - (cookie >> COOKIE_BITS)) & (sq.MASK >> COOKIE_BITS)
        if age >= MAX_AGE:
            return None
        index = (cookie - self._hash(local, remote, count - age, 1)) & COOKIE_MASK
        table = mss_table(local[0])
        return table[index] if index < len(table) else None


def encode_ts_options(tsval: int, wscale: int | None, sack: bool, ecn: bool) -> int:
    """A TSval not above ``tsval`` whose low 6 bits carry the SYN's options (Linux
    cookie_init_timestamp: the first TSval of the connection must not run ahead of its clock)."""
    options = (
        (TS_WSCALE_MASK if wscale is None else min(wscale, 14)) | (TS_SACK if sack else 0) | (TS_ECN if ecn else 0)
    )
    ts = ((tsval >> TS_BITS) << TS_BITS) | options
    if options > tsval & ((1 << TS_BITS) - 1):
        ts -= 1 << TS_BITS
    return ts & sq.MASK


def decode_ts_options(tsecr: int) -> tuple[int | None, bool, bool]:
    """``(window scale or None, SACK permitted, ECN)`` from the TSecr of a cookie's ACK."""
    wscale = tsecr & TS_WSCALE_MASK
    return (None if wscale == TS_WSCALE_MASK else wscale), bool(tsecr & TS_SACK), bool(tsecr & TS_ECN)
