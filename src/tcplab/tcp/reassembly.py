"""Out-of-order segments kept until the hole before them fills (RFC 9293 3.10.7.4, seventh)."""

from __future__ import annotations

from tcplab.tcp import seq as sq


class Reassembly:
    """Byte ranges beyond RCV.NXT, as disjoint sorted blocks ``(start, data)``."""

    __slots__ = ("_blocks", "_recent", "bytes", "fin_seq")

    def __init__(self) -> None:
        self._blocks: list[tuple[int, bytearray]] = []  # (start_seq, data), by distance from rcv_nxt
        self.bytes = 0
        self.fin_seq: int | None = None  # sequence number of an out-of-order FIN
        self._recent: int | None = None  # start of the block the latest segment went to

    def __bool__(self) -> bool:
        return bool(self._blocks) or self.fin_seq is not None

    def add(self, start: int, data: bytes, rcv_nxt: int) -> None:
        """Store ``data`` beginning at ``start`` (strictly after ``rcv_nxt``)."""
        if not data:
            return
        end = sq.add(start, len(data))
        blocks = self._blocks
        merged_start, merged = start, bytearray(data)
        keep: list[tuple[int, bytearray]] = []
        for b_start, b_data in blocks:
            b_end = sq.add(b_start, len(b_data))
            if sq.lt(b_end, merged_start) or sq.lt(end, b_start):
                keep.append((b_start, b_data))
                continue
            # overlapping or touching: merge (existing bytes win where they overlap; same data)
            new_start = merged_start if sq.le(merged_start, b_start) else b_start
            new_end = end if sq.ge(end, b_end) else b_end
            buf = bytearray(sq.sub(new_end, new_start))
            buf[sq.sub(merged_start, new_start) : sq.sub(merged_start, new_start) + len(merged)] = merged
            off = sq.sub(b_start, new_start)
            buf[off : off + len(b_data)] = b_data
            merged_start, merged, end = new_start, buf, new_end
        keep.append((merged_start, merged))
        keep.sort(key=lambda b: sq.sub(b[0], rcv_nxt))
        self._blocks = keep
        self.bytes = sum(len(b[1]) for b in keep)
        self._recent = merged_start

    def pop(self, rcv_nxt: int) -> bytes:
        """Remove and return the data that now continues from ``rcv_nxt`` (may be empty)."""
        out = bytearray()
        while self._blocks:
            b_start, b_data = self._blocks[0]
            if sq.gt(b_start, rcv_nxt):
                break
            self._blocks.pop(0)
            skip = sq.sub(rcv_nxt, b_start)
            if skip < len(b_data):
                out += b_data[skip:]
                rcv_nxt = sq.add(rcv_nxt, len(b_data) - skip)
        self.bytes = sum(len(b[1]) for b in self._blocks)
        return bytes(out)

    def sack_blocks(self, limit: int) -> list[tuple[int, int]]:
        """RFC 2018 section 4: the block holding the latest segment first, then the others."""
        blocks = [(s, sq.add(s, len(d))) for s, d in self._blocks]
        blocks.sort(key=lambda b: b[0] != self._recent)
        return blocks[:limit]
