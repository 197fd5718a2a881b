"""How fast tcplab.wire parses and builds packets. Prints figures; asserts nothing.

python benchmarks/wire.py
"""

from __future__ import annotations

import time

from tcplab.wire import (
    MSS,
    NOP,
    Flags,
    SackPermitted,
    Segment,
    Timestamps,
    WindowScale,
    build_packet,
    build_tcp,
    internet_checksum,
    parse_packet,
    parse_tcp,
)


def rate(label: str, fn, seconds: float = 0.5) -> None:
    n = 0
    batch = 1000
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print(f"{label:<52} {n / elapsed:>12,.0f} /s   {elapsed / n * 1e6:7.2f} us")


def main() -> None:
    src, dst = "198.18.0.1", "198.18.0.2"
    syn = Segment(
        40000, 80, 1, 0, Flags.SYN, 64240, options=(MSS(1460), SackPermitted(), Timestamps(1, 0), NOP(), WindowScale(7))
    )
    data = Segment(
        40000,
        80,
        1000,
        2000,
        Flags.ACK | Flags.PSH,
        502,
        options=(NOP(), NOP(), Timestamps(12345, 678)),
        payload=bytes(1448),
    )
    big = Segment(40000, 80, 1000, 2000, Flags.ACK, 502, payload=bytes(range(256)) * 250)
    ack = Segment(40000, 80, 1000, 2000, Flags.ACK, 502)
    for name, seg in (
        ("SYN with options", syn),
        ("ACK, no payload", ack),
        ("1448-byte data + TS", data),
        ("64000-byte data (offload size)", big),
    ):
        for fam, (s, d) in (("v4", (src, dst)), ("v6", ("fd00::1", "fd00::2"))):
            pkt = build_packet(s, d, seg)
            tcp = build_tcp(seg, s, d)
            rate(f"parse_packet {fam} {name}", lambda p=pkt: parse_packet(p))
            rate(f"parse_tcp    {fam} {name}", lambda t=tcp, s=s, d=d: parse_tcp(t, s, d))
            rate(f"build_packet {fam} {name}", lambda seg=seg, s=s, d=d: build_packet(s, d, seg))
        pkt = build_packet(src, dst, seg, partial_checksum=True)
        rate(
            f"build_packet v4 {name}, checksum left to the link",
            lambda s=seg: build_packet(src, dst, s, partial_checksum=True),
        )
    # The checksum's pure-Python forms: tcplab's (one big integer, mod 0xFFFF, in C) against the
    # usual alternatives; the first is what tcplab.wire.checksum uses.
    for size in (40, 1500, 65535):
        buf = bytes(range(256)) * (size // 256 + 1)
        buf = buf[:size]
        rate(f"internet_checksum {size} bytes", lambda b=buf: internet_checksum(b))
        rate(f"  (array('H') sum, folded) {size} bytes", lambda b=buf: _array_sum(b))
        rate(f"  (struct words sum, folded) {size} bytes", lambda b=buf: _struct_sum(b))


def _fold16(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _array_sum(data: bytes) -> int:
    import array
    import sys

    words = array.array("H", data + b"\0" * (len(data) & 1))
    if sys.byteorder == "little":
        words.byteswap()
    return _fold16(sum(words))


def _struct_sum(data: bytes) -> int:
    import struct

    if len(data) & 1:
        data += b"\0"
    return _fold16(sum(struct.unpack(f"!{len(data) // 2}H", data)))


if __name__ == "__main__":
    main()
